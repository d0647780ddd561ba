/*
 * libcognition: plans.
 *
 * A cog_plan is a validated directed acyclic graph of tasks for one goal.
 * Plans are built by the host (cog_plan_add_task), read from JSON
 * (cog_plan_from_json), or made by a planner (cog_plan_from_goal: the LLM
 * planner when the context has an LLM endpoint, then the templates). cog_plan_run() executes ready tasks on a
 * worker pool through the task executor set on the context, journals every
 * transition through the context's storage, and cog_plan_resume() continues
 * a plan after a crash without repeating a side effect. One process at a
 * time runs a durable plan: a run holds the plan's lease in the storage
 * (see cog_plan_run). cog_plan_save() stores a plan without running it,
 * cog_plan_load() reads one back just to look at it.
 *
 * Task JSON (fields other than "id" are optional):
 *   {"id":"load","title":"Load the CSV","kind":"tool","tool":"file_read",
 *    "inputs":{...},"capabilities":["python"],"depends_on":["fetch"],
 *    "estimate":{"tokens":0,"cost":0.0,"duration_ms":100},
 *    "retry":{"max_attempts":3,"backoff_ms":200,"max_backoff_ms":10000},
 *    "timeout_ms":60000,"idempotent":false,"meta":{...}}
 * - id: 1..128 bytes of [A-Za-z0-9_.:-], unique in the plan;
 * - kind: "tool" (needs "tool"), "llm", "step" or "host" (default "host");
 * - retry.max_attempts counts the first attempt (default 1: no retry);
 * - idempotent: whether running the task twice is harmless (default false);
 *   only idempotent tasks are re-run after a crash interrupted them;
 * - meta: any JSON object, kept for the host and round-tripped.
 * Unknown fields are rejected (COG_EINVAL naming the field).
 *
 * Plan JSON: {"version":1,"id":"...","goal":"...",
 *             "budget":{"max_tokens":..,"max_cost":..,"max_duration_ms":..},
 *             "tasks":[...]}
 *
 * Threads: a cog_plan is used by one thread at a time; cog_plan_run() may
 * call the executor from several worker threads at once.
 */
#ifndef COGNITION_PLAN_H
#define COGNITION_PLAN_H

#include "common.h"
#include "ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cog_plan cog_plan;

/* Task states. The numbers are part of the ABI. */
typedef enum cog_task_state {
	COG_TASK_PENDING = 0,    /* waiting for its dependencies */
	COG_TASK_READY = 1,      /* dependencies done, waiting for a worker */
	COG_TASK_RUNNING = 2,
	COG_TASK_SUCCEEDED = 3,
	COG_TASK_FAILED = 4,     /* failed past its retries */
	COG_TASK_SKIPPED = 5,    /* not run: a dependency failed or the run stopped */
	COG_TASK_UNCERTAIN = 6   /* was running at a crash and is not idempotent:
	                            its side effect may or may not have happened */
} cog_task_state;

/* "pending", "ready", ... ; "unknown" for other values. Static text. */
COG_API const char *cog_task_state_name(int state);

#define COG_PLAN_ID_MAX 64
#define COG_TASK_ID_MAX 128

/* ---- building ---- */

/*
 * A new, empty plan for `goal` (UTF-8 text, may be empty but not NULL),
 * with a fresh time-ordered id.
 * Errors: COG_EINVAL, COG_ENOMEM.
 */
COG_API int cog_plan_new(cog_plan **out, cog_ctx *ctx, const char *goal);

/* Read a whole plan (see Plan JSON above). Tasks may come in any order;
 * dependencies are checked by cog_plan_validate(). An "id" is kept, else
 * a fresh one is made. Errors: COG_EINVAL naming the task and field. */
COG_API int cog_plan_from_json(cog_plan **out, cog_ctx *ctx, const char *json);

/* Free a plan (not its journal). NULL-safe. */
COG_API void cog_plan_free(cog_plan *plan);

