/*
 * Budget enforcement across 1,000 randomised runs. Each run makes a fresh
 * context with random prices and random budgets at every level (the
 * context's, the plan's, each task's "budget", each agent definition's
 * per-task "budget"), agents with random max_tokens and max_turns, and a
 * chain of 1..3 LLM tasks; the loopback server answers each request with
 * random tool calls (0..3) or a final answer and random usage within what
 * the request could use (input at most the bytes of its messages' text,
 * output at most the max_tokens it carries). After each run:
 *   - spent <= limit at every level (cog_budget_report), nothing reserved;
 *   - the spending is the usage the server gave, priced, and the number
 *     of LLM calls accounted is the number of requests the server got (a
 *     refused call was never sent);
 *   - a task that failed with COG_EBUDGET was refused at a level whose
 *     limit, spending and the call's worst case are those of the run and
 *     did not fit (spent + reserved + need > limit), with a worst case at
 *     least the call's input lower bound plus one output token; a task
 *     that failed otherwise ran out of turns (exactly max_turns requests).
 * Runs are sequential (one worker), so what a refusal message says was
 * spent is what the report says at the end. COG_TEST_SEED picks the seed.
 */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_budget.h"

#define RUNS 1000

/* ---- the model ---- */

typedef struct served {
	pthread_mutex_t mu;
	uint64_t rng;
	unsigned long in, out;          /* usage given this run */
	unsigned int requests;          /* this run */
	unsigned int per_task[MAX_TASKS];
	unsigned long last_bytes[MAX_TASKS]; /* content bytes of its last request */
	char error[512];
} served;

static served srv = { .mu = PTHREAD_MUTEX_INITIALIZER };

static int task_of(const cJSON *req)
{
	/* The task's own prompt is the one user message naming it; a later
	 * task sees earlier ones only through their results. */
	const char *u = lss_last_content(req, "user");
	for (int i = 0; i < MAX_TASKS; i++) {
		char mark[24];
		snprintf(mark, sizeof(mark), "TASK-%d:", i);
		if (u && strstr(u, mark))
			return i;
	}
	for (int i = 0; i < MAX_TASKS; i++) {
		char mark[24];
		snprintf(mark, sizeof(mark), "TASK-%d:", i);
		if (lss_mentions(req, mark))
			return i;
	}
	return -1;
}

static char *answer(unsigned int index, const cJSON *req, int *status, void *ud)
{
	(void)index; (void)ud;
	pthread_mutex_lock(&srv.mu);
	int task = task_of(req);
	unsigned long max = lss_max_tokens(req), bytes = lss_content_bytes(req);
	if (task < 0 || max == 0) {
		snprintf(srv.error, sizeof(srv.error), "request without a task or max_tokens "
		         "(task %d, max_tokens %lu)", task, max);
		pthread_mutex_unlock(&srv.mu);
		*status = 400;
		return strdup("{\"error\":{\"message\":\"unexpected request\"}}");
	}
	srv.requests++;
	srv.per_task[task]++;
	srv.last_bytes[task] = bytes;
	unsigned long in = (unsigned long)rnd_range(&srv.rng, 0, bytes);
	unsigned long out = (unsigned long)rnd_range(&srv.rng, 0, max);
	srv.in += in;
	srv.out += out;
	int k = rnd_unit(&srv.rng) < 0.4 ? 0 : (int)rnd_range(&srv.rng, 1, 3);
	cJSON *calls = cJSON_CreateArray();
	for (int j = 0; j < k; j++) {
		char id[48], args[32];
		snprintf(id, sizeof(id), "call_%u_%d", srv.requests, j);
		snprintf(args, sizeof(args), "{\"i\":%d}", j);
		lss_add_call(calls, id, "noop", args);
	}
	pthread_mutex_unlock(&srv.mu);
	char *body = lss_completion(k ? NULL : "step finished", calls, in, out);
	cJSON_Delete(calls);
	return body;
}

static int noop(const cog_tool_request *r, char **result, void *ud)
{
	(void)r; (void)ud;
	*result = lss_cog_strdup("{\"ok\":true}");
	return 0;
}

