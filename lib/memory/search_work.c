/*
 * The working layer's side of a search. Working items live in this handle's
 * RAM only (no storage query can see them), so they are scored here: BM25
 * over the same words the storage backends use (cog_text_words), with the
 * working items as the collection, and cosine with the vectors they were
 * embedded with at put time. The layer is token-bounded (a few thousand
 * words), so a scan per search is cheap.
 */
#include <math.h>
#include <string.h>

#include "search_int.h"

#define TERMS_MAX 1024   /* distinct query words scored; the rest are ignored */

typedef struct term {
	const char *word;    /* into terms.buf */
	size_t len;
	size_t df;
	size_t last_doc;     /* the last document counted in df, + 1 */
	double tf;           /* in the current document */
} term;

typedef struct terms {
	term *t;
	size_t n;
	uint32_t *slots;     /* open addressing: index + 1, 0 empty */
	size_t mask;
	cog_buf buf;
	size_t *offsets;     /* word starts in buf while collecting */
	size_t max;          /* room in t and offsets */
	int oom;
} terms;

static uint32_t word_hash(const char *w, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)w[i]) * 16777619u;
	return h;
}

static term *terms_find(const terms *ts, const char *w, size_t len)
{
	for (size_t s = word_hash(w, len) & ts->mask;; s = (s + 1) & ts->mask) {
		uint32_t i = ts->slots[s];
		if (!i)
			return NULL;
		term *t = &ts->t[i - 1];
		if (t->len == len && memcmp(t->word, w, len) == 0)
			return t;
	}
}

/* First pass over the query: the distinct words into buf. */
static int collect_word(const char *w, size_t len, void *user_data)
{
	terms *ts = user_data;
	if (ts->n == ts->max)
		return 1;
	for (size_t i = 0; i < ts->n; i++)   /* a query has few words */
		if (ts->t[i].len == len && memcmp(ts->buf.ptr + ts->offsets[i], w, len) == 0)
			return 0;
	ts->offsets[ts->n] = ts->buf.len;
	ts->t[ts->n].len = len;
	ts->n++;
	if (cog_buf_put(&ts->buf, w, len)) {
		ts->oom = 1;
		return 1;
	}
	return 0;
}

static int count_word(const char *w, size_t len, void *user_data)
{
	(void)w;
	(void)len;
	return ++*(size_t *)user_data == TERMS_MAX;
}

static int terms_build(terms *ts, const char *text, size_t len)
{
	memset(ts, 0, sizeof(*ts));
	size_t words = 0;
	cog_text_words(text, len, count_word, &words);
	ts->t = cog__calloc(words + 1, sizeof(*ts->t));
	ts->offsets = cog__calloc(words + 1, sizeof(*ts->offsets));
	if (!ts->t || !ts->offsets)
		return COG_ENOMEM;
	ts->max = words;
	cog_text_words(text, len, collect_word, ts);
	if (ts->oom)
		return COG_ENOMEM;
	size_t cap = 16;
	while (cap < ts->n * 2)
		cap *= 2;
	ts->slots = cog__calloc(cap, sizeof(*ts->slots));
	if (!ts->slots)
		return COG_ENOMEM;
	ts->mask = cap - 1;
	for (size_t i = 0; i < ts->n; i++) {
		ts->t[i].word = ts->buf.ptr + ts->offsets[i];
		size_t s = word_hash(ts->t[i].word, ts->t[i].len) & ts->mask;
		while (ts->slots[s])
			s = (s + 1) & ts->mask;
		ts->slots[s] = (uint32_t)(i + 1);
	}
	return COG_OK;
}

static void terms_dispose(terms *ts)
{
	cog_free(ts->t);
	cog_free(ts->offsets);
	cog_free(ts->slots);
	cog_buf_dispose(&ts->buf);
}

typedef struct doc_walk {
	terms *ts;
	size_t doc;          /* document number + 1 */
	size_t len;          /* words seen */
	bool count_tf;       /* second pass: term frequencies */
} doc_walk;

