/*
 * The agent journal through cog_agent_run() with a run key: a run that
 * stops on a pending approval is run again once the approval is decided,
 * and replays the recorded LLM answer and tool result (the wire server gets
 * no second request for that turn, the side-effect tool does not run
 * again) while the approved call goes ahead under the same call id; a
 * canceled run resumes the same way; a finished run is not replayed; the
 * records in the storage log; a context without storage runs unjournaled;
 * the first messages (with memories retrieved) are replayed from the
 * journal even after the namespace's memories changed.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_test.h"

static void setup(void)
{
	at_setup();
}

static void teardown(void)
{
	at_teardown();
}

/* ---- tools that remember what happened ---- */

static atomic_int notes, deploys, stops;
static char deploy_ids[2][128];

static int note_tool(const cog_tool_request *req, char **result, void *ud)
{
	(void)req; (void)ud;
	atomic_fetch_add(&notes, 1);
	*result = cog_malloc(16);
	snprintf(*result, 16, "{\"noted\":true}");
	return 0;
}

static int deploy_tool(const cog_tool_request *req, char **result, void *ud)
{
	(void)ud;
	int n = atomic_fetch_add(&deploys, 1);
	if (n < 2)
		snprintf(deploy_ids[n], sizeof(deploy_ids[n]), "%s", req->call_id);
	*result = cog_malloc(20);
	snprintf(*result, 20, "{\"deployed\":true}");
	return 0;
}

static int stop_tool(const cog_tool_request *req, char **result, void *ud)
{
	(void)ud;
	atomic_fetch_add(&stops, 1);
	cog_ctx_cancel(req->ctx);
	*result = cog_malloc(3);
	memcpy(*result, "{}", 3);
	return 0;
}

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

static void define_tools(cog_ctx *ctx)
{
	at_define_tool(ctx, "note", NULL, COG_TOOL_SIDE_EFFECTS, note_tool, NULL);
	at_define_tool(ctx, "deploy", NULL, COG_TOOL_SIDE_EFFECTS | COG_TOOL_NEEDS_APPROVAL,
	               deploy_tool, NULL);
	at_define_tool(ctx, "stop", NULL, 0, stop_tool, NULL);
	at_define_agent(ctx, "{\"name\":\"ops\",\"tools\":[\"*\"]}");
	atomic_store(&notes, 0);
	atomic_store(&deploys, 0);
	atomic_store(&stops, 0);
	atomic_store(&asked, 0);
}

/* ---- the log ---- */

static int keep_record(uint64_t seq, const char *record, size_t len, void *ud)
{
	(void)seq;
	cJSON *rec = cJSON_ParseWithLength(record, len);
	ck_assert_ptr_nonnull(rec);
	cJSON_AddItemToArray(ud, rec);
	return 0;
}

/* The records of the run key's log, as an array. */
static cJSON *journal_records(cog_ctx *ctx, const char *run_key)
{
	char log[256];
	snprintf(log, sizeof(log), "agent/%s", run_key);
	cJSON *all = cJSON_CreateArray();
	ck_assert_cog(cog_storage_read(cog_ctx_storage(ctx), log, 1, 0, keep_record, all));
	return all;
}

/* "k" of each record joined by spaces, with turn.index: "llm1.0 tool1.0 end" */
static void assert_kinds(const cJSON *records, const char *want)
{
	char got[512] = "";
	const cJSON *r;
	cJSON_ArrayForEach(r, records) {
		char one[64];
		const char *k = at_str(r, "k");
		if (strcmp(k, "end") == 0)
			snprintf(one, sizeof(one), "%send", got[0] ? " " : "");
		else
			snprintf(one, sizeof(one), "%s%s%d.%d", got[0] ? " " : "", k,
			         (int)at_num(r, "n"), (int)at_num(r, "i"));
		strncat(got, one, sizeof(got) - strlen(got) - 1);
	}
	ck_assert_str_eq(got, want);
}

static const char TASK[] = "{\"prompt\":\"Note it, then deploy to prod\"}";

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

/* ---- canceled, resumed ---- */