static void one_run(lss *server, uint64_t seed, int run, unsigned int *budget_failures,
                    unsigned int *turn_failures)
{
	uint64_t s = seed;
	run_setup rs;
	random_setup(&rs, &s);
	pthread_mutex_lock(&srv.mu);
	srv.rng = rnd_next(&s) | 1;
	srv.in = srv.out = 0;
	srv.requests = 0;
	memset(srv.per_task, 0, sizeof(srv.per_task));
	memset(srv.last_bytes, 0, sizeof(srv.last_bytes));
	pthread_mutex_unlock(&srv.mu);
	unsigned int before = lss_requests(server);

	cog_ctx *ctx = lss_ctx(server, NULL, 1, rs.price_in, rs.price_out, NULL);
	char buf[256], def[512];
	limits_json(buf, sizeof(buf), &rs.ctx);
	lss_ok(cog_ctx_set_budget(ctx, buf));
	cog_tool_options t = COG_TOOL_OPTIONS_INIT;
	t.name = "noop";
	t.description = "Does nothing";
	t.input_schema = "{\"type\":\"object\",\"properties\":{\"i\":{\"type\":\"integer\"}}}";
	t.flags = COG_TOOL_IDEMPOTENT;
	t.fn = noop;
	lss_ok(cog_tool_define(ctx, &t));
	for (int a = 0; a < 2; a++) {
		limits_json(buf, sizeof(buf), &rs.agent[a]);
		snprintf(def, sizeof(def), "{\"name\":\"a%d\",\"instructions\":\"Work.\","
		         "\"tools\":[\"noop\"],\"max_tokens\":%u,\"max_turns\":%u,\"budget\":%s}",
		         a, rs.agent_max_tokens[a], rs.agent_max_turns[a], buf);
		lss_ok(cog_agent_define(ctx, def));
	}
	char plan_json[2048];
	limits_json(buf, sizeof(buf), &rs.plan);
	int n = snprintf(plan_json, sizeof(plan_json), "{\"version\":1,\"id\":\"budget-%d\","
	                 "\"goal\":\"random\",\"budget\":%s,\"tasks\":[", run, buf);
	for (int i = 0; i < rs.n_tasks; i++) {
		limits_json(buf, sizeof(buf), &rs.task[i]);
		char dep[48] = "";
		if (i > 0)
			snprintf(dep, sizeof(dep), ",\"depends_on\":[\"t%d\"]", i - 1);
		n += snprintf(plan_json + n, sizeof(plan_json) - (size_t)n,
		              "%s{\"id\":\"t%d\",\"kind\":\"llm\"%s,\"inputs\":{\"prompt\":"
		              "\"TASK-%d: step %d\",\"agent\":\"a%d\",\"budget\":%s}}",
		              i ? "," : "", i, dep, i, i, rs.task_agent[i], buf);
	}
	snprintf(plan_json + n, sizeof(plan_json) - (size_t)n, "]}");
	lss_ok(cog_ctx_set_task_executor(ctx, cog_task_run_agent, NULL));
	cog_plan *plan = NULL;
	lss_ok(cog_plan_from_json(&plan, ctx, plan_json));
	cog_run_options ro = COG_RUN_OPTIONS_INIT;
	ro.workers = 1;
	ro.durability = COG_DURABLE_OFF;
	int rc = cog_plan_run(plan, &ro);
	ck_assert_msg(rc == 0 || rc == COG_ERROR, "run %d: %d %s", run, rc, cog_error_last());
	ck_assert_msg(srv.error[0] == '\0', "run %d: %s", run, srv.error);

	/* Accounting = what the server served. */
	char *crep = NULL, *prep = NULL;
	lss_ok(cog_budget_report(ctx, NULL, &crep));
	cJSON *cr = cJSON_Parse(crep);
	int prc = cog_budget_report(ctx, cog_plan_id(plan), &prep);
	cJSON *pr = prc == 0 ? cJSON_Parse(prep) : cJSON_CreateObject();
	unsigned int served_n = lss_requests(server) - before;
	ck_assert_uint_eq(served_n, srv.requests);
	const cJSON *cs = obj(cr, "spent");
	ck_assert_msg(num_or(cs, "llm_calls", -1) == served_n,
	              "run %d: %u requests served, report %s", run, served_n, crep);
	ck_assert_msg(num_or(cs, "input_tokens", -1) == (double)srv.in &&
	              num_or(cs, "output_tokens", -1) == (double)srv.out,
	              "run %d: usage served %lu in, %lu out; report %s", run, srv.in, srv.out, crep);
	double priced = ((double)srv.in * rs.price_in + (double)srv.out * rs.price_out) / 1e6;
	ck_assert_msg(close_to(num_or(cs, "cost", -1), priced, 1e-9),
	              "run %d: cost %.17g, usage priced %.17g", run, num_or(cs, "cost", -1), priced);
	ck_assert_msg(num_or(obj(cr, "reserved"), "tokens", 0) == 0 &&
	              num_or(obj(cr, "reserved"), "cost", 0) == 0, "run %d: left reserved: %s",
	              run, crep);
	if (served_n > 0)
		ck_assert_msg(prc == 0, "run %d: no plan report: %s", run, cog_error_last());

	/* Every level within its limits. */
	assert_within(cs, &rs.ctx, "context", run);
	assert_within(obj(pr, "spent"), &rs.plan, "plan", run);
	for (int i = 0; i < rs.n_tasks; i++) {
		char tid[16];
		snprintf(tid, sizeof(tid), "t%d", i);
		const cJSON *ts = obj(obj(obj(pr, "tasks"), tid), "spent");
		if (!ts)
			continue;
		assert_within(ts, &rs.task[i], tid, run);
		assert_within(ts, &rs.agent[rs.task_agent[i]], tid, run);
	}

	/* Failures: refused calls that did not fit, or out of turns. */
	char *status = NULL;
	lss_ok(cog_plan_status(plan, &status));
	cJSON *sj = cJSON_Parse(status);
	bool failed = false;
	const cJSON *task;
	cJSON_ArrayForEach(task, obj(sj, "tasks")) {
		const char *id = cJSON_GetStringValue(obj(task, "id"));
		const char *state = cJSON_GetStringValue(obj(task, "state"));
		int i = id[1] - '0';
		if (strcmp(state, "succeeded") == 0) {
			ck_assert_msg(!failed, "run %d: a task ran after a failure: %s", run, status);
			continue;
		}
		if (strcmp(state, "skipped") == 0) {
			ck_assert_msg(failed, "run %d: skipped without a failure: %s", run, status);
			continue;
		}
		ck_assert_msg(strcmp(state, "failed") == 0 && !failed, "run %d: %s", run, status);
		failed = true;
		const cJSON *err = obj(task, "error");
		const char *msg = cJSON_IsString(err) ? err->valuestring
		                : cJSON_GetStringValue(obj(err, "message"));
		ck_assert_msg(msg != NULL, "run %d: failed without a message: %s", run, status);
		if (strstr(msg, " budget: max_")) {
			check_refusal(msg, &rs, i, srv.last_bytes[i], pr, cr, run);
			(*budget_failures)++;
		} else {
			ck_assert_msg(srv.per_task[i] == rs.agent_max_turns[rs.task_agent[i]],
			              "run %d: task %s failed after %u requests (max_turns %u): %s",
			              run, id, srv.per_task[i],
			              rs.agent_max_turns[rs.task_agent[i]], msg);
			(*turn_failures)++;
		}
	}
	ck_assert_msg(failed == (rc != 0), "run %d: run %d, tasks %s", run, rc, status);
	if (!failed)
		ck_assert_msg(num_or(cr, "refused", 0) == 0, "run %d: refusals without a failure: %s",
		              run, crep);
	cJSON_Delete(sj);
	cog_free(status);
	cJSON_Delete(cr);
	cJSON_Delete(pr);
	cog_free(crep);
	cog_free(prep);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}

