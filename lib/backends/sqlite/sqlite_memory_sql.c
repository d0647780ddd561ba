/*
 * The SQL of a memory query or delete.
 *
 * Every condition of cog_storage_memory_query is a WHERE term over the
 * `memories` row, values bound as parameters: the namespaces, layers,
 * expiry, the time bounds, ids, and each metadata filter member
 * (sqlite_memory_filter.c).
 * Nothing is filtered in C. Parameters are numbered (?N, params[N - 1]), so
 * that a value used twice is bound once.
 *
 * A query without ids or words reads one namespace at a time from the
 * memories_ns index, whose entries end in the rowid: id order within a
 * namespace, and a page that starts after an id is a range of it. The
 * namespaces are merged in id order (by_namespace): a page of `limit` rows
 * reads at most `limit` + 1 entries of each, however large, so paging
 * through them is linear. INDEXED BY holds the planner to that: ANALYZE's
 * statistics average over namespaces, and for a small one beside a large
 * one it would read the table from after_id to the end at every page.
 *
 * Keyword search drives the join from the FTS5 index: the MATCH expression
 * ANDs the namespaces' tokens in the ns_tag column (hex of the namespace,
 * one token each; the wrapper allows at most 8 namespaces) with the words,
 * confined to the text column, so that the index visits only the
 * namespace's own postings; the ns IN (...) term on the joined row stays
 * as the authority. Only words some record of the namespaces holds are in
 * it (sqlite_memory_stats.c), each with its idf in the rank bound to
 * cog_bm25.
 */
#include <string.h>

#include "sqlite_memory_int.h"

#define MEMORY_COLUMNS "m.id, m.ns, m.layer, m.text, m.metadata, " \
	"m.importance, m.created_at, m.updated_at, m.expires_at, " \
	"m.embed_model, m.dim, "

void sqlmem_placeholder(sqlmem_stmt *b, size_t index)
{
	sqlite3_str_appendf(b->sql, "?%llu", (unsigned long long)index + 1);
}

void sqlmem_add_param(sqlmem_stmt *b, sqlmem_param p)
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
	sqlmem_placeholder(b, b->count);
	b->params[b->count++] = p;
}

static void text_param(sqlmem_stmt *b, const char *text, size_t len, char *owned)
{
	sqlmem_add_param(b, (sqlmem_param){ SQLMEM_TEXT, text, len, 0, NULL, owned });
}

static void int_param(sqlmem_stmt *b, int64_t value)
{
	sqlmem_add_param(b, (sqlmem_param){ SQLMEM_INT, NULL, 0, value, NULL, NULL });
}

void sqlmem_str_param(sqlmem_stmt *b, sqlite3_str *str)
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

/* One parameter per namespace: the wrapper allows a handful (storage.h).
 * `only`: that namespace alone, else all of q's. */
static void namespaces(sqlmem_stmt *b, const cog_storage_memory_query *q,
                       const char *only)
{
	if (only) {
		sqlite3_str_appendall(b->sql, "m.ns = ");
		text_param(b, only, strlen(only), NULL);
		return;
	}
	sqlite3_str_appendall(b->sql, "m.ns IN (");
	for (size_t i = 0; i < q->ns_count; i++) {
		if (i)
			sqlite3_str_appendall(b->sql, ", ");
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
		sqlite3_str_appendall(b->sql, " AND m.id = ");
		int_param(b, (int64_t)(q->ids[0] & (uint64_t)INT64_MAX));
		return;
	}
	sqlite3_str *list = sqlite3_str_new(NULL);
	sqlite3_str_appendchar(list, 1, '[');
	for (size_t i = 0; i < q->id_count; i++)
		sqlite3_str_appendf(list, "%s%llu", i ? "," : "",
			(unsigned long long)q->ids[i]);
	sqlite3_str_appendchar(list, 1, ']');
	sqlite3_str_appendall(b->sql, " AND m.id IN (SELECT value FROM json_each(");
	sqlmem_str_param(b, list);
	sqlite3_str_appendall(b->sql, "))");
}

