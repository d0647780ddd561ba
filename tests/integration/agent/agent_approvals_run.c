/*
 * The agent-approvals suite, part two (agent_approvals.h): three tool calls
 * of one answer run at the same time (a barrier tool that only lets them
 * through when all three are inside), and cog_ctx_cancel while a tool runs
 * and while the LLM call is in flight: the run returns COG_ECANCELED and
 * nothing hangs.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent_approvals.h"

/* ---- tools ---- */

static int met, meet_broken, slow_started, slow_saw_cancel;

/* Lets its calls through only when three are inside at once. */
static int meet(const cog_tool_request *r, char **result, void *ud)
{
	(void)r; (void)ud;
	struct timespec until;
	deadline_in(&until, 20);
	pthread_mutex_lock(&mu);
	met++;
	pthread_cond_broadcast(&cv);
	while (met < 3 && !meet_broken)
		if (pthread_cond_timedwait(&cv, &mu, &until) != 0) {
			meet_broken = 1;    /* not concurrent: release the others */
			pthread_cond_broadcast(&cv);
		}
	int n = met, broken = meet_broken;
	pthread_mutex_unlock(&mu);
	if (broken && n < 3) {
		cog_error_set(COG_ETIMEOUT, "meet: only %d of 3 calls arrived together", n);
		return COG_ETIMEOUT;
	}
	char buf[64];
	snprintf(buf, sizeof(buf), "{\"met\":%d}", n);
	*result = lss_cog_strdup(buf);
	return 0;
}

/* Runs until canceled (a guard of 60 s keeps a broken cancel from hanging). */
static int slow(const cog_tool_request *r, char **result, void *ud)
{
	(void)ud;
	pthread_mutex_lock(&mu);
	slow_started = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < 12000; i++) {
		if (cog_ctx_is_canceled(r->ctx)) {
			pthread_mutex_lock(&mu);
			slow_saw_cancel = 1;
			pthread_mutex_unlock(&mu);
			cog_error_set(COG_ECANCELED, "slow: canceled");
			return COG_ECANCELED;
		}
		usleep(5000);
	}
	*result = lss_cog_strdup("{\"slept\":true}");
	return 0;
}

void define_run_tools(cog_ctx *c)
{
	pthread_mutex_lock(&mu);
	met = meet_broken = slow_started = slow_saw_cancel = 0;
	pthread_mutex_unlock(&mu);
	define_tool(c, "meet", "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"}}}",
		COG_TOOL_IDEMPOTENT, meet);
	define_tool(c, "slow", NULL, COG_TOOL_IDEMPOTENT, slow);
}

START_TEST(test_parallel_calls)
{
	cJSON *result = NULL;
	int rc = run_agent("TASK-PARALLEL: meet three times", &result);
	check_answered(rc, result, DONE_PARALLEL);
	ck_assert_int_eq(met, 3);
	ck_assert_int_eq(meet_broken, 0);
	ck_assert_double_eq(lss_num(result, "tool_calls", NULL), 3);
	ck_assert_uint_eq(lss_requests(server), 2);
	cJSON *req = lss_request(server, 1);
	ck_assert_int_eq(lss_count_role(req, "tool"), 3);
	const cJSON *m;
	cJSON_ArrayForEach(m, lss_messages(req)) {
		const char *role = cJSON_GetStringValue(cJSON_GetObjectItem(m, "role"));
		const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(m, "content"));
		if (role && strcmp(role, "tool") == 0)
			ck_assert_msg(c && strstr(c, "\"met\":3"), "tool message %s", c ? c : "null");
	}
	cJSON_Delete(req);
	cJSON_Delete(result);
}
END_TEST

/* ---- cancellation ---- */

typedef struct run_arg {
	const char *prompt;
	int rc;
	cJSON *result;
} run_arg;

static void *run_thread(void *p)
{
	run_arg *a = p;
	a->rc = run_agent(a->prompt, &a->result);
	return NULL;
}

START_TEST(test_cancel_while_tool_runs)
{
	run_arg a = { .prompt = "TASK-SLOW: wait" };
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, run_thread, &a), 0);
	struct timespec until;
	deadline_in(&until, 60);
	pthread_mutex_lock(&mu);
	while (!slow_started && pthread_cond_timedwait(&cv, &mu, &until) == 0)
		;
	int started = slow_started;
	pthread_mutex_unlock(&mu);
	cog_ctx_cancel(ctx);
	pthread_join(th, NULL);
	ck_assert_msg(started, "the slow tool never started (run %d %s)", a.rc, cog_error_last());
	ck_assert_msg(a.rc == COG_ECANCELED, "run: %d", a.rc);
	ck_assert_int_eq(slow_saw_cancel, 1);
	ck_assert_uint_eq(lss_requests(server), 1);
	ck_assert_ptr_nonnull(a.result);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(a.result, "stopped")), "canceled");
	cJSON_Delete(a.result);
}
END_TEST

START_TEST(test_cancel_while_llm_answers)
{
	run_arg a = { .prompt = "TASK-HOLD: never answered" };
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, run_thread, &a), 0);
	bool held = lss_wait_held(server, 1, 60000);
	cog_ctx_cancel(ctx);
	pthread_join(th, NULL);
	ck_assert_msg(held, "the request never came (run %d)", a.rc);
	ck_assert_msg(a.rc == COG_ECANCELED, "run: %d", a.rc);
	if (a.result)
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(a.result, "stopped")),
		                 "canceled");
	cJSON_Delete(a.result);
}
END_TEST

void add_run_tests(TCase *tc)
{
	tcase_add_test(tc, test_parallel_calls);
	tcase_add_test(tc, test_cancel_while_tool_runs);
	tcase_add_test(tc, test_cancel_while_llm_answers);
}
