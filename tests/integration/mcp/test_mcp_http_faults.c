/*
 * The MCP client over streamable HTTP, through libcurl, against
 * tests/peers/mcp_fault_http.py for the faults a real server does not
 * produce on demand: a bearer token required, a GET stream that drops, a
 * request's stream that drops before its answer, a session that expires
 * (and the restart), a call that only a cancel ends, a request answered
 * without a body, a notification answered with a stream, an initialize
 * stream kept open, an error answer with events, a long event id. The
 * server-everything tests: test_mcp_http.c. Public API only.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <cognition.h>

#include "mcp_test.h"
#include "peer.h"

static peer *server;
static char url[512];

/* ---- the fault server, with the flags of each case ---- */

static void fault_up(const char *const *flags)
{
	server = mcp_test_start_fault_http(url, sizeof(url), flags);
}

static void server_down(void)
{
	peer_stop(server);
	server = NULL;
}

static const char *const bearer_flags[] = { "--require-bearer", "s3cret", NULL };
static const char *const drop_get_flags[] = { "--drop-get-after", "3", NULL };
static const char *const drop_post_flags[] = { "--drop-post-before-answer", NULL };
static const char *const expire_flags[] = { "--expire-session", NULL };
static const char *const empty202_flags[] = { "--empty-answer", "202", NULL };
static const char *const empty200_flags[] = { "--empty-answer", "200", NULL };

static void bearer_up(void) { fault_up(bearer_flags); }
static void drop_get_up(void) { fault_up(drop_get_flags); }
static void drop_post_up(void) { fault_up(drop_post_flags); }
static void expire_up(void) { fault_up(expire_flags); }
static void plain_fault_up(void) { fault_up(NULL); }
static void empty202_up(void) { fault_up(empty202_flags); }
static void empty200_up(void) { fault_up(empty200_flags); }
static const char *const busy_flags[] = { "--busy-answers", "300", NULL };
static const char *const init_open_flags[] = { "--init-stream-open", NULL };
static const char *const error_events_flags[] = { "--error-events", NULL };
static const char *const long_id_flags[] = { "--drop-post-before-answer",
                                             "--long-event-id", NULL };
static void busy_up(void) { fault_up(busy_flags); }
static void init_open_up(void) { fault_up(init_open_flags); }
static void error_events_up(void) { fault_up(error_events_flags); }
static void long_id_up(void) { fault_up(long_id_flags); }

/* ---- the faults ---- */

START_TEST(test_bearer_token)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp_options o = COG_MCP_OPTIONS_INIT;
	o.name = "web";
	o.url = url;
	cog_mcp *m = NULL;
	ck_assert_int_eq(cog_mcp_connect(&m, ctx, &o), COG_EDENIED);
	ck_assert_msg(strstr(cog_error_last(), "401") != NULL, "%s", cog_error_last());
	o.bearer_token = "wrong";
	ck_assert_int_eq(cog_mcp_connect(&m, ctx, &o), COG_EDENIED);

	m = mcp_test_http_connect(ctx, url, "s3cret");
	char *r = mcp_test_call_json(m, "echo", "{\"message\":\"with a token\"}");
	ck_assert_msg(strstr(r, "Echo: with a token") != NULL, "%s", r);
	cog_free(r);
	cog_mcp_close(m);

	cJSON *stats = mcp_test_fault_stats(ctx, server);
	/* initialize, notifications/initialized, tools/list?, tools/call: all
	 * with the token; the two refused connects before. */
	ck_assert_int_ge(mcp_test_stats_count(stats, "authorization", "Bearer s3cret"), 3);
	ck_assert_int_eq(mcp_test_stats_count(stats, "authorization", "Bearer wrong"), 1);
	ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(stats, "deletes")->valueint, 1);
	cJSON_Delete(stats);
	cog_ctx_free(ctx);
}
END_TEST

/* A log hook counting the lines that hold each "tick-NNN". */
#define TICKS 6
typedef struct tick_log {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int seen[TICKS + 1];
} tick_log;