/* Add one task (Task JSON). Its "depends_on" may name tasks added later.
 * Errors: COG_EINVAL (bad JSON or field, duplicate id), COG_EBUSY (the plan
 * is running). */
COG_API int cog_plan_add_task(cog_plan *plan, const char *task_json);

/* Add a dependency: `task_id` runs after `depends_on_id`. Both must exist.
 * Errors: COG_ENOTFOUND, COG_EINVAL (self-dependency), COG_EBUSY. */
COG_API int cog_plan_add_dependency(cog_plan *plan, const char *task_id,
                                    const char *depends_on_id);

/* Set the budget: {"max_tokens":..,"max_cost":..,"max_duration_ms":..};
 * absent or 0 members are unlimited. */
COG_API int cog_plan_set_budget(cog_plan *plan, const char *budget_json);

/* cog_plan_id() and cog_plan_goal(): the plan's id and goal (borrowed,
 * valid as long as the plan); cog_plan_task_count(): how many tasks it has
 * (0 for NULL). */
COG_API const char *cog_plan_id(const cog_plan *plan);
COG_API const char *cog_plan_goal(const cog_plan *plan);
COG_API size_t cog_plan_task_count(const cog_plan *plan);

/* ---- checking and describing ---- */

/*
 * Check the graph: every dependency exists (COG_ENOTFOUND naming both
 * tasks), no cycle (COG_ECYCLE naming the tasks on one cycle in order, e.g.
 * "a -> b -> c -> a"), tool tasks name a tool defined on the context with
 * inputs its schema accepts (COG_ENOTFOUND, COG_ESCHEMA; checked once the
 * context defines any tool), and the summed estimates fit
 * the budget (COG_EBUDGET naming the limit). Runs in O(tasks + edges)
 * without recursion.
 */
COG_API int cog_plan_validate(cog_plan *plan);

/*
 * Validate, then describe the graph's shape as JSON, to cog_free():
 *   {"tasks":N,"edges":E,"order":["a","b",...],
 *    "levels":[["a"],["b","c"],...],
 *    "critical_path":{"tasks":["a","c"],"duration_ms":..,"cost":..,"tokens":..},
 *    "estimate":{"duration_ms":..,"cost":..,"tokens":..}}
 * order is a topological order; level k holds the tasks whose longest
 * chain of dependencies has k edges (they can run in parallel); the
 * critical path is the chain with the largest summed estimated duration.
 */
COG_API int cog_plan_analyze(cog_plan *plan, char **json);

typedef enum cog_plan_format {
	COG_PLAN_FORMAT_JSON = 0,     /* Plan JSON (the definition; states are
	                                 in cog_plan_status()) */
	COG_PLAN_FORMAT_DOT = 1,      /* Graphviz */
	COG_PLAN_FORMAT_MERMAID = 2   /* Mermaid flowchart */
} cog_plan_format;

/* Export the plan, to cog_free(). JSON export and cog_plan_from_json()
 * round-trip exactly: exporting the re-read plan gives the same text. */
COG_API int cog_plan_export(cog_plan *plan, int format, char **text);

/* ---- running ---- */

/* What the executor gets for one attempt of one task; valid only during
 * the executor call. */
typedef struct cog_task_call cog_task_call;

/*
 * Runs one attempt of a task. Return 0 after setting the result (or with
 * none: null), or a negative status with cog_error_set() saying why; the
 * task's retry policy then decides. A failing attempt may set a result
 * first (what it did so far): the task keeps it as its "result" (see
 * cog_task_call_set_result). May be called from worker threads,
 * several at once. Long-running executors should poll
 * cog_task_call_is_canceled().
 */
typedef int (*cog_task_executor_fn)(cog_task_call *call, void *user_data);

/* Set the context's task executor (NULL removes it). */
COG_API int cog_ctx_set_task_executor(cog_ctx *ctx, cog_task_executor_fn fn,
                                      void *user_data);

