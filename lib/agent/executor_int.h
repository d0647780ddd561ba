/*
 * What executor.c shares with executor_task.c (the agent executor of
 * plans). Not installed.
 */
#ifndef COG_AGENT_EXECUTOR_INT_H
#define COG_AGENT_EXECUTOR_INT_H

#include "agent_int.h"
#include "plan_call_int.h"

/* Where a run stands. */
typedef struct run_setup {
	const char *run_key;          /* journal key; NULL: not journaled */
	const char *prefix_base;      /* tool call ids "<base>/<attempt>/<turn>.<n>" */
	unsigned int attempt;         /* the journal may adopt an earlier one */
	const char *plan_id, *task_id;
	cog_task_call *call;          /* NULL outside a plan */
} run_setup;

/* COG_EVERSION for options of an unknown version (NULL is fine). */
int agent_exec_check_options(const cog_agent_run_options *o, const char *fn);
/* Check an agent task (cog_agent_run's task JSON): COG_EINVAL naming
 * `what` and the member. */
int agent_exec_check_task(const cJSON *task, const char *what);
/* Run `a` on `task` with its budget leaf: the journal, the env, agent_run.
 * *result as agent_run. */
int agent_exec_run(cog_agent *a, const cJSON *task, const cog_agent_run_options *o,
                   budget_node *leaf, const run_setup *rs, cJSON **result);
/* The budget node for `limits_json` (NULL: unlimited) under `parent`. */
int agent_exec_node(agents_state *st, budget_node *parent, const char *key,
                    const cJSON *limits_json, const char *what, budget_node **out);
/* Set `saved` back as the error message when rc is a failure (cleanup may
 * have replaced it); returns rc. */
int agent_exec_restore_error(int rc, const char *saved);

#endif /* COG_AGENT_EXECUTOR_INT_H */
