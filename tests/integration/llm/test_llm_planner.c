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
 * repair turns. Record and replay, as tests of what sits above the LLM
 * layer use them: a planning recorded through the provider and planned
 * again from the recording alone (same plan, no request; a goal it has not
 * seen falls back to the templates or fails with both reasons), and the
 * committed recording tests/data/llm/planner-replay.jsonl replayed with no
 * server at all. Last, allocation failures inside the planner (through the
 * allocator hook) leave no memory behind.
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

/* The warnings the library logged (the fallback says why) do or do not
 * contain text. */
static void assert_warned(const char *text, bool contain)
{
	char *log = log_kept();
	ck_assert_msg((strstr(log, text) != NULL) == contain, "%s \"%s\" in the warnings: %s",
		contain ? "no" : "unexpected", text, log);
	free(log);
}

/* Nothing was logged at all. */
static void assert_no_warnings(void)
{
	char *log = log_kept();
	ck_assert_msg(log[0] == '\0', "warnings: %s", log);
	free(log);
}

static int note_fn(const cog_tool_request *req, char **result, void *ud)
{
	(void)req; (void)ud;
	*result = cog_malloc(3);
	memcpy(*result, "{}", 3);
	return 0;
}

static const char NOTE_SCHEMA[] =
	"{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},"
	"\"required\":[\"text\"],\"additionalProperties\":false}";

static void define_tool(cog_ctx *c, const char *name, const char *description,
                        const char *schema)
{
	cog_tool_options o = COG_TOOL_OPTIONS_INIT;
	o.name = name;
	o.description = description;
	o.input_schema = schema;
	o.flags = COG_TOOL_IDEMPOTENT;
	o.fn = note_fn;
	ck_assert_cog(cog_tool_define(c, &o));
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

static bool file_contains(const char *path, const char *text)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: cannot open", path);
	char line[65536];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, text) != NULL;
	fclose(f);
	return found;
}

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	ck_assert_msg(in && out, "cannot copy %s to %s", from, to);
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
}

static char template_dir[256];

/* Only the template directory the test makes (one template, for goals
 * that say "deploy"); no keys from outside. */
static void make_templates(void)
{
	setenv("COG_TEMPLATE_DIR", "", 1);
	unsetenv("COG_TEMPLATE_PATH");
	unsetenv("OPENAI_API_KEY");
	snprintf(template_dir, sizeof(template_dir), "%s", tmp_dir_make("cog-llm-planner-"));
	write_file(tmp_file("deploy.json"), "{\"name\":\"deploy\",\"description\":"
		"\"Deploy an app\",\"patterns\":[\"(?i)\\\\bdeploy\\\\b\"],"
		"\"tasks\":[{\"id\":\"from_template\",\"title\":\"Deploy ${goal}\"}]}");
}

/* A context that logs warnings (log_kept()), with the test's templates
 * and the note tool; its transport real libcurl, or none at all. */
static cog_ctx *planner_ctx(bool with_curl)
{
	cog_ctx_options o = COG_CTX_OPTIONS_INIT;
	o.log_fn = log_keep;
	o.log_level = COG_LOG_WARN;
	cog_ctx *c = NULL;
	if (with_curl)
		c = ctx_with_curl(&o);
	else
		ck_assert_cog(cog_ctx_new(&c, &o));
	ck_assert_cog(cog_ctx_add_template_dir(c, template_dir));
	define_tool(c, "note", "Write a short note to the team.", NOTE_SCHEMA);
	return c;
}

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

/* llm as endpoint "main" of c; the planner's route names its own model,
 * so the wire shows which route was taken. */
static void use_llm(cog_ctx *c, cog_llm *llm)
{
	ck_assert_cog(cog_llm_add_endpoint(c, "main", llm, NULL));
	ck_assert_cog(cog_llm_configure(c,
		"{\"routes\":{\"planner\":{\"models\":[{\"endpoint\":\"main\","
		"\"model\":\"planner-model\"}]}},"
		"\"retry\":{\"max_attempts\":1},\"schema_retries\":2}"));
}

/* The OpenAI provider of c at the wire server. */
static cog_llm *openai_llm(cog_ctx *c)
{
	return provider_at(c, COG_LLM_OPENAI, server, "/v1", "sk-test-secret", "gpt-test");
}

