/* Helpers shared by the audit log tests (audit_test.c). */
#ifndef AUDIT_TEST_H
#define AUDIT_TEST_H

#include <stdbool.h>
#include <stdint.h>

#include <check.h>
#include <cjson/cJSON.h>

#include <cognition.h>
#include <cognition/sqlite.h>

#include "test_tmp.h"
#include "tool_int.h"

#define ck_assert_cog(expr) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == 0, "%s: %d %s", #expr, rc_, cog_error_last()); \
} while (0)

/* Checked fixture: a fresh temporary directory per test (tmp_file() names
 * paths in it). */
void audit_setup(void);
void audit_teardown(void);

/* A context with a SQLite store at `path` (durability FULL or NORMAL), or
 * with no storage at all when path is NULL. */
cog_ctx *ctx_open(const char *path, bool full);
/* Same with an in-memory store. */
cog_ctx *ctx_open_memory(void);
tool_registry *registry_of(cog_ctx *ctx);

/* Append entry number n (arguments {"n":n,"text":"call n"}); returns the
 * status instead of failing the test. */
int append_entry(tool_registry *reg, int n, const char *agent);
/* Append entries from..to inclusive, failing the test on an error. */
void append_range(tool_registry *reg, int from, int to);

/* Run cog_audit_verify, expect `rc`, return the parsed report. */
cJSON *verify_expect(cog_ctx *ctx, int rc);
/* Expect an intact chain of `entries` entries. */
void expect_intact(cog_ctx *ctx, int entries);
/* Expect COG_EINTEGRITY with `problem` at `seq`. */
void expect_problem(cog_ctx *ctx, const char *problem, uint64_t seq);

/* Direct SQL against the database file (the tampering attacker). */
void db_exec(const char *path, const char *sql);
/* One text column of one row (cog_free), or NULL when there is no row. */
char *db_text(const char *path, const char *sql);
/* Replace the record text of the audit log's record `seq`. */
void db_set_record(const char *path, uint64_t seq, const char *record);

/* A whole file's bytes (cog_free), or NULL when it does not exist. */
char *file_bytes(const char *path, size_t *len);

void add_tamper_tests(Suite *s);
void add_other_tests(Suite *s);

#endif
