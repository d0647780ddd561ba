/*
 * The plan journal on real SQLite files: what a run writes, resuming
 * (finished plans, missing plans, tasks a crash interrupted), decisions on
 * uncertain and failed tasks, and compaction keeping storage bounded.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "plan_test.h"

/* The journal's records (the trace log of the same plan is history: kept). */
#define JOURNAL_ROWS "SELECT count(*) FROM logs WHERE log LIKE 'plan/%'"

static atomic_int calls;

static int result_executor(cog_task_call *call, void *ud)
{
	(void)ud;
	atomic_fetch_add(&calls, 1);
	const char *id = cog_task_call_task_id(call);
	if (strcmp(id, "a") == 0)
		return cog_task_call_set_result(call, "{\"x\":1}");
	if (strcmp(id, "f") == 0)
		return cog_error_set(COG_EIO, "nope \"quoted\"");
	return cog_task_call_set_result(call, "\"ok\"");
}

static const char chain_plan[] = "{\"id\":\"jp\",\"goal\":\"g\",\"tasks\":[{\"id\":\"a\"},"
	"{\"id\":\"b\",\"depends_on\":[\"a\"]}]}";

START_TEST(journal_contents)
{
	cog_ctx *ctx = ctx_with_sqlite(tmp_file("j.db"), true, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, result_executor, NULL));
	cog_plan *plan = plan_from(ctx, chain_plan);
	ck_assert_cog(cog_plan_run(plan, NULL));
	size_t n = 0;
	char *records = log_records(cog_ctx_storage(ctx), "plan/jp", &n);
	ck_assert_str_eq(records, "[{\"s\":\"snapshot\"},"
		"{\"t\":\"a\",\"s\":\"started\",\"a\":1,\"k\":\"jp/a/1\"},"
		"{\"t\":\"a\",\"s\":\"succeeded\",\"a\":1,\"r\":{\"x\":1}},"
		"{\"t\":\"b\",\"s\":\"started\",\"a\":1,\"k\":\"jp/b/1\"},"
		"{\"t\":\"b\",\"s\":\"succeeded\",\"a\":1,\"r\":\"ok\"}]");
	free(records);
	/* the final snapshot: definition, states at the end, the journal
	 * position it is current up to (the journal itself is kept) */
	char *doc = NULL;
	ck_assert_cog(cog_storage_get(cog_ctx_storage(ctx), "plans", "jp", &doc));
	cJSON *o = cJSON_Parse(doc);
	cog_free(doc);
	ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(
		cJSON_GetObjectItem(o, "journal"), "seq")), 5);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(o, "goal")), "g");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(o, "state")), "succeeded");
	cJSON *tasks = cJSON_GetObjectItem(o, "tasks");
	ck_assert_int_eq(cJSON_GetArraySize(tasks), 2);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(
		cJSON_GetArrayItem(tasks, 0), "state")), "succeeded");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(
		cJSON_GetArrayItem(tasks, 1), "state")), "succeeded");
	char *result = cJSON_PrintUnformatted(cJSON_GetObjectItem(cJSON_GetArrayItem(tasks, 0),
		"result"));
	ck_assert_str_eq(result, "{\"x\":1}");
	free(result);
	cJSON_Delete(o);
	/* and no lease is left behind */
	ck_assert_int_eq(cog_storage_get(cog_ctx_storage(ctx), "plans.lease", "jp", &doc),
		COG_ENOTFOUND);
	cog_plan_free(plan);

	/* failures: retrying (with the delay) and failed records */
	plan = plan_from(ctx, "{\"id\":\"jf\",\"tasks\":[{\"id\":\"f\",\"retry\":"
		"{\"max_attempts\":2,\"backoff_ms\":1,\"max_backoff_ms\":1}}]}");
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_ERROR);
	records = log_records(cog_ctx_storage(ctx), "plan/jf", &n);
	ck_assert_int_eq(n, 5);
	cJSON *arr = cJSON_Parse(records);
	free(records);
	cJSON *retry = cJSON_GetArrayItem(arr, 2), *failed = cJSON_GetArrayItem(arr, 4);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(retry, "s")), "retrying");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(retry, "e")), "nope \"quoted\"");
	ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(retry, "c")), COG_EIO);
	ck_assert(cJSON_GetNumberValue(cJSON_GetObjectItem(retry, "d")) <= 1);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 3),
		"k")), "jf/f/2");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(failed, "s")), "failed");
	ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(failed, "a")), 2);
	cJSON_Delete(arr);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(resume_finished_runs_nothing)
{
	const char *db = tmp_file("r.db");
	cog_ctx *ctx = ctx_with_sqlite(db, false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, result_executor, NULL));
	cog_plan *plan = plan_from(ctx, chain_plan);
	ck_assert_cog(cog_plan_run(plan, NULL));
	cog_plan_free(plan);
	cog_ctx_free(ctx);

	ctx = ctx_with_sqlite(db, false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, result_executor, NULL));
	atomic_store(&calls, 0);
	ck_assert_cog(cog_plan_resume(&plan, ctx, "jp"));
	ck_assert_str_eq(cog_plan_goal(plan), "g");
	ck_assert_str_eq(task_state(plan, "b"), "succeeded");
	char *r = task_result(plan, "a");
	ck_assert_str_eq(r, "{\"x\":1}");
	free(r);
	size_t before = 0, after = 0;
	free(log_records(cog_ctx_storage(ctx), "plan/jp", &before));
	ck_assert_cog(cog_plan_run(plan, NULL));
	ck_assert_int_eq(atomic_load(&calls), 0);
	free(log_records(cog_ctx_storage(ctx), "plan/jp", &after));
	ck_assert_uint_eq(before, after);
	cJSON *st = plan_status(plan);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(st, "state")), "succeeded");
	cJSON_Delete(st);
	/* a fresh plan may not take over that id */
	cog_plan *again = plan_from(ctx, chain_plan);
	ck_assert_int_eq(cog_plan_run(again, NULL), COG_EEXISTS);
	ck_assert_str_eq(cog_error_last(), "cog_plan_run: plan jp already has a journal in the "
		"storage; continue it with cog_plan_resume(), or give this plan another id");
	ck_assert_int_eq(atomic_load(&calls), 0);
	cog_plan_free(again);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(resume_missing)
{
	cog_ctx *ctx = ctx_with_sqlite(tmp_file("m.db"), false, NULL, NULL);
	cog_plan *plan = (cog_plan *)1;
	ck_assert_int_eq(cog_plan_resume(&plan, ctx, "nope"), COG_ENOTFOUND);
	ck_assert_ptr_null(plan);
	ck_assert_str_eq(cog_error_last(), "cog_plan_resume: no plan nope in the storage (none "
		"with this id was run or saved there)");
	ck_assert_int_eq(cog_plan_resume(&plan, ctx, "bad id"), COG_EINVAL);
	ck_assert_int_eq(cog_plan_resume(&plan, ctx, ""), COG_EINVAL);
	ck_assert_int_eq(cog_plan_resume(&plan, ctx, NULL), COG_EINVAL);
	cog_ctx_free(ctx);
	ctx = ctx_with_sqlite(NULL, false, NULL, NULL);
	ck_assert_int_eq(cog_plan_resume(&plan, ctx, "nope"), COG_EUNAVAILABLE);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(memory_storage_resume)
{
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, NULL, NULL);
	cog_storage *st = NULL;
	ck_assert_cog(cog_storage_memory_new(&st));
	ck_assert_cog(cog_ctx_set_storage(ctx, st));
	ck_assert_cog(cog_ctx_set_task_executor(ctx, result_executor, NULL));
	cog_plan *plan = plan_from(ctx, chain_plan);
	ck_assert_cog(cog_plan_run(plan, NULL));
	ck_assert_cog(cog_plan_compact(plan));
	cog_plan_free(plan);
	ck_assert_cog(cog_plan_resume(&plan, ctx, "jp"));
	char *r = task_result(plan, "b");
	ck_assert_str_eq(r, "\"ok\"");
	free(r);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- a crash in the middle of tasks ---- */

static const char crash_plan[] =
	"{\"id\":\"cr\",\"tasks\":[{\"id\":\"n1\"},{\"id\":\"n2\"},{\"id\":\"n4\"},"
	"{\"id\":\"i1\",\"idempotent\":true},"
	"{\"id\":\"n3\",\"depends_on\":[\"n1\"]},{\"id\":\"x\",\"depends_on\":[\"n2\"]},"
	"{\"id\":\"y\",\"depends_on\":[\"n4\"]}]}";

static atomic_int in_flight;

/* All four roots start (their "started" records durable), then the
 * process dies in the middle of them. */
static int dying_executor(cog_task_call *call, void *ud)
{
	(void)ud;
	atomic_fetch_add(&in_flight, 1);
	for (int i = 0; i < 5000 && atomic_load(&in_flight) < 4; i++)
		usleep(1000);
	if (strcmp(cog_task_call_task_id(call), "n1") == 0)
		_exit(0);
	for (;;)
		usleep(1000);
}

static void crash_child(const char *db)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		cog_ctx *ctx = NULL;
		cog_storage *st = NULL;
		cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
		cog_plan *plan = NULL;
		cog_run_options o = COG_RUN_OPTIONS_INIT;
		o.workers = 4;
		o.inline_max_tasks = 1;
		if (cog_ctx_new(&ctx, NULL) || cog_sqlite_storage_open(&st, db, &so) ||
		    cog_ctx_set_storage(ctx, st) ||
		    cog_ctx_set_task_executor(ctx, dying_executor, NULL) ||
		    cog_plan_from_json(&plan, ctx, crash_plan))
			_exit(2);
		cog_plan_run(plan, &o);
		_exit(3); /* not reached */
	}
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
}

