/*
 * Plans whose tasks call tools (kind "tool"), on real SQLite files: the
 * default executor, tool errors as task failures, and an approval that is
 * deferred, survives a kill -9 of the process that asked, is decided by
 * another process, and lets the resumed plan run the call exactly once with
 * the same idempotency key.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plan_test.h"

/* The calls a tool saw, as "call_id args" lines in a file shared with the
 * forked children. */
static char calls_path[512];

static int record_fn(const cog_tool_request *req, char **result, void *ud)
{
	(void)ud;
	FILE *f = fopen(calls_path, "a");
	if (!f)
		return cog_error_set(COG_EIO, "cannot open %s", calls_path);
	fprintf(f, "%s %s\n", req->call_id, req->arguments);
	fclose(f);
	size_t n = strlen(req->arguments) + 32;
	*result = cog_malloc(n);
	snprintf(*result, n, "{\"done\":%s}", req->arguments);
	return 0;
}

static int count_calls(void)
{
	FILE *f = fopen(calls_path, "r");
	if (!f)
		return 0;
	int n = 0, c;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void define_tools(cog_ctx *ctx)
{
	cog_tool_options o = COG_TOOL_OPTIONS_INIT;
	o.name = "deploy";
	o.input_schema = "{\"type\":\"object\",\"properties\":{\"env\":{\"type\":\"string\"}},"
		"\"required\":[\"env\"]}";
	o.flags = COG_TOOL_NEEDS_APPROVAL | COG_TOOL_SIDE_EFFECTS;
	o.fn = record_fn;
	ck_assert_cog(cog_tool_define(ctx, &o));
	o.name = "note";
	o.flags = COG_TOOL_IDEMPOTENT;
	ck_assert_cog(cog_tool_define(ctx, &o));
}

static const char *PLAN =
	"{\"version\":1,\"id\":\"release-1\",\"goal\":\"release\",\"tasks\":["
	"{\"id\":\"build\",\"kind\":\"tool\",\"tool\":\"note\",\"inputs\":{\"env\":\"ci\"},"
	" \"idempotent\":true},"
	"{\"id\":\"ship\",\"kind\":\"tool\",\"tool\":\"deploy\",\"inputs\":{\"env\":\"prod\"},"
	" \"depends_on\":[\"build\"]},"
	"{\"id\":\"announce\",\"kind\":\"tool\",\"tool\":\"note\",\"inputs\":{\"env\":\"chat\"},"
	" \"depends_on\":[\"ship\"]}]}";

static int defer_fn(const char *request, char **edited, void *ud)
{
	(void)request; (void)edited; (void)ud;
	return COG_APPROVAL_DEFER;
}

/* The one pending approval (there must be exactly one, for `call_id`
 * unless NULL) decided as `decision`. */
static void decide_the_pending(cog_ctx *ctx, const char *call_id, int decision,
                               const char *edited)
{
	char *json = NULL;
	ck_assert_cog(cog_tool_approvals(ctx, &json));
	cJSON *list = cJSON_Parse(json);
	cog_free(json);
	ck_assert_int_eq(cJSON_GetArraySize(list), 1);
	cJSON *a = cJSON_GetArrayItem(list, 0);
	if (call_id)
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(a, "call_id")), call_id);
	ck_assert_cog(cog_tool_approval_decide(ctx, cJSON_GetStringValue(cJSON_GetObjectItem(a,
		"id")), decision, edited));
	cJSON_Delete(list);
}

