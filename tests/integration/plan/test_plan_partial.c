/*
 * The partial result of a failing attempt (plan.h cog_task_call_set_result):
 * a host executor sets a result and then fails; real SQLite files.
 *   - the failed task's status shows the last attempt's partial result, a
 *     retry's replacing the earlier one, an attempt without one leaving
 *     none, a task that succeeds on a retry its success;
 *   - journaled with the failure ("r" of the "failed" and "retrying"
 *     records), so that a resume after a crash (the process dies before the
 *     run's final snapshot) shows it again;
 *   - an attempt waiting for an approval (COG_EPENDING) is taken back: the
 *     result it set is not kept.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plan_test.h"

/* Task ids say what each attempt does:
 *   "part*": sets {"step":<attempt>} and fails with COG_EBUDGET;
 *   "late*": attempt 1 like "part", attempt 2 succeeds with {"done":true};
 *   "bare*": attempt 1 like "part", attempt 2 fails without a result;
 *   "wait*": sets {"step":..} and returns COG_EPENDING;
 *   "die":   the process ends (a crash before the run's end);
 *   else:    succeeds with {"ok":true}. */
static int partial_executor(cog_task_call *call, void *ud)
{
	(void)ud;
	const char *id = cog_task_call_task_id(call);
	unsigned int attempt = cog_task_call_attempt(call);
	char result[64];
	snprintf(result, sizeof(result), "{\"step\":%u}", attempt);
	if (!strcmp(id, "die"))
		_exit(0);
	if (!strncmp(id, "late", 4) && attempt == 2)
		return cog_task_call_set_result(call, "{\"done\":true}");
	if (!strncmp(id, "bare", 4) && attempt == 2)
		return cog_error_set(COG_EBUDGET, "task %s: over budget at once", id);
	if (!strncmp(id, "part", 4) || !strncmp(id, "late", 4) || !strncmp(id, "bare", 4)) {
		int rc = cog_task_call_set_result(call, result);
		return rc ? rc : cog_error_set(COG_EBUDGET, "task %s: over budget", id);
	}
	if (!strncmp(id, "wait", 4)) {
		int rc = cog_task_call_set_result(call, result);
		return rc ? rc : cog_error_set(COG_EPENDING, "task %s: waits", id);
	}
	return cog_task_call_set_result(call, "{\"ok\":true}");
}

static void setup(void) { plan_test_setup(); }
static void teardown(void) { plan_test_teardown(); }

static void expect_result(cog_plan *plan, const char *id, const char *state,
                          const char *result)
{
	ck_assert_str_eq(task_state(plan, id), state);
	char *got = task_result(plan, id);
	ck_assert_msg(got && !strcmp(got, result), "task %s result %s, expected %s", id,
		got ? got : "(none)", result);
	free(got);
}

static const char RETRY[] = "\"retry\":{\"max_attempts\":2,\"backoff_ms\":1}";

