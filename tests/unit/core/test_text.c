/* Unit tests for lib/core/text.c: cog_text_words and cog_text_bm25. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core_int.h"

struct words {
	char list[32][COG_TEXT_WORD_MAX + 1];
	size_t lens[32];
	int n;
	int stop_at;   /* return 7 from this word on (1-based); 0: never */
};

static int collect(const char *word, size_t len, void *ud)
{
	struct words *w = ud;
	ck_assert_uint_eq(strlen(word), len); /* NUL-terminated, no NUL inside */
	ck_assert_uint_gt(len, 0);
	ck_assert_uint_le(len, COG_TEXT_WORD_MAX);
	ck_assert_int_lt(w->n, 32);
	memcpy(w->list[w->n], word, len + 1);
	w->lens[w->n] = len;
	w->n++;
	return w->stop_at && w->n >= w->stop_at ? 7 : 0;
}

static struct words split(const char *text, size_t len)
{
	struct words w;
	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(cog_text_words(text, len, collect, &w), 0);
	return w;
}

static void expect_words(const char *text, const char *const *expected, int count)
{
	struct words w = split(text, strlen(text));
	ck_assert_msg(w.n == count, "\"%s\": %d words, expected %d", text, w.n, count);
	for (int i = 0; i < count; i++)
		ck_assert_str_eq(w.list[i], expected[i]);
}

START_TEST(test_ascii_words_fold)
{
	static const char *const a[] = { "hello", "world", "42", "x86", "64bit" };
	expect_words("Hello, WORLD! 42 x86_64bit", a, 5);
	static const char *const b[] = { "the", "quick", "brown", "fox" };
	expect_words("  the\tquick\n\nbrown--fox...", b, 4);
	expect_words("", NULL, 0);
	expect_words(" \t,.;:!?()[]{}\"'*^-+=/\\|<>~`@#$%&", NULL, 0);
	/* Query syntax of search engines is punctuation like any other. */
	static const char *const c[] = { "near", "a", "and", "b", "drop", "table", "x" };
	expect_words("NEAR(a AND \"b\"*); DROP TABLE x^:", c, 7);
}
END_TEST

