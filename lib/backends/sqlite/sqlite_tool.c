/*
 * The sql_query tool: one SQL statement on an SQLite database file inside
 * the call's workspace (cog_sqlite_define_sql_tool in sqlite.h). This file
 * defines it and runs a call; the rest is beside it:
 *   sqlite_tool_open.c      opening the file so that it stays beneath the
 *                           workspace, whatever runs there meanwhile;
 *   sqlite_tool_vfs.c       the VFS that keeps the path it opens by;
 *   sqlite_tool_guard.c     what SQL may do on the connection, time limits,
 *                           and SQLite's errors as cog statuses;
 *   sqlite_tool_values.c    params in, rows out, as JSON;
 *   sqlite_tool_encoding.c  UTF-8 checks and base64 for those.
 *
 * Read-only unless defined with COG_SQLITE_TOOL_WRITABLE: the file is
 * opened SQLITE_OPEN_READONLY, with PRAGMA query_only, and a statement that
 * is not sqlite3_stmt_readonly() is refused before it runs (prepare_one).
 *
 * These files use libcognition's public API only, as the rest of the
 * sub-library does.
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "sqlite_tool_int.h"

#define SQL_TOOL_NAME "sql_query"
#define SQL_DEFAULT_ROWS 1000
#define SQL_MAX_ROWS 10000

static sql_tool read_only_tool = { false };
static sql_tool writable_tool = { true };

/* ---- the statement ---- */

static int prepare_one(sql_call *c, const char *sql, sqlite3_stmt **out)
{
	const char *tail = NULL;
	sqlite3_stmt *stmt = NULL, *next = NULL;
	int rc = sqlite3_prepare_v2(c->db, sql, -1, &stmt, &tail);

	*out = NULL;
	if (rc != SQLITE_OK)
		return sqltool_failed(c, rc, "preparing the statement");
	if (stmt == NULL)
		return cog_error_set(COG_EINVAL, "sql_query: \"sql\" holds no "
			"statement");
	/* Whatever follows must be nothing but blanks and comments. */
	if (tail != NULL && tail[0] != '\0') {
		c->denied[0] = '\0';
		rc = sqlite3_prepare_v2(c->db, tail, -1, &next, NULL);
		sqlite3_finalize(next);
		if (rc != SQLITE_OK || next != NULL) {
			sqlite3_finalize(stmt);
			return cog_error_set(COG_EINVAL, "sql_query: \"sql\" must hold "
				"exactly one statement; this one goes on after byte %zu; "
				"send the others in separate calls", (size_t)(tail - sql));
		}
	}
	if (!c->tool->writable && !sqlite3_stmt_readonly(stmt)) {
		sqlite3_finalize(stmt);
		return cog_error_set(COG_EDENIED, "sql_query: this database is "
			"read-only for you, and the statement would write to it; only "
			"SELECT and other reading statements are allowed");
	}
	*out = stmt;
	return 0;
}

/* ---- the runner ---- */

static int sql_query(sql_call *c, const cJSON *args, cJSON *result)
{
	const cJSON *database = cJSON_GetObjectItemCaseSensitive(args, "database");
	const cJSON *sql = cJSON_GetObjectItemCaseSensitive(args, "sql");
	const cJSON *max = cJSON_GetObjectItemCaseSensitive(args, "max_rows");
	int max_rows = SQL_DEFAULT_ROWS;

	if (!cJSON_IsString(database) || !cJSON_IsString(sql))
		return cog_error_set(COG_EINVAL, "sql_query: \"database\" and \"sql\" "
			"must be strings");
	if (max != NULL) {
		double v = cJSON_IsNumber(max) ? max->valuedouble : 0;
		if (!(v >= 1 && v <= SQL_MAX_ROWS) || floor(v) != v)
			return cog_error_set(COG_EINVAL, "sql_query: \"max_rows\" must be "
				"an integer from 1 to %d", SQL_MAX_ROWS);
		max_rows = (int)v;
	}
	int dirfd = -1;
	int rc = sqltool_open(c, database->valuestring, &dirfd);
	sqlite3_stmt *stmt = NULL;
	if (rc == 0)
		rc = prepare_one(c, sql->valuestring, &stmt);
	if (rc == 0)
		rc = sqltool_bind(c, stmt,
		                  cJSON_GetObjectItemCaseSensitive(args, "params"));
	if (rc == 0)
		rc = sqltool_rows(c, stmt, max_rows, result);
	sqlite3_finalize(stmt);
	/* The connection goes before the fd its path runs through. */
	sqlite3_close_v2(c->db);
	c->db = NULL;
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}

