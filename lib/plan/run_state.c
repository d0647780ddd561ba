/*
 * The run's bookkeeping, shared by both ways of running (run_inline.c,
 * run_pool.c) and by re-planning (replan.c): stopping, the ready queue,
 * skipping tasks, and re-deriving the run state from the tasks' states.
 *
 * In-degree counting over the prepared graph: each task waits for its
 * dependencies to succeed, and those with none left wait in a ready queue
 * (an array of plan->count entries: a task enters it at most once between
 * two re-derivations of the run state, run_rebuild()). Only the run's own
 * arrays are touched on the way: with big graphs, every cache line of the
 * tasks that is not read is time saved.
 */
#include <stdio.h>
#include <string.h>

#include "run_int.h"

/* ---- stopping ---- */

void run_set_stop(plan_run *r, int why)
{
	int going = RUN_GOING;
	atomic_compare_exchange_strong(&r->stop, &going, why);
}

void run_fail(plan_run *r, int code, const char *what)
{
	int unclaimed = 0;
	/* The first failure is the one reported; later ones are its echoes. */
	if (atomic_compare_exchange_strong(&r->error_claimed, &unclaimed, 1)) {
		r->error_code = code ? code : COG_ERROR;
		snprintf(r->error, sizeof(r->error), "%s: %s", what, cog_error_last());
	}
	atomic_store(&r->stop, RUN_STOP_ERROR);
}

/* ---- state changes ---- */

void run_set_error(plan_task *t, int code, const char *message)
{
	char *copy = cog__strdup(message);
	if (copy || !t->error) { /* out of memory: keep the older message */
		cog_free(t->error);
		t->error = copy;
	}
	t->error_code = code;
}

void run_skip_task(plan_run *r, uint32_t i, const char *reason)
{
	plan_task *t = &r->plan->tasks[i];
	t->state = COG_TASK_SKIPPED;
	r->flags[i] |= RUN_CLOSED;
	r->open--;
	r->skipped++;
	run_set_error(t, t->error_code, reason);
	if (r->journal)
		plan_journal_ended(r->journal, t, "skipped", 0);
	if (r->events)
		run_emit_skipped(r, t);
	run_episode_task(r, t);
}

void run_skip_dependants(plan_run *r, uint32_t from)
{
	const cog_plan *plan = r->plan;
	char reason[COG_TASK_ID_MAX + 64];
	snprintf(reason, sizeof(reason), "not run: dependency '%s' failed",
		plan->tasks[from].id);
	/* Each task is pushed once, when it turns from pending to skipped. */
	size_t top = 0;
	r->stack[top++] = from;
	while (top) {
		uint32_t v = r->stack[--top];
		for (uint32_t k = plan->dependents_start[v]; k < plan->dependents_start[v + 1]; k++) {
			uint32_t d = plan->dependents[k];
			if (plan->tasks[d].state == COG_TASK_PENDING) {
				run_skip_task(r, d, reason);
				r->stack[top++] = d;
			}
		}
	}
}

const plan_task *run_blocking_dependency(const cog_plan *plan, const plan_task *t)
{
	for (size_t j = 0; j < t->dep_count; j++) {
		const plan_task *d = &plan->tasks[t->deps[j]];
		if (d->state == COG_TASK_FAILED || d->state == COG_TASK_SKIPPED ||
		    d->state == COG_TASK_UNCERTAIN)
			return d;
	}
	return NULL;
}

void run_blocked_reason(char *out, size_t cap, const plan_task *dep)
{
	snprintf(out, cap, "not run: dependency '%s' %s", dep->id,
		dep->state == COG_TASK_FAILED ? "failed" :
		dep->state == COG_TASK_UNCERTAIN ? "is uncertain" : "was skipped");
}

/* ---- re-deriving the run state ---- */

/* A plan where nothing has happened yet: in-degrees straight from the
 * dependants' CSR, without reading any task but the roots. */
static void rebuild_fresh(plan_run *r)
{
	const cog_plan *plan = r->plan;
	size_t n = plan->count;
	memset(r->waiting, 0, n * sizeof(*r->waiting));
	for (size_t k = 0; k < plan->dependents_start[n]; k++)
		r->waiting[plan->dependents[k]]++;
	for (uint32_t i = 0; i < n; i++) {
		r->flags[i] &= (uint8_t)~(RUN_CLOSED | RUN_READY);
		if (!r->waiting[i])
			run_make_ready(r, i);
	}
}

