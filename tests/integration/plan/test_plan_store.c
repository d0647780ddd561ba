/*
 * Plans in the storage outside a run, on real SQLite files: the owner lease
 * (two processes never run one plan; a lease left by a killed or reused
 * process is taken over; one from another host is refused with a way
 * out), copies behind the journal, the final snapshot, reading a plan to
 * look at it (cog_plan_load) and storing one without running it
 * (cog_plan_save).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plan_test.h"

static atomic_int calls;

static int count_executor(cog_task_call *call, void *ud)
{
	(void)ud;
	atomic_fetch_add(&calls, 1);
	return cog_task_call_set_result(call, "\"done\"");
}

static char hostname[256];

static const char *host(void)
{
	if (!hostname[0])
		ck_assert_int_eq(gethostname(hostname, sizeof(hostname) - 1), 0);
	return hostname;
}

/* Field 22 of /proc/<pid>/stat. */
static unsigned long long start_time_of(pid_t pid)
{
	char path[64], line[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	char *p = strrchr(line, ')') + 2;
	for (int field = 3; field < 22; field++)
		p = strchr(p, ' ') + 1;
	return strtoull(p, NULL, 10);
}

static void put_lease(cog_ctx *ctx, const char *plan_id, const char *lease_host, pid_t pid,
                      unsigned long long start_time)
{
	char json[512];
	snprintf(json, sizeof(json), "{\"host\":\"%s\",\"pid\":%d,\"start_time\":%llu,"
		"\"acquired_ms\":1}", lease_host, (int)pid, start_time);
	ck_assert_cog(cog_storage_put(cog_ctx_storage(ctx), "plans.lease", plan_id, json, 0));
}

static bool has_lease(cog_ctx *ctx, const char *plan_id, long *pid)
{
	char *json = NULL;
	int rc = cog_storage_get(cog_ctx_storage(ctx), "plans.lease", plan_id, &json);
	if (rc == COG_ENOTFOUND)
		return false;
	ck_assert_cog(rc);
	cJSON *o = cJSON_Parse(json);
	cog_free(json);
	if (pid)
		*pid = (long)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "pid"));
	cJSON_Delete(o);
	return true;
}

static const char two_tasks[] = "{\"id\":\"%s\",\"tasks\":[{\"id\":\"a\"},"
	"{\"id\":\"b\",\"depends_on\":[\"a\"]}]}";

static cog_plan *two_task_plan(cog_ctx *ctx, const char *id)
{
	char json[256];
	snprintf(json, sizeof(json), two_tasks, id);
	return plan_from(ctx, json);
}

/* ---- the lease ---- */