START_TEST(failed_tasks_keep_their_partial_result)
{
	cog_ctx *ctx = ctx_with_sqlite(tmp_file("partial.db"), false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, partial_executor, NULL));
	char json[1024];
	snprintf(json, sizeof(json), "{\"id\":\"pp\",\"tasks\":["
		"{\"id\":\"part\",%s},{\"id\":\"late\",%s},{\"id\":\"bare\",%s},"
		"{\"id\":\"wait\"},{\"id\":\"ok\"},"
		"{\"id\":\"after\",\"depends_on\":[\"part\"]}]}", RETRY, RETRY, RETRY);
	cog_plan *plan = plan_from(ctx, json);
	cog_run_options o = COG_RUN_OPTIONS_INIT;
	o.failure_policy = COG_CONTINUE_INDEPENDENT;
	o.workers = 1;
	ck_assert_int_eq(cog_plan_run(plan, &o), COG_ERROR);
	expect_result(plan, "part", "failed", "{\"step\":2}");   /* the last attempt's */
	expect_result(plan, "late", "succeeded", "{\"done\":true}");
	expect_result(plan, "bare", "failed", "null");
	expect_result(plan, "wait", "skipped", "null");          /* taken back */
	expect_result(plan, "ok", "succeeded", "{\"ok\":true}");
	expect_result(plan, "after", "skipped", "null");
	char *error = task_error(plan, "part");
	ck_assert_ptr_nonnull(strstr(error, "over budget"));
	free(error);
	cJSON *all = plan_status(plan);
	const cJSON *t;
	int seen = 0;
	cJSON_ArrayForEach(t, cJSON_GetObjectItem(all, "tasks")) {
		if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(t, "id")), "part"))
			continue;
		seen++;
		const cJSON *step = cJSON_GetObjectItem(cJSON_GetObjectItem(t, "result"), "step");
		ck_assert_int_eq((int)cJSON_GetNumberValue(step), 2);
	}
	ck_assert_int_eq(seen, 1);
	cJSON_Delete(all);

	/* journaled with the failure and the retry */
	size_t count = 0;
	char *records = log_records(cog_ctx_storage(ctx), "plan/pp", &count);
	ck_assert_ptr_nonnull(strstr(records, "\"t\":\"part\",\"s\":\"retrying\""));
	ck_assert_ptr_nonnull(strstr(records, "\"s\":\"failed\",\"a\":2,\"c\":-9,"
		"\"e\":\"task part: over budget\",\"r\":{\"step\":2}}"));
	ck_assert_ptr_nonnull(strstr(records, "\"e\":\"task bare: over budget at once\","
		"\"r\":null}"));
	free(records);
	cog_plan_free(plan);

	/* the final snapshot has them too */
	ck_assert_cog(cog_plan_resume(&plan, ctx, "pp"));
	expect_result(plan, "part", "failed", "{\"step\":2}");
	expect_result(plan, "bare", "failed", "null");
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

/* The run dies at task "die", after the failure of "part" is durable (the
 * next task's "started" sync carries it) and before the final snapshot. */
static void run_and_die(const char *db, const char *json)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		cog_ctx *ctx = NULL;
		cog_storage *st = NULL;
		cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
		cog_plan *plan = NULL;
		cog_run_options o = COG_RUN_OPTIONS_INIT;
		o.failure_policy = COG_CONTINUE_INDEPENDENT;
		o.workers = 1;
		if (cog_ctx_new(&ctx, NULL) || cog_sqlite_storage_open(&st, db, &so) ||
		    cog_ctx_set_storage(ctx, st) ||
		    cog_ctx_set_task_executor(ctx, partial_executor, NULL) ||
		    cog_plan_from_json(&plan, ctx, json))
			_exit(2);
		cog_plan_run(plan, &o);
		_exit(3); /* not reached: "die" ends the process */
	}
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
}

START_TEST(resume_after_a_crash_replays_the_partial_result)
{
	const char *db = tmp_file("crash.db");
	char json[512];
	snprintf(json, sizeof(json), "{\"id\":\"pc\",\"tasks\":[{\"id\":\"part\",%s},"
		"{\"id\":\"bare\",%s},{\"id\":\"die\",\"idempotent\":true}]}", RETRY, RETRY);
	run_and_die(db, json);

	cog_ctx *ctx = ctx_with_sqlite(db, false, NULL, NULL);
	/* nothing after the run's start snapshot but the journal */
	size_t count = 0;
	char *records = log_records(cog_ctx_storage(ctx), "plan/pc", &count);
	ck_assert_ptr_nonnull(strstr(records, "\"r\":{\"step\":2}"));
	free(records);
	cog_plan *plan = NULL;
	ck_assert_cog(cog_plan_resume(&plan, ctx, "pc"));
	expect_result(plan, "part", "failed", "{\"step\":2}");
	expect_result(plan, "bare", "failed", "null");
	ck_assert_int_eq(task_attempts(plan, "part"), 2);
	char *error = task_error(plan, "part");
	ck_assert_ptr_nonnull(strstr(error, "over budget"));
	free(error);

	/* decided retry: the next attempt's result replaces the partial one */
	ck_assert_cog(cog_plan_decide(plan, "part", COG_DECIDE_RETRY));
	expect_result(plan, "part", "pending", "{\"step\":2}");
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("plan-partial");
	TCase *tc = tcase_create("partial");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, failed_tasks_keep_their_partial_result);
	tcase_add_test(tc, resume_after_a_crash_replays_the_partial_result);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
