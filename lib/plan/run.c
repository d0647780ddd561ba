/*
 * cog_plan_run: the scheduler.
 *
 * In-degree counting over the prepared graph: each task waits for its
 * dependencies to succeed, and those with none left wait in a ready queue
 * (an array of plan->count entries: a task enters it at most once between
 * two re-derivations of the run state, run_rebuild()).
 *
 * Small graphs (inline_max_tasks) and one-worker runs go through a loop on
 * the calling thread: no thread hand-off, no lock, and, in memory without
 * an event hook, no allocation, no JSON and (unless the task has a
 * timeout) no clock read per task; the tasks' own memory is touched only
 * where their state changes, the rest lives in the run's arrays. Bigger
 * graphs run on a pool of workers around one mutex-protected queue. A
 * worker that finishes a task takes the next one in the same critical
 * section; when many quick tasks are ready it takes several at once, and it
 * wakes idle workers only when there is work for them.
 *
 * Durable runs journal every transition (journal.c) under two rules: a
 * task's "started" record is durable before its executor runs, and its end
 * record before any dependant starts. Both follow from one: records are
 * queued in the order of the transitions (a task's end record before it
 * makes anything ready) and written in that order, and an executor runs
 * only once its "started" record, and so everything queued before it, is
 * durable. A task's end record thus usually shares a commit with the next
 * task's "started" record, and workers share commits with each other.
 *
 * Failures: an attempt that fails (or ends after the task's timeout, as
 * COG_ETIMEOUT) is retried after a full-jitter backoff while the task's
 * retry policy allows; a task failed past its retries goes to the
 * re-planner (replan.c) when there is one, else stops the run (fail-fast)
 * or skips its dependants (continue-independent).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_int.h"

#define DEFAULT_INLINE_MAX 32u
#define MAX_WORKERS 256u
/* Backoff sleeps in steps this long, checking for a stop in between. */
#define BACKOFF_STEP_MS 50u
/* Without retry.max_backoff_ms, backoff grows to this (or backoff_ms). */
#define DEFAULT_BACKOFF_CAP_MS 60000u
/* A worker takes at most this many ready tasks at a time, and only while
 * they take less than BATCH_SLOW_NS each: holding a slow task back from an
 * idle worker costs more than the lock it saves. */
#define BATCH_MAX 32u
#define BATCH_SLOW_NS 20000u

typedef enum attempt_end { END_SUCCEEDED, END_FAILED, END_STOPPED } attempt_end;

static const size_t options_size[COG_RUN_OPTIONS_VERSION + 1] = {
	0, sizeof(cog_run_options)
};

int cog_run_options_init(cog_run_options *options, unsigned int version)
{
	if (!options)
		return cog__error(COG_EINVAL, "cog_run_options_init: options is NULL");
	if (version == 0 || version > COG_RUN_OPTIONS_VERSION)
		return cog__error(COG_EVERSION,
			"cog_run_options_init: version %u is not supported (1..%u)",
			version, COG_RUN_OPTIONS_VERSION);
	cog_run_options defaults = COG_RUN_OPTIONS_INIT;
	memcpy(options, &defaults, options_size[version]);
	options->version = version;
	return COG_OK;
}

/* ---- locking (threaded runs only) ---- */

static void must(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "libcognition: run.c: %s: %s\n", what, strerror(rc));
		abort();
	}
}

static void run_lock(plan_run *r)
{
	if (r->threaded)
		must(pthread_mutex_lock(&r->lock), "pthread_mutex_lock");
}

static void run_unlock(plan_run *r)
{
	if (r->threaded)
		must(pthread_mutex_unlock(&r->lock), "pthread_mutex_unlock");
}

/* ---- stopping ---- */

static void set_stop(plan_run *r, int why)
{
	int going = RUN_GOING;
	atomic_compare_exchange_strong(&r->stop, &going, why);
}

