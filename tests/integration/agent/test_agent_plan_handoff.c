/*
 * Plans whose agents hand off to others, through the public API (see
 * test_agent_plan.c):
 *   - handoff to another agent by capability: in the result and events;
 *     to a capability nobody has: the model is told;
 *   - a handoff's sub-run is journaled under its own key: a pending
 *     approval inside it, decided, and the re-run does not ask its first
 *     LLM answer again;
 *   - cog_agent_terminate of the asking agent terminates the sub-agent.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_test.h"
#include "test_agent_plan.h"

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
	/* The parent's final answer (llm2.0) of the task that succeeded is
	 * written with the next group commit, not waited for
	 * (test_agent_journal_lazy.c): what must be there already is the
	 * answer that asked for the handoff and the handoff's record. */
	assert_journal("p-ship/ship", "llm1.0 handoff1.0", true);
	cog_plan_free(plan);
}
END_TEST

static char lead_id[40];
static atomic_int held;

/* The sub-agent's tool: terminates the asking agent (the sub-run's
 * parent); the sub-agent itself is not terminated. */
static int terminate_lead(const cog_tool_request *req, char **result, void *ud)
{
	(void)req; (void)ud;
	ck_assert_cog(cog_agent_terminate(at_ctx, lead_id));
	atomic_fetch_add(&held, 1);
	const char text[] = "{\"held\":true}";
	*result = cog_malloc(sizeof(text));
	if (!*result)
		return COG_ENOMEM;
	memcpy(*result, text, sizeof(text));
	return 0;
}

/* The sub-run sees its parent canceled and starts no new turn: without
 * the parent chain it would ask its next answer (queued: "Held."). */
START_TEST(terminating_the_parent_stops_the_sub_run)
{
	atomic_store(&held, 0);
	at_define_tool(at_ctx, "hold", NULL, 0, terminate_lead, NULL);
	at_define_agent(at_ctx, "{\"name\":\"lead\",\"capabilities\":[\"lead\"],"
		"\"handoff\":true,\"tools\":[]}");
	at_define_agent(at_ctx, "{\"name\":\"helper\",\"capabilities\":[\"help\"],"
		"\"tools\":[\"hold\"]}");
	at_push_tool("handoff", "{\"capability\":\"help\",\"task\":\"Hold on.\"}", 60, 10);
	at_push_tool("hold", "{}", 40, 8);
	at_push_text("Held.", 30, 2);
	cog_agent *a = at_spawn(at_ctx, "lead");
	snprintf(lead_id, sizeof(lead_id), "%s", cog_agent_id(a));
	cJSON *result = NULL;
	ck_assert_int_eq(at_run(a, "{\"prompt\":\"Get help.\"}", NULL, &result),
		COG_ECANCELED);
	ck_assert_int_eq(atomic_load(&held), 1);
	/* the sub-run started no new turn after its tool call */
	ck_assert_uint_eq(at_requests(), 2);
	ck_assert_str_eq(at_str(result, "stopped"), "canceled");
	ck_assert_int_eq(cog_agent_get_state(a), COG_AGENT_TERMINATED);
	cJSON_Delete(result);
	cog_agent_free(a);
}
END_TEST

void plan_handoff_tests(TCase *tc)
{
	tcase_add_test(tc, handoff_by_capability);
	tcase_add_test(tc, handoff_to_nobody_tells_the_model);
	tcase_add_test(tc, handoff_sub_run_is_journaled);
	tcase_add_test(tc, terminating_the_parent_stops_the_sub_run);
}
