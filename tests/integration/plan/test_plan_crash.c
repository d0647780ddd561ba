/*
 * The crash test: a child process (plan_crash_child) runs a 200-task plan
 * on a SQLite file; this process kills it with SIGKILL at random moments,
 * 100 times, starting it again (it resumes) each time. Then the plan is
 * finished here, every uncertain task decided "skip", and the traces are
 * checked: each non-idempotent task appended its line exactly once, or it
 * was uncertain and appended it at most once; no task is lost.
 *
 *   test_plan_crash PATH_OF_plan_crash_child
 * COG_CRASH_SEED=n repeats a run (the seed is printed).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plan_test.h"

#define TASKS 200
#define KILLS 100
#define MAX_DELAY_US 6000

static const char *child_path;
static char task_ids[TASKS][16];
static const char *files_dir;

/* A random DAG in 5 layers of 40: a task depends on 0 to 2 random tasks of
 * the layer before. Shallow, so that an uncertain task (which nothing
 * decides until the end) holds back only a part of the plan, and most
 * kills land in running tasks rather than in a stalled plan. */
static void write_plan(const char *path, unsigned int *seed)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "{\"id\":\"crash\",\"goal\":\"survive kill -9\",\"tasks\":[");
	const int width = TASKS / 5;
	for (int i = 0; i < TASKS; i++) {
		bool idempotent = rand_r(seed) % 10 < 4;
		snprintf(task_ids[i], sizeof(task_ids[i]), "%c%03d", idempotent ? 'i' : 'n', i);
		fprintf(f, "%s{\"id\":\"%s\",\"idempotent\":%s,\"depends_on\":[", i ? "," : "",
			task_ids[i], idempotent ? "true" : "false");
		int layer = i / width;
		int deps = layer ? (int)(rand_r(seed) % 3) : 0, first_dep = -1;
		for (int k = 0; k < deps; k++) {
			int d = (layer - 1) * width + (int)(rand_r(seed) % (unsigned int)width);
			if (d == first_dep)
				continue;
			fprintf(f, "%s\"%s\"", k ? "," : "", task_ids[d]);
			first_dep = d;
		}
		fprintf(f, "]}");
	}
	fprintf(f, "]}");
	ck_assert_int_eq(fclose(f), 0);
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * Start the child and kill it: with `from_start`, after delay_us from the
 * launch (it may be opening the file, replaying the journal, or running);
 * otherwise delay_us after its first task started (if it has work). Returns
 * 1 if it was killed, 0 if it exited by itself (*status: its exit status).
 * *startup_us gets the time from launch to its first task (0: none).
 */
static int run_child(const char *db, const char *plan_file, bool from_start, long delay_us,
                     int *status, long *startup_us)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	unsigned long long t0 = now_ns();
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		if (dup2(fds[1], 3) != 3)
			_exit(126);
		setenv("COG_CRASH_NOTIFY_FD", "3", 1);
		execl(child_path, child_path, db, files_dir, plan_file, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	*startup_us = 0;
	if (from_start) {
		sleep_us(delay_us);
	} else {
		struct pollfd p = { fds[0], POLLIN, 0 };
		char byte;
		if (poll(&p, 1, 60000) == 1 && read(fds[0], &byte, 1) == 1) {
			*startup_us = (long)((now_ns() - t0) / 1000);
			sleep_us(delay_us);
		}
	}
	kill(pid, SIGKILL);
	close(fds[0]);
	int ws = 0;
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	if (WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL)
		return 1;
	ck_assert_msg(WIFEXITED(ws), "child status %d", ws);
	*status = WEXITSTATUS(ws);
	ck_assert_msg(*status == 0 || *status == 3, "child exited with %d", *status);
	return 0;
}

/* How many tasks have left a trace so far. */
static int traces(void)
{
	int n = 0;
	char path[1024];
	for (int i = 0; i < TASKS; i++) {
		snprintf(path, sizeof(path), "%.900s/%.15s", files_dir, task_ids[i]);
		n += access(path, F_OK) == 0;
	}
	return n;
}

/* Same traces as plan_crash_child, for finishing the plan here. */
static int trace_executor(cog_task_call *call, void *ud)
{
	(void)ud;
	const char *id = cog_task_call_task_id(call);
	char path[1024], line[512];
	snprintf(path, sizeof(path), "%s/%s", files_dir, id);
	int n = snprintf(line, sizeof(line), "%s\n", cog_task_call_idempotency_key(call));
	int fd = open(path, O_WRONLY | O_CREAT | (id[0] == 'n' ? O_APPEND : O_TRUNC), 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, line, (size_t)n), n);
	close(fd);
	return cog_task_call_set_result(call, "{\"ok\":true}");
}

/* Lines in the task's trace file, and the first one. */
static int trace_lines(const char *id, char *first, size_t cap)
{
	char path[1024];
	snprintf(path, sizeof(path), "%.900s/%.15s", files_dir, id);
	FILE *f = fopen(path, "r");
	first[0] = '\0';
	if (!f)
		return 0;
	int lines = 0;
	char buf[512];
	while (fgets(buf, sizeof(buf), f)) {
		if (!lines)
			snprintf(first, cap, "%s", buf);
		lines++;
	}
	fclose(f);
	return lines;
}

