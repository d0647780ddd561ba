/*
 * bench_sandbox: launch latency of /bin/true in cog_sandbox_run() against
 * bubblewrap with a comparable setup and against a plain posix_spawn, all
 * in the same run (interleaved, so the machine's state is shared), plus
 * what each namespace costs on its own (clone with that flag, child exits
 * at once).
 *
 *   bench_sandbox [runs]          (default 500)
 *
 * Goal (see docs/PERFORMANCE.md): p50 ours <= 0.5 x bwrap and <= 3 x
 * posix_spawn. bwrap missing: the bench says so and exits 2.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cognition.h>

extern char **environ;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(uint64_t *v, size_t n, double p)
{
	qsort(v, n, sizeof *v, cmp_u64);
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)v[i] / 1e6;   /* ms */
}

static int spawn_wait(const char *path, char *const argv[])
{
	pid_t pid;
	int rc = posix_spawn(&pid, path, NULL, NULL, argv, environ);
	if (rc != 0) {
		fprintf(stderr, "posix_spawn %s: %s\n", path, strerror(rc));
		return -1;
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int run_ours(void)
{
	static const char *const argv[] = { "/bin/true", NULL };
	cog_sandbox_options o = COG_SANDBOX_OPTIONS_INIT;
	o.argv = argv;
	o.timeout_ms = 10000;
	cog_sandbox_result r = COG_SANDBOX_RESULT_INIT;
	int rc = cog_sandbox_run(NULL, &o, &r);
	if (rc != 0) {
		fprintf(stderr, "cog_sandbox_run: %s\n", cog_error_last());
		return -1;
	}
	rc = r.exit_code == 0 ? 0 : -1;
	if (rc)
		fprintf(stderr, "sandboxed /bin/true: exit %d signal %d: %s\n",
			r.exit_code, r.signal, r.err);
	cog_sandbox_result_dispose(&r);
	return rc;
}

static int exit_at_once(void *arg)
{
	(void)arg;
	_exit(0);
}

static char ns_stack[64 * 1024] __attribute__((aligned(16)));

static int clone_wait(int flags)
{
	pid_t pid = clone(exit_at_once, ns_stack + sizeof ns_stack, flags | SIGCHLD, NULL);
	if (pid < 0)
		return -1;
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

static char *find_bwrap(void)
{
	static const char *const dirs[] = { "/usr/bin/bwrap", "/bin/bwrap",
	                                    "/usr/local/bin/bwrap" };
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
		if (access(dirs[i], X_OK) == 0)
			return (char *)dirs[i];
	return NULL;
}

int main(int argc, char **argv)
{
	size_t runs = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 500;
	if (runs < 10)
		runs = 10;
	char *bwrap = find_bwrap();
	if (!bwrap) {
		fprintf(stderr, "bench_sandbox: bwrap not found (apt-get install -y "
			"bubblewrap); cannot compare\n");
		return 2;
	}
	char *bwrap_argv[40];
	size_t k = 0;
	bwrap_argv[k++] = "bwrap";
	bwrap_argv[k++] = "--unshare-all";
	bwrap_argv[k++] = "--die-with-parent";
	bwrap_argv[k++] = "--ro-bind"; bwrap_argv[k++] = "/usr"; bwrap_argv[k++] = "/usr";
	struct stat st;
	static const char *const links[][2] = {
		{ "usr/bin", "/bin" }, { "usr/sbin", "/sbin" }, { "usr/lib", "/lib" },
		{ "usr/lib64", "/lib64" }
	};
	for (size_t i = 0; i < 4; i++) {
		if (lstat(links[i][1], &st) == 0 && S_ISLNK(st.st_mode)) {
			bwrap_argv[k++] = "--symlink";
			bwrap_argv[k++] = (char *)links[i][0];
			bwrap_argv[k++] = (char *)links[i][1];
		} else if (lstat(links[i][1], &st) == 0) {
			bwrap_argv[k++] = "--ro-bind";
			bwrap_argv[k++] = (char *)links[i][1];
			bwrap_argv[k++] = (char *)links[i][1];
		}
	}
	bwrap_argv[k++] = "--proc"; bwrap_argv[k++] = "/proc";
	bwrap_argv[k++] = "--dev"; bwrap_argv[k++] = "/dev";
	bwrap_argv[k++] = "--tmpfs"; bwrap_argv[k++] = "/tmp";
	bwrap_argv[k++] = "/bin/true";
	bwrap_argv[k] = NULL;
	char *true_argv[] = { "/bin/true", NULL };

	/* Warm up (and check that all three work). */
	if (run_ours() != 0 || spawn_wait(bwrap, bwrap_argv) != 0 ||
	    spawn_wait("/bin/true", true_argv) != 0) {
		fprintf(stderr, "bench_sandbox: a warm-up run failed\n");
		return 1;
	}

	uint64_t *ours = calloc(runs, sizeof *ours);
	uint64_t *bw = calloc(runs, sizeof *bw);
	uint64_t *plain = calloc(runs, sizeof *plain);
	if (!ours || !bw || !plain)
		return 1;
	for (size_t i = 0; i < runs; i++) {
		uint64_t t0 = now_ns();
		if (run_ours() != 0)
			return 1;
		uint64_t t1 = now_ns();
		if (spawn_wait(bwrap, bwrap_argv) != 0)
			return 1;
		uint64_t t2 = now_ns();
		if (spawn_wait("/bin/true", true_argv) != 0)
			return 1;
		uint64_t t3 = now_ns();
		ours[i] = t1 - t0;
		bw[i] = t2 - t1;
		plain[i] = t3 - t2;
	}
	double o50 = pct(ours, runs, 0.5), o90 = pct(ours, runs, 0.9);
	double b50 = pct(bw, runs, 0.5), b90 = pct(bw, runs, 0.9);
	double p50 = pct(plain, runs, 0.5), p90 = pct(plain, runs, 0.9);
	printf("runs: %zu (interleaved)\n", runs);
	printf("%-28s p50 %7.3f ms  p90 %7.3f ms\n", "cog_sandbox_run /bin/true", o50, o90);
	printf("%-28s p50 %7.3f ms  p90 %7.3f ms\n", "bwrap --unshare-all", b50, b90);
	printf("%-28s p50 %7.3f ms  p90 %7.3f ms\n", "posix_spawn /bin/true", p50, p90);
	printf("ratio ours/bwrap       %.2f (goal <= 0.50)\n", o50 / b50);
	printf("ratio ours/posix_spawn %.2f (goal <= 3.00)\n", o50 / p50);

	/* What each namespace costs: clone with the flag, the child exits. */
	static const struct { const char *name; int flags; } ns[] = {
		{ "fork (no namespace)", 0 },
		{ "user", CLONE_NEWUSER },
		{ "user+pid", CLONE_NEWUSER | CLONE_NEWPID },
		{ "user+mount", CLONE_NEWUSER | CLONE_NEWNS },
		{ "user+ipc", CLONE_NEWUSER | CLONE_NEWIPC },
		{ "user+uts", CLONE_NEWUSER | CLONE_NEWUTS },
		{ "user+net", CLONE_NEWUSER | CLONE_NEWNET },
		{ "all six", CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC |
		             CLONE_NEWUTS | CLONE_NEWNET },
	};
	size_t ns_runs = runs < 200 ? runs : 200;
	printf("namespace cost (clone + exit + wait, p50 of %zu):\n", ns_runs);
	for (size_t n = 0; n < sizeof ns / sizeof ns[0]; n++) {
		for (size_t i = 0; i < ns_runs; i++) {
			uint64_t t0 = now_ns();
			if (clone_wait(ns[n].flags) != 0) {
				printf("  %-22s unavailable: %s\n", ns[n].name, strerror(errno));
				goto next;
			}
			plain[i] = now_ns() - t0;
		}
		printf("  %-22s %7.3f ms\n", ns[n].name, pct(plain, ns_runs, 0.5));
	next:;
	}
	free(ours);
	free(bw);
	free(plain);
	int ok = o50 <= 0.5 * b50 && o50 <= 3.0 * p50;
	printf("%s\n", ok ? "goal met" : "goal NOT met");
	return ok ? 0 : 3;
}
