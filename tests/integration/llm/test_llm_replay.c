/*
 * Record and replay of a planning, as tests of what sits above the LLM
 * layer use them: cog_plan_from_goal() recorded through the OpenAI
 * provider (real libcurl against the scripted wire server) and planned
 * again from the recording alone (same plan, no request; a goal it has not
 * seen falls back to the templates or fails with both reasons), and the
 * committed recording tests/data/llm/planner-replay.jsonl replayed with no
 * server at all. The planner itself is tested in test_llm_planner.c; the
 * helpers both use are in llm_test.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include <cognition.h>

#include "llm_test.h"
#include "test_tmp.h"

static cog_ctx *ctx;
static ws_server *server;

static void setup(void)
{
	make_templates();
	ctx = planner_ctx(true);
	server = start_wire_server();
}

static void teardown(void)
{
	cog_ctx_free(ctx);
	ctx = NULL;
	ws_stop(server);
	server = NULL;
	tmp_dir_remove();
	log_forget();
}

static bool file_contains(const char *path, const char *text)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: cannot open", path);
	char line[65536];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, text) != NULL;
	fclose(f);
	return found;
}

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	ck_assert_msg(in && out, "cannot copy %s to %s", from, to);
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
}

/* A context with no transport at all whose endpoint "main" answers from
 * the recording at path; the same templates and tool as the fixture's
 * context (the prompt lists the tools, so the request, and with it the
 * key the recording is looked up by, is the same). */
static cog_ctx *replay_ctx(const char *path)
{
	cog_ctx *c = planner_ctx(false);
	cog_llm *replay = NULL;
	ck_assert_cog(cog_llm_replay_new(&replay, path));
	use_llm(c, replay);
	return c;
}

/* The plan as cog_plan_export() gives it, parsed, without "id": every plan
 * gets a fresh id when it is made (a UUIDv7: the time in ms, then random
 * bits), so two plans made from the same answer differ there. Plan JSON
 * holds no other time. */
static cJSON *plan_json_without_id(cog_plan *plan)
{
	char *text = NULL;
	ck_assert_cog(cog_plan_export(plan, COG_PLAN_FORMAT_JSON, &text));
	cJSON *json = cJSON_Parse(text);
	ck_assert_msg(json != NULL, "not JSON: %s", text);
	cog_free(text);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(json, "id")), cog_plan_id(plan));
	cJSON_DeleteItemFromObject(json, "id");
	return json;
}

static void assert_same_plan(cog_plan *a, cog_plan *b)
{
	ck_assert_str_ne(cog_plan_id(a), cog_plan_id(b));
	cJSON *ja = plan_json_without_id(a), *jb = plan_json_without_id(b);
	char *text = cJSON_PrintUnformatted(jb);
	ck_assert_msg(cJSON_Compare(ja, jb, true), "replayed plan differs: %s", text);
	free(text);
	cJSON_Delete(ja);
	cJSON_Delete(jb);
}

/* What the recording holds: one chat exchange on the planner's route. */
static void assert_one_planner_exchange(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: cannot open", path);
	char line[65536];
	int lines = 0;
	while (fgets(line, sizeof(line), f)) {
		cJSON *j = cJSON_Parse(line);
		ck_assert_msg(j != NULL, "%s: line %d is not JSON", path, lines + 1);
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "kind")), "chat");
		const cJSON *request = cJSON_GetObjectItem(j, "request");
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(request, "model")),
			"planner-model");
		ck_assert_ptr_nonnull(cJSON_GetObjectItem(j, "response"));
		cJSON_Delete(j);
		lines++;
	}
	fclose(f);
	ck_assert_int_eq(lines, 1);
	ck_assert_msg(!file_contains(path, "sk-test-secret"), "the key is in %s", path);
}

static const char RECORDED_GOAL[] = "write a note to the team and review it";

