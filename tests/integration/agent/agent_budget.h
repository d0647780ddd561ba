/* What test_agent_budget_random.c takes from agent_budget_check.c: random
 * numbers, random setups of a run, and the checks of its report. */
#ifndef AGENT_BUDGET_H
#define AGENT_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include "llm_script_server.h"

#define MAX_TASKS 3

/* xorshift64*: the next number, one in [lo, hi], one in [0, 1). */
uint64_t rnd_next(uint64_t *s);
uint64_t rnd_range(uint64_t *s, uint64_t lo, uint64_t hi);
double rnd_unit(uint64_t *s);

typedef struct limits {
	uint64_t tokens;       /* 0: none */
	double cost;           /* 0: none */
} limits;

typedef struct run_setup {
	double price_in, price_out;
	limits ctx, plan, task[MAX_TASKS], agent[2];
	unsigned int agent_max_tokens[2], agent_max_turns[2];
	int n_tasks, task_agent[MAX_TASKS];
} run_setup;

/* A random setup: prices, limits at every level, agents, 1..3 tasks. */
void random_setup(run_setup *rs, uint64_t *s);
/* The limits as budget JSON ("{}" for none). */
void limits_json(char *buf, size_t size, const limits *l);

/* Member `name` of o, and its number or dflt. */
const cJSON *obj(const cJSON *o, const char *name);
double num_or(const cJSON *o, const char *name, double dflt);
/* a and b agree within the relative tolerance rel. */
bool close_to(double a, double b, double rel);
/* The report's "spent" object within limits l (`what` and `run` for the
 * message). */
void assert_within(const cJSON *spent, const limits *l, const char *what, int run);

/* Refusals seen, by level (context, plan, task, agent) and limit (tokens,
 * cost). */
extern unsigned int refusals[4][2];
/* Task t of the run failed with message msg: a budget refusal at a level
 * whose limit and spending (per the reports) are the run's, of a call that
 * did not fit, whose worst case is at least the last request of the task
 * (last_bytes of text) plus one token. Counted in refusals. */
void check_refusal(const char *msg, const run_setup *rs, int t, unsigned long last_bytes,
                   const cJSON *plan_rep, const cJSON *ctx_rep, int run);

#endif
