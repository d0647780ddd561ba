/*
 * The SQL of a memory query or delete.
 *
 * Every condition of cog_storage_memory_query is a WHERE term over the
 * `memories` row, values bound as parameters: the namespaces (ns IN (...),
 * answered from the (ns, layer, id) index), layers, expiry, the time
 * bounds, ids, and each metadata filter member (json_type/json_extract on a
 * JSON path built from the key and bound too). Nothing is filtered in C.
 *
 * Keyword search drives the join from the FTS5 index: the MATCH expression
 * ANDs the namespaces' tokens in the ns_tag column (hex of the namespace,
 * one token each) with the words, confined to the text column, so that the
 * index visits only the namespace's own postings; the ns IN (...) term on
 * the joined row stays as the authority.
 */
#include <cjson/cJSON.h>
#include <string.h>

#include "sqlite_memory_int.h"

#define MEMORY_COLUMNS "m.id, m.ns, m.layer, m.text, m.metadata, " \
	"m.importance, m.created_at, m.updated_at, m.expires_at, " \
	"m.embed_model, m.dim, "

static void add_param(sqlmem_stmt *b, sqlmem_param p)
{
	if (b->count == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		sqlmem_param *bigger = cog_realloc(b->params, cap * sizeof(*bigger));
		if (!bigger) {
			cog_free(p.owned);
			b->oom = true;
			return;
		}
		b->params = bigger;
		b->cap = cap;
	}
	b->params[b->count++] = p;
}

static void text_param(sqlmem_stmt *b, const char *text, size_t len, char *owned)
{
	add_param(b, (sqlmem_param){ SQLMEM_TEXT, text, len, 0, owned });
}

