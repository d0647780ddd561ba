/*
 * AVX2+FMA kernels. Only these functions are compiled for AVX2 (target
 * attribute); vector.c calls them only when the CPU reports avx2,fma.
 *
 * Every (query, row) pair is summed in the same order whatever the tile
 * shape (8-lane chunks, a masked tail, one final reduction), so a batched
 * search gives exactly the scores of single searches.
 */
#include "vector.h"

#ifdef MEM_VEC_HAVE_X86
#include <immintrin.h>

#define T256 __attribute__((target("avx2,fma")))
#define INLINE256 static inline __attribute__((always_inline, target("avx2,fma")))

/* Horizontal sum, always in the same order. */
INLINE256 float hsum(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
	return _mm_cvtss_f32(s);
}

/* Q queries x R rows (Q, R <= 4, constants after inlining). */
INLINE256 void tile(const float *rows, const float *qs, size_t dim, int Q, int R, float *out,
                    size_t ld)
{
	__m256 acc[4][4];
	MEM_VEC_UNROLL for (int a = 0; a < Q; a++)
		MEM_VEC_UNROLL for (int b = 0; b < R; b++)
			acc[a][b] = _mm256_setzero_ps();
	size_t i = 0;
	for (; i + 8 <= dim; i += 8) {
		__m256 rv[4];
		MEM_VEC_UNROLL for (int b = 0; b < R; b++)
			rv[b] = _mm256_loadu_ps(rows + (size_t)b * dim + i);
		MEM_VEC_UNROLL for (int a = 0; a < Q; a++) {
			__m256 qv = _mm256_loadu_ps(qs + (size_t)a * dim + i);
			MEM_VEC_UNROLL for (int b = 0; b < R; b++)
				acc[a][b] = _mm256_fmadd_ps(qv, rv[b], acc[a][b]);
		}
	}
	if (i < dim) {
		int rest = (int)(dim - i);
		__m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(rest),
		                               _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
		__m256 rv[4];
		MEM_VEC_UNROLL for (int b = 0; b < R; b++)
			rv[b] = _mm256_maskload_ps(rows + (size_t)b * dim + i, m);
		MEM_VEC_UNROLL for (int a = 0; a < Q; a++) {
			__m256 qv = _mm256_maskload_ps(qs + (size_t)a * dim + i, m);
			MEM_VEC_UNROLL for (int b = 0; b < R; b++)
				acc[a][b] = _mm256_fmadd_ps(qv, rv[b], acc[a][b]);
		}
	}
	MEM_VEC_UNROLL for (int a = 0; a < Q; a++)
		MEM_VEC_UNROLL for (int b = 0; b < R; b++)
			out[(size_t)a * ld + (size_t)b] = hsum(acc[a][b]);
}

/*
 * Eight rows against one query, reduced together. The adds pair the lanes
 * exactly as hsum does (i + 4, then i + 2, then i + 1), so each score is
 * bit-identical to tile(..., 1, 1, ...). Rows in address order, one
 * accumulator each, a prefetch where a page starts: see vector_avx512.c.
 */
INLINE256 void rows8(const float *rows, const float *q, size_t dim, float *out)
{
	__m256 acc[8];
	size_t full = dim & ~(size_t)7;
	__m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(dim - full)),
	                               _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
	MEM_VEC_UNROLL for (int b = 0; b < 8; b++) {
		const float *row = rows + (size_t)b * dim;
		__m256 a = _mm256_setzero_ps();
		for (size_t i = 0; i < full; i += 8) {
			mem_vec_pf_page(row + i, 32);
			a = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(row + i), a);
		}
		if (full < dim)
			a = _mm256_fmadd_ps(_mm256_maskload_ps(q + full, m),
			                    _mm256_maskload_ps(row + full, m), a);
		acc[b] = a;
	}
	/* lanes i + 4: p[j] = [row j | row j + 4], four sums each */
	__m256 p[4];
	MEM_VEC_UNROLL for (int j = 0; j < 4; j++)
		p[j] = _mm256_add_ps(_mm256_permute2f128_ps(acc[j], acc[j + 4], 0x20),
		                     _mm256_permute2f128_ps(acc[j], acc[j + 4], 0x31));
	/* lanes i + 2: e[0] = [row 0 (2), row 1 (2) | row 4, row 5], e[1] rows 2, 3 | 6, 7 */
	__m256 e[2];
	MEM_VEC_UNROLL for (int j = 0; j < 2; j++)
		e[j] = _mm256_add_ps(
			_mm256_shuffle_ps(p[2 * j], p[2 * j + 1], _MM_SHUFFLE(1, 0, 1, 0)),
			_mm256_shuffle_ps(p[2 * j], p[2 * j + 1], _MM_SHUFFLE(3, 2, 3, 2)));
	/* lanes i + 1: rows 0..3 | rows 4..7 */
	_mm256_storeu_ps(out, _mm256_add_ps(
		_mm256_shuffle_ps(e[0], e[1], _MM_SHUFFLE(2, 0, 2, 0)),
		_mm256_shuffle_ps(e[0], e[1], _MM_SHUFFLE(3, 1, 3, 1))));
}

T256 static float avx2_dot_f32(const float *a, const float *b, size_t dim)
{
	float out;
	tile(b, a, dim, 1, 1, &out, 1);
	return out;
}

T256 static void avx2_dot_tile(const float *rows, size_t nrows, const float *queries,
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

/* R rows against one int8 query: widen 16 bytes to int16, multiply-add pairs. */
INLINE256 void rows_i8(const int8_t *rows, const int8_t *query, size_t dim, int R, int32_t *out)
{
	__m256i acc[4];
	MEM_VEC_UNROLL for (int b = 0; b < R; b++)
		acc[b] = _mm256_setzero_si256();
	size_t i = 0;
	for (; i + 16 <= dim; i += 16) {
		__m256i qv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(query + i)));
		MEM_VEC_UNROLL for (int b = 0; b < R; b++) {
			__m256i rv = _mm256_cvtepi8_epi16(
				_mm_loadu_si128((const __m128i *)(rows + (size_t)b * dim + i)));
			acc[b] = _mm256_add_epi32(acc[b], _mm256_madd_epi16(qv, rv));
		}
	}
	MEM_VEC_UNROLL for (int b = 0; b < R; b++) {
		__m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc[b]),
		                          _mm256_extracti128_si256(acc[b], 1));
		s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
		s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
		int32_t sum = _mm_cvtsi128_si32(s);
		for (size_t j = i; j < dim; j++)
			sum += (int32_t)rows[(size_t)b * dim + j] * (int32_t)query[j];
		out[b] = sum;
	}
}

T256 static int32_t avx2_dot_i8(const int8_t *a, const int8_t *b, size_t dim)
{
	int32_t out;
	rows_i8(a, b, dim, 1, &out);
	return out;
}

T256 static void avx2_dot_rows_i8(const int8_t *rows, size_t nrows, const int8_t *query,
                                    size_t dim, int32_t *out)
{
	size_t r = 0;
	for (; r + 4 <= nrows; r += 4)
		rows_i8(rows + r * dim, query, dim, 4, out + r);
	for (; r < nrows; r++)
		rows_i8(rows + r * dim, query, dim, 1, out + r);
}

const mem_vec_kernels mem_vec_avx2_kernels = {
	avx2_dot_f32, avx2_dot_i8, avx2_dot_tile, avx2_dot_rows_i8,
};
#endif