bool run_stopping(plan_run *r)
{
	if (atomic_load_explicit(&r->stop, memory_order_relaxed) != RUN_GOING)
		return true;
	if (cog_ctx_is_canceled(r->ctx)) {
		set_stop(r, RUN_STOP_CANCELED);
		return true;
	}
	return false;
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

/* ---- events (only when the context has an event hook) ---- */

static cJSON *task_data(const plan_run *r, const plan_task *t)
{
	cJSON *d = cJSON_CreateObject();
	if (d && (cog_json_add_string(d, "plan_id", r->plan->id) ||
	          cog_json_add_string(d, "task_id", t->id))) {
		cJSON_Delete(d);
		return NULL;
	}
	return d;
}

static void emit(plan_run *r, const char *type, cJSON *data)
{
	if (data)
		cog__event(r->ctx, type, data);
}

static void emit_task(plan_run *r, const char *type, const plan_task *t)
{
	emit(r, type, task_data(r, t));
}

static void emit_started(plan_run *r, const plan_task *t)
{
	cJSON *d = task_data(r, t);
	if (d && cog_json_add_number(d, "attempt", t->attempts)) {
		cJSON_Delete(d);
		d = NULL;
	}
	emit(r, "task.started", d);
}

/* task.succeeded, task.failed, and task.retrying (with delay_ms >= 0). */
static void emit_ended(plan_run *r, const char *type, const plan_task *t,
                       int64_t delay_ms)
{
	cJSON *d = task_data(r, t);
	bool failed = t->state != COG_TASK_SUCCEEDED;
	if (d && (cog_json_add_number(d, "attempt", t->attempts) ||
	    cog_json_add_number(d, "duration_ms",
		(double)(cog_clock_realtime_ms() - t->started_ms)) ||
	    (failed && (cog_json_add_number(d, "code", t->error_code) ||
	                cog_json_add_string(d, "error", t->error ? t->error : ""))) ||
	    (delay_ms >= 0 && cog_json_add_number(d, "delay_ms", (double)delay_ms)))) {
		cJSON_Delete(d);
		d = NULL;
	}
	emit(r, type, d);
}

static void emit_skipped(plan_run *r, const plan_task *t)
{
	cJSON *d = task_data(r, t);
	if (d && cog_json_add_string(d, "reason", t->error ? t->error : "")) {
		cJSON_Delete(d);
		d = NULL;
	}
	emit(r, "task.skipped", d);
}

/* ---- state changes ---- */

static void set_error(plan_task *t, int code, const char *message)
{
	char *copy = cog__strdup(message);
	if (copy || !t->error) { /* out of memory: keep the older message */
		cog_free(t->error);
		t->error = copy;
	}
	t->error_code = code;
}

/* Put task i in the ready queue (the lock is held in threaded runs). Only
 * the run's own arrays are touched: with big graphs, every cache line of
 * the tasks that is not read is time saved. */
static void make_ready(plan_run *r, uint32_t i)
{
	r->flags[i] |= RUN_READY;
	r->queue[r->tail++] = i;
	if (r->events)
		emit_task(r, "task.ready", &r->plan->tasks[i]);
}

void run_skip_task(plan_run *r, uint32_t i, const char *reason)
{
	plan_task *t = &r->plan->tasks[i];
	t->state = COG_TASK_SKIPPED;
	r->flags[i] |= RUN_CLOSED;
	r->open--;
	r->skipped++;
	set_error(t, t->error_code, reason);
	if (r->journal)
		plan_journal_ended(r->journal, t, "skipped", 0);
	if (r->events)
		emit_skipped(r, t);
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

/* Why task i cannot run: a dependency that ended without succeeding. */
static const plan_task *blocking_dependency(const cog_plan *plan, const plan_task *t)
{
	for (size_t j = 0; j < t->dep_count; j++) {
		const plan_task *d = &plan->tasks[t->deps[j]];
		if (d->state == COG_TASK_FAILED || d->state == COG_TASK_SKIPPED ||
		    d->state == COG_TASK_UNCERTAIN)
			return d;
	}
	return NULL;
}

static void blocked_reason(char *out, size_t cap, const plan_task *dep)
{
	snprintf(out, cap, "not run: dependency '%s' %s", dep->id,
		dep->state == COG_TASK_FAILED ? "failed" :
		dep->state == COG_TASK_UNCERTAIN ? "is uncertain" : "was skipped");
}

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
			make_ready(r, i);
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
		const plan_task *blocker = blocking_dependency(plan, t);
		if (blocker) {
			if (t->state != COG_TASK_SKIPPED) {
				blocked_reason(reason, sizeof(reason), blocker);
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
				make_ready(r, i);
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

/* ---- one task ---- */

/* Account for a new attempt of task i and queue its "started" record;
 * returns the record's ticket (0 in memory). */
static inline uint64_t begin_attempt(plan_run *r, uint32_t i)
{
	plan_task *t = &r->plan->tasks[i];
	t->attempts++;
	r->tries[i]++;
	if (!r->timing)
		return 0;
	t->started_ms = cog_clock_realtime_ms();
	return r->journal ? plan_journal_started(r->journal, t) : 0;
}

/* The "started" record of an attempt could not be written: it never ran. */
static void undo_attempt(plan_run *r, uint32_t i)
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
	set_error(t, rc, message);
}

/* One attempt: 0 with the task's result set, or the failure's status with
 * its message in t->error. */
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
	cog_error_clear();
	int rc = r->executor(&call, r->executor_ud);
	if (call.task_json)
		cog_free(call.task_json);
	if (call.deadline_ns && cog_clock_mono_ns() > call.deadline_ns) {
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
		return 0;
	}
	if (call.result)
		cog_free(call.result);
	note_failure(t, rc);
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
		emit_ended(r, "task.retrying", t, (int64_t)delay);
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

/* Run the attempts of task i, whose first attempt has begun (its "started"
 * record durable), until one succeeds, the retries run out or the run
 * stops. */
static attempt_end run_attempts(plan_run *r, uint32_t i)
{
	plan_task *t = &r->plan->tasks[i];
	for (;;) {
		int rc = call_executor(r, t);
		if (rc == 0)
			return END_SUCCEEDED;
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
		uint64_t ticket = begin_attempt(r, i);
		if (r->journal && plan_journal_sync(r->journal, ticket)) {
			undo_attempt(r, i);
			run_fail(r, cog_error_last_code(), "writing the journal");
			return END_STOPPED;
		}
		if (r->events)
			emit_started(r, t);
	}
}

/* A pool worker's own state. */
typedef struct run_worker {
	plan_run *run;
	bool slow;           /* its recent tasks were slow: take one at a time */
} run_worker;

static void fail_consequence(plan_run *r, uint32_t i)
{
	if (r->policy == COG_CONTINUE_INDEPENDENT)
		run_skip_dependants(r, i);
	else
		set_stop(r, RUN_STOP_FAIL_FAST);
}

/* Record how task i ended, and queue what it makes ready (the lock is held
 * in threaded runs). With a journal, the end record is queued before any
 * dependant can be taken, so the dependant's own "started" sync makes it
 * durable first (the journal writes records in queue order). */
static inline void complete(plan_run *r, uint32_t i, attempt_end end)
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
			emit_ended(r, "task.succeeded", t, -1);
		const uint32_t *d = plan->dependents + plan->dependents_start[i];
		const uint32_t *e = plan->dependents + plan->dependents_start[i + 1];
		for (; d < e; d++) {
			if (--r->waiting[*d] == 0 && !(r->flags[*d] & RUN_CLOSED))
				make_ready(r, *d);
		}
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
		emit_ended(r, "task.failed", t, -1);
	if (plan->replanner && !(r->flags[i] & RUN_OFFERED))
		r->replan_wanted = true; /* its dependants wait for the re-planner */
	else
		fail_consequence(r, i);
}

/* ---- on the calling thread ---- */

static void run_inline(plan_run *r)
{
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
		t->state = COG_TASK_RUNNING;
		uint64_t ticket = begin_attempt(r, i);
		/* Also makes the previous task's end record durable. */
		if (r->journal && plan_journal_sync(r->journal, ticket)) {
			undo_attempt(r, i);
			t->state = COG_TASK_PENDING;
			run_fail(r, cog_error_last_code(), "writing the journal");
			break;
		}
		if (r->events)
			emit_started(r, t);
		complete(r, i, run_attempts(r, i));
	}
}

/* ---- on a pool of workers ---- */

static bool can_take(plan_run *r)
{
	return r->head < r->tail && !r->replan_wanted && !run_stopping(r);
}

static size_t batch_size(const plan_run *r, const run_worker *w)
{
	if (r->journal || w->slow)
		return 1;
	size_t k = (r->tail - r->head) / (2u * r->workers);
	return k < 1 ? 1 : k > BATCH_MAX ? BATCH_MAX : k;
}

static void wake_workers(plan_run *r)
{
	size_t ready = r->tail - r->head;
	if (!ready || !r->idle || r->replan_wanted)
		return;
	if (ready >= r->idle)
		must(pthread_cond_broadcast(&r->work), "pthread_cond_broadcast");
	else
		for (size_t k = 0; k < ready; k++)
			must(pthread_cond_signal(&r->work), "pthread_cond_signal");
}

/* Give back tasks whose "started" records could not be written. */
static void untake(plan_run *r, const uint32_t *batch, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		undo_attempt(r, batch[k]);
		r->plan->tasks[batch[k]].state = COG_TASK_PENDING;
	}
}