/*
 * The executor of tasks of kind "tool" (see tool.h): calls the task's tool
 * with its "inputs" as arguments through cog_tool_call(), the attempt's
 * idempotency key as call id, and the task's timeout; the tool's result
 * becomes the task's. `user_data` is NULL or a `const cog_tool_call_options
 * *` (of COG_TOOL_CALL_OPTIONS_VERSION) giving the principal, workspace and
 * network grant of the calls. cog_plan_run() uses it when the context has no
 * executor; a host executor can pass its "tool" tasks to it. A tool call
 * whose approval was deferred returns COG_EPENDING: the run skips the task
 * (and what depends on it), returns COG_EPENDING, and a later run (or
 * cog_plan_resume) repeats the same attempt once the approval is decided.
 * Errors: COG_EINVAL (not a tool task), those of cog_tool_call().
 */
COG_API int cog_task_run_tool(cog_task_call *call, void *user_data);

/* cog_task_call_plan_id() and cog_task_call_task_id(): the ids of the plan
 * and of the task of this attempt (borrowed, valid during the executor
 * call; "" for a NULL call). */
COG_API const char *cog_task_call_plan_id(const cog_task_call *call);
COG_API const char *cog_task_call_task_id(const cog_task_call *call);
/* The task as Task JSON (borrowed). */
COG_API const char *cog_task_call_task(cog_task_call *call);
/* The result JSON of dependency `task_id` (borrowed), or NULL if task_id is
 * not a dependency of this task. */
COG_API const char *cog_task_call_dependency_result(cog_task_call *call,
                                                    const char *task_id);
/* 1 for the first attempt. */
COG_API unsigned int cog_task_call_attempt(const cog_task_call *call);
/* "plan-id/task-id/attempt": unique per attempt, stable across a resume of
 * the same attempt; pass it to external systems to deduplicate. */
COG_API const char *cog_task_call_idempotency_key(const cog_task_call *call);
/* Non-zero when the attempt should stop: the context was canceled, the
 * task's timeout passed, or a fail-fast run is stopping. */
COG_API int cog_task_call_is_canceled(const cog_task_call *call);
/* Set the result (JSON text, copied). COG_EINVAL for invalid JSON. Also
 * before returning a failure: the partial result of the attempt then
 * becomes the failed task's "result" (cog_plan_task_status), journaled
 * with the failure and kept across cog_plan_resume; the task's next
 * attempt replaces it (an attempt that fails without one leaves none).
 * Not kept for COG_EPENDING (the attempt is taken back). A task that
 * succeeded keeps its result as before. */
COG_API int cog_task_call_set_result(cog_task_call *call, const char *json);
/* The result set so far in this attempt (by cog_task_call_set_result, or
 * an executor such as cog_task_run_tool), borrowed until the next set or
 * the end of the executor call; NULL when none. */
COG_API const char *cog_task_call_result(const cog_task_call *call);

typedef enum cog_failure_policy {
	COG_FAIL_FAST = 0,              /* stop starting tasks after a failure */
	COG_CONTINUE_INDEPENDENT = 1    /* run everything that does not depend on it */
} cog_failure_policy;

typedef enum cog_durability {
	COG_DURABLE_AUTO = 0,  /* journal when the context has storage */
	COG_DURABLE_ON = 1,    /* journal; COG_EUNAVAILABLE without storage */
	COG_DURABLE_OFF = 2    /* in memory only */
} cog_durability;

