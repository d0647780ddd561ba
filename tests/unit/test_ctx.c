/* cog_ctx: options, environment, log and event hooks, redaction,
 * cancellation, backend ownership. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "core_int.h"
#include "redact_secret.h"
#include "cognition/ctx.h"

static char lines[16][2048];
static int line_count;

static void capture_log(int level, const char *line, void *ud)
{
	if (line_count < 16)
		snprintf(lines[line_count++], sizeof(lines[0]), "%s", line);
}

START_TEST(options_versions)
{
	cog_ctx_options o;
	ck_assert_int_eq(cog_ctx_options_init(&o, 0), COG_EVERSION);
	ck_assert_int_eq(cog_ctx_options_init(&o, COG_CTX_OPTIONS_VERSION + 1), COG_EVERSION);
	ck_assert_int_eq(cog_ctx_options_init(NULL, 1), COG_EINVAL);
	ck_assert_int_eq(cog_ctx_options_init(&o, COG_CTX_OPTIONS_VERSION), 0);
	ck_assert_int_eq(o.log_level, COG_LOG_INFO);
	cog_ctx *ctx = (cog_ctx *)1;
	o.version = 42;
	ck_assert_int_eq(cog_ctx_new(&ctx, &o), COG_EVERSION);
	ck_assert_ptr_null(ctx);
	ck_assert_msg(strstr(cog_error_last(), "42"), "%s", cog_error_last());
	o.version = COG_CTX_OPTIONS_VERSION;
	o.log_level = 17;
	ck_assert_int_eq(cog_ctx_new(&ctx, &o), COG_EINVAL);
	o.log_level = COG_LOG_INFO;
	o.worker_threads = 1000;
	ck_assert_int_eq(cog_ctx_new(&ctx, &o), COG_EINVAL);
	ck_assert_int_eq(cog_ctx_new(NULL, NULL), COG_EINVAL);
	ck_assert_int_eq(cog_ctx_new(&ctx, NULL), 0);
	char *json = NULL;
	ck_assert_int_eq(cog_ctx_describe(ctx, &json), 0);
	ck_assert_int_eq(cog_json_validate(json, strlen(json), "describe"), 0);
	ck_assert_msg(strstr(json, "\"worker_threads\":"), "%s", json);
	cog_free(json);
	ck_assert_uint_eq(strlen(cog_ctx_trace_id(ctx)), 32);
	cog_ctx_free(ctx);
	cog_ctx_free(NULL);
}
END_TEST

START_TEST(options_from_environment)
{
	cog_ctx_options o = COG_CTX_OPTIONS_INIT;
	setenv("COG_LOG_LEVEL", "debug", 1);
	setenv("COG_WORKERS", "3", 1);
	setenv("COG_HTTP_TIMEOUT_MS", "1500", 1);
	ck_assert_int_eq(cog_ctx_options_from_env(&o), 0);
	ck_assert_int_eq(o.log_level, COG_LOG_DEBUG);
	ck_assert_uint_eq(o.worker_threads, 3);
	ck_assert_uint_eq(o.http_timeout_ms, 1500);

	static const struct { const char *var, *value; } bad[] = {
		{ "COG_LOG_LEVEL", "loud" }, { "COG_WORKERS", "0" },
		{ "COG_WORKERS", "many" }, { "COG_WORKERS", "-1" },
		{ "COG_WORKERS", "257" }, { "COG_HTTP_TIMEOUT_MS", "12abc" },
		{ "COG_HTTP_TIMEOUT_MS", "99999999999999999999" },
	};
	for (size_t i = 0; i < COG_ARRAY_LEN(bad); i++) {
		cog_ctx_options before = COG_CTX_OPTIONS_INIT, after = before;
		setenv(bad[i].var, bad[i].value, 1);
		ck_assert_int_eq(cog_ctx_options_from_env(&after), COG_EINVAL);
		ck_assert_msg(strstr(cog_error_last(), bad[i].var) &&
			strstr(cog_error_last(), bad[i].value), "%s", cog_error_last());
		ck_assert_msg(memcmp(&before, &after, sizeof(before)) == 0,
			"options changed by a failed read");
		unsetenv(bad[i].var);
	}
	setenv("COG_WORKERS", "", 1); /* empty means unset */
	o.worker_threads = 9;
	ck_assert_int_eq(cog_ctx_options_from_env(&o), 0);
	ck_assert_uint_eq(o.worker_threads, 9);
}
END_TEST

