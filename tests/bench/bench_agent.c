/*
 * Agent benchmarks (docs/PERFORMANCE.md, "Agents"):
 *
 *   turn   the agent loop's own CPU per turn, LLM and tool time excluded
 *          (bench_agent_turn.c): cog_agent_run on tasks of 8 turns (7 tool
 *          calls, then a final answer) against a host LLM backend that
 *          answers at once from prebuilt response JSON and a host tool that
 *          answers at once; the CPU those two callbacks use is measured
 *          inside them (CLOCK_THREAD_CPUTIME_ID) and taken off the
 *          process's (getrusage). The peer, in the same run, is a bare loop
 *          written here making the same cog_llm_chat and cog_tool_call calls
 *          (the floor: router and tool layer). Without storage, then on a
 *          SQLite file: journaled runs, unjournaled runs and the bare loop.
 *   load   1,000 independent "llm" tasks, one LLM call each, run by
 *          cog_plan_run with cog_task_run_agent on 64 workers through the
 *          OpenAI provider and libcognition-curl to a loopback wire server
 *          (tests/common/wire_server.h) that answers after 50 ms: wall time
 *          vs the ideal ceil(1000/64) x 50 ms = 800 ms, in memory and durable
 *          (SQLite file); the peer is the same plan run by an executor
 *          calling cog_llm_chat directly (bench_agent_load.c).
 *
 *   bench_agent [all|turn|load] [scale=1]
 *   bench_agent turn-agent|turn-journal|turn-bare [scale=1]
 *                                   one loop alone, for a profiler
 *
 * Environment: BENCH_AGENT_NORMAL=1 makes the SQLite files of the load's
 * durable runs and of turn-journal durability NORMAL (no fsync per
 * commit); BENCH_AGENT_LOAD_ONLY=0..3 runs one configuration of the load.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cognition/sqlite.h>

#include "bench_agent.h"

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double median(double *values, unsigned int n)
{
	qsort(values, n, sizeof(values[0]), compare_double);
	return n % 2 != 0 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

void die(const char *what)
{
	fprintf(stderr, "bench_agent: %s: %s\n", what, cog_error_last());
	bench_tmp_remove();
	exit(EXIT_FAILURE);
}

void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench_agent: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	bench_tmp_remove();
	exit(EXIT_FAILURE);
}

/* ---- the directory of the SQLite files ---- */

static char tmp_dir[512];

const char *bench_tmp_dir(void)
{
	if (tmp_dir[0] == '\0') {
		const char *base = getenv("TMPDIR");

		snprintf(tmp_dir, sizeof(tmp_dir), "%s/bench_agent_XXXXXX",
		         base != NULL && base[0] != '\0' ? base : "/tmp");
		if (mkdtemp(tmp_dir) == NULL) {
			perror("bench_agent: mkdtemp");
			exit(EXIT_FAILURE);
		}
	}
	return tmp_dir;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

void bench_tmp_remove(void)
{
	if (tmp_dir[0] != '\0')
		nftw(tmp_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	tmp_dir[0] = '\0';
}

/* ---- contexts ---- */

static void log_warning(int level, const char *line, void *user_data)
{
	(void)level, (void)user_data;
	fprintf(stderr, "bench_agent: log: %s\n", line);
}

cog_ctx *bench_ctx(const char *name, int durability, unsigned int worker_threads)
{
	cog_ctx_options o = COG_CTX_OPTIONS_INIT;
	cog_ctx *ctx = NULL;

	o.log_level = COG_LOG_WARN;
	o.log_fn = log_warning;
	o.worker_threads = worker_threads;
	if (cog_ctx_new(&ctx, &o) != 0)
		die("cog_ctx_new");
	if (name != NULL) {
		cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
		cog_storage *storage = NULL;
		char path[700];

		so.durability = durability;
		snprintf(path, sizeof(path), "%s/%s", bench_tmp_dir(), name);
		if (cog_sqlite_storage_open(&storage, path, &so) != 0 ||
		    cog_ctx_set_storage(ctx, storage) != 0)
			die(path);
	}
	return ctx;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "all";
	double scale = argc > 2 ? atof(argv[2]) : 1.0;
	bool all = strcmp(what, "all") == 0;

	if (scale > 0 && strncmp(what, "turn-", 5) == 0) {
		bool bare = strcmp(what, "turn-bare") == 0;
		bool journaled = strcmp(what, "turn-journal") == 0;

		if (bare || journaled || strcmp(what, "turn-agent") == 0) {
			bench_turn_only(!bare, journaled, scale);
			bench_tmp_remove();
			return 0;
		}
	}
	if (scale <= 0 || scale > 100 || (!all && strcmp(what, "turn") != 0 &&
	    strcmp(what, "load") != 0)) {
		fprintf(stderr, "usage: bench_agent [all|turn|load|turn-agent|turn-journal|turn-bare] "
		        "[scale=1]\n");
		return 2;
	}
	printf("bench_agent: libcognition %s\n", COG_VERSION_STRING);
	if (all || strcmp(what, "turn") == 0)
		bench_turn(scale);
	if (all || strcmp(what, "load") == 0)
		bench_load(scale);
	bench_tmp_remove();
	return 0;
}
