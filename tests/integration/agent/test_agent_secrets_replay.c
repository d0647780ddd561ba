/*
 * The configured key through a crash and a replay. A child process runs an
 * agent with a run key on a SQLite file; the model (the scripted server,
 * in the parent) answers its first turn with a tool call whose arguments
 * hold the API key the endpoint was configured with; the side-effecting
 * tool runs (one line in a file) and its result goes back to the model,
 * whose second turn is held: there the parent kills the child (SIGKILL).
 * A new context resumes the same run key: the journaled answer, stored
 * with the key masked, is replayed and must still match the tool result
 * journaled before the crash (the journal hashes what it stores), so the
 * tool does not run again, and the run finishes. The key is in no byte of
 * the database file nor its WAL, after the crash or after the resume.
 *
 * The child is forked before the test starts any thread (the server is
 * started after the fork; the child learns its URL through a pipe).
 */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cognition/curl.h>
#include <cognition/sqlite.h>

#include "agent_test.h"
#include "llm_script_server.h"

#define SECRET "q7Zr2LmVx9TkPwB4nHc8Ys1D"
#define RUN_KEY "deploy/rotate"
#define DONE "Rotated; the tool ran."

/* test_agent_secrets.c */
void secrets_check_db(const char *db, const char *present);
void secrets_add_replay_tests(Suite *s);

/* ---- the model (in the parent) ---- */

static atomic_int phase;   /* 1: the child runs (hold turn 2), 2: resumed */

static char *answer(unsigned int index, const cJSON *req, int *status, void *ud)
{
	(void)index; (void)ud;
	cJSON *calls = cJSON_CreateArray();
	const char *content = NULL;
	if (!lss_mentions(req, "ROTATE")) {
		cJSON_Delete(calls);
		*status = 400;
		return strdup("{\"error\":{\"message\":\"unexpected request\"}}");
	}
	if (lss_count_role(req, "tool") == 0) {
		/* the key the client sent, reflected in the call's arguments */
		lss_add_call(calls, "call_k1", "rotate_key",
		             "{\"key\":\"" SECRET "\",\"note\":\"old key " SECRET "\"}");
	} else if (atomic_load(&phase) == 1) {
		cJSON_Delete(calls);
		return NULL;              /* hold: the child is killed here */
	} else {
		content = DONE;
	}
	char *body = lss_completion(content, calls, 30, 5);
	cJSON_Delete(calls);
	return body;
}

/* ---- the side-effecting tool: one line a call, saying whether its
 * arguments held the key itself or its mask ---- */

static char side_path[512], db_path[512];

