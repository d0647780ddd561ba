/* The template planner: the shipped templates, matching and parameters
 * (escaping of quotes, backslashes and Unicode), search order of the
 * directories, COG_TEMPLATE_PATH, messages for no match and for broken
 * template files, cog_ctx_list_templates. Check forks each test, so
 * environment changes stay inside one test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "plan_int.h"

static cog_ctx *ctx;
static char tmp_root[64];

static void setup(void)
{
	/* Only the directories a test names: not an installed copy. */
	setenv("COG_TEMPLATE_DIR", "", 1);
	unsetenv("COG_TEMPLATE_PATH");
	snprintf(tmp_root, sizeof(tmp_root), "/tmp/cog-template-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp_root));
	ck_assert_int_eq(cog_ctx_new(&ctx, NULL), 0);
}

static void teardown(void)
{
	cog_ctx_free(ctx);
	ctx = NULL;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
	ck_assert_int_eq(system(cmd), 0);
}

/* A fresh directory under the test's temporary root. */
static const char *make_dir(const char *name)
{
	static char paths[8][128];
	static int next;
	char *p = paths[next++ % 8];
	snprintf(p, 128, "%s/%s", tmp_root, name);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	return p;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

/* A one-task template whose task id is `task_id`. */
static void write_simple(const char *dir, const char *file, const char *name,
                         const char *pattern, const char *task_id)
{
	char text[1024];
	snprintf(text, sizeof(text), "{\"name\":\"%s\",\"patterns\":[\"%s\"],"
		"\"tasks\":[{\"id\":\"%s\",\"title\":\"from %s\"}]}", name, pattern, task_id, name);
	write_file(dir, file, text);
}

static const char *shipped_dir(void)
{
	static char path[1024];
	const char *root = getenv("COG_TEST_SOURCE_ROOT");
	snprintf(path, sizeof(path), "%s/lib/plan/templates", root ? root : "../..");
	return path;
}

static cog_plan *plan_for(const char *goal)
{
	cog_plan *plan = NULL;
	int rc = cog_plan_from_goal(&plan, ctx, goal);
	ck_assert_msg(rc == 0, "cog_plan_from_goal(%s): %d %s", goal, rc, cog_error_last());
	ck_assert_ptr_nonnull(plan);
	return plan;
}

/* The plan's JSON export, parsed. */
static cJSON *plan_json(cog_plan *plan)
{
	char *text = NULL;
	int rc = cog_plan_export(plan, COG_PLAN_FORMAT_JSON, &text);
	ck_assert_msg(rc == 0, "export: %s", cog_error_last());
	cJSON *root = cJSON_Parse(text);
	ck_assert_ptr_nonnull(root);
	cog_free(text);
	return root;
}

static const cJSON *task_of(const cJSON *plan, const char *id)
{
	const cJSON *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItem(plan, "tasks"))
		if (strcmp(cJSON_GetObjectItem(t, "id")->valuestring, id) == 0)
			return t;
	ck_abort_msg("no task %s", id);
	return NULL;
}

static const char *input_of(const cJSON *plan, const char *task, const char *field)
{
	const cJSON *inputs = cJSON_GetObjectItem(task_of(plan, task), "inputs");
	const cJSON *v = cJSON_GetObjectItem(inputs, field);
	ck_assert_msg(cJSON_IsString(v), "task %s has no string input %s", task, field);
	return v->valuestring;
}

/* Where data-analysis writes its report: the report task's first argument. */
static const char *report_arg(const cJSON *plan)
{
	const cJSON *args = cJSON_GetObjectItem(cJSON_GetObjectItem(task_of(plan, "report"),
		"inputs"), "args");
	const cJSON *first = cJSON_GetArrayItem(args, 0);
	ck_assert_msg(cJSON_IsString(first), "the report task has no path argument");
	return first->valuestring;
}

static const char *first_task_id(cog_plan *plan)
{
	ck_assert_uint_ge(plan->count, 1);
	return plan->tasks[0].id;
}

static void expect_error(int rc, int code, const char *part)
{
	ck_assert_msg(rc == code, "expected %d, got %d: %s", code, rc, cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), part), "message lacks '%s': %s", part,
		cog_error_last());
}