START_TEST(lease_held_and_dropped)
{
	cog_ctx *ctx = ctx_with_sqlite(tmp_file("l.db"), false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, count_executor, NULL));

	/* a live process elsewhere on this host (the test runner) holds it */
	pid_t parent = getppid();
	put_lease(ctx, "lh", host(), parent, start_time_of(parent));
	cog_plan *plan = two_task_plan(ctx, "lh");
	atomic_store(&calls, 0);
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_EBUSY);
	char want[512];
	snprintf(want, sizeof(want), "cog_plan_run: plan lh is being run by pid %d on host %s",
		(int)parent, host());
	ck_assert_str_eq(cog_error_last(), want);
	ck_assert_int_eq(atomic_load(&calls), 0);
	ck_assert_str_eq(task_state(plan, "a"), "pending");
	/* nothing was written: the plan is not in the storage */
	cog_plan *other = NULL;
	ck_assert_int_eq(cog_plan_resume(&other, ctx, "lh"), COG_ENOTFOUND);

	/* this process */
	put_lease(ctx, "lh", host(), getpid(), start_time_of(getpid()));
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_EBUSY);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "(this process)"));

	/* the same pid, but a process started at another time: it is gone */
	put_lease(ctx, "lh", host(), parent, start_time_of(parent) + 1);
	ck_assert_cog(cog_plan_run(plan, NULL));
	ck_assert_int_eq(atomic_load(&calls), 2);
	ck_assert(!has_lease(ctx, "lh", NULL)); /* dropped when the run returned */
	cog_plan_free(plan);

	/* a damaged lease is replaced */
	plan = two_task_plan(ctx, "ld");
	ck_assert_cog(cog_storage_put(cog_ctx_storage(ctx), "plans.lease", "ld", "[1]", 0));
	ck_assert_cog(cog_plan_run(plan, NULL));
	ck_assert(!has_lease(ctx, "ld", NULL));
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(lease_other_host)
{
	cog_ctx *ctx = ctx_with_sqlite(tmp_file("h.db"), false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, count_executor, NULL));
	cog_plan *plan = two_task_plan(ctx, "oh");
	ck_assert_cog(cog_plan_save(plan));
	put_lease(ctx, "oh", "elsewhere.example", 1, 5);
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_EBUSY);
	ck_assert_str_eq(cog_error_last(), "cog_plan_run: plan oh is being run by pid 1 on host "
		"elsewhere.example, which this process cannot check; if that process is gone, "
		"delete its lease (key \"oh\" in collection \"plans.lease\" of the storage, e.g. "
		"cog_storage_delete(storage, \"plans.lease\", \"oh\")) and try again");
	/* decisions and saves wait for it too */
	ck_assert_int_eq(cog_plan_save(plan), COG_EBUSY);
	/* the way out */
	ck_assert_cog(cog_storage_delete(cog_ctx_storage(ctx), "plans.lease", "oh"));
	atomic_store(&calls, 0);
	ck_assert_cog(cog_plan_run(plan, NULL));
	ck_assert_int_eq(atomic_load(&calls), 2);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- two processes, one plan ---- */

static const char *trace_dir;

/* Each task appends a line to its file, slowly: the runs overlap. */
static int slow_trace(cog_task_call *call, void *ud)
{
	(void)ud;
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", trace_dir, cog_task_call_task_id(call));
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0 || write(fd, "x\n", 2) != 2 || fsync(fd) != 0) {
		if (fd >= 0)
			close(fd);
		return cog_error_set(COG_EIO, "cannot write %s", path);
	}
	close(fd);
	usleep(100 * 1000);
	return cog_task_call_set_result(call, "1");
}

static const char race_plan[] = "{\"id\":\"race\",\"tasks\":[{\"id\":\"r1\"},"
	"{\"id\":\"r2\",\"depends_on\":[\"r1\"]},{\"id\":\"r3\",\"depends_on\":[\"r2\"]},"
	"{\"id\":\"r4\",\"depends_on\":[\"r3\"]}]}";

/* Exit status: 0 ran the plan, 10 COG_EBUSY with a message that names the
 * holder or the newer journal, 11 COG_EBUSY with another message, 20 + -rc
 * otherwise. */
static void race_child(const char *db, int go, bool fresh)
{
	cog_ctx *ctx = NULL;
	cog_storage *st = NULL;
	cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
	so.durability = COG_SQLITE_DURABLE_NORMAL;
	if (cog_ctx_new(&ctx, NULL) || cog_sqlite_storage_open(&st, db, &so) ||
	    cog_ctx_set_storage(ctx, st) || cog_ctx_set_task_executor(ctx, slow_trace, NULL)) {
		fprintf(stderr, "race child: %s\n", cog_error_last());
		_exit(2);
	}
	char byte;
	if (read(go, &byte, 1) != 1)
		_exit(3);
	cog_plan *plan = NULL;
	int rc = fresh ? cog_plan_from_json(&plan, ctx, race_plan) :
		cog_plan_resume(&plan, ctx, "race");
	if (!rc)
		rc = cog_plan_run(plan, NULL);
	int status = rc == 0 ? 0 : 20 - rc;
	if (rc == COG_EBUSY) {
		const char *e = cog_error_last();
		status = strstr(e, "plan race is being run by pid ") ||
			strstr(e, "plan race was changed in the storage since this copy was read")
			? 10 : 11;
		if (status == 11)
			fprintf(stderr, "race child: %s\n", e);
	}
	cog_plan_free(plan);
	cog_ctx_free(ctx);
	_exit(status);
}

