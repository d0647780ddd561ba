/* cog_plan graphs: building tasks, JSON round trips, bad input, validation
 * (missing dependencies, cycles, budgets), deep chains, analysis and the
 * DOT / Mermaid exports. Links the internal library to look at the prepared
 * graph after failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "plan_int.h"

static cog_ctx *ctx;

static void setup(void)
{
	ck_assert_int_eq(cog_ctx_new(&ctx, NULL), 0);
}

static void teardown(void)
{
	cog_ctx_free(ctx);
	ctx = NULL;
}

static cog_plan *plan_from(const char *json)
{
	cog_plan *plan = NULL;
	int rc = cog_plan_from_json(&plan, ctx, json);
	ck_assert_msg(rc == 0, "cog_plan_from_json: %d %s", rc, cog_error_last());
	return plan;
}

static char *export_text(cog_plan *plan, int format)
{
	char *text = NULL;
	int rc = cog_plan_export(plan, format, &text);
	ck_assert_msg(rc == 0, "cog_plan_export: %d %s", rc, cog_error_last());
	ck_assert_ptr_nonnull(text);
	return text;
}

/* Assert the last call failed with `code` and exactly `message`. */
#define ck_assert_error(rc, code, message) do { \
	int rc_ = (rc); \
	ck_assert_msg(rc_ == (code), "rc %d, expected %d (%s)", rc_, (code), cog_error_last()); \
	ck_assert_str_eq(cog_error_last(), (message)); \
} while (0)

/* Nothing derived is left behind after a failed validation. */
static void assert_unprepared(const cog_plan *plan)
{
	ck_assert(!plan->prepared);
	ck_assert_ptr_null(plan->order);
	ck_assert_ptr_null(plan->dependents_start);
	ck_assert_ptr_null(plan->dependents);
	for (size_t i = 0; i < plan->count; i++)
		ck_assert_ptr_null(plan->tasks[i].deps);
}

/* ---- building ---- */

START_TEST(task_every_field)
{
	cog_plan *plan = NULL;
	ck_assert_int_eq(cog_plan_new(&plan, ctx, "analyse sales.csv"), 0);
	ck_assert_int_eq(cog_plan_add_task(plan, "{\"id\":\"fetch\"}"), 0);
	const char *task =
		"{\"meta\":{\"owner\":\"ana\",\"n\":[1,2]},\"id\":\"load\",\"title\":\"Load the CSV\","
		"\"kind\":\"tool\",\"tool\":\"file_read\",\"inputs\":{\"path\":\"sales.csv\","
		"\"limit\":10},\"capabilities\":[\"python\",\"files\"],\"depends_on\":[\"fetch\"],"
		"\"estimate\":{\"tokens\":1200,\"cost\":0.015,\"duration_ms\":100},"
		"\"retry\":{\"max_attempts\":3,\"backoff_ms\":200,\"max_backoff_ms\":10000},"
		"\"timeout_ms\":60000,\"idempotent\":true}";
	ck_assert_int_eq(cog_plan_add_task(plan, task), 0);
	ck_assert_uint_eq(cog_plan_task_count(plan), 2);

	const plan_task *t = &plan->tasks[1];
	ck_assert_str_eq(t->id, "load");
	ck_assert_str_eq(t->title, "Load the CSV");
	ck_assert_str_eq(t->kind, "tool");
	ck_assert_str_eq(t->tool, "file_read");
	ck_assert_str_eq(cog_json_get_string(t->inputs, "path"), "sales.csv");
	ck_assert_int_eq(cJSON_GetArraySize(t->capabilities), 2);
	ck_assert_uint_eq(t->dep_count, 1);
	ck_assert_str_eq(t->dep_ids[0], "fetch");
	ck_assert(t->est_tokens == 1200 && t->est_cost == 0.015 && t->est_duration_ms == 100);
	ck_assert_uint_eq(t->max_attempts, 3);
	ck_assert_uint_eq(t->backoff_ms, 200);
	ck_assert_uint_eq(t->max_backoff_ms, 10000);
	ck_assert_uint_eq(t->timeout_ms, 60000);
	ck_assert(t->idempotent);
	ck_assert_str_eq(cog_json_get_string(t->meta, "owner"), "ana");

	/* canonical form: documented order, every field */
	cJSON *json = plan_task_to_json(t, false);
	char *text = cog_json_print(json);
	ck_assert_str_eq(text,
		"{\"id\":\"load\",\"title\":\"Load the CSV\",\"kind\":\"tool\",\"tool\":\"file_read\","
		"\"inputs\":{\"path\":\"sales.csv\",\"limit\":10},\"capabilities\":[\"python\","
		"\"files\"],\"depends_on\":[\"fetch\"],\"estimate\":{\"tokens\":1200,\"cost\":0.015,"
		"\"duration_ms\":100},\"retry\":{\"max_attempts\":3,\"backoff_ms\":200,"
		"\"max_backoff_ms\":10000},\"timeout_ms\":60000,\"idempotent\":true,"
		"\"meta\":{\"owner\":\"ana\",\"n\":[1,2]}}");
	cog_free(text);
	cJSON_Delete(json);
	ck_assert_int_eq(cog_plan_validate(plan), 0);
	cog_plan_free(plan);
}
END_TEST

START_TEST(task_defaults)
{
	cog_plan *plan = plan_from("{\"id\":\"p1\",\"goal\":\"g\",\"tasks\":[{\"id\":\"a\"}]}");
	char *text = export_text(plan, COG_PLAN_FORMAT_JSON);
	ck_assert_str_eq(text,
		"{\"version\":1,\"id\":\"p1\",\"goal\":\"g\",\"budget\":{\"max_tokens\":0,"
		"\"max_cost\":0,\"max_duration_ms\":0},\"tasks\":[{\"id\":\"a\",\"title\":null,"
		"\"kind\":\"host\",\"tool\":null,\"inputs\":null,\"capabilities\":null,"
		"\"depends_on\":[],\"estimate\":{\"tokens\":0,\"cost\":0,\"duration_ms\":0},"
		"\"retry\":{\"max_attempts\":1,\"backoff_ms\":0,\"max_backoff_ms\":0},"
		"\"timeout_ms\":0,\"idempotent\":false,\"meta\":null}]}");
	cog_free(text);
	ck_assert_str_eq(cog_plan_id(plan), "p1");
	ck_assert_str_eq(cog_plan_goal(plan), "g");
	cog_plan_free(plan);

	/* a fresh plan gets a fresh UUID */
	ck_assert_int_eq(cog_plan_new(&plan, ctx, ""), 0);
	ck_assert_uint_eq(strlen(cog_plan_id(plan)), 36);
	ck_assert_uint_eq(cog_plan_task_count(plan), 0);
	cog_plan_free(plan);
}
END_TEST

