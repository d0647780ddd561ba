/*
 * One turn's LLM request and call: the tools offered (the registry's tools
 * the definition's globs allow, in the request shape, plus "handoff"), the
 * request with max_tokens fitted to the budget, and agent_llm_call(): the
 * journal first (the request's hash is made only for a journaled run),
 * then the worst case reserved in every budget level (priced at the model
 * the request names), the router (request and answer as trees:
 * cog__llm_chat_tree), the reservation settled with the answer's usage (a
 * failed call with what it paid for, or its worst case when a request was
 * in flight), the answer journaled (durable) before the loop acts on it.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "loop_int.h"
#include "journal_int.h"

/* ---- tools offered ---- */

/* glob with * and ? against a whole name */
static bool glob_match(const char *g, const char *s)
{
	const char *star = NULL, *resume = NULL;
	while (*s) {
		if (*g == '*') {
			star = g++;
			resume = s;
		} else if (*g == '?' || *g == *s) {
			g++;
			s++;
		} else if (star) {
			g = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*g == '*')
		g++;
	return *g == '\0';
}

static bool allowed(const cJSON *globs, const char *name)
{
	const cJSON *g;
	cJSON_ArrayForEach(g, globs) {
		if (cJSON_IsString(g) && glob_match(g->valuestring, name))
			return true;
	}
	return false;
}

int loop_tools_offered(loop_run *r)
{
	const agent_def *def = r->a->def;
	cJSON *globs = cJSON_Parse(def->tools ? def->tools : "[]");
	cJSON *out = cJSON_CreateArray();
	cJSON *list = NULL;
	char *text = NULL;
	int rc = COG_OK;
	if (!out) {
		rc = cog__oom("agent: tools");
		goto done;
	}
	if (cJSON_GetArraySize(globs) > 0) {
		if ((rc = cog_tool_list(r->a->ctx, NULL, COG_TOOL_FORMAT_COG, &text))) {
			rc = cog__error_wrap(rc, "agent '%s': listing its tools", def->name);
			goto done;
		}
		list = cJSON_Parse(text);
	}
	const cJSON *t;
	cJSON_ArrayForEach(t, list) {
		const char *name = cog_json_get_string(t, "name");
		if (!name || !allowed(globs, name))
			continue;
		const char *desc = cog_json_get_string(t, "description");
		const cJSON *schema = cJSON_GetObjectItemCaseSensitive(t, "input_schema");
		cJSON *o = cJSON_CreateObject();
		cJSON *s = schema && cJSON_IsObject(schema) ? cJSON_Duplicate(schema, 1)
			: cJSON_Parse("{\"type\":\"object\"}");
		bool ok = o && s && cJSON_AddStringToObject(o, "name", name) &&
			cJSON_AddStringToObject(o, "description", desc ? desc : "") &&
			cJSON_AddItemToObject(o, "input_schema", s);
		if (!ok || !cJSON_AddItemToArray(out, o)) {
			if (!ok || !o)
				cJSON_Delete(s);
			cJSON_Delete(o);
			rc = cog__oom("agent: tools");
			goto done;
		}
	}
	cJSON *handoff = agent_handoff_tool(r->a, r->env);
	if (handoff) {
		cJSON_AddItemToArray(out, handoff);
		r->handoff = true;
	}
	if (cJSON_GetArraySize(out) > 0) {
		r->tools = out;
		out = NULL;
	}
done:
	cog_free(text);
	cJSON_Delete(list);
	cJSON_Delete(globs);
	cJSON_Delete(out);
	return rc;
}

/* ---- the request ---- */

int loop_build_request(loop_run *r, cJSON **request)
{
	agents_state *st = r->a->st;
	const agent_def *def = r->a->def;
	*request = NULL;
	cJSON *req = cJSON_CreateObject();
	if (!req)
		return cog__oom("agent: request");
	cJSON *msgs = cJSON_Duplicate(r->messages, 1);
	cJSON *tools = r->tools ? cJSON_Duplicate(r->tools, 1) : NULL;
	bool ok = msgs && cJSON_AddItemToObject(req, "messages", msgs);
	if (!ok)
		cJSON_Delete(msgs);
	if (ok && r->tools && !(tools && cJSON_AddItemToObject(req, "tools", tools))) {
		cJSON_Delete(tools);
		ok = false;
	}
	if (ok && def->temperature >= 0)
		ok = cJSON_AddNumberToObject(req, "temperature", def->temperature) != NULL;
	if (!ok) {
		cJSON_Delete(req);
		return cog__oom("agent: request");
	}
	uint64_t max = def->max_tokens ? def->max_tokens : 1024;
	uint64_t left = budget_remaining_tokens(st, r->env->budget);
	if (left != UINT64_MAX) {
		uint64_t bound = budget_input_bound(r->a->ctx, req);
		/* Nothing left for an answer: 1, and the reservation refuses it
		 * naming the level. */
		uint64_t room = left > bound ? left - bound : 1;
		if (room < max)
			max = room;
	}
	if (!cJSON_AddNumberToObject(req, "max_tokens", (double)max)) {
		cJSON_Delete(req);
		return cog__oom("agent: request");
	}
	*request = req;
	return COG_OK;
}

/* ---- the call ---- */

bool agent_usage_number(const cJSON *v, uint64_t *out)
{
	*out = 0;
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 9e15))
		return false;   /* NaN fails both comparisons */
	*out = (uint64_t)v->valuedouble;
	return true;
}

