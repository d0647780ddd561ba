/*
 * The in-memory backend's memory records: the store, its namespaces, put,
 * delete, purge and transactions. The keyword index is in
 * storage_memory_index.c, queries in storage_memory_find.c and
 * storage_memory_search.c.
 *
 * Each namespace is found through a hash table, so a call only ever touches
 * the namespaces it names. Inside one, records sit in slots in id order
 * (ids only grow, so an insert appends) with their ids alongside, kept for
 * deleted slots too: a binary search finds an id. The inverted index maps
 * each word to postings (slot, term frequency). A delete leaves its
 * postings behind (skipped: the slot is empty) and the namespace is
 * compacted once most slots are empty; an insert's postings are appended;
 * a replace with new text swaps its postings eagerly.
 *
 * Transactions keep an undo log. A rollback replays it backwards and never
 * allocates: an undone insert takes its postings (the last ones) away
 * again, an undone replace puts back postings where there was room for
 * them, and nothing is compacted while a transaction is open.
 */
#include <string.h>

#include "storage_memory_int.h"

/* ---- hashing and growth ---- */

uint64_t cog__memrec_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

int cog__memrec_grow(void **ptr, size_t *cap, size_t need, size_t size, size_t first)
{
	if (need <= *cap)
		return COG_OK;
	size_t n = *cap ? *cap : first;
	while (n < need)
		n *= 2;
	void *p = cog_realloc(*ptr, n * size);
	if (!p)
		return cog__oom("memory storage: memory records");
	*ptr = p;
	*cap = n;
	return COG_OK;
}

/* ---- namespaces ---- */

mr_ns *cog__memrec_ns_find(const cog_memrec_store *m, const char *name)
{
	if (!m->ns_cap)
		return NULL;
	uint64_t h = cog__memrec_hash(name, strlen(name));
	for (size_t i = h & (m->ns_cap - 1);; i = (i + 1) & (m->ns_cap - 1)) {
		mr_ns *n = m->ns_table[i];
		if (!n || (n->hash == h && strcmp(n->name, name) == 0))
			return n;
	}
}

static void ns_table_insert(mr_ns **table, size_t cap, mr_ns *n)
{
	size_t i = n->hash & (cap - 1);
	while (table[i])
		i = (i + 1) & (cap - 1);
	table[i] = n;
}

static mr_ns *ns_get(cog_memrec_store *m, const char *name)
{
	mr_ns *n = cog__memrec_ns_find(m, name);
	if (n)
		return n;
	if ((m->ns_count + 1) * 2 > m->ns_cap) {
		size_t cap = m->ns_cap ? m->ns_cap * 2 : 16;
		mr_ns **t = cog__calloc(cap, sizeof(*t));
		if (!t)
			return NULL;
		for (size_t i = 0; i < m->ns_cap; i++)
			if (m->ns_table[i])
				ns_table_insert(t, cap, m->ns_table[i]);
		cog_free(m->ns_table);
		m->ns_table = t;
		m->ns_cap = cap;
	}
	size_t len = strlen(name);
	if (!(n = cog__calloc(1, sizeof(*n) + len + 1)))
		return NULL;
	memcpy(n->name, name, len + 1);
	n->hash = cog__memrec_hash(name, len);
	ns_table_insert(m->ns_table, m->ns_cap, n);
	m->ns_count++;
	return n;
}

