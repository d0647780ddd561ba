/*
 * libcognition: authentication, authorization and untrusted content.
 *
 * A host authenticates the people and programs it lets drive agents with
 * these calls, and the library checks every tool call and memory access
 * against the calling principal.
 *
 * Principals. A principal is JSON {"tenant":"acme","id":"alice",
 * "roles":["analyst"]} (tenant and id: 1..128 bytes of [A-Za-z0-9_.@+-]).
 * The host passes it to tool calls (cog_tool_call_options.principal), agent
 * runs (their tool options) and memory handles (cog_memory_options
 * .principal). When a principal of that tenant and id is registered
 * (cog_auth_register), its stored roles and state count, not the roles in
 * the JSON, so a role taken away or a principal disabled takes effect at
 * the next check; an unregistered principal is taken as the host describes
 * it (the host is trusted).
 *
 * Roles. A role names permissions:
 *   {"tools":["fs_read","sql_*"],        tool-name globs (* and ?)
 *    "memory":{"read":["**"],            memory namespace globs: '*' and
 *              "write":["acme/alice"]},  '?' stay within a segment, '**'
 *                                        spans segments ("acme/" then "**":
 *                                        everything under acme)
 *    "admin":false}                      every tool, namespace and action
 * Roles and principals live in the context's storage backend (collections
 * "auth.roles" and "auth.principals"; an in-memory store when it has none)
 * and are read at each check, so a change made by another process sharing
 * the storage takes effect too. cog_tool_grant() grants (tool.h) add to a
 * role's "tools".
 *
 * Passwords are argon2id strings (libsodium crypto_pwhash_str): verified in
 * constant time, re-hashed at login when the configured limits changed.
 *
 * Tokens are compact JWS (RFC 7515) JWTs signed with Ed25519 ("EdDSA",
 * RFC 8037) or HMAC-SHA-256 ("HS256"). Each key (a JWK with a "kid") pins
 * its algorithm: a token whose header names another algorithm, "none", a
 * "crit" member or an unknown kid is refused. Claims: iss, sub, aud, exp,
 * nbf, iat, jti, plus "tenant", "roles" and "sid" (the session).
 *
 * Sessions. Login gives an access token (short-lived JWT) and a refresh
 * token (opaque, stored hashed). Each refresh rotates the refresh token; the
 * old one used again revokes the whole session (its family) — a stolen
 * refresh token is good once at most. Logout revokes the session, password
 * reset tokens are single-use, stored hashed, and expire. Logins are rate
 * limited per principal and per client key (default 60 a minute each). All
 * of it lives in the storage backend.
 *
 * Threads: every function may be called from any thread on a shared ctx.
 * Secrets (passwords, private keys, tokens) never reach the log, events or
 * error messages.
 */
#ifndef COGNITION_AUTH_H
#define COGNITION_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

/*
 * Configure ctx's auth (members absent keep their value; the defaults shown):
 * {"issuer":null,            "iss" of issued tokens, required of verified
 *                            ones when set
 *  "audience":null,          "aud" likewise (a verified token's "aud" may
 *                            be a string or an array holding it)
 *  "clock_skew_s":60,        leeway for exp, nbf and iat (0..600)
 *  "access_ttl_s":900,       access token lifetime (1..86400*366)
 *  "refresh_ttl_s":1209600,  refresh token (and session) lifetime
 *  "reset_ttl_s":3600,       password reset token lifetime
 *  "login_per_minute":60,    login attempts per principal and per client
 *                            key (1..100000), a token bucket
 *  "password":{"opslimit":2,"memlimit":67108864,   argon2id limits
 *              "min_length":8,"max_length":4096}}  (libsodium's
 *                            INTERACTIVE limits by default)
 * Errors: COG_EINVAL (not JSON, an unknown member, a value out of range:
 * the message names it); a failed call changes nothing.
 */
COG_API int cog_auth_configure(cog_ctx *ctx, const char *config_json);

/* ------------------------------------------------------------------ */
/* Roles and checks                                                    */
/* ------------------------------------------------------------------ */

/*
 * Define or replace `role` (1..64 of [A-Za-z0-9_.-]) with permissions_json
 * (see the top of this file; unknown members refused). Takes effect at the
 * next check. Errors: COG_EINVAL (the message names the member), COG_EIO
 * (storage), COG_ENOMEM.
 */
COG_API int cog_auth_role_set(cog_ctx *ctx, const char *role,
                              const char *permissions_json);

/* The role's permissions as JSON in *json (cog_free). COG_ENOTFOUND. */
COG_API int cog_auth_role_get(cog_ctx *ctx, const char *role, char **json);

