/*
 * The MCP client over streamable HTTP, through libcurl: against the
 * reference server-everything (streamableHttp mode) for what a real server
 * does, and against tests/peers/mcp_fault_http.py for the faults it does
 * not produce on demand (a bearer token required, a GET stream that drops,
 * a request's stream that drops before its answer, a session that expires,
 * a request answered without a body, a call that only a cancel ends).
 * Public API only.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <cognition.h>
#include <cognition/curl.h>

#include "mcp_test.h"
#include "peer.h"

static peer *server;
static char url[512];

/* ---- peers ---- */

static void everything_up(void)
{
	server = mcp_test_start_http(url, sizeof(url));
}

static void server_down(void)
{
	peer_stop(server);
	server = NULL;
}

static void fault_up(const char *const *flags)
{
	char script[4096];
	mcp_test_peer_file(script, sizeof(script), "mcp_fault_http.py");
	const char *argv[8] = { "python3", script };
	size_t n = 2;
	for (; flags && flags[n - 2] && n < 7; n++)
		argv[n] = flags[n - 2];
	argv[n] = NULL;
	peer_options o = { 0 };
	o.name = "mcp-fault-http";
	o.argv = argv;
	o.ready_path = "/stats";
	o.install_hint = "apt-get install python3";
	ck_assert_msg(peer_start(&server, &o) == 0, "%s", peer_error());
	snprintf(url, sizeof(url), "%s/mcp", peer_url(server));
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

/* ---- helpers ---- */

static cog_mcp *connect_to(cog_ctx *ctx, const char *token)
{
	cog_mcp_options o = COG_MCP_OPTIONS_INIT;
	o.name = "web";
	o.url = url;
	o.bearer_token = token;
	cog_mcp *m = NULL;
	ck_assert_msg(cog_mcp_connect(&m, ctx, &o) == 0, "%s", cog_error_last());
	return m;
}

static char *call_tool(cog_mcp *m, const char *tool, const char *args)
{
	char *result = NULL;
	int rc = cog_mcp_call_tool(m, tool, args, 0, &result);
	ck_assert_msg(rc == 0, "%s: %s", tool, cog_error_last());
	ck_assert(result != NULL);
	return result;
}

static char *session_id_of(cog_mcp *m)
{
	char *info = NULL;
	ck_assert_msg(cog_mcp_server_info(m, &info) == 0, "%s", cog_error_last());
	cJSON *j = cJSON_Parse(info);
	ck_assert_msg(j != NULL, "%s", info);
	const cJSON *sid = cJSON_GetObjectItemCaseSensitive(j, "session_id");
	ck_assert_msg(cJSON_IsString(sid) && sid->valuestring[0], "%s", info);
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "transport");
	ck_assert_msg(cJSON_IsString(kind) && strcmp(kind->valuestring, "http") == 0,
	              "%s", info);
	char *copy = strdup(sid->valuestring);
	cJSON_Delete(j);
	cog_free(info);
	return copy;
}

/* What the fault server saw (GET /stats), parsed. */
static cJSON *fault_stats(cog_ctx *ctx)
{
	char stats_url[600];
	snprintf(stats_url, sizeof(stats_url), "%s/stats", peer_url(server));
	cog_http_request req = COG_HTTP_REQUEST_INIT;
	req.url = stats_url;
	cog_http_response resp = COG_HTTP_RESPONSE_INIT;
	ck_assert_msg(cog_transport_perform(cog_ctx_transport(ctx), &req, &resp) == 0,
	              "%s", cog_error_last());
	ck_assert_int_eq(resp.status, 200);
	cJSON *j = cJSON_Parse(resp.body);
	ck_assert_msg(j != NULL, "%s", resp.body);
	cog_http_response_dispose(&resp);
	return j;
}

static int stats_int(const cJSON *stats, const char *member)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(stats, member);
	ck_assert_msg(cJSON_IsNumber(n), "stats without %s", member);
	return n->valueint;
}

/* How many strings of stats[member] equal value. */
static int stats_count(const cJSON *stats, const char *member, const char *value)
{
	int n = 0;
	const cJSON *item;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(stats, member))
		if (cJSON_IsString(item) && strcmp(item->valuestring, value) == 0)
			n++;
	return n;
}

/* ---- server-everything ---- */

