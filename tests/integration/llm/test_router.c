/*
 * The router of a context over real HTTP: OpenAI-provider endpoints (real
 * libcurl) against the scripted loopback server, and a port nothing
 * listens on. Retries of a 500 and of a 429 with Retry-After, the circuit
 * breaker opening and half-opening, fallback to a second endpoint, the
 * overall timeout, a hung endpoint timed out per request and left for the
 * next, an overload error inside a 200 stream retried, cancellation
 * mid-stream, the cache (keyed by the backend behind an endpoint's name,
 * across contexts sharing storage), structured-output re-asks (what the
 * server got the second time), and the requests-per-minute bucket
 * measured. Public API only.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>

#include <cognition.h>

#include "llm_test.h"

static cog_ctx *ctx;
static ws_server *server;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void setup(void)
{
	ctx = ctx_with_curl(NULL);
	server = start_wire_server();
}

static void teardown(void)
{
	cog_ctx_free(ctx);
	ws_stop(server);
}

/* A port on 127.0.0.1 that nothing listens on (bound, read, closed). */
static unsigned short unused_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	socklen_t len = sizeof sa;
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* An OpenAI endpoint of context c at base (NULL: the wire server), with
 * default model `model` and per-request timeout_ms (0: the context's). */
static void add_openai_to(cog_ctx *c, const char *name, const char *base,
                          const char *model, unsigned int timeout_ms,
                          const cog_llm_endpoint_options *options)
{
	char url[128];
	snprintf(url, sizeof url, "%s/v1", base ? base : ws_url(server));
	cog_llm_provider_options o = COG_LLM_PROVIDER_OPTIONS_INIT;
	o.provider = COG_LLM_OPENAI;
	o.base_url = url;
	o.api_key = "sk-test-0123456789abcdef";
	o.model = model;
	o.timeout_ms = timeout_ms;
	cog_llm *llm = NULL;
	ck_assert_cog(cog_llm_provider_new(&llm, c, &o));
	ck_assert_cog(cog_llm_add_endpoint(c, name, llm, options));
}

/* An OpenAI endpoint at base (NULL: the wire server). */
static void add_openai(const char *name, const char *base,
                       const cog_llm_endpoint_options *options)
{
	add_openai_to(ctx, name, base, "gpt-test", 0, options);
}

/* A chat.completion body whose answer is `content`. */
static char *completion(const char *content)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "id", "chatcmpl-1");
	cJSON_AddStringToObject(r, "object", "chat.completion");
	cJSON_AddNumberToObject(r, "created", 1700000000);
	cJSON_AddStringToObject(r, "model", "gpt-test");
	cJSON *choice = cJSON_CreateObject();
	cJSON_AddNumberToObject(choice, "index", 0);
	cJSON *m = cJSON_AddObjectToObject(choice, "message");
	cJSON_AddStringToObject(m, "role", "assistant");
	cJSON_AddStringToObject(m, "content", content);
	cJSON_AddStringToObject(choice, "finish_reason", "stop");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(r, "choices"), choice);
	cJSON *u = cJSON_AddObjectToObject(r, "usage");
	cJSON_AddNumberToObject(u, "prompt_tokens", 12);
	cJSON_AddNumberToObject(u, "completion_tokens", 3);
	cJSON_AddNumberToObject(u, "total_tokens", 15);
	char *text = cJSON_PrintUnformatted(r);
	cJSON_Delete(r);
	return text;
}

static void push(int status, const char *body, const char *headers)
{
	ws_answer a = ws_answer_body(status, NULL, body);
	a.extra_headers = headers;
	ck_assert_int_eq(ws_push(server, &a), 0);
}

static void push_answer(const char *content)
{
	char *body = completion(content);
	push(200, body, NULL);
	free(body);
}

static const char *ERROR_500 = "{\"error\":{\"message\":\"the server had an error\","
	"\"type\":\"server_error\"}}";

static const char *HELLO = "{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";

static cJSON *chat(const char *request, const cog_llm_chat_options *o)
{
	char *out = NULL;
	ck_assert_cog(cog_llm_chat(ctx, request, o, &out));
	cJSON *r = cJSON_Parse(out);
	ck_assert_ptr_nonnull(r);
	cog_free(out);
	return r;
}

