/*
 * cog_memory_put: check, redact, embed, then keep the memory in its layer:
 * working in RAM; episodic always as a new record; short- and long-term
 * merged into a near duplicate of the same layer and namespace when the
 * index knows one, else a new record.
 *
 * The hot path (ingest) parses nothing: metadata is validated once and
 * stored as given, and the index is loaded once (at the first put that
 * dedupes), not refreshed at every put: other handles' writes are seen at
 * this handle's next search (memory.h), and only then merged into. Merging
 * parses the two metadata objects, which is rare.
 *
 * Transactions: a put inside the caller's transaction on the same storage
 * works (the storage lock is the thread's); the index learns the new rows at
 * once, so a rollback leaves rows for records that are gone. A merge
 * therefore re-reads the candidate with its embedding and checks the cosine
 * itself: a row whose record is gone is switched off, and a row whose id
 * now names another record is not merged into.
 */
#include <math.h>
#include <string.h>

#include "memory_int.h"

static const char fn[] = "cog_memory_put";

static const size_t put_options_size[COG_MEMORY_PUT_OPTIONS_VERSION + 1] = {
	0, sizeof(cog_memory_put_options)
};

static int take_options(const cog_memory_put_options *in, cog_memory_put_options *o)
{
	cog_memory_put_options d = COG_MEMORY_PUT_OPTIONS_INIT;
	*o = d;
	if (!in)
		return COG_OK;
	if (in->version == 0 || in->version > COG_MEMORY_PUT_OPTIONS_VERSION)
		return cog__error(COG_EVERSION,
			"%s: options version %u is not supported (1..%u); use "
			"cog_memory_put_options_init()", fn, in->version,
			COG_MEMORY_PUT_OPTIONS_VERSION);
	memcpy(o, in, put_options_size[in->version]);
	return COG_OK;
}

static int check_metadata(const char *md)
{
	size_t len = strlen(md);
	int rc = cog_json_validate(md, len, "cog_memory_put: metadata");
	if (rc)
		return rc;
	size_t i = 0;
	while (md[i] == ' ' || md[i] == '\t' || md[i] == '\n' || md[i] == '\r')
		i++;
	if (md[i] != '{')
		return cog__error(COG_EINVAL,
			"%s: metadata must be a JSON object, not %s", fn,
			md[i] == '[' ? "an array" : md[i] == '"' ? "a string" : "a scalar");
	return COG_OK;
}

static int check_embed_model(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len >= sizeof(((mem_embedder *)0)->model))
		return cog__error(COG_EINVAL, "%s: embed_model must be 1..%zu bytes", fn,
			sizeof(((mem_embedder *)0)->model) - 1);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return cog__error(COG_EINVAL,
				"%s: embed_model has a control character at byte %zu", fn, i);
	size_t bad = 0;
	if (!cog_utf8_valid(name, len, &bad))
		return cog__error(COG_EINVAL, "%s: embed_model is not UTF-8 (byte %zu)", fn, bad);
	return COG_OK;
}

static int check_put(const cog_memory *m, const char *text, size_t len,
                     const cog_memory_put_options *o)
{
	if (len == 0)
		return cog__error(COG_EINVAL, "%s: text is empty", fn);
	if (len > m->opt.max_text_bytes)
		return cog__error(COG_ERANGE, "%s: text is %zu bytes, over max_text_bytes (%zu)",
			fn, len, m->opt.max_text_bytes);
	size_t bad = 0;
	if (!cog_utf8_valid(text, len, &bad))
		return cog__error(COG_EINVAL, "%s: text is not valid UTF-8 at byte %zu", fn, bad);
	if (!mem_layer_name(o->layer))
		return cog__error(COG_EINVAL,
			"%s: layer 0x%x is not one layer (COG_MEMORY_WORKING, _SHORT_TERM, "
			"_LONG_TERM or _EPISODIC)", fn, o->layer);
	if (!(o->importance >= 0 && o->importance <= 1))
		return cog__error(COG_EINVAL, "%s: importance must be in 0..1, not %g",
			fn, o->importance);
	if (o->ttl_ms < 0)
		return cog__error(COG_EINVAL, "%s: ttl_ms is negative (%lld)", fn,
			(long long)o->ttl_ms);
	if (o->metadata) {
		int rc = check_metadata(o->metadata);
		if (rc)
			return rc;
	}
	if (!o->vector && o->dim)
		return cog__error(COG_EINVAL, "%s: dim is %zu but vector is NULL", fn, o->dim);
	if (o->vector && o->dim == 0)
		return cog__error(COG_EINVAL, "%s: vector given with dim 0", fn);
	if (o->embed_model)
		return check_embed_model(o->embed_model);
	return COG_OK;
}

/* The memory's unit vector into vec (m->emb.dim floats) and the model that
 * made it. */
static int make_vector(cog_memory *m, const cog_memory_put_options *o, const char *text,
                       size_t len, float *vec, const char **model)
{
	if (o->vector) {
		if (o->dim != m->emb.dim)
			return cog__error(COG_EINVAL,
				"%s: vector has dimension %zu, the index has %zu (%s)", fn, o->dim,
				m->emb.dim, m->emb.model);
		*model = o->embed_model ? o->embed_model : "host";
		return cog__vec_normalize(o->vector, o->dim, vec, "cog_memory_put: vector");
	}
	*model = m->emb.model;
	int rc = mem_embed(m, &text, &len, 1, vec);
	return rc ? cog__error_wrap(rc, "%s: embedding", fn) : COG_OK;
}