START_TEST(test_connect_and_tools)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = connect_to(ctx, NULL);
	free(session_id_of(m));

	char *r = call_tool(m, "echo", "{\"message\":\"hello over http\"}");
	ck_assert_msg(strstr(r, "Echo: hello over http") != NULL, "%s", r);
	cog_free(r);
	r = call_tool(m, "get-sum", "{\"a\":2,\"b\":40}");
	ck_assert_msg(strstr(r, "42") != NULL, "%s", r);
	cog_free(r);
	r = call_tool(m, "get-structured-content", "{\"location\":\"New York\"}");
	ck_assert_msg(strstr(r, "\"structuredContent\"") && strstr(r, "\"temperature\":33"),
	              "%s", r);
	cog_free(r);
	ck_assert_msg(cog_mcp_notify(m, "notifications/roots/list_changed", NULL) == 0,
	              "%s", cog_error_last());
	/* Several requests at once share the connection. */
	char *list = NULL;
	ck_assert_msg(cog_mcp_list_tools(m, &list) == 0, "%s", cog_error_last());
	ck_assert(strstr(list, "trigger-long-running-operation") != NULL);
	cog_free(list);

	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

START_TEST(test_progress)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = connect_to(ctx, NULL);
	char *r = call_tool(m, "trigger-long-running-operation",
	                    "{\"duration\":2,\"steps\":4}");
	ck_assert_msg(strstr(r, "completed") != NULL, "%s", r);
	cog_free(r);
	ck_assert_msg(mcp_test_log_wait(log, "mcp.progress", 5000),
	              "no mcp.progress event reached the event hook");
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

/* Requests from several threads share the connection (POSTs in
 * parallel, each answered on its own stream). */
typedef struct echo_job {
	cog_mcp *m;
	int n;
	int failures;
} echo_job;

static void *echo_thread(void *arg)
{
	echo_job *job = arg;
	for (int i = 0; i < 5; i++) {
		char args[64], want[64];
		snprintf(args, sizeof(args), "{\"message\":\"t%d-%d\"}", job->n, i);
		snprintf(want, sizeof(want), "Echo: t%d-%d\"", job->n, i);
		char *r = NULL;
		if (cog_mcp_call_tool(job->m, "echo", args, 0, &r) != 0 || !strstr(r, want))
			job->failures++;
		cog_free(r);
	}
	return NULL;
}

START_TEST(test_parallel_requests)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = connect_to(ctx, NULL);
	pthread_t threads[4];
	echo_job jobs[4];
	for (int i = 0; i < 4; i++) {
		jobs[i] = (echo_job){ m, i, 0 };
		ck_assert_int_eq(pthread_create(&threads[i], NULL, echo_thread, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(threads[i], NULL);
		ck_assert_int_eq(jobs[i].failures, 0);
	}
	cog_mcp_close(m);
	cog_ctx_free(ctx);
}
END_TEST

/* cog_ctx_cancel stops a call whose answer is still streaming. */
typedef struct cancel_job {
	cog_mcp *m;
	int rc;
} cancel_job;

static void *long_call(void *arg)
{
	cancel_job *job = arg;
	char *r = NULL;
	job->rc = cog_mcp_call_tool(job->m, "trigger-long-running-operation",
	                            "{\"duration\":30,\"steps\":30}", 0, &r);
	cog_free(r);
	return NULL;
}

START_TEST(test_cancel_streaming_call)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = connect_to(ctx, NULL);
	cancel_job job = { m, 0 };
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, long_call, &job), 0);
	ck_assert_msg(mcp_test_log_wait(log, "mcp.progress", 20000),
	              "the long operation sent no progress");
	cog_ctx_cancel(ctx);
	pthread_join(th, NULL);
	ck_assert_int_eq(job.rc, COG_ECANCELED);
	cog_ctx_reset_cancel(ctx);
	char *r = call_tool(m, "echo", "{\"message\":\"still here\"}");
	ck_assert_msg(strstr(r, "Echo: still here") != NULL, "%s", r);
	cog_free(r);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

/* Simulated logging is sent outside any request: it can only come on the
 * GET stream. */
START_TEST(test_get_stream_messages)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = connect_to(ctx, NULL);
	char *sid = session_id_of(m);
	char needle[256];
	snprintf(needle, sizeof(needle), "SessionId %s", sid);
	char *r = call_tool(m, "toggle-simulated-logging", "{}");
	cog_free(r);
	ck_assert_msg(mcp_test_log_wait(log, needle, 20000),
	              "no notifications/message from the GET stream in the log");
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
	free(sid);
}
END_TEST