static int number(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(o, name);
	ck_assert_msg(cJSON_IsNumber(v), "no number %s", name);
	return v->valueint;
}

static const char *content_of(const cJSON *r)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "message"),
		"content"));
}

/* The breaker state of endpoint `name` from cog_llm_stats(). */
static void ck_breaker(const char *name, const char *state)
{
	char *json = NULL;
	ck_assert_cog(cog_llm_stats(ctx, &json));
	cJSON *s = cJSON_Parse(json);
	cJSON *ep = cJSON_GetObjectItem(cJSON_GetObjectItem(s, "endpoints"), name);
	ck_assert_msg(ep, "%s", json);
	ck_assert_msg(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(ep, "breaker")), state) == 0,
		"%s: expected %s: %s", name, state, json);
	cJSON_Delete(s);
	cog_free(json);
}

/* ---- retries ---- */

START_TEST(test_500_then_200)
{
	add_openai("main", NULL, NULL);
	ck_assert_cog(cog_llm_configure(ctx, "{\"retry\":{\"base_ms\":10,\"cap_ms\":50}}"));
	push(500, ERROR_500, NULL);
	push_answer("recovered");
	cJSON *r = chat(HELLO, NULL);
	ck_assert_str_eq(content_of(r), "recovered");
	ck_assert_int_eq(number(r, "attempts"), 2);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(r, "endpoint")), "main");
	ck_assert_uint_eq(ws_requests(server), 2);
	cJSON_Delete(r);
	char *json = NULL;
	ck_assert_cog(cog_llm_stats(ctx, &json));
	ck_assert_msg(strstr(json, "\"retries\":1") &&
		strstr(json, "\"main\":{\"breaker\":\"closed\",\"calls\":2,\"failures\":1}"), "%s", json);
	cog_free(json);
}
END_TEST

typedef struct seen {
	char retry[256];
	char text[256];
	int events;
} seen;

static int on_event(const char *json, size_t len, void *user_data)
{
	seen *s = user_data;
	s->events++;
	cJSON *ev = cJSON_ParseWithLength(json, len);
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "type"));
	if (type && strcmp(type, "retry") == 0)
		snprintf(s->retry, sizeof s->retry, "%.*s", (int)len, json);
	else if (type && strcmp(type, "text") == 0)
		strncat(s->text, cJSON_GetStringValue(cJSON_GetObjectItem(ev, "text")),
			sizeof s->text - strlen(s->text) - 1);
	cJSON_Delete(ev);
	return 0;
}

/* An SSE stream answering `text` in one delta. */
static char *stream_of(const char *text)
{
	char *body = malloc(1024);
	snprintf(body, 1024,
		"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,"
		"\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
		"\"assistant\",\"content\":\"%s\"},\"finish_reason\":null}]}\n\n"
		"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,"
		"\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{},"
		"\"finish_reason\":\"stop\"}]}\n\n"
		"data: [DONE]\n\n", text);
	return body;
}

START_TEST(test_429_retry_after)
{
	add_openai("main", NULL, NULL);
	ck_assert_cog(cog_llm_configure(ctx, "{\"retry\":{\"base_ms\":1,\"cap_ms\":5}}"));
	push(429, "{\"error\":{\"message\":\"Rate limit reached\"}}", "Retry-After: 1\r\n");
	char *body = stream_of("after the wait");
	ws_answer a = ws_answer_body(200, "text/event-stream", body);
	a.chunked = true;
	ck_assert_int_eq(ws_push(server, &a), 0);
	free(body);
	seen s = { 0 };
	cog_llm_chat_options o = COG_LLM_CHAT_OPTIONS_INIT;
	o.on_event = on_event;
	o.event_user_data = &s;
	double t0 = now_ms();
	cJSON *r = chat(HELLO, &o);
	double waited = now_ms() - t0;
	ck_assert_msg(waited >= 1000, "waited only %.0f ms", waited);
	ck_assert_msg(waited < 3000, "waited %.0f ms", waited);
	ck_assert_int_eq(number(r, "attempts"), 2);
	ck_assert_str_eq(content_of(r), "after the wait");
	ck_assert_str_eq(s.text, "after the wait");
	ck_assert_msg(strstr(s.retry, "\"attempt\":2,\"endpoint\":\"main\",\"delay_ms\":1000,"
		"\"reason\":\"rate_limited\""), "%s", s.retry);
	ck_assert_uint_eq(ws_requests(server), 2);
	cJSON_Delete(r);
	printf("429 + Retry-After: 1 -> answered after %.0f ms\n", waited);
}
END_TEST