static int lines_in(const char *name)
{
	char path[600], buf[64];
	snprintf(path, sizeof(path), "%s/%s", trace_dir, name);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	int n = 0;
	while (fgets(buf, sizeof(buf), f))
		n++;
	fclose(f);
	return n;
}

static void race(bool fresh)
{
	char db[512], dir[512];
	snprintf(db, sizeof(db), "%s", tmp_file("race.db"));
	snprintf(dir, sizeof(dir), "%s", tmp_file("traces"));
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	trace_dir = dir;
	/* The file exists before the children open it. With `fresh` each
	 * child builds the plan itself; else it is stored before, and run by
	 * whoever comes. */
	cog_ctx *setup_ctx = ctx_with_sqlite(db, false, NULL, NULL);
	if (!fresh) {
		cog_plan *plan = plan_from(setup_ctx, race_plan);
		ck_assert_cog(cog_plan_save(plan));
		cog_plan_free(plan);
	}
	cog_ctx_free(setup_ctx);
	int go[2];
	ck_assert_int_eq(pipe(go), 0);
	pid_t pids[2];
	for (int k = 0; k < 2; k++) {
		pids[k] = fork();
		ck_assert_int_ge(pids[k], 0);
		if (pids[k] == 0) {
			close(go[1]);
			race_child(db, go[0], fresh);
		}
	}
	close(go[0]);
	ck_assert_int_eq(write(go[1], "gg", 2), 2);
	close(go[1]);

	/* Meanwhile, a look from here disturbs nothing: once the second task
	 * has started, the plan is stored and a task is running. */
	char r2[600];
	snprintf(r2, sizeof(r2), "%s/r2", dir);
	for (int i = 0; i < 500 && access(r2, F_OK) != 0; i++)
		usleep(10 * 1000);
	cog_ctx *ro = ctx_with_sqlite(NULL, false, NULL, NULL);
	cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
	so.read_only = 1;
	cog_storage *ro_st = NULL;
	ck_assert_cog(cog_sqlite_storage_open(&ro_st, db, &so));
	ck_assert_cog(cog_ctx_set_storage(ro, ro_st));
	cog_plan *seen = NULL;
	ck_assert_cog(cog_plan_load(&seen, ro, "race"));
	cJSON *st = plan_status(seen);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(st, "state")), "running");
	cJSON_Delete(st);
	cog_plan_free(seen);
	cog_ctx_free(ro);

	int codes[2];
	for (int k = 0; k < 2; k++) {
		int ws = 0;
		ck_assert_int_eq(waitpid(pids[k], &ws, 0), pids[k]);
		ck_assert_msg(WIFEXITED(ws), "child %d: status %d", k, ws);
		codes[k] = WEXITSTATUS(ws);
	}
	ck_assert_msg((codes[0] == 0 && codes[1] == 10) || (codes[0] == 10 && codes[1] == 0),
		"exit codes %d and %d: one run, one COG_EBUSY expected", codes[0], codes[1]);
	static const char *const ids[] = { "r1", "r2", "r3", "r4" };
	for (int i = 0; i < 4; i++)
		ck_assert_msg(lines_in(ids[i]) == 1, "task %s ran %d times", ids[i],
			lines_in(ids[i]));

	cog_ctx *ctx = ctx_with_sqlite(db, false, NULL, NULL);
	ck_assert(!has_lease(ctx, "race", NULL));
	cog_plan *plan = NULL;
	ck_assert_cog(cog_plan_resume(&plan, ctx, "race"));
	for (int i = 0; i < 4; i++) {
		ck_assert_str_eq(task_state(plan, ids[i]), "succeeded");
		ck_assert_int_eq(task_attempts(plan, ids[i]), 1);
	}
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}