/* ---- the shipped templates ---- */

START_TEST(test_data_analysis)
{
	ck_assert_int_eq(cog_ctx_add_template_dir(ctx, shipped_dir()), 0);
	cog_plan *plan = plan_for("Analyze data/sales-2025.csv and find trends");
	ck_assert_str_eq(cog_plan_goal(plan), "Analyze data/sales-2025.csv and find trends");
	ck_assert_int_eq(cog_plan_validate(plan), 0);
	cJSON *j = plan_json(plan);
	ck_assert_str_eq(input_of(j, "read_sample", "path"), "data/sales-2025.csv");
	ck_assert_str_eq(report_arg(j), "work/report.md");
	ck_assert_str_eq(cJSON_GetObjectItem(task_of(j, "read_sample"), "tool")->valuestring,
		"file_read");
	/* The file name goes to the script as an argument, never into code. */
	const cJSON *args = cJSON_GetObjectItem(cJSON_GetObjectItem(task_of(j, "load"), "inputs"),
		"args");
	ck_assert_str_eq(cJSON_GetArrayItem(args, 0)->valuestring, "data/sales-2025.csv");
	ck_assert_ptr_null(strstr(input_of(j, "load", "code"), "sales-2025"));
	cJSON_Delete(j);
	cog_plan_free(plan);

	/* A quoted path with a space, and where the report goes. */
	plan = plan_for("please analyse \"Q1 results.csv\" and save the report to q1.md");
	j = plan_json(plan);
	ck_assert_str_eq(input_of(j, "read_sample", "path"), "Q1 results.csv");
	ck_assert_str_eq(report_arg(j), "q1.md");
	cJSON_Delete(j);
	cog_plan_free(plan);
}
END_TEST

START_TEST(test_web_app)
{
	ck_assert_int_eq(cog_ctx_add_template_dir(ctx, shipped_dir()), 0);
	cog_plan *plan = plan_for("Build a web app called recipes using FastAPI");
	cJSON *j = plan_json(plan);
	const cJSON *argv = cJSON_GetObjectItem(cJSON_GetObjectItem(task_of(j, "scaffold"),
		"inputs"), "argv");
	ck_assert_str_eq(cJSON_GetArrayItem(argv, 1)->valuestring, "-p");
	ck_assert_str_eq(cJSON_GetArrayItem(argv, 2)->valuestring, "recipes/backend");
	ck_assert_ptr_nonnull(strstr(input_of(j, "backend", "prompt"), "with FastAPI"));
	ck_assert_str_eq(input_of(j, "run_tests", "cwd"), "recipes");
	/* Starting the server is the one step that must not be repeated blindly. */
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(task_of(j, "run"), "idempotent")));
	cJSON_Delete(j);
	cog_plan_free(plan);

	plan = plan_for("create a web application");
	j = plan_json(plan);
	ck_assert_str_eq(input_of(j, "run", "cwd"), "webapp");
	cJSON_Delete(j);
	cog_plan_free(plan);
}
END_TEST

START_TEST(test_research_report)
{
	ck_assert_int_eq(cog_ctx_add_template_dir(ctx, shipped_dir()), 0);
	cog_plan *plan = plan_for("Write a research report on the history of the printing press.");
	cJSON *j = plan_json(plan);
	const cJSON *query = cJSON_GetObjectItem(cJSON_GetObjectItem(task_of(j,
		"search_encyclopedia"), "inputs"), "query");
	ck_assert_str_eq(cJSON_GetObjectItem(query, "srsearch")->valuestring,
		"the history of the printing press");
	/* Fetching a list of sources is an agent's work with http_fetch. */
	const cJSON *fetch = task_of(j, "fetch_sources");
	ck_assert_str_eq(cJSON_GetObjectItem(fetch, "kind")->valuestring, "llm");
	ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(fetch,
		"inputs"), "tools"), 0)->valuestring, "http_fetch");
	/* The report is written with the final draft's content. */
	const cJSON *content = cJSON_GetObjectItem(cJSON_GetObjectItem(task_of(j,
		"write_report"), "inputs"), "content");
	ck_assert_str_eq(cJSON_GetObjectItem(content, "$from")->valuestring, "final");
	cJSON_Delete(j);
	cog_plan_free(plan);
}
END_TEST

