/*
 * The built-in hashing embedder: lexical, not semantic. Each word of the
 * text (cog_text_words: letters and digits, lower-cased) is a feature of
 * weight 1, and each character 3-gram of "<word>" a feature of weight
 * 0.5 / sqrt(grams of the word): the grams of a word together have length
 * 0.5 in the vector (spread by length, not by sum, or a long word's grams
 * would vanish next to the word itself), so the word decides and spellings
 * that share parts ("embedding", "embedded") still come out related.
 * Features repeated in the text are merged first and weigh their mean
 * weight times 1 + ln(count) (sub-linear term frequency). Each feature goes
 * to one of dim buckets with a sign (signed feature hashing: collisions
 * cancel out on average instead of piling up), and the vector is scaled to
 * unit length.
 *
 * The feature hash is a fixed 64-bit mix of the bytes (read little-endian
 * whatever the machine), so vectors are the same on every platform: a
 * stored vector stays comparable with a query embedded later. Changing the
 * hash changes every vector: tests/unit/memory/test_hashing.c pins a few.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "memory_int.h"

#define SEED_WORD UINT64_C(0x243f6a8885a308d3)
#define SEED_GRAM UINT64_C(0x13198a2e03707344)
#define STACK_SLOTS 512u

typedef struct feature {
	uint64_t key;     /* the feature's hash; 0: empty slot */
	float weight;     /* sum of the weights of its occurrences */
	uint32_t count;   /* occurrences */
} feature;

typedef struct features {
	feature *slots;
	size_t cap;       /* power of two */
	size_t used;
	bool heap;
	int rc;
	feature stack[STACK_SLOTS];
} features;

