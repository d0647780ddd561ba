/* Helpers shared by the sandbox integration tests. */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sandbox_test.h"

char *sbt_mkdtemp(void)
{
	char *path = strdup("/tmp/cog-sandbox-test-XXXXXX");
	ck_assert_ptr_nonnull(path);
	ck_assert_msg(mkdtemp(path) != NULL, "mkdtemp: %s", strerror(errno));
	return path;
}

static int remove_entry(const char *path, const struct stat *st, int type,
                        struct FTW *ftw)
{
	(void)st; (void)type; (void)ftw;
	remove(path);
	return 0;
}

void sbt_rmtree(char *path)
{
	if (!path)
		return;
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(path);
}

void sbt_write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

int sbt_exists(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return lstat(path, &st) == 0;
}

void sbt_sh_options(cog_sandbox_options *o, const char *script)
{
	static const char *argv[4];
	argv[0] = "/bin/sh";
	argv[1] = "-c";
	argv[2] = script;
	argv[3] = NULL;
	ck_assert_int_eq(cog_sandbox_options_init(o, COG_SANDBOX_OPTIONS_VERSION), 0);
	o->argv = argv;
	o->timeout_ms = 20000;
}

void sbt_run_ok(const cog_sandbox_options *o, cog_sandbox_result *r)
{
	cog_sandbox_result init = COG_SANDBOX_RESULT_INIT;
	*r = init;
	int rc = cog_sandbox_run(NULL, o, r);
	ck_assert_msg(rc == 0, "cog_sandbox_run: %d %s", rc, cog_error_last());
}

uint64_t sbt_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void sbt_require_python3(void)
{
	ck_assert_msg(access("/usr/bin/python3", X_OK) == 0,
		"/usr/bin/python3 is missing: install python3 (.ci/deps does)");
}

int sbt_run_suite(const char *name, const sbt_case *cases, size_t count)
{
	Suite *s = suite_create(name);
	for (size_t i = 0; i < count; i++) {
		TCase *tc = tcase_create(cases[i].name);
		tcase_set_timeout(tc, 120);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
