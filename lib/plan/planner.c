/* cog_plan_from_goal: ask the planners in order; the first willing one wins. */
#include <stdio.h>
#include <string.h>

#include "cognition/llm.h"
#include "planner.h"

static bool llm_available(cog_ctx *ctx)
{
	return cog_llm_available(ctx) != 0;
}

/* In order of preference. With an LLM the plan fits the goal rather than
 * the nearest template, so the LLM planner goes first when the context has
 * one; when it fails (the endpoint is down, the model cannot produce a
 * valid plan) the templates still serve. */
static const struct {
	plan_planner planner;
	bool (*available)(cog_ctx *ctx);   /* NULL: always */
} planners[] = {
	{ { "llm", plan_llm_planner, true }, llm_available },
	{ { "template", plan_template_planner, false }, NULL },
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

	/* Why each planner declined or failed, for the final message; the
	 * status of the first that failed outright (0: all declined). */
	cog_buf why = COG_BUF_INIT;
	int failed = COG_OK;
	for (size_t p = 0; p < COG_ARRAY_LEN(planners); p++) {
		const plan_planner *pl = &planners[p].planner;
		if (planners[p].available && !planners[p].available(ctx))
			continue;
		cog_plan *plan = NULL;
		int rc = pl->plan(&plan, ctx, goal);
		if (rc == COG_ENOTFOUND && !pl->falls_back) {
			cog_buf_printf(&why, "%s%s planner: %s", why.len ? "; " : "", pl->name,
				cog_error_last());
			continue;
		}
		if (rc && pl->falls_back && rc != COG_ECANCELED && !cog_ctx_is_canceled(ctx)) {
			char message[1024];
			snprintf(message, sizeof(message), "%s", cog_error_last());
			cog__log(ctx, COG_LOG_WARN, NULL, "%s: the %s planner failed, trying the "
				"next one: %s", fn, pl->name, message);
			/* "llm planner failed: <what>", not "...failed: llm planner: <what>" */
			char prefix[32];
			snprintf(prefix, sizeof(prefix), "%s planner: ", pl->name);
			const char *what = message;
			if (strncmp(what, prefix, strlen(prefix)) == 0)
				what += strlen(prefix);
			cog_buf_printf(&why, "%s%s planner failed: %s", why.len ? "; " : "",
				pl->name, what);
			if (!failed)
				failed = rc;
			continue;
		}
		if (rc) {
			cog_buf_dispose(&why);
			if (rc != COG_ECANCELED && cog_ctx_is_canceled(ctx))
				return cog__error_wrap(COG_ECANCELED, "%s: canceled", fn);
			return rc;
		}
		cog_buf_dispose(&why);
		if ((rc = cog_plan_validate(plan))) {
			cog_plan_free(plan);
			return cog__error_wrap(rc, "%s: the %s planner made an invalid plan",
				fn, pl->name);
		}
		*out = plan;
		return COG_OK;
	}
	int rc = cog__error(failed ? failed : COG_ENOTFOUND,
		"%s: no planner could plan the goal (%s)", fn,
		why.ptr && !why.failed ? why.ptr : "no planners");
	cog_buf_dispose(&why);
	return rc;
}
