/*
 * cog_memory_search through the public API, over a real SQLite file and the
 * in-memory store (each test runs on both): keyword order, vector queries,
 * hybrid fusion and its signals, layers, metadata, time range, inherit,
 * query text that looks like FTS or SQL, unknown namespaces, bad queries,
 * and memories that are forgotten or expired.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cognition.h>
#include <cognition/sqlite.h>

#include "llm_test.h"
#include "test_tmp.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

#define DIM 16   /* the hashing embedder's smallest dimension: vectors by hand */

static const char *const backends[] = { "sqlite", "memory" };
static cog_ctx *ctx;

static void ctx_for(int backend)
{
	ck_assert_cog(cog_ctx_new(&ctx, NULL));
	cog_storage *st = NULL;
	if (backend == 0) {
		tmp_dir_make("memsearch");
		cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
		so.durability = COG_SQLITE_DURABLE_NORMAL;
		ck_assert_cog(cog_sqlite_storage_open(&st, tmp_file("memory.db"), &so));
	} else {
		ck_assert_cog(cog_storage_memory_new(&st));
	}
	ck_assert_cog(cog_ctx_set_storage(ctx, st));
}

static void ctx_done(void)
{
	cog_ctx_free(ctx);
	ctx = NULL;
	tmp_dir_remove();
}

/* Hashing embedder of `dim`, never merging, text kept as given. */
static cog_memory *open_ns(const char *ns, unsigned int dim)
{
	cog_memory_options o;
	ck_assert_cog(cog_memory_options_init(&o, COG_MEMORY_OPTIONS_VERSION));
	o.embedder = "hashing";
	o.hashing_dim = dim;
	o.dedupe_threshold = 2.0;
	o.no_redact = 1;
	cog_memory *m = NULL;
	ck_assert_cog(cog_memory_open_with(&m, ctx, ns, &o));
	return m;
}

static uint64_t put_with(cog_memory *m, const char *text, unsigned int layer, double importance,
                         const char *metadata, const float *vec)
{
	cog_memory_put_options po;
	ck_assert_cog(cog_memory_put_options_init(&po, COG_MEMORY_PUT_OPTIONS_VERSION));
	po.layer = layer;
	po.importance = importance;
	po.metadata = metadata;
	po.vector = vec;
	po.dim = vec ? DIM : 0;
	uint64_t id = 0;
	int rc = cog_memory_put(m, text, &po, &id);
	ck_assert_msg(rc == 0, "put \"%s\": %d %s", text, rc, cog_error_last());
	ck_assert(id > 0);
	return id;
}

static uint64_t put(cog_memory *m, const char *text)
{
	return put_with(m, text, 0, 0.5, NULL, NULL);
}

/* The search's answer, parsed and checked for shape. */
static cJSON *search(cog_memory *m, const char *query)
{
	char *json = NULL;
	int rc = cog_memory_search(m, query, &json);
	ck_assert_msg(rc == 0, "search %s: %d %s", query, rc, cog_error_last());
	ck_assert_ptr_nonnull(json);
	cJSON *r = cJSON_Parse(json);
	ck_assert_msg(r != NULL, "not JSON: %s", json);
	cog_free(json);
	ck_assert(cJSON_IsArray(cJSON_GetObjectItem(r, "results")));
	ck_assert(cJSON_HasObjectItem(r, "embedder"));
	return r;
}

static int nresults(const cJSON *r)
{
	return cJSON_GetArraySize(cJSON_GetObjectItem(r, "results"));
}

static const cJSON *result_at(const cJSON *r, int i)
{
	const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "results"), i);
	ck_assert_msg(e != NULL, "no result %d", i);
	return e;
}

static uint64_t id_at(const cJSON *r, int i)
{
	return (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(result_at(r, i), "id"));
}

static bool has_id(const cJSON *r, uint64_t id)
{
	for (int i = 0; i < nresults(r); i++)
		if (id_at(r, i) == id)
			return true;
	return false;
}

static const cJSON *signal(const cJSON *r, int i, const char *name)
{
	return cJSON_GetObjectItem(cJSON_GetObjectItem(result_at(r, i), "signals"), name);
}

static void search_fails(cog_memory *m, const char *query, int code, const char *needle)
{
	char *json = (char *)"untouched";
	int rc = cog_memory_search(m, query, &json);
	ck_assert_msg(rc == code, "search %s: %d, expected %d (%s)", query, rc, code,
	              cog_error_last());
	ck_assert_ptr_null(json);
	ck_assert_msg(strstr(cog_error_last(), needle) != NULL,
	              "search %s: message \"%s\" does not name %s", query, cog_error_last(),
	              needle);
}

/* A unit vector along axis a, tilted toward axis b by t. */
static void axis(float *v, int a, int b, float t)
{
	memset(v, 0, DIM * sizeof(*v));
	v[a] = 1.0f;
	if (b >= 0)
		v[b] += t;
}