static void pool_worker(void *arg)
{
	run_worker *w = arg;
	plan_run *r = w->run;
	uint32_t batch[BATCH_MAX];
	attempt_end ends[BATCH_MAX];
	size_t n = 0;
	uint64_t ticket = 0;
	bool counted = false; /* in r->running */

	run_lock(r);
	for (;;) {
		if (!n) {
			if (!can_take(r)) {
				if (counted) {
					counted = false;
					r->running--;
				}
				if (r->done)
					break;
				if (r->running == 0)
					must(pthread_cond_signal(&r->quiet), "pthread_cond_signal");
				r->idle++;
				must(pthread_cond_wait(&r->work, &r->lock), "pthread_cond_wait");
				r->idle--;
				continue;
			}
			/* Only the indices under the lock: the tasks' own cache
			 * lines are touched outside it. */
			size_t max = batch_size(r, w);
			while (n < max && r->head < r->tail)
				batch[n++] = r->queue[r->head++];
			if (!counted) {
				counted = true;
				r->running++;
			}
			wake_workers(r);
		}
		run_unlock(r);
		for (size_t k = 0; k < n; k++) {
			r->plan->tasks[batch[k]].state = COG_TASK_RUNNING;
			ticket = begin_attempt(r, batch[k]);
		}
		/* Also makes durable every record queued before: the end
		 * records of this task's dependencies among them. */
		if (r->journal && plan_journal_sync(r->journal, ticket)) {
			run_fail(r, cog_error_last_code(), "writing the journal");
			run_lock(r);
			untake(r, batch, n);
			n = 0;
			continue;
		}
		bool measure = n > 1 || w->slow;
		uint64_t t0 = measure ? cog_clock_mono_ns() : 0;
		for (size_t k = 0; k < n; k++) {
			if (r->events)
				emit_started(r, &r->plan->tasks[batch[k]]);
			ends[k] = run_attempts(r, batch[k]);
		}
		if (measure)
			w->slow = (cog_clock_mono_ns() - t0) / n > BATCH_SLOW_NS;

		run_lock(r);
		for (size_t k = 0; k < n; k++)
			complete(r, batch[k], ends[k]);
		n = 0; /* the next batch first, then wake others for the rest */
		if (r->journal && !can_take(r)) {
			/* No "started" record of ours will carry the end records
			 * to disk soon: write them now, so that a crash does not
			 * make a finished task uncertain. */
			uint64_t last = plan_journal_last(r->journal);
			run_unlock(r);
			if (plan_journal_sync(r->journal, last))
				run_fail(r, cog_error_last_code(), "writing the journal");
			run_lock(r);
		}
	}
	run_unlock(r);
}

