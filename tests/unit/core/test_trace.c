/*
 * Unit tests for lib/core/trace*.c: spans (nesting, ids, attributes,
 * status, the thread's current span, a parent passed to another thread),
 * the span hook, metrics (percentiles from known latencies fed through
 * the internal API, errors by kind, tokens and cost by model, tools), and
 * spans stored in a log (batches, cog_trace_read).
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "trace_state.h"
#include "cognition/ctx.h"

#define MAX_SPANS 256

/* What the hook got, in order (any thread). */
static struct {
	pthread_mutex_t lock;
	cJSON *spans[MAX_SPANS];
	int n;
} got = { PTHREAD_MUTEX_INITIALIZER, { NULL }, 0 };

static void keep_span(const char *json, void *user_data)
{
	int *calls = user_data;
	cJSON *span = cJSON_Parse(json);
	pthread_mutex_lock(&got.lock);
	(*calls)++;
	if (got.n < MAX_SPANS)
		got.spans[got.n++] = span;
	else
		cJSON_Delete(span);
	pthread_mutex_unlock(&got.lock);
}

static void forget_spans(void)
{
	for (int i = 0; i < got.n; i++)
		cJSON_Delete(got.spans[i]);
	got.n = 0;
}

static cog_ctx *ctx;
static int hook_calls;

static void setup(void)
{
	ck_assert_int_eq(cog_ctx_new(&ctx, NULL), COG_OK);
	hook_calls = 0;
}

static void teardown(void)
{
	cog_ctx_free(ctx);
	forget_spans();
}

static const char *str(const cJSON *o, const char *pointer)
{
	const cJSON *v = cog_json_pointer_get(o, pointer);
	ck_assert_msg(cJSON_IsString(v), "%s is not a string", pointer);
	return v->valuestring;
}

static double num(const cJSON *o, const char *pointer)
{
	const cJSON *v = cog_json_pointer_get(o, pointer);
	ck_assert_msg(cJSON_IsNumber(v), "%s is not a number", pointer);
	return v->valuedouble;
}

