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