static const char *vec_json(const float *v)
{
	static char buf[DIM * 24];
	size_t n = 0;
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "[");
	for (int i = 0; i < DIM; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%.6f", i ? "," : "", (double)v[i]);
	snprintf(buf + n, sizeof(buf) - n, "]");
	return buf;
}

START_TEST(keyword_hits_and_order)
{
	ctx_for(_i);
	cog_memory *m = open_ns("acme/alice", 384);
	uint64_t once = put(m, "the invoice for march was sent to the customer by the billing team "
	                       "together with the usual reminder about payment terms");
	uint64_t twice = put(m, "invoice invoice overdue");
	uint64_t thrice = put(m, "invoice, invoice and invoice");
	put(m, "the weather is fine today");
	put(m, "lunch menu: soup and bread");
	cJSON *r = search(m, "{\"text\":\"Invoice\",\"weights\":{\"vector\":0}}");
	ck_assert_int_eq(nresults(r), 3);
	ck_assert_uint_eq(id_at(r, 0), thrice);
	ck_assert_uint_eq(id_at(r, 1), twice);
	ck_assert_uint_eq(id_at(r, 2), once);
	double last = INFINITY;
	for (int i = 0; i < 3; i++) {
		const cJSON *kw = signal(r, i, "keyword");
		ck_assert_ptr_nonnull(kw);
		ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(kw, "rank")), i + 1);
		double bm25 = cJSON_GetNumberValue(cJSON_GetObjectItem(kw, "bm25"));
		ck_assert(bm25 > 0 && bm25 <= last);
		last = bm25;
		ck_assert_ptr_null(signal(r, i, "vector"));
		ck_assert(cJSON_IsNumber(signal(r, i, "recency")));
		ck_assert(cJSON_IsNumber(signal(r, i, "importance")));
		const cJSON *res = result_at(r, i);
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(res, "namespace")),
		                 "acme/alice");
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(res, "layer")), "long_term");
		ck_assert(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(res, "text")), "nvoice"));
		ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(res, "score")));
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(res, "embed_model")),
		                 "hash-384");
		ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(res, "dim")), 384);
	}
	cJSON_Delete(r);

	/* any of the words matches; k cuts the list; the default hybrid search
	 * still puts the keyword hits first */
	r = search(m, "{\"text\":\"soup weather\",\"k\":2}");
	ck_assert_int_eq(nresults(r), 2);
	for (int i = 0; i < 2; i++)
		ck_assert_ptr_nonnull(signal(r, i, "keyword"));
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(r, "embedder")), "hash-384");
	cJSON_Delete(r);

	/* a word nobody used: nothing from the keyword side */
	r = search(m, "{\"text\":\"xylophone\",\"weights\":{\"vector\":0}}");
	ck_assert_int_eq(nresults(r), 0);
	cJSON_Delete(r);

	/* the same query twice: the same order (scores move with the clock) */
	cJSON *a = search(m, "{\"text\":\"invoice customer\"}");
	cJSON *b = search(m, "{\"text\":\"invoice customer\"}");
	ck_assert_int_eq(nresults(a), 5);
	ck_assert_int_eq(nresults(b), 5);
	for (int i = 0; i < 5; i++)
		ck_assert_uint_eq(id_at(a, i), id_at(b, i));
	cJSON_Delete(a);
	cJSON_Delete(b);

	char *stats = NULL;
	ck_assert_cog(cog_memory_stats(m, &stats));
	cJSON *st = cJSON_Parse(stats);
	ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(st, "searches")), 5);
	cJSON_Delete(st);
	cog_free(stats);
	cog_memory_free(m);
	ctx_done();
}
END_TEST

START_TEST(vector_only)
{
	ctx_for(_i);
	cog_memory *m = open_ns("acme/alice", DIM);
	float v[DIM];
	axis(v, 0, -1, 0);
	uint64_t exact = put_with(m, "first", 0, 0.5, NULL, v);
	axis(v, 0, 1, 1.0f);
	uint64_t half = put_with(m, "second", 0, 0.5, NULL, v);
	axis(v, 1, -1, 0);
	uint64_t ortho = put_with(m, "third", 0, 0.5, NULL, v);
	axis(v, 0, -1, 0);
	v[0] = -1;
	uint64_t opposite = put_with(m, "fourth", 0, 0.5, NULL, v);

	for (int pass = 0; pass < 2; pass++) {
		/* pass 1: a fresh handle loads the index from storage */
		cog_memory *s = pass ? open_ns("acme/alice", DIM) : m;
		char q[1024];
		axis(v, 0, -1, 0);
		v[0] = 3.0f;   /* not unit length: normalised */
		snprintf(q, sizeof(q), "{\"vector\":%s,\"k\":10}", vec_json(v));
		cJSON *r = search(s, q);
		ck_assert_int_eq(nresults(r), 4);
		uint64_t want[] = { exact, half, ortho, opposite };
		double cos[] = { 1.0, 1.0 / sqrt(2.0), 0.0, -1.0 };
		for (int i = 0; i < 4; i++) {
			ck_assert_uint_eq(id_at(r, i), want[i]);
			const cJSON *vs = signal(r, i, "vector");
			ck_assert_ptr_nonnull(vs);
			ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(vs, "rank")), i + 1);
			ck_assert_double_eq_tol(cJSON_GetNumberValue(cJSON_GetObjectItem(vs, "cosine")),
			                        cos[i], 1e-4);
			ck_assert_ptr_null(signal(r, i, "keyword"));
			const cJSON *res = result_at(r, i);
			ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(res, "embed_model")),
			                 "host");
			ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(res, "dim")), DIM);
		}
		cJSON_Delete(r);
		if (pass)
			cog_memory_free(s);
	}
	cog_memory_free(m);
	ctx_done();
}
END_TEST

