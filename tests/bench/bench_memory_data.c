/*
 * The memory benchmark's data: n memories of 100..300 bytes made of words
 * drawn from a Zipf-like distribution (s = 1.05) over a vocabulary of
 * BM_VOCAB invented words (consonant-vowel syllables, shorter for the
 * frequent ones), in sentences; BM_TERM_COUNT rare terms (fewer below
 * 20,000 memories) ("zx" + letters,
 * which no vocabulary word can spell: the consonants exclude x and z) each
 * placed in BM_TERM_DOCS random memories; metadata of two members. All
 * from one xorshift seed, so every run and every store sees the same data.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_memory.h"

#define ZIPF_S 1.05
#define TEXT_MIN 100
#define TEXT_MAX 300

static uint64_t rng = UINT64_C(0x9E3779B97F4A7C15);

static uint64_t next_u64(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double next_unit(void)   /* [0, 1) */
{
	return (double)(next_u64() >> 11) / 9007199254740992.0;
}

static size_t next_below(size_t n)
{
	return (size_t)(next_unit() * (double)n);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		bm_die("malloc", "out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	size_t len = strlen(s) + 1;
	return memcpy(xmalloc(len), s, len);
}

/* ---- the vocabulary ---- */

static const char consonants[] = "bcdfghjklmnpqrstvw";   /* no x, no z */
static const char vowels[] = "aeiou";

static uint64_t hash_word(const char *w)
{
	uint64_t h = UINT64_C(1469598103934665603);
	for (; *w; w++)
		h = (h ^ (unsigned char)*w) * UINT64_C(1099511628211);
	return h;
}

/* Words by rank: unique (an open-addressed set of their hashes' words). */
static char **make_vocabulary(void)
{
	char **words = xmalloc(BM_VOCAB * sizeof(*words));
	size_t cap = 1u << 16;
	const char **set = calloc(cap, sizeof(*set));
	if (!set)
		bm_die("calloc", "out of memory");
	for (size_t r = 0; r < BM_VOCAB; r++) {
		char w[16];
		for (;;) {
			size_t syll = r < 60 ? 1 + next_below(2) : r < 3000 ? 2 + next_below(2)
			                                         : 2 + next_below(3);
			size_t len = 0;
			for (size_t s = 0; s < syll; s++) {
				w[len++] = consonants[next_below(sizeof(consonants) - 1)];
				w[len++] = vowels[next_below(sizeof(vowels) - 1)];
			}
			if (next_below(3) == 0)
				w[len++] = consonants[next_below(sizeof(consonants) - 1)];
			w[len] = '\0';
			size_t i = hash_word(w) & (cap - 1);
			while (set[i] && strcmp(set[i], w) != 0)
				i = (i + 1) & (cap - 1);
			if (set[i])
				continue;   /* taken: draw again */
			words[r] = xstrdup(w);
			set[i] = words[r];
			break;
		}
	}
	free(set);
	return words;
}

/* Cumulative Zipf weights, for a binary search on a uniform draw. */
static double *make_cdf(void)
{
	double *cdf = xmalloc(BM_VOCAB * sizeof(*cdf));
	double sum = 0;
	for (size_t r = 0; r < BM_VOCAB; r++) {
		sum += 1.0 / pow((double)(r + 1), ZIPF_S);
		cdf[r] = sum;
	}
	for (size_t r = 0; r < BM_VOCAB; r++)
		cdf[r] /= sum;
	return cdf;
}

static size_t draw_rank(const double *cdf)
{
	double u = next_unit();
	size_t lo = 0, hi = BM_VOCAB - 1;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* ---- texts ---- */

static void term_name(char *out, size_t j)
{
	out[0] = 'z';
	out[1] = 'x';
	for (int i = 5; i >= 2; i--) {
		out[i] = (char)('a' + j % 26);
		j /= 26;
	}
	out[6] = '\0';
}

/* The selective terms planted in one memory (up to 4). */
typedef struct planted {
	size_t term[4];
	size_t count;
} planted;

static char *make_text(char **vocab, const double *cdf, const planted *p,
                       unsigned char *seen)
{
	char buf[TEXT_MAX + 32];
	size_t target = TEXT_MIN + next_below(TEXT_MAX - TEXT_MIN + 1);
	size_t len = 0, words = 0, in_sentence = 0, sentence = 6 + next_below(10);
	size_t plant_at[4];
	int planted_done[4] = { 0, 0, 0, 0 };
	for (size_t t = 0; t < p->count; t++)
		plant_at[t] = next_below(8);   /* < 12 - 4: all fit before the end */
	for (;;) {
		char term[8];
		const char *w = NULL;
		for (size_t t = 0; t < p->count && !w; t++)
			if (!planted_done[t] && plant_at[t] <= words) {
				term_name(term, p->term[t]);
				planted_done[t] = 1;
				w = term;
			}
		if (!w) {
			size_t r = draw_rank(cdf);
			seen[r] = 1;
			w = vocab[r];
		}
		size_t wl = strlen(w);
		if (len + 1 + wl + 1 > target && words >= 12)
			break;
		if (len)
			buf[len++] = ' ';
		memcpy(buf + len, w, wl);
		if (in_sentence == 0)
			buf[len] = (char)(buf[len] - 'a' + 'A');
		len += wl;
		words++;
		if (++in_sentence == sentence) {
			buf[len++] = '.';
			in_sentence = 0;
			sentence = 6 + next_below(10);
		} else if (next_below(12) == 0) {
			buf[len++] = ',';
		}
	}
	if (len && buf[len - 1] != '.') {
		if (buf[len - 1] == ',')
			len--;
		buf[len++] = '.';
	}
	buf[len] = '\0';
	return xstrdup(buf);
}

static const char *sources[] = { "chat", "email", "doc", "note", "ticket" };

void bm_data_make(bm_data *d, size_t n, size_t queries)
{
	memset(d, 0, sizeof(*d));
	rng = UINT64_C(0x9E3779B97F4A7C15);
	char **vocab = make_vocabulary();
	double *cdf = make_cdf();
	planted *plant = calloc(n, sizeof(*plant));
	size_t (*where)[BM_TERM_DOCS] = xmalloc(BM_TERM_COUNT * sizeof(*where));
	unsigned char *seen = calloc(BM_VOCAB, 1);
	if (!plant || !seen)
		bm_die("calloc", "out of memory");
	/* at most one planting per 2 memories: a memory takes 4 at most */
	size_t terms = n / (2 * BM_TERM_DOCS) < BM_TERM_COUNT ? n / (2 * BM_TERM_DOCS)
	                                                     : BM_TERM_COUNT;
	for (size_t j = 0; j < terms; j++)
		for (size_t c = 0; c < BM_TERM_DOCS; c++) {
			size_t i;
			do
				i = next_below(n);
			while (plant[i].count == 4);
			plant[i].term[plant[i].count++] = j;
			where[j][c] = i;
		}
	d->n = n;
	d->terms = terms;
	d->text = xmalloc(n * sizeof(*d->text));
	d->metadata = xmalloc(n * sizeof(*d->metadata));
	d->ns_many = xmalloc(n * sizeof(*d->ns_many));
	double bytes = 0;
	for (size_t i = 0; i < n; i++) {
		d->text[i] = make_text(vocab, cdf, &plant[i], seen);
		bytes += (double)strlen(d->text[i]);
		char md[96];
		snprintf(md, sizeof(md), "{\"source\":\"%s\",\"turn\":%zu}",
			sources[next_below(5)], next_below(500));
		d->metadata[i] = xstrdup(md);
		d->ns_many[i] = (unsigned int)next_below(BM_NS_MANY);
	}
	d->mean_bytes = n ? bytes / (double)n : 0;
	for (size_t r = 0; r < BM_VOCAB; r++)
		d->distinct_words += seen[r];
	d->queries = queries;
	d->query_term = xmalloc(queries * sizeof(*d->query_term));
	d->query_ns = xmalloc(queries * sizeof(*d->query_ns));
	for (size_t q = 0; q < queries; q++) {
		size_t j = next_below(terms);
		char term[8];
		term_name(term, j);
		d->query_term[q] = xstrdup(term);
		d->query_ns[q] = d->ns_many[where[j][next_below(BM_TERM_DOCS)]];
	}
	for (size_t r = 0; r < BM_VOCAB; r++)
		free(vocab[r]);
	free(vocab);
	free(cdf);
	free(plant);
	free(where);
	free(seen);
}

void bm_data_dispose(bm_data *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->text[i]);
		free(d->metadata[i]);
	}
	for (size_t q = 0; q < d->queries; q++)
		free((char *)d->query_term[q]);
	free(d->text);
	free(d->metadata);
	free(d->ns_many);
	free(d->query_term);
	free(d->query_ns);
	memset(d, 0, sizeof(*d));
}

void bm_ns_name(char *out, size_t cap, int many, unsigned int index)
{
	if (many)
		snprintf(out, cap, "acme/u%03u", index);
	else
		snprintf(out, cap, "bench/one");
}