START_TEST(two_processes_saved_plan)
{
	race(false);
}
END_TEST

START_TEST(two_processes_fresh_plan)
{
	race(true);
}
END_TEST

/* ---- a lease left behind ---- */

static int notify_fd = -1;
static bool exit_in_task;

/* Tells the parent a task runs, then dies there or waits to be killed. */
static int stuck_executor(cog_task_call *call, void *ud)
{
	(void)call;
	(void)ud;
	if (write(notify_fd, "s", 1) != 1)
		_exit(4);
	if (exit_in_task)
		_exit(0);
	for (;;)
		usleep(10000);
}

static const char stuck_plan[] = "{\"id\":\"stuck\",\"tasks\":["
	"{\"id\":\"s1\",\"idempotent\":true},{\"id\":\"s2\",\"idempotent\":true,"
	"\"depends_on\":[\"s1\"]}]}";

/* A child that runs the plan and stops in its first task: killed with
 * SIGKILL, or exiting (left unreaped: a zombie) with `exit`. */
static pid_t start_stuck_child(const char *db, bool exit)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		notify_fd = fds[1];
		exit_in_task = exit;
		cog_ctx *ctx = NULL;
		cog_storage *st = NULL;
		cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
		cog_plan *plan = NULL;
		if (cog_ctx_new(&ctx, NULL) || cog_sqlite_storage_open(&st, db, &so) ||
		    cog_ctx_set_storage(ctx, st) ||
		    cog_ctx_set_task_executor(ctx, stuck_executor, NULL) ||
		    cog_plan_from_json(&plan, ctx, stuck_plan))
			_exit(2);
		cog_plan_run(plan, NULL);
		_exit(3);
	}
	close(fds[1]);
	char byte;
	ck_assert_int_eq(read(fds[0], &byte, 1), 1);
	close(fds[0]);
	return pid;
}

static void take_over(cog_ctx *ctx, pid_t dead)
{
	long holder = 0;
	ck_assert(has_lease(ctx, "stuck", &holder));
	ck_assert_int_eq(holder, dead);
	cog_plan *plan = NULL;
	ck_assert_cog(cog_plan_resume(&plan, ctx, "stuck"));
	ck_assert_str_eq(task_state(plan, "s1"), "pending"); /* idempotent: runs again */
	atomic_store(&calls, 0);
	ck_assert_cog(cog_plan_run(plan, NULL));
	ck_assert_int_eq(atomic_load(&calls), 2);
	ck_assert_int_eq(task_attempts(plan, "s1"), 2);
	ck_assert(!has_lease(ctx, "stuck", NULL));
	cog_plan_free(plan);
}

START_TEST(lease_of_killed_process)
{
	const char *db = tmp_file("k.db");
	pid_t pid = start_stuck_child(db, false);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	int ws = 0;
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	ck_assert(WIFSIGNALED(ws));
	cog_ctx *ctx = ctx_with_sqlite(db, false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, count_executor, NULL));
	take_over(ctx, pid);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(lease_of_zombie)
{
	const char *db = tmp_file("z.db");
	pid_t pid = start_stuck_child(db, true);
	siginfo_t info;
	memset(&info, 0, sizeof(info));
	/* Wait for it to exit, but leave it unreaped: kill(pid, 0) still
	 * succeeds on a zombie. */
	ck_assert_int_eq(waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT), 0);
	cog_ctx *ctx = ctx_with_sqlite(db, false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, count_executor, NULL));
	take_over(ctx, pid);
	cog_ctx_free(ctx);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
}
END_TEST

/* ---- copies behind the journal ---- */

