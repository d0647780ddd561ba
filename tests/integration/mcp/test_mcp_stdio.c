/*
 * The stdio transport through the public API, the basics: server-everything
 * over real pipes (a tool call, the environment reaching the server, its
 * stderr in the log hook, the child reaped at close), the working
 * directory and stderr lines of our own server (tests/peers/mcp_fault.py),
 * a server that closes its stdin (an error, no SIGPIPE), a program that
 * does not exist (or a working directory, or one that exits at once), and
 * the server's process group ended when the server exits or is closed.
 * The faults: test_mcp_stdio_faults.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "mcp_test.h"
#include "test_tmp.h"

START_TEST(everything_echo_env_stderr)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	const char *env[] = { "COG_MCP_STDIO_TEST=value-from-envp", "HOME=/nonexistent-home", NULL };
	cog_mcp_options o;
	ck_assert_int_eq(cog_mcp_options_init(&o, COG_MCP_OPTIONS_VERSION), COG_OK);
	o.name = "everything";
	o.argv = mcp_test_argv(MCP_EVERYTHING, NULL);
	o.envp = env;
	cog_mcp *m = mcp_test_connect(ctx, &o);
	bool running = false;
	pid_t pid = mcp_test_server_pid(m, &running);
	ck_assert(pid > 0);
	ck_assert(running);

	char *result = NULL;
	int rc = cog_mcp_call_tool(m, "echo", "{\"message\":\"over the pipe\"}", 0, &result);
	ck_assert_msg(rc == COG_OK, "echo: %d %s", rc, cog_error_last());
	ck_assert_msg(strstr(result, "Echo: over the pipe") != NULL, "%s", result);
	cog_free(result);

	char *text = NULL;
	rc = mcp_test_call(m, "get-env", "{}", 0, &text);
	ck_assert_msg(rc == COG_OK, "get-env: %d %s", rc, cog_error_last());
	cJSON *envj = cJSON_Parse(text);
	ck_assert_msg(envj != NULL, "%s", text);
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(envj, "COG_MCP_STDIO_TEST")->valuestring,
	                 "value-from-envp");
	/* Replaced, not added twice; the rest inherited. */
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(envj, "HOME")->valuestring,
	                 "/nonexistent-home");
	ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(envj, "PATH"));
	cJSON_Delete(envj);
	free(text);

	/* server-everything writes to stderr as it starts. */
	ck_assert_msg(mcp_test_log_wait(log, "\"stream\":\"stderr\"", 10000),
	              "no stderr line in the log");
	cog_mcp_close(m);
	mcp_test_assert_reaped(pid);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

START_TEST(fault_cwd_and_stderr_lines)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	const char *dir = tmp_dir_make("mcp-cwd-");
	char real[4096];
	ck_assert_ptr_nonnull(realpath(dir, real));
	const char *flags[] = { "--stderr-lines", "3", NULL };
	cog_mcp_options o;
	mcp_test_fault_options(&o, flags);
	o.cwd = dir;
	cog_mcp *m = mcp_test_connect(ctx, &o);
	char *text = NULL;
	int rc = mcp_test_call(m, "cwd", "{}", 0, &text);
	ck_assert_msg(rc == COG_OK, "cwd: %d %s", rc, cog_error_last());
	ck_assert_str_eq(text, real);
	free(text);
	ck_assert(mcp_test_log_wait(log, "mcp_fault stderr line 2", 10000));
	cog_mcp_close(m);
	tmp_dir_remove();
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

START_TEST(closed_stdin_is_not_sigpipe)
{
	/* A host that has not ignored SIGPIPE: a write to the closed pipe
	 * would kill this process. */
	signal(SIGPIPE, SIG_DFL);
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	const char *flags[] = { "--close-stdin-on-call", NULL };
	cog_mcp_options o;
	mcp_test_fault_options(&o, flags);
	cog_mcp *m = mcp_test_connect(ctx, &o);
	char *text = NULL;
	int rc = mcp_test_call(m, "echo", "{\"message\":\"last\"}", 30000, &text);
	ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
	free(text);
	ck_assert(mcp_test_log_wait(log, "stdin closed", 30000));
	rc = cog_mcp_notify(m, "notifications/progress", NULL);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "%d %s", rc, cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), "closed its standard input") != NULL, "%s",
	              cog_error_last());
	/* The connection is down (no restarts). */
	rc = mcp_test_call(m, "echo", "{\"message\":\"x\"}", 30000, NULL);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "%d %s", rc, cog_error_last());
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

START_TEST(missing_program)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp_options o;
	ck_assert_int_eq(cog_mcp_options_init(&o, COG_MCP_OPTIONS_VERSION), COG_OK);
	o.name = "missing";
	const char *argv1[] = { "cog-no-such-mcp-server", "stdio", NULL };
	o.argv = argv1;
	cog_mcp *m = NULL;
	int rc = cog_mcp_connect(&m, ctx, &o);
	ck_assert_msg(rc == COG_ENOTFOUND, "%d %s", rc, cog_error_last());
	ck_assert_ptr_null(m);
	ck_assert_msg(strstr(cog_error_last(), "cannot run \"cog-no-such-mcp-server\": "
	                     "No such file or directory") != NULL, "%s", cog_error_last());

	const char *argv2[] = { "/nonexistent/dir/server", NULL };
	o.argv = argv2;
	rc = cog_mcp_connect(&m, ctx, &o);
	ck_assert_msg(rc == COG_ENOTFOUND, "%d %s", rc, cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), "No such file or directory") != NULL, "%s",
	              cog_error_last());

	/* A working directory that does not exist. */
	const char *argv3[] = { "python3", "-c", "pass", NULL };
	o.argv = argv3;
	o.cwd = "/nonexistent/cwd";
	rc = cog_mcp_connect(&m, ctx, &o);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "%d %s", rc, cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), "/nonexistent/cwd") != NULL, "%s",
	              cog_error_last());

	/* A program that exits at once: the status, not a hang. */
	const char *argv4[] = { "python3", "-c", "import sys; sys.stderr.write('no luck\\n'); "
	                        "sys.exit(7)", NULL };
	o.argv = argv4;
	o.cwd = NULL;
	rc = cog_mcp_connect(&m, ctx, &o);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "%d %s", rc, cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), "exited with status 7") != NULL, "%s",
	              cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), "no luck") != NULL, "%s", cog_error_last());
	cog_ctx_free(ctx);
}
END_TEST