/* Remove a role (principals keep its name, which then grants nothing).
 * COG_ENOTFOUND when there is none. */
COG_API int cog_auth_role_remove(cog_ctx *ctx, const char *role);

/* All roles as {"name":{permissions},...} in *json (cog_free). */
COG_API int cog_auth_role_list(cog_ctx *ctx, char **json);

/* What cog_auth_check() is asked about. */
typedef enum cog_auth_action {
	COG_AUTH_TOOL_CALL = 1,     /* resource: the tool's name */
	COG_AUTH_MEMORY_READ = 2,   /* resource: a memory namespace */
	COG_AUTH_MEMORY_WRITE = 3,  /* resource: a memory namespace */
	COG_AUTH_ADMIN = 4          /* resource: NULL (managing principals) */
} cog_auth_action;

/*
 * May `principal_json` do `action` on `resource`? 0 when one of its roles
 * (the stored ones for a registered principal) grants it; COG_EDENIED with a
 * message naming the principal, the action and the resource when not, or
 * when the principal is disabled or not a valid principal object;
 * COG_EINVAL (bad action, NULL resource for a resource action: never
 * because of what the principal holds), COG_EINTEGRITY (the stored
 * document of the principal or of one of its roles is corrupt), COG_EIO,
 * COG_ENOMEM. cog_tool_call() and memory access with a principal fail with
 * the same codes and messages. A NULL principal is the host: always 0.
 */
COG_API int cog_auth_check(cog_ctx *ctx, const char *principal_json,
                           int action, const char *resource);

/* ------------------------------------------------------------------ */
/* Passwords                                                           */
/* ------------------------------------------------------------------ */

/*
 * Hash `password` (1..4096 bytes) with argon2id at opslimit/memlimit (0 and
 * 0: libsodium's INTERACTIVE limits) into *hash, a "$argon2id$v=19$..."
 * string to cog_free(). Errors: COG_EINVAL (empty or too long password,
 * limits outside libsodium's range: the message gives it), COG_ENOMEM (the
 * memory limit could not be allocated).
 */
COG_API int cog_password_hash(const char *password, unsigned long long opslimit,
                              size_t memlimit, char **hash);

/*
 * Check `password` against an argon2id `hash` (constant time in the
 * password). 0 when it matches; COG_EDENIED when it does not; COG_EINVAL
 * when hash is not an argon2id string.
 */
COG_API int cog_password_verify(const char *hash, const char *password);

/*
 * 1 when `hash` was made with limits other than opslimit/memlimit (0, 0:
 * the defaults) and should be re-hashed at the next successful login, 0
 * when not; COG_EINVAL when it is not an argon2id string.
 */
COG_API int cog_password_needs_rehash(const char *hash, unsigned long long opslimit,
                                      size_t memlimit);

/* ------------------------------------------------------------------ */
/* Signatures (JWS) and keys                                           */
/* ------------------------------------------------------------------ */

/*
 * Sign `payload` with the JWK `jwk_json` ({"kty":"OKP","crv":"Ed25519",
 * "d":..,"x":..} or {"kty":"oct","k":..}, base64url; "alg" optional) under
 * the protected header `header_json`, used byte for byte as given (its
 * "alg" must be the key's: "EdDSA" or "Ed25519" for OKP, "HS256" for oct).
 * *compact gets "header.payload.signature" (base64url, no padding) to
 * cog_free(). Errors: COG_EINVAL (the message says what is wrong with the
 * key or header; an HS256 key must be at least 32 bytes), COG_ENOMEM.
 */
COG_API int cog_jws_sign(const char *jwk_json, const char *header_json,
                         const void *payload, size_t payload_len, char **compact);

/*
 * Verify compact JWS `compact` with the JWK `jwk_json` (a public OKP key
 * needs only "x"). The algorithm is the key's: a header naming another one,
 * "none", or holding "crit" or "b64" is refused. On success *payload (may be
 * NULL) gets the decoded payload, NUL-terminated, to cog_free(), and
 * *payload_len (may be NULL) its length. Errors: COG_EDENIED (bad
 * signature, wrong algorithm: the message says which), COG_EINVAL (not
 * compact JWS, bad base64url, a header that is not a JSON object, a bad
 * key), COG_ENOMEM.
 */
COG_API int cog_jws_verify(const char *jwk_json, const char *compact,
                           char **payload, size_t *payload_len);

