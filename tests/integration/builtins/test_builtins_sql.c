/*
 * sql_query (libcognition-sqlite) through cog_tool_call(), on real SQLite
 * files in the workspace.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cognition/sqlite.h"
#include "test_builtins.h"

static cog_ctx *writer_ctx;      /* sql_query defined writable */

static void exec_sql(const char *dir, const char *name, const char *sql)
{
	char path[PATH_MAX];
	sqlite3 *db = NULL;
	char *err = NULL;

	tb_path(path, dir, name);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK, "%s", err);
	sqlite3_close(db);
}

static long long count_rows(const char *dir, const char *name, const char *table)
{
	char path[PATH_MAX], sql[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	long long n;

	tb_path(path, dir, name);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
	n = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return n;
}

static void sql_setup(void)
{
	tb_setup();
	ck_assert_int_eq(cog_sqlite_define_sql_tool(tb_ctx, 0), 0);
	ck_assert_int_eq(cog_ctx_new(&writer_ctx, NULL), 0);
	ck_assert_int_eq(cog_sqlite_define_sql_tool(writer_ctx,
	                                            COG_SQLITE_TOOL_WRITABLE), 0);
	exec_sql(tb_ws, "app.db",
	         "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, data BLOB, "
	         "score REAL);"
	         "INSERT INTO t VALUES (1, 'one', x'00ff', 1.5);"
	         "INSERT INTO t VALUES (2, 'two', NULL, NULL);"
	         "INSERT INTO t VALUES (3, 'three', NULL, 3);"
	         "INSERT INTO t VALUES (9007199254740993, 'big', NULL, NULL);");
	exec_sql(tb_out, "outside.db",
	         "CREATE TABLE secrets (s TEXT); INSERT INTO secrets VALUES ('x');");
}

static void sql_teardown(void)
{
	cog_ctx_free(writer_ctx);
	writer_ctx = NULL;
	tb_teardown();
}

START_TEST(test_select)
{
	cJSON *r = tb_ok("sql_query", "{\"database\":\"app.db\",\"sql\":"
	                 "\"SELECT id, name, data, score FROM t WHERE id < ?1 "
	                 "ORDER BY id\",\"params\":[3]}", NULL);
	const cJSON *columns = cJSON_GetObjectItem(r, "columns");
	const cJSON *rows = cJSON_GetObjectItem(r, "rows");
	ck_assert_int_eq(cJSON_GetArraySize(columns), 4);
	ck_assert_str_eq(cJSON_GetArrayItem(columns, 1)->valuestring, "name");
	ck_assert_int_eq(cJSON_GetArraySize(rows), 2);
	const cJSON *row = cJSON_GetArrayItem(rows, 0);
	ck_assert_int_eq(cJSON_GetArrayItem(row, 0)->valueint, 1);
	ck_assert_str_eq(cJSON_GetArrayItem(row, 1)->valuestring, "one");
	ck_assert_str_eq(tb_str(cJSON_GetArrayItem(row, 2), "base64"), "AP8=");
	ck_assert(cJSON_GetArrayItem(row, 3)->valuedouble == 1.5);
	ck_assert(cJSON_IsNull(cJSON_GetArrayItem(cJSON_GetArrayItem(rows, 1), 2)));
	ck_assert(!tb_bool(r, "truncated"));
	ck_assert_int_eq((int)tb_num(r, "changes"), 0);
	cJSON_Delete(r);

	/* Integers past 2^53 keep their digits, as strings; blob params. */
	r = tb_ok("sql_query", "{\"database\":\"app.db\",\"sql\":"
	          "\"SELECT id, ?1 FROM t WHERE name = ?2\",\"params\":"
	          "[{\"base64\":\"AAE=\"},\"big\"]}", NULL);
	row = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "rows"), 0);
	ck_assert_str_eq(cJSON_GetArrayItem(row, 0)->valuestring, "9007199254740993");
	ck_assert_str_eq(tb_str(cJSON_GetArrayItem(row, 1), "base64"), "AAE=");
	cJSON_Delete(r);

	/* Rows capped. */
	r = tb_ok("sql_query", "{\"database\":\"app.db\",\"sql\":\"SELECT * FROM t\","
	          "\"max_rows\":2}", NULL);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "rows")), 2);
	ck_assert(tb_bool(r, "truncated"));
	cJSON_Delete(r);

	/* SQLite sees the directory through the fd we opened, not through a
	 * path it would look up again (see sqlite_tool_open.c). */
	r = tb_ok("sql_query", "{\"database\":\"app.db\",\"sql\":"
	          "\"PRAGMA database_list\"}", NULL);
	row = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "rows"), 0);
	ck_assert_msg(strncmp(cJSON_GetArrayItem(row, 2)->valuestring,
	                      "/proc/self/fd/", 14) == 0, "database file %s",
	              cJSON_GetArrayItem(row, 2)->valuestring);
	cJSON_Delete(r);

	/* The result stays within the tool's output limit. */
	char *result = NULL;
	ck_assert_int_eq(tb_call("sql_query", "{\"database\":\"app.db\",\"sql\":"
	                         "\"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT "
	                         "x + 1 FROM c LIMIT 9000) SELECT x, printf('%.300c', "
	                         "'a') FROM c\",\"max_rows\":10000}", NULL, &result), 0);
	ck_assert_uint_le(strlen(result), 1024 * 1024);
	r = cJSON_Parse(result);
	cog_free(result);
	ck_assert(tb_bool(r, "truncated"));
	ck_assert_int_gt(cJSON_GetArraySize(cJSON_GetObjectItem(r, "rows")), 3000);
	cJSON_Delete(r);

	/* Reading PRAGMAs are fine; a trailing comment is not a statement. */
	r = tb_ok("sql_query", "{\"database\":\"app.db\",\"sql\":"
	          "\"PRAGMA table_info(t); -- columns\"}", NULL);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "rows")), 4);
	cJSON_Delete(r);
}
END_TEST

