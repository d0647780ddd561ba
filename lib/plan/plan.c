/* cog_plan: the plan object, its id index and the storage of its tasks.
 * Reading tasks: plan_task_read.c; plans to and from JSON: plan_json.c. */
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

void plan_index_insert(uint32_t *index, size_t cap, const plan_task *tasks,
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
		plan_index_insert(index, cap, plan->tasks, t);
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

/* ---- storage of tasks ---- */

int plan_reserve_task(cog_plan *plan)
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

int plan_check_not_running(const cog_plan *plan, const char *fn)
{
	if (plan->running)
		return cog__error(COG_EBUSY, "%s: plan %s is running", fn, plan->id);
	return COG_OK;
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
