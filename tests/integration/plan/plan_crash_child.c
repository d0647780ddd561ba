/*
 * The process the crash test (test_plan_crash.c) kills: it continues plan
 * "crash" from the SQLite file, or starts it from the plan file when the
 * storage has none yet, and runs it with 4 workers. Its tasks leave a trace
 * in DIR/<task id>: non-idempotent tasks ("n...") append one line and
 * fsync, idempotent ones ("i...") rewrite the file.
 *
 *   plan_crash_child DB DIR PLAN_FILE
 *
 * With COG_CRASH_NOTIFY_FD=n it writes one byte to fd n when the first
 * task starts (the parent times some kills from there).
 *
 * Exit status: 0 the plan succeeded, 3 tasks are uncertain, 1 otherwise.
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cognition.h>
#include <cognition/sqlite.h>

static const char *dir;
static int notify_fd = -1;       /* COG_CRASH_NOTIFY_FD: told when tasks run */
static atomic_flag notified = ATOMIC_FLAG_INIT;

static int trace_executor(cog_task_call *call, void *ud)
{
	(void)ud;
	if (notify_fd >= 0 && !atomic_flag_test_and_set(&notified)) {
		if (write(notify_fd, "r", 1) != 1)
			return cog_error_set(COG_EIO, "cannot notify the parent");
	}
	const char *id = cog_task_call_task_id(call);
	char path[1024], line[512];
	snprintf(path, sizeof(path), "%s/%s", dir, id);
	int n = snprintf(line, sizeof(line), "%s\n", cog_task_call_idempotency_key(call));
	unsigned int seed = (unsigned int)(time(NULL) ^ getpid() ^ (long)id[1] << 8);
	/* Some work before the effect and some after it; idempotent tasks
	 * take longer, so that not every kill leaves an uncertain task that
	 * blocks what depends on it. */
	unsigned int scale = id[0] == 'n' ? 1 : 10;
	usleep((useconds_t)(rand_r(&seed) % (400 * scale)));
	int flags = O_WRONLY | O_CREAT | (id[0] == 'n' ? O_APPEND : O_TRUNC);
	int fd = open(path, flags, 0644);
	if (fd < 0 || write(fd, line, (size_t)n) != n || fsync(fd) != 0) {
		if (fd >= 0)
			close(fd);
		return cog_error_set(COG_EIO, "cannot write %s", path);
	}
	close(fd);
	usleep((useconds_t)(rand_r(&seed) % (200 * scale)));
	return cog_task_call_set_result(call, "{\"ok\":true}");
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *text = malloc((size_t)len + 1);
	if (text && fread(text, 1, (size_t)len, f) != (size_t)len) {
		free(text);
		text = NULL;
	}
	if (text)
		text[len] = '\0';
	fclose(f);
	return text;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s DB DIR PLAN_FILE\n", argv[0]);
		return 1;
	}
	dir = argv[2];
	const char *fd = getenv("COG_CRASH_NOTIFY_FD");
	if (fd)
		notify_fd = atoi(fd);
	cog_ctx *ctx = NULL;
	cog_storage *st = NULL;
	cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
	so.durability = COG_SQLITE_DURABLE_NORMAL; /* survives a killed process */
	if (cog_ctx_new(&ctx, NULL) || cog_sqlite_storage_open(&st, argv[1], &so) ||
	    cog_ctx_set_storage(ctx, st) ||
	    cog_ctx_set_task_executor(ctx, trace_executor, NULL)) {
		fprintf(stderr, "plan_crash_child: %s\n", cog_error_last());
		return 1;
	}
	cog_plan *plan = NULL;
	int rc = cog_plan_resume(&plan, ctx, "crash");
	if (rc == COG_ENOTFOUND) {
		char *json = read_file(argv[3]);
		rc = json ? cog_plan_from_json(&plan, ctx, json) : COG_EIO;
		free(json);
	}
	if (!rc) {
		cog_run_options o = COG_RUN_OPTIONS_INIT;
		o.workers = 4;
		rc = cog_plan_run(plan, &o);
	}
	if (rc && rc != COG_EUNCERTAIN)
		fprintf(stderr, "plan_crash_child: %d %s\n", rc, cog_error_last());
	cog_plan_free(plan);
	cog_ctx_free(ctx);
	return rc == 0 ? 0 : rc == COG_EUNCERTAIN ? 3 : 1;
}
