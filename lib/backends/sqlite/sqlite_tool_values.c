/*
 * Values in and out of the sql_query tool's statement: JSON params bound
 * to the placeholders, and result rows converted to JSON. JSON has no
 * blobs and its numbers are doubles to most readers, so blobs (and text
 * that is not UTF-8) travel as {"base64":...} and integers beyond 2^53 as
 * decimal strings. The result is kept under SQL_MAX_OUTPUT by counting
 * each value's JSON size as it is added, not by printing.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sqlite_tool_int.h"

int sqltool_bind(sql_call *c, sqlite3_stmt *stmt, const cJSON *params)
{
	int expected = sqlite3_bind_parameter_count(stmt);
	int given = cJSON_IsArray(params) ? cJSON_GetArraySize(params) : 0;

	if (params != NULL && !cJSON_IsArray(params))
		return cog_error_set(COG_EINVAL, "sql_query: \"params\" must be an "
			"array");
	if (given != expected)
		return cog_error_set(COG_EINVAL, "sql_query: the statement has %d "
			"parameter%s and %d %s given in \"params\"", expected,
			expected == 1 ? "" : "s", given, given == 1 ? "was" : "were");
	int i = 1, rc = SQLITE_OK;
	const cJSON *p;
	cJSON_ArrayForEach(p, params) {
		if (cJSON_IsNull(p)) {
			rc = sqlite3_bind_null(stmt, i);
		} else if (cJSON_IsBool(p)) {
			rc = sqlite3_bind_int(stmt, i, cJSON_IsTrue(p) ? 1 : 0);
		} else if (cJSON_IsNumber(p)) {
			double v = p->valuedouble;
			if (floor(v) == v && fabs(v) <= 9007199254740992.0)
				rc = sqlite3_bind_int64(stmt, i, (sqlite3_int64)v);
			else
				rc = sqlite3_bind_double(stmt, i, v);
		} else if (cJSON_IsString(p)) {
			rc = sqlite3_bind_text(stmt, i, p->valuestring, -1, SQLITE_TRANSIENT);
		} else if (cJSON_IsObject(p) &&
		           cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "base64"))) {
			unsigned char *blob = NULL;
			size_t len = 0;
			const char *text =
				cJSON_GetObjectItemCaseSensitive(p, "base64")->valuestring;
			int d = sqltool_base64_decode(text, &blob, &len);
			if (d == -2)
				return cog_error_set(COG_ENOMEM, "sql_query: out of memory");
			if (d != 0)
				return cog_error_set(COG_EINVAL, "sql_query: params[%d] is not "
					"valid base64", i - 1);
			rc = sqlite3_bind_blob64(stmt, i, blob, len, SQLITE_TRANSIENT);
			cog_free(blob);
		} else {
			return cog_error_set(COG_EINVAL, "sql_query: params[%d] must be "
				"null, a boolean, a number, a string or {\"base64\":...}",
				i - 1);
		}
		if (rc != SQLITE_OK)
			return sqltool_failed(c, rc, "binding params");
		i++;
	}
	return 0;
}

/* One column of the current row as JSON; *size gets its JSON bytes. */
static cJSON *column_value(sqlite3_stmt *stmt, int col, size_t *size)
{
	switch (sqlite3_column_type(stmt, col)) {
	case SQLITE_INTEGER: {
		sqlite3_int64 v = sqlite3_column_int64(stmt, col);
		*size = 24;
		/* Past 2^53 a JSON number (a double to most readers) loses
		 * digits: give those as decimal strings. */
		if (v > 9007199254740992LL || v < -9007199254740992LL) {
			char text[32];
			snprintf(text, sizeof(text), "%lld", (long long)v);
			return cJSON_CreateString(text);
		}
		return cJSON_CreateNumber((double)v);
	}
	case SQLITE_FLOAT: {
		double v = sqlite3_column_double(stmt, col);
		*size = 26;
		return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
	}
	case SQLITE_TEXT: {
		const unsigned char *text = sqlite3_column_text(stmt, col);
		size_t len = (size_t)sqlite3_column_bytes(stmt, col);
		if (text != NULL && sqltool_utf8_ok(text, len)) {
			*size = sqltool_json_string_size(text, len);
			return cJSON_CreateString((const char *)text);
		}
		/* Text that is not UTF-8 comes like a blob. */
	}
	/* FALLTHROUGH */
	case SQLITE_BLOB: {
		const void *blob = sqlite3_column_blob(stmt, col);
		size_t len = (size_t)sqlite3_column_bytes(stmt, col);
		char *b64 = sqltool_base64_encode(blob != NULL ? blob : "",
		                                  blob != NULL ? len : 0);
		cJSON *obj = b64 != NULL ? cJSON_CreateObject() : NULL;
		if (obj != NULL && cJSON_AddStringToObject(obj, "base64", b64) == NULL) {
			cJSON_Delete(obj);
			obj = NULL;
		}
		*size = len / 3 * 4 + 20;
		cog_free(b64);
		return obj;
	}
	default:
		*size = 4;
		return cJSON_CreateNull();
	}
}

int sqltool_rows(sql_call *c, sqlite3_stmt *stmt, int max_rows,
                 cJSON *result)
{
	int ncol = sqlite3_column_count(stmt);
	cJSON *columns = cJSON_AddArrayToObject(result, "columns");
	cJSON *rows = cJSON_AddArrayToObject(result, "rows");
	size_t bytes = 256;
	int count = 0;
	bool truncated = false;

	if (columns == NULL || rows == NULL)
		return cog_error_set(COG_ENOMEM, "sql_query: out of memory");
	for (int i = 0; i < ncol; i++) {
		const char *name = sqlite3_column_name(stmt, i);
		if (name == NULL ||
		    !sqltool_utf8_ok((const unsigned char *)name, strlen(name)))
			name = "?";
		cJSON *item = cJSON_CreateString(name);
		if (item == NULL || !cJSON_AddItemToArray(columns, item)) {
			cJSON_Delete(item);
			return cog_error_set(COG_ENOMEM, "sql_query: out of memory");
		}
		bytes += sqltool_json_string_size((const unsigned char *)name,
		                                  strlen(name)) + 1;
	}
	for (;;) {
		int rc = sqlite3_step(stmt);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW)
			return sqltool_failed(c, rc, "running the statement");
		if (count >= max_rows) {
			truncated = true;
			break;
		}
		cJSON *row = cJSON_CreateArray();
		size_t row_bytes = 3;
		if (row == NULL)
			return cog_error_set(COG_ENOMEM, "sql_query: out of memory");
		for (int i = 0; i < ncol; i++) {
			size_t size = 0;
			cJSON *value = column_value(stmt, i, &size);
			if (value == NULL || !cJSON_AddItemToArray(row, value)) {
				cJSON_Delete(value);
				cJSON_Delete(row);
				return cog_error_set(COG_ENOMEM, "sql_query: out of memory");
			}
			row_bytes += size + 1;
		}
		if (bytes + row_bytes > SQL_MAX_OUTPUT - 1024) {
			cJSON_Delete(row);
			truncated = true;
			break;
		}
		cJSON_AddItemToArray(rows, row);
		bytes += row_bytes;
		count++;
	}
	/* sqlite3_changes64 would need SQLite 3.37; we build with 3.35. */
	int changes = sqlite3_stmt_readonly(stmt) ? 0 : sqlite3_changes(c->db);
	if (cJSON_AddBoolToObject(result, "truncated", truncated) == NULL ||
	    cJSON_AddNumberToObject(result, "changes", (double)changes) == NULL)
		return cog_error_set(COG_ENOMEM, "sql_query: out of memory");
	return 0;
}
