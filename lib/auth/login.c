/*
 * Login: the rate limits first (every attempt counts), then the password
 * (an unknown principal, or one without a password, is verified against the
 * auth state's dummy hash, which every login makes sure of first, so the
 * time taken does not tell which principals exist), then in
 * one storage transaction: the principal read again and required unchanged
 * (a password change, disable or removal during the check wins), its hash
 * upgraded when the limits changed, and the new session stored.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "session_int.h"

#define PASSWORD_MAX 4096

_Static_assert(AUTH_DUMMY_HASH_MAX >= crypto_pwhash_STRBYTES,
	"auth_state.dummy_hash holds an argon2id hash string");

int auth_dummy_hash_make(unsigned long long opslimit, size_t memlimit,
                         char out[AUTH_DUMMY_HASH_MAX])
{
	unsigned char seed[16];
	char pw[33];
	randombytes_buf(seed, sizeof(seed));
	cog_hex_encode(seed, sizeof(seed), pw);
	sodium_memzero(seed, sizeof(seed));
	char *h = NULL;
	int rc = cog_password_hash(pw, opslimit, memlimit, &h);
	sodium_memzero(pw, sizeof(pw));
	if (!rc && strlen(h) >= AUTH_DUMMY_HASH_MAX)
		rc = cog__error(COG_ERROR, "auth: the dummy password hash is too long");
	if (!rc)
		snprintf(out, AUTH_DUMMY_HASH_MAX, "%s", h);
	cog_free(h);
	return rc;
}

/* The state's dummy hash, made at the first login after the state was
 * made or the limits changed. Every login asks for it before it looks the
 * principal up, so that first login costs the same whether the principal
 * exists or not. */
static int dummy_get(cog_ctx *ctx, const auth_config *cfg, char out[AUTH_DUMMY_HASH_MAX])
{
	auth_state *st;
	int rc = auth_state_get(ctx, &st);
	if (rc)
		return rc;
	pthread_mutex_lock(&st->lock);
	memcpy(out, st->dummy_hash, AUTH_DUMMY_HASH_MAX);
	pthread_mutex_unlock(&st->lock);
	if (out[0])
		return COG_OK;
	/* made outside the lock (argon2id takes a while); two first logins
	 * at once each make one, the first stored wins */
	if ((rc = auth_dummy_hash_make(cfg->opslimit, cfg->memlimit, out)))
		return rc;
	pthread_mutex_lock(&st->lock);
	if (!st->dummy_hash[0])
		memcpy(st->dummy_hash, out, AUTH_DUMMY_HASH_MAX);
	pthread_mutex_unlock(&st->lock);
	return COG_OK;
}

/* A hash of `password` at the configured limits when the stored one was
 * made at others (NULL when not needed or when it failed: the login stands
 * either way). */
static char *rehash(cog_ctx *ctx, const auth_config *cfg, const char *tenant,
                    const char *id, const char *old_hash, const char *password)
{
	if (cog_password_needs_rehash(old_hash, cfg->opslimit, cfg->memlimit) != 1)
		return NULL;
	char *fresh = NULL;
	if (cog_password_hash(password, cfg->opslimit, cfg->memlimit, &fresh)) {
		cog__log(ctx, COG_LOG_WARN, NULL, "auth: the password hash of %s/%s could not "
			"be upgraded to the configured limits: %s", tenant, id, cog_error_last());
		return NULL;
	}
	return fresh;
}

/* Inside the session's transaction: the principal must still be the one
 * whose password was checked (same hash, roles and "updated", enabled), so
 * a password change, disable or removal that ran during the (slow) check
 * cannot miss the new session. With `fresh`, its hash is stored too. */
static int principal_unchanged(cog_storage *s, const char *tenant, const char *id,
                               const cJSON *seen, const char *fresh)
{
	static const char fn[] = "cog_auth_login";
	char key[AUTH_PKEY_MAX];
	auth_principal_key(tenant, id, key);
	cJSON *now = NULL;
	int rc = auth_json_get(s, AUTH_PRINCIPALS, key, &now);
	if (rc == COG_ENOTFOUND)
		rc = cog__error(COG_EDENIED, "%s: principal %s/%s was removed during the "
			"login", fn, tenant, id);
	const char *h = cog_json_get_string(now, "hash");
	const char *want = cog_json_get_string(seen, "hash");
	if (!rc && (!h || !want || strcmp(h, want) != 0 ||
	    auth_json_int(now, "updated", -1) != auth_json_int(seen, "updated", -1) ||
	    !cJSON_Compare(cJSON_GetObjectItemCaseSensitive(now, "roles"),
	                   cJSON_GetObjectItemCaseSensitive(seen, "roles"), 1)))
		rc = cog__error(COG_EDENIED, "%s: principal %s/%s changed during the login; "
			"log in again", fn, tenant, id);
	if (!rc && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(now, "disabled")))
		rc = cog__error(COG_EDENIED, "%s: principal %s/%s is disabled", fn, tenant, id);
	if (!rc && fresh) {
		cJSON_DeleteItemFromObjectCaseSensitive(now, "hash");
		cJSON_DeleteItemFromObjectCaseSensitive(now, "updated");
		if (cog_json_add_string(now, "hash", fresh) ||
		    cog_json_add_number(now, "updated", (double)auth_now_s()))
			rc = cog__oom("auth: principal document");
		else
			rc = auth_json_put(s, AUTH_PRINCIPALS, key, now, 0);
	}
	cJSON_Delete(now);
	return rc;
}

