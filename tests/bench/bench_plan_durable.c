/*
 * Durable plan runs: task transitions per second through cog_plan_run's
 * journal on libcognition-sqlite, against raw SQLite inserting the same
 * journal rows, in the same run, on the same disk.
 *
 *   bench_plan_durable [full_tasks=1000 [normal_tasks=10000 [rounds=10]]]
 *
 * libcognition's side runs plans of no-op tasks with an event-less context
 * whose storage is a SQLite file (WAL, synchronous FULL, then NORMAL): each
 * task's "started" record is durable before its executor runs and its
 * "succeeded" record before any dependant starts (a transition is one such
 * record). Two shapes: independent tasks on the calling thread (inline;
 * each commit carries one task's end and the next one's start), and the
 * same on 4 workers (threaded; workers share commits).
 *
 * The peer writes exactly the rows the run journaled (read back from the
 * log) with a prepared INSERT into a table shaped like the backend's logs
 * table, same pragmas, one row per transaction: what a hand-written
 * write-ahead journal does to make each transition durable before the next
 * step. For reference it also writes them two rows per transaction (the
 * inline run's grouping). The two sides alternate in rounds; the target
 * (ratio >= 0.8) is judged on the median of the per-round ratios.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <cognition.h>
#include <cognition/sqlite.h>

#define MAX_ROUNDS 100

static char dir[512];
static int plan_serial;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "bench_plan_durable: %s: %s\n", what, detail);
	exit(EXIT_FAILURE);
}

static int noop(cog_task_call *call, void *user_data)
{
	(void)call;
	(void)user_data;
	return 0;
}

/* ---- libcognition side ---- */

static cog_ctx *cog_open(const char *name, int durability)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cog_sqlite_options o = COG_SQLITE_OPTIONS_INIT;
	o.durability = durability;
	cog_storage *st = NULL;
	cog_ctx *ctx = NULL;
	if (cog_ctx_new(&ctx, NULL) || cog_sqlite_storage_open(&st, path, &o) ||
	    cog_ctx_set_storage(ctx, st) || cog_ctx_set_task_executor(ctx, noop, NULL))
		die("open", cog_error_last());
	return ctx;
}

typedef struct rows {
	char **text;
	size_t count;
	size_t cap;
	char log[96];
} rows;

static int collect(uint64_t seq, const char *record, size_t len, void *user_data)
{
	(void)seq;
	rows *r = user_data;
	if (strcmp(record, "{\"s\":\"snapshot\"}") == 0)
		return 0; /* the run's start, not a task transition */
	if (r->count == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 1024;
		r->text = realloc(r->text, r->cap * sizeof(*r->text));
		if (!r->text)
			die("realloc", "out of memory");
	}
	r->text[r->count] = malloc(len + 1);
	if (!r->text[r->count])
		die("malloc", "out of memory");
	memcpy(r->text[r->count], record, len + 1);
	r->count++;
	return 0;
}

static void rows_free(rows *r)
{
	for (size_t i = 0; i < r->count; i++)
		free(r->text[i]);
	free(r->text);
	memset(r, 0, sizeof(*r));
}

/* Run a fresh plan of n independent no-op tasks; returns the seconds
 * cog_plan_run took and fills `out` with the transitions it journaled. */
static double cog_run(cog_ctx *ctx, int n, unsigned int workers, rows *out)
{
	char id[64];
	snprintf(id, sizeof(id), "bench-%d", plan_serial++);
	cog_plan *plan = NULL;
	char task[64], json[128];
	snprintf(json, sizeof(json), "{\"id\":\"%s\",\"tasks\":[]}", id);
	if (cog_plan_from_json(&plan, ctx, json))
		die("cog_plan_from_json", cog_error_last());
	for (int i = 0; i < n; i++) {
		snprintf(task, sizeof(task), "{\"id\":\"t%d\"}", i);
		if (cog_plan_add_task(plan, task))
			die("cog_plan_add_task", cog_error_last());
	}
	if (cog_plan_validate(plan))
		die("cog_plan_validate", cog_error_last());
	cog_run_options o = COG_RUN_OPTIONS_INIT;
	o.durability = COG_DURABLE_ON;
	o.workers = workers;
	o.inline_max_tasks = workers == 1 ? (unsigned int)n : 1;
	double t0 = now_s();
	if (cog_plan_run(plan, &o))
		die("cog_plan_run", cog_error_last());
	double t = now_s() - t0;
	snprintf(out->log, sizeof(out->log), "plan/%s", id);
	if (cog_storage_read(cog_ctx_storage(ctx), out->log, 0, 0, collect, out))
		die("cog_storage_read", cog_error_last());
	if (out->count != (size_t)n * 2)
		die("journal", "unexpected number of records");
	cog_plan_free(plan);
	return t;
}

