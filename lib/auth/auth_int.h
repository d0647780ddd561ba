/*
 * The auth module's inside (include/cognition/auth.h is its face).
 *
 * Auth sits just above core: tool and memory call cog__auth_check() on every
 * call and access, so they use this header; auth itself uses only core.
 *
 *   state.c        the state on the context (slot COG__EXT_AUTH): the
 *                  configuration (cog_auth_configure), the storage (the
 *                  context's, or an in-memory one), document helpers, names
 *   b64.c          base64url (RFC 4648 §5, no padding, strict), random and
 *                  hashed secret tokens
 *   password.c     cog_password_* (argon2id through libsodium)
 *   jwk.c          JWK parsing into auth_key (auth_jwk.h: shared helpers)
 *   jws.c          cog_jws_sign / cog_jws_verify and the key-level entries
 *   keys.c         finding keys (signing, by kid, by alg)
 *   keys_set.c     the key set (cog_auth_key_*, cog_auth_jwks)
 *   token.c        cog_token_issue / verify / revoke
 *   rbac.c         roles (cog_auth_role_*)               rbac_int.h: shared
 *   rbac_check.c   cog_auth_check, cog__auth_*, the globs
 *   principal.c    cog_auth_register, principal_get/update/remove,
 *                  set_password; principal_list.c: principal_list
 *   session.c      grants (access + refresh token), logout; session_int.h
 *   login.c        cog_auth_login (dummy hash, rehash, new session)
 *   refresh.c      cog_auth_refresh (rotation, reuse detection)
 *   revoke.c       jti and session revocation, auth_refresh_revoke
 *   login_limit.c  the login rate limits (token buckets in storage)
 *   reset.c        password reset tokens
 *   inject.c       injection heuristics (cog_injection_*), its own slot
 *                  COG__EXT_INJECT; inject_rules.c: the built-in rules
 *
 * Storage collections (keys):
 *   auth.roles       role name                      {"tools","memory","admin"}
 *   auth.principals  "<tenant>/<id>"                {"tenant","id","roles",
 *                    "disabled","profile"?,"hash"?,"created","updated"}
 *   auth.keys        kid                            the JWK + {"retired",
 *                                                   "created"}
 *   auth.sessions    "<tenant>/<id>/<sid>"          {"tenant","id","sid",
 *                    "created","expires","revoked","refresh"}  expires with
 *                                                   the refresh token
 *   auth.refresh     hash of the refresh token      {"session":key,"spent"}
 *   auth.revoked     jti                            {"exp"}, expires at exp
 *   auth.reset       "<tenant>/<id>/<hash of the reset token>"
 *                                                   {"tenant","id","exp",
 *                                                   "bind"}, expires (reset.c)
 *   auth.reset.hash  hash of the reset token        {"tenant","id"}: the lookup
 *   auth.ratelimit   "p:<tenant>/<id>" | "c:<hash of the client key>"
 *                                                   {"tokens","ms"}
 * Times in documents are Unix seconds; storage expiry is Unix ms.
 */
#ifndef COG_AUTH_INT_H
#define COG_AUTH_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "cognition/auth.h"
#include "cognition/storage.h"
#include "core_int.h"

/* ---- state.c ---- */

typedef struct auth_config {
	char *issuer;            /* NULL: none */
	char *audience;          /* NULL: none */
	int64_t clock_skew_s;
	int64_t access_ttl_s;
	int64_t refresh_ttl_s;
	int64_t reset_ttl_s;
	double login_per_minute;
	unsigned long long opslimit;
	size_t memlimit;
	size_t pw_min, pw_max;
} auth_config;

#define AUTH_DUMMY_HASH_MAX 128  /* crypto_pwhash_STRBYTES */

typedef struct auth_state {
	pthread_mutex_t lock;    /* guards cfg, and serialises read-modify-write
	                            of auth documents within this process
	                            (sessions, refresh, rate limits) */
	auth_config cfg;
	cog_storage *fallback;   /* when the ctx has no storage */
	/* What cog_auth_login verifies against when the principal is unknown or
	 * has no password: a hash of a random password at cfg's limits, made
	 * by the first login (known principal or not) after the state was made
	 * or cog_auth_configure changed the limits ("" until then). Guarded by
	 * lock. */
	char dummy_hash[AUTH_DUMMY_HASH_MAX];
} auth_state;

/* login.c: a hash of a random password at these limits into out. */
int auth_dummy_hash_make(unsigned long long opslimit, size_t memlimit,
                         char out[AUTH_DUMMY_HASH_MAX]);

/* The state of ctx, made at first use. COG_ENOMEM. */
int auth_state_get(cog_ctx *ctx, auth_state **out);
/* A copy of the configuration (strings duplicated): auth_config_dispose. */
int auth_config_get(cog_ctx *ctx, auth_config *out);
void auth_config_dispose(auth_config *cfg);
/* The storage auth uses: the ctx's, else the state's in-memory one. */
int auth_storage(cog_ctx *ctx, cog_storage **out);

