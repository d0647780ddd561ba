/* From SQLite result codes to cog_status and a message that names the
 * operation, the file and what SQLite said. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "sqlite_int.h"

int sqlstore_status(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return COG_OK;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return COG_EBUSY;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return COG_EDENIED;
	case SQLITE_NOMEM:
		return COG_ENOMEM;
	case SQLITE_TOOBIG:
		return COG_ERANGE;
	default:
		/* NOTADB, CORRUPT, IOERR, CANTOPEN, FULL and the rest: the file
		 * or the engine failed, not the caller. */
		return COG_EIO;
	}
}

/* True when path's directory exists but this process may not create
 * files in it. SQLite, refused creation, retries read-only and then reports
 * ENOENT, which hides the real reason. */
static bool directory_not_writable(const char *path, char *dir, size_t cap)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, cap, ".");
	else if (slash == path)
		snprintf(dir, cap, "/");
	else
		snprintf(dir, cap, "%.*s", (int)(slash - path), path);
	return access(dir, F_OK) == 0 && access(dir, W_OK | X_OK) != 0;
}

/* A CANTOPEN caused by file permissions is the caller's business
 * (COG_EDENIED), not an I/O failure. */
static int status_for(sqlite3 *db, int rc)
{
	int status = sqlstore_status(rc);
	if ((rc & 0xff) == SQLITE_CANTOPEN && db) {
		int err = sqlite3_system_errno(db);
		if (err == EACCES || err == EPERM || err == EROFS)
			status = COG_EDENIED;
	}
	return status;
}

static int vfail(sqlite3 *db, int rc, const char *path, const char *fmt,
                 va_list ap)
{
	char what[256];
	vsnprintf(what, sizeof(what), fmt, ap);
	/* Without a connection (failed allocation in sqlite3_open_v2) only
	 * the code's text is known. */
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	int err = db ? sqlite3_system_errno(db) : 0;
	int status = status_for(db, rc);
	if (rc == SQLITE_READONLY_CANTINIT || rc == SQLITE_READONLY_DIRECTORY)
		return cog_error_set(status, "sqlite storage: %s %s: %s (a WAL "
			"database read without write access needs its -wal and -shm "
			"files; open it read-write once, libcognition-sqlite keeps them)",
			what, path, msg);
	char dir[512];
	if ((rc & 0xff) == SQLITE_CANTOPEN && err == ENOENT &&
	    directory_not_writable(path, dir, sizeof(dir)))
		return cog_error_set(COG_EDENIED, "sqlite storage: %s %s: the file "
			"does not exist and directory %s is not writable, so it cannot "
			"be created", what, path, dir);
	if (err && ((rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_IOERR))
		return cog_error_set(status, "sqlite storage: %s %s: %s (%s)",
			what, path, msg, strerror(err));
	return cog_error_set(status, "sqlite storage: %s %s: %s", what, path, msg);
}

int sqlstore_fail(sqlite3 *db, int rc, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int status = vfail(db, rc, path, fmt, ap);
	va_end(ap);
	return status;
}

int sqlstore_stmt_fail(sqlstore *s, sqlite3_stmt *st, int rc,
                       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int status = vfail(s->db, rc, s->path, fmt, ap);
	va_end(ap);
	sqlite3_reset(st);
	return status;
}