static int init_sync(plan_run *r)
{
	if (pthread_mutex_init(&r->lock, NULL) != 0)
		return cog__error(COG_ERROR, "cog_plan_run: cannot create a mutex");
	if (pthread_cond_init(&r->work, NULL) != 0) {
		pthread_mutex_destroy(&r->lock);
		return cog__error(COG_ERROR, "cog_plan_run: cannot create a condition variable");
	}
	if (pthread_cond_init(&r->quiet, NULL) != 0) {
		pthread_cond_destroy(&r->work);
		pthread_mutex_destroy(&r->lock);
		return cog__error(COG_ERROR, "cog_plan_run: cannot create a condition variable");
	}
	return COG_OK;
}

/* The calling thread starts the workers, then waits for quiet moments:
 * the end, or a failure for the re-planner. */
static int run_threaded(plan_run *r)
{
	run_worker *workers = cog__calloc(r->workers, sizeof(*workers));
	cog_pool *pool = NULL;
	int rc = workers ? cog_pool_new(&pool, r->workers) : cog__oom("cog_plan_run");
	if (rc) {
		cog_free(workers);
		return rc;
	}
	if ((rc = init_sync(r))) {
		cog_pool_free(pool);
		cog_free(workers);
		return rc;
	}
	r->threaded = true;
	for (unsigned int k = 0; k < r->workers; k++) {
		workers[k].run = r;
		workers[k].slow = true; /* until measured otherwise */
		/* Only the job's allocation can fail; it fails the run. */
		if (cog_pool_submit(pool, pool_worker, &workers[k]) != COG_OK)
			run_fail(r, COG_ENOMEM, "starting the workers");
	}
	run_lock(r);
	for (;;) {
		while (!(r->running == 0 && (r->replan_wanted || !can_take(r))))
			must(pthread_cond_wait(&r->quiet, &r->lock), "pthread_cond_wait");
		if (!r->replan_wanted || run_stopping(r))
			break;
		r->replan_wanted = false;
		run_replan(r);
		wake_workers(r);
	}
	r->done = true;
	must(pthread_cond_broadcast(&r->work), "pthread_cond_broadcast");
	run_unlock(r);
	cog_pool_free(pool);
	r->threaded = false;
	pthread_cond_destroy(&r->quiet);
	pthread_cond_destroy(&r->work);
	pthread_mutex_destroy(&r->lock);
	cog_free(workers);
	return COG_OK;
}

