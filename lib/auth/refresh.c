/*
 * Refresh: rotation with reuse detection (see session.c for the model).
 *
 * The new access token is issued first, outside the lock (issuing reads the
 * keys and the configuration, which take the state's lock themselves); then
 * under the state's lock, inside one storage transaction, the old refresh
 * token is checked and spent and the new one stored. Losing that race (or a
 * token spent before) means reuse: the session is revoked and the prepared
 * tokens are thrown away unseen.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "session_int.h"

/* Take the session of the refresh token hashed `hash` for a refresh: the
 * principal must still be registered and enabled. */
static int refresh_prepare(cog_ctx *ctx, const char *hash, char skey[AUTH_SKEY_MAX],
                           int64_t *expires, auth_grant *g, bool *spent)
{
	static const char fn[] = "cog_auth_refresh";
	cJSON *rdoc = NULL, *sdoc = NULL, *pdoc = NULL;
	int rc = auth_doc_get(ctx, AUTH_REFRESH, hash, &rdoc);
	if (rc == COG_ENOTFOUND)
		rc = cog__error(COG_EDENIED, "%s: unknown or expired refresh token", fn);
	const char *session = rc ? NULL : cog_json_get_string(rdoc, "session");
	if (!rc && (!session || strlen(session) >= AUTH_SKEY_MAX))
		rc = cog__error(COG_EINTEGRITY, "%s: the refresh document names no session", fn);
	if (!rc) {
		snprintf(skey, AUTH_SKEY_MAX, "%s", session);
		*spent = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rdoc, "spent"));
	}
	if (!rc && !*spent) {
		rc = auth_doc_get(ctx, AUTH_SESSIONS, skey, &sdoc);
		if (rc == COG_ENOTFOUND ||
		    (!rc && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sdoc, "revoked"))))
			rc = cog__error(COG_EDENIED, "%s: the session is revoked or expired", fn);
		const char *tenant = cog_json_get_string(sdoc, "tenant");
		const char *id = cog_json_get_string(sdoc, "id");
		const char *sid = cog_json_get_string(sdoc, "sid");
		if (!rc && (!tenant || !id || !sid || strlen(sid) >= sizeof(g->sid)))
			rc = cog__error(COG_EINTEGRITY, "%s: session document '%s' is damaged",
				fn, skey);
		if (!rc)
			rc = auth_principal_load(ctx, tenant, id, &pdoc);
		if (rc == COG_ENOTFOUND)
			rc = cog__error(COG_EDENIED, "%s: principal %s/%s is no longer "
				"registered", fn, tenant, id);
		if (!rc && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pdoc, "disabled")))
			rc = cog__error(COG_EDENIED, "%s: principal %s/%s is disabled", fn,
				tenant, id);
		if (!rc) {
			*expires = auth_json_int(sdoc, "expires", 0);
			snprintf(g->sid, sizeof(g->sid), "%s", sid);
			rc = auth_grant_prepare(ctx, tenant, id,
				cJSON_GetObjectItemCaseSensitive(pdoc, "roles"), g);
		}
	}
	cJSON_Delete(rdoc);
	cJSON_Delete(sdoc);
	cJSON_Delete(pdoc);
	return rc;
}

/* Mark the session revoked (in the caller's transaction). */
static int revoke_in_txn(cog_storage *s, cJSON *sdoc, const char *skey)
{
	cJSON_DeleteItemFromObjectCaseSensitive(sdoc, "revoked");
	if (cog_json_add_bool(sdoc, "revoked", true))
		return cog__oom("auth: session document");
	return auth_json_put(s, AUTH_SESSIONS, skey, sdoc,
		auth_json_int(sdoc, "expires", 0));
}

/* The read-modify-write of a refresh, inside the lock and the transaction.
 * COG_EDENIED with *reuse set when a spent token came back. */
