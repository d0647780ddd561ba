/*
 * Ingest: the data's texts through cog_memory_put (hashing embedder,
 * redaction on, transactions of BM_BATCH through cog_storage_begin/commit on
 * the context's storage), and the peer: plain SQLite inserts of the same
 * texts and metadata into a table shaped like libcognition-sqlite's
 * `memories` (same columns, the (ns) index) with an external-
 * content FTS5 index over the text and a 384-float BLOB per row, in
 * transactions of BM_BATCH, same pragmas (WAL, synchronous NORMAL or FULL).
 * The peer embeds nothing and checks nothing: it is the floor that storing
 * pays, not an equal competitor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bench_memory.h"

/* ---- libcognition ---- */

void bm_env_open(bm_env *e, bm_store store, const char *path, int many, int dedupe)
{
	memset(e, 0, sizeof(*e));
	cog_storage *st = NULL;
	if (cog_ctx_new(&e->ctx, NULL) != 0)
		bm_die("cog_ctx_new", cog_error_last());
	if (store == BM_IN_MEMORY) {
		if (cog_storage_memory_new(&st) != 0)
			bm_die("cog_storage_memory_new", cog_error_last());
	} else {
		cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
		so.durability = store == BM_SQLITE_FULL ? COG_SQLITE_DURABLE_FULL
		                                        : COG_SQLITE_DURABLE_NORMAL;
		if (cog_sqlite_storage_open(&st, path, &so) != 0)
			bm_die(path, cog_error_last());
		snprintf(e->path, sizeof(e->path), "%s", path);
	}
	if (cog_ctx_set_storage(e->ctx, st) != 0)
		bm_die("cog_ctx_set_storage", cog_error_last());
	e->storage = cog_ctx_storage(e->ctx);
	cog_memory_options mo = COG_MEMORY_OPTIONS_INIT;
	mo.embedder = "hashing";
	mo.dedupe_threshold = dedupe ? 0.0 : 2.0;   /* 0: the default, 0.95 */
	e->mem_count = many ? BM_NS_MANY : 1;
	e->mem = calloc(e->mem_count, sizeof(*e->mem));
	if (!e->mem)
		bm_die("calloc", "out of memory");
	for (size_t i = 0; i < e->mem_count; i++) {
		char ns[64];
		bm_ns_name(ns, sizeof(ns), many, (unsigned int)i);
		if (cog_memory_open_with(&e->mem[i], e->ctx, ns, &mo) != 0)
			bm_die("cog_memory_open_with", cog_error_last());
	}
}

void bm_env_close(bm_env *e)
{
	for (size_t i = 0; i < e->mem_count; i++)
		cog_memory_free(e->mem[i]);
	free(e->mem);
	cog_ctx_free(e->ctx);
	memset(e, 0, sizeof(*e));
}

bm_ingest bm_ingest_cog(bm_env *e, const bm_data *d, int many)
{
	bm_ingest out = { 0, 0, 0 };
	cog_memory_put_options po = COG_MEMORY_PUT_OPTIONS_INIT;
	double c0 = bm_cpu_ms(), t0 = bm_now_ms();
	for (size_t i = 0; i < d->n; i++) {
		if (i % BM_BATCH == 0 && cog_storage_begin(e->storage) != 0)
			bm_die("cog_storage_begin", cog_error_last());
		po.metadata = d->metadata[i];
		cog_memory *m = e->mem[many ? d->ns_many[i] : 0];
		uint64_t id = 0;
		int rc = cog_memory_put(m, d->text[i], &po, &id);
		if (rc < 0)
			bm_die("cog_memory_put", cog_error_last());
		if (rc == COG_MEMORY_MERGED)
			out.merged++;
		if ((i + 1) % BM_BATCH == 0 || i + 1 == d->n) {
			if (cog_storage_commit(e->storage) != 0)
				bm_die("cog_storage_commit", cog_error_last());
		}
	}
	double ms = bm_now_ms() - t0, cpu = bm_cpu_ms() - c0;
	out.per_s = (double)d->n / (ms / 1e3);
	out.per_cpu_s = (double)d->n / (cpu / 1e3);
	return out;
}

/* ---- the peer: plain SQLite ---- */

static void peer_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		bm_die(sql, err ? err : sqlite3_errmsg(db));
}

static sqlite3_stmt *peer_prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
		bm_die(sql, sqlite3_errmsg(db));
	return st;
}

static void peer_step(sqlite3 *db, sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		bm_die("peer insert", sqlite3_errmsg(db));
	sqlite3_reset(st);
}

bm_ingest bm_ingest_peer(const char *path, const bm_data *d, int full)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		bm_die(path, db ? sqlite3_errmsg(db) : "cannot open");
	sqlite3_busy_timeout(db, 5000);
	peer_exec(db, "PRAGMA journal_mode = WAL");
	peer_exec(db, full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
	peer_exec(db, "CREATE TABLE memories (id INTEGER PRIMARY KEY AUTOINCREMENT,"
		" ns TEXT NOT NULL, layer INTEGER NOT NULL, text TEXT NOT NULL,"
		" metadata TEXT NOT NULL DEFAULT '{}', importance REAL NOT NULL DEFAULT 0,"
		" created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
		" expires_at INTEGER, embed_model TEXT NOT NULL DEFAULT '',"
		" dim INTEGER NOT NULL DEFAULT 0, embedding BLOB);"
		"CREATE INDEX memories_ns ON memories (ns);"
		"CREATE VIRTUAL TABLE memories_fts USING fts5(text, content = 'memories',"
		" content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2');");
	sqlite3_stmt *row = peer_prepare(db, "INSERT INTO memories (ns, layer, text,"
		" metadata, importance, created_at, updated_at, embed_model, dim, embedding)"
		" VALUES ('bench/one', 4, ?1, ?2, 0.5, ?3, ?3, 'hash-384', 384, ?4)");
	sqlite3_stmt *fts = peer_prepare(db, "INSERT INTO memories_fts (rowid, text)"
		" VALUES (?1, ?2)");
	float vec[BM_DIM];
	for (int j = 0; j < BM_DIM; j++)
		vec[j] = (float)((j * 7919) % 1000) / 1000.0f - 0.5f;
	double c0 = bm_cpu_ms(), t0 = bm_now_ms();
	for (size_t i = 0; i < d->n; i++) {
		if (i % BM_BATCH == 0)
			peer_exec(db, "BEGIN");
		vec[0] = (float)i;   /* no two rows alike */
		sqlite3_bind_text(row, 1, d->text[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(row, 2, d->metadata[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(row, 3, (sqlite3_int64)bm_realtime_ms());
		sqlite3_bind_blob(row, 4, vec, (int)sizeof(vec), SQLITE_STATIC);
		peer_step(db, row);
		sqlite3_bind_int64(fts, 1, sqlite3_last_insert_rowid(db));
		sqlite3_bind_text(fts, 2, d->text[i], -1, SQLITE_STATIC);
		peer_step(db, fts);
		if ((i + 1) % BM_BATCH == 0 || i + 1 == d->n)
			peer_exec(db, "COMMIT");
	}
	double ms = bm_now_ms() - t0, cpu = bm_cpu_ms() - c0;
	sqlite3_finalize(row);
	sqlite3_finalize(fts);
	sqlite3_close(db);
	bm_ingest out = { (double)d->n / (ms / 1e3), (double)d->n / (cpu / 1e3), 0 };
	return out;
}
