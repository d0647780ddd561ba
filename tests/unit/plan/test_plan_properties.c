/*
 * Properties of cog_plan on 10,000 random DAGs (1..200 tasks, random edge
 * densities, tasks added through cog_plan_add_task in random order, their
 * dependencies listed in random order): the topological order respects
 * every dependency and holds every task once; levels and the critical path
 * match an independent computation over the generator's own order; then a
 * back edge makes a cycle, which must be reported as COG_ECYCLE naming a
 * real cycle of the graph.
 *
 * Every graph has its own seed (COG_TEST_SEED + graph number, printed on
 * failure). Reproduce one with COG_TEST_SEED=<seed> COG_TEST_GRAPHS=1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "plan_int.h"

#define MAX_TASKS 200
#define DEFAULT_SEED 0x5eed2026u
#define DEFAULT_GRAPHS 10000
#define RUNS 10 /* the graphs are split over this many loop tests */

/* Check records every passing ck_assert in a file: in loops over millions
 * of checks, assert without telling it unless the check fails. */
#define REQUIRE(cond, ...) do { if (!(cond)) ck_abort_msg(__VA_ARGS__); } while (0)

/* splitmix64: small, fast, and fine for generating test graphs */
typedef struct rng {
	uint64_t state;
} rng;

static uint64_t rng_next(rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned rng_below(rng *r, unsigned n)
{
	return (unsigned)(rng_next(r) % n);
}

static void shuffle(rng *r, int *a, int n)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)rng_below(r, (unsigned)i + 1);
		int t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

typedef struct graph {
	int n;
	int edges;
	int by_rank[MAX_TASKS];   /* the generator's topological order */
	int added[MAX_TASKS];     /* task number added at position i */
	int position[MAX_TASKS];  /* inverse of added: insertion index of task k */
	bool edge[MAX_TASKS][MAX_TASKS]; /* edge[u][v]: v depends on u */
	int duration[MAX_TASKS];
	int tokens[MAX_TASKS];
	int cost8[MAX_TASKS];     /* cost in eighths: sums stay exact */
	int level[MAX_TASKS];
	long longest[MAX_TASKS];  /* longest summed duration of a chain ending here */
} graph;

static graph g;
static char where[96];
static cog_ctx *ctx;

static void setup(void)
{
	ck_assert_int_eq(cog_ctx_new(&ctx, NULL), 0);
}

static void teardown(void)
{
	cog_ctx_free(ctx);
}

static unsigned long long env_number(const char *name, unsigned long long fallback)
{
	const char *v = getenv(name);
	return v && *v ? strtoull(v, NULL, 0) : fallback;
}

static void generate(rng *r)
{
	memset(&g, 0, sizeof(g));
	g.n = 1 + (int)rng_below(r, MAX_TASKS);
	int n = g.n;
	for (int i = 0; i < n; i++)
		g.by_rank[i] = g.added[i] = i;
	shuffle(r, g.by_rank, n);
	shuffle(r, g.added, n);
	for (int i = 0; i < n; i++)
		g.position[g.added[i]] = i;

	/* density: none, sparse, about two per task, a quarter of all pairs, or
	 * anything up to eight per task */
	long pairs = (long)n * (n - 1) / 2, cap;
	switch (rng_below(r, 5)) {
	case 0: cap = 0; break;
	case 1: cap = n / 2; break;
	case 2: cap = 2L * n; break;
	case 3: cap = pairs / 2; break;
	default: cap = 8L * n; break;
	}
	if (cap > pairs / 2 + 1)
		cap = pairs / 2 + 1;
	if (cap > pairs)
		cap = pairs;
	long want = cap ? (long)rng_below(r, (unsigned)cap + 1) : 0;
	while (g.edges < want) {
		int a = (int)rng_below(r, (unsigned)n), b = (int)rng_below(r, (unsigned)n);
		if (a == b)
			continue;
		if (a > b) {
			int t = a;
			a = b;
			b = t;
		}
		int u = g.by_rank[a], v = g.by_rank[b];
		if (!g.edge[u][v]) {
			g.edge[u][v] = true;
			g.edges++;
		}
	}
	for (int k = 0; k < n; k++) {
		/* some tasks without estimates, ties on purpose */
		g.duration[k] = rng_below(r, 4) == 0 ? 0 : (int)rng_below(r, 50);
		g.tokens[k] = (int)rng_below(r, 1000);
		g.cost8[k] = (int)rng_below(r, 64);
	}

	/* the expected answers, over the generator's order */
	for (int i = 0; i < n; i++) {
		int v = g.by_rank[i];
		int level = 0;
		long before = 0;
		for (int u = 0; u < n; u++) {
			if (!g.edge[u][v])
				continue;
			if (g.level[u] + 1 > level)
				level = g.level[u] + 1;
			if (g.longest[u] > before)
				before = g.longest[u];
		}
		g.level[v] = level;
		g.longest[v] = before + g.duration[v];
	}
}