/* ---- breaker ---- */

START_TEST(test_breaker_opens_and_half_opens)
{
	cog_llm_endpoint_options eo = COG_LLM_ENDPOINT_OPTIONS_INIT;
	eo.breaker_failures = 3;
	eo.breaker_cooldown_ms = 300;
	add_openai("main", NULL, &eo);
	ck_assert_cog(cog_llm_configure(ctx, "{\"retry\":{\"max_attempts\":1}}"));
	push(500, ERROR_500, NULL);
	char *out = NULL;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(cog_llm_chat(ctx, HELLO, NULL, &out), COG_EUNAVAILABLE);
	ck_assert_uint_eq(ws_requests(server), 3);
	ck_breaker("main", "open");
	/* Open: refused without a request, at once. */
	double t0 = now_ms();
	ck_assert_int_eq(cog_llm_chat(ctx, HELLO, NULL, &out), COG_EUNAVAILABLE);
	ck_assert_msg(now_ms() - t0 < 50, "took %.0f ms", now_ms() - t0);
	ck_assert_msg(strstr(cog_error_last(), "main/gpt-test: breaker open") ||
		strstr(cog_error_last(), "main/(default model): breaker open"), "%s",
		cog_error_last());
	ck_assert_uint_eq(ws_requests(server), 3);
	/* After the cool-down: half-open, one probe; it fails: open again. */
	usleep(350 * 1000);
	ck_breaker("main", "half_open");
	ck_assert_int_eq(cog_llm_chat(ctx, HELLO, NULL, &out), COG_EUNAVAILABLE);
	ck_assert_uint_eq(ws_requests(server), 4);
	ck_breaker("main", "open");
	ck_assert_int_eq(cog_llm_chat(ctx, HELLO, NULL, &out), COG_EUNAVAILABLE);
	ck_assert_uint_eq(ws_requests(server), 4);
	/* Next cool-down: the probe succeeds and closes it. */
	usleep(350 * 1000);
	ws_reset(server);
	push_answer("back");
	cJSON *r = chat(HELLO, NULL);
	ck_assert_str_eq(content_of(r), "back");
	cJSON_Delete(r);
	ck_assert_uint_eq(ws_requests(server), 1);
	ck_breaker("main", "closed");
	r = chat(HELLO, NULL);
	cJSON_Delete(r);
	ck_assert_uint_eq(ws_requests(server), 2);
}
END_TEST

START_TEST(test_breaker_cuts_retries_short)
{
	cog_llm_endpoint_options eo = COG_LLM_ENDPOINT_OPTIONS_INIT;
	eo.breaker_failures = 2;
	add_openai("main", NULL, &eo);
	ck_assert_cog(cog_llm_configure(ctx, "{\"retry\":{\"max_attempts\":4,\"base_ms\":1,"
		"\"cap_ms\":5}}"));
	push(503, ERROR_500, NULL);
	char *out = NULL;
	ck_assert_int_eq(cog_llm_chat(ctx, HELLO, NULL, &out), COG_EUNAVAILABLE);
	/* Two failures opened the breaker: no third or fourth attempt. */
	ck_assert_uint_eq(ws_requests(server), 2);
	ck_assert_msg(strstr(cog_error_last(), "HTTP 503") &&
		strstr(cog_error_last(), "(2 attempts)") &&
		strstr(cog_error_last(), "then the breaker opened"), "%s", cog_error_last());
}
END_TEST

/* ---- fallback, timeout, cancel ---- */