static inline uint64_t load_le(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline uint64_t load_le8(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	       (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline uint64_t rotl64(uint64_t x, unsigned int r)
{
	return x << r | x >> (64 - r);
}

/* splitmix64's finaliser: every input bit reaches every output bit. */
static inline uint64_t fmix64(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

static uint64_t feature_hash(uint64_t seed, const unsigned char *p, size_t n)
{
	uint64_t h = seed ^ ((uint64_t)n * UINT64_C(0x9e3779b97f4a7c15));
	for (; n >= 8; p += 8, n -= 8)
		h = rotl64(h ^ load_le8(p) * UINT64_C(0x87c37b91114253d5), 31) *
		    UINT64_C(0x4cf5ad432745937f);
	if (n)
		h = rotl64(h ^ load_le(p, n) * UINT64_C(0x87c37b91114253d5), 31) *
		    UINT64_C(0x4cf5ad432745937f);
	h = fmix64(h);
	return h ? h : 1;
}

static void features_init(features *f, size_t len)
{
	/* At most len grams and len/2 + 1 words: room for that at half load,
	 * capped at the stack's size (longer texts grow on the heap). */
	size_t want = 2 * (len + len / 2 + 2), cap = 16;
	while (cap < want && cap < STACK_SLOTS)
		cap *= 2;
	f->slots = f->stack;
	f->cap = cap;
	f->used = 0;
	f->heap = false;
	f->rc = COG_OK;
	memset(f->stack, 0, cap * sizeof(feature));
}

static void features_dispose(features *f)
{
	if (f->heap)
		cog_free(f->slots);
}

static void put_slot(feature *slots, size_t cap, const feature *in)
{
	size_t i = (size_t)(in->key >> 7) & (cap - 1);
	while (slots[i].key)
		i = (i + 1) & (cap - 1);
	slots[i] = *in;
}

static int features_grow(features *f)
{
	if (f->cap > SIZE_MAX / 2 / sizeof(feature))
		return cog__oom("hashing embedder");
	size_t cap = f->cap * 2;
	feature *slots = cog__calloc(cap, sizeof(feature));
	if (!slots)
		return cog__oom("hashing embedder");
	for (size_t i = 0; i < f->cap; i++)
		if (f->slots[i].key)
			put_slot(slots, cap, &f->slots[i]);
	features_dispose(f);
	f->slots = slots;
	f->cap = cap;
	f->heap = true;
	return COG_OK;
}

static int features_add(features *f, uint64_t key, float weight)
{
	size_t mask = f->cap - 1, i = (size_t)(key >> 7) & mask;
	for (;; i = (i + 1) & mask) {
		feature *s = &f->slots[i];
		if (s->key == key) {
			s->weight += weight;
			s->count++;
			return COG_OK;
		}
		if (!s->key)
			break;
	}
	if (2 * (f->used + 1) > f->cap) {
		int rc = features_grow(f);
		if (rc)
			return rc;
	}
	feature in = { key, weight, 1 };
	put_slot(f->slots, f->cap, &in);
	f->used++;
	return COG_OK;
}

/* One word: itself, and the 3-grams of its characters between the
 * boundary marks '<' and '>' (never inside a word). */
static int on_word(const char *word, size_t len, void *user_data)
{
	features *f = user_data;
	const unsigned char *w = (const unsigned char *)word;
	int rc = features_add(f, feature_hash(SEED_WORD, w, len), 1.0f);
	if (rc)
		return f->rc = rc;
	unsigned char marked[COG_TEXT_WORD_MAX + 8];
	if (len > COG_TEXT_WORD_MAX + 4)
		len = COG_TEXT_WORD_MAX + 4;   /* cog_text_words keeps words shorter */
	marked[0] = '<';
	memcpy(marked + 1, w, len);
	marked[len + 1] = '>';
	size_t n = len + 2;
	/* Start of each character (not a UTF-8 continuation byte). */
	uint8_t starts[COG_TEXT_WORD_MAX + 9];
	size_t nchar = 0;
	for (size_t i = 0; i < n; i++)
		if ((marked[i] & 0xC0) != 0x80)
			starts[nchar++] = (uint8_t)i;
	starts[nchar] = (uint8_t)n;
	if (nchar < 3)
		return COG_OK;
	size_t grams = nchar - 2;
	float weight = 0.5f / sqrtf((float)grams);
	for (size_t g = 0; g < grams; g++) {
		rc = features_add(f, feature_hash(SEED_GRAM, marked + starts[g],
		                                  (size_t)(starts[g + 3] - starts[g])), weight);
		if (rc)
			return f->rc = rc;
	}
	return COG_OK;
}

int mem_hash_embed(const char *text, size_t len, float *out, size_t dim)
{
	static const char fn[] = "hashing embedder";
	if (!out || (!text && len))
		return cog__error(COG_EINVAL, "%s: %s is NULL", fn, out ? "text" : "out");
	if (dim < MEM_HASH_DIM_MIN || dim > MEM_HASH_DIM_MAX)
		return cog__error(COG_EINVAL, "%s: dimension %zu is outside %u..%u", fn, dim,
		                  MEM_HASH_DIM_MIN, MEM_HASH_DIM_MAX);
	features f;
	features_init(&f, len);
	int rc = len ? cog_text_words(text, len, on_word, &f) : COG_OK;
	if (f.rc)
		rc = f.rc;
	if (rc) {
		features_dispose(&f);
		return rc;
	}
	if (f.used == 0) {
		features_dispose(&f);
		return cog__error(COG_EINVAL,
			"%s: the text has no word (letters or digits) to embed", fn);
	}
	memset(out, 0, dim * sizeof(float));
	for (size_t i = 0; i < f.cap; i++) {
		const feature *s = &f.slots[i];
		if (!s->key)
			continue;
		float w = s->weight;
		if (s->count > 1)
			w = w / (float)s->count * (1.0f + (float)log((double)s->count));
		size_t bucket = (size_t)(((s->key >> 32) * (uint64_t)dim) >> 32);
		out[bucket] += (s->key & 1) ? -w : w;
	}
	features_dispose(&f);
	double norm = 0;
	for (size_t i = 0; i < dim; i++)
		norm += (double)out[i] * out[i];
	if (norm <= 0) {
		/* Every feature cancelled out (possible in principle, with a few
		 * features in few buckets): a fixed unit vector, not an error. */
		out[0] = 1.0f;
		return COG_OK;
	}
	float scale = (float)(1.0 / sqrt(norm));
	for (size_t i = 0; i < dim; i++)
		out[i] *= scale;
	return COG_OK;
}

void mem_hash_model(size_t dim, char out[32])
{
	snprintf(out, 32, "hash-%zu", dim);
}
