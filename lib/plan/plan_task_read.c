/* Reading a task from Task JSON into a plan (cog_plan_add_task), and adding
 * dependencies (cog_plan_add_dependency). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_int.h"

int plan_check_task_id(const char *id, const char *fn)
{
	size_t len = strlen(id);
	if (len == 0 || len > COG_TASK_ID_MAX)
		return cog__error(COG_EINVAL, "%s: task id must be 1..%d bytes, got %zu",
			fn, COG_TASK_ID_MAX, len);
	for (size_t i = 0; i < len; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' || c == ':'))
			return cog__error(COG_EINVAL,
				"%s: task id '%.*s' has '%c' at byte %zu; ids use "
				"[A-Za-z0-9_.:-]", fn, (int)(len > 64 ? 64 : len), id,
				(c >= 0x20 && c < 0x7f) ? c : '?', i);
	}
	return COG_OK;
}

int plan_field_error(const char *where, const char *field, const char *expected)
{
	return cog__error(COG_EINVAL, "%s: field \"%s\" must be %s", where, field, expected);
}

int plan_copy_string(char **dst, const cJSON *item, const char *where,
                     const char *field)
{
	if (!cJSON_IsString(item))
		return plan_field_error(where, field, "a string");
	if (!(*dst = cog__strdup(item->valuestring)))
		return cog__oom(where);
	return COG_OK;
}

int plan_get_number(double *dst, const cJSON *item, const char *where,
                    const char *field, double max)
{
	if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble) ||
	    item->valuedouble < 0 || item->valuedouble > max)
		return cog__error(COG_EINVAL, "%s: field \"%s\" must be a number from 0 to %.0f",
			where, field, max);
	*dst = item->valuedouble;
	return COG_OK;
}

static int get_uint(uint64_t *dst, const cJSON *item, const char *where,
                    const char *field, double min, double max)
{
	if (!cJSON_IsNumber(item) || item->valuedouble != floor(item->valuedouble) ||
	    item->valuedouble < min || item->valuedouble > max)
		return cog__error(COG_EINVAL, "%s: field \"%s\" must be a whole number from "
			"%.0f to %.0f", where, field, min, max);
	*dst = (uint64_t)item->valuedouble;
	return COG_OK;
}

static int add_dep_name(plan_task *t, const char *dep)
{
	if (t->dep_count == t->dep_cap) {
		size_t cap = t->dep_cap ? t->dep_cap * 2 : 4;
		char **p = cog_realloc(t->dep_ids, cap * sizeof(*p));
		if (!p)
			return cog__oom("plan dependency");
		t->dep_ids = p;
		t->dep_cap = cap;
	}
	if (!(t->dep_ids[t->dep_count] = cog__strdup(dep)))
		return cog__oom("plan dependency");
	t->dep_count++;
	return COG_OK;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A name listed twice, found by sorting a copy of the list: O(k log k) for
 * a task with k dependencies (a fan-in may have 100k). */
static const char *duplicate_dep(const plan_task *t, bool *oom)
{
	*oom = false;
	if (t->dep_count < 2)
		return NULL;
	const char **sorted = cog_malloc(t->dep_count * sizeof(*sorted));
	if (!sorted) {
		*oom = true;
		return NULL;
	}
	memcpy(sorted, t->dep_ids, t->dep_count * sizeof(*sorted));
	qsort(sorted, t->dep_count, sizeof(*sorted), compare_names);
	const char *dup = NULL;
	for (size_t i = 1; i < t->dep_count && !dup; i++)
		if (strcmp(sorted[i - 1], sorted[i]) == 0)
			dup = sorted[i];
	cog_free(sorted);
	return dup;
}

static int read_depends_on(plan_task *t, const cJSON *deps, const char *where)
{
	if (!cJSON_IsArray(deps))
		return plan_field_error(where, "depends_on", "an array of task ids");
	const cJSON *d;
	cJSON_ArrayForEach(d, deps) {
		if (!cJSON_IsString(d))
			return plan_field_error(where, "depends_on", "an array of task ids");
		int rc = plan_check_task_id(d->valuestring, where);
		if (!rc && strcmp(d->valuestring, t->id) == 0)
			rc = cog__error(COG_EINVAL, "%s depends on itself", where);
		if (!rc)
			rc = add_dep_name(t, d->valuestring);
		if (rc)
			return rc;
	}
	bool oom;
	const char *dup = duplicate_dep(t, &oom);
	if (oom)
		return cog__oom(where);
	if (dup)
		return cog__error(COG_EINVAL, "%s lists dependency '%s' twice", where, dup);
	return COG_OK;
}

