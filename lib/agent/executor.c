/*
 * Running agents on tasks: cog_agent_run() for one task given by the host,
 * and cog_task_run_agent(), the task executor that joins agents to plans.
 * Both check the agent task, set up what a run gets (agent_env: its budget
 * node, journal, tool call ids) and hand over to the loop (agent_run).
 *
 * Budget nodes. A standalone run: a node under the context's root keyed by
 * its run key (or a fresh id) with the options' limits, and under it a
 * node with the definition's per-task budget. A plan task: the plan's node
 * under the root (the plan's limits, its wall clock from the run's start),
 * the task's node under it (inputs.budget), and under that the node of the
 * definition's per-task budget; retries of the task share these nodes (the
 * tree keeps all three: budget.c).
 */
#include <stdio.h>
#include <string.h>

#include "agent_int.h"
#include "journal_int.h"
#include "executor_int.h"

static const size_t options_size[] = {
	0,
	sizeof(cog_agent_run_options),   /* version 1 */
};

int cog_agent_run_options_init(cog_agent_run_options *options, unsigned int version)
{
	if (!options)
		return cog__error(COG_EINVAL, "cog_agent_run_options_init: options is NULL");
	if (version == 0 || version > COG_AGENT_RUN_OPTIONS_VERSION)
		return cog__error(COG_EVERSION,
			"cog_agent_run_options_init: version %u is not supported (1..%u)",
			version, COG_AGENT_RUN_OPTIONS_VERSION);
	cog_agent_run_options defaults = COG_AGENT_RUN_OPTIONS_INIT;
	memcpy(options, &defaults, options_size[version]);
	options->version = version;
	return COG_OK;
}

int agent_exec_check_options(const cog_agent_run_options *o, const char *fn)
{
	if (o && (o->version == 0 || o->version > COG_AGENT_RUN_OPTIONS_VERSION))
		return cog__error(COG_EVERSION, "%s: options version %u is not supported "
			"(1..%u); use cog_agent_run_options_init()", fn, o->version,
			COG_AGENT_RUN_OPTIONS_VERSION);
	return COG_OK;
}

/* ---- the agent task ---- */

static bool is_count(const cJSON *v, double lo, double hi)
{
	return cJSON_IsNumber(v) && v->valuedouble >= lo && v->valuedouble <= hi &&
	       v->valuedouble == (double)(long long)v->valuedouble;
}

static int check_member(const cJSON *m, const char *what)
{
	const char *k = m->string;
	if (!strcmp(k, "prompt")) {
		if (!cJSON_IsString(m) || !*m->valuestring)
			return cog__error(COG_EINVAL, "%s: \"prompt\" must be a non-empty string", what);
	} else if (!strcmp(k, "dependencies")) {
		const cJSON *d;
		if (!cJSON_IsArray(m))
			return cog__error(COG_EINVAL, "%s: \"dependencies\" must be an array", what);
		cJSON_ArrayForEach(d, m)
			if (!cJSON_IsObject(d) || !cog_json_get_string(d, "task") ||
			    !cJSON_GetObjectItemCaseSensitive(d, "result"))
				return cog__error(COG_EINVAL, "%s: each of \"dependencies\" must "
					"be {\"task\":\"id\",\"result\":...}", what);
	} else if (!strcmp(k, "context_files")) {
		const cJSON *f;
		if (!cJSON_IsArray(m))
			return cog__error(COG_EINVAL, "%s: \"context_files\" must be an array "
				"of paths", what);
		cJSON_ArrayForEach(f, m)
			if (!cJSON_IsString(f) || !*f->valuestring)
				return cog__error(COG_EINVAL, "%s: \"context_files\" must be an "
					"array of non-empty strings", what);
	} else if (!strcmp(k, "output_schema")) {
		if (!cJSON_IsObject(m) && !cJSON_IsBool(m))
			return cog__error(COG_EINVAL, "%s: \"output_schema\" must be a JSON "
				"Schema (an object or a boolean)", what);
	} else if (!strcmp(k, "review")) {
		if (!cJSON_IsBool(m))
			return cog__error(COG_EINVAL, "%s: \"review\" must be true or false", what);
	} else if (!strcmp(k, "max_revisions")) {
		if (!is_count(m, 0, 100))
			return cog__error(COG_EINVAL, "%s: \"max_revisions\" must be an integer "
				"0..100", what);
	} else if (!strcmp(k, "max_turns")) {
		if (!is_count(m, 1, 1000))
			return cog__error(COG_EINVAL, "%s: \"max_turns\" must be an integer "
				"1..1000", what);
	} else {
		return cog__error(COG_EINVAL, "%s: unknown member \"%s\" (known: prompt, "
			"dependencies, context_files, output_schema, review, max_revisions, "
			"max_turns)", what, k);
	}
	return COG_OK;
}

int agent_exec_check_task(const cJSON *task, const char *what)
{
	if (!cJSON_IsObject(task))
		return cog__error(COG_EINVAL, "%s: the task must be a JSON object", what);
	if (!cJSON_GetObjectItemCaseSensitive(task, "prompt"))
		return cog__error(COG_EINVAL, "%s: \"prompt\" is required", what);
	const cJSON *m;
	cJSON_ArrayForEach(m, task) {
		int rc = check_member(m, what);
		if (rc)
			return rc;
	}
	return COG_OK;
}

/* ---- one run ---- */

int agent_exec_restore_error(int rc, const char *saved)
{
	return rc ? cog__error(rc, "%s", saved) : rc;
}

