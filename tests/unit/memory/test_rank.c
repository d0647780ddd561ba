/* Hybrid ranking (lib/memory/rank.c): reciprocal rank fusion order, ties by
 * id, recency decay at the half-life, the importance factor, and weights of
 * 0 that switch a list off. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "memory_int.h"

#define NOW INT64_C(1800000000000)
#define DAY_MS (24.0 * 3600 * 1000)

static mem_candidate cand(uint64_t id, int kw_rank, int vec_rank)
{
	mem_candidate c;
	memset(&c, 0, sizeof(c));
	c.id = id;
	c.keyword_rank = kw_rank;
	c.vector_rank = vec_rank;
	c.importance = 0.5;
	c.created_at = NOW;
	return c;
}

/* Only the lists count: no recency or importance effect. */
static mem_rank_weights lists_only(void)
{
	mem_rank_weights w;
	mem_rank_defaults(&w);
	w.recency = 0;
	w.importance = 0;
	return w;
}

static size_t find(const mem_candidate *c, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (c[i].id == id)
			return i;
	ck_abort_msg("id %llu missing", (unsigned long long)id);
	return n;
}

START_TEST(defaults)
{
	mem_rank_weights w;
	memset(&w, 0xff, sizeof(w));
	mem_rank_defaults(&w);
	ck_assert(w.keyword == 1 && w.vector == 1);
	ck_assert(w.recency == 0.2 && w.importance == 0.3);
	ck_assert(w.half_life_ms == 30.0 * DAY_MS);
	ck_assert(w.rrf_k == 60);
}
END_TEST

START_TEST(rrf_order)
{
	/* 1: keyword 1 only; 2: keyword 2 + vector 3; 3: vector 1 only;
	 * 4: keyword 3 + vector 2; 5: vector 4 only */
	mem_candidate c[] = {
		cand(1, 1, 0), cand(2, 2, 3), cand(3, 0, 1), cand(4, 3, 2), cand(5, 0, 4),
	};
	mem_rank_weights w = lists_only();
	mem_rank_fuse(c, COG_ARRAY_LEN(c), &w, NOW);
	/* found by both lists beats found by one, even at lower ranks */
	ck_assert_uint_eq(c[0].id, 2);   /* 1/62 + 1/63 */
	ck_assert_uint_eq(c[1].id, 4);   /* 1/63 + 1/62: equal to 2's, id breaks the tie */
	ck_assert_uint_eq(c[2].id, 1);   /* 1/61 */
	ck_assert_uint_eq(c[3].id, 3);   /* 1/61, tie with 1 → lower id first */
	ck_assert_uint_eq(c[4].id, 5);
	ck_assert_double_eq_tol(c[0].score, 1.0 / 62 + 1.0 / 63, 1e-15);
	ck_assert_double_eq_tol(c[2].score, 1.0 / 61, 1e-15);
	ck_assert_double_eq_tol(c[4].score, 1.0 / 64, 1e-15);
	for (size_t i = 0; i < COG_ARRAY_LEN(c); i++)
		ck_assert_double_eq_tol(c[i].recency, 1.0, 1e-15);
}
END_TEST

START_TEST(ties_by_id)
{
	/* identical signals in a scrambled id order come out by ascending id */
	uint64_t ids[] = { 907, 3, 55, 1ull << 52, 12, 4000000000ull, 1 };
	enum { N = COG_ARRAY_LEN(ids) };
	mem_candidate c[N];
	for (size_t i = 0; i < N; i++)
		c[i] = cand(ids[i], 5, 0);
	mem_rank_weights w;
	mem_rank_defaults(&w);
	mem_rank_fuse(c, N, &w, NOW);
	for (size_t i = 1; i < N; i++) {
		ck_assert(c[i - 1].id < c[i].id);
		ck_assert(c[i - 1].score == c[i].score);
	}
}
END_TEST

