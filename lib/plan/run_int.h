/*
 * Private interface of running plans: the scheduler's state and its parts
 * (run.c: options, cog_plan_run and the outcome; run_durable.c: the start
 * and end of a durable run; run_state.c: the ready queue and task
 * bookkeeping; run_inline.c: one task's attempts and the loop on the
 * calling thread; run_pool.c: the worker pool; run_events.c: events;
 * replan.c: re-planning), what an executor sees of one attempt
 * (call.c), the write-ahead journal (journal.c; journal_replay.c applies
 * its records, as resume.c replays them), and the owner lease (lease.c).
 * Not installed.
 */
#ifndef COG_PLAN_RUN_INT_H
#define COG_PLAN_RUN_INT_H

#include <stdatomic.h>

#include "plan_int.h"

/* ---- journal.c: the write-ahead journal of one plan ----
 *
 * Storage layout:
 *  - document PLAN_COLLECTION/<plan id>: a snapshot, Plan JSON with every
 *    task's state, attempts, result and error (plan_to_json with states),
 *    plus "state" (the plan's overall state) and "journal":{"seq":S};
 *    written at the start of a run (and by a re-plan, cog_plan_compact and
 *    cog_plan_save), and again, with the final states, when the run ends;
 *  - log "plan/<plan id>": transitions after the snapshot, one compact JSON
 *    object each; replay starts after record S (the snapshot's own marker,
 *    or the last record of the run that wrote the final states);
 *  - document PLAN_LEASE_COLLECTION/<plan id> while a process runs it
 *    (lease.c).
 * Records ("t" task id, "s" what happened, "a" attempt, "c" status code,
 * "e" error message):
 *   {"t":"x","s":"started","a":1,"k":"<plan>/x/1"}   before the executor runs
 *   {"t":"x","s":"succeeded","a":1,"r":<result>}     before a dependant starts
 *   {"t":"x","s":"retrying","a":1,"c":-5,"e":"..","d":<delay ms>,"r":<result>}
 *   {"t":"x","s":"failed","a":1,"c":-5,"e":"..","r":<result>}
 *                          "r": what the failed attempt did so far
 *                          (cog_task_call_set_result before it failed), or
 *                          null; it replaces the task's result (a record
 *                          without "r", of an older version, keeps it)
 *   {"t":"x","s":"skipped","e":".."}
 *   {"t":"x","s":"uncertain","a":1}                 written by a resume
 *   {"t":"x","s":"decided","d":"retry|skip|fail"}   cog_plan_decide() (an
 *                                  uncertain or failed task; a retry or a
 *                                  skip also makes its skipped dependants
 *                                  pending again)
 *   {"s":"snapshot"} {"s":"replanned",..} {"s":"compacted"} {"s":"saved"}
 *                                                   snapshot markers
 */

typedef struct plan_journal plan_journal;

int plan_journal_new(plan_journal **out, cog_plan *plan, cog_storage *storage);
/* Frees; records still queued are dropped (sync first). NULL-safe. */
void plan_journal_free(plan_journal *j);

/* Queue one record; the returned ticket is passed to plan_journal_sync().
 * Records reach the log in the order queued. Thread safe. A failure to
 * build the record is kept and reported by the next sync. */
uint64_t plan_journal_started(plan_journal *j, const plan_task *t);
uint64_t plan_journal_succeeded(plan_journal *j, const plan_task *t);
/* what: "failed", "retrying" (delay_ms used) or "skipped". */
uint64_t plan_journal_ended(plan_journal *j, const plan_task *t, const char *what,
                            uint64_t delay_ms);
/* The ticket of the last record queued so far. */
uint64_t plan_journal_last(plan_journal *j);
/* The log's number of the last record written so far (0: none). */
uint64_t plan_journal_last_seq(plan_journal *j);

/*
 * Make every record up to `ticket` durable. Group commit: the first caller
 * writes everything queued so far in one storage transaction while the
 * others wait for it. Returns 0, or the journal's first failure (sticky:
 * every later sync returns it, with its message, on any thread).
 */
int plan_journal_sync(plan_journal *j, uint64_t ticket);
/* Write every queued record inside the transaction the caller holds (they
 * are durable once it commits). Only when nobody else uses the journal:
 * at the end of a run. Returns 0 or the journal's first failure. */
int plan_journal_flush_in(plan_journal *j);

/*
 * Write a snapshot: append `marker` (a plan-level record) and store the
 * plan's definition and states as its document, pointing after the marker,
 * in one transaction; with `truncate`, also drop every record up to and
 * including the marker (compaction). Call with no task running and no
 * record queued. Sets plan->journaled and plan->journal_seq.
 */
