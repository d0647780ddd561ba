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

	/* Thousands of words, repeated ones counted once. */
	size_t cap = 64 * 1024, len = 0;
	char *many = malloc(cap);
	ck_assert_ptr_nonnull(many);
	for (int i = 0; i < 5000; i++)
		len += (size_t)snprintf(many + len, cap - len, "q%d ", i % 3000);
	snprintf(many + len, cap - len, "target");
	hits h = search1(s, "w", many);
	ck_assert_uint_eq(h.n, 1);
	ck_assert(fabs(h.score[0] - search1(s, "w", "target").score[0]) < 1e-12);
	free(many);
	cog_storage_free(s);
}
END_TEST

/* storage.h: k1 1.2, b 0.75, idf ln(1 + (N - df + 0.5) / (df + 0.5)); N, df
 * and the average length are the whole index's. */
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
	double avg = (2 + 3 + 1 + 4) / 4.0;
	ck_assert_double_eq_tol(h.score[0], bm25(2, 3, 4, 3, avg), 1e-9);
	ck_assert_double_eq_tol(h.score[1], bm25(1, 3, 4, 2, avg), 1e-9);
	/* Two words add up; equal scores come in id order. */
	h = search1(s, "k", "banana cherry");
	ck_assert_uint_eq(h.n, 2);
	ck_assert_double_eq_tol(h.score[0], bm25(1, 1, 4, 2, avg), 1e-9);
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
	tcase_add_test(tc, filters_compare_in_sql);
	tcase_add_test(tc, many_query_shapes);
}
