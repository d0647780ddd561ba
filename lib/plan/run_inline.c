/*
 * Running tasks on the calling thread, and the steps of one task that the
 * pool's workers (run_pool.c) take too: its attempts through the executor,
 * retries with backoff, and how it ended. The loop and the steps share a
 * file so that the steps inline into the loop: a call costs as much as the
 * rest of the scheduling of a no-op task.
 *
 * On the calling thread there is no thread hand-off and no lock, and, in
 * memory without an event hook, no allocation, no JSON and (unless the
 * task has a timeout) no precise clock read per task. Small graphs
 * (inline_max_tasks) and one-worker runs go this way.
 *
 * An attempt that fails (or ends after the task's timeout, as
 * COG_ETIMEOUT) is retried after a full-jitter backoff while the task's
 * retry policy allows; a task failed past its retries goes to the
 * re-planner (replan.c) when there is one, else stops the run (fail-fast)
 * or skips its dependants (continue-independent).
 *
 * Small is not always quick: a plan of four LLM calls is small, and its
 * independent calls should overlap. So when the run may use more than one
 * worker, an inline run moves the rest of its work to the pool
 * (run_threaded) as soon as a task took longer than HANDOFF_SLOW_NS, or
 * is about to start with an estimate that long, and two of the tasks left
 * could run at the same time. Tasks are timed with the coarse monotonic
 * clock (a few ns per read, against ~25 for the precise one): the 2 ms
 * threshold is met at the clock's resolution (a tick of 1 to 4 ms), which
 * is all it takes to tell a no-op from an LLM call. A run with one
 * worker reads no clock, nor does the last task but one of any run; a
 * chain never moves.
 *
 * Durable runs make a task's "started" record durable before its executor
 * runs; the same sync carries the previous task's end record (after a
 * hand-off, the first worker's sync does).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "run_int.h"
#include "trace_int.h"

/* Backoff sleeps in steps this long, checking for a stop in between. */
#define BACKOFF_STEP_MS 50u
/* Without retry.max_backoff_ms, backoff grows to this (or backoff_ms). */
#define DEFAULT_BACKOFF_CAP_MS 60000u

void run_undo_attempt(plan_run *r, uint32_t i)
{
	r->plan->tasks[i].attempts--;
	r->tries[i]--;
}

static void note_failure(plan_task *t, int rc)
{
	char message[1024];
	if (cog_error_last_code() != COG_OK)
		snprintf(message, sizeof(message), "%s", cog_error_last());
	else
		snprintf(message, sizeof(message), "the executor returned %d (%s) without a "
			"message", rc, cog_strerror(rc));
	/* It goes into JSON (journal, status): no invalid UTF-8. */
	size_t len = strlen(message), bad;
	while (!cog_utf8_valid(message, len, &bad))
		message[bad] = '?';
	run_set_error(t, rc, message);
}

/* One attempt: 0 with the task's result set, or the failure's status with
 * its message in t->error and the attempt's partial result (or none) as
 * the task's result. */
static inline int call_executor(plan_run *r, plan_task *t)
{
	cog_task_call call;
	call.run = r;
	call.task = t;
	call.attempt = t->attempts;
	call.deadline_ns = t->timeout_ms ? cog_clock_mono_ns() + t->timeout_ms * 1000000u : 0;
	call.result = NULL;
	call.task_json = NULL;
	call.key_built = false;
	/* A child of the thread's current span: the plan's (run.c enters it
	 * here, run_pool.c on each worker). Entered, so that what the executor
	 * does (agent turns, LLM and tool calls) nests under it. */
	cog_span *span = cog__span_begin(r->ctx, "task", t->id, NULL);
	cog__span_attr_str(span, "cog.plan.id", r->plan->id);
	cog__span_attr_str(span, "cog.task.id", t->id);
	cog__span_attr_str(span, "cog.task.kind", t->kind);
	cog__span_attr_num(span, "cog.task.attempt", call.attempt);
	cog_span *outer = cog__span_enter(span);
	cog_error_clear();
	int rc = r->executor(&call, r->executor_ud);
	cog__span_leave(outer);
	if (call.task_json)
		cog_free(call.task_json);
	/* Waiting for an approval is not the attempt running late: a wait
	 * turned into a timeout would be retried under a new key and orphan
	 * the approval asked for. */
	if (call.deadline_ns && rc != COG_EPENDING && cog_clock_mono_ns() > call.deadline_ns) {
		/* Cooperative: whatever the attempt returned, it ended late. */
		cog__error(COG_ETIMEOUT, "task '%s' timed out after %llu ms (attempt %u)",
			t->id, (unsigned long long)t->timeout_ms, call.attempt);
		rc = COG_ETIMEOUT;
	} else if (rc > 0) {
		cog__error(COG_EUSER, "task '%s': the executor returned %d, which is not a "
			"status (0 or negative)", t->id, rc);
		rc = COG_EUSER;
	}
	if (rc == 0) {
		if (t->result)
			cog_free(t->result);
		t->result = call.result;
		if (t->error) {
			cog_free(t->error);
			t->error = NULL;
		}
		t->error_code = 0;
		cog__span_attr_str(span, "cog.task.state", "succeeded");
		cog__span_end(span, 0, NULL);
		return 0;
	}
	if (rc != COG_EPENDING) {
		/* What a failing attempt did so far (cog_task_call_set_result)
		 * stays as the task's result, replacing an earlier attempt's;
		 * an attempt taken back (waiting) leaves it as it was. */
		if (t->result)
			cog_free(t->result);
		t->result = call.result;
	} else if (call.result) {
		cog_free(call.result);
	}
	note_failure(t, rc);
	cog__span_attr_str(span, "cog.task.state", rc == COG_EPENDING ? "waiting" : "failed");
	cog__span_end(span, rc, t->error);
	return rc;
}