START_TEST(log_lines_are_json_and_redacted)
{
	cog_ctx_options o = COG_CTX_OPTIONS_INIT;
	o.log_fn = capture_log;
	o.log_level = COG_LOG_INFO;
	cog_ctx *ctx;
	ck_assert_int_eq(cog_ctx_new(&ctx, &o), 0);
	line_count = 0;
	ck_assert_int_eq(cog_ctx_log(ctx, COG_LOG_DEBUG, "filtered", NULL), 0);
	ck_assert_int_eq(line_count, 0);
	ck_assert_int_eq(cog_ctx_log(ctx, COG_LOG_WARN,
		"calling with Authorization: Bearer abc.def-123 and api_key=sk-0123456789abcdefXYZ",
		"{\"url\":\"http://x\",\"api_key\":\"sk-live-secret\",\"nested\":"
		"{\"password\":\"hunter2\",\"note\":\"token=abc123\"},\"n\":3}"), 0);
	ck_assert_int_eq(line_count, 1);
	const char *line = lines[0];
	ck_assert_int_eq(cog_json_validate(line, strlen(line), "log line"), 0);
	ck_assert_msg(!strstr(line, "abc.def-123") && !strstr(line, "sk-live-secret") &&
		!strstr(line, "hunter2") && !strstr(line, "0123456789abcdef") &&
		!strstr(line, "abc123"), "secret leaked: %s", line);
	ck_assert_msg(strstr(line, "\"level\":\"warn\"") && strstr(line, "\"url\":\"http://x\"") &&
		strstr(line, "\"n\":3") && strstr(line, cog_ctx_trace_id(ctx)) &&
		strstr(line, "\"span_id\":null") && strstr(line, "\"time\":\"20"), "%s", line);
	ck_assert_msg(strstr(line, "\"api_key\":\"[REDACTED]\"") &&
		strstr(line, "\"password\":\"[REDACTED]\"") &&
		strstr(line, "\"note\":\"token=[REDACTED]\"") && !strstr(line, "\"\":"),
		"field names lost: %s", line);
	/* Any Authorization scheme, JSON inside text, usage counters kept. */
	line_count = 0;
	ck_assert_int_eq(cog_ctx_log(ctx, COG_LOG_INFO,
		"sent Authorization: Basic dXNlcjpwYXNz with body {\"password\":\"hunter2\"}",
		"{\"max_tokens\":100,\"usage\":{\"prompt_tokens\":7},\"X-Api-Key\":\"k\","
		"\"headers\":[\"Authorization: Bearer zzz\"],\"client_secret\":\"c\"}"), 0);
	line = lines[0];
	ck_assert_msg(!strstr(line, "dXNlcjpwYXNz") && !strstr(line, "hunter2") &&
		!strstr(line, "zzz") && !strstr(line, "\"k\"") && !strstr(line, "\"c\""),
		"secret leaked: %s", line);
	ck_assert_msg(strstr(line, "\"max_tokens\":100") && strstr(line, "\"prompt_tokens\":7"),
		"usage counters were redacted: %s", line);
	ck_assert_int_eq(cog_ctx_log(ctx, COG_LOG_INFO, "bad \xff utf-8", NULL), COG_EINVAL);
	ck_assert_msg(strstr(cog_error_last(), "byte 4"), "%s", cog_error_last());
	ck_assert_int_eq(cog_ctx_log(ctx, COG_LOG_INFO, "x", "[1]"), COG_EINVAL);
	ck_assert_int_eq(cog_ctx_log(ctx, COG_LOG_INFO, "x", "{bad"), COG_EINVAL);
	ck_assert_int_eq(cog_ctx_log(ctx, 99, "x", NULL), COG_EINVAL);
	ck_assert_int_eq(cog_ctx_log(NULL, COG_LOG_INFO, "x", NULL), COG_EINVAL);
	cog__log(ctx, COG_LOG_ERROR, NULL, "internal %d", 7);
	ck_assert_int_eq(line_count, 2);
	ck_assert_msg(strstr(lines[1], "\"message\":\"internal 7\""), "%s", lines[1]);
	cog_ctx_free(ctx);
}
END_TEST

static char event_text[1024];