START_TEST(test_fallback_when_refused)
{
	char dead[64];
	snprintf(dead, sizeof dead, "http://127.0.0.1:%u", unused_port());
	add_openai("dead", dead, NULL);
	add_openai("live", NULL, NULL);
	ck_assert_cog(cog_llm_configure(ctx, "{\"routes\":{\"executor\":{\"models\":["
		"{\"endpoint\":\"dead\",\"model\":\"gpt-a\"},{\"endpoint\":\"live\",\"model\":\"gpt-b\"}]}}}"));
	push_answer("from live");
	double t0 = now_ms();
	cJSON *r = chat(HELLO, NULL);
	double ms = now_ms() - t0;
	ck_assert_str_eq(content_of(r), "from live");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(r, "endpoint")), "live");
	ck_assert_int_eq(number(r, "attempts"), 2);
	cJSON_Delete(r);
	ck_assert_msg(ms < 500, "fallback took %.0f ms (no retry of a refused connection)", ms);
	char *body = ws_request_body(server, 0);
	ck_assert_ptr_nonnull(strstr(body, "\"model\":\"gpt-b\""));
	free(body);
	char *json = NULL;
	ck_assert_cog(cog_llm_stats(ctx, &json));
	ck_assert_msg(strstr(json, "\"dead\":{\"breaker\":\"closed\",\"calls\":1,\"failures\":1}"),
		"%s", json);
	cog_free(json);
	/* Only the dead one: COG_EUNAVAILABLE naming it. */
	ck_assert_cog(cog_llm_configure(ctx, "{\"routes\":{\"executor\":{\"models\":["
		"{\"endpoint\":\"dead\",\"model\":\"gpt-a\"}]}}}"));
	char *out = NULL;
	ck_assert_int_eq(cog_llm_chat(ctx, HELLO, NULL, &out), COG_EUNAVAILABLE);
	ck_assert_msg(strstr(cog_error_last(), "dead/gpt-a: ") &&
		strstr(cog_error_last(), "(1 attempt)"), "%s", cog_error_last());
}
END_TEST

START_TEST(test_overall_timeout)
{
	add_openai("main", NULL, NULL);
	char *body = completion("too late");
	ws_answer a = ws_answer_body(200, NULL, body);
	a.delay_ms = 3000;
	ck_assert_int_eq(ws_push(server, &a), 0);
	free(body);
	cog_llm_chat_options o = COG_LLM_CHAT_OPTIONS_INIT;
	o.timeout_ms = 300;
	char *out = NULL;
	double t0 = now_ms();
	ck_assert_int_eq(cog_llm_chat(ctx, HELLO, &o, &out), COG_ETIMEOUT);
	double ms = now_ms() - t0;
	ck_assert_msg(ms >= 280 && ms < 800, "returned after %.0f ms", ms);
	ck_assert_ptr_null(out);
	/* The configured timeout applies when the call sets none. */
	ck_assert_cog(cog_llm_configure(ctx, "{\"timeout_ms\":200}"));
	t0 = now_ms();
	ck_assert_int_eq(cog_llm_chat(ctx, HELLO, NULL, &out), COG_ETIMEOUT);
	ms = now_ms() - t0;
	ck_assert_msg(ms >= 180 && ms < 700, "returned after %.0f ms", ms);
	printf("overall timeout 300 ms -> COG_ETIMEOUT; 200 ms configured -> %.0f ms\n", ms);
}
END_TEST

typedef struct cancel_state {
	atomic_int text_events;
	double canceled_at;
} cancel_state;

static int count_text(const char *json, size_t len, void *user_data)
{
	cancel_state *cs = user_data;
	if (len && strstr(json, "\"type\":\"text\""))
		atomic_fetch_add(&cs->text_events, 1);
	return 0;
}

static void *cancel_later(void *arg)
{
	cancel_state *cs = arg;
	while (atomic_load(&cs->text_events) == 0)
		usleep(1000);
	usleep(150 * 1000);   /* well into the drip */
	cs->canceled_at = now_ms();
	cog_ctx_cancel(ctx);
	return NULL;
}