static int rotate_key(const cog_tool_request *r, char **result, void *ud)
{
	(void)ud;
	const char *args = r->arguments ? r->arguments : "";
	const char *line = strstr(args, SECRET) ? "with-key\n"
		: strstr(args, "****") ? "with-mask\n" : "other\n";
	int fd = open(side_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && write(fd, line, strlen(line)) == (ssize_t)strlen(line);
	if (fd >= 0)
		close(fd);
	if (!ok) {
		cog_error_set(COG_EIO, "rotate_key: cannot write");
		return COG_EIO;
	}
	*result = lss_cog_strdup("{\"rotated\":true}");
	return *result ? 0 : COG_ENOMEM;
}

/* ---- the context: the endpoint at the server with the key ---- */

static int keyed_ctx(cog_ctx **out, const char *url)
{
	*out = NULL;
	cog_ctx_options co = COG_CTX_OPTIONS_INIT;
	co.worker_threads = 2;
	co.log_level = COG_LOG_ERROR;
	cog_ctx *ctx = NULL;
	int rc = cog_ctx_new(&ctx, &co);
	if (rc)
		return rc;
	cog_storage *st = NULL;
	cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
	cog_transport *t = NULL;
	cog_llm *llm = NULL;
	cog_llm_provider_options po = COG_LLM_PROVIDER_OPTIONS_INIT;
	po.provider = COG_LLM_OPENAI;
	po.base_url = url;
	po.api_key = SECRET;
	po.model = "m1";
	cog_tool_options to = COG_TOOL_OPTIONS_INIT;
	to.name = "rotate_key";
	to.description = "Rotate an API key";
	to.flags = COG_TOOL_SIDE_EFFECTS;
	to.fn = rotate_key;
	if ((rc = cog_sqlite_storage_open(&st, db_path, &so)) ||
	    (rc = cog_ctx_set_storage(ctx, st)) ||
	    (rc = cog_curl_transport_new(&t, NULL)) ||
	    (rc = cog_ctx_set_transport(ctx, t)) ||
	    (rc = cog_llm_provider_new(&llm, ctx, &po)) ||
	    (rc = cog_llm_add_endpoint(ctx, "main", llm, NULL)) ||
	    (rc = cog_llm_configure(ctx, "{\"routes\":{\"executor\":{\"models\":"
	                            "[{\"endpoint\":\"main\",\"model\":\"m1\"}]}},"
	                            "\"retry\":{\"max_attempts\":1},"
	                            "\"cache\":{\"enabled\":false}}")) ||
	    (rc = cog_tool_define(ctx, &to)) ||
	    (rc = cog_agent_define(ctx, "{\"name\":\"ops\",\"tools\":[\"rotate_key\"],"
	                           "\"temperature\":0,\"max_tokens\":64}"))) {
		cog_ctx_free(ctx);
		return rc;
	}
	*out = ctx;
	return 0;
}

static int run_once(cog_ctx *ctx, char **result)
{
	cog_agent *a = NULL;
	int rc = cog_agent_spawn(&a, ctx, "ops");
	if (rc)
		return rc;
	cog_agent_run_options ro = COG_AGENT_RUN_OPTIONS_INIT;
	ro.run_key = RUN_KEY;
	rc = cog_agent_run(a, "{\"prompt\":\"ROTATE the production key\"}", &ro, result);
	cog_agent_free(a);
	return rc;
}

/* The child: run until killed. */
static void child_main(int pipe_rd)
{
	char url[128] = "";
	ssize_t n = read(pipe_rd, url, sizeof(url) - 1);
	close(pipe_rd);
	if (n <= 0)
		_exit(2);
	url[n] = '\0';
	cog_ctx *ctx = NULL;
	if (keyed_ctx(&ctx, url)) {
		fprintf(stderr, "secrets child: no context: %s\n", cog_error_last());
		_exit(3);
	}
	char *res = NULL;
	int rc = run_once(ctx, &res);
	fprintf(stderr, "secrets child: the run ended (%d %s) instead of being killed\n", rc,
	        cog_error_last());
	_exit(5);
}

/* The tool's lines: "with-key\n" once, nothing more. */
static char *side_lines(void)
{
	FILE *f = fopen(side_path, "r");
	char *buf = calloc(1, 4096);
	ck_assert_ptr_nonnull(buf);
	if (f) {
		size_t n = fread(buf, 1, 4095, f);
		buf[n] = '\0';
		fclose(f);
	}
	return buf;
}

static void assert_ran_once(void)
{
	char *lines = side_lines();
	ck_assert_msg(strcmp(lines, "with-key\n") == 0,
	              "the tool's calls (one line each): \"%s\"", lines);
	free(lines);
}

START_TEST(test_masked_tool_call_replays_after_kill)
{
	const char *dir = tmp_dir_make("agent-secrets-");
	snprintf(side_path, sizeof(side_path), "%s/side.log", dir);
	snprintf(db_path, sizeof(db_path), "%s/run.db", dir);
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

	/* Wait for the held second turn: the tool ran, its result went back. */
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
	assert_ran_once();
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	ck_assert_uint_eq(lss_requests(server), 2);
	/* what the dead process left: the masked call, never the key */
	secrets_check_db(db_path, "****");
	atomic_store(&phase, 2);

	/* Resume the run key in a new context on the same file. */
	cog_ctx *ctx = NULL;
	lss_ok(keyed_ctx(&ctx, url));
	char *res = NULL;
	lss_ok(run_once(ctx, &res));
	cJSON *r = cJSON_Parse(res);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(r, "stopped")), "answer");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(r, "content")), DONE);
	cJSON_Delete(r);
	cog_free(res);

	/* The tool was not run again (its call came from the journal). */
	assert_ran_once();
	/* Three requests: turn 1 and the held turn 2 of the child, turn 2 of
	 * the resumed run; turn 1 (whose answer held the key) was replayed. */
	ck_assert_uint_eq(lss_requests(server), 3);
	cJSON *again = lss_request(server, 2);
	ck_assert_int_eq(lss_count_role(again, "tool"), 1);
	cJSON_Delete(again);

	secrets_check_db(db_path, DONE);
	cog_ctx_free(ctx);
	secrets_check_db(db_path, DONE);
	lss_stop(server);
	tmp_dir_remove();
}
END_TEST

void secrets_add_replay_tests(Suite *s)
{
	/* no fixture: the test forks before any thread starts */
	TCase *tc = tcase_create("replay");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_masked_tool_call_replays_after_kill);
	suite_add_tcase(s, tc);
}
