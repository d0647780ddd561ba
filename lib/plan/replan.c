/*
 * Re-planning during a run: a task that failed past its retries is offered
 * to the plan's re-planner, which may replace it and everything depending
 * on it with new tasks. Runs on the thread of cog_plan_run() while no task
 * is running. The replacement is tried on a copy of the graph first, so a
 * replacement that does not validate leaves the plan as it was and fails
 * the run with the validation's message. Succeeded tasks keep their
 * results; the journal gets a snapshot of the new graph.
 */
#include <stdio.h>
#include <string.h>

#include "run_int.h"

/* Task f and its transitive dependants. */
static void mark_removed(plan_run *r, uint32_t f, bool *remove)
{
	const cog_plan *plan = r->plan;
	size_t top = 0;
	remove[f] = true;
	r->stack[top++] = f;
	while (top) {
		uint32_t v = r->stack[--top];
		for (uint32_t k = plan->dependents_start[v]; k < plan->dependents_start[v + 1]; k++) {
			uint32_t d = plan->dependents[k];
			if (!remove[d]) {
				remove[d] = true;
				r->stack[top++] = d;
			}
		}
	}
}

/* Would the graph with the replacement validate? Tried on a copy. */
static int check_candidate(const cog_plan *plan, const bool *remove, const cJSON *tasks,
                           const char *failed_id)
{
	cog_plan *cand = NULL;
	int rc = cog_plan_new(&cand, plan->ctx, plan->goal);
	if (rc)
		return rc;
	char *id = cog__strdup(plan->id); /* messages name the real plan */
	if (!id) {
		cog_plan_free(cand);
		return cog__oom("re-plan");
	}
	cog_free(cand->id);
	cand->id = id;
	cand->budget_tokens = plan->budget_tokens;
	cand->budget_cost = plan->budget_cost;
	cand->budget_duration_ms = plan->budget_duration_ms;
	for (size_t i = 0; !rc && i < plan->count; i++) {
		if (remove[i])
			continue;
		cJSON *o = plan_task_to_json(&plan->tasks[i], false);
		rc = o ? plan_add_task_json(cand, o, "kept task") : COG_ENOMEM;
		cJSON_Delete(o);
	}
	char where[COG_TASK_ID_MAX + 64];
	size_t k = 0;
	const cJSON *t;
	cJSON_ArrayForEach(t, tasks) {
		if (rc)
			break;
		snprintf(where, sizeof(where), "replacement of '%s': tasks[%zu]", failed_id, k++);
		rc = plan_add_task_json(cand, t, where);
	}
	if (!rc)
		rc = plan_prepare(cand);
	cog_plan_free(cand);
	return rc;
}

static int add_ids(cJSON *array, const cog_plan *plan, const bool *remove)
{
	for (size_t i = 0; i < plan->count; i++) {
		cJSON *s;
		if (remove[i] && (!(s = cJSON_CreateString(plan->tasks[i].id)) ||
		                  !cJSON_AddItemToArray(array, s)))
			return COG_ENOMEM;
	}
	return COG_OK;
}

/* {"s":"replanned","failed":..,"removed":[..],"added":[..]}: the marker of
 * the snapshot, and the data of the plan.replanned event. */