/*
 * Add a key to ctx's key set (storage collection "auth.keys"): a JWK as
 * above with a "kid" (1..128 printable ASCII); "alg" is set from its type
 * when absent. A key with its private part ("d" or "k") can sign; the key
 * added or generated last that can sign and is not retired signs new
 * tokens. Errors: COG_EINVAL, COG_EEXISTS (that kid is taken), COG_EIO.
 */
COG_API int cog_auth_key_add(cog_ctx *ctx, const char *jwk_json);

/*
 * Make a new key for `alg` ("EdDSA" or "HS256") with id `kid` (NULL: a
 * fresh random one), store it as cog_auth_key_add() does (it signs from
 * now on), and put its public JWK in *public_jwk (may be NULL; for HS256
 * only {"kty":"oct","kid","alg"}) to cog_free(). Errors as key_add.
 */
COG_API int cog_auth_key_generate(cog_ctx *ctx, const char *alg, const char *kid,
                                  char **public_jwk);

/* Stop signing with `kid` (it still verifies until removed). COG_ENOTFOUND. */
COG_API int cog_auth_key_retire(cog_ctx *ctx, const char *kid);

/* Forget `kid`: tokens it signed no longer verify. COG_ENOTFOUND. */
COG_API int cog_auth_key_remove(cog_ctx *ctx, const char *kid);

/* The public keys as a JWK set {"keys":[...]} (no private parts; HS256
 * keys are left out) in *json to cog_free(). */
COG_API int cog_auth_jwks(cog_ctx *ctx, char **json);

/* ------------------------------------------------------------------ */
/* Tokens                                                              */
/* ------------------------------------------------------------------ */

/*
 * Issue a JWT signed with the current signing key (header {"alg","kid",
 * "typ":"JWT"}). claims_json is an object; "sub" is required; "iat" (now),
 * "exp" (now + access_ttl_s), "jti" (random), "iss" and "aud" (configured)
 * are filled in when absent. *token to cog_free(). Errors: COG_EINVAL,
 * COG_ENOTFOUND (no key can sign: the message says to add or generate one).
 */
COG_API int cog_token_issue(cog_ctx *ctx, const char *claims_json, char **token);

/*
 * Verify a JWT: its kid names a known key (without a kid, the keys of the
 * header's algorithm are tried), the header's alg is that key's, the
 * signature holds, exp is present and not past (with clock_skew_s), nbf and
 * iat are not in the future, iss and aud match the configured ones, and
 * neither its jti nor its session ("sid") is revoked. *claims_json (may be
 * NULL) gets the claims to cog_free(). Errors: COG_EDENIED (the message
 * says which check failed: "expired", "not yet valid", "bad signature",
 * "revoked", ...; also for whatever a signed token holds that is not
 * usable: claims that are not an object, a "kid" or session claims of the
 * wrong shape), COG_EINVAL (NULL, or not a JWT at all: the message says
 * where), COG_EINTEGRITY (a stored key is corrupt), COG_EIO.
 */
COG_API int cog_token_verify(cog_ctx *ctx, const char *token, char **claims_json);

/*
 * Revoke one token (access token: by its jti until its exp; refresh token:
 * its session). A token that does not verify is refused (COG_EDENIED /
 * COG_EINVAL) — except an expired one, which is already dead: 0.
 */
COG_API int cog_token_revoke(cog_ctx *ctx, const char *token);

/* ------------------------------------------------------------------ */
/* Principals and sessions                                             */
/* ------------------------------------------------------------------ */

/*
 * Register principal_json {"tenant","id","roles":[..],"disabled":false,
 * "profile":{..}?} with `password` (NULL: none, no password login). The
 * password is hashed (argon2id, configured limits) and checked against
 * min_length/max_length. Registering is put-if-absent, atomic also across
 * processes sharing a SQLite file: of two registering one id, one gets
 * COG_EEXISTS. Errors: COG_EINVAL, COG_EEXISTS, COG_EIO.
 */
COG_API int cog_auth_register(cog_ctx *ctx, const char *principal_json,
                              const char *password);

/* The registered principal (without its hash) as JSON {"tenant","id",
 * "roles","disabled","profile"?,"created","updated"} in *json. COG_ENOTFOUND. */
COG_API int cog_auth_principal_get(cog_ctx *ctx, const char *tenant, const char *id,
                                   char **json);

/* Change a registered principal: update_json may hold "roles", "disabled"
 * and "profile" (others refused). Disabling revokes its sessions. Takes
 * effect at the next check. Each change (this, set_password, remove) is
 * one storage transaction, so concurrent ones, in other processes too,
 * never undo each other. COG_ENOTFOUND, COG_EINVAL, COG_EINTEGRITY (the
 * stored document is corrupt), COG_EIO. */
