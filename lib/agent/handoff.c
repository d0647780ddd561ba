/*
 * Handoff: an agent defined with "handoff":true may delegate a sub-task to
 * another agent by capability, through a tool named "handoff". The
 * sub-task runs at once, on this thread, with an instance of the agent
 * matched by the capability (never the asking agent's own definition),
 * inside the same budget node, one level deeper (at most 3). Its answer
 * comes back as the tool's result; the delegation is journaled as
 * ("handoff", turn, index), sent as event "agent.handoff" and listed in
 * the run's "delegations".
 *
 * A journaled run journals its sub-runs too, and terminating the asking
 * agent stops its sub-run (handoff_sub.c).
 */
#include <stdio.h>
#include <string.h>

#include "handoff_int.h"
#include "journal_int.h"

#define HANDOFF_MAX_DEPTH 3u

static const char tool_intro[] =
	"Delegate a sub-task to another agent chosen by capability. The sub-task "
	"runs now and the agent's answer comes back as this tool's result. Give a "
	"complete, self-contained task: the other agent sees nothing else. Agents:";

/* "- name [cap1, cap2]: description" for every definition but `self`. */
static int list_agents(agents_state *st, const char *self, cog_buf *b, cJSON *caps)
{
	size_t listed = 0;
	pthread_mutex_lock(&st->lock);
	for (size_t i = 0; i < st->n_defs; i++) {
		const agent_def *d = st->defs[i];
		if (d->removed || !strcmp(d->name, self))
			continue;
		cog_buf_printf(b, "\n- %s [", d->name);
		for (size_t c = 0; c < d->n_capabilities; c++) {
			cog_buf_printf(b, "%s%s", c ? ", " : "", d->capabilities[c]);
			bool seen = false;
			const cJSON *e;
			cJSON_ArrayForEach(e, caps)
				seen = seen || !strcmp(e->valuestring, d->capabilities[c]);
			if (!seen)
				cJSON_AddItemToArray(caps, cJSON_CreateString(d->capabilities[c]));
		}
		cog_buf_puts(b, "]");
		if (d->description && *d->description)
			cog_buf_printf(b, ": %s", d->description);
		listed++;
	}
	pthread_mutex_unlock(&st->lock);
	return (int)listed;
}

cJSON *agent_handoff_tool(const cog_agent *a, const agent_env *env)
{
	if (!a->def->handoff || env->depth >= HANDOFF_MAX_DEPTH)
		return NULL;
	cog_buf b = COG_BUF_INIT;
	cog_buf_puts(&b, tool_intro);
	cJSON *caps = cJSON_CreateArray();
	if (!caps || list_agents(a->st, a->def->name, &b, caps) == 0 || b.failed) {
		cJSON_Delete(caps);
		cog_buf_dispose(&b);
		return NULL; /* nobody to hand off to (or out of memory) */
	}
	cJSON *schema = cJSON_Parse("{\"type\":\"object\",\"properties\":{"
		"\"capability\":{\"type\":\"string\",\"description\":"
		"\"the capability the sub-task needs\"},"
		"\"task\":{\"type\":\"string\",\"description\":"
		"\"the sub-task, complete and self-contained\"}},"
		"\"required\":[\"capability\",\"task\"],\"additionalProperties\":false}");
	cJSON *cap_prop = schema ? cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(schema, "properties"), "capability") : NULL;
	cJSON *tool = cJSON_CreateObject();
	char *desc = cog_buf_detach(&b);
	if (!cap_prop || !tool || !desc || !cJSON_AddItemToObject(cap_prop, "enum", caps) ||
	    cog_json_add_string(tool, "name", "handoff") ||
	    cog_json_add_string(tool, "description", desc) ||
	    !cJSON_AddItemToObject(tool, "input_schema", schema)) {
		if (!cJSON_GetObjectItemCaseSensitive(cap_prop, "enum"))
			cJSON_Delete(caps);
		if (!cJSON_GetObjectItemCaseSensitive(tool, "input_schema"))
			cJSON_Delete(schema);
		cJSON_Delete(tool);
		cog_free(desc);
		return NULL;
	}
	cog_free(desc);
	return tool;
}