START_TEST(test_close_deletes_session)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = connect_to(ctx, NULL);
	char *sid = session_id_of(m);
	cog_mcp_close(m);

	char sid_line[300];
	snprintf(sid_line, sizeof(sid_line), "mcp-session-id: %s", sid);
	const char *headers[] = { "Content-Type: application/json",
		"Accept: application/json, text/event-stream",
		"MCP-Protocol-Version: " COG_MCP_PROTOCOL_VERSION, sid_line };
	const char *body = "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/list\"}";
	cog_http_request req = COG_HTTP_REQUEST_INIT;
	req.method = "POST";
	req.url = url;
	req.headers = headers;
	req.header_count = 4;
	req.body = body;
	req.body_len = strlen(body);
	cog_http_response resp = COG_HTTP_RESPONSE_INIT;
	ck_assert_msg(cog_transport_perform(cog_ctx_transport(ctx), &req, &resp) == 0,
	              "%s", cog_error_last());
	ck_assert_msg(resp.status == 400 || resp.status == 404,
	              "the session still works after close: HTTP %d %s", resp.status,
	              resp.body ? resp.body : "");
	cog_http_response_dispose(&resp);
	free(sid);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- faults ---- */

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

	m = connect_to(ctx, "s3cret");
	char *r = call_tool(m, "echo", "{\"message\":\"with a token\"}");
	ck_assert_msg(strstr(r, "Echo: with a token") != NULL, "%s", r);
	cog_free(r);
	cog_mcp_close(m);

	cJSON *stats = fault_stats(ctx);
	/* initialize, notifications/initialized, tools/list?, tools/call: all
	 * with the token; the two refused connects before. */
	ck_assert_int_ge(stats_count(stats, "authorization", "Bearer s3cret"), 3);
	ck_assert_int_eq(stats_count(stats, "authorization", "Bearer wrong"), 1);
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
	cog_ctx_options co = COG_CTX_OPTIONS_INIT;
	co.log_level = COG_LOG_DEBUG;
	co.log_fn = tick_log_fn;
	co.log_user_data = &t;
	cog_ctx *ctx = NULL;
	ck_assert_msg(cog_ctx_new(&ctx, &co) == 0, "%s", cog_error_last());
	cog_transport *tr = NULL;
	ck_assert_msg(cog_curl_transport_new(&tr, NULL) == 0, "%s", cog_error_last());
	ck_assert_msg(cog_ctx_set_transport(ctx, tr) == 0, "%s", cog_error_last());

	cog_mcp *m = connect_to(ctx, NULL);
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

	cJSON *stats = fault_stats(ctx);
	ck_assert_int_eq(stats_count(stats, "last_event_ids", "g3"), 1);
	cJSON_Delete(stats);
	cog_ctx_free(ctx);
	pthread_cond_destroy(&t.cond);
	pthread_mutex_destroy(&t.lock);
}
END_TEST

START_TEST(test_post_stream_resumes)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = connect_to(ctx, NULL);
	char *r = call_tool(m, "echo", "{\"message\":\"after a drop\"}");
	ck_assert_msg(strstr(r, "Echo: after a drop") != NULL, "%s", r);
	cog_free(r);
	r = call_tool(m, "echo", "{\"message\":\"and again\"}");
	ck_assert_msg(strstr(r, "Echo: and again") != NULL, "%s", r);
	cog_free(r);
	cog_mcp_close(m);
	cJSON *stats = fault_stats(ctx);
	ck_assert_int_eq(stats_count(stats, "last_event_ids", "p1-0"), 1);
	ck_assert_int_eq(stats_count(stats, "last_event_ids", "p2-0"), 1);
	cJSON_Delete(stats);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(test_session_expires)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = connect_to(ctx, NULL);
	char *r = call_tool(m, "echo", "{\"message\":\"one\"}");
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