/* Open a session of the principal `doc` and fill *tokens_json. */
static int session_open(cog_ctx *ctx, const auth_config *cfg, const char *tenant,
                        const char *id, const cJSON *doc, const char *fresh,
                        char **tokens_json)
{
	auth_grant g;
	memset(&g, 0, sizeof(g));
	unsigned char raw[16];
	randombytes_buf(raw, sizeof(raw));
	cog_hex_encode(raw, sizeof(raw), g.sid);
	int rc = auth_grant_prepare(ctx, tenant, id, cJSON_GetObjectItemCaseSensitive(doc, "roles"),
		&g);
	char skey[AUTH_SKEY_MAX];
	snprintf(skey, sizeof(skey), "%s/%s/%s", tenant, id, g.sid);
	int64_t now = auth_now_s(), expires = now + cfg->refresh_ttl_s;
	cJSON *sdoc = rc ? NULL : cJSON_CreateObject();
	if (!rc && (!sdoc || cog_json_add_string(sdoc, "tenant", tenant) ||
	    cog_json_add_string(sdoc, "id", id) || cog_json_add_string(sdoc, "sid", g.sid) ||
	    cog_json_add_number(sdoc, "created", (double)now) ||
	    cog_json_add_number(sdoc, "expires", (double)expires) ||
	    cog_json_add_bool(sdoc, "revoked", false) ||
	    cog_json_add_string(sdoc, "refresh", g.refresh_hash)))
		rc = cog__oom("auth: session document");
	cog_storage *s = NULL;
	auth_state *st = NULL;
	if (!rc && !(rc = auth_storage(ctx, &s)))
		rc = auth_state_get(ctx, &st);
	if (!rc) {
		pthread_mutex_lock(&st->lock);
		if (!(rc = cog_storage_begin(s))) {
			rc = principal_unchanged(s, tenant, id, doc, fresh);
			if (!rc)
				rc = auth_json_put(s, AUTH_SESSIONS, skey, sdoc, expires);
			if (!rc)
				rc = auth_refresh_doc_put(s, g.refresh_hash, skey, false, expires);
			int end = rc ? cog_storage_rollback(s) : cog_storage_commit(s);
			if (!rc)
				rc = end;
		}
		pthread_mutex_unlock(&st->lock);
		if (rc && rc != COG_EDENIED)
			rc = cog__error_wrap(rc, "cog_auth_login: storing the session");
	}
	cJSON_Delete(sdoc);
	if (!rc)
		rc = auth_grant_output(&g, expires, tokens_json);
	auth_grant_dispose(&g);
	return rc;
}

int cog_auth_login(cog_ctx *ctx, const char *tenant, const char *id,
                   const char *password, const char *client_key, char **tokens_json)
{
	static const char fn[] = "cog_auth_login";
	COG_CHECK_ARG(tokens_json, fn, "tokens_json (the out parameter) is NULL");
	*tokens_json = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(password, fn, "password is NULL");
	if (strnlen(password, PASSWORD_MAX + 1) > PASSWORD_MAX)
		return cog__error(COG_EINVAL, "%s: password is longer than %d bytes", fn,
			PASSWORD_MAX);
	/* every attempt counts, whatever comes of it */
	int rc = auth_login_limit(ctx, tenant, id, client_key);
	if (rc)
		return rc;
	auth_config cfg;
	if ((rc = auth_config_get(ctx, &cfg)))
		return rc;
	char dummy[AUTH_DUMMY_HASH_MAX];
	cJSON *doc = NULL;
	if ((rc = dummy_get(ctx, &cfg, dummy)))
		goto out;
	rc = auth_principal_load(ctx, tenant, id, &doc);
	if (rc && rc != COG_ENOTFOUND) {
		rc = cog__error_wrap(rc, "%s: loading principal %s/%s", fn, tenant, id);
		goto out;
	}
	const char *hash = cog_json_get_string(doc, "hash");
	int vrc = cog_password_verify(hash ? hash : dummy, password);
	if (!hash || vrc) {
		if (hash && vrc != COG_EDENIED)
			cog__log(ctx, COG_LOG_WARN, NULL, "auth: the stored password hash of "
				"%s/%s could not be checked: %s", tenant, id, cog_error_last());
		rc = cog__error(COG_EDENIED, "%s: invalid credentials", fn);
		goto out;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "disabled"))) {
		rc = cog__error(COG_EDENIED, "%s: principal %s/%s is disabled", fn, tenant, id);
		goto out;
	}
	char *fresh = rehash(ctx, &cfg, tenant, id, hash, password);
	rc = session_open(ctx, &cfg, tenant, id, doc, fresh, tokens_json);
	if (fresh) {
		sodium_memzero(fresh, strlen(fresh));
		cog_free(fresh);
	}
out:
	cJSON_Delete(doc);
	auth_config_dispose(&cfg);
	return rc;
}