/* export -> from_json -> export is exact, and canonical text is a fixed point. */
static const char *const round_trip_plans[] = {
	"{\"tasks\":[]}",
	"{\"id\":\"p-1\",\"goal\":\"Analyse the sales\",\"tasks\":[{\"id\":\"a\"},"
		"{\"id\":\"b\",\"depends_on\":[\"a\"]}]}",
	/* unicode titles and goal, escapes, nested inputs and meta */
	"{\"goal\":\"Rapport de synth\\u00e8se \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80\","
		"\"budget\":{\"max_tokens\":100000,\"max_cost\":2.5},"
		"\"tasks\":[{\"id\":\"resume\",\"title\":\"\\\"R\xc3\xa9sum\xc3\xa9\\\" \\\\ "
		"\\n\\t\xf0\x9f\x93\x9d\"}]}",
	"{\"tasks\":[{\"id\":\"x:1\",\"title\":\"\xe6\x95\xb0\xe6\x8d\xae\",\"kind\":\"llm\","
		"\"inputs\":{\"prompt\":\"Say \\\"hi\\\"\",\"list\":[1,2.5,-3,true,null,{\"a\":[]}],"
		"\"deep\":{\"a\":{\"b\":{\"c\":\"\xc3\xbc\"}}}},\"meta\":{\"tags\":[\"x\",\"y\"],\"n\":"
		"1e-7,\"big\":123456789012,\"f\":0.1},\"capabilities\":[\"llm\"]},"
		"{\"id\":\"y_2\",\"kind\":\"tool\",\"tool\":\"shell\",\"inputs\":\"ls -l\","
		"\"depends_on\":[\"z.3\",\"x:1\"],\"estimate\":{\"tokens\":0.5,\"cost\":0.000123,"
		"\"duration_ms\":1e12},\"retry\":{\"max_attempts\":1000,\"backoff_ms\":1,"
		"\"max_backoff_ms\":86400000},\"timeout_ms\":31536000000,\"idempotent\":false},"
		"{\"id\":\"z.3\",\"kind\":\"step\",\"inputs\":[],\"meta\":{}}]}",
	/* an invalid graph (missing dependency) still round-trips */
	"{\"id\":\"broken\",\"goal\":\"\",\"tasks\":[{\"id\":\"a\",\"depends_on\":[\"gone\"]}]}",
};

START_TEST(json_round_trip)
{
	cog_plan *plan = plan_from(round_trip_plans[_i]);
	char *first = export_text(plan, COG_PLAN_FORMAT_JSON);
	cog_plan *again = plan_from(first);
	char *second = export_text(again, COG_PLAN_FORMAT_JSON);
	ck_assert_str_eq(first, second);
	ck_assert_str_eq(cog_plan_id(plan), cog_plan_id(again));
	cog_plan *third = plan_from(second);
	char *text = export_text(third, COG_PLAN_FORMAT_JSON);
	ck_assert_str_eq(text, first);
	cog_free(text);
	cog_free(first);
	cog_free(second);
	cog_plan_free(plan);
	cog_plan_free(again);
	cog_plan_free(third);
}
END_TEST

START_TEST(json_round_trip_values)
{
	cog_plan *plan = plan_from(round_trip_plans[3]);
	char *text = export_text(plan, COG_PLAN_FORMAT_JSON);
	cJSON *root = cJSON_Parse(text);
	ck_assert_ptr_nonnull(root);
	cJSON *tasks = cJSON_GetObjectItem(root, "tasks");
	ck_assert_int_eq(cJSON_GetArraySize(tasks), 3);
	cJSON *x = cJSON_GetArrayItem(tasks, 0);
	ck_assert_str_eq(cog_json_get_string(x, "title"), "\xe6\x95\xb0\xe6\x8d\xae");
	cJSON *meta = cJSON_GetObjectItem(x, "meta");
	ck_assert(cog_json_get_number(meta, "n", 0) == 1e-7);
	ck_assert(cog_json_get_number(meta, "f", 0) == 0.1);
	ck_assert(cog_json_get_number(meta, "big", 0) == 123456789012.0);
	cJSON *y = cJSON_GetArrayItem(tasks, 1);
	ck_assert_str_eq(cog_json_get_string(y, "inputs"), "ls -l");
	cJSON *deps = cJSON_GetObjectItem(y, "depends_on");
	ck_assert_str_eq(cJSON_GetArrayItem(deps, 0)->valuestring, "z.3");
	ck_assert_str_eq(cJSON_GetArrayItem(deps, 1)->valuestring, "x:1");
	cJSON *est = cJSON_GetObjectItem(y, "estimate");
	ck_assert(cog_json_get_number(est, "cost", 0) == 0.000123);
	ck_assert(cog_json_get_number(est, "duration_ms", 0) == 1e12);
	cJSON_Delete(root);
	cog_free(text);
	cog_plan_free(plan);

	plan = plan_from(round_trip_plans[2]);
	text = export_text(plan, COG_PLAN_FORMAT_JSON);
	ck_assert_msg(strstr(text, "\"title\":\"\\\"R\xc3\xa9sum\xc3\xa9\\\" \\\\ \\n\\t\xf0\x9f\x93\x9d\""),
		"%s", text);
	ck_assert_str_eq(cog_plan_goal(plan),
		"Rapport de synth\xc3\xa8se \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80");
	cog_free(text);
	cog_plan_free(plan);
}
END_TEST

/* ---- bad input ---- */

typedef struct bad_case {
	const char *json;
	int code;
	const char *message;
} bad_case;

