/*
 * The stdio transport through the public API: server-everything over real
 * pipes (a tool call, the environment reaching the server, its stderr in
 * the log hook, the child reaped at close), and the working directory and
 * the faults of our own server (tests/peers/mcp_fault.py): a server that
 * exits in the middle of a call (and the restart), lines that are not
 * JSON, a server that never answers, a flood of notifications held back
 * by the pipe (the server blocks; our memory stays bounded), a line over
 * max_message_bytes, a program that does not exist, a server that closes
 * its stdin (no SIGPIPE), and close while a call is in flight.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "mcp_test.h"
#include "test_tmp.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static cog_mcp *connect_with(cog_ctx *ctx, cog_mcp_options *o)
{
	cog_mcp *m = NULL;
	int rc = cog_mcp_connect(&m, ctx, o);
	ck_assert_msg(rc == COG_OK, "connect: %d %s", rc, cog_error_last());
	ck_assert_ptr_nonnull(m);
	return m;
}

/* Options for the fault server with `flags` (up to 6, NULL-terminated). */
static const char *fault_argv[10];
static char fault_path[4096];

static void fault_options(cog_mcp_options *o, const char *const *flags)
{
	ck_assert_int_eq(cog_mcp_options_init(o, COG_MCP_OPTIONS_VERSION), COG_OK);
	mcp_test_peer_file(fault_path, sizeof fault_path, "mcp_fault.py");
	size_t n = 0;
	fault_argv[n++] = "python3";
	fault_argv[n++] = fault_path;
	for (; flags && *flags && n < 9; flags++)
		fault_argv[n++] = *flags;
	fault_argv[n] = NULL;
	o->name = "fault";
	o->argv = fault_argv;
}

/* The text of a CallToolResult's first content item (a copy to free()). */
static char *first_text(const char *result_json)
{
	cJSON *r = cJSON_Parse(result_json);
	ck_assert_msg(r != NULL, "not JSON: %s", result_json);
	cJSON *item = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "content"), 0);
	cJSON *text = cJSON_GetObjectItemCaseSensitive(item, "text");
	ck_assert_msg(cJSON_IsString(text), "no text content in %s", result_json);
	char *copy = strdup(text->valuestring);
	cJSON_Delete(r);
	return copy;
}

static int call(cog_mcp *m, const char *tool, const char *args_json,
                unsigned int timeout_ms, char **text)
{
	char params[1024];
	snprintf(params, sizeof params, "{\"name\":\"%s\",\"arguments\":%s}", tool, args_json);
	char *result = NULL;
	int rc = cog_mcp_request(m, "tools/call", params, timeout_ms, &result);
	if (text)
		*text = rc == COG_OK ? first_text(result) : NULL;
	cog_free(result);
	return rc;
}

/* The server's pid and whether it runs, from cog_mcp_server_info. */
static pid_t server_pid(cog_mcp *m, bool *running)
{
	char *json = NULL;
	ck_assert_int_eq(cog_mcp_server_info(m, &json), COG_OK);
	cJSON *info = cJSON_Parse(json);
	ck_assert_ptr_nonnull(info);
	cJSON *pid = cJSON_GetObjectItemCaseSensitive(info, "pid");
	ck_assert_msg(cJSON_IsNumber(pid), "no pid in %s", json);
	if (running)
		*running = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(info, "running"));
	pid_t p = (pid_t)pid->valuedouble;
	cJSON_Delete(info);
	cog_free(json);
	return p;
}

