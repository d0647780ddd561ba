/*
 * AVX-512F kernels. Only these functions are compiled for AVX-512 (target
 * attribute); vector.c calls them only when the CPU reports avx512f.
 *
 * Every (query, row) pair is summed in the same order whatever the tile
 * shape (16-lane chunks, a masked tail, one final reduction), so a batched
 * search gives exactly the scores of single searches.
 */
#include "vector.h"

#ifdef MEM_VEC_HAVE_X86
#include <immintrin.h>

#define T512 __attribute__((target("avx512f")))
#define INLINE512 static inline __attribute__((always_inline, target("avx512f")))

/* Q queries x R rows (Q, R <= 4, constants after inlining). */
INLINE512 void tile(const float *rows, const float *qs, size_t dim, int Q, int R, float *out,
                    size_t ld)
{
	__m512 acc[4][4];
	MEM_VEC_UNROLL for (int a = 0; a < Q; a++)
		MEM_VEC_UNROLL for (int b = 0; b < R; b++)
			acc[a][b] = _mm512_setzero_ps();
	size_t i = 0;
	for (; i + 16 <= dim; i += 16) {
		__m512 rv[4];
		MEM_VEC_UNROLL for (int b = 0; b < R; b++)
			rv[b] = _mm512_loadu_ps(rows + (size_t)b * dim + i);
		MEM_VEC_UNROLL for (int a = 0; a < Q; a++) {
			__m512 qv = _mm512_loadu_ps(qs + (size_t)a * dim + i);
			MEM_VEC_UNROLL for (int b = 0; b < R; b++)
				acc[a][b] = _mm512_fmadd_ps(qv, rv[b], acc[a][b]);
		}
	}
	if (i < dim) {
		__mmask16 m = (__mmask16)((1u << (dim - i)) - 1u);
		__m512 rv[4];
		MEM_VEC_UNROLL for (int b = 0; b < R; b++)
			rv[b] = _mm512_maskz_loadu_ps(m, rows + (size_t)b * dim + i);
		MEM_VEC_UNROLL for (int a = 0; a < Q; a++) {
			__m512 qv = _mm512_maskz_loadu_ps(m, qs + (size_t)a * dim + i);
			MEM_VEC_UNROLL for (int b = 0; b < R; b++)
				acc[a][b] = _mm512_fmadd_ps(qv, rv[b], acc[a][b]);
		}
	}
	MEM_VEC_UNROLL for (int a = 0; a < Q; a++)
		MEM_VEC_UNROLL for (int b = 0; b < R; b++)
			out[(size_t)a * ld + (size_t)b] = _mm512_reduce_add_ps(acc[a][b]);
}

/*
 * Eight rows against one query, reduced together. The transpose-add below
 * pairs the lanes exactly as _mm512_reduce_add_ps does (i + 8, i + 4, i + 2,
 * i + 1), so each score is bit-identical to tile(..., 1, 1, ...).
 *
 * The rows are read one after the other, in address order, each into its
 * own accumulator (out-of-order execution overlaps the eight chains), with a
 * prefetch where a page starts (mem_vec_pf_page). Reading them column by
 * column (one 64-byte step of each row in turn) needed a prefetch of every
 * line and ran at 0.95-1.1 x the bench's sequential read, ~0.75 x now.
 */
