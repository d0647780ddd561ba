/*
 * A crash in the middle of an agent's task. A child process runs a durable
 * plan on a SQLite file: the agent's first LLM answer asks for a tool that
 * appends a line to a file (a side effect), the tool runs, its result is
 * fed back, and the second LLM request is held by the loopback server: at
 * that point the parent, which saw the line in the file and the held
 * request, kills the child with SIGKILL. Then the parent resumes the plan
 * (cog_plan_resume + cog_plan_run with cog_task_run_agent) and it
 * completes: the first answer comes from the journal (the server never
 * sees that request again), the tool result too (the file keeps one line),
 * and the interrupted request is asked again exactly as it was.
 *
 * The child is forked before the test starts any thread (the server is
 * started after the fork; the child learns its URL through a pipe).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_test.h"
#include "llm_script_server.h"
#include "test_tmp.h"

#define PLAN_ID "crash-plan-1"
#define WORK_DONE "The line is appended."
#define REPORT_DONE "Report: one line was appended."

/* ---- the model (in the parent) ---- */

static atomic_int phase;   /* 1: the child runs (hold turn 2), 2: resumed */

static char *answer(unsigned int index, const cJSON *req, int *status, void *ud)
{
	(void)index; (void)ud;
	cJSON *calls = cJSON_CreateArray();
	const char *content;
	unsigned long in = lss_content_bytes(req) / 2, out = 5;
	if (lss_mentions(req, "TASK-REPORT")) {
		content = REPORT_DONE;
	} else if (lss_mentions(req, "TASK-WORK") && lss_count_role(req, "tool") == 0) {
		content = NULL;
		lss_add_call(calls, "call_w1", "append_line", "{\"text\":\"side effect\"}");
	} else if (lss_mentions(req, "TASK-WORK")) {
		if (atomic_load(&phase) == 1) {
			cJSON_Delete(calls);
			return NULL;          /* hold: the child is killed here */
		}
		content = WORK_DONE;
	} else {
		cJSON_Delete(calls);
		*status = 400;
		return strdup("{\"error\":{\"message\":\"unexpected request\"}}");
	}
	char *body = lss_completion(content, calls, in, out);
	cJSON_Delete(calls);
	return body;
}

/* ---- the side-effecting tool ---- */

static int append_line(const cog_tool_request *r, char **result, void *ud)
{
	const char *path = ud;
	cJSON *args = cJSON_Parse(r->arguments);
	const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(args, "text"));
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	char line[256];
	int n = snprintf(line, sizeof(line), "%s %s\n", text ? text : "?", r->call_id);
	bool ok = fd >= 0 && write(fd, line, (size_t)n) == n;
	if (fd >= 0)
		close(fd);
	cJSON_Delete(args);
	if (!ok) {
		cog_error_set(COG_EIO, "append_line: cannot write");
		return COG_EIO;
	}
	*result = lss_cog_strdup("{\"appended\":true}");
	return *result ? 0 : COG_ENOMEM;
}

static char side_path[512], db_path[512], workspace[512];
static cog_tool_call_options tool_opts = COG_TOOL_CALL_OPTIONS_INIT;
static cog_agent_run_options run_opts = COG_AGENT_RUN_OPTIONS_INIT;

static void setup_ctx(cog_ctx *ctx)
{
	at_define_text_tool(ctx, "append_line", "Append a line to the log file", "text",
		COG_TOOL_SIDE_EFFECTS, append_line, side_path);
	lss_ok(cog_agent_define(ctx,
		"{\"name\":\"worker\",\"instructions\":\"You append lines when asked.\","
		"\"capabilities\":[\"append\"],\"tools\":[\"append_line\"],\"max_tokens\":64}"));
	tool_opts.workspace = workspace;
	run_opts.tool_options = &tool_opts;
	lss_ok(cog_ctx_set_task_executor(ctx, cog_task_run_agent, &run_opts));
}

static char plan_json[1024];

static void make_plan_json(bool idempotent)
{
	snprintf(plan_json, sizeof(plan_json),
		"{\"version\":1,\"id\":\"" PLAN_ID "\",\"goal\":\"append a line, then report\","
		"\"tasks\":["
		"{\"id\":\"work\",\"kind\":\"llm\",\"idempotent\":%s,"
		"\"inputs\":{\"prompt\":\"TASK-WORK: append the line 'side effect'\",\"agent\":\"worker\"}},"
		"{\"id\":\"report\",\"kind\":\"llm\",\"depends_on\":[\"work\"],"
		"\"inputs\":{\"prompt\":\"TASK-REPORT: say what was done\",\"agent\":\"worker\"}}]}",
		idempotent ? "true" : "false");
}

/* The child: run the plan until killed. */
static void child_main(int pipe_rd)
{
	char url[128] = "";
	ssize_t n = read(pipe_rd, url, sizeof(url) - 1);
	close(pipe_rd);
	if (n <= 0)
		_exit(2);
	url[n] = '\0';
	cog_ctx *ctx = lss_ctx_url(url, db_path, 2, 1.0, 2.0, NULL);
	setup_ctx(ctx);
	cog_plan *plan = NULL;
	if (cog_plan_from_json(&plan, ctx, plan_json))
		_exit(4);
	cog_run_options ro = COG_RUN_OPTIONS_INIT;
	ro.durability = COG_DURABLE_ON;
	int rc = cog_plan_run(plan, &ro);
	fprintf(stderr, "crash child: the run ended (%d %s) instead of being killed\n", rc,
	        cog_error_last());
	_exit(5);
}

