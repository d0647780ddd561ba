/*
 * In-memory scheduling overhead: no-op tasks through cog_plan_run, in ns
 * per task, on the graph shapes of the issue, plus a 3-task plan end to end.
 * tests/bench/peer_networkx.py computes topological generations of the same
 * graphs in the same run (see docs/PERFORMANCE.md).
 *
 *   bench_plan [scale=1.0]     (scale 0.1: a tenth of every graph, for a quick look)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cognition.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_plan: %s: %s\n", what, cog_error_last());
	exit(EXIT_FAILURE);
}

static int noop(cog_task_call *call, void *user_data)
{
	(void)call;
	__atomic_fetch_add((long *)user_data, 1, __ATOMIC_RELAXED);
	return 0;
}

/* Task i of a shape, with up to two dependencies. */
typedef int (*shape_fn)(long i, long n, long *deps);

static int chain(long i, long n, long *deps)
{
	(void)n;
	if (i == 0)
		return 0;
	deps[0] = i - 1;
	return 1;
}

static int wide(long i, long n, long *deps)
{
	(void)i;
	(void)n;
	(void)deps;
	return 0;
}

#define LAYER 10000
/* 100 layers of 10,000: each task waits for the task above it and its
 * neighbour, so every layer depends on the whole previous one in turn. */
static int layered(long i, long n, long *deps)
{
	(void)n;
	if (i < LAYER)
		return 0;
	deps[0] = i - LAYER;
	deps[1] = i - LAYER + ((i + 1) % LAYER == 0 ? -(LAYER - 1) : 1);
	return 2;
}

static cog_plan *build(cog_ctx *ctx, shape_fn shape, long n, double *seconds)
{
	cog_plan *plan;
	char json[160];
	long deps[2];
	double t0 = now_s();
	if (cog_plan_new(&plan, ctx, "bench") != 0)
		die("cog_plan_new");
	for (long i = 0; i < n; i++) {
		int k = shape(i, n, deps);
		int len = snprintf(json, sizeof(json), "{\"id\":\"t%ld\",\"depends_on\":[", i);
		for (int d = 0; d < k; d++)
			len += snprintf(json + len, sizeof(json) - (size_t)len, "%s\"t%ld\"",
				d ? "," : "", deps[d]);
		snprintf(json + len, sizeof(json) - (size_t)len, "]}");
		if (cog_plan_add_task(plan, json) != 0)
			die("cog_plan_add_task");
	}
	if (cog_plan_validate(plan) != 0)
		die("cog_plan_validate");
	*seconds = now_s() - t0;
	return plan;
}

static long executed; /* bumped by the executor: every task must run */

static void measure(cog_ctx *ctx, const char *name, shape_fn shape, long n,
                    unsigned int workers)
{
	double build_s;
	cog_plan *plan = build(ctx, shape, n, &build_s);
	cog_run_options o = COG_RUN_OPTIONS_INIT;
	o.workers = workers;
	o.durability = COG_DURABLE_OFF;
	o.inline_max_tasks = workers == 1 ? 0xffffffffu : 32;
	long before = executed;
	double t0 = now_s();
	if (cog_plan_run(plan, &o) != 0)
		die(name);
	double run_s = now_s() - t0;
	if (executed - before != n) {
		fprintf(stderr, "bench_plan: %s ran %ld of %ld tasks\n", name,
			executed - before, n);
		exit(EXIT_FAILURE);
	}
	printf("  %-28s %8ld tasks  workers %u  run %8.1f ns/task  (build+validate %.0f ns/task)\n",
		name, n, workers, run_s * 1e9 / (double)n, build_s * 1e9 / (double)n);
	cog_plan_free(plan);
}

static void three_task(cog_ctx *ctx, long rounds)
{
	static const char *const tasks[] = {
		"{\"id\":\"a\"}", "{\"id\":\"b\",\"depends_on\":[\"a\"]}",
		"{\"id\":\"c\",\"depends_on\":[\"a\"]}",
	};
	cog_run_options o = COG_RUN_OPTIONS_INIT;
	o.durability = COG_DURABLE_OFF;
	double build_and_run = 0, run_only = 0;
	for (long r = 0; r < rounds; r++) {
		cog_plan *plan;
		double t0 = now_s();
		if (cog_plan_new(&plan, ctx, "three") != 0)
			die("cog_plan_new");
		for (int i = 0; i < 3; i++)
			if (cog_plan_add_task(plan, tasks[i]) != 0)
				die("cog_plan_add_task");
		double t1 = now_s();
		if (cog_plan_run(plan, &o) != 0)
			die("run");
		double t2 = now_s();
		cog_plan_free(plan);
		build_and_run += now_s() - t0;
		run_only += t2 - t1;
	}
	printf("  3-task plan (a -> b, a -> c)  run %.2f us  build+run+free %.2f us  (%ld rounds)\n",
		run_only * 1e6 / (double)rounds, build_and_run * 1e6 / (double)rounds, rounds);
}

int main(int argc, char **argv)
{
	double scale = argc > 1 ? atof(argv[1]) : 1.0;
	if (scale <= 0 || scale > 1)
		scale = 1.0;
	long million = (long)(1000000 * scale);
	cog_ctx *ctx;
	if (cog_ctx_new(&ctx, NULL) != 0)
		die("cog_ctx_new");
	if (cog_ctx_set_task_executor(ctx, noop, &executed) != 0)
		die("cog_ctx_set_task_executor");
	printf("bench_plan: libcognition %s, no-op tasks, in memory\n", cog_version());
	for (unsigned int w = 1; w <= 2; w++) {
		measure(ctx, "chain", chain, million, w);
		measure(ctx, "wide (independent)", wide, million, w);
		measure(ctx, "layered 100 x 10,000", layered, (long)(100 * LAYER * scale) / LAYER * LAYER, w);
	}
	three_task(ctx, 20000);
	cog_ctx_free(ctx);
	return 0;
}