/* Wait out the backoff before the next attempt of task i, with its
 * "retrying" record durable first. False if the run stopped meanwhile. */
static bool retry_wait(plan_run *r, uint32_t i)
{
	plan_task *t = &r->plan->tasks[i];
	uint64_t cap = t->max_backoff_ms ? t->max_backoff_ms :
		t->backoff_ms > DEFAULT_BACKOFF_CAP_MS ? t->backoff_ms : DEFAULT_BACKOFF_CAP_MS;
	uint64_t delay = cog_backoff_delay_ms(r->tries[i] - 1, t->backoff_ms, cap);
	if (r->journal && plan_journal_sync(r->journal,
	    plan_journal_ended(r->journal, t, "retrying", delay))) {
		run_fail(r, cog_error_last_code(), "writing the journal");
		return false;
	}
	if (r->events)
		run_emit_ended(r, "task.retrying", t, (int64_t)delay);
	uint64_t end = cog_clock_mono_ns() + delay * 1000000u;
	for (;;) {
		if (run_stopping(r))
			return false;
		uint64_t now = cog_clock_mono_ns();
		if (now >= end)
			return true;
		uint64_t left_ms = (end - now + 999999u) / 1000000u;
		cog_clock_sleep_ms((unsigned int)(left_ms < BACKOFF_STEP_MS ? left_ms :
			BACKOFF_STEP_MS));
	}
}

attempt_end run_attempts(plan_run *r, uint32_t i)
{
	plan_task *t = &r->plan->tasks[i];
	for (;;) {
		int rc = call_executor(r, t);
		if (rc == 0)
			return END_SUCCEEDED;
		if (rc == COG_EPENDING)
			return END_WAITING;
		bool retries_left = r->tries[i] < t->max_attempts;
		/* Once the run stops, an attempt that failed because it was
		 * told to stop, or that could still be retried, has not really
		 * failed: it stays runnable for a later run. */
		if (run_stopping(r))
			return rc == COG_ECANCELED || retries_left ? END_STOPPED : END_FAILED;
		if (!retries_left)
			return END_FAILED;
		if (!retry_wait(r, i))
			return END_STOPPED;
		uint64_t ticket = run_begin_attempt(r, i);
		if (r->journal && plan_journal_sync(r->journal, ticket)) {
			run_undo_attempt(r, i);
			run_fail(r, cog_error_last_code(), "writing the journal");
			return END_STOPPED;
		}
		if (r->events)
			run_emit_started(r, t);
	}
}

void run_make_ready(plan_run *r, uint32_t i)
{
	r->flags[i] |= RUN_READY;
	r->queue[r->tail++] = i;
	if (r->events)
		run_emit_task(r, "task.ready", &r->plan->tasks[i]);
}

static void fail_consequence(plan_run *r, uint32_t i)
{
	if (r->policy == COG_CONTINUE_INDEPENDENT)
		run_skip_dependants(r, i);
	else
		run_set_stop(r, RUN_STOP_FAIL_FAST);
}

/* With a journal, the end record is queued before any dependant can be
 * taken, so the dependant's own "started" sync makes it durable first (the
 * journal writes records in queue order). */