static void expect(cog_plan *plan, const char *id, const char *state, int attempts)
{
	ck_assert_msg(strcmp(task_state(plan, id), state) == 0, "task %s is %s, expected %s",
		id, task_state(plan, id), state);
	ck_assert_int_eq(task_attempts(plan, id), attempts);
}

static atomic_int attempt_seen[8];

static int counting_executor(cog_task_call *call, void *ud)
{
	(void)ud;
	const char *id = cog_task_call_task_id(call);
	if (strcmp(id, "i1") == 0) {
		char key[64];
		snprintf(key, sizeof(key), "cr/i1/%u", cog_task_call_attempt(call));
		ck_assert_str_eq(cog_task_call_idempotency_key(call), key);
		atomic_store(&attempt_seen[0], (int)cog_task_call_attempt(call));
	}
	if (strcmp(id, "y") == 0)
		ck_assert_str_eq(cog_task_call_dependency_result(call, "n4"), "null");
	atomic_fetch_add(&calls, 1);
	return 0;
}

START_TEST(crash_then_decide)
{
	const char *db = tmp_file("crash.db");
	crash_child(db);

	/* Settling the interrupted tasks is a write: a read-only store
	 * refuses the resume (another process may be running them now). */
	cog_ctx *ro = ctx_with_sqlite(NULL, false, NULL, NULL);
	cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
	so.read_only = 1;
	cog_storage *ro_st = NULL;
	ck_assert_cog(cog_sqlite_storage_open(&ro_st, db, &so));
	ck_assert_cog(cog_ctx_set_storage(ro, ro_st));
	cog_plan *ro_plan = NULL;
	ck_assert_int_eq(cog_plan_resume(&ro_plan, ro, "cr"), COG_EDENIED);
	ck_assert_ptr_null(ro_plan);
	cog_ctx_free(ro);

	cog_ctx *ctx = ctx_with_sqlite(db, false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, counting_executor, NULL));
	cog_plan *plan = NULL;
	ck_assert_cog(cog_plan_resume(&plan, ctx, "cr"));
	expect(plan, "n1", "uncertain", 1);
	expect(plan, "n2", "uncertain", 1);
	expect(plan, "n4", "uncertain", 1);
	expect(plan, "i1", "pending", 1); /* idempotent: it runs again */
	expect(plan, "n3", "pending", 0);
	char *e = task_error(plan, "n1");
	ck_assert_str_eq(e, "was running when the process stopped and is not idempotent: its "
		"side effects may or may not have happened");
	free(e);
	cJSON *st = plan_status(plan);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(st, "state")), "uncertain");
	cJSON_Delete(st);
	size_t n = 0;
	char *records = log_records(cog_ctx_storage(ctx), "plan/cr", &n);
	ck_assert_ptr_nonnull(strstr(records, "{\"t\":\"n1\",\"s\":\"uncertain\",\"a\":1}"));
	ck_assert_ptr_null(strstr(records, "{\"t\":\"i1\",\"s\":\"uncertain\""));
	free(records);

	/* Run: the idempotent task reruns as attempt 2; what depends on an
	 * uncertain task waits. */
	atomic_store(&calls, 0);
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_EUNCERTAIN);
	ck_assert_str_eq(cog_error_last(), "cog_plan_run: plan cr: 3 tasks are uncertain "
		"(interrupted by a crash, not idempotent): 'n1', 'n2', 'n4'; settle them with "
		"cog_plan_decide()");
	ck_assert_int_eq(atomic_load(&calls), 1);
	ck_assert_int_eq(atomic_load(&attempt_seen[0]), 2);
	expect(plan, "i1", "succeeded", 2);
	expect(plan, "n3", "skipped", 0);
	e = task_error(plan, "x");
	ck_assert_str_eq(e, "not run: dependency 'n2' is uncertain");
	free(e);

	/* Decisions */
	ck_assert_int_eq(cog_plan_decide(plan, "i1", COG_DECIDE_RETRY), COG_EINVAL);
	ck_assert_str_eq(cog_error_last(), "cog_plan_decide: task 'i1' of plan cr is "
		"succeeded; only uncertain and failed tasks wait for a decision");
	ck_assert_int_eq(cog_plan_decide(plan, "zz", COG_DECIDE_RETRY), COG_ENOTFOUND);
	ck_assert_int_eq(cog_plan_decide(plan, "n1", 7), COG_EINVAL);
	ck_assert_cog(cog_plan_decide(plan, "n1", COG_DECIDE_RETRY));
	ck_assert_cog(cog_plan_decide(plan, "n2", COG_DECIDE_FAIL));
	ck_assert_cog(cog_plan_decide(plan, "n4", COG_DECIDE_SKIP));
	expect(plan, "n1", "pending", 1);
	expect(plan, "n2", "failed", 1);
	expect(plan, "n4", "succeeded", 1);
	ck_assert_int_eq(cog_plan_decide(plan, "n4", COG_DECIDE_SKIP), COG_EINVAL);

	/* The decisions survive another "crash": resume from the storage. */
	cog_plan_free(plan);
	ck_assert_cog(cog_plan_resume(&plan, ctx, "cr"));
	expect(plan, "n1", "pending", 1);
	expect(plan, "n2", "failed", 1);
	expect(plan, "n4", "succeeded", 1);
	char *r = task_result(plan, "n4");
	ck_assert_str_eq(r, "null");
	free(r);

	atomic_store(&calls, 0);
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_ERROR);
	ck_assert_int_eq(atomic_load(&calls), 3); /* n1 (attempt 2), n3, y */
	expect(plan, "n1", "succeeded", 2);
	expect(plan, "n3", "succeeded", 1);
	expect(plan, "y", "succeeded", 1);
	expect(plan, "x", "skipped", 0);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- decisions on failed tasks ---- */