int plan_journal_snapshot(cog_plan *plan, cog_storage *storage, const char *marker,
                          bool truncate);
/* The same inside a transaction the caller holds (and rolls back on
 * failure); no message added. */
int plan_journal_snapshot_in(cog_plan *plan, cog_storage *storage, const char *marker,
                             bool truncate);
/* Store the plan's states as its document, current up to
 * plan->journal_seq, without a marker: the final snapshot of a run whose
 * records are all durable. */
int plan_journal_put_state(cog_plan *plan, cog_storage *storage);

/* The snapshot document of the plan as it is, current up to journal
 * record `seq` (snapshot.c). NULL on OOM. */
char *plan_snapshot_text(const cog_plan *plan, uint64_t seq);

/* Append `count` records (NUL-separated in `records`) inside the
 * transaction the caller holds; plan->journal_seq follows. */
int plan_journal_append_now(cog_plan *plan, cog_storage *storage,
                            const char *records, size_t count);

/* journal_replay.c: replay one record onto the plan's states. Records of tasks not in the
 * plan (replaced by a re-plan) and plan-level records change nothing.
 * COG_EIO for a record that is not a JSON object with "s". */
int plan_journal_apply(cog_plan *plan, uint64_t seq, const char *record, size_t len);

/* ---- decide.c ---- */

/* The overall state: "running", "failed", "uncertain", "succeeded" or
 * "pending" (see cog_plan_status). */
const char *plan_overall_state(const cog_plan *plan);

/* ---- lease.c: one process at a time runs a durable plan ----
 *
 * A run takes the lease (a document of this process's identity) in the
 * transaction that checks nobody holds it, and drops it when it returns.
 * A lease whose process is gone (same host and boot, no such pid, a zombie,
 * or another process under that pid since) is taken over; a live one, or
 * one this host cannot check (another host or pid namespace), makes the
 * caller fail with COG_EBUSY naming the holder. Each call below runs
 * inside a storage transaction the caller holds.
 */

/* The size of a lease's token: a fresh id per run (a UUID, NUL-ended). */
#define PLAN_LEASE_TOKEN_SIZE 37

/* COG_EBUSY (message prefixed with fn) unless nobody, or a process that is
 * gone, holds the lease of plan_id. With `token`, this process takes the
 * lease (a dead holder's is taken over, with a warning in the log) and
 * token gets its token. */
int plan_lease_acquire(cog_ctx *ctx, cog_storage *storage, const char *plan_id,
                       char token[PLAN_LEASE_TOKEN_SIZE], const char *fn);
/* Drop the lease of plan_id if it is still the one with `token`; another's
 * (one that took it over) is left alone. */
int plan_lease_release(cog_storage *storage, const char *plan_id,
                       const char token[PLAN_LEASE_TOKEN_SIZE]);
/* COG_EBUSY if the plan's journal has records after plan->journal_seq:
 * someone else changed the plan since this copy was read. */
int plan_check_current(cog_plan *plan, cog_storage *storage, const char *fn);
/* What a write to a journaled plan outside a run checks (decide, compact,
 * save): nobody else holds the lease and this copy is current. */
int plan_guard_write(cog_plan *plan, cog_storage *storage, const char *fn);
/* Whether a plan is already stored under plan->id that this fresh plan
 * (not journaled) must not replace: COG_EEXISTS unless the stored one has
 * the same definition and never ran (nothing after its snapshot, every
 * task pending). */
int plan_check_fresh(cog_plan *plan, cog_storage *storage, const char *fn);

/* ---- the scheduler (run.c, replan.c) ---- */

enum run_stop {
	RUN_GOING = 0,
	RUN_STOP_FAIL_FAST = 1, /* a task failed under COG_FAIL_FAST */
	RUN_STOP_CANCELED = 2,  /* cog_ctx_cancel() */
	RUN_STOP_ERROR = 3      /* the journal or a re-plan failed: run->error */
};

/* run->flags bits */
#define RUN_FAILED_NOW 1u   /* failed in this run (not loaded as failed) */
#define RUN_OFFERED 2u      /* the re-planner has seen this failure */
#define RUN_CLOSED 4u       /* ended or skipped: never made ready again */
#define RUN_READY 8u        /* in the ready queue (its state stays "pending"
                               until it runs: one write less per task) */
#define RUN_WAITING 16u     /* skipped in this run waiting for a decision
                               (END_WAITING): a re-plan's rebuild keeps it
                               closed; the next run opens it again */

