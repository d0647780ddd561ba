/*
 * Near-duplicate candidates: locality-sensitive hashing with random
 * hyperplanes (SimHash; the hyperplanes are in dedupe_hash.c). Two unit
 * vectors at angle t fall on the same side of a random hyperplane with
 * probability 1 - t/pi: 0.899 at cosine 0.95, 0.5 for unrelated vectors.
 * A table keys rows by LSH_BITS such signs; a query looks in LSH_TABLES
 * tables at its own bucket and at the LSH_FLIPS buckets one sign away where
 * its projection was smallest (query-directed multi-probe: a near vector
 * most likely differs there). With 12 tables of 24 bits and 6 flips,
 * test_dedupe.c measures 0.98 of pairs at cosine 0.95 found, and about one
 * candidate per query among 100,000 random rows (about 20 among short
 * hashed texts, which share common words). Fewer bits or tables find more
 * pairs but make every put check more rows; the numbers were measured side
 * by side.
 *
 * Storage: per row and table one node {next row in the bucket, signature}
 * (8 bytes), and per table a head per bucket, the buckets being a hash of
 * the signature into as many buckets as rows (rebuilt as rows double): 8
 * more bytes per row and table at most. A bucket may hold rows of other
 * signatures; the walk compares signatures.
 */
#include <math.h>
#include <string.h>

#include "dedupe_int.h"

#define NONE UINT32_MAX
#define PRESENT UINT32_C(0x80000000)   /* in a node's sig: the row was added */
#define HEAD_BITS_MIN 8

typedef struct lsh_node {
	uint32_t next;         /* the next older row of the bucket, or NONE */
	uint32_t sig;          /* PRESENT | signature; 0: row never added */
} lsh_node;

struct mem_lsh {
	lsh_rotation rot;
	float *work;           /* rot.pad floats (add, query) */
	uint32_t *out;         /* mem_lsh_query's rows */
	size_t out_cap;
	uint32_t *seen;        /* mem_lsh_query's row set */
	size_t seen_cap;
	lsh_node *nodes;       /* row_cap x LSH_TABLES */
	size_t row_cap;
	size_t count;          /* rows added */
	uint32_t *heads;       /* LSH_TABLES x 2^head_bits: newest row, or NONE */
	unsigned int head_bits;
};

int mem_lsh_new(mem_lsh **out, size_t dim)
{
	static const char fn[] = "near-duplicate index";
	if (!out)
		return cog__error(COG_EINVAL, "%s: out is NULL", fn);
	*out = NULL;
	if (dim == 0 || dim > MEM_VEC_DIM_MAX)
		return cog__error(COG_EINVAL, "%s: dimension %zu is outside 1..%d", fn, dim,
		                  MEM_VEC_DIM_MAX);
	mem_lsh *l = cog__calloc(1, sizeof(*l));
	if (!l)
		return cog__oom(fn);
	int rc = lsh_rotation_init(&l->rot, dim);
	if (!rc && !(l->work = cog__calloc(l->rot.pad, sizeof(float))))
		rc = cog__oom(fn);
	if (rc) {
		mem_lsh_free(l);
		return rc;
	}
	*out = l;
	return COG_OK;
}

void mem_lsh_free(mem_lsh *l)
{
	if (!l)
		return;
	lsh_rotation_dispose(&l->rot);
	cog_free(l->work);
	cog_free(l->out);
	cog_free(l->seen);
	cog_free(l->nodes);
	cog_free(l->heads);
	cog_free(l);
}

static inline size_t bucket_of(uint32_t sig, unsigned int head_bits)
{
	return (size_t)((sig * UINT32_C(0x9e3779b1)) >> (32 - head_bits));
}

static inline void prefetch(const void *p)
{
#if defined(__GNUC__) || defined(__clang__)
	__builtin_prefetch(p);
#else
	(void)p;
#endif
}

/* As many buckets per table as rows (at least 2^HEAD_BITS_MIN), the rows
 * pushed again in ascending order so each bucket lists the newest first. */
static int heads_resize(mem_lsh *l, unsigned int head_bits)
{
	size_t per = (size_t)1 << head_bits;
	uint32_t *heads = cog_malloc(LSH_TABLES * per * sizeof(uint32_t));
	if (!heads)
		return cog__oom("near-duplicate index: grow the buckets");
	memset(heads, 0xff, LSH_TABLES * per * sizeof(uint32_t));
	for (size_t row = 0; row < l->row_cap; row++) {
		lsh_node *n = l->nodes + row * LSH_TABLES;
		if (!(n[0].sig & PRESENT))
			continue;
		for (size_t t = 0; t < LSH_TABLES; t++) {
			uint32_t *h = &heads[t * per + bucket_of(n[t].sig & ~PRESENT, head_bits)];
			n[t].next = *h;
			*h = (uint32_t)row;
		}
	}
	cog_free(l->heads);
	l->heads = heads;
	l->head_bits = head_bits;
	return COG_OK;
}

