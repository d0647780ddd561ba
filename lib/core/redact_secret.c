/*
 * Literal secrets (redact_secret.h): a process-wide set of the API keys and
 * tokens contexts were configured with, each entry owned by the context
 * that registered it, and the replacement of their occurrences in text.
 * Longer secrets are replaced first, so a secret that contains another
 * leaves no piece behind; a text that ends inside a secret (a message cut
 * to a few hundred bytes) has that start of it masked too.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <sodium.h>

#include "redact_int.h"
#include "redact_secret.h"

/* As the providers mask a key an error message quotes back. */
static const char MASK[] = "****";
/* A text cut inside a secret: its start, this long at least, masked. */
#define TAIL_MIN 8

typedef struct secret_entry {
	const struct cog_ctx *owner;
	char *text;
	size_t len;
} secret_entry;

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static secret_entry *entries;      /* longest first */
static size_t n_entries, cap_entries;
static atomic_size_t registered;

/* Under the write lock. */
static int add_entry(const struct cog_ctx *ctx, const char *s, size_t len)
{
	for (size_t i = 0; i < n_entries; i++)
		if (entries[i].owner == ctx && entries[i].len == len &&
		    memcmp(entries[i].text, s, len) == 0)
			return COG_OK;
	if (n_entries == cap_entries) {
		size_t cap = cap_entries ? cap_entries * 2 : 8;
		secret_entry *grown = cog_realloc(entries, cap * sizeof(*grown));
		if (!grown)
			return cog__oom("redaction: secrets");
		entries = grown;
		cap_entries = cap;
	}
	char *copy = cog__strndup(s, len);
	if (!copy)
		return cog__oom("redaction: secrets");
	size_t at = 0;
	while (at < n_entries && entries[at].len >= len)
		at++;
	memmove(&entries[at + 1], &entries[at], (n_entries - at) * sizeof(*entries));
	entries[at] = (secret_entry){ ctx, copy, len };
	n_entries++;
	atomic_store(&registered, n_entries);
	return COG_OK;
}

int cog__redact_add_secret(struct cog_ctx *ctx, const char *secret)
{
	size_t len = secret ? strlen(secret) : 0;
	if (!ctx || len < COG_REDACT_SECRET_MIN || len > COG_REDACT_SECRET_MAX)
		return COG_OK;
	/* the ctx's redaction state forgets them when the ctx goes */
	int rc = cog__redact_state_ensure(ctx);
	if (rc)
		return rc;
	cog_buf esc = COG_BUF_INIT;
	cog_buf_put_json_string(&esc, secret, len);
	if (esc.failed)
		return cog__oom("redaction: secrets");
	pthread_rwlock_wrlock(&lock);
	rc = add_entry(ctx, secret, len);
	/* as a JSON string has it, without the quotes */
	if (!rc && esc.len >= 2 && (esc.len - 2 != len || memcmp(esc.ptr + 1, secret, len)))
		rc = add_entry(ctx, esc.ptr + 1, esc.len - 2);
	pthread_rwlock_unlock(&lock);
	sodium_memzero(esc.ptr, esc.len);
	cog_buf_dispose(&esc);
	return rc;
}

void cog__redact_secrets_forget(const struct cog_ctx *ctx)
{
	pthread_rwlock_wrlock(&lock);
	size_t kept = 0;
	for (size_t i = 0; i < n_entries; i++) {
		if (entries[i].owner == ctx) {
			sodium_memzero(entries[i].text, entries[i].len);
			cog_free(entries[i].text);
		} else {
			entries[kept++] = entries[i];
		}
	}
	n_entries = kept;
	if (!n_entries) {
		cog_free(entries);
		entries = NULL;
		cap_entries = 0;
	}
	atomic_store(&registered, n_entries);
	pthread_rwlock_unlock(&lock);
}

int cog__redact_secrets_any(void)
{
	return atomic_load(&registered) > 0;
}

/* Replace every occurrence of one secret in cur (replaced by a new copy
 * when it occurs). */
static int replace_one(char **cur, size_t *len, const secret_entry *e, size_t *count)
{
	const char *s = *cur;
	const char *hit = e->len <= *len ? memmem(s, *len, e->text, e->len) : NULL;
	if (!hit)
		return COG_OK;
	cog_buf b = COG_BUF_INIT;
	size_t from = 0;
	while (hit) {
		size_t at = (size_t)(hit - s);
		cog_buf_put(&b, s + from, at - from);
		cog_buf_put(&b, MASK, sizeof(MASK) - 1);
		from = at + e->len;
		(*count)++;
		hit = from + e->len <= *len ? memmem(s + from, *len - from, e->text, e->len) : NULL;
	}
	cog_buf_put(&b, s + from, *len - from);
	if (b.failed) {
		cog_buf_dispose(&b);
		return cog__oom("redaction: secrets");
	}
	sodium_memzero(*cur, *len);
	cog_free(*cur);
	*len = b.len;
	*cur = cog_buf_detach(&b);
	return COG_OK;
}

/* When cur ends with the start of a secret (TAIL_MIN bytes or more, not
 * all of it), mask that start in place (the mask is shorter). */
static void mask_tail(char *cur, size_t *len, const secret_entry *e, size_t *count)
{
	size_t most = *len < e->len ? *len : e->len - 1;
	for (size_t k = most; k >= TAIL_MIN; k--) {
		if (memcmp(cur + *len - k, e->text, k) == 0) {
			sodium_memzero(cur + *len - k, k);
			memcpy(cur + *len - k, MASK, sizeof(MASK));
			*len = *len - k + sizeof(MASK) - 1;
			(*count)++;
			return;
		}
	}
}

int cog__redact_secrets(const char *text, size_t len, char **out, size_t *out_len,
                        size_t *count)
{
	size_t n = 0;
	*out = cog__strndup(text ? text : "", text ? len : 0);
	if (!*out)
		return cog__oom("redaction: secrets");
	size_t cur_len = text ? len : 0;
	int rc = COG_OK;
	if (atomic_load(&registered) > 0) {
		pthread_rwlock_rdlock(&lock);
		for (size_t i = 0; i < n_entries && !rc; i++)
			rc = replace_one(out, &cur_len, &entries[i], &n);
		for (size_t i = 0; i < n_entries && !rc; i++)
			mask_tail(*out, &cur_len, &entries[i], &n);
		pthread_rwlock_unlock(&lock);
	}
	if (rc) {
		cog_free(*out);
		*out = NULL;
		return rc;
	}
	if (out_len)
		*out_len = cur_len;
	if (count)
		*count = n;
	return COG_OK;
}