typedef struct cancel_ctx {
	const cog_agent *a;
	const agent_env *env;
} cancel_ctx;

static int is_canceled(void *ud)
{
	const cancel_ctx *c = ud;
	return agent_env_canceled(c->a, c->env);
}

/* The hash of what the answer depends on: the request without max_tokens
 * (which follows the budget left, different after a restart). */
static void request_hash(const cJSON *request, char out[33])
{
	cJSON *copy = cJSON_Duplicate(request, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "max_tokens");
	agent_journal_hash(copy ? copy : request, out);
	cJSON_Delete(copy);
}

/* A usage number from an answer: finite, 0..9e15, else the fallback. */
static uint64_t usage_of(const cJSON *response, const char *name, uint64_t fallback)
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(response, "usage");
	uint64_t v;
	return agent_usage_number(cJSON_GetObjectItemCaseSensitive(u, name), &v) ? v
	                                                                          : fallback;
}

/*
 * A call that failed may still have been paid for: charge what it is
 * known to have cost (answers the router got, e.g. a structured answer
 * that never matched its schema), plus the reservation's worst case when
 * a request was in flight and its cost is unknown (an answer cut short,
 * a cancel mid-stream: the provider bills what it generated). Fail closed:
 * a budget is never under-counted. Nothing sent, nothing answered: the
 * reservation goes back.
 */
static void settle_failed(cog_agent *a, budget_resv *resv, int rc, const cog__llm_paid *p,
                          uint64_t bound, uint64_t max_out, double worst)
{
	bool in_flight = p->sent > p->answers && (rc == COG_EPROTO || rc == COG_ECANCELED ||
		(rc == COG_ESCHEMA && !p->answers));
	if (!p->answers && !in_flight) {
		budget_release(a->st, resv);
		return;
	}
	uint64_t in = p->input_tokens, out = p->output_tokens;
	double cost = p->cost;
	if (in_flight) {
		in += bound;
		out += max_out;
		cost += worst;
	}
	budget_settle(a->st, resv, in, out, cost, a->def->name);
	agent_count_usage(a, in, out, cost);
}