static const bad_case bad_plans[] = {
	{ "{\"tasks\":[{\"id\":\"a\"},{\"id\":\"b\",}]}", COG_EINVAL,
	  "cog_plan_from_json: invalid JSON at byte 31: object key (a string) expected" },
	{ "{\"tasks\":[{\"id\":\"a\"", COG_EINVAL,
	  "cog_plan_from_json: invalid JSON at byte 19: unexpected end of text" },
	{ "[1]", COG_EINVAL, "cog_plan_from_json: a plan must be a JSON object" },
	{ "{\"version\":2}", COG_EINVAL, "cog_plan_from_json: plan version must be 1" },
	{ "{\"tasks\":{}}", COG_EINVAL, "cog_plan_from_json: field \"tasks\" must be an array" },
	{ "{\"plan\":1}", COG_EINVAL, "cog_plan_from_json: unknown field \"plan\" (version, id, "
	  "goal, budget, tasks)" },
	{ "{\"tasks\":[5]}", COG_EINVAL, "cog_plan_from_json: tasks[0]: a task must be a JSON "
	  "object" },
	{ "{\"tasks\":[{\"id\":\"a\"},{\"title\":\"x\"}]}", COG_EINVAL,
	  "cog_plan_from_json: tasks[1]: field \"id\" (a string) is required" },
	{ "{\"tasks\":[{\"id\":\"a b\"}]}", COG_EINVAL,
	  "cog_plan_from_json: tasks[0]: task id 'a b' has ' ' at byte 1; ids use [A-Za-z0-9_.:-]" },
	{ "{\"tasks\":[{\"id\":\"\"}]}", COG_EINVAL,
	  "cog_plan_from_json: tasks[0]: task id must be 1..128 bytes, got 0" },
	{ "{\"tasks\":[{\"id\":\"a\"},{\"id\":\"b\"},{\"id\":\"a\"}]}", COG_EINVAL,
	  "cog_plan_from_json: tasks[2]: duplicate task id 'a'" },
	{ "{\"tasks\":[{\"id\":\"a\",\"colour\":1}]}", COG_EINVAL,
	  "cog_plan_from_json: tasks[0]: task 'a': unknown field \"colour\" (id, title, kind, tool, "
	  "inputs, capabilities, depends_on, estimate, retry, timeout_ms, idempotent, meta)" },
	{ "{\"tasks\":[{\"id\":\"a\",\"estimate\":{\"time\":1}}]}", COG_EINVAL,
	  "cog_plan_from_json: tasks[0]: task 'a': unknown field \"estimate.time\" (tokens, cost, "
	  "duration_ms)" },
	{ "{\"tasks\":[{\"id\":\"a\",\"kind\":\"robot\"}]}", COG_EINVAL,
	  "cog_plan_from_json: tasks[0]: task 'a': kind \"robot\" is not one of host, tool, llm, step" },
	{ "{\"tasks\":[{\"id\":\"a\"},{\"id\":\"b\",\"kind\":\"tool\"}]}", COG_EINVAL,
	  "cog_plan_from_json: tasks[1]: task 'b' is of kind \"tool\" but names no \"tool\"" },
	{ "{\"tasks\":[{\"id\":\"a\",\"kind\":\"tool\",\"tool\":null}]}", COG_EINVAL,
	  "cog_plan_from_json: tasks[0]: task 'a' is of kind \"tool\" but names no \"tool\"" },
	{ "{\"tasks\":[{\"id\":\"a\",\"depends_on\":[\"a\"]}]}", COG_EINVAL,
	  "cog_plan_from_json: tasks[0]: task 'a' depends on itself" },
	{ "{\"tasks\":[{\"id\":\"a\",\"depends_on\":[\"b\",\"b\"]}]}", COG_EINVAL,
	  "cog_plan_from_json: tasks[0]: task 'a' lists dependency 'b' twice" },
	{ "{\"tasks\":[{\"id\":\"a\",\"depends_on\":\"b\"}]}", COG_EINVAL,
	  "cog_plan_from_json: tasks[0]: task 'a': field \"depends_on\" must be an array of task ids" },
	{ "{\"tasks\":[{\"id\":\"a\",\"depends_on\":[\"b c\"]}]}", COG_EINVAL,
	  "cog_plan_from_json: tasks[0]: task 'a': task id 'b c' has ' ' at byte 1; ids use "
	  "[A-Za-z0-9_.:-]" },
	{ "{\"tasks\":[{\"id\":\"a\",\"estimate\":{\"tokens\":-1}}]}", COG_EINVAL,
	  "cog_plan_from_json: tasks[0]: task 'a': field \"estimate.tokens\" must be a number from 0 "
	  "to 1000000000000000" },
	{ "{\"tasks\":[{\"id\":\"a\",\"estimate\":{\"cost\":-0.5}}]}", COG_EINVAL,
	  "cog_plan_from_json: tasks[0]: task 'a': field \"estimate.cost\" must be a number from 0 "
	  "to 1000000000000000" },
	/* NaN and infinities are not JSON: a number too large to be finite */
	{ "{\"tasks\":[{\"id\":\"a\",\"estimate\":{\"duration_ms\":1e400}}]}", COG_EINVAL,
	  "cog_plan_from_json: tasks[0]: task 'a': field \"estimate.duration_ms\" must be a number "
	  "from 0 to 1000000000000000" },
	{ "{\"tasks\":[{\"id\":\"a\",\"estimate\":{\"cost\":NaN}}]}", COG_EINVAL,
	  "cog_plan_from_json: invalid JSON at byte 39: unexpected character" },
	{ "{\"tasks\":[{\"id\":\"a\",\"retry\":{\"max_attempts\":0}}]}", COG_EINVAL,
	  "cog_plan_from_json: tasks[0]: task 'a': field \"retry.max_attempts\" must be a whole "
	  "number from 1 to 1000" },
	{ "{\"tasks\":[{\"id\":\"a\",\"retry\":{\"backoff_ms\":100,\"max_backoff_ms\":10}}]}",
	  COG_EINVAL, "cog_plan_from_json: tasks[0]: task 'a' has retry.max_backoff_ms below "
	  "retry.backoff_ms" },
	{ "{\"tasks\":[{\"id\":\"a\",\"timeout_ms\":1.5}]}", COG_EINVAL,
	  "cog_plan_from_json: tasks[0]: task 'a': field \"timeout_ms\" must be a whole number from "
	  "0 to 31536000000" },
	{ "{\"tasks\":[{\"id\":\"a\",\"idempotent\":1}]}", COG_EINVAL,
	  "cog_plan_from_json: tasks[0]: task 'a': field \"idempotent\" must be true or false" },
	{ "{\"tasks\":[{\"id\":\"a\",\"meta\":[]}]}", COG_EINVAL,
	  "cog_plan_from_json: tasks[0]: task 'a': field \"meta\" must be an object" },
	{ "{\"tasks\":[{\"id\":\"a\",\"capabilities\":[\"\"]}]}", COG_EINVAL,
	  "cog_plan_from_json: tasks[0]: task 'a': field \"capabilities\" must be an array of "
	  "non-empty strings" },
	{ "{\"budget\":{\"max_tokens\":-5}}", COG_EINVAL,
	  "cog_plan_from_json: field \"budget.max_tokens\" must be a number from 0 to "
	  "1000000000000000" },
};

START_TEST(bad_plan_json)
{
	const bad_case *c = &bad_plans[_i];
	cog_plan *plan = (cog_plan *)1;
	ck_assert_error(cog_plan_from_json(&plan, ctx, c->json), c->code, c->message);
	ck_assert_ptr_null(plan);
}
END_TEST

