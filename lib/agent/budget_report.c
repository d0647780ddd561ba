/*
 * Budgets as JSON: limits read and written, the context's own limits
 * (cog_ctx_set_budget) and the report of what was spent at each level
 * (cog_budget_report), the money and count conversions of limits, and the
 * input bound of a request. The tree itself is in budget.c.
 */
#include <math.h>
#include <string.h>

#include "budget_int.h"

/* ---- money and counts ---- */

budget_money budget_money_from(double x)
{
	if (!(x > 0))
		return 0;
	if (x >= (double)BUDGET_MONEY_MAX / 1e12)
		return BUDGET_MONEY_MAX;
	return (budget_money)(x * 1e12 + 0.5);
}

double budget_money_to(budget_money m)
{
	return (double)m / 1e12;
}

budget_money budget_money_limit(double x)
{
	if (!(x > 0))
		return 0;
	if (x >= (double)BUDGET_MONEY_MAX / 1e12)
		return BUDGET_MONEY_MAX;
	/* up, and never below one unit: a tiny limit is not "unlimited" */
	double units = ceil(x * 1e12);
	return units < 1 ? 1 : (budget_money)units;
}

uint64_t budget_count_up(double x)
{
	if (!(x > 0))
		return 0;
	if (x >= 18446744073709549568.0)   /* the last double below 2^64 */
		return UINT64_MAX;
	double up = ceil(x);
	return up < 1 ? 1 : (uint64_t)up;
}

void budget_limits_from_numbers(budget_limits *out, double max_tokens, double max_cost,
                                double max_duration_ms)
{
	out->max_tokens = budget_count_up(max_tokens);
	out->max_cost = max_cost > 0 ? max_cost : 0;
	out->max_duration_ms = budget_count_up(max_duration_ms);
}

/* ---- limits as JSON ---- */

static int read_whole(uint64_t *dst, const cJSON *item, const char *what)
{
	if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble) || item->valuedouble < 0 ||
	    item->valuedouble > 1e15 || item->valuedouble != floor(item->valuedouble))
		return cog__error(COG_EINVAL, "%s: \"%s\" must be a whole number from 0 to 1e15",
			what, item->string);
	*dst = (uint64_t)item->valuedouble;
	return COG_OK;
}

int budget_limits_from_json(budget_limits *out, const cJSON *json, const char *what)
{
	memset(out, 0, sizeof(*out));
	if (!json || cJSON_IsNull(json))
		return COG_OK;
	if (!cJSON_IsObject(json))
		return cog__error(COG_EINVAL, "%s: a budget must be an object "
			"{\"max_tokens\",\"max_cost\",\"max_duration_ms\"}", what);
	budget_limits l = { 0, 0, 0 };
	const cJSON *f;
	cJSON_ArrayForEach(f, json) {
		int rc = COG_OK;
		if (strcmp(f->string, "max_tokens") == 0)
			rc = read_whole(&l.max_tokens, f, what);
		else if (strcmp(f->string, "max_duration_ms") == 0)
			rc = read_whole(&l.max_duration_ms, f, what);
		else if (strcmp(f->string, "max_cost") == 0) {
			if (!cJSON_IsNumber(f) || !isfinite(f->valuedouble) || f->valuedouble < 0 ||
			    f->valuedouble > 1e15)
				rc = cog__error(COG_EINVAL, "%s: \"max_cost\" must be a number from 0 "
					"to 1e15", what);
			else
				l.max_cost = f->valuedouble;
		} else
			rc = cog__error(COG_EINVAL, "%s: unknown budget member \"%s\" (max_tokens, "
				"max_cost, max_duration_ms)", what, f->string);
		if (rc)
			return rc;
	}
	*out = l;
	return COG_OK;
}

