/*
 * The statistics of BM25 (sqlite_memory_rank.c) within the namespaces a
 * query names, as storage.h asks and the in-memory backend does:
 *
 *   N    the records of those namespaces (expired ones count until purged,
 *        whatever their layer), from memory_ns_stats;
 *   avg  their tokens in the text column (FTS5's count) over N, from
 *        memory_ns_stats;
 *   df   per word, the records of those namespaces holding it: a count of
 *        MATCH 'ns_tag : (<tags>) AND text : ("w")', which visits that
 *        word's postings within those namespaces only.
 *
 * memory_ns_stats holds per namespace its record and token counts, changed
 * by the statements that change the rows and the index, in the same
 * transaction (sqlite_memory.c, sqlite_memory_query.c). A word no record
 * of the namespaces holds (or that the tokenizer finds no token in) is left
 * out of the search: it would add nothing to any score.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sqlite_memory_int.h"

/* The row's tokens: FTS5's document sizes, read by rowid (the shadow
 * table memories_fts_docsize is written at once, not held back with the
 * pending index data). */
#define ROW_TOKENS "(SELECT cog_fts_len(sz) FROM memories_fts_docsize" \
	" WHERE memories_fts_docsize.id = m.id)"

/* One row of VALUES, not INSERT .. SELECT: a statement that may write
 * several rows opens a statement journal, whose savepoint makes FTS5 write
 * out its pending index data at every put (ingest 2.5 times slower). */
static const char stats_row_sql[] =
	"INSERT INTO memory_ns_stats (ns, records, tokens)"
	" VALUES (?1, ?3, ?4 * coalesce((SELECT cog_fts_len(sz)"
	" FROM memories_fts_docsize WHERE id = ?2), 0))"
	" ON CONFLICT (ns) DO UPDATE SET records = records + excluded.records,"
	" tokens = tokens + excluded.tokens";

static const char stats_purge_sql[] =
	"UPDATE memory_ns_stats AS st"
	" SET records = st.records - d.n, tokens = st.tokens - d.t"
	" FROM (SELECT m.ns AS ns, count(*) AS n,"
	" coalesce(sum(" ROW_TOKENS "), 0) AS t FROM memories m"
	" WHERE m.expires_at IS NOT NULL AND m.expires_at <= ?1 GROUP BY m.ns)"
	" AS d WHERE st.ns = d.ns";

static int step_done(sqlstore *s, sqlite3_stmt *st, int rc, const char *what)
{
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return sqlstore_stmt_fail(s, st, rc, "%s", what);
	sqlite3_reset(st);
	return COG_OK;
}

int sqlmem_stats_row(sqlstore *s, const char *ns, int64_t id, int records,
                     int sign)
{
	static const char what[] = "count a memory's words in";
	sqlite3_stmt *st = NULL;
	int rc = sqlmem_prepare(s, stats_row_sql, &st);
	if (rc)
		return rc;
	rc = sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 3, records);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 4, sign);
	return step_done(s, st, rc, what);
}

int sqlmem_stats_purge(sqlstore *s, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlmem_prepare(s, stats_purge_sql, &st);
	if (rc)
		return rc;
	return step_done(s, st, sqlite3_bind_int64(st, 1, now),
		"purge expired memories of");
}

/* One int64 from a prepared SELECT's single row (bound already). */
static int count_of(sqlstore *s, sqlite3_stmt *st, int col, double *out)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return sqlstore_stmt_fail(s, st, rc, "search memories of");
	*out = sqlite3_column_double(st, col);
	return COG_OK;
}

