/*
 * Password reset tokens: single use, stored hashed, expiring, and bound to
 * the principal as it was when the token was made.
 *
 * A request makes a random token for a registered principal; the host sends
 * it by a channel it trusts. Only its auth_secret_hash is stored, so reading
 * the storage gives nothing to present:
 *   "auth.reset"       "<tenant>/<id>/<hash>"  {"tenant","id","exp","bind"}
 *   "auth.reset.hash"  "<hash>"                {"tenant","id"}  (the lookup)
 * both expiring after reset_ttl_s. "bind" is a BLAKE2b digest of the
 * principal's "created" and its password hash: a token made before a
 * password change (a reset, cog_auth_set_password, a rehash at login) or
 * before the principal was removed and registered again no longer matches
 * and is refused.
 *
 * A confirmation spends the token first (deletes both documents in one
 * transaction: of two confirmations racing with one token only the one
 * that found them goes on), whatever becomes of the new password. Then the
 * new password is checked and hashed, and in one transaction the binding
 * is checked again, the hash stored and the principal's other reset tokens
 * deleted; last, every session of the principal is revoked.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "session_int.h"

#define RESET "auth.reset"
#define RESET_LOOKUP "auth.reset.hash"
#define RESET_PREFIX "cogp_"
#define RESET_BYTES 32
#define RESET_TOKEN_MAX 256
#define RESET_KEY_MAX (AUTH_PKEY_MAX + AUTH_HASH_HEX + 1)

/* The hex digest binding a token to the principal document `p`. */
static int reset_bind(const cJSON *p, char out[AUTH_HASH_HEX])
{
	const char *hash = cog_json_get_string(p, "hash");
	cog_buf b = COG_BUF_INIT;
	int rc = cog_buf_printf(&b, "%lld\n%s", (long long)auth_json_int(p, "created", -1),
		hash ? hash : "");
	uint8_t d[32];
	if (!rc)
		rc = cog_hash_blake2b(d, sizeof(d), b.ptr, b.len, NULL, 0);
	if (b.ptr)
		sodium_memzero(b.ptr, b.len);
	cog_buf_dispose(&b);
	if (rc)
		return rc;
	cog_hex_encode(d, sizeof(d), out);
	return COG_OK;
}

/* Both documents of a new token, in one transaction. */
static int reset_store(cog_ctx *ctx, const char *tenant, const char *id, const char *hash,
                       const char *bind, int64_t exp)
{
	cJSON *doc = cJSON_CreateObject(), *look = cJSON_CreateObject();
	int rc = COG_OK;
	if (!doc || !look || cog_json_add_string(doc, "tenant", tenant) ||
	    cog_json_add_string(doc, "id", id) || cog_json_add_number(doc, "exp", (double)exp) ||
	    cog_json_add_string(doc, "bind", bind) ||
	    cog_json_add_string(look, "tenant", tenant) || cog_json_add_string(look, "id", id))
		rc = cog__oom("auth: reset document");
	char key[RESET_KEY_MAX];
	snprintf(key, sizeof(key), "%s/%s/%s", tenant, id, hash);
	cog_storage *s = NULL;
	if (!rc && !(rc = auth_storage(ctx, &s)) && !(rc = cog_storage_begin(s))) {
		rc = auth_json_put(s, RESET, key, doc, exp);
		if (!rc)
			rc = auth_json_put(s, RESET_LOOKUP, hash, look, exp);
		int end = rc ? cog_storage_rollback(s) : cog_storage_commit(s);
		if (!rc)
			rc = end;
	}
	cJSON_Delete(doc);
	cJSON_Delete(look);
	return rc;
}

