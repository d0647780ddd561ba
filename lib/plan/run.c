/*
 * cog_plan_run: options, the run as a whole, and its outcome.
 *
 * The scheduler's parts: run_state.c keeps the ready queue and the tasks'
 * run states (in-degree counting over the prepared graph), run_inline.c
 * runs one task's attempts and small graphs on the calling thread,
 * run_pool.c bigger graphs (and small ones whose tasks turn out slow) on a
 * pool of workers, replan.c offers failures to the re-planner,
 * run_events.c reports to the event hook, lease.c keeps two processes
 * from running one durable plan at once, run_durable.c holds the
 * transactions that start and end a durable run.
 *
 * Durable runs journal every transition (journal.c) under two rules: a
 * task's "started" record is durable before its executor runs, and its end
 * record before any dependant starts. Both follow from one: records are
 * queued in the order of the transitions (a task's end record before it
 * makes anything ready) and written in that order, and an executor runs
 * only once its "started" record, and so everything queued before it, is
 * durable. A task's end record thus usually shares a commit with the next
 * task's "started" record, and workers share commits with each other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_int.h"
#include "trace_int.h"
#include "cognition/memory.h"

#define DEFAULT_INLINE_MAX 32u
#define MAX_WORKERS 256u

static const size_t options_size[COG_RUN_OPTIONS_VERSION + 1] = {
	0, offsetof(cog_run_options, episodic_namespace), sizeof(cog_run_options)
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

/* ---- the run as a whole ---- */

/* Skip what did not run. */
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
		return;
	/* A re-plan that failed halfway can leave the graph unprepared. */
	bool prepared = plan->prepared || plan_prepare(plan) == COG_OK;
	for (size_t k = 0; k < plan->count; k++) {
		uint32_t i = prepared ? plan->order[k] : (uint32_t)k;
		plan_task *t = &plan->tasks[i];
		if (t->state != COG_TASK_PENDING && t->state != COG_TASK_READY &&
		    t->state != COG_TASK_RUNNING)
			continue;
		/* A dependency the stop itself skipped says nothing new. */
		const plan_task *blocker = prepared ? run_blocking_dependency(plan, t) : NULL;
		if (blocker && blocker->state == COG_TASK_SKIPPED)
			blocker = NULL;
		if (blocker)
			run_blocked_reason(reason, sizeof(reason), blocker);
		run_skip_task(r, i, blocker ? reason : stopped);
	}
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
	} else if (r->waiting_decision) {
		rc = COG_EPENDING;
		cog_buf_printf(&b, "plan %s: %zu task%s waiting for a decision (an approval): ",
			plan->id, r->waiting_decision, r->waiting_decision == 1 ? " is" : "s are");
		list_tasks(&b, plan, COG_TASK_SKIPPED, true);
		cog_buf_puts(&b, "; decide (cog_tool_approval_decide) and run the plan again");
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
	uint64_t t0 = r->events || r->episodes ? cog_clock_mono_ns() : 0;
	r->started_ms = cog_clock_realtime_ms();
	int rc = run_resize(r, NULL, 0);
	if (rc)
		return rc;
	if (r->storage && (rc = plan_journal_new(&r->journal, plan, r->storage)))
		return rc;
	r->timing = r->events || r->journal || r->episodes;
	if (r->events)
		run_emit_plan(r, "plan.started", 0, t0);

	if (plan->replanner)
		run_replan(r);
	else
		run_rebuild(r);
	size_t runnable = r->open;

	unsigned int workers = o->workers ? o->workers : cog__ctx_workers(r->ctx);
	unsigned int inline_max = o->inline_max_tasks ? o->inline_max_tasks : DEFAULT_INLINE_MAX;
	if (workers > runnable)
		workers = runnable ? (unsigned int)runnable : 1;
	r->workers = workers;
	/* Without threads (none could be made) the calling thread does it. A
	 * small graph may still move to the pool if its tasks turn out slow
	 * (run_inline.c). */
	bool big = runnable > inline_max;
	if (workers < 2 || !big || run_threaded(r) != COG_OK) {
		r->handoff_workers = big ? 0 : workers;
		r->workers = 1;
		run_inline(r);
	}
	finish(r);
	if (r->journal)
		run_end_durable(r);
	rc = outcome(r);
	if (r->events)
		run_emit_plan(r, "plan.finished", rc, t0);
	run_episode_outcome(r, rc, t0);
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
	if (plan->view_only)
		return cog__error(COG_EDENIED, "%s: plan %s was read with cog_plan_load(), to look "
			"at; continue it with cog_plan_resume()", fn, plan->id);
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
	if (!executor) {
		/* Tool tasks run through the tool layer; any other kind fails
		 * with a message saying an executor is needed. */
		executor = cog_task_run_tool;
		executor_ud = NULL;
	}
	/* Episodes are written with the run's lock held: the hashing embedder
	 * keeps network calls out of it. */
	cog_memory *episodes = NULL;
	cog_memory_options mo = COG_MEMORY_OPTIONS_INIT;
	mo.embedder = "hashing";
	if (o.episodic_namespace &&
	    (rc = cog_memory_open_with(&episodes, ctx, o.episodic_namespace, &mo)))
		return cog__error_wrap(rc, "%s: episodic_namespace", fn);
	plan_run r;
	memset(&r, 0, sizeof(r));
	plan->running = true; /* also what the first snapshot says */
	if (durable && (rc = run_start_durable(plan, st, !plan->journaled || has_work(plan),
	                                       r.lease_token, fn))) {
		plan->running = false;
		cog_memory_free(episodes);
		return rc;
	}

	r.plan = plan;
	r.ctx = ctx;
	r.executor = executor;
	r.executor_ud = executor_ud;
	r.policy = o.failure_policy;
	r.events = cog__ctx_has_event_hook(ctx);
	r.storage = durable ? st : NULL;
	atomic_init(&r.stop, RUN_GOING);
	atomic_init(&r.error_claimed, 0);

	r.episodes = episodes;
	/* The run's span: its tasks' spans nest under it (run_pool.c hands it
	 * to the workers); a durable run also stores them all. */
	char name[COG_PLAN_ID_MAX + 16];
	snprintf(name, sizeof(name), "plan %s", plan->id);
	cog_span *span = cog__span_begin(ctx, "plan", name, NULL);
	cog__span_attr_str(span, "cog.plan.id", plan->id);
	if (plan->goal)
		cog__span_attr_str(span, "cog.plan.goal", plan->goal);
	if (durable) {
		snprintf(name, sizeof(name), "trace/%s", plan->id);
		cog__span_set_store(span, name);
	}
	cog_span *outer = cog__span_enter(span);
	rc = run_plan(&r, &o);
	cog__span_leave(outer);
	run_episodes_close(&r);
	plan->running = false;
	cog__span_attr_num(span, "cog.plan.tasks", (double)plan->count);
	cog__span_attr_str(span, "cog.plan.status", plan_overall_state(plan));
	cog__span_end(span, rc, rc ? cog_error_last() : NULL);
	if (durable && !r.ended)
		run_release_lease(plan, st, r.lease_token); /* the run could not start */
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
