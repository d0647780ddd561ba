/*
 * The working layer (lib/memory/working.c): ids, the token sum, eviction of
 * the oldest items (never the newest), lookup, removal, copies of what was
 * given, clearing.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "memory_int.h"

static mem_working fresh(size_t max_tokens)
{
	mem_working w;
	memset(&w, 0, sizeof(w));
	w.max_tokens = max_tokens;
	return w;
}

static uint64_t add(mem_working *w, const char *text, size_t tokens)
{
	uint64_t id = 0;
	ck_assert_int_eq(mem_work_add(w, text, strlen(text), NULL, 0.5, tokens, NULL, 0, &id), 0);
	return id;
}

static size_t token_sum(const mem_working *w)
{
	size_t sum = 0;
	for (size_t i = 0; i < w->count; i++)
		sum += w->items[i].tokens;
	return sum;
}

START_TEST(test_ids_and_tokens)
{
	mem_working w = fresh(1000);
	uint64_t a = add(&w, "first", 3), b = add(&w, "second", 5), c = add(&w, "third", 7);
	ck_assert_uint_eq(a, MEM_WORK_ID_BASE);
	ck_assert_uint_eq(b, MEM_WORK_ID_BASE + 1);
	ck_assert_uint_eq(c, MEM_WORK_ID_BASE + 2);
	ck_assert(c <= MEM_ID_MAX);
	ck_assert_uint_eq(w.count, 3);
	ck_assert_uint_eq(w.tokens, 15);
	ck_assert_uint_eq(w.evicted, 0);
	ck_assert_str_eq(w.items[0].text, "first");
	ck_assert_str_eq(w.items[2].text, "third");
	ck_assert_uint_eq(w.items[1].text_len, 6);
	ck_assert_str_eq(w.items[0].metadata, "{}"); /* NULL metadata is an empty object */
	ck_assert(w.items[0].created_at > 0);
	/* the id is optional */
	ck_assert_int_eq(mem_work_add(&w, "x", 1, NULL, 0.5, 1, NULL, 0, NULL), 0);
	ck_assert_uint_eq(w.items[3].id, MEM_WORK_ID_BASE + 3);
	mem_work_clear(&w);
}
END_TEST

START_TEST(test_copies)
{
	mem_working w = fresh(1000);
	char text[] = "hello world", meta[] = "{\"turn\":1}";
	float vec[4] = { 1, 2, 3, 4 };
	uint64_t id = 0;
	/* len shorter than the string: only len bytes are kept */
	ck_assert_int_eq(mem_work_add(&w, text, 5, meta, 0.9, 2, vec, 4, &id), 0);
	text[0] = 'J';
	meta[2] = 'X';
	vec[0] = 42;
	mem_work_item *it = mem_work_find(&w, id);
	ck_assert_ptr_nonnull(it);
	ck_assert_str_eq(it->text, "hello");
	ck_assert_uint_eq(it->text_len, 5);
	ck_assert_str_eq(it->metadata, "{\"turn\":1}");
	ck_assert_ptr_nonnull(it->vec);
	ck_assert(it->vec[0] == 1.0f && it->vec[3] == 4.0f);
	ck_assert(it->importance == 0.9);
	mem_work_clear(&w);
}
END_TEST

START_TEST(test_eviction_order)
{
	mem_working w = fresh(10);
	uint64_t ids[6];
	ids[0] = add(&w, "a", 4);
	ids[1] = add(&w, "b", 4);
	ck_assert_uint_eq(w.count, 2);
	ids[2] = add(&w, "c", 4);            /* 12 > 10: "a" goes */
	ck_assert_uint_eq(w.count, 2);
	ck_assert_uint_eq(w.tokens, 8);
	ck_assert_uint_eq(w.evicted, 1);
	ck_assert_ptr_null(mem_work_find(&w, ids[0]));
	ck_assert_str_eq(w.items[0].text, "b");
	ck_assert_str_eq(w.items[1].text, "c");
	ids[3] = add(&w, "d", 9);            /* 17: "b" and "c" both go in one step */
	ck_assert_uint_eq(w.count, 1);
	ck_assert_uint_eq(w.tokens, 9);
	ck_assert_uint_eq(w.evicted, 3);
	ck_assert_str_eq(w.items[0].text, "d");
	/* an item larger than the bound stays: the newest is never evicted */
	ids[4] = add(&w, "e", 50);
	ck_assert_uint_eq(w.count, 1);
	ck_assert_uint_eq(w.items[0].id, ids[4]);
	ck_assert_uint_eq(w.tokens, 50);
	/* and goes as soon as something newer comes */
	ids[5] = add(&w, "f", 1);
	ck_assert_uint_eq(w.count, 1);
	ck_assert_uint_eq(w.items[0].id, ids[5]);
	ck_assert_uint_eq(w.tokens, 1);
	ck_assert_uint_eq(w.evicted, 5);
	mem_work_clear(&w);
}
END_TEST

