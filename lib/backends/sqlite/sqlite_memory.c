/*
 * Memory records (storage vtable version 2): put and purge over the
 * `memories` table of schema version 2 (sqlite_schema.c), and the atomic
 * sections that keep its FTS5 index `memories_fts` in step with the rows.
 * Queries and deletes are in sqlite_memory_query.c. Arguments arrive
 * validated by the cog_storage wrapper (cognition/storage.h).
 *
 * Embeddings are stored as BLOBs of little-endian float32, dim * 4 bytes.
 */
#include <stdio.h>
#include <string.h>

#include "sqlite_memory_int.h"

#define MEMORY_ID_LIMIT (UINT64_C(1) << 53)  /* ids stay below, per storage.h */

/* ---- atomic sections (see sqlite_memory_int.h) ---- */

int sqlmem_begin(sqlstore *s, bool savepoint, sqlmem_section *section,
                 const char *what)
{
	if (sqlite3_get_autocommit(s->db)) {
		*section = SQLMEM_OWN;
		return sqlstore_run(s, STMT_BEGIN, what);
	}
	*section = savepoint ? SQLMEM_SAVEPOINT : SQLMEM_CALLER;
	return savepoint ? sqlstore_run(s, STMT_SAVEPOINT, what) : COG_OK;
}

/* Step one of the fixed undo statements, keeping the recorded error. */
static void undo_step(sqlstore *s, sqlstore_stmt_id id)
{
	sqlite3_step(s->stmt[id]);
	sqlite3_reset(s->stmt[id]);
}

int sqlmem_end(sqlstore *s, sqlmem_section section, int rc, bool touched)
{
	if (rc == COG_OK && section == SQLMEM_OWN)
		rc = sqlstore_run(s, STMT_COMMIT, "commit a memory change to");
	else if (rc == COG_OK && section == SQLMEM_SAVEPOINT)
		rc = sqlstore_run(s, STMT_RELEASE, "commit a memory change to");
	if (rc == COG_OK)
		return COG_OK;
	/* Undo what SQLite has not undone already. */
	if (sqlite3_get_autocommit(s->db))
		return rc;
	if (section == SQLMEM_OWN) {
		undo_step(s, STMT_ROLLBACK);
	} else if (section == SQLMEM_SAVEPOINT) {
		undo_step(s, STMT_ROLLBACK_TO);
		undo_step(s, STMT_RELEASE);
	} else if (touched) {
		char message[1024];
		snprintf(message, sizeof(message), "%s", cog_error_last());
		undo_step(s, STMT_ROLLBACK);
		return cog_error_set(rc, "%s; the transaction was rolled back, so "
			"that the full-text index stays in step with the memories", message);
	}
	return rc;
}

/* ---- put ---- */

static int bind_record(sqlite3_stmt *st, const cog_storage_memory_record *r,
                       const void *blob, uint32_t dim)
{
	int rc = sqlite3_bind_text(st, 1, r->ns, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, r->layer);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text64(st, 3, r->text, r->text_len, SQLITE_STATIC,
			SQLITE_UTF8);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text64(st, 4, r->metadata, r->metadata_len,
			SQLITE_STATIC, SQLITE_UTF8);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_double(st, 5, r->importance);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 6, r->created_at);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 7, r->updated_at);
	if (rc == SQLITE_OK)
		rc = r->expires_at ? sqlite3_bind_int64(st, 8, r->expires_at) :
			sqlite3_bind_null(st, 8);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 9, r->embed_model ? r->embed_model : "",
			-1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 10, dim);
	if (rc == SQLITE_OK)
		rc = blob ? sqlite3_bind_blob64(st, 11, blob,
			(sqlite3_uint64)dim * 4, SQLITE_STATIC) : sqlite3_bind_null(st, 11);
	return rc;
}

/* The FTS5 row of memory `id`: insert (FTS_INSERT) or take out
 * (FTS_DELETE, given exactly the indexed values). `text` is copied when
 * `copy` (it points into another statement's row). */
