/*
 * The executor of tasks of kind "tool": the task's "inputs", with the values
 * they take from dependencies' results filled in (inputs.c), become the
 * arguments of its tool, called through the tool layer (schema, permissions,
 * approval, sandbox, audit) with the attempt's idempotency key as call id,
 * so that a call waiting for approval is found again when the plan is
 * resumed. cog_plan_run() uses it when the context has no executor; hosts
 * with their own executor hand it their "tool" tasks.
 *
 * Values taken from other tasks' results are untrusted data, as in the
 * agent loop (auth.h cog_injection_configure): each is scanned (its
 * strings and keys alone, joined, and printed), and when one is flagged
 * the call goes through the injection policy (a side-effecting tool asks
 * for approval with "reason":"injection", or is denied), with an
 * "injection.flagged" event and a warning. The task's own inputs are the
 * host's and are not scanned.
 */
#include <stdio.h>
#include <string.h>

#include "auth_int.h"
#include "run_int.h"
#include "tool_int.h"
#include "cognition/tool.h"

/* ---- scanning what came from dependencies ---- */

/* One value taken from a dependency: its matches added to `all`. */
static int scan_value(cog_ctx *ctx, const cJSON *v, cJSON *all)
{
	return cog__inject_scan_json(ctx, v, NULL, all);
}

/* Walk the task's inputs (`given`, with the references) and the resolved
 * copy side by side: they differ only where a reference was replaced. The
 * first flagged dependency's id goes to `source`. */
static int scan_references(cog_ctx *ctx, const cJSON *given, const cJSON *resolved,
                           cJSON *all, char *source, size_t size)
{
	const cJSON *g = given ? given->child : NULL;
	const cJSON *v = resolved ? resolved->child : NULL;
	for (; g && v; g = g->next, v = v->next) {
		const char *from = cJSON_IsObject(g) ? cog_json_get_string(g, "$from") : NULL;
		int before = cJSON_GetArraySize(all), rc;
		if (from) {
			rc = scan_value(ctx, v, all);
			if (!rc && !*source && cJSON_GetArraySize(all) > before)
				snprintf(source, size, "dependency:%s", from);
		} else {
			rc = scan_references(ctx, g, v, all, source, size);
		}
		if (rc)
			return rc;
	}
	return COG_OK;
}

static const char *policy_name(int policy)
{
	return policy == COG__INJECT_DENY ? "deny"
	     : policy == COG__INJECT_FLAG ? "flag" : "approve";
}

/* Report a flagged call (a warning, the event) and give its flags. */
static unsigned int flagged(cog_task_call *call, const char *source, const cJSON *all)
{
	cog_ctx *ctx = call->run->ctx;
	const plan_task *t = call->task;
	int policy = cog__inject_policy(ctx);
	cJSON *names = cJSON_CreateArray();
	const cJSON *m;
	cJSON_ArrayForEach(m, all) {
		const char *rule = cog_json_get_string(m, "rule");
		bool seen = false;
		const cJSON *n;
		cJSON_ArrayForEach(n, names)
			seen = seen || strcmp(n->valuestring, rule) == 0;
		if (names && rule && !seen)
			cJSON_AddItemToArray(names, cJSON_CreateString(rule));
	}
	char *list = names ? cog_json_print(names) : NULL;
	cog__log(ctx, COG_LOG_WARN, NULL, "plan %s: task '%s': instruction-like content in %s "
		"(rules %s); policy \"%s\" for tool '%s'", call->run->plan->id, t->id, source,
		list ? list : "?", policy_name(policy), t->tool);
	cog_free(list);
	cJSON *d = cog__ctx_has_event_hook(ctx) && names ? cJSON_CreateObject() : NULL;
	if (d && cJSON_AddStringToObject(d, "plan_id", call->run->plan->id) &&
	    cJSON_AddStringToObject(d, "task_id", t->id) &&
	    cJSON_AddStringToObject(d, "source", source) &&
	    cJSON_AddItemToObject(d, "rules", names) &&
	    cJSON_AddStringToObject(d, "policy", policy_name(policy))) {
		names = NULL;
		cog__event(ctx, "injection.flagged", d);
	} else {
		if (d && cJSON_GetObjectItemCaseSensitive(d, "rules"))
			names = NULL;
		cJSON_Delete(d);
	}
	cJSON_Delete(names);
	return policy == COG__INJECT_DENY ? COG__TOOL_CALL_DENY_EFFECTS
	     : policy == COG__INJECT_FLAG ? 0 : COG__TOOL_CALL_APPROVE_EFFECTS;
}

/* The cog__tool_call_ex() flags for the resolved inputs. */
static int inject_flags(cog_task_call *call, const cJSON *inputs, unsigned int *flags)
{
	*flags = 0;
	const plan_task *t = call->task;
	cJSON *all = cJSON_CreateArray();
	char source[COG_TASK_ID_MAX + 16] = "";
	int rc = all ? scan_references(call->run->ctx, t->inputs, inputs, all, source,
	                               sizeof(source))
	             : cog__oom("task inputs: scanning");
	if (rc)
		rc = cog__error_wrap(rc, "task '%s': scanning its inputs", t->id);
	else if (cJSON_GetArraySize(all) > 0)
		*flags = flagged(call, *source ? source : "dependency", all);
	cJSON_Delete(all);
	return rc;
}

/* ---- the executor ---- */

int cog_task_run_tool(cog_task_call *call, void *user_data)
{
	static const char fn[] = "cog_task_run_tool";
	COG_CHECK_ARG(call, fn, "call is NULL");
	const plan_task *t = call->task;
	if (!t->kind || strcmp(t->kind, "tool") != 0 || !t->tool)
		return cog__error(COG_EINVAL, "task '%s' is of kind '%s', not a tool task, and the "
			"context has no task executor for it (cog_ctx_set_task_executor)", t->id,
			t->kind ? t->kind : "host");
	const cog_tool_call_options *given = user_data;
	cog_tool_call_options o = COG_TOOL_CALL_OPTIONS_INIT;
	if (given) {
		if (given->version != COG_TOOL_CALL_OPTIONS_VERSION)
			return cog__error(COG_EVERSION, "%s: the options (user_data) must be "
				"cog_tool_call_options of version %u", fn, COG_TOOL_CALL_OPTIONS_VERSION);
		o = *given;
	}
	o.call_id = cog_task_call_idempotency_key(call);
	if (t->timeout_ms && (!o.timeout_ms || o.timeout_ms > t->timeout_ms))
		o.timeout_ms = t->timeout_ms > UINT32_MAX ? UINT32_MAX : (unsigned int)t->timeout_ms;
	cJSON *inputs = NULL;
	int rc = plan_inputs_resolve(call, &inputs);
	if (rc)
		return rc;
	unsigned int flags = 0;
	rc = inputs ? inject_flags(call, inputs, &flags) : COG_OK;
	char *arguments = inputs && !rc ? cog_json_print(inputs) : NULL;
	cJSON_Delete(inputs);
	if (rc)
		return rc;
	if (inputs && !arguments)
		return cog__oom(fn);
	char *result = NULL;
	rc = cog__tool_call_ex(call->run->ctx, t->tool, arguments ? arguments : "{}", &o, flags,
	                       &result);
	cog_free(arguments);
	if (rc == COG_OK)
		rc = cog_task_call_set_result(call, result);
	else if (rc != COG_EPENDING)
		cog__error_wrap(rc, "task '%s': tool '%s'", t->id, t->tool);
	cog_free(result);
	return rc;
}