typedef struct plan_run {
	cog_plan *plan;
	cog_ctx *ctx;
	cog_task_executor_fn executor;
	void *executor_ud;
	int policy;                 /* cog_failure_policy */
	bool events;                /* the context has an event hook */
	bool timing;                /* events or journal: keep wall times */
	plan_journal *journal;      /* NULL: in memory only */
	cog_storage *storage;
	atomic_int stop;            /* enum run_stop: nothing new may start */

	/* Per task (plan->count entries; re-sized by a re-plan). */
	size_t cap;
	uint32_t *waiting;          /* dependencies not yet succeeded */
	uint32_t *queue;            /* ready tasks are queue[head..tail) */
	size_t head, tail;
	uint32_t *tries;            /* attempts started in this run */
	uint8_t *flags;             /* RUN_* bits */
	uint32_t *stack;            /* scratch for walks over dependants */

	/* Tasks by state, kept up to date (no pass over the tasks at the
	 * end); open = pending, ready or running. */
	size_t open, succeeded, failed, skipped, uncertain;
	size_t waiting_decision;    /* skipped as END_WAITING in this run */

	/* Worker pool (threaded runs); the mutex guards everything above
	 * except what belongs to a task a worker is running. */
	bool threaded;
	unsigned int workers;
	unsigned int handoff_workers; /* an inline run may move to a pool of
	                                 this many (run_inline.c); < 2: never */
	pthread_mutex_t lock;
	pthread_cond_t work;        /* workers: ready tasks, or the end */
	pthread_cond_t quiet;       /* the calling thread: nothing running */
	unsigned int running;       /* workers holding tasks */
	unsigned int idle;          /* workers waiting on `work` */
	bool replan_wanted;         /* a failure waits for the re-planner */
	bool done;
	bool ended;                 /* durable: the last transaction is done */
	char lease_token[PLAN_LEASE_TOKEN_SIZE]; /* durable: the lease taken */

	struct cog_memory *episodes; /* episodic_namespace's memory, or NULL */
	int64_t started_ms;         /* wall clock at the start of the run */

	atomic_int error_claimed;   /* the first run_fail() writes error */
	int error_code;             /* RUN_STOP_ERROR: why */
	char error[768];
} plan_run;

/* What an executor gets: lives on the runner's stack for one attempt. */
struct cog_task_call {
	plan_run *run;
	plan_task *task;
	unsigned int attempt;
	uint64_t deadline_ns;       /* monotonic; 0: no timeout */
	char *result;               /* cog_task_call_set_result() */
	char *task_json;            /* built on first cog_task_call_task() */
	bool key_built;
	char key[COG_PLAN_ID_MAX + COG_TASK_ID_MAX + 16];
};

/* ---- run_durable.c: the start and the end of a durable run ---- */

/* In one transaction: take the plan's lease (its token in `token`), check
 * that a fresh plan takes over no other's journal and that a journaled one
 * is current, and with `snapshot` store the plan as its snapshot. On
 * failure everything is rolled back; fn prefixes the message. */
int run_start_durable(cog_plan *plan, cog_storage *st, bool snapshot,
                      char token[PLAN_LEASE_TOKEN_SIZE], const char *fn);
/* Drop this process's lease alone, best effort, keeping the thread's last
 * error: when the run could not end in run_end_durable(). */
void run_release_lease(cog_plan *plan, cog_storage *st,
                       const char token[PLAN_LEASE_TOKEN_SIZE]);
/* In one transaction: flush the queued records, store the final states
 * (unless the journal failed or another process wrote to it) and drop the
 * lease; a failure goes to run_fail(). Sets r->ended. */
void run_end_durable(plan_run *r);

/* ---- run_state.c: stopping, the ready queue, task bookkeeping ---- */

/* Stop the run for `why` (enum run_stop) unless it is stopping already. */
void run_set_stop(plan_run *run, int why);
/* Whether the run must start nothing new; notices cog_ctx_cancel().
 * Inline: asked before every task. */
static inline bool run_stopping(plan_run *run)
{
	if (atomic_load_explicit(&run->stop, memory_order_relaxed) != RUN_GOING)
		return true;
	if (cog_ctx_is_canceled(run->ctx)) {
		run_set_stop(run, RUN_STOP_CANCELED);
		return true;
	}
	return false;
}
/* Stop the run for a failure of the journal or of a re-plan: keeps the
 * first code and message (from the calling thread's last error). */
void run_fail(plan_run *run, int code, const char *what);