static void capture_event(const char *event, void *ud)
{
	snprintf(event_text, sizeof(event_text), "%s", event);
}

START_TEST(events)
{
	cog_ctx_options o = COG_CTX_OPTIONS_INIT;
	o.event_fn = capture_event;
	cog_ctx *ctx;
	ck_assert_int_eq(cog_ctx_new(&ctx, &o), 0);
	cJSON *data = cJSON_CreateObject();
	cJSON_AddStringToObject(data, "task", "t1");
	cog__event(ctx, "task.started", data);
	ck_assert_msg(strstr(event_text, "\"type\":\"task.started\"") &&
		strstr(event_text, "\"data\":{\"task\":\"t1\"}"), "%s", event_text);
	/* a configured secret quoted by an event never reaches the hook */
	static const char key[] = "k3y-Zq81vTnWm4Lp";
	ck_assert_int_eq(cog__redact_add_secret(ctx, key), 0);
	data = cJSON_CreateObject();
	cJSON_AddStringToObject(data, "text", "the server said k3y-Zq81vTnWm4Lp back");
	cog__event(ctx, "llm.delta", data);
	ck_assert_msg(!strstr(event_text, key) && strstr(event_text, "said ****"), "%s",
		event_text);
	cog_ctx_free(ctx);
}
END_TEST

/* A transport that waits to be canceled, to check what the ctx passes. */
static unsigned int seen_timeout;

static int waiting_perform(void *self, const cog_http_request *req,
                           cog_http_response *resp)
{
	seen_timeout = req->timeout_ms;
	for (int i = 0; i < 200; i++) {
		if (req->is_canceled && req->is_canceled(req->cancel_user_data))
			return cog_error_set(COG_ECANCELED, "canceled");
		usleep(10000);
	}
	resp->status = 200;
	return 0;
}

static void *cancel_later(void *arg)
{
	usleep(50000);
	cog_ctx_cancel(arg);
	return NULL;
}

START_TEST(http_through_ctx_and_cancel)
{
	cog_ctx_options o = COG_CTX_OPTIONS_INIT;
	o.http_timeout_ms = 1234;
	cog_ctx *ctx;
	ck_assert_int_eq(cog_ctx_new(&ctx, &o), 0);
	cog_http_request req = COG_HTTP_REQUEST_INIT;
	cog_http_response resp = COG_HTTP_RESPONSE_INIT;
	req.url = "http://127.0.0.1:1/";
	ck_assert_int_eq(cog_ctx_http_perform(ctx, &req, &resp), COG_EUNAVAILABLE);

	cog_transport_vtable vt = COG_TRANSPORT_VTABLE_INIT;
	vt.perform = waiting_perform;
	cog_transport *t;
	ck_assert_int_eq(cog_transport_new(&t, &vt), 0);
	ck_assert_int_eq(cog_ctx_set_transport(ctx, t), 0);
	ck_assert_ptr_eq(cog_ctx_transport(ctx), t);
	pthread_t th;
	pthread_create(&th, NULL, cancel_later, ctx);
	ck_assert_int_eq(cog_ctx_http_perform(ctx, &req, &resp), COG_ECANCELED);
	pthread_join(th, NULL);
	ck_assert_uint_eq(seen_timeout, 1234);
	ck_assert(cog_ctx_is_canceled(ctx));
	/* Still canceled: refused before the backend runs. */
	ck_assert_int_eq(cog_ctx_http_perform(ctx, &req, &resp), COG_ECANCELED);
	cog_ctx_reset_cancel(ctx);
	ck_assert(!cog_ctx_is_canceled(ctx));

	/* The wrapper's request checks. */
	const char *bad_headers[] = { "X-Ok: 1", "NoColon" };
	req.headers = bad_headers;
	req.header_count = 2;
	ck_assert_int_eq(cog_ctx_http_perform(ctx, &req, &resp), COG_EINVAL);
	ck_assert_msg(strstr(cog_error_last(), "header 1"), "%s", cog_error_last());
	const char *crlf[] = { "X-Evil: a\r\nInjected: 1" };
	req.headers = crlf;
	req.header_count = 1;
	ck_assert_int_eq(cog_ctx_http_perform(ctx, &req, &resp), COG_EINVAL);
	req.header_count = 0;
	req.url = "ftp://example/";
	ck_assert_int_eq(cog_ctx_http_perform(ctx, &req, &resp), COG_EINVAL);
	req.url = "ftp://user:hunter2@example/x?key=secret";
	ck_assert_int_eq(cog_ctx_http_perform(ctx, &req, &resp), COG_EINVAL);
	ck_assert_msg(strstr(cog_error_last(), "ftp://example/x?...") &&
		!strstr(cog_error_last(), "hunter2") && !strstr(cog_error_last(), "secret"),
		"credentials in the message: %s", cog_error_last());
	req.url = "http://a b/";
	ck_assert_int_eq(cog_ctx_http_perform(ctx, &req, &resp), COG_EINVAL);
	req.url = NULL;
	ck_assert_int_eq(cog_ctx_http_perform(ctx, &req, &resp), COG_EINVAL);
	req.url = "http://x/";
	req.method = "GE T";
	ck_assert_int_eq(cog_ctx_http_perform(ctx, &req, &resp), COG_EINVAL);
	cog_ctx_free(ctx);
}
END_TEST