static void tick_log_fn(int level, const char *line, void *user_data)
{
	(void)level;
	tick_log *t = user_data;
	const char *at = strstr(line, "tick-");
	if (!at)
		return;
	int n = atoi(at + 5);
	pthread_mutex_lock(&t->lock);
	if (n >= 1 && n <= TICKS)
		t->seen[n]++;
	else
		t->seen[0]++;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

START_TEST(test_get_stream_resumes)
{
	tick_log t;
	memset(&t, 0, sizeof(t));
	pthread_mutex_init(&t.lock, NULL);
	pthread_cond_init(&t.cond, NULL);
	cog_ctx *ctx = mcp_test_ctx_log_fn(COG_LOG_DEBUG, tick_log_fn, &t);

	cog_mcp *m = mcp_test_http_connect(ctx, url, NULL);
	/* The server drops the stream after 3 events; the client comes back
	 * with Last-Event-ID g3 and gets 4..6. Wait (bounded) for the last. */
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 20;
	pthread_mutex_lock(&t.lock);
	while (t.seen[TICKS] == 0 &&
	       pthread_cond_timedwait(&t.cond, &t.lock, &until) == 0)
		;
	pthread_mutex_unlock(&t.lock);
	char *info = NULL;
	ck_assert_int_eq(cog_mcp_server_info(m, &info), 0);
	ck_assert_msg(strstr(info, "\"reconnects\":") != NULL, "%s", info);
	cog_free(info);
	cog_mcp_close(m);

	pthread_mutex_lock(&t.lock);
	for (int i = 1; i <= TICKS; i++)
		ck_assert_msg(t.seen[i] == 1, "tick-%03d reached the log %d times", i,
		              t.seen[i]);
	ck_assert_int_eq(t.seen[0], 0);
	pthread_mutex_unlock(&t.lock);

	cJSON *stats = mcp_test_fault_stats(ctx, server);
	ck_assert_int_eq(mcp_test_stats_count(stats, "last_event_ids", "g3"), 1);
	cJSON_Delete(stats);
	cog_ctx_free(ctx);
	pthread_cond_destroy(&t.cond);
	pthread_mutex_destroy(&t.lock);
}
END_TEST

START_TEST(test_post_stream_resumes)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = mcp_test_http_connect(ctx, url, NULL);
	char *r = mcp_test_call_json(m, "echo", "{\"message\":\"after a drop\"}");
	ck_assert_msg(strstr(r, "Echo: after a drop") != NULL, "%s", r);
	cog_free(r);
	r = mcp_test_call_json(m, "echo", "{\"message\":\"and again\"}");
	ck_assert_msg(strstr(r, "Echo: and again") != NULL, "%s", r);
	cog_free(r);
	cog_mcp_close(m);
	cJSON *stats = mcp_test_fault_stats(ctx, server);
	ck_assert_int_eq(mcp_test_stats_count(stats, "last_event_ids", "p1-0"), 1);
	ck_assert_int_eq(mcp_test_stats_count(stats, "last_event_ids", "p2-0"), 1);
	cJSON_Delete(stats);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(test_session_expires)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = mcp_test_http_connect(ctx, url, NULL);
	char *r = mcp_test_call_json(m, "echo", "{\"message\":\"one\"}");
	cog_free(r);
	r = NULL;
	int rc = cog_mcp_call_tool(m, "echo", "{\"message\":\"two\"}", 0, &r);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "rc %d: %s", rc, cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), "session expired") != NULL, "%s",
	              cog_error_last());
	cog_free(r);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
}
END_TEST

/* cog_ctx_cancel of a call in flight: the POST ends, notifications/cancelled
 * still reaches the server (naming the call), the GET stream stays open
 * through the cancel, and close still ends the session with DELETE while
 * the ctx is canceled. */
START_TEST(test_cancel_notifies_server)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = mcp_test_http_connect(ctx, url, NULL);
	/* The GET stream is up (its third event came). */
	ck_assert_msg(mcp_test_log_wait(log, "tick-003", 20000),
	              "no events from the GET stream");
	mcp_test_bg_call job;
	mcp_test_bg_call_start(&job, m, "slow", "{}");
	/* The server has the call once its progress came back. */
	ck_assert_msg(mcp_test_log_wait(log, "mcp.progress", 20000),
	              "the slow call sent no progress");
	cog_ctx_cancel(ctx);
	ck_assert_int_eq(mcp_test_bg_call_join(&job), COG_ECANCELED);
	/* Still canceled. */
	cog_mcp_close(m);

	cJSON *stats = mcp_test_fault_stats(ctx, server);
	const cJSON *calls = cJSON_GetObjectItemCaseSensitive(stats, "slow_calls");
	ck_assert_int_eq(cJSON_GetArraySize(calls), 1);
	double id = cJSON_GetArrayItem(calls, 0)->valuedouble;
	int cancelled = 0;
	const cJSON *note;
	cJSON_ArrayForEach(note, cJSON_GetObjectItemCaseSensitive(stats, "notifications")) {
		const char *method = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(note, "method"));
		const cJSON *params = cJSON_GetObjectItemCaseSensitive(note, "params");
		const cJSON *rid = cJSON_GetObjectItemCaseSensitive(params, "requestId");
		if (method && strcmp(method, "notifications/cancelled") == 0) {
			cancelled++;
			ck_assert_msg(cJSON_IsNumber(rid) && rid->valuedouble == id,
			              "notifications/cancelled for another request");
		}
	}
	ck_assert_int_eq(cancelled, 1);
	ck_assert_int_eq(mcp_test_stats_int(stats, "deletes"), 1);
	ck_assert_int_eq(mcp_test_stats_int(stats, "get_streams"), 1);
	cJSON_Delete(stats);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

