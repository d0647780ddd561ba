/*
 * Tracing a durable plan run on a real SQLite file: tool tasks (a host
 * tool) and a task whose executor asks the LLM router, over real libcurl,
 * the OpenAI provider and the loopback wire server. The span hook gets
 * plan ▸ task ▸ llm / tool nested by parent_span_id under one trace id,
 * with the GenAI attributes; failures carry error status; the spans are
 * stored (cog_trace_read, also from a second context on the file); the
 * metrics count them.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <cognition/curl.h>

#include "plan_test.h"
#include "wire_server.h"

#define MAX_SPANS 64

static struct {
	pthread_mutex_t lock;
	cJSON *spans[MAX_SPANS];
	int n;
} got = { PTHREAD_MUTEX_INITIALIZER, { NULL }, 0 };

/* Called on worker threads too. */
static void keep_span(const char *json, void *user_data)
{
	(void)user_data;
	cJSON *span = cJSON_Parse(json);
	pthread_mutex_lock(&got.lock);
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

static ws_server *server;

static void setup(void)
{
	plan_test_setup();
	ck_assert_msg(ws_start(&server) == 0, "the wire server did not start");
}

static void teardown(void)
{
	ws_stop(server);
	forget_spans();
	plan_test_teardown();
}

static const char *str(const cJSON *o, const char *pointer)
{
	const cJSON *v = o;
	char copy[128];
	snprintf(copy, sizeof(copy), "%s", pointer);
	/* Attribute names hold dots, not slashes: a plain walk. */
	for (char *part = strtok(copy, "/"); part && v; part = strtok(NULL, "/"))
		v = cJSON_GetObjectItemCaseSensitive(v, part);
	ck_assert_msg(cJSON_IsString(v), "%s is not a string", pointer);
	return v->valuestring;
}

static double num(const cJSON *o, const char *pointer)
{
	const cJSON *v = o;
	char copy[128];
	snprintf(copy, sizeof(copy), "%s", pointer);
	for (char *part = strtok(copy, "/"); part && v; part = strtok(NULL, "/"))
		v = cJSON_GetObjectItemCaseSensitive(v, part);
	ck_assert_msg(cJSON_IsNumber(v), "%s is not a number", pointer);
	return v->valuedouble;
}

/* The one span the hook got with this name. */
static const cJSON *span_named(const char *name)
{
	const cJSON *found = NULL;
	for (int i = 0; i < got.n; i++)
		if (strcmp(str(got.spans[i], "name"), name) == 0) {
			ck_assert_msg(!found, "two spans named %s", name);
			found = got.spans[i];
		}
	ck_assert_msg(found != NULL, "no span named %s", name);
	return found;
}

static int note_fn(const cog_tool_request *req, char **result, void *ud)
{
	(void)req;
	(void)ud;
	*result = cog_malloc(16);
	snprintf(*result, 16, "{\"ok\":true}");
	return 0;
}

static int stuck_fn(const cog_tool_request *req, char **result, void *ud)
{
	(void)req;
	(void)result;
	(void)ud;
	return cog_error_set(COG_ETIMEOUT, "the backend did not answer");
}

/* Tool tasks through the tool layer; the others ask the LLM. */
static int executor(cog_task_call *call, void *ud)
{
	cog_ctx *ctx = ud;
	const char *id = cog_task_call_task_id(call);
	if (strcmp(id, "summarize") != 0 && strcmp(id, "ask") != 0)
		return cog_task_run_tool(call, NULL);
	char *answer = NULL;
	int rc = cog_llm_chat(ctx, "{\"messages\":[{\"role\":\"user\",\"content\":\"sum up\"}],"
		"\"max_tokens\":64,\"temperature\":0.25}", NULL, &answer);
	if (rc)
		return rc;
	rc = cog_task_call_set_result(call, answer);
	cog_free(answer);
	return rc;
}

static cog_ctx *traced_ctx(const char *db)
{
	cog_ctx *ctx = ctx_with_sqlite(db, false, NULL, NULL);
	cog_transport *transport = NULL;
	ck_assert_cog(cog_curl_transport_new(&transport, NULL));
	ck_assert_cog(cog_ctx_set_transport(ctx, transport));
	cog_llm_provider_options lo = COG_LLM_PROVIDER_OPTIONS_INIT;
	char url[128];
	snprintf(url, sizeof(url), "%s/v1", ws_url(server));
	lo.provider = COG_LLM_OPENAI;
	lo.base_url = url;
	lo.api_key = "sk-test-secret";
	lo.model = "gpt-test";
	cog_llm *llm = NULL;
	ck_assert_cog(cog_llm_provider_new(&llm, ctx, &lo));
	ck_assert_cog(cog_llm_add_endpoint(ctx, "main", llm, NULL));
	ck_assert_cog(cog_llm_configure(ctx, "{\"retry\":{\"max_attempts\":1}}"));
	cog_tool_options o = COG_TOOL_OPTIONS_INIT;
	o.name = "note";
	o.flags = COG_TOOL_IDEMPOTENT;
	o.fn = note_fn;
	ck_assert_cog(cog_tool_define(ctx, &o));
	o.name = "stuck";
	o.fn = stuck_fn;
	ck_assert_cog(cog_tool_define(ctx, &o));
	ck_assert_cog(cog_ctx_set_task_executor(ctx, executor, ctx));
	ck_assert_cog(cog_ctx_set_span_hook(ctx, keep_span, NULL));
	return ctx;
}

static void push_completion(void)
{
	const char *body = "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\","
		"\"created\":1700000000,\"model\":\"gpt-test-0613\",\"choices\":[{\"index\":0,"
		"\"message\":{\"role\":\"assistant\",\"content\":\"all good\"},"
		"\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":100,"
		"\"completion_tokens\":50,\"total_tokens\":150}}";
	ws_answer a = ws_answer_body(200, "application/json", body);
	ck_assert_int_eq(ws_push(server, &a), 0);
}

static const char PLAN_OK[] = "{\"version\":1,\"id\":\"traced\",\"goal\":\"sum up the notes\","
	"\"tasks\":["
	"{\"id\":\"fetch\",\"kind\":\"tool\",\"tool\":\"note\",\"inputs\":{}},"
	"{\"id\":\"fetch2\",\"kind\":\"tool\",\"tool\":\"note\",\"inputs\":{}},"
	"{\"id\":\"summarize\",\"depends_on\":[\"fetch\",\"fetch2\"]}]}";

static int count_stored(cog_ctx *ctx, const char *plan_id)
{
	char *json = NULL;
	ck_assert_cog(cog_trace_read(ctx, plan_id, &json));
	cJSON *a = cJSON_Parse(json);
	cog_free(json);
	ck_assert(cJSON_IsArray(a));
	int n = cJSON_GetArraySize(a);
	/* The stored spans are those the hook got. */
	for (int i = 0; i < n; i++) {
		const char *id = str(cJSON_GetArrayItem(a, i), "span_id");
		bool seen = false;
		for (int k = 0; k < got.n; k++)
			seen = seen || strcmp(str(got.spans[k], "span_id"), id) == 0;
		ck_assert_msg(seen, "stored span %s never reached the hook", id);
	}
	cJSON_Delete(a);
	return n;
}

static void run_ok(unsigned int workers, unsigned int inline_max)
{
	const char *db = tmp_file("trace.db");
	cog_ctx *ctx = traced_ctx(db);
	push_completion();
	cog_plan *plan = plan_from(ctx, PLAN_OK);
	cog_run_options ro = COG_RUN_OPTIONS_INIT;
	ro.workers = workers;
	ro.inline_max_tasks = inline_max;
	ck_assert_cog(cog_plan_run(plan, &ro));
	cog_plan_free(plan);

	ck_assert_int_eq(got.n, 7); /* plan, 3 tasks, 1 llm, 2 tools */
	const cJSON *p = span_named("plan traced");
	const cJSON *fetch = span_named("fetch"), *fetch2 = span_named("fetch2");
	const cJSON *sum = span_named("summarize");
	for (int i = 0; i < got.n; i++)
		ck_assert_str_eq(str(got.spans[i], "trace_id"), cog_ctx_trace_id(ctx));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(p, "parent_span_id")));
	ck_assert_str_eq(str(p, "kind"), "plan");
	ck_assert_str_eq(str(p, "attributes/cog.plan.id"), "traced");
	ck_assert_str_eq(str(p, "attributes/cog.plan.status"), "succeeded");
	ck_assert(num(p, "attributes/cog.plan.tasks") == 3);
	const cJSON *tasks[] = { fetch, fetch2, sum };
	for (int i = 0; i < 3; i++) {
		ck_assert_str_eq(str(tasks[i], "kind"), "task");
		ck_assert_str_eq(str(tasks[i], "parent_span_id"), str(p, "span_id"));
		ck_assert_str_eq(str(tasks[i], "status/code"), "ok");
		ck_assert_str_eq(str(tasks[i], "attributes/cog.task.state"), "succeeded");
		ck_assert(num(tasks[i], "attributes/cog.task.attempt") == 1);
	}
	const cJSON *llm = span_named("chat gpt-test");
	ck_assert_str_eq(str(llm, "kind"), "llm");
	ck_assert_str_eq(str(llm, "parent_span_id"), str(sum, "span_id"));
	ck_assert_str_eq(str(llm, "status/code"), "ok");
	ck_assert_str_eq(str(llm, "attributes/gen_ai.operation.name"), "chat");
	ck_assert_str_eq(str(llm, "attributes/gen_ai.provider.name"), "openai");
	ck_assert_str_eq(str(llm, "attributes/gen_ai.request.model"), "gpt-test");
	ck_assert_str_eq(str(llm, "attributes/gen_ai.response.model"), "gpt-test-0613");
	ck_assert(num(llm, "attributes/gen_ai.usage.input_tokens") == 100);
	ck_assert(num(llm, "attributes/gen_ai.usage.output_tokens") == 50);
	ck_assert(num(llm, "attributes/gen_ai.request.max_tokens") == 64);
	ck_assert(num(llm, "attributes/gen_ai.request.temperature") == 0.25);
	const cJSON *reasons = cJSON_GetObjectItem(cJSON_GetObjectItem(llm, "attributes"),
		"gen_ai.response.finish_reasons");
	ck_assert(cJSON_IsArray(reasons));
	ck_assert_str_eq(cJSON_GetArrayItem(reasons, 0)->valuestring, "stop");
	ck_assert_str_eq(str(llm, "attributes/cog.llm.endpoint"), "main");
	ck_assert_str_eq(str(llm, "attributes/cog.llm.role"), "executor");
	/* Each tool call under its task. */
	int tools = 0;
	for (int i = 0; i < got.n; i++) {
		const cJSON *s = got.spans[i];
		if (strcmp(str(s, "kind"), "tool") != 0)
			continue;
		tools++;
		ck_assert_str_eq(str(s, "name"), "execute_tool note");
		ck_assert_str_eq(str(s, "attributes/gen_ai.operation.name"), "execute_tool");
		ck_assert_str_eq(str(s, "attributes/gen_ai.tool.name"), "note");
		ck_assert_str_eq(str(s, "attributes/cog.tool.outcome"), "ok");
		ck_assert(strlen(str(s, "attributes/gen_ai.tool.call.id")) > 0);
		const char *parent = str(s, "parent_span_id");
		ck_assert(strcmp(parent, str(fetch, "span_id")) == 0 ||
		          strcmp(parent, str(fetch2, "span_id")) == 0);
	}
	ck_assert_int_eq(tools, 2);

	/* Stored: every span, plan last; also for another context on the file. */
	ck_assert_int_eq(count_stored(ctx, "traced"), 7);
	cog_ctx *other = ctx_with_sqlite(db, false, NULL, NULL);
	ck_assert_int_eq(count_stored(other, "traced"), 7);
	char *json = NULL;
	ck_assert_int_eq(cog_trace_read(other, "nosuch", &json), COG_ENOTFOUND);
	cog_ctx_free(other);

	ck_assert_cog(cog_ctx_metrics(ctx, &json));
	cJSON *m = cJSON_Parse(json);
	cog_free(json);
	ck_assert(num(m, "spans/plan/count") == 1);
	ck_assert(num(m, "spans/task/count") == 3);
	ck_assert(num(m, "spans/llm/count") == 1);
	ck_assert(num(m, "spans/tool/count") == 2);
	ck_assert(num(m, "spans/task/errors") == 0);
	ck_assert(num(m, "spans/plan/latency_ms/max") >= num(m, "spans/task/latency_ms/max"));
	ck_assert(num(m, "llm/calls") == 1);
	ck_assert(num(m, "llm/input_tokens") == 100);
	ck_assert(num(m, "llm/output_tokens") == 50);
	ck_assert(num(m, "llm/by_model/gpt-test-0613/calls") == 1);
	ck_assert(num(m, "tools/by_tool/note/calls") == 2);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(m, "errors")), 0);
	cJSON_Delete(m);
	cog_ctx_free(ctx);
}

