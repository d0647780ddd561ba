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
 * memory only: a handle writes to no other namespace). Write-back happens
 * only with the embedder the user chose ("hashing", "llm") or an LLM that
 * answered: an "auto" handle that fell back to hashing keeps its vectors in
 * memory, so rows an LLM made are never overwritten by hashing vectors.
 * Each row is read again in the write transaction and written with only its
 * vector changed; rows updated meanwhile wait for a later load.
 *
 * Rows a host gave its own vector ("host", "host:<model>") are never
 * re-embedded: they cannot be made again, and nothing stored is lost; when
 * their dimension is not the index's they stay out of it. A row that cannot
 * be re-embedded (a text without words, an LLM that fails) stays out of the
 * index too (counted as skipped, logged once per sync); the load goes on.
 * Keyword search still finds all of them. A row that vanished in the
 * meantime is left out. The storage must not be called while it reads, so
 * rows to re-embed are copied out and handled after each page.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "index_int.h"

#define PAGE_ROWS 1024
#define PAGE_STALE_BYTES (8u * 1024 * 1024)   /* text copied out per page */
#define EMBED_BATCH 256
#define LOG_IDS 8                              /* ids named in the sync's warning */

/* Rows left out during one sync, for its one warning. */
typedef struct skips {
	size_t count;
	cog_buf why;             /* "id 12 (reason); ..." for the first LOG_IDS */
} skips;

typedef struct page {
	struct cog_memory *m;
	mem_index *ix;
	skips *sk;
	uint64_t last_id;
	size_t seen;
	bool stopped;           /* left early: too much text copied out */
	ix_stale_row *stale;
	size_t nstale, cap;
	size_t stale_bytes;
} page;

static void skip(mem_index *ix, skips *sk, uint64_t id, const char *reason)
{
	ix_impl(ix)->skipped++;
	if (sk->count++ < LOG_IDS)
		cog_buf_printf(&sk->why, "%sid %llu (%.160s)", sk->count > 1 ? "; " : "",
		               (unsigned long long)id, reason);
}

static void stale_free(page *p)
{
	for (size_t i = 0; i < p->nstale; i++) {
		cog_free(p->stale[i].ns);
		cog_free(p->stale[i].text);
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
		ix_stale_row *s = cog_realloc(p->stale, cap * sizeof(*s));
		if (!s)
			return cog__oom("memory index: re-embedding");
		p->stale = s;
		p->cap = cap;
	}
	ix_stale_row *s = &p->stale[p->nstale];
	*s = (ix_stale_row){ rec->id, cog__strdup(rec->ns), rec->layer, slot,
	                     cog__strndup(rec->text, rec->text_len), rec->text_len,
	                     rec->updated_at };
	if (!s->ns || !s->text) {
		cog_free(s->ns);
		cog_free(s->text);
		return cog__oom("memory index: re-embedding");
	}
	p->nstale++;
	p->stale_bytes += rec->text_len;
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
	bool host = mem_model_is_host(model);
	if (host && !usable) {
		/* the host's own vector, for another index: kept as it is */
		char why[96];
		snprintf(why, sizeof(why), "host vector of %u dimensions, the index has %zu",
		         (unsigned int)rec->dim, p->ix->vs->dim);
		skip(p->ix, p->sk, rec->id, why);
		return 0;
	}
	bool fresh = usable && (host || strcmp(model, m->emb.model) == 0);
	int rc;
	if (fresh) {
		mem_words_key words, *w = NULL;
		if (slot == 0 && !host && ix_model_hashed(model)) {
			if ((rc = mem_words_key_of(rec->text, rec->text_len, true, &words)))
				return rc;
			w = &words;
		}
		rc = ix_append(p->ix, rec->id, slot, rec->layer, rec->embedding, w);
	} else {
		rc = keep_stale(p, rec, slot);
	}
	if (rc)
		return rc;
	if (p->stale_bytes >= PAGE_STALE_BYTES) {
		p->stopped = true;
		return COG_STORAGE_STOP;
	}
	return 0;
}

/* ---- write-back ---- */

/* A row as it is now, when its text is still the one re-embedded. */
typedef struct reread {
	const ix_stale_row *was;
	int found;              /* 0 gone, 1 same text, 2 text changed */
	cog_storage_memory_record now;
	char *metadata;
} reread;

