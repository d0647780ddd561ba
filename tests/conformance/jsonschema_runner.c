/*
 * Runs JSON-Schema-Test-Suite style files: arrays of groups
 * {description, schema, tests: [{description, data, valid}]}. Every test of
 * every group is its own Check test, so the pass count is the number of
 * cases that pass.
 *
 * Usage: jsonschema_runner DIR[=FLAGS]...
 *   DIR is absolute or relative to $COG_TEST_SOURCE_ROOT; every *.json in
 *   it is run. FLAGS: comma-separated "draft07", "format".
 * A missing directory, an empty one or an unreadable file fails the run.
 *
 * Each case is checked twice: stopping at the first error (errors == NULL)
 * and collecting errors; both must give the expected verdict, and an
 * invalid verdict must come with at least one error object.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_int.h"

typedef struct test_case {
	char *file;
	const cJSON *group;
	const cJSON *test;
	unsigned int flags;
} test_case;

static test_case *cases;
static size_t ncases, capcases;
static cJSON **docs;
static size_t ndocs;

/* Cases that cannot pass by design, by file and group description. */
static struct {
	const char *file, *group, *test, *why; /* test NULL: the whole group */
	int hits;
} excluded[] = {
	{ "ref.json", "remote ref, containing refs itself", NULL,
	  "$ref to the 2020-12 meta-schema on json-schema.org: remote references are a compile error (COG_EUNAVAILABLE)", 0 },
	{ "defs.json", "validate definition against metaschema", NULL,
	  "$ref to the 2020-12 meta-schema on json-schema.org: remote references are a compile error (COG_EUNAVAILABLE)", 0 },
};

static int excluded_index(const char *file, const char *group, const char *test)
{
	for (size_t i = 0; i < sizeof(excluded) / sizeof(excluded[0]); i++)
		if (strcmp(excluded[i].file, file) == 0 && strcmp(excluded[i].group, group) == 0 &&
		    (!excluded[i].test || strcmp(excluded[i].test, test) == 0))
			return (int)i;
	return -1;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *text = len >= 0 ? malloc((size_t)len + 1) : NULL;
	if (text && fread(text, 1, (size_t)len, f) != (size_t)len) {
		free(text);
		text = NULL;
	}
	if (text)
		text[len] = '\0';
	fclose(f);
	return text;
}

static void add_case(const char *file, const cJSON *group, const cJSON *test,
                     unsigned int flags)
{
	if (ncases == capcases) {
		capcases = capcases ? capcases * 2 : 256;
		cases = realloc(cases, capcases * sizeof(*cases));
		if (!cases)
			abort();
	}
	cases[ncases++] = (test_case){ strdup(file), group, test, flags };
}

