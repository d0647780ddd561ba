/*
 * MCP servers that crash and connections that restart, through the public
 * API, against our fault servers (tests/peers/mcp_fault.py over stdio,
 * mcp_fault_http.py over HTTP): a crashed server started again while
 * restarts remain (the registry follows the new process), sends racing
 * restarts from many threads, close while threads call its tools, an
 * expired HTTP session initialized again, and requests failed by a crash
 * never reaching the next process. Real pipes, real libcurl.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "mcp_test.h"

#define THREADS 8

/* Our fault server named `name`, crashing at every tools/call, with
 * `extra` (NULL or a flag) and max_restarts; the test fails unless it
 * connects. */
static cog_mcp *connect_crashy(cog_ctx *ctx, const char *name, const char *extra,
                               unsigned int max_restarts)
{
	const char *const flags[] = { "--exit-on-call", extra, NULL };
	cog_mcp_options o;
	mcp_test_fault_options(&o, flags);
	o.name = name;
	o.max_restarts = max_restarts;
	return mcp_test_connect(ctx, &o);
}

/* A log hook that counts the tools/list requests the fault server says it
 * received (--say-received), then keeps the record. */
static atomic_int tools_lists;

static void count_tools_lists(int level, const char *line, void *user_data)
{
	if (strstr(line, "received: tools/list"))
		atomic_fetch_add(&tools_lists, 1);
	mcp_test_log_fn(level, line, user_data);
}

/* Wait (up to 30 s) until n tools/list were seen. */
static bool wait_tools_lists(int n)
{
	for (int i = 0; i < 3000 && atomic_load(&tools_lists) < n; i++) {
		struct timespec ts = { 0, 10 * 1000000L };
		nanosleep(&ts, NULL);
	}
	return atomic_load(&tools_lists) >= n;
}

START_TEST(a_crashed_server_is_restarted_while_restarts_remain)
{
	mcp_test_log *log = mcp_test_log_new();
	atomic_store(&tools_lists, 0);
	cog_ctx *ctx = mcp_test_ctx_log_fn(COG_LOG_DEBUG, count_tools_lists, log);
	cog_mcp *m = connect_crashy(ctx, "crashy", "--say-received", 1);
	ck_assert_msg(cog_mcp_define_tools(m, NULL, 0) == COG_OK, "%s", cog_error_last());
	ck_assert(wait_tools_lists(1));

	int rc;
	char *result = mcp_test_call_result(m, "echo", "{\"message\":\"x\"}", 0, &rc);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "%d %s", rc, cog_error_last());
	ck_assert_ptr_null(result);
	/* The next request starts it again. */
	ck_assert_msg(cog_mcp_request(m, "ping", NULL, 0, &result) == COG_OK, "%s",
	              cog_error_last());
	cog_free(result);
	char *info = NULL;
	ck_assert_int_eq(cog_mcp_server_info(m, &info), COG_OK);
	ck_assert_msg(strstr(info, "\"restarts\":1") && strstr(info, "\"connected\":true"),
	              "%s", info);
	cog_free(info);
	ck_assert(mcp_test_log_wait(log, "restarting server \\\"crashy\\\"", 0));
	/* The registry follows the new process: its tools are listed again. */
	ck_assert_msg(wait_tools_lists(2), "no tools/list after the restart");

	/* Dies again: no restart left. */
	result = mcp_test_call_result(m, "echo", "{\"message\":\"y\"}", 0, &rc);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "%d %s", rc, cog_error_last());
	ck_assert_int_eq(cog_mcp_request(m, "ping", NULL, 0, &result), COG_EUNAVAILABLE);
	ck_assert_msg(strstr(cog_error_last(), "no restarts left") != NULL, "%s",
	              cog_error_last());
	ck_assert_int_eq(cog_mcp_notify(m, "notifications/x", NULL), COG_EUNAVAILABLE);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

/* ---- sends against restarts and close ---- */

typedef struct storm {
	cog_mcp *m;
	cog_ctx *ctx;
	int thread;
	atomic_int *done;
	int ok, down;
	char failure[512];
} storm;

/* Thread 0 kills the server (--exit-on-call) now and then; the others ping
 * and notify meanwhile, racing the stop and start of each restart. */