/* Every shipped template validates, has several levels and runs something
 * in parallel, and fits its budget. */
START_TEST(test_shipped_shapes)
{
	static const char *const goals[] = {
		"analyze metrics.csv", "scaffold a web app", "research solid-state batteries",
	};
	ck_assert_int_eq(cog_ctx_add_template_dir(ctx, shipped_dir()), 0);
	for (size_t g = 0; g < 3; g++) {
		cog_plan *plan = plan_for(goals[g]);
		char *text = NULL;
		int rc = cog_plan_analyze(plan, &text);
		ck_assert_msg(rc == 0, "%s: %s", goals[g], cog_error_last());
		cJSON *a = cJSON_Parse(text);
		const cJSON *levels = cJSON_GetObjectItem(a, "levels"), *level;
		ck_assert_int_ge(cJSON_GetArraySize(levels), 4);
		int widest = 0;
		cJSON_ArrayForEach(level, levels)
			if (cJSON_GetArraySize(level) > widest)
				widest = cJSON_GetArraySize(level);
		ck_assert_msg(widest >= 2, "%s: no parallel branch", goals[g]);
		cJSON_Delete(a);
		cog_free(text);
		cog_plan_free(plan);
	}
}
END_TEST

/* ---- parameters ---- */

START_TEST(test_values_escaped)
{
	const char *dir = make_dir("t");
	write_file(dir, "say.json",
		"{\"name\":\"say\",\"patterns\":[\"(?s)^say (?<text>.+)$\"],"
		"\"params\":{\"text\":{\"required\":true}},"
		"\"tasks\":[{\"id\":\"speak\",\"title\":\"Say ${text}\",\"kind\":\"tool\","
		"\"tool\":\"echo_${text}\",\"inputs\":{\"text\":\"${text}\","
		"\"framed\":\"<${text}|${goal}>\",\"list\":[\"${text}\",{\"deep\":\"${text}\"}],"
		"\"literal\":\"$${text} costs $5\"},\"meta\":{\"${text}\":1}}]}");
	ck_assert_int_eq(cog_ctx_add_template_dir(ctx, dir), 0);
	const char *value = "he said \"hi\" \\ back\\slash \\\" é 日本 🎉\t\n}\",\"x\":\"";
	char goal[256];
	snprintf(goal, sizeof(goal), "say %s", value);
	cog_plan *plan = plan_for(goal);
	cJSON *j = plan_json(plan);
	ck_assert_str_eq(input_of(j, "speak", "text"), value);
	char framed[512];
	snprintf(framed, sizeof(framed), "<%s|%s>", value, goal);
	ck_assert_str_eq(input_of(j, "speak", "framed"), framed);
	ck_assert_str_eq(input_of(j, "speak", "literal"), "${text} costs $5");
	const cJSON *list = cJSON_GetObjectItem(cJSON_GetObjectItem(task_of(j, "speak"), "inputs"),
		"list");
	ck_assert_int_eq(cJSON_GetArraySize(list), 2);
	ck_assert_str_eq(cJSON_GetArrayItem(list, 0)->valuestring, value);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 1), "deep")->valuestring,
		value);
	char title[256];
	snprintf(title, sizeof(title), "Say %s", value);
	ck_assert_str_eq(cJSON_GetObjectItem(task_of(j, "speak"), "title")->valuestring, title);
	/* Member names are not values: left as they are. */
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(cJSON_GetObjectItem(task_of(j, "speak"), "meta"),
		"${text}"));
	/* The injected "x" member did not become a field. */
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(task_of(j, "speak"), "inputs")), 4);
	cJSON_Delete(j);
	cog_plan_free(plan);
}
END_TEST