static int sql_query_run(const cog_tool_request *request, char **result_json,
                         void *user_data)
{
	sql_call c;
	cJSON *args = cJSON_Parse(request->arguments != NULL ?
	                          request->arguments : "{}");
	cJSON *result = cJSON_CreateObject();
	int rc;

	memset(&c, 0, sizeof(c));
	c.request = request;
	c.tool = user_data;
	c.timeout_ms = request->timeout_ms != 0 ? request->timeout_ms :
	               SQL_DEFAULT_TIMEOUT_MS;
	sqltool_start_clock(&c);
	if (result == NULL)
		rc = cog_error_set(COG_ENOMEM, "sql_query: out of memory");
	else if (!cJSON_IsObject(args))
		rc = cog_error_set(COG_EINVAL, "sql_query: arguments must be a JSON "
			"object");
	else
		rc = sql_query(&c, args, result);
	cJSON_Delete(args);
	if (rc != 0) {
		cJSON_Delete(result);
		return rc;
	}
	/* The result goes to cog_free(): copy it out of cJSON's memory. */
	char *text = cJSON_PrintUnformatted(result);
	cJSON_Delete(result);
	if (text == NULL)
		return cog_error_set(COG_ENOMEM, "sql_query: out of memory");
	size_t len = strlen(text);
	*result_json = cog_malloc(len + 1);
	if (*result_json != NULL)
		memcpy(*result_json, text, len + 1);
	cJSON_free(text);
	return *result_json != NULL ? 0 :
	       cog_error_set(COG_ENOMEM, "sql_query: out of memory");
}

/* ---- defining ---- */

#define SQL_SCHEMA \
	"{\"type\":\"object\",\"properties\":{" \
	"\"database\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4095," \
	"\"description\":\"SQLite database file, relative to the workspace root\"}," \
	"\"sql\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1000000," \
	"\"description\":\"Exactly one SQL statement; put values in ?1, ?2... " \
	"placeholders and give them in params\"}," \
	"\"params\":{\"type\":\"array\",\"maxItems\":999,\"items\":{\"anyOf\":[" \
	"{\"type\":[\"null\",\"boolean\",\"number\",\"string\"]}," \
	"{\"type\":\"object\",\"properties\":{\"base64\":{\"type\":\"string\"}}," \
	"\"required\":[\"base64\"],\"additionalProperties\":false}]}," \
	"\"description\":\"Values of the placeholders, in order; a blob as " \
	"{\\\"base64\\\":\\\"...\\\"}\"}," \
	"\"max_rows\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10000," \
	"\"description\":\"Most rows returned (default 1000)\"}" \
	"},\"required\":[\"database\",\"sql\"],\"additionalProperties\":false}"

#define SQL_DESCRIPTION_RESULT \
	"Returns {\"columns\":[names],\"rows\":[[values]],\"truncated\"," \
	"\"changes\"}: blobs (and text that is not UTF-8) as {\"base64\":...}, " \
	"integers beyond 2^53 as strings; \"truncated\" says rows were left out " \
	"(at most max_rows, about 1 MiB). ATTACH, extensions and PRAGMAs that " \
	"change settings are not allowed."

int cog_sqlite_define_sql_tool(cog_ctx *ctx, unsigned int flags)
{
	cog_tool_options options = COG_TOOL_OPTIONS_INIT;
	bool writable = (flags & COG_SQLITE_TOOL_WRITABLE) != 0;

	if (ctx == NULL)
		return cog_error_set(COG_EINVAL, "cog_sqlite_define_sql_tool: ctx is "
			"NULL");
	if ((flags & ~COG_SQLITE_TOOL_WRITABLE) != 0)
		return cog_error_set(COG_EINVAL, "cog_sqlite_define_sql_tool: unknown "
			"flags 0x%x", flags & ~COG_SQLITE_TOOL_WRITABLE);
	options.name = SQL_TOOL_NAME;
	options.description = writable ?
		"Run one SQL statement (any, writes included) on an SQLite database "
		"file of the workspace; the file is created if missing. "
		SQL_DESCRIPTION_RESULT :
		"Run one reading SQL statement (SELECT, WITH, reading PRAGMAs) on an "
		"SQLite database file of the workspace; writes are refused. "
		SQL_DESCRIPTION_RESULT;
	options.input_schema = SQL_SCHEMA;
	options.flags = writable ? COG_TOOL_SIDE_EFFECTS : COG_TOOL_IDEMPOTENT;
	options.timeout_ms = SQL_DEFAULT_TIMEOUT_MS;
	options.max_output_bytes = SQL_MAX_OUTPUT;
	options.fn = sql_query_run;
	options.user_data = writable ? &writable_tool : &read_only_tool;
	return cog_tool_define(ctx, &options);
}
