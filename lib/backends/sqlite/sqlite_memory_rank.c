/*
 * cog_bm25(memories_fts, tags): the keyword score of storage.h, as an FTS5
 * auxiliary function registered on each connection.
 *
 * FTS5's built-in bm25() scores every phrase of the MATCH expression,
 * including the namespace tokens that confine a search to its namespaces,
 * and counts, once per query, every row holding each phrase: for a
 * namespace of 100k memories that count alone costs milliseconds. Here the
 * first `tags` phrases (the namespace tokens, which come first in the
 * expression) are skipped, and the rest (the user's words, confined to the
 * text column) are scored over the text column only, with the formula of
 * storage.h (and of the core's cog_text_bm25): k1 1.2, b 0.75,
 * idf ln(1 + (N - df + 0.5) / (df + 0.5)). N, df and the average length are
 * the whole index's.
 */
#include <math.h>

#include "sqlite_memory_int.h"

#define BM25_K1 1.2
#define BM25_B 0.75

typedef struct rank_stats {
	double avg_len;
	double idf[];   /* per phrase; the tags' are unused */
} rank_stats;

static int count_row(const Fts5ExtensionApi *api, Fts5Context *fts, void *count)
{
	(void)api;
	(void)fts;
	(*(sqlite3_int64 *)count)++;
	return SQLITE_OK;
}

/* Per query (kept as FTS5 auxiliary data): N, the average length and each
 * word's idf. */
static int query_stats(const Fts5ExtensionApi *api, Fts5Context *fts, int tags,
                       int phrases, rank_stats **out)
{
	rank_stats *d = api->xGetAuxdata(fts, 0);
	if (d) {
		*out = d;
		return SQLITE_OK;
	}
	sqlite3_int64 rows = 0, tokens = 0;
	int rc = api->xRowCount(fts, &rows);
	if (rc == SQLITE_OK)
		rc = api->xColumnTotalSize(fts, 0, &tokens);
	if (rc != SQLITE_OK)
		return rc;
	d = sqlite3_malloc64(sizeof(*d) + (sqlite3_uint64)phrases * sizeof(double));
	if (!d)
		return SQLITE_NOMEM;
	d->avg_len = rows > 0 && tokens > 0 ? (double)tokens / (double)rows : 1.0;
	for (int i = tags; i < phrases && rc == SQLITE_OK; i++) {
		sqlite3_int64 df = 0;
		rc = api->xQueryPhrase(fts, i, &df, count_row);
		d->idf[i] = log(1.0 + ((double)rows - (double)df + 0.5) / ((double)df + 0.5));
	}
	if (rc != SQLITE_OK) {
		sqlite3_free(d);
		return rc;
	}
	/* On failure xSetAuxdata frees d itself. */
	rc = api->xSetAuxdata(fts, d, sqlite3_free);
	if (rc == SQLITE_OK)
		*out = d;
	return rc;
}

static void cog_bm25(const Fts5ExtensionApi *api, Fts5Context *fts,
                     sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	int phrases = api->xPhraseCount(fts);
	int tags = argc == 1 ? sqlite3_value_int(argv[0]) : -1;
	if (tags < 0 || tags > phrases) {
		sqlite3_result_error(ctx, "cog_bm25: the tag count must be 0.."
			"the number of phrases", -1);
		return;
	}
	rank_stats *d = NULL;
	int len = 0;
	int rc = query_stats(api, fts, tags, phrases, &d);
	if (rc == SQLITE_OK)
		rc = api->xColumnSize(fts, 0, &len);
	double norm = rc == SQLITE_OK ?
		BM25_K1 * (1.0 - BM25_B + BM25_B * (double)len / d->avg_len) : 0;
	double score = 0;
	for (int i = tags; i < phrases && rc == SQLITE_OK; i++) {
		Fts5PhraseIter it;
		int col = 0, off = 0, tf = 0;
		rc = api->xPhraseFirst(fts, i, &it, &col, &off);
		for (; rc == SQLITE_OK && col >= 0; api->xPhraseNext(fts, &it, &col, &off))
			tf += col == 0;
		if (tf > 0)
			score += d->idf[i] * tf * (BM25_K1 + 1.0) / (tf + norm);
	}
	if (rc != SQLITE_OK)
		sqlite3_result_error_code(ctx, rc);
	else
		sqlite3_result_double(ctx, score);
}

int sqlstore_mem_setup(sqlstore *s)
{
	fts5_api *api = NULL;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, "SELECT fts5(?1)", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		int status = sqlstore_fail(s->db, rc, s->path,
			"open (find SQLite's FTS5 for memory search in)");
		sqlite3_finalize(st);
		return status;
	}
	sqlite3_finalize(st);
	if (!api || api->iVersion < 2)
		return cog_error_set(COG_EIO, "sqlite storage: open %s: this SQLite "
			"has no usable FTS5 (needed for memory search)", s->path);
	rc = api->xCreateFunction(api, "cog_bm25", NULL, cog_bm25, NULL);
	if (rc != SQLITE_OK)
		return sqlstore_fail(s->db, rc, s->path,
			"open (register the memory search rank in)");
	return COG_OK;
}
