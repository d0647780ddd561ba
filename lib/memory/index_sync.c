/*
 * Loading and refreshing a handle's index from storage. The rows come in
 * id order, a page at a time, from one query that names the handle's
 * namespace chain (the storage applies it); the index remembers the highest
 * id it has seen, so a refresh reads only what is new: rows other handles
 * wrote, and this handle's own (already present: skipped).
 *
 * A row whose vector was made by another embedder (embed_model is not the
 * handle's current model, or the dimension differs) is re-embedded from its
 * text and, when it is in the handle's own namespace, written back under
 * the same id, a batch per transaction (an ancestor's row is re-embedded in
 * memory only: a handle writes to no other namespace). Rows a host gave its
 * own vector ("host") are never re-embedded: they cannot be made again, and
 * nothing stored is lost; when their dimension is not the index's they stay
 * out of it (keyword search still finds them). A row that vanished in the
 * meantime is skipped. The storage must not be called while it reads, so
 * rows to re-embed are copied out and handled after each page.
 */
#include <math.h>
#include <string.h>

#include "index_int.h"

#define PAGE_ROWS 1024
#define PAGE_STALE_BYTES (8u * 1024 * 1024)   /* text copied out per page */
#define EMBED_BATCH 256

typedef struct stale_row {
	uint64_t id;
	char *ns;
	unsigned int layer;
	char *text;
	size_t text_len;
	char *metadata;
	size_t metadata_len;
	double importance;
	int64_t created_at, updated_at, expires_at;
	unsigned int slot;
} stale_row;

typedef struct page {
	struct cog_memory *m;
	mem_index *ix;
	uint64_t last_id;
	size_t seen;
	bool stopped;           /* left early: too much text copied out */
	stale_row *stale;
	size_t nstale, cap;
	size_t stale_bytes;
} page;

static void stale_free(page *p)
{
	for (size_t i = 0; i < p->nstale; i++) {
		cog_free(p->stale[i].ns);
		cog_free(p->stale[i].text);
		cog_free(p->stale[i].metadata);
	}
	cog_free(p->stale);
	p->stale = NULL;
	p->nstale = p->cap = p->stale_bytes = 0;
}

static bool vector_usable(const float *v, size_t dim)
{
	double sum = 0;
	for (size_t i = 0; i < dim; i++)
		sum += (double)v[i] * v[i];
	return sum > 0 && isfinite(sum);
}

static int keep_stale(page *p, const cog_storage_memory_record *rec, unsigned int slot)
{
	if (p->nstale == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		stale_row *s = cog_realloc(p->stale, cap * sizeof(*s));
		if (!s)
			return cog__oom("memory index: re-embedding");
		p->stale = s;
		p->cap = cap;
	}
	stale_row *s = &p->stale[p->nstale];
	*s = (stale_row){ rec->id, cog__strdup(rec->ns), rec->layer,
	                  cog__strndup(rec->text, rec->text_len), rec->text_len,
	                  cog__strndup(rec->metadata, rec->metadata_len), rec->metadata_len,
	                  rec->importance, rec->created_at, rec->updated_at, rec->expires_at,
	                  slot };
	if (!s->ns || !s->text || !s->metadata) {
		cog_free(s->ns);
		cog_free(s->text);
		cog_free(s->metadata);
		return cog__oom("memory index: re-embedding");
	}
	p->nstale++;
	p->stale_bytes += rec->text_len + rec->metadata_len;
	return COG_OK;
}

static int on_row(const cog_storage_memory_record *rec, double score, void *user_data)
{
	(void)score;
	page *p = user_data;
	struct cog_memory *m = p->m;
	p->seen++;
	p->last_id = rec->id;
	if (!rec->embedding || !rec->dim || ix_has(p->ix, rec->id))
		return 0;
	unsigned int slot = 0;
	while (slot < m->chain_len && strcmp(m->chain[slot], rec->ns) != 0)
		slot++;
	if (slot == m->chain_len || ix_layer_index(rec->layer) < 0)
		return 0;   /* not asked for: the storage should not have sent it */
	const char *model = rec->embed_model ? rec->embed_model : "";
	bool usable = rec->dim == p->ix->vs->dim && vector_usable(rec->embedding, rec->dim);
	if (strcmp(model, "host") == 0 && !usable)
		return 0;   /* the host's own vector, for another index: kept as it is */
	bool fresh = usable && (strcmp(model, m->emb.model) == 0 || strcmp(model, "host") == 0);
	int rc = fresh ? ix_append(p->ix, rec->id, slot, rec->layer, rec->embedding)
	               : keep_stale(p, rec, slot);
	if (rc)
		return rc;
	if (p->stale_bytes >= PAGE_STALE_BYTES) {
		p->stopped = true;
		return COG_STORAGE_STOP;
	}
	return 0;
}