/* {"error":{"code":"...","message":"..."}} for the model. */
static cJSON *error_result(int status, const char *message)
{
	cJSON *r = cJSON_CreateObject();
	cJSON *e = cJSON_AddObjectToObject(r, "error");
	if (!e || cog_json_add_string(e, "code", cog_strerror(status)) ||
	    cog_json_add_string(e, "message", message)) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

/* {"agent","capability"?,"task"?,"content"} */
static cJSON *agent_content(const char *agent, const cJSON *content, const char *capability,
                            const char *task)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *c = content ? cJSON_Duplicate(content, true) : cJSON_CreateNull();
	if (!o || !c || cog_json_add_string(o, "agent", agent) ||
	    (capability && cog_json_add_string(o, "capability", capability)) ||
	    (task && cog_json_add_string(o, "task", task))) {
		cJSON_Delete(o);
		cJSON_Delete(c);
		return NULL;
	}
	cJSON_AddItemToObject(o, "content", c);
	return o;
}

/* The tool result and the delegation of a finished sub-run. */
static int success_records(const char *agent, const char *capability, const char *task,
                           const cJSON *content, cJSON **tool_result, cJSON **delegation)
{
	cJSON *r = agent_content(agent, content, NULL, NULL);
	cJSON *d = agent_content(agent, content, capability, task);
	if (!r || !d) {
		cJSON_Delete(r);
		cJSON_Delete(d);
		return cog__oom("handoff");
	}
	*tool_result = r;
	*delegation = d;
	return COG_OK;
}

static void send_event(cog_agent *a, const agent_env *env, const char *to,
                       const char *capability, bool replayed)
{
	if (!cog__ctx_has_event_hook(a->ctx))
		return;
	cJSON *ev = cJSON_CreateObject();
	if (!ev || cog_json_add_string(ev, "from", a->def->name) ||
	    cog_json_add_string(ev, "from_id", a->id) ||
	    cog_json_add_string(ev, "to", to) ||
	    cog_json_add_string(ev, "capability", capability) ||
	    cog_json_add_string(ev, "plan_id", env->plan_id ? env->plan_id : "") ||
	    cog_json_add_string(ev, "task_id", env->task_id ? env->task_id : "") ||
	    (replayed && cog_json_add_bool(ev, "replayed", true))) {
		cJSON_Delete(ev);
		return;
	}
	cog__event(a->ctx, "agent.handoff", ev);
}

/* Several handoffs of one answer may run at once (parallel tool calls):
 * the delegations array is shared by the run. */
static void add_delegation(cog_agent *a, agent_env *env, cJSON *delegation)
{
	pthread_mutex_lock(&a->st->lock);
	if (!env->delegations)
		env->delegations = cJSON_CreateArray();
	if (!env->delegations || !cJSON_AddItemToArray(env->delegations, delegation))
		cJSON_Delete(delegation);
	pthread_mutex_unlock(&a->st->lock);
}

/* ---- the sub-run ---- */

/* Run the sub-task with the agent of `def`. 0 with the records, a negative
 * status that ends the parent's run (cancel, pending approval, no memory),
 * or 1 with *tool_result an error for the model. */
static int run_sub(cog_agent *a, agent_env *env, const char *def_name,
                   const char *capability, const char *task, unsigned int turn,
                   unsigned int index, cJSON **tool_result, cJSON **delegation,
                   int *status)
{
	cog_agent *sub = NULL;
	int rc = cog_agent_spawn(&sub, a->ctx, def_name);
	if (rc)
		return rc == COG_ENOMEM ? rc : (*status = rc, 1);
	char prefix[512];
	snprintf(prefix, sizeof(prefix), "%s/h%u.%u", env->call_prefix ? env->call_prefix : "",
		turn, index);
	cJSON *sub_result = NULL;
	rc = agent_handoff_sub(a, sub, env, prefix, task, turn, index, &sub_result);
	cog_agent_free(sub);
	if (!rc)
		rc = success_records(def_name, capability, task,
			cJSON_GetObjectItemCaseSensitive(sub_result, "content"),
			tool_result, delegation);
	cJSON_Delete(sub_result);
	if (rc == COG_ECANCELED || rc == COG_EPENDING || rc == COG_ENOMEM)
		return rc;
	if (rc) {
		*status = rc;
		return 1;
	}
	return 0;
}