START_TEST(stale_copy)
{
	cog_ctx *ctx = ctx_with_sqlite(tmp_file("s.db"), false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, count_executor, NULL));
	cog_plan *plan = two_task_plan(ctx, "st");
	ck_assert_cog(cog_plan_save(plan));
	cog_plan *first = NULL, *second = NULL;
	ck_assert_cog(cog_plan_resume(&first, ctx, "st"));
	ck_assert_cog(cog_plan_resume(&second, ctx, "st"));
	atomic_store(&calls, 0);
	ck_assert_cog(cog_plan_run(first, NULL));
	ck_assert_int_eq(atomic_load(&calls), 2);
	/* The second copy was read before that run: it must not run the tasks
	 * again, nor write from its old states. */
	ck_assert_int_eq(cog_plan_run(second, NULL), COG_EBUSY);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "cog_plan_run: plan st was changed in "
		"the storage since this copy was read"));
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_EBUSY);
	ck_assert_int_eq(cog_plan_save(plan), COG_EBUSY);
	ck_assert_int_eq(atomic_load(&calls), 2);
	/* The first copy is current, and runs (nothing left) again. */
	ck_assert_cog(cog_plan_run(first, NULL));
	ck_assert_cog(cog_plan_compact(first));
	ck_assert_int_eq(cog_plan_compact(second), COG_EBUSY);
	cog_plan_free(first);
	cog_plan_free(second);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- looking without touching ---- */

static long long count_records(cog_ctx *ctx, const char *log)
{
	size_t n = 0;
	free(log_records(cog_ctx_storage(ctx), log, &n));
	return (long long)n;
}

START_TEST(load_leaves_running_tasks)
{
	const char *db = tmp_file("v.db");
	pid_t pid = start_stuck_child(db, false);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);

	/* a read-only look: s1 was running, and stays so in the copy */
	cog_ctx *ro = ctx_with_sqlite(NULL, false, NULL, NULL);
	cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
	so.read_only = 1;
	cog_storage *ro_st = NULL;
	ck_assert_cog(cog_sqlite_storage_open(&ro_st, db, &so));
	ck_assert_cog(cog_ctx_set_storage(ro, ro_st));
	ck_assert_cog(cog_ctx_set_task_executor(ro, count_executor, NULL));
	cog_plan *plan = NULL;
	ck_assert_cog(cog_plan_load(&plan, ro, "stuck"));
	ck_assert_str_eq(task_state(plan, "s1"), "running");
	ck_assert_int_eq(task_attempts(plan, "s1"), 1);
	ck_assert_str_eq(task_state(plan, "s2"), "pending");
	cJSON *st = plan_status(plan);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(st, "state")), "running");
	cJSON_Delete(st);
	char *json = NULL;
	ck_assert_cog(cog_plan_export(plan, COG_PLAN_FORMAT_JSON, &json));
	cog_free(json);
	/* a copy to look at does nothing else */
	atomic_store(&calls, 0);
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_EDENIED);
	ck_assert_str_eq(cog_error_last(), "cog_plan_run: plan stuck was read with "
		"cog_plan_load(), to look at; continue it with cog_plan_resume()");
	ck_assert_int_eq(cog_plan_decide(plan, "s1", COG_DECIDE_RETRY), COG_EDENIED);
	ck_assert_int_eq(cog_plan_save(plan), COG_EDENIED);
	ck_assert_int_eq(cog_plan_compact(plan), COG_EDENIED);
	ck_assert_int_eq(atomic_load(&calls), 0);
	cog_plan_free(plan);
	/* a resume settles s1 without a write (it is idempotent: it runs
	 * again), so it works there too */
	ck_assert_cog(cog_plan_resume(&plan, ro, "stuck"));
	ck_assert_str_eq(task_state(plan, "s1"), "pending");
	cog_plan_free(plan);
	ck_assert_int_eq(cog_plan_load(&plan, ro, "none"), COG_ENOTFOUND);
	ck_assert_str_eq(cog_error_last(), "cog_plan_load: no plan none in the storage (none "
		"with this id was run or saved there)");
	ck_assert_int_eq(cog_plan_load(&plan, ro, "bad id"), COG_EINVAL);
	ck_assert_int_eq(cog_plan_load(NULL, ro, "stuck"), COG_EINVAL);
	cog_ctx_free(ro);

	/* on a writable storage, a load writes nothing either */
	cog_ctx *ctx = ctx_with_sqlite(db, false, NULL, NULL);
	long long before = count_records(ctx, "plan/stuck");
	ck_assert_cog(cog_plan_load(&plan, ctx, "stuck"));
	ck_assert_str_eq(task_state(plan, "s1"), "running");
	cog_plan_free(plan);
	ck_assert_int_eq(count_records(ctx, "plan/stuck"), before);
	ck_assert(has_lease(ctx, "stuck", NULL)); /* the dead run's, still there */
	cog_ctx_free(ctx);
}
END_TEST

