/*
 * The LLM planner through cog_plan_from_goal(), over the OpenAI provider and
 * real libcurl against the scripted wire server, whose answers are OpenAI
 * chat completions holding plans: a valid plan at once; an answer the
 * router's schema check refuses, then a valid one; graph errors (a cycle,
 * an unknown tool, inputs that do not fit the tool, a blown budget) sent
 * back to the model and fixed; answers that stay broken, which fail with
 * the right status or fall back to the template planner; an endpoint that
 * cannot be reached; cancellation, which never falls back; and no LLM at
 * all, where the template planner works as before. The requests the server
 * got are checked: the planner route's model, the prompt (goal, rules,
 * tools with their schemas), response_format with the plan schema, and the
 * repair turns. Last, allocation failures inside the planner (through the
 * allocator hook) leave no memory behind. Record and replay of a planning
 * are in test_llm_replay.c; the helpers both use in llm_test.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <cjson/cJSON.h>

#include <cognition.h>

#include "alloc_fail.h"
#include "llm_test.h"
#include "test_tmp.h"

static cog_ctx *ctx;
static ws_server *server;

static void setup(void)
{
	make_templates();
	ctx = planner_ctx(true);
	server = start_wire_server();
}

static void teardown(void)
{
	cog_ctx_free(ctx);
	ctx = NULL;
	ws_stop(server);
	server = NULL;
	tmp_dir_remove();
	log_forget();
}

static void add_llm(void)
{
	use_llm(ctx, openai_llm(ctx, server));
}

static const char BAD_SCHEMA[] = "{\"tasks\":[{\"id\":\"write\"}]}";
static const char CYCLE[] =
	"{\"tasks\":[{\"id\":\"a\",\"title\":\"A\",\"kind\":\"step\",\"depends_on\":[\"b\"]},"
	"{\"id\":\"b\",\"title\":\"B\",\"kind\":\"step\",\"depends_on\":[\"a\"]}]}";
static const char UNKNOWN_TOOL[] =
	"{\"tasks\":[{\"id\":\"x\",\"title\":\"X\",\"kind\":\"tool\",\"tool\":\"teleport\","
	"\"inputs\":{}}]}";
static const char BAD_INPUTS[] =
	"{\"tasks\":[{\"id\":\"x\",\"title\":\"X\",\"kind\":\"tool\",\"tool\":\"note\","
	"\"inputs\":{\"txt\":1}}]}";
static const char OVER_BUDGET[] =
	"{\"budget\":{\"max_tokens\":100},\"tasks\":[{\"id\":\"x\",\"title\":\"X\","
	"\"kind\":\"llm\",\"estimate\":{\"tokens\":5000}}]}";

static bool request_contains(unsigned int i, const char *text)
{
	char *body = ws_request_body(server, i);
	bool found = body && strstr(body, text);
	free(body);
	return found;
}

static const char *message_content(const cJSON *req, int i)
{
	const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(req, "messages"), i);
	return cJSON_GetStringValue(cJSON_GetObjectItem(m, "content"));
}

static const char *message_role(const cJSON *req, int i)
{
	const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(req, "messages"), i);
	return cJSON_GetStringValue(cJSON_GetObjectItem(m, "role"));
}

START_TEST(valid_plan_first_time)
{
	add_llm();
	push_plan_answer(server, VALID_PLAN);
	cog_plan *plan = plan_ok(ctx, "write a note to the team and review it");
	assert_is_valid_plan(plan, "write a note to the team and review it");
	cog_plan_free(plan);
	ck_assert_uint_eq(ws_requests(server), 1);
	assert_no_warnings();

	char *head = ws_request(server, 0);
	ck_assert_ptr_nonnull(head);
	ck_assert_msg(strncmp(head, "POST /v1/chat/completions\n", 26) == 0, "%.60s", head);
	free(head);
	cJSON *req = sent_json(server, 0);
	/* The planner's route. */
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(req, "model")),
		"planner-model");
	ck_assert_str_eq(message_role(req, 0), "system");
	const char *system = message_content(req, 0);
	ck_assert_ptr_nonnull(strstr(system, "planner"));
	ck_assert_ptr_nonnull(strstr(system, "no cycles"));
	ck_assert_ptr_nonnull(strstr(system, "unique"));
	ck_assert_str_eq(message_role(req, 1), "user");
	const char *user = message_content(req, 1);
	ck_assert_ptr_nonnull(strstr(user, "Goal: write a note to the team and review it"));
	ck_assert_ptr_nonnull(strstr(user, "- note [idempotent]: Write a short note to the team."));
	ck_assert_ptr_nonnull(strstr(user, "\"required\":[\"text\"]"));
	const cJSON *rf = cJSON_GetObjectItem(req, "response_format");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(rf, "type")), "json_schema");
	const cJSON *js = cJSON_GetObjectItem(rf, "json_schema");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(js, "name")), "plan");
	const cJSON *schema = cJSON_GetObjectItem(js, "schema");
	const cJSON *task = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetObjectItem(schema, "properties"), "tasks"), "items"), "properties");
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(task, "depends_on"));
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(task, "inputs"));
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(task, "estimate"));
	cJSON_Delete(req);
}
END_TEST