static void int_param(sqlmem_stmt *b, int64_t value)
{
	add_param(b, (sqlmem_param){ SQLMEM_INT, NULL, 0, value, NULL });
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

/* Take the finished text of str as an owned text parameter. */
static void str_param(sqlmem_stmt *b, sqlite3_str *str)
{
	int len = sqlite3_str_length(str);
	int err = sqlite3_str_errcode(str);
	char *text = sqlite3_str_finish(str);
	if (err != SQLITE_OK || !text) {
		sqlite3_free(text);
		b->oom = true;
		return;
	}
	char *copy = cog_malloc((size_t)len + 1);
	if (copy)
		memcpy(copy, text, (size_t)len + 1);
	sqlite3_free(text);
	if (!copy) {
		b->oom = true;
		return;
	}
	text_param(b, copy, (size_t)len, copy);
}

/* One parameter per namespace: the wrapper allows a handful (storage.h). */
static void namespaces(sqlmem_stmt *b, const cog_storage_memory_query *q)
{
	sqlite3_str_appendall(b->sql, "m.ns IN (");
	for (size_t i = 0; i < q->ns_count; i++) {
		sqlite3_str_appendall(b->sql, i ? ", ?" : "?");
		text_param(b, q->ns[i], strlen(q->ns[i]), NULL);
	}
	sqlite3_str_appendall(b->sql, ")");
}

/* Ids are positive SQLite integers: larger ones cannot be stored. One id
 * (a get) is one parameter; more go as one JSON array through json_each(),
 * which keeps the statement's shape (and its cached plan) the same whatever
 * the count. */
static void ids(sqlmem_stmt *b, const cog_storage_memory_query *q)
{
	if (q->id_count == 1) {
		if (q->ids[0] > (uint64_t)INT64_MAX)
			b->nothing = true;
		sqlite3_str_appendall(b->sql, " AND m.id = ?");
		int_param(b, (int64_t)(q->ids[0] & (uint64_t)INT64_MAX));
		return;
	}
	sqlite3_str *list = sqlite3_str_new(NULL);
	sqlite3_str_appendchar(list, 1, '[');
	for (size_t i = 0; i < q->id_count; i++)
		sqlite3_str_appendf(list, "%s%llu", i ? "," : "",
			(unsigned long long)q->ids[i]);
	sqlite3_str_appendchar(list, 1, ']');
	str_param(b, list);
	sqlite3_str_appendall(b->sql, " AND m.id IN (SELECT value FROM json_each(?))");
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
	str_param(b, path);
	return COG_OK;
}

/* Parameter `index` bound once more, for the next '?'. */
static void repeat_param(sqlmem_stmt *b, size_t index)
{
	if (b->oom || index >= b->count)
		return;
	sqlmem_param p = b->params[index];
	p.owned = NULL;
	add_param(b, p);
}

static int member(sqlmem_stmt *b, const cJSON *m, const char *filter,
                  size_t filter_len)
{
	size_t path = b->count;
	int rc = key_path(b, m->string ? m->string : "");
	if (rc)
		return rc;
	sqlite3_str *sql = b->sql;
	if (cJSON_IsString(m)) {
		sqlite3_str_appendall(sql, " AND json_type(m.metadata, ?) = 'text'"
			" AND json_extract(m.metadata, ?) = ?");
		repeat_param(b, path);
		owned_text_param(b, m->valuestring);
	} else if (cJSON_IsNumber(m)) {
		/* The filter's own number, as SQLite reads it: integers
		 * beyond 2^53 compare exactly, 1 equals 1.0. */
		sqlite3_str_appendall(sql, " AND json_type(m.metadata, ?) IN"
			" ('integer', 'real') AND json_extract(m.metadata, ?) ="
			" json_extract(?, ?)");
		repeat_param(b, path);
		text_param(b, filter, filter_len, NULL);
		repeat_param(b, path);
	} else if (cJSON_IsBool(m)) {
		sqlite3_str_appendf(sql, " AND json_type(m.metadata, ?) = '%s'",
			cJSON_IsTrue(m) ? "true" : "false");
	} else if (cJSON_IsNull(m)) {
		sqlite3_str_appendall(sql,
			" AND coalesce(json_type(m.metadata, ?), 'null') = 'null'");
	} else {
		return cog_error_set(COG_EINVAL, "sqlite storage: memory filter "
			"member \"%s\" is not a string, number, boolean or null",
			m->string ? m->string : "");
	}
	return COG_OK;
}

static int metadata_filter(sqlmem_stmt *b, const char *filter)
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

/* The WHERE terms over alias m, after "WHERE " or "AND ". */
static int conditions(sqlmem_stmt *b, const cog_storage_memory_query *q)
{
	sqlite3_str *sql = b->sql;
	namespaces(b, q);
	if (q->layers) {
		sqlite3_str_appendall(sql, " AND m.layer IN (");
		const char *sep = "";
		for (unsigned int bit = 1; bit; bit <<= 1) {
			if (q->layers & bit) {
				sqlite3_str_appendf(sql, "%s%u", sep, bit);
				sep = ", ";
			}
		}
		sqlite3_str_appendall(sql, ")");
	}
	sqlite3_str_appendall(sql, " AND (m.expires_at IS NULL OR m.expires_at > ?)");
	int_param(b, q->now);
	if (q->since) {
		sqlite3_str_appendall(sql, " AND m.created_at >= ?");
		int_param(b, q->since);
	}
	if (q->until) {
		sqlite3_str_appendall(sql, " AND m.created_at < ?");
		int_param(b, q->until);
	}
	if (q->after_id) {
		if (q->after_id >= (uint64_t)INT64_MAX)
			b->nothing = true;
		sqlite3_str_appendall(sql, " AND m.id > ?");
		int_param(b, (int64_t)(q->after_id & (uint64_t)INT64_MAX));
	}
	if (q->ids) {
		if (q->id_count == 0)
			b->nothing = true;
		else
			ids(b, q);
	}
	return q->filter ? metadata_filter(b, q->filter) : COG_OK;
}

static void limit(sqlmem_stmt *b, size_t n)
{
	if (n == 0)
		return;
	sqlite3_str_appendall(b->sql, " LIMIT ?");
	int_param(b, n > (size_t)INT64_MAX ? INT64_MAX : (int64_t)n);
}

/* The MATCH expression: the namespaces' tokens in the ns_tag column AND
 * the words, confined to the text column. The tags come first: cog_bm25
 * skips that many phrases (a word can yield no phrase at all, when FTS5's
 * tokenizer finds no token in it, so the words cannot be counted on). */
static int match_expression(sqlmem_stmt *b, const cog_storage_memory_query *q,
                            sqlite3_str *expr, size_t *tags)
{
	*tags = 0;
	if (q->ns_count <= SQLMEM_FTS_NS_MAX) {
		sqlite3_str_appendall(expr, "ns_tag : (");
		for (size_t i = 0; i < q->ns_count; i++) {
			sqlite3_str_appendall(expr, i ? " OR \"" : "\"");
			for (const unsigned char *p = (const unsigned char *)q->ns[i]; *p; p++)
				sqlite3_str_appendf(expr, "%02X", *p);
			sqlite3_str_appendchar(expr, 1, '"');
		}
		sqlite3_str_appendall(expr, ") AND ");
		*tags = q->ns_count;
	}
	sqlite3_str_appendall(expr, "text : ");
	size_t words = 0;
	int rc = sqlmem_match_words(expr, q->match, strlen(q->match), &words);
	if (rc == COG_OK && words == 0)
		b->nothing = true;
	return rc;
}

static void start(sqlmem_stmt *b)
{
	memset(b, 0, sizeof(*b));
	b->sql = sqlite3_str_new(NULL);
}

int sqlmem_build_select(sqlmem_stmt *b, const cog_storage_memory_query *q)
{
	start(b);
	sqlite3_str *sql = b->sql;
	const char *embedding = q->with_embedding ? "m.embedding" : "NULL";
	int rc;
	if (q->match) {
		sqlite3_str *expr = sqlite3_str_new(NULL);
		size_t tags = 0;
		rc = match_expression(b, q, expr, &tags);
		/* CROSS JOIN keeps the FTS index as the outer loop. */
		sqlite3_str_appendf(sql, "SELECT " MEMORY_COLUMNS "%s,"
			" cog_bm25(memories_fts, ?) AS score FROM memories_fts"
			" CROSS JOIN memories m ON m.id = memories_fts.rowid"
			" WHERE memories_fts MATCH ? AND ", embedding);
		int_param(b, (int64_t)tags);
		str_param(b, expr);
		if (rc == COG_OK)
			rc = conditions(b, q);
		sqlite3_str_appendall(sql, " ORDER BY score DESC, m.id");
		limit(b, q->limit);
	} else if (q->ids) {
		/* Looked up by rowid, in rowid order: no sort. */
		sqlite3_str_appendf(sql, "SELECT " MEMORY_COLUMNS "%s FROM memories m"
			" WHERE ", embedding);
		rc = conditions(b, q);
		sqlite3_str_appendall(sql, " ORDER BY m.id");
		limit(b, q->limit);
	} else {
		/* Only the ids are sorted (the index gives them per namespace
		 * and layer); the rows, embeddings included, are read in that
		 * order afterwards. */
		sqlite3_str_appendf(sql, "SELECT " MEMORY_COLUMNS "%s FROM memories m"
			" WHERE m.id IN (SELECT m.id FROM memories m WHERE ", embedding);
		rc = conditions(b, q);
		sqlite3_str_appendall(sql, " ORDER BY m.id");
		limit(b, q->limit);
		sqlite3_str_appendall(sql, ") ORDER BY m.id");
	}
	if (rc == COG_OK && (b->oom || sqlite3_str_errcode(sql) != SQLITE_OK))
		rc = COG_ENOMEM;
	return rc;
}

/* "<prefix> WHERE <conditions> [ORDER BY m.id LIMIT ?]<suffix>" */
static int build_over_rows(sqlmem_stmt *b, const cog_storage_memory_query *q,
                           const char *prefix, const char *suffix)
{
	start(b);
	sqlite3_str_appendall(b->sql, prefix);
	int rc = conditions(b, q);
	if (q->limit)
		sqlite3_str_appendall(b->sql, " ORDER BY m.id");
	limit(b, q->limit);
	sqlite3_str_appendall(b->sql, suffix);
	if (rc == COG_OK && (b->oom || sqlite3_str_errcode(b->sql) != SQLITE_OK))
		rc = COG_ENOMEM;
	return rc;
}

int sqlmem_build_delete(sqlmem_stmt *fts, sqlmem_stmt *rows,
                        const cog_storage_memory_query *q)
{
	/* Both see the same rows: the same conditions and values, in one
	 * transaction. The index needs the rows' values, so it goes first. */
	int rc = build_over_rows(fts, q, "INSERT INTO memories_fts"
		" (memories_fts, rowid, text, ns_tag) SELECT 'delete', m.id, m.text,"
		" hex(m.ns) FROM memories m WHERE ", "");
	if (rc == COG_OK)
		rc = build_over_rows(rows, q, "DELETE FROM memories WHERE id IN"
			" (SELECT m.id FROM memories m WHERE ", ")");
	return rc;
}

int sqlmem_bind(sqlite3_stmt *st, const sqlmem_stmt *b)
{
	int rc = SQLITE_OK;
	for (size_t i = 0; i < b->count && rc == SQLITE_OK; i++) {
		const sqlmem_param *p = &b->params[i];
		if (p->kind == SQLMEM_TEXT)
			rc = sqlite3_bind_text64(st, (int)i + 1, p->text, p->len,
				SQLITE_STATIC, SQLITE_UTF8);
		else
			rc = sqlite3_bind_int64(st, (int)i + 1, p->value);
	}
	return rc;
}

void sqlmem_stmt_dispose(sqlmem_stmt *b)
{
	for (size_t i = 0; i < b->count; i++)
		cog_free(b->params[i].owned);
	cog_free(b->params);
	sqlite3_free(sqlite3_str_finish(b->sql));
	memset(b, 0, sizeof(*b));
}
