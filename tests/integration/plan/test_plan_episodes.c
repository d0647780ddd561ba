/*
 * cog_run_options.episodic_namespace: a run appends one episode per task
 * that ended and one for its outcome to the namespace's episodic memory,
 * on a real SQLite file, with one worker and with several; a bad namespace
 * fails before anything runs; version 1 options still run without episodes.
 * Public API only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_test.h"

static int executor(cog_task_call *call, void *ud)
{
	(void)ud;
	const char *id = cog_task_call_task_id(call);
	if (strcmp(id, "bad") == 0) {
		cog_error_set(COG_EUSER, "task bad always fails");
		return COG_EUSER;
	}
	return cog_task_call_set_result(call, "{\"ok\":true}");
}

/* Episodes of ns as a parsed search result (layers: episodic). */
static cJSON *episodes(cog_ctx *ctx, const char *ns, const char *text)
{
	cog_memory *mem = NULL;
	ck_assert_cog(cog_memory_open(&mem, ctx, ns));
	char q[256];
	snprintf(q, sizeof(q), "{\"text\":\"%s\",\"k\":100,\"layers\":[\"episodic\"]}", text);
	char *out = NULL;
	ck_assert_cog(cog_memory_search(mem, q, &out));
	cJSON *res = cJSON_Parse(out);
	ck_assert_ptr_nonnull(res);
	cog_free(out);
	cog_memory_free(mem);
	return res;
}

static const cJSON *find_episode(const cJSON *res, const char *kind, const char *task)
{
	const cJSON *r;
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(res, "results")) {
		const cJSON *meta = cJSON_GetObjectItem(r, "metadata");
		const cJSON *k = cJSON_GetObjectItem(meta, "kind");
		const cJSON *t = cJSON_GetObjectItem(meta, "task");
		if (cJSON_IsString(k) && strcmp(k->valuestring, kind) == 0 &&
		    (!task || (cJSON_IsString(t) && strcmp(t->valuestring, task) == 0)))
			return meta;
	}
	return NULL;
}

static void run_with_episodes(unsigned int workers)
{
	cog_ctx *ctx = ctx_with_sqlite(tmp_file("ep.db"), false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, executor, NULL));
	cog_plan *plan = plan_from(ctx, "{\"id\":\"p-ep\",\"goal\":\"write the quarterly report\","
		"\"tasks\":[{\"id\":\"fetch\",\"title\":\"fetch the numbers\"},"
		"{\"id\":\"bad\",\"title\":\"a step that fails\"},"
		"{\"id\":\"after\",\"depends_on\":[\"bad\"]},"
		"{\"id\":\"sum\",\"depends_on\":[\"fetch\"]}]}");
	cog_run_options o;
	ck_assert_cog(cog_run_options_init(&o, COG_RUN_OPTIONS_VERSION));
	o.workers = workers;
	o.failure_policy = COG_CONTINUE_INDEPENDENT;
	o.episodic_namespace = "acme/alice/runner";
	ck_assert_int_eq(cog_plan_run(plan, &o), COG_ERROR);

	cJSON *res = episodes(ctx, "acme/alice/runner", "p-ep fetch bad after sum succeeded failed");
	const cJSON *m = find_episode(res, "task", "fetch");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(cJSON_GetObjectItem(m, "status")->valuestring, "succeeded");
	ck_assert_str_eq(cJSON_GetObjectItem(m, "plan")->valuestring, "p-ep");
	ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(m, "duration_ms")));
	m = find_episode(res, "task", "bad");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(cJSON_GetObjectItem(m, "status")->valuestring, "failed");
	ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(m, "error")->valuestring, "always fails"));
	m = find_episode(res, "task", "after");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(cJSON_GetObjectItem(m, "status")->valuestring, "skipped");
	ck_assert_ptr_nonnull(find_episode(res, "task", "sum"));
	m = find_episode(res, "outcome", NULL);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(cJSON_GetObjectItem(m, "status")->valuestring, "failed");
	ck_assert_int_eq(cJSON_GetObjectItem(m, "succeeded")->valueint, 2);
	ck_assert_int_eq(cJSON_GetObjectItem(m, "failed")->valueint, 1);
	ck_assert_int_eq(cJSON_GetObjectItem(m, "skipped")->valueint, 1);
	ck_assert_str_eq(cJSON_GetObjectItem(m, "goal")->valuestring, "write the quarterly report");
	int n = cJSON_GetArraySize(cJSON_GetObjectItem(res, "results"));
	ck_assert_int_eq(n, 5);
	cJSON_Delete(res);

	/* another namespace sees none of it */
	res = episodes(ctx, "acme/bob/runner", "p-ep fetch bad after sum");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(res, "results")), 0);
	cJSON_Delete(res);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}

START_TEST(episodes_inline)
{
	run_with_episodes(1);
}
END_TEST

START_TEST(episodes_threaded)
{
	run_with_episodes(4);
}
END_TEST

START_TEST(bad_namespace_runs_nothing)
{
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, executor, NULL));
	cog_plan *plan = plan_from(ctx, "{\"tasks\":[{\"id\":\"fetch\"}]}");
	cog_run_options o = COG_RUN_OPTIONS_INIT;
	o.episodic_namespace = "acme//alice";
	ck_assert_int_eq(cog_plan_run(plan, &o), COG_EINVAL);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "episodic_namespace"));
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "segment 2 is empty"));
	ck_assert_str_eq(task_state(plan, "fetch"), "pending");
	/* the same plan runs with version 1 options (no member for episodes) */
	cog_run_options v1 = COG_RUN_OPTIONS_INIT;
	v1.version = 1;
	v1.episodic_namespace = "garbage past version 1//";
	ck_assert_cog(cog_plan_run(plan, &v1));
	ck_assert_str_eq(task_state(plan, "fetch"), "succeeded");
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("plan-episodes");
	TCase *tc = tcase_create("episodes");
	tcase_add_checked_fixture(tc, plan_test_setup, plan_test_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, episodes_inline);
	tcase_add_test(tc, episodes_threaded);
	tcase_add_test(tc, bad_namespace_runs_nothing);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