START_TEST(schema_failure_then_valid)
{
	add_llm();
	push_plan_answer(server, BAD_SCHEMA);
	push_plan_answer(server, VALID_PLAN);
	cog_plan *plan = plan_ok(ctx, "write a note");
	assert_is_valid_plan(plan, "write a note");
	cog_plan_free(plan);
	ck_assert_uint_eq(ws_requests(server), 2);
	/* The router sent the answer back with its errors. */
	cJSON *first = sent_json(server, 0), *second = sent_json(server, 1);
	ck_assert_int_gt(cJSON_GetArraySize(cJSON_GetObjectItem(second, "messages")),
		cJSON_GetArraySize(cJSON_GetObjectItem(first, "messages")));
	cJSON_Delete(first);
	cJSON_Delete(second);
}
END_TEST

START_TEST(cycle_then_fixed)
{
	add_llm();
	push_plan_answer(server, CYCLE);
	push_plan_answer(server, VALID_PLAN);
	cog_plan *plan = plan_ok(ctx, "write a note");
	assert_is_valid_plan(plan, "write a note");
	cog_plan_free(plan);
	ck_assert_uint_eq(ws_requests(server), 2);
	cJSON *req = sent_json(server, 1);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(req, "messages")), 4);
	ck_assert_str_eq(message_role(req, 2), "assistant");
	ck_assert_ptr_nonnull(strstr(message_content(req, 2), "\"depends_on\":[\"b\"]"));
	ck_assert_str_eq(message_role(req, 3), "user");
	const char *repair = message_content(req, 3);
	ck_assert_msg(strstr(repair, "dependency cycle a -> b -> a"), "%s", repair);
	/* The plan id the model never saw is not in the message. */
	ck_assert_msg(strncmp(repair, "That plan is not valid: dependency cycle", 40) == 0,
		"%s", repair);
	cJSON_Delete(req);
}
END_TEST

START_TEST(tool_errors_then_fixed)
{
	add_llm();
	push_plan_answer(server, UNKNOWN_TOOL);
	push_plan_answer(server, BAD_INPUTS);
	push_plan_answer(server, VALID_PLAN);
	cog_plan *plan = plan_ok(ctx, "write a note");
	cog_plan_free(plan);
	ck_assert_uint_eq(ws_requests(server), 3);
	cJSON *req = sent_json(server, 1);
	ck_assert_ptr_nonnull(strstr(message_content(req, 3), "tool 'teleport'"));
	cJSON_Delete(req);
	req = sent_json(server, 2);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(req, "messages")), 6);
	const char *repair = message_content(req, 5);
	ck_assert_msg(strstr(repair, "its inputs do not fit tool 'note'"), "%s", repair);
	cJSON_Delete(req);
}
END_TEST

START_TEST(budget_then_fixed)
{
	add_llm();
	push_plan_answer(server, OVER_BUDGET);
	push_plan_answer(server, VALID_PLAN);
	cog_plan *plan = plan_ok(ctx, "write a note");
	cog_plan_free(plan);
	ck_assert_uint_eq(ws_requests(server), 2);
	cJSON *req = sent_json(server, 1);
	ck_assert_msg(strstr(message_content(req, 3), "max_tokens"), "%s",
		message_content(req, 3));
	cJSON_Delete(req);
}
END_TEST

