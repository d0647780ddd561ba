/* What the two files of the agent-loop test share. */
#ifndef TEST_AGENT_LOOP_H
#define TEST_AGENT_LOOP_H

#include <check.h>

/* Add test_agent_loop_context.c's tests. */
void loop_context_tests(TCase *tc);
/* Add test_agent_loop_budget.c's tests. */
void loop_budget_tests(TCase *tc);

#endif
