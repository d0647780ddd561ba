/*
 * Storage benchmark: libcognition-sqlite against raw SQLite doing the same
 * work, in the same run, on the same disk.
 *
 *   bench_storage [full_n [normal_n [batch_n]]]
 *
 * (a) durable single-document puts, each its own transaction: N documents
 *     of ~200 bytes through cog_storage_put, and the same INSERT OR REPLACE
 *     through a prepared statement on the same schema and pragmas (WAL,
 *     synchronous FULL, then NORMAL) in a separate file. The two alternate
 *     in rounds, so that drifts of the disk hit both alike.
 * (b) one transaction of batch_n puts (begin, puts, commit), both ways.
 *
 * Both sides run in one process, so both use the allocator libcognition
 * installs into SQLite: the comparison is of the layers, not of mallocs.
 * Targets: (a) ratio >= 0.8, (b) >= 100k documents/s through the vtable.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <cognition/sqlite.h>

#define ROUNDS 20
#define BATCH_ROUNDS 3
#define DOC_BYTES 200

static char dir[512];
static int doc_serial;   /* keys never repeat within a run */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "bench_storage: %s: %s\n", what, detail);
	exit(EXIT_FAILURE);
}

/* A ~200-byte JSON document that looks like task state. */
static void make_doc(char *out, size_t cap, int i)
{
	int n = snprintf(out, cap,
		"{\"id\":%d,\"title\":\"task %d\",\"state\":\"running\",\"attempt\":1,"
		"\"agent\":\"executor\",\"cost\":0.0123,\"note\":\"", i, i);
	for (; n < DOC_BYTES - 2 && (size_t)n < cap - 3; n++)
		out[n] = (char)('a' + n % 26);
	out[n++] = '"';
	out[n++] = '}';
	out[n] = '\0';
}

static void make_key(char *out, size_t cap, int i)
{
	snprintf(out, cap, "task/%08d", i);
}

/* ---- libcognition side ---- */

static cog_storage *cog_open(const char *name, int durability)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cog_sqlite_options o = COG_SQLITE_OPTIONS_INIT;
	o.durability = durability;
	cog_storage *s = NULL;
	if (cog_sqlite_storage_open(&s, path, &o) != 0)
		die("open", cog_error_last());
	return s;
}

static double cog_puts(cog_storage *s, int n)
{
	char key[32], doc[DOC_BYTES + 64];
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		int serial = doc_serial++;
		make_key(key, sizeof(key), serial);
		make_doc(doc, sizeof(doc), serial);
		if (cog_storage_put(s, "tasks", key, doc, 0) != 0)
			die("cog_storage_put", cog_error_last());
	}
	return now_s() - t0;
}

static double cog_batch(cog_storage *s, int n)
{
	double t0 = now_s();
	if (cog_storage_begin(s) != 0)
		die("cog_storage_begin", cog_error_last());
	cog_puts(s, n);
	if (cog_storage_commit(s) != 0)
		die("cog_storage_commit", cog_error_last());
	return now_s() - t0;
}

/* ---- raw SQLite side ---- */

typedef struct raw_db {
	sqlite3 *db;
	sqlite3_stmt *put;
} raw_db;

static void raw_exec(raw_db *r, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(r->db, sql, NULL, NULL, &err) != SQLITE_OK)
		die(sql, err ? err : sqlite3_errmsg(r->db));
}