START_TEST(always_cyclic_fails)
{
	add_llm();
	push_plan_answer(server, CYCLE);   /* reused for every request */
	cog_plan *plan = NULL;
	assert_error(cog_plan_from_goal(&plan, ctx, "write a note"), COG_ECYCLE,
		"still invalid after 2 repairs");
	ck_assert_ptr_null(plan);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "dependency cycle a -> b -> a"));
	/* Both planners are accounted for. */
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "llm planner failed"));
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "template planner: none of 1"));
	ck_assert_uint_eq(ws_requests(server), 1 + 2);
	assert_warned("llm planner", true);
}
END_TEST

START_TEST(always_cyclic_falls_back_to_template)
{
	add_llm();
	push_plan_answer(server, CYCLE);
	cog_plan *plan = plan_ok(ctx, "deploy the web app");
	ck_assert_uint_eq(cog_plan_task_count(plan), 1);
	char *status = NULL;
	ck_assert_cog(cog_plan_task_status(plan, "from_template", &status));
	cog_free(status);
	cog_plan_free(plan);
	ck_assert_uint_eq(ws_requests(server), 3);
	assert_warned("the llm planner failed", true);
	assert_warned("dependency cycle", true);
}
END_TEST

START_TEST(schema_never_met)
{
	add_llm();
	push_plan_answer(server, BAD_SCHEMA);
	cog_plan *plan = NULL;
	assert_error(cog_plan_from_goal(&plan, ctx, "write a note"), COG_ESCHEMA,
		"llm planner");
	ck_assert_ptr_null(plan);
	/* The first answer and the router's two schema retries. */
	ck_assert_uint_eq(ws_requests(server), 3);
}
END_TEST

START_TEST(unreachable_endpoint_falls_back)
{
	/* Port 9 (discard) on loopback: nothing listens. */
	cog_llm_provider_options po = COG_LLM_PROVIDER_OPTIONS_INIT;
	po.base_url = "http://127.0.0.1:9/v1";
	po.api_key = "sk-test-secret";
	po.model = "gpt-test";
	cog_llm *llm = NULL;
	ck_assert_cog(cog_llm_provider_new(&llm, ctx, &po));
	use_llm(ctx, llm);
	cog_plan *plan = plan_ok(ctx, "deploy the web app");
	ck_assert_uint_eq(cog_plan_task_count(plan), 1);
	cog_plan_free(plan);
	assert_warned("the llm planner failed", true);
	assert_warned("sk-test-secret", false);

	cog_plan *none = NULL;
	int rc = cog_plan_from_goal(&none, ctx, "write a note");
	ck_assert_int_eq(rc, COG_EUNAVAILABLE);
	ck_assert_ptr_null(none);
	ck_assert_ptr_null(strstr(cog_error_last(), "sk-test-secret"));
}
END_TEST