static void *storm_main(void *arg)
{
	storm *s = arg;
	for (int i = 0; s->thread == 0 ? i < 120 : !atomic_load(s->done); i++) {
		char *result = NULL;
		int rc;
		if (s->thread == 0 && i % 10 == 9)
			result = mcp_test_call_result(s->m, "echo", "{\"message\":\"die\"}", 10000, &rc);
		else if (i % 2)
			rc = cog_mcp_notify(s->m, "notifications/roots/list_changed", NULL);
		else
			rc = cog_mcp_request(s->m, "ping", NULL, 10000, &result);
		cog_free(result);
		if (rc == COG_OK) {
			s->ok++;
		} else if (rc == COG_EUNAVAILABLE || rc == COG_ECANCELED) {
			s->down++;
		} else {
			snprintf(s->failure, sizeof(s->failure), "%d: %d %s", i, rc, cog_error_last());
			break;
		}
	}
	if (s->thread == 0)
		atomic_store(s->done, 1);
	return NULL;
}

/* THREADS threads running fn, each on its storm (thread i, m, ctx, done). */
static void storm_start(storm *jobs, pthread_t *threads, cog_mcp *m, cog_ctx *ctx,
                        atomic_int *done, void *(*fn)(void *))
{
	for (int i = 0; i < THREADS; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].m = m;
		jobs[i].ctx = ctx;
		jobs[i].thread = i;
		jobs[i].done = done;
		ck_assert_int_eq(pthread_create(&threads[i], NULL, fn, &jobs[i]), 0);
	}
}

START_TEST(sends_race_restarts_safely)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = connect_crashy(ctx, "storm", NULL, 8);
	atomic_int done;
	atomic_init(&done, 0);
	storm jobs[THREADS];
	pthread_t threads[THREADS];
	storm_start(jobs, threads, m, ctx, &done, storm_main);
	int ok = 0, down = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(threads[i], NULL);
		ck_assert_msg(jobs[i].failure[0] == '\0', "thread %d: %s", i, jobs[i].failure);
		ok += jobs[i].ok;
		down += jobs[i].down;
	}
	char *info = NULL;
	ck_assert_int_eq(cog_mcp_server_info(m, &info), COG_OK);
	ck_assert_msg(strstr(info, "\"restarts\":8") != NULL, "%s", info);
	cog_free(info);
	ck_assert_int_gt(ok, 0);
	ck_assert_int_gt(down, 0);
	printf("mcp-restarts: restart storm: %d sends ok, %d refused while down\n", ok, down);
	fflush(stdout);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
}
END_TEST

static void *call_until_closed(void *arg)
{
	storm *s = arg;
	for (;;) {
		char *result = NULL;
		int rc = cog_tool_call(s->ctx, "fault__slow", "{\"ms\":5}", NULL, &result);
		cog_free(result);
		if (rc != COG_OK) {
			if (rc != COG_ENOTFOUND && rc != COG_EUNAVAILABLE && rc != COG_ECANCELED)
				snprintf(s->failure, sizeof(s->failure), "%d %s", rc, cog_error_last());
			return NULL;
		}
		atomic_fetch_add(s->done, 1);
	}
}

START_TEST(close_while_threads_call_its_tools)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	const char *const quiet[] = { "--stderr-lines", "0", NULL };
	cog_mcp *m = mcp_test_connect_fault(ctx, quiet, NULL, NULL);
	ck_assert_msg(cog_mcp_define_tools(m, NULL, 0) == COG_OK, "%s", cog_error_last());
	atomic_int calls;
	atomic_init(&calls, 0);
	storm jobs[THREADS];
	pthread_t threads[THREADS];
	storm_start(jobs, threads, m, ctx, &calls, call_until_closed);
	while (atomic_load(&calls) < 4 * THREADS) {
		struct timespec ts = { 0, 2 * 1000000L };
		nanosleep(&ts, NULL);
	}
	cog_mcp_close(m);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(threads[i], NULL);
		ck_assert_msg(jobs[i].failure[0] == '\0', "thread %d: %s", i, jobs[i].failure);
	}
	cog_ctx_free(ctx);
}
END_TEST

/* ---- HTTP: an expired session is initialized again ---- */

