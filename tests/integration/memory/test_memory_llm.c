/*
 * Memory with embeddings from an LLM endpoint: real libcurl to the loopback
 * wire server answering POST /v1/embeddings in OpenAI's format, memories in
 * a real SQLite file. The model and dimension the server answers with are
 * recorded per memory; a wrong answer (another dimension, a count that does
 * not match, a non-number) is a clear error and stores nothing; "auto" falls
 * back to hashing when the endpoint cannot embed, but never after an LLM
 * embedding worked; switching the endpoint's model (same handle, or a new
 * context over the same file with another dimension) re-embeds the stored
 * memories at the next search, in batches of at most 256 texts.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include <cognition.h>
#include <cognition/sqlite.h>

#include "llm_test.h"
#include "test_tmp.h"

static ws_server *server;

static void setup(void)
{
	tmp_dir_make("cogmemllm-");
	server = start_wire_server();
	log_forget();
}

static void teardown(void)
{
	ws_stop(server);
	server = NULL;
	tmp_dir_remove();
}

/* A context over the SQLite file "memory.db" of the test's directory, with
 * the wire server as OpenAI endpoint "main" whose default model is `model`
 * (NULL: no endpoint at all). Warnings are kept (log_kept()). */
static cog_ctx *open_ctx(const char *model)
{
	cog_ctx_options co = COG_CTX_OPTIONS_INIT;
	co.log_level = COG_LOG_WARN;
	co.log_fn = log_keep;
	cog_ctx *ctx = ctx_with_curl(&co);
	cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
	cog_storage *s = NULL;
	ck_assert_msg(cog_sqlite_storage_open(&s, tmp_file("memory.db"), &so) == 0, "%s",
	              cog_error_last());
	ck_assert_cog(cog_ctx_set_storage(ctx, s));
	if (model) {
		cog_llm *llm = provider_at(ctx, COG_LLM_OPENAI, server, "/v1", "sk-test-key", model);
		ck_assert_cog(cog_llm_add_endpoint(ctx, "main", llm, NULL));
		/* no retries: each request of the test takes exactly one answer */
		ck_assert_cog(cog_llm_configure(ctx, "{\"retry\":{\"max_attempts\":1}}"));
	}
	return ctx;
}

static cog_memory *open_mem(cog_ctx *ctx, const char *ns, const char *embedder)
{
	cog_memory_options o = COG_MEMORY_OPTIONS_INIT;
	o.embedder = embedder;
	o.no_redact = 1;
	cog_memory *m = NULL;
	ck_assert_msg(cog_memory_open_with(&m, ctx, ns, &o) == 0, "%s", cog_error_last());
	return m;
}

/* The vector of text number i under a model (seed), dim floats. */
static void vector_of(unsigned int i, unsigned int seed, size_t dim, float *v)
{
	for (size_t j = 0; j < dim; j++)
		v[j] = (float)sin((double)(i + 1) * (double)(j + 1) * 0.731 + seed * 1.7);
}

/* Queue an OpenAI embeddings answer of model with n vectors: texts
 * first..first+n-1 under seed, dim floats each. */
static void push_vectors(const char *model, unsigned int first, size_t n, unsigned int seed,
                         size_t dim)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "object", "list");
	cJSON *data = cJSON_AddArrayToObject(a, "data");
	float *v = malloc(dim * sizeof(float));
	for (size_t i = 0; i < n; i++) {
		vector_of(first + (unsigned int)i, seed, dim, v);
		cJSON *item = cJSON_CreateObject();
		cJSON_AddStringToObject(item, "object", "embedding");
		cJSON_AddNumberToObject(item, "index", (double)i);
		cJSON_AddItemToObject(item, "embedding", cJSON_CreateFloatArray(v, (int)dim));
		cJSON_AddItemToArray(data, item);
	}
	free(v);
	cJSON_AddStringToObject(a, "model", model);
	cJSON *usage = cJSON_AddObjectToObject(a, "usage");
	cJSON_AddNumberToObject(usage, "prompt_tokens", 5);
	cJSON_AddNumberToObject(usage, "total_tokens", 5);
	char *body = cJSON_PrintUnformatted(a);
	ws_answer ans = ws_answer_body(200, "application/json", body);
	ck_assert_int_eq(ws_push(server, &ans), 0);
	free(body);
	cJSON_Delete(a);
}