/* ---- the run as a whole ---- */

/* Skip what did not run, and make the last records durable. */
static void finish(plan_run *r)
{
	cog_plan *plan = r->plan;
	int why = atomic_load(&r->stop);
	const char *stopped = why == RUN_STOP_CANCELED ? "not run: the run was canceled" :
		why == RUN_STOP_FAIL_FAST ? "not run: the run stopped after a task failed "
			"(fail-fast)" :
		"not run: the run stopped on an error";
	char reason[COG_TASK_ID_MAX + 64];
	if (!r->open)
		goto sync;
	/* A re-plan that failed halfway can leave the graph unprepared. */
	bool prepared = plan->prepared || plan_prepare(plan) == COG_OK;
	for (size_t k = 0; k < plan->count; k++) {
		uint32_t i = prepared ? plan->order[k] : (uint32_t)k;
		plan_task *t = &plan->tasks[i];
		if (t->state != COG_TASK_PENDING && t->state != COG_TASK_READY &&
		    t->state != COG_TASK_RUNNING)
			continue;
		/* A dependency the stop itself skipped says nothing new. */
		const plan_task *blocker = prepared ? blocking_dependency(plan, t) : NULL;
		if (blocker && blocker->state == COG_TASK_SKIPPED)
			blocker = NULL;
		if (blocker)
			blocked_reason(reason, sizeof(reason), blocker);
		run_skip_task(r, i, blocker ? reason : stopped);
	}
sync:
	if (r->journal && !r->error_code &&
	    plan_journal_sync(r->journal, plan_journal_last(r->journal)))
		run_fail(r, cog_error_last_code(), "writing the journal");
}

/* Append "'id' (detail); " items to b while it stays short. */
static void list_tasks(cog_buf *b, const cog_plan *plan, int state, bool with_error)
{
	size_t listed = 0, more = 0;
	for (size_t i = 0; i < plan->count; i++) {
		const plan_task *t = &plan->tasks[i];
		if (t->state != state)
			continue;
		if (b->len > 600) {
			more++;
			continue;
		}
		cog_buf_printf(b, "%s'%s'", listed ? ", " : "", t->id);
		if (with_error && t->error)
			cog_buf_printf(b, " (%.160s)", t->error);
		listed++;
	}
	if (more)
		cog_buf_printf(b, " and %zu more", more);
}

static int outcome(plan_run *r)
{
	const cog_plan *plan = r->plan;
	if (r->error_code)
		return cog__error(r->error_code, "cog_plan_run: plan %s: %s", plan->id, r->error);
	int rc = COG_OK;
	cog_buf b = COG_BUF_INIT;
	if (atomic_load(&r->stop) == RUN_STOP_CANCELED && r->succeeded < plan->count) {
		rc = COG_ECANCELED;
		cog_buf_printf(&b, "plan %s was canceled: %zu of %zu tasks succeeded, %zu "
			"skipped", plan->id, r->succeeded, plan->count, r->skipped);
	} else if (r->failed) {
		rc = COG_ERROR;
		cog_buf_printf(&b, "plan %s: %zu task%s failed: ", plan->id, r->failed,
			r->failed == 1 ? "" : "s");
		list_tasks(&b, plan, COG_TASK_FAILED, true);
	} else if (r->uncertain) {
		rc = COG_EUNCERTAIN;
		cog_buf_printf(&b, "plan %s: %zu task%s uncertain (interrupted by a crash, "
			"not idempotent): ", plan->id, r->uncertain,
			r->uncertain == 1 ? " is" : "s are");
		list_tasks(&b, plan, COG_TASK_UNCERTAIN, false);
		cog_buf_puts(&b, "; settle them with cog_plan_decide()");
	} else if (r->succeeded < plan->count) {
		rc = COG_ERROR;
		cog_buf_printf(&b, "plan %s: %zu tasks did not run", plan->id,
			plan->count - r->succeeded);
	}
	if (rc) {
		cog__error(rc, "cog_plan_run: %s", b.ptr ? b.ptr : "out of memory");
		cog_buf_dispose(&b);
	}
	return rc;
}

