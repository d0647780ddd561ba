/* Helpers shared by the audit log tests, and main(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "audit_test.h"

void audit_setup(void)
{
	tmp_dir_make("cogaudit");
}

void audit_teardown(void)
{
	tmp_dir_remove();
}

cog_ctx *ctx_open(const char *path, bool full)
{
	cog_ctx_options o = COG_CTX_OPTIONS_INIT;
	o.log_level = COG_LOG_OFF;
	cog_ctx *ctx = NULL;
	ck_assert_cog(cog_ctx_new(&ctx, &o));
	if (path) {
		cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
		so.durability = full ? COG_SQLITE_DURABLE_FULL : COG_SQLITE_DURABLE_NORMAL;
		so.busy_timeout_ms = 30000;
		cog_storage *st = NULL;
		ck_assert_cog(cog_sqlite_storage_open(&st, path, &so));
		ck_assert_cog(cog_ctx_set_storage(ctx, st));
	}
	return ctx;
}

cog_ctx *ctx_open_memory(void)
{
	cog_ctx *ctx = ctx_open(NULL, false);
	cog_storage *st = NULL;
	ck_assert_cog(cog_storage_memory_new(&st));
	ck_assert_cog(cog_ctx_set_storage(ctx, st));
	return ctx;
}

tool_registry *registry_of(cog_ctx *ctx)
{
	tool_registry *reg = NULL;
	ck_assert_cog(tool_registry_get(ctx, &reg));
	return reg;
}

int append_entry(tool_registry *reg, int n, const char *agent)
{
	char text[64], call_id[64], result[64];
	snprintf(text, sizeof(text), "call %d", n);
	snprintf(call_id, sizeof(call_id), "call-%d", n);
	snprintf(result, sizeof(result), "{\"ok\":%d}", n);
	cJSON *args = cJSON_CreateObject();
	if (!args || !cJSON_AddNumberToObject(args, "n", n) ||
	    !cJSON_AddStringToObject(args, "text", text)) {
		cJSON_Delete(args);
		return COG_ENOMEM;
	}
	tool_audit_entry e = {
		.principal = "{\"tenant\":\"acme\",\"id\":\"alice\",\"roles\":[\"analyst\"]}",
		.agent = agent,
		.tool = "echo",
		.call_id = call_id,
		.arguments = args,
		.result = result,
		.result_len = strlen(result),
		.duration_ms = 1.5,
		.outcome = "ok",
		.detail = NULL,
	};
	int rc = tool_audit_append(reg, &e);
	cJSON_Delete(args);
	return rc;
}

void append_range(tool_registry *reg, int from, int to)
{
	for (int n = from; n <= to; n++)
		ck_assert_cog(append_entry(reg, n, "tester"));
}

cJSON *verify_expect(cog_ctx *ctx, int rc)
{
	char *report = NULL;
	int got = cog_audit_verify(ctx, &report);
	ck_assert_msg(got == rc, "cog_audit_verify: %d (%s), expected %d; report %s",
		got, cog_error_last(), rc, report ? report : "(none)");
	ck_assert_msg(report != NULL, "no report");
	cJSON *json = cJSON_Parse(report);
	ck_assert_msg(json != NULL, "report is not JSON: %s", report);
	cog_free(report);
	return json;
}

void expect_intact(cog_ctx *ctx, int entries)
{
	cJSON *r = verify_expect(ctx, 0);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")));
	ck_assert_int_eq((int)cJSON_GetObjectItem(r, "entries")->valuedouble, entries);
	cJSON *head = cJSON_GetObjectItem(r, "head");
	if (entries == 0)
		ck_assert(cJSON_IsNull(head));
	else
		ck_assert(cJSON_IsString(head) && strlen(head->valuestring) == 64);
	cJSON_Delete(r);
}

void expect_problem(cog_ctx *ctx, const char *problem, uint64_t seq)
{
	cJSON *r = verify_expect(ctx, COG_EINTEGRITY);
	char *text = cJSON_PrintUnformatted(r);
	ck_assert_msg(cJSON_IsFalse(cJSON_GetObjectItem(r, "ok")), "%s", text);
	const char *got = cJSON_GetStringValue(cJSON_GetObjectItem(r, "problem"));
	ck_assert_msg(got && strcmp(got, problem) == 0,
		"expected problem %s at %llu, got %s", problem,
		(unsigned long long)seq, text);
	double bad = cJSON_GetNumberValue(cJSON_GetObjectItem(r, "first_bad_seq"));
	ck_assert_msg(bad == (double)seq, "expected first_bad_seq %llu, got %s",
		(unsigned long long)seq, text);
	ck_assert(cJSON_IsString(cJSON_GetObjectItem(r, "detail")));
	ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(r, "entries")));
	/* The thread's error says the same. */
	ck_assert_msg(strstr(cog_error_last(), "audit log: ") == cog_error_last(),
		"%s", cog_error_last());
	ck_assert_int_eq(cog_error_last_code(), COG_EINTEGRITY);
	cJSON_free(text);
	cJSON_Delete(r);
}

static sqlite3 *db_open(const char *path)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	ck_assert_msg(rc == SQLITE_OK, "open %s: %s", path, sqlite3_errmsg(db));
	sqlite3_busy_timeout(db, 10000);
	return db;
}

void db_exec(const char *path, const char *sql)
{
	sqlite3 *db = db_open(path);
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, err ? err : "?");
	ck_assert_msg(sqlite3_changes(db) > 0, "%s changed nothing", sql);
	sqlite3_close(db);
}

char *db_text(const char *path, const char *sql)
{
	sqlite3 *db = db_open(path);
	sqlite3_stmt *st = NULL;
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK,
		"%s: %s", sql, sqlite3_errmsg(db));
	char *out = NULL;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		out = cog_malloc(strlen(text) + 1);
		ck_assert(out != NULL);
		strcpy(out, text);
	} else {
		ck_assert_msg(rc == SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

void db_set_record(const char *path, uint64_t seq, const char *record)
{
	sqlite3 *db = db_open(path);
	sqlite3_stmt *st = NULL;
	ck_assert(sqlite3_prepare_v2(db, "UPDATE logs SET record = ?1 "
		"WHERE log = 'audit' AND seq = ?2", -1, &st, NULL) == SQLITE_OK);
	sqlite3_bind_text(st, 1, record, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
	ck_assert_int_eq(sqlite3_changes(db), 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

char *file_bytes(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	*len = 0;
	if (!f)
		return NULL;
	size_t cap = 1 << 16;
	char *buf = cog_malloc(cap);
	ck_assert(buf != NULL);
	size_t n;
	while ((n = fread(buf + *len, 1, cap - *len, f)) > 0) {
		*len += n;
		if (*len == cap) {
			cap *= 2;
			buf = cog_realloc(buf, cap);
			ck_assert(buf != NULL);
		}
	}
	fclose(f);
	return buf;
}

int main(void)
{
	Suite *s = suite_create("audit");
	add_tamper_tests(s);
	add_other_tests(s);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
