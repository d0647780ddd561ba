/*
 * The stdio transport through the public API, its faults (most from our
 * own server, tests/peers/mcp_fault.py): a server that exits in the middle
 * of a call (and the restart), lines that are not JSON, a server that
 * never answers, a flood of notifications held back by the pipe (the
 * server blocks; our memory stays bounded), a line over max_message_bytes,
 * and close while a call is in flight. The basics: test_mcp_stdio.c; a
 * full pipe to the server (cancel mid-write, notifications/cancelled
 * waiting for the server to read): test_mcp_stdio_pipes.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "mcp_test.h"

START_TEST(exit_mid_call_then_restart)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	const char *flags[] = { "--exit-on-call", NULL };
	cog_mcp_options o;
	mcp_test_fault_options(&o, flags);
	o.max_restarts = 1;
	cog_mcp *m = mcp_test_connect(ctx, &o);
	pid_t first = mcp_test_server_pid(m, NULL);

	int rc = mcp_test_call(m, "echo", "{\"message\":\"x\"}", 30000, NULL);
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
	pid_t second = mcp_test_server_pid(m, NULL);
	ck_assert_int_ne(first, second);
	mcp_test_assert_reaped(first);

	/* It dies again; no restarts are left. */
	rc = mcp_test_call(m, "echo", "{\"message\":\"x\"}", 30000, NULL);
	ck_assert_int_eq(rc, COG_EUNAVAILABLE);
	rc = cog_mcp_request(m, "ping", NULL, 30000, &result);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "%d %s", rc, cog_error_last());
	cog_mcp_close(m);
	mcp_test_assert_reaped(second);
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
	mcp_test_fault_options(&o, flags);
	cog_mcp *m = mcp_test_connect(ctx, &o);
	for (int i = 0; i < 5; i++) {
		char *text = NULL;
		int rc = mcp_test_call(m, "echo", "{\"message\":\"through garbage\"}", 30000, &text);
		ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
		ck_assert_str_eq(text, "Echo: through garbage");
		free(text);
	}
	ck_assert(mcp_test_log_wait(log, "garbage line 0: this is not JSON", 5000));
	/* After the first few, only counts. */
	ck_assert(mcp_test_log_wait(log, "lines that are not JSON-RPC skipped so far", 5000));
	/* The messages name the server in their text. */
	ck_assert(mcp_test_log_wait(log, "server \\\"fault\\\" wrote a line that is not "
	                            "JSON-RPC", 5000));
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
	mcp_test_fault_options(&o, flags);
	cog_mcp *m = mcp_test_connect(ctx, &o);
	int rc = mcp_test_call(m, "echo", "{\"message\":\"x\"}", 300, NULL);
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
} flood_watch;

static flood_watch watch = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0 };

/* The most the server's stdout pipe (a default pipe) can hold: what
 * F_GETPIPE_SZ says of a new pipe here, or the kernel's default of 16
 * pages if that is more (a user over pipe-user-pages-soft gets smaller
 * new pipes than the server's may be). Not pipe-max-size: only
 * F_SETPIPE_SZ grows a pipe to it, and no one does here. */
static long long pipe_capacity(void)
{
	long long most = 16LL * sysconf(_SC_PAGESIZE);
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	int size = fcntl(fds[0], F_GETPIPE_SZ);
	ck_assert_msg(size > 0, "F_GETPIPE_SZ: %s", strerror(errno));
	if (size > most)
		most = size;
	close(fds[0]);
	close(fds[1]);
	return most;
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
	mcp_test_fault_options(&o, flags);
	cog_mcp *m = mcp_test_connect(ctx, &o);
	pthread_mutex_lock(&watch.lock);
	watch.server = mcp_test_server_pid(m, NULL);
	pthread_mutex_unlock(&watch.lock);

	char *text = NULL;
	int rc = mcp_test_call(m, "echo", "{\"message\":\"after the flood\"}", 600000, &text);
	ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
	ck_assert_str_eq(text, "Echo: after the flood");
	free(text);
	cog_mcp_close(m);   /* drains the queue: every record was logged */

	pthread_mutex_lock(&watch.lock);
	ck_assert_int_eq(watch.seen, 20000);
	ck_assert_int_eq(watch.checked_at, 5000);
	/* When 5000 records had been logged, the server had written at most
	 * those, what the dispatch queue (256) and the threads (a few) hold,
	 * what the pipe holds, our read buffer (64 KiB) and one partial line:
	 * it was blocked in write(). A record is ~1.1 KiB (1200 bytes is
	 * generous). Without back-pressure it would have written all 20000
	 * (22 MB) long before. No timing and no RSS: wchar counts what the
	 * server was let write. */
	long long bound = (5000LL + 256 + 16) * 1200 + pipe_capacity() + 2 * 65536;
	ck_assert_msg(bound < 20000LL * 1100, "the bound %lld would not tell", bound);
	ck_assert_msg(watch.server_wrote > 0 && watch.server_wrote < bound,
	              "server wrote %lld bytes by record 5000 (bound %lld)",
	              watch.server_wrote, bound);
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
	mcp_test_fault_options(&o, flags);
	o.max_message_bytes = 65536;
	cog_mcp *m = mcp_test_connect(ctx, &o);
	for (int i = 0; i < 2; i++) {
		char *text = NULL;
		int rc = mcp_test_call(m, "echo", "{\"message\":\"small\"}", 30000, &text);
		ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
		ck_assert_str_eq(text, "Echo: small");
		free(text);
	}
	ck_assert(mcp_test_log_wait(log, "server \\\"fault\\\" sent a message of 3000000 bytes, "
	                            "over max_message_bytes", 5000));
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

typedef struct inflight {
	cog_mcp *m;
	int rc;
} inflight;

static void *slow_call(void *arg)
{
	inflight *c = arg;
	c->rc = mcp_test_call(c->m, "slow", "{\"ms\":20000}", 60000, NULL);
	return NULL;
}

START_TEST(close_with_call_in_flight)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp_options o;
	mcp_test_fault_options(&o, NULL);
	cog_mcp *m = mcp_test_connect(ctx, &o);
	pid_t pid = mcp_test_server_pid(m, NULL);
	inflight c = { m, 0 };
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, slow_call, &c), 0);
	/* The server says so on its stderr once the call is running. */
	ck_assert(mcp_test_log_wait(log, "slow: sleeping 20000 ms", 30000));
	cog_mcp_close(m);
	pthread_join(t, NULL);
	ck_assert_msg(c.rc == COG_ECANCELED || c.rc == COG_EUNAVAILABLE, "%d", c.rc);
	mcp_test_assert_reaped(pid);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

static Suite *stdio_faults_suite(void)
{
	Suite *s = suite_create("mcp-stdio-faults");
	TCase *tc = tcase_create("faults");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, exit_mid_call_then_restart);
	tcase_add_test(tc, garbage_lines_are_skipped);
	tcase_add_test(tc, silent_server_times_out);
	tcase_add_test(tc, flood_is_held_back_by_the_pipe);
	tcase_add_test(tc, huge_line_is_dropped);
	tcase_add_test(tc, close_with_call_in_flight);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return mcp_test_run(stdio_faults_suite());
}
