/*
 * Literal secrets (redact_secret.c): the API keys and bearer tokens a
 * context was configured with, replaced by "****" wherever text is
 * redacted (cog__redact_text, so the log, traces and the audit log;
 * cog__redact_pii, so memory; and the agent journal, which applies them
 * alone). The set is process-wide, since cog__redact_text has no context:
 * a secret of one context is masked in the text of every other too, which
 * only ever hides more. Each context's secrets leave the set when the
 * context is freed.
 */
#ifndef COG_REDACT_SECRET_H
#define COG_REDACT_SECRET_H

#include <stddef.h>

struct cog_ctx;

/* Shorter secrets are not registered (they would mask ordinary words). */
#define COG_REDACT_SECRET_MIN 8
#define COG_REDACT_SECRET_MAX 4096

/* Register `secret` (NUL-terminated; its JSON-escaped form too when it
 * differs) as a secret of ctx until ctx is freed. A secret shorter than
 * COG_REDACT_SECRET_MIN or longer than COG_REDACT_SECRET_MAX bytes, or NULL,
 * is ignored (0). COG_ENOMEM. */
int cog__redact_add_secret(struct cog_ctx *ctx, const char *secret);

/* A copy of text[0..len) with every registered secret replaced, in *out
 * (cog_malloc, NUL-terminated; *out_len may be NULL), the replacements in
 * *count (may be NULL). COG_ENOMEM. */
int cog__redact_secrets(const char *text, size_t len, char **out, size_t *out_len,
                        size_t *count);

/* Whether any secret is registered (a fast check before a copy). */
int cog__redact_secrets_any(void);

/* Forget ctx's secrets (redact_config.c, when ctx's redaction state goes). */
void cog__redact_secrets_forget(const struct cog_ctx *ctx);

#endif /* COG_REDACT_SECRET_H */
