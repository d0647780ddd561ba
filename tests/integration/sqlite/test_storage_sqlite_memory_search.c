/*
 * Keyword search and metadata filters of libcognition-sqlite: the FTS5
 * index confined to the namespaces, the user's text never read as FTS5
 * syntax, the tokenizer (case, diacritics, long words), storage.h's BM25,
 * and filters compared in SQL.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_storage_sqlite_memory.h"

START_TEST(search_confined_to_namespaces)
{
	char path[PATH_MAX];
	cog_storage *s = open_store(tmp_path(path, "confined.db"), 0);
	put(s, "a", "apple pie", NULL);
	put(s, "ab", "apple tart", NULL);
	put(s, "a/b", "apple juice", NULL);
	put(s, "b", "apple cake", NULL);
	put(s, "a", "6162 is the tag of ab", NULL);
	hits h = search1(s, "a", "apple");
	ck_assert_uint_eq(h.n, 1);
	ck_assert_str_eq(h.ns[0], "a");
	const char *two[] = { "a", "b" };
	h = search(s, two, 2, "apple cake", NULL);
	ck_assert_uint_eq(h.n, 2);
	ck_assert_str_eq(h.ns[0], "b");   /* two words match: first */
	/* A namespace's token is not text: "61" is the tag of "a". */
	ck_assert_uint_eq(search1(s, "a", "61").n, 0);
	ck_assert_uint_eq(search1(s, "b", "6162").n, 0);
	ck_assert_uint_eq(search1(s, "a", "6162").n, 1);

	/* Many namespaces sharing every word. */
	char ns[32], text[64];
	ck_assert_int_eq(cog_storage_begin(s), 0);
	for (int i = 0; i < 500; i++) {
		snprintf(ns, sizeof(ns), "t/u%d", i);
		snprintf(text, sizeof(text), "shared word%d", i);
		put(s, ns, text, NULL);
		put(s, ns, "shared common", NULL);
	}
	ck_assert_int_eq(cog_storage_commit(s), 0);
	for (int k = 0; k < 200; k++) {
		int i = (k * 7919) % 500;
		snprintf(ns, sizeof(ns), "t/u%d", i);
		h = search1(s, ns, "shared common word7 word123");
		ck_assert_uint_eq(h.n, 2);
		for (size_t j = 0; j < h.n; j++)
			ck_assert_str_eq(h.ns[j], ns);
	}
	cog_storage_free(s);
}
END_TEST

START_TEST(search_text_is_never_syntax)
{
	char path[PATH_MAX];
	tmp_path(path, "syntax.db");
	cog_storage *s = open_store(path, 0);
	put(s, "s", "near the river", NULL);
	put(s, "s", "one two", NULL);
	static const struct { const char *match; size_t n; } cases[] = {
		{ "NEAR(river the)", 1 }, { "\"unbalanced", 0 }, { "riv*", 0 },
		{ "^near", 1 }, { "text : river", 1 }, { "{text}:one", 1 },
		{ "ns_tag : 73", 0 }, { "river NOT near", 1 }, { "one OR", 1 },
		{ "AND", 0 }, { "')); DROP TABLE memories; --", 0 },
		{ "\xe2\x80\x94", 0 }, { "", 0 }, { "  \t ", 0 }, { "(((", 0 },
		{ "one\"two", 1 }, { "-one", 1 }, { "+two", 1 },
		/* Words the tokenizer finds no token in, next to real ones. */
		{ "\xe2\x80\x94 river", 1 }, { "\xe2\x80\x94 \xe2\x80\xa6 river", 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hits h = search1(s, "s", cases[i].match);
		ck_assert_msg(h.n == cases[i].n, "\"%s\": %zu hits, expected %zu",
			cases[i].match, h.n, cases[i].n);
	}
	ck_assert(search1(s, "s", "\xe2\x80\x94 \xe2\x80\xa6 river").score[0] ==
		search1(s, "s", "river").score[0]);
	cog_storage_free(s);
	sqlite3 *db = raw_open(path);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM memories"), 2);
	sqlite3_close(db);
}
END_TEST

START_TEST(search_folds_case_and_diacritics)
{
	char path[PATH_MAX];
	cog_storage *s = open_store(tmp_path(path, "fold.db"), 0);
	put(s, "d", "Caf\xc3\xa9 Cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e", NULL);
	static const char *const queries[] = { "cafe", "CAF\xc3\x89", "creme",
		"BRULEE", "Br\xc3\xbbl\xc3\xa9" "e" };
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++)
		ck_assert_msg(search1(s, "d", queries[i]).n == 1, "%s", queries[i]);
	cog_storage_free(s);
}
END_TEST

