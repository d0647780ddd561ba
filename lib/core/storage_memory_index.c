/*
 * The in-memory backend's keyword index: per namespace, a hash table of
 * words, each with postings (slot, term frequency) and its document
 * frequency over the live records. Postings are appended by an insert; a
 * delete leaves them (their slot is empty: skipped, until compaction
 * rebuilds them); a replace with new text and an undone insert take theirs
 * away at once, searching from the end, where an undone insert's are.
 */
#include <string.h>

#include "storage_memory_int.h"

mr_term *cog__memrec_term_find(const mr_ns *n, const char *word, size_t len, uint64_t h)
{
	if (!n->term_cap)
		return NULL;
	for (size_t i = h & (n->term_cap - 1);; i = (i + 1) & (n->term_cap - 1)) {
		mr_term *t = n->terms[i];
		if (!t || (t->hash == h && t->word_len == len && memcmp(t->word, word, len) == 0))
			return t;
	}
}

static void term_table_insert(mr_term **table, size_t cap, mr_term *t)
{
	size_t i = t->hash & (cap - 1);
	while (table[i])
		i = (i + 1) & (cap - 1);
	table[i] = t;
}

static mr_term *term_create(mr_ns *n, const char *word, size_t len, uint64_t h)
{
	if ((n->term_count + 1) * 2 > n->term_cap) {
		size_t cap = n->term_cap ? n->term_cap * 2 : 64;
		mr_term **t = cog__calloc(cap, sizeof(*t));
		if (!t)
			return NULL;
		for (size_t i = 0; i < n->term_cap; i++)
			if (n->terms[i])
				term_table_insert(t, cap, n->terms[i]);
		cog_free(n->terms);
		n->terms = t;
		n->term_cap = cap;
	}
	mr_term *t = cog__calloc(1, sizeof(*t) + len + 1);
	if (!t)
		return NULL;
	memcpy(t->word, word, len);
	t->word_len = len;
	t->hash = h;
	term_table_insert(n->terms, n->term_cap, t);
	n->term_count++;
	return t;
}

struct index_op {
	mr_ns *ns;
	uint32_t slot;
	uint32_t words;
};

/* Append (slot, tf) postings. The postings of a slot are added in one
 * go, so a word seen before in this text has its posting last. */
static int add_word(const char *word, size_t len, void *ud)
{
	struct index_op *op = ud;
	uint64_t h = cog__memrec_hash(word, len);
	mr_term *t = cog__memrec_term_find(op->ns, word, len, h);
	op->words++;
	if (!t && !(t = term_create(op->ns, word, len, h)))
		return cog__oom("memory storage: keyword index");
	if (t->len && t->posts[t->len - 1].slot == op->slot) {
		t->posts[t->len - 1].tf++;
		return 0;
	}
	if (t->len == t->cap) {
		size_t cap = t->cap;
		if (cog__memrec_grow((void **)&t->posts, &cap, t->len + 1, sizeof(*t->posts), 4))
			return COG_ENOMEM;
		t->cap = (uint32_t)cap;
	}
	t->posts[t->len++] = (mr_post){ op->slot, 1 };
	t->df++;
	return 0;
}

/* Take back what a failed add_word run appended. */
static int pop_word(const char *word, size_t len, void *ud)
{
	struct index_op *op = ud;
	mr_term *t = cog__memrec_term_find(op->ns, word, len, cog__memrec_hash(word, len));
	if (t && t->len && t->posts[t->len - 1].slot == op->slot) {
		t->len--;
		t->df--;
	}
	return 0;
}

/* Each distinct word of a text once: terms carry the stamp of the last
 * operation that saw them. */
static mr_term *first_sight(struct index_op *op, const char *word, size_t len)
{
	mr_term *t = cog__memrec_term_find(op->ns, word, len, cog__memrec_hash(word, len));
	if (!t || t->mark == op->ns->stamp)
		return NULL;
	t->mark = op->ns->stamp;
	return t;
}

/* Remove the slot's posting (searched from the end: undone inserts are
 * the last ones). */
static int remove_word(const char *word, size_t len, void *ud)
{
	struct index_op *op = ud;
	mr_term *t = first_sight(op, word, len);
	if (!t)
		return 0;
	for (uint32_t i = t->len; i-- > 0;) {
		if (t->posts[i].slot == op->slot) {
			memmove(t->posts + i, t->posts + i + 1, (t->len - i - 1) * sizeof(*t->posts));
			t->len--;
			t->df--;
			break;
		}
	}
	return 0;
}

static int df_down(const char *word, size_t len, void *ud)
{
	mr_term *t = first_sight(ud, word, len);
	if (t)
		t->df--;
	return 0;
}

static int df_up(const char *word, size_t len, void *ud)
{
	mr_term *t = first_sight(ud, word, len);
	if (t)
		t->df++;
	return 0;
}

/* Run fn over the words of r's text (add_word counts them). */
static int index_walk(mr_ns *n, mr_rec *r, cog_text_word_fn fn, uint32_t *words)
{
	struct index_op op = { n, r->slot, 0 };
	n->stamp++;
	int rc = cog_text_words(r->text, r->text_len, fn, &op);
	if (words)
		*words = op.words;
	return rc;
}

int cog__memrec_index_add(mr_ns *n, mr_rec *r)
{
	int rc = index_walk(n, r, add_word, &r->word_count);
	if (rc)
		index_walk(n, r, pop_word, NULL);
	return rc;
}

void cog__memrec_index_remove(mr_ns *n, mr_rec *r)
{
	index_walk(n, r, remove_word, NULL);
}

void cog__memrec_index_df(mr_ns *n, mr_rec *r, int delta)
{
	index_walk(n, r, delta > 0 ? df_up : df_down, NULL);
}

/* Never allocates: every live record's words have terms, with room for at
 * least the postings kept. */
void cog__memrec_index_rebuild(mr_ns *n)
{
	for (size_t i = 0; i < n->term_cap; i++)
		if (n->terms[i])
			n->terms[i]->len = n->terms[i]->df = 0;
	for (uint32_t s = 0; s < n->slots; s++)
		index_walk(n, n->recs[s], add_word, NULL);
	/* Drop the words no record has any more, when a new table can be had. */
	size_t cap = 64;
	size_t kept = 0;
	for (size_t i = 0; i < n->term_cap; i++)
		kept += n->terms[i] && n->terms[i]->df;
	while (cap < kept * 2 + 2)
		cap *= 2;
	mr_term **table = cog__calloc(cap, sizeof(*table));
	if (!table)
		return;
	for (size_t i = 0; i < n->term_cap; i++) {
		mr_term *t = n->terms[i];
		if (t && t->df) {
			term_table_insert(table, cap, t);
		} else if (t) {
			cog_free(t->posts);
			cog_free(t);
		}
	}
	cog_free(n->terms);
	n->terms = table;
	n->term_cap = cap;
	n->term_count = kept;
}

void cog__memrec_index_free(mr_ns *n)
{
	for (size_t i = 0; i < n->term_cap; i++) {
		if (n->terms[i]) {
			cog_free(n->terms[i]->posts);
			cog_free(n->terms[i]);
		}
	}
	cog_free(n->terms);
	n->terms = NULL;
	n->term_cap = n->term_count = 0;
}
