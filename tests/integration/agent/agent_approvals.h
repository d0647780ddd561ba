/*
 * What the two files of the agent-approvals suite share
 * (test_agent_approvals.c: the model, the approval tests, the fixture;
 * agent_approvals_run.c: parallel calls and cancellation).
 */
#ifndef AGENT_APPROVALS_H
#define AGENT_APPROVALS_H

#include <check.h>
#include <pthread.h>
#include <time.h>

#include "llm_script_server.h"

#define DONE_PARALLEL "all three met"

/* The fixture's server and context. */
extern lss *server;
extern cog_ctx *ctx;
/* Guards the tools' counters; cv signals their changes. */
extern pthread_mutex_t mu;
extern pthread_cond_t cv;

/* ts = now + seconds (CLOCK_REALTIME, for pthread_cond_timedwait). */
void deadline_in(struct timespec *ts, int seconds);
/* Define a host tool with a 120 s timeout. */
void define_tool(cog_ctx *c, const char *name, const char *schema, unsigned int flags,
                 cog_tool_fn fn);
/* Run the "deployer" agent on prompt: the status, the result parsed. */
int run_agent(const char *prompt, cJSON **result);
/* rc is 0 and the result is the final answer `content`. */
void check_answered(int rc, cJSON *result, const char *content);

/* agent_approvals_run.c: its tools (counters reset), its tests. */
void define_run_tools(cog_ctx *c);
void add_run_tests(TCase *tc);

#endif