/* The WHERE terms over alias m but the namespaces', each " AND ...". */
static int other_terms(sqlmem_stmt *b, const cog_storage_memory_query *q)
{
	sqlite3_str *sql = b->sql;
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
	sqlite3_str_appendall(sql, " AND (m.expires_at IS NULL OR m.expires_at > ");
	int_param(b, q->now);
	sqlite3_str_appendall(sql, ")");
	if (q->since) {
		sqlite3_str_appendall(sql, " AND m.created_at >= ");
		int_param(b, q->since);
	}
	if (q->until) {
		sqlite3_str_appendall(sql, " AND m.created_at < ");
		int_param(b, q->until);
	}
	if (q->after_id) {
		if (q->after_id >= (uint64_t)INT64_MAX)
			b->nothing = true;
		sqlite3_str_appendall(sql, " AND m.id > ");
		int_param(b, (int64_t)(q->after_id & (uint64_t)INT64_MAX));
	}
	if (q->ids) {
		if (q->id_count == 0)
			b->nothing = true;
		else
			ids(b, q);
	}
	return q->filter ? sqlmem_metadata_filter(b, q->filter) : COG_OK;
}

/* All the WHERE terms over alias m, after "WHERE " or "AND ". */
static int conditions(sqlmem_stmt *b, const cog_storage_memory_query *q)
{
	namespaces(b, q, NULL);
	return other_terms(b, q);
}

static void limit(sqlmem_stmt *b, size_t n)
{
	if (n == 0)
		return;
	sqlite3_str_appendall(b->sql, " LIMIT ");
	int_param(b, n > (size_t)INT64_MAX ? INT64_MAX : (int64_t)n);
}

/* Whether q->ns[i] is named earlier in q->ns too (the wrapper allows it):
 * its part would give its rows twice. */
static bool ns_repeated(const cog_storage_memory_query *q, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(q->ns[j], q->ns[i]) == 0)
			return true;
	return false;
}

/*
 * The rows of a query without ids or words, in id order (see the top of
 * the file): with several namespaces one compound statement,
 *   SELECT <columns> .. WHERE m.ns = ?1 AND <terms> UNION ALL
 *   SELECT <columns> .. WHERE m.ns = ?K AND <terms> .. ORDER BY 1 LIMIT ?L
 * (the terms and their parameters shared), which SQLite merges as the parts
 * come, each in id order from the index: no sort, no part read further
 * than the rows taken.
 */
static int by_namespace(sqlmem_stmt *b, const cog_storage_memory_query *q,
                        const char *columns)
{
	sqlite3_str *sql = b->sql;
	b->sql = sqlite3_str_new(NULL);
	int rc = other_terms(b, q);
	sqlite3_str *terms = b->sql;
	b->sql = sql;
	if (sqlite3_str_errcode(terms) != SQLITE_OK)
		b->oom = true;
	size_t parts = 0;
	for (size_t i = 0; i < q->ns_count && rc == COG_OK && !b->oom; i++) {
		if (ns_repeated(q, i))
			continue;
		sqlite3_str_appendf(sql, "%sSELECT %s FROM memories m"
			" INDEXED BY memories_ns WHERE ", parts++ ? " UNION ALL " : "",
			columns);
		namespaces(b, q, q->ns[i]);
		sqlite3_str_appendall(sql, sqlite3_str_value(terms));
	}
	sqlite3_free(sqlite3_str_finish(terms));
	sqlite3_str_appendall(sql, parts > 1 ? " ORDER BY 1" : " ORDER BY m.id");
	limit(b, q->limit);
	return rc;
}

/* A SELECT of the ids q matches, the lowest q->limit (a delete's). */
static int id_select(sqlmem_stmt *b, const cog_storage_memory_query *q)
{
	if (!q->ids)
		return by_namespace(b, q, "m.id");
	/* The rowids drive the search; the namespaces are only checked. */
	sqlite3_str_appendall(b->sql, "SELECT m.id FROM memories m WHERE ");
	int rc = conditions(b, q);
	if (q->limit)
		sqlite3_str_appendall(b->sql, " ORDER BY m.id");
	limit(b, q->limit);
	return rc;
}

static void start(sqlmem_stmt *b, const char *sql)
{
	memset(b, 0, sizeof(*b));
	b->sql = sqlite3_str_new(NULL);
	sqlite3_str_appendall(b->sql, sql);
}

static int finish(sqlmem_stmt *b, int rc)
{
	if (rc == COG_OK && (b->oom || sqlite3_str_errcode(b->sql) != SQLITE_OK))
		rc = COG_ENOMEM;
	return rc;
}

