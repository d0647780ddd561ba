/*
 * The in-memory backend's memory records: building a record, the
 * conditions of a query (metadata filters and the rest), queries in id
 * order, and delete by query. Keyword search is in storage_memory_search.c.
 * Only the namespaces a query names are ever looked at.
 */
#include <stdlib.h>
#include <string.h>

#include "storage_memory_int.h"

/* ---- records ---- */

static char *put_string(char **at, const char *s, size_t len)
{
	char *start = *at;
	memcpy(start, s, len);
	start[len] = '\0';
	*at += len + 1;
	return start;
}

mr_rec *cog__memrec_build(const cog_storage_memory_record *rec)
{
	cJSON *meta = NULL;
	size_t members = 0, strings = 0;
	/* An object with members has a quoted name: "{}" needs no parse. */
	if (memchr(rec->metadata, '"', rec->metadata_len)) {
		if (!(meta = cJSON_ParseWithLength(rec->metadata, rec->metadata_len)))
			return NULL;
		for (const cJSON *c = meta->child; c; c = c->next) {
			members++;
			strings += strlen(c->string) + 1;
			if (cJSON_IsString(c))
				strings += strlen(c->valuestring) + 1;
		}
	}
	size_t dim = rec->embedding ? rec->dim : 0;
	size_t model_len = strlen(rec->embed_model);
	mr_rec *r = cog_malloc(sizeof(*r) + members * sizeof(mr_member) + dim * sizeof(float) +
		rec->text_len + rec->metadata_len + model_len + 3 + strings);
	if (!r) {
		cJSON_Delete(meta);
		return NULL;
	}
	memset(r, 0, sizeof(*r));
	unsigned char *p = (unsigned char *)(r + 1);
	r->members = (mr_member *)p;
	r->member_count = (uint32_t)members;
	p += members * sizeof(mr_member);
	if (dim) {
		memcpy(p, rec->embedding, dim * sizeof(float));
		r->embedding = (const float *)p;
		r->dim = (uint32_t)dim;
		p += dim * sizeof(float);
	}
	char *at = (char *)p;
	r->text = put_string(&at, rec->text, rec->text_len);
	r->text_len = rec->text_len;
	r->metadata = put_string(&at, rec->metadata, rec->metadata_len);
	r->metadata_len = rec->metadata_len;
	r->embed_model = put_string(&at, rec->embed_model, model_len);
	size_t i = 0;
	for (const cJSON *c = meta ? meta->child : NULL; c; c = c->next, i++) {
		mr_member *m = &r->members[i];
		m->name = put_string(&at, c->string, strlen(c->string));
		m->type = c->type & 0xFF;
		m->num = c->valuedouble;
		m->str = cJSON_IsString(c) ? put_string(&at, c->valuestring,
			strlen(c->valuestring)) : NULL;
	}
	cJSON_Delete(meta);
	r->layer = rec->layer;
	r->importance = rec->importance;
	r->created_at = rec->created_at;
	r->updated_at = rec->updated_at;
	r->expires_at = rec->expires_at;
	return r;
}

void cog__memrec_view(const mr_ns *n, const mr_rec *r, bool with_embedding,
                      cog_storage_memory_record *v)
{
	*v = (cog_storage_memory_record){
		.id = r->id, .ns = n->name, .layer = r->layer,
		.text = r->text, .text_len = r->text_len,
		.metadata = r->metadata, .metadata_len = r->metadata_len,
		.importance = r->importance, .created_at = r->created_at,
		.updated_at = r->updated_at, .expires_at = r->expires_at,
		.embed_model = r->embed_model,
		.embedding = with_embedding ? r->embedding : NULL,
		.dim = with_embedding && r->embedding ? r->dim : 0,
	};
}

/* ---- conditions ---- */

