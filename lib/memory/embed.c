/*
 * The handle's embedder: the context's LLM router (route "embedder") or the
 * built-in hashing embedder (hashing.c).
 *
 * The choice is made once per handle, at the first embedding: "hashing" at
 * once; "llm" and "auto" embed a probe through the router, which fixes the
 * model name and the dimension. In "auto" mode a context without endpoints,
 * or a router that cannot embed, switches this handle to hashing (with a
 * warning in the log); once an LLM embedding has succeeded, a later failure
 * is an error rather than a silent switch, because vectors of two
 * embedders must never be mixed in one index.
 *
 * Every vector is checked (count, dimension, finite) and scaled to unit
 * length. A router answer naming another model than before updates the
 * model (the index notices and re-embeds); one with another dimension fails
 * the call, and when the model changed too the next call decides again.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "memory_int.h"
#include "cognition/llm.h"

#define LLM_BATCH_MAX 256

static const char fn[] = "memory embedder";

static void use_hashing(mem_embedder *e)
{
	mem_hash_model(e->hashing_dim, e->model);
	e->dim = e->hashing_dim;
	e->decided = true;
}

static int request_json(const char *const *texts, const size_t *lens, size_t n,
                        size_t first, char **out)
{
	cog_buf b = COG_BUF_INIT;
	cog_buf_puts(&b, "{\"input\":[");
	for (size_t i = 0; i < n; i++) {
		size_t len = lens ? lens[i] : strlen(texts[i]);
		if (len == 0) {
			cog_buf_dispose(&b);
			return cog__error(COG_EINVAL, "%s: text %zu is empty", fn, first + i);
		}
		if (i)
			cog_buf_putc(&b, ',');
		cog_buf_put_json_string(&b, texts[i], len);
	}
	cog_buf_puts(&b, "]}");
	*out = cog_buf_detach(&b);
	return *out ? COG_OK : cog__oom(fn);
}

/* The vectors of one router answer into out (n x *dim floats; NULL for a
 * probe, which only wants the dimension). *dim is the expected dimension,
 * or 0 for any (then set to the answer's). model gets the answer's model. */
static int parse_answer(const char *json, size_t n, size_t first, size_t *dim,
                        float *out, char model[128])
{
	cJSON *resp = NULL;
	int rc = cog_json_parse(&resp, json, "memory embedder: the router's answer");
	if (rc)
		return rc;
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(resp, "data");
	const char *name = cog_json_get_string(resp, "model");
	if (!name || !*name)
		name = cog_json_get_string(resp, "endpoint");
	snprintf(model, 128, "%s", name && *name ? name : "llm");
	if (!cJSON_IsArray(data) || (size_t)cJSON_GetArraySize(data) != n) {
		rc = cog__error(COG_EPROTO,
			"%s: the router answered %d vectors for %zu texts (model %s)", fn,
			cJSON_IsArray(data) ? cJSON_GetArraySize(data) : -1, n, model);
		goto done;
	}
	size_t i = 0;
	for (const cJSON *vec = data->child; vec; vec = vec->next, i++) {
		size_t got = cJSON_IsArray(vec) ? (size_t)cJSON_GetArraySize(vec) : 0;
		if (*dim == 0) {
			if (got == 0 || got > MEM_VEC_DIM_MAX) {
				rc = cog__error(COG_EPROTO,
					"%s: vector %zu of model %s has %zu dimensions (1..%d)",
					fn, first + i, model, got, MEM_VEC_DIM_MAX);
				goto done;
			}
			*dim = got;
		}
		if (got != *dim) {
			rc = cog__error(COG_EPROTO,
				"%s: vector %zu of model %s has %zu dimensions, expected %zu",
				fn, first + i, model, got, *dim);
			goto done;
		}
		if (!out)
			break;   /* a probe: only the dimension is wanted */
		float *row = out + i * *dim;
		size_t j = 0;
		for (const cJSON *x = vec->child; x; x = x->next, j++) {
			double v = cJSON_IsNumber(x) ? x->valuedouble : NAN;
			row[j] = (float)v;
			if (!isfinite(row[j])) {
				rc = cog__error(COG_EPROTO,
					"%s: vector %zu of model %s: element %zu is not a finite "
					"number", fn, first + i, model, j);
				goto done;
			}
		}
		char where[96];
		snprintf(where, sizeof(where), "%s: vector %zu of model %.40s", fn, first + i,
		         model);
		if ((rc = cog__vec_normalize(row, *dim, row, where)))
			goto done;
	}
done:
	cJSON_Delete(resp);
	return rc;
}

