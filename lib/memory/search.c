/*
 * cog_memory_search: two candidate lists, fused.
 *
 *   keyword  BM25 inside the storage backend (one query that names the
 *            namespaces, layers, metadata filter and time range);
 *   vector   exact search over the handle's index (slots = namespaces,
 *            layers), then the hits' records through one storage query with
 *            the same namespaces, layers, filter and time range: filtering
 *            happens inside storage, and a memory deleted or expired since
 *            the index loaded drops out;
 *   working  this handle's RAM items, scored here (search_work.c) and merged
 *            into both lists by their scores.
 *
 * Lists carry ids and numbers, and flat copies of the records they read
 * (search_keep.c); JSON is built for the final k alone. A record too large
 * to copy is read again by id if it makes the final k.
 */
#include <string.h>

#include "auth_int.h"
#include "search_int.h"
#include "mem_auth.h"

static const char fn[] = "cog_memory_search";

#define CAND_MIN 50   /* candidates per list: max(4 k, CAND_MIN) */

/* ---- the lists ---- */

cog_storage_memory_query mem_search_storage_query(const mem_search_run *r)
{
	cog_storage_memory_query sq;
	memset(&sq, 0, sizeof(sq));
	sq.ns = r->m->chain;
	sq.ns_count = r->q.inherit ? r->m->chain_len : 1;
	sq.layers = r->stored_layers;
	sq.now = r->now;
	sq.since = r->q.since;
	sq.until = r->q.until;
	sq.filter = r->q.filter;
	return sq;
}

/* Backends fill dim only along with the embedding, which a search does not
 * read; a record made by the handle's embedder (or a host vector, which the
 * index keeps only at its dimension) has the index's dimension. */
cog_storage_memory_record mem_search_with_dim(const mem_search_run *r,
                                              const cog_storage_memory_record *rec)
{
	cog_storage_memory_record out = *rec;
	const mem_embedder *e = &r->m->emb;
	if (!out.dim && e->decided && rec->embed_model &&
	    (strcmp(rec->embed_model, e->model) == 0 || mem_model_is_host(rec->embed_model)))
		out.dim = (uint32_t)e->dim;
	return out;
}

static int keep(mem_search_run *r, const cog_storage_memory_record *rec)
{
	cog_storage_memory_record full = mem_search_with_dim(r, rec);
	return mem_kept_add(&r->kept, &full);
}

static int on_keyword(const cog_storage_memory_record *rec, double score, void *user_data)
{
	mem_search_run *r = user_data;
	mem_candidate *c;
	if (mem_cands_get(&r->set, rec->id, &c) || keep(r, rec))
		return COG_ENOMEM;
	c->keyword_rank = -1;
	c->bm25 = score;
	c->importance = rec->importance;
	c->created_at = rec->created_at;
	return 0;
}

static int keyword_list(mem_search_run *r)
{
	cog_storage_memory_query sq = mem_search_storage_query(r);
	sq.match = r->q.text;
	sq.limit = r->per_list;
	int rc = cog_storage_memory_find(r->m->store, &sq, on_keyword, r);
	return rc ? cog__error_wrap(rc, "%s: keyword search", fn) : COG_OK;
}

/* A vector hit that storage still has within the filters: vector_rank -1
 * marks it (its cosine is filled from the hit afterwards). */
static int on_vector_record(const cog_storage_memory_record *rec, double score,
                            void *user_data)
{
	(void)score;
	mem_search_run *r = user_data;
	bool known = mem_cands_find(&r->set, rec->id) != NULL;   /* copied already */
	mem_candidate *c;
	if (mem_cands_get(&r->set, rec->id, &c) || (!known && keep(r, rec)))
		return COG_ENOMEM;
	c->vector_rank = -1;
	c->importance = rec->importance;
	c->created_at = rec->created_at;
	return 0;
}

static int vector_list(mem_search_run *r, const float *qvec)
{
	int rc = mem_index_sync(r->m);
	if (rc)
		return cog__error_wrap(rc, "%s: vector index", fn);
	size_t want = r->per_list < MEM_VEC_K_MAX ? r->per_list : MEM_VEC_K_MAX;
	mem_vec_hit *hits = cog_malloc(MEM_VEC_K_MAX * sizeof(*hits));
	uint64_t *ids = cog_malloc(MEM_VEC_K_MAX * sizeof(*ids));
	if (!hits || !ids) {
		cog_free(hits);
		cog_free(ids);
		return cog__oom("cog_memory_search: vector list");
	}
	unsigned int slots = r->q.inherit ? (1u << r->m->chain_len) - 1 : 1u;
	size_t fetch = want, done = 0, nhits = 0, kept = 0;
	for (;;) {
		rc = mem_index_search(r->m, qvec, fetch, slots, r->stored_layers, hits, &nhits);
		if (rc)
			rc = cog__error_wrap(rc, "%s: vector index", fn);
		if (rc || nhits <= done)
			break;
		/* exact search is deterministic: the first `done` hits are those of
		 * the last round; ask storage about the new ones only */
		for (size_t i = done; i < nhits; i++)
			ids[i - done] = hits[i].id;
		cog_storage_memory_query sq = mem_search_storage_query(r);
		sq.ids = ids;
		sq.id_count = nhits - done;
		rc = cog_storage_memory_find(r->m->store, &sq, on_vector_record, r);
		if (rc) {
			rc = cog__error_wrap(rc, "%s: vector search", fn);
			break;
		}
		kept = 0;
		for (size_t i = 0; i < nhits; i++) {
			mem_candidate *c = mem_cands_find(&r->set, hits[i].id);
			if (c && c->vector_rank) {
				c->cosine = hits[i].score;
				kept++;
			}
		}
		done = nhits;
		/* filters dropped too many and the index has more: look once more,
		 * as far as the index goes (a scan costs the same for any k) */
		if (kept >= want || nhits < fetch || fetch == MEM_VEC_K_MAX)
			break;
		fetch = MEM_VEC_K_MAX;
	}
	cog_free(hits);
	cog_free(ids);
	return rc;
}

