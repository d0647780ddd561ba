/*
 * Contracts between the redaction files of lib/core: redact_rules.c (the
 * built-in rules and their checks), redact_config.c (a context's
 * configuration and counters) and redact.c (the matcher and the API).
 */
#ifndef COG_REDACT_INT_H
#define COG_REDACT_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdatomic.h>

#include "core_int.h"

/* The built-in rules, in the order of their counters and bits. */
enum {
	COG_REDACT_EMAIL = 0,
	COG_REDACT_PHONE,
	COG_REDACT_CARD,
	COG_REDACT_IBAN,
	COG_REDACT_API_KEY,
	COG_REDACT_JWT,
	COG_REDACT_PRIVATE_KEY,
	COG_REDACT_BUILTINS
};
#define COG_REDACT_ALL_BUILTINS ((1u << COG_REDACT_BUILTINS) - 1u)
/* The host's patterns per configuration, at most. */
#define COG_REDACT_MAX_PATTERNS 64

/* One rule: a compiled pattern and what replaces its matches. */
typedef struct cog_redact_rule {
	const char *name;         /* counter name ("email", the host's name) */
	const char *replacement;  /* "[EMAIL]", the host's text */
	size_t replacement_len;
	pcre2_code *re;
} cog_redact_rule;

/* The built-in rules (COG_REDACT_BUILTINS of them), compiled once per
 * process; NULL when PCRE2 could not compile them (out of memory). */
const cog_redact_rule *cog__redact_builtins(void);
/* The match context of the built-ins: their callouts (Luhn, mod 97, the
 * digit counts of phone numbers). Valid once cog__redact_builtins() is. */
pcre2_match_context *cog__redact_builtin_mctx(void);
/* The match context of the host's patterns (a match limit, no callouts). */
pcre2_match_context *cog__redact_custom_mctx(void);
/* A general context that allocates with cog_malloc. */
pcre2_general_context *cog__redact_gctx(void);
/* Bits of the built-ins that may match somewhere in text[0..len): a cheap
 * scan for what each rule needs ('@', enough digits, "eyJ", ...). A rule
 * whose bit is clear cannot match. */
unsigned int cog__redact_candidates(const char *text, size_t len);

/* A context's configuration: shared by the calls that use it, freed when
 * the last one lets go (a reconfiguration does not wait for them). */
typedef struct cog_redact_config {
	atomic_uint refs;
	unsigned int builtins;      /* bit per COG_REDACT_* that is on */
	size_t pattern_count;
	cog_redact_rule patterns[]; /* the host's, names and texts owned */
} cog_redact_config;

/* Make ctx's redaction state now (it forgets ctx's literal secrets,
 * redact_secret.c, when ctx is freed). COG_ENOMEM. */
int cog__redact_state_ensure(struct cog_ctx *ctx);

/* The configuration ctx's calls use now, with a reference (or NULL: the
 * defaults, every built-in and no pattern). Release with
 * cog__redact_config_release(). */
cog_redact_config *cog__redact_config_acquire(struct cog_ctx *ctx);
void cog__redact_config_release(cog_redact_config *config);
/* Add counts[rule] to ctx's totals: counts has COG_REDACT_BUILTINS entries
 * for the built-ins, then one per pattern of config (NULL: none).
 * COG_ENOMEM. */
int cog__redact_count(struct cog_ctx *ctx, const cog_redact_config *config,
                      const uint64_t *counts);

#endif /* COG_REDACT_INT_H */
