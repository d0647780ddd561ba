/* Helpers shared by the plan integration tests (plan_test.c). */
#ifndef PLAN_TEST_H
#define PLAN_TEST_H

#include <stdbool.h>
#include <stddef.h>

#include <check.h>
#include <cjson/cJSON.h>

#include <cognition.h>
#include <cognition/sqlite.h>

#include "test_tmp.h"

#define ck_assert_cog(expr) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == 0, "%s: %d %s", #expr, rc_, cog_error_last()); \
} while (0)

/* Checked fixture: a fresh temp dir per test (test_tmp.h). */
void plan_test_setup(void);
void plan_test_teardown(void);
/* A plan from JSON, or the test fails. */
cog_plan *plan_from(cog_ctx *ctx, const char *json);

/* A context (event hook optional) with a SQLite storage at `path` (NULL: no
 * storage), durability NORMAL unless full. */
cog_ctx *ctx_with_sqlite(const char *path, bool full, cog_event_fn events, void *ud);

/* Parsed cog_plan_task_status / cog_plan_status (cJSON_Delete them). */
cJSON *task_status(cog_plan *plan, const char *task_id);
cJSON *plan_status(cog_plan *plan);
/* Shorthands: the state name (static buffer), attempts, result text (to free). */
const char *task_state(cog_plan *plan, const char *task_id);
int task_attempts(cog_plan *plan, const char *task_id);
char *task_result(cog_plan *plan, const char *task_id);
char *task_error(cog_plan *plan, const char *task_id);

/* Records of a log, as one JSON array text (to free). */
char *log_records(cog_storage *st, const char *log, size_t *count);

/* Wall clock in ns (CLOCK_MONOTONIC). */
unsigned long long now_ns(void);

#endif
