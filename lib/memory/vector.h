/*
 * Exact vector search, internal to lib/memory (not installed, not ABI).
 *
 * Vectors are float32, normalised to unit length when they enter a store or a
 * search, so cosine similarity is the dot product. A store keeps its rows as
 * one contiguous row-major float32 matrix plus an int8 copy (symmetric,
 * one scale per row) and a uint64 id per row. Search is exhaustive: every
 * allowed row is scored and a bounded heap keeps the best k; ties go to the
 * lower id, so results are deterministic.
 *
 * The kernels (vector.c scalar, vector_avx2.c, vector_avx512.c) are chosen
 * once at run time from what the CPU supports; mem_vec_isa_force() overrides
 * the choice for tests (not thread-safe: call it while no search runs).
 */
#ifndef COG_MEMORY_VECTOR_H
#define COG_MEMORY_VECTOR_H

#include <stddef.h>
#include <stdint.h>

#define MEM_VEC_DIM_MAX 65536   /* keeps int8 dot products inside int32 */
#define MEM_VEC_K_MAX 1000

typedef enum mem_vec_isa {
	MEM_VEC_SCALAR = 0,
	MEM_VEC_AVX2 = 1,      /* AVX2 + FMA */
	MEM_VEC_AVX512 = 2,    /* AVX-512F */
} mem_vec_isa;

/* The kernels of one instruction set. */
typedef struct mem_vec_kernels {
	float (*dot_f32)(const float *a, const float *b, size_t dim);
	int32_t (*dot_i8)(const int8_t *a, const int8_t *b, size_t dim);
	/* out[q * ld + r] = dot(queries[q], rows[r]) for q < nq, r < nrows (ld >= nrows). */
	void (*dot_tile)(const float *rows, size_t nrows, const float *queries, size_t nq,
	                 size_t dim, float *out, size_t ld);
	/* out[r] = dot_i8(rows[r], query) for r < nrows. */
	void (*dot_rows_i8)(const int8_t *rows, size_t nrows, const int8_t *query, size_t dim,
	                    int32_t *out);
} mem_vec_kernels;

/*
 * Put before the short constant loops of the kernels (over the rows and
 * queries of a tile): fully unrolled, their accumulators stay in registers;
 * GCC -O2 otherwise keeps them in a stack array and loops over it.
 */
#if defined(__clang__)
#define MEM_VEC_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define MEM_VEC_UNROLL _Pragma("GCC unroll 16")
#else
#define MEM_VEC_UNROLL
#endif

/*
 * Software prefetch for the single-query kernels, which read their rows in
 * address order: the load that enters a 4 KiB page (its first step_bytes)
 * also prefetches the line MEM_VEC_PF_AHEAD bytes further into L1. That
 * starts the hardware stream prefetchers in the pages ahead, which they do
 * not enter by themselves (they stop at page boundaries); inside a page they
 * keep up alone, and prefetching every line (into L1 or L2) only slowed the
 * stream. Measured on 100k x 384 (Zen 4, KVM), single query, ms with 4 KiB /
 * 2 MiB pages: AVX-512 none 7.3 / 5.3, 16 KiB ahead 5.3 / 5.1, 64 KiB ahead
 * 5.3 / 5.1; AVX2 none 7.1 / 4.8, 16 KiB 5.8 / 5.6, 64 KiB 5.2 / 5.2.
 * The address is formed as an integer: nothing is computed past the end of
 * the matrix, and a prefetch never faults. (Used by vector_avx2.c and
 * vector_avx512.c, compiled with GCC or Clang.)
 */
#define MEM_VEC_PF_AHEAD 65536

static inline void mem_vec_pf_page(const float *p, uintptr_t step_bytes)
{
	uintptr_t a = (uintptr_t)p;
	if ((a & 4095) < step_bytes)
		__builtin_prefetch((const void *)(a + MEM_VEC_PF_AHEAD), 0, 3);   /* 3: prefetcht0 */
}

/* Kernel tables (NULL members when not compiled for this target). */
extern const mem_vec_kernels mem_vec_scalar_kernels;
#if defined(__x86_64__) || defined(__i386__)
#define MEM_VEC_HAVE_X86 1
extern const mem_vec_kernels mem_vec_avx2_kernels;
extern const mem_vec_kernels mem_vec_avx512_kernels;
#endif

/* ---- dispatch (vector.c) ---- */

int mem_vec_isa_supported(mem_vec_isa isa);        /* 1 when this CPU can run it */
mem_vec_isa mem_vec_isa_active(void);
const char *mem_vec_isa_name(mem_vec_isa isa);
const mem_vec_kernels *mem_vec_kernels_active(void);
/* Tests: use isa from now on (COG_EINVAL when unsupported). */
int mem_vec_isa_force(mem_vec_isa isa);
/* Tests: back to the automatic choice. */
void mem_vec_isa_reset(void);

/* ---- vectors (vector.c) ---- */

float cog__vec_dot(const float *a, const float *b, size_t dim);
int32_t cog__vec_dot_i8(const int8_t *a, const int8_t *b, size_t dim);
/* Check (finite, non-zero) and copy v into out scaled to unit length;
 * where names the vector in the error message. out may be v. */
int cog__vec_normalize(const float *v, size_t dim, float *out, const char *where);
/* Symmetric int8: out[i] = round(v[i] / scale), scale = max|v| / 127. */
void cog__vec_quantize_i8(const float *v, size_t dim, int8_t *out, float *scale);

/* ---- store and search (vector_store.c, vector_search.c) ---- */

typedef struct mem_vec_store {
	size_t dim;
	size_t count;
	size_t cap;
	float *rows;       /* count x dim, unit length */
	int8_t *rows_i8;   /* count x dim */
	float *scales;     /* count: row i ~ rows_i8[i] * scales[i] */
	uint64_t *ids;     /* count */
} mem_vec_store;

typedef struct mem_vec_hit {
	uint64_t id;
	float score;       /* cosine similarity */
	uint32_t row;      /* row in the store */
} mem_vec_hit;

int mem_vec_store_new(mem_vec_store **out, size_t dim);
void mem_vec_store_free(mem_vec_store *s);
/* Append one vector (normalised and quantised on the way in). */
int mem_vec_store_add(mem_vec_store *s, uint64_t id, const float *vec, size_t dim);

/*
 * Best k rows for query (dim floats; normalised internally). allow, when not
 * NULL, is a bitmap over rows: row r takes part when bit (r % 8) of
 * allow[r / 8] is set. hits has room for k; *nhits gets min(k, allowed rows).
 * Sorted by score descending, then id ascending.
 */
int mem_vec_search(const mem_vec_store *s, const float *query, size_t dim, size_t k,
                   const uint8_t *allow, mem_vec_hit *hits, size_t *nhits);
/* The same over the int8 rows (query quantised too); scores are approximate
 * cosines (dequantised). */
int mem_vec_search_i8(const mem_vec_store *s, const float *query, size_t dim, size_t k,
                      const uint8_t *allow, mem_vec_hit *hits, size_t *nhits);
/* nq queries (nq x dim, row-major): hits has room for nq * k, query q's hits
 * start at hits + q * k and nhits[q] counts them. Same results as nq single
 * searches; the matrix is read once per block of queries. */
int mem_vec_search_batch(const mem_vec_store *s, const float *queries, size_t nq, size_t dim,
                         size_t k, const uint8_t *allow, mem_vec_hit *hits, size_t *nhits);

#endif