static int64_t expiry(int64_t now, int64_t ttl)
{
	if (ttl <= 0)
		return 0;
	return ttl > INT64_MAX - now ? INT64_MAX : now + ttl;
}

/* ---- merging into a near duplicate ---- */

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

/* Merge the put into memory `id`: COG_MEMORY_MERGED, 0 when it turned out
 * not to be a near duplicate after all (the caller stores a new memory), or
 * an error. */
static int merge(cog_memory *m, uint64_t id, const cog_memory_put_options *o,
                 const float *vec, int64_t now, int64_t expires_at)
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

/* ---- the layers ---- */

static int put_working(cog_memory *m, const char *text, size_t len,
                       const cog_memory_put_options *o, const float *vec, uint64_t *id)
{
	size_t tokens = mem_tok_text(&m->tokens, text, len);
	int rc = mem_work_add(&m->working, text, len, o->metadata, o->importance, tokens,
		vec, m->emb.dim, id);
	return rc ? cog__error_wrap(rc, "%s", fn) : COG_OK;
}

/* Merge into a near duplicate if the index knows one: COG_MEMORY_MERGED
 * (*id is the memory's), 0 when there is none, or an error. */
static int try_merge(cog_memory *m, const cog_memory_put_options *o, const float *vec,
                     int64_t now, int64_t expires_at, uint64_t *id)
{
	uint64_t dup = 0;
	float cosine = 0;
	int rc = mem_index_near_duplicate(m, vec, o->layer, m->opt.dedupe_threshold, &dup,
		&cosine);
	if (rc)
		return cog__error_wrap(rc, "%s", fn);
	if (!dup)
		return COG_OK;
	rc = merge(m, dup, o, vec, now, expires_at);
	if (rc == COG_MEMORY_MERGED) {
		*id = dup;
		m->merged++;
	}
	return rc;
}

static int put_stored(cog_memory *m, const char *text, size_t len,
                      const cog_memory_put_options *o, const float *vec,
                      const char *model, uint64_t *id)
{
	int64_t now = cog_clock_realtime_ms();
	int64_t ttl = o->ttl_ms;
	if (o->layer == COG_MEMORY_SHORT_TERM && !ttl)
		ttl = m->opt.short_term_ttl_ms;
	int64_t expires_at = expiry(now, ttl);
	bool dedupe = o->layer != COG_MEMORY_EPISODIC && !o->no_dedupe &&
	              m->opt.dedupe_threshold <= 1.0;
	int rc;
	/* Load the index once; other handles' writes come in at the next
	 * search's sync (memory.h), not at every put: ingest stays cheap. */
	if (dedupe && !m->index && (rc = mem_index_sync(m)))
		return cog__error_wrap(rc, "%s", fn);
	if (dedupe && (rc = try_merge(m, o, vec, now, expires_at, id)))
		return rc;
	cog_storage_memory_record rec = { 0 };
	rec.ns = m->ns;
	rec.layer = o->layer;
	rec.text = text;
	rec.text_len = len;
	rec.metadata = o->metadata ? o->metadata : "{}";
	rec.metadata_len = strlen(rec.metadata);
	rec.importance = o->importance;
	rec.created_at = now;
	rec.updated_at = now;
	rec.expires_at = expires_at;
	rec.embed_model = model;
	rec.embedding = vec;
	rec.dim = (uint32_t)m->emb.dim;
	rc = cog_storage_memory_put(m->store, &rec);
	if (!rc && m->index)
		rc = mem_index_add(m, rec.id, 0, o->layer, vec);
	if (rc)
		return cog__error_wrap(rc, "%s", fn);
	*id = rec.id;
	return COG_OK;
}

int cog_memory_put(cog_memory *m, const char *text, const cog_memory_put_options *options,
                   uint64_t *id)
{
	uint64_t got = 0;
	if (id)
		*id = 0;
	COG_CHECK_ARG(m, fn, "mem is NULL");
	COG_CHECK_ARG(text, fn, "text is NULL");
	cog_memory_put_options o;
	int rc = take_options(options, &o);
	if (rc)
		return rc;
	if (!o.layer)
		o.layer = COG_MEMORY_LONG_TERM;
	size_t len = strlen(text);
	rc = check_put(m, text, len, &o);
	if (!rc && !m->emb.decided) {
		rc = mem_embed_decide(m);
		if (rc)
			cog__error_wrap(rc, "%s: embedder", fn);
	}
	if (rc)
		return rc;
	bool working = o.layer == COG_MEMORY_WORKING;
	char *red = NULL;
	size_t red_len = len;
	if (!working) {
		rc = mem_redact(m, text, len, &red, &red_len);
		if (rc)
			return cog__error_wrap(rc, "%s", fn);
	}
	const char *body = red ? red : text;
	float *vec = cog_malloc(m->emb.dim * sizeof(float));
	const char *model = NULL;
	if (!vec)
		rc = cog__oom(fn);
	if (!rc)
		rc = make_vector(m, &o, body, red_len, vec, &model);
	if (!rc && working)
		rc = put_working(m, body, red_len, &o, vec, &got);
	else if (!rc)
		rc = put_stored(m, body, red_len, &o, vec, model, &got);
	cog_free(vec);
	cog_free(red);
	if (rc >= 0) {
		m->puts++;
		if (id)
			*id = got;
	}
	return rc;
}
