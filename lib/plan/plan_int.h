/*
 * Private interface of lib/plan: the task graph's representation, shared by
 * the graph (plan.c: the object and its id index; plan_task_read.c: Task
 * JSON read into it; plan_json.c: the budget and whole plans in and out),
 * its checks (validate.c, analyze.c), exports (export.c), the scheduler
 * (run*.c, call.c), the journal (journal.c, resume.c, lease.c) and the
 * planners (template.c). Not installed.
 */
#ifndef COG_PLAN_INT_H
#define COG_PLAN_INT_H

#include "core_int.h"
#include "cognition/ctx.h"
#include "cognition/plan.h"

#define PLAN_NO_TASK UINT32_MAX

typedef struct plan_task {
	/* definition (what Task JSON says) */
	char *id;
	char *title;               /* NULL: none */
	char *kind;                /* "host", "tool", "llm" or "step" */
	char *tool;                /* NULL unless set */
	cJSON *inputs;             /* NULL: none */
	cJSON *capabilities;       /* array of strings, or NULL */
	cJSON *meta;               /* object, or NULL */
	char **dep_ids;            /* depends_on, in the order given */
	size_t dep_count;
	size_t dep_cap;
	double est_tokens;
	double est_cost;
	double est_duration_ms;
	unsigned int max_attempts; /* >= 1 */
	uint64_t backoff_ms;
	uint64_t max_backoff_ms;
	uint64_t timeout_ms;       /* 0: none */
	bool idempotent;

	/* resolved by plan_prepare(): indices of dep_ids */
	uint32_t *deps;

	/* run state */
	int state;                 /* cog_task_state */
	unsigned int attempts;     /* attempts started so far */
	char *result;              /* JSON text once succeeded (or decided) */
	char *error;               /* message of the last failure */
	int error_code;
	int64_t started_ms;        /* wall clock of the last start, 0: never */
	int64_t finished_ms;
} plan_task;

struct cog_plan {
	cog_ctx *ctx;
	char *id;
	char *goal;
	plan_task *tasks;
	size_t count;
	size_t cap;

	/* id -> index: open addressing, linear probing, PLAN_NO_TASK empty */
	uint32_t *index;
	size_t index_cap;          /* power of two, > 2 * count */

	double budget_tokens;      /* 0: unlimited */
	double budget_cost;
	double budget_duration_ms;

	/* Derived by plan_prepare(), dropped by plan_invalidate(). */
	bool prepared;
	uint32_t *order;           /* topological order, count entries */
	uint32_t *dependents_start;/* CSR: dependents of task i are */
	uint32_t *dependents;      /* dependents[start[i] .. start[i+1]) */

	bool running;              /* inside cog_plan_run() */
	bool journaled;            /* the definition is in storage */
	bool view_only;            /* from cog_plan_load(): to look at, never
	                              run or written */
	uint64_t journal_seq;      /* the last record of the plan's journal
	                              this copy reflects (0: none); a journal
	                              that has more was written by someone
	                              else since (lease.c) */
	cog_replan_fn replanner;
	void *replan_user_data;
};

/* ---- plan.c: the graph ---- */

/* Index of the task with this id, or PLAN_NO_TASK. */
uint32_t plan_find(const cog_plan *plan, const char *id);

/* Put task t into an id index of cap slots (a power of two, not full). */
void plan_index_insert(uint32_t *index, size_t cap, const plan_task *tasks,
                       uint32_t t);

/* Room for one more task in plan->tasks and the id index. COG_ENOMEM. */
int plan_reserve_task(cog_plan *plan);

/* COG_EBUSY (message names fn) while the plan is inside cog_plan_run(). */
int plan_check_not_running(const cog_plan *plan, const char *fn);

/* Remove tasks for which remove[i] is true (re-planning); indices change. */
int plan_remove_tasks(cog_plan *plan, const bool *remove);

/* Drop derived data after a change to the graph. */
void plan_invalidate(cog_plan *plan);

void plan_task_dispose(plan_task *task);

/* ---- plan_task_read.c: Task JSON read into the graph ---- */

/* Parse Task JSON into a fresh task appended to the plan (id unique).
 * `where` names the source in messages ("task 3 of plan.json"). */
int plan_add_task_json(cog_plan *plan, const cJSON *task, const char *where);

/* Check a task id: 1..COG_TASK_ID_MAX bytes of [A-Za-z0-9_.:-]. */
int plan_check_task_id(const char *id, const char *fn);

/* COG_EINVAL: "<where>: field "<field>" must be <expected>". */
int plan_field_error(const char *where, const char *field, const char *expected);
/* *dst = a copy of the JSON string item (else COG_EINVAL naming field). */
int plan_copy_string(char **dst, const cJSON *item, const char *where,
                     const char *field);
/* *dst = the JSON number item, finite and in 0..max (else COG_EINVAL). */
int plan_get_number(double *dst, const cJSON *item, const char *where,
                    const char *field, double max);

/* ---- plan_json.c: plans to and from JSON ---- */

/* Task JSON (definition only, canonical field order, every field); with
 * `with_state` also "state", "attempts", "result", "error". NULL on OOM. */
cJSON *plan_task_to_json(const plan_task *task, bool with_state);

/* Plan JSON (canonical), optionally with states. NULL on OOM. */
cJSON *plan_to_json(const cog_plan *plan, bool with_state);

/* ---- validate.c ---- */

/* Resolve dependencies, reject cycles, check the budget, and fill order
 * and the dependents CSR. Idempotent while nothing changes. On failure it
 * frees whatever it built (deps, order, CSR) and leaves prepared false:
 * plan_invalidate() only frees derived data of a prepared plan. */
int plan_prepare(cog_plan *plan);

/* ---- journal.c (used by run.c) ---- */

/* Collection of plan definitions and final states, and the journal log. */
#define PLAN_COLLECTION "plans"
/* Collection of owner leases (lease.c), by plan id. */
#define PLAN_LEASE_COLLECTION "plans.lease"
/* Log name of a plan's journal into out ("plan/<id>"). */
void plan_journal_name(const cog_plan *plan, char out[COG_PLAN_ID_MAX + 8]);

/* ---- inputs.c: inputs taken from dependencies' results ---- */

/* Check the {"$from","pointer"} references in t's inputs (each names a
 * direct dependency); *references gets how many there are. COG_EINVAL. */
int plan_inputs_check(const cog_plan *plan, const plan_task *t, size_t *references);
/* A copy of the attempt's task inputs with every reference replaced by the
 * value it names (NULL when the task has no inputs). COG_EINVAL,
 * COG_ENOTFOUND (the result has nothing there), COG_ENOMEM. */
int plan_inputs_resolve(cog_task_call *call, cJSON **out);

#endif /* COG_PLAN_INT_H */
