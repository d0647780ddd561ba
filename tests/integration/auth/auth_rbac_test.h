/*
 * What the auth-rbac test files share: a real SQLite file per test (setup,
 * teardown), contexts on it with low argon2 limits, echo tools, calls as a
 * principal, and the assertions.
 */
#ifndef AUTH_RBAC_TEST_H
#define AUTH_RBAC_TEST_H

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cognition.h>
#include <cognition/sqlite.h>

#include "test_tmp.h"

#define ck_assert_cog(expr) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == 0, "%s: %d %s", #expr, rc_, cog_error_last()); \
} while (0)

/* expr fails with `code` and a message holding `text`. */
#define ck_assert_fails(expr, code, text) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == (code), "%s: %d (want %d) %s", #expr, rc_, (code), \
		cog_error_last()); \
	ck_assert_msg(strstr(cog_error_last(), (text)) != NULL, "%s: message '%s' lacks '%s'", \
		#expr, cog_error_last(), (text)); \
} while (0)

#define ALICE "{\"tenant\":\"acme\",\"id\":\"alice\",\"roles\":[\"root\"]}"

/* The test's SQLite file (made by rbac_setup, removed by rbac_teardown). */
extern const char *db_path;
void rbac_setup(void);
void rbac_teardown(void);
/* A new context on db_path (its own connection) with low argon2 limits. */
cog_ctx *ctx_open(void);
/* Tools sql_read, sql_write, deploy_app, fs_read answering {"ok":true}. */
void define_tools(cog_ctx *ctx);
/* Call `tool` as `principal`: the status (the result is checked and freed). */
int call_as(cog_ctx *ctx, const char *principal, const char *tool);

/* The tests of auth_rbac_memory.c (memory, bad inputs, audit) and of
 * auth_rbac_race.c (principal changes racing across connections). */
void rbac_add_memory_tests(TCase *tc);
void rbac_add_race_tests(TCase *tc);

#endif
