/*
 * Between dedupe.c (the LSH tables) and dedupe_hash.c (the signatures).
 */
#ifndef COG_MEMORY_DEDUPE_INT_H
#define COG_MEMORY_DEDUPE_INT_H

#include "memory_int.h"

/* Tables, bits per signature, buckets one sign away that a query also
 * looks at, rounds of the rotation: dedupe.c says why these. */
#ifndef LSH_TABLES   /* overridable to measure other choices */
#define LSH_TABLES 12
#endif
#ifndef LSH_BITS
#define LSH_BITS 24
#endif
#ifndef LSH_FLIPS
#define LSH_FLIPS 6
#endif
#ifndef LSH_ROUNDS
#define LSH_ROUNDS 3
#endif

_Static_assert(LSH_FLIPS >= 1 && LSH_FLIPS <= LSH_BITS && LSH_BITS <= 30,
               "LSH parameters");

typedef struct lsh_rotation {
	size_t dim;
	size_t pad;            /* power of two >= dim */
	size_t rotations;      /* ceil(LSH_TABLES * LSH_BITS / pad) */
	float *signs;          /* rotations x LSH_ROUNDS x pad, each +1 or -1 */
} lsh_rotation;

int lsh_rotation_init(lsh_rotation *r, size_t dim);
void lsh_rotation_dispose(lsh_rotation *r);
/* The LSH_TABLES signatures of vec (LSH_BITS bits each). work is pad floats
 * of scratch; mag, when not NULL, gets |projection| per bit
 * (LSH_TABLES x LSH_BITS): how sure each bit is. */
void lsh_signatures(const lsh_rotation *r, const float *vec, float *work,
                    uint32_t sig[LSH_TABLES], float *mag);

#endif
