/*
 * The agent journal through cog_agent_run() with a run key: a canceled run
 * resumes, replaying the recorded LLM answers and tool results (the wire
 * server gets no second request for those turns, the side-effect tool does
 * not run again); a finished run is not replayed; the records in the
 * storage log; a context without storage runs unjournaled. Runs stopped
 * on a pending approval: test_agent_journal_approval.c.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_test.h"
#include "test_agent_journal.h"

static void setup(void)
{
	at_setup();
}

static void teardown(void)
{
	at_teardown();
}

/* ---- tools that remember what happened ---- */

atomic_int notes, deploys;
char deploy_ids[2][128];
static atomic_int stops;

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

void define_tools(cog_ctx *ctx)
{
	at_define_tool(ctx, "note", NULL, COG_TOOL_SIDE_EFFECTS, note_tool, NULL);
	at_define_tool(ctx, "deploy", NULL, COG_TOOL_SIDE_EFFECTS | COG_TOOL_NEEDS_APPROVAL,
	               deploy_tool, NULL);
	at_define_tool(ctx, "stop", NULL, 0, stop_tool, NULL);
	at_define_agent(ctx, "{\"name\":\"ops\",\"tools\":[\"*\"]}");
	atomic_store(&notes, 0);
	atomic_store(&deploys, 0);
	atomic_store(&stops, 0);
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
cJSON *journal_records(cog_ctx *ctx, const char *run_key)
{
	char log[256];
	snprintf(log, sizeof(log), "agent/%s", run_key);
	cJSON *all = cJSON_CreateArray();
	ck_assert_cog(cog_storage_read(cog_ctx_storage(ctx), log, 1, 0, keep_record, all));
	return all;
}

/* "k" of each record joined by spaces, with turn.index: "llm1.0 tool1.0 end" */
void assert_kinds(const cJSON *records, const char *want)
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

const char TASK[] = "{\"prompt\":\"Note it, then deploy to prod\"}";

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
	tcase_add_test(tc, test_cancel_then_resume_replays);
	tcase_add_test(tc, test_finished_run_not_replayed);
	tcase_add_test(tc, test_without_storage);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, journal_approval_tcase());
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
