/*
 * PII and secret redaction (cog_redact, cog__redact_pii): every rule that
 * may match is run over the whole text, the matches of all rules are put
 * in order, and each stretch of text that some rule matched is replaced.
 * Where two matches overlap, the one that starts first wins, then the
 * longer, then the host's patterns before the built-ins (private key, JWT,
 * API key, email, IBAN, card, phone); a match that runs past the winner is
 * replaced from there on too, so no part of a secret survives.
 */
#include <stdlib.h>
#include <string.h>

#include "redact_int.h"
#include "redact_secret.h"
#include "cognition/memory.h"

typedef struct hit {
	size_t start, end;
	unsigned int rule;   /* COG_REDACT_* or COG_REDACT_BUILTINS + pattern */
	unsigned int rank;   /* lower wins a tie */
} hit;

typedef struct hit_list {
	hit *v;
	size_t len, cap;
	hit local[16];
} hit_list;

static int hits_add(hit_list *h, size_t start, size_t end, unsigned int rule)
{
	if (h->len == h->cap) {
		size_t cap = h->cap * 2;
		hit *grown = h->v == h->local ? cog_malloc(cap * sizeof(*grown))
			: cog_realloc(h->v, cap * sizeof(*grown));
		if (!grown)
			return cog__oom("redaction");
		if (h->v == h->local)
			memcpy(grown, h->local, sizeof(h->local));
		h->v = grown;
		h->cap = cap;
	}
	/* Ties: the host's patterns in their order, then the built-ins by how
	 * much they say (a JWT after "Bearer" is a JWT, not just a token). */
	static const unsigned int builtin_rank[COG_REDACT_BUILTINS] = {
		[COG_REDACT_PRIVATE_KEY] = 0, [COG_REDACT_JWT] = 1, [COG_REDACT_API_KEY] = 2,
		[COG_REDACT_EMAIL] = 3, [COG_REDACT_IBAN] = 4, [COG_REDACT_CARD] = 5,
		[COG_REDACT_PHONE] = 6,
	};
	unsigned int rank = rule >= COG_REDACT_BUILTINS ? rule - COG_REDACT_BUILTINS
		: COG_REDACT_MAX_PATTERNS + builtin_rank[rule];
	h->v[h->len++] = (hit){ start, end, rule, rank };
	return COG_OK;
}