START_TEST(test_inline_run)
{
	run_ok(1, 0);
}
END_TEST

START_TEST(test_pool_run)
{
	/* Past inline_max_tasks: the tasks run on worker threads. */
	run_ok(2, 1);
}
END_TEST

START_TEST(test_errors)
{
	const char *db = tmp_file("trace.db");
	cog_ctx *ctx = traced_ctx(db);
	ws_answer denied = ws_answer_body(401, "application/json",
		"{\"error\":{\"message\":\"bad key\",\"type\":\"invalid_request_error\"}}");
	ck_assert_int_eq(ws_push(server, &denied), 0);
	cog_plan *plan = plan_from(ctx, "{\"version\":1,\"id\":\"failing\",\"goal\":\"g\","
		"\"tasks\":[{\"id\":\"ask\"},"
		"{\"id\":\"wait\",\"kind\":\"tool\",\"tool\":\"stuck\",\"inputs\":{}}]}");
	cog_run_options ro = COG_RUN_OPTIONS_INIT;
	ro.failure_policy = COG_CONTINUE_INDEPENDENT;
	ro.workers = 1;
	ck_assert_int_eq(cog_plan_run(plan, &ro), COG_ERROR);
	cog_plan_free(plan);

	ck_assert_int_eq(got.n, 5);
	const cJSON *p = span_named("plan failing");
	ck_assert_str_eq(str(p, "status/code"), "error");
	ck_assert(num(p, "status/error_code") == COG_ERROR);
	ck_assert_str_eq(str(p, "attributes/cog.plan.status"), "failed");
	const cJSON *ask = span_named("ask");
	ck_assert_str_eq(str(ask, "status/code"), "error");
	ck_assert(num(ask, "status/error_code") == COG_EDENIED);
	ck_assert_str_eq(str(ask, "attributes/cog.task.state"), "failed");
	const cJSON *llm = span_named("chat gpt-test");
	ck_assert_str_eq(str(llm, "parent_span_id"), str(ask, "span_id"));
	ck_assert_str_eq(str(llm, "status/code"), "error");
	ck_assert(num(llm, "status/error_code") == COG_EDENIED);
	ck_assert(strlen(str(llm, "status/message")) > 0);
	ck_assert_ptr_null(strstr(str(llm, "status/message"), "sk-test-secret"));
	const cJSON *tool = span_named("execute_tool stuck");
	ck_assert_str_eq(str(tool, "parent_span_id"), str(span_named("wait"), "span_id"));
	ck_assert(num(tool, "status/error_code") == COG_ETIMEOUT);
	ck_assert_str_eq(str(tool, "attributes/cog.tool.outcome"), "timeout");
	ck_assert_int_eq(count_stored(ctx, "failing"), 5);

	char *json = NULL;
	ck_assert_cog(cog_ctx_metrics(ctx, &json));
	cJSON *m = cJSON_Parse(json);
	cog_free(json);
	ck_assert(num(m, "errors/denied") == 2);   /* the llm call and its task */
	ck_assert(num(m, "errors/timeout") == 2);  /* the tool call and its task */
	ck_assert(num(m, "errors/error") == 1);    /* the plan */
	ck_assert(num(m, "spans/llm/errors") == 1);
	ck_assert(num(m, "tools/by_tool/stuck/errors") == 1);
	ck_assert(num(m, "spans/task/errors") == 2);
	cJSON_Delete(m);
	cog_ctx_free(ctx);
}
END_TEST

static Suite *trace_suite(void)
{
	Suite *s = suite_create("plan-trace");
	TCase *tc = tcase_create("trace");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_inline_run);
	tcase_add_test(tc, test_pool_run);
	tcase_add_test(tc, test_errors);
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
