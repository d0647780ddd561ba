/*
 * Plans run by agents (cog_task_run_agent as the context's task executor),
 * through the public API: real SQLite, real libcurl against the loopback
 * wire server answering OpenAI chat completions, a real host tool.
 *   - llm → tool → llm: dependency results reach the second llm task marked
 *     as data, results land in the task status, agents matched by
 *     capabilities;
 *   - a task whose capabilities no agent has fails, saying which;
 *   - handoff to another agent by capability: in the result and events;
 *   - a task budget too small for one call: COG_EBUDGET naming the task;
 *     one that runs out after a turn: the failed task keeps what it did
 *     (its partial result), also after cog_plan_resume on another context;
 *   - a handoff's sub-run is journaled under its own key: a pending
 *     approval inside it, decided, and the re-run does not ask its first
 *     LLM answer again;
 *   - cog_agent_terminate of the asking agent terminates the sub-agent.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* ---- handoffs: the sub-run's journal, the parent's terminate ---- */

static int defer_hook(const char *request_json, char **edited, void *ud)
{
	(void)request_json; (void)edited; (void)ud;
	return COG_APPROVAL_DEFER;
}

static int keep_record(uint64_t seq, const char *record, size_t len, void *ud)
{
	(void)seq;
	cJSON_AddItemToArray(ud, cJSON_ParseWithLength(record, len));
	return 0;
}

/* "k" and turn.index of the llm, tool, handoff and end records of log
 * "agent/<key>": "llm1.0 end" (with `prefix`, they start with those). */
static void assert_journal(const char *key, const char *want, bool prefix)
{
	char log[256], got[512] = "";
	snprintf(log, sizeof(log), "agent/%s", key);
	cJSON *all = cJSON_CreateArray();
	ck_assert_cog(cog_storage_read(cog_ctx_storage(at_ctx), log, 1, 0, keep_record, all));
	const cJSON *r;
	cJSON_ArrayForEach(r, all) {
		char one[64];
		const char *k = at_str(r, "k");
		if (strcmp(k, "llm") && strcmp(k, "tool") && strcmp(k, "handoff") &&
		    strcmp(k, "end"))
			continue; /* other records (the run's context) are not looked at */
		if (!strcmp(k, "end"))
			snprintf(one, sizeof(one), "%send", got[0] ? " " : "");
		else
			snprintf(one, sizeof(one), "%s%s%d.%d", got[0] ? " " : "", k,
				(int)at_num(r, "n"), (int)at_num(r, "i"));
		strncat(got, one, sizeof(got) - strlen(got) - 1);
	}
	cJSON_Delete(all);
	if (prefix)
		got[strlen(got) < strlen(want) ? strlen(got) : strlen(want)] = '\0';
	ck_assert_str_eq(got, want);
}

/* The sub-agent's tool call waits for an approval: the task waits; once
 * decided, the re-run replays the sub-run's first answer from its own
 * journal instead of asking the LLM again. */
