/*
 * MCP client benchmark (docs/PERFORMANCE.md, "MCP: tools/call round trips
 * over stdio"):
 *
 *   bench_mcp [calls=5000 [rounds=3]]
 *
 * tools/call of server-everything's "echo" over stdio, through
 * cog_mcp_call_tool, against a Python client of the standard library only
 * (peers/mcp_client.py) doing the same exchange, in the same run. Each
 * measurement starts its own server (`node .../server-everything/dist/
 * index.js stdio`), initializes, makes 500 warm-up calls, then `calls`
 * calls with the same message, every answer checked ("Echo: <message>",
 * not isError):
 *
 *   sequential  one call at a time
 *   8 in flight C: 8 threads, calls/8 each, on the one connection;
 *               Python: one thread keeping 8 requests outstanding
 *
 * Measurements are interleaved (C, Python, C, Python, ...), `rounds` times;
 * the table has medians. Client CPU is the client process's own user +
 * system time (C: getrusage(RUSAGE_SELF), every thread of this process,
 * the library's reader and dispatch threads included, not the server;
 * Python: time.process_time() of its process). The server's CPU during the
 * timed calls is read from /proc/<pid>/stat, to show which side is busy.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <cognition.h>
#include <cognition/mcp.h>

#include "peer.h"

#ifndef COG_BENCH_DIR
#define COG_BENCH_DIR "tests/bench"
#endif
#ifndef COG_SOURCE_ROOT
#define COG_SOURCE_ROOT "."
#endif

#define SERVER_JS "@modelcontextprotocol/server-everything/dist/index.js"
#define MESSAGE "hello from the benchmark"
#define WARMUP 500u
#define THREADS 8u
#define MAX_ROUNDS 15u

enum { SEQ, PIPE, MODES };
static const char *const mode_arg[MODES] = { "seq", "pipe" };
static const char *const mode_name[MODES] = { "sequential", "8 in flight" };

typedef struct sample {
	double wall_s, cpu_s, sys_s, switches, server_cpu_s;
} sample;

static char server_js[4096];

static void die(const char *what)
{
	fprintf(stderr, "bench_mcp: %s: %s\n", what, cog_error_last());
	exit(EXIT_FAILURE);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* This process's CPU time (user + system, every thread), system time and
 * context switches (voluntary + involuntary) so far. */
static sample self_usage(void)
{
	struct rusage ru;
	sample s = { 0 };

	if (getrusage(RUSAGE_SELF, &ru) != 0) {
		perror("bench_mcp: getrusage");
		exit(EXIT_FAILURE);
	}
	s.sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	s.cpu_s = s.sys_s + (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	s.switches = (double)(ru.ru_nvcsw + ru.ru_nivcsw);
	return s;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *values, unsigned int n)
{
	double v[MAX_ROUNDS];

	memcpy(v, values, n * sizeof(v[0]));
	qsort(v, n, sizeof(v[0]), compare_double);
	return n % 2 != 0 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* user + system of process `pid` from /proc (clock ticks), or -1. */
static double proc_cpu_s(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long utime, stime;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After "pid (comm) ": state is field 3, utime 14, stime 15. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	           &utime, &stime) != 2)
		return -1;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* The pid of our child named "node" (the server of the open connection:
 * the connections of this bench are opened one at a time), or -1. */
static long node_child(void)
{
	DIR *tasks = opendir("/proc/self/task");
	struct dirent *t;
	long found = -1;

	while (tasks != NULL && found < 0 && (t = readdir(tasks)) != NULL) {
		char path[sizeof(t->d_name) + 32];
		long pid;
		FILE *f;

		if (t->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children", t->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		while (found < 0 && fscanf(f, "%ld", &pid) == 1) {
			char comm_path[64], comm[32] = "";
			FILE *c;

			snprintf(comm_path, sizeof(comm_path), "/proc/%ld/comm", pid);
			if ((c = fopen(comm_path, "r")) == NULL)
				continue;
			if (fgets(comm, sizeof(comm), c) != NULL && strncmp(comm, "node", 4) == 0)
				found = pid;
			fclose(c);
		}
		fclose(f);
	}
	if (tasks != NULL)
		closedir(tasks);
	return found;
}

/* ---- the C client ---- */

static void call_echo(cog_mcp *mcp)
{
	char *out = NULL;
	cJSON *result, *first, *text, *is_error;
	bool ok;

	if (cog_mcp_call_tool(mcp, "echo", "{\"message\":\"" MESSAGE "\"}", 0, &out) != 0)
		die("cog_mcp_call_tool echo");
	result = cJSON_Parse(out);
	first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(result, "content"), 0);
	text = cJSON_GetObjectItemCaseSensitive(first, "text");
	is_error = cJSON_GetObjectItemCaseSensitive(result, "isError");
	ok = cJSON_IsString(text) && strcmp(text->valuestring, "Echo: " MESSAGE) == 0 &&
	     !cJSON_IsTrue(is_error);
	cJSON_Delete(result);
	if (!ok) {
		fprintf(stderr, "bench_mcp: wrong answer from echo: %s\n", out);
		exit(EXIT_FAILURE);
	}
	cog_free(out);
}

