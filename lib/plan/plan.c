/* cog_plan: the task graph, reading tasks from JSON and writing them back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_int.h"

static const char *const state_names[] = {
	"pending", "ready", "running", "succeeded", "failed", "skipped", "uncertain"
};

const char *cog_task_state_name(int state)
{
	return state >= 0 && state < (int)COG_ARRAY_LEN(state_names)
		? state_names[state] : "unknown";
}

/* ---- the id index ---- */

static uint64_t hash_id(const char *id)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h;
}

uint32_t plan_find(const cog_plan *plan, const char *id)
{
	if (!plan->index_cap)
		return PLAN_NO_TASK;
	size_t mask = plan->index_cap - 1;
	for (size_t i = hash_id(id) & mask;; i = (i + 1) & mask) {
		uint32_t t = plan->index[i];
		if (t == PLAN_NO_TASK || strcmp(plan->tasks[t].id, id) == 0)
			return t;
	}
}

static void index_insert(uint32_t *index, size_t cap, const plan_task *tasks,
                         uint32_t t)
{
	size_t mask = cap - 1;
	size_t i = hash_id(tasks[t].id) & mask;
	while (index[i] != PLAN_NO_TASK)
		i = (i + 1) & mask;
	index[i] = t;
}

/* Rebuild the index for `count` tasks at a load of at most one half. */
static int index_rebuild(cog_plan *plan, size_t count)
{
	size_t cap = 16;
	while (cap < count * 2 + 2)
		cap *= 2;
	uint32_t *index = cog_malloc(cap * sizeof(*index));
	if (!index)
		return cog__oom("plan index");
	memset(index, 0xff, cap * sizeof(*index)); /* PLAN_NO_TASK */
	for (uint32_t t = 0; t < plan->count; t++)
		index_insert(index, cap, plan->tasks, t);
	cog_free(plan->index);
	plan->index = index;
	plan->index_cap = cap;
	return COG_OK;
}

/* ---- lifecycle ---- */

int cog_plan_new(cog_plan **out, cog_ctx *ctx, const char *goal)
{
	static const char fn[] = "cog_plan_new";
	COG_CHECK_ARG(out, fn, "out is NULL");
	*out = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(goal, fn, "goal is NULL");
	size_t bad;
	if (!cog_utf8_valid(goal, strlen(goal), &bad))
		return cog__error(COG_EINVAL, "%s: goal is not valid UTF-8 (byte %zu)", fn, bad);
	cog_plan *plan = cog__calloc(1, sizeof(*plan));
	char id[37];
	cog_id pid;
	cog_id_new(&pid);
	cog_id_to_uuid(&pid, id);
	if (!plan || !(plan->goal = cog__strdup(goal)) || !(plan->id = cog__strdup(id))) {
		cog_plan_free(plan);
		return cog__oom(fn);
	}
	plan->ctx = ctx;
	*out = plan;
	return COG_OK;
}

void plan_task_dispose(plan_task *t)
{
	cog_free(t->id);
	cog_free(t->title);
	cog_free(t->kind);
	cog_free(t->tool);
	cJSON_Delete(t->inputs);
	cJSON_Delete(t->capabilities);
	cJSON_Delete(t->meta);
	for (size_t i = 0; i < t->dep_count; i++)
		cog_free(t->dep_ids[i]);
	cog_free(t->dep_ids);
	cog_free(t->deps);
	cog_free(t->result);
	cog_free(t->error);
	memset(t, 0, sizeof(*t));
}

void plan_invalidate(cog_plan *plan)
{
	/* Cheap when there is nothing derived: building a plan of a million
	 * tasks calls this once per task. (plan_prepare() leaves nothing
	 * behind when it fails.) */
	if (!plan->prepared)
		return;
	plan->prepared = false;
	cog_free(plan->order);
	cog_free(plan->dependents_start);
	cog_free(plan->dependents);
	plan->order = plan->dependents_start = plan->dependents = NULL;
	for (size_t i = 0; i < plan->count; i++) {
		cog_free(plan->tasks[i].deps);
		plan->tasks[i].deps = NULL;
	}
}

void cog_plan_free(cog_plan *plan)
{
	if (!plan)
		return;
	plan_invalidate(plan);
	for (size_t i = 0; i < plan->count; i++)
		plan_task_dispose(&plan->tasks[i]);
	cog_free(plan->tasks);
	cog_free(plan->index);
	cog_free(plan->id);
	cog_free(plan->goal);
	cog_free(plan);
}

const char *cog_plan_id(const cog_plan *plan)
{
	return plan ? plan->id : "";
}

const char *cog_plan_goal(const cog_plan *plan)
{
	return plan ? plan->goal : "";
}

size_t cog_plan_task_count(const cog_plan *plan)
{
	return plan ? plan->count : 0;
}

/* ---- reading tasks ---- */

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

static int field_error(const char *where, const char *field, const char *expected)
{
	return cog__error(COG_EINVAL, "%s: field \"%s\" must be %s", where, field, expected);
}