/* The slot of id (live or not), or n->slots. */
size_t cog__memrec_lower_bound(const mr_ns *n, uint64_t id)
{
	size_t lo = 0, hi = n->slots;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (n->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

mr_rec *cog__memrec_lookup(const mr_ns *n, uint64_t id)
{
	size_t slot = cog__memrec_lower_bound(n, id);
	return slot < n->slots && n->ids[slot] == id ? n->recs[slot] : NULL;
}

/* A record becomes visible (its slot filled) or invisible (emptied). */
static void stats_in(mr_ns *n, const mr_rec *r, int sign)
{
	n->live += (uint32_t)sign;
	n->total_words += (uint64_t)(int64_t)sign * r->word_count;
	if (r->expires_at)
		n->expiring += (uint32_t)sign;
}

static bool same_text(const mr_rec *a, const mr_rec *b)
{
	return a->text_len == b->text_len && memcmp(a->text, b->text, a->text_len) == 0;
}

/* Swap the live record at its slot for `next` (same slot); with new text,
 * the postings move too. Fails only when adding the new postings fails
 * (then nothing changed), which cannot happen when `next`'s postings were
 * there before (a rollback). */
static int swap_record(mr_ns *n, mr_rec *cur, mr_rec *next)
{
	if (same_text(cur, next)) {
		next->word_count = cur->word_count;
	} else {
		cog__memrec_index_remove(n, cur);
		int rc = cog__memrec_index_add(n, next);
		if (rc) {
			cog__memrec_index_add(n, cur);
			return rc;
		}
	}
	stats_in(n, cur, -1);
	stats_in(n, next, 1);
	n->recs[next->slot] = next;
	n->lens[next->slot] = next->word_count;
	return COG_OK;
}

/* ---- undo ---- */

int cog__memrec_undo_reserve(cog_memrec_store *m, size_t extra)
{
	if (!m->in_txn)
		return COG_OK;
	return cog__memrec_grow((void **)&m->undo, &m->undo_cap, m->undo_len + extra,
		sizeof(*m->undo), 64);
}

static void undo_push(cog_memrec_store *m, int kind, mr_ns *n, uint32_t slot, mr_rec *old)
{
	m->undo[m->undo_len++] = (mr_undo){ kind, n, slot, old };
}

/* ---- put ---- */

static int insert(cog_memrec_store *m, mr_ns *n, mr_rec *r)
{
	if (m->next_id >= (UINT64_C(1) << 53))
		return cog__error(COG_ERANGE, "memory storage: record ids are used up");
	if (n->slots == UINT32_MAX - 1)
		return cog__error(COG_ERANGE, "memory storage: namespace \"%s\" is full", n->name);
	if (n->slots == n->slot_cap) {
		/* Three arrays by slot: the capacity counts once all have it. */
		size_t cap[3] = { n->slot_cap, n->slot_cap, n->slot_cap };
		size_t need = n->slots + 1;
		if (cog__memrec_grow((void **)&n->recs, &cap[0], need, sizeof(*n->recs), 16) ||
		    cog__memrec_grow((void **)&n->ids, &cap[1], need, sizeof(*n->ids), 16) ||
		    cog__memrec_grow((void **)&n->lens, &cap[2], need, sizeof(*n->lens), 16))
			return COG_ENOMEM;
		n->slot_cap = (uint32_t)cap[0];
	}
	r->id = m->next_id;
	r->slot = n->slots;
	int rc = cog__memrec_index_add(n, r);
	if (rc)
		return rc;
	n->recs[n->slots] = r;
	n->ids[n->slots] = r->id;
	n->lens[n->slots] = r->word_count;
	n->slots++;
	stats_in(n, r, 1);
	m->next_id++;
	if (m->in_txn)
		undo_push(m, UNDO_INSERT, n, r->slot, NULL);
	return COG_OK;
}

int cog__memrec_put(cog_memrec_store *m, cog_storage_memory_record *rec)
{
	mr_ns *n = rec->id ? cog__memrec_ns_find(m, rec->ns) : ns_get(m, rec->ns);
	if (!n && !rec->id)
		return cog__oom("memory storage: namespace");
	mr_rec *cur = n && rec->id ? cog__memrec_lookup(n, rec->id) : NULL;
	if (rec->id && !cur)
		return cog__error(COG_ENOTFOUND, "memory storage: no record %llu in \"%s\"",
			(unsigned long long)rec->id, rec->ns);
	int rc = cog__memrec_undo_reserve(m, 1);
	if (rc)
		return rc;
	mr_rec *r = cog__memrec_build(rec);
	if (!r)
		return cog__oom("memory storage: put");
	if (!cur) {
		rc = insert(m, n, r);
		if (rc) {
			cog_free(r);
			return rc;
		}
		rec->id = r->id;
		return COG_OK;
	}
	r->id = cur->id;
	r->slot = cur->slot;
	if ((rc = swap_record(n, cur, r))) {
		cog_free(r);
		return rc;
	}
	if (m->in_txn)
		undo_push(m, UNDO_REPLACE, n, r->slot, cur);
	else
		cog_free(cur);
	return COG_OK;
}

/* ---- delete and purge ---- */

/* Empty a live slot. Never fails (the undo entry was reserved). */
void cog__memrec_delete_at(cog_memrec_store *m, mr_ns *n, uint32_t slot)
{
	mr_rec *r = n->recs[slot];
	cog__memrec_index_df(n, r, -1);
	stats_in(n, r, -1);
	n->recs[slot] = NULL;
	n->dead++;
	if (m->in_txn)
		undo_push(m, UNDO_DELETE, n, slot, r);
	else
		cog_free(r);
}

/* Once most slots are empty (and no transaction holds slot numbers),
 * close the gaps and rebuild the postings. */
void cog__memrec_compact(cog_memrec_store *m, mr_ns *n)
{
	if (m->in_txn || n->dead < 64 || n->dead < n->live)
		return;
	uint32_t to = 0;
	for (uint32_t from = 0; from < n->slots; from++) {
		if (!n->recs[from])
			continue;
		n->recs[to] = n->recs[from];
		n->ids[to] = n->ids[from];
		n->lens[to] = n->lens[from];
		n->recs[to]->slot = to;
		to++;
	}
	n->slots = to;
	n->dead = 0;
	cog__memrec_index_rebuild(n);
}

int cog__memrec_purge(cog_memrec_store *m, int64_t now, size_t *purged)
{
	for (size_t i = 0; i < m->ns_cap; i++) {
		mr_ns *n = m->ns_table[i];
		if (!n || !n->expiring)
			continue;
		for (uint32_t s = 0; s < n->slots; s++) {
			mr_rec *r = n->recs[s];
			if (!r || !r->expires_at || r->expires_at > now)
				continue;
			int rc = cog__memrec_undo_reserve(m, 1);
			if (rc)
				return rc;
			cog__memrec_delete_at(m, n, s);
			(*purged)++;
		}
		cog__memrec_compact(m, n);
	}
	return COG_OK;
}

/* ---- transactions ---- */

void cog__memrec_begin(cog_memrec_store *m)
{
	m->in_txn = true;
	m->undo_len = 0;
}

void cog__memrec_commit(cog_memrec_store *m)
{
	m->in_txn = false;
	for (size_t i = 0; i < m->undo_len; i++)
		cog_free(m->undo[i].old);
	for (size_t i = 0; i < m->undo_len; i++)
		cog__memrec_compact(m, m->undo[i].ns);
	m->undo_len = 0;
}

void cog__memrec_rollback(cog_memrec_store *m)
{
	m->in_txn = false;
	while (m->undo_len > 0) {
		mr_undo *u = &m->undo[--m->undo_len];
		mr_ns *n = u->ns;
		mr_rec *cur = n->recs[u->slot];
		if (u->kind == UNDO_INSERT) {
			cog__memrec_index_remove(n, cur);
			stats_in(n, cur, -1);
			n->recs[u->slot] = NULL;
			if (u->slot + 1 == n->slots)
				n->slots--; /* its postings are gone: the slot can be reused */
			else
				n->dead++;
			cog_free(cur);
		} else if (u->kind == UNDO_DELETE) {
			n->recs[u->slot] = u->old;
			cog__memrec_index_df(n, u->old, 1);
			stats_in(n, u->old, 1);
			n->dead--;
		} else {
			swap_record(n, cur, u->old);
			cog_free(cur);
		}
	}
}

/* ---- the store ---- */

cog_memrec_store *cog__memrec_new(void)
{
	cog_memrec_store *m = cog__calloc(1, sizeof(*m));
	if (!m) {
		cog__oom("cog_storage_memory_new");
		return NULL;
	}
	m->next_id = 1;
	return m;
}

size_t cog__memrec_count(const cog_memrec_store *m)
{
	size_t count = 0;
	for (size_t i = 0; i < m->ns_cap; i++)
		if (m->ns_table[i])
			count += m->ns_table[i]->live;
	return count;
}

void cog__memrec_free(cog_memrec_store *m)
{
	if (!m)
		return;
	if (m->in_txn)
		cog__memrec_rollback(m);
	for (size_t i = 0; i < m->ns_cap; i++) {
		mr_ns *n = m->ns_table[i];
		if (!n)
			continue;
		for (uint32_t s = 0; s < n->slots; s++)
			cog_free(n->recs[s]);
		cog__memrec_index_free(n);
		cog_free(n->recs);
		cog_free(n->ids);
		cog_free(n->lens);
		cog_free(n);
	}
	cog_free(m->ns_table);
	cog_free(m->undo);
	cog_free(m);
}