START_TEST(search_long_and_many_words)
{
	char path[PATH_MAX];
	cog_storage *s = open_store(tmp_path(path, "words.db"), 0);
	char word[101], text[128], query[80];
	for (int i = 0; i < 100; i++)
		word[i] = (char)('a' + i % 26);
	word[100] = '\0';
	snprintf(text, sizeof(text), "the %s", word);
	put(s, "w", text, NULL);
	put(s, "w", "the target", NULL);
	ck_assert_uint_eq(search1(s, "w", word).n, 1);
	/* Words are cut at 64 bytes, as the core cuts them. */
	snprintf(query, sizeof(query), "%.64szzz", word);
	ck_assert_uint_eq(search1(s, "w", query).n, 1);
	snprintf(query, sizeof(query), "%.63s", word);
	ck_assert_uint_eq(search1(s, "w", query).n, 0);

	/* Thousands of words, repeated ones counted once; the first 256
	 * distinct words take part, later new ones are ignored. */
	size_t cap = 64 * 1024, len = 0;
	char *many = malloc(cap);
	ck_assert_ptr_nonnull(many);
	len = (size_t)snprintf(many, cap, "target ");
	for (int i = 0; i < 5000; i++)
		len += (size_t)snprintf(many + len, cap - len, "q%d target ", i % 3000);
	hits h = search1(s, "w", many);
	ck_assert_uint_eq(h.n, 1);
	ck_assert(fabs(h.score[0] - search1(s, "w", "target").score[0]) < 1e-12);
	len = 0;
	for (int i = 0; i < 254; i++)
		len += (size_t)snprintf(many + len, cap - len, "q%d q%d ", i, i);
	snprintf(many + len, cap - len, "target the");
	h = search1(s, "w", many);
	ck_assert_uint_eq(h.n, 2);
	ck_assert(fabs(h.score[0] - search1(s, "w", "target the").score[0]) < 1e-12);
	ck_assert(fabs(h.score[1] - search1(s, "w", "the").score[1]) < 1e-12);
	snprintf(many + len, cap - len, "q0 target");
	ck_assert_uint_eq(search1(s, "w", many).n, 1);
	snprintf(many + len, cap - len, "q0 q254 q255 target");
	ck_assert_uint_eq(search1(s, "w", many).n, 0);
	free(many);
	cog_storage_free(s);
}
END_TEST

/* storage.h: k1 1.2, b 0.75, idf ln(1 + (N - df + 0.5) / (df + 0.5)); N, df
 * and the average length are those of the namespaces searched. */
static double bm25(double tf, double df, double n, double len, double avg)
{
	double idf = log(1.0 + (n - df + 0.5) / (df + 0.5));
	return idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len / avg));
}

START_TEST(search_score_is_bm25)
{
	char path[PATH_MAX];
	cog_storage *s = open_store(tmp_path(path, "bm25.db"), 0);
	uint64_t one = put(s, "k", "apple banana", NULL);
	uint64_t two = put(s, "k", "apple, apple cherry", NULL);
	put(s, "k", "date", NULL);
	put(s, "other", "apple elder fig grape", NULL);
	hits h = search1(s, "k", "Apple");
	ck_assert_uint_eq(h.n, 2);
	ck_assert_uint_eq(h.id[0], two);
	ck_assert_uint_eq(h.id[1], one);
	double avg = (2 + 3 + 1) / 3.0;
	ck_assert_double_eq_tol(h.score[0], bm25(2, 2, 3, 3, avg), 1e-9);
	ck_assert_double_eq_tol(h.score[1], bm25(1, 2, 3, 2, avg), 1e-9);
	/* Another namespace's rows change nothing in k's scores. */
	for (int i = 0; i < 20; i++)
		put(s, "other", "apple apple apple", NULL);
	hits again = search1(s, "k", "Apple");
	ck_assert(again.score[0] == h.score[0] && again.score[1] == h.score[1]);
	/* Two words add up; equal scores come in id order. */
	h = search1(s, "k", "banana cherry");
	ck_assert_uint_eq(h.n, 2);
	ck_assert_double_eq_tol(h.score[0], bm25(1, 1, 3, 2, avg), 1e-9);
	uint64_t k1 = put(s, "k", "kiwi", NULL);
	uint64_t k2 = put(s, "k", "kiwi", NULL);
	h = search1(s, "k", "kiwi");
	ck_assert_uint_eq(h.n, 2);
	ck_assert_uint_eq(h.id[0], k1);
	ck_assert_uint_eq(h.id[1], k2);
	ck_assert(h.score[0] == h.score[1]);
	cog_storage_free(s);
}
END_TEST