static void add_llm(void)
{
	use_llm(ctx, openai_llm(ctx));
}

/* Queue an OpenAI chat completion whose text is `content`. */
static void push_answer(const char *content)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "id", "chatcmpl-1");
	cJSON_AddStringToObject(r, "object", "chat.completion");
	cJSON_AddNumberToObject(r, "created", 1700000000);
	cJSON_AddStringToObject(r, "model", "planner-model");
	cJSON *choice = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(r, "choices"), choice);
	cJSON_AddNumberToObject(choice, "index", 0);
	cJSON *msg = cJSON_AddObjectToObject(choice, "message");
	cJSON_AddStringToObject(msg, "role", "assistant");
	cJSON_AddStringToObject(msg, "content", content);
	cJSON_AddStringToObject(choice, "finish_reason", "stop");
	cJSON *usage = cJSON_AddObjectToObject(r, "usage");
	cJSON_AddNumberToObject(usage, "prompt_tokens", 100);
	cJSON_AddNumberToObject(usage, "completion_tokens", 50);
	cJSON_AddNumberToObject(usage, "total_tokens", 150);
	char *body = cJSON_PrintUnformatted(r);
	ws_answer a = ws_answer_body(200, "application/json", body);
	ck_assert_int_eq(ws_push(server, &a), 0);
	cJSON_free(body);
	cJSON_Delete(r);
}

static const char VALID[] =
	"{\"tasks\":[{\"id\":\"write\",\"title\":\"Write the note\",\"kind\":\"tool\","
	"\"tool\":\"note\",\"inputs\":{\"text\":\"hello\"},\"idempotent\":true},"
	"{\"id\":\"review\",\"title\":\"Review it\",\"kind\":\"llm\","
	"\"inputs\":{\"prompt\":\"Review the note\"},\"depends_on\":[\"write\"],"
	"\"estimate\":{\"tokens\":500,\"cost\":0.01,\"duration_ms\":2000}}]}";
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

static cog_plan *plan_ok(const char *goal)
{
	cog_plan *plan = NULL;
	int rc = cog_plan_from_goal(&plan, ctx, goal);
	ck_assert_msg(rc == 0, "cog_plan_from_goal: %d %s", rc, cog_error_last());
	ck_assert_ptr_nonnull(plan);
	return plan;
}

static void assert_error(int rc, int expected, const char *text)
{
	ck_assert_msg(rc == expected, "status %d (%s), expected %d", rc, cog_error_last(),
		expected);
	ck_assert_msg(strstr(cog_error_last(), text), "\"%s\" lacks \"%s\"", cog_error_last(),
		text);
}

/* The model's plan, as cog_plan_export() gives it. */
static void assert_is_valid_plan(cog_plan *plan, const char *goal)
{
	ck_assert_int_eq(cog_plan_task_count(plan), 2);
	ck_assert_str_eq(cog_plan_goal(plan), goal);
	char *json = NULL;
	ck_assert_cog(cog_plan_export(plan, COG_PLAN_FORMAT_JSON, &json));
	ck_assert_ptr_nonnull(strstr(json, "\"tool\":\"note\""));
	ck_assert_ptr_nonnull(strstr(json, "\"depends_on\":[\"write\"]"));
	cog_free(json);
	char *status = NULL;
	ck_assert_cog(cog_plan_task_status(plan, "review", &status));
	cog_free(status);
}

