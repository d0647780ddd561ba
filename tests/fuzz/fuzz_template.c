/*
 * Fuzz target for the template planner (libFuzzer entry point). The first
 * byte chooses what the rest is:
 * - bit 0 clear: a goal, given to cog_plan_from_goal() on a context that
 *   sees only the bundled templates (lib/plan/templates): the goal is
 *   matched against every template's patterns, a match instantiates the
 *   template with the captured parameters, the plan is validated;
 * - bit 0 set: a template file, then a NUL byte, then a goal: the file is
 *   written to a directory of its own, cog_ctx_add_template_dir() loads and
 *   checks it, and when it loads, the goal is planned from it.
 * Besides not crashing or leaking, it checks that a plan the planner
 * returns for the goal says that goal and exports.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core_int.h"
#include "cognition/plan.h"

#ifndef FUZZ_TEMPLATE_DIR
#error "FUZZ_TEMPLATE_DIR (the bundled templates) must be defined"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cog_ctx *bundled;     /* sees lib/plan/templates only */
static char own_dir[64];     /* the fuzzed template file's directory */
static char own_file[96];

static void remove_own(void)
{
	unlink(own_file);
	rmdir(own_dir);
}

static void setup(void)
{
	/* No installed templates, no $COG_TEMPLATE_PATH: only ours. */
	setenv("COG_TEMPLATE_DIR", "", 1);
	unsetenv("COG_TEMPLATE_PATH");
	if (cog_ctx_new(&bundled, NULL) != COG_OK ||
	    cog_ctx_add_template_dir(bundled, FUZZ_TEMPLATE_DIR) != COG_OK)
		abort();
	const char *tmp = getenv("TMPDIR");
	snprintf(own_dir, sizeof(own_dir), "%.40s/fuzz-tpl-XXXXXX",
	         tmp && *tmp && strlen(tmp) <= 40 ? tmp : "/tmp");
	if (!mkdtemp(own_dir))
		abort();
	snprintf(own_file, sizeof(own_file), "%s/fuzz.json", own_dir);
	atexit(remove_own);
}

static void plan_goal(cog_ctx *ctx, const char *goal)
{
	cog_plan *plan = NULL;
	if (cog_plan_from_goal(&plan, ctx, goal) != COG_OK)
		return;
	if (strcmp(cog_plan_goal(plan), goal) != 0)
		abort();  /* the plan is for another goal */
	char *text = NULL;
	if (cog_plan_export(plan, COG_PLAN_FORMAT_JSON, &text) == COG_OK)
		cog_free(text);
	cog_plan_free(plan);
}

static void own_template(const char *file, size_t file_len, const char *goal)
{
	FILE *f = fopen(own_file, "wb");
	if (!f)
		abort();
	if (fwrite(file, 1, file_len, f) != file_len || fclose(f) != 0)
		abort();
	cog_ctx *ctx = NULL;
	if (cog_ctx_new(&ctx, NULL) != COG_OK)
		abort();
	if (cog_ctx_add_template_dir(ctx, own_dir) == COG_OK) {
		char *list = NULL;
		if (cog_ctx_list_templates(ctx, &list) == COG_OK)
			cog_free(list);
		plan_goal(ctx, goal);
	}
	cog_ctx_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!bundled)
		setup();
	if (size < 1)
		return 0;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	if (!(data[0] & 1)) {
		char *goal = cog__strndup(text, len);
		if (!goal)
			abort();
		plan_goal(bundled, goal);
		cog_free(goal);
		return 0;
	}
	const char *nul = memchr(text, '\0', len);
	size_t file_len = nul ? (size_t)(nul - text) : len;
	char *goal = nul ? cog__strndup(nul + 1, len - file_len - 1) : cog__strdup("");
	if (!goal)
		abort();
	own_template(text, file_len, goal);
	cog_free(goal);
	return 0;
}