START_TEST(hybrid_both_lists_win)
{
	ctx_for(_i);
	cog_memory *m = open_ns("acme/alice", DIM);
	float v[DIM];
	/* enough filler that the vector list (50 for k 3) leaves some out */
	for (int i = 0; i < 60; i++) {
		char text[64];
		snprintf(text, sizeof(text), "filler note number %d", i);
		axis(v, 2 + i % 10, 1, 0.1f * (float)(i % 7));
		put_with(m, text, 0, 0.5, NULL, v);
	}
	axis(v, 0, -1, 0);
	uint64_t both = put_with(m, "quartz", 0, 0.5, NULL, v);          /* keyword 2, vector 1 */
	axis(v, 0, -1, 0);
	v[0] = -1;
	uint64_t kw_only = put_with(m, "quartz quartz", 0, 0.5, NULL, v); /* keyword 1, vector last */
	axis(v, 0, 1, 0.3f);
	uint64_t vec_only = put_with(m, "granite", 0, 0.5, NULL, v);      /* vector 2 */

	axis(v, 0, -1, 0);
	char q[1024];
	snprintf(q, sizeof(q), "{\"text\":\"quartz\",\"vector\":%s,\"k\":3}", vec_json(v));
	cJSON *r = search(m, q);
	ck_assert_int_eq(nresults(r), 3);
	ck_assert_uint_eq(id_at(r, 0), both);
	ck_assert_uint_eq(id_at(r, 1), kw_only);
	ck_assert_uint_eq(id_at(r, 2), vec_only);
	/* signals only for the lists that found each one */
	ck_assert_ptr_nonnull(signal(r, 0, "keyword"));
	ck_assert_ptr_nonnull(signal(r, 0, "vector"));
	ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(signal(r, 0, "keyword"),
	                                                               "rank")), 2);
	ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(signal(r, 0, "vector"),
	                                                               "rank")), 1);
	ck_assert_ptr_nonnull(signal(r, 1, "keyword"));
	ck_assert_ptr_null(signal(r, 1, "vector"));
	ck_assert_ptr_null(signal(r, 2, "keyword"));
	ck_assert_ptr_nonnull(signal(r, 2, "vector"));
	double s0 = cJSON_GetNumberValue(cJSON_GetObjectItem(result_at(r, 0), "score"));
	double s1 = cJSON_GetNumberValue(cJSON_GetObjectItem(result_at(r, 1), "score"));
	double s2 = cJSON_GetNumberValue(cJSON_GetObjectItem(result_at(r, 2), "score"));
	ck_assert(s0 > s1 && s1 > s2 && s2 > 0);
	cJSON_Delete(r);

	/* importance decides between equal matches (weight 2: 0 zeroes a score) */
	cog_memory *n = open_ns("acme/bob", DIM);
	axis(v, 0, -1, 0);
	uint64_t plain = put_with(n, "quartz", 0, 0.0, NULL, v);
	uint64_t vip = put_with(n, "quartz", 0, 1.0, NULL, v);
	snprintf(q, sizeof(q), "{\"text\":\"quartz\",\"vector\":%s,\"weights\":{\"importance\":2}}",
	         vec_json(v));
	r = search(n, q);
	ck_assert_int_eq(nresults(r), 2);
	ck_assert_uint_eq(id_at(r, 0), vip);
	ck_assert_uint_eq(id_at(r, 1), plain);
	ck_assert_double_eq_tol(cJSON_GetNumberValue(signal(r, 0, "importance")), 1.0, 1e-12);
	cJSON_Delete(r);
	/* weights 0 switch a list off: its signal disappears */
	snprintf(q, sizeof(q), "{\"text\":\"quartz\",\"vector\":%s,\"weights\":{\"keyword\":0}}",
	         vec_json(v));
	r = search(n, q);
	ck_assert_int_eq(nresults(r), 2);
	ck_assert_ptr_null(signal(r, 0, "keyword"));
	ck_assert_ptr_nonnull(signal(r, 0, "vector"));
	cJSON_Delete(r);
	cog_memory_free(n);
	cog_memory_free(m);
	ctx_done();
}
END_TEST