START_TEST(test_defaults_and_required)
{
	const char *dir = make_dir("t");
	write_file(dir, "run.json",
		"{\"name\":\"run\","
		"\"patterns\":[\"^run(?: (?<what>\\\\w+))?(?: as (?<who>\\\\w+))?$\"],"
		"\"params\":{\"what\":{\"required\":true},\"who\":{\"default\":\"nobody\"},"
		"\"note\":{}},"
		"\"tasks\":[{\"id\":\"go\",\"inputs\":{\"what\":\"${what}\",\"who\":\"${who}\","
		"\"note\":\"[${note}]\"}}]}");
	ck_assert_int_eq(cog_ctx_add_template_dir(ctx, dir), 0);
	cog_plan *plan = plan_for("run tests");
	cJSON *j = plan_json(plan);
	ck_assert_str_eq(input_of(j, "go", "what"), "tests");
	ck_assert_str_eq(input_of(j, "go", "who"), "nobody");
	ck_assert_str_eq(input_of(j, "go", "note"), "[]");
	cJSON_Delete(j);
	cog_plan_free(plan);

	plan = plan_for("run tests as root");
	j = plan_json(plan);
	ck_assert_str_eq(input_of(j, "go", "who"), "root");
	cJSON_Delete(j);
	cog_plan_free(plan);

	plan = NULL;
	expect_error(cog_plan_from_goal(&plan, ctx, "run"), COG_EINVAL,
		"required parameter 'what'");
	ck_assert_ptr_null(plan);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "run.json"));
}
END_TEST

/* ---- where templates come from ---- */

START_TEST(test_dir_order)
{
	const char *one = make_dir("one"), *two = make_dir("two");
	write_simple(one, "a.json", "alpha", "hello", "from_one");
	write_simple(two, "b.json", "beta", "hello", "from_two");
	ck_assert_int_eq(cog_ctx_add_template_dir(ctx, two), 0);
	ck_assert_int_eq(cog_ctx_add_template_dir(ctx, one), 0);
	cog_plan *plan = plan_for("hello");
	ck_assert_str_eq(first_task_id(plan), "from_two");
	cog_plan_free(plan);

	cog_ctx *other = NULL;
	ck_assert_int_eq(cog_ctx_new(&other, NULL), 0);
	ck_assert_int_eq(cog_ctx_add_template_dir(other, one), 0);
	ck_assert_int_eq(cog_ctx_add_template_dir(other, two), 0);
	ck_assert_int_eq(cog_plan_from_goal(&plan, other, "hello"), 0);
	ck_assert_str_eq(first_task_id(plan), "from_one");
	cog_plan_free(plan);
	cog_ctx_free(other);
}
END_TEST

/* A relative directory is resolved when added: a later chdir() of the host
 * does not move it. */
START_TEST(test_relative_dir)
{
	const char *dir = make_dir("rel");
	write_simple(dir, "r.json", "rel", "^relative$", "relative");
	char cwd[1024];
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(tmp_root), 0);
	ck_assert_int_eq(cog_ctx_add_template_dir(ctx, "rel"), 0);
	ck_assert_int_eq(chdir("/"), 0);
	cog_plan *plan = plan_for("relative");
	ck_assert_str_eq(first_task_id(plan), "relative");
	cog_plan_free(plan);
	ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

START_TEST(test_files_in_name_order_and_shadowing)
{
	const char *one = make_dir("one"), *two = make_dir("two");
	write_simple(one, "20-late.json", "late", "hello", "late");
	write_simple(one, "10-early.json", "early", "hel+o", "early");
	write_file(one, "notes.txt", "not a template");
	write_file(one, ".hidden.json", "{ broken");
	/* Same name as a template in `two`: overrides it, even if it would not
	 * match. */
	write_simple(one, "30-greet.json", "greet", "nothing matches this", "overridden");
	write_simple(two, "greet.json", "greet", "^greet$", "shadowed");
	ck_assert_int_eq(cog_ctx_add_template_dir(ctx, one), 0);
	ck_assert_int_eq(cog_ctx_add_template_dir(ctx, two), 0);
	cog_plan *plan = plan_for("hello");
	ck_assert_str_eq(first_task_id(plan), "early");
	cog_plan_free(plan);
	plan = NULL;
	expect_error(cog_plan_from_goal(&plan, ctx, "greet"), COG_ENOTFOUND,
		"none of 3 templates matched");
}
END_TEST