static int working_lists(mem_search_run *r, bool keyword, const float *qvec)
{
	mem_work_hit *hits;
	size_t n;
	int rc = mem_search_working(r->m, &r->q, keyword, qvec, r->m->emb.dim, &hits, &n);
	for (size_t i = 0; !rc && i < n; i++) {
		mem_candidate *c;
		rc = mem_cands_get(&r->set, hits[i].item->id, &c);
		if (rc)
			break;
		c->importance = hits[i].item->importance;
		c->created_at = hits[i].item->created_at;
		if (hits[i].keyword) {
			c->keyword_rank = -1;
			c->bm25 = hits[i].bm25;
		}
		if (hits[i].vector) {
			c->vector_rank = -1;
			c->cosine = hits[i].cosine;
		}
	}
	cog_free(hits);
	return rc;
}

/* ---- the lists, fused ---- */

/* The query's vector: the caller's (checked against the index's dimension)
 * or the text's embedding; NULL in *qvec when there is none to use. */
static int query_vector(mem_search_run *r, float **qvec, float **owned)
{
	*qvec = *owned = NULL;
	cog_memory *m = r->m;
	const mem_search_query *q = &r->q;
	if (q->w.vector == 0 || (!q->vector && !q->text_has_words))
		return COG_OK;
	int rc = m->emb.decided ? COG_OK : mem_embed_decide(m);
	if (rc)
		return cog__error_wrap(rc, "%s: embedder", fn);
	if (q->vector) {
		if (q->dim != m->emb.dim)
			return cog__error(COG_EINVAL,
				"%s: \"vector\" has %zu dimensions, the index has %zu (%s)",
				fn, q->dim, m->emb.dim, m->emb.model);
		*qvec = q->vector;
		return COG_OK;
	}
	*owned = cog_malloc(m->emb.dim * sizeof(float));
	if (!*owned)
		return cog__oom("cog_memory_search: query vector");
	const char *text = q->text;
	size_t len = q->text_len;
	rc = mem_embed(m, &text, &len, 1, *owned);
	if (rc)
		return cog__error_wrap(rc, "%s: embedding the query", fn);
	*qvec = *owned;
	return COG_OK;
}

static int run(mem_search_run *r, char **result_json)
{
	const mem_search_query *q = &r->q;
	float *qvec = NULL, *owned = NULL;
	bool keyword = q->w.keyword > 0 && q->text_has_words;
	int rc = query_vector(r, &qvec, &owned);
	if (!rc && keyword && r->stored_layers)
		rc = keyword_list(r);
	if (!rc && qvec && r->stored_layers)
		rc = vector_list(r, qvec);
	if (!rc && (q->layers & COG_MEMORY_WORKING))
		rc = working_lists(r, keyword, qvec);
	cog_free(owned);
	if (!rc)
		rc = mem_cands_rank(&r->set, true);
	if (!rc)
		rc = mem_cands_rank(&r->set, false);
	if (rc)
		return rc;
	mem_rank_fuse(r->set.c, r->set.n, &q->w, r->now);
	size_t n = r->set.n < q->k ? r->set.n : q->k;
	return mem_search_result(r, n, result_json);
}

int cog_memory_search(cog_memory *m, const char *query_json, char **result_json)
{
	COG_CHECK_ARG(result_json, fn, "result_json is NULL");
	*result_json = NULL;
	COG_CHECK_ARG(m, fn, "mem is NULL");
	{
		int auth_rc = mem_auth_check(m, fn, COG_AUTH_MEMORY_READ, m->ns);
		if (auth_rc)
			return auth_rc;
	}
	COG_CHECK_ARG(query_json, fn, "query_json is NULL");
	mem_search_run r;
	memset(&r, 0, sizeof(r));
	r.m = m;
	int rc = mem_search_query_parse(fn, query_json, m->opt.max_text_bytes, &r.q);
	/* "inherit" reads the ancestors too: each needs its own grant. */
	for (size_t i = 1; !rc && r.q.inherit && i < m->chain_len; i++)
		rc = mem_auth_check(m, fn, COG_AUTH_MEMORY_READ, m->chain[i]);
	if (!rc) {
		r.now = cog_clock_realtime_ms();
		r.per_list = r.q.k * 4 > CAND_MIN ? r.q.k * 4 : CAND_MIN;
		r.stored_layers = r.q.layers & ~COG_MEMORY_WORKING;
		rc = run(&r, result_json);
	}
	if (!rc)
		m->searches++;
	for (size_t i = 0; r.records && i < r.q.k && i < r.set.n; i++)
		cJSON_Delete(r.records[i]);
	cog_free(r.records);
	cog_free(r.top);
	mem_kept_dispose(&r.kept);
	mem_cands_dispose(&r.set);
	mem_search_query_dispose(&r.q);
	return rc;
}