START_TEST(handoff_sub_run_is_journaled)
{
	at_define_tool(at_ctx, "deploy", NULL, COG_TOOL_SIDE_EFFECTS | COG_TOOL_NEEDS_APPROVAL,
		at_tool_answer, "{\"deployed\":true}");
	ck_assert_cog(cog_tool_set_approval_hook(at_ctx, defer_hook, NULL));
	at_define_agent(at_ctx, "{\"name\":\"lead\",\"capabilities\":[\"lead\"],"
		"\"handoff\":true,\"tools\":[]}");
	at_define_agent(at_ctx, "{\"name\":\"ops\",\"capabilities\":[\"ops\"],"
		"\"tools\":[\"deploy\"]}");
	at_push_tool("handoff", "{\"capability\":\"ops\",\"task\":\"Deploy to prod.\"}", 60, 10);
	at_push_tool("deploy", "{\"env\":\"prod\"}", 40, 8);
	cog_plan *plan = plan_of("{\"version\":1,\"id\":\"p-ship\",\"goal\":\"x\",\"tasks\":["
		"{\"id\":\"ship\",\"kind\":\"llm\",\"capabilities\":[\"lead\"],"
		"\"inputs\":{\"prompt\":\"Ship it.\"}}]}");
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_EPENDING);
	ck_assert_uint_eq(at_requests(), 2);
	ck_assert_uint_eq(at_tool_calls(), 0);
	assert_journal("p-ship/ship", "llm1.0", false);
	assert_journal("p-ship/ship/h1.0", "llm1.0", false);

	char *pending = NULL;
	ck_assert_cog(cog_tool_approvals(at_ctx, &pending));
	cJSON *list = at_parse(pending);
	cog_free(pending);
	ck_assert_int_eq(cJSON_GetArraySize(list), 1);
	ck_assert_str_eq(at_str(list, "0.call_id"), "p-ship/ship/1/h1.0/1.0");
	ck_assert_cog(cog_tool_approval_decide(at_ctx, at_str(list, "0.id"),
		COG_APPROVAL_APPROVE, NULL));
	cJSON_Delete(list);

	at_push_text("Deployed to prod.", 60, 5);
	at_push_text("Shipped.", 90, 3);
	ck_assert_cog(cog_plan_run(plan, NULL));
	/* two more requests: the sub-run's first answer came from its journal */
	ck_assert_uint_eq(at_requests(), 4);
	ck_assert_uint_eq(at_tool_calls(), 1);
	ck_assert_str_eq(at_tool_last_call_id(), "p-ship/ship/1/h1.0/1.0");
	char *sub = at_sent_text(2);
	at_assert_has(sub, "Deploy to prod.", true);
	at_assert_has(sub, "deployed", true);
	free(sub);
	cJSON *st = task_status(plan, "ship");
	ck_assert_str_eq(at_str(st, "result.content"), "Shipped.");
	ck_assert_str_eq(at_str(st, "result.delegations.0.content"), "Deployed to prod.");
	cJSON_Delete(st);
	assert_journal("p-ship/ship/h1.0", "llm1.0 tool1.0 llm2.0 end", false);
	/* the task's own "end" is the plan journal's business */
	assert_journal("p-ship/ship", "llm1.0 handoff1.0 llm2.0", true);
	cog_plan_free(plan);
}
END_TEST

static char lead_id[40];
static atomic_int sub_terminated;

/* Terminates the asking agent (the sub-run's parent), then waits until
 * the sub-agent is terminated too (a guard of 10 s against a hang). */
static int terminate_lead(const cog_tool_request *req, char **result, void *ud)
{
	(void)req; (void)ud;
	ck_assert_cog(cog_agent_terminate(at_ctx, lead_id));
	for (int i = 0; i < 2000 && !atomic_load(&sub_terminated); i++) {
		char *list = NULL;
		ck_assert_cog(cog_agent_list(at_ctx, &list));
		cJSON *all = at_parse(list);
		cog_free(list);
		const cJSON *o;
		cJSON_ArrayForEach(o, all)
			if (!strcmp(at_str(o, "name"), "helper") &&
			    !strcmp(at_str(o, "state"), "terminated"))
				atomic_store(&sub_terminated, 1);
		cJSON_Delete(all);
		if (!atomic_load(&sub_terminated))
			usleep(5000);
	}
	const char text[] = "{\"held\":true}";
	*result = cog_malloc(sizeof(text));
	if (!*result)
		return COG_ENOMEM;
	memcpy(*result, text, sizeof(text));
	return 0;
}

START_TEST(terminating_the_parent_stops_the_sub_run)
{
	atomic_store(&sub_terminated, 0);
	at_define_tool(at_ctx, "hold", NULL, 0, terminate_lead, NULL);
	at_define_agent(at_ctx, "{\"name\":\"lead\",\"capabilities\":[\"lead\"],"
		"\"handoff\":true,\"tools\":[]}");
	at_define_agent(at_ctx, "{\"name\":\"helper\",\"capabilities\":[\"help\"],"
		"\"tools\":[\"hold\"]}");
	at_push_tool("handoff", "{\"capability\":\"help\",\"task\":\"Hold on.\"}", 60, 10);
	at_push_tool("hold", "{}", 40, 8);
	cog_agent *a = at_spawn(at_ctx, "lead");
	snprintf(lead_id, sizeof(lead_id), "%s", cog_agent_id(a));
	cJSON *result = NULL;
	ck_assert_int_eq(at_run(a, "{\"prompt\":\"Get help.\"}", NULL, &result),
		COG_ECANCELED);
	ck_assert(atomic_load(&sub_terminated));
	/* the sub-run started no new turn after its tool call */
	ck_assert_uint_eq(at_requests(), 2);
	ck_assert_str_eq(at_str(result, "stopped"), "canceled");
	ck_assert_int_eq(cog_agent_get_state(a), COG_AGENT_TERMINATED);
	cJSON_Delete(result);
	cog_agent_free(a);
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
	tcase_add_test(tc, budget_failure_keeps_the_partial_result);
	tcase_add_test(tc, handoff_sub_run_is_journaled);
	tcase_add_test(tc, terminating_the_parent_stops_the_sub_run);
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
