/* The agent-budget-random suite's random setups and the checks of a run's
 * reports (agent_budget.h). */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_budget.h"

/* ---- random numbers (xorshift64*) ---- */

uint64_t rnd_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

uint64_t rnd_range(uint64_t *s, uint64_t lo, uint64_t hi)
{
	return lo + rnd_next(s) % (hi - lo + 1);
}

double rnd_unit(uint64_t *s)
{
	return (double)(rnd_next(s) >> 11) / 9007199254740992.0;
}

static limits random_limits(uint64_t *s)
{
	limits l = { 0, 0 };
	double p = rnd_unit(s);
	if (p < 0.45)
		return l;
	if (p < 0.75 || p >= 0.9)
		l.tokens = rnd_range(s, 100, 8000);
	if (p >= 0.75)
		l.cost = (double)rnd_range(s, 1, 400) / 20000.0;  /* 0.00005 .. 0.02 */
	return l;
}

void limits_json(char *buf, size_t size, const limits *l)
{
	int n = snprintf(buf, size, "{");
	if (l->tokens)
		n += snprintf(buf + n, size - (size_t)n, "\"max_tokens\":%" PRIu64, l->tokens);
	if (l->cost)
		n += snprintf(buf + n, size - (size_t)n, "%s\"max_cost\":%.17g",
		              l->tokens ? "," : "", l->cost);
	snprintf(buf + n, size - (size_t)n, "}");
}

void random_setup(run_setup *rs, uint64_t *s)
{
	memset(rs, 0, sizeof(*rs));
	rs->price_in = (double)rnd_range(s, 10, 500) / 100.0;     /* 0.10 .. 5.00 */
	rs->price_out = (double)rnd_range(s, 50, 2000) / 100.0;   /* 0.50 .. 20.00 */
	rs->ctx = random_limits(s);
	rs->plan = random_limits(s);
	for (int a = 0; a < 2; a++) {
		rs->agent[a] = random_limits(s);
		rs->agent_max_tokens[a] = (unsigned int)rnd_range(s, 1, 300);
		rs->agent_max_turns[a] = (unsigned int)rnd_range(s, 1, 5);
	}
	rs->n_tasks = (int)rnd_range(s, 1, MAX_TASKS);
	for (int t = 0; t < rs->n_tasks; t++) {
		rs->task[t] = random_limits(s);
		rs->task_agent[t] = (int)rnd_range(s, 0, 1);
	}
}

/* What a refusal message says: "<level> budget: <limit name> <limit>: spent
 * X, reserved R, this call needs up to N". */
typedef struct refusal {
	char level[16], key[64], what[24];
	double limit, spent, reserved, need;
} refusal;

static bool parse_refusal(const char *msg, refusal *r)
{
	memset(r, 0, sizeof(*r));
	const char *b = strstr(msg, " budget: max_");
	if (!b)
		return false;
	/* The level starts at the last of "context", "plan '", "task '",
	 * "agent '" before it. */
	const char *names[4] = { "context", "plan '", "task '", "agent '" };
	const char *start = NULL;
	int which = -1;
	for (int i = 0; i < 4; i++)
		for (const char *p = strstr(msg, names[i]); p && p < b; p = strstr(p + 1, names[i]))
			if (!start || p > start) {
				start = p;
				which = i;
			}
	if (!start)
		return false;
	static const char *levels[4] = { "context", "plan", "task", "agent" };
	snprintf(r->level, sizeof(r->level), "%s", levels[which]);
	if (which > 0) {
		const char *k = strchr(start, '\'') + 1, *e = strchr(k, '\'');
		if (!e || e > b)
			return false;
		snprintf(r->key, sizeof(r->key), "%.*s", (int)(e - k), k);
	}
	return sscanf(b, " budget: %23s %lf: spent %lf, reserved %lf, this call needs up to %lf",
	              r->what, &r->limit, &r->spent, &r->reserved, &r->need) == 5;
}

const cJSON *obj(const cJSON *o, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(o, name);
}

double num_or(const cJSON *o, const char *name, double dflt)
{
	const cJSON *n = obj(o, name);
	return cJSON_IsNumber(n) ? n->valuedouble : dflt;
}

