/*
 * libcognition-sqlite: opening and closing the store, transactions and the
 * description. Documents are in sqlite_docs.c, logs in sqlite_log.c, memory
 * records in sqlite_memory*.c.
 *
 * One store is one sqlite3 connection. The cog_storage wrapper serialises
 * every call, so the connection is opened without SQLite's own per-call
 * mutex (SQLITE_OPEN_NOMUTEX); SQLite must still be built thread-safe,
 * because successive calls may come from different threads.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sqlite_int.h"

#define DEFAULT_BUSY_TIMEOUT_MS 5000u

static const char *const stmt_sql[STMT_COUNT] = {
	[STMT_PUT] =
		"INSERT OR REPLACE INTO docs (collection, key, value, expires_at)"
		" VALUES (?1, ?2, ?3, ?4)",
	[STMT_GET] =
		"SELECT value FROM docs WHERE collection = ?1 AND key = ?2"
		" AND (expires_at IS NULL OR expires_at > ?3)",
	[STMT_DEL] =
		"DELETE FROM docs WHERE collection = ?1 AND key = ?2",
	[STMT_SCAN_RANGE] =
		"SELECT key, value, expires_at FROM docs"
		" WHERE collection = ?1 AND key >= ?2 AND key < ?3"
		" AND (expires_at IS NULL OR expires_at > ?4) ORDER BY key",
	[STMT_SCAN_FROM] =
		"SELECT key, value, expires_at FROM docs"
		" WHERE collection = ?1 AND key >= ?2"
		" AND (expires_at IS NULL OR expires_at > ?3) ORDER BY key",
	[STMT_PURGE] =
		"DELETE FROM docs WHERE expires_at IS NOT NULL AND expires_at <= ?1",
	[STMT_HEAD_NEXT] =
		"INSERT INTO log_heads (log, next_seq) VALUES (?1, 2)"
		" ON CONFLICT (log) DO UPDATE SET next_seq = next_seq + 1"
		" RETURNING next_seq - 1",
	[STMT_APPEND] =
		"INSERT INTO logs (log, seq, record) VALUES (?1, ?2, ?3)",
	[STMT_READ] =
		"SELECT seq, record FROM logs WHERE log = ?1 AND seq >= ?2"
		" ORDER BY seq LIMIT ?3",
	[STMT_TRUNCATE] =
		"DELETE FROM logs WHERE log = ?1 AND seq < ?2",
	/* IMMEDIATE takes the write lock at once: a deferred transaction that
	 * reads first and writes later can fail with SQLITE_BUSY halfway
	 * through, which the busy timeout cannot cure. */
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STMT_BEGIN_READ] = "BEGIN",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
	[STMT_SAVEPOINT] = "SAVEPOINT cog_append",
	[STMT_RELEASE] = "RELEASE cog_append",
	[STMT_ROLLBACK_TO] = "ROLLBACK TO cog_append",
	[STMT_MEM_INSERT] =
		"INSERT INTO memories (ns, layer, text, metadata, importance,"
		" created_at, updated_at, expires_at, embed_model, dim, embedding)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[STMT_MEM_OLD_TEXT] =
		"SELECT text FROM memories WHERE id = ?1 AND ns = ?2",
	[STMT_MEM_UPDATE] =
		"UPDATE memories SET layer = ?2, text = ?3, metadata = ?4,"
		" importance = ?5, created_at = ?6, updated_at = ?7, expires_at = ?8,"
		" embed_model = ?9, dim = ?10, embedding = ?11"
		" WHERE id = ?12 AND ns = ?1",
	/* The FTS index is kept in step by these, not by triggers: see the
	 * schema (sqlite_schema.c). */
	[STMT_MEM_FTS_INSERT] =
		"INSERT INTO memories_fts (rowid, text, ns_tag)"
		" VALUES (?1, ?2, hex(?3))",
	[STMT_MEM_FTS_DELETE] =
		"INSERT INTO memories_fts (memories_fts, rowid, text, ns_tag)"
		" VALUES ('delete', ?1, ?2, hex(?3))",
	[STMT_MEM_PURGE_FTS] =
		"INSERT INTO memories_fts (memories_fts, rowid, text, ns_tag)"
		" SELECT 'delete', id, text, hex(ns) FROM memories"
		" WHERE expires_at IS NOT NULL AND expires_at <= ?1",
	[STMT_MEM_PURGE] =
		"DELETE FROM memories WHERE expires_at IS NOT NULL AND expires_at <= ?1",
};