static atomic_int f_fail_until; /* attempts of "f" up to this one fail */
static char f_keys[8][64];

static int failing_f(cog_task_call *call, void *ud)
{
	(void)ud;
	atomic_fetch_add(&calls, 1);
	const char *id = cog_task_call_task_id(call);
	unsigned int attempt = cog_task_call_attempt(call);
	if (strcmp(id, "f") == 0) {
		if (attempt < 8)
			snprintf(f_keys[attempt], sizeof(f_keys[attempt]), "%s",
				cog_task_call_idempotency_key(call));
		if ((int)attempt <= atomic_load(&f_fail_until))
			return cog_error_set(COG_EIO, "f broke (attempt %u)", attempt);
	}
	return cog_task_call_set_result(call, "\"ok\"");
}

/* f (two attempts) -> g -> h; k on its own. */
static const char failing_plan[] = "{\"id\":\"df\",\"tasks\":["
	"{\"id\":\"f\",\"retry\":{\"max_attempts\":2,\"backoff_ms\":1,\"max_backoff_ms\":1}},"
	"{\"id\":\"g\",\"depends_on\":[\"f\"]},{\"id\":\"h\",\"depends_on\":[\"g\"]},"
	"{\"id\":\"k\"}]}";

static void run_until_failed(cog_plan *plan)
{
	cog_run_options o = COG_RUN_OPTIONS_INIT;
	o.failure_policy = COG_CONTINUE_INDEPENDENT;
	ck_assert_int_eq(cog_plan_run(plan, &o), COG_ERROR);
	expect(plan, "f", "failed", 2);
	expect(plan, "g", "skipped", 0);
	expect(plan, "h", "skipped", 0);
	expect(plan, "k", "succeeded", 1);
}