int cog_auth_reset_request(cog_ctx *ctx, const char *tenant, const char *id,
                           char **reset_token)
{
	static const char fn[] = "cog_auth_reset_request";
	COG_CHECK_ARG(reset_token, fn, "reset_token (the out parameter) is NULL");
	*reset_token = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	int rc = auth_check_name(fn, "tenant", tenant);
	if (!rc)
		rc = auth_check_name(fn, "id", id);
	if (rc)
		return rc;
	cJSON *principal = NULL;
	char bind[AUTH_HASH_HEX];
	rc = auth_principal_load(ctx, tenant, id, &principal);
	if (!rc)
		rc = reset_bind(principal, bind);
	cJSON_Delete(principal);
	if (rc == COG_ENOTFOUND)
		return cog__error(COG_ENOTFOUND, "%s: no registered principal %s/%s", fn,
			tenant, id);
	if (rc)
		return cog__error_wrap(rc, "%s: loading principal %s/%s", fn, tenant, id);
	auth_config cfg;
	if ((rc = auth_config_get(ctx, &cfg)))
		return rc;
	int64_t exp = auth_now_s() + cfg.reset_ttl_s;
	auth_config_dispose(&cfg);

	char *token = auth_random_token(RESET_PREFIX, RESET_BYTES);
	if (!token)
		return cog__oom(fn);
	char hash[AUTH_HASH_HEX];
	auth_secret_hash(token, hash);
	if ((rc = reset_store(ctx, tenant, id, hash, bind, exp))) {
		sodium_memzero(token, strlen(token));
		cog_free(token);
		return cog__error_wrap(rc, "%s: storing the reset token", fn);
	}
	*reset_token = token;
	return COG_OK;
}

/* Spend the token: its documents, deleted; *doc the main one. COG_EDENIED
 * when there is none (unknown, used, expired, or spent by a confirmation
 * racing this one). */
static int reset_spend(cog_ctx *ctx, const char *reset_token, cJSON **doc)
{
	static const char fn[] = "cog_auth_reset_confirm";
	char hash[AUTH_HASH_HEX], key[RESET_KEY_MAX];
	auth_secret_hash(reset_token, hash);
	cog_storage *s;
	int rc = auth_storage(ctx, &s);
	if (rc || (rc = cog_storage_begin(s)))
		return rc;
	cJSON *look = NULL;
	rc = auth_json_get(s, RESET_LOOKUP, hash, &look);
	const char *tenant = cog_json_get_string(look, "tenant");
	const char *id = cog_json_get_string(look, "id");
	if (!rc && (auth_check_name(fn, "tenant", tenant) || auth_check_name(fn, "id", id)))
		rc = cog__error(COG_EINTEGRITY, "%s: the reset document names no principal", fn);
	if (!rc) {
		snprintf(key, sizeof(key), "%s/%s/%s", tenant, id, hash);
		rc = auth_json_get(s, RESET, key, doc);
	}
	cJSON_Delete(look);
	if (!rc)
		rc = cog_storage_delete(s, RESET_LOOKUP, hash);
	if (!rc)
		rc = cog_storage_delete(s, RESET, key);
	int end = rc ? cog_storage_rollback(s) : cog_storage_commit(s);
	if (!rc)
		rc = end;
	if (rc == COG_ENOTFOUND)
		rc = cog__error(COG_EDENIED, "%s: unknown, used or expired reset token", fn);
	if (!rc && cog_json_get_number(*doc, "exp", 0) < (double)auth_now_s())
		rc = cog__error(COG_EDENIED, "%s: unknown, used or expired reset token", fn);
	if (!rc && !cog_json_get_string(*doc, "bind"))
		rc = cog__error(COG_EINTEGRITY, "%s: the reset document has no binding", fn);
	if (rc) {
		cJSON_Delete(*doc);
		*doc = NULL;
	}
	return rc;
}

/* The principal's reset tokens, deleted (in the caller's transaction). */
int auth_reset_drop(cog_storage *s, const char *tenant, const char *id)
{
	char prefix[AUTH_PKEY_MAX + 1];
	snprintf(prefix, sizeof(prefix), "%s/%s/", tenant, id);
	char **keys = NULL;
	size_t count = 0;
	int rc = auth_scan_keys(s, RESET, prefix, &keys, &count);
	for (size_t i = 0; i < count && !rc; i++) {
		const char *hash = keys[i] + strlen(prefix);
		rc = cog_storage_delete(s, RESET, keys[i]);
		if (!rc || rc == COG_ENOTFOUND)
			rc = cog_storage_delete(s, RESET_LOOKUP, hash);
		if (rc == COG_ENOTFOUND)
			rc = COG_OK;
	}
	auth_scan_keys_free(keys, count);
	return rc;
}

