/*
 * The hyperplanes of the near-duplicate LSH (dedupe.c): a pseudo-random
 * rotation made of three rounds of random signs and a Walsh-Hadamard
 * transform (H D3 H D2 H D1, as in FALCONN) of the vector padded with zeros
 * to a power of two. Each output coordinate is the projection on one row of
 * a random orthogonal matrix, whose sign is one SimHash bit; a signature
 * costs O(d log d) instead of a dense product with every hyperplane, and the
 * state is one sign per padded dimension and round. The signs come from
 * splitmix64 with a fixed seed: a vector always gets the same bits.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dedupe_int.h"

#define SEED UINT64_C(0x5eed1e55c0ffee01)

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

int lsh_rotation_init(lsh_rotation *r, size_t dim)
{
	memset(r, 0, sizeof(*r));
	r->dim = dim;
	r->pad = 1;
	while (r->pad < dim)
		r->pad *= 2;
	r->rotations = (LSH_TABLES * LSH_BITS + r->pad - 1) / r->pad;
	size_t nsigns = r->rotations * LSH_ROUNDS * r->pad;
	r->signs = cog__calloc(nsigns, sizeof(float));
	if (!r->signs)
		return cog__oom("near-duplicate index: hyperplanes");
	uint64_t state = SEED, bits = 0;
	for (size_t i = 0; i < nsigns; i++) {
		if (i % 64 == 0)
			bits = splitmix64(&state);
		r->signs[i] = (bits >> (i % 64)) & 1 ? 1.0f : -1.0f;
	}
	return COG_OK;
}

void lsh_rotation_dispose(lsh_rotation *r)
{
	cog_free(r->signs);
	r->signs = NULL;
}

/* a[0..8), b[0..8) ← their sum and difference (a fixed-size loop over
 * arrays that do not overlap: the compiler makes vector code of it). */
static inline void butterfly8(float *restrict a, float *restrict b)
{
	for (int k = 0; k < 8; k++) {
		float x = a[k], y = b[k];
		a[k] = x + y;
		b[k] = x - y;
	}
}

static inline void times8(float *restrict a, const float *restrict b)
{
	for (int k = 0; k < 8; k++)
		a[k] *= b[k];
}

/* In-place unnormalised Walsh-Hadamard transform of n (a power of two). */
static void fwht(float *x, size_t n)
{
	size_t h = 1;
	if (n >= 16) {
		/* the first three stages inside each block of 8 */
		for (size_t i = 0; i < n; i += 8) {
			float *v = x + i;
			float a0 = v[0] + v[1], a1 = v[0] - v[1], a2 = v[2] + v[3], a3 = v[2] - v[3];
			float a4 = v[4] + v[5], a5 = v[4] - v[5], a6 = v[6] + v[7], a7 = v[6] - v[7];
			float b0 = a0 + a2, b2 = a0 - a2, b1 = a1 + a3, b3 = a1 - a3;
			float b4 = a4 + a6, b6 = a4 - a6, b5 = a5 + a7, b7 = a5 - a7;
			v[0] = b0 + b4;
			v[4] = b0 - b4;
			v[1] = b1 + b5;
			v[5] = b1 - b5;
			v[2] = b2 + b6;
			v[6] = b2 - b6;
			v[3] = b3 + b7;
			v[7] = b3 - b7;
		}
		for (h = 8; h < n; h *= 2)
			for (size_t i = 0; i < n; i += 2 * h)
				for (size_t j = i; j < i + h; j += 8)
					butterfly8(x + j, x + j + h);
		return;
	}
	for (; h < n; h *= 2)
		for (size_t i = 0; i < n; i += 2 * h)
			for (size_t j = i; j < i + h; j++) {
				float a = x[j], b = x[j + h];
				x[j] = a + b;
				x[j + h] = a - b;
			}
}

