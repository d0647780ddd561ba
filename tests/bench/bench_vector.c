/*
 * Exact vector search over 100k x 384 float32 (lib/memory/vector.h), in one
 * run: a plain sequential read of the same bytes (the memory-bandwidth
 * floor), single queries (float32 and int8), batches of 64 queries, and
 * faiss IndexFlatIP single and batched when built with it. Median of runs.
 * Single queries also run with an allow bitmap (every bit set, and a random
 * half of the rows). isa forces the kernels (scalar, avx2, avx512; default:
 * the run-time choice); nofaiss skips faiss.
 *   build-vec/tests/bench/bench_vector [rows] [runs] [isa|auto] [nofaiss]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core_int.h"
#include "vector.h"
#ifdef BENCH_HAVE_FAISS
#include "peers/faiss_flat.h"
#endif

#define DIM 384
#define K 10
#define BATCH 64

static uint64_t rng_state = 88172645463325252ull;

static float frand(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static uint8_t random_byte(void)
{
	(void)frand();
	return (uint8_t)(rng_state >> 56);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_d);
	return v[n / 2];
}

/* Sum the bytes as uint64 with eight accumulators: bound by memory, not adds. */
static uint64_t read_all(const void *p, size_t bytes)
{
	const uint64_t *w = p;
	uint64_t a[8] = {0};
	size_t n = bytes / 8, i = 0;
	for (; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++)
			a[j] += w[i + (size_t)j];
	for (; i < n; i++)
		a[0] += w[i];
	return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

#ifdef __SSE2__
#include <emmintrin.h>
/* The same bytes with 16-byte loads and four accumulators (SSE2, in every
 * x86-64): on the machine of docs/PERFORMANCE.md this reads ~40 % faster than
 * read_all, whose 8-byte loads keep fewer lines in flight, so it is the
 * closer measure of the memory bandwidth. */
static uint64_t read_wide(const void *p, size_t bytes)
{
	const __m128i *w = p;
	__m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0;
	size_t n = bytes / 16, i = 0;
	for (; i + 4 <= n; i += 4) {
		a0 = _mm_add_epi64(a0, _mm_loadu_si128(w + i));
		a1 = _mm_add_epi64(a1, _mm_loadu_si128(w + i + 1));
		a2 = _mm_add_epi64(a2, _mm_loadu_si128(w + i + 2));
		a3 = _mm_add_epi64(a3, _mm_loadu_si128(w + i + 3));
	}
	a0 = _mm_add_epi64(_mm_add_epi64(a0, a1), _mm_add_epi64(a2, a3));
	uint64_t o[2];
	memcpy(o, &a0, sizeof(o));
	return o[0] + o[1] + read_all((const char *)p + i * 16, bytes - i * 16);
}
#endif

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? (size_t)atol(argv[1]) : 100000;
	int runs = argc > 2 ? atoi(argv[2]) : 21;
	if (runs < 1 || runs > 1000)
		runs = 21;
	if (argc > 3 && strcmp(argv[3], "auto") != 0) {
		mem_vec_isa want = strcmp(argv[3], "scalar") == 0 ? MEM_VEC_SCALAR
		                 : strcmp(argv[3], "avx2") == 0   ? MEM_VEC_AVX2
		                                                  : MEM_VEC_AVX512;
		if (mem_vec_isa_force(want)) {
			fprintf(stderr, "%s\n", cog_error_last());
			return 1;
		}
	}
	int with_faiss = !(argc > 4 && strcmp(argv[4], "nofaiss") == 0);
	mem_vec_store *s = NULL;
	if (mem_vec_store_new(&s, DIM))
		return 1;
	float *v = malloc(DIM * sizeof(float));
	for (size_t i = 0; i < n; i++) {
		for (int j = 0; j < DIM; j++)
			v[j] = frand();
		if (mem_vec_store_add(s, i, v, DIM)) {
			fprintf(stderr, "add: %s\n", cog_error_last());
			return 1;
		}
	}
	float *qs = malloc((size_t)runs * BATCH * DIM * sizeof(float));
	for (size_t i = 0; i < (size_t)runs * BATCH * DIM; i++)
		qs[i] = frand();
	mem_vec_hit *hits = malloc(BATCH * K * sizeof(*hits));
	size_t nh[BATCH];
	double *t_read = malloc((size_t)runs * sizeof(double)), *t_one = malloc((size_t)runs * sizeof(double));
	double *t_i8 = malloc((size_t)runs * sizeof(double)), *t_batch = malloc((size_t)runs * sizeof(double));
	double *t_all = malloc((size_t)runs * sizeof(double)), *t_half = malloc((size_t)runs * sizeof(double));
	double *t_wide = malloc((size_t)runs * sizeof(double));
	size_t abytes = (n + 7) / 8;
	uint8_t *allow_all = malloc(abytes ? abytes : 1), *allow_half = malloc(abytes ? abytes : 1);
	memset(allow_all, 0xff, abytes);
	for (size_t i = 0; i < abytes; i++)
		allow_half[i] = random_byte();
	uint64_t sink = 0;
	size_t bytes = s->count * DIM * sizeof(float);
	printf("vector search: %zu x %d float32 (%.1f MB), k=%d, kernels %s, median of %d runs\n",
	       n, DIM, (double)bytes / 1e6, K, mem_vec_isa_name(mem_vec_isa_active()), runs);
	for (int r = 0; r < runs; r++) {
		double t0 = now_ms();
		sink += read_all(s->rows, bytes);
		double t1 = now_ms();
		mem_vec_search(s, qs + (size_t)r * DIM, DIM, K, NULL, hits, nh);
		double t2 = now_ms();
		mem_vec_search_i8(s, qs + (size_t)r * DIM, DIM, K, NULL, hits, nh);
		double t3 = now_ms();
		mem_vec_search_batch(s, qs + (size_t)r * BATCH * DIM, BATCH, DIM, K, NULL, hits, nh);
		double t4 = now_ms();
		mem_vec_search(s, qs + (size_t)r * DIM, DIM, K, allow_all, hits, nh);
		double t5 = now_ms();
		mem_vec_search(s, qs + (size_t)r * DIM, DIM, K, allow_half, hits, nh);
		double t6 = now_ms();
#ifdef __SSE2__
		sink += read_wide(s->rows, bytes);
#endif
		t_wide[r] = now_ms() - t6;
		t_all[r] = t5 - t4;
		t_half[r] = t6 - t5;
		t_read[r] = t1 - t0;
		t_one[r] = t2 - t1;
		t_i8[r] = t3 - t2;
		t_batch[r] = t4 - t3;
	}
	double mr = median(t_read, runs), m1 = median(t_one, runs);
	double m8 = median(t_i8, runs), mb = median(t_batch, runs);
	printf("  sequential read of the rows  %8.3f ms  (%.1f GB/s)\n", mr, (double)bytes / mr / 1e6);
#ifdef __SSE2__
	double mw = median(t_wide, runs);
	printf("  the same, 16-byte loads      %8.3f ms  (%.1f GB/s)\n", mw, (double)bytes / mw / 1e6);
	printf("  single query, float32        %8.3f ms  (%.2f x read, %.2f x 16-byte read)\n", m1,
	       m1 / mr, m1 / mw);
#else
	printf("  single query, float32        %8.3f ms  (%.2f x read)\n", m1, m1 / mr);
#endif
	printf("  single query, int8           %8.3f ms  (%.2f x read)\n", m8, m8 / mr);
	printf("  batch of %d, float32         %8.3f ms  (%.3f ms/query)\n", BATCH, mb, mb / BATCH);
	double ma = median(t_all, runs), mh = median(t_half, runs);
	printf("  single, allow all set        %8.3f ms  (%.2f x read)\n", ma, ma / mr);
	printf("  single, allow random half    %8.3f ms  (%.2f x read)\n", mh, mh / mr);
#ifdef BENCH_HAVE_FAISS
	if (with_faiss) {
		void *fx = faiss_flat_new(s->rows, s->count, DIM);   /* the same unit rows */
		float *fd = malloc(BATCH * K * sizeof(float));
		int64_t *fl = malloc(BATCH * K * sizeof(int64_t));
		float *qn = malloc((size_t)runs * BATCH * DIM * sizeof(float));
		for (size_t q = 0; q < (size_t)runs * BATCH; q++)
			cog__vec_normalize(qs + q * DIM, DIM, qn + q * DIM, "bench");
		for (int r = 0; r < runs; r++) {
			double t0 = now_ms();
			faiss_flat_search(fx, qn + (size_t)r * DIM, 1, K, fd, fl);
			double t1 = now_ms();
			faiss_flat_search(fx, qn + (size_t)r * BATCH * DIM, BATCH, K, fd, fl);
			double t2 = now_ms();
			t_one[r] = t1 - t0;
			t_batch[r] = t2 - t1;
		}
		double f1 = median(t_one, runs), fb = median(t_batch, runs);
		printf("  faiss IndexFlatIP single     %8.3f ms  (ours %.2f x faiss)\n", f1, m1 / f1);
		printf("  faiss IndexFlatIP batch %d   %8.3f ms  (ours %.2f x faiss)\n", BATCH, fb, mb / fb);
		faiss_flat_free(fx);
		free(fd);
		free(fl);
		free(qn);
	}
#else
	printf("  faiss: not built (libfaiss-dev not found)\n");
#endif
	(void)with_faiss;
	FILE *sm = fopen("/proc/self/smaps_rollup", "r");   /* Linux: huge pages in use */
	char line[128];
	while (sm && fgets(line, sizeof(line), sm))
		if (strncmp(line, "AnonHugePages:", 14) == 0)
			printf("  (process AnonHugePages %.*s)\n",
			       (int)strcspn(line + 14 + strspn(line + 14, " "), "\n"),
			       line + 14 + strspn(line + 14, " "));
	if (sm)
		fclose(sm);
	printf("  (checksum %llu)\n", (unsigned long long)(sink & 0xff));
	free(v);
	free(qs);
	free(hits);
	free(t_read);
	free(t_one);
	free(t_i8);
	free(t_batch);
	free(t_all);
	free(t_half);
	free(t_wide);
	free(allow_all);
	free(allow_half);
	mem_vec_store_free(s);
	return 0;
}
