/*
 * Plans run by agents (cog_task_run_agent as the context's task executor),
 * through the public API: real SQLite, real libcurl against the loopback
 * wire server answering OpenAI chat completions, a real host tool.
 *   - llm → tool → llm: dependency results reach the second llm task marked
 *     as data, results land in the task status, agents matched by
 *     capabilities;
 *   - a task whose capabilities no agent has fails, saying which;
 *   - a task budget too small for one call: COG_EBUDGET naming the task;
 *     one that runs out after a turn: the failed task keeps what it did
 *     (its partial result), also after cog_plan_resume on another context.
 * Handoffs: test_agent_plan_handoff.c.
 */
#include <stdlib.h>

#include "agent_test.h"
#include "test_agent_plan.h"

static cog_agent_run_options run_opts;

static void setup(void)
{
	at_setup();
	ck_assert_cog(cog_agent_run_options_init(&run_opts, COG_AGENT_RUN_OPTIONS_VERSION));
	ck_assert_cog(cog_ctx_set_task_executor(at_ctx, cog_task_run_agent, &run_opts));
}

static void teardown(void) { at_teardown(); }

cog_plan *plan_of(const char *json)
{
	cog_plan *plan = NULL;
	ck_assert_cog(cog_plan_from_json(&plan, at_ctx, json));
	return plan;
}

cJSON *task_status(cog_plan *plan, const char *task)
{
	char *text = NULL;
	ck_assert_cog(cog_plan_task_status(plan, task, &text));
	cJSON *st = at_parse(text);
	cog_free(text);
	return st;
}

static const char THREE_TASKS[] =
	"{\"version\":1,\"id\":\"p-sales\",\"goal\":\"report on sales\",\"tasks\":["
	"{\"id\":\"analyze\",\"kind\":\"llm\",\"capabilities\":[\"stats\"],"
	" \"inputs\":{\"prompt\":\"Find the best month.\"}},"
	"{\"id\":\"save\",\"kind\":\"tool\",\"tool\":\"store\",\"depends_on\":[\"analyze\"],"
	" \"inputs\":{\"rows\":[{\"$from\":\"analyze\",\"pointer\":\"/content\"}]}},"
	"{\"id\":\"report\",\"kind\":\"llm\",\"depends_on\":[\"save\",\"analyze\"],"
	" \"inputs\":{\"prompt\":\"Write the report.\"}}]}";

START_TEST(llm_tool_llm)
{
	at_define_agent(at_ctx, "{\"name\":\"analyst\",\"capabilities\":[\"stats\",\"sql\"],"
		"\"instructions\":\"You analyse numbers.\",\"tools\":[]}");
	at_define_agent(at_ctx, "{\"name\":\"statistician\",\"capabilities\":[\"stats\"],"
		"\"instructions\":\"You are a statistician.\",\"tools\":[]}");
	/* rows: an array, the agent's answer in it */
	at_define_tool(at_ctx, "store", "{\"type\":\"object\",\"properties\":{\"rows\":"
		"{\"type\":\"array\",\"items\":{\"const\":\"March was best: 1200 EUR.\"},"
		"\"minItems\":1}},\"required\":[\"rows\"]}", COG_TOOL_IDEMPOTENT,
		at_tool_answer, "{\"stored\":\"row-7\"}");
	at_push_text("March was best: 1200 EUR.", 40, 9);
	at_push_text("Report: March led with 1200 EUR (stored as row-7).", 80, 14);
	cog_plan *plan = plan_of(THREE_TASKS);
	ck_assert_cog(cog_plan_run(plan, NULL));
	ck_assert_uint_eq(at_requests(), 2);
	ck_assert_uint_eq(at_tool_calls(), 1);

	/* matched by capability: the one with the fewest others */
	cJSON *st = task_status(plan, "analyze");
	ck_assert_str_eq(at_str(st, "state"), "succeeded");
	ck_assert_str_eq(at_str(st, "result.agent"), "statistician");
	ck_assert_str_eq(at_str(st, "result.content"), "March was best: 1200 EUR.");
	ck_assert_str_eq(at_str(st, "result.stopped"), "answer");
	cJSON_Delete(st);
	char *first = at_sent_text(0);
	at_assert_has(first, "You are a statistician.", true);
	free(first);

	/* no capabilities asked: the executor; its dependencies as data */
	st = task_status(plan, "report");
	ck_assert_str_eq(at_str(st, "result.agent"), "executor");
	ck_assert_str_eq(at_str(st, "result.content"),
		"Report: March led with 1200 EUR (stored as row-7).");
	cJSON_Delete(st);
	char *second = at_sent_text(1);
	at_assert_has(second, "<dependency task=\"save\">", true);
	at_assert_has(second, "row-7", true);
	at_assert_has(second, "<dependency task=\"analyze\">", true);
	at_assert_has(second, "Write the report.", true);
	free(second);
	cog_plan_free(plan);
}
END_TEST

START_TEST(nobody_has_the_capabilities)
{
	cog_plan *plan = plan_of("{\"version\":1,\"id\":\"p-tele\",\"goal\":\"x\",\"tasks\":["
		"{\"id\":\"guess\",\"kind\":\"llm\",\"capabilities\":[\"telepathy\"],"
		"\"inputs\":{\"prompt\":\"What am I thinking?\"}}]}");
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_ERROR);
	ck_assert_uint_eq(at_requests(), 0);
	cJSON *st = task_status(plan, "guess");
	ck_assert_str_eq(at_str(st, "state"), "failed");
	at_assert_has(at_str(st, "error"), "guess", true);
	at_assert_has(at_str(st, "error"), "telepathy", true);
	cJSON_Delete(st);
	cJSON *ev = at_event("task.failed", 0);
	ck_assert_ptr_nonnull(ev);
	ck_assert_int_eq((int)at_num(ev, "code"), COG_ENOTFOUND);
	cJSON_Delete(ev);
	cog_plan_free(plan);
}
END_TEST