/* ---- storing without running ---- */

START_TEST(save_then_run)
{
	cog_ctx *ctx = ctx_with_sqlite(tmp_file("sv.db"), false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, count_executor, NULL));
	cog_plan *plan = two_task_plan(ctx, "sv");
	ck_assert_cog(cog_plan_save(plan));
	ck_assert_cog(cog_plan_save(plan)); /* again: fine */
	ck_assert(!has_lease(ctx, "sv", NULL));

	/* found by a load and by a resume, all pending */
	cog_plan *seen = NULL;
	ck_assert_cog(cog_plan_load(&seen, ctx, "sv"));
	ck_assert_str_eq(task_state(seen, "b"), "pending");
	cJSON *st = plan_status(seen);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(st, "state")), "pending");
	cJSON_Delete(st);
	cog_plan_free(seen);
	char *doc = NULL;
	ck_assert_cog(cog_storage_get(cog_ctx_storage(ctx), "plans", "sv", &doc));
	cJSON *o = cJSON_Parse(doc);
	cog_free(doc);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(o, "state")), "pending");
	cJSON_Delete(o);

	/* the same plan built afresh may be saved over it: it never ran */
	cog_plan *twin = two_task_plan(ctx, "sv");
	ck_assert_cog(cog_plan_save(twin));
	cog_plan_free(twin);
	/* another plan under that id may not */
	cog_plan *other = plan_from(ctx, "{\"id\":\"sv\",\"tasks\":[{\"id\":\"z\"}]}");
	ck_assert_int_eq(cog_plan_save(other), COG_EEXISTS);
	ck_assert_int_eq(cog_plan_run(other, NULL), COG_EEXISTS);
	cog_plan_free(other);

	/* Run the saved one: normal. (The twin's save came after this
	 * object's: it reads the plan again first.) */
	ck_assert_int_eq(cog_plan_run(plan, NULL), COG_EBUSY);
	cog_plan_free(plan);
	ck_assert_cog(cog_plan_resume(&plan, ctx, "sv"));
	atomic_store(&calls, 0);
	ck_assert_cog(cog_plan_run(plan, NULL));
	ck_assert_int_eq(atomic_load(&calls), 2);
	ck_assert_cog(cog_plan_save(plan)); /* states and all, after the run */
	cog_plan_free(plan);
	ck_assert_cog(cog_plan_load(&plan, ctx, "sv"));
	ck_assert_str_eq(task_state(plan, "b"), "succeeded");
	cog_plan_free(plan);

	/* now that it ran, a fresh twin may not take the id, to save or run */
	twin = two_task_plan(ctx, "sv");
	ck_assert_int_eq(cog_plan_save(twin), COG_EEXISTS);
	ck_assert_str_eq(cog_error_last(), "cog_plan_save: plan sv already has a journal in the "
		"storage; continue it with cog_plan_resume(), or give this plan another id");
	ck_assert_int_eq(cog_plan_run(twin, NULL), COG_EEXISTS);
	cog_plan_free(twin);
	ck_assert_int_eq(atomic_load(&calls), 2);
	cog_ctx_free(ctx);
}
END_TEST