START_TEST(decide_failed_retry)
{
	const char *db = tmp_file("df.db");
	cog_ctx *ctx = ctx_with_sqlite(db, false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, failing_f, NULL));
	cog_plan *plan = plan_from(ctx, failing_plan);
	atomic_store(&f_fail_until, 2);
	run_until_failed(plan);

	/* Retry: pending again, its attempts kept; what it held back too. */
	ck_assert_cog(cog_plan_decide(plan, "f", COG_DECIDE_RETRY));
	expect(plan, "f", "pending", 2);
	expect(plan, "g", "pending", 0);
	expect(plan, "h", "pending", 0);
	char *e = task_error(plan, "g");
	ck_assert_ptr_null(e);
	ck_assert_int_eq(cog_plan_decide(plan, "f", COG_DECIDE_RETRY), COG_EINVAL);
	size_t n = 0;
	char *records = log_records(cog_ctx_storage(ctx), "plan/df", &n);
	ck_assert_ptr_nonnull(strstr(records, "{\"t\":\"f\",\"s\":\"decided\",\"d\":\"retry\"}"));
	free(records);

	/* The decision is in the journal: a resume sees it. */
	cog_plan_free(plan);
	ck_assert_cog(cog_plan_resume(&plan, ctx, "df"));
	expect(plan, "f", "pending", 2);
	expect(plan, "g", "pending", 0);

	/* The next attempts are 3 and 4 (a fresh allowance of two), with keys
	 * of their own; this time the third succeeds. */
	atomic_store(&calls, 0);
	ck_assert_cog(cog_plan_run(plan, NULL));
	ck_assert_int_eq(atomic_load(&calls), 3); /* f, g, h */
	expect(plan, "f", "succeeded", 3);
	expect(plan, "g", "succeeded", 1);
	expect(plan, "h", "succeeded", 1);
	ck_assert_str_eq(f_keys[1], "df/f/1");
	ck_assert_str_eq(f_keys[2], "df/f/2");
	ck_assert_str_eq(f_keys[3], "df/f/3");
	cog_plan_free(plan);

	/* and the final snapshot says so without replay */
	ck_assert_cog(cog_plan_load(&plan, ctx, "df"));
	expect(plan, "h", "succeeded", 1);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(decide_failed_skip_and_fail)
{
	cog_ctx *ctx = ctx_with_sqlite(tmp_file("ds.db"), false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, failing_f, NULL));
	atomic_store(&f_fail_until, 100);

	/* fail: it stays failed, with its own error */
	cog_plan *plan = plan_from(ctx, failing_plan);
	run_until_failed(plan);
	ck_assert_cog(cog_plan_decide(plan, "f", COG_DECIDE_FAIL));
	expect(plan, "f", "failed", 2);
	char *e = task_error(plan, "f");
	ck_assert_str_eq(e, "f broke (attempt 2)");
	free(e);
	expect(plan, "g", "skipped", 0);
	cog_plan_free(plan);
	ck_assert_cog(cog_plan_resume(&plan, ctx, "df"));
	expect(plan, "f", "failed", 2);

	/* skip: done with a null result; g and h run */
	ck_assert_cog(cog_plan_decide(plan, "f", COG_DECIDE_SKIP));
	expect(plan, "f", "succeeded", 2);
	expect(plan, "g", "pending", 0);
	atomic_store(&calls, 0);
	ck_assert_cog(cog_plan_run(plan, NULL));
	ck_assert_int_eq(atomic_load(&calls), 2);
	char *r = task_result(plan, "f");
	ck_assert_str_eq(r, "null");
	free(r);
	expect(plan, "h", "succeeded", 1);
	cog_plan_free(plan);
	cog_ctx_free(ctx);

	/* in memory (nothing journaled) the same */
	ctx = ctx_with_sqlite(NULL, false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, failing_f, NULL));
	plan = plan_from(ctx, failing_plan);
	run_until_failed(plan);
	ck_assert_cog(cog_plan_decide(plan, "f", COG_DECIDE_RETRY));
	atomic_store(&f_fail_until, 3);
	atomic_store(&calls, 0);
	ck_assert_cog(cog_plan_run(plan, NULL));
	ck_assert_int_eq(atomic_load(&calls), 4); /* f twice (3, 4), g, h */
	expect(plan, "f", "succeeded", 4);
	ck_assert_str_eq(f_keys[4], "df/f/4");
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- compaction ---- */

