/* What the two files of the agent-plan test share. */
#ifndef TEST_AGENT_PLAN_H
#define TEST_AGENT_PLAN_H

#include <check.h>
#include <cjson/cJSON.h>

#include <cognition.h>

/* A plan of at_ctx from its JSON (fails the test if it does not parse). */
cog_plan *plan_of(const char *json);
/* cog_plan_task_status of `task`, parsed; cJSON_Delete it. */
cJSON *task_status(cog_plan *plan, const char *task);
/* Add test_agent_plan_handoff.c's tests (same fixture). */
void plan_handoff_tests(TCase *tc);

#endif
