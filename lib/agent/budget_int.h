/*
 * What budget.c and budget_report.c share: the nodes of the budget tree
 * and the per-definition tally. Not installed; only these two files.
 *
 * Money is kept in whole pico-units (1e-12 of the price table's currency)
 * so that sums are exact: a reservation that fills a budget to the last
 * unit fits, and no sum of reservations can pass a limit by a rounding.
 */
#ifndef COG_AGENT_BUDGET_INT_H
#define COG_AGENT_BUDGET_INT_H

#include "agent_int.h"

typedef uint64_t budget_money;

/* The most money a node counts (about 4.6 million currency units): a
 * limit above it is as good as none. */
#define BUDGET_MONEY_MAX (UINT64_MAX / 4)

struct budget_node {
	budget_node *parent;       /* NULL: the context's root */
	char *key;                 /* NULL for the root */
	unsigned int depth;        /* 0 context, 1 plan, 2 task, 3+ deeper */
	budget_limits limits;
	budget_money max_money;    /* limits.max_cost in money units */
	bool has_limits;           /* made or later given some limit */
	int64_t started_ms;        /* wall clock of max_duration_ms */
	uint64_t refs;             /* callers' + children's + reservations' +
	                              the tree's (depth <= 2) */
	budget_node *children, *next; /* children in the order made */
	uint64_t input_tokens, output_tokens, llm_calls;
	budget_money spent_money;
	uint64_t reserved_tokens;
	budget_money reserved_money;
	uint64_t refused;
};

struct budget_agent_usage {
	struct budget_agent_usage *next;
	char *name;
	uint64_t input_tokens, output_tokens, llm_calls;
	budget_money spent_money;
};

/* x >= 0 in money units, saturating at BUDGET_MONEY_MAX; NaN and
 * negative values count as 0. */
budget_money budget_money_from(double x);
double budget_money_to(budget_money m);
/* A limit in money units: rounded up, and at least 1 when x > 0 (a tiny
 * limit must not become "unlimited"); 0 when x is not positive. */
budget_money budget_money_limit(double x);

#endif /* COG_AGENT_BUDGET_INT_H */