START_TEST(layers)
{
	ctx_for(_i);
	cog_memory *m = open_ns("acme/alice/helper/s1", 384);
	uint64_t st = put_with(m, "the pelican note short", COG_MEMORY_SHORT_TERM, 0.5, NULL, NULL);
	uint64_t lt = put_with(m, "the pelican note long", COG_MEMORY_LONG_TERM, 0.5, NULL, NULL);
	uint64_t ep = put_with(m, "the pelican note episode", COG_MEMORY_EPISODIC, 0.5, NULL, NULL);
	uint64_t wk = put_with(m, "the pelican note working", COG_MEMORY_WORKING, 0.5, NULL, NULL);
	put(m, "unrelated");

	cJSON *r = search(m, "{\"text\":\"pelican\",\"weights\":{\"vector\":0}}");
	ck_assert_int_eq(nresults(r), 4);
	cJSON_Delete(r);

	r = search(m, "{\"text\":\"pelican\",\"layers\":[\"short_term\"]}");
	for (int i = 0; i < nresults(r); i++)
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(result_at(r, i), "layer")),
		                 "short_term");
	ck_assert(has_id(r, st) && !has_id(r, lt));
	cJSON_Delete(r);

	r = search(m, "{\"text\":\"pelican\",\"layers\":[\"long_term\",\"episodic\"],"
	              "\"weights\":{\"vector\":0}}");
	ck_assert_int_eq(nresults(r), 2);
	ck_assert(has_id(r, lt) && has_id(r, ep));
	cJSON_Delete(r);

	/* the working layer: found by both sides, from RAM */
	r = search(m, "{\"text\":\"pelican working\",\"layers\":[\"working\"]}");
	ck_assert_int_eq(nresults(r), 1);
	ck_assert_uint_eq(id_at(r, 0), wk);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(result_at(r, 0), "layer")),
	                 "working");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(result_at(r, 0), "namespace")),
	                 "acme/alice/helper/s1");
	ck_assert_ptr_nonnull(signal(r, 0, "keyword"));
	ck_assert_ptr_nonnull(signal(r, 0, "vector"));
	cJSON_Delete(r);

	/* working joins the stored ones; the best match ranks first */
	r = search(m, "{\"text\":\"pelican working\",\"k\":10}");
	ck_assert_uint_eq(id_at(r, 0), wk);
	ck_assert(has_id(r, st) && has_id(r, lt) && has_id(r, ep));
	cJSON_Delete(r);

	/* another handle of the namespace sees the stored layers, not working */
	cog_memory *other = open_ns("acme/alice/helper/s1", 384);
	r = search(other, "{\"text\":\"pelican\",\"weights\":{\"vector\":0}}");
	ck_assert_int_eq(nresults(r), 3);
	ck_assert(!has_id(r, wk));
	cJSON_Delete(r);
	cog_memory_free(other);
	cog_memory_free(m);
	ctx_done();
}
END_TEST

START_TEST(metadata_filter)
{
	ctx_for(_i);
	cog_memory *m = open_ns("acme/alice", 384);
	uint64_t b1 = put_with(m, "refund request", 0, 0.5, "{\"topic\":\"billing\"}", NULL);
	uint64_t b2 = put_with(m, "refund approved", 0, 0.5,
	                       "{\"topic\":\"billing\",\"pinned\":true,\"n\":3}", NULL);
	uint64_t s1 = put_with(m, "refund question", 0, 0.5, "{\"topic\":\"support\"}", NULL);
	uint64_t w1 = put_with(m, "refund in progress", COG_MEMORY_WORKING, 0.5,
	                       "{\"topic\":\"billing\"}", NULL);
	uint64_t w2 = put_with(m, "refund on hold", COG_MEMORY_WORKING, 0.5,
	                       "{\"topic\":\"support\",\"pinned\":false}", NULL);

	cJSON *r = search(m, "{\"text\":\"refund\",\"metadata\":{\"topic\":\"billing\"}}");
	ck_assert_int_eq(nresults(r), 3);
	ck_assert(has_id(r, b1) && has_id(r, b2) && has_id(r, w1));
	cJSON_Delete(r);

	r = search(m, "{\"text\":\"refund\",\"metadata\":{\"pinned\":true,\"n\":3}}");
	ck_assert_int_eq(nresults(r), 1);
	ck_assert_uint_eq(id_at(r, 0), b2);
	cJSON_Delete(r);

	/* null matches an absent member or null */
	r = search(m, "{\"text\":\"refund\",\"metadata\":{\"pinned\":null}}");
	ck_assert_int_eq(nresults(r), 3);
	ck_assert(has_id(r, b1) && has_id(r, s1) && has_id(r, w1));
	cJSON_Delete(r);

	/* vector side filtered too: a text of no shared word, all by vector */
	r = search(m, "{\"text\":\"refunds elsewhere\",\"metadata\":{\"topic\":\"support\"},"
	              "\"weights\":{\"keyword\":0}}");
	ck_assert_int_eq(nresults(r), 2);
	ck_assert(has_id(r, s1) && has_id(r, w2));
	cJSON_Delete(r);

	r = search(m, "{\"text\":\"refund\",\"metadata\":{\"topic\":\"nothing\"}}");
	ck_assert_int_eq(nresults(r), 0);
	cJSON_Delete(r);
	r = search(m, "{\"text\":\"refund\",\"metadata\":{}}");
	ck_assert_int_eq(nresults(r), 5);
	cJSON_Delete(r);
	cog_memory_free(m);
	ctx_done();
}
END_TEST