int cog_sqlite_options_init(cog_sqlite_options *options, unsigned int version)
{
	if (!options)
		return cog_error_set(COG_EINVAL, "cog_sqlite_options_init: options is NULL");
	if (version == 0 || version > COG_SQLITE_OPTIONS_VERSION)
		return cog_error_set(COG_EVERSION,
			"cog_sqlite_options_init: version %u is not supported (1..%u)",
			version, COG_SQLITE_OPTIONS_VERSION);
	cog_sqlite_options defaults = COG_SQLITE_OPTIONS_INIT;
	*options = defaults;
	options->version = version;
	return COG_OK;
}

int sqlstore_check_txn(sqlstore *s, const char *what)
{
	if (s->txn_open && sqlite3_get_autocommit(s->db))
		return cog_error_set(COG_EIO,
			"sqlite storage: %s %s: the transaction was rolled back after "
			"an earlier error; roll back and start again", what, s->path);
	return COG_OK;
}

int sqlstore_run(sqlstore *s, sqlstore_stmt_id id, const char *what)
{
	sqlite3_stmt *st = s->stmt[id];
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return sqlstore_stmt_fail(s, st, rc, "%s", what);
	sqlite3_reset(st);
	return COG_OK;
}

/* ---- transactions ---- */

static int store_begin(void *self)
{
	sqlstore *s = self;
	if (!sqlite3_get_autocommit(s->db))
		return cog_error_set(COG_EBUSY,
			"sqlite storage: begin %s: a transaction is already open", s->path);
	int rc = sqlstore_run(s, s->read_only ? STMT_BEGIN_READ : STMT_BEGIN,
		"begin a transaction in");
	s->txn_open = rc == COG_OK;
	return rc;
}

static int store_commit(void *self)
{
	sqlstore *s = self;
	if (sqlite3_get_autocommit(s->db)) {
		/* SQLite rolls a transaction back by itself after some errors
		 * (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM). Committing it now
		 * must not look like success. txn_open stays set: the rollback
		 * that follows a failed commit then succeeds quietly and keeps
		 * this message. */
		return cog_error_set(s->txn_open ? COG_EIO : COG_EINVAL,
			"sqlite storage: commit %s: %s", s->path, s->txn_open ?
			"the transaction was rolled back after an earlier error" :
			"no transaction is open");
	}
	int rc = sqlstore_run(s, STMT_COMMIT, "commit to");
	if (rc == COG_OK)
		s->txn_open = false;
	return rc;
}

static int store_rollback(void *self)
{
	sqlstore *s = self;
	bool was_open = s->txn_open;
	s->txn_open = false;
	if (sqlite3_get_autocommit(s->db)) {
		/* Already rolled back by SQLite (see store_commit): the caller
		 * gets what it asked for. */
		return was_open ? COG_OK : cog_error_set(COG_EINVAL,
			"sqlite storage: rollback %s: no transaction is open", s->path);
	}
	return sqlstore_run(s, STMT_ROLLBACK, "roll back in");
}

/* ---- describe ---- */

/* Append `text` as a JSON string literal (quotes included) to out[*len..],
 * stopping at cap; returns false when it does not fit. Bytes >= 0x80 pass
 * through: SQLite paths and version strings are UTF-8 in practice. */
static bool put_json_string(char *out, size_t cap, size_t *len, const char *text)
{
	size_t n = *len;
	if (n + 1 >= cap)
		return false;
	out[n++] = '"';
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (n + 7 >= cap)
			return false;
		if (*p == '"' || *p == '\\') {
			out[n++] = '\\';
			out[n++] = (char)*p;
		} else if (*p < 0x20) {
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", *p);
		} else {
			out[n++] = (char)*p;
		}
	}
	out[n++] = '"';
	out[n] = '\0';
	*len = n;
	return true;
}