START_TEST(other_kinds_and_missing_prompt)
{
	cog_plan *plan = plan_of("{\"version\":1,\"id\":\"p-kinds\",\"goal\":\"x\","
		"\"tasks\":[{\"id\":\"h\",\"kind\":\"host\"},"
		"{\"id\":\"q\",\"kind\":\"llm\",\"inputs\":{\"question\":\"?\"}}]}");
	cog_run_options ro = COG_RUN_OPTIONS_INIT;
	ro.failure_policy = COG_CONTINUE_INDEPENDENT;
	ck_assert_int_eq(cog_plan_run(plan, &ro), COG_ERROR);
	cJSON *st = task_status(plan, "h");
	at_assert_has(at_str(st, "error"), "kind \"host\"", true);
	cJSON_Delete(st);
	st = task_status(plan, "q");
	at_assert_has(at_str(st, "error"), "\"q\"", false);
	at_assert_has(at_str(st, "error"), "'q'", true);
	at_assert_has(at_str(st, "error"), "prompt", true);
	cJSON_Delete(st);
	ck_assert_uint_eq(at_requests(), 0);
	cog_plan_free(plan);
}
END_TEST

START_TEST(task_budget_exceeded)
{
	cog_plan *plan = plan_of("{\"version\":1,\"id\":\"p-budget\",\"goal\":\"x\","
		"\"tasks\":[{\"id\":\"tiny\",\"kind\":\"llm\",\"inputs\":{\"prompt\":"
		"\"Write a long essay.\",\"budget\":{\"max_tokens\":100}}}]}");
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_ERROR);
	ck_assert_uint_eq(at_requests(), 0);   /* the call was not made */
	cJSON *st = task_status(plan, "tiny");
	ck_assert_str_eq(at_str(st, "state"), "failed");
	at_assert_has(at_str(st, "error"), "tiny", true);
	at_assert_has(at_str(st, "error"), "task 'tiny' budget", true);
	at_assert_has(at_str(st, "error"), "100", true);
	cJSON_Delete(st);
	cJSON *ev = at_event("task.failed", 0);
	ck_assert_ptr_nonnull(ev);
	ck_assert_int_eq((int)at_num(ev, "code"), COG_EBUDGET);
	cJSON_Delete(ev);
	cog_plan_free(plan);
}
END_TEST

/* ---- a failed task keeps what it did (the partial result) ---- */

START_TEST(budget_failure_keeps_the_partial_result)
{
	at_define_tool(at_ctx, "lookup", NULL, COG_TOOL_IDEMPOTENT, at_tool_answer,
		"{\"found\":1}");
	at_define_agent(at_ctx, "{\"name\":\"digger\",\"tools\":[\"lookup\"]}");
	/* the first turn reports nearly the whole budget spent: the second
	 * call cannot fit and is not made */
	at_push_tool("lookup", "{\"q\":\"x\"}", 4900, 50);
	cog_plan *plan = plan_of("{\"version\":1,\"id\":\"p-partial\",\"goal\":\"x\","
		"\"tasks\":[{\"id\":\"dig\",\"kind\":\"llm\",\"inputs\":{\"agent\":\"digger\","
		"\"prompt\":\"Dig.\",\"budget\":{\"max_tokens\":5000}}}]}");
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_ERROR);
	ck_assert_uint_eq(at_requests(), 1);
	ck_assert_uint_eq(at_tool_calls(), 1);
	for (int pass = 0; pass < 2; pass++) {
		cJSON *st = task_status(plan, "dig");
		ck_assert_str_eq(at_str(st, "state"), "failed");
		at_assert_has(at_str(st, "error"), "task 'dig' budget", true);
		ck_assert_str_eq(at_str(st, "result.stopped"), "budget");
		ck_assert_str_eq(at_str(st, "result.agent"), "digger");
		ck_assert_int_ge((int)at_num(st, "result.turns"), 1);
		ck_assert_int_eq((int)at_num(st, "result.tool_calls"), 1);
		ck_assert_int_eq((int)at_num(st, "result.usage.input_tokens"), 4900);
		ck_assert(cJSON_IsNull(at_get(st, "result.content")));
		cJSON_Delete(st);
		if (pass)
			break;
		/* the same from the journal, on another context over the file */
		cog_plan_free(plan);
		cog_ctx *other = at_ctx_new(tmp_file("agent.db"));
		plan = NULL;
		ck_assert_cog(cog_plan_resume(&plan, other, "p-partial"));
		cJSON *st2 = task_status(plan, "dig");
		ck_assert_str_eq(at_str(st2, "result.stopped"), "budget");
		cJSON_Delete(st2);
		cog_plan_free(plan);
		plan = NULL;
		cog_ctx_free(other);
		ck_assert_cog(cog_plan_resume(&plan, at_ctx, "p-partial"));
	}
	cog_plan_free(plan);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("agent-plan");
	TCase *tc = tcase_create("plan");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, llm_tool_llm);
	tcase_add_test(tc, nobody_has_the_capabilities);
	tcase_add_test(tc, other_kinds_and_missing_prompt);
	tcase_add_test(tc, task_budget_exceeded);
	tcase_add_test(tc, budget_failure_keeps_the_partial_result);
	plan_handoff_tests(tc);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
