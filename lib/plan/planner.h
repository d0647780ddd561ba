/*
 * Private interface of the planners of lib/plan: functions that turn a goal
 * into a plan. cog_plan_from_goal() (planner.c) tries them in a fixed order
 * (the LLM planner when the context has an LLM, then the templates) and
 * validates what the first willing one produces. Not installed.
 */
#ifndef COG_PLANNER_H
#define COG_PLANNER_H

#include "plan_int.h"

/*
 * A planner. Returns 0 with *out set to a new plan whose goal is `goal`;
 * COG_ENOTFOUND with a short message (e.g. "none of 3 templates matched")
 * when it has nothing for this goal, so that the next planner is tried; any
 * other status is a failure (see planner.c for which ones stop the search).
 * `goal` is non-empty, valid UTF-8. The caller validates the plan.
 */
typedef int (*plan_planner_fn)(cog_plan **out, cog_ctx *ctx, const char *goal);

typedef struct plan_planner {
	const char *name;   /* "template", "llm": used in messages */
	plan_planner_fn plan;
	/* A failure other than COG_ENOTFOUND and COG_ECANCELED is logged as a
	 * warning and the next planner is tried (the LLM planner: a model or an
	 * endpoint failing must not leave the host without the templates). */
	bool falls_back;
} plan_planner;

/* template.c: plans from the template files (see cog_ctx_add_template_dir). */
int plan_template_planner(cog_plan **out, cog_ctx *ctx, const char *goal);

/*
 * planner_llm.c: asks the context's router (role "planner") for a plan as
 * JSON against plan_llm_schema (the router re-asks while the answer does
 * not match it), reads it with cog_plan_from_json() and checks it with
 * cog_plan_validate(); a plan that fails there is sent back with the
 * message, up to PLAN_LLM_REPAIRS times. Returns a validated plan;
 * COG_ENOTFOUND when the context has no LLM endpoint; COG_ESCHEMA (the
 * answers never matched the schema) or the last validation status
 * (COG_ECYCLE, COG_ENOTFOUND, COG_EINVAL, COG_ESCHEMA, COG_EBUDGET) naming
 * what was wrong; COG_ECANCELED; the router's errors.
 */
int plan_llm_planner(cog_plan **out, cog_ctx *ctx, const char *goal);

/* How many times the LLM planner sends an invalid graph back. */
#define PLAN_LLM_REPAIRS 2
/* The most tasks the schema lets a model plan. */
#define PLAN_LLM_MAX_TASKS 100

#define PLAN_LLM_STR_(x) #x
#define PLAN_LLM_STR(x) PLAN_LLM_STR_(x)

/* plan_schema.c: the JSON Schema of the LLM planner's answers (JSON text). */
extern const char plan_llm_schema[];

#endif /* COG_PLANNER_H */