void run_complete(plan_run *r, uint32_t i, attempt_end end)
{
	cog_plan *plan = r->plan;
	plan_task *t = &plan->tasks[i];
	if (r->timing)
		t->finished_ms = cog_clock_realtime_ms();
	r->open--;
	if (end == END_SUCCEEDED) {
		t->state = COG_TASK_SUCCEEDED;
		r->succeeded++;
		if (r->journal)
			plan_journal_succeeded(r->journal, t);
		if (r->events)
			run_emit_ended(r, "task.succeeded", t, -1);
		run_episode_task(r, t);
		const uint32_t *d = plan->dependents + plan->dependents_start[i];
		const uint32_t *e = plan->dependents + plan->dependents_start[i + 1];
		for (; d < e; d++) {
			if (--r->waiting[*d] == 0 && !(r->flags[*d] & RUN_CLOSED))
				run_make_ready(r, *d);
		}
		return;
	}
	if (end == END_WAITING) {
		r->open++; /* run_skip_task() counts it */
		r->waiting_decision++;
		r->flags[i] |= RUN_WAITING;
		run_undo_attempt(r, i);
		char reason[1100];
		snprintf(reason, sizeof(reason), "waiting for a decision: %s",
			t->error ? t->error : "(no message)");
		t->error_code = COG_EPENDING;
		run_skip_task(r, i, reason);
		return;
	}
	if (end == END_STOPPED) {
		r->open++; /* run_skip_task() counts it */
		char reason[1100];
		snprintf(reason, sizeof(reason), "stopped before finishing%s%s",
			t->error ? ": " : "", t->error ? t->error : "");
		run_skip_task(r, i, reason);
		return;
	}
	t->state = COG_TASK_FAILED;
	r->failed++;
	r->flags[i] |= RUN_FAILED_NOW | RUN_CLOSED;
	if (r->journal)
		plan_journal_ended(r->journal, t, "failed", 0);
	if (r->events)
		run_emit_ended(r, "task.failed", t, -1);
	run_episode_task(r, t);
	if (plan->replanner && !(r->flags[i] & RUN_OFFERED))
		r->replan_wanted = true; /* its dependants wait for the re-planner */
	else
		fail_consequence(r, i);
}

/* ---- on the calling thread ---- */

#define HANDOFF_SLOW_NS 2000000u
#define HANDOFF_SLOW_MS (HANDOFF_SLOW_NS / 1000000u)

static uint64_t coarse_now_ns(void)
{
	struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
	clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Neither ended nor running. */
static bool is_open(const plan_run *r, uint32_t i)
{
	int s = r->plan->tasks[i].state;
	return (s == COG_TASK_PENDING || s == COG_TASK_READY) && !(r->flags[i] & RUN_CLOSED);
}

static bool depends_on(const plan_task *t, uint32_t dep)
{
	for (size_t j = 0; j < t->dep_count; j++)
		if (t->deps[j] == dep)
			return true;
	return false;
}

/*
 * Could two of the open tasks run at the same time? They could not only if
 * the open tasks form a chain: then, in topological order, each one depends
 * directly on the one before it. (An open task's dependencies are open or
 * succeeded, so no path between two of them goes around the open ones.)
 * O(tasks + edges); asked only after a slow task.
 */
static bool parallel_ahead(const plan_run *r)
{
	if (r->tail - r->head >= 2)
		return true;
	const cog_plan *plan = r->plan;
	uint32_t prev = PLAN_NO_TASK;
	for (size_t k = 0; k < plan->count; k++) {
		uint32_t i = plan->order[k];
		if (!is_open(r, i))
			continue;
		if (prev != PLAN_NO_TASK && !depends_on(&plan->tasks[i], prev))
			return true;
		prev = i;
	}
	return false;
}

/* Move the rest of the run to the pool. False if it stays here: too
 * little left, or no thread could be started (then it never tries again). */
static bool hand_off(plan_run *r)
{
	unsigned int workers = r->handoff_workers;
	if (workers > r->open)
		workers = (unsigned int)r->open;
	if (workers < 2 || !parallel_ahead(r))
		return false;
	r->workers = workers;
	if (run_threaded(r) == COG_OK)
		return true;
	r->workers = 1;
	r->handoff_workers = 0;
	return false;
}

void run_inline(plan_run *r)
{
	/* Whether a hand-off may come: then tasks are timed. */
	bool watch = r->handoff_workers >= 2;
	for (;;) {
		if (r->replan_wanted) {
			r->replan_wanted = false;
			run_replan(r);
			continue;
		}
		if (r->head == r->tail || run_stopping(r))
			break;
		uint32_t i = r->queue[r->head++];
		plan_task *t = &r->plan->tasks[i];
		if (watch && t->est_duration_ms >= HANDOFF_SLOW_MS && r->open >= 2) {
			r->head--; /* the pool starts with it */
			if (hand_off(r))
				return;
			r->head++;
			watch = r->handoff_workers >= 2;
		}
		t->state = COG_TASK_RUNNING;
		uint64_t ticket = run_begin_attempt(r, i);
		/* Also makes the previous task's end record durable. */
		if (r->journal && plan_journal_sync(r->journal, ticket)) {
			run_undo_attempt(r, i);
			t->state = COG_TASK_PENDING;
			run_fail(r, cog_error_last_code(), "writing the journal");
			break;
		}
		if (r->events)
			run_emit_started(r, t);
		if (!watch || r->open < 3) { /* with 2 open, this one and one more */
			run_complete(r, i, run_attempts(r, i));
			continue;
		}
		uint64_t t0 = coarse_now_ns();
		attempt_end end = run_attempts(r, i);
		bool slow = coarse_now_ns() - t0 > HANDOFF_SLOW_NS;
		run_complete(r, i, end);
		if (slow && !r->replan_wanted && !run_stopping(r) && r->open >= 2) {
			if (hand_off(r))
				return;
			watch = r->handoff_workers >= 2;
		}
	}
}
