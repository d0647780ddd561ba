/*
 * A memory query's metadata filter as WHERE terms over the row (alias m):
 * per member, json_type/json_extract on a JSON path built from the key and
 * bound as a parameter, as are the values. Nothing is filtered in C.
 */
#include <cjson/cJSON.h>
#include <string.h>

#include "sqlite_memory_int.h"

static void text_param(sqlmem_stmt *b, const char *text, size_t len, char *owned)
{
	sqlmem_add_param(b, (sqlmem_param){ SQLMEM_TEXT, text, len, 0, NULL, owned });
}

/* A copy of text as a parameter (the original goes before the query runs). */
static void owned_text_param(sqlmem_stmt *b, const char *text)
{
	size_t len = strlen(text);
	char *copy = cog_malloc(len + 1);
	if (!copy) {
		b->oom = true;
		return;
	}
	memcpy(copy, text, len + 1);
	text_param(b, copy, len, copy);
}

/* The JSON path of a metadata member: $."key". SQLite's path syntax has
 * no escapes inside the quotes, and compares the key as it is written in
 * the JSON text, so keys holding '"', '\' or control characters (which
 * JSON text must escape) cannot be expressed: refused. */
static int key_path(sqlmem_stmt *b, const char *key)
{
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		if (*p == '"' || *p == '\\' || *p < 0x20)
			return cog_error_set(COG_EINVAL,
				"sqlite storage: memory filter key \"%s\": keys with "
				"'\"', '\\' or control characters are not supported", key);
	sqlite3_str *path = sqlite3_str_new(NULL);
	sqlite3_str_appendf(path, "$.\"%s\"", key);
	sqlmem_str_param(b, path);
	return COG_OK;
}

static int member(sqlmem_stmt *b, const cJSON *m, const char *filter,
                  size_t filter_len)
{
	sqlite3_str *sql = b->sql;
	sqlite3_str_appendall(sql, cJSON_IsNull(m) ?
		" AND coalesce(json_type(m.metadata, " : " AND json_type(m.metadata, ");
	size_t path = b->count;
	int rc = key_path(b, m->string ? m->string : "");
	if (rc)
		return rc;
	if (cJSON_IsString(m)) {
		sqlite3_str_appendall(sql, ") = 'text' AND json_extract(m.metadata, ");
		sqlmem_placeholder(b, path);
		sqlite3_str_appendall(sql, ") = ");
		owned_text_param(b, m->valuestring);
	} else if (cJSON_IsNumber(m)) {
		/* The filter's own number, as SQLite reads it: integers
		 * beyond 2^53 compare exactly, 1 equals 1.0. */
		sqlite3_str_appendall(sql, ") IN ('integer', 'real') AND"
			" json_extract(m.metadata, ");
		sqlmem_placeholder(b, path);
		sqlite3_str_appendall(sql, ") = json_extract(");
		text_param(b, filter, filter_len, NULL);
		sqlite3_str_appendall(sql, ", ");
		sqlmem_placeholder(b, path);
		sqlite3_str_appendall(sql, ")");
	} else if (cJSON_IsBool(m)) {
		sqlite3_str_appendf(sql, ") = '%s'", cJSON_IsTrue(m) ? "true" : "false");
	} else if (cJSON_IsNull(m)) {
		sqlite3_str_appendall(sql, "), 'null') = 'null'");
	} else {
		return cog_error_set(COG_EINVAL, "sqlite storage: memory filter "
			"member \"%s\" is not a string, number, boolean or null",
			m->string ? m->string : "");
	}
	return COG_OK;
}

int sqlmem_metadata_filter(sqlmem_stmt *b, const char *filter)
{
	size_t len = strlen(filter);
	cJSON *root = cJSON_ParseWithLength(filter, len);
	if (!root || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return cog_error_set(root ? COG_EINVAL : COG_ENOMEM,
			"sqlite storage: memory filter %s", root ?
			"is not a JSON object" : "could not be read (out of memory?)");
	}
	int rc = COG_OK;
	for (const cJSON *m = root->child; m && rc == COG_OK; m = m->next)
		rc = member(b, m, filter, len);
	cJSON_Delete(root);
	return rc;
}