START_TEST(tool_tasks_run_through_the_tool_layer)
{
	snprintf(calls_path, sizeof(calls_path), "%s", tmp_file("calls"));
	cog_ctx *ctx = ctx_with_sqlite(tmp_file("t.db"), false, NULL, NULL);
	define_tools(ctx);
	cog_plan *plan = plan_from(ctx,
		"{\"version\":1,\"goal\":\"g\",\"tasks\":["
		"{\"id\":\"a\",\"kind\":\"tool\",\"tool\":\"note\",\"inputs\":{\"env\":\"x\"}},"
		"{\"id\":\"b\",\"kind\":\"tool\",\"tool\":\"note\",\"inputs\":{\"env\":1},"
		" \"depends_on\":[\"a\"]}]}");
	/* No executor set: tool tasks go through cog_task_run_tool. */
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_ERROR);
	ck_assert_str_eq(task_state(plan, "a"), "succeeded");
	char *r = task_result(plan, "a");
	ck_assert_str_eq(r, "{\"done\":{\"env\":\"x\"}}");
	free(r);
	ck_assert_str_eq(task_state(plan, "b"), "failed");
	char *e = task_error(plan, "b");
	ck_assert_msg(strstr(e, "/env") && strstr(e, "type"), "error: %s", e);
	free(e);
	cog_plan_free(plan);

	/* Validation knows the tools once the context defines some. */
	plan = plan_from(ctx, "{\"version\":1,\"goal\":\"g\",\"tasks\":["
		"{\"id\":\"t\",\"kind\":\"tool\",\"tool\":\"nott\"}]}");
	ck_assert_int_eq(cog_plan_validate(plan), COG_ENOTFOUND);
	ck_assert_msg(strstr(cog_error_last(), "'nott'") != NULL, "%s", cog_error_last());
	cog_plan_free(plan);

	/* A host task without an executor fails with a clear message. */
	plan = plan_from(ctx, "{\"version\":1,\"goal\":\"g\",\"tasks\":[{\"id\":\"h\"}]}");
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_ERROR);
	e = task_error(plan, "h");
	ck_assert_msg(strstr(e, "cog_ctx_set_task_executor") != NULL, "error: %s", e);
	free(e);
	cog_plan_free(plan);
	ck_assert_cog(cog_audit_verify(ctx, NULL));
	cog_ctx_free(ctx);
}
END_TEST

/* Child: run the plan until the approval is deferred, then die hard. */
static void child_runs_until_pending(const char *db)
{
	cog_ctx *ctx = ctx_with_sqlite(db, true, NULL, NULL);
	define_tools(ctx);
	cog_tool_set_approval_hook(ctx, defer_fn, NULL);
	cog_plan *plan = NULL;
	if (cog_plan_from_json(&plan, ctx, PLAN) || cog_plan_run(plan, NULL) != COG_EPENDING)
		_exit(3);
	if (strcmp(task_state(plan, "ship"), "skipped") != 0 ||
	    strcmp(task_state(plan, "announce"), "skipped") != 0)
		_exit(4);
	kill(getpid(), SIGKILL);
	_exit(5);
}

START_TEST(deferred_approval_survives_a_crash)
{
	snprintf(calls_path, sizeof(calls_path), "%s", tmp_file("calls"));
	char db[512];
	snprintf(db, sizeof(db), "%s", tmp_file("release.db"));
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		child_runs_until_pending(db);
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		"child ended with status %d", status);
	ck_assert_int_eq(count_calls(), 1); /* build ran; ship waits */

	/* Another process sees the pending approval and decides it. */
	cog_ctx *ctx = ctx_with_sqlite(db, false, NULL, NULL);
	define_tools(ctx);
	decide_the_pending(ctx, "release-1/ship/1", COG_APPROVAL_EDIT, "{\"env\":\"canary\"}");

	/* The resumed plan repeats the same attempt: the decision is found by
	 * its call id, no hook is asked, the call runs once. */
	cog_plan *plan = NULL;
	ck_assert_cog(cog_plan_resume(&plan, ctx, "release-1"));
	ck_assert_cog(cog_plan_run(plan, NULL));
	ck_assert_str_eq(task_state(plan, "ship"), "succeeded");
	ck_assert_int_eq(task_attempts(plan, "ship"), 1);
	char *r = task_result(plan, "ship");
	ck_assert_str_eq(r, "{\"done\":{\"env\":\"canary\"}}");
	free(r);
	ck_assert_str_eq(task_state(plan, "announce"), "succeeded");
	ck_assert_int_eq(count_calls(), 3);
	FILE *f = fopen(calls_path, "r");
	char line[256];
	bool seen = false;
	while (fgets(line, sizeof(line), f))
		seen |= strncmp(line, "release-1/ship/1 {\"env\":\"canary\"}", 33) == 0;
	fclose(f);
	ck_assert(seen);
	cog_plan_free(plan);
	ck_assert_cog(cog_audit_verify(ctx, NULL));
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(denied_approval_fails_the_task)
{
	snprintf(calls_path, sizeof(calls_path), "%s", tmp_file("calls"));
	cog_ctx *ctx = ctx_with_sqlite(tmp_file("d.db"), false, NULL, NULL);
	define_tools(ctx);
	ck_assert_cog(cog_tool_set_approval_hook(ctx, defer_fn, NULL));
	cog_plan *plan = plan_from(ctx, PLAN);
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_EPENDING);
	ck_assert_msg(strstr(cog_error_last(), "ship") != NULL, "%s", cog_error_last());
	decide_the_pending(ctx, NULL, COG_APPROVAL_DENY, NULL);
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_ERROR);
	ck_assert_str_eq(task_state(plan, "ship"), "failed");
	ck_assert_str_eq(task_state(plan, "announce"), "skipped");
	ck_assert_int_eq(count_calls(), 1);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

