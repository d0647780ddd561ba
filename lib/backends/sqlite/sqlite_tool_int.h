/*
 * Private interface of the sql_query tool (sqlite_tool*.c), shared by its
 * files only. Like the rest of libcognition-sqlite it sees libcognition
 * through the public headers alone.
 */
#ifndef COG_SQLITE_TOOL_INT_H
#define COG_SQLITE_TOOL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "cognition/tool.h"
#include "sqlite_int.h"

#define SQL_DEFAULT_TIMEOUT_MS 30000u
#define SQL_MAX_OUTPUT (1024u * 1024u)

/* What the tool was defined as (its user_data). */
typedef struct sql_tool {
	bool writable;
} sql_tool;

/* One call of the tool, from the arguments to the closed connection. */
typedef struct sql_call {
	const cog_tool_request *request;
	const sql_tool *tool;
	sqlite3 *db;
	unsigned int timeout_ms;     /* the request's, or the default */
	uint64_t deadline_ns;        /* CLOCK_MONOTONIC */
	bool timed_out, canceled;
	char denied[256];            /* why the authorizer said no */
} sql_call;

/* ---- the database beneath the workspace (sqlite_tool_open.c) ---- */

/*
 * Open the database file `path` (relative to the call's workspace) as
 * c->db, locked down by sqltool_guard(). *dirfd gets the fd of its
 * directory, or -1: SQLite reaches the file through it, so close it only
 * after c->db, which the caller closes as well when this fails.
 */
int sqltool_open(sql_call *c, const char *path, int *dirfd);

/* ---- the VFS (sqlite_tool_vfs.c) ---- */

/* The name of the VFS that keeps "/proc/self/fd/N/name" paths as they are,
 * registered on first use; NULL when SQLite has no "unix" VFS. */
const char *sqltool_vfs(void);

/* ---- what the connection may do (sqlite_tool_guard.c) ---- */

/* Start the call's clock: c->deadline_ns from c->timeout_ms. */
void sqltool_start_clock(sql_call *c);

/* Make the freshly opened c->db defensive: limits, no extensions, no
 * ATTACH, read-only PRAGMAs, the deadline and cancellation. */
int sqltool_guard(sql_call *c);

/* Set the error for SQLite's `rc` on the connection and return its
 * status, naming `what` was being done. */
int sqltool_failed(sql_call *c, int rc, const char *what);

/* ---- values in and out (sqlite_tool_values.c) ---- */

/* Bind the JSON array `params` (may be NULL) to the placeholders. */
int sqltool_bind(sql_call *c, sqlite3_stmt *stmt, const cJSON *params);

/* Step `stmt` to the end and add "columns", "rows", "truncated" and
 * "changes" to `result`; at most max_rows rows and about SQL_MAX_OUTPUT. */
int sqltool_rows(sql_call *c, sqlite3_stmt *stmt, int max_rows,
                 cJSON *result);

/* ---- encodings (sqlite_tool_encoding.c) ---- */

/* Well-formed UTF-8 without NUL bytes. */
bool sqltool_utf8_ok(const unsigned char *s, size_t len);

/* Padded base64 of data, cog_malloc'd; NULL on OOM. */
char *sqltool_base64_encode(const unsigned char *data, size_t len);

/* Decode padded base64 into a cog_malloc'd *out: 0, -1 when malformed,
 * -2 out of memory. */
int sqltool_base64_decode(const char *text, unsigned char **out,
                          size_t *out_len);

/* JSON bytes of a string value (quotes included). */
size_t sqltool_json_string_size(const unsigned char *s, size_t len);

#endif /* COG_SQLITE_TOOL_INT_H */
