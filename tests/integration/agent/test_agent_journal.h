/* What the two files of the agent-journal test share (test_agent_journal.c). */
#ifndef TEST_AGENT_JOURNAL_H
#define TEST_AGENT_JOURNAL_H

#include <stdatomic.h>

#include <check.h>
#include <cjson/cJSON.h>

#include <cognition.h>

/* The task the tests give agent "ops". */
extern const char TASK[];
/* Runs of the tools "note" and "deploy" since define_tools(); the call ids
 * of the first two deploys. */
extern atomic_int notes, deploys;
extern char deploy_ids[2][128];

/* Tools "note" and "deploy" (side effects; deploy needs an approval),
 * "stop" (cancels the context) and agent "ops" with all of them; the
 * counters reset. */
void define_tools(cog_ctx *ctx);
/* The records of the run key's log, as an array. */
cJSON *journal_records(cog_ctx *ctx, const char *run_key);
/* "k" of each record joined by spaces, with turn.index: "llm1.0 tool1.0 end" */
void assert_kinds(const cJSON *records, const char *want);

/* test_agent_journal_approval.c's tests, with their fixture. */
TCase *journal_approval_tcase(void);

#endif