static int fts_change(sqlstore *s, sqlstore_stmt_id id_stmt, int64_t id,
                      const char *text, size_t len, bool copy, const char *ns)
{
	sqlite3_stmt *st = s->stmt[id_stmt];
	int rc = sqlite3_bind_int64(st, 1, id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text64(st, 2, text, len,
			copy ? SQLITE_TRANSIENT : SQLITE_STATIC, SQLITE_UTF8);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 3, ns, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return sqlstore_stmt_fail(s, st, rc, "index memory %lld of",
			(long long)id);
	sqlite3_reset(st);
	return COG_OK;
}

static int insert_record(sqlstore *s, cog_storage_memory_record *rec,
                         const void *blob, uint32_t dim, bool *touched)
{
	sqlite3_stmt *st = s->stmt[STMT_MEM_INSERT];
	int rc = bind_record(st, rec, blob, dim);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return sqlstore_stmt_fail(s, st, rc, "put a memory into namespace "
			"'%s' of", rec->ns);
	sqlite3_reset(st);
	*touched = true;
	int64_t id = sqlite3_last_insert_rowid(s->db);
	if (id < 1 || (uint64_t)id >= MEMORY_ID_LIMIT)
		return cog_error_set(COG_ERANGE, "sqlite storage: put a memory into "
			"%s: memory ids have reached 2^53", s->path);
	rc = fts_change(s, STMT_MEM_FTS_INSERT, id, rec->text, rec->text_len,
		false, rec->ns);
	if (rc == COG_OK)
		rc = sqlmem_stats_row(s, rec->ns, id, 1, 1);
	if (rc == COG_OK)
		rec->id = (uint64_t)id;
	return rc;
}

/* Replace in place. The index changes only when the text does (the
 * namespace cannot: the record must be in rec->ns already). */
static int replace_record(sqlstore *s, const cog_storage_memory_record *rec,
                          const void *blob, uint32_t dim, bool *touched)
{
	int64_t id = (int64_t)rec->id;
	sqlite3_stmt *old = s->stmt[STMT_MEM_OLD_TEXT];
	int rc = sqlite3_bind_int64(old, 1, id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(old, 2, rec->ns, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(old);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(old);
		return cog_error_set(COG_ENOTFOUND, "sqlite storage: no memory %llu "
			"in namespace '%s'", (unsigned long long)rec->id, rec->ns);
	}
	if (rc != SQLITE_ROW)
		return sqlstore_stmt_fail(s, old, rc, "replace a memory in");
	const char *text = (const char *)sqlite3_column_text(old, 0);
	size_t len = (size_t)sqlite3_column_bytes(old, 0);
	bool changed = !text || len != rec->text_len ||
		memcmp(text, rec->text, len) != 0;
	rc = COG_OK;
	if (changed) {
		/* A row without text was never indexed: nothing to take out. */
		*touched = true;
		rc = text ? sqlmem_stats_row(s, rec->ns, id, 0, -1) : COG_OK;
		if (rc == COG_OK && text)
			rc = fts_change(s, STMT_MEM_FTS_DELETE, id, text, len, true,
				rec->ns);
	}
	sqlite3_reset(old);
	if (rc)
		return rc;
	sqlite3_stmt *st = s->stmt[STMT_MEM_UPDATE];
	rc = bind_record(st, rec, blob, dim);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 12, id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return sqlstore_stmt_fail(s, st, rc, "replace memory %lld in", (long long)id);
	sqlite3_reset(st);
	*touched = true;
	if (!changed)
		return COG_OK;
	rc = fts_change(s, STMT_MEM_FTS_INSERT, id, rec->text, rec->text_len,
		false, rec->ns);
	return rc ? rc : sqlmem_stats_row(s, rec->ns, id, 0, 1);
}

int sqlstore_mem_put(void *self, cog_storage_memory_record *rec)
{
	sqlstore *s = self;
	int rc = sqlstore_check_txn(s, "put a memory into");
	if (rc)
		return rc;
	if (rec->id >= MEMORY_ID_LIMIT)
		return cog_error_set(COG_ENOTFOUND, "sqlite storage: no memory %llu "
			"in namespace '%s'", (unsigned long long)rec->id, rec->ns);
	uint32_t dim = rec->embedding ? rec->dim : 0;
	const void *blob = dim ? rec->embedding : NULL;
	if (blob && !sqlmem_little_endian()) {
		float *le = sqlmem_scratch(s, dim);
		if (!le)
			return cog_error_set(COG_ENOMEM,
				"sqlite storage: put a memory into %s: out of memory", s->path);
		sqlmem_floats_le(le, rec->embedding, dim);
		blob = le;
	}
	sqlmem_section section;
	rc = sqlmem_begin(s, false, &section, "put a memory into");
	if (rc)
		return rc;
	bool touched = false;
	rc = rec->id == 0 ? insert_record(s, rec, blob, dim, &touched) :
		replace_record(s, rec, blob, dim, &touched);
	return sqlmem_end(s, section, rc, touched);
}

/* ---- purge ---- */

static int run_purge(sqlstore *s, sqlstore_stmt_id id, int64_t now)
{
	sqlite3_stmt *st = s->stmt[id];
	int rc = sqlite3_bind_int64(st, 1, now);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return sqlstore_stmt_fail(s, st, rc, "purge expired memories of");
	sqlite3_reset(st);
	return COG_OK;
}

/* Documents and memories in one transaction (or savepoint). */
int sqlstore_purge_all(void *self, int64_t now, size_t *purged)
{
	sqlstore *s = self;
	*purged = 0;
	int rc = sqlstore_check_txn(s, "purge expired memories of");
	if (rc)
		return rc;
	sqlmem_section section;
	rc = sqlmem_begin(s, true, &section, "purge expired memories of");
	if (rc)
		return rc;
	size_t docs = 0, memories = 0;
	rc = sqlstore_purge_expired(self, now, &docs);
	if (rc == COG_OK)
		rc = sqlmem_stats_purge(s, now);
	if (rc == COG_OK)
		rc = run_purge(s, STMT_MEM_PURGE_FTS, now);
	if (rc == COG_OK && (rc = run_purge(s, STMT_MEM_PURGE, now)) == COG_OK)
		memories = (size_t)sqlite3_changes(s->db);
	rc = sqlmem_end(s, section, rc, true);
	if (rc == COG_OK)
		*purged = docs + memories;
	return rc;
}