static int reserve_rows(mem_lsh *l, size_t rows)
{
	if (rows <= l->row_cap)
		return COG_OK;
	size_t cap = l->row_cap ? l->row_cap : 256;
	while (cap < rows)
		cap *= 2;
	lsh_node *nodes = cog_realloc(l->nodes, cap * LSH_TABLES * sizeof(lsh_node));
	if (!nodes)
		return cog__oom("near-duplicate index: grow the rows");
	memset(nodes + l->row_cap * LSH_TABLES, 0,
	       (cap - l->row_cap) * LSH_TABLES * sizeof(lsh_node));
	l->nodes = nodes;
	l->row_cap = cap;
	return COG_OK;
}

int mem_lsh_add(mem_lsh *l, uint32_t row, const float *unit_vec)
{
	if (!l || !unit_vec)
		return cog__error(COG_EINVAL, "near-duplicate index: add: %s is NULL",
		                  l ? "vector" : "index");
	if (row == NONE)
		return cog__error(COG_EINVAL, "near-duplicate index: add: row %u is too large",
		                  (unsigned int)row);
	int rc = reserve_rows(l, (size_t)row + 1);
	if (rc)
		return rc;
	lsh_node *n = l->nodes + (size_t)row * LSH_TABLES;
	if (n[0].sig & PRESENT)
		return cog__error(COG_EINVAL, "near-duplicate index: row %u is in already",
		                  (unsigned int)row);
	unsigned int want = l->head_bits ? l->head_bits : HEAD_BITS_MIN;
	while (want < 31 && ((size_t)1 << want) < l->count + 1)
		want++;
	if (want != l->head_bits && (rc = heads_resize(l, want)))
		return rc;
	uint32_t sig[LSH_TABLES];
	lsh_signatures(&l->rot, unit_vec, l->work, sig, NULL);
	size_t per = (size_t)1 << l->head_bits;
	for (size_t t = 0; t < LSH_TABLES; t++) {
		uint32_t *h = &l->heads[t * per + bucket_of(sig[t], l->head_bits)];
		n[t].sig = PRESENT | sig[t];
		n[t].next = *h;
		*h = row;
	}
	l->count++;
	return COG_OK;
}

/* A set of rows seen (open addressing over row + 1). */
typedef struct row_set {
	uint32_t *slots;
	size_t cap;
} row_set;

static bool set_insert(row_set *s, uint32_t row)
{
	uint32_t key = row + 1;
	size_t i = (size_t)(key * UINT32_C(0x9e3779b1)) & (s->cap - 1);
	for (; s->slots[i]; i = (i + 1) & (s->cap - 1))
		if (s->slots[i] == key)
			return false;
	s->slots[i] = key;
	return true;
}

static int push_row(uint32_t **rows, size_t *n, size_t *cap, row_set *seen, uint32_t row)
{
	if (2 * (*n + 1) > seen->cap) {
		size_t cap2 = seen->cap * 2;
		uint32_t *slots = cog__calloc(cap2, sizeof(uint32_t));
		if (!slots)
			return cog__oom("near-duplicate candidates");
		cog_free(seen->slots);
		seen->slots = slots;
		seen->cap = cap2;
		for (size_t i = 0; i < *n; i++)
			set_insert(seen, (*rows)[i]);
	}
	if (!set_insert(seen, row))
		return COG_OK;
	if (*n == *cap) {
		size_t c = *cap * 2;
		uint32_t *r = cog_realloc(*rows, c * sizeof(uint32_t));
		if (!r)
			return cog__oom("near-duplicate candidates");
		*rows = r;
		*cap = c;
	}
	(*rows)[(*n)++] = row;
	return COG_OK;
}

/* The LSH_FLIPS least certain bits of one table (smallest |projection|:
 * where a near vector most likely falls on the other side), least first. */
static void flip_order(const float *mag, int order[LSH_FLIPS])
{
	float kept[LSH_FLIPS];
	int n = 0;
	for (int i = 0; i < LSH_BITS; i++) {
		float m = mag[i];
		if (n == LSH_FLIPS && m >= kept[LSH_FLIPS - 1])
			continue;
		int j = n < LSH_FLIPS ? n++ : LSH_FLIPS - 1;
		for (; j > 0 && kept[j - 1] > m; j--) {
			kept[j] = kept[j - 1];
			order[j] = order[j - 1];
		}
		kept[j] = m;
		order[j] = i;
	}
}

