/*
 * The executor of tasks of kind "tool": the task's "inputs", with the values
 * they take from dependencies' results filled in (inputs.c), become the
 * arguments of its tool, called through the tool layer (schema, permissions,
 * approval, sandbox, audit) with the attempt's idempotency key as call id,
 * so that a call waiting for approval is found again when the plan is
 * resumed. cog_plan_run() uses it when the context has no executor; hosts
 * with their own executor hand it their "tool" tasks.
 */
#include <string.h>

#include "run_int.h"
#include "cognition/tool.h"

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
	char *arguments = inputs ? cog_json_print(inputs) : NULL;
	cJSON_Delete(inputs);
	if (inputs && !arguments)
		return cog__oom(fn);
	char *result = NULL;
	rc = cog_tool_call(call->run->ctx, t->tool, arguments ? arguments : "{}", &o, &result);
	cog_free(arguments);
	if (rc == COG_OK)
		rc = cog_task_call_set_result(call, result);
	else if (rc != COG_EPENDING)
		cog__error_wrap(rc, "task '%s': tool '%s'", t->id, t->tool);
	cog_free(result);
	return rc;
}