START_TEST(test_hung_endpoint_times_out_and_falls_back)
{
	/* A answers only after a minute; its provider gives up after 300 ms. */
	ws_server *hung = start_wire_server();
	char *body = completion("far too late");
	ws_answer a = ws_answer_body(200, NULL, body);
	a.delay_ms = 60000;
	ck_assert_int_eq(ws_push(hung, &a), 0);
	free(body);
	add_openai_to(ctx, "a", ws_url(hung), "gpt-test", 300, NULL);
	add_openai("b", NULL, NULL);
	ck_assert_cog(cog_llm_configure(ctx, "{\"routes\":{\"executor\":{\"models\":["
		"{\"endpoint\":\"a\",\"model\":\"gpt-a\"},{\"endpoint\":\"b\",\"model\":\"gpt-b\"}]}},"
		"\"retry\":{\"max_attempts\":2,\"base_ms\":10,\"cap_ms\":50}}"));
	push_answer("from b");
	cog_llm_chat_options o = COG_LLM_CHAT_OPTIONS_INIT;
	o.timeout_ms = 5000;
	double t0 = now_ms();
	char *out = NULL;
	int rc = cog_llm_chat(ctx, HELLO, &o, &out);
	double ms = now_ms() - t0;
	ck_assert_msg(rc == COG_OK, "%d %s (after %.0f ms)", rc, cog_error_last(), ms);
	cJSON *r = cJSON_Parse(out);
	cog_free(out);
	ck_assert_str_eq(content_of(r), "from b");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(r, "endpoint")), "b");
	ck_assert_int_eq(number(r, "attempts"), 3);   /* a twice (timed out), then b */
	cJSON_Delete(r);
	ck_assert_uint_eq(ws_requests(hung), 2);
	ck_assert_uint_eq(ws_requests(server), 1);
	ck_assert_msg(ms >= 590 && ms < 2500, "answered after %.0f ms", ms);
	char *json = NULL;
	ck_assert_cog(cog_llm_stats(ctx, &json));
	ck_assert_msg(strstr(json, "\"a\":{\"breaker\":\"closed\",\"calls\":2,\"failures\":2}"),
		"%s", json);
	cog_free(json);
	ws_stop(hung);
	printf("endpoint hung past its 300 ms request timeout, twice -> answered by "
		"the fallback after %.0f ms\n", ms);
}
END_TEST

START_TEST(test_stream_overload_retried)
{
	/* A 200 stream whose first event is the server's overload error: the
	 * provider reports 503, and the router retries it. */
	add_openai("main", NULL, NULL);
	ck_assert_cog(cog_llm_configure(ctx, "{\"retry\":{\"base_ms\":1,\"cap_ms\":5}}"));
	ws_answer a = ws_answer_body(200, "text/event-stream",
		"data: {\"error\":{\"message\":\"The server is overloaded, please try again\","
		"\"type\":\"server_error\",\"code\":\"overloaded\"}}\n\n");
	a.chunked = true;
	ck_assert_int_eq(ws_push(server, &a), 0);
	char *body = stream_of("second try");
	a = ws_answer_body(200, "text/event-stream", body);
	a.chunked = true;
	ck_assert_int_eq(ws_push(server, &a), 0);
	free(body);
	seen s = { 0 };
	cog_llm_chat_options o = COG_LLM_CHAT_OPTIONS_INIT;
	o.on_event = on_event;
	o.event_user_data = &s;
	char *out = NULL;
	int rc = cog_llm_chat(ctx, HELLO, &o, &out);
	ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
	cJSON *r = cJSON_Parse(out);
	cog_free(out);
	ck_assert_str_eq(content_of(r), "second try");
	ck_assert_int_eq(number(r, "attempts"), 2);
	cJSON_Delete(r);
	ck_assert_str_eq(s.text, "second try");
	ck_assert_msg(strstr(s.retry, "\"attempt\":2,\"endpoint\":\"main\"") &&
		strstr(s.retry, "\"reason\":\"server_error\""), "%s", s.retry);
	ck_assert_uint_eq(ws_requests(server), 2);
}
END_TEST

START_TEST(test_cancel_mid_stream)
{
	add_openai("main", NULL, NULL);
	const char *first = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
		"\"created\":1,\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":"
		"{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n";
	ws_answer a = ws_answer_body(200, "text/event-stream", first);
	a.drip = true;
	ck_assert_int_eq(ws_push(server, &a), 0);
	cancel_state cs = { 0 };
	cog_llm_chat_options o = COG_LLM_CHAT_OPTIONS_INIT;
	o.on_event = count_text;
	o.event_user_data = &cs;
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, cancel_later, &cs), 0);
	char *out = NULL;
	int rc = cog_llm_chat(ctx, HELLO, &o, &out);
	double returned = now_ms();
	pthread_join(t, NULL);
	ck_assert_msg(rc == COG_ECANCELED, "%d %s", rc, cog_error_last());
	ck_assert_int_eq(atomic_load(&cs.text_events), 1);
	double ms = returned - cs.canceled_at;
	ck_assert_msg(ms < 100, "returned %.0f ms after the cancel", ms);
	ck_assert_uint_eq(ws_requests(server), 1);   /* never retried */
	printf("cancel mid-stream -> COG_ECANCELED after %.1f ms\n", ms);
}
END_TEST