START_TEST(bad_task_json)
{
	cog_plan *plan = NULL;
	ck_assert_int_eq(cog_plan_new(&plan, ctx, "g"), 0);
	ck_assert_int_eq(cog_plan_add_task(plan, "{\"id\":\"a\"}"), 0);
	ck_assert_error(cog_plan_add_task(plan, "{\"id\":\"b\",\"x\":1"), COG_EINVAL,
		"cog_plan_add_task: invalid JSON at byte 15: unexpected end of text");
	ck_assert_error(cog_plan_add_task(plan, NULL), COG_EINVAL,
		"cog_plan_add_task: JSON text is NULL");
	ck_assert_error(cog_plan_add_task(plan, "{\"kind\":\"llm\"}"), COG_EINVAL,
		"cog_plan_add_task: field \"id\" (a string) is required");
	ck_assert_error(cog_plan_add_task(plan, "{\"id\":\"a\"}"), COG_EINVAL,
		"cog_plan_add_task: duplicate task id 'a'");
	ck_assert_error(cog_plan_add_task(plan, "{\"id\":\"b/c\"}"), COG_EINVAL,
		"cog_plan_add_task: task id 'b/c' has '/' at byte 1; ids use [A-Za-z0-9_.:-]");
	ck_assert_error(cog_plan_add_task(plan, "{\"id\":\"b\",\"kind\":\"tool\"}"), COG_EINVAL,
		"cog_plan_add_task: task 'b' is of kind \"tool\" but names no \"tool\"");
	ck_assert_error(cog_plan_add_task(plan, "{\"id\":\"b\",\"depends_on\":[\"b\"]}"), COG_EINVAL,
		"cog_plan_add_task: task 'b' depends on itself");
	ck_assert_error(cog_plan_add_task(plan, "{\"id\":\"b\",\"estimate\":{\"tokens\":-1}}"),
		COG_EINVAL, "cog_plan_add_task: task 'b': field \"estimate.tokens\" must be a number "
		"from 0 to 1000000000000000");
	ck_assert_error(cog_plan_add_task(plan, "{\"id\":\"b\",\"retry\":{\"max_attempts\":0}}"),
		COG_EINVAL, "cog_plan_add_task: task 'b': field \"retry.max_attempts\" must be a whole "
		"number from 1 to 1000");
	ck_assert_error(cog_plan_add_task(plan, "{\"id\":\"b\",\"speed\":3}"), COG_EINVAL,
		"cog_plan_add_task: task 'b': unknown field \"speed\" (id, title, kind, tool, inputs, "
		"capabilities, depends_on, estimate, retry, timeout_ms, idempotent, meta)");
	char long_id[200];
	memset(long_id, 'x', 129);
	long_id[129] = 0;
	char json[300];
	snprintf(json, sizeof(json), "{\"id\":\"%s\"}", long_id);
	ck_assert_error(cog_plan_add_task(plan, json), COG_EINVAL,
		"cog_plan_add_task: task id must be 1..128 bytes, got 129");
	long_id[128] = 0;
	snprintf(json, sizeof(json), "{\"id\":\"%s\"}", long_id);
	ck_assert_int_eq(cog_plan_add_task(plan, json), 0);
	/* failed adds left nothing behind */
	ck_assert_uint_eq(cog_plan_task_count(plan), 2);
	ck_assert_error(cog_plan_add_task(NULL, "{\"id\":\"z\"}"), COG_EINVAL,
		"cog_plan_add_task: plan is NULL");
	cog_plan_free(plan);
}
END_TEST

START_TEST(add_dependency)
{
	cog_plan *plan = plan_from("{\"id\":\"p1\",\"tasks\":[{\"id\":\"a\"},{\"id\":\"b\"}]}");
	ck_assert_int_eq(cog_plan_validate(plan), 0);
	ck_assert(plan->prepared);
	ck_assert_error(cog_plan_add_dependency(plan, "b", "x"), COG_ENOTFOUND,
		"cog_plan_add_dependency: no task 'x' in plan p1");
	ck_assert_error(cog_plan_add_dependency(plan, "y", "a"), COG_ENOTFOUND,
		"cog_plan_add_dependency: no task 'y' in plan p1");
	ck_assert_error(cog_plan_add_dependency(plan, "a", "a"), COG_EINVAL,
		"cog_plan_add_dependency: task 'a' cannot depend on itself");
	ck_assert_error(cog_plan_add_dependency(NULL, "a", "b"), COG_EINVAL,
		"cog_plan_add_dependency: plan is NULL");
	ck_assert(plan->prepared); /* failures changed nothing */
	ck_assert_int_eq(cog_plan_add_dependency(plan, "b", "a"), 0);
	ck_assert(!plan->prepared);
	ck_assert_int_eq(cog_plan_add_dependency(plan, "b", "a"), 0); /* already there */
	ck_assert_uint_eq(plan->tasks[1].dep_count, 1);
	ck_assert_int_eq(cog_plan_validate(plan), 0);
	ck_assert_uint_eq(plan->order[0], 0);
	ck_assert_uint_eq(plan->order[1], 1);
	/* closing the loop makes a cycle */
	ck_assert_int_eq(cog_plan_add_dependency(plan, "a", "b"), 0);
	ck_assert_error(cog_plan_validate(plan), COG_ECYCLE,
		"plan p1: dependency cycle a -> b -> a (each task depends on the one before it)");
	assert_unprepared(plan);
	cog_plan_free(plan);
}
END_TEST

START_TEST(null_arguments)
{
	char *text = (char *)1;
	cog_plan *plan = plan_from("{\"tasks\":[{\"id\":\"a\"}]}");
	ck_assert_error(cog_plan_validate(NULL), COG_EINVAL, "cog_plan_validate: plan is NULL");
	ck_assert_error(cog_plan_analyze(NULL, &text), COG_EINVAL, "cog_plan_analyze: plan is NULL");
	ck_assert_ptr_null(text);
	ck_assert_error(cog_plan_analyze(plan, NULL), COG_EINVAL, "cog_plan_analyze: json is NULL");
	text = (char *)1;
	ck_assert_error(cog_plan_export(NULL, COG_PLAN_FORMAT_JSON, &text), COG_EINVAL,
		"cog_plan_export: plan is NULL");
	ck_assert_ptr_null(text);
	ck_assert_error(cog_plan_export(plan, COG_PLAN_FORMAT_DOT, NULL), COG_EINVAL,
		"cog_plan_export: text is NULL");
	text = (char *)1;
	ck_assert_error(cog_plan_export(plan, 3, &text), COG_EINVAL,
		"cog_plan_export: unknown format 3 (0 json, 1 dot, 2 mermaid)");
	ck_assert_ptr_null(text);
	ck_assert_error(cog_plan_export(plan, -1, &text), COG_EINVAL,
		"cog_plan_export: unknown format -1 (0 json, 1 dot, 2 mermaid)");
	ck_assert_error(cog_plan_from_json(NULL, ctx, "{}"), COG_EINVAL,
		"cog_plan_from_json: out is NULL");
	cog_plan *other = (cog_plan *)1;
	ck_assert_error(cog_plan_new(&other, NULL, "g"), COG_EINVAL, "cog_plan_new: ctx is NULL");
	ck_assert_ptr_null(other);
	cog_plan_free(NULL);
	cog_plan_free(plan);
}
END_TEST

/* ---- validation ---- */

START_TEST(validate_missing_dependency)
{
	cog_plan *plan = plan_from("{\"id\":\"p1\",\"tasks\":[{\"id\":\"a\"},"
		"{\"id\":\"b\",\"depends_on\":[\"a\",\"x\"]},{\"id\":\"c\",\"depends_on\":[\"y\"]}]}");
	ck_assert_error(cog_plan_validate(plan), COG_ENOTFOUND,
		"plan p1: task 'b' depends on 'x', which is not in the plan");
	assert_unprepared(plan);
	/* analyze validates first */
	char *json = (char *)1;
	ck_assert_error(cog_plan_analyze(plan, &json), COG_ENOTFOUND,
		"plan p1: task 'b' depends on 'x', which is not in the plan");
	ck_assert_ptr_null(json);
	/* adding the missing tasks repairs it */
	ck_assert_int_eq(cog_plan_add_task(plan, "{\"id\":\"x\"}"), 0);
	ck_assert_error(cog_plan_validate(plan), COG_ENOTFOUND,
		"plan p1: task 'c' depends on 'y', which is not in the plan");
	ck_assert_int_eq(cog_plan_add_task(plan, "{\"id\":\"y\",\"depends_on\":[\"b\"]}"), 0);
	ck_assert_int_eq(cog_plan_validate(plan), 0);
	ck_assert(plan->prepared);
	ck_assert_int_eq(cog_plan_validate(plan), 0); /* idempotent */
	cog_plan_free(plan);
}
END_TEST