/* After close, the child is reaped: no zombie is left. */
static void assert_reaped(pid_t pid)
{
	int status;
	errno = 0;
	ck_assert_int_eq(waitpid(pid, &status, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
}

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
	cog_mcp *m = connect_with(ctx, &o);
	bool running = false;
	pid_t pid = server_pid(m, &running);
	ck_assert(pid > 0);
	ck_assert(running);

	char *result = NULL;
	int rc = cog_mcp_call_tool(m, "echo", "{\"message\":\"over the pipe\"}", 0, &result);
	ck_assert_msg(rc == COG_OK, "echo: %d %s", rc, cog_error_last());
	ck_assert_msg(strstr(result, "Echo: over the pipe") != NULL, "%s", result);
	cog_free(result);

	char *text = NULL;
	rc = call(m, "get-env", "{}", 0, &text);
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
	assert_reaped(pid);
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
	fault_options(&o, flags);
	o.cwd = dir;
	cog_mcp *m = connect_with(ctx, &o);
	char *text = NULL;
	int rc = call(m, "cwd", "{}", 0, &text);
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

START_TEST(exit_mid_call_then_restart)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	const char *flags[] = { "--exit-on-call", NULL };
	cog_mcp_options o;
	fault_options(&o, flags);
	o.max_restarts = 1;
	cog_mcp *m = connect_with(ctx, &o);
	pid_t first = server_pid(m, NULL);

	int rc = call(m, "echo", "{\"message\":\"x\"}", 30000, NULL);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "%d %s", rc, cog_error_last());
	const char *why = cog_error_last();
	ck_assert_msg(strstr(why, "exited with status 3") != NULL, "%s", why);
	ck_assert_msg(strstr(why, "dying") != NULL, "%s", why);
	char *info = NULL;
	ck_assert_int_eq(cog_mcp_server_info(m, &info), COG_OK);
	ck_assert_msg(strstr(info, "\"running\":false") && strstr(info, "\"exit_status\":3"),
	              "%s", info);
	cog_free(info);
	/* Writing to a dead server is an error, never SIGPIPE. */
	for (int i = 0; i < 5; i++) {
		rc = cog_mcp_notify(m, "notifications/progress", NULL);
		ck_assert(rc == COG_OK || rc == COG_EUNAVAILABLE);
	}

	/* Restarted on the next request. */
	char *result = NULL;
	rc = cog_mcp_request(m, "tools/list", NULL, 30000, &result);
	ck_assert_msg(rc == COG_OK, "after restart: %d %s", rc, cog_error_last());
	ck_assert(strstr(result, "\"echo\"") != NULL);
	cog_free(result);
	pid_t second = server_pid(m, NULL);
	ck_assert_int_ne(first, second);
	assert_reaped(first);

	/* It dies again; no restarts are left. */
	rc = call(m, "echo", "{\"message\":\"x\"}", 30000, NULL);
	ck_assert_int_eq(rc, COG_EUNAVAILABLE);
	rc = cog_mcp_request(m, "ping", NULL, 30000, &result);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "%d %s", rc, cog_error_last());
	cog_mcp_close(m);
	assert_reaped(second);
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
	fault_options(&o, flags);
	cog_mcp *m = connect_with(ctx, &o);
	char *text = NULL;
	int rc = call(m, "echo", "{\"message\":\"last\"}", 30000, &text);
	ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
	free(text);
	ck_assert(mcp_test_log_wait(log, "stdin closed", 30000));
	rc = cog_mcp_notify(m, "notifications/progress", NULL);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "%d %s", rc, cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), "closed its standard input") != NULL, "%s",
	              cog_error_last());
	/* The connection is down (no restarts). */
	rc = call(m, "echo", "{\"message\":\"x\"}", 30000, NULL);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "%d %s", rc, cog_error_last());
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

START_TEST(garbage_lines_are_skipped)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	const char *flags[] = { "--garbage", "4", NULL };
	cog_mcp_options o;
	fault_options(&o, flags);
	cog_mcp *m = connect_with(ctx, &o);
	for (int i = 0; i < 5; i++) {
		char *text = NULL;
		int rc = call(m, "echo", "{\"message\":\"through garbage\"}", 30000, &text);
		ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
		ck_assert_str_eq(text, "Echo: through garbage");
		free(text);
	}
	ck_assert(mcp_test_log_wait(log, "garbage line 0: this is not JSON", 5000));
	/* After the first few, only counts. */
	ck_assert(mcp_test_log_wait(log, "lines that are not JSON-RPC skipped so far", 5000));
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

START_TEST(silent_server_times_out)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	const char *flags[] = { "--silent", NULL };
	cog_mcp_options o;
	fault_options(&o, flags);
	cog_mcp *m = connect_with(ctx, &o);
	int rc = call(m, "echo", "{\"message\":\"x\"}", 300, NULL);
	ck_assert_msg(rc == COG_ETIMEOUT, "%d %s", rc, cog_error_last());
	/* Still connected: a ping works. */
	char *result = NULL;
	ck_assert_int_eq(cog_mcp_request(m, "ping", NULL, 30000, &result), COG_OK);
	cog_free(result);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- flood ---- */

typedef struct flood_watch {
	pthread_mutex_t lock;
	pid_t server;
	long seen;                 /* flood records logged */
	long checked_at;           /* the record at which the server was checked */
	long long server_wrote;    /* its wchar then */
	long base_rss_kb, max_rss_kb;
} flood_watch;