static cog_plan *build(rng *r)
{
	cog_plan *plan = NULL;
	REQUIRE(cog_plan_new(&plan, ctx, "random") == 0, "%s: %s", where, cog_error_last());
	char json[8192];
	int deps[MAX_TASKS];
	for (int i = 0; i < g.n; i++) {
		int k = g.added[i], count = 0;
		for (int u = 0; u < g.n; u++)
			if (g.edge[u][k])
				deps[count++] = u;
		shuffle(r, deps, count);
		int len = snprintf(json, sizeof(json), "{\"id\":\"t%d\",\"estimate\":{"
			"\"duration_ms\":%d,\"tokens\":%d,\"cost\":%g},\"depends_on\":[", k,
			g.duration[k], g.tokens[k], g.cost8[k] / 8.0);
		for (int j = 0; j < count; j++)
			len += snprintf(json + len, sizeof(json) - (size_t)len, "%s\"t%d\"",
				j ? "," : "", deps[j]);
		snprintf(json + len, sizeof(json) - (size_t)len, "]}");
		int rc = cog_plan_add_task(plan, json);
		REQUIRE(rc == 0, "%s: add %s: %s", where, json, cog_error_last());
	}
	return plan;
}

static int task_number(const cJSON *item)
{
	REQUIRE(cJSON_IsString(item) && item->valuestring[0] == 't', "%s: bad id", where);
	int k = atoi(item->valuestring + 1);
	REQUIRE(k >= 0 && k < g.n, "%s: id %s out of range", where, item->valuestring);
	return k;
}

static double number(const cJSON *object, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
	REQUIRE(cJSON_IsNumber(item), "%s: \"%s\" is not a number", where, name);
	return item->valuedouble;
}