/* Documents of `coll`. get: COG_ENOTFOUND when absent (no message change
 * beyond the storage's); put: expires_ms 0 for never. */
int auth_doc_get(cog_ctx *ctx, const char *coll, const char *key, cJSON **out);
int auth_doc_put(cog_ctx *ctx, const char *coll, const char *key, const cJSON *doc,
                 int64_t expires_ms);
int auth_doc_del(cog_ctx *ctx, const char *coll, const char *key);

/* Names. A tenant or id: 1..128 of [A-Za-z0-9_.@+-]; a role: 1..64 of
 * [A-Za-z0-9_.-]. COG_EINVAL with "<fn>: <what> ..." otherwise. */
int auth_check_name(const char *fn, const char *what, const char *s);
int auth_check_role_name(const char *fn, const char *s);
/* "<tenant>/<id>" into out (at least AUTH_PKEY_MAX bytes). */
#define AUTH_PKEY_MAX 260
void auth_principal_key(const char *tenant, const char *id, char out[AUTH_PKEY_MAX]);

int64_t auth_now_s(void);
/* A whole-number member as int64 (a time, a count): absent, not a number
 * or NaN gives `fallback`; out-of-range values are clamped to +-2^62 (no
 * UB on a hostile or corrupted 1e300). */
int64_t auth_json_int(const cJSON *obj, const char *name, int64_t fallback);

/* ---- b64.c ---- */

/* base64url without padding, cog_malloc'd; NULL on OOM. */
char *auth_b64url_encode(const void *data, size_t len);
/* Decode exactly `len` bytes of base64url (no padding, no whitespace, the
 * last character's unused bits zero) into *out (cog_malloc'd, NUL added,
 * *out_len without it). COG_EINVAL "<what>: ..." with the offset. */
int auth_b64url_decode(const char *s, size_t len, const char *what,
                       unsigned char **out, size_t *out_len);
/* A random secret token: "<prefix>" + base64url of `bytes` random bytes. */
char *auth_random_token(const char *prefix, size_t bytes);
/* Storage key of a secret token: hex BLAKE2b-256 of it. */
#define AUTH_HASH_HEX 65
void auth_secret_hash(const char *token, char out[AUTH_HASH_HEX]);

/* ---- jwk.c / jws.c ---- */

enum { AUTH_ALG_EDDSA = 1, AUTH_ALG_HS256 = 2 };

typedef struct auth_key {
	char kid[129];           /* "" when the JWK had none */
	int alg;                 /* AUTH_ALG_* */
	bool can_sign;
	bool retired;
	int64_t created;
	unsigned char pub[32];   /* Ed25519 public key */
	unsigned char sk[64];    /* Ed25519 secret key (seed || pub) */
	unsigned char *hmac;     /* HS256 key, cog_malloc'd */
	size_t hmac_len;
} auth_key;

/* Parse a JWK object (what: for messages). "alg" when present must match
 * the type ("EdDSA" or "Ed25519" for OKP/Ed25519, "HS256" for oct; an HS256
 * key >= 32 bytes); d must give x. auth_key_dispose wipes it. */
int auth_jwk_parse(const cJSON *jwk, auth_key *out, const char *what);
void auth_key_dispose(auth_key *k);
/* The JWK of k as JSON (private parts only when with_private). */
cJSON *auth_jwk_export(const auth_key *k, bool with_private);
const char *auth_alg_name(int alg);      /* "EdDSA" | "HS256" */

/* Sign header (as given) and payload with k into compact JWS. */
int auth_jws_sign_key(const auth_key *k, const char *header, size_t header_len,
                      const void *payload, size_t payload_len, char **compact);

/* A compact JWS split and decoded: the header parsed; payload decoded. */
typedef struct auth_jws {
	cJSON *header;
	unsigned char *payload;  size_t payload_len;
	unsigned char *sig;      size_t sig_len;
	size_t signing_len;      /* bytes of "header.payload" in the input */
} auth_jws;
/* Parse (no signature check). COG_EINVAL saying where. */
int auth_jws_parse(const char *compact, auth_jws *out);
void auth_jws_dispose(auth_jws *j);
/* Check the header's alg against k and the signature over
 * compact[0..signing_len). 0, COG_EDENIED. */
int auth_jws_check(const auth_key *k, const char *compact, const auth_jws *j);

/* ---- keys.c ---- */

/* The signing key (COG_ENOTFOUND with a message saying to add one); a key
 * by kid (COG_ENOTFOUND); the keys of an alg (*keys to auth_keys_dispose). */
int auth_keys_signing(cog_ctx *ctx, auth_key *out);
int auth_keys_find(cog_ctx *ctx, const char *kid, auth_key *out);
int auth_keys_of_alg(cog_ctx *ctx, int alg, auth_key **keys, size_t *count);
void auth_keys_dispose(auth_key *keys, size_t count);

/* ---- token.c ---- */

/* Issue with claims completed as cog_token_issue says; *final (may be NULL)
 * gets the claims signed. */