START_TEST(valid_plan_first_time)
{
	add_llm();
	push_answer(VALID);
	cog_plan *plan = plan_ok("write a note to the team and review it");
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
	push_answer(BAD_SCHEMA);
	push_answer(VALID);
	cog_plan *plan = plan_ok("write a note");
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
	push_answer(CYCLE);
	push_answer(VALID);
	cog_plan *plan = plan_ok("write a note");
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
	push_answer(UNKNOWN_TOOL);
	push_answer(BAD_INPUTS);
	push_answer(VALID);
	cog_plan *plan = plan_ok("write a note");
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
	push_answer(OVER_BUDGET);
	push_answer(VALID);
	cog_plan *plan = plan_ok("write a note");
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
	push_answer(CYCLE);   /* reused for every request */
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
	push_answer(CYCLE);
	cog_plan *plan = plan_ok("deploy the web app");
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
	push_answer(BAD_SCHEMA);
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
	cog_plan *plan = plan_ok("deploy the web app");
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
	push_answer("{\"version\":1,\"goal\":\"something else\",\"tasks\":[{\"id\":\"only\","
		"\"title\":\"Only\",\"kind\":\"host\",\"tool\":null,\"inputs\":null,"
		"\"capabilities\":null,\"meta\":null}]}");
	cog_plan *plan = plan_ok("write a note");
	ck_assert_str_eq(cog_plan_goal(plan), "write a note");
	cog_plan_free(plan);
	ck_assert_uint_eq(ws_requests(server), 1);
	/* "id" is not in the schema: the router asks again. */
	ws_reset(server);
	push_answer("{\"id\":\"chosen\",\"tasks\":[{\"id\":\"only\",\"title\":\"Only\","
		"\"kind\":\"host\"}]}");
	push_answer("{\"tasks\":[{\"id\":\"only\",\"title\":\"Only\",\"kind\":\"host\"}]}");
	plan = plan_ok("write a note");
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
	push_answer(VALID);
	cog_plan *plan = plan_ok("write a note");
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
	ck_assert_cog(cog_llm_add_endpoint(bare, "main", openai_llm(bare), NULL));
	push_answer("{\"tasks\":[{\"id\":\"think\",\"title\":\"Think\",\"kind\":\"llm\"}]}");
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
	cog_plan *plan = plan_ok("deploy the web app");
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

/* ---- record and replay ---- */

/* A context with no transport at all whose endpoint "main" answers from
 * the recording at path; the same templates and tool as the fixture's
 * context (the prompt lists the tools, so the request, and with it the
 * key the recording is looked up by, is the same). */
static cog_ctx *replay_ctx(const char *path)
{
	cog_ctx *c = planner_ctx(false);
	cog_llm *replay = NULL;
	ck_assert_cog(cog_llm_replay_new(&replay, path));
	use_llm(c, replay);
	return c;
}

/* The plan as cog_plan_export() gives it, parsed, without "id": every plan
 * gets a fresh id when it is made (a UUIDv7: the time in ms, then random
 * bits), so two plans made from the same answer differ there. Plan JSON
 * holds no other time. */
static cJSON *plan_json_without_id(cog_plan *plan)
{
	char *text = NULL;
	ck_assert_cog(cog_plan_export(plan, COG_PLAN_FORMAT_JSON, &text));
	cJSON *json = cJSON_Parse(text);
	ck_assert_msg(json != NULL, "not JSON: %s", text);
	cog_free(text);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(json, "id")), cog_plan_id(plan));
	cJSON_DeleteItemFromObject(json, "id");
	return json;
}

static void assert_same_plan(cog_plan *a, cog_plan *b)
{
	ck_assert_str_ne(cog_plan_id(a), cog_plan_id(b));
	cJSON *ja = plan_json_without_id(a), *jb = plan_json_without_id(b);
	char *text = cJSON_PrintUnformatted(jb);
	ck_assert_msg(cJSON_Compare(ja, jb, true), "replayed plan differs: %s", text);
	free(text);
	cJSON_Delete(ja);
	cJSON_Delete(jb);
}

/* What the recording holds: one chat exchange on the planner's route. */
static void assert_one_planner_exchange(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: cannot open", path);
	char line[65536];
	int lines = 0;
	while (fgets(line, sizeof(line), f)) {
		cJSON *j = cJSON_Parse(line);
		ck_assert_msg(j != NULL, "%s: line %d is not JSON", path, lines + 1);
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "kind")), "chat");
		const cJSON *request = cJSON_GetObjectItem(j, "request");
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(request, "model")),
			"planner-model");
		ck_assert_ptr_nonnull(cJSON_GetObjectItem(j, "response"));
		cJSON_Delete(j);
		lines++;
	}
	fclose(f);
	ck_assert_int_eq(lines, 1);
	ck_assert_msg(!file_contains(path, "sk-test-secret"), "the key is in %s", path);
}