static void check_analysis(cog_plan *plan)
{
	char *json = NULL;
	int rc = cog_plan_analyze(plan, &json);
	REQUIRE(rc == 0, "%s: analyze: %s", where, cog_error_last());
	cJSON *root = cJSON_Parse(json);
	REQUIRE(root != NULL, "%s: analysis is not JSON: %s", where, json);
	int n = g.n;
	REQUIRE(number(root, "tasks") == n, "%s: tasks", where);
	REQUIRE(number(root, "edges") == g.edges, "%s: edges", where);

	/* order: every task once, every dependency before its dependant */
	int pos[MAX_TASKS];
	for (int k = 0; k < n; k++)
		pos[k] = -1;
	const cJSON *order = cJSON_GetObjectItem(root, "order");
	REQUIRE(cJSON_GetArraySize(order) == n, "%s: order has %d tasks", where,
		cJSON_GetArraySize(order));
	int i = 0;
	const cJSON *item;
	cJSON_ArrayForEach(item, order) {
		int k = task_number(item);
		REQUIRE(pos[k] < 0, "%s: t%d twice in the order", where, k);
		pos[k] = i++;
	}
	for (int u = 0; u < n; u++)
		for (int v = 0; v < n; v++)
			if (g.edge[u][v])
				REQUIRE(pos[u] < pos[v], "%s: t%d ordered after its dependant t%d",
					where, u, v);

	/* levels: each task once, at 1 + the largest level of its dependencies */
	int max_level = 0;
	for (int k = 0; k < n; k++)
		if (g.level[k] > max_level)
			max_level = g.level[k];
	const cJSON *levels = cJSON_GetObjectItem(root, "levels");
	REQUIRE(cJSON_GetArraySize(levels) == max_level + 1, "%s: %d levels, expected %d",
		where, cJSON_GetArraySize(levels), max_level + 1);
	bool seen[MAX_TASKS] = { false };
	int level = 0, placed = 0;
	const cJSON *tasks;
	cJSON_ArrayForEach(tasks, levels) {
		REQUIRE(cJSON_GetArraySize(tasks) > 0, "%s: level %d empty", where, level);
		cJSON_ArrayForEach(item, tasks) {
			int k = task_number(item);
			REQUIRE(!seen[k], "%s: t%d on two levels", where, k);
			REQUIRE(g.level[k] == level, "%s: t%d on level %d, expected %d", where, k,
				level, g.level[k]);
			seen[k] = true;
			placed++;
		}
		level++;
	}
	REQUIRE(placed == n, "%s: levels hold %d tasks", where, placed);

	/* critical path: the longest duration, along real edges from a root */
	long longest = 0, total_tokens = 0, total_cost8 = 0;
	for (int k = 0; k < n; k++) {
		if (g.longest[k] > longest)
			longest = g.longest[k];
		total_tokens += g.tokens[k];
		total_cost8 += g.cost8[k];
	}
	const cJSON *cp = cJSON_GetObjectItem(root, "critical_path");
	REQUIRE(number(cp, "duration_ms") == (double)longest, "%s: critical path %g ms, "
		"expected %ld", where, number(cp, "duration_ms"), longest);
	const cJSON *path = cJSON_GetObjectItem(cp, "tasks");
	REQUIRE(cJSON_GetArraySize(path) >= 1, "%s: empty critical path", where);
	long duration = 0, tokens = 0, cost8 = 0;
	int prev = -1;
	cJSON_ArrayForEach(item, path) {
		int k = task_number(item);
		if (prev < 0) {
			for (int u = 0; u < n; u++)
				REQUIRE(!g.edge[u][k], "%s: critical path starts at t%d, not a root",
					where, k);
		} else {
			REQUIRE(g.edge[prev][k], "%s: critical path t%d -> t%d is no edge", where,
				prev, k);
		}
		duration += g.duration[k];
		tokens += g.tokens[k];
		cost8 += g.cost8[k];
		prev = k;
	}
	REQUIRE(duration == longest, "%s: critical path sums to %ld ms", where, duration);
	REQUIRE(number(cp, "tokens") == (double)tokens, "%s: path tokens", where);
	REQUIRE(number(cp, "cost") == cost8 / 8.0, "%s: path cost", where);
	const cJSON *est = cJSON_GetObjectItem(root, "estimate");
	REQUIRE(number(est, "duration_ms") == (double)longest, "%s: estimate", where);
	REQUIRE(number(est, "tokens") == (double)total_tokens, "%s: tokens", where);
	REQUIRE(number(est, "cost") == total_cost8 / 8.0, "%s: cost", where);
	cJSON_Delete(root);
	cog_free(json);

	/* the prepared order agrees with the JSON */
	for (int j = 0; j < n; j++)
		REQUIRE(pos[atoi(plan->tasks[plan->order[j]].id + 1)] == j, "%s: prepared order", where);
}

/* Make a cycle with one back edge: u depends on v where v already depends,
 * through some chain, on u. Without any edge, two tasks depend on each
 * other. Returns false when the graph has a single task. */
static bool inject_cycle(rng *r, cog_plan *plan)
{
	int n = g.n;
	if (n < 2)
		return false;
	int candidates[MAX_TASKS], count = 0;
	for (int v = 0; v < n; v++)
		for (int u = 0; u < n; u++)
			if (g.edge[u][v]) {
				candidates[count++] = v;
				break;
			}
	char a[16], b[16];
	if (!count) {
		int u = (int)rng_below(r, (unsigned)n), v = (int)rng_below(r, (unsigned)n - 1);
		if (v >= u)
			v++;
		snprintf(a, sizeof(a), "t%d", u);
		snprintf(b, sizeof(b), "t%d", v);
		REQUIRE(cog_plan_add_dependency(plan, a, b) == 0, "%s: %s", where, cog_error_last());
		REQUIRE(cog_plan_add_dependency(plan, b, a) == 0, "%s: %s", where, cog_error_last());
		g.edge[v][u] = g.edge[u][v] = true;
		return true;
	}
	int v = candidates[rng_below(r, (unsigned)count)];
	/* the ancestors of v, by a search backwards over the edges */
	bool ancestor[MAX_TASKS] = { false };
	int queue[MAX_TASKS], head = 0, tail = 0;
	queue[tail++] = v;
	while (head < tail) {
		int w = queue[head++];
		for (int u = 0; u < n; u++)
			if (g.edge[u][w] && !ancestor[u]) {
				ancestor[u] = true;
				queue[tail++] = u;
			}
	}
	int pick = (int)rng_below(r, (unsigned)tail - 1), u = -1;
	for (int k = 0; k < n; k++)
		if (ancestor[k] && pick-- == 0) {
			u = k;
			break;
		}
	REQUIRE(u >= 0, "%s: no ancestor picked", where);
	snprintf(a, sizeof(a), "t%d", u);
	snprintf(b, sizeof(b), "t%d", v);
	REQUIRE(cog_plan_add_dependency(plan, a, b) == 0, "%s: %s", where, cog_error_last());
	g.edge[v][u] = true;
	return true;
}

