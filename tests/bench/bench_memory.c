/*
 * Memory benchmark: ingest and keyword search through cognition/memory.h,
 * side by side with plain SQLite (+ FTS5) in the same process and run.
 *
 *   bench_memory [memories=100000 [runs=3 [queries=1000]]]
 *
 * Per run, on fresh files in one temporary directory:
 *   ingest   the peer's plain inserts, then cog_memory_put with dedupe on
 *            (the default) and off, for synchronous NORMAL and then FULL;
 *            the in-memory store with dedupe on and off; and the memories
 *            spread over BM_NS_MANY namespaces (SQLite NORMAL, dedupe on);
 *   search   on the NORMAL dedupe-on file reopened by a new context: keyword
 *            only and the FTS5 peer on the same file, alternating, then
 *            hybrid; the same on the in-memory store (new handle) and on
 *            the spread-out file, each query naming one namespace.
 * Prints the medians over the runs (ratios are medians of per-run ratios)
 * as Markdown tables, and whether the goals are met: ingest >= 20k
 * memories/s with the hashing embedder; keyword p50 <= 0.5 ms.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bench_memory.h"

#define RUNS_MAX 9
#define GOAL_INGEST 20000.0
#define GOAL_P50_MS 0.5

static char dir[512];

double bm_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

double bm_cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

double bm_thread_cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int64_t bm_realtime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void bm_die(const char *what, const char *detail)
{
	fprintf(stderr, "bench_memory: %s: %s\n", what, detail);
	exit(EXIT_FAILURE);
}

/* ---- the measurements of one run, by index ---- */

/* Ingest cases; each has a block of IN_SIZE values. */
enum { C_PEER_N, C_PEER_F, C_N_ON, C_N_OFF, C_F_ON, C_F_OFF, C_MEM_ON, C_MEM_OFF,
       C_MANY, C_COUNT };
enum { WALL, CPU, MERGED, RATIO_WALL, RATIO_CPU, IN_SIZE };
/* Search blocks: keyword, peer, hybrid latencies, then the rest. */
enum { L50, L95, L99, LCPU, LHITS, L_SIZE };
enum { KW = 0, PEER = L_SIZE, HY = 2 * L_SIZE, FIRST = 3 * L_SIZE, RATIO, RATIO_CPU_S,
       S_SIZE };
enum { S_SQL = C_COUNT * IN_SIZE, S_MEM = S_SQL + S_SIZE, S_MANY = S_MEM + S_SIZE,
       M_COUNT = S_MANY + S_SIZE };

#define IN(c, f) ((c) * IN_SIZE + (f))

static double runs_v[RUNS_MAX][M_COUNT];

static void put_latency(double *v, const bm_latency *l)
{
	v[L50] = l->p50;
	v[L95] = l->p95;
	v[L99] = l->p99;
	v[LCPU] = l->cpu_p50;
	v[LHITS] = (double)l->hits;
}

static void put_search(double *v, const bm_search *s)
{
	put_latency(v + KW, &s->keyword);
	put_latency(v + PEER, &s->peer);
	put_latency(v + HY, &s->hybrid);
	v[FIRST] = s->first_hybrid_ms;
	v[RATIO] = s->peer.p50 > 0 ? s->keyword.p50 / s->peer.p50 : 0;
	v[RATIO_CPU_S] = s->peer.cpu_p50 > 0 ? s->keyword.cpu_p50 / s->peer.cpu_p50 : 0;
}