static void *cancel_soon(void *arg)
{
	struct timespec ts = { 0, 200 * 1000000L };
	nanosleep(&ts, NULL);
	cog_ctx_cancel(arg);
	return NULL;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

START_TEST(cancel_does_not_fall_back)
{
	add_llm();
	ws_answer a = ws_answer_body(200, "application/json", "{}");
	a.delay_ms = 5000;
	ck_assert_int_eq(ws_push(server, &a), 0);
	pthread_t thread;
	ck_assert_int_eq(pthread_create(&thread, NULL, cancel_soon, ctx), 0);
	double start = now_ms();
	cog_plan *plan = NULL;
	/* A template matches, but a canceled planning is not retried with it. */
	int rc = cog_plan_from_goal(&plan, ctx, "deploy the web app");
	double took = now_ms() - start;
	pthread_join(thread, NULL);
	ck_assert_msg(rc == COG_ECANCELED, "%d %s", rc, cog_error_last());
	ck_assert_ptr_null(plan);
	ck_assert_msg(took < 1500, "took %.0f ms", took);
}
END_TEST

START_TEST(model_cannot_choose_id_or_goal_and_may_write_nulls)
{
	add_llm();
	/* Nulls for absent members are fine, as in cog_plan_from_json(). */
	push_plan_answer(server, "{\"version\":1,\"goal\":\"something else\","
		"\"tasks\":[{\"id\":\"only\",\"title\":\"Only\",\"kind\":\"host\","
		"\"tool\":null,\"inputs\":null,\"capabilities\":null,\"meta\":null}]}");
	cog_plan *plan = plan_ok(ctx, "write a note");
	ck_assert_str_eq(cog_plan_goal(plan), "write a note");
	cog_plan_free(plan);
	ck_assert_uint_eq(ws_requests(server), 1);
	/* "id" is not in the schema: the router asks again. */
	ws_reset(server);
	push_plan_answer(server, "{\"id\":\"chosen\",\"tasks\":[{\"id\":\"only\","
		"\"title\":\"Only\",\"kind\":\"host\"}]}");
	push_plan_answer(server, "{\"tasks\":[{\"id\":\"only\",\"title\":\"Only\","
		"\"kind\":\"host\"}]}");
	plan = plan_ok(ctx, "write a note");
	ck_assert_str_ne(cog_plan_id(plan), "chosen");
	cog_plan_free(plan);
	ck_assert_uint_eq(ws_requests(server), 2);
}
END_TEST

START_TEST(many_and_large_tools_are_shortened)
{
	add_llm();
	/* One schema too long to quote, then more tools than the prompt
	 * holds. */
	cJSON *schema = cJSON_CreateObject();
	cJSON_AddStringToObject(schema, "type", "object");
	cJSON *props = cJSON_AddObjectToObject(schema, "properties");
	char name[32], pad[256];
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "field%02d", i);
		cJSON *p = cJSON_AddObjectToObject(props, name);
		cJSON_AddStringToObject(p, "type", "string");
		cJSON_AddStringToObject(p, "description", pad);
	}
	cJSON_AddItemToObject(schema, "required", cJSON_CreateStringArray(
		(const char *[]){ "field00", "field07" }, 2));
	char *text = cJSON_PrintUnformatted(schema);
	define_tool(ctx, "aaa_big", "A tool with a long schema.", text);
	cJSON_free(text);
	cJSON_Delete(schema);
	char description[900];
	memset(description, 'd', sizeof(description) - 1);
	description[sizeof(description) - 1] = '\0';
	for (int i = 0; i < 80; i++) {
		snprintf(name, sizeof(name), "tool%02d", i);
		define_tool(ctx, name, description, NOTE_SCHEMA);
	}
	push_plan_answer(server, VALID_PLAN);
	cog_plan *plan = plan_ok(ctx, "write a note");
	cog_plan_free(plan);
	cJSON *req = sent_json(server, 0);
	const char *user = message_content(req, 1);
	ck_assert_ptr_nonnull(strstr(user, "Available tools (82):"));
	ck_assert_ptr_nonnull(strstr(user, "- aaa_big [idempotent]: A tool with a long schema.\n"
		"  input schema (too long to show): an object with members field00 field01"));
	ck_assert_ptr_nonnull(strstr(user, "; required: field00, field07\n"));
	ck_assert_ptr_nonnull(strstr(user, "More tools ("));
	ck_assert_ptr_nonnull(strstr(user, " tool79\n"));
	/* Descriptions are cut. */
	ck_assert_ptr_null(strstr(user, description));
	ck_assert_uint_lt(strlen(user), 26000);
	cJSON_Delete(req);
}
END_TEST

START_TEST(no_tools_says_so)
{
	cog_ctx *bare = ctx_with_curl(NULL);
	ck_assert_cog(cog_llm_add_endpoint(bare, "main", openai_llm(bare, server), NULL));
	push_plan_answer(server, "{\"tasks\":[{\"id\":\"think\",\"title\":\"Think\","
		"\"kind\":\"llm\"}]}");
	cog_plan *plan = NULL;
	ck_assert_cog(cog_plan_from_goal(&plan, bare, "ponder"));
	ck_assert_uint_eq(cog_plan_task_count(plan), 1);
	cog_plan_free(plan);
	cog_ctx_free(bare);
	ck_assert(request_contains(0, "No tools are available"));
	/* The key travels only in its header. */
	char *auth = ws_request_header(server, 0, "authorization");
	ck_assert_str_eq(auth, "Bearer sk-test-secret");
	free(auth);
	ck_assert(!request_contains(0, "sk-test-secret"));
}
END_TEST

