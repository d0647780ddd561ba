/* Template tasks with "when":"llm": left out of the plan when the context
 * has no LLM endpoint, kept (without the member) when it has one; a
 * template whose other tasks depend on or take inputs from such a task, or
 * with another "when" value, is broken and named at load; the shipped
 * data-analysis template in both forms. Check forks each test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "plan_int.h"
#include "cognition/llm.h"

static cog_ctx *ctx;
static char dir[64];

static void setup(void)
{
	setenv("COG_TEMPLATE_DIR", "", 1);
	unsetenv("COG_TEMPLATE_PATH");
	snprintf(dir, sizeof(dir), "/tmp/cog-when-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(cog_ctx_new(&ctx, NULL), 0);
}

static void teardown(void)
{
	cog_ctx_free(ctx);
	ctx = NULL;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* An endpoint, so that cog_llm_available() is true: a replay backend on an
 * empty recording (nothing is asked of it here). */
static void give_llm(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/empty.jsonl", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fclose(f), 0);
	cog_llm *llm = NULL;
	ck_assert_int_eq(cog_llm_replay_new(&llm, path), 0);
	ck_assert_int_eq(cog_llm_add_endpoint(ctx, "default", llm, NULL), 0);
	ck_assert_int_eq(cog_llm_available(ctx), 1);
}

static void write_template(const char *text)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/t.json", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

/* The ids of the plan's tasks, space-separated. */
static void task_ids(cog_plan *plan, char *out, size_t size)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < plan->count && used < size; i++)
		used += (size_t)snprintf(out + used, size - used, "%s%s", i ? " " : "",
			plan->tasks[i].id);
}

static const char good[] = "{\"name\":\"t\",\"patterns\":[\"go\"],\"tasks\":["
	"{\"id\":\"compute\",\"kind\":\"tool\",\"tool\":\"python\",\"inputs\":{\"code\":\"1\"}},"
	"{\"id\":\"narrate\",\"when\":\"llm\",\"kind\":\"llm\",\"depends_on\":[\"compute\"],"
	"\"inputs\":{\"prompt\":\"tell\"}},"
	"{\"id\":\"save\",\"when\":\"llm\",\"depends_on\":[\"narrate\"],"
	"\"inputs\":{\"text\":{\"$from\":\"narrate\",\"pointer\":\"/content\"}}}]}";

START_TEST(test_left_out_without_llm)
{
	write_template(good);
	ck_assert_int_eq(cog_ctx_add_template_dir(ctx, dir), 0);
	cog_plan *plan = NULL;
	ck_assert_msg(cog_plan_from_goal(&plan, ctx, "go") == 0, "%s", cog_error_last());
	char ids[256];
	task_ids(plan, ids, sizeof(ids));
	ck_assert_str_eq(ids, "compute");
	ck_assert_int_eq(cog_plan_validate(plan), 0);
	cog_plan_free(plan);
}
END_TEST

START_TEST(test_kept_with_llm)
{
	give_llm();
	write_template(good);
	ck_assert_int_eq(cog_ctx_add_template_dir(ctx, dir), 0);
	cog_plan *plan = NULL;
	ck_assert_msg(cog_plan_from_goal(&plan, ctx, "go") == 0, "%s", cog_error_last());
	char ids[256];
	task_ids(plan, ids, sizeof(ids));
	ck_assert_str_eq(ids, "compute narrate save");
	/* "when" is the template's: the plan's tasks do not carry it. */
	char *text = NULL;
	ck_assert_int_eq(cog_plan_export(plan, COG_PLAN_FORMAT_JSON, &text), 0);
	ck_assert_ptr_null(strstr(text, "\"when\""));
	cog_free(text);
	cog_plan_free(plan);
}
END_TEST

static void expect_broken(const char *text, const char *part)
{
	write_template(text);
	int rc = cog_ctx_add_template_dir(ctx, dir);
	ck_assert_msg(rc == COG_EINVAL, "expected COG_EINVAL, got %d: %s", rc, cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), part), "message lacks '%s': %s", part,
		cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), "t.json"), "no file name: %s", cog_error_last());
}

START_TEST(test_broken_when)
{
	/* Broken whether or not this context has an LLM: another may not. */
	if (_i == 1)
		give_llm();
	expect_broken("{\"name\":\"t\",\"patterns\":[\"go\"],\"tasks\":["
		"{\"id\":\"a\",\"when\":\"llm\",\"kind\":\"llm\",\"inputs\":{\"prompt\":\"p\"}},"
		"{\"id\":\"b\",\"depends_on\":[\"a\"]}]}",
		"task 'b' depends on 'a', which runs only with an LLM");
	expect_broken("{\"name\":\"t\",\"patterns\":[\"go\"],\"tasks\":["
		"{\"id\":\"a\",\"when\":\"llm\",\"kind\":\"llm\",\"inputs\":{\"prompt\":\"p\"}},"
		"{\"id\":\"c\"},"
		"{\"id\":\"b\",\"depends_on\":[\"c\"],\"inputs\":{\"x\":[1,{\"$from\":\"a\"}]}}]}",
		"task 'b' takes an input from 'a'");
	expect_broken("{\"name\":\"t\",\"patterns\":[\"go\"],\"tasks\":["
		"{\"id\":\"a\",\"when\":\"always\"}]}", "\"when\" must be \"llm\"");
	expect_broken("{\"name\":\"t\",\"patterns\":[\"go\"],\"tasks\":["
		"{\"id\":\"a\",\"when\":true}]}", "\"when\" must be \"llm\"");
	expect_broken("{\"name\":\"t\",\"patterns\":[\"go\"],\"tasks\":["
		"{\"id\":\"a\",\"when\":\"llm\",\"kind\":\"llm\",\"inputs\":{\"prompt\":\"p\"}}]}",
		"without an LLM the plan would be empty");
}
END_TEST

static const char *shipped_dir(void)
{
	static char path[1024];
	const char *root = getenv("COG_TEST_SOURCE_ROOT");
	snprintf(path, sizeof(path), "%s/lib/plan/templates", root ? root : "../..");
	return path;
}

START_TEST(test_data_analysis_both_ways)
{
	if (_i == 1)
		give_llm();
	ck_assert_int_eq(cog_ctx_add_template_dir(ctx, shipped_dir()), 0);
	cog_plan *plan = NULL;
	ck_assert_msg(cog_plan_from_goal(&plan, ctx, "analyze data/sales.csv") == 0, "%s",
		cog_error_last());
	ck_assert_int_eq(cog_plan_validate(plan), 0);
	char ids[1024];
	task_ids(plan, ids, sizeof(ids));
	/* SQL on SQLite and the report always; the narrative only with an LLM. */
	ck_assert_msg(strstr(ids, "to_sqlite") && strstr(ids, "sql_by_dim1") &&
		strstr(ids, "report"), "tasks: %s", ids);
	ck_assert_msg((strstr(ids, "narrative") != NULL) == (_i == 1), "tasks: %s", ids);
	ck_assert_msg((strstr(ids, "append_narrative") != NULL) == (_i == 1), "tasks: %s", ids);
	cog_plan_free(plan);
}
END_TEST

static Suite *when_suite(void)
{
	Suite *s = suite_create("template_when");
	TCase *tc = tcase_create("when");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_left_out_without_llm);
	tcase_add_test(tc, test_kept_with_llm);
	tcase_add_loop_test(tc, test_broken_when, 0, 2);
	tcase_add_loop_test(tc, test_data_analysis_both_ways, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(when_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
