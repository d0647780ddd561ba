/*
 * The schema and its migrations.
 *
 * PRAGMA user_version holds the schema version of a file. Each migration
 * step takes the schema from version N-1 to N and runs in its own
 * transaction together with the user_version update, so a crash leaves the
 * file at a version that really describes it. To change the schema, append
 * a step (never edit one that has shipped) and raise
 * COG_SQLITE_SCHEMA_VERSION in cognition/sqlite.h.
 */
#include <stdio.h>

#include "sqlite_int.h"

typedef struct migration {
	int version;        /* the version this step produces */
	const char *what;   /* for error messages */
	const char *sql;
} migration;

static const migration migrations[] = {
	{ 1, "documents and logs",
	  /* Documents are looked up by (collection, key) and scanned in key
	   * order, so the primary key is the table (WITHOUT ROWID): one b-tree
	   * search per get. expires_at is NULL for documents that never
	   * expire, which keeps them out of the expiry index. */
	  "CREATE TABLE docs ("
	  " collection TEXT NOT NULL,"
	  " key TEXT NOT NULL,"
	  " value TEXT NOT NULL,"
	  " expires_at INTEGER,"
	  " PRIMARY KEY (collection, key)"
	  ") WITHOUT ROWID;"
	  "CREATE INDEX docs_expiry ON docs (expires_at)"
	  " WHERE expires_at IS NOT NULL;"
	  /* Log records can be large (LLM answers, tool output): an ordinary
	   * rowid table (the primary key becomes a separate index) keeps them
	   * out of the (log, seq) b-tree, whose pages then stay small and
	   * dense. */
	  "CREATE TABLE logs ("
	  " log TEXT NOT NULL,"
	  " seq INTEGER NOT NULL,"
	  " record TEXT NOT NULL,"
	  " PRIMARY KEY (log, seq)"
	  ");"
	  /* The next sequence number per log lives apart from the records so
	   * that truncation never lets a number be handed out twice. */
	  "CREATE TABLE log_heads ("
	  " log TEXT NOT NULL PRIMARY KEY,"
	  " next_seq INTEGER NOT NULL"
	  ") WITHOUT ROWID;" },
	{ 2, "memory records",
	  /* Memory records (storage vtable version 2). AUTOINCREMENT: an id
	   * is never handed out twice, even after the newest is deleted.
	   * Embeddings are little-endian float32, dim * 4 bytes; expires_at is
	   * NULL for never, which keeps the row out of the expiry index. The
	   * namespace index ends in the rowid, as every index does: within a
	   * namespace it is in id order, so a page of a namespace from an id
	   * on is a range of it (sqlite_memory_sql.c). A layer column before
	   * the id would break that order; layers are checked on the row. */
	  "CREATE TABLE memories ("
	  " id INTEGER PRIMARY KEY AUTOINCREMENT,"
	  " ns TEXT NOT NULL,"
	  " layer INTEGER NOT NULL,"
	  " text TEXT NOT NULL,"
	  " metadata TEXT NOT NULL DEFAULT '{}',"
	  " importance REAL NOT NULL DEFAULT 0,"
	  " created_at INTEGER NOT NULL,"
	  " updated_at INTEGER NOT NULL,"
	  " expires_at INTEGER,"
	  " embed_model TEXT NOT NULL DEFAULT '',"
	  " dim INTEGER NOT NULL DEFAULT 0,"
	  " embedding BLOB"
	  ");"
	  "CREATE INDEX memories_ns ON memories (ns);"
	  "CREATE INDEX memories_expiry ON memories (expires_at)"
	  " WHERE expires_at IS NOT NULL;"
	  /* Full-text index over text, with external content (the text is
	   * stored once, in memories). Its second column holds one token per
	   * row, the namespace in hex, so that a search can confine the index
	   * itself to the namespaces it may see. The view gives FTS5 both
	   * columns when it reads content back (rebuild, integrity-check).
	   * No triggers keep it in step: an FTS5 change inside a trigger (or
	   * a savepoint) makes FTS5 write out its pending index data at every
	   * row, which halves the speed of a batch of inserts. The backend
	   * changes memories_fts itself, in the transaction that changes the
	   * rows (sqlite_memory*.c); 'rebuild' restores it from the rows. */
	  "CREATE VIEW memories_fts_content AS"
	  " SELECT id, text, hex(ns) AS ns_tag FROM memories;"
	  "CREATE VIRTUAL TABLE memories_fts USING fts5("
	  " text, ns_tag,"
	  " content = 'memories_fts_content', content_rowid = 'id',"
	  " tokenize = 'unicode61 remove_diacritics 2');"
	  /* Per namespace, its records and their tokens in the text column
	   * (FTS5's count): keyword search scores with the statistics of the
	   * namespaces it names, never of other namespaces' rows. Kept in step
	   * by the backend with the rows (sqlite_memory_stats.c). */
	  "CREATE TABLE memory_ns_stats ("
	  " ns TEXT NOT NULL PRIMARY KEY,"
	  " records INTEGER NOT NULL,"
	  " tokens INTEGER NOT NULL"
	  ") WITHOUT ROWID;" },
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) ==
	COG_SQLITE_SCHEMA_VERSION,
	"one migration step per schema version");