/* Write back the handle's own rows of rows[0..n) with their new vectors
 * (vecs, n x dim) in one transaction when the storage allows one (a
 * caller's open transaction takes them otherwise); stored[i] says which
 * rows go into the index: an ancestor's row is re-embedded in memory only
 * (a handle writes to its own namespace, never to another's). */
static int write_back(struct cog_memory *m, stale_row *rows, size_t n, const float *vecs,
                      size_t dim, bool *stored)
{
	size_t own = 0;
	for (size_t i = 0; i < n; i++) {
		stored[i] = rows[i].slot != 0;
		own += rows[i].slot == 0;
	}
	if (!own)
		return COG_OK;
	bool txn = cog_storage_begin(m->store) == COG_OK;
	int rc = COG_OK;
	for (size_t i = 0; i < n && !rc; i++) {
		stale_row *s = &rows[i];
		if (s->slot != 0)
			continue;
		cog_storage_memory_record rec = {
			.id = s->id, .ns = s->ns, .layer = s->layer, .text = s->text,
			.text_len = s->text_len, .metadata = s->metadata,
			.metadata_len = s->metadata_len, .importance = s->importance,
			.created_at = s->created_at, .updated_at = s->updated_at,
			.expires_at = s->expires_at, .embed_model = m->emb.model,
			.embedding = vecs + i * dim, .dim = (uint32_t)dim,
		};
		rc = cog_storage_memory_put(m->store, &rec);
		stored[i] = rc == COG_OK;
		if (rc == COG_ENOTFOUND)
			rc = COG_OK;   /* forgotten meanwhile */
	}
	if (txn && rc) {
		cog_storage_rollback(m->store);
		return cog__error_wrap(rc, "memory index: re-embedding: writing row back");
	}
	if (txn && (rc = cog_storage_commit(m->store)))
		return cog__error_wrap(rc, "memory index: re-embedding: commit");
	return rc ? cog__error_wrap(rc, "memory index: re-embedding: writing row back") : rc;
}

static int reembed(struct cog_memory *m, page *p)
{
	size_t dim = p->ix->vs->dim;
	float *vecs = cog__calloc((size_t)EMBED_BATCH * dim, sizeof(float));
	const char **texts = cog__calloc(EMBED_BATCH, sizeof(*texts));
	size_t *lens = cog__calloc(EMBED_BATCH, sizeof(*lens));
	bool *stored = cog__calloc(EMBED_BATCH, sizeof(*stored));
	int rc = vecs && texts && lens && stored ? COG_OK : cog__oom("memory index: re-embedding");
	for (size_t first = 0; !rc && first < p->nstale; first += EMBED_BATCH) {
		size_t n = p->nstale - first < EMBED_BATCH ? p->nstale - first : EMBED_BATCH;
		for (size_t i = 0; i < n; i++) {
			texts[i] = p->stale[first + i].text;
			lens[i] = p->stale[first + i].text_len;
		}
		rc = mem_embed(m, texts, lens, n, vecs);
		if (!rc && ix_stale(m, p->ix))
			rc = cog__error(COG_EPROTO,
				"memory index: the embedder changed to %s while re-embedding",
				m->emb.model);
		if (!rc)
			rc = write_back(m, p->stale + first, n, vecs, dim, stored);
		for (size_t i = 0; !rc && i < n; i++) {
			if (!stored[i])
				continue;
			const stale_row *s = &p->stale[first + i];
			rc = ix_append(p->ix, s->id, s->slot, s->layer, vecs + i * dim);
			p->ix->reembedded++;
		}
	}
	cog_free(vecs);
	cog_free(texts);
	cog_free(lens);
	cog_free(stored);
	return rc;
}

int mem_index_sync(struct cog_memory *m)
{
	if (!m)
		return cog__error(COG_EINVAL, "memory index: sync: handle is NULL");
	int rc = mem_embed_decide(m);
	if (rc)
		return rc;
	if (m->index && ix_stale(m, m->index)) {
		mem_index_free(m->index);
		m->index = NULL;
	}
	if (!m->index && (rc = ix_new(m, &m->index)))
		return rc;
	cog_storage_memory_query q = { 0 };
	q.ns = m->chain;
	q.ns_count = m->chain_len;
	q.limit = PAGE_ROWS;
	q.with_embedding = 1;
	for (;;) {
		page p = { .m = m, .ix = m->index, .last_id = m->index->max_id };
		q.after_id = m->index->max_id;
		rc = cog_storage_memory_find(m->store, &q, on_row, &p);
		if (!rc && p.nstale)
			rc = reembed(m, &p);
		stale_free(&p);
		if (rc)
			return cog__error_wrap(rc, "memory index of \"%s\"", m->ns);
		m->index->max_id = p.last_id;
		if (p.seen < PAGE_ROWS && !p.stopped)
			return COG_OK;
	}
}