int auth_token_issue(cog_ctx *ctx, const cJSON *claims, char **token, cJSON **final);
/* Verify signature and claims; with check_revoked also the jti and sid. */
int auth_token_verify(cog_ctx *ctx, const char *token, bool check_revoked,
                      cJSON **claims);
/* The same, but an expired token whose signature holds also gives its
 * claims (*claims set, *expired true, COG_EDENIED): logout ends the session
 * of such a token. */
int auth_token_verify_ex(cog_ctx *ctx, const char *token, bool check_revoked,
                         cJSON **claims, bool *expired);

/* ---- session.c ---- */

/* 1 when jti is revoked, 0 when not, <0 on a storage error; COG_EDENIED
 * for a jti that is not 1..512 bytes of UTF-8 (no token of ours). */
int auth_jti_revoked(cog_ctx *ctx, const char *jti);
/* Revoke jti until exp_s (Unix s). */
int auth_revoke_jti(cog_ctx *ctx, const char *jti, int64_t exp_s);
/* 1 when the session of tenant/id named sid is revoked or gone, 0 when
 * live, <0 on error. */
int auth_session_revoked(cog_ctx *ctx, const char *tenant, const char *id,
                         const char *sid);
int auth_session_revoke(cog_ctx *ctx, const char *tenant, const char *id,
                        const char *sid);
/* Revoke every session of tenant/id (password change, disable, reset). */
int auth_sessions_revoke_all(cog_ctx *ctx, const char *tenant, const char *id);
/* Refresh tokens are "cogr_" + base64url of 32 random bytes (stored under
 * their auth_secret_hash). Revoke the session of one: 0, COG_EDENIED when
 * unknown or expired. cog_token_revoke and cog_auth_logout use it for
 * tokens that are not JWTs. */
#define AUTH_REFRESH_PREFIX "cogr_"
int auth_refresh_revoke(cog_ctx *ctx, const char *refresh_token);

/* ---- reset.c ---- */

/* Delete every reset token of tenant/id, in the caller's transaction on s
 * (a successful reset, the principal removed). */
int auth_reset_drop(cog_storage *s, const char *tenant, const char *id);

/* ---- login_limit.c ---- */

/* Take one login attempt from the buckets of tenant/id and of client_key
 * (may be NULL). COG_EBUSY "... retry in N s" when either is empty. */
int auth_login_limit(cog_ctx *ctx, const char *tenant, const char *id,
                     const char *client_key);

/* ---- principal.c ---- */

/* The stored principal document (with "hash"). COG_ENOTFOUND. */
int auth_principal_load(cog_ctx *ctx, const char *tenant, const char *id,
                        cJSON **doc);
/* Check a password against min/max length. COG_EINVAL. */
int auth_password_policy(const auth_config *cfg, const char *fn, const char *password);

/* ---- rbac.c: what tool and memory call ---- */

/* The roles that count for `principal` (an object): the stored ones when
 * it is registered, else its own "roles". *roles: a new array to
 * cJSON_Delete. COG_EDENIED (disabled; not an object with tenant?/id),
 * COG_EIO. */
int cog__auth_roles(cog_ctx *ctx, const cJSON *principal, cJSON **roles);
/* 1 when one of `roles` grants action (COG_AUTH_*) on resource, 0 when
 * none does, <0 on error. */
int cog__auth_roles_grant(cog_ctx *ctx, const cJSON *roles, int action,
                          const char *resource);
/* Both: COG_OK or COG_EDENIED with the message cog_auth_check gives. A
 * NULL principal is the host (COG_OK). */
int cog__auth_check(cog_ctx *ctx, const cJSON *principal, int action,
                    const char *resource);
/* Name glob ('*' any run, '?' one byte; linear time): tool names and the
 * tool module's globs too. */
bool auth_glob_match(const char *glob, const char *name);
/* Namespace glob: '*' within a segment, '**' across, '?' one char. */
bool auth_ns_glob_match(const char *glob, const char *ns);
/* Role names for a message: "a, b" ("none" when empty), cut at cap
 * (rbac.c; the tool module's denials use it too). */
void auth_roles_text(const cJSON *roles, char *out, size_t cap);

/* ---- inject.c ---- */

enum { COG__INJECT_APPROVE = 0, COG__INJECT_DENY = 1, COG__INJECT_FLAG = 2 };
/* 1 when text[0..len) is flagged, 0 when not (or scanning is disabled);
 * *matches (may be NULL) gets the matches array as the report's. */
int cog__inject_scan(cog_ctx *ctx, const char *text, size_t len, cJSON **matches);
int cog__inject_policy(cog_ctx *ctx);
/* Scan a JSON value as a model reads it: each string and object key alone,
 * all of them joined one per line, and `shown` (NULL: the value printed, or
 * a string value itself); the matches are appended to the array `all`. */
int cog__inject_scan_json(cog_ctx *ctx, const cJSON *value, const char *shown, cJSON *all);

#endif
