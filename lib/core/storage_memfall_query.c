/*
 * Memory records for backends without the version 2 members (the layout is
 * in storage_memfall.c): queries and delete by query. A query reads the
 * namespaces it names (a prefix scan of "<ns>#" each), or only the wanted
 * ids; a first pass picks the candidates and gathers the BM25 statistics of
 * the named set, a second one reads back the records it returns. Correct,
 * not fast: a backend that cares has mem_* members.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_int.h"

typedef struct cand {
	uint64_t id;
	size_t ns;          /* index into q->ns */
	size_t tf_at;       /* first of its term frequencies in fq->tfs */
	uint32_t doc_len;
	double score;
} cand;

typedef struct fall_query {
	const cog_storage_vtable *vt;
	const cog_storage_memory_query *q;
	cJSON *filter;
	uint64_t *ids;          /* sorted, unique */
	size_t id_count;
	char **terms;           /* sorted, unique words of q->match */
	size_t term_count, term_cap;
	uint32_t *doc_tf;       /* per term, for the document being read */
	uint32_t doc_len;
	double *df;
	double n_docs, total_len;
	cand *cands;
	size_t n, cap;
	uint32_t *tfs;
	size_t ns;              /* the namespace being read */
} fall_query;

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int compare_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_term(const char *word, size_t len, void *ud)
{
	fall_query *fq = ud;
	if (fq->term_count == fq->term_cap) {
		size_t cap = fq->term_cap ? fq->term_cap * 2 : 8;
		char **t = cog_realloc(fq->terms, cap * sizeof(*t));
		if (!t)
			return cog__oom("memory records: match");
		fq->terms = t;
		fq->term_cap = cap;
	}
	if (!(fq->terms[fq->term_count] = cog__strndup(word, len)))
		return cog__oom("memory records: match");
	fq->term_count++;
	return 0;
}

static int count_term(const char *word, size_t len, void *ud)
{
	fall_query *fq = ud;
	char **hit = bsearch(&word, fq->terms, fq->term_count, sizeof(*fq->terms), compare_str);
	if (hit)
		fq->doc_tf[hit - fq->terms]++;
	fq->doc_len++;
	return 0;
}

static bool member_matches(const cJSON *meta, const cJSON *want)
{
	const cJSON *have = cJSON_GetObjectItemCaseSensitive(meta, want->string);
	if (cJSON_IsNull(want))
		return !have || cJSON_IsNull(have);
	if (!have)
		return false;
	if (cJSON_IsString(want))
		return cJSON_IsString(have) && strcmp(have->valuestring, want->valuestring) == 0;
	if (cJSON_IsNumber(want))
		return cJSON_IsNumber(have) && have->valuedouble == want->valuedouble;
	return cJSON_IsBool(have) && cJSON_IsTrue(have) == cJSON_IsTrue(want);
}

static bool filter_matches(const fall_query *fq, const char *metadata)
{
	if (!fq->filter || !fq->filter->child)
		return true;
	cJSON *meta = cJSON_Parse(metadata);
	bool ok = meta != NULL;
	for (const cJSON *w = fq->filter->child; ok && w; w = w->next)
		ok = member_matches(meta, w);
	cJSON_Delete(meta);
	return ok;
}

static bool wanted_id(const fall_query *fq, uint64_t id)
{
	return !fq->ids || bsearch(&id, fq->ids, fq->id_count, sizeof(*fq->ids), compare_u64);
}

static int push_cand(fall_query *fq, uint64_t id)
{
	if (fq->n == fq->cap) {
		size_t cap = fq->cap ? fq->cap * 2 : 64;
		cand *c = cog_realloc(fq->cands, cap * sizeof(*c));
		if (!c)
			return cog__oom("memory records: query");
		fq->cands = c;
		if (fq->term_count) {
			uint32_t *t = cog_realloc(fq->tfs, cap * fq->term_count * sizeof(*t));
			if (!t)
				return cog__oom("memory records: query");
			fq->tfs = t;
		}
		fq->cap = cap;
	}
	cand *c = &fq->cands[fq->n];
	c->id = id;
	c->ns = fq->ns;
	c->doc_len = fq->doc_len;
	c->score = 0;
	c->tf_at = fq->n * fq->term_count;
	if (fq->term_count)
		memcpy(fq->tfs + c->tf_at, fq->doc_tf, fq->term_count * sizeof(*fq->doc_tf));
	fq->n++;
	return 0;
}

