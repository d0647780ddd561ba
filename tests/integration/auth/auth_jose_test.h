/*
 * Helpers shared by the auth-jose integration test files (test_auth_jose.c:
 * the peer, jose reading our tokens; auth_jose_ours.c: we read jose's).
 */
#ifndef AUTH_JOSE_TEST_H
#define AUTH_JOSE_TEST_H

#include <check.h>
#include <cjson/cJSON.h>

#include "cognition.h"
#include "peer.h"

#define ck_assert_cog(expr) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == 0, "%s: %d %s", #expr, rc_, cog_error_last()); \
} while (0)

#define ISSUER "https://issuer.test"
#define AUDIENCE "cog-tests"
/* the HS256 key both sides use */
#define SECRET_B64 "c2VjcmV0IHNoYXJlZCB3aXRoIGpvc2UsIDMyIGJ5dGVzIGF0IGxlYXN0IQ"

extern peer *jose;
extern cog_ctx *ctx;

void jose_start(void);
cJSON *jose_call(cJSON *req);
const char *str(const cJSON *o, const char *name);
void expect_ok(const cJSON *answer, const char *what);
void expect_refused(const cJSON *answer, const char *code, const char *what);
cJSON *jose_verify(const char *token, const cJSON *jwk, const char *alg,
                   const char *iss);
char *jose_sign(const cJSON *jwk, const char *alg, const char *kid, long exp_offset,
                const char *aud);
void b64url(const unsigned char *in, size_t len, char *out);
char *with_payload(const char *token, const char *claims);
char *with_bad_signature(const char *token);
void setup(void);
void teardown(void);
cJSON *jwks_key(const char *kid);
char *issue(const char *claims);
void jose_reads_ours(const cJSON *jwk, const char *alg, const char *kid);

/* auth_jose_ours.c */
void auth_jose_ours_tests(TCase *tc);

#endif
