/*
 * The in-memory backend's keyword search: the distinct words of the match
 * text, looked up in each named namespace's index; BM25 (text.c) with the
 * statistics of the named namespaces together; best first, ties by id.
 * Scores come from the postings and the namespace's arrays alone, and a
 * record is read (for the query's conditions) only when its turn comes,
 * so that a common word does not touch every record.
 */
#include <stdlib.h>
#include <string.h>

#include "storage_memory_int.h"

/* A record met by the postings: scored from the postings and the
 * namespace's arrays only; the record itself is read (for the conditions)
 * only when its turn comes, so a common word does not touch every record. */
typedef struct hit {
	uint64_t id;
	uint32_t slot;
	uint32_t ns;
	double score;
} hit;

typedef struct qterm {
	char word[COG_TEXT_WORD_MAX + 1];
	size_t len;
	uint64_t hash;
} qterm;

struct terms {
	qterm *list;
	size_t n, cap;
};

static int add_qterm(const char *word, size_t len, void *ud)
{
	struct terms *t = ud;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		qterm *l = cog_realloc(t->list, cap * sizeof(*l));
		if (!l)
			return cog__oom("memory storage: match");
		t->list = l;
		t->cap = cap;
	}
	qterm *q = &t->list[t->n++];
	memcpy(q->word, word, len + 1);
	q->len = len;
	q->hash = cog__memrec_hash(word, len);
	return 0;
}

static int compare_qterm(const void *a, const void *b)
{
	return strcmp(((const qterm *)a)->word, ((const qterm *)b)->word);
}

/* The distinct words of the match text, in byte order (the order in which
 * their scores add up, as in the fallback). */
static int query_terms(const char *match, struct terms *t)
{
	int rc = cog_text_words(match, strlen(match), add_qterm, t);
	if (rc || t->n < 2)
		return rc;
	qsort(t->list, t->n, sizeof(*t->list), compare_qterm);
	size_t n = 1;
	for (size_t i = 1; i < t->n; i++)
		if (strcmp(t->list[i].word, t->list[n - 1].word) != 0)
			t->list[n++] = t->list[i];
	t->n = n;
	return 0;
}

/* Better first: higher score, then lower id. */
static bool better(const hit *a, const hit *b)
{
	return a->score > b->score || (a->score == b->score && a->id < b->id);
}

