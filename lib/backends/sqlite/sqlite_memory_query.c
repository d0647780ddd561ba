/*
 * Memory records: query and delete (storage vtable version 2), and the
 * reading of rows back into records. What comes back from the file is
 * checked, since another program may have written it: damage is COG_EIO
 * naming the memory, never a crash.
 */
#include <stdio.h>
#include <string.h>

#include "sqlite_memory_int.h"

#define MEMORY_ID_LIMIT (UINT64_C(1) << 53)
#define EMBEDDING_DIM_MAX 65536

bool sqlmem_little_endian(void)
{
	const uint16_t one = 1;
	unsigned char first;
	memcpy(&first, &one, 1);
	return first == 1;
}

void sqlmem_floats_le(void *dst, const void *src, size_t n)
{
	if (sqlmem_little_endian()) {
		memcpy(dst, src, n * sizeof(float));
		return;
	}
	/* The same swap takes host order to little-endian and back. */
	const unsigned char *in = src;
	unsigned char *out = dst;
	for (size_t i = 0; i < n * 4; i += 4) {
		out[i] = in[i + 3];
		out[i + 1] = in[i + 2];
		out[i + 2] = in[i + 1];
		out[i + 3] = in[i];
	}
}

/* ---- reading rows ---- */

static int bad_row(sqlstore *s, int64_t id, const char *what)
{
	if (sqlite3_errcode(s->db) == SQLITE_NOMEM)
		return cog_error_set(COG_ENOMEM, "sqlite storage: read memory %lld "
			"of %s: out of memory", (long long)id, s->path);
	return cog_error_set(COG_EIO, "sqlite storage: memory %lld in %s is "
		"damaged: %s", (long long)id, s->path, what);
}

/* Text of column col; NULL in the row is damage, a NULL pointer for a
 * value is SQLite out of memory (bad_row tells which). */
static int text_column(sqlstore *s, sqlite3_stmt *st, int col, int64_t id,
                       const char *name, const char **text, size_t *len)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return bad_row(s, id, name);
	*text = (const char *)sqlite3_column_text(st, col);
	if (!*text)
		return bad_row(s, id, name);
	if (len)
		*len = (size_t)sqlite3_column_bytes(st, col);
	return COG_OK;
}

static int read_embedding(sqlstore *s, sqlite3_stmt *st, int64_t id,
                          cog_storage_memory_record *r)
{
	int64_t dim = sqlite3_column_int64(st, MEMCOL_DIM);
	if (sqlite3_column_type(st, MEMCOL_EMBEDDING) == SQLITE_NULL) {
		if (dim != 0)
			return bad_row(s, id, "dim is set but the embedding is missing");
		return COG_OK;
	}
	const void *blob = sqlite3_column_blob(st, MEMCOL_EMBEDDING);
	int64_t bytes = sqlite3_column_bytes(st, MEMCOL_EMBEDDING);
	if (dim < 1 || dim > EMBEDDING_DIM_MAX || bytes != dim * 4) {
		char what[128];
		snprintf(what, sizeof(what), "its embedding is %lld bytes, not dim "
			"%lld x 4 (1 <= dim <= %d)", (long long)bytes, (long long)dim,
			EMBEDDING_DIM_MAX);
		return bad_row(s, id, what);
	}
	if (!blob)
		return bad_row(s, id, "embedding");
	/* Copied: the blob need not be aligned for floats. */
	float *v = sqlmem_scratch(s, (size_t)dim);
	if (!v)
		return cog_error_set(COG_ENOMEM, "sqlite storage: read memory %lld "
			"of %s: out of memory", (long long)id, s->path);
	sqlmem_floats_le(v, blob, (size_t)dim);
	r->embedding = v;
	r->dim = (uint32_t)dim;
	return COG_OK;
}

static int read_row(sqlstore *s, sqlite3_stmt *st, bool with_embedding,
                    cog_storage_memory_record *r)
{
	memset(r, 0, sizeof(*r));
	int64_t id = sqlite3_column_int64(st, MEMCOL_ID);
	if (id < 1 || (uint64_t)id >= MEMORY_ID_LIMIT)
		return bad_row(s, id, "its id is not within 1..2^53-1");
	r->id = (uint64_t)id;
	int64_t layer = sqlite3_column_int64(st, MEMCOL_LAYER);
	if (layer != 1 && layer != 2 && layer != 4 && layer != 8)
		return bad_row(s, id, "its layer is not one of 1, 2, 4, 8");
	r->layer = (unsigned int)layer;
	int rc = text_column(s, st, MEMCOL_NS, id, "namespace", &r->ns, NULL);
	if (!rc)
		rc = text_column(s, st, MEMCOL_TEXT, id, "text", &r->text, &r->text_len);
	if (!rc)
		rc = text_column(s, st, MEMCOL_METADATA, id, "metadata", &r->metadata,
			&r->metadata_len);
	if (rc)
		return rc;
	r->embed_model = "";
	if (sqlite3_column_type(st, MEMCOL_MODEL) != SQLITE_NULL &&
	    (rc = text_column(s, st, MEMCOL_MODEL, id, "embed_model",
	                      &r->embed_model, NULL)))
		return rc;
	r->importance = sqlite3_column_double(st, MEMCOL_IMPORTANCE);
	r->created_at = sqlite3_column_int64(st, MEMCOL_CREATED);
	r->updated_at = sqlite3_column_int64(st, MEMCOL_UPDATED);
	r->expires_at = sqlite3_column_int64(st, MEMCOL_EXPIRES);
	return with_embedding ? read_embedding(s, st, id, r) : COG_OK;
}

