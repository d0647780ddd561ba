/*
 * Plans run by agents (cog_task_run_agent as the context's task executor),
 * through the public API: real SQLite, real libcurl against the loopback
 * wire server answering OpenAI chat completions, a real host tool.
 *   - llm → tool → llm: dependency results reach the second llm task marked
 *     as data, results land in the task status, agents matched by
 *     capabilities;
 *   - a task whose capabilities no agent has fails, saying which;
 *   - handoff to another agent by capability: in the result and events;
 *   - a task budget too small for one call: COG_EBUDGET naming the task.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_test.h"

static cog_agent_run_options run_opts;

static void setup(void)
{
	at_setup();
	ck_assert_cog(cog_agent_run_options_init(&run_opts, COG_AGENT_RUN_OPTIONS_VERSION));
	ck_assert_cog(cog_ctx_set_task_executor(at_ctx, cog_task_run_agent, &run_opts));
}

static void teardown(void) { at_teardown(); }

static cog_plan *plan_of(const char *json)
{
	cog_plan *plan = NULL;
	ck_assert_cog(cog_plan_from_json(&plan, at_ctx, json));
	return plan;
}

static cJSON *task_status(cog_plan *plan, const char *task)
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

START_TEST(handoff_by_capability)
{
	at_define_agent(at_ctx, "{\"name\":\"lead\",\"capabilities\":[\"lead\"],"
		"\"handoff\":true,\"tools\":[]}");
	at_define_agent(at_ctx, "{\"name\":\"sqler\",\"capabilities\":[\"sql\"],"
		"\"description\":\"Answers questions with SQL.\",\"tools\":[]}");
	at_push_tool("handoff", "{\"capability\":\"sql\",\"task\":\"Count the orders.\"}",
		60, 10);
	at_push_text("There are 42 orders.", 30, 6);
	at_push_text("We have 42 orders.", 90, 6);
	cog_plan *plan = plan_of("{\"version\":1,\"id\":\"p-hand\",\"goal\":\"x\",\"tasks\":["
		"{\"id\":\"ask\",\"kind\":\"llm\",\"capabilities\":[\"lead\"],"
		"\"inputs\":{\"prompt\":\"How many orders?\"}}]}");
	ck_assert_cog(cog_plan_run(plan, NULL));
	ck_assert_uint_eq(at_requests(), 3);

	/* the lead was offered the tool, listing the others by capability */
	cJSON *body = at_sent(0);
	const cJSON *tool = NULL, *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItem(body, "tools")) {
		const char *name = at_str(t, "function.name");
		if (!strcmp(name, "handoff"))
			tool = t;
	}
	ck_assert_ptr_nonnull(tool);
	at_assert_has(at_str(tool, "function.description"), "sqler [sql]: Answers "
		"questions with SQL.", true);
	at_assert_has(at_str(tool, "function.description"), "- lead", false);
	cJSON_Delete(body);
	/* the sub-agent got the sub-task; the lead got its answer back */
	char *sub = at_sent_text(1);
	at_assert_has(sub, "Count the orders.", true);
	free(sub);
	body = at_sent(1);
	ck_assert_ptr_null(at_get(body, "tools"));
	cJSON_Delete(body);
	char *back = at_sent_text(2);
	at_assert_has(back, "There are 42 orders.", true);
	free(back);

	cJSON *st = task_status(plan, "ask");
	ck_assert_str_eq(at_str(st, "result.content"), "We have 42 orders.");
	at_assert_json(at_get(st, "result.delegations"), "[{\"agent\":\"sqler\","
		"\"capability\":\"sql\",\"task\":\"Count the orders.\","
		"\"content\":\"There are 42 orders.\"}]");
	cJSON_Delete(st);
	ck_assert_uint_eq(at_events_count("agent.handoff"), 1);
	cJSON *ev = at_event("agent.handoff", 0);
	ck_assert_str_eq(at_str(ev, "from"), "lead");
	ck_assert_str_eq(at_str(ev, "to"), "sqler");
	ck_assert_str_eq(at_str(ev, "capability"), "sql");
	ck_assert_str_eq(at_str(ev, "plan_id"), "p-hand");
	ck_assert_str_eq(at_str(ev, "task_id"), "ask");
	cJSON_Delete(ev);
	cog_plan_free(plan);
}
END_TEST

START_TEST(handoff_to_nobody_tells_the_model)
{
	at_define_agent(at_ctx, "{\"name\":\"lead\",\"capabilities\":[\"lead\"],"
		"\"handoff\":true,\"tools\":[]}");
	at_push_tool("handoff", "{\"capability\":\"astrology\",\"task\":\"Read the stars.\"}",
		60, 10);
	at_push_text("Nobody can read the stars.", 90, 6);
	cog_plan *plan = plan_of("{\"version\":1,\"id\":\"p-nobody\",\"goal\":\"x\","
		"\"tasks\":[{\"id\":\"ask\",\"kind\":\"llm\",\"capabilities\":[\"lead\"],"
		"\"inputs\":{\"prompt\":\"What do the stars say?\"}}]}");
	ck_assert_cog(cog_plan_run(plan, NULL));
	ck_assert_uint_eq(at_requests(), 2);
	char *back = at_sent_text(1);
	at_assert_has(back, "astrology", true);
	at_assert_has(back, "error", true);
	free(back);
	cJSON *st = task_status(plan, "ask");
	at_assert_json(at_get(st, "result.delegations"), "[]");
	cJSON_Delete(st);
	ck_assert_uint_eq(at_events_count("agent.handoff"), 0);
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

static Suite *suite(void)
{
	Suite *s = suite_create("agent-plan");
	TCase *tc = tcase_create("plan");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, llm_tool_llm);
	tcase_add_test(tc, nobody_has_the_capabilities);
	tcase_add_test(tc, other_kinds_and_missing_prompt);
	tcase_add_test(tc, handoff_by_capability);
	tcase_add_test(tc, handoff_to_nobody_tells_the_model);
	tcase_add_test(tc, task_budget_exceeded);
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