/* A tool that kills its process the first time it runs (a marker file
 * remembers), like a crash in the middle of a run. */
static char marker_path[512];
static int crash_once_fn(const cog_tool_request *req, char **result, void *ud)
{
	(void)ud;
	if (access(marker_path, F_OK) != 0) {
		FILE *f = fopen(marker_path, "w");
		if (f)
			fclose(f);
		kill(getpid(), SIGKILL);
	}
	return record_fn(req, result, NULL);
}

static const char *CRASH_PLAN =
	"{\"version\":1,\"id\":\"release-2\",\"goal\":\"release\",\"tasks\":["
	"{\"id\":\"build\",\"kind\":\"tool\",\"tool\":\"note\",\"inputs\":{\"env\":\"ci\"},"
	" \"idempotent\":true},"
	"{\"id\":\"ship\",\"kind\":\"tool\",\"tool\":\"deploy\",\"inputs\":{\"env\":\"prod\"},"
	" \"depends_on\":[\"build\"]},"
	"{\"id\":\"slow\",\"kind\":\"tool\",\"tool\":\"crash_once\",\"inputs\":{\"env\":\"x\"},"
	" \"depends_on\":[\"build\"],\"idempotent\":true}]}";

static void define_crash_tool(cog_ctx *ctx)
{
	cog_tool_options o = COG_TOOL_OPTIONS_INIT;
	o.name = "crash_once";
	o.flags = COG_TOOL_IDEMPOTENT;
	o.fn = crash_once_fn;
	ck_assert_cog(cog_tool_define(ctx, &o));
}

/* The process dies while another task runs, after "ship" was skipped
 * waiting for its approval: the journal must keep ship's attempt count, so
 * the resumed run asks under the same idempotency key and finds the
 * decision. */
START_TEST(crash_while_a_task_waits_keeps_its_attempt)
{
	snprintf(calls_path, sizeof(calls_path), "%s", tmp_file("calls"));
	snprintf(marker_path, sizeof(marker_path), "%s", tmp_file("crashed"));
	char db[512];
	snprintf(db, sizeof(db), "%s", tmp_file("crash.db"));
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		cog_ctx *ctx = ctx_with_sqlite(db, true, NULL, NULL);
		define_tools(ctx);
		define_crash_tool(ctx);
		cog_tool_set_approval_hook(ctx, defer_fn, NULL);
		cog_plan *plan = NULL;
		cog_run_options ro = COG_RUN_OPTIONS_INIT;
		ro.workers = 1;
		if (cog_plan_from_json(&plan, ctx, CRASH_PLAN) == 0)
			cog_plan_run(plan, &ro); /* dies in "slow" */
		_exit(3);
	}
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		"child ended with status %d", status);

	cog_ctx *ctx = ctx_with_sqlite(db, false, NULL, NULL);
	define_tools(ctx);
	define_crash_tool(ctx);
	decide_the_pending(ctx, "release-2/ship/1", COG_APPROVAL_APPROVE, NULL);
	char *json = NULL;
	cog_plan *plan = NULL;
	ck_assert_cog(cog_plan_resume(&plan, ctx, "release-2"));
	ck_assert_int_eq(task_attempts(plan, "ship"), 0);
	ck_assert_cog(cog_plan_run(plan, NULL));
	ck_assert_str_eq(task_state(plan, "ship"), "succeeded");
	ck_assert_int_eq(task_attempts(plan, "ship"), 1);
	/* Used once: the approval is gone, and the audit log shows the
	 * decision beside the calls. */
	ck_assert_cog(cog_tool_approvals(ctx, &json));
	ck_assert_str_eq(json, "[]");
	cog_free(json);
	ck_assert_cog(cog_audit_read(ctx, 1, 0, &json));
	ck_assert_ptr_nonnull(strstr(json, "\"outcome\":\"approval_approved\""));
	cog_free(json);
	ck_assert_cog(cog_audit_verify(ctx, NULL));
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