typedef struct worker {
	cog_mcp *mcp;
	unsigned int calls;
	pthread_t thread;
} worker;

static void *worker_main(void *arg)
{
	worker *w = arg;

	for (unsigned int i = 0; i < w->calls; i++)
		call_echo(w->mcp);
	return NULL;
}

static void run_calls(cog_mcp *mcp, int mode, unsigned int calls)
{
	worker w[THREADS];
	unsigned int i;

	if (mode == SEQ) {
		for (i = 0; i < calls; i++)
			call_echo(mcp);
		return;
	}
	for (i = 0; i < THREADS; i++) {
		w[i].mcp = mcp;
		w[i].calls = calls / THREADS + (i < calls % THREADS ? 1 : 0);
		if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
			fprintf(stderr, "bench_mcp: pthread_create failed\n");
			exit(EXIT_FAILURE);
		}
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(w[i].thread, NULL);
}

static sample run_c(cog_ctx *ctx, int mode, unsigned int calls)
{
	const char *argv[] = { "node", server_js, "stdio", NULL };
	cog_mcp_options o;
	cog_mcp *mcp = NULL;
	double wall0, server0;
	long server;
	sample s, u0, u1;

	if (cog_mcp_options_init(&o, COG_MCP_OPTIONS_VERSION) != 0)
		die("cog_mcp_options_init");
	o.name = "everything";
	o.argv = argv;
	if (cog_mcp_connect(&mcp, ctx, &o) != 0)
		die("cog_mcp_connect");
	run_calls(mcp, mode, WARMUP);
	server = node_child();
	server0 = proc_cpu_s(server);
	wall0 = now_s();
	u0 = self_usage();
	run_calls(mcp, mode, calls);
	u1 = self_usage();
	s.wall_s = now_s() - wall0;
	s.cpu_s = u1.cpu_s - u0.cpu_s;
	s.sys_s = u1.sys_s - u0.sys_s;
	s.switches = u1.switches - u0.switches;
	s.server_cpu_s = server < 0 || server0 < 0 ? -1 : proc_cpu_s(server) - server0;
	cog_mcp_close(mcp);
	return s;
}

/* ---- the Python client, in its own process ---- */

static sample run_python(int mode, unsigned int calls)
{
	char count[16], warmup[16], inflight[16], line[512];
	const char *argv[] = { "/usr/bin/python3", COG_BENCH_DIR "/peers/mcp_client.py",
	                       server_js, mode_arg[mode], count, warmup, inflight,
	                       MESSAGE, NULL };
	peer_options o = { 0 };
	peer *p = NULL;
	size_t len = 0;
	ssize_t got;
	cJSON *answer, *n, *wall, *cpu, *sys, *switches, *server;
	sample s;
	int status;

	snprintf(count, sizeof(count), "%u", calls);
	snprintf(warmup, sizeof(warmup), "%u", WARMUP);
	snprintf(inflight, sizeof(inflight), "%u", THREADS);
	o.name = "mcp-python-client";
	o.argv = argv;
	o.stdio = true;
	o.install_hint = "apt-get install python3";
	if (peer_start(&p, &o) != 0) {
		fprintf(stderr, "bench_mcp: %s\n", peer_error());
		exit(EXIT_FAILURE);
	}
	while (len < sizeof(line) - 1 &&
	       (got = read(peer_stdout_fd(p), line + len, sizeof(line) - 1 - len)) > 0)
		len += (size_t)got;
	line[len] = '\0';
	status = peer_stop(p);
	answer = cJSON_Parse(line);
	n = cJSON_GetObjectItemCaseSensitive(answer, "calls");
	wall = cJSON_GetObjectItemCaseSensitive(answer, "wall_s");
	cpu = cJSON_GetObjectItemCaseSensitive(answer, "cpu_s");
	sys = cJSON_GetObjectItemCaseSensitive(answer, "sys_s");
	switches = cJSON_GetObjectItemCaseSensitive(answer, "switches");
	server = cJSON_GetObjectItemCaseSensitive(answer, "server_cpu_s");
	if (status != 0 || !cJSON_IsNumber(n) || n->valuedouble != (double)calls ||
	    !cJSON_IsNumber(wall) || !cJSON_IsNumber(cpu) || !cJSON_IsNumber(sys) ||
	    !cJSON_IsNumber(switches)) {
		fprintf(stderr, "bench_mcp: the Python client (exit status %d) said: '%s'\n",
		        status, line);
		exit(EXIT_FAILURE);
	}
	s.wall_s = wall->valuedouble;
	s.cpu_s = cpu->valuedouble;
	s.sys_s = sys->valuedouble;
	s.switches = switches->valuedouble;
	s.server_cpu_s = cJSON_IsNumber(server) ? server->valuedouble : -1;
	cJSON_Delete(answer);
	return s;
}