START_TEST(test_cancel_then_resume_replays)
{
	define_tools(at_ctx);
	at_push_tool("note", "{\"text\":\"a\"}", 100, 20);
	at_push_tool("stop", "{}", 120, 20);
	at_push_text("Done after the stop.", 150, 4);
	cog_agent_run_options o = COG_AGENT_RUN_OPTIONS_INIT;
	o.run_key = "p2/t9";
	cog_agent *a = at_spawn(at_ctx, "ops");
	cJSON *res = NULL;
	ck_assert_int_eq(at_run(a, TASK, &o, &res), COG_ECANCELED);
	cJSON_Delete(res);
	ck_assert_uint_eq(at_requests(), 2);
	cog_ctx_reset_cancel(at_ctx);

	ck_assert_cog(at_run(a, TASK, &o, &res));
	ck_assert_str_eq(at_str(res, "content"), "Done after the stop.");
	ck_assert_int_eq((int)at_num(res, "turns"), 3);
	ck_assert_int_eq((int)at_num(res, "tool_calls"), 2);
	cJSON_Delete(res);
	ck_assert_uint_eq(at_requests(), 3);
	ck_assert_int_eq(atomic_load(&notes), 1);
	ck_assert_int_eq(atomic_load(&stops), 1);
	cJSON *recs = journal_records(at_ctx, "p2/t9");
	assert_kinds(recs, "context0.0 llm1.0 tool1.0 llm2.0 tool2.0 llm3.0 end");
	cJSON_Delete(recs);
	cog_agent_free(a);
}
END_TEST

/* ---- a finished run starts afresh ---- */

START_TEST(test_finished_run_not_replayed)
{
	define_tools(at_ctx);
	at_push_tool("note", "{\"text\":\"a\"}", 100, 20);
	at_push_text("first", 150, 4);
	at_push_tool("note", "{\"text\":\"a\"}", 100, 20);
	at_push_text("second", 150, 4);
	cog_agent_run_options o = COG_AGENT_RUN_OPTIONS_INIT;
	o.run_key = "p3/t1";
	cog_agent *a = at_spawn(at_ctx, "ops");
	cJSON *res = NULL;
	ck_assert_cog(at_run(a, TASK, &o, &res));
	ck_assert_str_eq(at_str(res, "content"), "first");
	cJSON_Delete(res);
	ck_assert_cog(at_run(a, TASK, &o, &res));
	ck_assert_str_eq(at_str(res, "content"), "second");
	cJSON_Delete(res);
	ck_assert_uint_eq(at_requests(), 4);
	ck_assert_int_eq(atomic_load(&notes), 2);
	cJSON *recs = journal_records(at_ctx, "p3/t1");
	assert_kinds(recs, "context0.0 llm1.0 tool1.0 llm2.0 end "
		"context0.0 llm1.0 tool1.0 llm2.0 end");
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

/* ---- no storage ---- */

START_TEST(test_without_storage)
{
	cog_ctx *ctx = at_ctx_new(NULL);
	define_tools(ctx);
	at_push_tool("note", "{\"text\":\"a\"}", 100, 20);
	at_push_text("unjournaled", 150, 4);
	cog_agent_run_options o = COG_AGENT_RUN_OPTIONS_INIT;
	o.run_key = "p5/t1";
	cog_agent *a = at_spawn(ctx, "ops");
	cJSON *res = NULL;
	ck_assert_cog(at_run(a, TASK, &o, &res));
	ck_assert_str_eq(at_str(res, "content"), "unjournaled");
	cJSON_Delete(res);
	ck_assert_int_eq(atomic_load(&notes), 1);
	cog_agent_free(a);
	cog_ctx_free(ctx);
}
END_TEST

static Suite *journal_suite(void)
{
	Suite *s = suite_create("agent-journal");
	TCase *tc = tcase_create("journal");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pending_approval_replays);
	tcase_add_test(tc, test_cancel_then_resume_replays);
	tcase_add_test(tc, test_finished_run_not_replayed);
	tcase_add_test(tc, test_changed_request_not_replayed);
	tcase_add_test(tc, test_without_storage);
	tcase_add_test(tc, test_context_replayed_with_memories);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(journal_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures == 0 ? 0 : 1;
}