static cog_ctx *cancel_ctx;
static atomic_int budget;

/* Each cycle may run two tasks, then cancels the run. */
static int two_per_cycle(cog_task_call *call, void *ud)
{
	(void)ud;
	atomic_fetch_add(&calls, 1);
	if (atomic_fetch_sub(&budget, 1) <= 1)
		cog_ctx_cancel(cancel_ctx);
	char result[64];
	snprintf(result, sizeof(result), "{\"task\":\"%s\"}", cog_task_call_task_id(call));
	return cog_task_call_set_result(call, result);
}

static long long sql_count(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	long long n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static long long file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

START_TEST(compaction_bounded)
{
	const char *tmp = tmp_file("c.db");
	char db[512], wal[520];
	snprintf(db, sizeof(db), "%s", tmp);
	snprintf(wal, sizeof(wal), "%s-wal", db);
	cog_ctx *ctx = ctx_with_sqlite(db, false, NULL, NULL);
	cancel_ctx = ctx;
	ck_assert_cog(cog_ctx_set_task_executor(ctx, two_per_cycle, NULL));
	char json[4096];
	size_t len = (size_t)snprintf(json, sizeof(json), "{\"id\":\"cp\",\"tasks\":[");
	for (int i = 0; i < 20; i++)
		len += (size_t)snprintf(json + len, sizeof(json) - len,
			"%s{\"id\":\"t%02d\",\"inputs\":{\"text\":\"%0100d\"}}", i ? "," : "", i, i);
	snprintf(json + len, sizeof(json) - len, "]}");
	sqlite3 *raw = NULL;
	ck_assert_int_eq(sqlite3_open_v2(db, &raw, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);

	cog_plan *plan = plan_from(ctx, json);
	long long first_size = 0, doc_max = 0;
	atomic_store(&calls, 0);
	for (int cycle = 0; cycle < 60; cycle++) {
		if (cycle) {
			cog_ctx_reset_cancel(ctx);
			ck_assert_cog(cog_plan_resume(&plan, ctx, "cp"));
		}
		atomic_store(&budget, 2);
		int rc = cog_plan_run(plan, NULL);
		ck_assert_msg(rc == (cycle < 9 ? COG_ECANCELED : 0), "cycle %d: %d %s", cycle, rc,
			cog_error_last());
		if (cycle < 10)
			ck_assert_int_gt(sql_count(raw, JOURNAL_ROWS), 0);
		ck_assert_cog(cog_plan_compact(plan));
		ck_assert_int_eq(sql_count(raw, JOURNAL_ROWS), 0);
		ck_assert_int_eq(sql_count(raw, "SELECT count(*) FROM docs"), 1);
		ck_assert_int_eq(sql_count(raw, "SELECT count(*) FROM log_heads WHERE log LIKE "
			"'plan/%'"), 1);
		ck_assert_int_eq(sql_count(raw, "SELECT count(*) FROM logs"), 0);
		long long doc = sql_count(raw, "SELECT length(value) FROM docs");
		if (doc > doc_max)
			doc_max = doc;
		if (cycle == 10)
			first_size = file_size(db) + file_size(wal);
		cog_plan_free(plan);
		plan = NULL;
	}
	ck_assert_int_eq(atomic_load(&calls), 20);
	/* Storage after 50 more cycles: the same rows; the files may only have
	 * grown by what SQLite keeps around (WAL up to a checkpoint). */
	long long last_size = file_size(db) + file_size(wal);
	ck_assert_msg(last_size <= first_size + 4 * 1024 * 1024,
		"storage grew from %lld to %lld bytes", first_size, last_size);
	ck_assert_int_lt(doc_max, 20 * 600);
	/* and the compacted plan resumes with its results */
	ck_assert_cog(cog_plan_resume(&plan, ctx, "cp"));
	char *r = task_result(plan, "t07");
	ck_assert_str_eq(r, "{\"task\":\"t07\"}");
	free(r);
	ck_assert_int_eq(task_attempts(plan, "t07"), 1);
	cog_plan_free(plan);
	sqlite3_close(raw);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(compaction_errors)
{
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, result_executor, NULL));
	cog_plan *plan = plan_from(ctx, chain_plan);
	ck_assert_int_eq(cog_plan_compact(plan), COG_EBUSY); /* not run yet */
	ck_assert_str_eq(cog_error_last(), "cog_plan_compact: plan jp has not finished: task "
		"'a' is pending");
	ck_assert_cog(cog_plan_run(plan, NULL));
	ck_assert_int_eq(cog_plan_compact(plan), COG_EUNAVAILABLE);
	cog_storage *st = NULL;
	ck_assert_cog(cog_storage_memory_new(&st));
	ck_assert_cog(cog_ctx_set_storage(ctx, st));
	ck_assert_int_eq(cog_plan_compact(plan), COG_EINVAL); /* ran in memory only */
	ck_assert_int_eq(cog_plan_compact(NULL), COG_EINVAL);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- the write-ahead rules, checked from inside the executor ---- */

/* A storage that forwards to an in-memory one and remembers which journal
 * records are committed; it can fail the n-th append. */
typedef struct watch_store {
	cog_storage *inner;
	pthread_mutex_t lock;
	char **committed;
	size_t committed_count;
	char **pending;          /* appended in the open transaction */
	size_t pending_count;
	int appends;
	int fail_at;             /* 0: never */
} watch_store;

static void keep(char ***list, size_t *count, const char *text)
{
	*list = realloc(*list, (*count + 1) * sizeof(**list));
	ck_assert_ptr_nonnull(*list);
	(*list)[(*count)++] = strdup(text);
}

static int ws_put(void *self, const char *c, const char *k, const char *v, size_t len,
                  int64_t exp)
{
	(void)len;
	return cog_storage_put(((watch_store *)self)->inner, c, k, v, exp);
}

static int ws_get(void *self, const char *c, const char *k, int64_t now, char **v,
                  size_t *len)
{
	(void)now;
	int rc = cog_storage_get(((watch_store *)self)->inner, c, k, v);
	if (!rc)
		*len = strlen(*v);
	return rc;
}

static int ws_del(void *self, const char *c, const char *k)
{
	return cog_storage_delete(((watch_store *)self)->inner, c, k);
}

static int ws_scan(void *self, const char *c, const char *prefix, int64_t now,
                   cog_storage_doc_fn fn, void *ud)
{
	(void)now;
	return cog_storage_scan(((watch_store *)self)->inner, c, prefix, fn, ud);
}

static int ws_append(void *self, const char *log, const char *rec, size_t len, uint64_t *seq)
{
	(void)len;
	watch_store *w = self;
	/* Only the plan's journal is watched; the run's stored spans
	 * ("trace/<id>") pass through uncounted. */
	if (strncmp(log, "plan/", 5) != 0)
		return cog_storage_append(w->inner, log, rec, seq);
	pthread_mutex_lock(&w->lock);
	bool fail = ++w->appends == w->fail_at;
	pthread_mutex_unlock(&w->lock);
	if (fail)
		return cog_error_set(COG_EIO, "disk on fire");
	int rc = cog_storage_append(w->inner, log, rec, seq);
	pthread_mutex_lock(&w->lock);
	if (!rc)
		keep(&w->pending, &w->pending_count, rec);
	pthread_mutex_unlock(&w->lock);
	return rc;
}

static int ws_read(void *self, const char *log, uint64_t from, size_t limit,
                   cog_storage_record_fn fn, void *ud)
{
	return cog_storage_read(((watch_store *)self)->inner, log, from, limit, fn, ud);
}

static bool ws_in_txn;

static void settle(watch_store *w, bool commit)
{
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->pending_count; i++) {
		if (commit)
			keep(&w->committed, &w->committed_count, w->pending[i]);
		free(w->pending[i]);
	}
	w->pending_count = 0;
	pthread_mutex_unlock(&w->lock);
}

static int ws_begin(void *self)
{
	ws_in_txn = true;
	return cog_storage_begin(((watch_store *)self)->inner);
}

static int ws_commit(void *self)
{
	ws_in_txn = false;
	int rc = cog_storage_commit(((watch_store *)self)->inner);
	settle(self, rc == 0);
	return rc;
}

static int ws_rollback(void *self)
{
	ws_in_txn = false;
	int rc = cog_storage_rollback(((watch_store *)self)->inner);
	settle(self, false);
	return rc;
}

static int ws_truncate(void *self, const char *log, uint64_t before)
{
	return cog_storage_truncate(((watch_store *)self)->inner, log, before);
}

/* Appends outside a transaction commit at once (the wrapper serialises
 * calls, so "outside" is known from ws_in_txn). */
static int ws_append_auto(void *self, const char *log, const char *rec, size_t len,
                          uint64_t *seq)
{
	int rc = ws_append(self, log, rec, len, seq);
	if (!rc && !ws_in_txn)
		settle(self, true);
	return rc;
}

static watch_store watch;

static cog_ctx *ctx_with_watch(int fail_at)
{
	memset(&watch, 0, sizeof(watch));
	pthread_mutex_init(&watch.lock, NULL);
	watch.fail_at = fail_at;
	ck_assert_cog(cog_storage_memory_new(&watch.inner));
	cog_storage_vtable vt;
	ck_assert_cog(cog_storage_vtable_init(&vt, COG_STORAGE_VTABLE_VERSION));
	vt.self = &watch;
	vt.put = ws_put;
	vt.get = ws_get;
	vt.del = ws_del;
	vt.scan = ws_scan;
	vt.append = ws_append_auto;
	vt.read = ws_read;
	vt.begin = ws_begin;
	vt.commit = ws_commit;
	vt.rollback = ws_rollback;
	vt.truncate = ws_truncate;
	cog_storage *st = NULL;
	ck_assert_cog(cog_storage_new(&st, &vt));
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_storage(ctx, st));
	return ctx;
}

