/*
 * Private interface of the planners of lib/plan: functions that turn a goal
 * into a plan. cog_plan_from_goal() (planner.c) tries them in a fixed order
 * (templates first; the LLM planner will follow) and validates what the
 * first willing one produces. Not installed.
 */
#ifndef COG_PLANNER_H
#define COG_PLANNER_H

#include "plan_int.h"

/*
 * A planner. Returns 0 with *out set to a new plan whose goal is `goal`;
 * COG_ENOTFOUND with a short message (e.g. "none of 3 templates matched")
 * when it has nothing for this goal, so that the next planner is tried; any
 * other status stops the search and is returned to the host as it is.
 * `goal` is non-empty, valid UTF-8. The caller validates the plan.
 */
typedef int (*plan_planner_fn)(cog_plan **out, cog_ctx *ctx, const char *goal);

typedef struct plan_planner {
	const char *name;   /* "template", "llm": used in messages */
	plan_planner_fn plan;
} plan_planner;

/* template.c: plans from the template files (see cog_ctx_add_template_dir). */
int plan_template_planner(cog_plan **out, cog_ctx *ctx, const char *goal);

#endif /* COG_PLANNER_H */
