/*
 * Sessions: the model, the tokens a login (login.c) or a refresh (refresh.c)
 * hands out, and logout.
 *
 * A login opens a session ("auth.sessions" "<tenant>/<id>/<sid>") that lives
 * refresh_ttl_s, and gives an access token (a JWT naming the session in
 * "sid") and a refresh token. The refresh token itself is never stored: its
 * auth_secret_hash keys a document {"session","spent"} in "auth.refresh"
 * that expires with the session.
 *
 * A refresh spends its token and makes the next one of the same session
 * (the family). A spent token presented again means two parties hold it, one
 * of them a thief: the whole session is revoked, so the access tokens and the
 * newest refresh token of the family stop working too. Spending is a
 * read-modify-write done under the auth state's lock (threads of this
 * process) inside a storage transaction (other processes on the same SQLite
 * file): of two refreshes of one token exactly one wins, the other is taken
 * for reuse.
 *
 * The session document: {"tenant","id","sid","created","expires","revoked",
 * "refresh"}, "refresh" being the hash of the family's current refresh token.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "session_int.h"

void auth_grant_dispose(auth_grant *g)
{
	if (g->access) {
		sodium_memzero(g->access, strlen(g->access));
		cog_free(g->access);
	}
	if (g->refresh) {
		sodium_memzero(g->refresh, strlen(g->refresh));
		cog_free(g->refresh);
	}
	sodium_memzero(g, sizeof(*g));
}

/* Issue the access token of session `sid` (roles: the stored ones) and make
 * a new refresh token. */
int auth_grant_prepare(cog_ctx *ctx, const char *tenant, const char *id,
                         const cJSON *roles, auth_grant *g)
{
	cJSON *claims = cJSON_CreateObject();
	cJSON *role_copy = cJSON_IsArray(roles) ? cJSON_Duplicate(roles, 1)
		: cJSON_CreateArray();
	if (claims && role_copy && !cJSON_AddItemToObject(claims, "roles", role_copy))
		cJSON_Delete(role_copy);
	else if (!claims)
		cJSON_Delete(role_copy);
	if (!claims || !cJSON_GetObjectItemCaseSensitive(claims, "roles") ||
	    cog_json_add_string(claims, "sub", id) ||
	    cog_json_add_string(claims, "tenant", tenant) ||
	    cog_json_add_string(claims, "sid", g->sid)) {
		cJSON_Delete(claims);
		return cog__oom("auth: access token claims");
	}
	cJSON *final = NULL;
	int rc = auth_token_issue(ctx, claims, &g->access, &final);
	cJSON_Delete(claims);
	if (rc)
		return rc;
	g->access_exp = auth_json_int(final, "exp", 0);
	cJSON_Delete(final);
	g->refresh = auth_random_token(AUTH_REFRESH_PREFIX, AUTH_REFRESH_BYTES);
	if (!g->refresh)
		return cog__oom("auth: refresh token");
	auth_secret_hash(g->refresh, g->refresh_hash);
	return COG_OK;
}

/* The tokens JSON of auth.h. */
int auth_grant_output(const auth_grant *g, int64_t expires, char **tokens_json)
{
	int64_t now = auth_now_s();
	cJSON *out = cJSON_CreateObject();
	int bad = !out || cog_json_add_string(out, "access_token", g->access) ||
		cog_json_add_string(out, "token_type", "Bearer") ||
		cog_json_add_number(out, "expires_in",
			(double)(g->access_exp > now ? g->access_exp - now : 0)) ||
		cog_json_add_string(out, "refresh_token", g->refresh) ||
		cog_json_add_number(out, "refresh_expires_in",
			(double)(expires > now ? expires - now : 0)) ||
		cog_json_add_string(out, "session", g->sid);
	char *text = bad ? NULL : cog_json_print(out);
	const cJSON *m;
	cJSON_ArrayForEach(m, out)
		if (cJSON_IsString(m))
			sodium_memzero(m->valuestring, strlen(m->valuestring));
	cJSON_Delete(out);
	if (!text)
		return cog__oom("auth: tokens JSON");
	*tokens_json = text;
	return COG_OK;
}

