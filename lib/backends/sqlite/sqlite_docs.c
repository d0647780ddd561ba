/* Documents: put, get, delete, prefix scan and expiry. Arguments arrive
 * validated by the cog_storage wrapper (see cognition/storage.h). */
#include <string.h>

#include "sqlite_int.h"

/* Bound strings stay the caller's (SQLITE_STATIC): every statement is reset
 * before the member returns, and rebound in full before its next step. */
static int bind_name(sqlite3_stmt *st, int i, const char *text)
{
	return sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
}

static int bind_bytes(sqlite3_stmt *st, int i, const char *text, size_t len)
{
	return sqlite3_bind_text64(st, i, text, len, SQLITE_STATIC, SQLITE_UTF8);
}

/* 0 ("never") is stored as NULL, which keeps the row out of the expiry
 * index. */
static int bind_expiry(sqlite3_stmt *st, int i, int64_t expires_at)
{
	return expires_at ? sqlite3_bind_int64(st, i, expires_at) :
		sqlite3_bind_null(st, i);
}

int sqlstore_put(void *self, const char *collection, const char *key,
                 const char *value, size_t value_len, int64_t expires_at)
{
	sqlstore *s = self;
	int lost = sqlstore_check_txn(s, "put into");
	if (lost)
		return lost;
	sqlite3_stmt *st = s->stmt[STMT_PUT];
	int rc = bind_name(st, 1, collection);
	if (rc == SQLITE_OK)
		rc = bind_name(st, 2, key);
	if (rc == SQLITE_OK)
		rc = bind_bytes(st, 3, value, value_len);
	if (rc == SQLITE_OK)
		rc = bind_expiry(st, 4, expires_at);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return sqlstore_stmt_fail(s, st, rc, "put into collection '%s' of",
			collection);
	sqlite3_reset(st);
	return COG_OK;
}

/* A copy of column `col` in cog_malloc() memory, NUL-terminated. */
static int copy_column(sqlstore *s, sqlite3_stmt *st, int col, char **out,
                       size_t *out_len, const char *what)
{
	const unsigned char *text = sqlite3_column_text(st, col);
	if (!text)
		return sqlstore_fail(s->db, sqlite3_errcode(s->db) == SQLITE_NOMEM ?
			SQLITE_NOMEM : SQLITE_CORRUPT, s->path, "%s", what);
	size_t len = (size_t)sqlite3_column_bytes(st, col);
	char *copy = cog_malloc(len + 1);
	if (!copy)
		return cog_error_set(COG_ENOMEM, "sqlite storage: %s %s: out of memory",
			what, s->path);
	memcpy(copy, text, len);
	copy[len] = '\0';
	*out = copy;
	*out_len = len;
	return COG_OK;
}

int sqlstore_get(void *self, const char *collection, const char *key,
                 int64_t now, char **value, size_t *value_len)
{
	sqlstore *s = self;
	sqlite3_stmt *st = s->stmt[STMT_GET];
	int rc = bind_name(st, 1, collection);
	if (rc == SQLITE_OK)
		rc = bind_name(st, 2, key);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 3, now);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return cog_error_set(COG_ENOTFOUND,
			"sqlite storage: no document '%s' in collection '%s'", key, collection);
	}
	if (rc != SQLITE_ROW)
		return sqlstore_stmt_fail(s, st, rc, "get from collection '%s' of",
			collection);
	int status = copy_column(s, st, 0, value, value_len, "get from");
	/* Reset at once: a statement left on a row holds a read snapshot,
	 * which hides other connections' commits and blocks checkpoints. */
	sqlite3_reset(st);
	return status;
}

int sqlstore_del(void *self, const char *collection, const char *key)
{
	sqlstore *s = self;
	int lost = sqlstore_check_txn(s, "delete from");
	if (lost)
		return lost;
	sqlite3_stmt *st = s->stmt[STMT_DEL];
	int rc = bind_name(st, 1, collection);
	if (rc == SQLITE_OK)
		rc = bind_name(st, 2, key);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return sqlstore_stmt_fail(s, st, rc, "delete from collection '%s' of",
			collection);
	sqlite3_reset(st);
	if (sqlite3_changes(s->db) == 0)
		return cog_error_set(COG_ENOTFOUND,
			"sqlite storage: no document '%s' in collection '%s'", key, collection);
	return COG_OK;
}

/*
 * The smallest string greater than every string starting with `prefix`:
 * drop trailing 0xFF bytes, then add one to the last byte. False when there
 * is none (empty, or only 0xFF bytes); the scan then has no upper bound.
 * Keys compare bytewise (BINARY collation), so the range
 * [prefix, successor) is exactly the keys with that prefix, and it is
 * answered from the primary key index.
 */
static bool prefix_successor(const char *prefix, char *out, size_t cap)
{
	size_t len = strlen(prefix);
	if (len >= cap)
		return false;
	memcpy(out, prefix, len);
	while (len > 0 && (unsigned char)out[len - 1] == 0xFF)
		len--;
	if (len == 0)
		return false;
	out[len - 1] = (char)((unsigned char)out[len - 1] + 1);
	out[len] = '\0';
	return true;
}

static int bind_scan(sqlite3_stmt *st, bool ranged, const char *collection,
                     const char *prefix, const char *upper, int64_t now)
{
	int rc = bind_name(st, 1, collection);
	if (rc == SQLITE_OK)
		rc = bind_name(st, 2, prefix);
	if (rc == SQLITE_OK && ranged)
		rc = bind_name(st, 3, upper);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, ranged ? 4 : 3, now);
	return rc;
}

int sqlstore_scan(void *self, const char *collection, const char *prefix,
                  int64_t now, cog_storage_doc_fn fn, void *user_data)
{
	sqlstore *s = self;
	char upper[COG_STORAGE_KEY_MAX + 1];
	bool ranged = prefix_successor(prefix, upper, sizeof(upper));
	sqlite3_stmt *st = s->stmt[ranged ? STMT_SCAN_RANGE : STMT_SCAN_FROM];
	int rc = bind_scan(st, ranged, collection, prefix, upper, now);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	while (rc == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		const char *value = (const char *)sqlite3_column_text(st, 1);
		if (!key || !value)
			break; /* out of memory: sqlite3_errcode says so below */
		size_t len = (size_t)sqlite3_column_bytes(st, 1);
		int cb = fn(key, value, len, sqlite3_column_int64(st, 2), user_data);
		if (cb != 0) {
			sqlite3_reset(st);
			return cb < 0 ? cb : COG_OK;
		}
		rc = sqlite3_step(st);
	}
	if (rc == SQLITE_ROW)
		rc = sqlite3_errcode(s->db) == SQLITE_NOMEM ? SQLITE_NOMEM : SQLITE_CORRUPT;
	if (rc != SQLITE_DONE)
		return sqlstore_stmt_fail(s, st, rc, "scan collection '%s' of", collection);
	sqlite3_reset(st);
	return COG_OK;
}

int sqlstore_purge_expired(void *self, int64_t now, size_t *purged)
{
	sqlstore *s = self;
	int lost = sqlstore_check_txn(s, "purge expired documents of");
	if (lost)
		return lost;
	sqlite3_stmt *st = s->stmt[STMT_PURGE];
	int rc = sqlite3_bind_int64(st, 1, now);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return sqlstore_stmt_fail(s, st, rc, "purge expired documents of");
	sqlite3_reset(st);
	*purged = (size_t)sqlite3_changes(s->db);
	return COG_OK;
}
