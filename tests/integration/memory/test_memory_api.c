/*
 * cog_memory through the public API: put / put_json / get / forget /
 * forget_where / record_episode / purge / stats, over a real SQLite file, the
 * in-memory store, and a context without storage (the fallback store). Every
 * error of memory.h, the bad input of the issue, short-term expiry, merging
 * of near duplicates, redaction on the way in, working memory (RAM only,
 * token-bounded), a put inside a transaction that rolls back, persistence.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <cjson/cJSON.h>

#include <cognition.h>
#include <cognition/sqlite.h>

#include "llm_test.h"
#include "test_tmp.h"

enum { BACKEND_SQLITE, BACKEND_MEMORY, BACKEND_NONE, BACKENDS };

static cog_ctx *ctx_open(int backend)
{
	cog_ctx *ctx = NULL;
	ck_assert_int_eq(cog_ctx_new(&ctx, NULL), 0);
	cog_storage *s = NULL;
	if (backend == BACKEND_SQLITE) {
		cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
		so.durability = COG_SQLITE_DURABLE_NORMAL;
		ck_assert_msg(cog_sqlite_storage_open(&s, tmp_file("memory.db"), &so) == 0, "%s",
		              cog_error_last());
	} else if (backend == BACKEND_MEMORY) {
		ck_assert_int_eq(cog_storage_memory_new(&s), 0);
	}
	if (s)
		ck_assert_int_eq(cog_ctx_set_storage(ctx, s), 0);
	return ctx;
}

static cog_memory *mem_open(cog_ctx *ctx, const char *ns, cog_memory_options *o)
{
	cog_memory_options def = COG_MEMORY_OPTIONS_INIT;
	if (!o) {
		def.embedder = "hashing";
		o = &def;
	}
	cog_memory *m = NULL;
	ck_assert_msg(cog_memory_open_with(&m, ctx, ns, o) == 0, "%s", cog_error_last());
	return m;
}

static void setup(void)
{
	tmp_dir_make("cogmem-");
}

static void teardown(void)
{
	tmp_dir_remove();
}

/* ---- helpers ---- */

static uint64_t put_opt(cog_memory *m, const char *text, const cog_memory_put_options *o,
                        int want)
{
	uint64_t id = 0;
	int rc = cog_memory_put(m, text, o, &id);
	ck_assert_msg(rc == want, "put \"%.40s\": %d, wanted %d: %s", text, rc, want,
	              cog_error_last());
	ck_assert(id > 0);
	return id;
}

static uint64_t put(cog_memory *m, const char *text)
{
	return put_opt(m, text, NULL, 0);
}

static uint64_t put_meta(cog_memory *m, const char *text, unsigned layer, const char *md)
{
	cog_memory_put_options o = COG_MEMORY_PUT_OPTIONS_INIT;
	o.layer = layer;
	o.metadata = md;
	o.no_dedupe = 1;
	return put_opt(m, text, &o, 0);
}

/* The memory as a parsed object; NULL when get says COG_ENOTFOUND. */
static cJSON *get(cog_memory *m, uint64_t id)
{
	char *json = NULL;
	int rc = cog_memory_get(m, id, &json);
	if (rc == COG_ENOTFOUND) {
		ck_assert_ptr_null(json);
		return NULL;
	}
	ck_assert_msg(rc == 0, "get %llu: %s", (unsigned long long)id, cog_error_last());
	cJSON *o = cJSON_Parse(json);
	ck_assert_ptr_nonnull(o);
	cog_free(json);
	return o;
}

static const char *str_of(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	ck_assert_msg(cJSON_IsString(v), "member %s is not a string", name);
	return v->valuestring;
}

static double num_of(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	ck_assert_msg(cJSON_IsNumber(v), "member %s is not a number", name);
	return v->valuedouble;
}

static void expect_error(int rc, int want, const char *needle)
{
	ck_assert_msg(rc == want, "status %d, wanted %d (%s)", rc, want, cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), needle), "message \"%s\" lacks \"%s\"",
	              cog_error_last(), needle);
}

static size_t forget_all(cog_memory *m)
{
	size_t n = 99;
	ck_assert_msg(cog_memory_forget_where(m, "{\"all\":true}", &n) == 0, "%s",
	              cog_error_last());
	return n;
}

/* Ids found by a search for text (k 100, every layer). */
static size_t search_ids(cog_memory *m, const char *text, uint64_t *ids, size_t cap)
{
	char query[512], *result = NULL;
	snprintf(query, sizeof(query), "{\"text\":\"%s\",\"k\":100}", text);
	ck_assert_msg(cog_memory_search(m, query, &result) == 0, "%s", cog_error_last());
	cJSON *r = cJSON_Parse(result);
	ck_assert_ptr_nonnull(r);
	size_t n = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r, "results")) {
		if (n < cap)
			ids[n] = (uint64_t)num_of(e, "id");
		n++;
	}
	cJSON_Delete(r);
	cog_free(result);
	return n;
}