START_TEST(test_template_path)
{
	const char *host = make_dir("host"), *p1 = make_dir("p1"), *p2 = make_dir("p2");
	write_simple(host, "h.json", "host", "^hosted$", "from_host");
	write_simple(p1, "x.json", "x1", "^(?:hello|hosted)$", "from_p1");
	write_simple(p2, "y.json", "y2", "^(?:hello|bye)$", "from_p2");
	char path[512];
	snprintf(path, sizeof(path), "%s/missing::%s:%s", tmp_root, p2, p1);
	setenv("COG_TEMPLATE_PATH", path, 1);
	cog_plan *plan = plan_for("hello");
	ck_assert_str_eq(first_task_id(plan), "from_p2");
	cog_plan_free(plan);
	/* Host directories come before the path. */
	ck_assert_int_eq(cog_ctx_add_template_dir(ctx, host), 0);
	plan = plan_for("hosted");
	ck_assert_str_eq(first_task_id(plan), "from_host");
	cog_plan_free(plan);
	/* The installed directory comes last. */
	const char *installed = make_dir("installed");
	write_simple(installed, "z.json", "z", "^(?:bye|zed)$", "from_installed");
	setenv("COG_TEMPLATE_DIR", installed, 1);
	plan = plan_for("bye");
	ck_assert_str_eq(first_task_id(plan), "from_p2");
	cog_plan_free(plan);
	plan = plan_for("zed");
	ck_assert_str_eq(first_task_id(plan), "from_installed");
	cog_plan_free(plan);
}
END_TEST

START_TEST(test_not_found)
{
	const char *dir = make_dir("t");
	write_simple(dir, "a.json", "a", "^apples$", "a");
	write_simple(dir, "b.json", "b", "^bananas$", "b");
	ck_assert_int_eq(cog_ctx_add_template_dir(ctx, dir), 0);
	cog_plan *plan = NULL;
	expect_error(cog_plan_from_goal(&plan, ctx, "cherries"), COG_ENOTFOUND,
		"none of 2 templates matched \"cherries\"");
	ck_assert_ptr_null(plan);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "cog_plan_from_goal"));

	/* No templates at all. */
	cog_ctx *bare = NULL;
	ck_assert_int_eq(cog_ctx_new(&bare, NULL), 0);
	expect_error(cog_plan_from_goal(&plan, bare, "cherries"), COG_ENOTFOUND,
		"none of 0 templates");
	cog_ctx_free(bare);

	expect_error(cog_plan_from_goal(&plan, ctx, " \t"), COG_EINVAL, "empty");
	expect_error(cog_plan_from_goal(&plan, ctx, "bad \xff utf-8"), COG_EINVAL, "UTF-8");
	expect_error(cog_plan_from_goal(&plan, ctx, NULL), COG_EINVAL, "goal");
	expect_error(cog_plan_from_goal(NULL, ctx, "x"), COG_EINVAL, "out");
}
END_TEST

/* ---- broken templates ---- */

START_TEST(test_broken_json)
{
	const char *good = make_dir("good"), *bad = make_dir("bad");
	write_simple(good, "a.json", "a", "^apples$", "a");
	/* Byte 29 is where the JSON goes wrong (the missing comma). */
	write_file(bad, "broken.json", "{\"name\":\"b\",\"patterns\":[\"x\"] \"tasks\":[]}");
	ck_assert_int_eq(cog_ctx_add_template_dir(ctx, good), 0);
	expect_error(cog_ctx_add_template_dir(ctx, bad), COG_EINVAL, "broken.json");
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "byte 29"));
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "cog_ctx_add_template_dir"));

	/* Through COG_TEMPLATE_PATH it is found when planning, and reported
	 * even though another template would match. */
	setenv("COG_TEMPLATE_PATH", bad, 1);
	cog_plan *plan = NULL;
	expect_error(cog_plan_from_goal(&plan, ctx, "apples"), COG_EINVAL, "broken.json");
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "byte 29"));
	char *json = NULL;
	expect_error(cog_ctx_list_templates(ctx, &json), COG_EINVAL, "broken.json");
	ck_assert_ptr_null(json);
}
END_TEST