/* ---- cache ---- */

START_TEST(test_cache_hit_and_miss)
{
	cog_storage *st = NULL;
	ck_assert_cog(cog_storage_memory_new(&st));
	ck_assert_cog(cog_ctx_set_storage(ctx, st));
	add_openai("main", NULL, NULL);
	push_answer("deterministic");
	const char *cold = "{\"temperature\":0,\"messages\":[{\"role\":\"user\","
		"\"content\":\"hello\"}]}";
	cJSON *r = chat(cold, NULL);
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(r, "cached")));
	cJSON_Delete(r);
	r = chat(cold, NULL);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(r, "cached")));
	ck_assert_str_eq(content_of(r), "deterministic");
	ck_assert_int_eq(number(r, "cost"), 0);
	cJSON_Delete(r);
	ck_assert_uint_eq(ws_requests(server), 1);
	const char *warm = "{\"temperature\":0.7,\"messages\":[{\"role\":\"user\","
		"\"content\":\"hello\"}]}";
	cJSON_Delete(chat(warm, NULL));
	cJSON_Delete(chat(warm, NULL));
	ck_assert_uint_eq(ws_requests(server), 3);
	char *json = NULL;
	ck_assert_cog(cog_llm_stats(ctx, &json));
	ck_assert_msg(strstr(json, "\"cache\":{\"hits\":1,\"misses\":1}"), "%s", json);
	cog_free(json);
}
END_TEST

/* A storage backend that forwards to a shared one: two contexts over it
 * see the same documents, as two runs of a program see one database. */
static int fw_put(void *self, const char *c, const char *k, const char *v,
                  size_t len, int64_t expires_at)
{
	(void)len;
	return cog_storage_put(self, c, k, v, expires_at);
}

static int fw_get(void *self, const char *c, const char *k, int64_t now,
                  char **v, size_t *len)
{
	(void)now;
	int rc = cog_storage_get(self, c, k, v);
	if (rc == 0)
		*len = strlen(*v);
	return rc;
}

static int fw_del(void *self, const char *c, const char *k)
{
	return cog_storage_delete(self, c, k);
}

static int fw_scan(void *self, const char *c, const char *prefix, int64_t now,
                   cog_storage_doc_fn fn, void *user_data)
{
	(void)now;
	return cog_storage_scan(self, c, prefix, fn, user_data);
}

static int fw_append(void *self, const char *log, const char *record, size_t len,
                     uint64_t *seq)
{
	(void)len;
	return cog_storage_append(self, log, record, seq);
}

static int fw_read(void *self, const char *log, uint64_t from, size_t limit,
                   cog_storage_record_fn fn, void *user_data)
{
	return cog_storage_read(self, log, from, limit, fn, user_data);
}

static int fw_begin(void *self) { return cog_storage_begin(self); }
static int fw_commit(void *self) { return cog_storage_commit(self); }
static int fw_rollback(void *self) { return cog_storage_rollback(self); }

/* One run of a program: a fresh context over the shared storage, endpoint
 * "default" at base with default model `model`, one deterministic request
 * without a model. Its answer's content (malloc'd). */