/* The MATCH expression of a keyword search: the namespaces' tags AND the
 * words that some record of them holds (rank's), confined to the text
 * column; the phrases of cog_bm25 are the tags', then the words'. */
static void match_expression(sqlmem_stmt *b, const cog_storage_memory_query *q,
                             const sqlmem_rank *rank)
{
	sqlite3_str *expr = sqlite3_str_new(NULL);
	sqlmem_append_tags(expr, q);
	sqlite3_str_appendall(expr, " AND text : (");
	for (size_t i = 0; rank && i < rank->words.count; i++) {
		if (i)
			sqlite3_str_appendall(expr, " OR ");
		sqlmem_append_word(expr, &rank->words.items[i]);
	}
	sqlite3_str_appendall(expr, rank ? ")" : "\"\")");
	sqlmem_str_param(b, expr);
}

int sqlmem_build_select(sqlmem_stmt *b, const cog_storage_memory_query *q,
                        sqlmem_rank *rank)
{
	const char *columns = q->with_embedding ? MEMORY_COLUMNS "m.embedding"
		: MEMORY_COLUMNS "NULL";
	start(b, "");
	sqlite3_str *sql = b->sql;
	int rc;
	if (q->match) {
		if (!rank)
			b->nothing = true;
		/* CROSS JOIN keeps the FTS index as the outer loop. */
		sqlite3_str_appendf(sql, "SELECT %s, cog_bm25(memories_fts, ", columns);
		int_param(b, (int64_t)q->ns_count);
		sqlite3_str_appendall(sql, ", ");
		sqlmem_add_param(b, (sqlmem_param){ SQLMEM_POINTER, NULL, 0, 0, rank,
			NULL });
		sqlite3_str_appendall(sql, ") AS score FROM memories_fts CROSS JOIN"
			" memories m ON m.id = memories_fts.rowid WHERE memories_fts MATCH ");
		match_expression(b, q, rank);
		sqlite3_str_appendall(sql, " AND ");
		rc = conditions(b, q);
		sqlite3_str_appendall(sql, " ORDER BY score DESC, m.id");
		limit(b, q->limit);
	} else if (q->ids) {
		/* Looked up by rowid, in rowid order: no sort. */
		sqlite3_str_appendf(sql, "SELECT %s FROM memories m WHERE ", columns);
		rc = conditions(b, q);
		sqlite3_str_appendall(sql, " ORDER BY m.id");
		limit(b, q->limit);
	} else {
		rc = by_namespace(b, q, columns);
	}
	return finish(b, rc);
}

/* "<prefix><id_select><suffix>" */
static int build_over_ids(sqlmem_stmt *b, const cog_storage_memory_query *q,
                          const char *prefix, const char *suffix)
{
	start(b, prefix);
	int rc = id_select(b, q);
	sqlite3_str_appendall(b->sql, suffix);
	return finish(b, rc);
}

int sqlmem_build_delete(sqlmem_stmt *stats, sqlmem_stmt *fts,
                        sqlmem_stmt *rows, const cog_storage_memory_query *q)
{
	/* All see the same rows: the same ids subquery and values, in one
	 * transaction. The statistics read the rows' token counts from the
	 * index, and the index needs the rows' values: rows go last. */
	int rc = build_over_ids(stats, q, "UPDATE memory_ns_stats AS st"
		" SET records = st.records - d.n, tokens = st.tokens - d.t"
		" FROM (SELECT m.ns AS ns, count(*) AS n, coalesce(sum((SELECT"
		" cog_fts_len(sz) FROM memories_fts_docsize d WHERE d.id = m.id)),"
		" 0) AS t FROM memories m"
		" WHERE m.id IN (", ") GROUP BY m.ns) AS d WHERE st.ns = d.ns");
	if (rc == COG_OK)
		rc = build_over_ids(fts, q, "INSERT INTO memories_fts"
			" (memories_fts, rowid, text, ns_tag) SELECT 'delete', m.id,"
			" m.text, hex(m.ns) FROM memories m WHERE m.id IN (", ")");
	if (rc == COG_OK)
		rc = build_over_ids(rows, q, "DELETE FROM memories WHERE id IN (",
			")");
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
		else if (p->kind == SQLMEM_POINTER)
			rc = sqlite3_bind_pointer(st, (int)i + 1, p->pointer,
				SQLMEM_RANK_POINTER, NULL);
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