START_TEST(test_many_items_bounded)
{
	mem_working w = fresh(500);
	uint64_t last = 0;
	for (unsigned i = 0; i < 5000; i++) {
		char text[32];
		snprintf(text, sizeof(text), "item %u", i);
		last = add(&w, text, 1 + i % 7);
		ck_assert_uint_le(w.tokens, 500);
		ck_assert_uint_eq(w.tokens, token_sum(&w));
	}
	ck_assert_uint_eq(w.items[w.count - 1].id, last);
	ck_assert_str_eq(w.items[w.count - 1].text, "item 4999");
	/* still oldest first with increasing ids, and every one can be found */
	for (size_t i = 0; i < w.count; i++) {
		if (i)
			ck_assert_uint_gt(w.items[i].id, w.items[i - 1].id);
		ck_assert_ptr_eq(mem_work_find(&w, w.items[i].id), &w.items[i]);
	}
	ck_assert_uint_eq(w.evicted + w.count, 5000);
	mem_work_clear(&w);
}
END_TEST

START_TEST(test_remove)
{
	mem_working w = fresh(1000);
	uint64_t a = add(&w, "a", 1), b = add(&w, "b", 2), c = add(&w, "c", 3);
	ck_assert_int_eq(mem_work_remove(&w, b), 0);
	ck_assert_uint_eq(w.count, 2);
	ck_assert_uint_eq(w.tokens, 4);
	ck_assert_ptr_null(mem_work_find(&w, b));
	ck_assert_str_eq(mem_work_find(&w, a)->text, "a");
	ck_assert_str_eq(mem_work_find(&w, c)->text, "c");
	ck_assert_int_eq(mem_work_remove(&w, b), COG_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "no item"));
	ck_assert_int_eq(mem_work_remove(&w, 12345), COG_ENOTFOUND);
	ck_assert_int_eq(mem_work_remove(&w, c), 0);  /* the last */
	ck_assert_int_eq(mem_work_remove(&w, a), 0);  /* the first */
	ck_assert_uint_eq(w.count, 0);
	ck_assert_uint_eq(w.tokens, 0);
	/* ids keep growing after removal: never reused */
	ck_assert_uint_eq(add(&w, "d", 1), c + 1);
	mem_work_clear(&w);
}
END_TEST

START_TEST(test_find_missing)
{
	mem_working w = fresh(100);
	ck_assert_ptr_null(mem_work_find(&w, MEM_WORK_ID_BASE));
	add(&w, "a", 1);
	ck_assert_ptr_null(mem_work_find(&w, MEM_WORK_ID_BASE - 1));
	ck_assert_ptr_null(mem_work_find(&w, MEM_WORK_ID_BASE + 1));
	ck_assert_ptr_null(mem_work_find(&w, 0));
	mem_work_clear(&w);
}
END_TEST

START_TEST(test_clear)
{
	mem_working w = fresh(3);
	add(&w, "a", 2);
	add(&w, "b", 2);
	uint64_t b = w.items[0].id;
	mem_work_clear(&w);
	ck_assert_uint_eq(w.count, 0);
	ck_assert_uint_eq(w.tokens, 0);
	ck_assert_ptr_null(w.items);
	ck_assert_uint_eq(w.max_tokens, 3);
	ck_assert_uint_eq(w.evicted, 1);
	/* usable again, with new ids */
	ck_assert_uint_gt(add(&w, "c", 1), b);
	mem_work_clear(&w);
	mem_work_clear(&w); /* twice is fine */
}
END_TEST

START_TEST(test_out_of_ids)
{
	mem_working w = fresh(100);
	w.next = MEM_ID_MAX - MEM_WORK_ID_BASE;  /* the last id */
	uint64_t id = add(&w, "last", 1);
	ck_assert_uint_eq(id, MEM_ID_MAX);
	ck_assert_int_eq(mem_work_add(&w, "x", 1, NULL, 0.5, 1, NULL, 0, &id), COG_ERANGE);
	ck_assert_uint_eq(w.count, 1);
	mem_work_clear(&w);
}
END_TEST

static Suite *working_suite(void)
{
	Suite *s = suite_create("memory-working");
	TCase *tc = tcase_create("working");
	tcase_add_test(tc, test_ids_and_tokens);
	tcase_add_test(tc, test_copies);
	tcase_add_test(tc, test_eviction_order);
	tcase_add_test(tc, test_many_items_bounded);
	tcase_add_test(tc, test_remove);
	tcase_add_test(tc, test_find_missing);
	tcase_add_test(tc, test_clear);
	tcase_add_test(tc, test_out_of_ids);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(working_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