/* The message names a real cycle: "... dependency cycle a -> b -> ... -> a
 * (each task ...)", each step an edge, possibly with "... (N more)" in the
 * middle of a long one. */
static void check_cycle(cog_plan *plan)
{
	int rc = cog_plan_validate(plan);
	REQUIRE(rc == COG_ECYCLE, "%s: validate gave %d: %s", where, rc, cog_error_last());
	char message[1100];
	snprintf(message, sizeof(message), "%s", cog_error_last());
	char prefix[128];
	snprintf(prefix, sizeof(prefix), "plan %s: dependency cycle ", cog_plan_id(plan));
	const char *suffix = " (each task depends on the one before it)";
	size_t len = strlen(message);
	REQUIRE(strncmp(message, prefix, strlen(prefix)) == 0, "%s: %s", where, message);
	REQUIRE(len > strlen(suffix) && strcmp(message + len - strlen(suffix), suffix) == 0,
		"%s: %s", where, message);
	message[len - strlen(suffix)] = '\0';

	int names[MAX_TASKS + 2], count = 0, elided_at = -1;
	long elided = 0;
	char *p = message + strlen(prefix);
	for (;;) {
		char *arrow = strstr(p, " -> ");
		if (arrow)
			*arrow = '\0';
		if (strncmp(p, "... (", 5) == 0) {
			REQUIRE(elided_at < 0, "%s: two elisions", where);
			elided = strtol(p + 5, NULL, 10);
			REQUIRE(elided > 0, "%s: bad elision %s", where, p);
			elided_at = count;
		} else {
			REQUIRE(p[0] == 't', "%s: bad name '%s'", where, p);
			REQUIRE(count < MAX_TASKS + 2, "%s: cycle too long", where);
			names[count++] = atoi(p + 1);
		}
		if (!arrow)
			break;
		p = arrow + 4;
	}
	REQUIRE(count >= 2 && names[0] == names[count - 1], "%s: cycle does not close",
		where);
	if (elided_at >= 0)
		REQUIRE(elided_at == count - 2, "%s: elision must precede the last task",
			where);
	bool on[MAX_TASKS] = { false };
	for (int i = 0; i + 1 < count; i++) {
		int u = names[i], v = names[i + 1];
		REQUIRE(u >= 0 && u < g.n && !on[u], "%s: t%d repeated", where, u);
		on[u] = true;
		if (i + 1 != elided_at)
			REQUIRE(g.edge[u][v], "%s: t%d -> t%d is no edge", where, u, v);
	}
	REQUIRE(count - 1 + elided <= g.n, "%s: cycle longer than the graph", where);
	/* named from its earliest-added task */
	if (elided_at < 0)
		for (int i = 1; i + 1 < count; i++)
			REQUIRE(g.position[names[i]] > g.position[names[0]],
				"%s: cycle does not start at its earliest-added task", where);
	REQUIRE(!plan->prepared && !plan->order, "%s: prepared after a cycle", where);
	char *json = (char *)1;
	REQUIRE(cog_plan_analyze(plan, &json) == COG_ECYCLE && !json, "%s: analyze", where);
}

START_TEST(random_dags)
{
	unsigned long long base = env_number("COG_TEST_SEED", DEFAULT_SEED);
	unsigned long long graphs = env_number("COG_TEST_GRAPHS", DEFAULT_GRAPHS);
	unsigned long long per_run = (graphs + RUNS - 1) / RUNS;
	unsigned long long first = (unsigned long long)_i * per_run;
	for (unsigned long long k = first; k < first + per_run && k < graphs; k++) {
		unsigned long long seed = base + k;
		snprintf(where, sizeof(where), "graph %llu (COG_TEST_SEED=%llu COG_TEST_GRAPHS=1)",
			k, seed);
		rng r = { seed };
		generate(&r);
		cog_plan *plan = build(&r);
		int rc = cog_plan_validate(plan);
		REQUIRE(rc == 0, "%s: validate: %s", where, cog_error_last());
		check_analysis(plan);
		if (inject_cycle(&r, plan))
			check_cycle(plan);
		cog_plan_free(plan);
	}
}
END_TEST

static Suite *plan_properties_suite(void)
{
	Suite *s = suite_create("plan-properties");
	TCase *tc = tcase_create("random-dags");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, random_dags, 0, RUNS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(plan_properties_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures != 0;
}