static void watch_dispose(void)
{
	for (size_t i = 0; i < watch.committed_count; i++)
		free(watch.committed[i]);
	free(watch.committed);
	for (size_t i = 0; i < watch.pending_count; i++)
		free(watch.pending[i]);
	free(watch.pending);
	cog_storage_free(watch.inner);
	pthread_mutex_destroy(&watch.lock);
}

static bool committed_with(const char *needle)
{
	pthread_mutex_lock(&watch.lock);
	bool found = false;
	for (size_t i = 0; i < watch.committed_count && !found; i++)
		found = strstr(watch.committed[i], needle) != NULL;
	pthread_mutex_unlock(&watch.lock);
	return found;
}

static atomic_int violations;

/* Before it runs, a task's "started" record and its dependencies'
 * "succeeded" records must be committed. */
static int watching_executor(cog_task_call *call, void *ud)
{
	(void)ud;
	atomic_fetch_add(&calls, 1);
	char needle[512];
	snprintf(needle, sizeof(needle), "\"s\":\"started\",\"a\":%u,\"k\":\"%s\"",
		cog_task_call_attempt(call), cog_task_call_idempotency_key(call));
	if (!committed_with(needle))
		atomic_fetch_add(&violations, 1);
	cJSON *task = cJSON_Parse(cog_task_call_task(call));
	cJSON *d;
	cJSON_ArrayForEach(d, cJSON_GetObjectItem(task, "depends_on")) {
		snprintf(needle, sizeof(needle), "{\"t\":\"%s\",\"s\":\"succeeded\"",
			cJSON_GetStringValue(d));
		if (!committed_with(needle))
			atomic_fetch_add(&violations, 1);
	}
	cJSON_Delete(task);
	usleep((useconds_t)(cog_task_call_task_id(call)[1] % 5) * 100);
	return 0;
}