START_TEST(an_expired_http_session_is_initialized_again)
{
	const char *const expire[] = { "--expire-session", NULL };
	char url[512];
	peer *server = mcp_test_start_fault_http(url, sizeof(url), expire);

	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp_options o = COG_MCP_OPTIONS_INIT;
	o.name = "web";
	o.url = url;
	o.max_restarts = 0;   /* the spec's new session needs none */
	o.flags = COG_MCP_NO_GET_STREAM;
	cog_mcp *m = NULL;
	ck_assert_msg(cog_mcp_connect(&m, ctx, &o) == COG_OK, "%s", cog_error_last());
	char *first_session = mcp_test_session_id(m);

	int rc;
	char *result = mcp_test_call_result(m, "echo", "{\"message\":\"one\"}", 0, &rc);
	ck_assert_msg(rc == COG_OK, "%s", cog_error_last());
	cog_free(result);
	/* The second call finds the session expired (404)... */
	result = mcp_test_call_result(m, "echo", "{\"message\":\"two\"}", 0, &rc);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "%d %s", rc, cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), "session expired") != NULL, "%s", cog_error_last());
	/* ...and the next request initializes a new one. */
	result = mcp_test_call_result(m, "echo", "{\"message\":\"three\"}", 0, &rc);
	ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
	char *text = mcp_test_first_text(result);
	ck_assert_str_eq(text, "Echo: three");
	free(text);
	cog_free(result);
	ck_assert(mcp_test_log_wait(log, "initializing a new session with server \\\"web\\\"", 0));
	ck_assert(mcp_test_log_wait(log, "not counted against max_restarts", 0));
	char *info = NULL;
	ck_assert_int_eq(cog_mcp_server_info(m, &info), COG_OK);
	cJSON *j = cJSON_Parse(info);
	ck_assert_msg(cJSON_IsTrue(cJSON_GetObjectItem(j, "connected")), "%s", info);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "restarts")->valueint, 1);
	const char *second = cJSON_GetObjectItem(j, "session_id")->valuestring;
	ck_assert_msg(second && strcmp(second, first_session) != 0, "%s", info);
	cJSON_Delete(j);
	cog_free(info);
	free(first_session);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
	peer_stop(server);
}
END_TEST

/* ---- a request failed by a crash never reaches the next process ---- */

/* What the fault servers said they received (--say-received), in order
 * (one stderr reader per process: each process's lines keep their order). */
static pthread_mutex_t received_lock = PTHREAD_MUTEX_INITIALIZER;

static char received_text[4 << 20];
static size_t received_len;
static bool received_overflow;

/* Keeps "<pid> <method> <params>" of each line (params up to 60 bytes:
 * the cursors fit). */
static void keep_received(int level, const char *line, void *user_data)
{
	const char *r = strstr(line, "received: ");
	const char *pid = r ? strstr(r, "(pid ") : NULL;
	if (pid) {
		r += strlen("received: ");
		int len = (int)(pid - r) > 60 ? 60 : (int)(pid - r);
		pthread_mutex_lock(&received_lock);
		size_t room = sizeof(received_text) - received_len;
		int n = snprintf(received_text + received_len, room, "%d %.*s\n",
		                 atoi(pid + strlen("(pid ")), len, r);
		if (n > 0 && (size_t)n < room)
			received_len += (size_t)n;
		else
			received_overflow = true;
		pthread_mutex_unlock(&received_lock);
	}
	mcp_test_log_fn(level, line, user_data);
}

typedef struct {
	cog_mcp *m;
	int thread;
	atomic_int *done;
	int failed;                  /* tools/list calls told EUNAVAILABLE */
	char failed_ids[64][32];     /* their cursors (the first 64) */
	char failure[512];
} lister;

/* Thread 0 crashes the server (every tools/call does) until no restart is
 * left; the others list tools meanwhile, each request marked by its cursor
 * ("t<thread>-<i>", which the fault server ignores). */