START_TEST(test_read_only_refuses_writes)
{
	tb_fails("sql_query", "{\"database\":\"app.db\",\"sql\":"
	         "\"INSERT INTO t (name) VALUES ('x')\"}", NULL, COG_EDENIED,
	         "denied", "read-only");
	tb_fails("sql_query", "{\"database\":\"app.db\",\"sql\":\"DROP TABLE t\"}",
	         NULL, COG_EDENIED, "denied", "read-only");
	tb_fails("sql_query", "{\"database\":\"app.db\",\"sql\":"
	         "\"PRAGMA query_only = 0\"}", NULL, COG_EDENIED, "denied", "PRAGMA");
	tb_fails("sql_query", "{\"database\":\"app.db\",\"sql\":"
	         "\"PRAGMA writable_schema = 1\"}", NULL, COG_EDENIED, "denied",
	         "PRAGMA");
	ck_assert_int_eq(count_rows(tb_ws, "app.db", "t"), 4);
	/* A missing file is not created by the read-only tool. */
	tb_fails("sql_query", "{\"database\":\"new.db\",\"sql\":\"SELECT 1\"}",
	         NULL, COG_ENOTFOUND, "tool_error", "new.db");
	ck_assert_ptr_null(tb_read(tb_ws, "new.db", NULL));
}
END_TEST

START_TEST(test_writable_allows_writes)
{
	cJSON *r = tb_ok_in(writer_ctx, "sql_query", "{\"database\":\"app.db\","
	                    "\"sql\":\"INSERT INTO t (name) VALUES (?1), (?2)\","
	                    "\"params\":[\"x\",\"y\"]}", NULL);
	ck_assert_int_eq((int)tb_num(r, "changes"), 2);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "columns")), 0);
	cJSON_Delete(r);
	ck_assert_int_eq(count_rows(tb_ws, "app.db", "t"), 6);

	r = tb_ok_in(writer_ctx, "sql_query", "{\"database\":\"sub.db\","
	             "\"sql\":\"CREATE TABLE n (v)\"}", NULL);
	cJSON_Delete(r);
	ck_assert_int_eq(count_rows(tb_ws, "sub.db", "n"), 0);

	r = tb_ok_in(writer_ctx, "sql_query", "{\"database\":\"app.db\","
	             "\"sql\":\"UPDATE t SET name = 'z' WHERE id > 3 RETURNING id\"}",
	             NULL);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "rows")), 3);
	cJSON_Delete(r);
}
END_TEST

START_TEST(test_one_statement_only)
{
	tb_fails("sql_query", "{\"database\":\"app.db\",\"sql\":"
	         "\"SELECT 1; SELECT 2\"}", NULL, COG_EUSER, "tool_error",
	         "exactly one statement");
	tb_fails_in(writer_ctx, "sql_query", "{\"database\":\"app.db\",\"sql\":"
	            "\"SELECT 1; DELETE FROM t\"}", tb_ws, NULL, COG_EUSER,
	            "tool_error", "exactly one statement");
	tb_fails_in(writer_ctx, "sql_query", "{\"database\":\"app.db\",\"sql\":"
	            "\"SELECT 1; garbage\"}", tb_ws, NULL, COG_EUSER,
	            "tool_error", "exactly one statement");
	ck_assert_int_eq(count_rows(tb_ws, "app.db", "t"), 4);
	tb_fails("sql_query", "{\"database\":\"app.db\",\"sql\":\"-- nothing\"}",
	         NULL, COG_EUSER, "tool_error", "no statement");
	tb_fails("sql_query", "{\"database\":\"app.db\",\"sql\":\"SELEC 1\"}",
	         NULL, COG_EUSER, "tool_error", "syntax");
	tb_fails("sql_query", "{\"database\":\"app.db\",\"sql\":\"SELECT ?1, ?2\","
	         "\"params\":[1]}", NULL, COG_EUSER, "tool_error", "2 parameters");
}
END_TEST