/* A fresh plan identical to a saved one that never ran continues it. */
START_TEST(save_then_run_fresh_twin)
{
	cog_ctx *ctx = ctx_with_sqlite(tmp_file("tw.db"), false, NULL, NULL);
	ck_assert_cog(cog_ctx_set_task_executor(ctx, count_executor, NULL));
	cog_plan *plan = two_task_plan(ctx, "tw");
	ck_assert_cog(cog_plan_save(plan));
	cog_plan_free(plan);
	plan = two_task_plan(ctx, "tw");
	atomic_store(&calls, 0);
	ck_assert_cog(cog_plan_run(plan, NULL));
	ck_assert_int_eq(atomic_load(&calls), 2);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

static cog_ctx *cancel_ctx;

static int cancel_after_a(cog_task_call *call, void *ud)
{
	(void)ud;
	atomic_fetch_add(&calls, 1);
	if (strcmp(cog_task_call_task_id(call), "a") == 0)
		cog_ctx_cancel(cancel_ctx);
	return cog_task_call_set_result(call, "\"a's\"");
}

/* States from a run in memory are saved, and a resume goes on from them. */
START_TEST(save_states)
{
	cog_ctx *ctx = ctx_with_sqlite(tmp_file("ss.db"), false, NULL, NULL);
	cancel_ctx = ctx;
	ck_assert_cog(cog_ctx_set_task_executor(ctx, cancel_after_a, NULL));
	cog_plan *plan = two_task_plan(ctx, "ss");
	cog_run_options o = COG_RUN_OPTIONS_INIT;
	o.durability = COG_DURABLE_OFF;
	atomic_store(&calls, 0);
	ck_assert_int_eq(cog_plan_run(plan, &o), COG_ECANCELED);
	cog_ctx_reset_cancel(ctx);
	ck_assert_cog(cog_plan_save(plan));
	cog_plan_free(plan);
	ck_assert_cog(cog_plan_resume(&plan, ctx, "ss"));
	ck_assert_str_eq(task_state(plan, "a"), "succeeded");
	char *r = task_result(plan, "a");
	ck_assert_str_eq(r, "\"a's\"");
	free(r);
	ck_assert_cog(cog_plan_run(plan, NULL));
	ck_assert_int_eq(atomic_load(&calls), 2); /* b only */
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(save_errors)
{
	cog_ctx *ctx = ctx_with_sqlite(NULL, false, NULL, NULL);
	cog_plan *plan = two_task_plan(ctx, "se");
	ck_assert_int_eq(cog_plan_save(plan), COG_EUNAVAILABLE);
	ck_assert_int_eq(cog_plan_save(NULL), COG_EINVAL);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
	ctx = ctx_with_sqlite(tmp_file("se.db"), false, NULL, NULL);
	plan = plan_from(ctx, "{\"id\":\"cy\",\"tasks\":[{\"id\":\"a\",\"depends_on\":[\"b\"]},"
		"{\"id\":\"b\",\"depends_on\":[\"a\"]}]}");
	ck_assert_int_eq(cog_plan_save(plan), COG_ECYCLE);
	cog_plan *none = NULL;
	ck_assert_int_eq(cog_plan_load(&none, ctx, "cy"), COG_ENOTFOUND);
	cog_plan_free(plan);
	cog_ctx_free(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("plan-store");
	TCase *tc = tcase_create("store");
	tcase_add_checked_fixture(tc, plan_test_setup, plan_test_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, lease_held_and_dropped);
	tcase_add_test(tc, lease_other_host);
	tcase_add_test(tc, two_processes_saved_plan);
	tcase_add_test(tc, two_processes_fresh_plan);
	tcase_add_test(tc, lease_of_killed_process);
	tcase_add_test(tc, lease_of_zombie);
	tcase_add_test(tc, stale_copy);
	tcase_add_test(tc, load_leaves_running_tasks);
	tcase_add_test(tc, save_then_run);
	tcase_add_test(tc, save_then_run_fresh_twin);
	tcase_add_test(tc, save_states);
	tcase_add_test(tc, save_errors);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
