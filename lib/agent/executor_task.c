/*
 * cog_task_run_agent(): the task executor that joins agents to plans.
 * Tasks of kind "tool" go to the tool layer; tasks of kind "llm" run the
 * agent loop with their inputs as the agent task, the results of their
 * dependencies as data, under the plan's, the task's and the agent's
 * budgets (see executor.c), journaled as "agent/<plan>/<task>".
 */
#include <stdio.h>
#include <string.h>

#include "executor_int.h"

/* The agent task of an "llm" task: its inputs without "agent" and "budget",
 * with the dependencies' results added. */
static int task_from_inputs(cog_task_call *call, const char *what, cJSON **task,
                            char **agent, cJSON **budget)
{
	cJSON *in = NULL;
	int rc = cog__task_call_inputs(call, &in);
	if (rc)
		return cog__error_wrap(rc, "%s: inputs", what);
	if (!in)
		return cog__error(COG_EINVAL, "%s: an llm task needs inputs with a \"prompt\"",
			what);
	cJSON *name = cJSON_DetachItemFromObjectCaseSensitive(in, "agent");
	*budget = cJSON_DetachItemFromObjectCaseSensitive(in, "budget");
	rc = COG_OK;
	if (name && (!cJSON_IsString(name) || !*name->valuestring))
		rc = cog__error(COG_EINVAL, "%s: inputs.agent must be an agent's name", what);
	else if (*budget && !cJSON_IsObject(*budget) && !cJSON_IsNull(*budget))
		rc = cog__error(COG_EINVAL, "%s: inputs.budget must be an object", what);
	else if (!(rc = agent_exec_check_task(in, what))) {
		cJSON *deps = cog__task_call_dependencies(call);
		cJSON *have = cJSON_GetObjectItemCaseSensitive(in, "dependencies");
		if (!deps) {
			rc = cog__oom(what);
		} else if (!have && cJSON_GetArraySize(deps) > 0) {
			cJSON_AddItemToObject(in, "dependencies", deps);
			deps = NULL;
		} else if (have) {
			while (cJSON_GetArraySize(deps) > 0)
				cJSON_AddItemToArray(have, cJSON_DetachItemFromArray(deps, 0));
		}
		cJSON_Delete(deps);
	}
	if (!rc && name && !(*agent = cog__strdup(name->valuestring)))
		rc = cog__oom(what);
	cJSON_Delete(name);
	if (rc) {
		cJSON_Delete(in);
		cJSON_Delete(*budget);
		*budget = NULL;
		return rc;
	}
	*task = in;
	return COG_OK;
}

/* The budget nodes of a plan task, leaf last; *n how many were taken. */
static int task_nodes(agents_state *st, cog_task_call *call, const agent_def *def,
                      const cJSON *task_budget, const char *what, budget_node *nodes[3])
{
	cog__plan_budget pb;
	cog__task_call_plan_budget(call, &pb);
	budget_limits plan_lim;
	budget_limits_from_numbers(&plan_lim, pb.max_tokens, pb.max_cost, pb.max_duration_ms);
	char key[COG_TASK_ID_MAX + 80];
	snprintf(key, sizeof(key), "agent:%s", def->name);
	int rc = budget_node_get(st, NULL, cog_task_call_plan_id(call), &plan_lim,
		pb.run_started_ms, &nodes[0]);
	if (!rc)
		rc = agent_exec_node(st, nodes[0], cog_task_call_task_id(call), task_budget,
			what, &nodes[1]);
	if (!rc)
		rc = budget_node_get(st, nodes[1], key, &def->budget, 0, &nodes[2]);
	return rc;
}

static int run_task(cog_ctx *ctx, agents_state *st, cog_task_call *call,
                    const cog_agent_run_options *o, const char *what)
{
	cJSON *task = NULL, *budget = NULL;
	char *name = NULL;
	int rc = task_from_inputs(call, what, &task, &name, &budget);
	if (rc)
		return rc;
	agent_def *def = name ? agents_find(st, name) :
		agents_match(st, cog__task_call_capabilities(call), NULL);
	cog_free(name);
	if (!def) {
		cJSON_Delete(task);
		cJSON_Delete(budget);
		return cog__error_wrap(COG_ENOTFOUND, "%s: no agent for it", what);
	}
	budget_node *nodes[3] = { NULL, NULL, NULL };
	cog_agent *a = NULL;
	cJSON *result = NULL;
	char prefix_base[COG_PLAN_ID_MAX + COG_TASK_ID_MAX + 2];
	snprintf(prefix_base, sizeof(prefix_base), "%s/%s", cog_task_call_plan_id(call),
		cog_task_call_task_id(call));
	rc = task_nodes(st, call, def, budget, what, nodes);
	if (!rc)
		rc = cog_agent_spawn(&a, ctx, def->name);
	if (!rc) {
		run_setup rs = { prefix_base, prefix_base, cog_task_call_attempt(call),
		                 cog_task_call_plan_id(call), cog_task_call_task_id(call), call };
		rc = agent_exec_run(a, task, o, nodes[2], &rs, &result);
	}
	char saved[1024];
	snprintf(saved, sizeof(saved), "%s", cog_error_last());
	if (result && rc != COG_EPENDING) {
		/* Also on a failure (budget, max_turns, critic...): what the run
		 * did so far, "stopped" saying why, becomes the failed task's
		 * result (plan.h cog_task_call_set_result). */
		char *text = cog_json_print(result);
		int set = text ? cog_task_call_set_result(call, text) : cog__oom(what);
		cog_free(text);
		if (!rc && set) {
			rc = set;
			snprintf(saved, sizeof(saved), "%s", cog_error_last());
		}
	} else if (!rc) {
		rc = cog__oom(what);
		snprintf(saved, sizeof(saved), "%s", cog_error_last());
	}
	/* the message names the level or step that failed; say which task */
	if (rc && rc != COG_EPENDING && a && !strstr(saved, cog_task_call_task_id(call)))
		cog__error(rc, "%s (agent '%s'): %s", what, def->name, saved);
	else
		agent_exec_restore_error(rc, saved);
	cog_agent_free(a);
	for (int i = 2; i >= 0; i--)
		if (nodes[i])
			budget_node_release(st, nodes[i]);
	agent_def_unref(def);
	cJSON_Delete(result);
	cJSON_Delete(budget);
	cJSON_Delete(task);
	return rc;
}

int cog_task_run_agent(cog_task_call *call, void *user_data)
{
	static const char fn[] = "cog_task_run_agent";
	if (!call)
		return cog__error(COG_EINVAL, "%s: call is NULL", fn);
	const cog_agent_run_options *o = user_data;
	int rc = agent_exec_check_options(o, fn);
	if (rc)
		return rc;
	const char *kind = cog__task_call_kind(call);
	if (!strcmp(kind, "tool"))
		return cog_task_run_tool(call, o ? (void *)o->tool_options : NULL);
	char what[COG_PLAN_ID_MAX + COG_TASK_ID_MAX + 32];
	snprintf(what, sizeof(what), "plan '%s' task '%s'", cog_task_call_plan_id(call),
		cog_task_call_task_id(call));
	if (strcmp(kind, "llm"))
		return cog__error(COG_EINVAL, "%s: kind \"%s\" is not run by agents (only "
			"\"llm\" and \"tool\" are)", what, kind);
	cog_ctx *ctx = cog__task_call_ctx(call);
	agents_state *st;
	if ((rc = agents_get(ctx, &st)))
		return rc;
	return run_task(ctx, st, call, o, what);
}