static void push_raw(int status, const char *body)
{
	ws_answer ans = ws_answer_body(status, "application/json", body);
	ck_assert_int_eq(ws_push(server, &ans), 0);
}

/* Request i went to /v1/embeddings with model and these inputs (n of
 * them; texts NULL: any). */
static void assert_embed_request(unsigned int i, const char *model, size_t n,
                                 const char *const *texts)
{
	char *head = ws_request(server, i);
	ck_assert_ptr_nonnull(head);
	ck_assert_msg(strncmp(head, "POST /v1/embeddings\n", 20) == 0, "%s", head);
	free(head);
	cJSON *body = sent_json(server, i);
	ck_assert_str_eq(cJSON_GetObjectItem(body, "model")->valuestring, model);
	const cJSON *input = cJSON_GetObjectItem(body, "input");
	ck_assert_int_eq(cJSON_GetArraySize(input), (int)n);
	for (size_t k = 0; texts && k < n; k++)
		ck_assert_str_eq(cJSON_GetArrayItem(input, (int)k)->valuestring, texts[k]);
	cJSON_Delete(body);
}

static uint64_t put(cog_memory *m, const char *text, bool dedupe)
{
	cog_memory_put_options o = COG_MEMORY_PUT_OPTIONS_INIT;
	o.no_dedupe = !dedupe;
	uint64_t id = 0;
	int rc = cog_memory_put(m, text, &o, &id);
	ck_assert_msg(rc == 0, "put \"%s\": %d %s", text, rc, cog_error_last());
	return id;
}

static cJSON *get(cog_memory *m, uint64_t id)
{
	char *json = NULL;
	ck_assert_msg(cog_memory_get(m, id, &json) == 0, "%s", cog_error_last());
	cJSON *o = cJSON_Parse(json);
	cog_free(json);
	return o;
}

static void assert_model(cog_memory *m, uint64_t id, const char *model, int dim)
{
	cJSON *o = get(m, id);
	ck_assert_str_eq(cJSON_GetObjectItem(o, "embed_model")->valuestring, model);
	ck_assert_int_eq(cJSON_GetObjectItem(o, "dim")->valueint, dim);
	cJSON_Delete(o);
}

static cJSON *stats(cog_memory *m)
{
	char *json = NULL;
	ck_assert_msg(cog_memory_stats(m, &json) == 0, "%s", cog_error_last());
	cJSON *o = cJSON_Parse(json);
	cog_free(json);
	return o;
}

/* A vector-only search (k 3): the result's ids into ids, their count. */
static size_t vector_search(cog_memory *m, const char *text, uint64_t ids[3], double *top)
{
	char q[256], *out = NULL;
	snprintf(q, sizeof(q), "{\"text\":\"%s\",\"k\":3,\"weights\":{\"keyword\":0}}", text);
	int rc = cog_memory_search(m, q, &out);
	ck_assert_msg(rc == 0, "search: %d %s", rc, cog_error_last());
	cJSON *r = cJSON_Parse(out);
	cog_free(out);
	size_t n = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(r, "results")) {
		ids[n] = (uint64_t)cJSON_GetObjectItem(e, "id")->valuedouble;
		if (n == 0 && top)
			*top = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "signals"),
			                                               "vector"), "cosine")->valuedouble;
		n++;
	}
	cJSON_Delete(r);
	return n;
}

