/*
 * Memory benchmark (bench_memory*.c): shared declarations.
 *
 *   bench_memory_data.c    the seeded synthetic data set and the queries
 *   bench_memory_ingest.c  puts through cog_memory vs plain SQLite inserts
 *   bench_memory_search.c  keyword and hybrid search vs SQLite FTS5
 *   bench_memory.c         runs, medians, the table
 */
#ifndef BENCH_MEMORY_H
#define BENCH_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include <cognition.h>
#include <cognition/sqlite.h>

#define BM_VOCAB 20000        /* words of the Zipf vocabulary */
#define BM_TERM_COUNT 2000    /* rare "selective" terms ... */
#define BM_TERM_DOCS 5        /* ... each in this many memories */
#define BM_NS_MANY 1000       /* namespaces of the spread-out run */
#define BM_BATCH 1000         /* puts per transaction */
#define BM_DIM 384            /* the hashing embedder's (and the peer's BLOB) */

typedef struct bm_data {
	size_t n;
	char **text;              /* n texts, 100..300 bytes */
	char **metadata;          /* n JSON objects with two members */
	unsigned int *ns_many;    /* n: namespace index in the spread-out run */
	size_t terms;             /* selective terms planted */
	size_t queries;
	const char **query_term;  /* queries: a selective term each */
	unsigned int *query_ns;   /* queries: namespace of a memory with it */
	double mean_bytes;
	size_t distinct_words;    /* vocabulary words that occur */
} bm_data;

/* Build the data set from a fixed seed (the same in every run). */
void bm_data_make(bm_data *d, size_t n, size_t queries);
void bm_data_dispose(bm_data *d);

/* "bench/one", or "acme/u000".."acme/u999" for the spread-out run. */
void bm_ns_name(char *out, size_t cap, int many, unsigned int index);

typedef enum bm_store {
	BM_SQLITE_NORMAL,
	BM_SQLITE_FULL,
	BM_IN_MEMORY
} bm_store;

/* A context over one store, with memory handles (one or BM_NS_MANY). */
typedef struct bm_env {
	cog_ctx *ctx;
	cog_storage *storage;     /* borrowed from ctx */
	cog_memory **mem;
	size_t mem_count;
	char path[600];           /* the SQLite file ("" in memory) */
} bm_env;

void bm_env_open(bm_env *e, bm_store store, const char *path, int many, int dedupe);
void bm_env_close(bm_env *e);

typedef struct bm_ingest {
	double per_s;             /* memories per second (wall clock) */
	double per_cpu_s;         /* memories per second of the process's CPU time */
	size_t merged;            /* puts merged into a near duplicate */
} bm_ingest;

/* Put every text (transactions of BM_BATCH); the env stays open. */
bm_ingest bm_ingest_cog(bm_env *e, const bm_data *d, int many);
/* The peer: the same texts into a plain table with an FTS5 index and a
 * 384-float BLOB, in transactions of BM_BATCH. */
bm_ingest bm_ingest_peer(const char *path, const bm_data *d, int full);

typedef struct bm_latency {
	double p50, p95, p99;     /* ms, wall clock */
	double cpu_p50;           /* ms of the thread's CPU time */
	size_t hits;              /* queries with at least one result */
} bm_latency;

typedef struct bm_search {
	bm_latency keyword;       /* {"weights":{"vector":0}} */
	bm_latency peer;          /* FTS5 MATCH + bm25 on the same file */
	bm_latency hybrid;
	double first_hybrid_ms;   /* includes loading the vector index */
} bm_search;

/* Search e's memories with the data's queries; the peer too when e has a
 * SQLite file. */
bm_search bm_search_run(bm_env *e, const bm_data *d, int many);

double bm_now_ms(void);       /* monotonic */
double bm_cpu_ms(void);       /* the process's CPU time */
double bm_thread_cpu_ms(void);
int64_t bm_realtime_ms(void);  /* Unix time */
void bm_die(const char *what, const char *detail);

#endif
