/*
 * Merging a put into a near duplicate (put.c finds the candidate through the
 * index): re-read the candidate with its embedding, check the cosine and,
 * under a hashing embedder, the words; then keep the stored text, raise the
 * importance, add the new (redacted) metadata members and extend the expiry.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory_int.h"

static const char fn[] = "cog_memory_put";

typedef struct found {
	bool found;
	int rc;
	cog_storage_memory_record rec;   /* strings and vector owned (copies) */
} found;

static int copy_record(const cog_storage_memory_record *rec, double score, void *user_data)
{
	(void)score;
	found *f = user_data;
	f->found = true;
	f->rec = *rec;
	f->rec.ns = NULL;
	char *text = cog__strndup(rec->text, rec->text_len);
	char *md = cog__strndup(rec->metadata, rec->metadata_len);
	char *model = cog__strdup(rec->embed_model ? rec->embed_model : "");
	float *v = NULL;
	if (rec->embedding && rec->dim) {
		v = cog_malloc(rec->dim * sizeof(float));
		if (v)
			memcpy(v, rec->embedding, rec->dim * sizeof(float));
	}
	f->rec.text = text;
	f->rec.metadata = md;
	f->rec.embed_model = model;
	f->rec.embedding = v;
	if (!text || !md || !model || (rec->embedding && rec->dim && !v)) {
		f->rc = cog__oom(fn);
		f->rec.dim = 0;
	}
	return COG_STORAGE_STOP;
}

static void found_dispose(found *f)
{
	cog_free((char *)f->rec.text);
	cog_free((char *)f->rec.metadata);
	cog_free((char *)f->rec.embed_model);
	cog_free((float *)f->rec.embedding);
}

/* old's members with add's added or overwritten, into *out (cog_free). */
static int merge_metadata(const char *old, const char *add, char **out)
{
	*out = NULL;
	cJSON *base = NULL, *more = NULL;
	int rc = cog_json_parse(&base, old, "cog_memory_put: stored metadata");
	if (!rc)
		rc = cog_json_parse(&more, add, "cog_memory_put: metadata");
	if (!rc && !cJSON_IsObject(base)) {
		cJSON_Delete(base);
		base = cJSON_CreateObject();
		if (!base)
			rc = cog__oom(fn);
	}
	while (!rc && more->child) {
		cJSON *item = cJSON_DetachItemViaPointer(more, more->child);
		cJSON *had = cJSON_GetObjectItemCaseSensitive(base, item->string);
		/* item keeps its own key either way */
		bool ok = had ? cJSON_ReplaceItemViaPointer(base, had, item)
		              : cJSON_AddItemToObject(base, item->string, item);
		if (!ok) {
			cJSON_Delete(item);
			rc = cog__oom(fn);
		}
	}
	if (!rc) {
		*out = cog_json_print(base);
		if (!*out)
			rc = COG_ENOMEM;
	}
	cJSON_Delete(base);
	cJSON_Delete(more);
	return rc;
}

/* ---- the lexical check of hashing embeddings ---- */

/* Whether the (lower-cased) word multisets of a and b have a Jaccard
 * similarity of at least threshold: the hashing embedder's vectors of texts
 * a short word apart can collide above the cosine threshold. */
static int same_words(const char *a, size_t alen, const char *b, size_t blen,
                      double threshold, bool *same)
{
	mem_words x, y;
	*same = false;
	int rc = mem_words_sorted(a, alen, &x);
	if (rc)
		return rc;
	if ((rc = mem_words_sorted(b, blen, &y))) {
		mem_words_dispose(&x);
		return rc;
	}
	*same = mem_words_jaccard(&x, &y) >= threshold - 1e-9;
	mem_words_dispose(&x);
	mem_words_dispose(&y);
	return COG_OK;
}

/* Merge the put into memory `id`: COG_MEMORY_MERGED, 0 when it turned out
 * not to be a near duplicate after all (the caller stores a new memory), or
 * an error. Under a hashing embedder ("hash-<dim>") the words must agree
 * too (same_words); an LLM's or the host's vectors decide alone. */
int mem_put_merge(cog_memory *m, uint64_t id, const char *text, size_t len,
                  const cog_memory_put_options *o, const float *vec, int64_t now,
                  int64_t expires_at)
{
	const char *ns[1] = { m->ns };
	cog_storage_memory_query q = { 0 };
	q.ns = ns;
	q.ns_count = 1;
	q.layers = o->layer;
	q.ids = &id;
	q.id_count = 1;
	q.with_embedding = 1;
	found f = { 0 };
	int rc = cog_storage_memory_find(m->store, &q, copy_record, &f);
	if (rc < 0)
		cog__error_wrap(rc, "%s: reading memory %llu to merge into", fn,
			(unsigned long long)id);
	else
		rc = f.rc;
	if (rc < 0) {
		found_dispose(&f);
		return rc;
	}
	if (!f.found) {
		mem_index_kill(m, id);  /* its record is gone */
		return COG_OK;
	}
	if (f.rec.dim != m->emb.dim || !f.rec.embedding ||
	    cog__vec_dot(f.rec.embedding, vec, m->emb.dim) < m->opt.dedupe_threshold - 1e-6) {
		found_dispose(&f);
		return COG_OK;
	}
	if (strncmp(f.rec.embed_model, "hash-", 5) == 0) {
		bool same = false;
		rc = same_words(text, len, f.rec.text, f.rec.text_len, m->opt.dedupe_threshold,
			&same);
		if (rc || !same) {
			found_dispose(&f);
			return rc;
		}
	}
	char *md = NULL;
	if (o->metadata) {
		rc = merge_metadata(f.rec.metadata, o->metadata, &md);
		if (rc) {
			found_dispose(&f);
			return rc;
		}
		cog_free((char *)f.rec.metadata);
		f.rec.metadata = md;
		f.rec.metadata_len = strlen(md);
	}
	f.rec.ns = m->ns;
	if (o->importance > f.rec.importance)
		f.rec.importance = o->importance;
	f.rec.updated_at = now;
	if (f.rec.expires_at && (!expires_at || expires_at > f.rec.expires_at))
		f.rec.expires_at = expires_at;
	rc = cog_storage_memory_put(m->store, &f.rec);
	found_dispose(&f);
	if (rc)
		return cog__error_wrap(rc, "%s: merging into memory %llu", fn,
			(unsigned long long)id);
	return COG_MEMORY_MERGED;
}