int agent_llm_call(cog_agent *a, agent_env *env, const char *role, cJSON *request,
                   unsigned int turn, unsigned int index, cJSON **response)
{
	agents_state *st = a->st;
	const agent_def *def = a->def;
	*response = NULL;
	/* The definition's model goes with its own role only: another role's
	 * call (the critic's review) names its model in the request, or lets
	 * that role's route choose. */
	bool own_role = !role || strcmp(role, def->role) == 0;
	if (!role)
		role = def->role;
	char hash[33] = "";
	int rc;
	if (env->journal) {  /* the hash is the journal's only */
		request_hash(request, hash);
		int status = 0;
		cJSON *found = NULL;
		rc = agent_journal_find(env->journal, "llm", turn, index, hash, &status, &found);
		if (rc == COG_OK) {
			cJSON_AddBoolToObject(found, "replayed", 1);
			*response = found;
			return COG_OK;
		}
		if (rc != COG_ENOTFOUND)
			return rc;
	}
	if (own_role && def->model && *def->model &&
	    !cJSON_GetObjectItemCaseSensitive(request, "model") &&
	    !cJSON_AddStringToObject(request, "model", def->model))
		return cog__oom("agent: request");

	uint64_t bound = budget_input_bound(a->ctx, request);
	uint64_t max_out = (uint64_t)cog_json_get_number(request, "max_tokens", def->max_tokens);
	double worst = 0;
	bool priced = false;
	/* priced at the model the request will name (the route may override it) */
	rc = cog__llm_worst_cost(a->ctx, role, cog_json_get_string(request, "model"), bound,
	                         max_out, &worst, &priced);
	if (rc)
		return cog__error_wrap(rc, "agent '%s' turn %u", def->name, turn);
	/* With a money limit somewhere above, a route that may use a model
	 * without a price has nothing to reserve against: refused. */
	if (!priced && budget_has_cost_limit(st, env->budget))
		return cog__error(COG_EBUDGET, "agent '%s' turn %u: a money limit applies and "
			"the route of role '%s' may use a model without a price (nothing to "
			"reserve against): add its price or drop the limit", def->name, turn, role);
	budget_resv resv;
	rc = budget_reserve(st, env->budget, bound + max_out, worst, &resv);
	if (rc)
		return cog__error_wrap(rc, "agent '%s' turn %u", def->name, turn);

	cancel_ctx cc = { a, env };
	cog_llm_chat_options o = COG_LLM_CHAT_OPTIONS_INIT;
	o.role = role;
	o.on_event = env->on_stream;
	o.event_user_data = env->stream_ud;
	o.is_canceled = is_canceled;
	o.cancel_user_data = &cc;
	uint64_t ms = budget_remaining_ms(st, env->budget);
	o.timeout_ms = ms == UINT64_MAX ? 0 : ms > UINT_MAX ? UINT_MAX : ms ? (unsigned int)ms : 1;
	o.cacheable = env->journal ? -1 : 0;
	o.schema_retries = 0;
	/* The request goes as a tree (checked once, normalised in place: the
	 * hash above was taken before) and the answer comes back as one. */
	cJSON *resp = NULL;
	cog__llm_paid paid;
	rc = cog__llm_chat_tree(a->ctx, request, &o, &resp, &paid);
	if (rc) {
		cJSON_Delete(resp);
		char saved[1024];
		snprintf(saved, sizeof(saved), "%s", cog_error_last());
		settle_failed(a, &resv, rc, &paid, bound, max_out, priced ? worst : 0);
		if (rc == COG_ECANCELED || agent_env_canceled(a, env))
			return cog__error(COG_ECANCELED, "agent '%s' turn %u: canceled", def->name, turn);
		return cog__error(rc, "agent '%s' turn %u: %s", def->name, turn, saved);
	}
	/* A provider that reports no usage is charged the worst case. */
	uint64_t in = usage_of(resp, "input_tokens", bound);
	uint64_t out = usage_of(resp, "output_tokens", max_out);
	double cost = cog_json_get_number(resp, "cost", priced ? worst : 0);
	if (!(cost >= 0 && cost <= 9e15))
		cost = priced ? worst : 0;
	budget_settle(st, &resv, in, out, cost, def->name);
	agent_count_usage(a, in, out, cost);
	/* Queued, not waited for: nothing outside the run acts on an answer
	 * before loop_run_tools() makes it durable (tool calls, handoffs);
	 * a final answer becomes the task's result, and the next group
	 * commit (or the journal's close) writes it. */
	if ((rc = agent_journal_queue(env->journal, "llm", turn, index, hash, 0, resp))) {
		cJSON_Delete(resp);
		return rc;
	}
	*response = resp;
	return COG_OK;
}