static flood_watch watch = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0, 0 };

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = 0;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static long long wchar_of(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/io", (int)pid);
	FILE *f = fopen(path, "r");
	long long v = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "wchar: %lld", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

/* A slow log hook: the dispatch thread falls behind the server. */
static void slow_log(int level, const char *line, void *user_data)
{
	(void)level;
	(void)user_data;
	if (!strstr(line, "ffffffff"))
		return;
	struct timespec pause = { 0, 100 * 1000 };
	nanosleep(&pause, NULL);
	pthread_mutex_lock(&watch.lock);
	watch.seen++;
	if (watch.seen == 5000 && watch.server > 0) {
		watch.checked_at = watch.seen;
		watch.server_wrote = wchar_of(watch.server);
	}
	if (watch.seen % 500 == 0) {
		long kb = rss_kb();
		if (kb > watch.max_rss_kb)
			watch.max_rss_kb = kb;
	}
	pthread_mutex_unlock(&watch.lock);
}

START_TEST(flood_is_held_back_by_the_pipe)
{
	cog_ctx_options co = COG_CTX_OPTIONS_INIT;
	co.log_level = COG_LOG_INFO;
	co.log_fn = slow_log;
	cog_ctx *ctx = NULL;
	ck_assert_int_eq(cog_ctx_new(&ctx, &co), COG_OK);
	const char *flags[] = { "--flood", "20000", NULL };
	cog_mcp_options o;
	fault_options(&o, flags);
	cog_mcp *m = connect_with(ctx, &o);
	pthread_mutex_lock(&watch.lock);
	watch.server = server_pid(m, NULL);
	watch.base_rss_kb = watch.max_rss_kb = rss_kb();
	pthread_mutex_unlock(&watch.lock);

	char *text = NULL;
	int rc = call(m, "echo", "{\"message\":\"after the flood\"}", 600000, &text);
	ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
	ck_assert_str_eq(text, "Echo: after the flood");
	free(text);
	cog_mcp_close(m);   /* drains the queue: every record was logged */

	pthread_mutex_lock(&watch.lock);
	ck_assert_int_eq(watch.seen, 20000);
	ck_assert_int_eq(watch.checked_at, 5000);
	/* When 5000 records had been logged, the server had written at most
	 * those, what the queue (256), the pipe (64 KiB) and our read buffer
	 * (64 KiB) hold, and a little more: it was blocked in write(). Without
	 * back-pressure it would have written all 20 MB long before. */
	ck_assert_msg(watch.server_wrote > 0 && watch.server_wrote < 7000LL * 1100,
	              "server wrote %lld bytes by record 5000", watch.server_wrote);
	if (!UNDER_ASAN)   /* ASan's quarantine keeps freed memory resident */
		ck_assert_msg(watch.max_rss_kb - watch.base_rss_kb < 12 * 1024,
		              "RSS grew from %ld to %ld kB", watch.base_rss_kb, watch.max_rss_kb);
	pthread_mutex_unlock(&watch.lock);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(huge_line_is_dropped)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	const char *flags[] = { "--huge-line", "3000000", NULL };
	cog_mcp_options o;
	fault_options(&o, flags);
	o.max_message_bytes = 65536;
	cog_mcp *m = connect_with(ctx, &o);
	for (int i = 0; i < 2; i++) {
		char *text = NULL;
		int rc = call(m, "echo", "{\"message\":\"small\"}", 30000, &text);
		ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
		ck_assert_str_eq(text, "Echo: small");
		free(text);
	}
	ck_assert(mcp_test_log_wait(log, "message of 3000000 bytes, over max_message_bytes", 5000));
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

typedef struct inflight {
	cog_mcp *m;
	int rc;
} inflight;

static void *slow_call(void *arg)
{
	inflight *c = arg;
	c->rc = call(c->m, "slow", "{\"ms\":20000}", 60000, NULL);
	return NULL;
}

START_TEST(close_with_call_in_flight)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp_options o;
	fault_options(&o, NULL);
	cog_mcp *m = connect_with(ctx, &o);
	pid_t pid = server_pid(m, NULL);
	inflight c = { m, 0 };
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, slow_call, &c), 0);
	/* The server says so on its stderr once the call is running. */
	ck_assert(mcp_test_log_wait(log, "slow: sleeping 20000 ms", 30000));
	cog_mcp_close(m);
	pthread_join(t, NULL);
	ck_assert_msg(c.rc == COG_ECANCELED || c.rc == COG_EUNAVAILABLE, "%d", c.rc);
	assert_reaped(pid);
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
	tcase_add_test(tc, exit_mid_call_then_restart);
	tcase_add_test(tc, closed_stdin_is_not_sigpipe);
	tcase_add_test(tc, garbage_lines_are_skipped);
	tcase_add_test(tc, silent_server_times_out);
	tcase_add_test(tc, flood_is_held_back_by_the_pipe);
	tcase_add_test(tc, huge_line_is_dropped);
	tcase_add_test(tc, missing_program);
	tcase_add_test(tc, close_with_call_in_flight);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(stdio_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
