/*
 * Private interface of running plans: the scheduler's state (run.c,
 * replan.c), what an executor sees of one attempt (call.c), and the
 * write-ahead journal (journal.c) that resume.c replays. Not installed.
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
 *  - log "plan/<plan id>": transitions after the snapshot, one compact JSON
 *    object each; replay starts after record S (the snapshot's own marker).
 * Records ("t" task id, "s" what happened, "a" attempt, "c" status code,
 * "e" error message):
 *   {"t":"x","s":"started","a":1,"k":"<plan>/x/1"}   before the executor runs
 *   {"t":"x","s":"succeeded","a":1,"r":<result>}     before a dependant starts
 *   {"t":"x","s":"retrying","a":1,"c":-5,"e":"..","d":<delay ms>}
 *   {"t":"x","s":"failed","a":1,"c":-5,"e":".."}
 *   {"t":"x","s":"skipped","e":".."}
 *   {"t":"x","s":"uncertain","a":1}                 written by a resume
 *   {"t":"x","s":"decided","d":"retry|skip|fail"}   cog_plan_decide()
 *   {"s":"snapshot"} {"s":"replanned",..} {"s":"compacted"}  snapshot markers
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

/*
 * Make every record up to `ticket` durable. Group commit: the first caller
 * writes everything queued so far in one storage transaction while the
 * others wait for it. Returns 0, or the journal's first failure (sticky:
 * every later sync returns it, with its message, on any thread).
 */
int plan_journal_sync(plan_journal *j, uint64_t ticket);

/*
 * Write a snapshot: append `marker` (a plan-level record) and store the
 * plan's definition and states as its document, pointing after the marker,
 * in one transaction; with `truncate`, also drop every record up to and
 * including the marker (compaction). Call with no task running and no
 * record queued. Sets plan->journaled.
 */
int plan_journal_snapshot(cog_plan *plan, cog_storage *storage, const char *marker,
                          bool truncate);

/* Append `count` records (NUL-separated in `records`) in one transaction. */
int plan_journal_append_now(cog_plan *plan, cog_storage *storage,
                            const char *records, size_t count);

/* Replay one record onto the plan's states. Records of tasks not in the
 * plan (replaced by a re-plan) and plan-level records change nothing.
 * COG_EIO for a record that is not a JSON object with "s". */
int plan_journal_apply(cog_plan *plan, uint64_t seq, const char *record, size_t len);

/* ---- resume.c ---- */

/* The overall state: "running", "failed", "uncertain", "succeeded" or
 * "pending" (see cog_plan_status). */
const char *plan_overall_state(const cog_plan *plan);

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

	/* Worker pool (threaded runs); the mutex guards everything above
	 * except what belongs to a task a worker is running. */
	bool threaded;
	unsigned int workers;
	pthread_mutex_t lock;
	pthread_cond_t work;        /* workers: ready tasks, or the end */
	pthread_cond_t quiet;       /* the calling thread: nothing running */
	unsigned int running;       /* workers holding tasks */
	unsigned int idle;          /* workers waiting on `work` */
	bool replan_wanted;         /* a failure waits for the re-planner */
	bool done;

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

/* Whether the run must start nothing new; notices cog_ctx_cancel(). */
bool run_stopping(plan_run *run);
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

#endif /* COG_PLAN_RUN_INT_H */