/* Query a pragma that returns one row: its text into buf. */
static int pragma_text(sqlstore *s, const char *pragma, char *buf, size_t cap)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, pragma, -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		int status = sqlstore_fail(s->db, rc, s->path, "describe (%s)", pragma);
		sqlite3_finalize(st);
		return status;
	}
	const unsigned char *text = sqlite3_column_text(st, 0);
	snprintf(buf, cap, "%s", text ? (const char *)text : "");
	sqlite3_finalize(st);
	return COG_OK;
}

static const char *synchronous_name(const char *level)
{
	static const char *const names[] = { "off", "normal", "full", "extra" };
	int n = level[0] - '0';
	return level[1] == '\0' && n >= 0 && n <= 3 ? names[n] : level;
}

static int store_describe(void *self, char **json)
{
	sqlstore *s = self;
	char journal[32], sync[32];
	int rc = pragma_text(s, "PRAGMA journal_mode", journal, sizeof(journal));
	if (!rc)
		rc = pragma_text(s, "PRAGMA synchronous", sync, sizeof(sync));
	if (rc)
		return rc;
	/* The path is the only unbounded part; escaping can grow it 6-fold. */
	size_t cap = strlen(s->path) * 6 + 1024, len = 0;
	char *out = cog_malloc(cap);
	if (!out)
		return cog_error_set(COG_ENOMEM, "sqlite storage: describe: out of memory");
	len = (size_t)snprintf(out, cap, "{\"backend\":\"sqlite\",\"path\":");
	put_json_string(out, cap, &len, s->path);
	len += (size_t)snprintf(out + len, cap - len,
		",\"schema_version\":%d,\"durability\":\"%s\",\"synchronous\":",
		s->schema_version,
		s->durability == COG_SQLITE_DURABLE_NORMAL ? "normal" : "full");
	put_json_string(out, cap, &len, synchronous_name(sync));
	len += (size_t)snprintf(out + len, cap - len,
		",\"journal_mode\":");
	put_json_string(out, cap, &len, journal);
	len += (size_t)snprintf(out + len, cap - len,
		",\"read_only\":%s,\"sqlite_version\":",
		s->read_only ? "true" : "false");
	put_json_string(out, cap, &len, sqlite3_libversion());
	snprintf(out + len, cap - len, "}");
	*json = out;
	return COG_OK;
}

/* ---- open and close ---- */

static void finalize_all(sqlstore *s)
{
	for (int i = 0; i < STMT_COUNT; i++) {
		sqlite3_finalize(s->stmt[i]);
		s->stmt[i] = NULL;
	}
}

/* optimize: the store was fully open (not a failed open, where the file may
 * not even be a database). */
static void store_free(sqlstore *s, bool optimize)
{
	if (!s)
		return;
	sqlstore_mem_free(s);
	finalize_all(s);
	if (optimize && !s->read_only) {
		/* SQLite's advice for long-lived connections: refresh the
		 * planner's statistics where they went stale. Failures change
		 * nothing for the caller, so closing never waits for another
		 * writer's lock to do it. */
		sqlite3_busy_timeout(s->db, 0);
		sqlite3_exec(s->db, "PRAGMA optimize", NULL, NULL, NULL);
	}
	/* Every statement is finalized, so close cannot be refused; it also
	 * rolls back a transaction that is still open. */
	sqlite3_close(s->db);
	cog_free(s->path);
	cog_free(s);
}

static void store_close(void *self)
{
	store_free(self, true);
}

static int prepare_all(sqlstore *s)
{
	for (int i = 0; i < STMT_COUNT; i++) {
		int rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1,
			SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL);
		if (rc != SQLITE_OK)
			return sqlstore_fail(s->db, rc, s->path, "prepare statements for");
	}
	return COG_OK;
}