static int64_t created_at(cog_memory *m, uint64_t id)
{
	char *json = NULL;
	ck_assert_cog(cog_memory_get(m, id, &json));
	cJSON *o = cJSON_Parse(json);
	int64_t t = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "created_at"));
	cJSON_Delete(o);
	cog_free(json);
	return t;
}

START_TEST(time_range)
{
	ctx_for(_i);
	cog_memory *m = open_ns("acme/alice", 384);
	uint64_t a = put(m, "meeting notes one");
	usleep(5000);
	uint64_t b = put(m, "meeting notes two");
	usleep(5000);
	uint64_t c = put(m, "meeting notes three");
	int64_t ta = created_at(m, a), tb = created_at(m, b), tc = created_at(m, c);
	ck_assert(ta < tb && tb < tc);
	char q[256];
	snprintf(q, sizeof(q), "{\"text\":\"meeting\",\"since\":%lld}", (long long)tb);
	cJSON *r = search(m, q);
	ck_assert_int_eq(nresults(r), 2);
	ck_assert(has_id(r, b) && has_id(r, c));
	cJSON_Delete(r);
	snprintf(q, sizeof(q), "{\"text\":\"meeting\",\"until\":%lld}", (long long)tb);
	r = search(m, q);
	ck_assert_int_eq(nresults(r), 1);
	ck_assert(has_id(r, a));
	cJSON_Delete(r);
	snprintf(q, sizeof(q), "{\"text\":\"meeting\",\"since\":%lld,\"until\":%lld}",
	         (long long)tb, (long long)tc);
	r = search(m, q);
	ck_assert_int_eq(nresults(r), 1);
	ck_assert(has_id(r, b));
	cJSON_Delete(r);
	/* the working layer too */
	uint64_t w = put_with(m, "meeting notes working", COG_MEMORY_WORKING, 0.5, NULL, NULL);
	snprintf(q, sizeof(q), "{\"text\":\"meeting\",\"until\":%lld}", (long long)tc);
	r = search(m, q);
	ck_assert_int_eq(nresults(r), 2);
	ck_assert(!has_id(r, w));
	cJSON_Delete(r);
	snprintf(q, sizeof(q), "{\"text\":\"meeting\",\"since\":%lld}", (long long)tc);
	r = search(m, q);
	ck_assert(has_id(r, w) && has_id(r, c) && !has_id(r, b));
	cJSON_Delete(r);
	cog_memory_free(m);
	ctx_done();
}
END_TEST

static void assert_namespaces(const cJSON *r, const char *const *allowed, int n)
{
	for (int i = 0; i < nresults(r); i++) {
		const char *ns = cJSON_GetStringValue(cJSON_GetObjectItem(result_at(r, i), "namespace"));
		bool ok = false;
		for (int j = 0; j < n; j++)
			ok = ok || strcmp(ns, allowed[j]) == 0;
		ck_assert_msg(ok, "result %d from namespace %s", i, ns);
	}
}

START_TEST(inherit)
{
	ctx_for(_i);
	const char *names[] = {
		"acme", "acme/alice", "acme/alice/helper", "acme/alice/helper/s1",
		"acme/alice/helper/s2", "acme/bob", "beta/alice", "beta/alice/helper/s1",
	};
	enum { N = (int)LEN(names) };
	cog_memory *h[N];
	uint64_t ids[N];
	for (int i = 0; i < N; i++) {
		h[i] = open_ns(names[i], 384);
		char text[128];
		snprintf(text, sizeof(text), "policy note for %s", names[i]);
		ids[i] = put(h[i], text);
	}
	cog_memory *s1 = h[3];
	const char *q_plain[] = {
		"{\"text\":\"policy note\",\"k\":100}",
		"{\"text\":\"policy note\",\"k\":100,\"weights\":{\"vector\":0}}",
		"{\"text\":\"policy note\",\"k\":100,\"weights\":{\"keyword\":0}}",
	};
	for (size_t i = 0; i < LEN(q_plain); i++) {
		cJSON *r = search(s1, q_plain[i]);
		ck_assert_int_eq(nresults(r), 1);
		ck_assert_uint_eq(id_at(r, 0), ids[3]);
		cJSON_Delete(r);
	}
	const char *q_inherit[] = {
		"{\"text\":\"policy note\",\"k\":100,\"inherit\":true}",
		"{\"text\":\"policy note\",\"k\":100,\"inherit\":true,\"weights\":{\"vector\":0}}",
		"{\"text\":\"policy note\",\"k\":100,\"inherit\":true,\"weights\":{\"keyword\":0}}",
	};
	const char *chain[] = { names[0], names[1], names[2], names[3] };
	for (size_t i = 0; i < LEN(q_inherit); i++) {
		cJSON *r = search(s1, q_inherit[i]);
		ck_assert_int_eq(nresults(r), 4);
		assert_namespaces(r, chain, 4);
		for (int j = 0; j < 4; j++)
			ck_assert(has_id(r, ids[j]));
		cJSON_Delete(r);
	}
	/* the principal inherits from the tenant only, never its sessions */
	cJSON *r = search(h[1], "{\"text\":\"policy\",\"inherit\":true}");
	ck_assert_int_eq(nresults(r), 2);
	ck_assert(has_id(r, ids[0]) && has_id(r, ids[1]));
	cJSON_Delete(r);
	/* a later write of the sibling stays invisible; the parent's appears */
	put(h[4], "policy addendum for the sibling");
	uint64_t late = put(h[1], "policy addendum for alice");
	r = search(s1, "{\"text\":\"policy addendum\",\"inherit\":true}");
	assert_namespaces(r, chain, 4);
	ck_assert(has_id(r, late));
	cJSON_Delete(r);
	for (int i = 0; i < N; i++)
		cog_memory_free(h[i]);
	ctx_done();
}
END_TEST