COG_API int cog_auth_principal_update(cog_ctx *ctx, const char *tenant, const char *id,
                                      const char *update_json);

/* Remove a registered principal and revoke its sessions. COG_ENOTFOUND. */
COG_API int cog_auth_principal_remove(cog_ctx *ctx, const char *tenant, const char *id);

/* The principals of `tenant` (NULL: all) as a JSON array in *json. */
COG_API int cog_auth_principal_list(cog_ctx *ctx, const char *tenant, char **json);

/* Set a principal's password (checked as at register); revokes its
 * sessions. COG_ENOTFOUND, COG_EINVAL. */
COG_API int cog_auth_set_password(cog_ctx *ctx, const char *tenant, const char *id,
                                  const char *password);

/*
 * Log in: rate limited per principal and per `client_key` (an address or
 * device id chosen by the host; NULL: only per principal); then the
 * password is verified (an unknown principal costs the same time), the hash
 * upgraded when the limits changed, and a session opened. *tokens_json:
 * {"access_token","token_type":"Bearer","expires_in":s,"refresh_token",
 *  "refresh_expires_in":s,"session":"sid"} to cog_free(). Errors:
 * COG_EDENIED ("invalid credentials" for an unknown principal, a wrong
 * password or no password alike; "disabled"), COG_EBUSY (rate limited: the
 * message says when to retry), COG_ENOTFOUND (no signing key), COG_EINVAL,
 * COG_EIO.
 */
COG_API int cog_auth_login(cog_ctx *ctx, const char *tenant, const char *id,
                           const char *password, const char *client_key,
                           char **tokens_json);

/*
 * Trade a refresh token for a new access token and a new refresh token
 * (same JSON as login). The old refresh token is spent: presented again it
 * revokes the whole session and fails with COG_EDENIED ("reuse"). Errors:
 * COG_EDENIED (unknown, expired, spent or revoked), COG_EINVAL, COG_EIO.
 */
COG_API int cog_auth_refresh(cog_ctx *ctx, const char *refresh_token,
                             char **tokens_json);

/* End the session of `token` (an access or a refresh token): its access
 * tokens stop verifying and its refresh token stops refreshing. Errors as
 * cog_token_revoke. */
COG_API int cog_auth_logout(cog_ctx *ctx, const char *token);

/*
 * Make a single-use password reset token for a registered principal (to
 * send it by a channel the host trusts), stored hashed, valid reset_ttl_s.
 * *reset_token to cog_free(). COG_ENOTFOUND, COG_EIO.
 */
COG_API int cog_auth_reset_request(cog_ctx *ctx, const char *tenant, const char *id,
                                   char **reset_token);

/*
 * Set a new password with a reset token: the token is spent (whatever the
 * outcome of the password check after it was found), the principal's
 * sessions are revoked. Errors: COG_EDENIED (unknown, used or expired
 * token), COG_EINVAL (the password), COG_EIO.
 */
COG_API int cog_auth_reset_confirm(cog_ctx *ctx, const char *reset_token,
                                   const char *new_password);

/* ------------------------------------------------------------------ */
/* Untrusted content (prompt injection)                                */
/* ------------------------------------------------------------------ */

/*
 * Configure the injection heuristics of ctx:
 * {"enabled":true,
 *  "patterns":[{"name":"...","regex":"..."}],  the host's own (PCRE2, UTF,
 *                                             caseless), besides built-ins
 *  "policy":"approve"}  what the agent loop does once flagged content (a
 *       tool result, a dependency result, a context file or a retrieved
 *       memory) entered a run: "approve" (default): every call of a tool
 *       flagged COG_TOOL_SIDE_EFFECTS goes to the approval hook (denied
 *       without one); "deny": such calls are denied; "flag": only the
 *       "injection.flagged" event and log line.
 * Errors: COG_EINVAL (the message names the pattern and the offset).
 */
COG_API int cog_injection_configure(cog_ctx *ctx, const char *config_json);

/*
 * Scan `text` for instruction-like content (attempts to override
 * instructions, fake system/tool turns, requests to reveal secrets or call
 * tools, hidden or invisible text). *report_json (may be NULL):
 * {"flagged":bool,"matches":[{"rule":"name","offset":n,"excerpt":".."}]}.
 * Returns 1 when flagged, 0 when not; COG_EINVAL (NULL text).
 */
COG_API int cog_injection_scan(cog_ctx *ctx, const char *text, char **report_json);

#ifdef __cplusplus
}
#endif

#endif /* COGNITION_AUTH_H */