void run_rebuild(plan_run *r)
{
	cog_plan *plan = r->plan;
	size_t count[COG_TASK_UNCERTAIN + 1] = { 0 };
	for (size_t i = 0; i < plan->count; i++)
		count[plan->tasks[i].state]++;
	r->head = r->tail = 0;
	r->succeeded = count[COG_TASK_SUCCEEDED];
	r->failed = count[COG_TASK_FAILED];
	r->uncertain = count[COG_TASK_UNCERTAIN];
	r->skipped = 0;
	r->waiting_decision = 0;
	r->open = plan->count - r->succeeded - r->failed - r->uncertain;
	if (count[COG_TASK_PENDING] == plan->count) {
		rebuild_fresh(r);
		return;
	}
	char reason[COG_TASK_ID_MAX + 64];
	/* In topological order, so that a dependency's fate is known. */
	for (size_t k = 0; k < plan->count; k++) {
		uint32_t i = plan->order[k];
		plan_task *t = &plan->tasks[i];
		if (t->state == COG_TASK_SUCCEEDED || t->state == COG_TASK_FAILED ||
		    t->state == COG_TASK_UNCERTAIN) {
			r->flags[i] |= RUN_CLOSED;
			continue;
		}
		if (r->flags[i] & RUN_WAITING) { /* waits for a decision all run long */
			r->flags[i] |= RUN_CLOSED;
			r->open--;
			r->skipped++;
			r->waiting_decision++;
			continue;
		}
		const plan_task *blocker = run_blocking_dependency(plan, t);
		if (blocker) {
			if (t->state != COG_TASK_SKIPPED) {
				run_blocked_reason(reason, sizeof(reason), blocker);
				run_skip_task(r, i, reason);
			} else {
				r->flags[i] |= RUN_CLOSED;
				r->open--;
				r->skipped++;
			}
			continue;
		}
		uint32_t waiting = 0;
		for (size_t j = 0; j < t->dep_count; j++)
			waiting += plan->tasks[t->deps[j]].state != COG_TASK_SUCCEEDED;
		r->waiting[i] = waiting;
		bool was_ready = t->state == COG_TASK_READY || (r->flags[i] & RUN_READY);
		r->flags[i] &= (uint8_t)~(RUN_CLOSED | RUN_READY);
		t->state = COG_TASK_PENDING;
		if (!waiting) {
			if (was_ready) { /* already announced */
				r->flags[i] |= RUN_READY;
				r->queue[r->tail++] = i;
			} else {
				run_make_ready(r, i);
			}
		}
	}
}

int run_resize(plan_run *r, const uint32_t *map, size_t old_count)
{
	size_t n = r->plan->count, cap = n ? n : 1;
	uint32_t *waiting = cog_malloc(cap * sizeof(*waiting));
	uint32_t *queue = cog_malloc(cap * sizeof(*queue));
	uint32_t *tries = cog__calloc(cap, sizeof(*tries));
	uint32_t *stack = cog_malloc((cap + 1) * sizeof(*stack));
	uint8_t *flags = cog__calloc(cap, sizeof(*flags));
	if (!waiting || !queue || !tries || !stack || !flags) {
		cog_free(waiting);
		cog_free(queue);
		cog_free(tries);
		cog_free(stack);
		cog_free(flags);
		return cog__oom("cog_plan_run");
	}
	for (size_t i = 0; map && i < old_count; i++) {
		if (map[i] != PLAN_NO_TASK) {
			tries[map[i]] = r->tries[i];
			flags[map[i]] = r->flags[i];
		}
	}
	cog_free(r->waiting);
	cog_free(r->queue);
	cog_free(r->tries);
	cog_free(r->stack);
	cog_free(r->flags);
	r->waiting = waiting;
	r->queue = queue;
	r->tries = tries;
	r->stack = stack;
	r->flags = flags;
	r->cap = n;
	r->head = r->tail = 0;
	return COG_OK;
}