static int by_rank(const void *a, const void *b)
{
	return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

/* A heap with the best hit on top. */
static void sift_down(hit *h, size_t n, size_t at)
{
	for (;;) {
		size_t best = at, l = 2 * at + 1, r = l + 1;
		if (l < n && better(&h[l], &h[best]))
			best = l;
		if (r < n && better(&h[r], &h[best]))
			best = r;
		if (best == at)
			return;
		hit t = h[at];
		h[at] = h[best];
		h[best] = t;
		at = best;
	}
}

/* Where a record's hit is, when a record can be met more than once
 * (several words): per namespace an index by slot when the postings cover
 * a good part of the slots, else a hash table keyed by (namespace, slot). */
typedef struct hit_cell {
	uint32_t slot;
	uint32_t ns;
	uint32_t hit;           /* index into hits + 1; 0: empty */
} hit_cell;

struct scoring {
	hit *hits;
	size_t n;
	uint32_t *dense[MR_QUERY_NS_MAX];
	hit_cell *table;
	size_t mask;
};

static int scoring_init(struct scoring *s, const mr_query *mq, size_t postings, bool repeats)
{
	size_t slots = 0;
	if (!(s->hits = cog_malloc(postings * sizeof(*s->hits))))
		return cog__oom("memory storage: match");
	if (!repeats)
		return COG_OK;
	for (size_t i = 0; i < mq->ns_count; i++)
		slots += mq->ns[i]->slots;
	if (postings * 4 >= slots) {
		for (size_t i = 0; i < mq->ns_count; i++)
			if (!(s->dense[i] = cog__calloc(mq->ns[i]->slots + 1, sizeof(uint32_t))))
				return cog__oom("memory storage: match");
		return COG_OK;
	}
	size_t cap = 16;
	while (cap < postings * 2)
		cap *= 2;
	if (!(s->table = cog__calloc(cap, sizeof(*s->table))))
		return cog__oom("memory storage: match");
	s->mask = cap - 1;
	return COG_OK;
}

static void scoring_dispose(struct scoring *s)
{
	cog_free(s->hits);
	for (size_t i = 0; i < MR_QUERY_NS_MAX; i++)
		cog_free(s->dense[i]);
	cog_free(s->table);
}

static hit *find_or_add(struct scoring *s, uint32_t ns, const mr_ns *n, uint32_t slot)
{
	uint32_t *cell = NULL;
	if (s->dense[ns]) {
		cell = &s->dense[ns][slot];
	} else if (s->table) {
		uint64_t key = (uint64_t)ns << 32 | slot;
		size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & s->mask;
		while (s->table[i].hit && (s->table[i].slot != slot || s->table[i].ns != ns))
			i = (i + 1) & s->mask;
		s->table[i].slot = slot;
		s->table[i].ns = ns;
		cell = &s->table[i].hit;
	}
	if (cell && *cell)
		return &s->hits[*cell - 1];
	s->hits[s->n] = (hit){ n->ids[slot], slot, ns, 0.0 };
	if (cell)
		*cell = (uint32_t)s->n + 1;
	return &s->hits[s->n++];
}

/* Add each word's BM25 to the records it is in; statistics are those of
 * the named namespaces together. */
static void score(const mr_query *mq, const struct terms *t, struct scoring *s)
{
	double n_docs = 0, total = 0;
	mr_term *found[MR_QUERY_NS_MAX];
	for (size_t i = 0; i < mq->ns_count; i++) {
		n_docs += mq->ns[i]->live;
		total += (double)mq->ns[i]->total_words;
	}
	double avg = n_docs > 0 ? total / n_docs : 0;
	for (size_t k = 0; k < t->n; k++) {
		double df = 0;
		for (size_t i = 0; i < mq->ns_count; i++) {
			found[i] = cog__memrec_term_find(mq->ns[i], t->list[k].word, t->list[k].len,
				t->list[k].hash);
			df += found[i] ? found[i]->df : 0;
		}
		for (uint32_t i = 0; i < mq->ns_count; i++) {
			const mr_ns *n = mq->ns[i];
			for (uint32_t p = 0; found[i] && p < found[i]->len; p++) {
				const mr_post *post = &found[i]->posts[p];
				if (!n->recs[post->slot])
					continue; /* deleted: the posting waits for compaction */
				find_or_add(s, i, n, post->slot)->score += cog_text_bm25(post->tf, df,
					n_docs, n->lens[post->slot], avg);
			}
		}
	}
}

/* Hand the visible hits to fn, best first, at most q->limit. */
static int emit_ranked(const mr_query *mq, struct scoring *s, cog_storage_memory_fn fn,
                       void *user_data)
{
	const cog_storage_memory_query *q = mq->q;
	size_t left = s->n, emitted = 0;
	hit *h = s->hits;
	int rc = 0;
	if (!q->limit)
		qsort(h, left, sizeof(*h), by_rank);
	else
		for (size_t i = left / 2; i-- > 0;)
			sift_down(h, left, i);
	for (size_t i = 0; left > 0 && !rc && (!q->limit || emitted < q->limit); left--) {
		hit top = q->limit ? h[0] : h[i++];
		if (q->limit) {
			h[0] = h[left - 1];
			sift_down(h, left - 1, 0);
		}
		const mr_ns *n = mq->ns[top.ns];
		const mr_rec *r = n->recs[top.slot];
		if (!cog__memrec_visible(mq, r))
			continue;
		cog_storage_memory_record v;
		cog__memrec_view(n, r, q->with_embedding != 0, &v);
		rc = fn(&v, top.score, user_data);
		emitted++;
	}
	return rc;
}

int cog__memrec_search(const mr_query *mq, cog_storage_memory_fn fn, void *user_data)
{
	struct terms t = { NULL, 0, 0 };
	struct scoring s;
	size_t postings = 0, with_posts = 0;
	memset(&s, 0, sizeof(s));
	int rc = query_terms(mq->q->match, &t);
	for (size_t k = 0; k < t.n && !rc; k++) {
		size_t before = postings;
		for (size_t i = 0; i < mq->ns_count; i++) {
			mr_term *mt = cog__memrec_term_find(mq->ns[i], t.list[k].word, t.list[k].len,
				t.list[k].hash);
			postings += mt ? mt->len : 0;
		}
		with_posts += postings > before;
	}
	/* Text with no word, or words no record has: nothing. */
	if (!rc && postings > 0 && !(rc = scoring_init(&s, mq, postings, with_posts > 1))) {
		score(mq, &t, &s);
		rc = emit_ranked(mq, &s, fn, user_data);
	}
	cog_free(t.list);
	scoring_dispose(&s);
	return rc;
}