static char *one_run(cog_storage *shared, const char *base, const char *model)
{
	cog_ctx *c = ctx_with_curl(NULL);
	cog_storage *view = NULL;
	cog_storage_vtable vt = COG_STORAGE_VTABLE_INIT;
	vt.self = shared;
	vt.put = fw_put;
	vt.get = fw_get;
	vt.del = fw_del;
	vt.scan = fw_scan;
	vt.append = fw_append;
	vt.read = fw_read;
	vt.begin = fw_begin;
	vt.commit = fw_commit;
	vt.rollback = fw_rollback;
	ck_assert_cog(cog_storage_new(&view, &vt));
	ck_assert_cog(cog_ctx_set_storage(c, view));
	add_openai_to(c, "default", base, model, 0, NULL);
	char *out = NULL;
	ck_assert_cog(cog_llm_chat(c, "{\"temperature\":0,\"messages\":[{\"role\":"
		"\"user\",\"content\":\"plan this\"}]}", NULL, &out));
	cJSON *r = cJSON_Parse(out);
	char *content = strdup(content_of(r));
	cJSON_Delete(r);
	cog_free(out);
	cog_ctx_free(c);
	return content;
}

START_TEST(test_cache_keys_the_backend)
{
	cog_storage *shared = NULL;
	ck_assert_cog(cog_storage_memory_new(&shared));
	/* Run 1: the provider's default model A. */
	push_answer("from model A");
	char *got = one_run(shared, NULL, "model-a");
	ck_assert_str_eq(got, "from model A");
	free(got);
	ck_assert_uint_eq(ws_requests(server), 1);
	/* Run 2: same endpoint name, default model B: not A's answer. */
	push_answer("from model B");
	got = one_run(shared, NULL, "model-b");
	ck_assert_str_eq(got, "from model B");
	free(got);
	ck_assert_uint_eq(ws_requests(server), 2);
	char *body = ws_request_body(server, 1);
	ck_assert_msg(strstr(body, "\"model\":\"model-b\""), "%s", body);
	free(body);
	/* Run 3: model A again: its cached answer, no request. */
	got = one_run(shared, NULL, "model-a");
	ck_assert_str_eq(got, "from model A");
	free(got);
	ck_assert_uint_eq(ws_requests(server), 2);
	/* Run 4: model A at another base URL: another backend. */
	ws_server *other = start_wire_server();
	char *answer = completion("from the other server");
	ws_answer a = ws_answer_body(200, NULL, answer);
	ck_assert_int_eq(ws_push(other, &a), 0);
	free(answer);
	got = one_run(shared, ws_url(other), "model-a");
	ck_assert_str_eq(got, "from the other server");
	free(got);
	ck_assert_uint_eq(ws_requests(other), 1);
	ws_stop(other);
	cog_storage_free(shared);
}
END_TEST

/* ---- structured output ---- */

static const char *PERSON =
	"{\"messages\":[{\"role\":\"user\",\"content\":\"a person\"}],"
	"\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"person\","
	"\"strict\":true,\"schema\":{\"type\":\"object\",\"properties\":{\"name\":"
	"{\"type\":\"string\"},\"age\":{\"type\":\"integer\",\"minimum\":0}},"
	"\"required\":[\"name\",\"age\"],\"additionalProperties\":false}}}}";

START_TEST(test_schema_retry)
{
	add_openai("main", NULL, NULL);
	push_answer("{\"name\":\"Ada\",\"age\":-3}");
	push_answer("{\"name\":\"Ada\",\"age\":36}");
	cJSON *r = chat(PERSON, NULL);
	cJSON *parsed = cJSON_GetObjectItem(r, "parsed");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(parsed, "name")), "Ada");
	ck_assert_int_eq(number(parsed, "age"), 36);
	ck_assert_int_eq(number(r, "attempts"), 2);
	ck_assert_int_eq(number(cJSON_GetObjectItem(r, "usage"), "input_tokens"), 24);
	cJSON_Delete(r);
	ck_assert_uint_eq(ws_requests(server), 2);
	/* The second request carries the first answer and what was wrong. */
	char *body = ws_request_body(server, 1);
	cJSON *req = cJSON_Parse(body);
	free(body);
	cJSON *messages = cJSON_GetObjectItem(req, "messages");
	ck_assert_int_eq(cJSON_GetArraySize(messages), 3);
	cJSON *assistant = cJSON_GetArrayItem(messages, 1);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(assistant, "role")), "assistant");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(assistant, "content")),
		"{\"name\":\"Ada\",\"age\":-3}");
	const char *fix = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(messages, 2),
		"content"));
	ck_assert_msg(fix && strstr(fix, "Your previous answer did not match the required JSON "
		"schema: [{\"instance\":\"/age\",\"keyword\":\"minimum\"") &&
		strstr(fix, "Answer again with only the corrected JSON."), "%s", fix);
	cJSON_Delete(req);
}
END_TEST