static char *layered_plan(const char *id, int n)
{
	size_t cap = (size_t)n * 64 + 64, len = 0;
	char *json = malloc(cap);
	len += (size_t)snprintf(json, cap, "{\"id\":\"%s\",\"tasks\":[", id);
	for (int i = 0; i < n; i++) {
		len += (size_t)snprintf(json + len, cap - len, "%s{\"id\":\"t%d\"", i ? "," : "", i);
		/* layers of 10: the task above, and one more of that layer */
		int other = (i / 10 - 1) * 10 + (i * 7 + 3) % 10;
		if (i >= 10 && other != i - 10)
			len += (size_t)snprintf(json + len, cap - len,
				",\"depends_on\":[\"t%d\",\"t%d\"]", i - 10, other);
		else if (i >= 10)
			len += (size_t)snprintf(json + len, cap - len, ",\"depends_on\":[\"t%d\"]",
				i - 10);
		len += (size_t)snprintf(json + len, cap - len, "}");
	}
	snprintf(json + len, cap - len, "]}");
	return json;
}

static void write_ahead_case(unsigned int workers, unsigned int inline_max)
{
	cog_ctx *ctx = ctx_with_watch(0);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, watching_executor, NULL));
	char *json = layered_plan("wa", 200);
	cog_plan *plan = plan_from(ctx, json);
	free(json);
	atomic_store(&calls, 0);
	atomic_store(&violations, 0);
	cog_run_options o = COG_RUN_OPTIONS_INIT;
	o.workers = workers;
	o.inline_max_tasks = inline_max;
	ck_assert_cog(cog_plan_run(plan, &o));
	ck_assert_int_eq(atomic_load(&calls), 200);
	ck_assert_int_eq(atomic_load(&violations), 0);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
	watch_dispose();
}