static int on_reread(const cog_storage_memory_record *rec, double score, void *user_data)
{
	(void)score;
	reread *r = user_data;
	if (rec->text_len != r->was->text_len ||
	    memcmp(rec->text, r->was->text, rec->text_len) != 0) {
		r->found = 2;
		return COG_STORAGE_STOP;
	}
	r->found = 1;
	r->now = *rec;
	r->metadata = cog__strndup(rec->metadata, rec->metadata_len);
	return r->metadata ? COG_STORAGE_STOP : cog__oom("memory index: re-embedding");
}

/* Read row s again and write it with vec; *state as ix_write_back. */
static int write_one(struct cog_memory *m, const ix_stale_row *s, const float *vec,
                     size_t dim, uint8_t *state)
{
	const char *ns = s->ns;
	cog_storage_memory_query q = { 0 };
	q.ns = &ns;
	q.ns_count = 1;
	q.ids = &s->id;
	q.id_count = 1;
	reread r = { .was = s };
	int rc = cog_storage_memory_find(m->store, &q, on_reread, &r);
	if (rc || r.found != 1) {
		cog_free(r.metadata);
		*state = r.found == 2 ? IX_ROW_CHANGED : IX_ROW_GONE;
		return rc;
	}
	*state = IX_ROW_INDEX;
	if (r.now.updated_at != s->updated_at) {
		cog_free(r.metadata);
		return COG_OK;   /* updated meanwhile: the vector fits, the row waits */
	}
	cog_storage_memory_record rec = {
		.id = s->id, .ns = s->ns, .layer = r.now.layer, .text = s->text,
		.text_len = s->text_len, .metadata = r.metadata,
		.metadata_len = strlen(r.metadata), .importance = r.now.importance,
		.created_at = r.now.created_at, .updated_at = r.now.updated_at,
		.expires_at = r.now.expires_at, .embed_model = m->emb.model,
		.embedding = vec, .dim = (uint32_t)dim,
	};
	rc = cog_storage_memory_put(m->store, &rec);
	cog_free(r.metadata);
	if (rc == COG_ENOTFOUND) {
		*state = IX_ROW_GONE;   /* forgotten meanwhile */
		return COG_OK;
	}
	return rc;
}

int ix_write_back(struct cog_memory *m, const ix_stale_row *rows, size_t n,
                  const float *vecs, size_t dim, uint8_t *state)
{
	size_t own = 0;
	for (size_t i = 0; i < n; i++)
		own += state[i] == IX_ROW_WRITE;
	if (!own)
		return COG_OK;
	bool txn = cog_storage_begin(m->store) == COG_OK;
	int rc = COG_OK;
	for (size_t i = 0; i < n && !rc; i++)
		if (state[i] == IX_ROW_WRITE)
			rc = write_one(m, &rows[i], vecs + i * dim, dim, &state[i]);
	if (txn && rc) {
		cog_storage_rollback(m->store);
		return cog__error_wrap(rc, "memory index: re-embedding: writing row back");
	}
	if (txn && (rc = cog_storage_commit(m->store)))
		return cog__error_wrap(rc, "memory index: re-embedding: commit");
	return rc ? cog__error_wrap(rc, "memory index: re-embedding: writing row back") : rc;
}

/* ---- re-embedding ---- */

static bool router_down(int rc)
{
	return rc == COG_EUNAVAILABLE || rc == COG_EBUSY || rc == COG_ETIMEOUT;
}

static int embedder_changed(struct cog_memory *m)
{
	return cog__error(COG_EPROTO, "memory index: the embedder changed to %s while re-embedding",
	                  m->emb.decided ? m->emb.model : "another model");
}

/* The rows from `from` on get no vector: the LLM router is down. */
static void drop_rest(page *p, const ix_stale_row *rows, size_t from, size_t n, uint8_t *state)
{
	char why[224];
	snprintf(why, sizeof(why), "batch dropped, the LLM router is unavailable: %s",
	         cog_error_last());
	for (size_t j = from; j < n; j++) {
		state[j] = IX_ROW_FAILED;
		skip(p->ix, p->sk, rows[j].id, why);
	}
}

/* Vectors for texts[0..n) into vecs; state[i] IX_ROW_FAILED for the rows
 * that got none (skipped, with the reason). A batch that fails as a whole
 * is tried again one text at a time, unless the LLM router is down (then
 * the batch is dropped). Fails only when out of memory or when the
 * embedder changed. */