static void emit_plan(plan_run *r, const char *type, int rc, uint64_t t0)
{
	const cog_plan *plan = r->plan;
	cJSON *d = cJSON_CreateObject();
	if (!d || cog_json_add_string(d, "plan_id", plan->id) ||
	    cog_json_add_number(d, "tasks", (double)plan->count)) {
		cJSON_Delete(d);
		return;
	}
	bool ok = true;
	if (strcmp(type, "plan.started") == 0) {
		ok = !cog_json_add_bool(d, "durable", r->journal != NULL);
	} else {
		const char *status = rc == 0 ? "succeeded" : rc == COG_ECANCELED ? "canceled" :
			rc == COG_EUNCERTAIN ? "uncertain" : "failed";
		ok = !cog_json_add_string(d, "status", status) &&
			!cog_json_add_number(d, "code", rc) &&
			!cog_json_add_number(d, "duration_ms",
				(double)(cog_clock_mono_ns() - t0) / 1e6) &&
			!cog_json_add_number(d, "succeeded", (double)r->succeeded) &&
			!cog_json_add_number(d, "failed", (double)r->failed) &&
			!cog_json_add_number(d, "skipped", (double)r->skipped) &&
			!cog_json_add_number(d, "uncertain", (double)r->uncertain) &&
			!cog_json_add_bool(d, "threaded", r->workers > 1);
	}
	if (ok)
		cog__event(r->ctx, type, d);
	else
		cJSON_Delete(d);
}

static int check_options(const cog_run_options *o)
{
	static const char fn[] = "cog_plan_run";
	if (o->version == 0 || o->version > COG_RUN_OPTIONS_VERSION)
		return cog__error(COG_EVERSION, "%s: options version %u is not supported "
			"(1..%u); use cog_run_options_init()", fn, o->version,
			COG_RUN_OPTIONS_VERSION);
	if (o->failure_policy != COG_FAIL_FAST && o->failure_policy != COG_CONTINUE_INDEPENDENT)
		return cog__error(COG_EINVAL, "%s: failure_policy %d is not COG_FAIL_FAST (0) or "
			"COG_CONTINUE_INDEPENDENT (1)", fn, o->failure_policy);
	if (o->durability < COG_DURABLE_AUTO || o->durability > COG_DURABLE_OFF)
		return cog__error(COG_EINVAL, "%s: durability %d is not COG_DURABLE_AUTO (0), "
			"COG_DURABLE_ON (1) or COG_DURABLE_OFF (2)", fn, o->durability);
	if (o->workers > MAX_WORKERS)
		return cog__error(COG_EINVAL, "%s: workers %u is over %u", fn, o->workers,
			MAX_WORKERS);
	return COG_OK;
}

/* A fresh plan must not take over the journal of another with its id:
 * that plan's side effects would be forgotten. */
static int check_fresh(cog_plan *plan, cog_storage *st)
{
	char *doc = NULL;
	int rc = cog_storage_get(st, PLAN_COLLECTION, plan->id, &doc);
	cog_free(doc);
	if (rc == COG_OK)
		return cog__error(COG_EEXISTS, "cog_plan_run: plan %s already has a journal in "
			"the storage; continue it with cog_plan_resume(), or give this plan "
			"another id", plan->id);
	return rc == COG_ENOTFOUND ? COG_OK : rc;
}

static bool has_work(const cog_plan *plan)
{
	for (size_t i = 0; i < plan->count; i++) {
		int s = plan->tasks[i].state;
		if (s != COG_TASK_SUCCEEDED && s != COG_TASK_FAILED && s != COG_TASK_UNCERTAIN)
			return true;
	}
	return false;
}

