/*
 * Running on a pool of workers around one mutex-protected ready queue.
 * A worker that finishes a task takes the next one in the same critical
 * section; when many quick tasks are ready it takes several at once, and it
 * wakes idle workers only when there is work for them. The calling thread
 * waits for quiet moments: the end, or a failure for the re-planner.
 *
 * Durable runs: a worker's "started" sync also makes durable every record
 * queued before it (the end records of its task's dependencies among
 * them), so workers share commits with each other (group commit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_int.h"
#include "trace_int.h"

/* A worker takes at most this many ready tasks at a time, and only while
 * they take less than BATCH_SLOW_NS each: holding a slow task back from an
 * idle worker costs more than the lock it saves. */
#define BATCH_MAX 32u
#define BATCH_SLOW_NS 20000u

static void must(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "libcognition: run_pool.c: %s: %s\n", what, strerror(rc));
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


/* A pool worker's own state. */
typedef struct run_worker {
	plan_run *run;
	cog_span *plan_span; /* the run's span (run.c), entered by the worker */
	bool slow;           /* its recent tasks were slow: take one at a time */
} run_worker;

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
		run_undo_attempt(r, batch[k]);
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
	/* Task spans are children of the plan's, on this thread too. */
	cog_span *outer = cog__span_enter(w->plan_span);

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
			ticket = run_begin_attempt(r, batch[k]);
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
				run_emit_started(r, &r->plan->tasks[batch[k]]);
			ends[k] = run_attempts(r, batch[k]);
		}
		if (measure)
			w->slow = (cog_clock_mono_ns() - t0) / n > BATCH_SLOW_NS;

		run_lock(r);
		for (size_t k = 0; k < n; k++)
			run_complete(r, batch[k], ends[k]);
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
	cog__span_leave(outer);
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
int run_threaded(plan_run *r)
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
		workers[k].plan_span = cog__span_current();
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
