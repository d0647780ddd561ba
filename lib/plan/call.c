/*
 * The executor's view of one attempt of one task (cog_task_call), and the
 * context's executor slot. A call lives on the runner's stack; anything
 * costly (the task as JSON, the idempotency key) is built only when asked
 * for, so that a no-op executor costs nothing beyond the call itself.
 */
#include <stdio.h>
#include <string.h>

#include "run_int.h"
#include "plan_call_int.h"

int cog_ctx_set_task_executor(cog_ctx *ctx, cog_task_executor_fn fn, void *user_data)
{
	COG_CHECK_ARG(ctx, "cog_ctx_set_task_executor", "ctx is NULL");
	cog__ctx_set_executor(ctx, (cog__fn)fn, fn ? user_data : NULL);
	return COG_OK;
}

const char *cog_task_call_plan_id(const cog_task_call *call)
{
	return call ? call->run->plan->id : "";
}

const char *cog_task_call_task_id(const cog_task_call *call)
{
	return call ? call->task->id : "";
}

const char *cog_task_call_task(cog_task_call *call)
{
	if (!call)
		return NULL;
	if (!call->task_json) {
		/* Reads only the task's definition, which no one changes while
		 * the plan runs: safe on any worker. */
		cJSON *o = plan_task_to_json(call->task, false);
		call->task_json = o ? cog_json_print(o) : NULL;
		cJSON_Delete(o);
	}
	return call->task_json;
}

const char *cog_task_call_dependency_result(cog_task_call *call, const char *task_id)
{
	if (!call || !task_id)
		return NULL;
	const plan_task *t = call->task;
	for (size_t i = 0; i < t->dep_count; i++) {
		if (strcmp(t->dep_ids[i], task_id) == 0) {
			/* Dependencies finished before this task started. */
			const plan_task *dep = &call->run->plan->tasks[t->deps[i]];
			return dep->result ? dep->result : "null";
		}
	}
	return NULL;
}

unsigned int cog_task_call_attempt(const cog_task_call *call)
{
	return call ? call->attempt : 0;
}

const char *cog_task_call_idempotency_key(const cog_task_call *call)
{
	if (!call)
		return "";
	if (!call->key_built) {
		/* The call object itself is never const: it is the runner's. */
		cog_task_call *c = (cog_task_call *)call;
		snprintf(c->key, sizeof(c->key), "%s/%s/%u", c->run->plan->id, c->task->id,
			c->attempt);
		c->key_built = true;
	}
	return call->key;
}

int cog_task_call_is_canceled(const cog_task_call *call)
{
	if (!call)
		return 0;
	if (atomic_load_explicit(&call->run->stop, memory_order_relaxed) != RUN_GOING ||
	    cog_ctx_is_canceled(call->run->ctx))
		return 1;
	return call->deadline_ns && cog_clock_mono_ns() > call->deadline_ns;
}

int cog_task_call_set_result(cog_task_call *call, const char *json)
{
	static const char fn[] = "cog_task_call_set_result";
	COG_CHECK_ARG(call, fn, "call is NULL");
	COG_CHECK_ARG(json, fn, "json is NULL");
	size_t len = strlen(json);
	int rc = cog_json_validate(json, len, "task result");
	if (rc)
		return cog__error_wrap(rc, "%s: task '%s'", fn, call->task->id);
	char *copy = cog__strndup(json, len);
	if (!copy)
		return cog__oom(fn);
	cog_free(call->result);
	call->result = copy;
	return COG_OK;
}

const char *cog_task_call_result(const cog_task_call *call)
{
	return call ? call->result : NULL;
}

/* ---- for the agent executor (plan_call_int.h) ---- */

cog_ctx *cog__task_call_ctx(const cog_task_call *call)
{
	return call->run->ctx;
}

void cog__task_call_plan_budget(const cog_task_call *call, cog__plan_budget *out)
{
	const cog_plan *plan = call->run->plan;
	out->max_tokens = plan->budget_tokens;
	out->max_cost = plan->budget_cost;
	out->max_duration_ms = plan->budget_duration_ms;
	out->run_started_ms = call->run->started_ms;
}

const char *cog__task_call_goal(const cog_task_call *call)
{
	return call->run->plan->goal ? call->run->plan->goal : "";
}

const char *cog__task_call_kind(const cog_task_call *call)
{
	return call->task->kind ? call->task->kind : "host";
}

const char *cog__task_call_title(const cog_task_call *call)
{
	return call->task->title;
}

const cJSON *cog__task_call_capabilities(const cog_task_call *call)
{
	return call->task->capabilities;
}

int cog__task_call_inputs(cog_task_call *call, cJSON **out)
{
	return plan_inputs_resolve(call, out);
}

cJSON *cog__task_call_dependencies(const cog_task_call *call)
{
	const plan_task *t = call->task;
	cJSON *deps = cJSON_CreateArray();
	for (size_t i = 0; deps && i < t->dep_count; i++) {
		const plan_task *dep = &call->run->plan->tasks[t->deps[i]];
		cJSON *item = cJSON_CreateObject();
		if (!item || !cJSON_AddItemToArray(deps, item)) {
			cJSON_Delete(item);
			goto fail;
		}
		/* A result was validated when it was set: only OOM fails here. */
		cJSON *result = dep->result ? cJSON_Parse(dep->result) : cJSON_CreateNull();
		if (!result || !cJSON_AddItemToObject(item, "result", result)) {
			cJSON_Delete(result);
			goto fail;
		}
		if (cog_json_add_string(item, "task", dep->id))
			goto fail;
	}
	return deps;
fail:
	cJSON_Delete(deps);
	return NULL;
}