static void put_ingest(double *v, int c, bm_ingest in, int peer)
{
	v[IN(c, WALL)] = in.per_s;
	v[IN(c, CPU)] = in.per_cpu_s;
	v[IN(c, MERGED)] = (double)in.merged;
	if (peer >= 0) {
		v[IN(c, RATIO_WALL)] = in.per_s / v[IN(peer, WALL)];
		v[IN(c, RATIO_CPU)] = in.per_cpu_s / v[IN(peer, CPU)];
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double med(int runs, int index)
{
	double v[RUNS_MAX];
	for (int r = 0; r < runs; r++)
		v[r] = runs_v[r][index];
	qsort(v, (size_t)runs, sizeof(double), cmp_double);
	return runs % 2 ? v[runs / 2] : (v[runs / 2 - 1] + v[runs / 2]) / 2;
}

/* ---- one run ---- */

static void file_path(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

static void remove_db(const char *path)
{
	char side[700];
	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
}

static bm_ingest peer_ingest(const bm_data *d, int full)
{
	char path[600];
	file_path(path, sizeof(path), full ? "peer-full.db" : "peer-normal.db");
	bm_ingest r = bm_ingest_peer(path, d, full);
	remove_db(path);
	return r;
}

/* Ingest into a new SQLite file; with `search`, reopen it in a new context
 * and search it. */
static bm_ingest sqlite_ingest(const bm_data *d, bm_store store, int many, int dedupe,
                               bm_search *search)
{
	char path[600];
	file_path(path, sizeof(path), "cog.db");
	bm_env e;
	bm_env_open(&e, store, path, many, dedupe);
	bm_ingest in = bm_ingest_cog(&e, d, many);
	bm_env_close(&e);
	if (search) {
		bm_env_open(&e, store, path, many, dedupe);
		*search = bm_search_run(&e, d, many);
		bm_env_close(&e);
	}
	remove_db(path);
	return in;
}

static bm_ingest memory_ingest(const bm_data *d, int dedupe, bm_search *search)
{
	bm_env e;
	bm_env_open(&e, BM_IN_MEMORY, "", 0, dedupe);
	bm_ingest in = bm_ingest_cog(&e, d, 0);
	if (search) {
		/* a new handle on the same store: its index loads at the first
		 * hybrid search, as with the SQLite file */
		cog_memory_free(e.mem[0]);
		cog_memory_options mo = COG_MEMORY_OPTIONS_INIT;
		mo.embedder = "hashing";
		if (cog_memory_open_with(&e.mem[0], e.ctx, "bench/one", &mo) != 0)
			bm_die("cog_memory_open_with", cog_error_last());
		*search = bm_search_run(&e, d, 0);
	}
	bm_env_close(&e);
	return in;
}

static void one_run(const bm_data *d, double *v)
{
	bm_search s;
	put_ingest(v, C_PEER_N, peer_ingest(d, 0), -1);
	put_ingest(v, C_N_ON, sqlite_ingest(d, BM_SQLITE_NORMAL, 0, 1, &s), C_PEER_N);
	put_search(v + S_SQL, &s);
	put_ingest(v, C_N_OFF, sqlite_ingest(d, BM_SQLITE_NORMAL, 0, 0, NULL), C_PEER_N);
	put_ingest(v, C_PEER_F, peer_ingest(d, 1), -1);
	put_ingest(v, C_F_ON, sqlite_ingest(d, BM_SQLITE_FULL, 0, 1, NULL), C_PEER_F);
	put_ingest(v, C_F_OFF, sqlite_ingest(d, BM_SQLITE_FULL, 0, 0, NULL), C_PEER_F);
	put_ingest(v, C_MEM_ON, memory_ingest(d, 1, &s), -1);
	put_search(v + S_MEM, &s);
	put_ingest(v, C_MEM_OFF, memory_ingest(d, 0, NULL), -1);
	put_ingest(v, C_MANY, sqlite_ingest(d, BM_SQLITE_NORMAL, 1, 1, &s), -1);
	put_search(v + S_MANY, &s);
}

/* ---- the tables ---- */

static const char *met(int ok)
{
	return ok ? "**met**" : "**not met**";
}

/* 12345.6 as "12,346" (one of two static buffers, for two per printf). */
static const char *grouped(double v)
{
	static char bufs[2][32];
	static int next;
	char *out = bufs[next];
	next ^= 1;
	char digits[32];
	int len = snprintf(digits, sizeof(digits), "%.0f", v < 0 ? 0 : v);
	int o = 0;
	for (int i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	return out;
}

static void ingest_row(int runs, const char *name, int c, int peer)
{
	double r = med(runs, IN(c, WALL));
	printf("| %s | %s/s", name, grouped(r));
	printf(" (%s/CPU-s) | ", grouped(med(runs, IN(c, CPU))));
	if (c == C_N_OFF || c == C_F_OFF || c == C_MEM_OFF)
		printf("off | ");
	else
		printf("%.0f | ", med(runs, IN(c, MERGED)));
	if (peer >= 0) {
		printf("%s/s", grouped(med(runs, IN(peer, WALL))));
		printf(" (%s/CPU-s) | %.2f (%.2f) | ", grouped(med(runs, IN(peer, CPU))),
			med(runs, IN(c, RATIO_WALL)), med(runs, IN(c, RATIO_CPU)));
	} else {
		printf("- | - | ");
	}
	printf("%s |\n", met(r >= GOAL_INGEST));
}

static void search_rows(int runs, const char *name, int base, size_t nq)
{
	double k50 = med(runs, base + KW + L50);
	printf("| %s, keyword only | %.3f (%.3f) | %.3f | %.3f | %.0f/%zu | ", name, k50,
		med(runs, base + KW + LCPU), med(runs, base + KW + L95),
		med(runs, base + KW + L99), med(runs, base + KW + LHITS), nq);
	if (base != S_MEM)
		printf("%.3f (%.3f) / %.3f / %.3f (%.0f/%zu) | %.2f (%.2f) | ",
			med(runs, base + PEER + L50), med(runs, base + PEER + LCPU),
			med(runs, base + PEER + L95), med(runs, base + PEER + L99),
			med(runs, base + PEER + LHITS), nq, med(runs, base + RATIO),
			med(runs, base + RATIO_CPU_S));
	else
		printf("- | - | ");
	printf("%s |\n", met(k50 <= GOAL_P50_MS));
	printf("| %s, hybrid (first query %.1f ms) | %.3f (%.3f) | %.3f | %.3f | %.0f/%zu | "
		"- | - | - |\n", name, med(runs, base + FIRST), med(runs, base + HY + L50),
		med(runs, base + HY + LCPU), med(runs, base + HY + L95),
		med(runs, base + HY + L99), med(runs, base + HY + LHITS), nq);
}

static void print_tables(int runs, const bm_data *d)
{
	printf("\n| ingest (%s memories, transactions of %d) | libcognition (per CPU-second) "
		"| merged | peer: plain SQLite + FTS5 + BLOB | ratio (CPU) | goal >= 20k/s |\n",
		grouped((double)d->n), BM_BATCH);
	printf("|---|---|---|---|---|---|\n");
	ingest_row(runs, "SQLite NORMAL, dedupe on", C_N_ON, C_PEER_N);
	ingest_row(runs, "SQLite NORMAL, dedupe off", C_N_OFF, C_PEER_N);
	ingest_row(runs, "SQLite FULL, dedupe on", C_F_ON, C_PEER_F);
	ingest_row(runs, "SQLite FULL, dedupe off", C_F_OFF, C_PEER_F);
	ingest_row(runs, "in-memory store, dedupe on", C_MEM_ON, -1);
	ingest_row(runs, "in-memory store, dedupe off", C_MEM_OFF, -1);
	ingest_row(runs, "SQLite NORMAL, dedupe on, 1,000 namespaces", C_MANY, -1);
	printf("\n| search, k = 10, %s selective queries, ms | p50 (CPU) | p95 | p99 | hits | "
		"peer: FTS5 MATCH + bm25, p50 (CPU) / p95 / p99 (hits) | ratio p50 (CPU) | "
		"goal p50 <= 0.5 ms |\n", grouped((double)d->queries));
	printf("|---|---|---|---|---|---|---|---|\n");
	search_rows(runs, "SQLite, 1 namespace", S_SQL, d->queries);
	search_rows(runs, "in-memory store, 1 namespace", S_MEM, d->queries);
	search_rows(runs, "SQLite, 1,000 namespaces", S_MANY, d->queries);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? (size_t)atol(argv[1]) : 100000;
	int runs = argc > 2 ? atoi(argv[2]) : 3;
	size_t queries = argc > 3 ? (size_t)atol(argv[3]) : 1000;
	if (n < 1000 || n > 10000000 || runs < 1 || runs > RUNS_MAX || queries < 1) {
		fprintf(stderr, "usage: bench_memory [memories>=1000 [runs 1..%d [queries]]]\n",
			RUNS_MAX);
		return 2;
	}
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/cog-bench-memory-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		bm_die("mkdtemp", strerror(errno));
	bm_data d;
	double t0 = bm_now_ms();
	bm_data_make(&d, n, queries);
	printf("bench_memory: libcognition %s, SQLite %s, %s\n", cog_version(),
		sqlite3_libversion(), dir);
	printf("data: %zu memories, mean %.0f bytes, %zu of %d vocabulary words used "
		"(Zipf s=1.05), %zu selective terms x %d memories, %zu queries; made in %.0f ms\n",
		d.n, d.mean_bytes, d.distinct_words, BM_VOCAB, d.terms, BM_TERM_DOCS,
		d.queries, bm_now_ms() - t0);
	for (int r = 0; r < runs; r++) {
		double t = bm_now_ms();
		one_run(&d, runs_v[r]);
		double *v = runs_v[r];
		printf("run %d (%.0f s): ingest/s NORMAL on %.0f off %.0f peer %.0f; FULL on %.0f "
			"off %.0f peer %.0f; memory on %.0f off %.0f; 1000 ns %.0f; keyword p50 "
			"%.3f ms (peer %.3f), memory %.3f, 1000 ns %.3f (peer %.3f); hybrid p50 %.2f ms\n",
			r + 1, (bm_now_ms() - t) / 1e3, v[IN(C_N_ON, WALL)], v[IN(C_N_OFF, WALL)],
			v[IN(C_PEER_N, WALL)], v[IN(C_F_ON, WALL)], v[IN(C_F_OFF, WALL)],
			v[IN(C_PEER_F, WALL)], v[IN(C_MEM_ON, WALL)], v[IN(C_MEM_OFF, WALL)],
			v[IN(C_MANY, WALL)], v[S_SQL + KW + L50], v[S_SQL + PEER + L50],
			v[S_MEM + KW + L50], v[S_MANY + KW + L50], v[S_MANY + PEER + L50],
			v[S_SQL + HY + L50]);
		fflush(stdout);
	}
	printf("\nmedians of %d run%s:\n", runs, runs == 1 ? "" : "s");
	print_tables(runs, &d);
	bm_data_dispose(&d);
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