static int check_options(const cog_sqlite_options *o, const char *path)
{
	if (o->version == 0 || o->version > COG_SQLITE_OPTIONS_VERSION)
		return cog_error_set(COG_EVERSION,
			"cog_sqlite_storage_open: options version %u is not supported (1..%u)",
			o->version, COG_SQLITE_OPTIONS_VERSION);
	if (o->durability != COG_SQLITE_DURABLE_FULL &&
	    o->durability != COG_SQLITE_DURABLE_NORMAL)
		return cog_error_set(COG_EINVAL,
			"cog_sqlite_storage_open: durability %d is not one of "
			"COG_SQLITE_DURABLE_FULL (0) or COG_SQLITE_DURABLE_NORMAL (1)",
			o->durability);
	if (o->busy_timeout_ms > INT_MAX)
		return cog_error_set(COG_EINVAL,
			"cog_sqlite_storage_open: busy_timeout_ms %u is too large (at most %d)",
			o->busy_timeout_ms, INT_MAX);
	if (o->read_only && strcmp(path, ":memory:") == 0)
		return cog_error_set(COG_EINVAL,
			"cog_sqlite_storage_open: a read-only \":memory:\" database "
			"would always be empty");
	return COG_OK;
}

static int open_connection(sqlstore *s, const cog_sqlite_options *o)
{
	int flags = SQLITE_OPEN_NOMUTEX;
	if (o->read_only)
		flags |= SQLITE_OPEN_READONLY;
	else
		flags |= SQLITE_OPEN_READWRITE | (o->create ? SQLITE_OPEN_CREATE : 0);
	int rc = sqlite3_open_v2(s->path, &s->db, flags, NULL);
	if (rc != SQLITE_OK)
		return sqlstore_fail(s->db, rc, s->path, "open");
	sqlite3_extended_result_codes(s->db, 1);
	/* SQLite falls back to read-only when the file is not writable. Fail
	 * now with a clear reason rather than on the first write. */
	if (!o->read_only && sqlite3_db_readonly(s->db, "main") == 1)
		return cog_error_set(COG_EDENIED,
			"sqlite storage: open %s: the file is read-only; "
			"set read_only in cog_sqlite_options to open it for reading",
			s->path);
	rc = sqlite3_busy_timeout(s->db, (int)(o->busy_timeout_ms ?
		o->busy_timeout_ms : DEFAULT_BUSY_TIMEOUT_MS));
	if (rc != SQLITE_OK)
		return sqlstore_fail(s->db, rc, s->path, "set the busy timeout of");
	return COG_OK;
}

static int exec_pragma(sqlstore *s, const char *sql)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sqlstore_fail(s->db, rc, s->path, "open (%s)", sql);
	return COG_OK;
}

/* WAL lets readers in other connections and processes proceed while one
 * writer commits, and needs one fsync per commit instead of two. */
static int enable_wal(sqlstore *s, unsigned int busy_timeout_ms)
{
	char mode[32];
	/* Switching needs an exclusive lock, and SQLite does not call the busy
	 * handler for it when another connection is opening the same new file
	 * at the same moment: wait for it here, up to the busy timeout. */
	int rc;
	for (unsigned int waited = 0;; waited += 5) {
		rc = pragma_text(s, "PRAGMA journal_mode = WAL", mode, sizeof(mode));
		if (rc != COG_EBUSY || waited >= busy_timeout_ms)
			break;
		struct timespec pause = { 0, 5 * 1000000L };
		nanosleep(&pause, NULL);
	}
	if (rc)
		return rc;
	bool memory = strcmp(s->path, ":memory:") == 0;
	if (strcmp(mode, "wal") != 0 && !(memory && strcmp(mode, "memory") == 0))
		return cog_error_set(COG_EIO,
			"sqlite storage: open %s: cannot switch to WAL mode (journal "
			"mode stays \"%s\"; is the file on a network file system?)",
			s->path, mode);
	return COG_OK;
}

/*
 * A WAL database can only be read where its -wal and -shm files exist or
 * can be created. SQLite deletes both when the last connection closes,
 * which would make the file unreadable from a read-only directory or
 * medium. Keeping them (PERSIST_WAL) avoids that; journal_size_limit makes
 * SQLite truncate the kept -wal to zero bytes on close and bounds its size
 * between checkpoints.
 */
static int keep_wal_files(sqlstore *s)
{
	if (strcmp(s->path, ":memory:") == 0)
		return COG_OK;
	int persist = 1;
	int rc = sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	if (rc != SQLITE_OK)
		return sqlstore_fail(s->db, rc, s->path, "open (keep the WAL files of)");
	return exec_pragma(s, "PRAGMA journal_size_limit = 67108864");
}

/* The schema version and the foreign-table check in one read transaction:
 * another process may be migrating the new file at this very moment, and
 * its tables must not be seen without its user_version. */