typedef struct cog_run_options {
	unsigned int version;
	unsigned int workers;           /* 0: the context's worker_threads */
	int failure_policy;             /* cog_failure_policy */
	int durability;                 /* cog_durability */
	/* Graphs with at most this many tasks left to run start on the
	 * calling thread, without a thread hand-off (which costs tens of
	 * microseconds); 0: 32. With workers > 1 such a run moves the rest of
	 * its tasks to the worker pool as soon as a task took longer than
	 * about 2 ms (measured with the coarse monotonic clock, so at its
	 * resolution of 1 to 4 ms), or is about to start with an
	 * estimate.duration_ms of 2 or more, while two of the tasks left could
	 * run at the same time: a small plan of slow independent tasks (LLM
	 * calls) runs in parallel, a small plan of quick ones never starts a
	 * thread, and a chain never moves. Bigger graphs use the pool from
	 * the start; with workers 1 everything runs on the calling thread. */
	unsigned int inline_max_tasks;
	/* Version 2. NULL: none. Otherwise a memory namespace
	 * (cognition/memory.h) whose episodic layer receives one episode per
	 * task that ends ({"kind":"task","plan","task","title","status",
	 * "attempts","duration_ms","error"?,"code"?}) and one for the run
	 * ({"kind":"outcome","plan","goal","status","code","duration_ms",
	 * "succeeded","failed","skipped"}), embedded with the hashing
	 * embedder (no network call inside the scheduler). An episode that
	 * cannot be written is logged as a warning; it does not fail the run. */
	const char *episodic_namespace;
} cog_run_options;

#define COG_RUN_OPTIONS_VERSION 2
#define COG_RUN_OPTIONS_INIT { COG_RUN_OPTIONS_VERSION, 0, COG_FAIL_FAST, \
	COG_DURABLE_AUTO, 0, NULL }

/* Set `options` to the defaults of `version`. COG_EVERSION if unknown. */
COG_API int cog_run_options_init(cog_run_options *options, unsigned int version);

/*
 * Validate and run the plan until every task has ended (options may be
 * NULL). Tasks already succeeded (from a resume) are not run again.
 *
 * A durable run (the context has storage and durability is not
 * COG_DURABLE_OFF) first takes the plan's lease: a document in collection
 * "plans.lease", key the plan id, naming this process (host, pid, process
 * start time). It fails with COG_EBUSY if a live process holds it (the
 * message names its pid and host; this process too, when another cog_plan
 * of the same id runs here); a lease whose process is gone (it exited or
 * was killed, or its pid belongs to a later process) is taken over, with a
 * warning in the log. A lease written on another host (or in another pid
 * namespace) cannot be checked from here: COG_EBUSY too, with a message
 * saying how to delete it by hand once that process is known to be gone.
 * When the run returns, the final states are stored as the plan's
 * document (so a listing needs no journal replay; the journal is kept)
 * and the lease is dropped.
 *
 * Returns 0 when every task succeeded; COG_ECANCELED after cog_ctx_cancel();
 * COG_EUNCERTAIN when tasks are uncertain (see cog_plan_decide); COG_EPENDING
 * when tasks wait for an approval (see cog_task_run_tool); COG_ERROR with a
 * message naming the failed tasks. Without a task executor on the context,
 * tasks of kind "tool" run through cog_task_run_tool() and the others fail.
 * Before running anything: COG_EINVAL (bad options),
 * COG_EVERSION, the plan's validation errors (COG_ENOTFOUND, COG_ECYCLE,
 * COG_EBUDGET), COG_EUNAVAILABLE (COG_DURABLE_ON and no storage),
 * COG_EEXISTS (a fresh plan whose id another stored plan has: continue that
 * one with cog_plan_resume(); a plan saved with the same definition that
 * never ran is not another), COG_EBUSY (this plan object is running;
 * another process holds the lease; or the storage has journal records this
 * copy has not seen: another process ran or changed the plan since it was
 * read, so read it again with cog_plan_resume()), COG_EDENIED (a plan from
 * cog_plan_load()), and storage errors (COG_EIO, COG_EDENIED for a
 * read-only storage, COG_EBUSY when it stays locked). A journal that cannot
 * be written during the run stops it with the storage's error.
 *
 * Events go to the context's event hook: plan.started, task.ready,
 * task.started, task.succeeded, task.retrying, task.failed, task.skipped,
 * plan.finished (its "threaded" says whether the worker pool ran tasks).
 */