/* Store `hash` as tenant/id's password while the principal still matches
 * `bind`, and drop its other reset tokens: one transaction, under the
 * state's lock. */
static int reset_apply(cog_ctx *ctx, const char *tenant, const char *id, const char *bind,
                       const char *hash)
{
	static const char fn[] = "cog_auth_reset_confirm";
	cog_storage *s;
	auth_state *st;
	int rc = auth_storage(ctx, &s);
	if (rc || (rc = auth_state_get(ctx, &st)))
		return rc;
	char key[AUTH_PKEY_MAX], now_bind[AUTH_HASH_HEX];
	auth_principal_key(tenant, id, key);
	cJSON *doc = NULL;
	pthread_mutex_lock(&st->lock);
	if ((rc = cog_storage_begin(s))) {
		pthread_mutex_unlock(&st->lock);
		return rc;
	}
	rc = auth_json_get(s, AUTH_PRINCIPALS, key, &doc);
	if (rc == COG_ENOTFOUND)
		rc = cog__error(COG_EDENIED, "%s: principal %s/%s is no longer registered",
			fn, tenant, id);
	if (!rc)
		rc = reset_bind(doc, now_bind);
	if (!rc && sodium_memcmp(now_bind, bind, AUTH_HASH_HEX - 1) != 0)
		rc = cog__error(COG_EDENIED, "%s: the reset token was made before the password "
			"of %s/%s last changed (or before it was registered again): request a "
			"new one", fn, tenant, id);
	if (!rc) {
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "hash");
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "updated");
		if (cog_json_add_string(doc, "hash", hash) ||
		    cog_json_add_number(doc, "updated", (double)auth_now_s()))
			rc = cog__oom("auth: principal document");
	}
	if (!rc)
		rc = auth_json_put(s, AUTH_PRINCIPALS, key, doc, 0);
	if (!rc)
		rc = auth_reset_drop(s, tenant, id);
	int end = rc ? cog_storage_rollback(s) : cog_storage_commit(s);
	pthread_mutex_unlock(&st->lock);
	cJSON_Delete(doc);
	return rc ? rc : end;
}

int cog_auth_reset_confirm(cog_ctx *ctx, const char *reset_token, const char *new_password)
{
	static const char fn[] = "cog_auth_reset_confirm";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(reset_token, fn, "reset_token is NULL");
	COG_CHECK_ARG(new_password, fn, "new_password is NULL");
	if (strnlen(reset_token, RESET_TOKEN_MAX + 1) > RESET_TOKEN_MAX ||
	    strncmp(reset_token, RESET_PREFIX, strlen(RESET_PREFIX)) != 0)
		return cog__error(COG_EDENIED, "%s: unknown, used or expired reset token", fn);
	cJSON *doc = NULL;
	int rc = reset_spend(ctx, reset_token, &doc);
	if (rc)
		return rc;
	const char *tenant = cog_json_get_string(doc, "tenant");
	const char *id = cog_json_get_string(doc, "id");
	auth_config cfg;
	if ((rc = auth_config_get(ctx, &cfg))) {
		cJSON_Delete(doc);
		return rc;
	}
	char *hash = NULL;
	rc = auth_password_policy(&cfg, fn, new_password);
	if (!rc)
		rc = cog_password_hash(new_password, cfg.opslimit, cfg.memlimit, &hash);
	auth_config_dispose(&cfg);
	if (!rc)
		rc = reset_apply(ctx, tenant, id, cog_json_get_string(doc, "bind"), hash);
	if (!rc)
		rc = auth_sessions_revoke_all(ctx, tenant, id);
	if (hash) {
		sodium_memzero(hash, strlen(hash));
		cog_free(hash);
	}
	cJSON_Delete(doc);
	return rc;
}
