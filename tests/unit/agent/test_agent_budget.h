/* What the two files of the agent-budget unit test share. */
#ifndef TEST_AGENT_BUDGET_H
#define TEST_AGENT_BUDGET_H

#include <check.h>

/* Add test_agent_budget_levels.c's tests. */
void budget_level_tests(TCase *tc);

#endif
