/*
 * The injection heuristics inside (auth_int.h gives the module's contract):
 *   inject_rules.c  the built-in rules (named PCRE2 patterns), compiling a
 *                   rule, the limits every match runs under, the scan of
 *                   one text with a set of rules
 *   inject.c        the configuration of a context (slot COG__EXT_INJECT),
 *                   cog_injection_configure / _scan, cog__inject_*
 */
#ifndef COG_INJECT_INT_H
#define COG_INJECT_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "auth_int.h"

/* Limits: the host's patterns per configuration, a name, a regex. */
#define INJECT_MAX_PATTERNS 64
#define INJECT_NAME_MAX 64
#define INJECT_REGEX_MAX 4096
/* What one scan reports at most: matches per rule, and in all. */
#define INJECT_MATCHES_PER_RULE 4
#define INJECT_MATCHES_MAX 32
/* An excerpt: at most this many bytes of the match (cut at a character). */
#define INJECT_EXCERPT_MAX 80

typedef struct inject_rule {
	char *name;              /* owned for the host's; the built-ins' static */
	pcre2_code *re;
	bool owned;
} inject_rule;

/* The built-in rules, compiled once per process (NULL, count 0 when PCRE2
 * could not: out of memory). */
const inject_rule *inject_builtins(size_t *count);

/* Compile `regex` (UTF, caseless, invalid UTF tolerated; JIT when there is
 * one) into *re. COG_EINVAL "cog_injection_configure: pattern 'name' ...
 * at offset N: ..." when it does not compile. */
int inject_compile(const char *name, const char *regex, pcre2_code **re);

/* Scan text[0..len) with `rules`, adding at most INJECT_MATCHES_PER_RULE
 * matches per rule (and INJECT_MATCHES_MAX in all, *n counting them) to
 * `matches` (when not NULL) as {"rule","offset","excerpt"}. *n is the
 * number of matches found (capped). COG_ENOMEM. A rule that hits its match
 * limit on this text is taken as not matching from there on. */
int inject_scan_rules(const inject_rule *rules, size_t count, const char *text,
                      size_t len, cJSON *matches, size_t *n);

#endif /* COG_INJECT_INT_H */