START_TEST(llm_embeddings_are_recorded)
{
	cog_ctx *ctx = open_ctx("embed-a");
	cog_memory *m = open_mem(ctx, "acme/alice", NULL);   /* auto */
	push_vectors("embed-a", 0, 1, 1, 8);    /* the probe */
	push_vectors("embed-a", 1, 1, 1, 8);
	push_vectors("embed-a", 2, 1, 1, 8);
	push_vectors("embed-a", 3, 1, 1, 8);
	uint64_t a = put(m, "alpha memory", true);
	uint64_t b = put(m, "beta memory", true);
	uint64_t c = put(m, "gamma memory", true);
	ck_assert_uint_eq(ws_requests(server), 4);
	static const char *const probe[] = { "probe" };
	static const char *const alpha[] = { "alpha memory" };
	assert_embed_request(0, "embed-a", 1, probe);
	assert_embed_request(1, "embed-a", 1, alpha);
	assert_model(m, a, "embed-a", 8);
	assert_model(m, c, "embed-a", 8);
	cJSON *s = stats(m);
	ck_assert_str_eq(cJSON_GetObjectItem(s, "embedder")->valuestring, "embed-a");
	ck_assert_int_eq(cJSON_GetObjectItem(s, "dim")->valueint, 8);
	ck_assert_int_eq(cJSON_GetObjectItem(s, "index_rows")->valueint, 3);
	cJSON_Delete(s);
	/* the query gets beta's vector: beta comes first, cosine 1 */
	push_vectors("embed-a", 2, 1, 1, 8);
	uint64_t ids[3];
	double top = 0;
	ck_assert_uint_eq(vector_search(m, "which one", ids, &top), 3);
	ck_assert_uint_eq(ids[0], b);
	ck_assert_double_eq_tol(top, 1.0, 1e-5);
	assert_embed_request(4, "embed-a", 1, NULL);
	/* the same vector again merges into beta (a near duplicate) */
	push_vectors("embed-a", 2, 1, 1, 8);
	uint64_t id = 0;
	ck_assert_int_eq(cog_memory_put(m, "beta memory, said again", NULL, &id), COG_MEMORY_MERGED);
	ck_assert_uint_eq(id, b);
	char *log = log_kept();
	ck_assert_msg(strstr(log, "hashing") == NULL, "unexpected warning: %s", log);
	free(log);
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(wrong_answers_are_errors)
{
	cog_ctx *ctx = open_ctx("embed-a");
	cog_memory *m = open_mem(ctx, "t/u", "llm");
	push_vectors("embed-a", 0, 1, 1, 8);
	push_vectors("embed-a", 1, 1, 1, 8);
	uint64_t first = put(m, "a first memory", true);
	uint64_t id = 0;
	/* another dimension */
	push_vectors("embed-a", 2, 1, 1, 7);
	int rc = cog_memory_put(m, "a second memory", NULL, &id);
	ck_assert_int_eq(rc, COG_EPROTO);
	ck_assert_msg(strstr(cog_error_last(), "vector 0 of model embed-a has 7 dimensions, "
	                                       "expected 8"), "%s", cog_error_last());
	/* two vectors for one text */
	push_vectors("embed-a", 2, 2, 1, 8);
	rc = cog_memory_put(m, "a second memory", NULL, &id);
	ck_assert_int_eq(rc, COG_EPROTO);
	ck_assert_msg(strstr(cog_error_last(), "2 vectors for 1 input"), "%s",
	              cog_error_last());
	/* a number too large for a float */
	push_raw(200, "{\"data\":[{\"index\":0,\"embedding\":[1,2,3,4,5,6,7,1e300]}],"
	              "\"model\":\"embed-a\"}");
	rc = cog_memory_put(m, "a second memory", NULL, &id);
	ck_assert_int_eq(rc, COG_EPROTO);
	ck_assert_msg(strstr(cog_error_last(), "element 7 is not a finite number"), "%s",
	              cog_error_last());
	/* a zero vector */
	push_raw(200, "{\"data\":[{\"index\":0,\"embedding\":[0,0,0,0,0,0,0,0]}],"
	              "\"model\":\"embed-a\"}");
	rc = cog_memory_put(m, "a second memory", NULL, &id);
	ck_assert_msg(rc < 0, "a zero vector was accepted");
	/* the endpoint refusing: the router's error, no switch to hashing */
	push_raw(400, "{\"error\":{\"message\":\"bad input\",\"type\":\"invalid_request_error\"}}");
	rc = cog_memory_put(m, "a second memory", NULL, &id);
	ck_assert_int_eq(rc, COG_EINVAL);
	/* nothing of that was stored; the handle still works */
	cJSON *s = stats(m);
	ck_assert_int_eq(cJSON_GetObjectItem(s, "index_rows")->valueint, 1);
	ck_assert_str_eq(cJSON_GetObjectItem(s, "embedder")->valuestring, "embed-a");
	cJSON_Delete(s);
	push_vectors("embed-a", 2, 1, 1, 8);
	uint64_t second = put(m, "a second memory", true);
	ck_assert_uint_ne(second, first);
	assert_model(m, second, "embed-a", 8);
	cog_memory_free(m);
	/* "llm" without an endpoint: unavailable, not hashing */
	cog_ctx *bare = open_ctx(NULL);
	cog_memory *m2 = open_mem(bare, "t/u", "llm");
	rc = cog_memory_put(m2, "anything", NULL, &id);
	ck_assert_int_eq(rc, COG_EUNAVAILABLE);
	ck_assert_msg(strstr(cog_error_last(), "no LLM endpoint"), "%s", cog_error_last());
	cog_memory_free(m2);
	cog_ctx_free(bare);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(auto_falls_back_only_at_first)
{
	cog_ctx *ctx = open_ctx("embed-a");
	/* the endpoint cannot embed: this handle uses hashing, with a warning */
	push_raw(404, "{\"error\":{\"message\":\"no embeddings here\"}}");
	cog_memory *m = open_mem(ctx, "t/u", "auto");
	uint64_t id = put(m, "works without the model", true);
	assert_model(m, id, "hash-384", 384);
	char *log = log_kept();
	ck_assert_msg(strstr(log, "hashing embedder"), "no warning: %s", log);
	free(log);
	unsigned int requests = ws_requests(server);
	put(m, "and keeps working", true);
	ck_assert_uint_eq(ws_requests(server), requests);   /* not asked again */
	cog_memory_free(m);
	/* a handle whose LLM embedding worked does not fall back later */
	ws_reset(server);
	push_vectors("embed-a", 0, 1, 1, 8);
	push_vectors("embed-a", 1, 1, 1, 8);
	cog_memory *m2 = open_mem(ctx, "t/v", "auto");
	put(m2, "embedded by the model", true);
	push_raw(400, "{\"error\":{\"message\":\"refused\"}}");
	int rc = cog_memory_put(m2, "this one fails", NULL, &id);
	ck_assert_int_eq(rc, COG_EINVAL);
	cJSON *s = stats(m2);
	ck_assert_str_eq(cJSON_GetObjectItem(s, "embedder")->valuestring, "embed-a");
	cJSON_Delete(s);
	cog_memory_free(m2);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(model_switch_same_handle)
{
	cog_ctx *ctx = open_ctx("embed-a");
	cog_memory *m = open_mem(ctx, "t/u", "llm");
	push_vectors("embed-a", 0, 1, 1, 8);
	uint64_t ids[4];
	for (unsigned int i = 0; i < 4; i++) {
		push_vectors("embed-a", i + 1, 1, 1, 8);
		char text[32];
		snprintf(text, sizeof(text), "memory %u", i + 1);
		ids[i] = put(m, text, true);
	}
	ck_assert_uint_eq(ws_requests(server), 5);
	/* the route now names embed-b (same dimension): the query comes back
	 * from embed-b, the index notices and re-embeds the four in one call */
	ck_assert_cog(cog_llm_configure(ctx, "{\"routes\":{\"embedder\":{\"models\":"
	                                     "[{\"endpoint\":\"main\",\"model\":\"embed-b\"}]}}}"));
	push_vectors("embed-b", 3, 1, 2, 8);      /* the query: memory 3 under embed-b */
	push_vectors("embed-b", 1, 4, 2, 8);      /* memories 1..4 under embed-b */
	uint64_t hit[3];
	double top = 0;
	ck_assert_uint_eq(vector_search(m, "find it", hit, &top), 3);
	ck_assert_uint_eq(ws_requests(server), 7);
	static const char *const texts[] = { "memory 1", "memory 2", "memory 3", "memory 4" };
	assert_embed_request(5, "embed-b", 1, NULL);
	assert_embed_request(6, "embed-b", 4, texts);
	ck_assert_uint_eq(hit[0], ids[2]);
	ck_assert_double_eq_tol(top, 1.0, 1e-5);
	for (int i = 0; i < 4; i++)
		assert_model(m, ids[i], "embed-b", 8);
	cJSON *s = stats(m);
	ck_assert_str_eq(cJSON_GetObjectItem(s, "embedder")->valuestring, "embed-b");
	ck_assert_int_eq(cJSON_GetObjectItem(s, "index_rows")->valueint, 4);
	cJSON_Delete(s);
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(model_switch_new_context)
{
	enum { N = 300 };
	cog_ctx *ctx = open_ctx("embed-a");
	cog_memory *m = open_mem(ctx, "t/u", "llm");
	push_vectors("embed-a", 0, 1, 1, 16);
	uint64_t *ids = malloc(N * sizeof(*ids));
	char text[32];
	for (unsigned int i = 0; i < N; i++) {
		push_vectors("embed-a", i + 1, 1, 1, 16);
		snprintf(text, sizeof(text), "memory number %u", i + 1);
		ids[i] = put(m, text, false);
	}
	assert_model(m, ids[0], "embed-a", 16);
	cog_memory_free(m);
	cog_ctx_free(ctx);
	/* the same file, an endpoint whose model is embed-b with 8 dimensions */
	ws_reset(server);
	ctx = open_ctx("embed-b");
	m = open_mem(ctx, "t/u", NULL);
	push_vectors("embed-b", 0, 1, 2, 8);      /* probe */
	push_vectors("embed-b", 42, 1, 2, 8);     /* the query: memory 42 under embed-b */
	push_vectors("embed-b", 1, 256, 2, 8);    /* memories 1..256 */
	push_vectors("embed-b", 257, N - 256, 2, 8);
	uint64_t hit[3];
	double top = 0;
	ck_assert_uint_eq(vector_search(m, "number 42", hit, &top), 3);
	ck_assert_uint_eq(ws_requests(server), 4);
	assert_embed_request(2, "embed-b", 256, NULL);
	assert_embed_request(3, "embed-b", N - 256, NULL);
	cJSON *first = sent_json(server, 2);
	ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(first, "input"), 0)->valuestring,
	                 "memory number 1");
	cJSON_Delete(first);
	ck_assert_uint_eq(hit[0], ids[41]);
	ck_assert_double_eq_tol(top, 1.0, 1e-5);
	assert_model(m, ids[0], "embed-b", 8);
	assert_model(m, ids[N - 1], "embed-b", 8);
	cog_memory_free(m);
	/* a fresh handle has nothing left to re-embed: probe and query only */
	ws_reset(server);
	m = open_mem(ctx, "t/u", NULL);
	push_vectors("embed-b", 0, 1, 2, 8);
	push_vectors("embed-b", 7, 1, 2, 8);
	ck_assert_uint_eq(vector_search(m, "number 7", hit, &top), 3);
	ck_assert_uint_eq(ws_requests(server), 2);
	ck_assert_uint_eq(hit[0], ids[6]);
	cJSON *s = stats(m);
	ck_assert_int_eq(cJSON_GetObjectItem(s, "index_rows")->valueint, N);
	cJSON_Delete(s);
	cog_memory_free(m);
	cog_ctx_free(ctx);
	free(ids);
}
END_TEST

/* A memory written straight to the context's storage, as another program
 * would: model and vector given. */
static uint64_t store_raw(cog_ctx *ctx, const char *ns, const char *text, const char *model,
                          const float *v, size_t dim)
{
	cog_storage_memory_record r = { 0 };
	r.ns = ns;
	r.layer = COG_MEMORY_LONG_TERM;
	r.text = text;
	r.text_len = strlen(text);
	r.metadata = "{}";
	r.metadata_len = 2;
	r.importance = 0.5;
	r.created_at = r.updated_at = 1700000000000;
	r.embed_model = model;
	r.embedding = v;
	r.dim = (uint32_t)dim;
	ck_assert_msg(cog_storage_memory_put(cog_ctx_storage(ctx), &r) == 0, "%s",
	              cog_error_last());
	return r.id;
}

typedef struct raw_row {
	char model[64];
	float v[400];
	uint32_t dim;
} raw_row;

static int keep_raw(const cog_storage_memory_record *rec, double score, void *ud)
{
	(void)score;
	raw_row *r = ud;
	snprintf(r->model, sizeof(r->model), "%s", rec->embed_model);
	r->dim = rec->dim;
	memcpy(r->v, rec->embedding, (rec->dim < 400 ? rec->dim : 400) * sizeof(float));
	return 0;
}

static raw_row read_raw(cog_ctx *ctx, const char *ns, uint64_t id)
{
	raw_row r = { 0 };
	cog_storage_memory_query q = { 0 };
	q.ns = &ns;
	q.ns_count = 1;
	q.ids = &id;
	q.id_count = 1;
	q.with_embedding = 1;
	ck_assert_int_eq(cog_storage_memory_find(cog_ctx_storage(ctx), &q, keep_raw, &r), 0);
	ck_assert_uint_gt(r.dim, 0);
	return r;
}

/* An "auto" handle that fell back to hashing (no endpoint) re-embeds rows
 * an LLM made in memory only: the stored rows stay as they were. A row
 * whose text has no word is left out of the index (a warning names it)
 * and breaks nothing. A handle that chose "hashing" does write back. */
START_TEST(auto_fallback_never_rewrites_llm_rows)
{
	cog_ctx *ctx = open_ctx(NULL);
	ck_assert_int_eq(cog_llm_available(ctx), 0);
	float v[384], w[384];
	vector_of(1, 3, 384, v);
	vector_of(2, 3, 384, w);
	uint64_t id = store_raw(ctx, "t/u", "the invoice was paid twice", "text-embedding-3-small",
	                        v, 384);
	uint64_t bad = store_raw(ctx, "t/u", "!!! ???", "text-embedding-3-small", w, 384);
	cog_memory *m = open_mem(ctx, "t/u", "auto");
	uint64_t ids[3];
	double top = 0;
	ck_assert_uint_ge(vector_search(m, "the invoice was paid twice", ids, &top), 1);
	ck_assert_uint_eq(ids[0], id);
	ck_assert_double_eq_tol(top, 1.0, 1e-5);   /* its hashing vector, in memory */
	raw_row r = read_raw(ctx, "t/u", id);
	ck_assert_str_eq(r.model, "text-embedding-3-small");
	ck_assert_uint_eq(r.dim, 384);
	for (size_t i = 0; i < 384; i++)
		ck_assert_float_eq_tol(r.v[i], v[i], 1e-6f);
	ck_assert_str_eq(read_raw(ctx, "t/u", bad).model, "text-embedding-3-small");
	char *log = log_kept();
	char want[64];
	snprintf(want, sizeof(want), "id %llu (", (unsigned long long)bad);
	ck_assert_msg(strstr(log, "left out of the vector index") && strstr(log, want),
	              "no warning naming id %llu: %s", (unsigned long long)bad, log);
	free(log);
	/* a deduplicating put still works (put.c compares with the stored
	 * vector, the LLM's: a new memory, not a merge) */
	uint64_t again = 0;
	int rc = cog_memory_put(m, "the invoice was paid twice", NULL, &again);
	ck_assert_msg(rc == 0 || rc == COG_MEMORY_MERGED, "put: %d %s", rc, cog_error_last());
	ck_assert_uint_ne(again, 0);
	cog_memory_free(m);
	/* the user's own choice of hashing writes the vectors back */
	m = open_mem(ctx, "t/u", "hashing");
	ck_assert_uint_ge(vector_search(m, "the invoice", ids, &top), 1);
	assert_model(m, id, "hash-384", 384);
	ck_assert_str_eq(read_raw(ctx, "t/u", bad).model, "text-embedding-3-small");
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

/* Re-embedding with an LLM: a batch the endpoint refuses is tried one
 * text at a time, so one refused text leaves out only its own row; a
 * batch refused because the endpoint is down is dropped (rows stay as
 * they were); the search works in both cases. */
START_TEST(llm_reembed_failures_skip_rows)
{
	cog_ctx *ctx = open_ctx("embed-a");
	cog_memory *m = open_mem(ctx, "t/u", "llm");
	push_vectors("embed-a", 0, 1, 1, 8);
	uint64_t ids[4];
	for (unsigned int i = 0; i < 4; i++) {
		push_vectors("embed-a", i + 1, 1, 1, 8);
		char text[32];
		snprintf(text, sizeof(text), "memory %u", i + 1);
		ids[i] = put(m, text, false);
	}
	ck_assert_cog(cog_llm_configure(ctx, "{\"routes\":{\"embedder\":{\"models\":"
	                                     "[{\"endpoint\":\"main\",\"model\":\"embed-b\"}]}}}"));
	ws_reset(server);
	push_vectors("embed-b", 3, 1, 2, 8);      /* the query */
	push_raw(400, "{\"error\":{\"message\":\"one input is bad\"}}");   /* the batch */
	push_vectors("embed-b", 1, 1, 2, 8);
	push_raw(400, "{\"error\":{\"message\":\"this input is bad\"}}");  /* memory 2 */
	push_vectors("embed-b", 3, 1, 2, 8);
	push_vectors("embed-b", 4, 1, 2, 8);
	uint64_t hit[3];
	double top = 0;
	ck_assert_uint_eq(vector_search(m, "find it", hit, &top), 3);
	ck_assert_uint_eq(ws_requests(server), 6);
	assert_embed_request(1, "embed-b", 4, NULL);
	static const char *const two[] = { "memory 2" };
	assert_embed_request(3, "embed-b", 1, two);
	ck_assert_uint_eq(hit[0], ids[2]);
	ck_assert_double_eq_tol(top, 1.0, 1e-5);
	assert_model(m, ids[0], "embed-b", 8);
	assert_model(m, ids[1], "embed-a", 8);
	assert_model(m, ids[3], "embed-b", 8);
	cJSON *s = stats(m);
	ck_assert_int_eq(cJSON_GetObjectItem(s, "index_rows")->valueint, 3);
	cJSON_Delete(s);
	char *log = log_kept();
	ck_assert_msg(strstr(log, "left out of the vector index"), "no warning: %s", log);
	free(log);
	cog_memory_free(m);
	/* another handle: the endpoint is down while it re-embeds memory 2 */
	ws_reset(server);
	log_forget();
	m = open_mem(ctx, "t/u", "llm");
	push_vectors("embed-b", 0, 1, 2, 8);      /* probe */
	push_vectors("embed-b", 1, 1, 2, 8);      /* the query */
	push_raw(503, "{\"error\":{\"message\":\"overloaded\"}}");
	ck_assert_uint_eq(vector_search(m, "find it", hit, &top), 3);
	ck_assert_uint_eq(ws_requests(server), 3);   /* no retry one by one */
	ck_assert_uint_eq(hit[0], ids[0]);
	assert_model(m, ids[1], "embed-a", 8);
	log = log_kept();
	ck_assert_msg(strstr(log, "router is unavailable"), "no warning: %s", log);
	free(log);
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("memory-llm");
	TCase *tc = tcase_create("llm");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, llm_embeddings_are_recorded);
	tcase_add_test(tc, wrong_answers_are_errors);
	tcase_add_test(tc, auto_falls_back_only_at_first);
	tcase_add_test(tc, model_switch_same_handle);
	tcase_add_test(tc, model_switch_new_context);
	tcase_add_test(tc, auto_fallback_never_rewrites_llm_rows);
	tcase_add_test(tc, llm_reembed_failures_skip_rows);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