static bool is_hex(const char *s, size_t len)
{
	if (strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return false;
	return true;
}

START_TEST(test_nesting_and_json)
{
	ck_assert_int_eq(cog_ctx_set_span_hook(ctx, keep_span, &hook_calls), COG_OK);
	cog_span *plan = cog__span_begin(ctx, "plan", "plan p1", NULL);
	ck_assert_ptr_nonnull(plan);
	ck_assert_ptr_null(cog__span_current());
	cog_span *outer = cog__span_enter(plan);
	ck_assert_ptr_null(outer);
	ck_assert_ptr_eq(cog__span_current(), plan);
	cog_span *task = cog__span_begin(ctx, "task", "t1", NULL);
	cog__span_attr_str(task, "cog.task.id", "t1");
	cog__span_attr_num(task, "cog.task.attempt", 1);
	cog__span_attr_num(task, "cog.task.attempt", 2);  /* the last value wins */
	cog__span_attr_bool(task, "flag", true);
	cog__span_attr_json(task, "list", cJSON_CreateIntArray((const int[]){ 1, 2 }, 2));
	char long_value[2000];
	memset(long_value, 'x', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	cog__span_attr_str(task, "long", long_value);  /* past the span's arena */
	cog__span_end(task, 0, NULL);
	cog__span_leave(outer);
	ck_assert_ptr_null(cog__span_current());
	cog__span_end(plan, 0, NULL);

	ck_assert_int_eq(hook_calls, 2);
	ck_assert_int_eq(got.n, 2);
	const cJSON *t = got.spans[0], *p = got.spans[1];
	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(str(t, "/trace_id"), cog_ctx_trace_id(ctx));
	ck_assert_str_eq(str(p, "/trace_id"), cog_ctx_trace_id(ctx));
	ck_assert(is_hex(str(t, "/span_id"), 16));
	ck_assert(is_hex(str(p, "/span_id"), 16));
	ck_assert_str_ne(str(t, "/span_id"), str(p, "/span_id"));
	ck_assert_str_eq(str(t, "/parent_span_id"), str(p, "/span_id"));
	ck_assert(cJSON_IsNull(cog_json_pointer_get(p, "/parent_span_id")));
	ck_assert_str_eq(str(t, "/name"), "t1");
	ck_assert_str_eq(str(t, "/kind"), "task");
	ck_assert_str_eq(str(p, "/kind"), "plan");
	ck_assert_str_eq(str(t, "/status/code"), "ok");
	ck_assert_ptr_null(cog_json_pointer_get(t, "/status/error_code"));
	ck_assert_str_eq(str(t, "/attributes/cog.task.id"), "t1");
	ck_assert(num(t, "/attributes/cog.task.attempt") == 2);
	ck_assert(cJSON_IsTrue(cog_json_pointer_get(t, "/attributes/flag")));
	ck_assert(num(t, "/attributes/list/1") == 2);
	ck_assert_str_eq(str(t, "/attributes/long"), long_value);
	double start = num(t, "/start_time_unix_nano"), end = num(t, "/end_time_unix_nano");
	ck_assert(end >= start);
	ck_assert(num(p, "/start_time_unix_nano") <= start);
	ck_assert(num(t, "/duration_ms") >= 0);
}
END_TEST

START_TEST(test_error_status_redacted)
{
	ck_assert_int_eq(cog_ctx_set_span_hook(ctx, keep_span, &hook_calls), COG_OK);
	cog_span *s = cog__span_begin(ctx, "llm", "chat m", NULL);
	cog__span_end(s, COG_ETIMEOUT, "no answer after 5 ms; Authorization: Bearer abcdef123456");
	s = cog__span_begin(ctx, "tool", "execute_tool t", NULL);
	cog__span_end(s, COG_EDENIED, NULL);
	ck_assert_int_eq(got.n, 2);
	const cJSON *e = got.spans[0];
	ck_assert_str_eq(str(e, "/status/code"), "error");
	ck_assert(num(e, "/status/error_code") == COG_ETIMEOUT);
	ck_assert_ptr_nonnull(strstr(str(e, "/status/message"), "no answer after 5 ms"));
	ck_assert_ptr_null(strstr(str(e, "/status/message"), "abcdef123456"));
	/* Without a message: the status's text. */
	ck_assert_str_eq(str(got.spans[1], "/status/message"), cog_strerror(COG_EDENIED));
}
END_TEST

struct child_arg {
	cog_ctx *ctx;
	cog_span *parent;
	char parent_seen[17];
};

static void *child_thread(void *arg)
{
	struct child_arg *a = arg;
	/* A new thread has no current span: the parent comes explicitly. */
	snprintf(a->parent_seen, sizeof(a->parent_seen), "%s",
		cog__span_current() ? "current!" : "none");
	cog_span *s = cog__span_begin(a->ctx, "task", "on a worker", a->parent);
	cog_span *outer = cog__span_enter(s);
	cog_span *inner = cog__span_begin(a->ctx, "llm", "nested", NULL);
	cog__span_end(inner, 0, NULL);
	cog__span_leave(outer);
	cog__span_end(s, 0, NULL);
	return NULL;
}

START_TEST(test_parent_from_another_thread)
{
	ck_assert_int_eq(cog_ctx_set_span_hook(ctx, keep_span, &hook_calls), COG_OK);
	cog_span *plan = cog__span_begin(ctx, "plan", "p", NULL);
	struct child_arg a = { ctx, plan, "" };
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, child_thread, &a), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_str_eq(a.parent_seen, "none");
	char plan_id[17];
	snprintf(plan_id, sizeof(plan_id), "%s", cog__span_id(plan));
	cog__span_end(plan, 0, NULL);
	ck_assert_int_eq(got.n, 3);
	ck_assert_str_eq(str(got.spans[0], "/kind"), "llm");
	ck_assert_str_eq(str(got.spans[0], "/parent_span_id"), str(got.spans[1], "/span_id"));
	ck_assert_str_eq(str(got.spans[1], "/parent_span_id"), plan_id);
	ck_assert_str_eq(str(got.spans[2], "/span_id"), plan_id);
}
END_TEST

START_TEST(test_current_span_of_another_ctx_ignored)
{
	cog_ctx *other = NULL;
	ck_assert_int_eq(cog_ctx_new(&other, NULL), COG_OK);
	ck_assert_int_eq(cog_ctx_set_span_hook(ctx, keep_span, &hook_calls), COG_OK);
	cog_span *foreign = cog__span_begin(other, "plan", "other", NULL);
	cog_span *outer = cog__span_enter(foreign);
	cog_span *s = cog__span_begin(ctx, "tool", "mine", NULL);
	cog__span_end(s, 0, NULL);
	cog__span_leave(outer);
	cog__span_end(foreign, 0, NULL);
	cog_ctx_free(other);
	ck_assert_int_eq(got.n, 1);
	ck_assert(cJSON_IsNull(cog_json_pointer_get(got.spans[0], "/parent_span_id")));
}
END_TEST

START_TEST(test_null_span_and_hook_removed)
{
	cog__span_attr_str(NULL, "a", "b");
	cog__span_attr_num(NULL, "a", 1);
	cog__span_attr_bool(NULL, "a", true);
	cog__span_attr_json(NULL, "a", cJSON_CreateObject()); /* consumed */
	cog__span_set_store(NULL, "trace/x");
	cog__span_end(NULL, 0, NULL);
	ck_assert_str_eq(cog__span_id(NULL), "");
	ck_assert_ptr_null(cog__span_begin(NULL, "llm", "x", NULL));
	ck_assert_int_eq(cog_ctx_set_span_hook(NULL, keep_span, NULL), COG_EINVAL);

	ck_assert_int_eq(cog_ctx_set_span_hook(ctx, keep_span, &hook_calls), COG_OK);
	ck_assert_int_eq(cog_ctx_set_span_hook(ctx, NULL, NULL), COG_OK);
	cog__span_end(cog__span_begin(ctx, "tool", "x", NULL), 0, NULL);
	ck_assert_int_eq(hook_calls, 0);
	/* Counted all the same. */
	char *json = NULL;
	ck_assert_int_eq(cog_ctx_metrics(ctx, &json), COG_OK);
	cJSON *m = cJSON_Parse(json);
	cog_free(json);
	ck_assert(num(m, "/spans/tool/count") == 1);
	ck_assert(num(m, "/tools/calls") == 1);
	cJSON_Delete(m);
}
END_TEST

static cJSON *metrics(void)
{
	char *json = NULL;
	ck_assert_int_eq(cog_ctx_metrics(ctx, &json), COG_OK);
	cJSON *m = cJSON_Parse(json);
	ck_assert_ptr_nonnull(m);
	cog_free(json);
	return m;
}

static void assert_near(double got_ms, double want_ms, const char *what)
{
	/* The histogram's resolution: buckets 2 % wide. */
	ck_assert_msg(got_ms >= want_ms * 0.98 && got_ms <= want_ms * 1.02,
		"%s: %.3f ms, expected %.3f ms within 2 %%", what, got_ms, want_ms);
}

START_TEST(test_percentiles)
{
	struct cog__trace *t = cog__ctx_trace(ctx);
	/* 1, 2, ..., 1000 ms in a scrambled order, and 10 µs .. 1 s for tools. */
	pthread_mutex_lock(&t->lock);
	for (unsigned int i = 0; i < 1000; i++) {
		unsigned int ms = (i * 7919u) % 1000u + 1;
		trace_ended e = { "llm", (uint64_t)ms * 1000000u, 0, "m", 0, 0, 0, NULL };
		trace_metrics_add(&t->metrics, &e);
	}
	for (unsigned int i = 0; i < 100; i++) {
		trace_ended e = { "tool", 10000u * (i < 99 ? 1u : 100000u), 0, NULL, 0, 0, 0, "t" };
		trace_metrics_add(&t->metrics, &e);
	}
	pthread_mutex_unlock(&t->lock);
	cJSON *m = metrics();
	ck_assert(num(m, "/spans/llm/count") == 1000);
	ck_assert(num(m, "/spans/llm/errors") == 0);
	assert_near(num(m, "/spans/llm/latency_ms/p50"), 500, "p50");
	assert_near(num(m, "/spans/llm/latency_ms/p95"), 950, "p95");
	assert_near(num(m, "/spans/llm/latency_ms/p99"), 990, "p99");
	ck_assert(num(m, "/spans/llm/latency_ms/max") == 1000);
	ck_assert(num(m, "/spans/llm/latency_ms/mean") == 500.5);
	/* 99 at 10 µs and one at 1 s: p99 is still 10 µs, max 1 s. */
	assert_near(num(m, "/spans/tool/latency_ms/p50"), 0.010, "tool p50");
	assert_near(num(m, "/spans/tool/latency_ms/p99"), 0.010, "tool p99");
	ck_assert(num(m, "/spans/tool/latency_ms/max") == 1000);
	/* Kinds without spans are listed with zeros. */
	ck_assert(num(m, "/spans/agent.turn/count") == 0);
	ck_assert(num(m, "/spans/plan/latency_ms/p99") == 0);
	cJSON_Delete(m);

	cog_ctx_metrics_reset(ctx);
	m = metrics();
	ck_assert(num(m, "/spans/llm/count") == 0);
	ck_assert(num(m, "/llm/calls") == 0);
	ck_assert(num(m, "/tools/calls") == 0);
	cJSON_Delete(m);
}
END_TEST

static void llm_span(const char *model, double in, double out, double cost, int status)
{
	cog_span *s = cog__span_begin(ctx, "llm", "chat", NULL);
	cog__span_attr_str(s, "gen_ai.request.model", "asked-for");
	if (model)
		cog__span_attr_str(s, "gen_ai.response.model", model);
	cog__span_attr_num(s, "gen_ai.usage.input_tokens", in);
	cog__span_attr_num(s, "gen_ai.usage.output_tokens", out);
	cog__span_attr_num(s, "cog.llm.cost", cost);
	cog__span_end(s, status, NULL);
}

static void tool_span(const char *name, int status)
{
	cog_span *s = cog__span_begin(ctx, "tool", "execute_tool", NULL);
	cog__span_attr_str(s, "gen_ai.tool.name", name);
	cog__span_end(s, status, NULL);
}

START_TEST(test_metrics_by_model_tool_and_error_kind)
{
	llm_span("gpt-a", 100, 20, 0.5, 0);
	llm_span("gpt-a", 50, 5, 0.25, 0);
	llm_span("gpt-b", 7, 3, 0, 0);
	llm_span(NULL, 0, 0, 0, COG_ETIMEOUT);   /* no answer: the requested model */
	tool_span("python", 0);
	tool_span("python", COG_EDENIED);
	tool_span("sql", 0);
	cog__span_end(cog__span_begin(ctx, "task", "t", NULL), COG_EBUDGET, "over");
	cog__span_end(cog__span_begin(ctx, "task", "t", NULL), COG_ETIMEOUT, NULL);
	cog__span_end(cog__span_begin(ctx, "custom.kind", "c", NULL), -999, NULL);

	cJSON *m = metrics();
	ck_assert(num(m, "/llm/calls") == 4);
	ck_assert(num(m, "/llm/input_tokens") == 157);
	ck_assert(num(m, "/llm/output_tokens") == 28);
	ck_assert(num(m, "/llm/cost") == 0.75);
	ck_assert(num(m, "/llm/by_model/gpt-a/calls") == 2);
	ck_assert(num(m, "/llm/by_model/gpt-a/input_tokens") == 150);
	ck_assert(num(m, "/llm/by_model/gpt-a/output_tokens") == 25);
	ck_assert(num(m, "/llm/by_model/gpt-a/cost") == 0.75);
	ck_assert(num(m, "/llm/by_model/gpt-b/calls") == 1);
	ck_assert(num(m, "/llm/by_model/asked-for/errors") == 1);
	ck_assert(num(m, "/spans/llm/errors") == 1);
	ck_assert(num(m, "/tools/calls") == 3);
	ck_assert(num(m, "/tools/by_tool/python/calls") == 2);
	ck_assert(num(m, "/tools/by_tool/python/errors") == 1);
	ck_assert(num(m, "/tools/by_tool/sql/errors") == 0);
	ck_assert(num(m, "/spans/task/count") == 2);
	ck_assert(num(m, "/spans/task/errors") == 2);
	ck_assert(num(m, "/spans/custom.kind/count") == 1);
	ck_assert(num(m, "/errors/timeout") == 2);
	ck_assert(num(m, "/errors/budget") == 1);
	ck_assert(num(m, "/errors/denied") == 1);
	ck_assert(num(m, "/errors/other") == 1);
	ck_assert_ptr_null(cog_json_pointer_get(m, "/errors/schema"));
	ck_assert_ptr_nonnull(cog_json_pointer_get(m, "/since"));
	cJSON_Delete(m);
	ck_assert_str_eq(trace_status_kind(COG_EUNAVAILABLE), "unavailable");
	ck_assert_str_eq(trace_status_kind(COG_ECANCELED), "canceled");
	ck_assert_str_eq(trace_status_kind(COG_ESCHEMA), "schema");
	char *json = NULL;
	ck_assert_int_eq(cog_ctx_metrics(NULL, &json), COG_EINVAL);
	ck_assert_int_eq(cog_ctx_metrics(ctx, NULL), COG_EINVAL);
}
END_TEST

static int count_array(const char *json)
{
	cJSON *a = cJSON_Parse(json);
	ck_assert(cJSON_IsArray(a));
	int n = cJSON_GetArraySize(a);
	cJSON_Delete(a);
	return n;
}

START_TEST(test_stored_spans)
{
	cog_storage *st = NULL;
	ck_assert_int_eq(cog_storage_memory_new(&st), COG_OK);
	ck_assert_int_eq(cog_ctx_set_storage(ctx, st), COG_OK);
	cog_span *plan = cog__span_begin(ctx, "plan", "plan p1", NULL);
	cog__span_set_store(plan, "trace/p1");
	cog_span *outer = cog__span_enter(plan);
	/* 70 children: one batch of 64 goes while the plan runs. */
	for (int i = 0; i < 70; i++) {
		cog_span *t = cog__span_begin(ctx, "task", "t", NULL);
		cog__span_attr_num(t, "i", i);
		cog__span_end(t, 0, NULL);
		if (i == 63) {
			char *json = NULL;
			ck_assert_int_eq(cog_trace_read(ctx, "p1", &json), COG_OK);
			ck_assert_int_eq(count_array(json), 64);
			cog_free(json);
		}
	}
	cog__span_leave(outer);
	/* A span outside the plan is not stored. */
	cog__span_end(cog__span_begin(ctx, "llm", "elsewhere", NULL), 0, NULL);
	cog__span_end(plan, 0, NULL);

	char *json = NULL;
	ck_assert_int_eq(cog_trace_read(ctx, "p1", &json), COG_OK);
	cJSON *a = cJSON_Parse(json);
	cog_free(json);
	ck_assert_int_eq(cJSON_GetArraySize(a), 71);
	for (int i = 0; i < 70; i++)
		ck_assert(num(cJSON_GetArrayItem(a, i), "/attributes/i") == i);
	ck_assert_str_eq(str(cJSON_GetArrayItem(a, 70), "/kind"), "plan");
	cJSON_Delete(a);

	ck_assert_int_eq(cog_trace_read(ctx, "p2", &json), COG_ENOTFOUND);
	ck_assert_int_eq(cog_trace_read(ctx, "", &json), COG_EINVAL);
	ck_assert_int_eq(cog_trace_read(ctx, "a b", &json), COG_EINVAL);
	ck_assert_int_eq(cog_trace_read(ctx, NULL, &json), COG_EINVAL);
	ck_assert_ptr_null(json);
	ck_assert_int_eq(cog_ctx_set_storage(ctx, NULL), COG_OK);
	ck_assert_int_eq(cog_trace_read(ctx, "p1", &json), COG_EUNAVAILABLE);
}
END_TEST

static char warned[2048];

static void keep_log(int level, const char *line, void *user_data)
{
	(void)user_data;
	if (level == COG_LOG_WARN)
		snprintf(warned, sizeof(warned), "%s", line);
}

START_TEST(test_store_failure_keeps_caller_error)
{
	cog_ctx *c = NULL;
	cog_ctx_options o;
	cog_ctx_options_init(&o, COG_CTX_OPTIONS_VERSION);
	o.log_fn = keep_log;
	ck_assert_int_eq(cog_ctx_new(&c, &o), COG_OK);
	warned[0] = '\0';
	/* No storage: the spans cannot be written, the work goes on. */
	cog_span *s = cog__span_begin(c, "plan", "p", NULL);
	cog__span_set_store(s, "trace/p");
	cog__error(COG_EBUDGET, "the plan's own failure");
	cog__span_end(s, COG_EBUDGET, cog_error_last());
	ck_assert_int_eq(cog_error_last_code(), COG_EBUDGET);
	ck_assert_str_eq(cog_error_last(), "the plan's own failure");
	ck_assert_ptr_nonnull(strstr(warned, "not stored"));
	ck_assert_ptr_nonnull(strstr(warned, "trace/p"));
	cog_ctx_free(c);
}
END_TEST

START_TEST(test_log_lines_carry_span_id)
{
	cog_ctx *c = NULL;
	cog_ctx_options o;
	cog_ctx_options_init(&o, COG_CTX_OPTIONS_VERSION);
	o.log_fn = keep_log;
	ck_assert_int_eq(cog_ctx_new(&c, &o), COG_OK);
	cog_span *s = cog__span_begin(c, "task", "t", NULL);
	cog_span *outer = cog__span_enter(s);
	cog__log(c, COG_LOG_WARN, NULL, "inside");
	char want[64];
	snprintf(want, sizeof(want), "\"span_id\":\"%s\"", cog__span_id(s));
	ck_assert_msg(strstr(warned, want), "%s", warned);
	cog__span_leave(outer);
	cog__span_end(s, 0, NULL);
	cog__log(c, COG_LOG_WARN, NULL, "outside");
	ck_assert_ptr_nonnull(strstr(warned, "\"span_id\":null"));
	cog_ctx_free(c);
}
END_TEST

static Suite *trace_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_nesting_and_json);
	tcase_add_test(tc, test_error_status_redacted);
	tcase_add_test(tc, test_parent_from_another_thread);
	tcase_add_test(tc, test_current_span_of_another_ctx_ignored);
	tcase_add_test(tc, test_null_span_and_hook_removed);
	tcase_add_test(tc, test_percentiles);
	tcase_add_test(tc, test_metrics_by_model_tool_and_error_kind);
	tcase_add_test(tc, test_stored_spans);
	tcase_add_test(tc, test_store_failure_keeps_caller_error);
	tcase_add_test(tc, test_log_lines_carry_span_id);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(trace_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures != 0;
}