static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	int n = 0, c;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void run_crash_and_resume(bool idempotent)
{
	const char *dir = tmp_dir_make("agent-crash-");
	snprintf(workspace, sizeof(workspace), "%s", dir);
	snprintf(side_path, sizeof(side_path), "%s/side.log", dir);
	snprintf(db_path, sizeof(db_path), "%s/run.db", dir);
	make_plan_json(idempotent);
	atomic_store(&phase, 1);

	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[1]);
		child_main(fds[0]);
	}
	close(fds[0]);
	lss *server = lss_start(answer, NULL);
	const char *url = lss_base_url(server);
	ck_assert_int_eq(write(fds[1], url, strlen(url)), (ssize_t)strlen(url));
	close(fds[1]);

	/* Wait for the held second turn (the tool ran and its result went
	 * back to the model), and for the line the tool wrote. */
	bool held = false, gone = false;
	int st = 0;
	for (int i = 0; i < 600 && !held && !gone; i++) {
		held = lss_wait_held(server, 1, 200);
		gone = !held && waitpid(pid, &st, WNOHANG) == pid;
	}
	if (!held) {
		if (!gone) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
		}
		ck_abort_msg("the child never reached its second turn (%s %d; %u requests)",
		             WIFEXITED(st) ? "exit status" : "signal",
		             WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), lss_requests(server));
	}
	ck_assert_int_eq(count_lines(side_path), 1);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	ck_assert_uint_eq(lss_requests(server), 2);
	atomic_store(&phase, 2);

	/* Resume here. */
	cog_ctx *ctx = lss_ctx(server, db_path, 2, 1.0, 2.0, NULL);
	setup_ctx(ctx);
	cog_plan *plan = NULL;
	lss_ok(cog_plan_resume(&plan, ctx, PLAN_ID));
	char *json = NULL;
	lss_ok(cog_plan_task_status(plan, "work", &json));
	cJSON *ws = cJSON_Parse(json);
	const char *state = cJSON_GetStringValue(cJSON_GetObjectItem(ws, "state"));
	ck_assert_msg(state && (idempotent ? strcmp(state, "ready") == 0 ||
	                                     strcmp(state, "pending") == 0
	                                   : strcmp(state, "uncertain") == 0),
	              "work after the crash: %s", json);
	cJSON_Delete(ws);
	cog_free(json);
	if (!idempotent)
		lss_ok(cog_plan_decide(plan, "work", COG_DECIDE_RETRY));
	cog_run_options ro = COG_RUN_OPTIONS_INIT;
	ro.durability = COG_DURABLE_ON;
	lss_ok(cog_plan_run(plan, &ro));

	/* The side effect happened once. */
	ck_assert_int_eq(count_lines(side_path), 1);
	/* Four requests: turn 1 and the held turn 2 of the child, turn 2 again
	 * and the report of the resumed run; turn 1 was never asked again. */
	ck_assert_uint_eq(lss_requests(server), 4);
	int first_turns = 0;
	for (unsigned int i = 0; i < 4; i++) {
		cJSON *req = lss_request(server, i);
		first_turns += lss_mentions(req, "TASK-WORK") && lss_count_role(req, "tool") == 0;
		cJSON_Delete(req);
	}
	ck_assert_int_eq(first_turns, 1);
	/* The interrupted turn was asked again as it was. */
	cJSON *held_req = lss_request(server, 1), *again = lss_request(server, 2);
	ck_assert(lss_mentions(again, "TASK-WORK"));
	char *a = cJSON_PrintUnformatted(lss_messages(held_req));
	char *b = cJSON_PrintUnformatted(lss_messages(again));
	ck_assert_msg(cJSON_Compare(lss_messages(held_req), lss_messages(again), true),
	              "the resumed turn differs:\n%s\n%s", a, b);
	free(a);
	free(b);
	cJSON_Delete(held_req);
	cJSON_Delete(again);

	/* Both tasks succeeded with the answers. */
	const char *ids[2] = { "work", "report" };
	const char *want[2] = { WORK_DONE, REPORT_DONE };
	for (int i = 0; i < 2; i++) {
		lss_ok(cog_plan_task_status(plan, ids[i], &json));
		cJSON *t = cJSON_Parse(json);
		const cJSON *r = cJSON_GetObjectItem(t, "result");
		ck_assert_msg(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(t, "state")), "succeeded") == 0,
		              "%s", json);
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(r, "content")), want[i]);
		if (i == 0)
			ck_assert_double_eq(lss_num(r, "tool_calls", NULL), 1);
		cJSON_Delete(t);
		cog_free(json);
	}
	cog_plan_free(plan);
	cog_ctx_free(ctx);
	lss_stop(server);
	tmp_dir_remove();
}

START_TEST(test_kill_after_tool_idempotent_task)
{
	run_crash_and_resume(true);
}
END_TEST

START_TEST(test_kill_after_tool_uncertain_task)
{
	run_crash_and_resume(false);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("agent-crash");
	TCase *tc = tcase_create("sigkill");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_kill_after_tool_idempotent_task);
	tcase_add_test(tc, test_kill_after_tool_uncertain_task);
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