/* One router call for texts[0..n) (n <= LLM_BATCH_MAX). */
static int llm_call(struct cog_memory *m, const char *const *texts, const size_t *lens,
                    size_t n, size_t first, size_t *dim, float *out, char model[128])
{
	char *req = NULL, *resp = NULL;
	model[0] = '\0';
	int rc = request_json(texts, lens, n, first, &req);
	if (!rc)
		rc = cog_llm_embed(m->ctx, "embedder", req, &resp);
	cog_free(req);
	if (rc) {
		cog_free(resp);
		return rc;
	}
	rc = parse_answer(resp, n, first, dim, out, model);
	cog_free(resp);
	return rc;
}

int mem_embed_decide(struct cog_memory *m)
{
	mem_embedder *e = &m->emb;
	if (e->decided)
		return COG_OK;
	bool available = cog_llm_available(m->ctx) != 0;
	if (e->want == MEM_EMBED_AUTO && !available)
		e->llm_failed = true;   /* no router to ask: hashing for this handle */
	if (e->want == MEM_EMBED_HASHING || e->llm_failed) {
		use_hashing(e);
		return COG_OK;
	}
	if (!available)
		return cog__error(COG_EUNAVAILABLE,
			"%s: embedder \"llm\" was asked for, but the context has no LLM endpoint", fn);
	static const char *const probe[] = { "probe" };
	size_t dim = 0;
	char model[128];
	int rc = llm_call(m, probe, NULL, 1, 0, &dim, NULL, model);
	if (rc && e->want == MEM_EMBED_LLM)
		return cog__error_wrap(rc == COG_EPROTO ? rc : COG_EUNAVAILABLE,
			"%s: embedder \"llm\": the router cannot embed", fn);
	if (rc) {
		e->llm_failed = true;
		use_hashing(e);
		cog__log(m->ctx, COG_LOG_WARN, NULL,
			"memory %s: the LLM router cannot embed (%s); using the hashing embedder "
			"(%s) for this handle", m->ns, cog_error_last(), e->model);
		return COG_OK;
	}
	memcpy(e->model, model, sizeof(e->model));
	e->dim = dim;
	e->decided = true;
	return COG_OK;
}

static int embed_llm(struct cog_memory *m, const char *const *texts, const size_t *lens,
                     size_t n, float *out)
{
	mem_embedder *e = &m->emb;
	for (size_t first = 0; first < n; first += LLM_BATCH_MAX) {
		size_t count = n - first < LLM_BATCH_MAX ? n - first : LLM_BATCH_MAX;
		size_t dim = e->dim;
		char model[128];
		int rc = llm_call(m, texts + first, lens ? lens + first : NULL, count, first, &dim,
		                  out + first * e->dim, model);
		if (rc == COG_EPROTO && model[0] && strcmp(model, e->model) != 0) {
			/* Another model, another dimension: decide again next time. */
			e->decided = false;
			return cog__error_wrap(rc, "%s: the router's model changed from %s",
			                       fn, e->model);
		}
		if (rc)
			return cog__error_wrap(rc, "%s: LLM embedding (model %s)", fn, e->model);
		if (strcmp(model, e->model) != 0) {
			cog__log(m->ctx, COG_LOG_INFO, NULL,
				"memory %s: the embedding model changed from %s to %s; the index "
				"re-embeds at its next sync", m->ns, e->model, model);
			memcpy(e->model, model, sizeof(e->model));
		}
	}
	return COG_OK;
}

int mem_embed(struct cog_memory *m, const char *const *texts, const size_t *lens,
              size_t n, float *out)
{
	if (!m || (n && (!texts || !out)))
		return cog__error(COG_EINVAL, "%s: %s is NULL", fn,
		                  !m ? "handle" : !texts ? "texts" : "out");
	int rc = mem_embed_decide(m);
	if (rc || n == 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (!texts[i])
			return cog__error(COG_EINVAL, "%s: text %zu is NULL", fn, i);
	if (m->emb.llm_failed || m->emb.want == MEM_EMBED_HASHING) {
		for (size_t i = 0; i < n; i++) {
			size_t len = lens ? lens[i] : strlen(texts[i]);
			rc = mem_hash_embed(texts[i], len, out + i * m->emb.dim, m->emb.dim);
			if (rc)
				return cog__error_wrap(rc, "%s: text %zu", fn, i);
		}
		return COG_OK;
	}
	return embed_llm(m, texts, lens, n, out);
}
