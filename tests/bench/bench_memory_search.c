/*
 * Search: each query is one selective term. Keyword-only through
 * cog_memory_search with {"text":T,"k":10,"weights":{"vector":0}} (search.c
 * then neither embeds the query nor touches the vector index), and the peer
 * on the same file in the same run, alternating query by query: a prepared
 * FTS5 statement on a second connection,
 *   MATCH 'text : T' joined to the row, in the query's namespace,
 *   ORDER BY bm25() LIMIT 10,
 * reading each row's id, text and metadata. Then full hybrid search
 * ({"text":T,"k":10}: keyword list, the query embedded, exact vector search
 * over the namespace's vectors, fusion), whose first query loads the index.
 * Each side is timed per query; a query counts as a hit when it found a
 * memory holding the term.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bench_memory.h"

#define WARMUP 50

typedef struct peer {
	sqlite3 *db;
	sqlite3_stmt *st;
} peer;

static int peer_open(peer *p, const char *path)
{
	memset(p, 0, sizeof(*p));
	if (!path[0])
		return 0;
	if (sqlite3_open_v2(path, &p->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK)
		bm_die(path, p->db ? sqlite3_errmsg(p->db) : "cannot open");
	const char *sql = "SELECT m.id, m.text, m.metadata, bm25(memories_fts) AS score"
		" FROM memories_fts JOIN memories m ON m.id = memories_fts.rowid"
		" WHERE memories_fts MATCH ?1 AND m.ns = ?2"
		" ORDER BY score LIMIT 10";
	if (sqlite3_prepare_v3(p->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &p->st, NULL)
	    != SQLITE_OK)
		bm_die("peer prepare", sqlite3_errmsg(p->db));
	return 1;
}

static void peer_close(peer *p)
{
	sqlite3_finalize(p->st);
	sqlite3_close(p->db);
}

/* Rows found (read as a caller would). */
static size_t peer_query(peer *p, const char *term, const char *ns)
{
	char match[32];
	snprintf(match, sizeof(match), "text : %s", term);
	sqlite3_bind_text(p->st, 1, match, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(p->st, 2, ns, -1, SQLITE_STATIC);
	size_t rows = 0;
	int rc;
	while ((rc = sqlite3_step(p->st)) == SQLITE_ROW) {
		rows++;
		(void)sqlite3_column_int64(p->st, 0);
		(void)sqlite3_column_text(p->st, 1);
		(void)sqlite3_column_text(p->st, 2);
		(void)sqlite3_column_double(p->st, 3);
	}
	if (rc != SQLITE_DONE)
		bm_die("peer query", sqlite3_errmsg(p->db));
	sqlite3_reset(p->st);
	return rows;
}

/* Whether the result lists a memory holding the term (its text may begin
 * with a capital, so look for the term past its first letter). */
static int cog_query(cog_memory *m, const char *json, const char *term)
{
	char *out = NULL;
	if (cog_memory_search(m, json, &out) != 0)
		bm_die("cog_memory_search", cog_error_last());
	int hit = strstr(out, "\"results\":[]") == NULL && strstr(out, term + 1) != NULL;
	cog_free(out);
	return hit;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static bm_latency summarize(double *ms, double *cpu, size_t n, size_t hits)
{
	bm_latency l = { 0, 0, 0, 0, hits };
	if (!n)
		return l;
	qsort(cpu, n, sizeof(*cpu), cmp_double);
	l.cpu_p50 = cpu[n / 2];
	qsort(ms, n, sizeof(*ms), cmp_double);
	l.p50 = ms[n / 2];
	l.p95 = ms[(size_t)((double)n * 0.95)];
	l.p99 = ms[(size_t)((double)n * 0.99)];
	return l;
}

static void query_json(char *out, size_t cap, const char *term, int keyword_only)
{
	snprintf(out, cap, "{\"text\":\"%s\",\"k\":10%s}", term,
		keyword_only ? ",\"weights\":{\"vector\":0}" : "");
}

bm_search bm_search_run(bm_env *e, const bm_data *d, int many)
{
	bm_search s;
	memset(&s, 0, sizeof(s));
	peer p;
	int with_peer = peer_open(&p, e->path);
	size_t nq = d->queries;
	double *ours = malloc((nq ? nq : 1) * sizeof(double));
	double *theirs = malloc((nq ? nq : 1) * sizeof(double));
	double *ours_cpu = malloc((nq ? nq : 1) * sizeof(double));
	double *theirs_cpu = malloc((nq ? nq : 1) * sizeof(double));
	if (!ours || !theirs || !ours_cpu || !theirs_cpu)
		bm_die("malloc", "out of memory");
	char json[128], ns[64];
	size_t hits = 0, peer_hits = 0;

	/* keyword only, alternating with the peer */
	for (size_t q = 0; q < WARMUP && q < nq; q++) {
		bm_ns_name(ns, sizeof(ns), many, d->query_ns[q]);
		query_json(json, sizeof(json), d->query_term[q], 1);
		cog_query(e->mem[many ? d->query_ns[q] : 0], json, d->query_term[q]);
		if (with_peer)
			peer_query(&p, d->query_term[q], ns);
	}
	for (size_t q = 0; q < nq; q++) {
		cog_memory *m = e->mem[many ? d->query_ns[q] : 0];
		bm_ns_name(ns, sizeof(ns), many, d->query_ns[q]);
		query_json(json, sizeof(json), d->query_term[q], 1);
		double c0 = bm_thread_cpu_ms(), t0 = bm_now_ms();
		hits += (size_t)cog_query(m, json, d->query_term[q]);
		double c1 = bm_thread_cpu_ms(), t1 = bm_now_ms();
		if (with_peer)
			peer_hits += peer_query(&p, d->query_term[q], ns) > 0;
		double c2 = bm_thread_cpu_ms(), t2 = bm_now_ms();
		ours[q] = t1 - t0;
		theirs[q] = t2 - t1;
		ours_cpu[q] = c1 - c0;
		theirs_cpu[q] = c2 - c1;
	}
	s.keyword = summarize(ours, ours_cpu, nq, hits);
	if (with_peer)
		s.peer = summarize(theirs, theirs_cpu, nq, peer_hits);

	/* hybrid: the first query loads the vector index (of every namespace
	 * touched, in the spread-out run: there a pass over all queries warms
	 * the handles first) */
	if (nq) {
		query_json(json, sizeof(json), d->query_term[0], 0);
		double t0 = bm_now_ms();
		cog_query(e->mem[many ? d->query_ns[0] : 0], json, d->query_term[0]);
		s.first_hybrid_ms = bm_now_ms() - t0;
	}
	for (size_t q = 0; q < (many ? nq : WARMUP < nq ? WARMUP : nq); q++) {
		query_json(json, sizeof(json), d->query_term[q], 0);
		cog_query(e->mem[many ? d->query_ns[q] : 0], json, d->query_term[q]);
	}
	hits = 0;
	for (size_t q = 0; q < nq; q++) {
		cog_memory *m = e->mem[many ? d->query_ns[q] : 0];
		query_json(json, sizeof(json), d->query_term[q], 0);
		double c0 = bm_thread_cpu_ms(), t0 = bm_now_ms();
		hits += (size_t)cog_query(m, json, d->query_term[q]);
		ours[q] = bm_now_ms() - t0;
		ours_cpu[q] = bm_thread_cpu_ms() - c0;
	}
	s.hybrid = summarize(ours, ours_cpu, nq, hits);
	if (with_peer)
		peer_close(&p);
	free(ours);
	free(theirs);
	free(ours_cpu);
	free(theirs_cpu);
	return s;
}