/* A request answered with a 2xx and no body fails at once (the spec:
 * a request gets JSON or an event stream), naming the server and URL. */
START_TEST(test_empty_answer)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = mcp_test_http_connect(ctx, url, NULL);
	char *r = NULL;
	int rc = cog_mcp_call_tool(m, "echo", "{\"message\":\"x\"}", 0, &r);
	ck_assert_msg(rc == COG_EPROTO, "rc %d: %s", rc, cog_error_last());
	ck_assert(r == NULL);
	const char *e = cog_error_last();
	ck_assert_msg(strstr(e, "with no body for request") && strstr(e, "server \"web\"") &&
	              strstr(e, url), "%s", e);
	/* The connection is still up for what the server does answer. */
	char *list = NULL;
	ck_assert_msg(cog_mcp_list_tools(m, &list) == 0, "%s", cog_error_last());
	cog_free(list);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
}
END_TEST

/* An expired session, with a restart allowed: the next call initializes a
 * new session (no MCP-Protocol-Version of the old one on its initialize,
 * no Last-Event-ID of the old GET stream, a GET stream of its own). */
START_TEST(test_session_restarts)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp_options o = COG_MCP_OPTIONS_INIT;
	o.name = "web";
	o.url = url;
	o.max_restarts = 1;
	cog_mcp *m = NULL;
	ck_assert_msg(cog_mcp_connect(&m, ctx, &o) == 0, "%s", cog_error_last());
	char *first = mcp_test_session_id(m);
	char needle[300];
	snprintf(needle, sizeof(needle), "tick-003 session %s", first);
	ck_assert_msg(mcp_test_log_wait(log, needle, 20000), "no GET stream events");

	char *r = mcp_test_call_json(m, "echo", "{\"message\":\"one\"}");
	cog_free(r);
	r = NULL;
	/* The call that meets the expiry fails (or is retried, if the
	 * connection does that): either way the next one works. */
	int rc = cog_mcp_call_tool(m, "echo", "{\"message\":\"two\"}", 0, &r);
	ck_assert_msg(rc == 0 || (rc == COG_EUNAVAILABLE &&
	              strstr(cog_error_last(), "session expired")), "rc %d: %s", rc,
	              cog_error_last());
	cog_free(r);
	r = mcp_test_call_json(m, "echo", "{\"message\":\"three\"}");
	ck_assert_msg(strstr(r, "Echo: three") != NULL, "%s", r);
	cog_free(r);
	char *second = mcp_test_session_id(m);
	ck_assert_str_ne(first, second);
	snprintf(needle, sizeof(needle), "tick-003 session %s", second);
	ck_assert_msg(mcp_test_log_wait(log, needle, 20000),
	              "no GET stream in the new session");
	cog_mcp_close(m);

	cJSON *stats = mcp_test_fault_stats(ctx, server);
	const cJSON *sessions = cJSON_GetObjectItemCaseSensitive(stats, "sessions");
	ck_assert_int_eq(cJSON_GetArraySize(sessions), 2);
	const cJSON *item;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(stats, "initialize_versions"))
		ck_assert_msg(cJSON_IsNull(item), "an initialize carried MCP-Protocol-Version");
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(stats, "last_event_ids"))
		ck_assert_msg(cJSON_IsNull(item), "a GET carried Last-Event-ID %s",
		              cJSON_GetStringValue(item));
	ck_assert_int_eq(mcp_test_stats_int(stats, "get_streams"), 2);
	/* The new session is ended; the expired one is not DELETEd. */
	ck_assert_int_eq(mcp_test_stats_int(stats, "deletes"), 1);
	cJSON_Delete(stats);
	free(first);
	free(second);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

/* A notification's POST answered with an event stream of 300
 * notifications (the spec: 202, no body): none is delivered, and the next
 * request still ends at its own 1 s timeout. */
START_TEST(test_notification_answer_ignored)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = mcp_test_http_connect(ctx, url, NULL);
	/* notifications/initialized went with connect; one more. */
	ck_assert_msg(cog_mcp_notify(m, "notifications/roots/list_changed", NULL) == 0,
	              "%s", cog_error_last());
	ck_assert_msg(mcp_test_log_wait(log, "with a body: ignored", 20000),
	              "no word of the ignored body");
	char *r = NULL;
	int rc = cog_mcp_call_tool(m, "slow", "{}", 1000, &r);
	ck_assert_msg(rc == COG_ETIMEOUT, "rc %d: %s", rc, cog_error_last());
	ck_assert(r == NULL);
	r = mcp_test_call_json(m, "echo", "{\"message\":\"still here\"}");
	ck_assert_msg(strstr(r, "Echo: still here") != NULL, "%s", r);
	cog_free(r);
	cog_mcp_close(m);
	ck_assert_msg(!mcp_test_log_wait(log, "junk-", 0),
	              "a message of an ignored body was delivered");
	cJSON *stats = mcp_test_fault_stats(ctx, server);
	ck_assert_int_ge(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(stats,
	                 "notifications")), 2);
	cJSON_Delete(stats);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

