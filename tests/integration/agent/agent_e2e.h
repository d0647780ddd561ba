/* What test_agent_e2e.c takes from agent_e2e_checks.c. */
#ifndef AGENT_E2E_H
#define AGENT_E2E_H

#include <pthread.h>

#include "llm_script_server.h"

/* Spans seen by on_span (a cog_span_fn; user_data a spans), by kind, with
 * the LLM spans' usage summed; "bad" counts spans without the attributes
 * their kind must carry, or with an error status. */
typedef struct spans {
	pthread_mutex_t mu;
	int plan, task, turn, llm, tool, bad;
	double llm_in, llm_out;
	char first_bad[512];
} spans;

void on_span(const char *json, void *user_data);

/* The episodic layer of namespace ns has the episodes of plan_id's run:
 * one per task (fetch, analyze, summarize) and its outcome, succeeded. */
void check_episodes(cog_ctx *ctx, const char *ns, const char *plan_id);

#endif
