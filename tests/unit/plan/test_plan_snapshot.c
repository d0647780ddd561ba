/* The snapshot document (snapshot.c) holds exactly what plan_to_json(plan,
 * true) does, plus the overall state and the journal position, on plans
 * with every kind of field and state, random and hand-made; and it reads
 * back into the same plan. Links the internal library. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "run_int.h"

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

/* What the snapshot must hold, built the slow way. */
static cJSON *expected(const cog_plan *plan, uint64_t seq)
{
	cJSON *o = plan_to_json(plan, true);
	ck_assert_ptr_nonnull(o);
	cJSON_AddStringToObject(o, "state", plan_overall_state(plan));
	cJSON *j = cJSON_AddObjectToObject(o, "journal");
	cJSON_AddNumberToObject(j, "seq", (double)seq);
	return o;
}

static void check_snapshot(const cog_plan *plan, uint64_t seq)
{
	char *text = plan_snapshot_text(plan, seq);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(cog_json_validate(text, strlen(text), "snapshot"), 0);
	cJSON *got = cJSON_Parse(text);
	ck_assert_msg(got != NULL, "not JSON: %.300s", text);
	cJSON *want = expected(plan, seq);
	if (!cJSON_Compare(got, want, true)) {
		char *w = cJSON_PrintUnformatted(want);
		ck_abort_msg("snapshot differs:\n got  %.2000s\n want %.2000s", text, w);
	}
	/* same member order too: the text of both, printed by cJSON */
	char *a = cJSON_PrintUnformatted(got), *b = cJSON_PrintUnformatted(want);
	ck_assert_str_eq(a, b);
	cJSON_free(a);
	cJSON_free(b);
	cJSON_Delete(got);
	cJSON_Delete(want);
	cog_free(text);
}

static void set_text(char **dst, const char *text)
{
	cog_free(*dst);
	*dst = text ? cog__strdup(text) : NULL;
}

START_TEST(every_field)
{
	cog_plan *plan = NULL;
	ck_assert_int_eq(cog_plan_from_json(&plan, ctx,
		"{\"id\":\"snap-1\",\"goal\":\"g \\\"quoted\\\" \\u00e9\\n\\u0001\","
		"\"budget\":{\"max_tokens\":1000,\"max_cost\":2.5,\"max_duration_ms\":0.125},"
		"\"tasks\":["
		"{\"id\":\"a\",\"title\":\"T\\t1\",\"kind\":\"tool\",\"tool\":\"file_read\","
		" \"inputs\":{\"path\":\"x\",\"n\":[1,-2,3.5,1e300,-0.1,123456789012345678],"
		"  \"o\":{\"t\":true,\"f\":false,\"z\":null,\"s\":\"\\u2603\"}},"
		" \"capabilities\":[\"python\",\"net\"],\"estimate\":{\"tokens\":12.75,\"cost\":0.001,"
		"  \"duration_ms\":100},\"retry\":{\"max_attempts\":3,\"backoff_ms\":200,"
		"  \"max_backoff_ms\":10000},\"timeout_ms\":60000,\"idempotent\":true,"
		" \"meta\":{\"k\":[{}],\"e\":[]}},"
		"{\"id\":\"b\",\"depends_on\":[\"a\"],\"inputs\":\"just text\"},"
		"{\"id\":\"c\",\"depends_on\":[\"a\",\"b\"],\"inputs\":42}]}"), 0);
	check_snapshot(plan, 0);
	plan->tasks[0].state = COG_TASK_SUCCEEDED;
	plan->tasks[0].attempts = 2;
	set_text(&plan->tasks[0].result, "{\"rows\":[1,2.25,\"x\"],\"ok\":true}");
	plan->tasks[1].state = COG_TASK_FAILED;
	plan->tasks[1].attempts = 7;
	set_text(&plan->tasks[1].error, "broke: \"why\"\n\ttab \xe2\x98\x83");
	plan->tasks[2].state = COG_TASK_SKIPPED;
	set_text(&plan->tasks[2].error, "not run: dependency 'b' failed");
	check_snapshot(plan, 123456789);
	plan->tasks[1].state = COG_TASK_UNCERTAIN;
	plan->tasks[2].state = COG_TASK_RUNNING;
	check_snapshot(plan, 1);
	cog_plan_free(plan);
}
END_TEST

START_TEST(random_plans)
{
	unsigned int seed = 12345;
	static const char *const kinds[] = { "host", "llm", "step" };
	for (int round = 0; round < 200; round++) {
		cog_plan *plan = NULL;
		ck_assert_int_eq(cog_plan_new(&plan, ctx, round % 2 ? "random" : ""), 0);
		int n = 1 + (int)(rand_r(&seed) % 12);
		for (int i = 0; i < n; i++) {
			char json[512];
			double frac = (double)(rand_r(&seed) % 100000) / 1000.0;
			int len = snprintf(json, sizeof(json), "{\"id\":\"t%d\",\"kind\":\"%s\","
				"\"estimate\":{\"tokens\":%u,\"cost\":%.17g,\"duration_ms\":%u},"
				"\"retry\":{\"max_attempts\":%u},\"idempotent\":%s,"
				"\"inputs\":{\"v\":%.17g,\"i\":%d}",
				i, kinds[rand_r(&seed) % 3], rand_r(&seed) % 5000, frac,
				rand_r(&seed) % 100000, 1 + rand_r(&seed) % 9,
				rand_r(&seed) % 2 ? "true" : "false", frac * -3.3,
				(int)(rand_r(&seed) % 2000) - 1000);
			if (i && rand_r(&seed) % 2)
				len += snprintf(json + len, sizeof(json) - (size_t)len,
					",\"depends_on\":[\"t%d\"]", (int)(rand_r(&seed) % (unsigned)i));
			snprintf(json + len, sizeof(json) - (size_t)len, "}");
			ck_assert_msg(cog_plan_add_task(plan, json) == 0, "%s: %s", json,
				cog_error_last());
		}
		for (int i = 0; i < n; i++) {
			plan_task *t = &plan->tasks[i];
			t->state = (int)(rand_r(&seed) % (COG_TASK_UNCERTAIN + 1));
			t->attempts = rand_r(&seed) % 4;
			if (t->state == COG_TASK_SUCCEEDED && rand_r(&seed) % 2) {
				char r[64];
				snprintf(r, sizeof(r), "{\"n\":%.17g}", (double)rand_r(&seed) / 7.0);
				set_text(&t->result, r);
			}
			if (t->state == COG_TASK_FAILED)
				set_text(&t->error, "failed \\ badly");
		}
		check_snapshot(plan, (uint64_t)round * 1000003u);
		cog_plan_free(plan);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("plan-snapshot");
	TCase *tc = tcase_create("snapshot");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, every_field);
	tcase_add_test(tc, random_plans);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