START_TEST(test_server_absent)
{
	/* A port nothing listens on: one the kernel gave and took back. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert(fd >= 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof(a);
	ck_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	ck_assert(getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/mcp", (unsigned)ntohs(a.sin_port));
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp_options mo = COG_MCP_OPTIONS_INIT;
	mo.name = "absent";
	mo.url = url;
	mo.connect_timeout_ms = 5000;
	cog_mcp *m = NULL;
	int rc = cog_mcp_connect(&m, ctx, &mo);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "rc %d: %s", rc, cog_error_last());
	ck_assert(m == NULL);
	ck_assert_msg(strstr(cog_error_last(), "absent") != NULL, "%s", cog_error_last());
	cog_ctx_free(ctx);
}
END_TEST

/* cog_ctx_cancel of a call in flight: the POST ends, notifications/cancelled
 * still reaches the server (naming the call), the GET stream stays open
 * through the cancel, and close still ends the session with DELETE while
 * the ctx is canceled. */
static void *slow_call(void *arg)
{
	cancel_job *job = arg;
	char *r = NULL;
	job->rc = cog_mcp_call_tool(job->m, "slow", "{}", 0, &r);
	cog_free(r);
	return NULL;
}

START_TEST(test_cancel_notifies_server)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = connect_to(ctx, NULL);
	/* The GET stream is up (its third event came). */
	ck_assert_msg(mcp_test_log_wait(log, "tick-003", 20000),
	              "no events from the GET stream");
	cancel_job job = { m, 0 };
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, slow_call, &job), 0);
	/* The server has the call once its progress came back. */
	ck_assert_msg(mcp_test_log_wait(log, "mcp.progress", 20000),
	              "the slow call sent no progress");
	cog_ctx_cancel(ctx);
	pthread_join(th, NULL);
	ck_assert_int_eq(job.rc, COG_ECANCELED);
	/* Still canceled. */
	cog_mcp_close(m);

	cJSON *stats = fault_stats(ctx);
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
	ck_assert_int_eq(stats_int(stats, "deletes"), 1);
	ck_assert_int_eq(stats_int(stats, "get_streams"), 1);
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
	cog_mcp *m = connect_to(ctx, NULL);
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
	char *first = session_id_of(m);
	char needle[300];
	snprintf(needle, sizeof(needle), "tick-003 session %s", first);
	ck_assert_msg(mcp_test_log_wait(log, needle, 20000), "no GET stream events");

	char *r = call_tool(m, "echo", "{\"message\":\"one\"}");
	cog_free(r);
	r = NULL;
	/* The call that meets the expiry fails (or is retried, if the
	 * connection does that): either way the next one works. */
	int rc = cog_mcp_call_tool(m, "echo", "{\"message\":\"two\"}", 0, &r);
	ck_assert_msg(rc == 0 || (rc == COG_EUNAVAILABLE &&
	              strstr(cog_error_last(), "session expired")), "rc %d: %s", rc,
	              cog_error_last());
	cog_free(r);
	r = call_tool(m, "echo", "{\"message\":\"three\"}");
	ck_assert_msg(strstr(r, "Echo: three") != NULL, "%s", r);
	cog_free(r);
	char *second = session_id_of(m);
	ck_assert_str_ne(first, second);
	snprintf(needle, sizeof(needle), "tick-003 session %s", second);
	ck_assert_msg(mcp_test_log_wait(log, needle, 20000),
	              "no GET stream in the new session");
	cog_mcp_close(m);

	cJSON *stats = fault_stats(ctx);
	const cJSON *sessions = cJSON_GetObjectItemCaseSensitive(stats, "sessions");
	ck_assert_int_eq(cJSON_GetArraySize(sessions), 2);
	const cJSON *item;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(stats, "initialize_versions"))
		ck_assert_msg(cJSON_IsNull(item), "an initialize carried MCP-Protocol-Version");
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(stats, "last_event_ids"))
		ck_assert_msg(cJSON_IsNull(item), "a GET carried Last-Event-ID %s",
		              cJSON_GetStringValue(item));
	ck_assert_int_eq(stats_int(stats, "get_streams"), 2);
	/* The new session is ended; the expired one is not DELETEd. */
	ck_assert_int_eq(stats_int(stats, "deletes"), 1);
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
	cog_mcp *m = connect_to(ctx, NULL);
	/* notifications/initialized went with connect; one more. */
	ck_assert_msg(cog_mcp_notify(m, "notifications/roots/list_changed", NULL) == 0,
	              "%s", cog_error_last());
	ck_assert_msg(mcp_test_log_wait(log, "with a body: ignored", 20000),
	              "no word of the ignored body");
	char *r = NULL;
	int rc = cog_mcp_call_tool(m, "slow", "{}", 1000, &r);
	ck_assert_msg(rc == COG_ETIMEOUT, "rc %d: %s", rc, cog_error_last());
	ck_assert(r == NULL);
	r = call_tool(m, "echo", "{\"message\":\"still here\"}");
	ck_assert_msg(strstr(r, "Echo: still here") != NULL, "%s", r);
	cog_free(r);
	cog_mcp_close(m);
	ck_assert_msg(!mcp_test_log_wait(log, "junk-", 0),
	              "a message of an ignored body was delivered");
	cJSON *stats = fault_stats(ctx);
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
	char *sid = session_id_of(m);
	/* The session works (the server checks its id). */
	char *r = call_tool(m, "echo", "{\"message\":\"in session\"}");
	ck_assert_msg(strstr(r, "Echo: in session") != NULL, "%s", r);
	cog_free(r);
	cog_mcp_close(m);
	cJSON *stats = fault_stats(ctx);
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
	cog_mcp *m = connect_to(ctx, NULL);
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
	cog_mcp *m = connect_to(ctx, NULL);
	char *r = call_tool(m, "echo", "{\"message\":\"resumed\"}");
	ck_assert_msg(strstr(r, "Echo: resumed") != NULL, "%s", r);
	cog_free(r);
	ck_assert(mcp_test_log_wait(log, "long-id-event", 0));
	ck_assert(mcp_test_log_wait(log, "an event id of 2000 bytes", 0));
	cog_mcp_close(m);
	cJSON *stats = fault_stats(ctx);
	ck_assert_int_eq(stats_count(stats, "last_event_ids", "p1-0"), 1);
	const cJSON *item;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(stats, "last_event_ids"))
		ck_assert_msg(!cJSON_IsString(item) || strlen(item->valuestring) < 100,
		              "a GET carried the long event id");
	cJSON_Delete(stats);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

