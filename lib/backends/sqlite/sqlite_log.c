/* Logs: append with never-reused sequence numbers, read, truncate. */
#include "sqlite_int.h"

static int bind_name(sqlite3_stmt *st, int i, const char *text)
{
	return sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
}

/* Sequence numbers are stored as SQLite integers (signed 64-bit). */
static int64_t clamp_seq(uint64_t seq)
{
	return seq > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)seq;
}

/* The two statements of an append, inside whatever transaction is open. */
static int append_record(sqlstore *s, const char *log, const char *record,
                         size_t record_len, uint64_t *seq)
{
	sqlite3_stmt *st = s->stmt[STMT_HEAD_NEXT];
	int rc = bind_name(st, 1, log);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return sqlstore_stmt_fail(s, st, rc, "append to log '%s' of", log);
	int64_t next = sqlite3_column_int64(st, 0);
	/* RETURNING: the change is made by the first step; finish it. */
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return sqlstore_stmt_fail(s, st, rc, "append to log '%s' of", log);
	sqlite3_reset(st);

	st = s->stmt[STMT_APPEND];
	rc = bind_name(st, 1, log);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, next);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text64(st, 3, record, record_len, SQLITE_STATIC,
			SQLITE_UTF8);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return sqlstore_stmt_fail(s, st, rc, "append to log '%s' of", log);
	sqlite3_reset(st);
	*seq = (uint64_t)next;
	return COG_OK;
}

/*
 * Taking the number and storing the record must happen together. Outside
 * a transaction they get their own (IMMEDIATE, so that the busy timeout
 * covers the wait for the write lock); inside the caller's, a savepoint, so
 * that a failed append leaves the caller's transaction as it was.
 */
int sqlstore_append(void *self, const char *log, const char *record,
                    size_t record_len, uint64_t *seq)
{
	sqlstore *s = self;
	int lost = sqlstore_check_txn(s, "append to");
	if (lost)
		return lost;
	bool own_txn = sqlite3_get_autocommit(s->db) != 0;
	int rc = sqlstore_run(s, own_txn ? STMT_BEGIN : STMT_SAVEPOINT,
		"append: begin a transaction in");
	if (rc)
		return rc;
	rc = append_record(s, log, record, record_len, seq);
	if (!rc)
		rc = sqlstore_run(s, own_txn ? STMT_COMMIT : STMT_RELEASE,
			"append: commit to");
	if (!rc)
		return COG_OK;
	/* The error is recorded; undo what is left, if SQLite has not already. */
	if (own_txn) {
		if (!sqlite3_get_autocommit(s->db))
			sqlite3_step(s->stmt[STMT_ROLLBACK]);
		sqlite3_reset(s->stmt[STMT_ROLLBACK]);
	} else if (!sqlite3_get_autocommit(s->db)) {
		sqlite3_step(s->stmt[STMT_ROLLBACK_TO]);
		sqlite3_reset(s->stmt[STMT_ROLLBACK_TO]);
		sqlite3_step(s->stmt[STMT_RELEASE]);
		sqlite3_reset(s->stmt[STMT_RELEASE]);
	}
	return rc;
}

int sqlstore_read(void *self, const char *log, uint64_t from_seq, size_t limit,
                  cog_storage_record_fn fn, void *user_data)
{
	sqlstore *s = self;
	sqlite3_stmt *st = s->stmt[STMT_READ];
	/* A negative LIMIT means none to SQLite. */
	int64_t max = limit == 0 || limit > (uint64_t)INT64_MAX ? -1 : (int64_t)limit;
	int rc = bind_name(st, 1, log);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, clamp_seq(from_seq));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 3, max);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	while (rc == SQLITE_ROW) {
		const char *record = (const char *)sqlite3_column_text(st, 1);
		if (!record)
			break; /* out of memory: sqlite3_errcode says so below */
		size_t len = (size_t)sqlite3_column_bytes(st, 1);
		int cb = fn((uint64_t)sqlite3_column_int64(st, 0), record, len, user_data);
		if (cb != 0) {
			sqlite3_reset(st);
			return cb < 0 ? cb : COG_OK;
		}
		rc = sqlite3_step(st);
	}
	if (rc == SQLITE_ROW)
		rc = sqlite3_errcode(s->db) == SQLITE_NOMEM ? SQLITE_NOMEM : SQLITE_CORRUPT;
	if (rc != SQLITE_DONE)
		return sqlstore_stmt_fail(s, st, rc, "read log '%s' of", log);
	sqlite3_reset(st);
	return COG_OK;
}

int sqlstore_truncate(void *self, const char *log, uint64_t before_seq)
{
	sqlstore *s = self;
	int lost = sqlstore_check_txn(s, "truncate a log of");
	if (lost)
		return lost;
	sqlite3_stmt *st = s->stmt[STMT_TRUNCATE];
	int rc = bind_name(st, 1, log);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, clamp_seq(before_seq));
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return sqlstore_stmt_fail(s, st, rc, "truncate log '%s' of", log);
	sqlite3_reset(st);
	return COG_OK;
}