static int hit_order(const void *a, const void *b)
{
	const hit *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end > y->end ? -1 : 1;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* Every match of one rule, left to right. A rule that fails on this text
 * (a match limit of the host's pattern) stops where it failed. */
static int scan(const pcre2_code *re, pcre2_match_context *mctx, const char *s,
                size_t len, pcre2_match_data *md, unsigned int rule, hit_list *h)
{
	/* Only non-empty matches: a pattern of lookarounds replaces nothing. */
	const uint32_t options = PCRE2_NO_UTF_CHECK | PCRE2_NOTEMPTY;
	size_t pos = 0;
	while (pos <= len) {
		int rc = pcre2_match(re, (PCRE2_SPTR)s, len, pos, options, md, mctx);
		if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* the interpreter keeps its stack on the heap */
			rc = pcre2_match(re, (PCRE2_SPTR)s, len, pos, options | PCRE2_NO_JIT, md, mctx);
		if (rc == PCRE2_ERROR_NOMEMORY)
			return cog__oom("redaction: matching");
		if (rc < 0)
			return COG_OK;
		const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		if (ov[1] > ov[0]) {
			int arc = hits_add(h, ov[0], ov[1], rule);
			if (arc)
				return arc;
			pos = ov[1];
			continue;
		}
		/* \K in a lookahead can still end before the start: step on. */
		pos = ov[1] > pos ? ov[1] : pos;
		if (pos >= len)
			break;
		pos++;
		while (pos < len && ((unsigned char)s[pos] & 0xC0) == 0x80)
			pos++;
	}
	return COG_OK;
}

static const cog_redact_rule *rule_of(const cog_redact_rule *builtins,
                                      const cog_redact_config *config, unsigned int rule)
{
	return rule < COG_REDACT_BUILTINS ? &builtins[rule]
		: &config->patterns[rule - COG_REDACT_BUILTINS];
}

/* Put the text with the chosen matches replaced into *out. */
static int rewrite(const cog_redact_rule *builtins, const cog_redact_config *config,
                   const char *s, size_t len, hit_list *h, char **out, size_t *out_len,
                   uint64_t *counts, size_t *count)
{
	qsort(h->v, h->len, sizeof(hit), hit_order);
	cog_buf b = COG_BUF_INIT;
	cog_buf_reserve(&b, len + 16);
	size_t done = 0;
	for (size_t i = 0; i < h->len; i++) {
		hit *x = &h->v[i];
		if (x->end <= done)
			continue; /* inside what is already replaced */
		size_t start = x->start > done ? x->start : done;
		const cog_redact_rule *r = rule_of(builtins, config, x->rule);
		cog_buf_put(&b, s + done, start - done);
		cog_buf_put(&b, r->replacement, r->replacement_len);
		done = x->end;
		counts[x->rule]++;
		(*count)++;
	}
	cog_buf_put(&b, s + done, len - done);
	*out_len = b.len;
	*out = cog_buf_detach(&b);
	return *out ? COG_OK : cog__oom("redaction: output");
}

static int redact_with(const cog_redact_config *config, const char *s, size_t len,
                       char **out, size_t *out_len, uint64_t *counts, size_t *count)
{
	const cog_redact_rule *builtins = cog__redact_builtins();
	if (!builtins)
		return cog__oom("redaction: built-in rules");
	unsigned int on = config ? config->builtins : COG_REDACT_ALL_BUILTINS;
	unsigned int todo = on ? on & cog__redact_candidates(s, len) : 0;
	size_t patterns = config ? config->pattern_count : 0;
	if (!todo && !patterns) {
		*out = cog__strndup(s, len);
		*out_len = len;
		return *out ? COG_OK : cog__oom("redaction: output");
	}
	pcre2_match_data *md = pcre2_match_data_create(1, cog__redact_gctx());
	if (!md)
		return cog__oom("redaction: match data");
	hit_list h = { .len = 0, .cap = COG_ARRAY_LEN(h.local) };
	h.v = h.local;
	int rc = COG_OK;
	for (unsigned int r = 0; r < COG_REDACT_BUILTINS && !rc; r++)
		if (todo & (1u << r))
			rc = scan(builtins[r].re, cog__redact_builtin_mctx(), s, len, md, r, &h);
	for (size_t i = 0; i < patterns && !rc; i++)
		rc = scan(config->patterns[i].re, cog__redact_custom_mctx(), s, len, md,
			(unsigned int)(COG_REDACT_BUILTINS + i), &h);
	pcre2_match_data_free(md);
	if (!rc && h.len == 0) {
		*out = cog__strndup(s, len);
		*out_len = len;
		rc = *out ? COG_OK : cog__oom("redaction: output");
	} else if (!rc) {
		rc = rewrite(builtins, config, s, len, &h, out, out_len, counts, count);
	}
	if (h.v != h.local)
		cog_free(h.v);
	return rc;
}

int cog__redact_pii(struct cog_ctx *ctx, const char *text, size_t len,
                    char **out, size_t *out_len, size_t *count)
{
	static const char fn[] = "redaction";
	COG_CHECK_ARG(out, fn, "out is NULL");
	*out = NULL;
	COG_CHECK_ARG(text || len == 0, fn, "text is NULL");
	if (!text)
		text = "";
	size_t n = 0, written = 0;
	uint64_t counts[COG_REDACT_BUILTINS + COG_REDACT_MAX_PATTERNS] = { 0 };
	/* PCRE2 needs valid UTF-8: bytes that are not become U+FFFD first. */
	char *lossy = NULL;
	if (!cog_utf8_valid(text, len, NULL)) {
		lossy = cog_utf8_lossy(text, len);
		if (!lossy)
			return cog__oom(fn);
		text = lossy;
		len = strlen(lossy);
	}
	/* the literal secrets of the contexts (API keys, tokens) first */
	char *unsecret = NULL;
	if (cog__redact_secrets_any()) {
		size_t hidden = 0;
		if (cog__redact_secrets(text, len, &unsecret, &len, &hidden)) {
			cog_free(lossy);
			return cog__oom(fn);
		}
		text = unsecret;
		n += hidden;
	}
	cog_redact_config *config = cog__redact_config_acquire(ctx);
	int rc = redact_with(config, text, len, out, &written, counts, &n);
	cog_free(unsecret);
	if (!rc && n > 0 && ctx)
		rc = cog__redact_count(ctx, config, counts);
	cog__redact_config_release(config);
	cog_free(lossy);
	if (rc) {
		cog_free(*out);
		*out = NULL;
		return rc;
	}
	if (out_len)
		*out_len = written;
	if (count)
		*count = n;
	return COG_OK;
}

int cog_redact(cog_ctx *ctx, const char *text, char **out, size_t *count)
{
	static const char fn[] = "cog_redact";
	COG_CHECK_ARG(out, fn, "out is NULL");
	*out = NULL;
	COG_CHECK_ARG(text, fn, "text is NULL");
	size_t len = strlen(text), bad = 0;
	if (!cog_utf8_valid(text, len, &bad))
		return cog__error(COG_EINVAL, "%s: text is not valid UTF-8 (byte %zu)", fn, bad);
	int rc = cog__redact_pii(ctx, text, len, out, NULL, count);
	return rc ? cog__error_wrap(rc, "%s", fn) : COG_OK;
}
