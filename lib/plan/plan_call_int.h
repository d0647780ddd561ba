/*
 * What the modules beside plan (the agent executor) may read of one task
 * attempt beyond the public cog_task_call accessors: the plan's budget and
 * when its run started, and the attempt's inputs with their references to
 * dependencies' results filled in. Not installed.
 */
#ifndef COG_PLAN_CALL_INT_H
#define COG_PLAN_CALL_INT_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "cognition/plan.h"

typedef struct cog__plan_budget {
	double max_tokens;        /* 0: unlimited */
	double max_cost;
	double max_duration_ms;
	int64_t run_started_ms;   /* wall clock at the start of this run */
} cog__plan_budget;

/* The context the plan runs under. */
cog_ctx *cog__task_call_ctx(const cog_task_call *call);
void cog__task_call_plan_budget(const cog_task_call *call, cog__plan_budget *out);
/* The plan's goal (borrowed). */
const char *cog__task_call_goal(const cog_task_call *call);
/* The task's kind ("host", "tool", "llm", "step"; borrowed). */
const char *cog__task_call_kind(const cog_task_call *call);
/* The task's title, or NULL (borrowed). */
const char *cog__task_call_title(const cog_task_call *call);
/* The task's "capabilities" array, or NULL (borrowed, read-only). */
const cJSON *cog__task_call_capabilities(const cog_task_call *call);
/* A copy of the attempt's inputs with {"$from"} references resolved
 * (*out NULL when the task has none). COG_EINVAL naming the reference. */
int cog__task_call_inputs(cog_task_call *call, cJSON **out);
/* The dependencies as [{"task":"id","result":<JSON>}] (a new array). */
cJSON *cog__task_call_dependencies(const cog_task_call *call);

#endif /* COG_PLAN_CALL_INT_H */