/* initialize answered on an event stream the server keeps open: connect
 * ends once the answer came, with the session id of that answer. */
START_TEST(test_init_stream_open)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp_options o = COG_MCP_OPTIONS_INIT;
	o.name = "web";
	o.url = url;
	o.connect_timeout_ms = 20000;
	cog_mcp *m = NULL;
	ck_assert_msg(cog_mcp_connect(&m, ctx, &o) == 0, "%s", cog_error_last());
	char *sid = mcp_test_session_id(m);
	/* The session works (the server checks its id). */
	char *r = mcp_test_call_json(m, "echo", "{\"message\":\"in session\"}");
	ck_assert_msg(strstr(r, "Echo: in session") != NULL, "%s", r);
	cog_free(r);
	cog_mcp_close(m);
	cJSON *stats = mcp_test_fault_stats(ctx, server);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(stats,
	                 "session")), sid);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(stats,
	                 "sessions")), 1);
	cJSON_Delete(stats);
	free(sid);
	cog_ctx_free(ctx);
}
END_TEST

/* HTTP 500 whose body is an event stream holding a notification and a
 * result for the call: neither is delivered; the call fails with the
 * status. */
START_TEST(test_error_answer_not_delivered)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = mcp_test_http_connect(ctx, url, NULL);
	char *r = NULL;
	int rc = cog_mcp_call_tool(m, "echo", "{\"message\":\"x\"}", 0, &r);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "rc %d: %s (%s)", rc, cog_error_last(),
	              r ? r : "no result");
	ck_assert(r == NULL);
	ck_assert_msg(strstr(cog_error_last(), "HTTP 500") != NULL, "%s",
	              cog_error_last());
	cog_mcp_close(m);
	ck_assert_msg(!mcp_test_log_wait(log, "leaked-event", 0),
	              "a message of a 500 answer was delivered");
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

/* An event id of 2000 bytes is not kept: the stream is resumed from the
 * one before it, with a warning. */
START_TEST(test_long_event_id_ignored)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = mcp_test_http_connect(ctx, url, NULL);
	char *r = mcp_test_call_json(m, "echo", "{\"message\":\"resumed\"}");
	ck_assert_msg(strstr(r, "Echo: resumed") != NULL, "%s", r);
	cog_free(r);
	ck_assert(mcp_test_log_wait(log, "long-id-event", 0));
	ck_assert(mcp_test_log_wait(log, "an event id of 2000 bytes", 0));
	cog_mcp_close(m);
	cJSON *stats = mcp_test_fault_stats(ctx, server);
	ck_assert_int_eq(mcp_test_stats_count(stats, "last_event_ids", "p1-0"), 1);
	const cJSON *item;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(stats, "last_event_ids"))
		ck_assert_msg(!cJSON_IsString(item) || strlen(item->valuestring) < 100,
		              "a GET carried the long event id");
	cJSON_Delete(stats);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST


/* One case: the fault server started with up's flags, one test. */
static void add_case(Suite *s, const char *name, void (*up)(void), const TTest *test)
{
	TCase *tc = tcase_create(name);
	tcase_add_unchecked_fixture(tc, up, server_down);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

static Suite *mcp_http_faults_suite(void)
{
	Suite *s = suite_create("mcp_http_faults");
	add_case(s, "bearer", bearer_up, test_bearer_token);
	add_case(s, "drop_get", drop_get_up, test_get_stream_resumes);
	add_case(s, "drop_post", drop_post_up, test_post_stream_resumes);
	add_case(s, "expire", expire_up, test_session_expires);
	add_case(s, "restart", expire_up, test_session_restarts);
	add_case(s, "cancel", plain_fault_up, test_cancel_notifies_server);
	add_case(s, "empty_202", empty202_up, test_empty_answer);
	add_case(s, "empty_200", empty200_up, test_empty_answer);
	add_case(s, "busy_answers", busy_up, test_notification_answer_ignored);
	add_case(s, "init_stream_open", init_open_up, test_init_stream_open);
	add_case(s, "error_events", error_events_up, test_error_answer_not_delivered);
	add_case(s, "long_event_id", long_id_up, test_long_event_id_ignored);
	return s;
}

int main(void)
{
	return mcp_test_run(mcp_http_faults_suite());
}
