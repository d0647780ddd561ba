/*
 * The budget tree (lib/agent/budget*.c, lib/llm/router_budget.c): limits
 * JSON, refusals at each level with their message, exact fits, settle and
 * release, wall time, the report, the input bound of a request, the worst
 * cost of a route; and a property test: 8 threads of random reservations,
 * settlements and releases on a 3-level tree never take any level past
 * its limit, and every total adds up.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "agent_int.h"
#include "cognition/ctx.h"
#include "cognition/llm.h"
#include "test_agent_budget.h"

#define ck_assert_cog(expr) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == 0, "%s: %d %s", #expr, rc_, cog_error_last()); \
} while (0)

static cog_ctx *new_ctx(void)
{
	cog_ctx *ctx = NULL;
	ck_assert_cog(cog_ctx_new(&ctx, NULL));
	return ctx;
}

static agents_state *state_of(cog_ctx *ctx)
{
	agents_state *st = NULL;
	ck_assert_cog(agents_get(ctx, &st));
	return st;
}

static budget_node *node(agents_state *st, budget_node *parent, const char *key,
                         const char *limits_json)
{
	budget_limits l;
	cJSON *j = limits_json ? cJSON_Parse(limits_json) : NULL;
	ck_assert_cog(budget_limits_from_json(&l, j, "test"));
	cJSON_Delete(j);
	budget_node *n = NULL;
	ck_assert_cog(budget_node_get(st, parent, key, limits_json ? &l : NULL, 0, &n));
	return n;
}

static cJSON *report(cog_ctx *ctx, const char *plan)
{
	char *text = NULL;
	ck_assert_cog(cog_budget_report(ctx, plan, &text));
	cJSON *r = cJSON_Parse(text);
	cog_free(text);
	ck_assert_ptr_nonnull(r);
	return r;
}

static double num(const cJSON *o, const char *pointer)
{
	char path[256];
	snprintf(path, sizeof path, "%s", pointer);
	const cJSON *x = o;
	for (char *save = NULL, *part = strtok_r(path, "/", &save); part;
	     part = strtok_r(NULL, "/", &save))
		x = cJSON_GetObjectItemCaseSensitive(x, part);
	ck_assert_msg(cJSON_IsNumber(x), "no number at %s", pointer);
	return x->valuedouble;
}

static void refused_with(int rc, const char *needle)
{
	ck_assert_msg(rc == COG_EBUDGET, "%d %s", rc, cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), needle), "\"%s\" lacks \"%s\"", cog_error_last(),
		needle);
}

START_TEST(limits_json)
{
	budget_limits l;
	cJSON *j = cJSON_Parse("{\"max_tokens\":10,\"max_cost\":0.5,\"max_duration_ms\":7}");
	ck_assert_cog(budget_limits_from_json(&l, j, "here"));
	ck_assert_uint_eq(l.max_tokens, 10);
	ck_assert(l.max_cost == 0.5);
	ck_assert_uint_eq(l.max_duration_ms, 7);
	cJSON *back = budget_limits_to_json(&l);
	char *text = cJSON_PrintUnformatted(back);
	ck_assert_str_eq(text, "{\"max_tokens\":10,\"max_cost\":0.5,\"max_duration_ms\":7}");
	free(text);
	cJSON_Delete(back);
	cJSON_Delete(j);
	const char *bad[][2] = {
		{ "{\"max_tokens\":1.5}", "\"max_tokens\"" }, { "{\"max_tokens\":-1}", "\"max_tokens\"" },
		{ "{\"max_cost\":\"1\"}", "\"max_cost\"" }, { "{\"max_duration_ms\":null}", "max_duration_ms" },
		{ "{\"tokens\":1}", "\"tokens\"" }, { "7", "object" },
	};
	for (size_t i = 0; i < COG_ARRAY_LEN(bad); i++) {
		j = cJSON_Parse(bad[i][0]);
		ck_assert_int_eq(budget_limits_from_json(&l, j, "here"), COG_EINVAL);
		ck_assert_msg(strstr(cog_error_last(), bad[i][1]) && strstr(cog_error_last(), "here"),
			"%s: %s", bad[i][0], cog_error_last());
		cJSON_Delete(j);
	}
	ck_assert_cog(budget_limits_from_json(&l, NULL, "here"));
	ck_assert_uint_eq(l.max_tokens, 0);
	cog_ctx *ctx = new_ctx();
	ck_assert_int_eq(cog_ctx_set_budget(ctx, "{\"max_tokens\":\"x\"}"), COG_EINVAL);
	ck_assert_int_eq(cog_ctx_set_budget(ctx, "{"), COG_EINVAL);
	ck_assert_int_eq(cog_ctx_set_budget(ctx, NULL), COG_EINVAL);
	ck_assert_cog(cog_ctx_set_budget(ctx, "{\"max_tokens\":0}"));
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(refusal_at_each_level)
{
	cog_ctx *ctx = new_ctx();
	agents_state *st = state_of(ctx);
	ck_assert_cog(cog_ctx_set_budget(ctx, "{\"max_tokens\":1000}"));
	budget_node *p1 = node(st, NULL, "p1", "{\"max_tokens\":500}");
	budget_node *t1 = node(st, p1, "t1", "{\"max_tokens\":300}");
	budget_node *t2 = node(st, p1, "t2", NULL);
	budget_node *p2 = node(st, NULL, "p2", NULL);
	budget_node *t3 = node(st, p2, "t3", NULL);
	budget_node *ag = node(st, t3, "analyst", "{\"max_tokens\":10}");
	budget_resv r, r2;

	refused_with(budget_reserve(st, t1, 301, 0, &r),
		"task 't1' budget: max_tokens 300: spent 0, reserved 0, this call needs up to 301");
	ck_assert_ptr_null(r.leaf);
	ck_assert_cog(budget_reserve(st, t1, 300, 0, &r));           /* exactly fits */
	ck_assert_uint_eq(budget_remaining_tokens(st, t1), 0);
	refused_with(budget_reserve(st, t1, 1, 0, &r2),
		"task 't1' budget: max_tokens 300: spent 0, reserved 300, this call needs up to 1");
	budget_settle(st, &r, 150, 50, 0, "analyst");
	ck_assert_ptr_null(r.leaf);
	ck_assert_uint_eq(budget_remaining_tokens(st, t1), 100);
	refused_with(budget_reserve(st, t2, 301, 0, &r2),
		"plan 'p1' budget: max_tokens 500: spent 200, reserved 0, this call needs up to 301");
	ck_assert_cog(budget_reserve(st, t2, 300, 0, &r2));
	refused_with(budget_reserve(st, t3, 501, 0, &r),
		"context budget: max_tokens 1000: spent 200, reserved 300, this call needs up to 501");
	refused_with(budget_reserve(st, ag, 11, 0, &r),
		"agent 'analyst' budget: max_tokens 10: spent 0, reserved 0, this call needs up to 11");
	budget_node *ag2 = node(st, t1, "agent:critic", "{\"max_tokens\":5}");
	refused_with(budget_reserve(st, ag2, 6, 0, &r),
		"agent 'critic' budget: max_tokens 5: spent 0, reserved 0, this call needs up to 6");
	budget_node_release(st, ag2);
	budget_release(st, &r2);
	budget_release(st, &r2); /* empty now: nothing */
	ck_assert_cog(budget_reserve(st, t3, 800, 0, &r));          /* the whole rest */
	budget_release(st, &r);

	cJSON *rep = report(ctx, NULL);
	ck_assert(num(rep, "refused") == 1);
	ck_assert(num(rep, "plans/p1/refused") == 1);
	ck_assert(num(rep, "plans/p1/tasks/t1/refused") == 2); /* not its agent's */
	ck_assert(num(rep, "plans/p2/tasks/t3/refused") == 0); /* the agent level refused */
	ck_assert(num(rep, "spent/tokens") == 200);
	ck_assert(num(rep, "spent/input_tokens") == 150);
	ck_assert(num(rep, "spent/output_tokens") == 50);
	ck_assert(num(rep, "spent/llm_calls") == 1);
	ck_assert(num(rep, "reserved/tokens") == 0);
	ck_assert(num(rep, "limit/max_tokens") == 1000);
	ck_assert(num(rep, "plans/p1/spent/tokens") == 200);
	ck_assert(num(rep, "plans/p1/tasks/t1/spent/tokens") == 200);
	ck_assert(num(rep, "plans/p1/tasks/t2/spent/tokens") == 0);
	ck_assert(num(rep, "agents/analyst/spent/tokens") == 200);
	ck_assert(num(rep, "agents/analyst/spent/llm_calls") == 1);
	cJSON_Delete(rep);

	budget_node_release(st, ag);
	budget_node_release(st, t1);
	budget_node_release(st, t2);
	budget_node_release(st, t3);
	budget_node_release(st, p1);
	budget_node_release(st, p2);
	/* plans and tasks stay for the report once their runs are done */
	rep = report(ctx, "p1");
	ck_assert(num(rep, "limit/max_tokens") == 500);
	ck_assert(num(rep, "tasks/t1/spent/tokens") == 200);
	ck_assert_ptr_null(cJSON_GetObjectItem(rep, "plans"));
	cJSON_Delete(rep);
	char *text = NULL;
	ck_assert_int_eq(cog_budget_report(ctx, "p9", &text), COG_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "p9"));
	ck_assert_ptr_null(text);
	/* the same keys find the same nodes, with their spending */
	budget_node *again = node(st, NULL, "p1", "{\"max_tokens\":99999}");
	ck_assert_uint_eq(budget_remaining_tokens(st, again), 300); /* first limits kept */
	budget_node_release(st, again);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(money_fits_exactly)
{
	cog_ctx *ctx = new_ctx();
	agents_state *st = state_of(ctx);
	ck_assert_cog(cog_ctx_set_budget(ctx, "{\"max_cost\":0.3}"));
	budget_node *p = node(st, NULL, "p", "{\"max_cost\":0.3}");
	budget_node *t = node(st, p, "t", NULL);
	budget_resv a, b, c;
	ck_assert_cog(budget_reserve(st, t, 10, 0.1, &a));
	ck_assert_cog(budget_reserve(st, t, 10, 0.2, &b));           /* 0.1 + 0.2 = 0.3 */
	refused_with(budget_reserve(st, t, 10, 1e-9, &c), "plan 'p' budget: max_cost 0.3:");
	budget_settle(st, &a, 5, 5, 0.05, NULL);
	ck_assert_cog(budget_reserve(st, t, 10, 0.05, &c));          /* refills to 0.3 */
	budget_release(st, &b);
	budget_release(st, &c);
	/* a provider that used more than reserved is charged in full */
	ck_assert_cog(budget_reserve(st, t, 10, 0.01, &a));
	budget_settle(st, &a, 30, 10, 0.02, "x");
	cJSON *rep = report(ctx, NULL);
	ck_assert(num(rep, "spent/cost") == 0.07);
	ck_assert(num(rep, "plans/p/spent/cost") == 0.07);
	ck_assert(num(rep, "spent/tokens") == 50);
	ck_assert(num(rep, "reserved/cost") == 0);
	ck_assert(num(rep, "refused") == 0);
	ck_assert(num(rep, "plans/p/refused") == 1);
	ck_assert(num(rep, "agents/x/spent/cost") == 0.02);
	ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetObjectItem(rep, "agents"), "null"));
	cJSON_Delete(rep);
	/* a later context limit keeps what was spent */
	ck_assert_cog(cog_ctx_set_budget(ctx, "{\"max_cost\":0.08}"));
	refused_with(budget_reserve(st, t, 1, 0.011, &a), "context budget: max_cost 0.08: spent 0.07");
	ck_assert_cog(budget_reserve(st, t, 1, 0.01, &a));
	budget_release(st, &a);
	budget_node_release(st, t);
	budget_node_release(st, p);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(wall_time)
{
	cog_ctx *ctx = new_ctx();
	agents_state *st = state_of(ctx);
	budget_limits l = { 0, 0, 1000 };
	budget_node *p = NULL, *fresh = NULL, *t = NULL;
	/* a plan that started 5 s ago with 1 s to run is over */
	ck_assert_cog(budget_node_get(st, NULL, "old", &l, cog_clock_realtime_ms() - 5000, &p));
	ck_assert_uint_eq(budget_remaining_ms(st, p), 0);
	ck_assert_cog(budget_node_get(st, p, "t", NULL, 0, &t));
	budget_resv r;
	refused_with(budget_reserve(st, t, 1, 0, &r), "plan 'old' budget: max_duration_ms 1000: "
		"started ");
	l.max_duration_ms = 3600000;
	ck_assert_cog(budget_node_get(st, NULL, "new", &l, 0, &fresh));
	uint64_t left = budget_remaining_ms(st, fresh);
	ck_assert(left > 0 && left <= 3600000);
	ck_assert_uint_eq(budget_remaining_ms(st, NULL), UINT64_MAX);
	ck_assert_uint_eq(budget_remaining_tokens(st, fresh), UINT64_MAX);
	ck_assert_cog(budget_reserve(st, fresh, 1, 0, &r));
	budget_release(st, &r);
	/* the context's own clock starts at cog_ctx_set_budget */
	ck_assert_cog(cog_ctx_set_budget(ctx, "{\"max_duration_ms\":3600000}"));
	left = budget_remaining_ms(st, fresh);
	ck_assert(left > 0 && left <= 3600000);
	budget_node_release(st, t);
	budget_node_release(st, p);
	budget_node_release(st, fresh);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(deeper_nodes_go_with_their_last_reference)
{
	cog_ctx *ctx = new_ctx();
	agents_state *st = state_of(ctx);
	budget_node *p = node(st, NULL, "p", NULL), *t = node(st, p, "t", NULL);
	budget_node *run = node(st, t, "run", "{\"max_tokens\":100}");
	budget_resv r;
	ck_assert_cog(budget_reserve(st, run, 100, 0, &r));
	budget_node_release(st, run);        /* the reservation still holds it */
	budget_settle(st, &r, 60, 40, 0, "a");
	/* gone: a new node of that key starts afresh */
	run = node(st, t, "run", "{\"max_tokens\":100}");
	ck_assert_uint_eq(budget_remaining_tokens(st, run), 100);
	budget_node_release(st, run);
	budget_node_release(st, t);
	budget_node_release(st, p);
	cJSON *rep = report(ctx, "p");
	ck_assert(num(rep, "tasks/t/spent/tokens") == 100);
	cJSON_Delete(rep);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(input_bound)
{
	cJSON *req = cJSON_Parse("{\"messages\":[{\"role\":\"system\",\"content\":\"héllo\"},"
		"{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"name\":"
		"\"sql\",\"arguments\":{\"q\":\"x\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"c1\","
		"\"content\":\"abc\"}],\"tools\":[{\"name\":\"sql\",\"description\":\"Run SQL\","
		"\"input_schema\":{\"type\":\"object\"}}],\"max_tokens\":50}");
	/* 16 + 3 messages * 8 + "héllo" 6 bytes + sql 3 + {"q":"x"} 9 + abc 3
	 * + tool: sql 3 + "Run SQL" 7 + {"type":"object"} 17 */
	ck_assert_uint_eq(budget_input_bound(NULL, req), 16 + 24 + 6 + 3 + 9 + 3 + 3 + 7 + 17);
	cJSON_Delete(req);
	req = cJSON_Parse("{\"messages\":[]}");
	ck_assert_uint_eq(budget_input_bound(NULL, req), 16);
	cJSON_Delete(req);
}
END_TEST

/* ---- the worst cost of a route (a host backend that is never called) ---- */

static int never_chat(void *self, const char *request, cog_llm_call *call, char **response)
{
	(void)self; (void)request; (void)call; (void)response;
	return cog_error_set(COG_EIO, "not called in this test");
}

static void add_endpoint(cog_ctx *ctx, const char *name)
{
	cog_llm_vtable vt = COG_LLM_VTABLE_INIT;
	vt.chat = never_chat;
	cog_llm *llm = NULL;
	ck_assert_cog(cog_llm_new(&llm, &vt));
	ck_assert_cog(cog_llm_add_endpoint(ctx, name, llm, NULL));
}

START_TEST(worst_cost_of_a_route)
{
	cog_ctx *ctx = new_ctx();
	double cost = -1;
	bool priced = true;
	ck_assert_int_eq(cog__llm_worst_cost(ctx, "executor", NULL, 10, 10, &cost, &priced),
		COG_EUNAVAILABLE);
	add_endpoint(ctx, "a");
	add_endpoint(ctx, "b");
	ck_assert_cog(cog_llm_configure(ctx, "{\"prices\":{\"m1\":{\"input\":1,\"output\":2},"
		"\"m2\":{\"input\":3,\"output\":1}},\"routes\":{"
		"\"executor\":{\"choose\":\"cheapest\",\"models\":[{\"endpoint\":\"a\",\"model\":\"m1\"},"
		"{\"endpoint\":\"b\",\"model\":\"m2\"}]},"
		"\"critic\":{\"models\":[{\"endpoint\":\"a\",\"model\":\"m1\"},"
		"{\"endpoint\":\"b\",\"model\":\"m3\"}]}}}"));
	/* m1: 1000*1 + 500*2 = 2000e-6; m2: 3000 + 500 = 3500e-6 */
	ck_assert_cog(cog__llm_worst_cost(ctx, "executor", NULL, 1000, 500, &cost, &priced));
	ck_assert(priced);
	ck_assert_msg(cost > 0.0034999 && cost < 0.0035001, "%g", cost);
	ck_assert_cog(cog__llm_worst_cost(ctx, NULL, NULL, 1000, 500, &cost, &priced));
	ck_assert(priced);
	ck_assert_cog(cog__llm_worst_cost(ctx, "critic", NULL, 1000, 500, &cost, &priced));
	ck_assert(!priced);                       /* m3 has no price */
	ck_assert_msg(cost > 0.0019999 && cost < 0.0020001, "%g", cost);
	/* no route: the first endpoint with the model asked for */
	ck_assert_cog(cog__llm_worst_cost(ctx, "planner", "m2", 1000, 500, &cost, &priced));
	ck_assert(priced);
	ck_assert_msg(cost > 0.0034999 && cost < 0.0035001, "%g", cost);
	ck_assert_cog(cog__llm_worst_cost(ctx, "planner", NULL, 1000, 500, &cost, &priced));
	ck_assert(!priced);
	ck_assert(cost == 0);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- the property test ---- */

#define N_THREADS 8
#define N_STEPS 2000
#define N_TASKS 4

typedef struct prop {
	cog_ctx *ctx;
	agents_state *st;
	budget_node *tasks[N_TASKS];
	/* tallies of what the threads did (atomics: added by every thread) */
	atomic_uint_fast64_t tokens_settled, refusals, task_tokens[N_TASKS];
	atomic_int violations;
	char first_violation[512];
	pthread_mutex_t vlock;
} prop;

typedef struct prop_thread {
	prop *p;
	uint64_t rng;
	unsigned int index;
} prop_thread;

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void violation(prop *p, const char *what, const char *where, double a, double b)
{
	pthread_mutex_lock(&p->vlock);
	if (atomic_fetch_add(&p->violations, 1) == 0)
		snprintf(p->first_violation, sizeof p->first_violation, "%s: %s %.17g > %.17g",
			where, what, a, b);
	pthread_mutex_unlock(&p->vlock);
}

/* Every level of the report within its limits. */
static void check_level(prop *p, const cJSON *o, const char *where)
{
	const cJSON *limit = cJSON_GetObjectItem(o, "limit");
	double tokens = num(o, "spent/tokens") + num(o, "reserved/tokens");
	double cost = num(o, "spent/cost") + num(o, "reserved/cost");
	const cJSON *mt = cJSON_GetObjectItem(limit, "max_tokens");
	const cJSON *mc = cJSON_GetObjectItem(limit, "max_cost");
	if (mt && tokens > mt->valuedouble)
		violation(p, "tokens", where, tokens, mt->valuedouble);
	/* cost: the report's doubles of exact sums; a last-bit rounding only */
	if (mc && cost > mc->valuedouble * (1 + 1e-12))
		violation(p, "cost", where, cost, mc->valuedouble);
}

static void check_all(prop *p)
{
	cJSON *rep = report(p->ctx, NULL);
	check_level(p, rep, "context");
	const cJSON *plan, *task;
	cJSON_ArrayForEach(plan, cJSON_GetObjectItem(rep, "plans")) {
		check_level(p, plan, plan->string);
		cJSON_ArrayForEach(task, cJSON_GetObjectItem(plan, "tasks"))
			check_level(p, task, task->string);
	}
	cJSON_Delete(rep);
}

static void *prop_run(void *arg)
{
	prop_thread *t = arg;
	prop *p = t->p;
	budget_resv held[4];
	unsigned int held_task[4];
	size_t n_held = 0;
	for (int step = 0; step < N_STEPS; step++) {
		uint64_t r = next_rand(&t->rng);
		unsigned int op = (unsigned int)(r % 3);
		if ((op == 0 && n_held < 4) || n_held == 0) {
			unsigned int k = (unsigned int)(next_rand(&t->rng) % N_TASKS);
			uint64_t tokens = 1 + next_rand(&t->rng) % 400;
			double cost = (double)(next_rand(&t->rng) % 100000) / 1e7; /* < 0.01 */
			int rc = budget_reserve(p->st, p->tasks[k], tokens, cost, &held[n_held]);
			if (rc == COG_OK)
				held_task[n_held++] = k;
			else if (rc == COG_EBUDGET)
				atomic_fetch_add(&p->refusals, 1);
			else
				violation(p, "reserve failed", "thread", rc, 0);
		} else {
			size_t i = (size_t)(next_rand(&t->rng) % n_held);
			budget_resv *h = &held[i];
			if (op == 1) {
				uint64_t used = next_rand(&t->rng) % (h->tokens + 1);
				uint64_t in = used / 2 + used % 2, out = used / 2;
				double cost = h->cost * (double)(next_rand(&t->rng) % 1001) / 1000.0;
				budget_settle(p->st, h, in, out, cost, t->index % 2 ? "odd" : "even");
				atomic_fetch_add(&p->tokens_settled, used);
				atomic_fetch_add(&p->task_tokens[held_task[i]], used);
			} else {
				budget_release(p->st, h);
			}
			held[i] = held[n_held - 1];
			held_task[i] = held_task[n_held - 1];
			n_held--;
		}
		check_all(p);
	}
	for (size_t i = 0; i < n_held; i++)
		budget_release(p->st, &held[i]);
	return NULL;
}

/* limits: the context's, plans pa and pb, tasks a1, a2 (under pa), b1, b2
 * (under pb); NULL: none */
static void run_property(const char *const limits[7])
{
	static prop p;
	memset(&p, 0, sizeof p);
	pthread_mutex_init(&p.vlock, NULL);
	p.ctx = new_ctx();
	p.st = state_of(p.ctx);
	if (limits[0])
		ck_assert_cog(cog_ctx_set_budget(p.ctx, limits[0]));
	budget_node *plans[2] = {
		node(p.st, NULL, "pa", limits[1]), node(p.st, NULL, "pb", limits[2]),
	};
	p.tasks[0] = node(p.st, plans[0], "a1", limits[3]);
	p.tasks[1] = node(p.st, plans[0], "a2", limits[4]);
	p.tasks[2] = node(p.st, plans[1], "b1", limits[5]);
	p.tasks[3] = node(p.st, plans[1], "b2", limits[6]);
	prop_thread th[N_THREADS];
	pthread_t ids[N_THREADS];
	for (unsigned int i = 0; i < N_THREADS; i++) {
		th[i] = (prop_thread){ &p, 0x9e3779b97f4a7c15ull * (i + 1), i };
		ck_assert_int_eq(pthread_create(&ids[i], NULL, prop_run, &th[i]), 0);
	}
	for (unsigned int i = 0; i < N_THREADS; i++)
		ck_assert_int_eq(pthread_join(ids[i], NULL), 0);
	ck_assert_msg(atomic_load(&p.violations) == 0, "%d violations, first: %s",
		atomic_load(&p.violations), p.first_violation);
	ck_assert_msg(atomic_load(&p.refusals) > 0, "the limits never bound: the test tests nothing");

	/* the totals: tokens exactly, cost to the last bits of the sums */
	cJSON *rep = report(p.ctx, NULL);
	uint64_t settled = atomic_load(&p.tokens_settled);
	ck_assert_uint_eq((uint64_t)num(rep, "spent/tokens"), settled);
	ck_assert(num(rep, "reserved/tokens") == 0);
	ck_assert(num(rep, "reserved/cost") == 0);
	ck_assert(num(rep, "spent/tokens") ==
		num(rep, "spent/input_tokens") + num(rep, "spent/output_tokens"));
	double plan_tokens = 0, plan_cost = 0, refused = num(rep, "refused");
	const char *task_names[N_TASKS] = { "a1", "a2", "b1", "b2" };
	const cJSON *plan, *task;
	cJSON_ArrayForEach(plan, cJSON_GetObjectItem(rep, "plans")) {
		double task_tokens = 0, task_cost = 0;
		plan_tokens += num(plan, "spent/tokens");
		plan_cost += num(plan, "spent/cost");
		refused += num(plan, "refused");
		cJSON_ArrayForEach(task, cJSON_GetObjectItem(plan, "tasks")) {
			task_tokens += num(task, "spent/tokens");
			task_cost += num(task, "spent/cost");
			refused += num(task, "refused");
			for (int k = 0; k < N_TASKS; k++)
				if (!strcmp(task->string, task_names[k]))
					ck_assert_uint_eq((uint64_t)num(task, "spent/tokens"),
						atomic_load(&p.task_tokens[k]));
		}
		ck_assert(task_tokens == num(plan, "spent/tokens"));
		ck_assert(task_cost <= num(plan, "spent/cost") * (1 + 1e-12) + 1e-15 &&
		          task_cost >= num(plan, "spent/cost") * (1 - 1e-12) - 1e-15);
	}
	ck_assert(plan_tokens == num(rep, "spent/tokens"));
	ck_assert(plan_cost <= num(rep, "spent/cost") * (1 + 1e-12) + 1e-15 &&
	          plan_cost >= num(rep, "spent/cost") * (1 - 1e-12) - 1e-15);
	ck_assert_uint_eq((uint64_t)refused, atomic_load(&p.refusals));
	ck_assert(num(rep, "agents/odd/spent/tokens") + num(rep, "agents/even/spent/tokens") ==
		num(rep, "spent/tokens"));
	ck_assert(num(rep, "agents/odd/spent/llm_calls") + num(rep, "agents/even/spent/llm_calls")
		== num(rep, "spent/llm_calls"));
	cJSON_Delete(rep);

	/* what is left at a task fits exactly, and one more token does not */
	for (int k = 0; k < N_TASKS; k++) {
		uint64_t left = budget_remaining_tokens(p.st, p.tasks[k]);
		budget_resv r;
		ck_assert_uint_lt(left, UINT64_MAX);
		if (left > 0) {
			ck_assert_cog(budget_reserve(p.st, p.tasks[k], left, 0, &r));
			ck_assert_uint_eq(budget_remaining_tokens(p.st, p.tasks[k]), 0);
			ck_assert_int_eq(budget_reserve(p.st, p.tasks[k], 1, 0, &r), COG_EBUDGET);
			budget_resv full = { p.tasks[k], left, 0 };
			budget_release(p.st, &full);
		}
		ck_assert_int_eq(budget_reserve(p.st, p.tasks[k], left + 1, 0, &r), COG_EBUDGET);
	}
	check_all(&p);
	ck_assert_int_eq(atomic_load(&p.violations), 0);
	for (int k = 0; k < N_TASKS; k++)
		budget_node_release(p.st, p.tasks[k]);
	budget_node_release(p.st, plans[0]);
	budget_node_release(p.st, plans[1]);
	cog_ctx_free(p.ctx);
	pthread_mutex_destroy(&p.vlock);
}

/* Tasks a1 (tokens) and b1 (cost) bind, and the context on both. */
START_TEST(property_tasks_and_context)
{
	const char *const limits[7] = { "{\"max_tokens\":70000,\"max_cost\":1.6}",
		"{\"max_tokens\":900000,\"max_cost\":5}", "{\"max_cost\":5}",
		"{\"max_tokens\":20000}", NULL, "{\"max_cost\":0.3}", NULL };
	run_property(limits);
}
END_TEST

/* The plans bind: pa on tokens, pb on cost (the context has no limit). */
START_TEST(property_plans)
{
	const char *const limits[7] = { NULL, "{\"max_tokens\":30000,\"max_cost\":9}",
		"{\"max_cost\":0.6,\"max_tokens\":900000}", "{\"max_tokens\":20000}", NULL,
		"{\"max_cost\":0.3}", NULL };
	run_property(limits);
}
END_TEST

static Suite *budget_suite(void)
{
	Suite *s = suite_create("agent-budget");
	TCase *tc = tcase_create("budget");
	tcase_set_timeout(tc, 280);
	tcase_add_test(tc, limits_json);
	tcase_add_test(tc, refusal_at_each_level);
	tcase_add_test(tc, money_fits_exactly);
	tcase_add_test(tc, wall_time);
	tcase_add_test(tc, deeper_nodes_go_with_their_last_reference);
	tcase_add_test(tc, input_bound);
	tcase_add_test(tc, worst_cost_of_a_route);
	tcase_add_test(tc, property_tasks_and_context);
	tcase_add_test(tc, property_plans);
	budget_level_tests(tc);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(budget_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