/* ---- the report ---- */

static void print_sample(const char *who, int mode, const sample *s, unsigned int calls)
{
	printf("  %-6s %-11s %6.0f calls/s  CPU %5.1f us/call (system %4.1f), %4.2f context "
	       "switches/call; server CPU %5.1f us/call, %3.0f%% of a core\n",
	       who, mode_name[mode], calls / s->wall_s, s->cpu_s / calls * 1e6,
	       s->sys_s / calls * 1e6, s->switches / calls,
	       s->server_cpu_s / calls * 1e6, s->server_cpu_s / s->wall_s * 100);
}

int main(int argc, char **argv)
{
	unsigned int calls = argc > 1 ? (unsigned int)strtoul(argv[1], NULL, 10) : 5000;
	unsigned int rounds = argc > 2 ? (unsigned int)strtoul(argv[2], NULL, 10) : 3;
	double rate[2][MODES][MAX_ROUNDS], cpu[2][MODES][MAX_ROUNDS], sys[2][MODES][MAX_ROUNDS];
	double csw[2][MODES][MAX_ROUNDS], server[2][MODES][MAX_ROUNDS];
	cog_ctx *ctx = NULL;
	unsigned int r;
	int mode;

	if (calls < THREADS || rounds == 0 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: bench_mcp [calls=5000 (>= %u) [rounds=3 (1..%u)]]\n",
		        THREADS, MAX_ROUNDS);
		return 2;
	}
	setenv("COG_TEST_SOURCE_ROOT", COG_SOURCE_ROOT, 0);
	if (peer_node_module(server_js, sizeof(server_js), SERVER_JS) != 0) {
		fprintf(stderr, "bench_mcp: %s\n", peer_error());
		return EXIT_FAILURE;
	}
	if (cog_ctx_new(&ctx, NULL) != 0)
		die("cog_ctx_new");
	printf("bench_mcp: libcognition %s; %u echo calls per measurement after %u warm-up, "
	       "%u rounds\n  server: node %s stdio\n", COG_VERSION_STRING, calls, WARMUP,
	       rounds, server_js);
	fflush(stdout);
	for (r = 0; r < rounds; r++) {
		printf("round %u\n", r + 1);
		for (mode = 0; mode < MODES; mode++) {
			sample c = run_c(ctx, mode, calls), py;

			print_sample("C", mode, &c, calls);
			fflush(stdout);
			py = run_python(mode, calls);
			print_sample("Python", mode, &py, calls);
			fflush(stdout);
			rate[0][mode][r] = calls / c.wall_s;
			cpu[0][mode][r] = c.cpu_s / calls * 1e6;
			sys[0][mode][r] = c.sys_s / calls * 1e6;
			csw[0][mode][r] = c.switches / calls;
			server[0][mode][r] = c.server_cpu_s / c.wall_s * 100;
			rate[1][mode][r] = calls / py.wall_s;
			cpu[1][mode][r] = py.cpu_s / calls * 1e6;
			sys[1][mode][r] = py.sys_s / calls * 1e6;
			csw[1][mode][r] = py.switches / calls;
			server[1][mode][r] = py.server_cpu_s / py.wall_s * 100;
		}
	}
	printf("\nmedians of %u rounds, %u calls each\n", rounds, calls);
	printf("| case | C calls/s | Python calls/s | C/Python calls/s | C CPU us/call | "
	       "Python CPU us/call | Python/C CPU | server busy (C run / Python run) |\n");
	printf("|---|---|---|---|---|---|---|---|\n");
	for (mode = 0; mode < MODES; mode++) {
		double rc = median(rate[0][mode], rounds), rp = median(rate[1][mode], rounds);
		double uc = median(cpu[0][mode], rounds), up = median(cpu[1][mode], rounds);

		printf("| %s | %.0f | %.0f | %.2f | %.1f | %.1f | %.2f | %.0f%% / %.0f%% |\n",
		       mode_name[mode], rc, rp, rc / rp, uc, up, up / uc,
		       median(server[0][mode], rounds), median(server[1][mode], rounds));
	}
	printf("\n| case | C: system CPU us/call, context switches/call | "
	       "Python: system CPU us/call, context switches/call |\n|---|---|---|\n");
	for (mode = 0; mode < MODES; mode++)
		printf("| %s | %.1f, %.2f | %.1f, %.2f |\n", mode_name[mode],
		       median(sys[0][mode], rounds), median(csw[0][mode], rounds),
		       median(sys[1][mode], rounds), median(csw[1][mode], rounds));
	cog_ctx_free(ctx);
	return 0;
}