START_TEST(write_ahead_inline)
{
	write_ahead_case(1, 0);
}
END_TEST

START_TEST(write_ahead_threaded)
{
	write_ahead_case(4, 1);
}
END_TEST

/* A journal that cannot be written stops the run: nothing runs without
 * its "started" record. */
START_TEST(journal_failure_stops)
{
	/* appends: 1 snapshot marker, 2 a started, 3+4 a succeeded + b started */
	cog_ctx *ctx = ctx_with_watch(3);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, watching_executor, NULL));
	cog_plan *plan = plan_from(ctx, "{\"id\":\"jx\",\"tasks\":[{\"id\":\"a\"},"
		"{\"id\":\"b\",\"depends_on\":[\"a\"]},{\"id\":\"c\",\"depends_on\":[\"b\"]}]}");
	atomic_store(&calls, 0);
	atomic_store(&violations, 0);
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_EIO);
	ck_assert_str_eq(cog_error_last(), "cog_plan_run: plan jx: writing the journal: "
		"journal plan/jx: disk on fire");
	ck_assert_int_eq(atomic_load(&calls), 1);
	ck_assert_int_eq(atomic_load(&violations), 0);
	ck_assert_str_eq(task_state(plan, "b"), "skipped");
	ck_assert_int_eq(task_attempts(plan, "b"), 0);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
	watch_dispose();

	for (int fail_at = 20; fail_at <= 200; fail_at += 60) {
		ctx = ctx_with_watch(fail_at);
		ck_assert_cog(cog_ctx_set_task_executor(ctx, watching_executor, NULL));
		char *json = layered_plan("jy", 200);
		plan = plan_from(ctx, json);
		free(json);
		atomic_store(&calls, 0);
		atomic_store(&violations, 0);
		cog_run_options o = COG_RUN_OPTIONS_INIT;
		o.workers = 4;
		o.inline_max_tasks = 1;
		ck_assert_int_eq(cog_plan_run(plan, &o), COG_EIO);
		ck_assert_int_eq(atomic_load(&violations), 0);
		ck_assert_int_lt(atomic_load(&calls), 200);
		cog_plan_free(plan);
		cog_ctx_free(ctx);
		watch_dispose();
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("plan-journal");
	TCase *tc = tcase_create("journal");
	tcase_add_checked_fixture(tc, plan_test_setup, plan_test_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, journal_contents);
	tcase_add_test(tc, resume_finished_runs_nothing);
	tcase_add_test(tc, resume_missing);
	tcase_add_test(tc, memory_storage_resume);
	tcase_add_test(tc, crash_then_decide);
	tcase_add_test(tc, decide_failed_retry);
	tcase_add_test(tc, decide_failed_skip_and_fail);
	tcase_add_test(tc, compaction_bounded);
	tcase_add_test(tc, compaction_errors);
	tcase_add_test(tc, write_ahead_inline);
	tcase_add_test(tc, write_ahead_threaded);
	tcase_add_test(tc, journal_failure_stops);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