static int read_schema(sqlstore *s)
{
	int rc = exec_pragma(s, "BEGIN");
	if (rc)
		return rc;
	rc = sqlstore_schema_version(s->db, s->path, &s->schema_version);
	if (!rc)
		rc = sqlstore_schema_check(s->schema_version, s->path);
	if (!rc && s->schema_version == 0)
		rc = sqlstore_schema_refuse_foreign(s->db, s->path);
	sqlite3_exec(s->db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
	return rc;
}

/* Order matters: the first statements only read, so that a file which is
 * not a database, or has a newer schema, is refused without a byte of it
 * being written. */
static int setup(sqlstore *s, const cog_sqlite_options *o)
{
	int rc = open_connection(s, o);
	if (rc || (rc = read_schema(s)))
		return rc;
	unsigned int busy_ms = o->busy_timeout_ms ? o->busy_timeout_ms : DEFAULT_BUSY_TIMEOUT_MS;
	if (!o->read_only && (rc = enable_wal(s, busy_ms)))
		return rc;
	if (!o->read_only && (rc = keep_wal_files(s)))
		return rc;
	rc = exec_pragma(s, o->durability == COG_SQLITE_DURABLE_NORMAL ?
		"PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL");
	if (!rc)
		rc = exec_pragma(s, "PRAGMA foreign_keys = ON");
	if (!rc)
		rc = sqlstore_schema_migrate(s->db, s->path, o->read_only,
			&s->schema_version);
	if (!rc)
		rc = prepare_all(s);
	return rc ? rc : sqlstore_mem_setup(s);
}

static int make_storage(cog_storage **out, sqlstore *s)
{
	cog_storage_vtable vt;
	int rc = cog_storage_vtable_init(&vt, COG_STORAGE_VTABLE_VERSION);
	if (rc) {
		store_free(s, false);
		return rc;
	}
	vt.self = s;
	vt.close = store_close;
	vt.put = sqlstore_put;
	vt.get = sqlstore_get;
	vt.del = sqlstore_del;
	vt.scan = sqlstore_scan;
	vt.append = sqlstore_append;
	vt.read = sqlstore_read;
	vt.begin = store_begin;
	vt.commit = store_commit;
	vt.rollback = store_rollback;
	vt.purge_expired = sqlstore_purge_all;
	vt.truncate = sqlstore_truncate;
	vt.describe = store_describe;
	vt.mem_put = sqlstore_mem_put;
	vt.mem_query = sqlstore_mem_query;
	vt.mem_delete = sqlstore_mem_delete;
	/* From here on the wrapper owns s and closes it on failure. */
	return cog_storage_new(out, &vt);
}

int cog_sqlite_storage_open(cog_storage **out, const char *path,
                            const cog_sqlite_options *options)
{
	static const char fn[] = "cog_sqlite_storage_open";
	cog_sqlite_options defaults = COG_SQLITE_OPTIONS_INIT;
	const cog_sqlite_options *o = options ? options : &defaults;
	if (!out)
		return cog_error_set(COG_EINVAL, "%s: out is NULL", fn);
	*out = NULL;
	if (!path || !*path)
		return cog_error_set(COG_EINVAL, "%s: path is %s", fn, path ? "empty" : "NULL");
	int rc = check_options(o, path);
	if (rc)
		return rc;
	if (!sqlite3_threadsafe())
		return cog_error_set(COG_EIO,
			"%s: the SQLite library was built without thread support "
			"(SQLITE_THREADSAFE=0)", fn);
	sqlstore_alloc_install();

	sqlstore *s = cog_malloc(sizeof(*s));
	size_t path_len = strlen(path);
	char *path_copy = cog_malloc(path_len + 1);
	if (!s || !path_copy) {
		cog_free(s);
		cog_free(path_copy);
		return cog_error_set(COG_ENOMEM, "%s: out of memory", fn);
	}
	memset(s, 0, sizeof(*s));
	memcpy(path_copy, path, path_len + 1);
	s->path = path_copy;
	s->durability = o->durability;
	s->read_only = o->read_only != 0;
	rc = setup(s, o);
	if (rc) {
		store_free(s, false);
		return rc;
	}
	return make_storage(out, s);
}