static int load_file(const char *dir, const char *name, unsigned int flags)
{
	char *path;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		abort();
	char *text = read_file(path);
	if (!text) {
		fprintf(stderr, "jsonschema_runner: cannot read %s\n", path);
		free(path);
		return -1;
	}
	cJSON *doc;
	int rc = cog_json_parse(&doc, text, path);
	free(text);
	if (rc || !cJSON_IsArray(doc)) {
		fprintf(stderr, "jsonschema_runner: %s is not a test file: %s\n", path, cog_error_last());
		free(path);
		return -1;
	}
	free(path);
	docs = realloc(docs, (ndocs + 1) * sizeof(*docs));
	if (!docs)
		abort();
	docs[ndocs++] = doc;
	for (const cJSON *g = doc->child; g; g = g->next) {
		const char *desc = cog_json_get_string(g, "description");
		const cJSON *tests = cJSON_GetObjectItemCaseSensitive(g, "tests");
		for (const cJSON *t = tests ? tests->child : NULL; t; t = t->next) {
			const char *tdesc = cog_json_get_string(t, "description");
			int ex = excluded_index(name, desc ? desc : "", tdesc ? tdesc : "");
			if (ex >= 0) {
				excluded[ex].hits++;
				printf("# excluded: %s: %s: %s (%s)\n", name, desc, tdesc,
				       excluded[ex].why);
				continue;
			}
			add_case(name, g, t, flags);
		}
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(const char *spec)
{
	char arg[4096];
	snprintf(arg, sizeof(arg), "%s", spec);
	unsigned int flags = 0;
	char *eq = strchr(arg, '=');
	if (eq) {
		*eq = '\0';
		if (strstr(eq + 1, "draft07"))
			flags |= COG_SCHEMA_DRAFT_07;
		if (strstr(eq + 1, "format"))
			flags |= COG_SCHEMA_FORMAT_ASSERT;
	}
	char *dir;
	const char *root = getenv("COG_TEST_SOURCE_ROOT");
	if (asprintf(&dir, "%s%s%s", arg[0] == '/' || !root ? "" : root,
	             arg[0] == '/' || !root ? "" : "/", arg) < 0)
		abort();
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "jsonschema_runner: test data directory %s is missing "
		        "(COG_TEST_SOURCE_ROOT=%s)\n", dir, root ? root : "(unset)");
		free(dir);
		return -1;
	}
	char *names[1024];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 1024) {
		size_t len = strlen(e->d_name);
		if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0)
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	if (n == 0) {
		fprintf(stderr, "jsonschema_runner: no *.json files in %s\n", dir);
		free(dir);
		return -1;
	}
	qsort(names, n, sizeof(names[0]), by_name);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (!rc)
			rc = load_file(dir, names[i], flags);
		free(names[i]);
	}
	free(dir);
	return rc;
}

START_TEST(run_case)
{
	const test_case *tc = &cases[_i];
	const char *group = cog_json_get_string(tc->group, "description");
	const char *name = cog_json_get_string(tc->test, "description");
	const cJSON *schema_json = cJSON_GetObjectItemCaseSensitive(tc->group, "schema");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(tc->test, "data");
	bool expect = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(tc->test, "valid"));
	ck_assert_msg(schema_json && data, "%s: %s: %s: malformed case", tc->file, group, name);

	cog_schema *schema;
	int rc = cog__schema_compile(&schema, schema_json, tc->flags);
	ck_assert_msg(rc == 0, "%s: %s: %s: compile failed: %s", tc->file, group, name,
	              cog_error_last());
	rc = cog__schema_check(schema, data, NULL);
	ck_assert_msg(rc == 0 || rc == COG_ESCHEMA, "%s: %s: %s: check failed: %s",
	              tc->file, group, name, cog_error_last());
	ck_assert_msg((rc == 0) == expect, "%s: %s: %s: expected %s, got %s (%s)",
	              tc->file, group, name, expect ? "valid" : "invalid",
	              rc == 0 ? "valid" : "invalid", cog_error_last());
	cJSON *errors = NULL;
	int rc2 = cog__schema_check(schema, data, &errors);
	ck_assert_msg(rc2 == rc, "%s: %s: %s: collecting errors changed the verdict",
	              tc->file, group, name);
	ck_assert_msg(rc2 == 0 ? errors == NULL : cJSON_GetArraySize(errors) >= 1,
	              "%s: %s: %s: error list does not match the verdict", tc->file, group, name);
	cJSON_Delete(errors);
	cog_schema_free(schema);
}
END_TEST

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR[=draft07,format]...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++)
		if (load_dir(argv[i]))
			return 1;
	for (size_t i = 0; i < sizeof(excluded) / sizeof(excluded[0]); i++)
		if (excluded[i].hits)
			printf("# excluded %d case(s) of %s \"%s\"\n", excluded[i].hits,
			       excluded[i].file, excluded[i].group);
	printf("# %zu cases\n", ncases);
	Suite *s = suite_create("jsonschema");
	TCase *tc = tcase_create("cases");
	tcase_add_loop_test(tc, run_case, 0, (int)ncases);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	for (size_t i = 0; i < ncases; i++)
		free(cases[i].file);
	free(cases);
	for (size_t i = 0; i < ndocs; i++)
		cJSON_Delete(docs[i]);
	free(docs);
	return failed ? 1 : 0;
}