typedef struct cycle_case {
	const char *json;
	const char *message;
} cycle_case;

static const cycle_case cycles[] = {
	/* a -> b -> c -> a: b depends on a, c on b, a on c */
	{ "{\"id\":\"p1\",\"tasks\":[{\"id\":\"a\",\"depends_on\":[\"c\"]},"
	  "{\"id\":\"b\",\"depends_on\":[\"a\"]},{\"id\":\"c\",\"depends_on\":[\"b\"]}]}",
	  "plan p1: dependency cycle a -> b -> c -> a (each task depends on the one before it)" },
	/* the same cycle, added in another order: named from its earliest-added task */
	{ "{\"id\":\"p1\",\"tasks\":[{\"id\":\"c\",\"depends_on\":[\"b\"]},"
	  "{\"id\":\"a\",\"depends_on\":[\"c\"]},{\"id\":\"b\",\"depends_on\":[\"a\"]}]}",
	  "plan p1: dependency cycle c -> a -> b -> c (each task depends on the one before it)" },
	/* tasks before and behind a cycle are not named */
	{ "{\"id\":\"p2\",\"tasks\":[{\"id\":\"tail\",\"depends_on\":[\"y\"]},{\"id\":\"root\"},"
	  "{\"id\":\"x\",\"depends_on\":[\"root\",\"z\"]},{\"id\":\"y\",\"depends_on\":[\"x\"]},"
	  "{\"id\":\"z\",\"depends_on\":[\"y\"]},{\"id\":\"w\",\"depends_on\":[\"root\"]}]}",
	  "plan p2: dependency cycle x -> y -> z -> x (each task depends on the one before it)" },
	/* two tasks */
	{ "{\"id\":\"p3\",\"tasks\":[{\"id\":\"ok\"},{\"id\":\"m.1\",\"depends_on\":[\"n-2\"]},"
	  "{\"id\":\"n-2\",\"depends_on\":[\"m.1\",\"ok\"]}]}",
	  "plan p3: dependency cycle m.1 -> n-2 -> m.1 (each task depends on the one before it)" },
};

START_TEST(validate_cycle)
{
	cog_plan *plan = plan_from(cycles[_i].json);
	ck_assert_error(cog_plan_validate(plan), COG_ECYCLE, cycles[_i].message);
	assert_unprepared(plan);
	char *json = (char *)1;
	ck_assert_error(cog_plan_analyze(plan, &json), COG_ECYCLE, cycles[_i].message);
	ck_assert_ptr_null(json);
	/* drawing a cyclic plan still works */
	char *dot = export_text(plan, COG_PLAN_FORMAT_DOT);
	char *mermaid = export_text(plan, COG_PLAN_FORMAT_MERMAID);
	cog_free(dot);
	cog_free(mermaid);
	cog_plan_free(plan);
}
END_TEST

/* Build a chain t0 <- t1 <- ... <- t(n-1) as Plan JSON, added last first. */
static char *chain_json(size_t n, bool close_cycle)
{
	cog_buf b = COG_BUF_INIT;
	cog_buf_puts(&b, "{\"id\":\"chain\",\"tasks\":[");
	for (size_t k = n; k-- > 0;) {
		cog_buf_printf(&b, "{\"id\":\"t%zu\",\"estimate\":{\"duration_ms\":2,\"cost\":0.5,"
			"\"tokens\":3}", k);
		if (k > 0)
			cog_buf_printf(&b, ",\"depends_on\":[\"t%zu\"]", k - 1);
		else if (close_cycle)
			cog_buf_printf(&b, ",\"depends_on\":[\"t%zu\"]", n - 1);
		cog_buf_puts(&b, k ? "}," : "}");
	}
	cog_buf_puts(&b, "]}");
	return cog_buf_detach(&b);
}

START_TEST(validate_long_cycle_is_elided)
{
	char *json = chain_json(2000, true);
	cog_plan *plan = plan_from(json);
	cog_free(json);
	ck_assert_int_eq(cog_plan_validate(plan), COG_ECYCLE);
	const char *msg = cog_error_last();
	ck_assert_uint_lt(strlen(msg), 1000);
	/* t0 was added last; t1999 first: the cycle starts there */
	const char *head = "plan chain: dependency cycle t1999 -> t0 -> t1 -> t2 -> ";
	ck_assert_msg(strncmp(msg, head, strlen(head)) == 0, "%s", msg);
	const char *more = strstr(msg, " -> ... (");
	ck_assert_msg(more != NULL, "%s", msg);
	unsigned last = 0, elided = 0;
	ck_assert_int_eq(sscanf(more, " -> ... (%u more) -> t%u -> t1999", &elided, &last), 2);
	/* shown: t1999, t0 .. t(k), then t(last) = t1998 */
	ck_assert_uint_eq(last, 1998);
	const char *dots = more;
	unsigned shown_before = 0;
	for (const char *p = msg; p < dots; p++)
		if (strncmp(p, " -> ", 4) == 0)
			shown_before++;
	ck_assert_uint_eq(shown_before + 1 + elided + 1, 2000);
	ck_assert_msg(strstr(msg, "t1999 (each task depends on the one before it)"), "%s", msg);
	assert_unprepared(plan);
	cog_plan_free(plan);
}
END_TEST

START_TEST(validate_tool_task)
{
	/* The parser refuses a tool task without a tool; validation checks it
	 * again for graphs changed from inside (re-planning, journals). */
	cog_plan *plan = plan_from("{\"id\":\"p1\",\"tasks\":[{\"id\":\"a\",\"kind\":\"tool\","
		"\"tool\":\"shell\"}]}");
	ck_assert_int_eq(cog_plan_validate(plan), 0);
	plan_invalidate(plan);
	cog_free(plan->tasks[0].tool);
	plan->tasks[0].tool = NULL;
	ck_assert_error(cog_plan_validate(plan), COG_EINVAL,
		"plan p1: task 'a' is of kind \"tool\" but names no \"tool\"");
	assert_unprepared(plan);
	cog_plan_free(plan);
}
END_TEST