START_TEST(recency_halves_at_half_life)
{
	mem_rank_weights w;
	mem_rank_defaults(&w);
	w.recency = 1.0;    /* the whole score decays */
	w.importance = 0;
	w.half_life_ms = 7 * DAY_MS;
	int64_t hl = (int64_t)w.half_life_ms;
	mem_candidate c[] = { cand(1, 1, 0), cand(2, 1, 0), cand(3, 1, 0), cand(4, 1, 0) };
	c[1].created_at = NOW - hl;
	c[2].created_at = NOW - 2 * hl;
	c[3].created_at = NOW + 3600 * 1000;  /* from the future: counts as new */
	mem_rank_fuse(c, 4, &w, NOW);
	size_t now_i = find(c, 4, 1), one = find(c, 4, 2), two = find(c, 4, 3), fut = find(c, 4, 4);
	ck_assert_double_eq_tol(c[one].recency, 0.5, 1e-12);
	ck_assert_double_eq_tol(c[two].recency, 0.25, 1e-12);
	ck_assert_double_eq_tol(c[fut].recency, 1.0, 1e-15);
	ck_assert_double_eq_tol(c[one].score, c[now_i].score / 2, 1e-15);
	ck_assert_double_eq_tol(c[two].score, c[now_i].score / 4, 1e-15);
	/* newest first; the future one ties the present one and its id is higher */
	ck_assert_uint_eq(c[0].id, 1);
	ck_assert_uint_eq(c[1].id, 4);
	ck_assert_uint_eq(c[2].id, 2);
	ck_assert_uint_eq(c[3].id, 3);

	/* with the default share (0.2), one half-life costs 10 % of the score */
	mem_rank_defaults(&w);
	w.importance = 0;
	mem_candidate d[] = { cand(1, 1, 0), cand(2, 1, 0) };
	d[1].created_at = NOW - (int64_t)w.half_life_ms;
	mem_rank_fuse(d, 2, &w, NOW);
	ck_assert_uint_eq(d[0].id, 1);
	ck_assert_double_eq_tol(d[1].score / d[0].score, 0.9, 1e-12);

	/* recency can reorder: an old memory at keyword rank 1 loses to a new
	 * one at rank 2 once enough of the score decays */
	w.recency = 1.0;
	mem_candidate e[] = { cand(1, 1, 0), cand(2, 2, 0) };
	e[0].created_at = NOW - 10 * (int64_t)w.half_life_ms;
	mem_rank_fuse(e, 2, &w, NOW);
	ck_assert_uint_eq(e[0].id, 2);
	w.recency = 0;
	mem_rank_fuse(e, 2, &w, NOW);
	ck_assert_uint_eq(e[0].id, 1);
}
END_TEST

START_TEST(importance_effect)
{
	mem_rank_weights w;
	mem_rank_defaults(&w);
	w.recency = 0;
	mem_candidate c[] = { cand(1, 1, 0), cand(2, 1, 0), cand(3, 1, 0) };
	c[0].importance = 0.0;
	c[1].importance = 0.5;
	c[2].importance = 1.0;
	mem_rank_fuse(c, 3, &w, NOW);
	ck_assert_uint_eq(c[0].id, 3);
	ck_assert_uint_eq(c[1].id, 2);
	ck_assert_uint_eq(c[2].id, 1);
	double base = 1.0 / 61;
	ck_assert_double_eq_tol(c[0].score, base * 1.15, 1e-15);  /* 1 + 0.3 × 0.5 */
	ck_assert_double_eq_tol(c[1].score, base, 1e-15);         /* 0.5: neutral */
	ck_assert_double_eq_tol(c[2].score, base * 0.85, 1e-15);

	/* importance reorders close ranks but not distant ones */
	mem_candidate d[] = { cand(1, 1, 0), cand(2, 2, 0), cand(3, 40, 0) };
	d[1].importance = 1.0;
	d[2].importance = 1.0;
	mem_rank_fuse(d, 3, &w, NOW);
	ck_assert_uint_eq(d[0].id, 2);   /* 1.15/62 > 1/61 */
	ck_assert_uint_eq(d[1].id, 1);
	ck_assert_uint_eq(d[2].id, 3);   /* 1.15/100 < 1/61 */

	/* weight 0: importance has no effect, ids decide the tie */
	w.importance = 0;
	mem_candidate e[] = { cand(2, 1, 0), cand(1, 1, 0) };
	e[0].importance = 1.0;
	mem_rank_fuse(e, 2, &w, NOW);
	ck_assert_uint_eq(e[0].id, 1);
	ck_assert(e[0].score == e[1].score);
}
END_TEST