static TCase *tcase(const char *name, void (*up)(void), void (*down)(void))
{
	TCase *tc = tcase_create(name);
	if (up)
		tcase_add_unchecked_fixture(tc, up, down);
	tcase_set_timeout(tc, 90);
	return tc;
}

static Suite *mcp_http_suite(void)
{
	Suite *s = suite_create("mcp_http");
	TCase *tc = tcase("everything", everything_up, server_down);
	tcase_add_test(tc, test_connect_and_tools);
	tcase_add_test(tc, test_progress);
	tcase_add_test(tc, test_parallel_requests);
	tcase_add_test(tc, test_cancel_streaming_call);
	tcase_add_test(tc, test_get_stream_messages);
	tcase_add_test(tc, test_close_deletes_session);
	suite_add_tcase(s, tc);
	tc = tcase("bearer", bearer_up, server_down);
	tcase_add_test(tc, test_bearer_token);
	suite_add_tcase(s, tc);
	tc = tcase("drop_get", drop_get_up, server_down);
	tcase_add_test(tc, test_get_stream_resumes);
	suite_add_tcase(s, tc);
	tc = tcase("drop_post", drop_post_up, server_down);
	tcase_add_test(tc, test_post_stream_resumes);
	suite_add_tcase(s, tc);
	tc = tcase("expire", expire_up, server_down);
	tcase_add_test(tc, test_session_expires);
	suite_add_tcase(s, tc);
	tc = tcase("restart", expire_up, server_down);
	tcase_add_test(tc, test_session_restarts);
	suite_add_tcase(s, tc);
	tc = tcase("cancel", plain_fault_up, server_down);
	tcase_add_test(tc, test_cancel_notifies_server);
	suite_add_tcase(s, tc);
	tc = tcase("empty_202", empty202_up, server_down);
	tcase_add_test(tc, test_empty_answer);
	suite_add_tcase(s, tc);
	tc = tcase("empty_200", empty200_up, server_down);
	tcase_add_test(tc, test_empty_answer);
	suite_add_tcase(s, tc);
	tc = tcase("busy_answers", busy_up, server_down);
	tcase_add_test(tc, test_notification_answer_ignored);
	suite_add_tcase(s, tc);
	tc = tcase("init_stream_open", init_open_up, server_down);
	tcase_add_test(tc, test_init_stream_open);
	suite_add_tcase(s, tc);
	tc = tcase("error_events", error_events_up, server_down);
	tcase_add_test(tc, test_error_answer_not_delivered);
	suite_add_tcase(s, tc);
	tc = tcase("long_event_id", long_id_up, server_down);
	tcase_add_test(tc, test_long_event_id_ignored);
	suite_add_tcase(s, tc);
	tc = tcase("absent", NULL, NULL);
	tcase_add_test(tc, test_server_absent);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mcp_http_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