static cJSON *describe(const cog_plan *plan, const char *failed_id, const bool *remove,
                       const cJSON *tasks)
{
	cJSON *o = cJSON_CreateObject(), *removed = NULL, *added = NULL;
	bool ok = o && !cog_json_add_string(o, "s", "replanned") &&
		!cog_json_add_string(o, "failed", failed_id) &&
		(removed = cJSON_AddArrayToObject(o, "removed")) &&
		!add_ids(removed, plan, remove) &&
		(added = cJSON_AddArrayToObject(o, "added"));
	const cJSON *t;
	cJSON_ArrayForEach(t, tasks) {
		cJSON *s;
		if (!ok)
			break;
		ok = (s = cJSON_CreateString(cog_json_get_string(t, "id"))) &&
			cJSON_AddItemToArray(added, s);
	}
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Swap in the replacement (already validated on a copy). */
static int apply(plan_run *r, const bool *remove, const cJSON *tasks,
                 const cJSON *record)
{
	cog_plan *plan = r->plan;
	size_t old_count = plan->count;
	uint32_t *map = cog_malloc((old_count ? old_count : 1) * sizeof(*map));
	if (!map)
		return cog__oom("re-plan");
	uint32_t kept = 0;
	for (size_t i = 0; i < old_count; i++)
		map[i] = remove[i] ? PLAN_NO_TASK : kept++;
	int rc = plan_remove_tasks(plan, remove);
	const cJSON *t;
	cJSON_ArrayForEach(t, tasks) {
		if (rc)
			break;
		rc = plan_add_task_json(plan, t, "replacement");
	}
	if (!rc)
		rc = plan_prepare(plan);
	if (!rc)
		rc = run_resize(r, map, old_count);
	cog_free(map);
	if (rc)
		return rc;
	char *marker = NULL;
	if (r->journal) {
		if (!(marker = cog_json_print(record)))
			return COG_ENOMEM;
		rc = plan_journal_snapshot(plan, r->storage, marker, false);
		cog_free(marker);
	}
	return rc;
}

/* 1: replaced, 0: the re-planner left the failure, <0: the run failed. */
static int replace(plan_run *r, uint32_t f, const char *json)
{
	cog_plan *plan = r->plan;
	char failed_id[COG_TASK_ID_MAX + 1];
	snprintf(failed_id, sizeof(failed_id), "%s", plan->tasks[f].id);
	cJSON *root = NULL;
	int rc = cog_json_parse(&root, json, "replacement");
	const cJSON *tasks = root ? cJSON_GetObjectItemCaseSensitive(root, "tasks") : NULL;
	if (!rc && (!cJSON_IsObject(root) || !cJSON_IsArray(tasks)))
		rc = cog__error(COG_EINVAL, "the replacement must be {\"tasks\":[...]}");
	bool *remove = rc ? NULL : cog__calloc(plan->count ? plan->count : 1, sizeof(*remove));
	if (!rc && !remove)
		rc = cog__oom("re-plan");
	if (!rc) {
		mark_removed(r, f, remove);
		rc = check_candidate(plan, remove, tasks, failed_id);
	}
	cJSON *record = rc ? NULL : describe(plan, failed_id, remove, tasks);
	if (!rc && !record)
		rc = cog__oom("re-plan");
	/* Nothing queued may land after the snapshot: a record of a removed
	 * task would be replayed onto a new task of the same id. */
	if (!rc && r->journal)
		rc = plan_journal_sync(r->journal, plan_journal_last(r->journal));
	if (!rc)
		rc = apply(r, remove, tasks, record);
	if (!rc && r->events) {
		cJSON *data = cJSON_Duplicate(record, true);
		if (data) {
			cJSON_DeleteItemFromObjectCaseSensitive(data, "s");
			if (cog_json_add_string(data, "plan_id", plan->id)) {
				cJSON_Delete(data);
				data = NULL;
			}
		}
		if (data)
			cog__event(r->ctx, "plan.replanned", data);
	}
	cJSON_Delete(record);
	cog_free(remove);
	cJSON_Delete(root);
	if (rc) {
		/* The run fails as failed runs do (COG_ERROR); the message keeps
		 * the replacement's own error. */
		char what[COG_TASK_ID_MAX + 64];
		snprintf(what, sizeof(what), "re-planning task '%s' failed (%s)", failed_id,
			cog_strerror(rc));
		run_fail(r, COG_ERROR, what);
		return -1;
	}
	return 1;
}

static int offer(plan_run *r, uint32_t f)
{
	cog_plan *plan = r->plan;
	plan_task *t = &plan->tasks[f];
	char *json = NULL;
	cog_error_clear();
	int rc = plan->replanner(plan, t->id, t->error ? t->error : "", &json,
		plan->replan_user_data);
	if (rc != 0) {
		cog_free(json);
		char what[COG_TASK_ID_MAX + 64];
		snprintf(what, sizeof(what), "the re-planner failed for task '%s' (%s)", t->id,
			cog_strerror(rc < 0 ? rc : COG_EUSER));
		if (cog_error_last_code() == COG_OK)
			cog__error(COG_EUSER, "it returned %d without a message", rc);
		run_fail(r, COG_ERROR, what);
		return -1;
	}
	if (!json)
		return 0;
	rc = replace(r, f, json);
	cog_free(json);
	return rc;
}

void run_replan(plan_run *r)
{
	cog_plan *plan = r->plan;
	while (plan->replanner && !run_stopping(r)) {
		uint32_t f = PLAN_NO_TASK;
		for (uint32_t i = 0; i < plan->count; i++) {
			if (plan->tasks[i].state == COG_TASK_FAILED && !(r->flags[i] & RUN_OFFERED)) {
				f = i;
				break;
			}
		}
		if (f == PLAN_NO_TASK)
			break;
		r->flags[f] |= RUN_OFFERED;
		int rc = offer(r, f);
		if (rc < 0)
			break;
		/* Left as it is: the failure policy applies after all (a failure
		 * from an earlier run stops nothing). run_rebuild() skips the
		 * dependants. */
		if (rc == 0 && (r->flags[f] & RUN_FAILED_NOW) && r->policy == COG_FAIL_FAST) {
			int going = RUN_GOING;
			atomic_compare_exchange_strong(&r->stop, &going, RUN_STOP_FAIL_FAST);
		}
	}
	if (plan->prepared)
		run_rebuild(r);
	else
		r->head = r->tail = 0; /* a replacement failed halfway: the run stops */
}
