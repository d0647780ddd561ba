/* Exact vector search (lib/memory/vector.h): every SIMD path against the
 * scalar reference, top-k against a sort, batched against single, int8
 * recall against float32, bad input. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"
#include "vector.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static float frand(void)   /* [-1, 1) */
{
	return (float)((double)(rng() >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static void fill(float *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		v[i] = frand();
}

static const mem_vec_isa all_isas[] = { MEM_VEC_SCALAR, MEM_VEC_AVX2, MEM_VEC_AVX512 };

static size_t next_dim(size_t d)
{
	return d < 80 ? d + 1 : d < 1031 ? (d + 37 > 1031 ? 1031 : d + 37) : 0;
}

START_TEST(simd_matches_scalar)
{
	const mem_vec_kernels *ref = &mem_vec_scalar_kernels;
	int tested = 0;
	for (size_t t = 0; t < COG_ARRAY_LEN(all_isas); t++) {
		if (!mem_vec_isa_supported(all_isas[t]))
			continue;
		ck_assert_int_eq(mem_vec_isa_force(all_isas[t]), 0);
		ck_assert_int_eq(mem_vec_isa_active(), all_isas[t]);
		const mem_vec_kernels *k = mem_vec_kernels_active();
		tested++;
		for (size_t dim = 1; dim; dim = next_dim(dim)) {
			enum { NQ = 6, NR = 7 };
			/* +1: start one float in, so nothing is 32- or 64-byte aligned */
			float *q = malloc((NQ * dim + 1) * sizeof(float));
			float *r = malloc((NR * dim + 1) * sizeof(float));
			int8_t *q8 = malloc(dim + 1), *r8 = malloc(NR * dim + 1);
			fill(q, NQ * dim + 1);
			fill(r, NR * dim + 1);
			for (size_t i = 0; i < dim + 1; i++)
				q8[i] = (int8_t)((int)(rng() % 255) - 127);
			for (size_t i = 0; i < NR * dim + 1; i++)
				r8[i] = (int8_t)((int)(rng() % 255) - 127);
			float got[NQ * NR], want[NQ * NR];
			k->dot_tile(r + 1, NR, q + 1, NQ, dim, got, NR);
			ref->dot_tile(r + 1, NR, q + 1, NQ, dim, want, NR);
			for (size_t i = 0; i < NQ * NR; i++)
				ck_assert_msg(fabsf(got[i] - want[i]) <= 1e-5f * (float)dim + 1e-6f,
				              "%s dim %zu tile %zu: %g vs %g", mem_vec_isa_name(all_isas[t]),
				              dim, i, got[i], want[i]);
			float d1 = k->dot_f32(q + 1, r + 1, dim), d0 = ref->dot_f32(q + 1, r + 1, dim);
			ck_assert_msg(fabsf(d1 - d0) <= 1e-5f * (float)dim + 1e-6f, "dot dim %zu", dim);
			/* the 1x1 path sums in the tile's order: exactly the same bits */
			ck_assert_msg(d1 == got[0], "%s dim %zu: dot %g vs tile %g",
			              mem_vec_isa_name(all_isas[t]), dim, d1, got[0]);
			/* one query over many rows (the wide single-query paths and their
			 * tails): every score has the bits of dot_f32 */
			enum { NW = 29 };
			float *rw = malloc((NW * dim + 1) * sizeof(float));
			ck_assert_ptr_nonnull(rw);
			fill(rw, NW * dim + 1);
			float gw[NW];
			k->dot_tile(rw + 1, NW, q + 1, 1, dim, gw, NW);
			for (size_t i = 0; i < NW; i++) {
				float dw = k->dot_f32(q + 1, rw + 1 + i * dim, dim);
				ck_assert_msg(dw == gw[i], "%s dim %zu row %zu: dot %g vs tile %g",
				              mem_vec_isa_name(all_isas[t]), dim, i, dw, gw[i]);
			}
			free(rw);
			int32_t gi[NR], wi[NR];
			k->dot_rows_i8(r8 + 1, NR, q8 + 1, dim, gi);
			ref->dot_rows_i8(r8 + 1, NR, q8 + 1, dim, wi);
			for (size_t i = 0; i < NR; i++)
				ck_assert_int_eq(gi[i], wi[i]);
			ck_assert_int_eq(k->dot_i8(r8 + 1, q8 + 1, dim), ref->dot_i8(r8 + 1, q8 + 1, dim));
			free(q);
			free(r);
			free(q8);
			free(r8);
		}
	}
	mem_vec_isa_reset();
	printf("vector: kernels checked against scalar: %d instruction sets (active: %s)\n", tested,
	       mem_vec_isa_name(mem_vec_isa_active()));
	ck_assert_int_ge(tested, 1);
}
END_TEST

/* n rows of dim, every 5th row a copy of the one before (ties). */
static mem_vec_store *make_store(size_t n, size_t dim, float **raw_out)
{
	mem_vec_store *s = NULL;
	ck_assert_int_eq(mem_vec_store_new(&s, dim), 0);
	float *raw = malloc(n * dim * sizeof(float));
	for (size_t i = 0; i < n; i++) {
		if (i % 5 == 4)
			memcpy(raw + i * dim, raw + (i - 1) * dim, dim * sizeof(float));
		else
			fill(raw + i * dim, dim);
		/* ids not in row order */
		ck_assert_int_eq(mem_vec_store_add(s, (uint64_t)(n - i) * 3, raw + i * dim, dim), 0);
	}
	if (raw_out)
		*raw_out = raw;
	else
		free(raw);
	return s;
}

typedef struct { float score; uint64_t id; } ref_hit;

static int cmp_ref(const void *pa, const void *pb)
{
	const ref_hit *a = pa, *b = pb;
	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

/*
 * Allow bitmaps that take each path of the search: NULL (0), a random half
 * (1: every row scored, then filtered), a random tenth (2: runs of allowed
 * rows, mostly short), runs of 64 rows at random (3: long runs), every bit
 * set (4), every bit clear (5). allow has room for (n + 7) / 8 bytes.
 */
enum { ALLOW_KINDS = 6 };

static const uint8_t *make_allow(uint8_t *allow, size_t n, int kind)
{
	if (kind == 0)
		return NULL;
	memset(allow, kind == 4 ? 0xff : 0, (n + 7) / 8);
	int run_on = 0;
	for (size_t r = 0; r < n && kind != 4; r++) {
		if (r % 64 == 0)
			run_on = (int)(rng() & 1);
		int on = kind == 1 ? (int)(rng() & 1) : kind == 2 ? rng() % 10 == 0 : kind == 3 && run_on;
		if (on)
			allow[r / 8] |= (uint8_t)(1u << (r % 8));
	}
	return allow;
}

START_TEST(topk_matches_sort)
{
	const size_t n = 1500, dim = 37;
	mem_vec_store *s = make_store(n, dim, NULL);
	uint8_t allow_buf[(1500 + 7) / 8];
	for (size_t t = 0; t < COG_ARRAY_LEN(all_isas); t++) {
		if (!mem_vec_isa_supported(all_isas[t]))
			continue;
		mem_vec_isa_force(all_isas[t]);
		for (int kind = 0; kind < ALLOW_KINDS; kind++) {
			const uint8_t *allow = make_allow(allow_buf, n, kind);
			float q[37], qn[37];
			fill(q, dim);
			ck_assert_int_eq(cog__vec_normalize(q, dim, qn, "test"), 0);
			ref_hit *ref = malloc(n * sizeof(*ref));
			size_t nref = 0;
			for (size_t r = 0; r < n; r++)
				if (!allow || (allow[r / 8] >> (r % 8)) & 1)
					ref[nref++] = (ref_hit){ cog__vec_dot(qn, s->rows + r * dim, dim),
					                         s->ids[r] };
			qsort(ref, nref, sizeof(*ref), cmp_ref);
			static const size_t ks[] = { 1, 10, 333, 1000 };
			for (size_t ki = 0; ki < COG_ARRAY_LEN(ks); ki++) {
				mem_vec_hit hits[1000];
				size_t nh = 0;
				ck_assert_int_eq(mem_vec_search(s, q, dim, ks[ki], allow, hits, &nh), 0);
				ck_assert_uint_eq(nh, ks[ki] < nref ? ks[ki] : nref);
				for (size_t i = 0; i < nh; i++) {
					ck_assert_msg(hits[i].id == ref[i].id && hits[i].score == ref[i].score,
					              "%s allow %d k %zu hit %zu: id %llu %g vs %llu %g",
					              mem_vec_isa_name(all_isas[t]), kind, ks[ki], i,
					              (unsigned long long)hits[i].id, hits[i].score,
					              (unsigned long long)ref[i].id, ref[i].score);
					ck_assert_uint_eq(s->ids[hits[i].row], hits[i].id);
				}
			}
			free(ref);
		}
	}
	mem_vec_isa_reset();
	mem_vec_store_free(s);
}
END_TEST

START_TEST(batch_equals_single)
{
	static const size_t dims[] = { 19, 384 };
	for (size_t di = 0; di < 2; di++) {
		size_t dim = dims[di], n = 3001, nq = 70, k = 25;
		mem_vec_store *s = make_store(n, dim, NULL);
		float *qs = malloc(nq * dim * sizeof(float));
		fill(qs, nq * dim);
		mem_vec_hit *bh = malloc(nq * k * sizeof(*bh));
		size_t *bn = malloc(nq * sizeof(size_t));
		uint8_t allow_buf[(3001 + 7) / 8];
		for (size_t t = 0; t < COG_ARRAY_LEN(all_isas); t++) {
			if (!mem_vec_isa_supported(all_isas[t]))
				continue;
			mem_vec_isa_force(all_isas[t]);
			for (int kind = 0; kind < 4; kind++) {   /* NULL, half, tenth, runs */
				const uint8_t *allow = make_allow(allow_buf, n, kind);
				ck_assert_int_eq(mem_vec_search_batch(s, qs, nq, dim, k, allow, bh, bn), 0);
				for (size_t q = 0; q < nq; q++) {
					mem_vec_hit h[25];
					size_t nh;
					ck_assert_int_eq(mem_vec_search(s, qs + q * dim, dim, k, allow, h, &nh),
					                 0);
					ck_assert_uint_eq(nh, bn[q]);
					for (size_t i = 0; i < nh; i++)
						ck_assert_msg(h[i].id == bh[q * k + i].id &&
						              h[i].score == bh[q * k + i].score,
						              "%s allow %d dim %zu query %zu hit %zu",
						              mem_vec_isa_name(all_isas[t]), kind, dim, q, i);
				}
			}
		}
		mem_vec_isa_reset();
		free(qs);
		free(bh);
		free(bn);
		mem_vec_store_free(s);
	}
}
END_TEST

START_TEST(int8_recall)
{
	const size_t n = 20000, dim = 384, nq = 50, k = 10;
	mem_vec_store *s = make_store(n, dim, NULL);
	size_t found = 0;
	for (size_t q = 0; q < nq; q++) {
		float qv[384];
		fill(qv, dim);
		mem_vec_hit a[10], b[10];
		size_t na, nb;
		ck_assert_int_eq(mem_vec_search(s, qv, dim, k, NULL, a, &na), 0);
		ck_assert_int_eq(mem_vec_search_i8(s, qv, dim, k, NULL, b, &nb), 0);
		ck_assert_uint_eq(na, k);
		ck_assert_uint_eq(nb, k);
		for (size_t i = 0; i < k; i++)
			for (size_t j = 0; j < k; j++)
				if (a[i].row == b[j].row)
					found++;
	}
	double recall = (double)found / (double)(nq * k);
	printf("vector: int8 recall@10 vs float32 on %zu random unit vectors of %zu: %.3f\n", n,
	       dim, recall);
	ck_assert_msg(recall >= 0.9, "int8 recall@10 %.3f < 0.9", recall);
	mem_vec_store_free(s);
}
END_TEST

/* Growing past 4 MiB moves the matrices to new (huge-page) allocations:
 * every row, int8 row, scale and id survives each move. */
START_TEST(store_keeps_rows_when_growing)
{
	const size_t n = 9000, dim = 384;   /* capacity 16384 rows: 24 MiB float32, 6 MiB int8 */
	float *raw = NULL;
	mem_vec_store *s = make_store(n, dim, &raw);
	ck_assert_uint_eq(s->count, n);
	float *row = malloc(dim * sizeof(float));
	int8_t *q8 = malloc(dim);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(cog__vec_normalize(raw + i * dim, dim, row, "test"), 0);
		ck_assert_msg(memcmp(row, s->rows + i * dim, dim * sizeof(float)) == 0, "row %zu", i);
		float scale;
		cog__vec_quantize_i8(row, dim, q8, &scale);
		ck_assert_msg(memcmp(q8, s->rows_i8 + i * dim, dim) == 0, "int8 row %zu", i);
		ck_assert(scale == s->scales[i]);
		ck_assert_uint_eq(s->ids[i], (uint64_t)(n - i) * 3);
	}
	free(row);
	free(q8);
	free(raw);
	mem_vec_store_free(s);
}
END_TEST

static void expect_einval(int rc, const char *in_message)
{
	ck_assert_int_eq(rc, COG_EINVAL);
	ck_assert_msg(strstr(cog_error_last(), in_message), "\"%s\" lacks \"%s\"",
	              cog_error_last(), in_message);
}

START_TEST(bad_input)
{
	mem_vec_store *s = NULL;
	expect_einval(mem_vec_store_new(&s, 0), "dimension 0");
	expect_einval(mem_vec_store_new(NULL, 4), "out is NULL");
	ck_assert_int_eq(mem_vec_store_new(&s, 4), 0);
	float good[4] = { 1, 2, 3, 4 }, nan_v[4] = { 1, NAN, 0, 0 };
	float inf_v[4] = { 0, 0, 0, -INFINITY }, zero[4] = { 0 };
	expect_einval(mem_vec_store_add(s, 1, good, 3), "dimension 3, the store holds 4");
	expect_einval(mem_vec_store_add(s, 1, NULL, 4), "id 1: vector is NULL");
	expect_einval(mem_vec_store_add(s, 2, nan_v, 4), "id 2: element 1 is NaN");
	expect_einval(mem_vec_store_add(s, 3, inf_v, 4), "element 3 is infinite");
	expect_einval(mem_vec_store_add(s, 4, zero, 4), "zero vector");
	expect_einval(mem_vec_store_add(NULL, 4, good, 4), "store is NULL");
	ck_assert_uint_eq(s->count, 0);
	ck_assert_int_eq(mem_vec_store_add(s, 5, good, 4), 0);
	mem_vec_hit h[2];
	size_t nh = 99;
	expect_einval(mem_vec_search(s, good, 4, 0, NULL, h, &nh), "k is 0");
	expect_einval(mem_vec_search(s, good, 4, 1001, NULL, h, &nh), "k is 1001");
	expect_einval(mem_vec_search(s, good, 5, 1, NULL, h, &nh), "query dimension 5");
	expect_einval(mem_vec_search(s, nan_v, 4, 1, NULL, h, &nh), "query: element 1 is NaN");
	expect_einval(mem_vec_search(NULL, good, 4, 1, NULL, h, &nh), "store is NULL");
	expect_einval(mem_vec_search(s, NULL, 4, 1, NULL, h, &nh), "query is NULL");
	expect_einval(mem_vec_search(s, good, 4, 1, NULL, NULL, &nh), "hits is NULL");
	expect_einval(mem_vec_search_i8(s, inf_v, 4, 1, NULL, h, &nh), "infinite");
	expect_einval(mem_vec_search_i8(s, good, 4, 0, NULL, h, &nh), "k is 0");
	float two[8] = { 1, 0, 0, 0, 0, NAN, 0, 0 };
	size_t n2[2];
	expect_einval(mem_vec_search_batch(s, two, 2, 4, 1, NULL, h, n2), "query 1: element 1");
	expect_einval(mem_vec_search_batch(s, two, 0, 4, 1, NULL, h, n2), "no queries");
	/* an empty allow-bitmap: no hits, not an error */
	uint8_t none = 0;
	ck_assert_int_eq(mem_vec_search(s, good, 4, 2, &none, h, &nh), 0);
	ck_assert_uint_eq(nh, 0);
	ck_assert_int_eq(mem_vec_search(s, good, 4, 2, NULL, h, &nh), 0);
	ck_assert_uint_eq(nh, 1);
	ck_assert_uint_eq(h[0].id, 5);
	ck_assert_float_eq_tol(h[0].score, 1.0f, 1e-6f);
	expect_einval(mem_vec_isa_force((mem_vec_isa)7), "not supported");
	mem_vec_store_free(s);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("memory-vector");
	TCase *tc = tcase_create("vector");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, simd_matches_scalar);
	tcase_add_test(tc, topk_matches_sort);
	tcase_add_test(tc, batch_equals_single);
	tcase_add_test(tc, int8_recall);
	tcase_add_test(tc, store_keeps_rows_when_growing);
	tcase_add_test(tc, bad_input);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