static int run_plan(plan_run *r, const cog_run_options *o)
{
	cog_plan *plan = r->plan;
	uint64_t t0 = r->events ? cog_clock_mono_ns() : 0;
	int rc = run_resize(r, NULL, 0);
	if (rc)
		return rc;
	if (r->storage && (rc = plan_journal_new(&r->journal, plan, r->storage)))
		return rc;
	r->timing = r->events || r->journal;
	if (r->events)
		emit_plan(r, "plan.started", 0, t0);

	bool was_journaled = plan->journaled;
	if (plan->replanner)
		run_replan(r);
	else
		run_rebuild(r);
	size_t runnable = r->open;
	/* The snapshot holds the definition and every state at the start. */
	if (r->journal && !r->error_code && (!was_journaled || runnable) &&
	    (rc = plan_journal_snapshot(plan, r->storage, "{\"s\":\"snapshot\"}", false)))
		run_fail(r, rc, "writing the journal");

	unsigned int workers = o->workers ? o->workers : cog__ctx_workers(r->ctx);
	unsigned int inline_max = o->inline_max_tasks ? o->inline_max_tasks : DEFAULT_INLINE_MAX;
	if (workers > runnable)
		workers = runnable ? (unsigned int)runnable : 1;
	r->workers = workers;
	/* Without threads (none could be made) the calling thread does it. */
	if (workers < 2 || runnable <= inline_max || run_threaded(r) != COG_OK) {
		r->workers = 1;
		run_inline(r);
	}
	finish(r);
	rc = outcome(r);
	if (r->events)
		emit_plan(r, "plan.finished", rc, t0);
	return rc;
}

int cog_plan_run(cog_plan *plan, const cog_run_options *options)
{
	static const char fn[] = "cog_plan_run";
	COG_CHECK_ARG(plan, fn, "plan is NULL");
	cog_run_options o = COG_RUN_OPTIONS_INIT;
	if (options) {
		if (options->version == 0 || options->version > COG_RUN_OPTIONS_VERSION)
			return check_options(options);
		memcpy(&o, options, options_size[options->version]);
	}
	int rc = check_options(&o);
	if (rc)
		return rc;
	if (plan->running)
		return cog__error(COG_EBUSY, "%s: plan %s is already running", fn, plan->id);
	cog_ctx *ctx = plan->ctx;
	cog_storage *st = cog_ctx_storage(ctx);
	if (o.durability == COG_DURABLE_ON && !st)
		return cog__error(COG_EUNAVAILABLE, "%s: durability is COG_DURABLE_ON but the "
			"context has no storage (cog_ctx_set_storage)", fn);
	bool durable = st && o.durability != COG_DURABLE_OFF;
	if ((rc = plan_prepare(plan)))
		return rc;
	void *executor_ud = NULL;
	cog_task_executor_fn executor = (cog_task_executor_fn)cog__ctx_executor(ctx,
		&executor_ud);
	if (!executor && has_work(plan))
		return cog__error(COG_EINVAL, "%s: plan %s has tasks to run but the context has "
			"no task executor (cog_ctx_set_task_executor)", fn, plan->id);
	if (durable && !plan->journaled && (rc = check_fresh(plan, st)))
		return rc;

	plan_run r;
	memset(&r, 0, sizeof(r));
	r.plan = plan;
	r.ctx = ctx;
	r.executor = executor;
	r.executor_ud = executor_ud;
	r.policy = o.failure_policy;
	r.events = cog__ctx_has_event_hook(ctx);
	r.storage = durable ? st : NULL;
	atomic_init(&r.stop, RUN_GOING);
	atomic_init(&r.error_claimed, 0);

	plan->running = true;
	rc = run_plan(&r, &o);
	plan->running = false;

	plan_journal_free(r.journal);
	cog_free(r.waiting);
	cog_free(r.queue);
	cog_free(r.tries);
	cog_free(r.stack);
	cog_free(r.flags);
	return rc;
}

int cog_plan_set_replanner(cog_plan *plan, cog_replan_fn fn, void *user_data)
{
	COG_CHECK_ARG(plan, "cog_plan_set_replanner", "plan is NULL");
	if (plan->running)
		return cog__error(COG_EBUSY, "cog_plan_set_replanner: plan %s is running",
			plan->id);
	plan->replanner = fn;
	plan->replan_user_data = fn ? user_data : NULL;
	return COG_OK;
}
