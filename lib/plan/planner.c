/* cog_plan_from_goal: ask the planners in order; the first willing one wins. */
#include <string.h>

#include "planner.h"

/* In order of preference: a template is cheap and predictable; the LLM
 * planner (a later release) goes after it. */
static const plan_planner planners[] = {
	{ "template", plan_template_planner },
};

int cog_plan_from_goal(cog_plan **out, cog_ctx *ctx, const char *goal)
{
	static const char fn[] = "cog_plan_from_goal";
	COG_CHECK_ARG(out, fn, "out is NULL");
	*out = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(goal, fn, "goal is NULL");
	size_t len = strlen(goal), bad;
	if (!cog_utf8_valid(goal, len, &bad))
		return cog__error(COG_EINVAL, "%s: goal is not valid UTF-8 (byte %zu)", fn, bad);
	size_t i = 0;
	while (i < len && strchr(" \t\r\n", goal[i]))
		i++;
	if (i == len)
		return cog__error(COG_EINVAL, "%s: goal is empty", fn);

	/* Why each planner declined, for the final message. */
	cog_buf why = COG_BUF_INIT;
	for (size_t p = 0; p < COG_ARRAY_LEN(planners); p++) {
		cog_plan *plan = NULL;
		int rc = planners[p].plan(&plan, ctx, goal);
		if (rc == COG_ENOTFOUND) {
			cog_buf_printf(&why, "%s%s planner: %s", why.len ? "; " : "",
				planners[p].name, cog_error_last());
			continue;
		}
		if (rc) {
			cog_buf_dispose(&why);
			return rc;
		}
		cog_buf_dispose(&why);
		if ((rc = cog_plan_validate(plan))) {
			cog_plan_free(plan);
			return cog__error_wrap(rc, "%s: the %s planner made an invalid plan",
				fn, planners[p].name);
		}
		*out = plan;
		return COG_OK;
	}
	int rc = cog__error(COG_ENOTFOUND, "%s: no planner could plan the goal (%s)", fn,
		why.ptr && !why.failed ? why.ptr : "no planners");
	cog_buf_dispose(&why);
	return rc;
}