static int copy_string(char **dst, const cJSON *item, const char *where,
                       const char *field)
{
	if (!cJSON_IsString(item))
		return field_error(where, field, "a string");
	if (!(*dst = cog__strdup(item->valuestring)))
		return cog__oom(where);
	return COG_OK;
}

static int get_number(double *dst, const cJSON *item, const char *where,
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
		return field_error(where, "depends_on", "an array of task ids");
	const cJSON *d;
	cJSON_ArrayForEach(d, deps) {
		if (!cJSON_IsString(d))
			return field_error(where, "depends_on", "an array of task ids");
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
		return field_error(where, "estimate", "an object");
	const cJSON *f;
	cJSON_ArrayForEach(f, est) {
		int rc;
		if (strcmp(f->string, "tokens") == 0)
			rc = get_number(&t->est_tokens, f, where, "estimate.tokens", 1e15);
		else if (strcmp(f->string, "cost") == 0)
			rc = get_number(&t->est_cost, f, where, "estimate.cost", 1e15);
		else if (strcmp(f->string, "duration_ms") == 0)
			rc = get_number(&t->est_duration_ms, f, where, "estimate.duration_ms", 1e15);
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
		return field_error(where, "retry", "an object");
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
		return field_error(where, "capabilities", "an array of strings");
	cJSON_ArrayForEach(c, caps)
		if (!cJSON_IsString(c) || !*c->valuestring)
			return field_error(where, "capabilities", "an array of non-empty strings");
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
		return copy_string(&t->title, f, where, name);
	if (strcmp(name, "kind") == 0) {
		cog_free(t->kind);
		t->kind = NULL;
		int rc = copy_string(&t->kind, f, where, name);
		return rc ? rc : check_kind(t->kind, where);
	}
	if (strcmp(name, "tool") == 0)
		return copy_string(&t->tool, f, where, name);
	if (strcmp(name, "inputs") == 0)
		return (t->inputs = cJSON_Duplicate(f, true)) ? COG_OK : cog__oom(where);
	if (strcmp(name, "meta") == 0) {
		if (!cJSON_IsObject(f))
			return field_error(where, name, "an object");
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
			return field_error(where, name, "true or false");
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

static int reserve_task(cog_plan *plan)
{
	if (plan->count == plan->cap) {
		size_t cap = plan->cap ? plan->cap * 2 : 16;
		plan_task *p = cog_realloc(plan->tasks, cap * sizeof(*p));
		if (!p)
			return cog__oom("plan");
		plan->tasks = p;
		plan->cap = cap;
	}
	if (plan->index_cap < (plan->count + 1) * 2 + 2)
		return index_rebuild(plan, plan->count + 1);
	return COG_OK;
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
	if ((rc = reserve_task(plan)))
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
	index_insert(plan->index, plan->index_cap, plan->tasks, (uint32_t)plan->count);
	plan->count++;
	return COG_OK;
}

static int check_not_running(const cog_plan *plan, const char *fn)
{
	if (plan->running)
		return cog__error(COG_EBUSY, "%s: plan %s is running", fn, plan->id);
	return COG_OK;
}

int cog_plan_add_task(cog_plan *plan, const char *task_json)
{
	static const char fn[] = "cog_plan_add_task";
	COG_CHECK_ARG(plan, fn, "plan is NULL");
	int rc = check_not_running(plan, fn);
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
	int rc = check_not_running(plan, fn);
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

static int read_budget(cog_plan *plan, const cJSON *b, const char *where)
{
	if (!cJSON_IsObject(b))
		return field_error(where, "budget", "an object");
	double tokens = 0, cost = 0, duration = 0;
	const cJSON *f;
	cJSON_ArrayForEach(f, b) {
		int rc;
		if (strcmp(f->string, "max_tokens") == 0)
			rc = get_number(&tokens, f, where, "budget.max_tokens", 1e15);
		else if (strcmp(f->string, "max_cost") == 0)
			rc = get_number(&cost, f, where, "budget.max_cost", 1e15);
		else if (strcmp(f->string, "max_duration_ms") == 0)
			rc = get_number(&duration, f, where, "budget.max_duration_ms", 1e15);
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
	int rc = check_not_running(plan, fn);
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
			rc = copy_string(&goal, f, fn, "goal");
			if (!rc) {
				cog_free(plan->goal);
				plan->goal = goal;
			}
		} else if (strcmp(f->string, "budget") == 0) {
			rc = read_budget(plan, f, fn);
		} else if (strcmp(f->string, "tasks") == 0) {
			if (!cJSON_IsArray(f))
				return field_error(fn, "tasks", "an array");
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

int plan_remove_tasks(cog_plan *plan, const bool *remove)
{
	/* Derived data indexes the tasks as they are: drop it before moving. */
	plan_invalidate(plan);
	size_t kept = 0;
	for (size_t i = 0; i < plan->count; i++) {
		if (remove[i])
			plan_task_dispose(&plan->tasks[i]);
		else
			plan->tasks[kept++] = plan->tasks[i];
	}
	plan->count = kept;
	return index_rebuild(plan, kept);
}