static bool has_id(const uint64_t *ids, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static cJSON *stats(cog_memory *m)
{
	char *json = NULL;
	ck_assert_msg(cog_memory_stats(m, &json) == 0, "%s", cog_error_last());
	cJSON *o = cJSON_Parse(json);
	ck_assert_ptr_nonnull(o);
	cog_free(json);
	return o;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* ---- put and get ---- */

START_TEST(test_put_get)
{
	cog_ctx *ctx = ctx_open(_i);
	cog_memory *m = mem_open(ctx, "acme/alice", NULL);
	cog_memory_put_options o = COG_MEMORY_PUT_OPTIONS_INIT;
	o.importance = 0.8;
	o.metadata = " {\"topic\": \"billing\", \"n\": 3} ";
	uint64_t id = put_opt(m, "The invoice for March is overdue.", &o, 0);
	ck_assert(id < (UINT64_C(1) << 52));
	cJSON *g = get(m, id);
	ck_assert_ptr_nonnull(g);
	ck_assert(num_of(g, "id") == (double)id);
	ck_assert_str_eq(str_of(g, "namespace"), "acme/alice");
	ck_assert_str_eq(str_of(g, "layer"), "long_term");
	ck_assert_str_eq(str_of(g, "text"), "The invoice for March is overdue.");
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(g, "metadata");
	ck_assert(cJSON_IsObject(md));
	ck_assert_str_eq(str_of(md, "topic"), "billing");
	ck_assert(num_of(md, "n") == 3);
	ck_assert(num_of(g, "importance") == 0.8);
	double created = num_of(g, "created_at");
	ck_assert(created > 1.6e12);
	ck_assert(num_of(g, "updated_at") == created);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(g, "expires_at")));
	ck_assert_str_eq(str_of(g, "embed_model"), "hash-384");
	ck_assert(num_of(g, "dim") == 384);
	cJSON_Delete(g);

	/* NULL options: long-term, importance 0.5, metadata {} */
	uint64_t id2 = put(m, "Completely different words here");
	ck_assert_uint_ne(id2, id);
	g = get(m, id2);
	ck_assert_str_eq(str_of(g, "layer"), "long_term");
	ck_assert(num_of(g, "importance") == 0.5);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g, "metadata")), 0);
	cJSON_Delete(g);
	/* the id pointer is optional */
	ck_assert_int_eq(cog_memory_put(m, "a third memory without an id", NULL, NULL), 0);

	/* get: errors */
	char *json = (char *)"x";
	expect_error(cog_memory_get(m, 987654321, &json), COG_ENOTFOUND, "987654321");
	ck_assert_ptr_null(json);
	expect_error(cog_memory_get(m, 0, &json), COG_ENOTFOUND, "no memory");
	expect_error(cog_memory_get(m, UINT64_MAX, &json), COG_ENOTFOUND, "no memory");
	expect_error(cog_memory_get(NULL, id, &json), COG_EINVAL, "mem is NULL");
	expect_error(cog_memory_get(m, id, NULL), COG_EINVAL, "json is NULL");
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(test_default_options)
{
	/* auto embedder without an LLM: the hashing embedder */
	cog_ctx *ctx = ctx_open(_i);
	cog_memory *m = NULL;
	ck_assert_int_eq(cog_memory_open(&m, ctx, "acme"), 0);
	uint64_t id = put(m, "remember the milk");
	cJSON *g = get(m, id);
	ck_assert_str_eq(str_of(g, "embed_model"), "hash-384");
	cJSON_Delete(g);
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(test_bad_input)
{
	cog_ctx *ctx = ctx_open(_i);
	cog_memory_options mo = COG_MEMORY_OPTIONS_INIT;
	mo.embedder = "hashing";
	mo.max_text_bytes = 100;
	cog_memory *m = mem_open(ctx, "acme", &mo);
	cog_memory_put_options o = COG_MEMORY_PUT_OPTIONS_INIT;
	uint64_t id = 77;

	expect_error(cog_memory_put(NULL, "x", NULL, &id), COG_EINVAL, "mem is NULL");
	ck_assert_uint_eq(id, 0);
	expect_error(cog_memory_put(m, NULL, NULL, &id), COG_EINVAL, "text is NULL");
	expect_error(cog_memory_put(m, "", NULL, &id), COG_EINVAL, "text is empty");
	/* the cap: 100 bytes pass, 101 do not */
	char big[102];
	memset(big, 'a', 101);
	big[101] = '\0';
	expect_error(cog_memory_put(m, big, NULL, &id), COG_ERANGE, "max_text_bytes");
	big[100] = '\0';
	ck_assert_int_eq(cog_memory_put(m, big, NULL, &id), 0);
	ck_assert_uint_ne(id, 0);
	expect_error(cog_memory_put(m, "bad \xff byte", NULL, &id), COG_EINVAL, "byte 4");

	o.metadata = "{\"a\":}";
	expect_error(cog_memory_put(m, "text", &o, &id), COG_EINVAL, "metadata");
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "byte 5"));
	o.metadata = "[1,2]";
	expect_error(cog_memory_put(m, "text", &o, &id), COG_EINVAL, "JSON object");
	o.metadata = "{\"a\":1} {}";
	expect_error(cog_memory_put(m, "text", &o, &id), COG_EINVAL, "metadata");
	o.metadata = NULL;

	unsigned bad_layers[] = { 0x3, 0x10, 0x80000000u };
	for (size_t i = 0; i < sizeof(bad_layers) / sizeof(bad_layers[0]); i++) {
		o.layer = bad_layers[i];
		expect_error(cog_memory_put(m, "text", &o, &id), COG_EINVAL, "layer");
	}
	o.layer = 0;
	double bad_imp[] = { -0.1, 1.5, NAN, INFINITY };
	for (size_t i = 0; i < 4; i++) {
		o.importance = bad_imp[i];
		expect_error(cog_memory_put(m, "text", &o, &id), COG_EINVAL, "importance");
	}
	o.importance = 0.5;
	o.ttl_ms = -1;
	expect_error(cog_memory_put(m, "text", &o, &id), COG_EINVAL, "ttl_ms");
	o.ttl_ms = 0;

	float vec[385];
	for (size_t i = 0; i < 385; i++)
		vec[i] = (float)(i % 7) - 3.0f;
	o.vector = vec;
	o.dim = 383;
	expect_error(cog_memory_put(m, "text", &o, &id), COG_EINVAL, "dimension 383");
	o.dim = 385;
	expect_error(cog_memory_put(m, "text", &o, &id), COG_EINVAL, "dimension 385");
	o.dim = 384;
	vec[10] = NAN;
	expect_error(cog_memory_put(m, "text", &o, &id), COG_EINVAL, "element 10");
	memset(vec, 0, sizeof(vec));
	expect_error(cog_memory_put(m, "text", &o, &id), COG_EINVAL, "zero");
	o.dim = 0;
	expect_error(cog_memory_put(m, "text", &o, &id), COG_EINVAL, "dim 0");
	o.vector = NULL;
	o.dim = 384;
	expect_error(cog_memory_put(m, "text", &o, &id), COG_EINVAL, "vector is NULL");
	o.dim = 0;
	o.embed_model = "";
	expect_error(cog_memory_put(m, "text", &o, &id), COG_EINVAL, "embed_model");
	o.embed_model = NULL;
	o.version = 99;
	expect_error(cog_memory_put(m, "text", &o, &id), COG_EVERSION, "version 99");

	/* only the one good put went in */
	cJSON *s = stats(m);
	ck_assert(num_of(s, "puts") == 1);
	cJSON_Delete(s);
	ck_assert_uint_eq(forget_all(m), 1);
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(test_caller_vector)
{
	cog_ctx *ctx = ctx_open(_i);
	cog_memory_options mo = COG_MEMORY_OPTIONS_INIT;
	mo.embedder = "hashing";
	mo.hashing_dim = 16;
	cog_memory *m = mem_open(ctx, "acme", &mo);
	float vec[16];
	for (int i = 0; i < 16; i++)
		vec[i] = (float)(i + 1);
	cog_memory_put_options o = COG_MEMORY_PUT_OPTIONS_INIT;
	o.vector = vec;
	o.dim = 16;
	uint64_t a = put_opt(m, "a memory with its own vector", &o, 0);
	cJSON *g = get(m, a);
	ck_assert_str_eq(str_of(g, "embed_model"), "host");
	ck_assert(num_of(g, "dim") == 16);
	cJSON_Delete(g);
	/* the same vector scaled is the same direction: merged */
	for (int i = 0; i < 16; i++)
		vec[i] *= 3;
	o.embed_model = "my-encoder";
	ck_assert_uint_eq(put_opt(m, "other words entirely", &o, COG_MEMORY_MERGED), a);
	o.no_dedupe = 1;
	uint64_t b = put_opt(m, "other words entirely", &o, 0);
	g = get(m, b);
	ck_assert_str_eq(str_of(g, "embed_model"), "host:my-encoder");
	cJSON_Delete(g);
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- layers and time ---- */

START_TEST(test_short_term_expiry)
{
	cog_ctx *ctx = ctx_open(_i);
	cog_memory_options mo = COG_MEMORY_OPTIONS_INIT;
	mo.embedder = "hashing";
	mo.short_term_ttl_ms = 60000;
	cog_memory *m = mem_open(ctx, "acme/s", &mo);
	cog_memory_put_options o = COG_MEMORY_PUT_OPTIONS_INIT;
	o.layer = COG_MEMORY_SHORT_TERM;
	uint64_t lasting = put_opt(m, "the session started with a greeting", &o, 0);
	cJSON *g = get(m, lasting);
	ck_assert_str_eq(str_of(g, "layer"), "short_term");
	ck_assert(num_of(g, "expires_at") - num_of(g, "created_at") == 60000);
	cJSON_Delete(g);
	o.ttl_ms = 50;
	uint64_t brief = put_opt(m, "ephemeral fleeting note about quokkas", &o, 0);
	/* a long-term memory with a ttl expires too */
	cog_memory_put_options lo = COG_MEMORY_PUT_OPTIONS_INIT;
	lo.ttl_ms = 50;
	uint64_t brief_long = put_opt(m, "long term quokkas note that still expires", &lo, 0);
	uint64_t ids[8];
	/* a search now loads the index with them (unless they expired already) */
	size_t n = search_ids(m, "quokkas", ids, 8);
	sleep_ms(150);
	ck_assert_ptr_null(get(m, brief));
	ck_assert_ptr_null(get(m, brief_long));
	ck_assert_ptr_nonnull(g = get(m, lasting));
	cJSON_Delete(g);
	n = search_ids(m, "quokkas", ids, 8);
	ck_assert(!has_id(ids, n, brief) && !has_id(ids, n, brief_long));
	expect_error(cog_memory_forget(m, brief), COG_ENOTFOUND, "no memory");
	size_t purged = 0;
	ck_assert_int_eq(cog_memory_purge(m, &purged), 0);
	ck_assert_uint_eq(purged, 2);
	ck_assert_int_eq(cog_memory_purge(m, &purged), 0);
	ck_assert_uint_eq(purged, 0);
	ck_assert_int_eq(cog_memory_purge(m, NULL), 0);
	expect_error(cog_memory_purge(NULL, &purged), COG_EINVAL, "mem is NULL");
	/* the default short-term ttl is 24 h */
	cog_memory *d = mem_open(ctx, "acme/d", NULL);
	o.ttl_ms = 0;
	g = get(d, put_opt(d, "default ttl", &o, 0));
	ck_assert(num_of(g, "expires_at") - num_of(g, "created_at") == 86400000.0);
	cJSON_Delete(g);
	cog_memory_free(d);
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(test_working_memory)
{
	cog_ctx *ctx = ctx_open(_i);
	cog_memory_options mo = COG_MEMORY_OPTIONS_INIT;
	mo.embedder = "hashing";
	mo.working_max_tokens = 100;
	cog_memory *m = mem_open(ctx, "acme/alice/helper/s1", &mo);
	cog_memory *other = mem_open(ctx, "acme/alice/helper/s1", &mo);
	cog_memory_put_options o = COG_MEMORY_PUT_OPTIONS_INIT;
	o.layer = COG_MEMORY_WORKING;
	o.metadata = "{\"turn\":1}";
	o.ttl_ms = 5;  /* ignored by working memory */
	uint64_t w = put_opt(m, "user asked about alice@example.com", &o, 0);
	ck_assert(w >= (UINT64_C(1) << 52) && w < (UINT64_C(1) << 53));
	cJSON *g = get(m, w);
	ck_assert_str_eq(str_of(g, "layer"), "working");
	/* working memory is not redacted: it never leaves the handle */
	ck_assert_str_eq(str_of(g, "text"), "user asked about alice@example.com");
	ck_assert(num_of(cJSON_GetObjectItemCaseSensitive(g, "metadata"), "turn") == 1);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(g, "expires_at")));
	cJSON_Delete(g);
	sleep_ms(20);
	ck_assert_ptr_nonnull(g = get(m, w));
	cJSON_Delete(g);
	/* not in storage: another handle on the namespace does not see it */
	ck_assert_ptr_null(get(other, w));
	ck_assert_uint_eq(forget_all(other), 0);
	ck_assert_ptr_nonnull(g = get(m, w));
	cJSON_Delete(g);
	/* the same text twice: working memory never merges */
	ck_assert_uint_ne(put_opt(m, "user asked about alice@example.com", &o, 0), w);

	/* token-bounded: the oldest go */
	uint64_t ids[40];
	for (int i = 0; i < 40; i++) {
		char text[96];
		snprintf(text, sizeof(text), "turn %d: the user talked about subject number %d", i,
		         i * 7);
		ids[i] = put_opt(m, text, &o, 0);
	}
	cJSON *s = stats(m);
	const cJSON *ws = cJSON_GetObjectItemCaseSensitive(s, "working");
	double items = num_of(ws, "items"), tokens = num_of(ws, "tokens");
	ck_assert(tokens <= 100 && tokens > 0);
	ck_assert(items >= 1 && items < 40);
	cJSON_Delete(s);
	ck_assert_ptr_null(get(m, w));
	ck_assert_ptr_null(get(m, ids[0]));
	ck_assert_ptr_nonnull(g = get(m, ids[39]));
	cJSON_Delete(g);

	/* forget */
	ck_assert_int_eq(cog_memory_forget(m, ids[39]), 0);
	ck_assert_ptr_null(get(m, ids[39]));
	expect_error(cog_memory_forget(m, ids[39]), COG_ENOTFOUND, "working");
	expect_error(cog_memory_forget(m, ids[0]), COG_ENOTFOUND, "working");
	ck_assert_ptr_nonnull(g = get(m, ids[38]));
	cJSON_Delete(g);
	/* gone with the handle: a new one has none */
	cog_memory_free(m);
	m = mem_open(ctx, "acme/alice/helper/s1", &mo);
	ck_assert_ptr_null(get(m, ids[38]));
	cog_memory_free(m);
	cog_memory_free(other);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- merging ---- */

START_TEST(test_merge)
{
	cog_ctx *ctx = ctx_open(_i);
	cog_memory *m = mem_open(ctx, "acme/alice", NULL);
	cog_memory_put_options o = COG_MEMORY_PUT_OPTIONS_INIT;
	o.importance = 0.3;
	o.metadata = "{\"a\":1,\"keep\":\"yes\"}";
	uint64_t id = put_opt(m, "Alice prefers tea over coffee in the morning", &o, 0);
	o.importance = 0.9;
	o.metadata = "{\"a\":3,\"b\":2}";
	ck_assert_uint_eq(put_opt(m, "Alice prefers tea over coffee in the morning", &o,
	                          COG_MEMORY_MERGED), id);
	o.importance = 0.2;
	o.metadata = NULL;
	ck_assert_uint_eq(put_opt(m, "Alice prefers tea over coffee in the morning", &o,
	                          COG_MEMORY_MERGED), id);
	cJSON *g = get(m, id);
	ck_assert(num_of(g, "importance") == 0.9);
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(g, "metadata");
	ck_assert(num_of(md, "a") == 3 && num_of(md, "b") == 2);
	ck_assert_str_eq(str_of(md, "keep"), "yes");
	ck_assert(num_of(g, "updated_at") >= num_of(g, "created_at"));
	cJSON_Delete(g);
	/* different texts: two memories */
	uint64_t other = put(m, "The quarterly report is due on Friday");
	ck_assert_uint_ne(other, id);
	/* the same text in another layer: not merged */
	o.layer = COG_MEMORY_SHORT_TERM;
	uint64_t st = put_opt(m, "Alice prefers tea over coffee in the morning", &o, 0);
	ck_assert_uint_ne(st, id);
	/* short-term: the merge extends the expiry */
	g = get(m, st);
	double exp1 = num_of(g, "expires_at");
	cJSON_Delete(g);
	o.ttl_ms = 48LL * 3600 * 1000;
	ck_assert_uint_eq(put_opt(m, "Alice prefers tea over coffee in the morning", &o,
	                          COG_MEMORY_MERGED), st);
	g = get(m, st);
	ck_assert(num_of(g, "expires_at") > exp1 + 20.0 * 3600 * 1000);
	cJSON_Delete(g);
	o.ttl_ms = 0;
	/* episodic: never merged */
	o.layer = COG_MEMORY_EPISODIC;
	uint64_t e1 = put_opt(m, "tool call finished", &o, 0);
	ck_assert_uint_ne(put_opt(m, "tool call finished", &o, 0), e1);
	/* no_dedupe: a new memory */
	o.layer = 0;
	o.no_dedupe = 1;
	ck_assert_uint_ne(put_opt(m, "Alice prefers tea over coffee in the morning", &o, 0), id);
	/* another handle on the namespace merges into the same memory; a
	 * sibling namespace does not */
	cog_memory *same = mem_open(ctx, "acme/alice", NULL);
	ck_assert_uint_eq(put_opt(same, "The quarterly report is due on Friday", NULL,
	                          COG_MEMORY_MERGED), other);
	cog_memory *sib = mem_open(ctx, "acme/bob", NULL);
	ck_assert_uint_ne(put(sib, "The quarterly report is due on Friday"), other);
	cJSON *s = stats(m);
	ck_assert(num_of(s, "merged") == 3);
	ck_assert(num_of(s, "puts") == 9);
	cJSON_Delete(s);
	cog_memory_free(sib);
	cog_memory_free(same);
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(test_never_merge)
{
	cog_ctx *ctx = ctx_open(_i);
	cog_memory_options mo = COG_MEMORY_OPTIONS_INIT;
	mo.embedder = "hashing";
	mo.dedupe_threshold = 2.0;
	cog_memory *m = mem_open(ctx, "acme", &mo);
	uint64_t a = put(m, "exactly the same words"), b = put(m, "exactly the same words");
	ck_assert_uint_ne(a, b);
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

/* The hashing embedder's vectors of texts a word apart can collide above
 * the threshold: its merges need the same words too. */
START_TEST(test_merge_needs_same_words)
{
	cog_ctx *ctx = ctx_open(_i);
	cog_memory *m = mem_open(ctx, "acme", NULL);   /* default threshold 0.95 */
	uint64_t a = put(m, "user 22 logged in from the office network today");
	ck_assert_uint_ne(put(m, "user 35 logged in from the office network today"), a);
	/* case, punctuation, whitespace and order are the same words */
	ck_assert_uint_eq(put_opt(m, "User 22 logged in -- from the OFFICE network, today!",
	                          NULL, COG_MEMORY_MERGED), a);
	ck_assert_uint_eq(put_opt(m, "  today user 22\tlogged in from the office network ",
	                          NULL, COG_MEMORY_MERGED), a);
	/* a templated stream: every number is its own memory */
	uint64_t ids[200];
	for (int i = 0; i < 200; i++) {
		char t[96];
		snprintf(t, sizeof(t), "user %d logged in from the office network today", 100 + i);
		ids[i] = put(m, t);
		ck_assert_uint_ne(ids[i], a);
		ck_assert(i == 0 || ids[i] != ids[i - 1]);
	}
	cJSON *st = stats(m);
	ck_assert(num_of(st, "merged") == 2);
	cJSON_Delete(st);
	/* the host's vectors decide alone: the same vector merges other words */
	float vec[384];
	for (int i = 0; i < 384; i++)
		vec[i] = (float)((i * 7) % 11) - 5.0f;
	cog_memory_put_options o = COG_MEMORY_PUT_OPTIONS_INIT;
	o.vector = vec;
	o.dim = 384;
	uint64_t h = put_opt(m, "user 22 with the host's vector", &o, 0);
	ck_assert_uint_eq(put_opt(m, "user 35 and other words", &o, COG_MEMORY_MERGED), h);
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

/* n words "<stem><i>" from first, one of them (skip) left out (-1: none),
 * then `extra` when not NULL. */
static void words_text(char *out, size_t cap, const char *stem, int first, int n, int skip,
                       const char *extra)
{
	size_t len = 0;
	out[0] = 0;
	for (int i = first; i < first + n; i++)
		if (i != skip)
			len += (size_t)snprintf(out + len, cap - len, "%s%s%d", len ? " " : "", stem, i);
	if (extra)
		snprintf(out + len, cap - len, " %s", extra);
}

/* Under the hashing embedder a merge needs a multiset Jaccard of the words
 * >= 0.95: short texts only merge with the same words, longer ones also with
 * one word more or less, long ones (the LSH) with one word changed. */
START_TEST(test_merge_by_word_count)
{
	cog_ctx *ctx = ctx_open(_i);
	cog_memory *m = mem_open(ctx, "acme", NULL);   /* default threshold 0.95 */
	char t[1024], u[1024];
	/* 10 words: one more, one less or one other is a new memory (J <= 0.91) */
	words_text(t, sizeof(t), "short", 0, 10, -1, NULL);
	uint64_t a = put(m, t);
	words_text(u, sizeof(u), "short", 0, 10, -1, "more");
	ck_assert_uint_ne(put(m, u), a);
	words_text(u, sizeof(u), "short", 0, 10, 4, NULL);
	ck_assert_uint_ne(put(m, u), a);
	words_text(u, sizeof(u), "short", 0, 10, 4, "other");
	ck_assert_uint_ne(put(m, u), a);
	/* the same words in another order and case merge */
	words_text(u, sizeof(u), "SHORT", 0, 10, -1, NULL);
	ck_assert_uint_eq(put_opt(m, u, NULL, COG_MEMORY_MERGED), a);
	/* 25 words: one word more merges (25/26), in either order of puts */
	words_text(t, sizeof(t), "mid", 0, 25, -1, NULL);
	uint64_t b = put(m, t);
	words_text(u, sizeof(u), "mid", 0, 25, -1, "extra");
	ck_assert_uint_eq(put_opt(m, u, NULL, COG_MEMORY_MERGED), b);
	words_text(t, sizeof(t), "long", 0, 26, -1, NULL);
	uint64_t c = put(m, t);
	words_text(u, sizeof(u), "long", 0, 26, 7, NULL);
	ck_assert_uint_eq(put_opt(m, u, NULL, COG_MEMORY_MERGED), c);
	/* but one word changed is two words apart (24/26): a new memory */
	words_text(u, sizeof(u), "mid", 0, 25, 3, "changed");
	ck_assert_uint_ne(put(m, u), b);
	/* 64 words: one word changed merges (63/65), through the LSH */
	words_text(t, sizeof(t), "topic", 0, 64, -1, NULL);
	uint64_t d = put(m, t);
	words_text(u, sizeof(u), "topic", 0, 64, 30, "changed");
	ck_assert_uint_eq(put_opt(m, u, NULL, COG_MEMORY_MERGED), d);
	/* and three words for one do not (63/67) */
	words_text(u, sizeof(u), "topic", 0, 64, 30, "changed again twice");
	ck_assert_uint_ne(put(m, u), d);
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

/* An LLM embedder's near duplicates merge on the cosine alone. */
START_TEST(test_merge_llm_cosine)
{
	ws_server *server = start_wire_server();
	cog_ctx *ctx = ctx_with_curl(NULL);
	cog_llm *llm = provider_at(ctx, COG_LLM_OPENAI, server, "/v1", "sk-test-key", "embed-a");
	ck_assert_int_eq(cog_llm_add_endpoint(ctx, "main", llm, NULL), 0);
	ck_assert_int_eq(cog_llm_configure(ctx, "{\"retry\":{\"max_attempts\":1}}"), 0);
	cog_memory_options mo = COG_MEMORY_OPTIONS_INIT;
	mo.embedder = "llm";
	cog_memory *m = mem_open(ctx, "acme", &mo);
	/* the probe, then both texts get the same vector */
	const char *answer = "{\"object\":\"list\",\"model\":\"embed-a\",\"data\":[{\"object\":"
	                     "\"embedding\",\"index\":0,\"embedding\":[0.5,0.25,-1,2]}],"
	                     "\"usage\":{\"prompt_tokens\":1,\"total_tokens\":1}}";
	for (int i = 0; i < 3; i++) {
		ws_answer ans = ws_answer_body(200, "application/json", answer);
		ck_assert_int_eq(ws_push(server, &ans), 0);
	}
	uint64_t a = put(m, "user 22 logged in from the office network today");
	ck_assert_uint_eq(put_opt(m, "user 35 logged in from the office network today", NULL,
	                          COG_MEMORY_MERGED), a);
	ck_assert_uint_eq(ws_requests(server), 3);
	cog_memory_free(m);
	cog_ctx_free(ctx);
	ws_stop(server);
}
END_TEST

/* ---- redaction ---- */

START_TEST(test_redaction)
{
	cog_ctx *ctx = ctx_open(_i);
	cog_memory *m = mem_open(ctx, "acme", NULL);
	uint64_t id = put(m, "write to alice@example.com about the refund");
	cJSON *g = get(m, id);
	ck_assert_ptr_nonnull(strstr(str_of(g, "text"), "[EMAIL]"));
	ck_assert_ptr_null(strstr(str_of(g, "text"), "alice@"));
	cJSON_Delete(g);
	cJSON *s = stats(m);
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(s, "redactions");
	ck_assert(num_of(r, "total") == 1);
	ck_assert(num_of(r, "email") >= 1);
	cJSON_Delete(s);
	/* short-term and episodic are redacted too */
	cog_memory_put_options o = COG_MEMORY_PUT_OPTIONS_INIT;
	o.layer = COG_MEMORY_SHORT_TERM;
	g = get(m, put_opt(m, "bob@example.org called", &o, 0));
	ck_assert_str_eq(str_of(g, "text"), "[EMAIL] called");
	cJSON_Delete(g);
	/* no_redact keeps the text */
	cog_memory_options mo = COG_MEMORY_OPTIONS_INIT;
	mo.embedder = "hashing";
	mo.no_redact = 1;
	cog_memory *raw = mem_open(ctx, "acme/trusted", &mo);
	g = get(raw, put(raw, "write to alice@example.com about the refund"));
	ck_assert_str_eq(str_of(g, "text"), "write to alice@example.com about the refund");
	cJSON_Delete(g);
	s = stats(raw);
	ck_assert(num_of(cJSON_GetObjectItemCaseSensitive(s, "redactions"), "total") == 0);
	cJSON_Delete(s);
	cog_memory_free(raw);
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

/* A stored memory's metadata as printed by get, and parsed. */
static char *metadata_of(cog_memory *m, uint64_t id, cJSON **md)
{
	cJSON *g = get(m, id);
	ck_assert_ptr_nonnull(g);
	*md = cJSON_DetachItemFromObjectCaseSensitive(g, "metadata");
	cJSON_Delete(g);
	ck_assert(cJSON_IsObject(*md));
	char *text = cJSON_PrintUnformatted(*md);
	ck_assert_ptr_nonnull(text);
	return text;
}

static const char secret_md[] =
	"{\"user\":\"bob@example.com\",\"key\":\"sk-abcdefghijklmnopqrstuvwxyz012345\","
	"\"card\":4111111111111111,\"bob@example.com\":1,\"n\":3,"
	"\"deep\":{\"list\":[\"x\",\"carol@example.net\",4111111111111111]}}";

static void assert_md_redacted(cog_memory *m, uint64_t id)
{
	cJSON *md = NULL;
	char *text = metadata_of(m, id, &md);
	ck_assert_msg(!strstr(text, "@") && !strstr(text, "sk-") && !strstr(text, "4111"),
	              "not redacted: %s", text);
	ck_assert_str_eq(str_of(md, "user"), "[EMAIL]");
	ck_assert_str_eq(str_of(md, "key"), "[API_KEY]");
	ck_assert_str_eq(str_of(md, "card"), "[CARD]");
	ck_assert(num_of(md, "[EMAIL]") == 1);
	ck_assert(num_of(md, "n") == 3);
	const cJSON *list = cJSON_GetObjectItem(cJSON_GetObjectItem(md, "deep"), "list");
	ck_assert_str_eq(cJSON_GetArrayItem(list, 1)->valuestring, "[EMAIL]");
	ck_assert_str_eq(cJSON_GetArrayItem(list, 2)->valuestring, "[CARD]");
	free(text);
	cJSON_Delete(md);
}

START_TEST(test_metadata_redaction)
{
	cog_ctx *ctx = ctx_open(_i);
	cog_memory *m = mem_open(ctx, "acme", NULL);
	assert_md_redacted(m, put_meta(m, "a long-term memory", COG_MEMORY_LONG_TERM, secret_md));
	assert_md_redacted(m, put_meta(m, "a short-term memory", COG_MEMORY_SHORT_TERM, secret_md));
	assert_md_redacted(m, put_meta(m, "an episode", COG_MEMORY_EPISODIC, secret_md));
	/* the import door, and an episode's event (keys and numbers too) */
	char item[512];
	snprintf(item, sizeof(item), "{\"text\":\"imported\",\"metadata\":%s}", secret_md);
	uint64_t id = 0;
	ck_assert_int_eq(cog_memory_put_json(m, item, &id), 0);
	assert_md_redacted(m, id);
	ck_assert_int_eq(cog_memory_record_episode(m,
		"{\"kind\":\"task\",\"card\":4111111111111111,\"dave@example.com\":2}", &id), 0);
	cJSON *md = NULL;
	char *text = metadata_of(m, id, &md);
	ck_assert_str_eq(text, "{\"kind\":\"task\",\"card\":\"[CARD]\",\"[EMAIL]\":2}");
	free(text);
	cJSON_Delete(md);
	/* a merge's added members are redacted too; the others kept */
	cog_memory_put_options o = COG_MEMORY_PUT_OPTIONS_INIT;
	o.metadata = "{\"a\":1,\"big\":1234567890123}";
	uint64_t lt = put_opt(m, "the merged memory", &o, 0);
	o.metadata = "{\"who\":\"dave@example.com\",\"dave@example.com\":true}";
	ck_assert_uint_eq(put_opt(m, "the merged memory", &o, COG_MEMORY_MERGED), lt);
	text = metadata_of(m, lt, &md);
	ck_assert_str_eq(text, "{\"a\":1,\"big\":1234567890123,\"who\":\"[EMAIL]\",\"[EMAIL]\":true}");
	free(text);
	cJSON_Delete(md);
	/* metadata with nothing to redact comes back as it was */
	o.metadata = "{\"src\":\"chat\",\"turn\":3,\"tags\":[\"a\",\"b\"]}";
	text = metadata_of(m, put_opt(m, "plain metadata", &o, 0), &md);
	ck_assert_str_eq(text, o.metadata);
	free(text);
	cJSON_Delete(md);
	/* no_redact stores it as given */
	cog_memory_options mo = COG_MEMORY_OPTIONS_INIT;
	mo.embedder = "hashing";
	mo.no_redact = 1;
	cog_memory *raw = mem_open(ctx, "acme/trusted", &mo);
	text = metadata_of(raw, put_meta(raw, "raw", COG_MEMORY_LONG_TERM, secret_md), &md);
	ck_assert_str_eq(text, secret_md);
	free(text);
	cJSON_Delete(md);
	cog_memory_free(raw);
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- forgetting ---- */

START_TEST(test_forget)
{
	cog_ctx *ctx = ctx_open(_i);
	cog_memory *m = mem_open(ctx, "acme/alice", NULL);
	cog_memory *bob = mem_open(ctx, "acme/bob", NULL);
	cog_memory *parent = mem_open(ctx, "acme", NULL);
	uint64_t a = put(m, "alice likes green tea with honey");
	uint64_t b = put(bob, "bob likes black coffee without sugar");
	uint64_t p = put(parent, "the acme office opens at nine");
	/* get and forget see only the handle's own namespace */
	ck_assert_ptr_null(get(bob, a));
	ck_assert_ptr_null(get(parent, a));
	ck_assert_ptr_null(get(m, p));
	expect_error(cog_memory_forget(bob, a), COG_ENOTFOUND, "acme/bob");
	expect_error(cog_memory_forget(m, p), COG_ENOTFOUND, "no memory");
	cJSON *g = get(m, a);
	ck_assert_ptr_nonnull(g);
	cJSON_Delete(g);
	/* the index is loaded by a search; forget switches the row off */
	uint64_t ids[8];
	ck_assert(has_id(ids, search_ids(m, "green tea", ids, 8), a));
	ck_assert_int_eq(cog_memory_forget(m, a), 0);
	ck_assert_ptr_null(get(m, a));
	ck_assert(!has_id(ids, search_ids(m, "green tea", ids, 8), a));
	expect_error(cog_memory_forget(m, a), COG_ENOTFOUND, "no memory");
	expect_error(cog_memory_forget(m, 0), COG_ENOTFOUND, "no memory");
	expect_error(cog_memory_forget(NULL, a), COG_EINVAL, "mem is NULL");
	ck_assert_ptr_nonnull(g = get(bob, b));
	cJSON_Delete(g);
	ck_assert_ptr_nonnull(g = get(parent, p));
	cJSON_Delete(g);
	cog_memory_free(parent);
	cog_memory_free(bob);
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(test_forget_where)
{
	cog_ctx *ctx = ctx_open(_i);
	cog_memory *m = mem_open(ctx, "acme/alice", NULL);
	cog_memory *parent = mem_open(ctx, "acme", NULL);
	uint64_t kept_parent = put_meta(parent, "parent billing note", COG_MEMORY_LONG_TERM,
	                                "{\"topic\":\"billing\"}");
	uint64_t billing[5], support[3], short_billing[2];
	for (int i = 0; i < 5; i++) {
		char t[64];
		snprintf(t, sizeof(t), "billing question %d about invoices", i);
		billing[i] = put_meta(m, t, COG_MEMORY_LONG_TERM, "{\"topic\":\"billing\",\"n\":1}");
	}
	for (int i = 0; i < 3; i++) {
		char t[64];
		snprintf(t, sizeof(t), "support question %d about invoices", i);
		support[i] = put_meta(m, t, COG_MEMORY_LONG_TERM, "{\"topic\":\"support\"}");
	}
	for (int i = 0; i < 2; i++) {
		char t[64];
		snprintf(t, sizeof(t), "short billing note %d about invoices", i);
		short_billing[i] = put_meta(m, t, COG_MEMORY_SHORT_TERM, "{\"topic\":\"billing\"}");
	}
	uint64_t wk = put_meta(m, "working billing note", COG_MEMORY_WORKING,
	                       "{\"topic\":\"billing\"}");
	uint64_t wk2 = put_meta(m, "working other note", COG_MEMORY_WORKING, "{\"topic\":\"x\"}");
	uint64_t ids[32];
	size_t found = search_ids(m, "invoices", ids, 32);  /* loads the index */
	ck_assert(has_id(ids, found, billing[0]) && has_id(ids, found, support[0]));

	size_t n = 99;
	ck_assert_int_eq(cog_memory_forget_where(m,
		"{\"metadata\":{\"topic\":\"billing\"},\"layers\":[\"long_term\"]}", &n), 0);
	ck_assert_uint_eq(n, 5);
	for (int i = 0; i < 5; i++)
		ck_assert_ptr_null(get(m, billing[i]));
	found = search_ids(m, "invoices", ids, 32);
	ck_assert(has_id(ids, found, support[1]) && has_id(ids, found, short_billing[1]));
	for (int i = 0; i < 5; i++)
		ck_assert(!has_id(ids, found, billing[i]));
	/* several members must all hold; null matches an absent member */
	ck_assert_int_eq(cog_memory_forget_where(m,
		"{\"metadata\":{\"topic\":\"support\",\"n\":null}}", &n), 0);
	ck_assert_uint_eq(n, 3);
	/* metadata across layers, working included */
	ck_assert_int_eq(cog_memory_forget_where(m, "{\"metadata\":{\"topic\":\"billing\"}}", &n),
	                 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_ptr_null(get(m, short_billing[0]));
	ck_assert_ptr_null(get(m, wk));
	cJSON *g = get(m, wk2);
	ck_assert_ptr_nonnull(g);
	cJSON_Delete(g);
	/* a time range: created_at in [since, until) */
	uint64_t old = put(m, "an old memory of the first day");
	sleep_ms(5);
	char filter[128];
	snprintf(filter, sizeof(filter), "{\"until\":%.0f}",
	         num_of(g = get(m, old), "created_at") + 1);
	cJSON_Delete(g);
	sleep_ms(5);
	uint64_t young = put(m, "a young memory of the next day");
	ck_assert_int_eq(cog_memory_forget_where(m, filter, &n), 0);
	ck_assert_uint_eq(n, 2); /* old, and the working note */
	ck_assert_ptr_null(get(m, old));
	ck_assert_ptr_nonnull(g = get(m, young));
	cJSON_Delete(g);
	ck_assert_int_eq(cog_memory_forget_where(m, "{\"since\":1,\"layers\":[\"working\"]}",
	                                         &n), 0);
	ck_assert_uint_eq(n, 0);

	/* bad filters change nothing */
	const char *bad[][2] = {
		{ "{}", "empty" },
		{ "[]", "object" },
		{ "{\"all\":", "invalid JSON" },
		{ "{\"colour\":\"red\"}", "colour" },
		{ "{\"all\":false}", "all" },
		{ "{\"layers\":[\"nope\"]}", "layers[0]" },
		{ "{\"layers\":[]}", "empty" },
		{ "{\"metadata\":{\"a\":{\"b\":1}}}", "\"a\"" },
		{ "{\"metadata\":[1]}", "metadata" },
		{ "{\"metadata\":{}}", "everything" },
		{ "{\"since\":-5}", "since" },
		{ "{\"until\":\"x\"}", "until" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 99;
		expect_error(cog_memory_forget_where(m, bad[i][0], &n), COG_EINVAL, bad[i][1]);
		ck_assert_uint_eq(n, 0);
	}
	expect_error(cog_memory_forget_where(m, NULL, &n), COG_EINVAL, "NULL");
	expect_error(cog_memory_forget_where(NULL, "{\"all\":true}", &n), COG_EINVAL, "NULL");
	ck_assert_ptr_nonnull(g = get(m, young));
	cJSON_Delete(g);

	/* everything, in this namespace only (the count may be NULL) */
	ck_assert_int_eq(cog_memory_forget_where(m, "{\"all\":true}", NULL), 0);
	ck_assert_ptr_null(get(m, young));
	ck_assert_ptr_null(get(m, wk2));
	ck_assert_ptr_nonnull(g = get(parent, kept_parent));
	cJSON_Delete(g);
	ck_assert_uint_eq(search_ids(m, "invoices", ids, 32), 0);
	ck_assert_uint_eq(forget_all(parent), 1);
	cog_memory_free(parent);
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- episodes ---- */

START_TEST(test_record_episode)
{
	cog_ctx *ctx = ctx_open(_i);
	cog_memory *m = mem_open(ctx, "acme/alice/helper", NULL);
	uint64_t id = 0;
	const char *ev = "{\"kind\":\"task\",\"task\":\"t-7\",\"status\":\"done\","
	                 "\"cost\":0.25,\"duration_ms\":1200,\"plan\":\"p1\"}";
	ck_assert_msg(cog_memory_record_episode(m, ev, &id) == 0, "%s", cog_error_last());
	cJSON *g = get(m, id);
	ck_assert_str_eq(str_of(g, "layer"), "episodic");
	ck_assert_str_eq(str_of(g, "text"), "task t-7 done");
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(g, "metadata");
	ck_assert(num_of(md, "cost") == 0.25);
	ck_assert_str_eq(str_of(md, "plan"), "p1");
	cJSON_Delete(g);
	/* the same event again: appended, never merged */
	uint64_t id2 = 0;
	ck_assert_int_eq(cog_memory_record_episode(m, ev, &id2), 0);
	ck_assert_uint_ne(id2, id);
	/* a summary is the text; redacted in text and metadata */
	ck_assert_int_eq(cog_memory_record_episode(m,
		"{\"kind\":\"llm_call\",\"summary\":\"asked carol@example.net for the plan\","
		"\"agent\":\"helper\",\"nested\":{\"who\":\"carol@example.net\"}}", &id), 0);
	g = get(m, id);
	ck_assert_str_eq(str_of(g, "text"), "asked [EMAIL] for the plan");
	md = cJSON_GetObjectItemCaseSensitive(g, "metadata");
	ck_assert_str_eq(str_of(md, "summary"), "asked [EMAIL] for the plan");
	ck_assert_str_eq(str_of(cJSON_GetObjectItemCaseSensitive(md, "nested"), "who"), "[EMAIL]");
	ck_assert_str_eq(str_of(md, "agent"), "helper");
	cJSON_Delete(g);
	/* only kind: the text is the kind; a numeric task is fine */
	ck_assert_int_eq(cog_memory_record_episode(m, "{\"kind\":\"outcome\",\"task\":42}", &id), 0);
	g = get(m, id);
	ck_assert_str_eq(str_of(g, "text"), "outcome 42");
	cJSON_Delete(g);
	ck_assert_int_eq(cog_memory_record_episode(m, "{\"kind\":\"tool_call\"}", NULL), 0);

	const char *bad[][2] = {
		{ "{\"task\":\"t\"}", "kind" },
		{ "{\"kind\":\"\"}", "kind" },
		{ "{\"kind\":7}", "kind" },
		{ "{\"kind\":\"task\",\"summary\":3}", "summary" },
		{ "[1]", "object" },
		{ "{\"kind\":", "invalid JSON" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		id = 5;
		expect_error(cog_memory_record_episode(m, bad[i][0], &id), COG_EINVAL, bad[i][1]);
		ck_assert_uint_eq(id, 0);
	}
	expect_error(cog_memory_record_episode(m, NULL, &id), COG_EINVAL, "NULL");
	expect_error(cog_memory_record_episode(NULL, "{\"kind\":\"x\"}", &id), COG_EINVAL, "NULL");
	ck_assert_uint_eq(forget_all(m), 5);
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- put_json ---- */

START_TEST(test_put_json)
{
	cog_ctx *ctx = ctx_open(_i);
	cog_memory *m = mem_open(ctx, "acme", NULL);
	uint64_t id = 0;
	ck_assert_msg(cog_memory_put_json(m,
		"{\"text\":\"the json door works\",\"metadata\":{\"src\":\"import\"},"
		"\"layer\":\"short_term\",\"importance\":0.7,\"ttl_ms\":600000}", &id) == 0,
		"%s", cog_error_last());
	cJSON *g = get(m, id);
	ck_assert_str_eq(str_of(g, "layer"), "short_term");
	ck_assert(num_of(g, "importance") == 0.7);
	ck_assert(num_of(g, "expires_at") - num_of(g, "created_at") == 600000);
	ck_assert_str_eq(str_of(cJSON_GetObjectItemCaseSensitive(g, "metadata"), "src"), "import");
	cJSON_Delete(g);
	/* merged like put */
	uint64_t again = 0;
	ck_assert_int_eq(cog_memory_put_json(m,
		"{\"text\":\"the json door works\",\"layer\":\"short_term\"}", &again),
		COG_MEMORY_MERGED);
	ck_assert_uint_eq(again, id);
	/* a vector and working memory */
	char item[8192];
	int off = snprintf(item, sizeof(item), "{\"text\":\"vec\",\"layer\":\"working\","
	                   "\"embed_model\":\"mine\",\"vector\":[");
	for (int i = 0; i < 384; i++)
		off += snprintf(item + off, sizeof(item) - (size_t)off, "%s%d", i ? "," : "", i % 5);
	snprintf(item + off, sizeof(item) - (size_t)off, "]}");
	ck_assert_msg(cog_memory_put_json(m, item, &id) == 0, "%s", cog_error_last());
	ck_assert(id >= (UINT64_C(1) << 52));
	const char *bad[][2] = {
		{ "{\"text\":\"x\",\"colour\":1,\"size\":2}", "\"colour\", \"size\"" },
		{ "{\"metadata\":{}}", "\"text\" is missing" },
		{ "{\"text\":5}", "\"text\" must be a string" },
		{ "{\"text\":\"\"}", "text is empty" },
		{ "{\"text\":\"x\",\"layer\":\"bogus\"}", "layer" },
		{ "{\"text\":\"x\",\"layer\":4}", "layer" },
		{ "{\"text\":\"x\",\"metadata\":[1]}", "metadata" },
		{ "{\"text\":\"x\",\"metadata\":\"{}\"}", "metadata" },
		{ "{\"text\":\"x\",\"importance\":\"high\"}", "importance" },
		{ "{\"text\":\"x\",\"importance\":2}", "importance" },
		{ "{\"text\":\"x\",\"ttl_ms\":-1}", "ttl_ms" },
		{ "{\"text\":\"x\",\"ttl_ms\":1.5}", "ttl_ms" },
		{ "{\"text\":\"x\",\"vector\":[1,2,3]}", "dimension 3" },
		{ "{\"text\":\"x\",\"vector\":[]}", "vector" },
		{ "{\"text\":\"x\",\"vector\":[1,\"a\"]}", "vector[1]" },
		{ "{\"text\":\"x\",\"embed_model\":1}", "embed_model" },
		{ "{\"text\":\"x\",\"text\":\"y\"}", "twice" },
		{ "[\"text\"]", "object" },
		{ "{\"text\":\"x\"", "invalid JSON" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		id = 5;
		expect_error(cog_memory_put_json(m, bad[i][0], &id), COG_EINVAL, bad[i][1]);
		ck_assert_uint_eq(id, 0);
	}
	expect_error(cog_memory_put_json(m, NULL, &id), COG_EINVAL, "NULL");
	expect_error(cog_memory_put_json(NULL, "{\"text\":\"x\"}", &id), COG_EINVAL, "NULL");
	ck_assert_uint_eq(forget_all(m), 2);
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- stats ---- */

START_TEST(test_stats)
{
	cog_ctx *ctx = ctx_open(_i);
	cog_memory *m = mem_open(ctx, "acme/alice", NULL);
	cJSON *s = stats(m);
	ck_assert_str_eq(str_of(s, "namespace"), "acme/alice");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(s, "embedder")));
	ck_assert(num_of(s, "puts") == 0);
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "tokens");
	ck_assert(num_of(t, "ratio") > 0);
	ck_assert(num_of(t, "samples") == 0);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(t, "mean_abs_error")));
	cJSON_Delete(s);
	put(m, "one stored memory about llamas");
	put(m, "another stored memory about alpacas");
	cog_memory_put_options o = COG_MEMORY_PUT_OPTIONS_INIT;
	o.layer = COG_MEMORY_WORKING;
	put_opt(m, "a working note", &o, 0);
	uint64_t ids[4];
	search_ids(m, "llamas", ids, 4);
	ck_assert_int_eq(cog_memory_calibrate(m,
		"{\"messages\":[{\"role\":\"user\",\"content\":\"hello there, how are you today?\"}]}",
		12), 0);
	s = stats(m);
	ck_assert_str_eq(str_of(s, "embedder"), "hash-384");
	ck_assert(num_of(s, "dim") == 384);
	ck_assert(num_of(s, "index_rows") == 2);
	ck_assert(num_of(s, "puts") == 3);
	ck_assert(num_of(s, "merged") == 0);
	ck_assert(num_of(s, "searches") == 1);
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(s, "working");
	ck_assert(num_of(w, "items") == 1);
	ck_assert(num_of(w, "tokens") > 0);
	ck_assert(num_of(cJSON_GetObjectItemCaseSensitive(s, "redactions"), "total") == 0);
	t = cJSON_GetObjectItemCaseSensitive(s, "tokens");
	ck_assert(num_of(t, "samples") == 1);
	ck_assert(num_of(t, "mean_abs_error") >= 0);
	cJSON_Delete(s);
	char *json = (char *)"x";
	expect_error(cog_memory_stats(NULL, &json), COG_EINVAL, "mem is NULL");
	ck_assert_ptr_null(json);
	expect_error(cog_memory_stats(m, NULL), COG_EINVAL, "json is NULL");
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- transactions and persistence (stores the caller can reach) ---- */

START_TEST(test_rollback)
{
	cog_ctx *ctx = ctx_open(_i);  /* sqlite or memory */
	cog_memory *m = mem_open(ctx, "acme", NULL);
	cog_storage *store = cog_ctx_storage(ctx);
	uint64_t kept = put(m, "committed before the transaction");
	uint64_t ids[16];
	ck_assert_uint_eq(search_ids(m, "transaction", ids, 16), 1);  /* index loaded */
	ck_assert_int_eq(cog_storage_begin(store), 0);
	uint64_t a = put(m, "written inside a transaction that rolls back");
	ck_assert_uint_eq(put_opt(m, "written inside a transaction that rolls back", NULL,
	                          COG_MEMORY_MERGED), a);
	uint64_t b = put(m, "a second transaction memory, also gone");
	ck_assert_uint_eq(put_opt(m, "committed before the transaction", NULL,
	                          COG_MEMORY_MERGED), kept);
	ck_assert_int_eq(cog_storage_rollback(store), 0);
	ck_assert_ptr_null(get(m, a));
	ck_assert_ptr_null(get(m, b));
	size_t n = search_ids(m, "transaction", ids, 16);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(ids[0], kept);
	/* the same text again is a new memory, not a merge into what rolled back */
	uint64_t c = put(m, "written inside a transaction that rolls back");
	cJSON *g = get(m, c);
	ck_assert_str_eq(str_of(g, "text"), "written inside a transaction that rolls back");
	cJSON_Delete(g);
	/* the merge into `kept` rolled back too: updated_at is back */
	g = get(m, kept);
	ck_assert(num_of(g, "updated_at") == num_of(g, "created_at"));
	cJSON_Delete(g);
	/* a committed batch */
	ck_assert_int_eq(cog_storage_begin(store), 0);
	uint64_t batch[50];
	for (int i = 0; i < 50; i++) {
		char t[64];
		snprintf(t, sizeof(t), "batch memory number %d of fifty", i);
		batch[i] = put_meta(m, t, COG_MEMORY_LONG_TERM, NULL);  /* no_dedupe */
	}
	ck_assert_int_eq(cog_storage_commit(store), 0);
	for (int i = 0; i < 50; i++) {
		ck_assert_ptr_nonnull(g = get(m, batch[i]));
		cJSON_Delete(g);
	}
	ck_assert_uint_eq(forget_all(m), 52);
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(test_persistence)
{
	cog_ctx *ctx = ctx_open(BACKEND_SQLITE);
	cog_memory *m = mem_open(ctx, "acme/alice", NULL);
	cog_memory_put_options o = COG_MEMORY_PUT_OPTIONS_INIT;
	o.metadata = "{\"k\":\"v\"}";
	uint64_t lt = put_opt(m, "a long-term fact about penguins", &o, 0);
	o.layer = COG_MEMORY_SHORT_TERM;
	uint64_t st = put_opt(m, "a short-term fact about puffins", &o, 0);
	uint64_t ep = 0;
	ck_assert_int_eq(cog_memory_record_episode(m, "{\"kind\":\"task\",\"task\":\"t1\"}", &ep), 0);
	char *before[3];
	uint64_t ids[3] = { lt, st, ep };
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(cog_memory_get(m, ids[i], &before[i]), 0);
	cog_memory_free(m);
	cog_ctx_free(ctx);

	ctx = ctx_open(BACKEND_SQLITE);
	m = mem_open(ctx, "acme/alice", NULL);
	for (int i = 0; i < 3; i++) {
		char *after = NULL;
		ck_assert_int_eq(cog_memory_get(m, ids[i], &after), 0);
		ck_assert_str_eq(after, before[i]);
		cog_free(after);
		cog_free(before[i]);
	}
	/* the index comes back from the file: the same text merges */
	ck_assert_uint_eq(put_opt(m, "a long-term fact about penguins", NULL, COG_MEMORY_MERGED),
	                  lt);
	uint64_t found[4];
	ck_assert(has_id(found, search_ids(m, "puffins", found, 4), st));
	cog_memory_free(m);
	cog_ctx_free(ctx);
}
END_TEST

static Suite *api_suite(void)
{
	Suite *s = suite_create("memory-api");
	TCase *tc = tcase_create("api");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_put_get, 0, BACKENDS);
	tcase_add_loop_test(tc, test_default_options, 0, BACKENDS);
	tcase_add_loop_test(tc, test_bad_input, 0, BACKENDS);
	tcase_add_loop_test(tc, test_caller_vector, 0, BACKENDS);
	tcase_add_loop_test(tc, test_short_term_expiry, 0, BACKENDS);
	tcase_add_loop_test(tc, test_working_memory, 0, BACKENDS);
	tcase_add_loop_test(tc, test_merge, 0, BACKENDS);
	tcase_add_loop_test(tc, test_never_merge, 0, BACKENDS);
	tcase_add_loop_test(tc, test_merge_needs_same_words, 0, BACKENDS);
	tcase_add_loop_test(tc, test_merge_by_word_count, 0, BACKENDS);
	tcase_add_test(tc, test_merge_llm_cosine);
	tcase_add_loop_test(tc, test_redaction, 0, BACKENDS);
	tcase_add_loop_test(tc, test_metadata_redaction, 0, BACKENDS);
	tcase_add_loop_test(tc, test_forget, 0, BACKENDS);
	tcase_add_loop_test(tc, test_forget_where, 0, BACKENDS);
	tcase_add_loop_test(tc, test_record_episode, 0, BACKENDS);
	tcase_add_loop_test(tc, test_put_json, 0, BACKENDS);
	tcase_add_loop_test(tc, test_stats, 0, BACKENDS);
	tcase_add_loop_test(tc, test_rollback, BACKEND_SQLITE, BACKEND_NONE);
	tcase_add_test(tc, test_persistence);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(api_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