/* The candidates of vec into *out (grown, *cap) with seen as scratch
 * (cleared here), work rot.pad floats. */
static int collect(const mem_lsh *l, const float *unit_vec, float *work, row_set *seen,
                   uint32_t **out, size_t *cap, size_t *n)
{
	int rc = COG_OK;
	memset(seen->slots, 0, seen->cap * sizeof(uint32_t));
	*n = 0;
	if (!l->count)
		return COG_OK;
	uint32_t sig[LSH_TABLES];
	float mag[LSH_TABLES * LSH_BITS];
	lsh_signatures(&l->rot, unit_vec, work, sig, mag);
	/* Every bucket to look at first: their heads, then the first node
	 * of each, fetched from memory together (at 100,000 rows each is a
	 * cache miss), then the walk. */
	size_t per = (size_t)1 << l->head_bits;
	uint32_t probes[LSH_TABLES][LSH_FLIPS + 1];
	uint32_t first[LSH_TABLES][LSH_FLIPS + 1];
	for (size_t t = 0; t < LSH_TABLES; t++) {
		int order[LSH_FLIPS];
		flip_order(mag + t * LSH_BITS, order);
		for (int f = 0; f <= LSH_FLIPS; f++) {
			probes[t][f] = f ? sig[t] ^ (UINT32_C(1) << order[f - 1]) : sig[t];
			prefetch(&l->heads[t * per + bucket_of(probes[t][f], l->head_bits)]);
		}
	}
	for (size_t t = 0; t < LSH_TABLES; t++)
		for (int f = 0; f <= LSH_FLIPS; f++) {
			uint32_t r = l->heads[t * per + bucket_of(probes[t][f], l->head_bits)];
			first[t][f] = r;
			if (r != NONE)
				prefetch(&l->nodes[(size_t)r * LSH_TABLES + t]);
		}
	for (size_t t = 0; !rc && t < LSH_TABLES; t++)
		for (int f = 0; !rc && f <= LSH_FLIPS; f++) {
			uint32_t want = PRESENT | probes[t][f];
			for (uint32_t r = first[t][f]; !rc && r != NONE;
			     r = l->nodes[(size_t)r * LSH_TABLES + t].next)
				if (l->nodes[(size_t)r * LSH_TABLES + t].sig == want)
					rc = push_row(out, n, cap, seen, r);
		}
	if (rc)
		*n = 0;
	return rc;
}

int mem_lsh_candidates(const mem_lsh *l, const float *unit_vec, uint32_t **rows, size_t *n)
{
	if (!rows || !n)
		return cog__error(COG_EINVAL, "near-duplicate candidates: %s is NULL",
		                  rows ? "n" : "rows");
	*rows = NULL;
	*n = 0;
	if (!l || !unit_vec)
		return cog__error(COG_EINVAL, "near-duplicate candidates: %s is NULL",
		                  l ? "vector" : "index");
	size_t cap = 64;
	row_set seen = { cog__calloc(256, sizeof(uint32_t)), 256 };
	uint32_t *out = cog_malloc(cap * sizeof(uint32_t));
	float *work = cog_malloc(l->rot.pad * sizeof(float));
	int rc = seen.slots && out && work ? COG_OK : cog__oom("near-duplicate candidates");
	if (!rc)
		rc = collect(l, unit_vec, work, &seen, &out, &cap, n);
	cog_free(seen.slots);
	cog_free(work);
	if (rc) {
		cog_free(out);
		*n = 0;
		return rc;
	}
	*rows = out;
	return COG_OK;
}

int mem_lsh_query(mem_lsh *l, const float *unit_vec, const uint32_t **rows, size_t *n)
{
	if (!rows || !n || !l || !unit_vec)
		return cog__error(COG_EINVAL, "near-duplicate candidates: an argument is NULL");
	*rows = NULL;
	*n = 0;
	if (!l->out) {
		l->out = cog_malloc(64 * sizeof(uint32_t));
		l->seen = cog__calloc(256, sizeof(uint32_t));
		if (!l->out || !l->seen) {
			cog_free(l->out);
			cog_free(l->seen);
			l->out = l->seen = NULL;
			return cog__oom("near-duplicate candidates");
		}
		l->out_cap = 64;
		l->seen_cap = 256;
	}
	row_set seen = { l->seen, l->seen_cap };
	int rc = collect(l, unit_vec, l->work, &seen, &l->out, &l->out_cap, n);
	l->seen = seen.slots;   /* push_row may have grown them */
	l->seen_cap = seen.cap;
	*rows = l->out;
	return rc;
}