void lsh_signatures(const lsh_rotation *l, const float *vec, float *work,
                    uint32_t sig[LSH_TABLES], float *mag)
{
	memset(sig, 0, LSH_TABLES * sizeof(uint32_t));
	size_t bit = 0;
	for (size_t r = 0; r < l->rotations; r++) {
		memcpy(work, vec, l->dim * sizeof(float));
		memset(work + l->dim, 0, (l->pad - l->dim) * sizeof(float));
		for (size_t round = 0; round < LSH_ROUNDS; round++) {
			const float *s = l->signs + (r * LSH_ROUNDS + round) * l->pad;
			if (l->pad % 8 == 0) {
				for (size_t i = 0; i < l->pad; i += 8)
					times8(work + i, s + i);
			} else {
				for (size_t i = 0; i < l->pad; i++)
					work[i] *= s[i];
			}
			fwht(work, l->pad);
		}
		/* branch-free: the signs are coin flips to a branch predictor */
		size_t take = LSH_TABLES * LSH_BITS - bit < l->pad ? LSH_TABLES * LSH_BITS - bit : l->pad;
		for (size_t i = 0; i < take; i++, bit++) {
			size_t t = bit / LSH_BITS, b = bit % LSH_BITS;
			sig[t] |= (uint32_t)(work[i] >= 0) << b;
			if (mag)
				mag[bit] = fabsf(work[i]);
		}
	}
}


/* ---- word multisets ----
 *
 * put_merge.c merges a hashing-embedder text only into one whose word
 * multiset has a multiset Jaccard J = i / (i + d) >= t, i the words in
 * common, d the words in one only. Then d <= i (1 - t) / t, and i is at
 * most the smaller size: a different multiset (d >= 1) needs both sizes
 * >= t / (1 - t) ("near"), and one differing in two words or more needs
 * both >= 2t / (1 - t) ("far"). Between those, a duplicate is the same
 * multiset with one word more or less: index.c finds it exactly by the keys
 * one word shorter; only texts of "far" words and more need the LSH. */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* One FNV-1a hash per word, in a local array that doubles on the heap only
 * for long texts: no allocation per word. */
static int acc_word(const char *word, size_t len, void *user_data)
{
	mem_words *w = user_data;
	if (w->n == w->cap) {
		uint64_t *v = cog_malloc(2 * w->cap * sizeof(uint64_t));
		if (!v) {
			w->failed = true;
			return 1;
		}
		memcpy(v, w->v, w->n * sizeof(uint64_t));
		if (w->v != w->local)
			cog_free(w->v);
		w->v = v;
		w->cap *= 2;
	}
	uint64_t h = UINT64_C(14695981039346656037);
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)word[i]) * UINT64_C(1099511628211);
	w->v[w->n++] = h;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Insertion sort for the usual few dozen words, else qsort. */