START_TEST(zero_weight_disables_list)
{
	mem_rank_weights w = lists_only();
	w.keyword = 0;
	/* keyword ranks are ignored: the vector list alone orders */
	mem_candidate c[] = { cand(1, 1, 3), cand(2, 2, 1), cand(3, 3, 2), cand(4, 4, 0) };
	mem_rank_fuse(c, 4, &w, NOW);
	ck_assert_uint_eq(c[0].id, 2);
	ck_assert_uint_eq(c[1].id, 3);
	ck_assert_uint_eq(c[2].id, 1);
	ck_assert_uint_eq(c[3].id, 4);
	ck_assert(c[3].score == 0);
	ck_assert_double_eq_tol(c[0].score, 1.0 / 61, 1e-15);

	w = lists_only();
	w.vector = 0;
	mem_candidate d[] = { cand(1, 3, 1), cand(2, 1, 2), cand(3, 2, 0), cand(4, 0, 1) };
	mem_rank_fuse(d, 4, &w, NOW);
	ck_assert_uint_eq(d[0].id, 2);
	ck_assert_uint_eq(d[1].id, 3);
	ck_assert_uint_eq(d[2].id, 1);
	ck_assert_uint_eq(d[3].id, 4);
	ck_assert(d[3].score == 0);

	/* unequal weights: a list weighted 2 outranks the other at equal ranks */
	w = lists_only();
	w.vector = 2;
	mem_candidate e[] = { cand(1, 1, 0), cand(2, 0, 1) };
	mem_rank_fuse(e, 2, &w, NOW);
	ck_assert_uint_eq(e[0].id, 2);
	ck_assert_double_eq_tol(e[0].score, 2.0 / 61, 1e-15);
}
END_TEST

START_TEST(empty_and_single)
{
	mem_rank_weights w;
	mem_rank_defaults(&w);
	mem_rank_fuse(NULL, 0, &w, NOW);
	mem_candidate c = cand(9, 0, 7);
	c.created_at = 0;       /* decades old */
	c.importance = 1.0;
	mem_rank_fuse(&c, 1, &w, NOW);
	ck_assert(isfinite(c.score) && c.score > 0);
	ck_assert(c.recency >= 0 && c.recency < 1e-100);
	/* only the decaying share is lost */
	ck_assert_double_eq_tol(c.score, (1.0 / 67) * 0.8 * 1.15, 1e-15);
}
END_TEST

START_TEST(large_list_sorted)
{
	enum { N = 5000 };
	static mem_candidate c[N];
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < N; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		c[i] = cand(1 + (x % 1000000), (int)(x % 300), (int)((x >> 20) % 300));
		c[i].importance = (double)((x >> 30) % 101) / 100.0;
		c[i].created_at = NOW - (int64_t)((x >> 40) % (90ull * 24 * 3600 * 1000));
	}
	mem_rank_weights w;
	mem_rank_defaults(&w);
	mem_rank_fuse(c, N, &w, NOW);
	for (size_t i = 1; i < N; i++)
		ck_assert(c[i - 1].score > c[i].score ||
		          (c[i - 1].score == c[i].score && c[i - 1].id <= c[i].id));
}
END_TEST

static Suite *rank_suite(void)
{
	Suite *s = suite_create("memory-rank");
	TCase *tc = tcase_create("rank");
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, rrf_order);
	tcase_add_test(tc, ties_by_id);
	tcase_add_test(tc, recency_halves_at_half_life);
	tcase_add_test(tc, importance_effect);
	tcase_add_test(tc, zero_weight_disables_list);
	tcase_add_test(tc, empty_and_single);
	tcase_add_test(tc, large_list_sorted);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(rank_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
