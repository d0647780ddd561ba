/*
 * A host that keeps libcognition's data in a storage backend of its own
 * (list_store.c) and runs a durable plan on it: every task transition is
 * journaled through the backend, and the finished plan is read back from
 * it as another process would after a crash.
 */
#include <stdio.h>
#include <string.h>

#include <cognition.h>

#include "list_store.h"

/* The host's task executor: "runs" a task by giving it a small result. */
static int run_task(cog_task_call *call, void *user_data)
{
	(void)user_data;
	char result[200];
	snprintf(result, sizeof(result), "{\"done\":\"%s\",\"attempt\":%u}",
		cog_task_call_task_id(call), cog_task_call_attempt(call));
	return cog_task_call_set_result(call, result);
}

static int fail(cog_ctx *ctx, cog_plan *plan, const char *what)
{
	fprintf(stderr, "storage-host: %s: %s (%s)\n", what, cog_error_last(),
		cog_strerror(cog_error_last_code()));
	cog_plan_free(plan);
	cog_ctx_free(ctx);
	return 1;
}

int main(void)
{
	cog_ctx *ctx = NULL;
	cog_plan *plan = NULL;
	cog_storage *storage = NULL;
	char *json = NULL;

	if (cog_ctx_new(&ctx, NULL) != 0)
		return fail(NULL, NULL, "creating the context");
	if (list_store_new(&storage) != 0 || cog_ctx_set_storage(ctx, storage) != 0)
		return fail(ctx, NULL, "plugging in the list store");
	cog_ctx_set_task_executor(ctx, run_task, NULL);

	const char *plan_json =
		"{\"version\":1,\"goal\":\"fetch, then transform and check, then publish\","
		" \"tasks\":[{\"id\":\"fetch\"},"
		"  {\"id\":\"transform\",\"depends_on\":[\"fetch\"]},"
		"  {\"id\":\"check\",\"depends_on\":[\"fetch\"]},"
		"  {\"id\":\"publish\",\"depends_on\":[\"transform\",\"check\"]}]}";
	if (cog_plan_from_json(&plan, ctx, plan_json) != 0)
		return fail(ctx, NULL, "reading the plan");

	/* Durable: journal through the context's storage, or fail without one. */
	cog_run_options options = COG_RUN_OPTIONS_INIT;
	options.durability = COG_DURABLE_ON;
	if (cog_plan_run(plan, &options) != 0)
		return fail(ctx, plan, "running the plan");

	/* Read the plan back from the list store alone. */
	char plan_id[COG_PLAN_ID_MAX + 1];
	snprintf(plan_id, sizeof(plan_id), "%s", cog_plan_id(plan));
	cog_plan_free(plan);
	plan = NULL;
	if (cog_plan_load(&plan, ctx, plan_id) != 0 || cog_plan_status(plan, &json) != 0)
		return fail(ctx, plan, "loading the plan back");
	printf("loaded from the list store: %s\n", json);
	cog_free(json);
	if (cog_storage_describe(cog_ctx_storage(ctx), &json) != 0)
		return fail(ctx, plan, "describing the store");
	printf("store: %s\n", json);
	cog_free(json);
	cog_plan_free(plan);
	cog_ctx_free(ctx); /* closes the list store */
	return 0;
}