START_TEST(test_schema_always_invalid)
{
	add_openai("main", NULL, NULL);
	push_answer("I am not JSON");
	char *out = NULL;
	ck_assert_int_eq(cog_llm_chat(ctx, PERSON, NULL, &out), COG_ESCHEMA);
	ck_assert_uint_eq(ws_requests(server), 3);   /* 1 + 2 re-asks (the default) */
	ck_assert_msg(strstr(cog_error_last(), "after 2 re-asks") &&
		strstr(cog_error_last(), "\"keyword\":\"json\""), "%s", cog_error_last());
	ck_assert_cog(cog_llm_configure(ctx, "{\"schema_retries\":1}"));
	ck_assert_int_eq(cog_llm_chat(ctx, PERSON, NULL, &out), COG_ESCHEMA);
	ck_assert_uint_eq(ws_requests(server), 5);
	cog_llm_chat_options o = COG_LLM_CHAT_OPTIONS_INIT;
	o.schema_retries = 3;
	ck_assert_int_eq(cog_llm_chat(ctx, PERSON, &o, &out), COG_ESCHEMA);
	ck_assert_uint_eq(ws_requests(server), 9);
}
END_TEST

/* ---- rate limit ---- */

START_TEST(test_requests_per_minute_burst)
{
	cog_llm_endpoint_options eo = COG_LLM_ENDPOINT_OPTIONS_INIT;
	eo.requests_per_minute = 60;   /* 1/s, a burst of 6 */
	add_openai("main", NULL, &eo);
	push_answer("ok");
	/* When each call returned, from the first call's start. */
	double t0 = now_ms(), t[9];
	for (int i = 1; i <= 8; i++) {
		cJSON_Delete(chat(HELLO, NULL));
		t[i] = now_ms() - t0;
	}
	printf("requests_per_minute 60 (burst 6): calls returned at");
	for (int i = 1; i <= 8; i++)
		printf(" %.0f", t[i]);
	printf(" ms\n");
	/* The burst of six goes at once; then one a second. */
	ck_assert_msg(t[6] < 500, "the burst took %.0f ms", t[6]);
	ck_assert_msg(t[7] >= 900 && t[7] < 1600, "7th call at %.0f ms", t[7]);
	ck_assert_msg(t[8] >= 1900 && t[8] < 2700, "8th call at %.0f ms", t[8]);
	/* With the deadline before the next slot: rate limited at once. */
	cog_llm_chat_options o = COG_LLM_CHAT_OPTIONS_INIT;
	o.timeout_ms = 300;
	char *out = NULL;
	double t9 = now_ms();
	ck_assert_int_eq(cog_llm_chat(ctx, HELLO, &o, &out), COG_EBUSY);
	ck_assert_msg(now_ms() - t9 < 100, "took %.0f ms", now_ms() - t9);
	ck_assert_msg(strstr(cog_error_last(), "requests_per_minute"), "%s", cog_error_last());
	ck_assert_uint_eq(ws_requests(server), 8);
}
END_TEST

static Suite *router_suite(void)
{
	Suite *s = suite_create("llm-router");
	TCase *tc = tcase_create("faults");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_500_then_200);
	tcase_add_test(tc, test_429_retry_after);
	tcase_add_test(tc, test_breaker_opens_and_half_opens);
	tcase_add_test(tc, test_breaker_cuts_retries_short);
	tcase_add_test(tc, test_fallback_when_refused);
	tcase_add_test(tc, test_overall_timeout);
	tcase_add_test(tc, test_hung_endpoint_times_out_and_falls_back);
	tcase_add_test(tc, test_stream_overload_retried);
	tcase_add_test(tc, test_cancel_mid_stream);
	suite_add_tcase(s, tc);
	tc = tcase_create("answers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_cache_hit_and_miss);
	tcase_add_test(tc, test_cache_keys_the_backend);
	tcase_add_test(tc, test_schema_retry);
	tcase_add_test(tc, test_schema_always_invalid);
	tcase_add_test(tc, test_requests_per_minute_burst);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(router_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
