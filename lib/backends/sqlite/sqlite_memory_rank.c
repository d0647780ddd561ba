/*
 * cog_bm25(memories_fts, tags, rank): the keyword score of storage.h, as an
 * FTS5 auxiliary function registered on each connection; and
 * cog_fts_len(sz), a row's token count in the text column from FTS5's
 * document sizes (for the statistics, sqlite_memory_stats.c).
 *
 * FTS5's built-in bm25() scores every phrase of the MATCH expression,
 * including the namespace tokens that confine a search to its namespaces,
 * and takes N, df and the average length from the whole index: across all
 * namespaces, so one tenant's score would move with (and tell about)
 * another's rows. Here the first `tags` phrases (the namespace tokens,
 * which come first in the expression) are skipped, and the rest (the
 * user's words, confined to the text column) are scored over the text
 * column with the formula of storage.h (and of the core's cog_text_bm25):
 * k1 1.2, b 0.75, idf ln(1 + (N - df + 0.5) / (df + 0.5)), length ratio
 * len / avg (1 when avg is 0), where N, df and avg are those of the named
 * namespaces together, computed per query (`rank`, a bound pointer).
 * Only the row's own matches are visited (xInst), and the words' terms
 * are added in phrase order, so equal rows score exactly the same.
 */
#include <math.h>

#include "sqlite_memory_int.h"

#define BM25_K1 1.2
#define BM25_B 0.75

static void cog_bm25(const Fts5ExtensionApi *api, Fts5Context *fts,
                     sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	int phrases = api->xPhraseCount(fts);
	int tags = argc == 2 ? sqlite3_value_int(argv[0]) : -1;
	sqlmem_rank *r = argc == 2 ?
		sqlite3_value_pointer(argv[1], SQLMEM_RANK_POINTER) : NULL;
	if (tags < 0 || !r || (size_t)phrases != (size_t)tags + r->words.count) {
		sqlite3_result_error(ctx, "cog_bm25: needs the tag count and the "
			"rank of the query's words, one per phrase after the tags", -1);
		return;
	}
	int len = 0, n = 0, seen = 0;
	int rc = api->xColumnSize(fts, 0, &len);
	if (rc == SQLITE_OK)
		rc = api->xInstCount(fts, &n);
	for (int i = 0; i < n && rc == SQLITE_OK; i++) {
		int phrase = 0, col = 0, off = 0;
		rc = api->xInst(fts, i, &phrase, &col, &off);
		if (rc != SQLITE_OK || col != 0 || phrase < tags)
			continue;
		int w = phrase - tags;
		if (r->tf[w]++ == 0) {
			/* Keep seen[] in phrase order (a row meets few words). */
			int at = seen++;
			for (; at > 0 && r->seen[at - 1] > w; at--)
				r->seen[at] = r->seen[at - 1];
			r->seen[at] = w;
		}
	}
	double ratio = r->avg_len > 0 ? (double)len / r->avg_len : 1.0;
	double norm = BM25_K1 * (1.0 - BM25_B + BM25_B * ratio);
	double score = 0;
	for (int i = 0; i < seen; i++) {
		double tf = r->tf[r->seen[i]];
		score += r->idf[r->seen[i]] * tf * (BM25_K1 + 1.0) / (tf + norm);
		r->tf[r->seen[i]] = 0;
	}
	if (rc != SQLITE_OK)
		sqlite3_result_error_code(ctx, rc);
	else
		sqlite3_result_double(ctx, score);
}

/* cog_fts_len(sz): the first varint (SQLite's format: 7 bits a byte, most
 * significant first, the high bit saying more follow) of a row's sz in
 * memories_fts_docsize, which is FTS5's token count of the text column. */
static void cog_fts_len(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	const unsigned char *p = sqlite3_value_blob(argv[0]);
	int n = sqlite3_value_bytes(argv[0]);
	uint64_t v = 0;
	for (int i = 0; p && i < n && i < 5; i++) {
		v = v << 7 | (p[i] & 0x7F);
		if (!(p[i] & 0x80)) {
			sqlite3_result_int64(ctx, (sqlite3_int64)v);
			return;
		}
	}
	sqlite3_result_error(ctx, "cog_fts_len: damaged FTS5 document size", -1);
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
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function_v2(s->db, "cog_fts_len", 1,
			SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
			cog_fts_len, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sqlstore_fail(s->db, rc, s->path,
			"open (register the memory search rank in)");
	return COG_OK;
}