static int walk_word(const char *w, size_t len, void *user_data)
{
	doc_walk *d = user_data;
	d->len++;
	term *t = terms_find(d->ts, w, len);
	if (!t)
		return 0;
	if (d->count_tf) {
		t->tf += 1;
	} else if (t->last_doc != d->doc) {
		t->last_doc = d->doc;
		t->df++;
	}
	return 0;
}

static bool item_eligible(const mem_search_query *q, const mem_work_item *it)
{
	if (q->since && it->created_at < q->since)
		return false;
	if (q->until && it->created_at >= q->until)
		return false;
	return mem_search_metadata_matches(q->metadata, it->metadata);
}

/* BM25 of each hit; hits[i].keyword set for the items holding a query word. */
static int score_keywords(const mem_search_query *q, mem_work_hit *hits, size_t n)
{
	terms ts;
	int rc = terms_build(&ts, q->text, q->text_len);
	size_t *lens = rc ? NULL : cog__calloc(n ? n : 1, sizeof(*lens));
	if (!lens) {
		terms_dispose(&ts);
		return cog__oom("cog_memory_search: working layer");
	}
	double total = 0;
	for (size_t i = 0; i < n; i++) {
		doc_walk d = { &ts, i + 1, 0, false };
		cog_text_words(hits[i].item->text, hits[i].item->text_len, walk_word, &d);
		lens[i] = d.len;
		total += (double)d.len;
	}
	double avg = n && total > 0 ? total / (double)n : 1.0;
	for (size_t i = 0; i < n; i++) {
		doc_walk d = { &ts, i + 1, 0, true };
		cog_text_words(hits[i].item->text, hits[i].item->text_len, walk_word, &d);
		double score = 0;
		for (size_t j = 0; j < ts.n; j++) {
			if (ts.t[j].tf > 0) {
				score += cog_text_bm25(ts.t[j].tf, (double)ts.t[j].df, (double)n,
				                       (double)lens[i], avg);
				ts.t[j].tf = 0;
				hits[i].keyword = true;
			}
		}
		hits[i].bm25 = score;
	}
	cog_free(lens);
	terms_dispose(&ts);
	return COG_OK;
}

static void score_vectors(const float *qvec, size_t dim, mem_work_hit *hits, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const float *v = hits[i].item->vec;
		if (!v)
			continue;
		double norm = sqrt((double)cog__vec_dot(v, v, dim));
		if (!(norm > 0))
			continue;
		hits[i].cosine = (double)cog__vec_dot(v, qvec, dim) / norm;
		hits[i].vector = true;
	}
}

int mem_search_working(struct cog_memory *m, const mem_search_query *q, bool want_keyword,
                       const float *qvec, size_t dim, mem_work_hit **out, size_t *nout)
{
	*out = NULL;
	*nout = 0;
	bool keyword = want_keyword && q->text && q->text_has_words;
	if ((!keyword && !qvec) || m->working.count == 0)
		return COG_OK;
	mem_work_hit *hits = cog__calloc(m->working.count, sizeof(*hits));
	if (!hits)
		return cog__oom("cog_memory_search: working layer");
	size_t n = 0;
	for (size_t i = 0; i < m->working.count; i++)
		if (item_eligible(q, &m->working.items[i]))
			hits[n++].item = &m->working.items[i];
	int rc = keyword ? score_keywords(q, hits, n) : COG_OK;
	if (rc) {
		cog_free(hits);
		return rc;
	}
	if (qvec)
		score_vectors(qvec, dim, hits, n);
	size_t kept = 0;
	for (size_t i = 0; i < n; i++)
		if (hits[i].keyword || hits[i].vector)
			hits[kept++] = hits[i];
	if (!kept) {
		cog_free(hits);
		return COG_OK;
	}
	*out = hits;
	*nout = kept;
	return COG_OK;
}