cJSON *budget_limits_to_json(const budget_limits *limits)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	if ((limits->max_tokens &&
	     !cJSON_AddNumberToObject(o, "max_tokens", (double)limits->max_tokens)) ||
	    (limits->max_cost > 0 && !cJSON_AddNumberToObject(o, "max_cost", limits->max_cost)) ||
	    (limits->max_duration_ms &&
	     !cJSON_AddNumberToObject(o, "max_duration_ms", (double)limits->max_duration_ms))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int cog_ctx_set_budget(cog_ctx *ctx, const char *budget_json)
{
	static const char fn[] = "cog_ctx_set_budget";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(budget_json, fn, "budget_json is NULL");
	cJSON *json = NULL;
	budget_limits limits;
	agents_state *st;
	int rc = cog_json_parse(&json, budget_json, fn);
	if (rc == COG_OK)
		rc = budget_limits_from_json(&limits, json, fn);
	cJSON_Delete(json);
	if (rc || (rc = agents_get(ctx, &st)))
		return rc;
	pthread_mutex_lock(&st->budget_lock);
	budget_node *root = st->budget_root;
	root->limits = limits;
	root->max_money = budget_money_limit(limits.max_cost);
	root->has_limits = limits.max_tokens || limits.max_cost > 0 || limits.max_duration_ms;
	root->started_ms = cog_clock_realtime_ms();
	pthread_mutex_unlock(&st->budget_lock);
	return COG_OK;
}

/* ---- the report (under the budget lock) ---- */

static bool add_spent(cJSON *o, uint64_t in, uint64_t out, budget_money money, uint64_t calls)
{
	cJSON *s = cJSON_AddObjectToObject(o, "spent");
	return s && cJSON_AddNumberToObject(s, "input_tokens", (double)in) &&
	       cJSON_AddNumberToObject(s, "output_tokens", (double)out) &&
	       cJSON_AddNumberToObject(s, "tokens", (double)(in + out)) &&
	       cJSON_AddNumberToObject(s, "cost", budget_money_to(money)) &&
	       cJSON_AddNumberToObject(s, "llm_calls", (double)calls);
}

/* A node's object; children (plans of the root, tasks of a plan) under
 * `children_name` when given. */
static cJSON *node_json(const budget_node *n, const char *children_name)
{
	cJSON *o = cJSON_CreateObject(), *r, *limit = budget_limits_to_json(&n->limits);
	bool ok = o && limit && cJSON_AddItemToObject(o, "limit", limit);
	if (!ok)
		cJSON_Delete(limit);
	ok = ok && add_spent(o, n->input_tokens, n->output_tokens, n->spent_money, n->llm_calls) &&
	     (r = cJSON_AddObjectToObject(o, "reserved")) &&
	     cJSON_AddNumberToObject(r, "tokens", (double)n->reserved_tokens) &&
	     cJSON_AddNumberToObject(r, "cost", budget_money_to(n->reserved_money)) &&
	     cJSON_AddNumberToObject(o, "refused", (double)n->refused);
	if (ok && children_name) {
		cJSON *c = cJSON_AddObjectToObject(o, children_name);
		ok = c != NULL;
		for (const budget_node *k = n->children; ok && k; k = k->next) {
			cJSON *child = node_json(k, n->depth == 0 ? "tasks" : NULL);
			ok = child && cJSON_AddItemToObject(c, k->key, child);
			if (!ok)
				cJSON_Delete(child);
		}
	}
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *agents_json(const agents_state *st)
{
	cJSON *o = cJSON_CreateObject();
	for (const struct budget_agent_usage *u = st->agent_usage; o && u; u = u->next) {
		cJSON *a = cJSON_CreateObject();
		if (!a || !add_spent(a, u->input_tokens, u->output_tokens, u->spent_money,
		                     u->llm_calls) || !cJSON_AddItemToObject(o, u->name, a)) {
			cJSON_Delete(a);
			cJSON_Delete(o);
			return NULL;
		}
	}
	return o;
}

int cog_budget_report(cog_ctx *ctx, const char *plan_id, char **json)
{
	static const char fn[] = "cog_budget_report";
	agents_state *st;
	int rc = agents_report_begin(ctx, json, fn, &st);
	if (rc)
		return rc;
	cJSON *o = NULL;
	pthread_mutex_lock(&st->budget_lock);
	const budget_node *n = st->budget_root;
	if (plan_id) {
		for (n = n->children; n && strcmp(n->key, plan_id) != 0; n = n->next)
			;
		if (!n) {
			pthread_mutex_unlock(&st->budget_lock);
			return cog__error(COG_ENOTFOUND, "%s: no spending recorded for plan '%s'",
				fn, plan_id);
		}
		o = node_json(n, "tasks");
	} else if ((o = node_json(n, "plans"))) {
		cJSON *agents = agents_json(st);
		if (!agents || !cJSON_AddItemToObject(o, "agents", agents)) {
			cJSON_Delete(agents);
			cJSON_Delete(o);
			o = NULL;
		}
	}
	pthread_mutex_unlock(&st->budget_lock);
	return agents_report_end(o, json, fn);
}

/* ---- the input bound of a request ---- */

static uint64_t text_bytes(const cJSON *v)
{
	if (!v || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsString(v))
		return strlen(v->valuestring);
	char *text = cog_json_print(v);
	uint64_t n = text ? strlen(text) : 65536; /* OOM: a generous guess */
	cog_free(text);
	return n;
}

uint64_t budget_input_bound(cog_ctx *ctx, const cJSON *request)
{
	(void)ctx; /* the router does not offer the backend's count_tokens */
	uint64_t bytes = 16;
	const cJSON *m, *t;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(request, "messages")) {
		bytes += 8 + text_bytes(cJSON_GetObjectItemCaseSensitive(m, "content"));
		cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(m, "tool_calls")) {
			bytes += text_bytes(cJSON_GetObjectItemCaseSensitive(t, "name"));
			const cJSON *args = cJSON_GetObjectItemCaseSensitive(t, "arguments");
			bytes += text_bytes(cJSON_IsNull(args) || !args ?
				cJSON_GetObjectItemCaseSensitive(t, "arguments_text") : args);
		}
	}
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(request, "tools")) {
		bytes += text_bytes(cJSON_GetObjectItemCaseSensitive(t, "name"));
		bytes += text_bytes(cJSON_GetObjectItemCaseSensitive(t, "description"));
		bytes += text_bytes(cJSON_GetObjectItemCaseSensitive(t, "input_schema"));
	}
	return bytes;
}