/* ---- query and delete ---- */

/* Prepare (or take from the cache) and bind the statement built in b. */
static int statement(sqlstore *s, sqlmem_stmt *b, sqlite3_stmt **st,
                     const char *what)
{
	int rc = sqlmem_prepare(s, sqlite3_str_value(b->sql), st);
	if (rc)
		return rc;
	rc = sqlmem_bind(*st, b);
	if (rc != SQLITE_OK)
		return sqlstore_stmt_fail(s, *st, rc, "%s", what);
	return COG_OK;
}

static int built(sqlstore *s, int rc, const char *what)
{
	if (rc == COG_ENOMEM)
		return cog_error_set(COG_ENOMEM, "sqlite storage: %s %s: out of memory",
			what, s->path);
	return rc;
}

static int run_query(sqlstore *s, sqlmem_stmt *b, const cog_storage_memory_query *q,
                     cog_storage_memory_fn fn, void *user_data)
{
	static const char what[] = "query memories of";
	sqlite3_stmt *st = NULL;
	int rc = statement(s, b, &st, what);
	if (rc)
		return rc;
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		cog_storage_memory_record r;
		rc = read_row(s, st, q->with_embedding != 0, &r);
		if (rc == COG_OK) {
			double score = q->match ? sqlite3_column_double(st, MEMCOL_SCORE) : 0;
			rc = fn(&r, score, user_data);
		}
		if (rc != COG_OK) {
			sqlite3_reset(st);
			return rc < 0 ? rc : COG_OK;
		}
	}
	if (step != SQLITE_DONE)
		return sqlstore_stmt_fail(s, st, step, what);
	sqlite3_reset(st);
	return COG_OK;
}

int sqlstore_mem_query(void *self, const cog_storage_memory_query *q,
                       cog_storage_memory_fn fn, void *user_data)
{
	sqlstore *s = self;
	sqlmem_stmt b;
	sqlmem_rank *rank = NULL;
	memset(&b, 0, sizeof(b));
	int rc = q->match ? sqlmem_rank_new(s, q, &rank) : COG_OK;
	if (rc == COG_OK)
		rc = built(s, sqlmem_build_select(&b, q, rank), "query memories of");
	if (rc == COG_OK && !b.nothing)
		rc = run_query(s, &b, q, fn, user_data);
	sqlmem_stmt_dispose(&b);
	sqlmem_rank_free(rank);
	return rc;
}

/* The statements of a delete in order; *deleted from the last. */
static int run_delete(sqlstore *s, sqlmem_stmt *const *steps, size_t count,
                      size_t *deleted)
{
	static const char what[] = "delete memories of";
	for (size_t i = 0; i < count; i++) {
		sqlite3_stmt *st = NULL;
		int rc = statement(s, steps[i], &st, what);
		if (rc)
			return rc;
		int step = sqlite3_step(st);
		if (step != SQLITE_DONE)
			return sqlstore_stmt_fail(s, st, step, what);
		sqlite3_reset(st);
	}
	*deleted = (size_t)sqlite3_changes(s->db);
	return COG_OK;
}

int sqlstore_mem_delete(void *self, const cog_storage_memory_query *q,
                        size_t *deleted)
{
	static const char what[] = "delete memories of";
	sqlstore *s = self;
	*deleted = 0;
	int rc = sqlstore_check_txn(s, what);
	if (rc)
		return rc;
	sqlmem_stmt stats, fts, rows;
	memset(&stats, 0, sizeof(stats));
	memset(&fts, 0, sizeof(fts));
	memset(&rows, 0, sizeof(rows));
	sqlmem_stmt *const steps[] = { &stats, &fts, &rows };
	rc = built(s, sqlmem_build_delete(&stats, &fts, &rows, q), what);
	if (rc == COG_OK && !fts.nothing) {
		sqlmem_section section;
		rc = sqlmem_begin(s, true, &section, what);
		if (rc == COG_OK) {
			size_t n = 0;
			rc = sqlmem_end(s, section, run_delete(s, steps, 3, &n), true);
			if (rc == COG_OK)
				*deleted = n;
		}
	}
	sqlmem_stmt_dispose(&stats);
	sqlmem_stmt_dispose(&fts);
	sqlmem_stmt_dispose(&rows);
	return rc;
}