/* ---- the process group is ended whoever asks about the server ---- */

/* A server that starts a grandchild (sleep, its own stdio on /dev/null,
 * in the server's process group), writes its pid to the file argv[1]
 * before it answers anything, and exits with status 3 on tools/call: the
 * grandchild is an orphan of the group. */
static const char orphan_py[] =
	"import json, subprocess, sys, os\n"
	"kid = subprocess.Popen(['sleep', '300'], stdin=subprocess.DEVNULL,\n"
	"                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
	"with open(sys.argv[1], 'w') as f:\n"
	"    f.write('%d' % kid.pid)\n"
	"for line in sys.stdin:\n"
	"    msg = json.loads(line)\n"
	"    if 'id' not in msg or 'method' not in msg:\n"
	"        continue\n"
	"    if msg['method'] == 'tools/call':\n"
	"        os._exit(3)\n"
	"    result = {}\n"
	"    if msg['method'] == 'initialize':\n"
	"        result = {'protocolVersion': msg['params']['protocolVersion'],\n"
	"                  'capabilities': {}, 'serverInfo': {'name': 'o', 'version': '1'}}\n"
	"    sys.stdout.write(json.dumps({'jsonrpc': '2.0', 'id': msg['id'],\n"
	"                                 'result': result}) + '\\n')\n"
	"    sys.stdout.flush()\n";

/* The grandchild's pid, from the file the server wrote. */
static pid_t grandchild_pid(const char *file)
{
	FILE *f = fopen(file, "r");
	ck_assert_msg(f != NULL, "%s: %s", file, strerror(errno));
	long pid = 0;
	ck_assert_int_eq(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	ck_assert(pid > 0);
	return (pid_t)pid;
}

/* Whether pid is gone (or a zombie waiting for init). */
static bool process_gone(pid_t pid)
{
	char path[64], stat[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return true;
	size_t n = fread(stat, 1, sizeof stat - 1, f);
	fclose(f);
	stat[n] = '\0';
	const char *paren = strrchr(stat, ')');
	return paren && paren[1] == ' ' && paren[2] == 'Z';
}

/* Wait (up to 30 s, the test then fails) for pid to be gone. */
static bool wait_gone(pid_t pid)
{
	for (int i = 0; i < 3000; i++) {
		if (process_gone(pid))
			return true;
		struct timespec pause = { 0, 10 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
	return false;
}

START_TEST(server_info_never_skips_the_group_signal)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp_options o;
	ck_assert_int_eq(cog_mcp_options_init(&o, COG_MCP_OPTIONS_VERSION), COG_OK);
	char file[4096];
	snprintf(file, sizeof file, "%s/grandchild", tmp_dir_make("mcp-orphan-"));
	const char *argv[] = { "python3", "-c", orphan_py, file, NULL };
	o.name = "orphans";
	o.argv = argv;
	cog_mcp *m = mcp_test_connect(ctx, &o);
	pid_t kid = grandchild_pid(file);
	ck_assert(!process_gone(kid));
	/* The server exits during the call; cog_mcp_server_info, asked over
	 * and over meanwhile, only looks: the reader reaps it and ends its
	 * group. */
	int rc = mcp_test_call(m, "exit", "{}", 30000, NULL);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "%d %s", rc, cog_error_last());
	bool running = true;
	for (int i = 0; i < 200 && running; i++)
		mcp_test_server_pid(m, &running);
	ck_assert(!running);
	ck_assert_msg(wait_gone(kid), "grandchild %d survived its server", (int)kid);
	char *info = NULL;
	ck_assert_int_eq(cog_mcp_server_info(m, &info), COG_OK);
	ck_assert_msg(strstr(info, "\"exit_status\":3") != NULL, "%s", info);
	cog_free(info);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);

	/* Close: the server exits when its stdin ends; its group is ended
	 * all the same. */
	log = mcp_test_log_new();
	ctx = mcp_test_ctx(log);
	m = mcp_test_connect(ctx, &o);
	kid = grandchild_pid(file);
	pid_t pid = mcp_test_server_pid(m, NULL);
	cog_mcp_close(m);
	mcp_test_assert_reaped(pid);
	ck_assert_msg(wait_gone(kid), "grandchild %d survived close", (int)kid);
	tmp_dir_remove();
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

static Suite *stdio_suite(void)
{
	Suite *s = suite_create("mcp-stdio");
	TCase *tc = tcase_create("stdio");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, everything_echo_env_stderr);
	tcase_add_test(tc, fault_cwd_and_stderr_lines);
	tcase_add_test(tc, closed_stdin_is_not_sigpipe);
	tcase_add_test(tc, missing_program);
	tcase_add_test(tc, server_info_never_skips_the_group_signal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return mcp_test_run(stdio_suite());
}