COG_API int cog_plan_run(cog_plan *plan, const cog_run_options *options);

/*
 * Load a journaled (run or saved) plan after a crash or a stop: finished
 * tasks keep their states and results; a task that was running is made
 * ready again if it is idempotent, else COG_TASK_UNCERTAIN (journaled:
 * settling is a write). Then call cog_plan_run(). If another process is
 * running the plan right now, its run goes on undisturbed and the
 * cog_plan_run() of this copy fails with COG_EBUSY; to look at a plan,
 * use cog_plan_load().
 * Errors: COG_EINVAL (not a plan id), COG_ENOTFOUND (no such plan in the
 * storage), COG_EUNAVAILABLE (no storage), COG_EDENIED (a read-only storage
 * and tasks that were running need settling), COG_EIO (damaged, or the
 * storage failed).
 */
COG_API int cog_plan_resume(cog_plan **out, cog_ctx *ctx, const char *plan_id);

/*
 * Read a stored plan to look at it: its definition and journal exactly as
 * cog_plan_resume() reads them, but nothing is written and nothing
 * settled: a task whose last record says it started stays
 * COG_TASK_RUNNING (and cog_plan_status() says "running"): another process
 * may be running it, or the one that did died. Works on a read-only
 * storage, and while another process runs the plan. The copy can be
 * exported and its status read; cog_plan_run(), cog_plan_decide(),
 * cog_plan_compact() and cog_plan_save() refuse it (COG_EDENIED).
 * Errors: as cog_plan_resume(), without COG_EDENIED.
 */
COG_API int cog_plan_load(cog_plan **out, cog_ctx *ctx, const char *plan_id);

/*
 * Validate the plan and store it, definition and current states, in the
 * context's storage without running anything, so that cog_plan_load(),
 * cog_plan_resume() and cog_plan_run() find it later (cog_plan_run() of
 * this plan then continues normally). Saving the same plan again is fine:
 * this object, or a fresh one with the same id and definition as long as
 * the stored one never ran.
 * Errors: validation errors (see cog_plan_validate), COG_EUNAVAILABLE (no
 * storage), COG_EEXISTS (another plan with this id is stored, or it has
 * run: see cog_plan_run), COG_EBUSY (this object is running, another
 * process runs the plan, or this copy is behind the stored journal),
 * COG_EDENIED (a plan from cog_plan_load(), or a read-only storage),
 * COG_EIO.
 */
COG_API int cog_plan_save(cog_plan *plan);

typedef enum cog_decision {
	COG_DECIDE_RETRY = 0,   /* run it again (by the next cog_plan_run) */
	COG_DECIDE_SKIP = 1,    /* treat it as succeeded with a null result */
	COG_DECIDE_FAIL = 2     /* treat it as failed */
} cog_decision;

/*
 * Settle a task that is uncertain (a crash interrupted it) or failed
 * (past its retries): journaled, so a resume sees the decision.
 * RETRY makes it pending with its attempt count kept: the next attempt
 * gets the next number (so idempotency keys stay unique) and the task's
 * retry policy allows max_attempts more. RETRY and SKIP make the tasks
 * that were skipped because of it pending again (one that another failure
 * still blocks is skipped again by the next run). FAIL leaves a failed
 * task as it is and fails an uncertain one.
 * Errors: COG_EINVAL (bad decision, or the task is neither uncertain nor
 * failed), COG_ENOTFOUND (no such task), COG_EBUSY (the plan is running,
 * here or in another process, or this copy is behind its stored journal),
 * COG_EDENIED (a plan from cog_plan_load(), or a read-only storage),
 * COG_EUNAVAILABLE (a journaled plan and no storage), COG_EIO.
 */
COG_API int cog_plan_decide(cog_plan *plan, const char *task_id, int decision);