static bool member_matches(const mr_rec *r, const cJSON *want)
{
	const mr_member *m = NULL;
	for (uint32_t i = 0; i < r->member_count && !m; i++)
		if (strcmp(r->members[i].name, want->string) == 0)
			m = &r->members[i];
	if (cJSON_IsNull(want))
		return !m || m->type == cJSON_NULL;
	if (!m)
		return false;
	if (cJSON_IsString(want))
		return m->type == cJSON_String && strcmp(m->str, want->valuestring) == 0;
	if (cJSON_IsNumber(want))
		return m->type == cJSON_Number && m->num == want->valuedouble;
	return m->type == (cJSON_IsTrue(want) ? cJSON_True : cJSON_False);
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

bool cog__memrec_visible(const mr_query *mq, const mr_rec *r)
{
	const cog_storage_memory_query *q = mq->q;
	if ((r->expires_at && r->expires_at <= q->now) ||
	    (q->layers && !(r->layer & q->layers)) ||
	    (q->since && r->created_at < q->since) ||
	    (q->until && r->created_at >= q->until) || r->id <= q->after_id)
		return false;
	if (mq->ids && !bsearch(&r->id, mq->ids, mq->id_count, sizeof(*mq->ids), compare_u64))
		return false;
	for (const cJSON *w = mq->filter ? mq->filter->child : NULL; w; w = w->next)
		if (!member_matches(r, w))
			return false;
	return true;
}

static int prepare(mr_query *mq, cog_memrec_store *m, const cog_storage_memory_query *q)
{
	memset(mq, 0, sizeof(*mq));
	mq->q = q;
	for (size_t i = 0; i < q->ns_count && i < MR_QUERY_NS_MAX; i++) {
		mr_ns *n = cog__memrec_ns_find(m, q->ns[i]);
		bool seen = false;
		for (size_t j = 0; j < mq->ns_count; j++)
			seen = seen || mq->ns[j] == n;
		if (n && !seen)
			mq->ns[mq->ns_count++] = n;
	}
	if (q->filter && !(mq->filter = cJSON_Parse(q->filter)))
		return cog__oom("memory storage: filter");
	if (q->ids) {
		if (!(mq->ids = cog_malloc(q->id_count * sizeof(*mq->ids))))
			return cog__oom("memory storage: ids");
		memcpy(mq->ids, q->ids, q->id_count * sizeof(*mq->ids));
		qsort(mq->ids, q->id_count, sizeof(*mq->ids), compare_u64);
		for (size_t i = 0; i < q->id_count; i++)
			if (!mq->id_count || mq->ids[mq->id_count - 1] != mq->ids[i])
				mq->ids[mq->id_count++] = mq->ids[i];
	}
	return COG_OK;
}

static void dispose(mr_query *mq)
{
	cJSON_Delete(mq->filter);
	cog_free(mq->ids);
}

/* ---- id order ---- */

typedef int (*visit_fn)(mr_ns *n, mr_rec *r, void *ud);

/* Visit the visible records in ascending id order, at most q->limit;
 * a non-zero return of visit stops the walk and is returned. */
static int walk_by_id(mr_query *mq, visit_fn visit, void *ud)
{
	const cog_storage_memory_query *q = mq->q;
	size_t seen = 0, cur[MR_QUERY_NS_MAX];
	int rc = 0;
	if (mq->ids) {
		for (size_t k = 0; k < mq->id_count && !rc; k++) {
			for (size_t i = 0; i < mq->ns_count && !rc; i++) {
				mr_rec *r = cog__memrec_lookup(mq->ns[i], mq->ids[k]);
				if (!r || !cog__memrec_visible(mq, r))
					continue;
				rc = visit(mq->ns[i], r, ud);
				if (!rc && q->limit && ++seen == q->limit)
					return 0;
			}
		}
		return rc;
	}
	if (q->after_id == UINT64_MAX)
		return 0;
	for (size_t i = 0; i < mq->ns_count; i++)
		cur[i] = cog__memrec_lower_bound(mq->ns[i], q->after_id + 1);
	for (;;) {
		size_t best = MR_QUERY_NS_MAX;
		for (size_t i = 0; i < mq->ns_count; i++) {
			mr_ns *n = mq->ns[i];
			while (cur[i] < n->slots && !n->recs[cur[i]])
				cur[i]++;
			if (cur[i] < n->slots &&
			    (best == MR_QUERY_NS_MAX || n->ids[cur[i]] < mq->ns[best]->ids[cur[best]]))
				best = i;
		}
		if (best == MR_QUERY_NS_MAX)
			return 0;
		mr_rec *r = mq->ns[best]->recs[cur[best]++];
		if (!cog__memrec_visible(mq, r))
			continue;
		if ((rc = visit(mq->ns[best], r, ud)))
			return rc;
		if (q->limit && ++seen == q->limit)
			return 0;
	}
}

struct emit {
	const cog_storage_memory_query *q;
	cog_storage_memory_fn fn;
	void *user_data;
};

static int emit_record(mr_ns *n, mr_rec *r, void *ud)
{
	const struct emit *e = ud;
	cog_storage_memory_record v;
	cog__memrec_view(n, r, e->q->with_embedding != 0, &v);
	return e->fn(&v, 0.0, e->user_data);
}

int cog__memrec_query(cog_memrec_store *m, const cog_storage_memory_query *q,
                      cog_storage_memory_fn fn, void *user_data)
{
	mr_query mq;
	struct emit e = { q, fn, user_data };
	int rc = prepare(&mq, m, q);
	if (!rc && mq.ns_count)
		rc = q->match ? cog__memrec_search(&mq, fn, user_data) :
			walk_by_id(&mq, emit_record, &e);
	dispose(&mq);
	return rc;
}

/* ---- delete by query: find every record first, then delete them all,
 * so that a failure deletes nothing ---- */

struct doomed {
	mr_ns **ns;
	uint32_t *slots;
	size_t n, cap;
};

static int collect(mr_ns *n, mr_rec *r, void *ud)
{
	struct doomed *d = ud;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		mr_ns **ns = cog_realloc(d->ns, cap * sizeof(*ns));
		if (ns)
			d->ns = ns;
		uint32_t *slots = ns ? cog_realloc(d->slots, cap * sizeof(*slots)) : NULL;
		if (!slots)
			return cog__oom("memory storage: delete");
		d->slots = slots;
		d->cap = cap;
	}
	d->ns[d->n] = n;
	d->slots[d->n++] = r->slot;
	return 0;
}

int cog__memrec_delete(cog_memrec_store *m, const cog_storage_memory_query *q,
                       size_t *deleted)
{
	mr_query mq;
	struct doomed d = { NULL, NULL, 0, 0 };
	*deleted = 0;
	int rc = prepare(&mq, m, q);
	if (!rc && mq.ns_count)
		rc = walk_by_id(&mq, collect, &d);
	if (!rc)
		rc = cog__memrec_undo_reserve(m, d.n);
	if (!rc) {
		for (size_t i = 0; i < d.n; i++)
			cog__memrec_delete_at(m, d.ns[i], d.slots[i]);
		for (size_t i = 0; i < mq.ns_count; i++)
			cog__memrec_compact(m, mq.ns[i]);
		*deleted = d.n;
	}
	cog_free(d.ns);
	cog_free(d.slots);
	dispose(&mq);
	return rc;
}
