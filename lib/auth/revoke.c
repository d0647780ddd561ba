/*
 * Revocation: of one access token (its jti in "auth.revoked" until it would
 * have expired anyway) and of sessions (the "revoked" flag of the session
 * document, which stops its access tokens at verification and its refresh
 * token at the next refresh).
 *
 * A session is revoked inside a storage transaction, so a refresh running
 * at the same time (which rewrites the session document) cannot bring it
 * back. These functions may be called inside a caller's transaction (the
 * principal functions do): they then join it. They never take the auth
 * state's lock, which a refresh holds while it waits for the storage.
 */
#include <stdio.h>
#include <string.h>

#include "session_int.h"

#define REVOKED "auth.revoked"
#define JTI_MAX 512
/* Beyond the largest clock_skew_s: a revoked token stays revoked as long
 * as any configuration could still take it for unexpired. */
#define SKEW_MAX_S 600

/* A jti verification can take: 1..512 bytes of UTF-8. */
static bool jti_ok(const char *jti)
{
	size_t len = strnlen(jti, JTI_MAX + 1);
	return len > 0 && len <= JTI_MAX && cog_utf8_valid(jti, len, NULL);
}

int auth_jti_revoked(cog_ctx *ctx, const char *jti)
{
	/* a token whose jti could never be revoked is not acceptable */
	if (!jti || !jti_ok(jti))
		return cog__error(COG_EDENIED, "claim \"jti\" must be 1..%d bytes of UTF-8",
			JTI_MAX);
	cJSON *doc = NULL;
	int rc = auth_doc_get(ctx, REVOKED, jti, &doc);
	cJSON_Delete(doc);
	if (rc == COG_ENOTFOUND)
		return 0;
	return rc ? rc : 1;
}

int auth_revoke_jti(cog_ctx *ctx, const char *jti, int64_t exp_s)
{
	if (!jti)
		return cog__error(COG_EINVAL, "revoking a token: its jti is NULL");
	if (!jti_ok(jti))
		return COG_OK;           /* such a token never verifies (auth_jti_revoked) */
	int64_t until_ms = (exp_s + SKEW_MAX_S) * 1000;
	if (exp_s <= 0 || exp_s > INT64_MAX / 1000 - SKEW_MAX_S)
		until_ms = 0;            /* no usable exp: keep it for good */
	else if (until_ms <= cog_clock_realtime_ms())
		return COG_OK;           /* dead already */
	cJSON *doc = cJSON_CreateObject();
	if (!doc || cog_json_add_number(doc, "exp", (double)exp_s)) {
		cJSON_Delete(doc);
		return cog__oom("revoking a token");
	}
	int rc = auth_doc_put(ctx, REVOKED, jti, doc, until_ms);
	cJSON_Delete(doc);
	return rc ? cog__error_wrap(rc, "revoking a token") : COG_OK;
}

/* "<tenant>/<id>/<sid>" after checking the three. */
static int session_key(const char *fn, const char *tenant, const char *id, const char *sid,
                       char out[AUTH_SKEY_MAX])
{
	int rc = auth_check_name(fn, "tenant", tenant);
	if (!rc)
		rc = auth_check_name(fn, "id", id);
	if (!rc && (!sid || strnlen(sid, 65) > 64))
		rc = cog__error(COG_EINVAL, "%s: sid must be 1..64 bytes", fn);
	if (!rc)
		rc = auth_check_name(fn, "sid", sid);
	if (!rc)
		snprintf(out, AUTH_SKEY_MAX, "%s/%s/%s", tenant, id, sid);
	return rc;
}

int auth_session_revoked(cog_ctx *ctx, const char *tenant, const char *id, const char *sid)
{
	char skey[AUTH_SKEY_MAX];
	int rc = session_key("the token's session", tenant, id, sid, skey);
	if (rc)
		return rc;
	cJSON *doc = NULL;
	rc = auth_doc_get(ctx, AUTH_SESSIONS, skey, &doc);
	if (rc == COG_ENOTFOUND)
		return 1;
	if (rc)
		return rc;
	int revoked = cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(doc, "revoked")) ? 0 : 1;
	cJSON_Delete(doc);
	return revoked;
}

/* Mark the session `skey` revoked, in a transaction of its own or the
 * caller's. Gone already: nothing to do. */
static int revoke_key(cog_ctx *ctx, const char *skey)
{
	cog_storage *s;
	int rc = auth_storage(ctx, &s);
	if (rc)
		return rc;
	int brc = cog_storage_begin(s);
	bool own = brc == COG_OK;
	if (brc && brc != COG_EBUSY)
		return cog__error_wrap(brc, "auth: revoking session %s", skey);
	char *text = NULL;
	cJSON *doc = NULL;
	rc = cog_storage_get(s, AUTH_SESSIONS, skey, &text);
	if (!rc) {
		doc = cJSON_Parse(text);
		cog_free(text);
		if (!cJSON_IsObject(doc))
			rc = cog__error(COG_EINTEGRITY, "auth: session document '%s' is not a "
				"JSON object", skey);
	}
	if (!rc && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "revoked"))) {
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "revoked");
		text = cog_json_add_bool(doc, "revoked", true) ? NULL : cog_json_print(doc);
		int64_t expires = auth_json_int(doc, "expires", 0);
		rc = text ? cog_storage_put(s, AUTH_SESSIONS, skey, text, expires * 1000)
			: cog__oom("auth: session document");
		cog_free(text);
	}
	cJSON_Delete(doc);
	if (rc == COG_ENOTFOUND)
		rc = COG_OK;
	if (own) {
		int end = rc ? cog_storage_rollback(s) : cog_storage_commit(s);
		if (!rc)
			rc = end;
	}
	return rc ? cog__error_wrap(rc, "auth: revoking session %s", skey) : COG_OK;
}