/* Record a planning through the real provider, then plan the same goal
 * again from the recording alone: the same plan, no request. A goal the
 * recording has not seen is COG_ENOTFOUND from the replay; the planner
 * then falls back to the templates, or reports both failures.
 * COG_TEST_SAVE_RECORDING=<file> copies the recording there (that is how
 * tests/data/llm/planner-replay.jsonl was made). */
START_TEST(replay_plans_as_recorded)
{
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_file("planner.jsonl"));
	cog_llm *recorder = NULL;
	ck_assert_cog(cog_llm_recorder_new(&recorder, openai_llm(ctx, server), path));
	use_llm(ctx, recorder);
	push_plan_answer(server, VALID_PLAN);
	cog_plan *recorded = plan_ok(ctx, RECORDED_GOAL);
	assert_is_valid_plan(recorded, RECORDED_GOAL);
	ck_assert_uint_eq(ws_requests(server), 1);
	assert_one_planner_exchange(path);
	const char *save = getenv("COG_TEST_SAVE_RECORDING");
	if (save && *save)
		copy_file(path, save);

	/* A fresh context that could not reach a server if it tried. */
	cog_ctx *offline = replay_ctx(path);
	cog_plan *replayed = NULL;
	ck_assert_cog(cog_plan_from_goal(&replayed, offline, RECORDED_GOAL));
	ck_assert_uint_eq(ws_requests(server), 1);
	assert_no_warnings();
	assert_same_plan(recorded, replayed);
	cog_plan_free(recorded);
	cog_plan_free(replayed);

	/* Not in the recording: the replay says so, the templates step in. */
	cog_plan *fallback = NULL;
	ck_assert_cog(cog_plan_from_goal(&fallback, offline, "deploy the web app"));
	ck_assert_uint_eq(cog_plan_task_count(fallback), 1);
	char *status = NULL;
	ck_assert_cog(cog_plan_task_status(fallback, "from_template", &status));
	cog_free(status);
	cog_plan_free(fallback);
	assert_warned("the llm planner failed", true);
	assert_warned("replay: no recorded answer for chat request", true);
	/* No template either: the replay's status, both reasons. */
	cog_plan *none = NULL;
	assert_error(cog_plan_from_goal(&none, offline, "write a poem"), COG_ENOTFOUND,
		"replay: no recorded answer for chat request");
	ck_assert_ptr_null(none);
	ck_assert_msg(strstr(cog_error_last(), "template planner: none of 1"), "%s",
		cog_error_last());
	ck_assert_uint_eq(ws_requests(server), 1);
	cog_ctx_free(offline);
}
END_TEST

/* The committed recording (made by replay_plans_as_recorded) replayed
 * with no server and no transport. It goes stale when the planner's
 * prompt, the plan schema or the request shape changes: the replay then
 * fails with COG_ENOTFOUND naming the request, and the file must be made
 * again. */
START_TEST(replay_committed_recording)
{
	const char *root = getenv("COG_TEST_SOURCE_ROOT");
	ck_assert_msg(root != NULL, "COG_TEST_SOURCE_ROOT is not set");
	char path[1024];
	snprintf(path, sizeof(path), "%s/tests/data/llm/planner-replay.jsonl", root);
	assert_one_planner_exchange(path);
	cog_ctx *offline = replay_ctx(path);
	cog_plan *plan = NULL;
	ck_assert_cog(cog_plan_from_goal(&plan, offline, RECORDED_GOAL));
	assert_is_valid_plan(plan, RECORDED_GOAL);
	cog_plan_free(plan);
	assert_no_warnings();
	cog_ctx_free(offline);
}
END_TEST

static void setup_offline(void)
{
	make_templates();
}

static void teardown_offline(void)
{
	tmp_dir_remove();
	log_forget();
}

static Suite *replay_suite(void)
{
	Suite *s = suite_create("llm-replay");
	TCase *tc = tcase_create("record");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, replay_plans_as_recorded);
	suite_add_tcase(s, tc);
	/* No server at all. */
	tc = tcase_create("replay");
	tcase_add_checked_fixture(tc, setup_offline, teardown_offline);
	tcase_add_test(tc, replay_committed_recording);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(replay_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