START_TEST(hostile_text)
{
	ctx_for(_i);
	cog_memory *m = open_ns("acme/alice", 384);
	put(m, "apple pie recipe");
	put(m, "the drop table incident report");
	put(m, "select the best option");
	static const char *texts[] = {
		"\\\"", "*", "apple*", "\\\"apple", "apple OR pie", "apple AND NOT pie", "NEAR(apple pie)",
		"text:apple", "^apple", "-apple", "+apple", "(((", ")", "{apple}", "[pie]",
		"'); DROP TABLE memories; --", "\\\" OR 1=1 --", "apple' OR '1'='1",
		"%", "_", "\\\\", "' UNION SELECT * FROM sqlite_master --", "; VACUUM;",
"émoji 🍎 ünïcode", "a:b:c", "\\\"\\\"\\\"", "NOT", "OR", "AND",
		"-", "..", "''", "`rm -rf`", "\\t\\n", "col1:apple col2:pie", "* OR *",
	};
	for (size_t i = 0; i < LEN(texts); i++) {
		for (int mode = 0; mode < 3; mode++) {
			static const char *w[] = { "", ",\"weights\":{\"vector\":0}",
			                           ",\"weights\":{\"keyword\":0}" };
			char q[256];
			snprintf(q, sizeof(q), "{\"text\":\"%s\"%s}", texts[i], w[mode]);
			cJSON *r = search(m, q);
			cJSON_Delete(r);
		}
	}
	/* nothing was lost or changed */
	cJSON *r = search(m, "{\"text\":\"apple drop select\",\"weights\":{\"vector\":0}}");
	ck_assert_int_eq(nresults(r), 3);
	cJSON_Delete(r);
	/* the words of hostile text still match as words */
	r = search(m, "{\"text\":\"'); DROP TABLE memories; --\",\"weights\":{\"vector\":0}}");
	ck_assert_int_eq(nresults(r), 1);
	cJSON_Delete(r);
	r = search(m, "{\"text\":\"*\"}");
	ck_assert_int_eq(nresults(r), 0);
	cJSON_Delete(r);
	cog_memory_free(m);
	ctx_done();
}
END_TEST

START_TEST(unknown_namespace)
{
	ctx_for(_i);
	cog_memory *m = open_ns("acme/alice", 384);
	put(m, "something to find");
	cog_memory_free(m);
	const char *empty[] = { "nobody", "acme/bob/helper/s9", "acme/alicex", "ACME/alice" };
	for (size_t i = 0; i < LEN(empty); i++) {
		m = open_ns(empty[i], 384);
		const char *qs[] = { "{\"text\":\"something\"}",
		                     "{\"text\":\"something\",\"inherit\":true,\"k\":1000}" };
		for (int j = 0; j < 2; j++) {
			char *json = NULL;
			ck_assert_cog(cog_memory_search(m, qs[j], &json));
			cJSON *r = cJSON_Parse(json);
			ck_assert_int_eq(nresults(r), 0);
			cJSON_Delete(r);
			ck_assert(strncmp(json, "{\"results\":[]", 13) == 0);
			cog_free(json);
		}
		cog_memory_free(m);
	}
	ctx_done();
}
END_TEST