/* State, attempts and result of one task as JSON, to cog_free():
 * {"id":..,"state":"succeeded","attempts":1,"result":..,"error":..}
 * (a failed task's result: its last attempt's partial one, or null). */
COG_API int cog_plan_task_status(cog_plan *plan, const char *task_id, char **json);

/* All tasks' states: {"id":..,"goal":..,"state":"running|succeeded|failed|
 * uncertain|pending","tasks":[...task status...]}, to cog_free(). */
COG_API int cog_plan_status(cog_plan *plan, char **json);

/*
 * Replace a task that failed past its retries, and everything depending on
 * it, with a new subgraph. Return 0 with *replacement_json = {"tasks":[...]}
 * (cog_malloc'd; the new tasks may depend on any task that is not being
 * replaced), 0 with NULL to leave the failure as it is, or a negative
 * status. Called on the thread running cog_plan_run(), with no task running.
 */
typedef int (*cog_replan_fn)(cog_plan *plan, const char *failed_task_id,
                             const char *error, char **replacement_json,
                             void *user_data);

/* Install (or with NULL remove) the plan's replanner. COG_EBUSY while the
 * plan is running. */
COG_API int cog_plan_set_replanner(cog_plan *plan, cog_replan_fn fn,
                                   void *user_data);

/* Compact a finished plan's journal into its final state (results kept),
 * so storage stays bounded. COG_EBUSY if the plan has not finished, another
 * process runs it or this copy is behind its stored journal; COG_EDENIED
 * for a plan from cog_plan_load(). */
COG_API int cog_plan_compact(cog_plan *plan);

/* ---- planners ---- */

/*
 * Make a validated plan for a goal with the context's planners, tried in
 * order:
 *
 * 1. The LLM planner, when the context has an LLM endpoint (llm.h): it asks
 *    the "planner" role for a plan as JSON against the plan schema (the
 *    router re-asks when the answer does not match it), then validates the
 *    plan (cycles, tools and their inputs, budget) and sends the validation
 *    error back for up to two repairs. The prompt lists the context's tools.
 *    If it fails for any reason but cancellation, a warning is logged and
 *    the templates are tried.
 * 2. The template planner.
 *
 * Templates are JSON files ({"name","description","patterns":[PCRE2...],
 * "params":{...},"budget":{...},"tasks":[Task JSON]}) searched in: the
 * directories added with cog_ctx_add_template_dir() (in the order added),
 * then $COG_TEMPLATE_PATH (colon-separated), then $COG_TEMPLATE_DIR or, when
 * unset, the installed share/cognition/templates. The first template with a
 * matching pattern wins (an earlier one of the same name shadows a later
 * one); its named groups fill the parameters, and "${name}" in any string
 * of the tasks is replaced by the value ("${goal}" is the goal, "$${"
 * writes "${").
 * Errors: COG_ENOTFOUND (nothing matched; the message says how many
 * templates were tried), COG_EINVAL (a broken template file, named with the
 * byte offset or the field at fault; broken files are never skipped),
 * COG_ECANCELED. When the LLM planner failed too, its status (e.g.
 * COG_ESCHEMA, COG_ECYCLE, COG_EUNAVAILABLE) is returned and the message
 * gives both planners' reasons.
 */
COG_API int cog_plan_from_goal(cog_plan **out, cog_ctx *ctx, const char *goal);

/* Add a directory of template files, searched before the others; its
 * templates are checked now. Errors: COG_ENOTFOUND (no such directory),
 * COG_EINVAL (not a directory, or it holds a broken template). */
COG_API int cog_ctx_add_template_dir(cog_ctx *ctx, const char *path);

/* The templates the context knows, in search order, as JSON:
 * [{"name","description","pattern","patterns","params","tasks","file"}],
 * to cog_free(). */
COG_API int cog_ctx_list_templates(cog_ctx *ctx, char **json);

#ifdef __cplusplus
}
#endif

#endif /* COGNITION_PLAN_H */
