/*
 * Fuzz target for plan JSON (libFuzzer entry point): cog_plan_from_json(),
 * then cog_plan_validate() and cog_plan_analyze() on what it accepts, and
 * the three exports. The first byte chooses the context: bit 0 set, one
 * with the built-in file tools defined (tool tasks are then checked
 * against their input schemas), else one with no tools. Besides not
 * crashing or leaking, it checks the promise of plan.h that the JSON
 * export round-trips exactly: the exported text read back exports the
 * same text.
 */
#include <stdlib.h>
#include <string.h>

#include "core_int.h"
#include "cognition/plan.h"
#include "cognition/tool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cog_ctx *contexts[2];

static cog_ctx *context(int with_tools)
{
	if (contexts[with_tools])
		return contexts[with_tools];
	cog_ctx *ctx = NULL;
	if (cog_ctx_new(&ctx, NULL) != COG_OK)
		abort();
	if (with_tools && cog_tool_define_builtins(ctx, "file_*") != COG_OK)
		abort();
	contexts[with_tools] = ctx;
	return ctx;
}

static void round_trip(cog_plan *plan, cog_ctx *ctx)
{
	char *first = NULL;
	if (cog_plan_export(plan, COG_PLAN_FORMAT_JSON, &first) != COG_OK)
		return;   /* out of memory */
	cog_plan *again = NULL;
	if (cog_plan_from_json(&again, ctx, first) != COG_OK)
		abort();  /* our own export is not read back */
	char *second = NULL;
	if (cog_plan_export(again, COG_PLAN_FORMAT_JSON, &second) == COG_OK &&
	    strcmp(first, second) != 0)
		abort();  /* the round trip changed the plan */
	cog_free(second);
	cog_plan_free(again);
	cog_free(first);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	cog_ctx *ctx = context(data[0] & 1);
	char *json = cog__strndup((const char *)data + 1, size - 1);
	if (!json)
		abort();
	cog_plan *plan = NULL;
	if (cog_plan_from_json(&plan, ctx, json) == COG_OK) {
		round_trip(plan, ctx);
		char *text = NULL;
		if (cog_plan_validate(plan) == COG_OK) {
			if (cog_plan_analyze(plan, &text) != COG_OK)
				abort();  /* validated, yet not analyzable */
			cog_free(text);
			text = NULL;
		}
		for (int format = COG_PLAN_FORMAT_DOT; format <= COG_PLAN_FORMAT_MERMAID;
		     format++) {
			if (cog_plan_export(plan, format, &text) == COG_OK)
				cog_free(text);
			text = NULL;
		}
		cog_plan_free(plan);
	}
	cog_free(json);
	return 0;
}