/* ---- the same scores as the in-memory backend ---- */

#define SAME_ROWS 400

typedef struct twin {
	cog_storage *st[2];           /* SQLite, in-memory */
	uint64_t id[2][SAME_ROWS];    /* per row put, each store's id */
	size_t rows;
} twin;

static void twin_put(twin *t, const char *ns, const char *text,
                     int64_t expires_at)
{
	for (int k = 0; k < 2; k++) {
		int rc = put_try(t->st[k], ns, text, NULL, expires_at, &t->id[k][t->rows]);
		ck_assert_msg(rc == 0, "put: %s", cog_error_last());
	}
	t->rows++;
}

static size_t row_of(const twin *t, int k, uint64_t id)
{
	for (size_t i = 0; i < t->rows; i++)
		if (t->id[k][i] == id)
			return i;
	ck_abort_msg("unknown id %llu", (unsigned long long)id);
	return 0;
}

/* Both stores find the same rows in the same order, scores within 1e-9
 * relative. */
static void twin_same(const twin *t, const char *const *ns, size_t n,
                      const char *match)
{
	hits h[2];
	for (int k = 0; k < 2; k++)
		h[k] = search(t->st[k], ns, n, match, NULL);
	ck_assert_uint_eq(h[0].n, h[1].n);
	ck_assert_uint_gt(h[0].n, 0);
	for (size_t i = 0; i < h[0].n && i < 64; i++) {
		ck_assert_uint_eq(row_of(t, 0, h[0].id[i]), row_of(t, 1, h[1].id[i]));
		ck_assert_msg(fabs(h[0].score[i] - h[1].score[i]) <=
			1e-9 * fabs(h[1].score[i]), "\"%s\" #%zu: sqlite %.17g, "
			"memory %.17g", match, i, h[0].score[i], h[1].score[i]);
	}
}

static void twin_check(const twin *t)
{
	static const char *const a[] = { "a" }, *const b[] = { "b" },
		*const ab[] = { "a", "b" };
	static const char *const queries[] = { "w1", "w0 w3", "w2 w5 w9 rare" };
	for (size_t i = 0; i < 3; i++) {
		twin_same(t, a, 1, queries[i]);
		twin_same(t, b, 1, queries[i]);
		twin_same(t, ab, 2, queries[i]);
	}
}

START_TEST(search_scores_as_memory_backend)
{
	char path[PATH_MAX];
	twin t = { .rows = 0 };
	t.st[0] = open_store(tmp_path(path, "twin.db"), 0);
	ck_assert_int_eq(cog_storage_memory_new(&t.st[1]), 0);
	/* "a": 40 rows over words w0..w4; "b": 300 rows over w0..w9 with other
	 * frequencies and lengths. */
	unsigned int seed = 7;
	char text[256];
	for (int i = 0; i < 340; i++) {
		int a = i < 40, words = 2 + (int)(seed % (a ? 4 : 12)), len = 0;
		for (int w = 0; w < words; w++) {
			seed = seed * 1103515245u + 12345u;
			unsigned int r = (seed >> 16) % 100;
			len += snprintf(text + len, sizeof(text) - (size_t)len, "w%u ",
				a ? r % 5 : (r * r / 1000) % 10);
		}
		if (i % 17 == 0)
			snprintf(text + len, sizeof(text) - (size_t)len, "rare");
		twin_put(&t, a ? "a" : "b", text, 0);
	}
	twin_check(&t);
	/* Deletes, a replaced text, expired rows before and after purge. */
	for (int k = 0; k < 2; k++) {
		uint64_t gone[] = { t.id[k][3], t.id[k][50], t.id[k][51] };
		const char *const ab[] = { "a", "b" };
		cog_storage_memory_query q = { .ns = ab, .ns_count = 2,
			.ids = gone, .id_count = 3 };
		size_t deleted = 0;
		ck_assert_int_eq(cog_storage_memory_delete(t.st[k], &q, &deleted), 0);
		ck_assert_uint_eq(deleted, 3);
		cog_storage_memory_record r = { .id = t.id[k][7], .ns = "a",
			.layer = COG_MEMORY_LONG_TERM, .text = "w1 w1 w1 w2 w4 w4 w4 w4",
			.text_len = 23, .metadata = "{}", .metadata_len = 2,
			.created_at = 1000, .updated_at = 1000, .embed_model = "" };
		ck_assert_int_eq(cog_storage_memory_put(t.st[k], &r), 0);
	}
	twin_put(&t, "a", "w1 w2 w3 rare", 1);
	twin_put(&t, "a", "w1 w1", 1);
	twin_check(&t);
	for (int k = 0; k < 2; k++)
		ck_assert_int_eq(cog_storage_purge_expired(t.st[k], NULL), 0);
	twin_check(&t);
	cog_storage_free(t.st[0]);
	cog_storage_free(t.st[1]);
}
END_TEST

