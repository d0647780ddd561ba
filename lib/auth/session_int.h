/*
 * What the session files share (session.c, login.c, refresh.c): the tokens
 * a login or a refresh hands out, and documents read and written straight
 * through the storage, for use while the auth state's lock is held
 * (auth_doc_get/put may take that lock when the context has no storage).
 */
#ifndef COG_AUTH_SESSION_INT_H
#define COG_AUTH_SESSION_INT_H

#include "auth_int.h"

#define AUTH_PRINCIPALS "auth.principals"
#define AUTH_SESSIONS "auth.sessions"
#define AUTH_REFRESH "auth.refresh"
/* "<tenant>/<id>/<sid>" and its NUL */
#define AUTH_SKEY_MAX (AUTH_PKEY_MAX + 66)
#define AUTH_REFRESH_TOKEN_MAX 256
#define AUTH_REFRESH_BYTES 32

/* What a login or a refresh hands out. */
typedef struct auth_grant {
	char sid[33];
	char *access;            /* the JWT */
	int64_t access_exp;      /* its exp (Unix s) */
	char *refresh;           /* the new refresh token */
	char refresh_hash[AUTH_HASH_HEX];
} auth_grant;

/* Issue the access token of session g->sid with claims {"sub","tenant",
 * "roles" (a copy of `roles`, [] when not an array),"sid"} and make a new
 * refresh token and its hash. */
int auth_grant_prepare(cog_ctx *ctx, const char *tenant, const char *id,
                       const cJSON *roles, auth_grant *g);
/* The tokens JSON of auth.h; the session expires at `expires` (Unix s). */
int auth_grant_output(const auth_grant *g, int64_t expires, char **tokens_json);
/* Wipe and free. */
void auth_grant_dispose(auth_grant *g);

/* Documents through the storage directly; expires_s: Unix s, 0 never.
 * get: COG_ENOTFOUND, COG_EINTEGRITY (not an object). */
int auth_json_put(cog_storage *s, const char *coll, const char *key, const cJSON *doc,
                  int64_t expires_s);
int auth_json_get(cog_storage *s, const char *coll, const char *key, cJSON **out);
/* {"session":skey,"spent":spent} under the refresh token's hash. */
int auth_refresh_doc_put(cog_storage *s, const char *hash, const char *skey, bool spent,
                         int64_t expires);

/* auth_refresh_revoke with messages naming `fn` (auth_refresh_revoke's
 * name cog_token_revoke, its only other caller). revoke.c */
int auth_refresh_revoke_as(cog_ctx *ctx, const char *fn, const char *refresh_token);

/* The keys of `coll` beginning with `prefix` (a scan's callback may not
 * call the storage: collect, then act). *keys to auth_scan_keys_free. revoke.c */
int auth_scan_keys(cog_storage *s, const char *coll, const char *prefix, char ***keys,
                   size_t *count);
void auth_scan_keys_free(char **keys, size_t count);

#endif
