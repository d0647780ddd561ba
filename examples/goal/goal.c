/*
 * The smallest host that plans and runs a goal. Usage:
 *   goal-host TEMPLATE_DIR WORKSPACE DB "look into data/sales.csv"
 * The template planner turns the goal into a plan of tool tasks
 * (templates/look-into.json), the agent executor runs them in WORKSPACE,
 * and every step is journaled in the SQLite file DB.
 */
#include <stdio.h>

#include <cognition.h>
#include <cognition/sqlite.h>

static int fail(cog_ctx *ctx, cog_plan *plan, const char *what)
{
	fprintf(stderr, "goal-host: %s: %s (%s)\n", what, cog_error_last(),
		cog_strerror(cog_error_last_code()));
	cog_plan_free(plan);
	cog_ctx_free(ctx);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s TEMPLATE_DIR WORKSPACE DB GOAL\n", argv[0]);
		return 2;
	}
	cog_ctx *ctx = NULL;
	cog_plan *plan = NULL;
	cog_storage *storage = NULL;
	char *status = NULL;

	if (cog_ctx_new(&ctx, NULL) != 0)
		return fail(NULL, NULL, "creating the context");
	if (cog_sqlite_storage_open(&storage, argv[3], NULL) != 0 ||
	    cog_ctx_set_storage(ctx, storage) != 0) /* the context owns it now */
		return fail(ctx, NULL, "opening the database");
	/* The tools the template's tasks use, and the folder they work in. */
	if (cog_tool_define_builtins(ctx, NULL) != 0 ||
	    cog_tool_set_workspace(ctx, argv[2]) != 0)
		return fail(ctx, NULL, "setting up the tools");
	/* Tool tasks go to the tool layer, "llm" tasks to an agent. */
	if (cog_ctx_set_task_executor(ctx, cog_task_run_agent, NULL) != 0)
		return fail(ctx, NULL, "setting the executor");
	if (cog_ctx_add_template_dir(ctx, argv[1]) != 0 ||
	    cog_plan_from_goal(&plan, ctx, argv[4]) != 0)
		return fail(ctx, NULL, "planning the goal");

	int rc = cog_plan_run(plan, NULL);
	if (cog_plan_status(plan, &status) != 0)
		return fail(ctx, plan, "reading the status");
	printf("%s\n", status); /* every task's state and result, as JSON */
	if (rc != 0)
		fprintf(stderr, "goal-host: run: %s\n", cog_error_last());
	cog_free(status);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
	return rc == 0 ? 0 : 1;
}