/* Called with no task running (and the lock held in threaded runs): offer
 * failures to the re-planner, apply replacements, then re-derive the
 * queue. */
void run_replan(plan_run *run);
/* Re-derive waiting counts and the ready queue from the tasks' states
 * (no task running). Tasks behind a failed, skipped or uncertain one are
 * skipped. */
void run_rebuild(plan_run *run);
/* (Re-)allocate the per-task arrays for plan->count tasks; `map` (old
 * index -> new index or PLAN_NO_TASK, NULL: identity) carries tries and
 * flags over. */
int run_resize(plan_run *run, const uint32_t *map, size_t old_count);
/* Skip every pending task that depends, directly or not, on task `from`. */
void run_skip_dependants(plan_run *run, uint32_t from);
/* Mark task i skipped with `reason` (copied): journal record and event. */
void run_skip_task(plan_run *run, uint32_t i, const char *reason);
/* Put task i in the ready queue (the lock is held in threaded runs);
 * in run_inline.c, next to its caller on the path of every task. */
void run_make_ready(plan_run *run, uint32_t i);
/* Set the task's error code and message (copied; on OOM the older message
 * stays). */
void run_set_error(plan_task *t, int code, const char *message);
/* A dependency of t that ended without succeeding (failed, skipped or
 * uncertain), or NULL; and the "not run: ..." reason it gives. */
const plan_task *run_blocking_dependency(const cog_plan *plan, const plan_task *t);
void run_blocked_reason(char *out, size_t cap, const plan_task *dep);

/* ---- run_inline.c: one task, for both ways of running ---- */

/* END_WAITING: the executor returned COG_EPENDING (a tool call waits for
 * approval): the attempt is taken back and the task skipped for this run,
 * so the next run repeats the same attempt, idempotency key included. */
typedef enum attempt_end { END_SUCCEEDED, END_FAILED, END_STOPPED, END_WAITING } attempt_end;

/* Account for a new attempt of task i and queue its "started" record;
 * returns the record's ticket (0 in memory). Inline: it is on the path of
 * every task. */
static inline uint64_t run_begin_attempt(plan_run *run, uint32_t i)
{
	plan_task *t = &run->plan->tasks[i];
	t->attempts++;
	run->tries[i]++;
	if (!run->timing)
		return 0;
	t->started_ms = cog_clock_realtime_ms();
	return run->journal ? plan_journal_started(run->journal, t) : 0;
}
/* The "started" record of an attempt could not be written: it never ran. */
void run_undo_attempt(plan_run *run, uint32_t i);
/* Run the attempts of task i, whose first attempt has begun (its "started"
 * record durable), until one succeeds, the retries run out or the run
 * stops. */
attempt_end run_attempts(plan_run *run, uint32_t i);
/* Record how task i ended and queue what it makes ready (the lock is held
 * in threaded runs). */
void run_complete(plan_run *run, uint32_t i, attempt_end end);

/* ---- run_inline.c and run_pool.c: the two ways of running ---- */

/* Run ready tasks on the calling thread until nothing is left or the run
 * stops; with run->handoff_workers >= 2, move to a pool of workers when
 * tasks turn out slow (run_inline.c says when). */
void run_inline(plan_run *run);
/* Run on a pool of run->workers threads until nothing is left or the run
 * stops; the calling thread re-plans. An error only if the pool could not
 * be started (nothing ran then). */
int run_threaded(plan_run *run);

/* ---- run_events.c: events (only when the context has an event hook) ---- */

/* A task event with only plan_id and task_id (task.ready). */
void run_emit_task(plan_run *run, const char *type, const plan_task *t);
void run_emit_started(plan_run *run, const plan_task *t);
/* task.succeeded, task.failed, and task.retrying (with delay_ms >= 0). */
void run_emit_ended(plan_run *run, const char *type, const plan_task *t,
                    int64_t delay_ms);
void run_emit_skipped(plan_run *run, const plan_task *t);
/* plan.started and plan.finished (status from rc; t0: monotonic start). */
void run_emit_plan(plan_run *run, const char *type, int rc, uint64_t t0);

/* ---- run_episodes.c: episodic memory (cog_run_options.episodic_namespace;
 * cog_plan_run opens run->episodes) ---- */

void run_episodes_close(plan_run *run);
/* A task ended (succeeded, failed, skipped or uncertain). */
void run_episode_task(plan_run *run, const plan_task *t);
void run_episode_outcome(plan_run *run, int rc, uint64_t t0);

#endif /* COG_PLAN_RUN_INT_H */