START_TEST(bad_queries)
{
	ctx_for(_i);
	cog_memory *m = open_ns("acme/alice", DIM);
	put(m, "something");
	float v[DIM];
	axis(v, 0, -1, 0);
	char long_vec[1024];   /* DIM + 1 elements */
	const char *vj = vec_json(v);
	snprintf(long_vec, sizeof(long_vec), "{\"vector\":%.*s,1]}", (int)strlen(vj) - 1, vj);
	static const struct { const char *q; const char *needle; } bad[] = {
		{ "{\"text\":\"a\",\"k\":0}", "\"k\"" },
		{ "{\"text\":\"a\",\"k\":1001}", "\"k\"" },
		{ "{\"text\":\"a\",\"k\":2.5}", "\"k\"" },
		{ "{\"text\":\"a\",\"k\":\"10\"}", "\"k\"" },
		{ "{}", "\"text\"" },
		{ "{\"text\":\"\"}", "\"text\"" },
		{ "{\"k\":5}", "\"vector\"" },
		{ "{\"text\":5}", "\"text\"" },
		{ "{\"vector\":[]}", "\"vector\"" },
		{ "{\"vector\":[1,\"x\"]}", "\"vector\"" },
		{ "{\"vector\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}", "\"vector\"" },
		{ "{\"vector\":[1,2,3]}", "\"vector\"" },
		{ "{\"text\":\"a\",\"layer\":[\"working\"]}", "\"layer\"" },
		{ "{\"text\":\"a\",\"Text\":\"b\"}", "\"Text\"" },
		{ "{\"text\":\"a\",\"text\":\"b\"}", "\"text\"" },
		{ "{\"text\":\"a\",\"weights\":{\"keyword\":-1}}", "\"keyword\"" },
		{ "{\"text\":\"a\",\"weights\":{\"vector\":\"1\"}}", "\"vector\"" },
		{ "{\"text\":\"a\",\"weights\":{\"recency\":1.5}}", "\"recency\"" },
		{ "{\"text\":\"a\",\"weights\":{\"importance\":-0.1}}", "\"importance\"" },
		{ "{\"text\":\"a\",\"weights\":{\"speed\":1}}", "\"speed\"" },
		{ "{\"text\":\"a\",\"weights\":[1,1]}", "\"weights\"" },
		{ "{\"text\":\"a\",\"weights\":{\"keyword\":0,\"vector\":0}}", "\"keyword\"" },
		{ "{\"text\":\"a\",\"weights\":{\"keyword\":1e400}}", "\"keyword\"" },
		{ "{\"text\":\"a\",\"half_life_ms\":0}", "\"half_life_ms\"" },
		{ "{\"text\":\"a\",\"half_life_ms\":-5}", "\"half_life_ms\"" },
		{ "{\"text\":\"a\",\"layers\":[\"forever\"]}", "layers[0]" },
		{ "{\"text\":\"a\",\"layers\":[]}", "\"layers\"" },
		{ "{\"text\":\"a\",\"layers\":\"working\"}", "\"layers\"" },
		{ "{\"text\":\"a\",\"metadata\":{\"a\":{\"b\":1}}}", "\"a\"" },
		{ "{\"text\":\"a\",\"metadata\":[1]}", "\"metadata\"" },
		{ "{\"text\":\"a\",\"since\":-1}", "\"since\"" },
		{ "{\"text\":\"a\",\"until\":0}", "\"until\"" },
		{ "{\"text\":\"a\",\"since\":10,\"until\":10}", "\"until\"" },
		{ "{\"text\":\"a\",\"since\":\"yesterday\"}", "\"since\"" },
		{ "{\"text\":\"a\",\"inherit\":1}", "\"inherit\"" },
		{ "{\"vector\":[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],\"weights\":{\"vector\":0}}",
		  "\"vector\"" },
		{ "[\"text\"]", "object" },
		{ "{\"text\":\"a\"", "query" },
		{ "", "query" },
	};
	for (size_t i = 0; i < LEN(bad); i++)
		search_fails(m, bad[i].q, COG_EINVAL, bad[i].needle);
	search_fails(m, long_vec, COG_EINVAL, "\"vector\"");
	char *json = NULL;
	ck_assert_int_eq(cog_memory_search(NULL, "{\"text\":\"a\"}", &json), COG_EINVAL);
	ck_assert_int_eq(cog_memory_search(m, NULL, &json), COG_EINVAL);
	ck_assert_int_eq(cog_memory_search(m, "{\"text\":\"a\"}", NULL), COG_EINVAL);
	/* at the bounds: fine */
	cJSON *r = search(m, "{\"text\":\"something\",\"k\":1000}");
	ck_assert_int_eq(nresults(r), 1);
	cJSON_Delete(r);
	r = search(m, "{\"text\":\"something\",\"k\":1,\"weights\":{\"recency\":1,\"importance\":2},"
	              "\"half_life_ms\":1,\"layers\":null,\"metadata\":null}");
	ck_assert_int_eq(nresults(r), 1);
	cJSON_Delete(r);
	/* nothing stored was harmed, and failures were not counted */
	char *stats = NULL;
	ck_assert_cog(cog_memory_stats(m, &stats));
	cJSON *st = cJSON_Parse(stats);
	ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(st, "searches")), 2);
	cJSON_Delete(st);
	cog_free(stats);
	cog_memory_free(m);
	ctx_done();
}
END_TEST