int auth_session_revoke(cog_ctx *ctx, const char *tenant, const char *id, const char *sid)
{
	char skey[AUTH_SKEY_MAX];
	int rc = session_key("the token's session", tenant, id, sid, skey);
	return rc ? rc : revoke_key(ctx, skey);
}

typedef struct key_list {
	char **keys;
	size_t count, cap;
	int rc;
} key_list;

static int collect_key(const char *key, const char *value, size_t value_len,
                       int64_t expires_at, void *user_data)
{
	(void)value;
	(void)value_len;
	(void)expires_at;
	key_list *l = user_data;
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		char **keys = cog__calloc(cap, sizeof(*keys));
		if (!keys)
			return l->rc = cog__oom("auth: document keys");
		if (l->count)
			memcpy(keys, l->keys, l->count * sizeof(*keys));
		cog_free(l->keys);
		l->keys = keys;
		l->cap = cap;
	}
	if (!(l->keys[l->count] = cog__strdup(key)))
		return l->rc = cog__oom("auth: document keys");
	l->count++;
	return 0;
}

int auth_scan_keys(cog_storage *s, const char *coll, const char *prefix, char ***keys,
                   size_t *count)
{
	key_list l = { NULL, 0, 0, 0 };
	int rc = cog_storage_scan(s, coll, prefix, collect_key, &l);
	if (l.rc)
		rc = l.rc;
	if (rc) {
		auth_scan_keys_free(l.keys, l.count);
		l.keys = NULL;
		l.count = 0;
	}
	*keys = l.keys;
	*count = l.count;
	return rc;
}

void auth_scan_keys_free(char **keys, size_t count)
{
	for (size_t i = 0; i < count; i++)
		cog_free(keys[i]);
	cog_free(keys);
}

int auth_sessions_revoke_all(cog_ctx *ctx, const char *tenant, const char *id)
{
	static const char fn[] = "auth: revoking the sessions";
	int rc = auth_check_name(fn, "tenant", tenant);
	if (!rc)
		rc = auth_check_name(fn, "id", id);
	cog_storage *s;
	if (rc || (rc = auth_storage(ctx, &s)))
		return rc;
	char prefix[AUTH_PKEY_MAX + 1];
	snprintf(prefix, sizeof(prefix), "%s/%s/", tenant, id);
	char **keys = NULL;
	size_t count = 0;
	/* the keys first: a scan callback may not call the storage */
	rc = auth_scan_keys(s, AUTH_SESSIONS, prefix, &keys, &count);
	for (size_t i = 0; i < count && !rc; i++)
		rc = revoke_key(ctx, keys[i]);
	auth_scan_keys_free(keys, count);
	return rc;
}

int auth_refresh_revoke_as(cog_ctx *ctx, const char *fn, const char *refresh_token)
{
	COG_CHECK_ARG(refresh_token, fn, "refresh_token is NULL");
	if (strnlen(refresh_token, AUTH_REFRESH_TOKEN_MAX + 1) > AUTH_REFRESH_TOKEN_MAX ||
	    strncmp(refresh_token, AUTH_REFRESH_PREFIX, strlen(AUTH_REFRESH_PREFIX)) != 0)
		return cog__error(COG_EINVAL, "%s: neither a JWT nor a refresh token (they "
			"begin with \"%s\")", fn, AUTH_REFRESH_PREFIX);
	char hash[AUTH_HASH_HEX];
	auth_secret_hash(refresh_token, hash);
	cJSON *doc = NULL;
	int rc = auth_doc_get(ctx, AUTH_REFRESH, hash, &doc);
	if (rc == COG_ENOTFOUND)
		return cog__error(COG_EDENIED, "%s: unknown or expired refresh token", fn);
	if (rc)
		return cog__error_wrap(rc, "%s", fn);
	const char *skey = cog_json_get_string(doc, "session");
	if (!skey || strlen(skey) >= AUTH_SKEY_MAX)
		rc = cog__error(COG_EINTEGRITY, "%s: the refresh document names no session", fn);
	else if ((rc = revoke_key(ctx, skey)))
		rc = cog__error_wrap(rc, "%s", fn);
	cJSON_Delete(doc);
	return rc;
}

int auth_refresh_revoke(cog_ctx *ctx, const char *refresh_token)
{
	return auth_refresh_revoke_as(ctx, "cog_token_revoke", refresh_token);
}
