/*
 * Helpers shared by the auth-tokens integration test files: a context on a
 * real SQLite file, base64url for looking inside tokens and forging them,
 * and a known HS256 key to sign arbitrary headers and claims with.
 */
#ifndef AUTH_TOKENS_TEST_H
#define AUTH_TOKENS_TEST_H

#include <stddef.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "cognition/auth.h"
#include "cognition/ctx.h"

#define ck_assert_cog(expr) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == 0, "%s: %d %s", #expr, rc_, cog_error_last()); \
} while (0)

/* The refusal code of expr, and its message holding `words`. */
#define ck_assert_refused(expr, code, words) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == (code), "%s: %d, not %d (%s)", #expr, rc_, (code), \
		cog_error_last()); \
	ck_assert_msg(strstr(cog_error_last(), (words)) != NULL, "%s: \"%s\" lacks \"%s\"", \
		#expr, cog_error_last(), (words)); \
} while (0)

/* The HS256 key tt_forge signs with: kid "forge", 32 bytes of 0x01. */
#define TT_FORGE_JWK "{\"kty\":\"oct\",\"kid\":\"forge\"," \
	"\"k\":\"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE\"}"

/* A context whose storage is the SQLite file `path`, argon2 limits low,
 * then `config` (NULL: none) given to cog_auth_configure. */
cog_ctx *tt_ctx(const char *path, const char *config);
/* base64url of data (malloc'd). */
char *tt_b64(const void *data, size_t len);
/* Part `part` (0 header, 1 payload) of a compact JWS, parsed. */
cJSON *tt_part(const char *token, int part);
/* The header's kid (static buffer). */
const char *tt_kid(const char *token);
/* Sign `claims` under `header` with TT_FORGE_JWK (cog_free the token). */
char *tt_forge(const char *header, const char *claims);
/* Unix seconds now. */
long long tt_now(void);

/* The cases of auth_tokens_claims.c. */
TCase *tt_claims_tcase(void);

#endif
