/* Plans to and from JSON: the budget, whole plans (cog_plan_from_json) and
 * the canonical Plan and Task JSON written back. */
#include <stdio.h>
#include <string.h>

#include "plan_int.h"

/* ---- the budget ---- */

static int read_budget(cog_plan *plan, const cJSON *b, const char *where)
{
	if (!cJSON_IsObject(b))
		return plan_field_error(where, "budget", "an object");
	double tokens = 0, cost = 0, duration = 0;
	const cJSON *f;
	cJSON_ArrayForEach(f, b) {
		int rc;
		if (strcmp(f->string, "max_tokens") == 0)
			rc = plan_get_number(&tokens, f, where, "budget.max_tokens", 1e15);
		else if (strcmp(f->string, "max_cost") == 0)
			rc = plan_get_number(&cost, f, where, "budget.max_cost", 1e15);
		else if (strcmp(f->string, "max_duration_ms") == 0)
			rc = plan_get_number(&duration, f, where, "budget.max_duration_ms", 1e15);
		else
			rc = cog__error(COG_EINVAL, "%s: unknown field \"budget.%s\" (max_tokens, "
				"max_cost, max_duration_ms)", where, f->string);
		if (rc)
			return rc;
	}
	plan->budget_tokens = tokens;
	plan->budget_cost = cost;
	plan->budget_duration_ms = duration;
	plan_invalidate(plan);
	return COG_OK;
}

int cog_plan_set_budget(cog_plan *plan, const char *budget_json)
{
	static const char fn[] = "cog_plan_set_budget";
	COG_CHECK_ARG(plan, fn, "plan is NULL");
	int rc = plan_check_not_running(plan, fn);
	cJSON *b = NULL;
	if (rc || (rc = cog_json_parse(&b, budget_json, fn)))
		return rc;
	rc = read_budget(plan, b, fn);
	cJSON_Delete(b);
	return rc;
}

/* ---- whole plans ---- */

static int read_plan(cog_plan *plan, const cJSON *root)
{
	static const char fn[] = "cog_plan_from_json";
	char where[96];
	const cJSON *f;
	cJSON_ArrayForEach(f, root) {
		int rc = COG_OK;
		if (strcmp(f->string, "version") == 0) {
			if (!cJSON_IsNumber(f) || f->valuedouble != 1)
				rc = cog__error(COG_EINVAL, "%s: plan version must be 1", fn);
		} else if (strcmp(f->string, "id") == 0) {
			if (!cJSON_IsString(f) || !*f->valuestring ||
			    strlen(f->valuestring) > COG_PLAN_ID_MAX ||
			    plan_check_task_id(f->valuestring, fn))
				rc = cog__error(COG_EINVAL, "%s: plan id must be 1..%d bytes of "
					"[A-Za-z0-9_.:-]", fn, COG_PLAN_ID_MAX);
			else {
				char *id = cog__strdup(f->valuestring);
				if (!id)
					return cog__oom(fn);
				cog_free(plan->id);
				plan->id = id;
			}
		} else if (strcmp(f->string, "goal") == 0) {
			char *goal = NULL;
			rc = plan_copy_string(&goal, f, fn, "goal");
			if (!rc) {
				cog_free(plan->goal);
				plan->goal = goal;
			}
		} else if (strcmp(f->string, "budget") == 0) {
			rc = read_budget(plan, f, fn);
		} else if (strcmp(f->string, "tasks") == 0) {
			if (!cJSON_IsArray(f))
				return plan_field_error(fn, "tasks", "an array");
			size_t i = 0;
			const cJSON *t;
			cJSON_ArrayForEach(t, f) {
				snprintf(where, sizeof(where), "%s: tasks[%zu]", fn, i++);
				if ((rc = plan_add_task_json(plan, t, where)))
					return rc;
			}
		} else if (strcmp(f->string, "state") != 0) {
			rc = cog__error(COG_EINVAL, "%s: unknown field \"%s\" (version, id, goal, "
				"budget, tasks)", fn, f->string);
		}
		if (rc)
			return rc;
	}
	return COG_OK;
}

int cog_plan_from_json(cog_plan **out, cog_ctx *ctx, const char *json)
{
	static const char fn[] = "cog_plan_from_json";
	COG_CHECK_ARG(out, fn, "out is NULL");
	*out = NULL;
	cJSON *root = NULL;
	int rc = cog_json_parse(&root, json, fn);
	if (rc)
		return rc;
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return cog__error(COG_EINVAL, "%s: a plan must be a JSON object", fn);
	}
	const char *goal = cog_json_get_string(root, "goal");
	cog_plan *plan = NULL;
	rc = cog_plan_new(&plan, ctx, goal ? goal : "");
	if (!rc)
		rc = read_plan(plan, root);
	cJSON_Delete(root);
	if (rc) {
		cog_plan_free(plan);
		return rc;
	}
	*out = plan;
	return COG_OK;
}