static int read_estimate(plan_task *t, const cJSON *est, const char *where)
{
	if (!cJSON_IsObject(est))
		return plan_field_error(where, "estimate", "an object");
	const cJSON *f;
	cJSON_ArrayForEach(f, est) {
		int rc;
		if (strcmp(f->string, "tokens") == 0)
			rc = plan_get_number(&t->est_tokens, f, where, "estimate.tokens", 1e15);
		else if (strcmp(f->string, "cost") == 0)
			rc = plan_get_number(&t->est_cost, f, where, "estimate.cost", 1e15);
		else if (strcmp(f->string, "duration_ms") == 0)
			rc = plan_get_number(&t->est_duration_ms, f, where, "estimate.duration_ms", 1e15);
		else
			rc = cog__error(COG_EINVAL, "%s: unknown field \"estimate.%s\" (tokens, "
				"cost, duration_ms)", where, f->string);
		if (rc)
			return rc;
	}
	return COG_OK;
}

static int read_retry(plan_task *t, const cJSON *retry, const char *where)
{
	if (!cJSON_IsObject(retry))
		return plan_field_error(where, "retry", "an object");
	const cJSON *f;
	cJSON_ArrayForEach(f, retry) {
		uint64_t v = 0;
		int rc;
		if (strcmp(f->string, "max_attempts") == 0) {
			rc = get_uint(&v, f, where, "retry.max_attempts", 1, 1000);
			t->max_attempts = (unsigned int)v;
		} else if (strcmp(f->string, "backoff_ms") == 0) {
			rc = get_uint(&t->backoff_ms, f, where, "retry.backoff_ms", 0, 86400000);
		} else if (strcmp(f->string, "max_backoff_ms") == 0) {
			rc = get_uint(&t->max_backoff_ms, f, where, "retry.max_backoff_ms", 0, 86400000);
		} else {
			rc = cog__error(COG_EINVAL, "%s: unknown field \"retry.%s\" (max_attempts, "
				"backoff_ms, max_backoff_ms)", where, f->string);
		}
		if (rc)
			return rc;
	}
	return COG_OK;
}

static int check_kind(const char *kind, const char *where)
{
	static const char *const kinds[] = { "host", "tool", "llm", "step" };
	for (size_t i = 0; i < COG_ARRAY_LEN(kinds); i++)
		if (strcmp(kind, kinds[i]) == 0)
			return COG_OK;
	return cog__error(COG_EINVAL, "%s: kind \"%s\" is not one of host, tool, llm, step",
		where, kind);
}

static int read_capabilities(plan_task *t, const cJSON *caps, const char *where)
{
	const cJSON *c;
	if (!cJSON_IsArray(caps))
		return plan_field_error(where, "capabilities", "an array of strings");
	cJSON_ArrayForEach(c, caps)
		if (!cJSON_IsString(c) || !*c->valuestring)
			return plan_field_error(where, "capabilities", "an array of non-empty strings");
	if (!(t->capabilities = cJSON_Duplicate(caps, true)))
		return cog__oom(where);
	return COG_OK;
}

/* One member of a task object. */
static int read_field(plan_task *t, const cJSON *f, const char *where)
{
	const char *name = f->string;
	if (strcmp(name, "id") == 0)
		return COG_OK; /* read first, by the caller */
	/* Exports write absent optional members as null. */
	if (cJSON_IsNull(f) && (strcmp(name, "title") == 0 || strcmp(name, "tool") == 0 ||
	    strcmp(name, "inputs") == 0 || strcmp(name, "capabilities") == 0 ||
	    strcmp(name, "meta") == 0))
		return COG_OK;
	if (strcmp(name, "title") == 0)
		return plan_copy_string(&t->title, f, where, name);
	if (strcmp(name, "kind") == 0) {
		cog_free(t->kind);
		t->kind = NULL;
		int rc = plan_copy_string(&t->kind, f, where, name);
		return rc ? rc : check_kind(t->kind, where);
	}
	if (strcmp(name, "tool") == 0)
		return plan_copy_string(&t->tool, f, where, name);
	if (strcmp(name, "inputs") == 0)
		return (t->inputs = cJSON_Duplicate(f, true)) ? COG_OK : cog__oom(where);
	if (strcmp(name, "meta") == 0) {
		if (!cJSON_IsObject(f))
			return plan_field_error(where, name, "an object");
		return (t->meta = cJSON_Duplicate(f, true)) ? COG_OK : cog__oom(where);
	}
	if (strcmp(name, "capabilities") == 0)
		return read_capabilities(t, f, where);
	if (strcmp(name, "depends_on") == 0)
		return read_depends_on(t, f, where);
	if (strcmp(name, "estimate") == 0)
		return read_estimate(t, f, where);
	if (strcmp(name, "retry") == 0)
		return read_retry(t, f, where);
	if (strcmp(name, "timeout_ms") == 0)
		return get_uint(&t->timeout_ms, f, where, name, 0, 86400000.0 * 365);
	if (strcmp(name, "idempotent") == 0) {
		if (!cJSON_IsBool(f))
			return plan_field_error(where, name, "true or false");
		t->idempotent = cJSON_IsTrue(f);
		return COG_OK;
	}
	/* Written by exports with states; accepted and ignored as input. */
	if (strcmp(name, "state") == 0 || strcmp(name, "attempts") == 0 ||
	    strcmp(name, "result") == 0 || strcmp(name, "error") == 0)
		return COG_OK;
	return cog__error(COG_EINVAL, "%s: unknown field \"%s\" (id, title, kind, tool, "
		"inputs, capabilities, depends_on, estimate, retry, timeout_ms, idempotent, meta)",
		where, name);
}