static int transport_closed;

static void count_transport_close(void *self)
{
	transport_closed++;
}

START_TEST(transport_new_takes_ownership_on_failure)
{
	cog_transport *t = NULL;
	cog_transport_vtable vt = COG_TRANSPORT_VTABLE_INIT;
	vt.close = count_transport_close;
	vt.version = 77;
	vt.perform = waiting_perform;
	ck_assert_int_eq(cog_transport_new(&t, &vt), COG_EVERSION);
	ck_assert_int_eq(transport_closed, 1);
	vt.version = COG_TRANSPORT_VTABLE_VERSION;
	vt.perform = NULL;
	ck_assert_int_eq(cog_transport_new(&t, &vt), COG_EINVAL);
	ck_assert_int_eq(transport_closed, 2);
	ck_assert_ptr_null(t);
}
END_TEST

START_TEST(response_header_lookup)
{
	cog_http_response r = COG_HTTP_RESPONSE_INIT;
	r.headers = cog__strdup("Content-Type: text/plain\nRetry-After:  7 \r\nX-Empty:\n");
	char *v = cog_http_response_header(&r, "retry-after");
	ck_assert_str_eq(v, "7");
	cog_free(v);
	v = cog_http_response_header(&r, "content-type");
	ck_assert_str_eq(v, "text/plain");
	cog_free(v);
	v = cog_http_response_header(&r, "x-empty");
	ck_assert_str_eq(v, "");
	cog_free(v);
	ck_assert_ptr_null(cog_http_response_header(&r, "content"));
	cog_http_response_dispose(&r);
	ck_assert_ptr_null(r.headers);
	ck_assert_uint_eq(r.version, COG_HTTP_RESPONSE_VERSION);
}
END_TEST

START_TEST(storage_ownership)
{
	cog_ctx *ctx;
	cog_storage *s;
	ck_assert_int_eq(cog_ctx_new(&ctx, NULL), 0);
	ck_assert_int_eq(cog_storage_memory_new(&s), 0);
	ck_assert_int_eq(cog_ctx_set_storage(ctx, s), 0);
	ck_assert_ptr_eq(cog_ctx_storage(ctx), s);
	ck_assert_int_eq(cog_storage_put(cog_ctx_storage(ctx), "c", "k", "1", 0), 0);
	ck_assert_int_eq(cog_ctx_set_storage(ctx, s), 0); /* the same one: no-op */
	ck_assert_int_eq(cog_storage_put(cog_ctx_storage(ctx), "c", "k2", "2", 0), 0);
	ck_assert_int_eq(cog_storage_memory_new(&s), 0);
	ck_assert_int_eq(cog_ctx_set_storage(ctx, s), 0); /* frees the first */
	ck_assert_int_eq(cog_ctx_set_storage(NULL, NULL), COG_EINVAL);
	cog_ctx_free(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("unit/ctx");
	TCase *tc = tcase_create("ctx");
	tcase_add_test(tc, options_versions);
	tcase_add_test(tc, options_from_environment);
	tcase_add_test(tc, log_lines_are_json_and_redacted);
	tcase_add_test(tc, events);
	tcase_add_test(tc, http_through_ctx_and_cancel);
	tcase_add_test(tc, response_header_lookup);
	tcase_add_test(tc, transport_new_takes_ownership_on_failure);
	tcase_add_test(tc, storage_ownership);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