/* spent (the report's "spent" object) within limits l. */
void assert_within(const cJSON *spent, const limits *l, const char *what, int run)
{
	double tokens = num_or(spent, "tokens", num_or(spent, "input_tokens", 0) +
	                       num_or(spent, "output_tokens", 0));
	double cost = num_or(spent, "cost", 0);
	if (l->tokens)
		ck_assert_msg(tokens <= (double)l->tokens, "run %d: %s spent %.0f tokens, limit %"
		              PRIu64, run, what, tokens, l->tokens);
	if (l->cost)
		ck_assert_msg(cost <= l->cost * (1 + 1e-12), "run %d: %s spent %.17g, limit %.17g",
		              run, what, cost, l->cost);
}

bool close_to(double a, double b, double rel)
{
	return fabs(a - b) <= rel * fmax(fabs(a), fabs(b)) + 1e-15;
}

/* Refusals seen, by level (context, plan, task, agent) and limit (tokens,
 * cost). */
unsigned int refusals[4][2];

void check_refusal(const char *msg, const run_setup *rs, int t, unsigned long last_bytes,
                   const cJSON *plan_rep, const cJSON *ctx_rep, int run)
{
	refusal r;
	ck_assert_msg(parse_refusal(msg, &r), "run %d: task t%d: not a budget refusal: %s", run, t, msg);
	bool tokens = strcmp(r.what, "max_tokens") == 0;
	ck_assert_msg(tokens || strcmp(r.what, "max_cost") == 0, "run %d: %s", run, msg);
	/* The level's limit and spending as the run has them. */
	const limits *l;
	const cJSON *spent;
	char tid[16];
	snprintf(tid, sizeof(tid), "t%d", t);
	const limits *alt = NULL;
	if (strcmp(r.level, "context") == 0) {
		l = &rs->ctx;
		spent = obj(ctx_rep, "spent");
	} else if (strcmp(r.level, "plan") == 0) {
		l = &rs->plan;
		spent = obj(plan_rep, "spent");
	} else if (strcmp(r.level, "task") == 0) {
		ck_assert_msg(strcmp(r.key, tid) == 0, "run %d: task %s refused at %s", run, tid, msg);
		l = &rs->task[t];
		spent = obj(obj(obj(plan_rep, "tasks"), tid), "spent");
	} else {
		l = &rs->agent[rs->task_agent[t]];
		alt = &rs->task[t];
		spent = obj(obj(obj(plan_rep, "tasks"), tid), "spent");
	}
	/* A level that never spent has no entry: nothing spent. */
	double limit = tokens ? (double)l->tokens : l->cost;
	if (alt && !close_to(limit, r.limit, 1e-5))
		limit = tokens ? (double)alt->tokens : alt->cost;
	ck_assert_msg(limit > 0 && close_to(limit, r.limit, 1e-5),
	              "run %d: refused against limit %.17g, the level's is %.17g: %s", run,
	              r.limit, limit, msg);
	double now = tokens ? num_or(spent, "tokens", num_or(spent, "input_tokens", 0) +
	                             num_or(spent, "output_tokens", 0))
	                    : num_or(spent, "cost", 0);
	ck_assert_msg(tokens ? r.spent == now : close_to(r.spent, now, 1e-5),
	              "run %d: the refusal says spent %.17g, the report %.17g: %s", run, r.spent,
	              now, msg);
	ck_assert_msg(r.reserved == 0, "run %d: something was reserved: %s", run, msg);
	/* It did not fit ... */
	ck_assert_msg(r.spent + r.reserved + r.need > r.limit * (tokens ? 1 : 1 + 1e-5),
	              "run %d: refused a call that fits: %s", run, msg);
	/* ... and its worst case is at least its input's lower bound (what
	 * the last request of the task carried, 16 + 8 per message at the
	 * least) plus one output token. */
	double min_tokens = 17 + (double)last_bytes;
	double min_need = tokens ? min_tokens
	                         : (16 * rs->price_in + 1 * rs->price_out) / 1e6;
	ck_assert_msg(r.need >= min_need * (tokens ? 1 : 1 - 1e-5),
	              "run %d: worst case %.17g below the lower bound %.17g: %s", run, r.need,
	              min_need, msg);
	static const char *levels[4] = { "context", "plan", "task", "agent" };
	for (int i = 0; i < 4; i++)
		if (strcmp(r.level, levels[i]) == 0)
			refusals[i][tokens ? 0 : 1]++;
}