START_TEST(test_non_ascii_words)
{
	/* Non-ASCII characters are word characters, kept as they are (only
	 * ASCII is folded); they join the ASCII letters around them. */
	static const char *const a[] = { "caf\xc3\xa9", "na\xc3\xafve", "\xc3\x89t\xc3\xa9",
		"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "\xf0\x9f\x98\x80ok" };
	expect_words("Caf\xc3\xa9 NA\xc3\xafVE \xc3\x89T\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
		"\xf0\x9f\x98\x80OK", a, 5);
}
END_TEST

START_TEST(test_invalid_utf8_separates)
{
	/* A stray continuation byte, an overlong '/', a surrogate, a code point
	 * past U+10FFFF, a truncated sequence at the end: each separates. */
	static const char *const a[] = { "ab", "cd", "ef", "gh", "ij", "kl" };
	const char text[] = "ab\x80" "cd\xc0\xaf" "ef\xed\xa0\x80" "gh\xf4\x90\x80\x80" "ij\xff" "kl\xe2\x82";
	struct words w = split(text, sizeof(text) - 1);
	ck_assert_int_eq(w.n, 6);
	for (int i = 0; i < 6; i++)
		ck_assert_str_eq(w.list[i], a[i]);
	/* The length is honoured: a NUL inside separates, bytes past len are
	 * never read. */
	w = split("one\0two three", 7);
	ck_assert_int_eq(w.n, 2);
	ck_assert_str_eq(w.list[0], "one");
	ck_assert_str_eq(w.list[1], "two");
}
END_TEST

START_TEST(test_long_words_are_cut)
{
	char text[300];
	memset(text, 'A', 100);
	strcpy(text + 100, " next");
	struct words w = split(text, strlen(text));
	ck_assert_int_eq(w.n, 2);
	ck_assert_uint_eq(w.lens[0], COG_TEXT_WORD_MAX);
	for (size_t i = 0; i < COG_TEXT_WORD_MAX; i++)
		ck_assert_int_eq(w.list[0][i], 'a');
	ck_assert_str_eq(w.list[1], "next");

	/* 63 ASCII bytes then a 2-byte character: the character does not fit
	 * and is not split; nothing after it joins the word either. */
	memset(text, 'b', 63);
	strcpy(text + 63, "\xc3\xa9z tail");
	w = split(text, strlen(text));
	ck_assert_int_eq(w.n, 2);
	ck_assert_uint_eq(w.lens[0], 63);
	ck_assert_str_eq(w.list[1], "tail");
	ck_assert_msg(cog_utf8_valid(w.list[0], w.lens[0], NULL), "cut inside a character");

	/* 62 bytes + a 2-byte character fits exactly. */
	memset(text, 'c', 62);
	strcpy(text + 62, "\xc3\xa9");
	w = split(text, strlen(text));
	ck_assert_int_eq(w.n, 1);
	ck_assert_uint_eq(w.lens[0], 64);
}
END_TEST

START_TEST(test_stop_and_null)
{
	struct words w;
	memset(&w, 0, sizeof(w));
	w.stop_at = 2;
	ck_assert_int_eq(cog_text_words("a b c d", 7, collect, &w), 7);
	ck_assert_int_eq(w.n, 2);
	ck_assert_int_eq(cog_text_words(NULL, 5, collect, &w), 0);
	ck_assert_int_eq(cog_text_words("abc", 3, NULL, NULL), 0);
}
END_TEST

START_TEST(test_bm25_values)
{
	/* idf ln(1 + (1 - 1 + .5) / 1.5) = ln(4/3); tf part 2.2 / 2.2 = 1. */
	ck_assert_double_eq_tol(cog_text_bm25(1, 1, 1, 10, 10), log(4.0 / 3.0), 1e-12);
	/* n 100, df 3: idf ln(1 + 97.5 / 3.5); tf 2, len 5, avg 10:
	 * 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 0.5)) */
	double expect = log(1 + 97.5 / 3.5) * 4.4 / (2 + 1.2 * 0.625);
	ck_assert_double_eq_tol(cog_text_bm25(2, 3, 100, 5, 10), expect, 1e-12);
	ck_assert_double_eq(cog_text_bm25(0, 3, 100, 5, 10), 0.0);
	/* No average length (an empty corpus): the length ratio counts as 1. */
	ck_assert_double_eq_tol(cog_text_bm25(1, 1, 1, 3, 0), log(4.0 / 3.0), 1e-12);
}
END_TEST

START_TEST(test_bm25_orders)
{
	/* More occurrences, a shorter text, a rarer word: each scores higher,
	 * and every score of a word present is positive (idf never negative). */
	ck_assert(cog_text_bm25(2, 5, 100, 10, 10) > cog_text_bm25(1, 5, 100, 10, 10));
	ck_assert(cog_text_bm25(1, 5, 100, 5, 10) > cog_text_bm25(1, 5, 100, 20, 10));
	ck_assert(cog_text_bm25(1, 2, 100, 10, 10) > cog_text_bm25(1, 50, 100, 10, 10));
	ck_assert(cog_text_bm25(1, 100, 100, 10, 10) > 0);
	ck_assert(cog_text_bm25(2, 1, 2, 2, 5) > cog_text_bm25(1, 1, 2, 8, 5));
}
END_TEST

static int count_words(const char *word, size_t len, void *ud)
{
	(*(size_t *)ud)++;
	return 0;
}

START_TEST(test_large_text)
{
	/* A megabyte of words: every one is seen, none allocated. */
	size_t n = 1u << 20;
	char *text = cog_malloc(n);
	ck_assert_ptr_nonnull(text);
	for (size_t i = 0; i < n; i++)
		text[i] = (i % 8 == 7) ? ' ' : (char)('a' + i % 7);
	size_t words = 0;
	ck_assert_int_eq(cog_text_words(text, n, count_words, &words), 0);
	ck_assert_uint_eq(words, n / 8);
	cog_free(text);
}
END_TEST

static Suite *text_suite(void)
{
	Suite *s = suite_create("text");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_ascii_words_fold);
	tcase_add_test(tc, test_non_ascii_words);
	tcase_add_test(tc, test_invalid_utf8_separates);
	tcase_add_test(tc, test_long_words_are_cut);
	tcase_add_test(tc, test_stop_and_null);
	tcase_add_test(tc, test_bm25_values);
	tcase_add_test(tc, test_bm25_orders);
	tcase_add_test(tc, test_large_text);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(text_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures != 0;
}