int sqlstore_schema_version(sqlite3 *db, const char *path, int *version)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		int status = sqlstore_fail(db, rc, path, "open");
		sqlite3_finalize(st);
		return status;
	}
	*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return COG_OK;
}

int sqlstore_schema_refuse_foreign(sqlite3 *db, const char *path)
{
	/* A file at user_version 0 is either empty (ours to create) or some
	 * other application's database, which must not be touched. */
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT type, name FROM sqlite_master "
		"WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' LIMIT 1", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(st);
		return COG_OK;
	}
	if (rc != SQLITE_ROW) {
		int status = sqlstore_fail(db, rc, path, "open");
		sqlite3_finalize(st);
		return status;
	}
	int status = cog_error_set(COG_EIO,
		"sqlite storage: open %s: not a libcognition database: it holds %s "
		"'%s' but no libcognition schema (PRAGMA user_version is 0); "
		"refusing to modify another application's database", path,
		(const char *)sqlite3_column_text(st, 0),
		(const char *)sqlite3_column_text(st, 1));
	sqlite3_finalize(st);
	return status;
}

static int exec(sqlite3 *db, const char *path, const char *sql,
                const char *what, int version)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sqlstore_fail(db, rc, path,
			"migrate to schema version %d (%s):", version, what);
	return COG_OK;
}

/* Apply one step unless another connection got there first: the version is
 * read again under the write lock, so two processes opening a new file at
 * the same moment migrate it once. */
static int apply(sqlite3 *db, const char *path, const migration *m)
{
	int rc = exec(db, path, "BEGIN IMMEDIATE", m->what, m->version);
	if (rc)
		return rc;
	int current = 0;
	rc = sqlstore_schema_version(db, path, &current);
	if (!rc && current < m->version) {
		char pragma[64];
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", m->version);
		rc = exec(db, path, m->sql, m->what, m->version);
		if (!rc)
			rc = exec(db, path, pragma, m->what, m->version);
	}
	if (!rc)
		return exec(db, path, "COMMIT", m->what, m->version);
	/* The error is already recorded; a failed rollback changes nothing
	 * the caller could act on, and closing the connection rolls back. */
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int sqlstore_schema_check(int version, const char *path)
{
	if (version > COG_SQLITE_SCHEMA_VERSION)
		return cog_error_set(COG_EIO,
			"sqlite storage: open %s: schema version %d is newer than "
			"this libcognition-sqlite supports (%d); upgrade the library",
			path, version, COG_SQLITE_SCHEMA_VERSION);
	if (version < 0)
		return cog_error_set(COG_EIO,
			"sqlite storage: open %s: invalid schema version %d "
			"(PRAGMA user_version); not a libcognition database",
			path, version);
	return COG_OK;
}

int sqlstore_schema_migrate(sqlite3 *db, const char *path, bool read_only,
                            int *version)
{
	int rc = sqlstore_schema_version(db, path, version);
	if (rc || (rc = sqlstore_schema_check(*version, path)))
		return rc;
	if (*version == COG_SQLITE_SCHEMA_VERSION)
		return COG_OK;
	if (read_only)
		return cog_error_set(COG_EDENIED,
			"sqlite storage: open %s: schema version %d must be migrated "
			"to %d, which a read-only open cannot do; open it once "
			"read-write", path, *version, COG_SQLITE_SCHEMA_VERSION);
	for (size_t i = 0; i < sizeof(migrations) / sizeof(migrations[0]); i++) {
		if (migrations[i].version <= *version)
			continue;
		rc = apply(db, path, &migrations[i]);
		if (rc)
			return rc;
	}
	/* Read back what is in the file rather than trusting the loop: a
	 * newer library may have migrated it further in the meantime. */
	rc = sqlstore_schema_version(db, path, version);
	return rc ? rc : sqlstore_schema_check(*version, path);
}
