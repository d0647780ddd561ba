/*
 * Private interface of libcognition-sqlite. Not installed; the library sees
 * libcognition only through its public headers.
 */
#ifndef COG_SQLITE_INT_H
#define COG_SQLITE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "cognition/sqlite.h"

/* Statements prepared once at open and reset after every use. */
typedef enum sqlstore_stmt_id {
	STMT_PUT,
	STMT_GET,
	STMT_DEL,
	STMT_SCAN_RANGE,     /* prefix with an upper bound */
	STMT_SCAN_FROM,      /* prefix without one (empty, or all 0xFF bytes) */
	STMT_PURGE,
	STMT_HEAD_NEXT,      /* take the next sequence number of a log */
	STMT_APPEND,
	STMT_READ,
	STMT_TRUNCATE,
	STMT_BEGIN,
	STMT_BEGIN_READ,     /* read-only stores: a snapshot, no write lock */
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_SAVEPOINT,
	STMT_RELEASE,
	STMT_ROLLBACK_TO,
	STMT_MEM_INSERT,     /* memory records (sqlite_memory.c) */
	STMT_MEM_OLD_TEXT,
	STMT_MEM_UPDATE,
	STMT_MEM_FTS_INSERT,
	STMT_MEM_FTS_DELETE,
	STMT_MEM_PURGE_FTS,
	STMT_MEM_PURGE,
	STMT_COUNT
} sqlstore_stmt_id;

typedef struct sqlstore {
	sqlite3 *db;
	char *path;          /* as the caller gave it, for messages */
	int durability;      /* cog_sqlite_durability */
	bool read_only;
	bool txn_open;       /* begin() succeeded and no commit/rollback yet */
	int schema_version;
	sqlite3_stmt *stmt[STMT_COUNT];
	struct sqlmem_state *mem;  /* memory queries' statements (sqlite_memory_cache.c) */
} sqlstore;

/* ---- allocator (sqlite_alloc.c) ---- */

/* Route SQLite's memory through cog_malloc, once per process, if SQLite has
 * not been initialised yet. Always succeeds: see the comment inside. */
void sqlstore_alloc_install(void);

/* ---- errors (sqlite_error.c) ---- */

/* The cog_status for an SQLite result code (primary or extended). */
int sqlstore_status(int rc);

/*
 * Set the thread's error from the connection's state and return the mapped
 * status: "sqlite storage: <what> (<path>): <sqlite3_errmsg>". Call it
 * before anything else touches the connection, or the message is lost.
 */
int sqlstore_fail(sqlite3 *db, int rc, const char *path, const char *fmt, ...)
	COG_PRINTF(4, 5);

/* The same for a failed step of `st`: records the message, then resets. */
int sqlstore_stmt_fail(sqlstore *s, sqlite3_stmt *st, int rc,
                       const char *fmt, ...) COG_PRINTF(4, 5);

/* ---- schema (sqlite_schema.c) ---- */

/*
 * Bring the schema of `db` up to COG_SQLITE_SCHEMA_VERSION, one step per
 * transaction. A read-only connection is only checked. *version gets the
 * version found (and left) in the file.
 * Errors: COG_EIO (newer schema, not a database, I/O), COG_EDENIED
 * (read-only and too old), COG_EBUSY.
 */
int sqlstore_schema_migrate(sqlite3 *db, const char *path, bool read_only,
                            int *version);

/* COG_EIO naming the path when `version` is not one this library can use
 * (newer than COG_SQLITE_SCHEMA_VERSION, or negative). */
int sqlstore_schema_check(int version, const char *path);
/* COG_EIO if a file without our schema already holds other tables. */
int sqlstore_schema_refuse_foreign(sqlite3 *db, const char *path);

/* PRAGMA user_version of the main database. */
int sqlstore_schema_version(sqlite3 *db, const char *path, int *version);

/* ---- the vtable members (sqlite_docs.c, sqlite_log.c) ---- */

int sqlstore_put(void *self, const char *collection, const char *key,
                 const char *value, size_t value_len, int64_t expires_at);
int sqlstore_get(void *self, const char *collection, const char *key,
                 int64_t now, char **value, size_t *value_len);
int sqlstore_del(void *self, const char *collection, const char *key);
int sqlstore_scan(void *self, const char *collection, const char *prefix,
                  int64_t now, cog_storage_doc_fn fn, void *user_data);
int sqlstore_purge_expired(void *self, int64_t now, size_t *purged);

int sqlstore_append(void *self, const char *log, const char *record,
                    size_t record_len, uint64_t *seq);
int sqlstore_read(void *self, const char *log, uint64_t from_seq, size_t limit,
                  cog_storage_record_fn fn, void *user_data);
int sqlstore_truncate(void *self, const char *log, uint64_t before_seq);

/* ---- memory records (sqlite_memory*.c) ---- */

int sqlstore_mem_put(void *self, cog_storage_memory_record *rec);
int sqlstore_mem_query(void *self, const cog_storage_memory_query *q,
                       cog_storage_memory_fn fn, void *user_data);
int sqlstore_mem_delete(void *self, const cog_storage_memory_query *q,
                        size_t *deleted);
/* purge_expired of the vtable: expired documents, then expired memories. */
int sqlstore_purge_all(void *self, int64_t now, size_t *purged);
/* Per connection, after the schema: register what memory queries use. */
int sqlstore_mem_setup(sqlstore *s);
/* Finalize the memory statements and free their state (before close). */
void sqlstore_mem_free(sqlstore *s);

/*
 * After SQLITE_FULL, SQLITE_IOERR or SQLITE_NOMEM, SQLite may roll an open
 * transaction back by itself. A write after that would commit on its own,
 * outside the transaction the caller believes is open: refuse it (COG_EIO)
 * until the caller rolls back. Every write member calls this first.
 */
int sqlstore_check_txn(sqlstore *s, const char *what);

/* Step a statement without result rows to completion and reset it. */
int sqlstore_run(sqlstore *s, sqlstore_stmt_id id, const char *what);

#endif /* COG_SQLITE_INT_H */
