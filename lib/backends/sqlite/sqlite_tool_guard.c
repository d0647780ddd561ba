/*
 * What SQL on the sql_query tool's connection may do. The database in a
 * workspace was possibly written by the model, and the SQL surely was, so
 * the connection reaches no other file: ATTACH and DETACH are refused by
 * the authorizer and by SQLITE_LIMIT_ATTACHED 0 (which also stops VACUUM
 * INTO), extension loading is off, PRAGMAs are limited to a read-only list,
 * the connection is defensive and trusts no schema. A progress handler
 * stops statements at the call's deadline or when the host cancels.
 * And the SQLite errors that come of it, as cog statuses.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sqlite_tool_int.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void sqltool_start_clock(sql_call *c)
{
	c->deadline_ns = mono_ns() + (uint64_t)c->timeout_ms * 1000000u;
}

static int on_progress(void *user_data)
{
	sql_call *c = user_data;

	if (cog_ctx_is_canceled(c->request->ctx)) {
		c->canceled = true;
		return 1;
	}
	if (mono_ns() > c->deadline_ns) {
		c->timed_out = true;
		return 1;
	}
	return 0;
}

static bool name_in(const char *name, const char *const *list, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (strcasecmp(name, list[i]) == 0)
			return true;
	return false;
}

/* PRAGMAs that only read. The first list takes a table or index name as
 * argument; the second reads a setting and is refused when given a value
 * (that would change it). */
static bool pragma_allowed(const char *name, const char *arg)
{
	static const char *const about[] = {
		"table_info", "table_xinfo", "index_list", "index_info",
		"index_xinfo", "foreign_key_list", "foreign_key_check",
		"integrity_check", "quick_check",
	};
	static const char *const readings[] = {
		"database_list", "collation_list", "function_list", "module_list",
		"pragma_list", "table_list", "compile_options", "encoding",
		"user_version", "schema_version", "application_id", "page_count",
		"page_size", "freelist_count", "journal_mode", "foreign_keys",
		"data_version",
	};
	if (name == NULL)
		return false;
	if (name_in(name, about, sizeof(about) / sizeof(about[0])))
		return true;
	return arg == NULL && name_in(name, readings,
	                              sizeof(readings) / sizeof(readings[0]));
}

static int authorize(void *user_data, int action, const char *a,
                     const char *b, const char *db_name, const char *trigger)
{
	sql_call *c = user_data;

	(void)db_name;
	(void)trigger;
	switch (action) {
	case SQLITE_ATTACH:
	case SQLITE_DETACH:
		snprintf(c->denied, sizeof(c->denied), "ATTACH and DETACH are not "
			"allowed: only the database named by \"database\" can be used");
		return SQLITE_DENY;
	case SQLITE_PRAGMA:
		if (pragma_allowed(a, b))
			return SQLITE_OK;
		snprintf(c->denied, sizeof(c->denied), "PRAGMA %.64s%s is not "
			"allowed: only PRAGMAs that read the schema or a setting are",
			a != NULL ? a : "?", b != NULL ? " with a value" : "");
		return SQLITE_DENY;
	case SQLITE_FUNCTION:
		if (b != NULL && strcasecmp(b, "load_extension") == 0) {
			snprintf(c->denied, sizeof(c->denied), "load_extension() is not "
				"allowed");
			return SQLITE_DENY;
		}
		return SQLITE_OK;
	default:
		return SQLITE_OK;
	}
}

/* The status and message for SQLite's error `rc` on the connection. */
int sqltool_failed(sql_call *c, int rc, const char *what)
{
	const char *msg = c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc);
	int primary = rc & 0xff;

	if (primary == SQLITE_INTERRUPT && c->timed_out)
		return cog_error_set(COG_ETIMEOUT, "sql_query: the statement ran past "
			"its time limit of %u ms and was stopped", c->timeout_ms);
	if (primary == SQLITE_INTERRUPT && c->canceled)
		return cog_error_set(COG_ECANCELED, "sql_query: canceled by the host");
	/* The authorizer refused something (SQLite reports that as SQLITE_AUTH,
	 * or as SQLITE_ERROR for functions). */
	if ((primary == SQLITE_AUTH || primary == SQLITE_ERROR) &&
	    c->denied[0] != '\0')
		return cog_error_set(COG_EDENIED, "sql_query: %s", c->denied);
	if (primary == SQLITE_READONLY)
		return cog_error_set(COG_EDENIED, "sql_query: %s: %s (this tool is "
			"read-only)", what, msg);
	int status;
	switch (primary) {
	case SQLITE_ERROR:
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
	case SQLITE_TOOBIG:
		status = COG_EINVAL;      /* the SQL or its values: fixable */
		break;
	default:
		status = sqlstore_status(rc);
		break;
	}
	return cog_error_set(status, "sql_query: %s: %s", what, msg);
}

int sqltool_guard(sql_call *c)
{
	sqlite3_busy_timeout(c->db, c->timeout_ms < 5000 ? (int)c->timeout_ms :
	                     5000);
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	sqlite3_db_config(c->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
	sqlite3_db_config(c->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)NULL);
	sqlite3_limit(c->db, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_limit(c->db, SQLITE_LIMIT_LENGTH, 16 * 1024 * 1024);
	/* Before the authorizer, which refuses PRAGMAs given a value. */
	if (!c->tool->writable) {
		int rc = sqlite3_exec(c->db, "PRAGMA query_only = 1", NULL, NULL,
		                      NULL);
		if (rc != SQLITE_OK)
			return sqltool_failed(c, rc, "PRAGMA query_only");
	}
	sqlite3_set_authorizer(c->db, authorize, c);
	sqlite3_progress_handler(c->db, 1000, on_progress, c);
	return 0;
}
