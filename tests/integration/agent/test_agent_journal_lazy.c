/*
 * The final answer of a plan task that succeeded is not waited for: its
 * record joins the next group commit of the agent journals (lib/agent
 * journal_commit.c). These tests make sure it is never lost: it reaches the
 * database when the context is freed, and before the context's storage is
 * replaced; a failed task still waits for its records and its end record.
 * Real SQLite files, real libcurl against the loopback wire server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cognition/sqlite.h>

#include "agent_test.h"
#include "test_tmp.h"

static void setup(void) { at_setup(); }
static void teardown(void) { at_teardown(); }

typedef struct kinds { char text[256]; } kinds;

static int add_kind(uint64_t seq, const char *record, size_t len, void *ud)
{
	(void)seq;
	(void)len;
	kinds *k = ud;
	cJSON *r = cJSON_Parse(record);
	ck_assert_ptr_nonnull(r);
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(r, "k"));
	size_t used = strlen(k->text);
	snprintf(k->text + used, sizeof(k->text) - used, "%s%s", used ? " " : "",
		kind ? kind : "?");
	cJSON_Delete(r);
	return 0;
}

/* The kinds of the records of log `log` in the SQLite file at db, read
 * through a storage of its own. */
static void journal_kinds(const char *db, const char *log, kinds *k)
{
	cog_storage *st = NULL;
	ck_assert_cog(cog_sqlite_storage_open(&st, db, NULL));
	memset(k, 0, sizeof(*k));
	ck_assert_cog(cog_storage_read(st, log, 1, 0, add_kind, k));
	cog_storage_free(st);
}

static int run_one_task(cog_ctx *ctx, const char *plan_id)
{
	char json[256];
	snprintf(json, sizeof(json), "{\"id\":\"%s\",\"tasks\":[{\"id\":\"t\",\"kind\":\"llm\","
		"\"inputs\":{\"prompt\":\"Say hello.\"}}]}", plan_id);
	cog_plan *plan = NULL;
	ck_assert_cog(cog_plan_from_json(&plan, ctx, json));
	ck_assert_cog(cog_ctx_set_task_executor(ctx, cog_task_run_agent, NULL));
	int rc = cog_plan_run(plan, NULL);
	cog_plan_free(plan);
	return rc;
}

START_TEST(final_answer_written_when_the_context_goes)
{
	const char *db = tmp_file("lazy.db");
	cog_ctx *ctx = at_ctx_new(db);
	at_push_text("hello", 30, 5);
	ck_assert_cog(run_one_task(ctx, "lazy1"));
	cog_ctx_free(ctx);
	kinds k;
	journal_kinds(db, "agent/lazy1/t", &k);
	/* the context record, the answer; no end record for a success */
	ck_assert_str_eq(k.text, "context llm");
}
END_TEST

START_TEST(final_answer_written_before_the_storage_is_replaced)
{
	const char *db = tmp_file("swap.db");
	cog_ctx *ctx = at_ctx_new(db);
	at_push_text("hello", 30, 5);
	ck_assert_cog(run_one_task(ctx, "lazy2"));
	cog_storage *mem = NULL;
	ck_assert_cog(cog_storage_memory_new(&mem));
	ck_assert_cog(cog_ctx_set_storage(ctx, mem));  /* closes the file */
	kinds k;
	journal_kinds(db, "agent/lazy2/t", &k);
	ck_assert_str_eq(k.text, "context llm");
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(failed_task_waits_for_its_end_record)
{
	const char *db = tmp_file("fail.db");
	cog_ctx *ctx = at_ctx_new(db);
	at_push_error(400);  /* the provider refuses the request: the task fails */
	ck_assert_int_ne(run_one_task(ctx, "lazy3"), 0);
	/* Read while the context still holds the file: already there. */
	kinds k;
	journal_kinds(db, "agent/lazy3/t", &k);
	ck_assert_str_eq(k.text, "context end");
	cog_ctx_free(ctx);
}
END_TEST

static int count_record(uint64_t seq, const char *record, size_t len, void *ud)
{
	(void)seq;
	(void)record;
	(void)len;
	(*(size_t *)ud)++;
	return 0;
}

/* Records left to the next group commit do not pile up: past 256 queued,
 * the run queuing one writes them all. 300 succeeded tasks make 600
 * records (context, answer); with nobody else syncing, at least 512 are in
 * the file while the context still runs. */
START_TEST(waiting_records_stay_bounded)
{
	const char *db = tmp_file("bound.db");
	cog_ctx *ctx = at_ctx_new(db);
	at_push_text("hello", 30, 5);   /* reused for every request */
	char *json = malloc(64 * 1024);
	ck_assert_ptr_nonnull(json);
	size_t len = (size_t)snprintf(json, 64 * 1024, "{\"id\":\"bound\",\"tasks\":[");
	for (int i = 0; i < 300; i++)
		len += (size_t)snprintf(json + len, 64 * 1024 - len, "%s{\"id\":\"t%d\","
			"\"kind\":\"llm\",\"inputs\":{\"prompt\":\"Say hello %d.\"}}", i ? "," : "",
			i, i);
	snprintf(json + len, 64 * 1024 - len, "]}");
	cog_plan *plan = NULL;
	ck_assert_cog(cog_plan_from_json(&plan, ctx, json));
	free(json);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, cog_task_run_agent, NULL));
	cog_run_options o = COG_RUN_OPTIONS_INIT;
	o.workers = 4;
	ck_assert_cog(cog_plan_run(plan, &o));
	cog_plan_free(plan);
	cog_storage *st = NULL;
	ck_assert_cog(cog_sqlite_storage_open(&st, db, NULL));
	size_t records = 0;
	for (int i = 0; i < 300; i++) {
		char log[64];
		snprintf(log, sizeof(log), "agent/bound/t%d", i);
		ck_assert_cog(cog_storage_read(st, log, 1, 0, count_record, &records));
	}
	cog_storage_free(st);
	ck_assert_msg(records >= 512 && records <= 600, "%zu records written", records);
	cog_ctx_free(ctx);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("agent-journal-lazy");
	TCase *tc = tcase_create("lazy");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, final_answer_written_when_the_context_goes);
	tcase_add_test(tc, final_answer_written_before_the_storage_is_replaced);
	tcase_add_test(tc, failed_task_waits_for_its_end_record);
	tcase_add_test(tc, waiting_records_stay_bounded);
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