static void sort_u64(uint64_t *v, size_t n)
{
	if (n > 64) {
		qsort(v, n, sizeof(uint64_t), cmp_u64);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		uint64_t x = v[i];
		size_t j = i;
		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

int mem_words_sorted(const char *text, size_t len, mem_words *w)
{
	w->v = w->local;
	w->n = 0;
	w->cap = COG_ARRAY_LEN(w->local);
	w->failed = false;
	cog_text_words(text, len, acc_word, w);
	if (w->failed) {
		mem_words_dispose(w);
		return cog__oom("memory: words");
	}
	sort_u64(w->v, w->n);
	return COG_OK;
}

void mem_words_dispose(mem_words *w)
{
	if (w->v != w->local)
		cog_free(w->v);
	w->v = w->local;
	w->n = 0;
}

double mem_words_jaccard(const mem_words *a, const mem_words *b)
{
	size_t i = 0, j = 0, both = 0;
	while (i < a->n && j < b->n) {
		if (a->v[i] == b->v[j]) {
			both++;
			i++;
			j++;
		} else if (a->v[i] < b->v[j]) {
			i++;
		} else {
			j++;
		}
	}
	size_t any = a->n + b->n - both;
	return any ? (double)both / (double)any : 1.0;
}

/* The k-th occurrence (0-based) of a word. */
static uint64_t occurrence(uint64_t word, size_t k)
{
	return mix64(word + (uint64_t)k * UINT64_C(0x9e3779b97f4a7c15));
}

static uint64_t finish(uint64_t sum, size_t count)
{
	uint64_t k = mix64(sum ^ ((uint64_t)count * UINT64_C(0xd6e8feb86659fd93)));
	return k ? k : 1;
}

int mem_words_key_of(const char *text, size_t len, bool hashed, mem_words_key *out)
{
	mem_words w;
	out->key = 0;
	out->count = 0;
	out->ndel = 0;
	out->hashed = hashed;
	int rc = mem_words_sorted(text, len, &w);
	if (rc)
		return rc;
	/* the sum, then each distinct word's last occurrence taken out */
	uint64_t sum = 0;
	for (size_t i = 0, k = 0; i < w.n; i++) {
		k = i && w.v[i] == w.v[i - 1] ? k + 1 : 0;
		sum += occurrence(w.v[i], k);
	}
	out->key = finish(sum, w.n);
	out->count = w.n;
	if (w.n <= MEM_WORDS_DEL_MAX)
		for (size_t i = 0, k = 0; i < w.n; i++) {
			k = i && w.v[i] == w.v[i - 1] ? k + 1 : 0;
			if (i + 1 == w.n || w.v[i + 1] != w.v[i])
				out->del[out->ndel++] = finish(sum - occurrence(w.v[i], k), w.n - 1);
		}
	mem_words_dispose(&w);
	return COG_OK;
}

void mem_words_bounds(double threshold, size_t *near, size_t *far)
{
	/* put_merge.c compares with threshold - 1e-9: a wider margin here */
	double t = threshold - 1e-6;
	if (!(t > 0)) {
		*near = *far = 0;
		return;
	}
	if (t >= 1) {
		*near = *far = SIZE_MAX;
		return;
	}
	double x = floor(t / (1 - t)), y = floor(2 * t / (1 - t));
	*near = x >= 1e9 ? SIZE_MAX : (size_t)x;
	*far = y >= 1e9 ? SIZE_MAX : (size_t)y;
}

static size_t word_slot(uint64_t key, size_t cap)
{
	return (size_t)mix64(key) & (cap - 1);
}

int mem_word_map_add(mem_word_map *w, uint64_t key, uint32_t row)
{
	if (2 * (w->count + 1) > w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 256;
		uint64_t *keys = cog__calloc(cap, sizeof(uint64_t));
		uint32_t *rows = cog__calloc(cap, sizeof(uint32_t));
		if (!keys || !rows) {
			cog_free(keys);
			cog_free(rows);
			return cog__oom("near-duplicate index: grow the word map");
		}
		for (size_t i = 0; i < w->cap; i++) {
			if (!w->keys[i])
				continue;
			size_t j = word_slot(w->keys[i], cap);
			while (keys[j])
				j = (j + 1) & (cap - 1);
			keys[j] = w->keys[i];
			rows[j] = w->rows[i];
		}
		cog_free(w->keys);
		cog_free(w->rows);
		w->keys = keys;
		w->rows = rows;
		w->cap = cap;
	}
	size_t i = word_slot(key, w->cap);
	while (w->keys[i])
		i = (i + 1) & (w->cap - 1);
	w->keys[i] = key;
	w->rows[i] = row;
	w->count++;
	return COG_OK;
}

bool mem_word_map_next(const mem_word_map *w, uint64_t key, size_t *pos, uint32_t *row)
{
	if (!w->cap || !key)
		return false;
	size_t i = *pos == SIZE_MAX ? word_slot(key, w->cap) : (*pos + 1) & (w->cap - 1);
	for (; w->keys[i]; i = (i + 1) & (w->cap - 1))
		if (w->keys[i] == key) {
			*pos = i;
			*row = w->rows[i];
			return true;
		}
	return false;
}

void mem_word_map_dispose(mem_word_map *w)
{
	cog_free(w->keys);
	cog_free(w->rows);
	memset(w, 0, sizeof(*w));
}
