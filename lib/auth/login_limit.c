/*
 * Login rate limits: a token bucket per principal ("p:<tenant>/<id>") and
 * per client key ("c:<hash>": its auth_secret_hash, so an address or device
 * id the host passes is not kept in storage) in the collection
 * "auth.ratelimit", so every process sharing the storage counts against the
 * same buckets.
 *
 * A bucket holds up to login_per_minute tokens and gains login_per_minute/60
 * a second; each attempt, good password or bad, takes one from each bucket
 * it is counted in. When either is empty the attempt is refused and takes
 * nothing (a refused attempt does not push the retry time further out). A
 * bucket document expires when the bucket would be full again, so a full
 * bucket is simply an absent document.
 *
 * The two buckets are read and written in one storage transaction, under the
 * auth state's lock: threads of this process and other processes on the same
 * SQLite file cannot both take the last token.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "auth_int.h"

#define RL_COLL "auth.ratelimit"
#define CLIENT_KEY_MAX 256

typedef struct bucket {
	char key[AUTH_PKEY_MAX + 8];
	double tokens;           /* after refill, before this attempt */
} bucket;

/* The bucket at now_ms: refilled from the stored level, or full. */
static int bucket_load(cog_storage *s, bucket *b, double rate_ms, double burst,
                       int64_t now_ms)
{
	char *text = NULL;
	b->tokens = burst;
	int rc = cog_storage_get(s, RL_COLL, b->key, &text);
	if (rc == COG_ENOTFOUND)
		return COG_OK;
	if (rc)
		return rc;
	cJSON *doc = cJSON_Parse(text);
	cog_free(text);
	const cJSON *tokens = cJSON_GetObjectItemCaseSensitive(doc, "tokens");
	const cJSON *ms = cJSON_GetObjectItemCaseSensitive(doc, "ms");
	if (cJSON_IsNumber(tokens) && cJSON_IsNumber(ms) && isfinite(tokens->valuedouble)) {
		double elapsed = (double)now_ms - ms->valuedouble;
		if (elapsed < 0)
			elapsed = 0;     /* the clock went back: no refill, no debt */
		double level = tokens->valuedouble + elapsed * rate_ms;
		b->tokens = level < 0 ? 0 : (level > burst ? burst : level);
	}
	/* a damaged document counts as a full bucket: it is rewritten below */
	cJSON_Delete(doc);
	return COG_OK;
}

static int bucket_store(cog_storage *s, const bucket *b, double rate_ms, double burst,
                        int64_t now_ms)
{
	double left = b->tokens - 1;
	int64_t full_at = now_ms + (int64_t)ceil((burst - left) / rate_ms);
	char text[96];
	snprintf(text, sizeof(text), "{\"tokens\":%.6f,\"ms\":%lld}", left, (long long)now_ms);
	return cog_storage_put(s, RL_COLL, b->key, text, full_at);
}

static int check_client_key(const char *client_key)
{
	static const char fn[] = "cog_auth_login";
	size_t len = strnlen(client_key, CLIENT_KEY_MAX + 1);
	if (len == 0 || len > CLIENT_KEY_MAX)
		return cog__error(COG_EINVAL, "%s: client_key must be 1..%d bytes", fn,
			CLIENT_KEY_MAX);
	size_t bad = 0;
	if (!cog_utf8_valid(client_key, len, &bad))
		return cog__error(COG_EINVAL, "%s: client_key is not UTF-8 (byte %zu)", fn, bad);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)client_key[i] < 0x20 || client_key[i] == 0x7f)
			return cog__error(COG_EINVAL, "%s: client_key has a control character "
				"at byte %zu", fn, i);
	return COG_OK;
}

/* Take one token from each bucket, or none when one is empty. */
static int take_locked(cog_storage *s, bucket *b, size_t n, double rate_ms, double burst,
                       int64_t now_ms, const char **empty_what, double *wait_s)
{
	int rc = COG_OK;
	for (size_t i = 0; i < n && !rc; i++)
		rc = bucket_load(s, &b[i], rate_ms, burst, now_ms);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (b[i].tokens < 1) {
			*empty_what = i == 0 ? "principal" : "client";
			*wait_s = ceil((1 - b[i].tokens) / rate_ms / 1000.0);
			return COG_EBUSY;
		}
	}
	for (size_t i = 0; i < n && !rc; i++)
		rc = bucket_store(s, &b[i], rate_ms, burst, now_ms);
	return rc;
}

int auth_login_limit(cog_ctx *ctx, const char *tenant, const char *id,
                     const char *client_key)
{
	static const char fn[] = "cog_auth_login";
	int rc = auth_check_name(fn, "tenant", tenant);
	if (!rc)
		rc = auth_check_name(fn, "id", id);
	if (!rc && client_key)
		rc = check_client_key(client_key);
	if (rc)
		return rc;
	auth_config cfg;
	if ((rc = auth_config_get(ctx, &cfg)))
		return rc;
	double burst = cfg.login_per_minute;
	double rate_ms = burst / 60000.0;
	auth_config_dispose(&cfg);

	bucket b[2];
	size_t n = client_key ? 2 : 1;
	snprintf(b[0].key, sizeof(b[0].key), "p:%s/%s", tenant, id);
	if (client_key) {
		char hash[AUTH_HASH_HEX];
		auth_secret_hash(client_key, hash);
		snprintf(b[1].key, sizeof(b[1].key), "c:%s", hash);
	}

	cog_storage *s;
	auth_state *st;
	if ((rc = auth_storage(ctx, &s)) || (rc = auth_state_get(ctx, &st)))
		return rc;
	const char *empty_what = NULL;
	double wait_s = 0;
	pthread_mutex_lock(&st->lock);
	rc = cog_storage_begin(s);
	if (!rc) {
		rc = take_locked(s, b, n, rate_ms, burst, cog_clock_realtime_ms(),
			&empty_what, &wait_s);
		if (rc == COG_OK || rc == COG_EBUSY) {
			int crc = rc == COG_OK ? cog_storage_commit(s) : cog_storage_rollback(s);
			if (rc == COG_OK)
				rc = crc;
		} else {
			cog_storage_rollback(s);
		}
	}
	pthread_mutex_unlock(&st->lock);
	if (rc == COG_EBUSY && empty_what)
		return cog__error(COG_EBUSY, "%s: login rate limit for %s %s reached; retry "
			"in %.0f s", fn, empty_what, empty_what[0] == 'p' ? b[0].key + 2 :
			"key", wait_s < 1 ? 1 : wait_s);
	if (rc)
		return cog__error_wrap(rc, "%s: login rate limit", fn);
	return COG_OK;
}