static void *crash_or_list(void *arg)
{
	lister *l = arg;
	for (int i = 0; l->thread == 0 || !atomic_load(l->done); i++) {
		char *result = NULL;
		int rc;
		if (l->thread == 0) {
			result = mcp_test_call_result(l->m, "echo", "{\"message\":\"die\"}", 10000, &rc);
			cog_free(result);
			if (rc == COG_EUNAVAILABLE && strstr(cog_error_last(), "no restarts left"))
				break;
			continue;
		}
		char params[64];
		snprintf(params, sizeof(params), "{\"cursor\":\"t%d-%d\"}", l->thread, i);
		rc = cog_mcp_request(l->m, "tools/list", params, 10000, &result);
		cog_free(result);
		if (rc == COG_EUNAVAILABLE) {
			if (l->failed < 64)
				snprintf(l->failed_ids[l->failed], sizeof(l->failed_ids[0]),
				         "\"t%d-%d\"", l->thread, i);
			l->failed++;
		} else if (rc != COG_OK && rc != COG_ECANCELED) {
			snprintf(l->failure, sizeof(l->failure), "%d: %d %s", i, rc,
			         cog_error_last());
			break;
		}
	}
	if (l->thread == 0)
		atomic_store(l->done, 1);
	return NULL;
}

/* Each process (pid) heard initialize first, then notifications/initialized,
 * before anything else. */
static void assert_initialize_first(void)
{
	ck_assert_msg(!received_overflow, "too many lines to keep");
	int pids[64];
	int seen[64] = { 0 };
	size_t npids = 0;
	char *save = NULL;
	for (char *line = strtok_r(received_text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		int pid = atoi(line);
		const char *what = strchr(line, ' ');
		ck_assert_msg(pid > 0 && what, "bad line %s", line);
		what++;
		size_t k = 0;
		while (k < npids && pids[k] != pid)
			k++;
		if (k == npids) {
			ck_assert_uint_lt(npids, 64);
			pids[npids++] = pid;
		}
		const char *want = seen[k] == 0 ? "initialize " :
			seen[k] == 1 ? "notifications/initialized " : NULL;
		ck_assert_msg(!want || strncmp(what, want, strlen(want)) == 0,
		              "process %d heard \"%s\" before its handshake ended", pid, what);
		seen[k]++;
	}
	ck_assert_uint_ge(npids, 2);
}

START_TEST(requests_failed_by_a_crash_never_reach_the_next_process)
{
	mcp_test_log *log = mcp_test_log_new();
	received_len = 0;
	received_overflow = false;
	received_text[0] = '\0';
	cog_ctx *ctx = mcp_test_ctx_log_fn(COG_LOG_DEBUG, keep_received, log);
	cog_mcp *m = connect_crashy(ctx, "crashy", "--say-received", 6);
	atomic_int done;
	atomic_init(&done, 0);
	static lister jobs[THREADS];
	pthread_t threads[THREADS];
	for (int i = 0; i < THREADS; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].m = m;
		jobs[i].thread = i;
		jobs[i].done = &done;
		ck_assert_int_eq(pthread_create(&threads[i], NULL, crash_or_list, &jobs[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	/* Every process has exited and its stderr was read to the end. */
	cog_mcp_close(m);
	int failed = 0;
	for (int i = 0; i < THREADS; i++) {
		ck_assert_msg(jobs[i].failure[0] == '\0', "thread %d: %s", i, jobs[i].failure);
		failed += jobs[i].failed;
		/* A server that heard a tools/list answered it before it could
		 * die: a caller told it failed must not have been heard. */
		for (int k = 0; k < jobs[i].failed && k < 64; k++)
			ck_assert_msg(strstr(received_text, jobs[i].failed_ids[k]) == NULL,
			              "tools/list %s was reported failed, yet a server received "
			              "it", jobs[i].failed_ids[k]);
	}
	assert_initialize_first();
	printf("mcp-restarts: crash storm: %d tools/list failed by crashes, none heard\n", failed);
	fflush(stdout);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

static Suite *mcp_restarts_suite(void)
{
	Suite *s = suite_create("mcp-restarts");
	TCase *tc = tcase_create("restarts");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, a_crashed_server_is_restarted_while_restarts_remain);
	tcase_add_test(tc, sends_race_restarts_safely);
	tcase_add_test(tc, close_while_threads_call_its_tools);
	tcase_add_test(tc, an_expired_http_session_is_initialized_again);
	tcase_add_test(tc, requests_failed_by_a_crash_never_reach_the_next_process);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return mcp_test_run(mcp_restarts_suite());
}