START_TEST(kill_and_resume)
{
	const char *env = getenv("COG_CRASH_SEED");
	unsigned int seed = env ? (unsigned int)strtoul(env, NULL, 10) :
		(unsigned int)time(NULL) ^ (unsigned int)getpid();
	fprintf(stderr, "crash test: COG_CRASH_SEED=%u\n", seed);
	tmp_dir_make("cogplan");
	char db[512], plan_file[512], dir[512];
	snprintf(db, sizeof(db), "%s", tmp_file("crash.db"));
	snprintf(plan_file, sizeof(plan_file), "%s", tmp_file("plan.json"));
	snprintf(dir, sizeof(dir), "%s", tmp_file("traces"));
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	files_dir = dir;
	write_plan(plan_file, &seed);

	unsigned long long t0 = now_ns();
	int kills = 0, kills_mid_plan = 0, launches = 0, exits = 0, status = 0;
	/* One kill in four at any moment from the launch (opening, replaying,
	 * settling, running); the others while tasks run. Timed from the
	 * child's own start-up, so slow builds (sanitizers) kill alike. */
	long startup_us = 20000;
	int kills_at_start = 0;
	while (kills < KILLS) {
		ck_assert_int_lt(launches, 20 * KILLS);
		bool from_start = rand_r(&seed) % 4 == 0;
		long delay = from_start ? (long)(rand_r(&seed) % (unsigned long)(startup_us + 1)) :
			(long)(rand_r(&seed) % MAX_DELAY_US);
		long took = 0;
		launches++;
		if (run_child(db, plan_file, from_start, delay, &status, &took)) {
			kills++;
			kills_at_start += from_start;
			if (traces() < TASKS)
				kills_mid_plan++;
		} else {
			exits++;
		}
		if (took)
			startup_us = (startup_us * 3 + took) / 4;
	}
	double kill_s = (double)(now_ns() - t0) / 1e9;
	int traced_after_kills = traces();

	/* Finish here: decide "skip" for whatever is uncertain. */
	cog_ctx *ctx = ctx_with_sqlite(db, false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, trace_executor, NULL));
	cog_plan *plan = NULL;
	int rc = cog_plan_resume(&plan, ctx, "crash");
	if (rc == COG_ENOTFOUND) { /* every child died before the first snapshot */
		long took = 0;
		ck_assert_int_eq(run_child(db, plan_file, true, 60 * 1000000L, &status, &took), 0);
		rc = cog_plan_resume(&plan, ctx, "crash");
	}
	ck_assert_msg(rc == 0, "resume: %d %s", rc, cog_error_last());
	bool decided[TASKS] = { false };
	int uncertain = 0, rounds = 0;
	for (;;) {
		rc = cog_plan_run(plan, NULL);
		if (rc != COG_EUNCERTAIN)
			break;
		ck_assert_int_lt(++rounds, 50);
		for (int i = 0; i < TASKS; i++) {
			if (strcmp(task_state(plan, task_ids[i]), "uncertain") == 0) {
				ck_assert_cog(cog_plan_decide(plan, task_ids[i], COG_DECIDE_SKIP));
				decided[i] = true;
				uncertain++;
			}
		}
	}
	ck_assert_msg(rc == 0, "final run: %d %s", rc, cog_error_last());

	int zero_line = 0, one_line = 0, idempotent_reruns = 0;
	for (int i = 0; i < TASKS; i++) {
		const char *id = task_ids[i];
		/* no task lost */
		ck_assert_msg(strcmp(task_state(plan, id), "succeeded") == 0, "task %s is %s", id,
			task_state(plan, id));
		char first[512], key[64];
		int lines = trace_lines(id, first, sizeof(first));
		if (id[0] == 'i') {
			ck_assert_msg(lines == 1, "idempotent task %s has %d lines", id, lines);
			idempotent_reruns += task_attempts(plan, id) > 1;
			continue;
		}
		ck_assert_msg(lines <= 1, "non-idempotent task %s ran %d times", id, lines);
		if (decided[i]) {
			zero_line += lines == 0;
			one_line += lines == 1;
			continue;
		}
		ck_assert_msg(lines == 1, "non-idempotent task %s has %d lines", id, lines);
		/* it ran once, as its first attempt */
		snprintf(key, sizeof(key), "crash/%.15s/1\n", id);
		ck_assert_str_eq(first, key);
		ck_assert_int_eq(task_attempts(plan, id), 1);
	}
	double total_s = (double)(now_ns() - t0) / 1e9;
	fprintf(stderr, "crash test: %d tasks, %d kills (SIGKILL; %d timed from the launch, "
		"%d from the first task; %d before every task had left a trace; start-up about "
		"%ld us), %d launches (%d resumes, %d ran to the end), %d tasks had not run "
		"when the kills stopped, %d uncertain decided skip (%d had run: 1 line, %d had "
		"not: 0 lines), %d idempotent tasks re-run after a kill, kill phase %.2f s, total "
		"%.2f s\n", TASKS, kills, kills_at_start, kills - kills_at_start, kills_mid_plan,
		startup_us, launches, launches - 1, exits,
		TASKS - traced_after_kills, uncertain, one_line, zero_line, idempotent_reruns,
		kill_s, total_s);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
	tmp_dir_remove();
}
END_TEST

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH_OF_plan_crash_child\n", argv[0]);
		return EXIT_FAILURE;
	}
	child_path = argv[1];
	Suite *s = suite_create("plan-crash");
	TCase *tc = tcase_create("crash");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, kill_and_resume);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