START_TEST(validate_budget)
{
	/* a (10 ms) -> b (20 ms), a -> c (5 ms): critical path 30 ms, 60 tokens, 0.6 cost */
	const char *tasks = "\"tasks\":[{\"id\":\"a\",\"estimate\":{\"tokens\":10,\"cost\":0.1,"
		"\"duration_ms\":10}},{\"id\":\"b\",\"depends_on\":[\"a\"],\"estimate\":{\"tokens\":20,"
		"\"cost\":0.2,\"duration_ms\":20}},{\"id\":\"c\",\"depends_on\":[\"a\"],"
		"\"estimate\":{\"tokens\":30,\"cost\":0.3,\"duration_ms\":5}}]";
	char json[1024];
	snprintf(json, sizeof(json), "{\"id\":\"p1\",%s}", tasks);
	cog_plan *plan = plan_from(json);
	ck_assert_int_eq(cog_plan_validate(plan), 0); /* no budget: unlimited */

	ck_assert_int_eq(cog_plan_set_budget(plan, "{\"max_tokens\":59}"), 0);
	ck_assert(!plan->prepared);
	ck_assert_error(cog_plan_validate(plan), COG_EBUDGET,
		"plan p1: the estimated tokens (60) exceed the budget's max_tokens (59)");
	assert_unprepared(plan);
	ck_assert_int_eq(cog_plan_set_budget(plan, "{\"max_tokens\":60}"), 0);
	ck_assert_int_eq(cog_plan_validate(plan), 0);

	ck_assert_int_eq(cog_plan_set_budget(plan, "{\"max_cost\":0.5}"), 0);
	ck_assert_error(cog_plan_validate(plan), COG_EBUDGET,
		"plan p1: the estimated cost (0.6) exceeds the budget's max_cost (0.5)");
	/* 0.1 + 0.2 + 0.3 is 0.6000000000000001 in doubles: still within 0.6 */
	ck_assert_int_eq(cog_plan_set_budget(plan, "{\"max_cost\":0.6}"), 0);
	ck_assert_int_eq(cog_plan_validate(plan), 0);

	ck_assert_int_eq(cog_plan_set_budget(plan, "{\"max_duration_ms\":29}"), 0);
	ck_assert_error(cog_plan_validate(plan), COG_EBUDGET,
		"plan p1: the critical path's estimated duration (30 ms) exceeds the budget's "
		"max_duration_ms (29 ms)");
	/* the duration limit is the critical path, not the sum (35 ms) */
	ck_assert_int_eq(cog_plan_set_budget(plan, "{\"max_duration_ms\":30}"), 0);
	ck_assert_int_eq(cog_plan_validate(plan), 0);

	ck_assert_int_eq(cog_plan_set_budget(plan, "{\"max_tokens\":60,\"max_cost\":0.6,"
		"\"max_duration_ms\":30}"), 0);
	ck_assert_int_eq(cog_plan_validate(plan), 0);
	ck_assert_int_eq(cog_plan_set_budget(plan, "{}"), 0);
	ck_assert_int_eq(cog_plan_validate(plan), 0);
	cog_plan_free(plan);

	/* a budget in the plan JSON */
	snprintf(json, sizeof(json), "{\"id\":\"p2\",\"budget\":{\"max_tokens\":1000,"
		"\"max_cost\":0.25},%s}", tasks);
	plan = plan_from(json);
	ck_assert_error(cog_plan_validate(plan), COG_EBUDGET,
		"plan p2: the estimated cost (0.6) exceeds the budget's max_cost (0.25)");
	cog_plan_free(plan);
}
END_TEST

START_TEST(validate_prepared_graph)
{
	/* d depends on b and c, both on a; e alone */
	cog_plan *plan = plan_from("{\"tasks\":[{\"id\":\"d\",\"depends_on\":[\"c\",\"b\"]},"
		"{\"id\":\"b\",\"depends_on\":[\"a\"]},{\"id\":\"a\"},{\"id\":\"e\"},"
		"{\"id\":\"c\",\"depends_on\":[\"a\"]}]}");
	ck_assert_int_eq(cog_plan_validate(plan), 0);
	/* roots in task order (a, e), then the rest as they become ready */
	static const char *const order[] = { "a", "e", "b", "c", "d" };
	for (size_t i = 0; i < 5; i++)
		ck_assert_str_eq(plan->tasks[plan->order[i]].id, order[i]);
	/* deps resolved in the order given */
	ck_assert_uint_eq(plan->tasks[0].deps[0], 4);
	ck_assert_uint_eq(plan->tasks[0].deps[1], 1);
	/* dependents CSR: a -> b, c; b -> d; c -> d; d, e -> none */
	static const uint32_t start[] = { 0, 0, 1, 3, 3, 4 };
	for (size_t i = 0; i < 6; i++)
		ck_assert_uint_eq(plan->dependents_start[i], start[i]);
	ck_assert_uint_eq(plan->dependents[0], 0); /* b's dependent d */
	ck_assert_uint_eq(plan->dependents[1], 1); /* a's dependents b, c */
	ck_assert_uint_eq(plan->dependents[2], 4);
	ck_assert_uint_eq(plan->dependents[3], 0); /* c's dependent d */
	uint32_t *kept = plan->order;
	ck_assert_int_eq(cog_plan_validate(plan), 0);
	ck_assert_ptr_eq(plan->order, kept); /* nothing rebuilt */
	cog_plan_free(plan);

	/* an empty plan is valid */
	ck_assert_int_eq(cog_plan_new(&plan, ctx, "nothing"), 0);
	ck_assert_int_eq(cog_plan_validate(plan), 0);
	ck_assert_uint_eq(plan->dependents_start[0], 0);
	cog_plan_free(plan);
}
END_TEST

/* ---- analysis ---- */

START_TEST(analyze_diamond)
{
	cog_plan *plan = plan_from("{\"tasks\":["
		"{\"id\":\"a\",\"estimate\":{\"tokens\":100,\"cost\":1,\"duration_ms\":10}},"
		"{\"id\":\"b\",\"depends_on\":[\"a\"],\"estimate\":{\"tokens\":50,\"cost\":0.5,"
		"\"duration_ms\":5}},"
		"{\"id\":\"c\",\"depends_on\":[\"a\"],\"estimate\":{\"tokens\":10,\"cost\":0.25,"
		"\"duration_ms\":20}},"
		"{\"id\":\"d\",\"depends_on\":[\"b\",\"c\"],\"estimate\":{\"tokens\":1,\"cost\":0.125,"
		"\"duration_ms\":1.5}},"
		"{\"id\":\"e\",\"estimate\":{\"duration_ms\":7}}]}");
	char *json = NULL;
	ck_assert_int_eq(cog_plan_analyze(plan, &json), 0);
	ck_assert_str_eq(json,
		"{\"tasks\":5,\"edges\":4,\"order\":[\"a\",\"e\",\"b\",\"c\",\"d\"],"
		"\"levels\":[[\"a\",\"e\"],[\"b\",\"c\"],[\"d\"]],"
		"\"critical_path\":{\"tasks\":[\"a\",\"c\",\"d\"],\"duration_ms\":31.5,\"cost\":1.375,"
		"\"tokens\":111},"
		"\"estimate\":{\"duration_ms\":31.5,\"cost\":1.875,\"tokens\":161}}");

	/* field by field */
	cJSON *root = cJSON_Parse(json);
	ck_assert_ptr_nonnull(root);
	ck_assert(cog_json_get_number(root, "tasks", -1) == 5);
	ck_assert(cog_json_get_number(root, "edges", -1) == 4);
	cJSON *levels = cJSON_GetObjectItem(root, "levels");
	ck_assert_int_eq(cJSON_GetArraySize(levels), 3);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetArrayItem(levels, 1)), 2);
	cJSON *cp = cJSON_GetObjectItem(root, "critical_path");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cp, "tasks")), 3);
	ck_assert(cog_json_get_number(cp, "duration_ms", -1) == 31.5);
	ck_assert(cog_json_get_number(cp, "cost", -1) == 1.375);
	ck_assert(cog_json_get_number(cp, "tokens", -1) == 111);
	cJSON *est = cJSON_GetObjectItem(root, "estimate");
	ck_assert(cog_json_get_number(est, "duration_ms", -1) == 31.5);
	ck_assert(cog_json_get_number(est, "cost", -1) == 1.875);
	ck_assert(cog_json_get_number(est, "tokens", -1) == 161);
	cJSON_Delete(root);
	cog_free(json);
	cog_plan_free(plan);
}
END_TEST

