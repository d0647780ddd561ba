/*
 * Vector kernels: the portable scalar reference, the run-time choice of the
 * fastest kernel table this CPU can run, and the per-vector helpers
 * (normalise, quantise) that every path shares.
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "core_int.h"
#include "vector.h"

/* ---- scalar reference kernels ---- */

static float scalar_dot_f32(const float *a, const float *b, size_t dim)
{
	float acc[4] = {0, 0, 0, 0};
	size_t i = 0;
	for (; i + 4 <= dim; i += 4)
		for (size_t j = 0; j < 4; j++)
			acc[j] += a[i + j] * b[i + j];
	for (; i < dim; i++)
		acc[0] += a[i] * b[i];
	return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

static int32_t scalar_dot_i8(const int8_t *a, const int8_t *b, size_t dim)
{
	int32_t acc = 0;
	for (size_t i = 0; i < dim; i++)
		acc += (int32_t)a[i] * (int32_t)b[i];
	return acc;
}

static void scalar_dot_tile(const float *rows, size_t nrows, const float *queries, size_t nq,
                            size_t dim, float *out, size_t ld)
{
	for (size_t q = 0; q < nq; q++)
		for (size_t r = 0; r < nrows; r++)
			out[q * ld + r] = scalar_dot_f32(queries + q * dim, rows + r * dim, dim);
}

static void scalar_dot_rows_i8(const int8_t *rows, size_t nrows, const int8_t *query,
                               size_t dim, int32_t *out)
{
	for (size_t r = 0; r < nrows; r++)
		out[r] = scalar_dot_i8(rows + r * dim, query, dim);
}

const mem_vec_kernels mem_vec_scalar_kernels = {
	scalar_dot_f32, scalar_dot_i8, scalar_dot_tile, scalar_dot_rows_i8,
};

/* ---- dispatch ---- */

static pthread_once_t detect_once = PTHREAD_ONCE_INIT;
static mem_vec_isa detected = MEM_VEC_SCALAR;
static mem_vec_isa forced = MEM_VEC_SCALAR;
static int is_forced;

int mem_vec_isa_supported(mem_vec_isa isa)
{
	switch (isa) {
	case MEM_VEC_SCALAR:
		return 1;
#ifdef MEM_VEC_HAVE_X86
	case MEM_VEC_AVX2:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	case MEM_VEC_AVX512:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx512f");
#endif
	default:
		return 0;
	}
}

static void detect(void)
{
	if (mem_vec_isa_supported(MEM_VEC_AVX512))
		detected = MEM_VEC_AVX512;
	else if (mem_vec_isa_supported(MEM_VEC_AVX2))
		detected = MEM_VEC_AVX2;
	else
		detected = MEM_VEC_SCALAR;
}

mem_vec_isa mem_vec_isa_active(void)
{
	if (is_forced)
		return forced;
	pthread_once(&detect_once, detect);
	return detected;
}

const char *mem_vec_isa_name(mem_vec_isa isa)
{
	switch (isa) {
	case MEM_VEC_SCALAR: return "scalar";
	case MEM_VEC_AVX2: return "avx2";
	case MEM_VEC_AVX512: return "avx512";
	}
	return "unknown";
}

const mem_vec_kernels *mem_vec_kernels_active(void)
{
	switch (mem_vec_isa_active()) {
#ifdef MEM_VEC_HAVE_X86
	case MEM_VEC_AVX2: return &mem_vec_avx2_kernels;
	case MEM_VEC_AVX512: return &mem_vec_avx512_kernels;
#endif
	default: return &mem_vec_scalar_kernels;
	}
}

int mem_vec_isa_force(mem_vec_isa isa)
{
	if (!mem_vec_isa_supported(isa))
		return cog__error(COG_EINVAL, "vector: instruction set %s (%d) is not supported here",
		                  mem_vec_isa_name(isa), (int)isa);
	forced = isa;
	is_forced = 1;
	return 0;
}

void mem_vec_isa_reset(void)
{
	is_forced = 0;
}

/* ---- per-vector helpers ---- */

float cog__vec_dot(const float *a, const float *b, size_t dim)
{
	return mem_vec_kernels_active()->dot_f32(a, b, dim);
}

int32_t cog__vec_dot_i8(const int8_t *a, const int8_t *b, size_t dim)
{
	return mem_vec_kernels_active()->dot_i8(a, b, dim);
}

int cog__vec_normalize(const float *v, size_t dim, float *out, const char *where)
{
	if (!v || !out)
		return cog__error(COG_EINVAL, "%s: vector is NULL", where);
	if (dim == 0 || dim > MEM_VEC_DIM_MAX)
		return cog__error(COG_EINVAL, "%s: dimension %zu is outside 1..%d", where, dim,
		                  MEM_VEC_DIM_MAX);
	double sum = 0;
	for (size_t i = 0; i < dim; i++) {
		if (!isfinite(v[i]))
			return cog__error(COG_EINVAL, "%s: element %zu is %s", where, i,
			                  isnan(v[i]) ? "NaN" : "infinite");
		sum += (double)v[i] * (double)v[i];
	}
	if (!(sum > 0) || !isfinite(sum))
		return cog__error(COG_EINVAL, "%s: %s vector cannot be normalised", where,
		                  sum > 0 ? "an overflowing" : "a zero");
	float inv = (float)(1.0 / sqrt(sum));
	for (size_t i = 0; i < dim; i++)
		out[i] = v[i] * inv;
	return 0;
}

void cog__vec_quantize_i8(const float *v, size_t dim, int8_t *out, float *scale)
{
	float maxabs = 0;
	for (size_t i = 0; i < dim; i++)
		if (fabsf(v[i]) > maxabs)
			maxabs = fabsf(v[i]);
	if (maxabs == 0) {
		memset(out, 0, dim);
		*scale = 0;
		return;
	}
	float inv = 127.0f / maxabs;
	for (size_t i = 0; i < dim; i++) {
		long q = lrintf(v[i] * inv);
		out[i] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
	}
	*scale = maxabs / 127.0f;
}