/* ---- writing ---- */

static bool add_num(cJSON *o, const char *name, double v)
{
	return cJSON_AddNumberToObject(o, name, v) != NULL;
}

static bool add_copy(cJSON *o, const char *name, const cJSON *v)
{
	cJSON *c = v ? cJSON_Duplicate(v, true) : cJSON_CreateNull();
	if (!c)
		return false;
	cJSON_AddItemToObject(o, name, c);
	return true;
}

static bool add_str_or_null(cJSON *o, const char *name, const char *s)
{
	return (s ? cJSON_AddStringToObject(o, name, s) : cJSON_AddNullToObject(o, name)) != NULL;
}

/* Parsed JSON text (a stored result), or null. */
static bool add_raw_json(cJSON *o, const char *name, const char *text)
{
	cJSON *v = text ? cJSON_Parse(text) : cJSON_CreateNull();
	if (!v)
		return false;
	cJSON_AddItemToObject(o, name, v);
	return true;
}

cJSON *plan_task_to_json(const plan_task *t, bool with_state)
{
	cog__json_init();
	cJSON *deps = cJSON_CreateArray();
	bool ok = deps != NULL;
	for (size_t i = 0; ok && i < t->dep_count; i++) {
		cJSON *s = cJSON_CreateString(t->dep_ids[i]);
		ok = s && cJSON_AddItemToArray(deps, s);
	}
	/* Canonical form: every field, in the documented order, so that a
	 * round trip through cog_plan_from_json() is exact. */
	cJSON *o = ok ? cJSON_CreateObject() : NULL;
	cJSON *est = NULL, *retry = NULL;
	ok = o && cJSON_AddStringToObject(o, "id", t->id) &&
		add_str_or_null(o, "title", t->title) &&
		cJSON_AddStringToObject(o, "kind", t->kind) &&
		add_str_or_null(o, "tool", t->tool) &&
		add_copy(o, "inputs", t->inputs) &&
		add_copy(o, "capabilities", t->capabilities);
	if (ok) {
		cJSON_AddItemToObject(o, "depends_on", deps);
		deps = NULL;
	}
	ok = ok && (est = cJSON_AddObjectToObject(o, "estimate")) &&
		add_num(est, "tokens", t->est_tokens) && add_num(est, "cost", t->est_cost) &&
		add_num(est, "duration_ms", t->est_duration_ms) &&
		(retry = cJSON_AddObjectToObject(o, "retry")) &&
		add_num(retry, "max_attempts", t->max_attempts) &&
		add_num(retry, "backoff_ms", (double)t->backoff_ms) &&
		add_num(retry, "max_backoff_ms", (double)t->max_backoff_ms) &&
		add_num(o, "timeout_ms", (double)t->timeout_ms) &&
		cJSON_AddBoolToObject(o, "idempotent", t->idempotent) &&
		add_copy(o, "meta", t->meta);
	if (ok && with_state)
		ok = cJSON_AddStringToObject(o, "state", cog_task_state_name(t->state)) &&
			add_num(o, "attempts", t->attempts) &&
			add_raw_json(o, "result", t->result) &&
			add_str_or_null(o, "error", t->error);
	if (!ok) {
		cJSON_Delete(deps);
		cJSON_Delete(o);
		cog__oom("plan task to JSON");
		return NULL;
	}
	return o;
}

cJSON *plan_to_json(const cog_plan *plan, bool with_state)
{
	cog__json_init();
	cJSON *o = cJSON_CreateObject(), *budget = NULL, *tasks = NULL;
	bool ok = o && add_num(o, "version", 1) &&
		cJSON_AddStringToObject(o, "id", plan->id) &&
		cJSON_AddStringToObject(o, "goal", plan->goal) &&
		(budget = cJSON_AddObjectToObject(o, "budget")) &&
		add_num(budget, "max_tokens", plan->budget_tokens) &&
		add_num(budget, "max_cost", plan->budget_cost) &&
		add_num(budget, "max_duration_ms", plan->budget_duration_ms) &&
		(tasks = cJSON_AddArrayToObject(o, "tasks"));
	for (size_t i = 0; ok && i < plan->count; i++) {
		cJSON *t = plan_task_to_json(&plan->tasks[i], with_state);
		ok = t && cJSON_AddItemToArray(tasks, t);
	}
	if (!ok) {
		cJSON_Delete(o);
		cog__oom("plan to JSON");
		return NULL;
	}
	return o;
}