/* The same wait on the worker pool, and a re-plan in the same run does
 * not ask again for what waits. */
static int replans;
static int replan_fn(cog_plan *plan, const char *task_id, const char *error,
                     char **replacement, void *ud)
{
	(void)plan; (void)error; (void)ud;
	replans++;
	size_t n = strlen(task_id) + 128;
	*replacement = cog_malloc(n);
	snprintf(*replacement, n, "{\"tasks\":[{\"id\":\"%s-fixed\",\"kind\":\"tool\","
		"\"tool\":\"note\",\"inputs\":{\"env\":\"fixed\"}}]}", task_id);
	return 0;
}

static int defers_asked;
static int counting_defer_fn(const char *request, char **edited, void *ud)
{
	(void)request; (void)edited; (void)ud;
	defers_asked++;
	return COG_APPROVAL_DEFER;
}

START_TEST(waiting_on_the_pool_and_through_a_replan)
{
	snprintf(calls_path, sizeof(calls_path), "%s", tmp_file("calls"));
	cog_ctx *ctx = ctx_with_sqlite(tmp_file("pool.db"), false, NULL, NULL);
	define_tools(ctx);
	defers_asked = 0;
	replans = 0;
	ck_assert_cog(cog_tool_set_approval_hook(ctx, counting_defer_fn, NULL));
	cog_plan *plan = plan_from(ctx,
		"{\"version\":1,\"goal\":\"g\",\"tasks\":["
		"{\"id\":\"ship\",\"kind\":\"tool\",\"tool\":\"deploy\",\"inputs\":{\"env\":\"p\"}},"
		"{\"id\":\"after\",\"kind\":\"tool\",\"tool\":\"note\",\"inputs\":{\"env\":\"a\"},"
		" \"depends_on\":[\"ship\"]},"
		"{\"id\":\"broken\",\"kind\":\"tool\",\"tool\":\"note\",\"inputs\":{\"env\":\"b\"},"
		" \"depends_on\":[\"other\"]},"
		"{\"id\":\"other\",\"kind\":\"tool\",\"tool\":\"nothere\"}]}");
	ck_assert_cog(cog_plan_set_replanner(plan, replan_fn, NULL));
	cog_run_options ro = COG_RUN_OPTIONS_INIT;
	ro.workers = 2;
	ro.inline_max_tasks = 1;
	ro.failure_policy = COG_CONTINUE_INDEPENDENT;
	ck_assert_int_eq(cog_plan_run(plan, &ro), COG_EPENDING);
	ck_assert_int_eq(replans, 1);
	ck_assert_int_eq(defers_asked, 1); /* the re-plan did not reopen "ship" */
	ck_assert_str_eq(task_state(plan, "ship"), "skipped");
	ck_assert_int_eq(task_attempts(plan, "ship"), 0);
	ck_assert_str_eq(task_state(plan, "after"), "skipped");
	ck_assert_str_eq(task_state(plan, "other-fixed"), "succeeded");
	decide_the_pending(ctx, NULL, COG_APPROVAL_APPROVE, NULL);
	ck_assert_cog(cog_plan_run(plan, &ro));
	ck_assert_str_eq(task_state(plan, "after"), "succeeded");
	ck_assert_int_eq(defers_asked, 1);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(inputs_from_dependencies)
{
	snprintf(calls_path, sizeof(calls_path), "%s", tmp_file("calls"));
	cog_ctx *ctx = ctx_with_sqlite(tmp_file("i.db"), false, NULL, NULL);
	define_tools(ctx);
	/* b's env is a's result at /done/env: "ci" */
	cog_plan *plan = plan_from(ctx,
		"{\"version\":1,\"goal\":\"g\",\"tasks\":["
		"{\"id\":\"a\",\"kind\":\"tool\",\"tool\":\"note\",\"inputs\":{\"env\":\"ci\"}},"
		"{\"id\":\"b\",\"kind\":\"tool\",\"tool\":\"note\",\"depends_on\":[\"a\"],"
		" \"inputs\":{\"env\":{\"$from\":\"a\",\"pointer\":\"/done/env\"}}},"
		"{\"id\":\"c\",\"kind\":\"tool\",\"tool\":\"note\",\"depends_on\":[\"a\"],"
		" \"inputs\":{\"env\":{\"$from\":\"a\",\"pointer\":\"/nothing/here\"}}}]}");
	ck_assert_cog(cog_plan_validate(plan));
	ck_assert_int_eq(cog_plan_run(plan, &(cog_run_options){ .version = COG_RUN_OPTIONS_VERSION,
		.failure_policy = COG_CONTINUE_INDEPENDENT }), COG_ERROR);
	char *r = task_result(plan, "b");
	ck_assert_str_eq(r, "{\"done\":{\"env\":\"ci\"}}");
	free(r);
	ck_assert_str_eq(task_state(plan, "c"), "failed");
	char *e = task_error(plan, "c");
	ck_assert_msg(strstr(e, "/nothing/here") != NULL, "error: %s", e);
	free(e);
	cog_plan_free(plan);

	/* A reference to a task it does not depend on, or a malformed one. */
	const char *bad[] = {
		"{\"tasks\":[{\"id\":\"a\"},{\"id\":\"b\",\"kind\":\"tool\",\"tool\":\"note\","
		"\"inputs\":{\"env\":{\"$from\":\"a\"}}}]}",
		"{\"tasks\":[{\"id\":\"a\"},{\"id\":\"b\",\"kind\":\"tool\",\"tool\":\"note\","
		"\"depends_on\":[\"a\"],\"inputs\":{\"env\":{\"$from\":\"a\",\"pointer\":\"x\"}}}]}",
		"{\"tasks\":[{\"id\":\"a\"},{\"id\":\"b\",\"kind\":\"tool\",\"tool\":\"note\","
		"\"depends_on\":[\"a\"],\"inputs\":{\"env\":{\"$from\":\"a\",\"extra\":1}}}]}",
		"{\"tasks\":[{\"id\":\"a\"},{\"id\":\"b\",\"kind\":\"tool\",\"tool\":\"note\","
		"\"depends_on\":[\"a\"],\"inputs\":{\"$from\":\"a\"}}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		plan = plan_from(ctx, bad[i]);
		ck_assert_msg(cog_plan_validate(plan) == COG_EINVAL, "accepted %s", bad[i]);
		cog_plan_free(plan);
	}
	/* References are checked even before the context defines tools. */
	cog_ctx *bare = ctx_with_sqlite(NULL, false, NULL, NULL);
	plan = plan_from(bare, bad[0]);
	ck_assert_int_eq(cog_plan_validate(plan), COG_EINVAL);
	cog_plan_free(plan);
	cog_ctx_free(bare);
	/* Inputs without references are checked against the tool's schema. */
	plan = plan_from(ctx, "{\"tasks\":[{\"id\":\"a\",\"kind\":\"tool\",\"tool\":\"note\","
		"\"inputs\":{\"env\":5}}]}");
	ck_assert_int_eq(cog_plan_validate(plan), COG_ESCHEMA);
	ck_assert_msg(strstr(cog_error_last(), "/env") != NULL, "%s", cog_error_last());
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("plan-tools");
	TCase *tc = tcase_create("tools");
	tcase_add_checked_fixture(tc, plan_test_setup, plan_test_teardown);
	tcase_add_test(tc, tool_tasks_run_through_the_tool_layer);
	tcase_add_test(tc, deferred_approval_survives_a_crash);
	tcase_add_test(tc, denied_approval_fails_the_task);
	tcase_add_test(tc, inputs_from_dependencies);
	tcase_add_test(tc, crash_while_a_task_waits_keeps_its_attempt);
	tcase_add_test(tc, waiting_on_the_pool_and_through_a_replan);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