/* One document of a named namespace: statistics, then the conditions. */
static int visit(const char *key, const char *value, size_t len, int64_t expires_at,
                 void *ud)
{
	fall_query *fq = ud;
	const cog_storage_memory_query *q = fq->q;
	cJSON *root = cJSON_ParseWithLength(value, len);
	cog_storage_memory_record r;
	int rc = root ? cog__memfall_decode(root, key, false, &r, NULL) :
		cog__error(COG_EIO, "memory records: document '%s' is not JSON", key);
	if (rc || (r.expires_at != 0 && r.expires_at <= q->now))
		goto done;
	bool any = false;
	if (fq->term_count) {
		memset(fq->doc_tf, 0, fq->term_count * sizeof(*fq->doc_tf));
		fq->doc_len = 0;
		cog_text_words(r.text, r.text_len, count_term, fq);
		fq->n_docs++;
		fq->total_len += fq->doc_len;
		for (size_t t = 0; t < fq->term_count; t++)
			if (fq->doc_tf[t]) {
				fq->df[t]++;
				any = true;
			}
		if (!any)
			goto done;
	}
	if ((q->layers && !(r.layer & q->layers)) ||
	    (q->since && r.created_at < q->since) || (q->until && r.created_at >= q->until) ||
	    r.id <= q->after_id || !wanted_id(fq, r.id) || !filter_matches(fq, r.metadata))
		goto done;
	rc = push_cand(fq, r.id);
done:
	cJSON_Delete(root);
	return rc;
}

/* Read the named namespaces (each once), or only the wanted ids. */
static int first_pass(fall_query *fq)
{
	const cog_storage_memory_query *q = fq->q;
	const cog_storage_vtable *vt = fq->vt;
	int rc = COG_OK;
	for (size_t i = 0; i < q->ns_count && !rc; i++) {
		bool dup = false;
		for (size_t j = 0; j < i; j++)
			dup = dup || strcmp(q->ns[i], q->ns[j]) == 0;
		if (dup)
			continue;
		fq->ns = i;
		if (fq->ids && !fq->term_count) {
			for (size_t k = 0; k < fq->id_count && !rc; k++) {
				char key[COG_MEMFALL_KEY_MAX], *v = NULL;
				size_t len = 0;
				cog__memfall_key(key, q->ns[i], fq->ids[k]);
				rc = vt->get(vt->self, COG_MEMFALL_COLLECTION, key, q->now, &v, &len);
				if (rc == COG_ENOTFOUND)
					rc = COG_OK;
				else if (!rc)
					rc = visit(key, v, len, 0, fq);
				cog_free(v);
			}
			continue;
		}
		char prefix[COG_MEMFALL_KEY_MAX];
		snprintf(prefix, sizeof(prefix), "%s#", q->ns[i]);
		rc = vt->scan(vt->self, COG_MEMFALL_COLLECTION, prefix, q->now, visit, fq);
	}
	return rc;
}