static void expect_bad_template(const char *text, int code, const char *part)
{
	const char *dir = make_dir("bad");
	write_file(dir, "t.json", text);
	int rc = cog_ctx_add_template_dir(ctx, dir);
	expect_error(rc, code, part);
	ck_assert_msg(strstr(cog_error_last(), "t.json"), "no file name: %s", cog_error_last());
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_broken_templates)
{
	expect_bad_template("[1,2]", COG_EINVAL, "must be a JSON object");
	expect_bad_template("{\"patterns\":[\"x\"],\"tasks\":[{\"id\":\"a\"}]}", COG_EINVAL,
		"\"name\"");
	expect_bad_template("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\"}]}", COG_EINVAL,
		"\"patterns\"");
	expect_bad_template("{\"name\":\"t\",\"patterns\":[\"(unclosed\"],"
		"\"tasks\":[{\"id\":\"a\"}]}", COG_EINVAL,
		"patterns[0] does not compile at offset 9");
	expect_bad_template("{\"name\":\"t\",\"patterns\":[\"(?<who>x)\"],"
		"\"tasks\":[{\"id\":\"a\"}]}", COG_EINVAL, "(?<who>...)");
	expect_bad_template("{\"name\":\"t\",\"patterns\":[\"x\"],\"tasks\":[{\"id\":\"a\","
		"\"title\":\"${nope}\"}]}", COG_EINVAL, "unknown placeholder ${nope}");
	expect_bad_template("{\"name\":\"t\",\"patterns\":[\"x\"],\"tasks\":[{\"id\":\"a\","
		"\"title\":\"${open\"}]}", COG_EINVAL, "unterminated placeholder");
	expect_bad_template("{\"name\":\"t\",\"patterns\":[\"x\"],\"tasks\":[]}", COG_EINVAL,
		"\"tasks\"");
	expect_bad_template("{\"name\":\"t\",\"patterns\":[\"x\"],\"tasks\":[{\"id\":\"a\","
		"\"colour\":\"red\"}]}", COG_EINVAL, "unknown field \"colour\"");
	expect_bad_template("{\"name\":\"t\",\"patterns\":[\"x\"],\"tasks\":[{\"id\":\"a\","
		"\"depends_on\":[\"b\"]},{\"id\":\"b\",\"depends_on\":[\"a\"]}]}", COG_ECYCLE,
		"makes an invalid plan");
	expect_bad_template("{\"name\":\"t\",\"patterns\":[\"x\"],\"frob\":1,"
		"\"tasks\":[{\"id\":\"a\"}]}", COG_EINVAL, "unknown field \"frob\"");
	expect_bad_template("{\"name\":\"t\",\"patterns\":[\"x\"],\"params\":{\"goal\":{}},"
		"\"tasks\":[{\"id\":\"a\"}]}", COG_EINVAL, "built in");
	expect_bad_template("{\"name\":\"t\",\"patterns\":[\"x\"],"
		"\"params\":{\"p\":{\"required\":true,\"default\":\"v\"}},"
		"\"tasks\":[{\"id\":\"a\"}]}", COG_EINVAL, "choose one");
	expect_bad_template("{\"name\":\"t\",\"patterns\":[\"x\"],\"budget\":{\"max_cost\":1},"
		"\"tasks\":[{\"id\":\"a\",\"estimate\":{\"cost\":2}}]}", COG_EBUDGET, "t.json");
}
END_TEST

