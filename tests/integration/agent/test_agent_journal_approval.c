/*
 * The agent journal and approvals (see test_agent_journal.c): a run that
 * stops on a pending approval is run again once the approval is decided,
 * and replays the recorded LLM answer and tool result while the approved
 * call goes ahead under the same call id; a re-run with another request is
 * not answered from the journal; the first messages (with memories
 * retrieved) are replayed from the journal even after the namespace's
 * memories changed.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent_test.h"
#include "test_agent_journal.h"

static atomic_int asked;
static char asked_call_id[128];

static int defer_hook(const char *request_json, char **edited, void *ud)
{
	(void)edited; (void)ud;
	cJSON *r = at_parse(request_json);
	snprintf(asked_call_id, sizeof(asked_call_id), "%s", at_str(r, "call_id"));
	cJSON_Delete(r);
	atomic_fetch_add(&asked, 1);
	return COG_APPROVAL_DEFER;
}

static void setup(void)
{
	at_setup();
	atomic_store(&asked, 0);
}

static void teardown(void)
{
	at_teardown();
}

/* ---- pending approval, decided, run again ---- */

START_TEST(test_pending_approval_replays)
{
	define_tools(at_ctx);
	ck_assert_cog(cog_tool_set_approval_hook(at_ctx, defer_hook, NULL));
	at_call calls[2] = { { "note", "{\"text\":\"going to prod\"}" },
	                     { "deploy", "{\"env\":\"prod\"}" } };
	at_push_tools(calls, 2, 100, 20);
	at_push_text("Deployed.", 150, 4);
	cog_agent_run_options o = COG_AGENT_RUN_OPTIONS_INIT;
	o.run_key = "p1/t1";

	cog_agent *a = at_spawn(at_ctx, "ops");
	cJSON *res = NULL;
	ck_assert_int_eq(at_run(a, TASK, &o, &res), COG_EPENDING);
	cJSON_Delete(res);
	ck_assert_uint_eq(at_requests(), 1);
	ck_assert_int_eq(atomic_load(&notes), 1);
	ck_assert_int_eq(atomic_load(&deploys), 0);
	ck_assert_int_eq(atomic_load(&asked), 1);
	ck_assert_str_eq(asked_call_id, "p1/t1/1/1.1");
	cJSON *recs = journal_records(at_ctx, "p1/t1");
	assert_kinds(recs, "context0.0 llm1.0 tool1.0");
	ck_assert_int_eq((int)at_num(recs, "0.a"), 1);
	at_assert_has(at_str(recs, "0.r.messages.1.content"), "deploy to prod", true);
	ck_assert_int_eq((int)at_num(recs, "1.a"), 1);
	ck_assert_str_eq(at_str(recs, "1.r.message.tool_calls.1.name"), "deploy");
	ck_assert_int_eq((int)at_num(recs, "2.c"), 0);
	ck_assert(cJSON_IsTrue(at_get(recs, "2.r.noted")));
	cJSON_Delete(recs);

	/* approve the pending call, run again */
	char *pending = NULL;
	ck_assert_cog(cog_tool_approvals(at_ctx, &pending));
	cJSON *list = at_parse(pending);
	cog_free(pending);
	ck_assert_int_eq(cJSON_GetArraySize(list), 1);
	ck_assert_cog(cog_tool_approval_decide(at_ctx, at_str(list, "0.id"),
	                                       COG_APPROVAL_APPROVE, NULL));
	cJSON_Delete(list);

	ck_assert_cog(at_run(a, TASK, &o, &res));
	ck_assert_str_eq(at_str(res, "content"), "Deployed.");
	ck_assert_int_eq((int)at_num(res, "turns"), 2);
	cJSON_Delete(res);
	/* the first turn came from the journal: one more request, not two */
	ck_assert_uint_eq(at_requests(), 2);
	ck_assert_int_eq(atomic_load(&notes), 1);
	ck_assert_int_eq(atomic_load(&deploys), 1);
	ck_assert_str_eq(deploy_ids[0], "p1/t1/1/1.1");
	ck_assert_int_eq(atomic_load(&asked), 1);  /* decided: not asked again */
	/* the second request has both results, the note's replayed */
	char *text = at_sent_text(1);
	at_assert_has(text, "{\"noted\":true}", true);
	at_assert_has(text, "{\"deployed\":true}", true);
	free(text);
	ck_assert_uint_eq(at_events_count("agent.turn"), 3);
	cJSON *ev = at_event("agent.turn", 1);
	ck_assert(cJSON_IsTrue(at_get(ev, "replayed")));
	cJSON_Delete(ev);

	recs = journal_records(at_ctx, "p1/t1");
	assert_kinds(recs, "context0.0 llm1.0 tool1.0 tool1.1 llm2.0 end");
	ck_assert_int_eq((int)at_num(recs, "5.c"), 0);
	cJSON_Delete(recs);
	cog_agent_free(a);
}
END_TEST

/* ---- another request is not answered from the journal ---- */