START_TEST(no_llm_uses_templates)
{
	cog_plan *plan = plan_ok(ctx, "deploy the web app");
	ck_assert_uint_eq(cog_plan_task_count(plan), 1);
	cog_plan_free(plan);
	cog_plan *none = NULL;
	assert_error(cog_plan_from_goal(&none, ctx, "write a note"), COG_ENOTFOUND,
		"no planner could plan the goal (template planner: none of 1 templates matched");
	ck_assert_ptr_null(strstr(cog_error_last(), "llm"));
	ck_assert_uint_eq(ws_requests(server), 0);
	assert_no_warnings();
}
END_TEST

/* ---- out of memory ---- */

/* A fresh context with the LLM and the note tool, then one plan from a
 * goal with the failure armed. Any status is fine as long as a failure
 * says why. */
static void oom_run(long fail_at, void *user_data)
{
	(void)user_data;
	cog_ctx_options o = COG_CTX_OPTIONS_INIT;
	o.log_fn = log_keep;
	o.log_level = COG_LOG_ERROR;
	ctx = ctx_with_curl(&o);
	add_llm();
	define_tool(ctx, "note", "Write a short note to the team.", NOTE_SCHEMA);
	cog_plan *plan = NULL;
	cog_error_clear();
	alloc_fail_arm();
	int rc = cog_plan_from_goal(&plan, ctx, "write a note");
	alloc_fail_disarm();
	ck_assert_int_le(rc, 0);
	alloc_fail_check(rc, plan, fail_at);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
	ctx = NULL;
}

/* The planner's request puts the plan schema under the key "schema": when
 * copying that key (7 bytes with its NUL) fails, the schema must be freed,
 * not leaked. Every 7-byte allocation of the planning is failed in turn;
 * after each run the live blocks are back to what they were. */
START_TEST(out_of_memory_leaves_nothing)
{
	alloc_fail_install();
	setenv("COG_TEMPLATE_DIR", "", 1);
	unsetenv("COG_TEMPLATE_PATH");
	unsetenv("OPENAI_API_KEY");
	server = start_wire_server();
	push_plan_answer(server, VALID_PLAN);   /* reused for every request */
	long failed = 0;
	long points = alloc_fail_each(sizeof("schema"), oom_run, NULL, &failed);
	ck_assert_msg(points > 0, "no %zu-byte allocation while planning: is the hook used?",
		sizeof("schema"));
	ck_assert_int_eq(failed, points);
	printf("llm planner: %ld allocations of %zu bytes failed in turn\n", points,
		sizeof("schema"));
	ws_stop(server);
	server = NULL;
}
END_TEST

static Suite *planner_suite(void)
{
	Suite *s = suite_create("llm-planner");
	TCase *tc = tcase_create("planner");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, valid_plan_first_time);
	tcase_add_test(tc, schema_failure_then_valid);
	tcase_add_test(tc, cycle_then_fixed);
	tcase_add_test(tc, tool_errors_then_fixed);
	tcase_add_test(tc, budget_then_fixed);
	tcase_add_test(tc, always_cyclic_fails);
	tcase_add_test(tc, always_cyclic_falls_back_to_template);
	tcase_add_test(tc, schema_never_met);
	tcase_add_test(tc, unreachable_endpoint_falls_back);
	tcase_add_test(tc, cancel_does_not_fall_back);
	tcase_add_test(tc, model_cannot_choose_id_or_goal_and_may_write_nulls);
	tcase_add_test(tc, many_and_large_tools_are_shortened);
	tcase_add_test(tc, no_tools_says_so);
	tcase_add_test(tc, no_llm_uses_templates);
	suite_add_tcase(s, tc);
	alloc_fail_add_tcase(s, out_of_memory_leaves_nothing);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(planner_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