int auth_json_put(cog_storage *s, const char *coll, const char *key, const cJSON *doc,
                    int64_t expires_s)
{
	char *text = cog_json_print(doc);
	if (!text)
		return cog__oom("auth: session document");
	int rc = cog_storage_put(s, coll, key, text, expires_s * 1000);
	cog_free(text);
	return rc;
}

/* A document read straight from the storage (the state's lock may be held:
 * auth_doc_get could want it). COG_ENOTFOUND, COG_EINTEGRITY. */
int auth_json_get(cog_storage *s, const char *coll, const char *key, cJSON **out)
{
	char *text = NULL;
	*out = NULL;
	int rc = cog_storage_get(s, coll, key, &text);
	if (rc)
		return rc;
	*out = cJSON_Parse(text);
	cog_free(text);
	if (!cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		return cog__error(COG_EINTEGRITY, "auth: document '%s' of %s is not a JSON "
			"object", key, coll);
	}
	return COG_OK;
}

int auth_refresh_doc_put(cog_storage *s, const char *hash, const char *skey, bool spent,
                           int64_t expires)
{
	cJSON *doc = cJSON_CreateObject();
	if (!doc || cog_json_add_string(doc, "session", skey) ||
	    cog_json_add_bool(doc, "spent", spent)) {
		cJSON_Delete(doc);
		return cog__oom("auth: refresh document");
	}
	int rc = auth_json_put(s, AUTH_REFRESH, hash, doc, expires);
	cJSON_Delete(doc);
	return rc;
}

/* ---- logout ---- */

/* A verification's failure said as logout's. */
static int relabel(int rc, const char *why)
{
	static const char verify[] = "cog_token_verify: ";
	char text[512];
	snprintf(text, sizeof(text), "%s", strncmp(why, verify, sizeof(verify) - 1) == 0
		? why + sizeof(verify) - 1 : why);
	return cog__error(rc, "cog_auth_logout: %s", text);
}

int cog_auth_logout(cog_ctx *ctx, const char *token)
{
	static const char fn[] = "cog_auth_logout";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(token, fn, "token is NULL");
	if (strncmp(token, AUTH_REFRESH_PREFIX, strlen(AUTH_REFRESH_PREFIX)) == 0)
		return auth_refresh_revoke_as(ctx, fn, token);
	if (!strchr(token, '.'))
		return cog__error(COG_EINVAL, "%s: neither a JWT nor a refresh token (they "
			"begin with \"%s\")", fn, AUTH_REFRESH_PREFIX);
	cJSON *claims = NULL;
	bool expired = false;
	int rc = auth_token_verify_ex(ctx, token, false, &claims, &expired);
	if (rc == COG_EDENIED && expired) {
		rc = COG_OK; /* dead already, but its session lives on: end it */
	} else if (rc) {
		cJSON_Delete(claims);
		return relabel(rc, cog_error_last());
	}
	const char *jti = cog_json_get_string(claims, "jti");
	const char *tenant = cog_json_get_string(claims, "tenant");
	const char *sub = cog_json_get_string(claims, "sub");
	const char *sid = cog_json_get_string(claims, "sid");
	/* an expired token needs no jti entry: it verifies no more */
	if (jti && !expired)
		rc = auth_revoke_jti(ctx, jti, auth_json_int(claims, "exp", 0));
	if (!rc && sid && tenant && sub)
		rc = auth_session_revoke(ctx, tenant, sub, sid);
	else if (!rc && !jti && !expired)
		rc = cog__error(COG_EINVAL, "%s: the token names neither a session nor a jti",
			fn);
	cJSON_Delete(claims);
	return rc ? cog__error_wrap(rc, "%s", fn) : COG_OK;
}