static const char RECORDED_GOAL[] = "write a note to the team and review it";

/* Record a planning through the real provider, then plan the same goal
 * again from the recording alone: the same plan, no request. A goal the
 * recording has not seen is COG_ENOTFOUND from the replay; the planner
 * then falls back to the templates, or reports both failures.
 * COG_TEST_SAVE_RECORDING=<file> copies the recording there (that is how
 * tests/data/llm/planner-replay.jsonl was made). */
START_TEST(replay_plans_as_recorded)
{
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_file("planner.jsonl"));
	cog_llm *recorder = NULL;
	ck_assert_cog(cog_llm_recorder_new(&recorder, openai_llm(ctx), path));
	use_llm(ctx, recorder);
	push_answer(VALID);
	cog_plan *recorded = plan_ok(RECORDED_GOAL);
	assert_is_valid_plan(recorded, RECORDED_GOAL);
	ck_assert_uint_eq(ws_requests(server), 1);
	assert_one_planner_exchange(path);
	const char *save = getenv("COG_TEST_SAVE_RECORDING");
	if (save && *save)
		copy_file(path, save);

	/* A fresh context that could not reach a server if it tried. */
	cog_ctx *offline = replay_ctx(path);
	cog_plan *replayed = NULL;
	ck_assert_cog(cog_plan_from_goal(&replayed, offline, RECORDED_GOAL));
	ck_assert_uint_eq(ws_requests(server), 1);
	assert_no_warnings();
	assert_same_plan(recorded, replayed);
	cog_plan_free(recorded);
	cog_plan_free(replayed);

	/* Not in the recording: the replay says so, the templates step in. */
	cog_plan *fallback = NULL;
	ck_assert_cog(cog_plan_from_goal(&fallback, offline, "deploy the web app"));
	ck_assert_uint_eq(cog_plan_task_count(fallback), 1);
	char *status = NULL;
	ck_assert_cog(cog_plan_task_status(fallback, "from_template", &status));
	cog_free(status);
	cog_plan_free(fallback);
	assert_warned("the llm planner failed", true);
	assert_warned("replay: no recorded answer for chat request", true);
	/* No template either: the replay's status, both reasons. */
	cog_plan *none = NULL;
	assert_error(cog_plan_from_goal(&none, offline, "write a poem"), COG_ENOTFOUND,
		"replay: no recorded answer for chat request");
	ck_assert_ptr_null(none);
	ck_assert_msg(strstr(cog_error_last(), "template planner: none of 1"), "%s",
		cog_error_last());
	ck_assert_uint_eq(ws_requests(server), 1);
	cog_ctx_free(offline);
}
END_TEST

/* The committed recording (made by replay_plans_as_recorded) replayed
 * with no server and no transport. It goes stale when the planner's
 * prompt, the plan schema or the request shape changes: the replay then
 * fails with COG_ENOTFOUND naming the request, and the file must be made
 * again. */
START_TEST(replay_committed_recording)
{
	const char *root = getenv("COG_TEST_SOURCE_ROOT");
	ck_assert_msg(root != NULL, "COG_TEST_SOURCE_ROOT is not set");
	char path[1024];
	snprintf(path, sizeof(path), "%s/tests/data/llm/planner-replay.jsonl", root);
	assert_one_planner_exchange(path);
	cog_ctx *offline = replay_ctx(path);
	cog_plan *plan = NULL;
	ck_assert_cog(cog_plan_from_goal(&plan, offline, RECORDED_GOAL));
	assert_is_valid_plan(plan, RECORDED_GOAL);
	cog_plan_free(plan);
	assert_no_warnings();
	cog_ctx_free(offline);
}
END_TEST

static void setup_offline(void)
{
	make_templates();
}

static void teardown_offline(void)
{
	tmp_dir_remove();
	log_forget();
}

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
	push_answer(VALID);              /* reused for every request */
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
	tcase_add_test(tc, replay_plans_as_recorded);
	suite_add_tcase(s, tc);
	/* No server at all. */
	tc = tcase_create("replay");
	tcase_add_checked_fixture(tc, setup_offline, teardown_offline);
	tcase_add_test(tc, replay_committed_recording);
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