/* ---- raw SQLite side ---- */

typedef struct raw_db {
	sqlite3 *db;
	sqlite3_stmt *insert;
	sqlite3_stmt *begin;
	sqlite3_stmt *commit;
	long long seq;
} raw_db;

static void raw_exec(raw_db *r, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(r->db, sql, NULL, NULL, &err) != SQLITE_OK)
		die(sql, err ? err : sqlite3_errmsg(r->db));
}

static sqlite3_stmt *raw_prepare(raw_db *r, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
		die("prepare", sqlite3_errmsg(r->db));
	return st;
}

/* The logs table and pragmas of libcognition-sqlite, written by hand. */
static raw_db raw_open(const char *name, int durability)
{
	char path[600];
	raw_db r;
	memset(&r, 0, sizeof(r));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (sqlite3_open_v2(path, &r.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		die(path, r.db ? sqlite3_errmsg(r.db) : "cannot open");
	sqlite3_busy_timeout(r.db, 5000);
	raw_exec(&r, "PRAGMA journal_mode = WAL");
	raw_exec(&r, durability == COG_SQLITE_DURABLE_NORMAL ?
		"PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL");
	raw_exec(&r, "CREATE TABLE logs (log TEXT NOT NULL, seq INTEGER NOT NULL,"
		" record TEXT NOT NULL, PRIMARY KEY (log, seq))");
	r.insert = raw_prepare(&r, "INSERT INTO logs (log, seq, record) VALUES (?1, ?2, ?3)");
	r.begin = raw_prepare(&r, "BEGIN IMMEDIATE");
	r.commit = raw_prepare(&r, "COMMIT");
	return r;
}

static void raw_step(raw_db *r, sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		die("raw step", sqlite3_errmsg(r->db));
	sqlite3_reset(st);
}

/* The rows, `per_commit` to a transaction (1: autocommit). */
static double raw_write(raw_db *r, const rows *rw, int per_commit)
{
	double t0 = now_s();
	for (size_t i = 0; i < rw->count; i += (size_t)per_commit) {
		if (per_commit > 1)
			raw_step(r, r->begin);
		for (size_t k = i; k < i + (size_t)per_commit && k < rw->count; k++) {
			sqlite3_bind_text(r->insert, 1, rw->log, -1, SQLITE_STATIC);
			sqlite3_bind_int64(r->insert, 2, ++r->seq);
			sqlite3_bind_text(r->insert, 3, rw->text[k], -1, SQLITE_STATIC);
			raw_step(r, r->insert);
		}
		if (per_commit > 1)
			raw_step(r, r->commit);
	}
	return now_s() - t0;
}

static void raw_close(raw_db *r)
{
	sqlite3_finalize(r->insert);
	sqlite3_finalize(r->begin);
	sqlite3_finalize(r->commit);
	sqlite3_close(r->db);
}

/* ---- the runs ---- */

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), compare_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void bench(int durability, int tasks, int rounds, unsigned int workers)
{
	const char *level = durability == COG_SQLITE_DURABLE_NORMAL ? "normal" : "full";
	char cog_name[64], raw_name[64], raw2_name[64];
	snprintf(cog_name, sizeof(cog_name), "%s-%u-cog.db", level, workers);
	snprintf(raw_name, sizeof(raw_name), "%s-%u-raw.db", level, workers);
	snprintf(raw2_name, sizeof(raw2_name), "%s-%u-raw2.db", level, workers);
	cog_ctx *ctx = cog_open(cog_name, durability);
	raw_db raw = raw_open(raw_name, durability), raw2 = raw_open(raw2_name, durability);
	int per_round = tasks / rounds > 0 ? tasks / rounds : 1;
	double cog_t = 0, raw_t = 0, raw2_t = 0, ratios[MAX_ROUNDS];
	size_t transitions = 0;

	/* Warm-up, outside the measurement. */
	rows warm;
	memset(&warm, 0, sizeof(warm));
	cog_run(ctx, per_round / 10 + 1, workers, &warm);
	raw_write(&raw, &warm, 1);
	raw_write(&raw2, &warm, 2);
	rows_free(&warm);

	for (int round = 0; round < rounds; round++) {
		rows rw;
		memset(&rw, 0, sizeof(rw));
		double c, w, w2;
		/* The raw side needs the rows first; alternate who goes first
		 * with a spare run so that drifts of the disk hit both alike. */
		if (round % 2 == 0) {
			c = cog_run(ctx, per_round, workers, &rw);
			w = raw_write(&raw, &rw, 1);
		} else {
			rows pre;
			memset(&pre, 0, sizeof(pre));
			cog_run(ctx, per_round, workers, &pre); /* rows for this round */
			w = raw_write(&raw, &pre, 1);
			c = cog_run(ctx, per_round, workers, &rw);
			rows_free(&pre);
		}
		w2 = raw_write(&raw2, &rw, 2);
		cog_t += c;
		raw_t += w;
		raw2_t += w2;
		ratios[round] = w / c; /* same rows: time ratio = rate ratio */
		transitions += rw.count;
		rows_free(&rw);
	}
	double cog_rate = (double)transitions / cog_t;
	double raw_rate = (double)transitions / raw_t;
	double raw2_rate = (double)transitions / raw2_t;
	double med = median(ratios, rounds);
	printf("synchronous=%s, %s: %d no-op tasks (%zu transitions) each way, %d rounds\n",
		level, workers == 1 ? "inline (calling thread)" : "4 workers", per_round * rounds,
		transitions, rounds);
	printf("  libcognition  %-34s %10.0f transitions/s (%6.1f us each, %7.0f tasks/s)\n",
		"cog_plan_run, durable", cog_rate, 1e6 / cog_rate, cog_rate / 2);
	printf("  raw SQLite    %-34s %10.0f rows/s        (%6.1f us each)\n",
		"INSERT, one row per commit", raw_rate, 1e6 / raw_rate);
	printf("  raw SQLite    %-34s %10.0f rows/s        (%6.1f us each)\n",
		"INSERT, two rows per commit", raw2_rate, 1e6 / raw2_rate);
	printf("  ratio         %-34s %10.2f\n", "cog / raw (1 per commit), totals",
		cog_rate / raw_rate);
	printf("  ratio         %-34s %10.2f    (target >= 0.80: %s)\n",
		"cog / raw (1 per commit), median", med, med >= 0.8 ? "met" : "MISSED");
	printf("  ratio         %-34s %10.2f    (reference)\n", "cog / raw (2 per commit)",
		cog_rate / raw2_rate);
	fflush(stdout);
	raw_close(&raw);
	raw_close(&raw2);
	cog_ctx_free(ctx);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static int arg_count(int argc, char **argv, int i, int fallback, int max)
{
	if (argc <= i)
		return fallback;
	char *end;
	long v = strtol(argv[i], &end, 10);
	if (*end || v < 1 || v > max)
		die("bad count", argv[i]);
	return (int)v;
}

int main(int argc, char **argv)
{
	int full_n = arg_count(argc, argv, 1, 1000, 10000000);
	int normal_n = arg_count(argc, argv, 2, 10000, 10000000);
	int rounds = arg_count(argc, argv, 3, 10, MAX_ROUNDS);
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/cog-bench-plan-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp", strerror(errno));
	/* Open a store first: it installs libcognition's allocator into SQLite
	 * before the raw side initialises SQLite with the default one. */
	cog_ctx *first = cog_open("warmup.db", COG_SQLITE_DURABLE_FULL);
	cog_ctx_free(first);

	printf("bench_plan_durable: libcognition %s, SQLite %s, files in %s\n", cog_version(),
		sqlite3_libversion(), dir);
	printf("command:");
	for (int i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("   (full_tasks=%d normal_tasks=%d rounds=%d)\n", full_n, normal_n, rounds);
	bench(COG_SQLITE_DURABLE_FULL, full_n, rounds, 1);
	bench(COG_SQLITE_DURABLE_FULL, full_n, rounds, 4);
	bench(COG_SQLITE_DURABLE_NORMAL, normal_n, rounds, 1);
	bench(COG_SQLITE_DURABLE_NORMAL, normal_n, rounds, 4);

	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return EXIT_SUCCESS;
}