/* Tool call ids "<base>/<attempt>/<turn>.<n>": a base too long for the
 * buffer (a long run key) becomes "#" and the hex BLAKE2b-128 of it, as
 * the journal names its log, instead of being cut (two keys with the same
 * start would share ids, and the attempt would be lost). */
static void call_prefix(char *out, size_t size, const char *base, unsigned int attempt)
{
	int n = snprintf(out, size, "%s/%u", base, attempt);
	if (n >= 0 && (size_t)n < size)
		return;
	uint8_t h[16];
	char hex[33];
	cog_hash_blake2b(h, sizeof(h), base, strlen(base), NULL, 0);
	cog_hex_encode(h, sizeof(h), hex);
	hex[32] = '\0';
	snprintf(out, size, "#%s/%u", hex, attempt);
}

int agent_exec_run(cog_agent *a, const cJSON *task, const cog_agent_run_options *o,
                     budget_node *leaf, const run_setup *rs, cJSON **result)
{
	agent_journal *j = NULL;
	unsigned int attempt = rs->attempt;
	int rc;
	if (rs->run_key) {
		/* no storage: j stays NULL and the run is not journaled */
		rc = agent_journal_open(&j, a->ctx, rs->run_key, attempt);
		if (rc)
			return cog__error_wrap(rc, "agent journal '%s'", rs->run_key);
		if (j)
			attempt = agent_journal_attempt(j);
	}
	char prefix[COG_PLAN_ID_MAX + COG_TASK_ID_MAX + 32];
	call_prefix(prefix, sizeof(prefix), rs->prefix_base, attempt);
	agent_env env;
	memset(&env, 0, sizeof(env));
	env.tool_options = o ? o->tool_options : NULL;
	env.memory_namespace = o ? o->memory_namespace : NULL;
	env.budget = leaf;
	env.journal = j;
	env.plan_id = rs->plan_id;
	env.task_id = rs->task_id;
	env.call_prefix = prefix;
	env.task_call = rs->call;
	env.on_stream = o ? o->on_stream : NULL;
	env.stream_ud = o ? o->stream_user_data : NULL;
	env.delegations = cJSON_CreateArray();
	if (!env.delegations) {
		agent_journal_close(j);
		return cog__oom("agent run");
	}
	/* agent_run writes the journal's end record (none for a run waiting
	 * for an approval: the next attempt replays the journal). */
	rc = agent_run(a, task, &env, result);
	char saved[1024];
	snprintf(saved, sizeof(saved), "%s", cog_error_last());
	/* A plan task that succeeded: its final answer need not be durable
	 * before the plan's "succeeded" record (which holds the result) and
	 * is written with the next group commit; a crash before then costs
	 * one LLM call again, never a side effect (tool calls waited for
	 * their answer's record). Everything else waits for its records. */
	if (rc == COG_OK && rs->call)
		agent_journal_close_lazy(j);
	else
		agent_journal_close(j);
	cJSON_Delete(env.delegations);
	return agent_exec_restore_error(rc, saved);
}

static void print_result(const cJSON *result, char **out, int rc)
{
	if (!out || !result)
		return;
	char saved[1024];
	snprintf(saved, sizeof(saved), "%s", cog_error_last());
	*out = cog_json_print(result);
	agent_exec_restore_error(rc, saved);
}

int agent_exec_node(agents_state *st, budget_node *parent, const char *key,
                          const cJSON *limits_json, const char *what, budget_node **out)
{
	budget_limits lim;
	int rc = budget_limits_from_json(&lim, limits_json, what);
	return rc ? rc : budget_node_get(st, parent, key, &lim, 0, out);
}

int cog_agent_run(cog_agent *agent, const char *task_json,
                  const cog_agent_run_options *options, char **result_json)
{
	static const char fn[] = "cog_agent_run";
	if (result_json)
		*result_json = NULL;
	if (!agent || !task_json)
		return cog__error(COG_EINVAL, "%s: %s is NULL", fn, agent ? "task_json" : "agent");
	int rc = agent_exec_check_options(options, fn);
	if (rc)
		return rc;
	cJSON *task = NULL, *limits = NULL;
	if ((rc = cog_json_parse(&task, task_json, "cog_agent_run: task")) ||
	    (rc = agent_exec_check_task(task, "cog_agent_run: task"))) {
		cJSON_Delete(task);
		return rc;
	}
	if (options && options->budget_json &&
	    (rc = cog_json_parse(&limits, options->budget_json, "cog_agent_run: budget_json"))) {
		cJSON_Delete(task);
		return rc;
	}
	char fresh[33];
	cog_id id;
	cog_id_new(&id);
	cog_id_to_hex(&id, fresh);
	const char *key = options && options->run_key ? options->run_key : fresh;
	budget_node *run_node = NULL, *leaf = NULL;
	rc = agent_exec_node(agent->st, NULL, key, limits, "cog_agent_run: budget_json",
		&run_node);
	cJSON_Delete(limits);
	char agent_key[80];
	snprintf(agent_key, sizeof(agent_key), "agent:%s", agent->def->name);
	if (!rc)
		rc = budget_node_get(agent->st, run_node, agent_key, &agent->def->budget, 0, &leaf);
	if (!rc) {
		run_setup rs = { options ? options->run_key : NULL, key, 1, "", "", NULL };
		cJSON *result = NULL;
		rc = agent_exec_run(agent, task, options, leaf, &rs, &result);
		print_result(result, result_json, rc);
		cJSON_Delete(result);
	}
	if (leaf)
		budget_node_release(agent->st, leaf);
	if (run_node)
		budget_node_release(agent->st, run_node);
	cJSON_Delete(task);
	return rc;
}