START_TEST(test_changed_request_not_replayed)
{
	define_tools(at_ctx);
	ck_assert_cog(cog_tool_set_approval_hook(at_ctx, defer_hook, NULL));
	at_push_tool("deploy", "{\"env\":\"prod\"}", 100, 20);
	at_push_text("asked again", 150, 4);
	cog_agent_run_options o = COG_AGENT_RUN_OPTIONS_INIT;
	o.run_key = "p4/t1";
	cog_agent *a = at_spawn(at_ctx, "ops");
	cJSON *res = NULL;
	ck_assert_int_eq(at_run(a, TASK, &o, &res), COG_EPENDING);
	cJSON_Delete(res);
	/* the same key with another prompt: the recorded answer does not fit */
	ck_assert_cog(at_run(a, "{\"prompt\":\"Something else\"}", &o, &res));
	ck_assert_str_eq(at_str(res, "content"), "asked again");
	cJSON_Delete(res);
	ck_assert_uint_eq(at_requests(), 2);
	ck_assert_int_eq(atomic_load(&deploys), 0);
	cog_agent_free(a);
}
END_TEST

/* ---- the first messages come from the journal ---- */

/* With a memory namespace the prompt holds retrieved memories; memories
 * written between the interrupted run and its re-run (a sibling task, an
 * episode) must not change the replayed prompt, or turn 1 is asked again. */
/* Embeddings from an endpoint that refuses connections: the memory layer
 * falls back to its hashing embedder, and the wire server's queue of chat
 * answers is left to the agent. */
static void no_embeddings(cog_ctx *ctx)
{
	cog_llm_provider_options o = COG_LLM_PROVIDER_OPTIONS_INIT;
	o.provider = COG_LLM_OPENAI;
	o.base_url = "http://127.0.0.1:1/v1";
	o.api_key = "sk-none";
	cog_llm *llm = NULL;
	ck_assert_cog(cog_llm_provider_new(&llm, ctx, &o));
	ck_assert_cog(cog_llm_add_endpoint(ctx, "dead", llm, NULL));
	ck_assert_cog(cog_llm_configure(ctx, "{\"routes\":{\"embedder\":{\"models\":"
		"[{\"endpoint\":\"dead\"}]}}}"));
}

START_TEST(test_context_replayed_with_memories)
{
	define_tools(at_ctx);
	no_embeddings(at_ctx);
	at_define_agent(at_ctx, "{\"name\":\"recaller\",\"tools\":[\"*\"],"
		"\"memory_k\":8}");
	ck_assert_cog(cog_tool_set_approval_hook(at_ctx, defer_hook, NULL));
	cog_memory *mem = NULL;
	ck_assert_cog(cog_memory_open(&mem, at_ctx, "team"));
	ck_assert_cog(cog_memory_put(mem, "Deploys to prod go to cluster alpha.", NULL, NULL));
	at_push_tool("deploy", "{\"env\":\"prod\"}", 100, 20);
	at_push_text("Deployed with memories.", 150, 4);
	cog_agent_run_options o = COG_AGENT_RUN_OPTIONS_INIT;
	o.run_key = "p6/t1";
	o.memory_namespace = "team";
	cog_agent *a = at_spawn(at_ctx, "recaller");
	cJSON *res = NULL;
	ck_assert_int_eq(at_run(a, TASK, &o, &res), COG_EPENDING);
	cJSON_Delete(res);
	ck_assert_uint_eq(at_requests(), 1);
	char *first = at_sent_text(0);
	at_assert_has(first, "cluster alpha", true);
	free(first);

	/* a sibling writes a memory the retrieval would now bring in */
	ck_assert_cog(cog_memory_put(mem, "Deploy prod: cluster beta replaced alpha.",
	                             NULL, NULL));
	char *pending = NULL;
	ck_assert_cog(cog_tool_approvals(at_ctx, &pending));
	cJSON *list = at_parse(pending);
	cog_free(pending);
	ck_assert_cog(cog_tool_approval_decide(at_ctx, at_str(list, "0.id"),
	                                       COG_APPROVAL_APPROVE, NULL));
	cJSON_Delete(list);
	ck_assert_cog(at_run(a, TASK, &o, &res));
	ck_assert_str_eq(at_str(res, "content"), "Deployed with memories.");
	cJSON_Delete(res);
	/* turn 1 replayed: one more request, with the recorded prompt */
	ck_assert_uint_eq(at_requests(), 2);
	ck_assert_int_eq(atomic_load(&deploys), 1);
	char *second = at_sent_text(1);
	at_assert_has(second, "cluster alpha", true);
	at_assert_has(second, "cluster beta", false);
	free(second);
	cJSON *recs = journal_records(at_ctx, "p6/t1");
	assert_kinds(recs, "context0.0 llm1.0 tool1.0 llm2.0 end");
	cJSON_Delete(recs);
	cog_memory_free(mem);
	cog_agent_free(a);
}
END_TEST

TCase *journal_approval_tcase(void)
{
	TCase *tc = tcase_create("approval");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pending_approval_replays);
	tcase_add_test(tc, test_changed_request_not_replayed);
	tcase_add_test(tc, test_context_replayed_with_memories);
	return tc;
}