static int refresh_spend(cog_storage *s, const char *hash, const char *skey, auth_grant *g,
                         bool prepared, bool *reuse)
{
	static const char fn[] = "cog_auth_refresh";
	cJSON *rdoc = NULL, *sdoc = NULL;
	int rc = auth_json_get(s, AUTH_REFRESH, hash, &rdoc);
	if (rc == COG_ENOTFOUND)
		rc = cog__error(COG_EDENIED, "%s: unknown or expired refresh token", fn);
	const char *session = rc ? NULL : cog_json_get_string(rdoc, "session");
	if (!rc && (!session || strcmp(session, skey) != 0))
		rc = cog__error(COG_EINTEGRITY, "%s: the refresh document changed session", fn);
	if (!rc) {
		rc = auth_json_get(s, AUTH_SESSIONS, skey, &sdoc);
		if (rc == COG_ENOTFOUND)
			rc = cog__error(COG_EDENIED, "%s: the session is revoked or expired", fn);
	}
	if (!rc && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rdoc, "spent"))) {
		*reuse = true;
		rc = revoke_in_txn(s, sdoc, skey);
		if (!rc)
			rc = cog__error(COG_EDENIED, "%s: refresh token reuse detected: the "
				"session is revoked", fn);
	} else if (!rc && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sdoc, "revoked"))) {
		rc = cog__error(COG_EDENIED, "%s: the session is revoked or expired", fn);
	} else if (!rc && !prepared) {
		rc = cog__error(COG_EDENIED, "%s: the session changed during the refresh; "
			"try again", fn);
	}
	int64_t expires = auth_json_int(sdoc, "expires", 0);
	if (!rc)
		rc = auth_refresh_doc_put(s, hash, skey, true, expires);
	if (!rc)
		rc = auth_refresh_doc_put(s, g->refresh_hash, skey, false, expires);
	if (!rc) {
		cJSON_DeleteItemFromObjectCaseSensitive(sdoc, "refresh");
		rc = cog_json_add_string(sdoc, "refresh", g->refresh_hash) ? cog__oom(fn)
			: auth_json_put(s, AUTH_SESSIONS, skey, sdoc, expires);
	}
	cJSON_Delete(rdoc);
	cJSON_Delete(sdoc);
	return rc;
}

int cog_auth_refresh(cog_ctx *ctx, const char *refresh_token, char **tokens_json)
{
	static const char fn[] = "cog_auth_refresh";
	COG_CHECK_ARG(tokens_json, fn, "tokens_json (the out parameter) is NULL");
	*tokens_json = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(refresh_token, fn, "refresh_token is NULL");
	size_t len = strnlen(refresh_token, AUTH_REFRESH_TOKEN_MAX + 1);
	if (len > AUTH_REFRESH_TOKEN_MAX || strncmp(refresh_token, AUTH_REFRESH_PREFIX,
	    strlen(AUTH_REFRESH_PREFIX)) != 0)
		return cog__error(COG_EINVAL, "%s: not a refresh token (they begin with \"%s\")",
			fn, AUTH_REFRESH_PREFIX);
	char hash[AUTH_HASH_HEX], skey[AUTH_SKEY_MAX];
	auth_secret_hash(refresh_token, hash);
	auth_grant g;
	memset(&g, 0, sizeof(g));
	int64_t expires = 0;
	bool spent = false, reuse = false;
	int rc = refresh_prepare(ctx, hash, skey, &expires, &g, &spent);
	/* a spent token goes on to revoke its session */
	if (rc && !spent) {
		auth_grant_dispose(&g);
		return rc;
	}
	cog_storage *s;
	auth_state *st;
	if ((rc = auth_storage(ctx, &s)) || (rc = auth_state_get(ctx, &st))) {
		auth_grant_dispose(&g);
		return rc;
	}
	pthread_mutex_lock(&st->lock);
	rc = cog_storage_begin(s);
	if (!rc) {
		rc = refresh_spend(s, hash, skey, &g, !spent, &reuse);
		/* a detected reuse commits the revocation it wrote */
		int end = (!rc || reuse) ? cog_storage_commit(s) : cog_storage_rollback(s);
		if (!rc || (reuse && end))
			rc = end;
	}
	pthread_mutex_unlock(&st->lock);
	if (reuse)
		cog__log(ctx, COG_LOG_WARN, NULL, "auth: a spent refresh token of session %s "
			"was presented again; the session is revoked", skey);
	if (!rc)
		rc = auth_grant_output(&g, expires, tokens_json);
	auth_grant_dispose(&g);
	return rc;
}
