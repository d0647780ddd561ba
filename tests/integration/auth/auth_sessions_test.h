/*
 * Helpers shared by the auth-sessions integration test files: a context on
 * the test's SQLite file (low argon2 limits), acme/alice, and the tokens of
 * a login or a refresh.
 */
#ifndef AUTH_SESSIONS_TEST_H
#define AUTH_SESSIONS_TEST_H

#include <stdbool.h>
#include <string.h>

#include <check.h>

#include "cognition/auth.h"
#include "cognition/ctx.h"

#define ck_assert_cog(expr) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == 0, "%s: %d %s", #expr, rc_, cog_error_last()); \
} while (0)
#define ck_assert_fails(expr, code, text) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == (code), "%s: %d (wanted %d) %s", #expr, rc_, (code), \
		cog_error_last()); \
	ck_assert_msg(strstr(cog_error_last(), (text)), "%s: message '%s' lacks '%s'", \
		#expr, cog_error_last(), (text)); \
} while (0)

#define PW "correct horse battery"

/* The tokens of a login or refresh. */
typedef struct tokens { char access[4096], refresh[256], sid[128]; } tokens;

/* A context on the SQLite file of this test, with low argon2 limits. */
cog_ctx *open_ctx(const char *extra_config);
/* A fresh file with a signing key and acme/alice (analyst, PW). */
cog_ctx *setup(const char *extra_config);
void teardown(cog_ctx *ctx);
/* json (cog_free'd here) into t; expires_in > 800 unless short_access_ttl
 * (each test runs in its own process: set it where access_ttl_s is low). */
extern bool short_access_ttl;
void parse_tokens(char *json, tokens *t);
void login(cog_ctx *ctx, const char *id, const char *pw, tokens *t);
int refresh(cog_ctx *ctx, const char *token, tokens *t);

/* auth_sessions_review.c */
void auth_sessions_review_tests(TCase *tc);

#endif