START_TEST(filters_compare_in_sql)
{
	char path[PATH_MAX];
	cog_storage *s = open_store(tmp_path(path, "filter.db"), 0);
	uint64_t flat = put(s, "f", "flat", "{\"a.b\":1,\"x[0]\":\"s\",\"$\":true,"
		"\"\":\"empty\",\"caf\xc3\xa9\":\"oui\",\"n\":9007199254740993,\"f\":1,"
		"\"sp ace\":null}");
	put(s, "f", "nested", "{\"a\":{\"b\":1},\"x\":[\"s\"],\"f\":true}");
	const char *ns[] = { "f" };
	static const struct { const char *filter; size_t n; } cases[] = {
		{ "{\"a.b\":1}", 1 }, { "{\"x[0]\":\"s\"}", 1 }, { "{\"$\":true}", 1 },
		{ "{\"\":\"empty\"}", 1 }, { "{\"caf\xc3\xa9\":\"oui\"}", 1 },
		{ "{\"n\":9007199254740993}", 1 }, { "{\"n\":9007199254740992}", 0 },
		{ "{\"f\":1.0}", 1 }, { "{\"f\":true}", 1 }, { "{\"f\":\"1\"}", 0 },
		{ "{\"sp ace\":null}", 2 }, { "{\"a\":null}", 1 },
		{ "{\"a.b\":1,\"f\":1}", 1 }, { "{\"a.b\":1,\"f\":true}", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hits h = search(s, ns, 1, NULL, cases[i].filter);
		ck_assert_msg(h.n == cases[i].n, "%s: %zu hits, expected %zu",
			cases[i].filter, h.n, cases[i].n);
		if (h.n == 1 && strstr(cases[i].filter, "a.b"))
			ck_assert_uint_eq(h.id[0], flat);
	}
	/* Keys a JSON path cannot hold are refused, not misread. */
	static const char *const refused[] = { "{\"q\\\"uote\":1}",
		"{\"back\\\\slash\":1}", "{\"tab\\t\":1}" };
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		cog_storage_memory_query q = { .ns = ns, .ns_count = 1, .filter = refused[i] };
		hits h = { 0 };
		ck_assert_int_eq(cog_storage_memory_find(s, &q, collect, &h), COG_EINVAL);
		ck_assert_ptr_nonnull(strstr(cog_error_last(), "filter key"));
		size_t n = 0;
		ck_assert_int_eq(cog_storage_memory_delete(s, &q, &n), COG_EINVAL);
	}
	cog_storage_free(s);
}
END_TEST

/* More query shapes than the statement cache holds, twice over. */
START_TEST(many_query_shapes)
{
	char path[PATH_MAX];
	cog_storage *s = open_store(tmp_path(path, "shapes.db"), 0);
	char meta[64], filter[64];
	for (int i = 0; i < 40; i++) {
		snprintf(meta, sizeof(meta), "{\"k%d\":\"v\"}", i);
		put(s, "x", "shape", meta);
	}
	const char *ns[] = { "x" };
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 40; i++) {
			snprintf(filter, sizeof(filter), "{\"k%d\":\"v\"}", i);
			ck_assert_uint_eq(search(s, ns, 1, round ? "shape" : NULL, filter).n, 1);
			snprintf(filter, sizeof(filter), "{\"k%d\":\"w\"}", i);
			ck_assert_uint_eq(search(s, ns, 1, NULL, filter).n, 0);
		}
	}
	cog_storage_free(s);
}
END_TEST

void sqlite_memory_add_search_tests(TCase *tc)
{
	tcase_add_test(tc, search_confined_to_namespaces);
	tcase_add_test(tc, search_text_is_never_syntax);
	tcase_add_test(tc, search_folds_case_and_diacritics);
	tcase_add_test(tc, search_long_and_many_words);
	tcase_add_test(tc, search_score_is_bm25);
	tcase_add_test(tc, search_scores_as_memory_backend);
	tcase_add_test(tc, filters_compare_in_sql);
	tcase_add_test(tc, many_query_shapes);
}