int plan_add_task_json(cog_plan *plan, const cJSON *obj, const char *where)
{
	if (!cJSON_IsObject(obj))
		return cog__error(COG_EINVAL, "%s: a task must be a JSON object", where);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(obj, "id");
	if (!cJSON_IsString(id))
		return cog__error(COG_EINVAL, "%s: field \"id\" (a string) is required", where);
	int rc = plan_check_task_id(id->valuestring, where);
	if (rc)
		return rc;
	if (plan_find(plan, id->valuestring) != PLAN_NO_TASK)
		return cog__error(COG_EINVAL, "%s: duplicate task id '%s'", where, id->valuestring);
	if ((rc = plan_reserve_task(plan)))
		return rc;
	plan_task t;
	memset(&t, 0, sizeof(t));
	t.max_attempts = 1;
	t.state = COG_TASK_PENDING;
	if (!(t.id = cog__strdup(id->valuestring)) || !(t.kind = cog__strdup("host"))) {
		plan_task_dispose(&t);
		return cog__oom(where);
	}
	/* Messages about the task's fields name the task: "<where>: task 'a'". */
	char at[256 + COG_TASK_ID_MAX];
	snprintf(at, sizeof(at), "%s: task '%s'", where, t.id);
	const cJSON *f;
	cJSON_ArrayForEach(f, obj) {
		/* A member given twice is ambiguous (and its first value would
		 * be overwritten): refused. Stops at the first repeat, so the
		 * scan stays short (unknown members are refused too). */
		for (const cJSON *g = obj->child; g != f && !rc; g = g->next)
			if (strcmp(g->string, f->string) == 0)
				rc = cog__error(COG_EINVAL, "%s: field \"%s\" is given twice", at,
					f->string);
		if (rc || (rc = read_field(&t, f, at))) {
			plan_task_dispose(&t);
			return rc;
		}
	}
	if (strcmp(t.kind, "tool") == 0 && !t.tool)
		rc = cog__error(COG_EINVAL, "%s is of kind \"tool\" but names no \"tool\"", at);
	else if (t.max_backoff_ms && t.max_backoff_ms < t.backoff_ms)
		rc = cog__error(COG_EINVAL, "%s has retry.max_backoff_ms below retry.backoff_ms",
			at);
	if (rc) {
		plan_task_dispose(&t);
		return rc;
	}
	plan_invalidate(plan);
	plan->tasks[plan->count] = t;
	plan_index_insert(plan->index, plan->index_cap, plan->tasks, (uint32_t)plan->count);
	plan->count++;
	return COG_OK;
}

int cog_plan_add_task(cog_plan *plan, const char *task_json)
{
	static const char fn[] = "cog_plan_add_task";
	COG_CHECK_ARG(plan, fn, "plan is NULL");
	int rc = plan_check_not_running(plan, fn);
	cJSON *obj = NULL;
	if (rc || (rc = cog_json_parse(&obj, task_json, fn)))
		return rc;
	rc = plan_add_task_json(plan, obj, fn);
	cJSON_Delete(obj);
	return rc;
}

int cog_plan_add_dependency(cog_plan *plan, const char *task_id, const char *dep_id)
{
	static const char fn[] = "cog_plan_add_dependency";
	COG_CHECK_ARG(plan, fn, "plan is NULL");
	COG_CHECK_ARG(task_id && dep_id, fn, "task id is NULL");
	int rc = plan_check_not_running(plan, fn);
	if (rc)
		return rc;
	uint32_t t = plan_find(plan, task_id), d = plan_find(plan, dep_id);
	if (t == PLAN_NO_TASK || d == PLAN_NO_TASK)
		return cog__error(COG_ENOTFOUND, "%s: no task '%s' in plan %s", fn,
			t == PLAN_NO_TASK ? task_id : dep_id, plan->id);
	if (t == d)
		return cog__error(COG_EINVAL, "%s: task '%s' cannot depend on itself", fn, task_id);
	plan_task *task = &plan->tasks[t];
	for (size_t i = 0; i < task->dep_count; i++)
		if (strcmp(task->dep_ids[i], dep_id) == 0)
			return COG_OK; /* already there */
	plan_invalidate(plan);
	return add_dep_name(task, dep_id);
}
