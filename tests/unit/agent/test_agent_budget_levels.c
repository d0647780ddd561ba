/*
 * The budget tree, continued (test_agent_budget.c has the suite): tiny
 * and fractional limits stay limits (rounded up to one unit, never to
 * "unlimited"), a plan's wall clock restarts with each run of the plan,
 * and an agent's per-task level outlives an attempt, so the retries of a
 * task share it.
 */
#include <stdint.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "agent_int.h"
#include "cognition/ctx.h"
#include "test_agent_budget.h"

#define ck_assert_ok(expr) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == 0, "%s: %d %s", #expr, rc_, cog_error_last()); \
} while (0)

static agents_state *fresh(cog_ctx **ctx)
{
	agents_state *st = NULL;
	ck_assert_ok(cog_ctx_new(ctx, NULL));
	ck_assert_ok(agents_get(*ctx, &st));
	return st;
}

START_TEST(tiny_limits_are_limits)
{
	cog_ctx *ctx = NULL;
	agents_state *st = fresh(&ctx);
	/* a cost limit below a money unit (1e-12) is one unit, not unlimited */
	budget_limits l = { 0, 1e-13, 0 };
	budget_node *p = NULL;
	ck_assert_ok(budget_node_get(st, NULL, "tiny", &l, 0, &p));
	budget_resv r;
	ck_assert_int_eq(budget_reserve(st, p, 1, 1e-9, &r), COG_EBUDGET);
	ck_assert_ok(budget_reserve(st, p, 1, 1e-12, &r));
	budget_release(st, &r);
	budget_node_release(st, p);
	/* the context's own limit too */
	ck_assert_ok(cog_ctx_set_budget(ctx, "{\"max_cost\":1e-13}"));
	ck_assert_int_eq(budget_reserve(st, NULL, 1, 1e-9, &r), COG_EBUDGET);
	ck_assert_ok(cog_ctx_set_budget(ctx, "{}"));
	/* a plan's fractional counts round up */
	budget_limits_from_numbers(&l, 0.5, 0, 0.25);
	ck_assert_uint_eq(l.max_tokens, 1);
	ck_assert_uint_eq(l.max_duration_ms, 1);
	budget_limits_from_numbers(&l, 2.01, -1, 0);
	ck_assert_uint_eq(l.max_tokens, 3);
	ck_assert(l.max_cost == 0);
	ck_assert_uint_eq(l.max_duration_ms, 0);
	ck_assert_uint_eq(budget_count_up(1e30), UINT64_MAX);
	ck_assert_uint_eq(budget_count_up(-3), 0);
	budget_limits_from_numbers(&l, 0.5, 0, 0);
	ck_assert_ok(budget_node_get(st, NULL, "half", &l, 0, &p));
	ck_assert_ok(budget_reserve(st, p, 1, 0, &r));
	budget_release(st, &r);
	ck_assert_int_eq(budget_reserve(st, p, 2, 0, &r), COG_EBUDGET);
	budget_node_release(st, p);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(plan_clock_restarts_with_a_new_run)
{
	cog_ctx *ctx = NULL;
	agents_state *st = fresh(&ctx);
	budget_limits l = { 0, 0, 60000 };
	int64_t now = cog_clock_realtime_ms();
	budget_node *p = NULL, *again = NULL, *older = NULL;
	/* the first run started two minutes ago: its minute is over */
	ck_assert_ok(budget_node_get(st, NULL, "plan", &l, now - 120000, &p));
	ck_assert_uint_eq(budget_remaining_ms(st, p), 0);
	/* a new run of the plan (a later start): the clock starts again */
	ck_assert_ok(budget_node_get(st, NULL, "plan", &l, now, &again));
	ck_assert_ptr_eq(again, p);
	uint64_t left = budget_remaining_ms(st, p);
	ck_assert(left > 0 && left <= 60000);
	/* an older start (a task of the earlier run) does not turn it back */
	ck_assert_ok(budget_node_get(st, NULL, "plan", &l, now - 120000, &older));
	ck_assert(budget_remaining_ms(st, p) > 0);
	budget_node_release(st, older);
	budget_node_release(st, again);
	budget_node_release(st, p);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(agent_level_shared_by_retries)
{
	cog_ctx *ctx = NULL;
	agents_state *st = fresh(&ctx);
	budget_limits none = { 0, 0, 0 }, per_task = { 100, 0, 0 };
	/* attempt 1: plan, task, the agent's per-task level; spends 80 */
	budget_node *p = NULL, *t = NULL, *a = NULL;
	ck_assert_ok(budget_node_get(st, NULL, "p", &none, 0, &p));
	ck_assert_ok(budget_node_get(st, p, "t", &none, 0, &t));
	ck_assert_ok(budget_node_get(st, t, "agent:writer", &per_task, 0, &a));
	budget_resv r;
	ck_assert_ok(budget_reserve(st, a, 80, 0, &r));
	budget_settle(st, &r, 50, 30, 0, "writer");
	budget_node_release(st, a);
	budget_node_release(st, t);
	budget_node_release(st, p);
	/* attempt 2 (a retry): the same level, 20 left */
	ck_assert_ok(budget_node_get(st, NULL, "p", &none, 0, &p));
	ck_assert_ok(budget_node_get(st, p, "t", &none, 0, &t));
	ck_assert_ok(budget_node_get(st, t, "agent:writer", &per_task, 0, &a));
	ck_assert_uint_eq(budget_remaining_tokens(st, a), 20);
	ck_assert_int_eq(budget_reserve(st, a, 21, 0, &r), COG_EBUDGET);
	ck_assert_msg(strstr(cog_error_last(), "agent 'writer'") != NULL, "%s",
	              cog_error_last());
	budget_node_release(st, a);
	budget_node_release(st, t);
	budget_node_release(st, p);
	cog_ctx_free(ctx);
}
END_TEST

void budget_level_tests(TCase *tc)
{
	tcase_add_test(tc, tiny_limits_are_limits);
	tcase_add_test(tc, plan_clock_restarts_with_a_new_run);
	tcase_add_test(tc, agent_level_shared_by_retries);
}