/* The schema and pragmas libcognition-sqlite uses, written by hand. */
static raw_db raw_open(const char *name, int durability)
{
	char path[600];
	raw_db r = { NULL, NULL };
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (sqlite3_open_v2(path, &r.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		die(path, r.db ? sqlite3_errmsg(r.db) : "cannot open");
	sqlite3_busy_timeout(r.db, 5000);
	raw_exec(&r, "PRAGMA journal_mode = WAL");
	raw_exec(&r, durability == COG_SQLITE_DURABLE_NORMAL ?
		"PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL");
	raw_exec(&r, "CREATE TABLE docs (collection TEXT NOT NULL, key TEXT NOT NULL,"
		" value TEXT NOT NULL, expires_at INTEGER,"
		" PRIMARY KEY (collection, key)) WITHOUT ROWID");
	raw_exec(&r, "CREATE INDEX docs_expiry ON docs (expires_at)"
		" WHERE expires_at IS NOT NULL");
	if (sqlite3_prepare_v3(r.db, "INSERT OR REPLACE INTO docs"
	    " (collection, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)", -1,
	    SQLITE_PREPARE_PERSISTENT, &r.put, NULL) != SQLITE_OK)
		die("prepare", sqlite3_errmsg(r.db));
	return r;
}

static void raw_close(raw_db *r)
{
	sqlite3_finalize(r->put);
	sqlite3_close(r->db);
}

static double raw_puts(raw_db *r, int n)
{
	char key[32], doc[DOC_BYTES + 64];
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		int serial = doc_serial++;
		make_key(key, sizeof(key), serial);
		make_doc(doc, sizeof(doc), serial);
		sqlite3_bind_text(r->put, 1, "tasks", -1, SQLITE_STATIC);
		sqlite3_bind_text(r->put, 2, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(r->put, 3, doc, -1, SQLITE_STATIC);
		sqlite3_bind_null(r->put, 4);
		if (sqlite3_step(r->put) != SQLITE_DONE)
			die("raw put", sqlite3_errmsg(r->db));
		sqlite3_reset(r->put);
	}
	return now_s() - t0;
}

static double raw_batch(raw_db *r, int n)
{
	double t0 = now_s();
	raw_exec(r, "BEGIN IMMEDIATE");
	raw_puts(r, n);
	raw_exec(r, "COMMIT");
	return now_s() - t0;
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

/* The target is judged on the median of the per-round ratios: a stall of
 * the disk during one round moves the totals a lot and the median little. */
static void report(double cog_rate, double raw_rate, double median_ratio,
                   double target_ratio)
{
	printf("  libcognition  %-26s %10.0f ops/s  (%6.1f us/op)\n",
		"cog_storage_put", cog_rate, 1e6 / cog_rate);
	printf("  raw SQLite    %-26s %10.0f ops/s  (%6.1f us/op)\n",
		"INSERT OR REPLACE", raw_rate, 1e6 / raw_rate);
	printf("  ratio         %-26s %10.2f\n", "cog / raw, totals",
		cog_rate / raw_rate);
	printf("  ratio         %-26s %10.2f        (target >= %.2f: %s)\n",
		"cog / raw, median of rounds", median_ratio, target_ratio,
		median_ratio >= target_ratio ? "met" : "MISSED");
}

static void bench_single(int durability, int n)
{
	const char *level = durability == COG_SQLITE_DURABLE_NORMAL ? "normal" : "full";
	char cog_name[64], raw_name[64];
	snprintf(cog_name, sizeof(cog_name), "single-%s-cog.db", level);
	snprintf(raw_name, sizeof(raw_name), "single-%s-raw.db", level);
	cog_storage *s = cog_open(cog_name, durability);
	raw_db r = raw_open(raw_name, durability);
	int per_round = n / ROUNDS > 0 ? n / ROUNDS : 1;
	double cog_t = 0, raw_t = 0, ratios[ROUNDS];
	int done = 0;
	/* Warm both up (first pages, WAL growth) outside the measurement. */
	cog_puts(s, per_round / 10 + 1);
	raw_puts(&r, per_round / 10 + 1);
	for (int round = 0; round < ROUNDS; round++) {
		/* Alternate who goes first: a checkpoint or a disk hiccup should
		 * not always land on the same side. */
		double c, w;
		if (round % 2 == 0) {
			c = cog_puts(s, per_round);
			w = raw_puts(&r, per_round);
		} else {
			w = raw_puts(&r, per_round);
			c = cog_puts(s, per_round);
		}
		cog_t += c;
		raw_t += w;
		ratios[round] = w / c; /* time ratio = rate ratio cog / raw */
		done += per_round;
	}
	printf("(a) durable single puts, autocommit, WAL, synchronous=%s: "
		"%d docs of %d bytes each way, %d interleaved rounds\n",
		level, done, DOC_BYTES, ROUNDS);
	report(done / cog_t, done / raw_t, median(ratios, ROUNDS), 0.8);
	cog_storage_free(s);
	raw_close(&r);
}

static void bench_batch(int n)
{
	double cog_t = 0, raw_t = 0;
	for (int round = 0; round < BATCH_ROUNDS; round++) {
		char cog_name[64], raw_name[64];
		snprintf(cog_name, sizeof(cog_name), "batch-%d-cog.db", round);
		snprintf(raw_name, sizeof(raw_name), "batch-%d-raw.db", round);
		cog_storage *s = cog_open(cog_name, COG_SQLITE_DURABLE_FULL);
		raw_db r = raw_open(raw_name, COG_SQLITE_DURABLE_FULL);
		if (round % 2 == 0) {
			cog_t += cog_batch(s, n);
			raw_t += raw_batch(&r, n);
		} else {
			raw_t += raw_batch(&r, n);
			cog_t += cog_batch(s, n);
		}
		cog_storage_free(s);
		raw_close(&r);
	}
	double cog_rate = (double)n * BATCH_ROUNDS / cog_t;
	double raw_rate = (double)n * BATCH_ROUNDS / raw_t;
	printf("(b) one transaction of %d puts (begin, puts, commit), synchronous=full, "
		"%d rounds each way, fresh files\n", n, BATCH_ROUNDS);
	printf("  libcognition  %-26s %10.0f docs/s (target >= 100000: %s)\n",
		"begin/cog_storage_put/commit", cog_rate,
		cog_rate >= 100000 ? "met" : "MISSED");
	printf("  raw SQLite    %-26s %10.0f docs/s\n", "BEGIN/INSERT.../COMMIT", raw_rate);
	printf("  ratio         %-26s %10.2f\n", "cog / raw", cog_rate / raw_rate);
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static int arg_count(int argc, char **argv, int i, int fallback)
{
	if (argc <= i)
		return fallback;
	char *end;
	long v = strtol(argv[i], &end, 10);
	if (*end || v < 1 || v > 100000000)
		die("bad count", argv[i]);
	return (int)v;
}

int main(int argc, char **argv)
{
	int full_n = arg_count(argc, argv, 1, 2000);
	int normal_n = arg_count(argc, argv, 2, 20000);
	int batch_n = arg_count(argc, argv, 3, 100000);
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/cog-bench-storage-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp", strerror(errno));
	/* Open a store first: it installs libcognition's allocator into SQLite
	 * before the raw side initialises SQLite with the default one. */
	cog_storage *first = cog_open("warmup.db", COG_SQLITE_DURABLE_FULL);
	cog_storage_free(first);

	printf("bench_storage: libcognition %s, SQLite %s, files in %s\n",
		cog_version(), sqlite3_libversion(), dir);
	bench_single(COG_SQLITE_DURABLE_FULL, full_n);
	bench_single(COG_SQLITE_DURABLE_NORMAL, normal_n);
	bench_batch(batch_n);

	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return EXIT_SUCCESS;
}