static int embed_batch(struct cog_memory *m, page *p, const ix_stale_row *rows, size_t n,
                       const char **texts, const size_t *lens, float *vecs, uint8_t *state)
{
	size_t dim = p->ix->vs->dim;
	bool llm = !m->emb.llm_failed && m->emb.want != MEM_EMBED_HASHING;
	int rc = mem_embed(m, texts, lens, n, vecs);
	bool one_by_one = rc && n > 1 && !(llm && router_down(rc));
	for (size_t i = 0; i < n; i++) {
		if (one_by_one)
			rc = mem_embed(m, &texts[i], &lens[i], 1, vecs + i * dim);
		if (rc == COG_ENOMEM)
			return rc;
		if (!m->emb.decided || ix_stale(m, p->ix))
			return embedder_changed(m);
		if (rc && llm && router_down(rc)) {
			drop_rest(p, rows, i, n, state);
			return COG_OK;
		}
		if (rc) {
			state[i] = IX_ROW_FAILED;
			skip(p->ix, p->sk, rows[i].id, cog_error_last());
		}
		if (!one_by_one)
			break;   /* one text, or the batch as a whole worked */
	}
	return COG_OK;
}

static int reembed(struct cog_memory *m, page *p)
{
	size_t dim = p->ix->vs->dim;
	/* an "auto" handle that fell back to hashing keeps its vectors in memory */
	bool persist = m->emb.want != MEM_EMBED_AUTO || !m->emb.llm_failed;
	float *vecs = cog__calloc((size_t)EMBED_BATCH * dim, sizeof(float));
	const char **texts = cog__calloc(EMBED_BATCH, sizeof(*texts));
	size_t *lens = cog__calloc(EMBED_BATCH, sizeof(*lens));
	uint8_t *state = cog__calloc(EMBED_BATCH, sizeof(*state));
	int rc = vecs && texts && lens && state ? COG_OK : cog__oom("memory index: re-embedding");
	for (size_t first = 0; !rc && first < p->nstale; first += EMBED_BATCH) {
		size_t n = p->nstale - first < EMBED_BATCH ? p->nstale - first : EMBED_BATCH;
		const ix_stale_row *rows = p->stale + first;
		for (size_t i = 0; i < n; i++) {
			texts[i] = rows[i].text;
			lens[i] = rows[i].text_len;
			state[i] = persist && rows[i].slot == 0 ? IX_ROW_WRITE : IX_ROW_INDEX;
		}
		rc = embed_batch(m, p, rows, n, texts, lens, vecs, state);
		if (!rc)
			rc = ix_write_back(m, rows, n, vecs, dim, state);
		for (size_t i = 0; !rc && i < n; i++) {
			if (state[i] == IX_ROW_CHANGED)
				skip(p->ix, p->sk, rows[i].id, "its text changed while re-embedding");
			if (state[i] != IX_ROW_INDEX)
				continue;
			mem_words_key words;
			bool hashed = rows[i].slot == 0 && ix_model_hashed(m->emb.model);
			if (hashed && (rc = mem_words_key_of(rows[i].text, rows[i].text_len, true,
			                                     &words)))
				break;
			rc = ix_append(p->ix, rows[i].id, rows[i].slot, rows[i].layer,
			               vecs + i * dim, hashed ? &words : NULL);
			p->ix->reembedded++;
		}
	}
	cog_free(vecs);
	cog_free(texts);
	cog_free(lens);
	cog_free(state);
	return rc;
}

static int load(struct cog_memory *m, skips *sk)
{
	cog_storage_memory_query q = { 0 };
	q.ns = m->chain;
	q.ns_count = m->chain_len;
	q.limit = PAGE_ROWS;
	q.with_embedding = 1;
	for (;;) {
		page p = { .m = m, .ix = m->index, .sk = sk, .last_id = m->index->max_id };
		q.after_id = m->index->max_id;
		int rc = cog_storage_memory_find(m->store, &q, on_row, &p);
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
	skips sk = { 0, COG_BUF_INIT };
	rc = load(m, &sk);
	if (sk.count)
		cog__log(m->ctx, COG_LOG_WARN, NULL,
			"memory %s: %zu row%s left out of the vector index (keyword search still "
			"finds them): %s%s", m->ns, sk.count, sk.count == 1 ? "" : "s",
			sk.why.ptr ? sk.why.ptr : "", sk.count > LOG_IDS ? "; ..." : "");
	cog_buf_dispose(&sk.why);
	return rc;
}