int agent_handoff_run(cog_agent *a, const cJSON *arguments, agent_env *env,
                      unsigned int turn, unsigned int index, cJSON **result)
{
	*result = NULL;
	const char *capability = cog_json_get_string(arguments, "capability");
	const char *task = cog_json_get_string(arguments, "task");
	if (!capability || !*capability || !task || !*task) {
		*result = error_result(COG_EINVAL, "handoff needs {\"capability\":\"...\","
			"\"task\":\"...\"}, both non-empty strings");
		return *result ? COG_OK : cog__oom("handoff");
	}
	char hash[33];
	agent_journal_hash(arguments, hash);
	int status = COG_OK;
	cJSON *recorded = NULL;
	if (env->journal && agent_journal_find(env->journal, "handoff", turn, index, hash,
	                                       &status, &recorded) == COG_OK) {
		/* Replayed: the delegation is listed again, the sub-run not repeated. */
		const char *agent = cog_json_get_string(recorded, "agent");
		if (!status && agent) {
			cJSON *d = cJSON_Duplicate(recorded, true);
			cJSON *r = agent_content(agent,
				cJSON_GetObjectItemCaseSensitive(recorded, "content"), NULL, NULL);
			if (!d || !r) {
				cJSON_Delete(d);
				cJSON_Delete(r);
				cJSON_Delete(recorded);
				return cog__oom("handoff");
			}
			send_event(a, env, agent, capability, true);
			add_delegation(a, env, d);
			cJSON_Delete(recorded);
			*result = r;
			return COG_OK;
		}
		*result = recorded;
		return COG_OK;
	}

	cJSON *tool_result = NULL, *delegation = NULL;
	int rc;
	const char *to = NULL;
	agent_def *def = NULL;
	if (env->depth >= HANDOFF_MAX_DEPTH) {
		status = cog__error(COG_ERANGE, "handoff: at most %u levels deep",
			HANDOFF_MAX_DEPTH);
		rc = 1;
	} else {
		cJSON *caps = cJSON_CreateArray();
		if (!caps || !cJSON_AddItemToArray(caps, cJSON_CreateString(capability))) {
			cJSON_Delete(caps);
			return cog__oom("handoff");
		}
		def = agents_match(a->st, caps, a->def->name);
		cJSON_Delete(caps);
		if (!def) {
			status = COG_ENOTFOUND;
			rc = 1;
		} else {
			to = def->name;
			rc = run_sub(a, env, def->name, capability, task, turn, index,
				&tool_result, &delegation, &status);
		}
	}
	if (rc < 0) {
		if (def)
			agent_def_unref(def);
		return rc;
	}
	if (rc == 1) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", cog_error_last());
		tool_result = error_result(status, msg);
		if (!tool_result) {
			if (def)
				agent_def_unref(def);
			return cog__oom("handoff");
		}
	} else {
		send_event(a, env, to, capability, false);
	}
	if (env->journal) {
		const cJSON *record = rc == 1 ? tool_result : delegation;
		int jrc = agent_journal_put(env->journal, "handoff", turn, index, hash,
			rc == 1 ? status : COG_OK, record);
		if (jrc) {
			if (def)
				agent_def_unref(def);
			cJSON_Delete(tool_result);
			cJSON_Delete(delegation);
			return jrc;
		}
	}
	if (def)
		agent_def_unref(def);
	if (delegation)
		add_delegation(a, env, delegation);
	*result = tool_result;
	return COG_OK;
}