START_TEST(analyze_ties_and_empty)
{
	/* no estimates: the critical path is the longest chain of tasks; among
	 * equal chains the earlier-added tasks win */
	cog_plan *plan = plan_from("{\"tasks\":[{\"id\":\"r1\"},{\"id\":\"r2\"},"
		"{\"id\":\"x\",\"depends_on\":[\"r2\",\"r1\"]},{\"id\":\"y\",\"depends_on\":[\"r1\"]},"
		"{\"id\":\"z\",\"depends_on\":[\"y\"]},{\"id\":\"w\",\"depends_on\":[\"x\"]}]}");
	char *json = NULL;
	ck_assert_int_eq(cog_plan_analyze(plan, &json), 0);
	ck_assert_str_eq(json,
		"{\"tasks\":6,\"edges\":5,\"order\":[\"r1\",\"r2\",\"y\",\"x\",\"z\",\"w\"],"
		"\"levels\":[[\"r1\",\"r2\"],[\"x\",\"y\"],[\"z\",\"w\"]],"
		"\"critical_path\":{\"tasks\":[\"r1\",\"y\",\"z\"],\"duration_ms\":0,\"cost\":0,"
		"\"tokens\":0},\"estimate\":{\"duration_ms\":0,\"cost\":0,\"tokens\":0}}");
	cog_free(json);
	cog_plan_free(plan);

	ck_assert_int_eq(cog_plan_new(&plan, ctx, ""), 0);
	ck_assert_int_eq(cog_plan_analyze(plan, &json), 0);
	ck_assert_str_eq(json, "{\"tasks\":0,\"edges\":0,\"order\":[],\"levels\":[],"
		"\"critical_path\":{\"tasks\":[],\"duration_ms\":0,\"cost\":0,\"tokens\":0},"
		"\"estimate\":{\"duration_ms\":0,\"cost\":0,\"tokens\":0}}");
	cog_free(json);
	cog_plan_free(plan);
}
END_TEST

/* ---- deep graphs ---- */

#define DEEP 100000

START_TEST(deep_chain)
{
	char *json = chain_json(DEEP, false);
	cog_plan *plan = plan_from(json);
	cog_free(json);
	ck_assert_uint_eq(cog_plan_task_count(plan), DEEP);
	ck_assert_int_eq(cog_plan_set_budget(plan, "{\"max_duration_ms\":200000,"
		"\"max_tokens\":300000,\"max_cost\":50000}"), 0);
	ck_assert_int_eq(cog_plan_validate(plan), 0);
	for (size_t i = 0; i < DEEP; i++)
		if (plan->order[i] != DEEP - 1 - i)
			ck_abort_msg("order[%zu] is %u", i, plan->order[i]);
	ck_assert_int_eq(cog_plan_set_budget(plan, "{\"max_duration_ms\":199999}"), 0);
	ck_assert_error(cog_plan_validate(plan), COG_EBUDGET,
		"plan chain: the critical path's estimated duration (200000 ms) exceeds the budget's "
		"max_duration_ms (199999 ms)");
	ck_assert_int_eq(cog_plan_set_budget(plan, "{}"), 0);

	char *analysis = NULL;
	ck_assert_int_eq(cog_plan_analyze(plan, &analysis), 0);
	cJSON *root = cJSON_Parse(analysis);
	ck_assert_ptr_nonnull(root);
	ck_assert(cog_json_get_number(root, "edges", -1) == DEEP - 1);
	cJSON *levels = cJSON_GetObjectItem(root, "levels");
	ck_assert_int_eq(cJSON_GetArraySize(levels), DEEP);
	ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetArrayItem(levels, DEEP - 1), 0)->valuestring,
		"t99999");
	cJSON *cp = cJSON_GetObjectItem(root, "critical_path");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cp, "tasks")), DEEP);
	ck_assert(cog_json_get_number(cp, "duration_ms", -1) == 2.0 * DEEP);
	ck_assert(cog_json_get_number(cp, "tokens", -1) == 3.0 * DEEP);
	ck_assert(cog_json_get_number(cp, "cost", -1) == 0.5 * DEEP);
	cJSON_Delete(root);
	cog_free(analysis);

	/* exports of a deep plan */
	char *text = export_text(plan, COG_PLAN_FORMAT_JSON);
	cog_plan *again = plan_from(text);
	char *text2 = export_text(again, COG_PLAN_FORMAT_JSON);
	ck_assert(strcmp(text, text2) == 0);
	cog_free(text);
	cog_free(text2);
	cog_plan_free(again);
	text = export_text(plan, COG_PLAN_FORMAT_DOT);
	ck_assert_msg(strstr(text, "  \"t0\" -> \"t1\";\n}\n"), "DOT tail");
	cog_free(text);
	text = export_text(plan, COG_PLAN_FORMAT_MERMAID);
	ck_assert_msg(strstr(text, "    n99999 --> n99998\n"), "Mermaid edge");
	cog_free(text);
	cog_plan_free(plan);

	/* the same chain closed into a cycle of 100,000 tasks */
	json = chain_json(DEEP, true);
	plan = plan_from(json);
	cog_free(json);
	ck_assert_int_eq(cog_plan_validate(plan), COG_ECYCLE);
	const char *head = "plan chain: dependency cycle t99999 -> t0 -> t1 -> ";
	ck_assert_msg(strncmp(cog_error_last(), head, strlen(head)) == 0, "%s", cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), " -> t99998 -> t99999 (each task"), "%s",
		cog_error_last());
	assert_unprepared(plan);
	cog_plan_free(plan);
}
END_TEST

START_TEST(wide_graph)
{
	/* one root, DEEP tasks on it, one sink on the first thousand of them
	 * (adding a dependency scans the task's list: fan-in stays modest) */
	cog_plan *plan = NULL;
	ck_assert_int_eq(cog_plan_new(&plan, ctx, "wide"), 0);
	ck_assert_int_eq(cog_plan_add_task(plan, "{\"id\":\"root\"}"), 0);
	char json[128];
	for (size_t i = 0; i < DEEP; i++) {
		snprintf(json, sizeof(json), "{\"id\":\"w%zu\",\"depends_on\":[\"root\"],"
			"\"estimate\":{\"duration_ms\":%zu}}", i, i % 1000);
		if (cog_plan_add_task(plan, json) != 0)
			ck_abort_msg("%s: %s", json, cog_error_last());
	}
	ck_assert_int_eq(cog_plan_add_task(plan, "{\"id\":\"sink\"}"), 0);
	for (size_t i = 0; i < 1000; i++) {
		snprintf(json, sizeof(json), "w%zu", i);
		if (cog_plan_add_dependency(plan, "sink", json) != 0)
			ck_abort_msg("%s: %s", json, cog_error_last());
	}
	char *analysis = NULL;
	ck_assert_int_eq(cog_plan_analyze(plan, &analysis), 0);
	cJSON *root = cJSON_Parse(analysis);
	ck_assert(cog_json_get_number(root, "edges", -1) == DEEP + 1000);
	cJSON *levels = cJSON_GetObjectItem(root, "levels");
	ck_assert_int_eq(cJSON_GetArraySize(levels), 3);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetArrayItem(levels, 1)), DEEP);
	cJSON *cp = cJSON_GetObjectItem(root, "critical_path");
	cJSON *path = cJSON_GetObjectItem(cp, "tasks");
	ck_assert_int_eq(cJSON_GetArraySize(path), 3);
	/* the first of the 999 ms tasks */
	ck_assert_str_eq(cJSON_GetArrayItem(path, 1)->valuestring, "w999");
	ck_assert(cog_json_get_number(cp, "duration_ms", -1) == 999);
	cJSON_Delete(root);
	cog_free(analysis);
	cog_plan_free(plan);
}
END_TEST