START_TEST(forgotten_and_expired)
{
	ctx_for(_i);
	cog_memory *m = open_ns("acme/alice", 384);
	uint64_t keep = put(m, "harbor report keep");
	uint64_t gone = put(m, "harbor report gone");
	cog_memory_put_options po = COG_MEMORY_PUT_OPTIONS_INIT;
	po.ttl_ms = 1;
	uint64_t expiring = 0;
	ck_assert_cog(cog_memory_put(m, "harbor report expiring", &po, &expiring));
	po.layer = COG_MEMORY_SHORT_TERM;
	po.ttl_ms = 0;
	uint64_t short_term = 0;
	ck_assert_cog(cog_memory_put(m, "harbor report short", &po, &short_term));
	uint64_t other_gone = put(m, "harbor report forgotten elsewhere");
	uint64_t filtered_gone = put_with(m, "harbor report by filter", 0, 0.5,
	                                  "{\"drop\":true}", NULL);
	/* load the index before anything goes */
	cJSON *r = search(m, "{\"text\":\"harbor\",\"k\":100}");
	cJSON_Delete(r);
	usleep(20000);

	ck_assert_cog(cog_memory_forget(m, gone));
	cog_memory *other = open_ns("acme/alice", 384);
	ck_assert_cog(cog_memory_forget(other, other_gone));
	size_t count = 0;
	ck_assert_cog(cog_memory_forget_where(other, "{\"metadata\":{\"drop\":true}}", &count));
	ck_assert_uint_eq(count, 1);
	cog_memory_free(other);

	const char *qs[] = {
		"{\"text\":\"harbor report\",\"k\":100}",
		"{\"text\":\"harbor report\",\"k\":100,\"weights\":{\"vector\":0}}",
		"{\"text\":\"harbor report\",\"k\":100,\"weights\":{\"keyword\":0}}",
	};
	for (int pass = 0; pass < 2; pass++) {
		cog_memory *s = pass ? open_ns("acme/alice", 384) : m;
		for (size_t i = 0; i < LEN(qs); i++) {
			r = search(s, qs[i]);
			ck_assert_int_eq(nresults(r), 2);
			ck_assert(has_id(r, keep) && has_id(r, short_term));
			ck_assert(!has_id(r, gone) && !has_id(r, expiring) && !has_id(r, other_gone) &&
			          !has_id(r, filtered_gone));
			cJSON_Delete(r);
		}
		if (pass)
			cog_memory_free(s);
	}
	/* a forgotten working item is gone too */
	uint64_t w = put_with(m, "harbor report working", COG_MEMORY_WORKING, 0.5, NULL, NULL);
	r = search(m, qs[0]);
	ck_assert(has_id(r, w));
	cJSON_Delete(r);
	ck_assert_cog(cog_memory_forget(m, w));
	r = search(m, qs[0]);
	ck_assert(!has_id(r, w));
	ck_assert_int_eq(nresults(r), 2);
	cJSON_Delete(r);
	cog_memory_free(m);
	ctx_done();
}
END_TEST

/* Over-fetching: a selective filter still finds its memories by vector. */
START_TEST(selective_filter_vector)
{
	ctx_for(_i);
	cog_memory *m = open_ns("acme/alice", DIM);
	float v[DIM];
	uint64_t rare[2];
	for (int i = 0; i < 400; i++) {
		char text[64];
		snprintf(text, sizeof(text), "entry %d", i);
		axis(v, 0, 1 + i % 15, 0.01f * (float)(i % 50));
		if (i % 150 == 149) {
			v[0] = -1.0f;   /* far from the query, and the only "rare" ones */
			rare[i / 150] = put_with(m, text, 0, 0.5, "{\"kind\":\"rare\"}", v);
		} else {
			put_with(m, text, 0, 0.5, "{\"kind\":\"common\"}", v);
		}
	}
	axis(v, 0, -1, 0);
	char q[1024];
	snprintf(q, sizeof(q), "{\"vector\":%s,\"k\":5,\"metadata\":{\"kind\":\"rare\"}}",
	         vec_json(v));
	cJSON *r = search(m, q);
	ck_assert_int_eq(nresults(r), 2);
	for (int i = 0; i < 2; i++)
		ck_assert(has_id(r, rare[i]));
	cJSON_Delete(r);
	cog_memory_free(m);
	ctx_done();
}
END_TEST

static Suite *search_suite(void)
{
	Suite *s = suite_create("memory-search");
	TCase *tc = tcase_create("search");
	tcase_set_timeout(tc, 120);
	int n = (int)LEN(backends);
	tcase_add_loop_test(tc, keyword_hits_and_order, 0, n);
	tcase_add_loop_test(tc, vector_only, 0, n);
	tcase_add_loop_test(tc, hybrid_both_lists_win, 0, n);
	tcase_add_loop_test(tc, layers, 0, n);
	tcase_add_loop_test(tc, metadata_filter, 0, n);
	tcase_add_loop_test(tc, time_range, 0, n);
	tcase_add_loop_test(tc, inherit, 0, n);
	tcase_add_loop_test(tc, hostile_text, 0, n);
	tcase_add_loop_test(tc, unknown_namespace, 0, n);
	tcase_add_loop_test(tc, bad_queries, 0, n);
	tcase_add_loop_test(tc, forgotten_and_expired, 0, n);
	tcase_add_loop_test(tc, selective_filter_vector, 0, n);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(search_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