START_TEST(test_random_budgets)
{
	uint64_t seed = 0x5eed2026u;
	const char *env = getenv("COG_TEST_SEED");
	if (env && *env)
		seed = strtoull(env, NULL, 0);
	lss *server = lss_start(answer, NULL);
	unsigned int budget_failures = 0, turn_failures = 0;
	uint64_t s = seed;
	for (int run = 0; run < RUNS; run++)
		one_run(server, rnd_next(&s) | 1, run, &budget_failures, &turn_failures);
	/* Both outcomes were exercised, and successes too. */
	fprintf(stderr, "agent-budget-random: seed %#" PRIx64 ": %d runs, %u LLM requests, "
	        "%u budget refusals, %u out of turns\n", seed, RUNS, lss_requests(server),
	        budget_failures, turn_failures);
	fprintf(stderr, "refusals (tokens/cost): context %u/%u, plan %u/%u, task %u/%u, "
	        "agent %u/%u\n", refusals[0][0], refusals[0][1], refusals[1][0], refusals[1][1],
	        refusals[2][0], refusals[2][1], refusals[3][0], refusals[3][1]);
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < 2; k++)
			ck_assert_msg(refusals[i][k] > 0, "no refusal at level %d for limit %d", i, k);
	ck_assert_uint_gt(budget_failures, RUNS / 20);
	ck_assert_uint_gt(turn_failures, 0);
	ck_assert_uint_lt(budget_failures + turn_failures, RUNS);
	lss_stop(server);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("agent-budget-random");
	TCase *tc = tcase_create("random");
	tcase_set_timeout(tc, 280);
	tcase_add_test(tc, test_random_budgets);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