/* ---- drawings ---- */

static const char drawing_plan[] =
	"{\"id\":\"demo\",\"goal\":\"g\",\"tasks\":["
	"{\"id\":\"fetch\",\"title\":\"Fetch \\\"data\\\"\"},"
	"{\"id\":\"load.csv\",\"title\":\"Load <CSV> & parse #1 `x` back\\\\slash \\\\N\","
	"\"depends_on\":[\"fetch\"]},"
	"{\"id\":\"report\",\"title\":\"R\xc3\xa9sum\xc3\xa9\\nline2\\ttab\","
	"\"depends_on\":[\"load.csv\",\"fetch\"]},"
	"{\"id\":\"end\"}]}";

START_TEST(export_dot)
{
	cog_plan *plan = plan_from(drawing_plan);
	char *text = export_text(plan, COG_PLAN_FORMAT_DOT);
	ck_assert_str_eq(text,
		"digraph \"demo\" {\n"
		"  rankdir=LR;\n"
		"  node [shape=box];\n"
		"  \"fetch\" [label=\"fetch: Fetch \\\"data\\\"\"];\n"
		"  \"load.csv\" [label=\"load.csv: Load <CSV> & parse #1 `x` back\\\\slash \\\\N\"];\n"
		"  \"report\" [label=\"report: R\xc3\xa9sum\xc3\xa9\\nline2 tab\"];\n"
		"  \"end\" [label=\"end\"];\n"
		"  \"fetch\" -> \"load.csv\";\n"
		"  \"load.csv\" -> \"report\";\n"
		"  \"fetch\" -> \"report\";\n"
		"}\n");
	cog_free(text);
	/* a missing dependency is drawn dashed */
	ck_assert_int_eq(cog_plan_add_task(plan, "{\"id\":\"x\",\"depends_on\":[\"gone\",\"end\"]}"), 0);
	text = export_text(plan, COG_PLAN_FORMAT_DOT);
	ck_assert_msg(strstr(text,
		"  \"gone\" [label=\"gone (missing)\", style=dashed];\n"
		"  \"gone\" -> \"x\";\n"
		"  \"end\" -> \"x\";\n"
		"}\n"), "%s", text);
	cog_free(text);
	cog_plan_free(plan);
}
END_TEST

START_TEST(export_mermaid)
{
	cog_plan *plan = plan_from(drawing_plan);
	char *text = export_text(plan, COG_PLAN_FORMAT_MERMAID);
	ck_assert_str_eq(text,
		"flowchart LR\n"
		"    n0[\"fetch: Fetch #quot;data#quot;\"]\n"
		"    n1[\"load.csv: Load #lt;CSV#gt; #amp; parse #35;1 #96;x#96; back\\slash \\N\"]\n"
		"    n2[\"report: R\xc3\xa9sum\xc3\xa9 line2 tab\"]\n"
		"    n3[\"end\"]\n"
		"    n0 --> n1\n"
		"    n1 --> n2\n"
		"    n0 --> n2\n");
	cog_free(text);
	ck_assert_int_eq(cog_plan_add_task(plan,
		"{\"id\":\"x\",\"depends_on\":[\"gone_1.a:b-c\",\"end\"]}"), 0);
	ck_assert_int_eq(cog_plan_add_task(plan, "{\"id\":\"y\",\"depends_on\":[\"gone_1.a:b-c\"]}"), 0);
	text = export_text(plan, COG_PLAN_FORMAT_MERMAID);
	ck_assert_msg(strstr(text,
		"    n4[\"x\"]\n"
		"    n5[\"y\"]\n"
		"    n0 --> n1\n"
		"    n1 --> n2\n"
		"    n0 --> n2\n"
		"    m_gone__1_da_cb_hc[\"gone_1.a:b-c (missing)\"]\n"
		"    m_gone__1_da_cb_hc -.-> n4\n"
		"    n3 --> n4\n"
		"    m_gone__1_da_cb_hc[\"gone_1.a:b-c (missing)\"]\n"
		"    m_gone__1_da_cb_hc -.-> n5\n"), "%s", text);
	cog_free(text);
	cog_plan_free(plan);
}
END_TEST

START_TEST(export_json_matches_input)
{
	/* canonical Plan JSON reads back to the same text */
	cog_plan *plan = plan_from(drawing_plan);
	char *text = export_text(plan, COG_PLAN_FORMAT_JSON);
	cog_plan *again = plan_from(text);
	char *same = export_text(again, COG_PLAN_FORMAT_JSON);
	ck_assert_str_eq(text, same);
	ck_assert_msg(strncmp(text, "{\"version\":1,\"id\":\"demo\",\"goal\":\"g\",", 35) == 0,
		"%s", text);
	/* the export does not depend on validation state */
	ck_assert_int_eq(cog_plan_validate(again), 0);
	char *validated = export_text(again, COG_PLAN_FORMAT_JSON);
	ck_assert_str_eq(validated, text);
	cog_free(validated);
	cog_free(text);
	cog_free(same);
	cog_plan_free(plan);
	cog_plan_free(again);
}
END_TEST

static Suite *plan_graph_suite(void)
{
	Suite *s = suite_create("plan-graph");
	TCase *tc = tcase_create("graph");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, task_every_field);
	tcase_add_test(tc, task_defaults);
	tcase_add_loop_test(tc, json_round_trip, 0, (int)COG_ARRAY_LEN(round_trip_plans));
	tcase_add_test(tc, json_round_trip_values);
	tcase_add_loop_test(tc, bad_plan_json, 0, (int)COG_ARRAY_LEN(bad_plans));
	tcase_add_test(tc, bad_task_json);
	tcase_add_test(tc, add_dependency);
	tcase_add_test(tc, null_arguments);
	tcase_add_test(tc, validate_missing_dependency);
	tcase_add_loop_test(tc, validate_cycle, 0, (int)COG_ARRAY_LEN(cycles));
	tcase_add_test(tc, validate_long_cycle_is_elided);
	tcase_add_test(tc, validate_tool_task);
	tcase_add_test(tc, validate_budget);
	tcase_add_test(tc, validate_prepared_graph);
	tcase_add_test(tc, analyze_diamond);
	tcase_add_test(tc, analyze_ties_and_empty);
	tcase_add_test(tc, deep_chain);
	tcase_add_test(tc, wide_graph);
	tcase_add_test(tc, export_dot);
	tcase_add_test(tc, export_mermaid);
	tcase_add_test(tc, export_json_matches_input);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(plan_graph_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures != 0;
}