INLINE512 void rows8(const float *rows, const float *q, size_t dim, float *out)
{
	__m512 acc[8];
	size_t full = dim & ~(size_t)15;
	__mmask16 m = (__mmask16)((1u << (dim - full)) - 1u);
	MEM_VEC_UNROLL for (int b = 0; b < 8; b++) {
		const float *row = rows + (size_t)b * dim;
		__m512 a = _mm512_setzero_ps();
		for (size_t i = 0; i < full; i += 16) {
			mem_vec_pf_page(row + i, 64);
			a = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), _mm512_loadu_ps(row + i), a);
		}
		if (full < dim)
			a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + full),
			                    _mm512_maskz_loadu_ps(m, row + full), a);
		acc[b] = a;
	}
	/* lanes i + 8: [row a halves | row b halves] */
	__m512 s[4];
	MEM_VEC_UNROLL for (int p = 0; p < 4; p++)
		s[p] = _mm512_add_ps(
			_mm512_shuffle_f32x4(acc[2 * p], acc[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0)),
			_mm512_shuffle_f32x4(acc[2 * p], acc[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2)));
	/* lanes i + 4: one 128-bit block per row, rows 0-3 and rows 4-7 */
	__m512 t[2];
	MEM_VEC_UNROLL for (int p = 0; p < 2; p++)
		t[p] = _mm512_add_ps(
			_mm512_shuffle_f32x4(s[2 * p], s[2 * p + 1], _MM_SHUFFLE(2, 0, 2, 0)),
			_mm512_shuffle_f32x4(s[2 * p], s[2 * p + 1], _MM_SHUFFLE(3, 1, 3, 1)));
	/* lanes i + 2: block j holds row j (lanes 0, 1) and row j + 4 (lanes 2, 3) */
	__m512d lo = _mm512_unpacklo_pd(_mm512_castps_pd(t[0]), _mm512_castps_pd(t[1]));
	__m512d hi = _mm512_unpackhi_pd(_mm512_castps_pd(t[0]), _mm512_castps_pd(t[1]));
	__m512 u = _mm512_add_ps(_mm512_castpd_ps(lo), _mm512_castpd_ps(hi));
	/* lanes i + 1 */
	__m512 v = _mm512_add_ps(u, _mm512_permute_ps(u, 0xB1));
	__m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 2, 6, 10, 14, 0, 0, 0, 0, 0, 0, 0, 0);
	_mm256_storeu_ps(out, _mm512_castps512_ps256(_mm512_permutexvar_ps(idx, v)));
}

T512 static float avx512_dot_f32(const float *a, const float *b, size_t dim)
{
	float out;
	tile(b, a, dim, 1, 1, &out, 1);
	return out;
}

T512 static void avx512_dot_tile(const float *rows, size_t nrows, const float *queries,
                                 size_t nq, size_t dim, float *out, size_t ld)
{
	size_t q = 0;
	for (; q + 4 <= nq; q += 4) {
		const float *qs = queries + q * dim;
		size_t r = 0;
		for (; r + 4 <= nrows; r += 4)
			tile(rows + r * dim, qs, dim, 4, 4, out + q * ld + r, ld);
		for (; r < nrows; r++)
			tile(rows + r * dim, qs, dim, 4, 1, out + q * ld + r, ld);
	}
	for (; q < nq; q++) {
		const float *qs = queries + q * dim;
		size_t r = 0;
		for (; r + 8 <= nrows; r += 8)
			rows8(rows + r * dim, qs, dim, out + q * ld + r);
		for (; r + 4 <= nrows; r += 4)
			tile(rows + r * dim, qs, dim, 1, 4, out + q * ld + r, ld);
		for (; r < nrows; r++)
			tile(rows + r * dim, qs, dim, 1, 1, out + q * ld + r, ld);
	}
}

/* R rows against one int8 query: widen 16 bytes to 16 int32 lanes. */
INLINE512 void rows_i8(const int8_t *rows, const int8_t *query, size_t dim, int R, int32_t *out)
{
	__m512i acc[4];
	MEM_VEC_UNROLL for (int b = 0; b < R; b++)
		acc[b] = _mm512_setzero_si512();
	size_t i = 0;
	for (; i + 16 <= dim; i += 16) {
		__m512i qv = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(query + i)));
		MEM_VEC_UNROLL for (int b = 0; b < R; b++) {
			__m512i rv = _mm512_cvtepi8_epi32(
				_mm_loadu_si128((const __m128i *)(rows + (size_t)b * dim + i)));
			acc[b] = _mm512_add_epi32(acc[b], _mm512_mullo_epi32(qv, rv));
		}
	}
	MEM_VEC_UNROLL for (int b = 0; b < R; b++) {
		int32_t sum = _mm512_reduce_add_epi32(acc[b]);
		for (size_t j = i; j < dim; j++)
			sum += (int32_t)rows[(size_t)b * dim + j] * (int32_t)query[j];
		out[b] = sum;
	}
}

T512 static int32_t avx512_dot_i8(const int8_t *a, const int8_t *b, size_t dim)
{
	int32_t out;
	rows_i8(a, b, dim, 1, &out);
	return out;
}

T512 static void avx512_dot_rows_i8(const int8_t *rows, size_t nrows, const int8_t *query,
                                    size_t dim, int32_t *out)
{
	size_t r = 0;
	for (; r + 4 <= nrows; r += 4)
		rows_i8(rows + r * dim, query, dim, 4, out + r);
	for (; r < nrows; r++)
		rows_i8(rows + r * dim, query, dim, 1, out + r);
}

const mem_vec_kernels mem_vec_avx512_kernels = {
	avx512_dot_f32, avx512_dot_i8, avx512_dot_tile, avx512_dot_rows_i8,
};
#endif