START_TEST(test_add_dir_errors)
{
	char missing[128];
	snprintf(missing, sizeof(missing), "%s/nope", tmp_root);
	expect_error(cog_ctx_add_template_dir(ctx, missing), COG_ENOTFOUND, "nope");
	const char *dir = make_dir("d");
	write_file(dir, "file", "x");
	char file[256];
	snprintf(file, sizeof(file), "%s/file", dir);
	expect_error(cog_ctx_add_template_dir(ctx, file), COG_EINVAL, "not a directory");
	expect_error(cog_ctx_add_template_dir(ctx, ""), COG_EINVAL, "empty");
	expect_error(cog_ctx_add_template_dir(NULL, dir), COG_EINVAL, "ctx");
	/* A directory deleted after it was added is an error, not an empty
	 * directory. */
	ck_assert_int_eq(cog_ctx_add_template_dir(ctx, dir), 0);
	ck_assert_int_eq(unlink(file), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	cog_plan *plan = NULL;
	expect_error(cog_plan_from_goal(&plan, ctx, "x"), COG_ENOTFOUND, "template directory");
}
END_TEST

START_TEST(test_runaway_pattern)
{
	const char *dir = make_dir("t");
	write_simple(dir, "slow.json", "slow", "^(\\\\w+\\\\s?)*$", "slow");
	ck_assert_int_eq(cog_ctx_add_template_dir(ctx, dir), 0);
	char goal[128];
	memset(goal, 'a', 60);
	strcpy(goal + 60, "!");
	cog_plan *plan = NULL;
	expect_error(cog_plan_from_goal(&plan, ctx, goal), COG_EINVAL, "limit");
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "slow.json"));
}
END_TEST

/* ---- listing ---- */

START_TEST(test_list)
{
	const char *dir = make_dir("t");
	write_simple(dir, "a.json", "apples", "^apples$", "a");
	ck_assert_int_eq(cog_ctx_add_template_dir(ctx, dir), 0);
	setenv("COG_TEMPLATE_PATH", shipped_dir(), 1);
	char *json = NULL;
	ck_assert_int_eq(cog_ctx_list_templates(ctx, &json), 0);
	cJSON *list = cJSON_Parse(json);
	ck_assert(cJSON_IsArray(list));
	ck_assert_int_eq(cJSON_GetArraySize(list), 4);
	static const char *const names[] = { "apples", "data-analysis", "research-report",
		"web-app" };
	for (int i = 0; i < 4; i++) {
		const cJSON *t = cJSON_GetArrayItem(list, i);
		ck_assert_str_eq(cJSON_GetObjectItem(t, "name")->valuestring, names[i]);
		ck_assert(cJSON_IsString(cJSON_GetObjectItem(t, "description")));
		ck_assert(cJSON_IsString(cJSON_GetObjectItem(t, "pattern")));
		ck_assert(cJSON_IsString(cJSON_GetObjectItem(t, "file")));
		ck_assert(cJSON_IsArray(cJSON_GetObjectItem(t, "patterns")));
		ck_assert(cJSON_IsObject(cJSON_GetObjectItem(t, "params")));
		ck_assert_int_ge(cJSON_GetObjectItem(t, "tasks")->valueint, 1);
	}
	const cJSON *da = cJSON_GetArrayItem(list, 1);
	ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(da, "file")->valuestring,
		"data-analysis.json"));
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(da,
		"params"), "file"), "required")));
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(da,
		"params"), "report"), "default")->valuestring, "work/report.md");
	cJSON_Delete(list);
	cog_free(json);
	expect_error(cog_ctx_list_templates(ctx, NULL), COG_EINVAL, "json");
}
END_TEST

static Suite *template_suite(void)
{
	Suite *s = suite_create("template");
	TCase *tc = tcase_create("shipped");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_data_analysis);
	tcase_add_test(tc, test_web_app);
	tcase_add_test(tc, test_research_report);
	tcase_add_test(tc, test_shipped_shapes);
	suite_add_tcase(s, tc);

	tc = tcase_create("parameters");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_values_escaped);
	tcase_add_test(tc, test_defaults_and_required);
	suite_add_tcase(s, tc);

	tc = tcase_create("search");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_dir_order);
	tcase_add_test(tc, test_relative_dir);
	tcase_add_test(tc, test_files_in_name_order_and_shadowing);
	tcase_add_test(tc, test_template_path);
	tcase_add_test(tc, test_not_found);
	suite_add_tcase(s, tc);

	tc = tcase_create("broken");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_broken_json);
	tcase_add_test(tc, test_broken_templates);
	tcase_add_test(tc, test_add_dir_errors);
	tcase_add_test(tc, test_runaway_pattern);
	suite_add_tcase(s, tc);

	tc = tcase_create("list");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_list);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(template_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