START_TEST(test_other_files_unreachable)
{
	char attach[PATH_MAX + 128];
	char outside_db[PATH_MAX];

	tb_path(outside_db, tb_out, "outside.db");
	snprintf(attach, sizeof(attach), "{\"database\":\"app.db\",\"sql\":"
	         "\"ATTACH DATABASE '%s' AS o\"}", outside_db);
	tb_fails("sql_query", attach, NULL, COG_EDENIED, "denied", "ATTACH");
	tb_fails_in(writer_ctx, "sql_query", attach, tb_ws, NULL, COG_EDENIED,
	            "denied", "ATTACH");
	char vacuum[PATH_MAX + 128];
	snprintf(vacuum, sizeof(vacuum), "{\"database\":\"app.db\",\"sql\":"
	         "\"VACUUM INTO '%s/copy.db'\"}", tb_out);
	char *result = NULL;
	int rc = tb_call_in(writer_ctx, "sql_query", vacuum, tb_ws, NULL, &result);
	ck_assert_int_ne(rc, 0);
	cog_free(result);
	ck_assert_ptr_null(tb_read(tb_out, "copy.db", NULL));
	tb_fails("sql_query", "{\"database\":\"app.db\",\"sql\":"
	         "\"SELECT load_extension('x')\"}", NULL, COG_EDENIED, "denied",
	         "load_extension");
}
END_TEST

START_TEST(test_database_path_escapes)
{
	char outside_db[PATH_MAX];

	tb_path(outside_db, tb_out, "outside.db");
	tb_symlink(outside_db, "link.db");
	tb_symlink(tb_out, "outdir");
	tb_fails("sql_query", "{\"database\":\"../outside/outside.db\",\"sql\":"
	         "\"SELECT 1\"}", NULL, COG_EDENIED, "denied", "..");
	char args[PATH_MAX + 64];
	snprintf(args, sizeof(args), "{\"database\":\"%s\",\"sql\":\"SELECT 1\"}",
	         outside_db);
	tb_fails("sql_query", args, NULL, COG_EDENIED, "denied", "absolute");
	tb_fails("sql_query", "{\"database\":\"link.db\",\"sql\":\"SELECT * FROM "
	         "secrets\"}", NULL, COG_EDENIED, "denied", "symlink");
	tb_fails("sql_query", "{\"database\":\"outdir/outside.db\",\"sql\":"
	         "\"SELECT * FROM secrets\"}", NULL, COG_EDENIED, "denied",
	         "leaves the workspace");
	/* A writable tool does not create files through a dangling link. */
	tb_symlink("../outside/created.db", "dangling.db");
	tb_fails_in(writer_ctx, "sql_query", "{\"database\":\"dangling.db\","
	            "\"sql\":\"CREATE TABLE x (v)\"}", tb_ws, NULL, COG_EDENIED,
	            "denied", "symlink");
	ck_assert_ptr_null(tb_read(tb_out, "created.db", NULL));
	/* Nor its journal: a symlinked side file is not followed. */
	tb_symlink("../outside/journal", "app.db-journal");
	char *result = NULL;
	int rc = tb_call_in(writer_ctx, "sql_query", "{\"database\":\"app.db\","
	                    "\"sql\":\"DELETE FROM t\"}", tb_ws, NULL, &result);
	cog_free(result);
	ck_assert_ptr_null(tb_read(tb_out, "journal", NULL));
	(void)rc;
	/* Subdirectories inside are fine. */
	char sub[PATH_MAX];
	tb_path(sub, tb_ws, "data");
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	exec_sql(sub, "in.db", "CREATE TABLE k (v); INSERT INTO k VALUES (7);");
	cJSON *r = tb_ok("sql_query", "{\"database\":\"data/in.db\",\"sql\":"
	                 "\"SELECT v FROM k\"}", NULL);
	cJSON_Delete(r);
	tb_fails_in(tb_ctx, "sql_query", "{\"database\":\"app.db\",\"sql\":"
	            "\"SELECT 1\"}", NULL, NULL, COG_EDENIED, "denied",
	            "no workspace");
}
END_TEST

START_TEST(test_sql_timeout)
{
	char *result = NULL;
	cog_tool_call_options options = COG_TOOL_CALL_OPTIONS_INIT;

	options.workspace = tb_ws;
	options.timeout_ms = 300;
	int rc = cog_tool_call(tb_ctx, "sql_query", "{\"database\":\"app.db\","
	                       "\"sql\":\"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
	                       "SELECT x + 1 FROM c) SELECT count(*) FROM c\"}",
	                       &options, &result);
	ck_assert_int_eq(rc, COG_ETIMEOUT);
	cog_free(result);
	ck_assert_int_eq(cog_sqlite_define_sql_tool(tb_ctx, 0), COG_EEXISTS);
	ck_assert_int_eq(cog_sqlite_define_sql_tool(tb_ctx, 0x80), COG_EINVAL);
}
END_TEST

TCase *tb_sql_tcase(void)
{
	TCase *tc = tcase_create("sql");

	tcase_add_checked_fixture(tc, sql_setup, sql_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_select);
	tcase_add_test(tc, test_read_only_refuses_writes);
	tcase_add_test(tc, test_writable_allows_writes);
	tcase_add_test(tc, test_one_statement_only);
	tcase_add_test(tc, test_other_files_unreachable);
	tcase_add_test(tc, test_database_path_escapes);
	tcase_add_test(tc, test_sql_timeout);
	return tc;
}