static int by_score(const void *a, const void *b)
{
	const cand *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int by_id(const void *a, const void *b)
{
	const cand *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void rank(fall_query *fq)
{
	if (!fq->term_count) {
		if (fq->n > 1)
			qsort(fq->cands, fq->n, sizeof(*fq->cands), by_id);
		return;
	}
	double avg = fq->n_docs > 0 ? fq->total_len / fq->n_docs : 0;
	for (size_t i = 0; i < fq->n; i++) {
		cand *c = &fq->cands[i];
		for (size_t t = 0; t < fq->term_count; t++)
			c->score += cog_text_bm25(fq->tfs[c->tf_at + t], fq->df[t], fq->n_docs,
				c->doc_len, avg);
	}
	if (fq->n > 1)
		qsort(fq->cands, fq->n, sizeof(*fq->cands), by_score);
}

static int prepare(fall_query *fq, const cog_storage_vtable *vt,
                   const cog_storage_memory_query *q)
{
	memset(fq, 0, sizeof(*fq));
	fq->vt = vt;
	fq->q = q;
	if (q->filter && !(fq->filter = cJSON_Parse(q->filter)))
		return cog__oom("memory records: filter");
	if (q->ids) {
		if (!(fq->ids = cog_malloc(q->id_count * sizeof(*fq->ids))))
			return cog__oom("memory records: ids");
		memcpy(fq->ids, q->ids, q->id_count * sizeof(*fq->ids));
		qsort(fq->ids, q->id_count, sizeof(*fq->ids), compare_u64);
		for (size_t i = 0; i < q->id_count; i++)
			if (fq->id_count == 0 || fq->ids[fq->id_count - 1] != fq->ids[i])
				fq->ids[fq->id_count++] = fq->ids[i];
	}
	if (q->match) {
		int rc = cog_text_words(q->match, strlen(q->match), add_term, fq);
		if (rc)
			return rc;
		if (fq->term_count > 1)
			qsort(fq->terms, fq->term_count, sizeof(*fq->terms), compare_str);
		size_t n = 0;
		for (size_t i = 0; i < fq->term_count; i++) {
			if (n && strcmp(fq->terms[n - 1], fq->terms[i]) == 0)
				cog_free(fq->terms[i]);
			else
				fq->terms[n++] = fq->terms[i];
		}
		fq->term_count = n;
		if (n && (!(fq->doc_tf = cog__calloc(n, sizeof(*fq->doc_tf))) ||
		          !(fq->df = cog__calloc(n, sizeof(*fq->df)))))
			return cog__oom("memory records: match");
	}
	return COG_OK;
}

static void dispose(fall_query *fq)
{
	cJSON_Delete(fq->filter);
	cog_free(fq->ids);
	for (size_t i = 0; i < fq->term_count; i++)
		cog_free(fq->terms[i]);
	cog_free(fq->terms);
	cog_free(fq->doc_tf);
	cog_free(fq->df);
	cog_free(fq->cands);
	cog_free(fq->tfs);
}

/* Read one candidate back and hand it to fn. */
static int deliver(fall_query *fq, const cand *c, cog_storage_memory_fn fn, void *ud)
{
	const cog_storage_memory_query *q = fq->q;
	char key[COG_MEMFALL_KEY_MAX], *v = NULL;
	size_t len = 0;
	cog__memfall_key(key, q->ns[c->ns], c->id);
	int rc = fq->vt->get(fq->vt->self, COG_MEMFALL_COLLECTION, key, q->now, &v, &len);
	if (rc)
		return rc == COG_ENOTFOUND ? COG_OK : rc;
	cJSON *root = cJSON_ParseWithLength(v, len);
	cog_storage_memory_record r;
	float *vec = NULL;
	if (!root)
		rc = cog__error(COG_EIO, "memory records: document '%s' is not JSON", key);
	else
		rc = cog__memfall_decode(root, key, q->with_embedding != 0, &r, &vec);
	if (!rc)
		rc = fn(&r, c->score, ud);
	cog_free(vec);
	cJSON_Delete(root);
	cog_free(v);
	return rc;
}

int cog__memfall_query(const cog_storage_vtable *vt, const cog_storage_memory_query *q,
                       cog_storage_memory_fn fn, void *user_data)
{
	fall_query fq;
	int rc = prepare(&fq, vt, q);
	/* Text with no word matches nothing. */
	if (!rc && !(q->match && fq.term_count == 0)) {
		rc = first_pass(&fq);
		if (!rc) {
			rank(&fq);
			size_t n = q->limit && q->limit < fq.n ? q->limit : fq.n;
			for (size_t i = 0; i < n && !rc; i++)
				rc = deliver(&fq, &fq.cands[i], fn, user_data);
		}
	}
	dispose(&fq);
	return rc;
}

int cog__memfall_delete(const cog_storage_vtable *vt, bool in_txn,
                        const cog_storage_memory_query *q, size_t *deleted)
{
	fall_query fq;
	*deleted = 0;
	int rc = prepare(&fq, vt, q);
	if (!rc)
		rc = first_pass(&fq);
	size_t n = q->limit && q->limit < fq.n ? q->limit : fq.n;
	if (!rc && n > 0) {
		rank(&fq);
		bool own_txn = !in_txn && n > 1;
		if (own_txn && (rc = vt->begin(vt->self)))
			own_txn = false;
		for (size_t i = 0; i < n && !rc; i++) {
			char key[COG_MEMFALL_KEY_MAX];
			cog__memfall_key(key, q->ns[fq.cands[i].ns], fq.cands[i].id);
			rc = vt->del(vt->self, COG_MEMFALL_COLLECTION, key);
		}
		if (own_txn && !rc)
			rc = vt->commit(vt->self);
		if (own_txn && rc)
			vt->rollback(vt->self);
		if (!rc)
			*deleted = n;
	}
	dispose(&fq);
	return rc;
}
