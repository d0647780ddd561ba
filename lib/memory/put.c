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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_int.h"
#include "mem_auth.h"
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
	/* Stored as "host:<name>", within the embedder's model buffer. */
	size_t len = strlen(name), max = sizeof(((mem_embedder *)0)->model) - 1 - 5;
	if (len == 0 || len > max)
		return cog__error(COG_EINVAL, "%s: embed_model must be 1..%zu bytes", fn, max);
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
                       size_t len, float *vec, const char **model, char host[128])
{
	if (o->vector) {
		if (o->dim != m->emb.dim)
			return cog__error(COG_EINVAL,
				"%s: vector has dimension %zu, the index has %zu (%s)", fn, o->dim,
				m->emb.dim, m->emb.model);
		/* "host" or "host:<name>": never re-embedded (index_sync.c). */
		snprintf(host, 128, "host%s%s", o->embed_model ? ":" : "",
			o->embed_model ? o->embed_model : "");
		*model = host;
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
static int try_merge(cog_memory *m, const char *text, size_t len,
                     const cog_memory_put_options *o, const float *vec,
                     const mem_words_key *words, int64_t now, int64_t expires_at,
                     uint64_t *id)
{
	uint64_t dup = 0;
	float cosine = 0;
	int rc = mem_index_near_duplicate(m, vec, o->layer, m->opt.dedupe_threshold, words,
		&dup, &cosine);
	if (rc)
		return cog__error_wrap(rc, "%s", fn);
	if (!dup)
		return COG_OK;
	rc = mem_put_merge(m, dup, text, len, o, vec, now, expires_at);
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
	/* The word multiset: the index finds a hashing text's duplicates by it
	 * (and a host vector's among hashing rows, which must agree in words). */
	mem_words_key words = { 0 };
	bool hash_embedder = strncmp(m->emb.model, "hash-", 5) == 0;
	bool hashed = hash_embedder && model == m->emb.model;
	if (hash_embedder && (dedupe || m->index) &&
	    (rc = mem_words_key_of(text, len, hashed, &words)))
		return cog__error_wrap(rc, "%s", fn);
	if (dedupe && (rc = try_merge(m, text, len, o, vec, hash_embedder ? &words : NULL,
	                              now, expires_at, id)))
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
		rc = mem_index_add(m, rec.id, 0, o->layer, vec, hashed ? &words : NULL);
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
	{
		int auth_rc = mem_auth_check(m, fn, COG_AUTH_MEMORY_WRITE, m->ns);
		if (auth_rc)
			return auth_rc;
	}
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
	char *red = NULL, *red_md = NULL;
	size_t red_len = len;
	if (!working) {
		rc = mem_redact(m, text, len, &red, &red_len);
		if (!rc && o.metadata)
			rc = mem_put_redact_metadata(m, o.metadata, &red_md);
		if (rc) {
			cog_free(red);
			return cog__error_wrap(rc, "%s", fn);
		}
		if (red_md)
			o.metadata = red_md;
	}
	const char *body = red ? red : text;
	float *vec = cog_malloc(m->emb.dim * sizeof(float));
	const char *model = NULL;
	char host[128];
	if (!vec)
		rc = cog__oom(fn);
	if (!rc)
		rc = make_vector(m, &o, body, red_len, vec, &model, host);
	if (!rc && working)
		rc = put_working(m, body, red_len, &o, vec, &got);
	else if (!rc)
		rc = put_stored(m, body, red_len, &o, vec, model, &got);
	cog_free(vec);
	cog_free(red);
	cog_free(red_md);
	if (rc >= 0) {
		m->puts++;
		if (id)
			*id = got;
	}
	return rc;
}