/* N and the tokens of q's namespaces (each counted once). */
static int namespace_totals(sqlstore *s, const cog_storage_memory_query *q,
                            double *n, double *tokens)
{
	char sql[256];
	size_t at = (size_t)snprintf(sql, sizeof(sql), "SELECT total(records),"
		" total(tokens) FROM memory_ns_stats WHERE ns IN (?1");
	for (size_t i = 1; i < q->ns_count && at < sizeof(sql); i++)
		at += (size_t)snprintf(sql + at, sizeof(sql) - at, ", ?%zu", i + 1);
	if (at + 2 > sizeof(sql))
		return cog_error_set(COG_EINVAL, "sqlite storage: search memories "
			"of %s: too many namespaces (%zu)", s->path, q->ns_count);
	memcpy(sql + at, ")", 2);
	sqlite3_stmt *st = NULL;
	int rc = sqlmem_prepare(s, sql, &st);
	if (rc)
		return rc;
	for (size_t i = 0; i < q->ns_count && rc == SQLITE_OK; i++)
		rc = sqlite3_bind_text(st, (int)i + 1, q->ns[i], -1, SQLITE_STATIC);
	if (rc != SQLITE_OK)
		return sqlstore_stmt_fail(s, st, rc, "search memories of");
	rc = count_of(s, st, 0, n);
	if (rc == COG_OK)
		*tokens = sqlite3_column_double(st, 1);
	sqlite3_reset(st);
	return rc;
}

/* The records of q's namespaces that hold word w. */
static int word_df(sqlstore *s, const cog_storage_memory_query *q,
                   const sqlmem_word *w, double *df)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlmem_prepare(s, "SELECT count(*) FROM memories_fts"
		" WHERE memories_fts MATCH ?1", &st);
	if (rc)
		return rc;
	sqlite3_str *expr = sqlite3_str_new(NULL);
	sqlmem_append_tags(expr, q);
	sqlite3_str_appendall(expr, " AND text : (");
	sqlmem_append_word(expr, w);
	sqlite3_str_appendchar(expr, 1, ')');
	int len = sqlite3_str_length(expr);
	rc = sqlite3_str_errcode(expr);
	char *text = sqlite3_str_finish(expr);
	if (rc != SQLITE_OK || !text) {
		sqlite3_free(text);
		return cog_error_set(COG_ENOMEM, "sqlite storage: search memories "
			"of %s: out of memory", s->path);
	}
	rc = sqlite3_bind_text(st, 1, text, len, sqlite3_free);
	if (rc != SQLITE_OK)
		return sqlstore_stmt_fail(s, st, rc, "search memories of");
	rc = count_of(s, st, 0, df);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

void sqlmem_rank_free(sqlmem_rank *rank)
{
	if (!rank)
		return;
	sqlmem_words_dispose(&rank->words);
	cog_free(rank->idf);
	cog_free(rank->tf);
	cog_free(rank->seen);
	cog_free(rank);
}

int sqlmem_rank_new(sqlstore *s, const cog_storage_memory_query *q,
                    sqlmem_rank **out)
{
	*out = NULL;
	double n = 0, tokens = 0;
	sqlmem_rank *r = cog_malloc(sizeof(*r));
	if (!r)
		return cog_error_set(COG_ENOMEM, "sqlite storage: search memories "
			"of %s: out of memory", s->path);
	memset(r, 0, sizeof(*r));
	int rc = sqlmem_words_split(&r->words, q->match, strlen(q->match));
	size_t count = r->words.count;
	if (rc == COG_OK && count > 0) {
		r->idf = cog_malloc(count * sizeof(*r->idf));
		r->tf = cog_malloc(count * sizeof(*r->tf));
		r->seen = cog_malloc(count * sizeof(*r->seen));
		if (!r->idf || !r->tf || !r->seen)
			rc = COG_ENOMEM;
	}
	if (rc == COG_ENOMEM)
		rc = cog_error_set(COG_ENOMEM, "sqlite storage: search memories "
			"of %s: out of memory", s->path);
	if (rc == COG_OK && count > 0)
		rc = namespace_totals(s, q, &n, &tokens);
	size_t kept = 0;
	for (size_t i = 0; rc == COG_OK && n > 0 && i < count; i++) {
		double df = 0;
		rc = word_df(s, q, &r->words.items[i], &df);
		if (rc != COG_OK || df <= 0)
			continue;
		r->words.items[kept] = r->words.items[i];
		r->idf[kept] = log(1.0 + (n - df + 0.5) / (df + 0.5));
		r->tf[kept++] = 0;
	}
	r->words.count = kept;
	r->avg_len = n > 0 ? tokens / n : 0;
	if (rc == COG_OK && kept > 0)
		*out = r;
	else
		sqlmem_rank_free(r);
	return rc;
}
