/*
 * The storage conformance cases for memory records (vtable version 2):
 * put, replace, find with every condition, keyword ranking, expiry, purge,
 * embeddings, delete, transactions, persistence, namespace isolation and
 * bad arguments. Every backend runs them, the core's fallback over
 * documents too (a backend without the memory members).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage_conformance.h"

/* ---- helpers ---- */

typedef struct got {
	uint64_t id;
	char *ns, *text, *metadata, *model;
	unsigned int layer;
	double importance, score;
	int64_t created_at, updated_at, expires_at;
	float *embedding;
	uint32_t dim;
} got;

typedef struct found {
	got *items;
	size_t n, cap;
	size_t stop_after;     /* return COG_STORAGE_STOP at this many (0: never) */
	int fail_with;         /* ... or this status */
	int reenter_rc;        /* what a call into the storage from fn returned */
	bool reenter;
} found;

static char *dup_n(const char *s, size_t len)
{
	char *d = malloc(len + 1);
	ck_assert_ptr_nonnull(d);
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

static int collect(const cog_storage_memory_record *r, double score, void *ud)
{
	found *f = ud;
	ck_assert_uint_eq(strlen(r->text), r->text_len);
	ck_assert_uint_eq(strlen(r->metadata), r->metadata_len);
	ck_assert_ptr_nonnull(r->embed_model);
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 16;
		f->items = realloc(f->items, f->cap * sizeof(*f->items));
		ck_assert_ptr_nonnull(f->items);
	}
	got *g = &f->items[f->n++];
	memset(g, 0, sizeof(*g));
	g->id = r->id;
	g->ns = dup_n(r->ns, strlen(r->ns));
	g->text = dup_n(r->text, r->text_len);
	g->metadata = dup_n(r->metadata, r->metadata_len);
	g->model = dup_n(r->embed_model, strlen(r->embed_model));
	g->layer = r->layer;
	g->importance = r->importance;
	g->score = score;
	g->created_at = r->created_at;
	g->updated_at = r->updated_at;
	g->expires_at = r->expires_at;
	g->dim = r->dim;
	if (r->embedding) {
		g->embedding = malloc(r->dim * sizeof(float));
		memcpy(g->embedding, r->embedding, r->dim * sizeof(float));
	}
	if (f->reenter) {
		cog_storage_memory_record again = *r;
		f->reenter_rc = cog_storage_memory_put(conformance_storage(), &again);
	}
	if (f->fail_with && f->n == f->stop_after)
		return f->fail_with;
	return f->stop_after && f->n == f->stop_after ? COG_STORAGE_STOP : 0;
}

static void found_free(found *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->items[i].ns);
		free(f->items[i].text);
		free(f->items[i].metadata);
		free(f->items[i].model);
		free(f->items[i].embedding);
	}
	free(f->items);
	memset(f, 0, sizeof(*f));
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static cog_storage_memory_record record(const char *ns, unsigned int layer,
                                        const char *text, const char *meta)
{
	cog_storage_memory_record r = {
		.ns = ns, .layer = layer, .text = text, .text_len = strlen(text),
		.metadata = meta ? meta : "{}", .metadata_len = meta ? strlen(meta) : 2,
		.importance = 0.5, .created_at = 1000, .updated_at = 1000, .embed_model = "",
	};
	return r;
}

static uint64_t put_rec(cog_storage_memory_record *r)
{
	int rc = cog_storage_memory_put(conformance_storage(), r);
	ck_assert_msg(rc == 0, "memory put \"%s\": %d %s", r->text, rc, cog_error_last());
	ck_assert_uint_ge(r->id, 1);
	ck_assert_uint_lt(r->id, UINT64_C(1) << 53);
	return r->id;
}

static uint64_t mput(const char *ns, unsigned int layer, const char *text,
                     const char *meta, int64_t created_at)
{
	cog_storage_memory_record r = record(ns, layer, text, meta);
	r.created_at = r.updated_at = created_at;
	return put_rec(&r);
}

static cog_storage_memory_query query1(const char *const *ns)
{
	cog_storage_memory_query q = { .ns = ns, .ns_count = 1 };
	return q;
}

static void find(const cog_storage_memory_query *q, found *f)
{
	int rc = cog_storage_memory_find(conformance_storage(), q, collect, f);
	ck_assert_msg(rc == 0, "memory find: %d %s", rc, cog_error_last());
}

/* The ids a query returns, in order, as "1,2,3". */
static const char *find_ids(const cog_storage_memory_query *q, const uint64_t *base)
{
	static char out[1024];
	found f = { 0 };
	find(q, &f);
	out[0] = '\0';
	for (size_t i = 0; i < f.n; i++) {
		size_t len = strlen(out);
		/* Print ids relative to the test's own (they need not start at 1). */
		long rel = -1;
		for (int k = 0; base && base[k]; k++)
			if (base[k] == f.items[i].id)
				rel = k;
		snprintf(out + len, sizeof(out) - len, "%s%ld", len ? "," : "", rel);
	}
	found_free(&f);
	return out;
}

static void expect_ids(const cog_storage_memory_query *q, const uint64_t *ids,
                       const char *expected)
{
	const char *actual = find_ids(q, ids);
	ck_assert_msg(strcmp(actual, expected) == 0, "expected records [%s], got [%s]",
		expected, actual);
}

/* ---- put and replace ---- */

START_TEST(mem_put_and_replace)
{
	static const char *const a[] = { "acme/alice" };
	static const char *const b[] = { "acme/bob" };
	uint64_t id1 = mput("acme/alice", COG_MEMORY_LONG_TERM, "first memory", "{\"n\":1}", 1000);
	uint64_t id2 = mput("acme/bob", COG_MEMORY_LONG_TERM, "second memory", NULL, 1001);
	uint64_t id3 = mput("acme/alice", COG_MEMORY_EPISODIC, "third memory", NULL, 1002);
	ck_assert_uint_lt(id1, id2);
	ck_assert_uint_lt(id2, id3);

	/* Replace: same id, every field new. */
	cog_storage_memory_record r = record("acme/alice", COG_MEMORY_SHORT_TERM,
		"first memory, revised \xe2\x82\xac", "{\"n\":2,\"s\":\"caf\xc3\xa9\"}");
	r.id = id1;
	r.importance = 0.3;
	r.created_at = 1000;
	r.updated_at = 5000;
	r.expires_at = now_ms() + 3600 * 1000;
	ck_assert_uint_eq(put_rec(&r), id1);
	cog_storage_memory_query q = query1(a);
	found f = { 0 };
	find(&q, &f);
	ck_assert_uint_eq(f.n, 2);
	ck_assert_uint_eq(f.items[0].id, id1);
	ck_assert_str_eq(f.items[0].ns, "acme/alice");
	ck_assert_str_eq(f.items[0].text, "first memory, revised \xe2\x82\xac");
	ck_assert_str_eq(f.items[0].metadata, "{\"n\":2,\"s\":\"caf\xc3\xa9\"}");
	ck_assert_uint_eq(f.items[0].layer, COG_MEMORY_SHORT_TERM);
	ck_assert(f.items[0].importance == 0.3);
	ck_assert_int_eq(f.items[0].created_at, 1000);
	ck_assert_int_eq(f.items[0].updated_at, 5000);
	ck_assert_int_eq(f.items[0].expires_at, r.expires_at);
	ck_assert(f.items[0].score == 0.0);
	ck_assert_uint_eq(f.items[1].id, id3);
	found_free(&f);

	/* Replacing an unknown id, or one of another namespace, is refused and
	 * changes nothing. */
	cog_storage_memory_record bad = record("acme/alice", COG_MEMORY_LONG_TERM, "x", NULL);
	bad.id = id3 + 1000;
	ck_assert_int_eq(cog_storage_memory_put(conformance_storage(), &bad), COG_ENOTFOUND);
	ck_assert_uint_eq(bad.id, id3 + 1000);
	bad.id = id2; /* lives in acme/bob */
	ck_assert_int_eq(cog_storage_memory_put(conformance_storage(), &bad), COG_ENOTFOUND);
	q = query1(b);
	find(&q, &f);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_str_eq(f.items[0].text, "second memory");
	found_free(&f);
	q = query1(a);
	find(&q, &f);
	ck_assert_uint_eq(f.n, 2);
	found_free(&f);

	/* Ids are never reused, not even the last one after a delete. */
	cog_storage_memory_query del = query1(a);
	del.ids = &id3;
	del.id_count = 1;
	size_t deleted = 0;
	ck_assert_int_eq(cog_storage_memory_delete(conformance_storage(), &del, &deleted), 0);
	ck_assert_uint_eq(deleted, 1);
	ck_assert_uint_gt(mput("acme/alice", COG_MEMORY_LONG_TERM, "fourth", NULL, 1003), id3);
}
END_TEST

/* ---- find ---- */

START_TEST(mem_find_conditions)
{
	static const char *const ns[] = { "t/u" };
	static const char *const two[] = { "t/u", "t/v" };
	uint64_t id[8] = { 0 };
	id[0] = mput("t/u", COG_MEMORY_LONG_TERM, "zero", "{\"topic\":\"billing\",\"n\":1,\"pinned\":true}", 100);
	id[1] = mput("t/u", COG_MEMORY_SHORT_TERM, "one", "{\"topic\":\"billing\",\"n\":2,\"pinned\":false}", 200);
	id[2] = mput("t/v", COG_MEMORY_LONG_TERM, "two", "{\"topic\":\"billing\",\"n\":1}", 300);
	id[3] = mput("t/u", COG_MEMORY_EPISODIC, "three", "{\"topic\":\"sales\",\"n\":1.0,\"x\":null}", 400);
	id[4] = mput("t/u", COG_MEMORY_WORKING, "four", "{\"topic\":\"billing\",\"n\":{\"deep\":1}}", 500);
	id[5] = mput("t/u/w", COG_MEMORY_LONG_TERM, "five", NULL, 600);
	id[6] = mput("t", COG_MEMORY_LONG_TERM, "six", NULL, 700);

	cog_storage_memory_query q = query1(ns);
	expect_ids(&q, id, "0,1,3,4"); /* exact namespace: no parent, no child */
	q.ns = two;
	q.ns_count = 2;
	expect_ids(&q, id, "0,1,2,3,4");
	q.layers = COG_MEMORY_LONG_TERM;
	expect_ids(&q, id, "0,2");
	q.layers = COG_MEMORY_LONG_TERM | COG_MEMORY_EPISODIC;
	expect_ids(&q, id, "0,2,3");
	q.layers = COG_MEMORY_LAYERS_ALL;
	q.since = 200;
	q.until = 400;
	expect_ids(&q, id, "1,2");  /* since inclusive, until exclusive */
	q.since = q.until = 0;
	q.after_id = id[1];
	expect_ids(&q, id, "2,3,4");
	q.after_id = 0;
	q.limit = 2;
	expect_ids(&q, id, "0,1");
	q.limit = 0;

	q.filter = "{\"topic\":\"billing\"}";
	expect_ids(&q, id, "0,1,2,4");
	q.filter = "{\"topic\":\"billing\",\"n\":1}";
	expect_ids(&q, id, "0,2");
	q.filter = "{\"n\":1}";  /* 1.0 is the number 1 */
	expect_ids(&q, id, "0,2,3");
	q.filter = "{\"pinned\":true}";
	expect_ids(&q, id, "0");
	q.filter = "{\"pinned\":false}";
	expect_ids(&q, id, "1");
	q.filter = "{\"pinned\":null}";  /* null matches absent too */
	expect_ids(&q, id, "2,3,4");
	q.filter = "{\"x\":null}";
	expect_ids(&q, id, "0,1,2,3,4");
	q.filter = "{\"n\":\"1\"}";  /* a string is not a number */
	expect_ids(&q, id, "");
	q.filter = "{\"topic\":\"Billing\"}";  /* values are case-sensitive */
	expect_ids(&q, id, "");
	q.filter = "{}";
	expect_ids(&q, id, "0,1,2,3,4");
	q.filter = NULL;

	uint64_t want[] = { id[4], id[0], id[5], id[2], id[4], 999999 };
	q.ids = want;
	q.id_count = 6;
	expect_ids(&q, id, "0,2,4");  /* id order; t/u/w and unknown ids are not seen */
	q.layers = COG_MEMORY_WORKING;
	expect_ids(&q, id, "4");
	q.layers = 0;
	q.limit = 1;
	q.after_id = id[0];
	expect_ids(&q, id, "2");
	q.ids = NULL;
	q.id_count = 0;
	q.limit = 0;
	q.after_id = 0;

	/* Unknown namespaces are empty, not errors. */
	static const char *const nobody[] = { "nobody/here" };
	q = query1(nobody);
	expect_ids(&q, id, "");
	q.match = "zero";
	expect_ids(&q, id, "");
}
END_TEST

START_TEST(mem_find_stop_and_reenter)
{
	static const char *const ns[] = { "s" };
	for (int i = 0; i < 5; i++)
		mput("s", COG_MEMORY_LONG_TERM, "word", NULL, 1000 + i);
	cog_storage_memory_query q = query1(ns);
	found f = { .stop_after = 2 };
	find(&q, &f);
	ck_assert_uint_eq(f.n, 2);
	found_free(&f);
	q.match = "word";
	f.stop_after = 3;
	find(&q, &f);
	ck_assert_uint_eq(f.n, 3);
	found_free(&f);
	f.stop_after = 1;
	f.fail_with = COG_EUSER;
	ck_assert_int_eq(cog_storage_memory_find(conformance_storage(), &q, collect, &f), COG_EUSER);
	ck_assert_uint_eq(f.n, 1);
	found_free(&f);
	/* The callback cannot call into the same storage. */
	f.reenter = true;
	f.stop_after = 1;
	find(&q, &f);
	ck_assert_int_eq(f.reenter_rc, COG_EBUSY);
	found_free(&f);
	q.match = NULL;
	f.reenter = true;
	f.stop_after = 1;
	find(&q, &f);
	ck_assert_int_eq(f.reenter_rc, COG_EBUSY);
	found_free(&f);
	/* The store works afterwards. */
	mput("s", COG_MEMORY_LONG_TERM, "after", NULL, 2000);
}
END_TEST

/* ---- keyword search ---- */

START_TEST(mem_keyword_ranking)
{
	static const char *const ns[] = { "k/ns" };
	uint64_t id[10] = { 0 };
	id[0] = mput("k/ns", COG_MEMORY_LONG_TERM,
		"A long note that mentions the Invoice once among many other words about "
		"payments, customers, shipping, refunds, discounts and the weather", NULL, 1);
	id[1] = mput("k/ns", COG_MEMORY_LONG_TERM, "invoice INVOICE overdue", NULL, 2);
	id[2] = mput("k/ns", COG_MEMORY_LONG_TERM, "nothing relevant here", NULL, 3);
	id[3] = mput("k/ns", COG_MEMORY_LONG_TERM, "twin text", NULL, 4);
	id[4] = mput("k/ns", COG_MEMORY_LONG_TERM, "twin text", NULL, 5);
	id[5] = mput("k/other", COG_MEMORY_LONG_TERM, "invoice invoice invoice", NULL, 6);

	cog_storage_memory_query q = query1(ns);
	q.match = "invoice";
	expect_ids(&q, id, "1,0");
	q.match = "INVOICE";  /* case-insensitive */
	expect_ids(&q, id, "1,0");
	q.match = "twin";    /* equal scores: ascending id */
	expect_ids(&q, id, "3,4");
	q.match = "overdue twin";  /* any of the words */
	expect_ids(&q, id, "1,3,4");
	q.match = "invoice";
	q.limit = 1;
	expect_ids(&q, id, "1");
	q.limit = 0;
	q.after_id = id[0];
	expect_ids(&q, id, "1");
	q.after_id = 0;
	uint64_t only[] = { id[0] };
	q.ids = only;
	q.id_count = 1;
	expect_ids(&q, id, "0");
	q.ids = NULL;
	q.id_count = 0;
	q.match = "absentword";
	expect_ids(&q, id, "");

	/* Scores: positive with match, best first; 0 without. */
	q.match = "invoice twin";
	found f = { 0 };
	find(&q, &f);
	ck_assert_uint_eq(f.n, 4);
	for (size_t i = 0; i < f.n; i++) {
		ck_assert_msg(f.items[i].score > 0, "score %g", f.items[i].score);
		if (i)
			ck_assert(f.items[i].score <= f.items[i - 1].score);
	}
	found_free(&f);
	q.match = NULL;
	find(&q, &f);
	ck_assert_uint_eq(f.n, 5);
	for (size_t i = 0; i < f.n; i++)
		ck_assert(f.items[i].score == 0.0);
	found_free(&f);
}
END_TEST

START_TEST(mem_keyword_limit_is_top)
{
	/* With a limit, the first records of the full ranking. */
	static const char *const ns[] = { "top" };
	uint64_t id[13] = { 0 };
	char text[256];
	for (int i = 0; i < 12; i++) {
		int reps = 1 + (i * 7) % 5;
		text[0] = '\0';
		for (int r = 0; r < reps; r++)
			strcat(text, "alpha ");
		strcat(text, "filler words");
		id[i] = mput("top", COG_MEMORY_LONG_TERM, text, NULL, 1);
	}
	cog_storage_memory_query q = query1(ns);
	q.match = "alpha";
	char all[1024];
	snprintf(all, sizeof(all), "%s", find_ids(&q, id));
	q.limit = 4;
	const char *top = find_ids(&q, id);
	ck_assert_msg(strncmp(all, top, strlen(top)) == 0 && all[strlen(top)] == ',',
		"top 4 [%s] is not the start of [%s]", top, all);
}
END_TEST

START_TEST(mem_keyword_first_distinct_words)
{
	/* Only the first COG_STORAGE_MATCH_WORDS distinct words of a match
	 * count (repeats do not use up the allowance). */
	static const char *const ns[] = { "cap" };
	uint64_t id[3] = { 0 };
	id[0] = mput("cap", COG_MEMORY_LONG_TERM, "zzlast word", NULL, 1);
	id[1] = mput("cap", COG_MEMORY_LONG_TERM, "zzedge word", NULL, 1);
	size_t cap = COG_STORAGE_MATCH_WORDS + 40, len = 0;
	char *text = malloc(cap * 16);
	ck_assert_ptr_nonnull(text);
	text[0] = '\0';
	/* 255 distinct filler words, each said twice, then the 256th and the 257th */
	for (unsigned int i = 0; i + 1 < COG_STORAGE_MATCH_WORDS; i++)
		len += (size_t)sprintf(text + len, "f%u f%u ", i, i);
	len += (size_t)sprintf(text + len, "zzedge zzlast");
	cog_storage_memory_query q = query1(ns);
	q.match = text;
	expect_ids(&q, id, "1");
	sprintf(text, "zzlast zzedge");
	expect_ids(&q, id, "0,1");
	free(text);
}
END_TEST

START_TEST(mem_keyword_syntax_is_plain_text)
{
	static const char *const ns[] = { "fts" };
	static const char *const texts[] = {
		"quote \"inside\" here", "star*power", "AND or NOT", "NEAR(x y)",
		"'; DROP TABLE memories; --", "caret^up", "colon:field", "plain words",
	};
	uint64_t id[9] = { 0 };
	for (int i = 0; i < 8; i++)
		id[i] = mput("fts", COG_MEMORY_LONG_TERM, texts[i], NULL, 1);
	static const struct { const char *match, *expect; } cases[] = {
		{ "\"inside", "0" }, { "\"", "" }, { "star*", "1" }, { "*", "" },
		{ "AND", "2" }, { "NOT", "2" }, { "OR", "2" }, { "NEAR(", "3" },
		{ "NEAR(x", "3" }, { "'; DROP TABLE", "4" }, { "^", "" }, { "caret^", "5" },
		{ "colon:", "6" }, { ":", "" }, { "field:colon", "6" }, { "-- plain", "7" },
		{ "(\"", "" }, { "{ } [ ] + - ~ @ #", "" }, { "x:y AND \"z", "3,2" },
		{ "", "" }, { "   \t ", "" },
	};
	cog_storage_memory_query q = query1(ns);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		q.match = cases[i].match;
		const char *actual = find_ids(&q, id);
		ck_assert_msg(strcmp(actual, cases[i].expect) == 0, "match '%s': expected [%s], got [%s]",
			cases[i].match, cases[i].expect, actual);
	}
	/* Nothing was dropped. */
	q.match = NULL;
	expect_ids(&q, id, "0,1,2,3,4,5,6,7");
}
END_TEST

/* ---- expiry ---- */

START_TEST(mem_expiry_and_purge)
{
	static const char *const ns[] = { "exp" };
	int64_t now = now_ms();
	uint64_t id[4] = { 0 };
	cog_storage_memory_record r = record("exp", COG_MEMORY_SHORT_TERM, "gone already", NULL);
	r.expires_at = now - 1000;
	id[0] = put_rec(&r);
	r = record("exp", COG_MEMORY_SHORT_TERM, "gone soon", NULL);
	r.expires_at = now + 3600 * 1000;
	id[1] = put_rec(&r);
	id[2] = mput("exp", COG_MEMORY_LONG_TERM, "gone forever", NULL, 1);

	cog_storage_memory_query q = query1(ns);
	expect_ids(&q, id, "1,2");
	q.match = "gone";
	expect_ids(&q, id, "1,2");
	q.match = NULL;
	q.now = now + 2 * 3600 * 1000;  /* a later moment hides the hour */
	expect_ids(&q, id, "2");
	q.match = "gone";
	expect_ids(&q, id, "2");
	/* A delete does not see expired records either. */
	q.match = NULL;
	q.now = 0;
	q.layers = COG_MEMORY_SHORT_TERM;
	size_t n = 99;
	ck_assert_int_eq(cog_storage_memory_delete(conformance_storage(), &q, &n), 0);
	ck_assert_uint_eq(n, 1);  /* the hour, not the expired one */
	size_t purged = 99;
	ck_assert_int_eq(cog_storage_purge_expired(conformance_storage(), &purged), 0);
	ck_assert_uint_eq(purged, 1);
	ck_assert_int_eq(cog_storage_purge_expired(conformance_storage(), &purged), 0);
	ck_assert_uint_eq(purged, 0);
	q.layers = 0;
	expect_ids(&q, id, "2");
}
END_TEST

/* ---- embeddings ---- */

START_TEST(mem_embedding_round_trip)
{
	static const char *const ns[] = { "emb" };
	float v[12] = { 0.0f, -0.0f, 1.0f, -1.5f, FLT_MIN, FLT_MAX, -FLT_MAX, 3.14159265f,
		1e-20f, -7.25e9f, 0.1f, 0.0f };
	v[11] = nextafterf(0.0f, 1.0f);  /* the smallest subnormal */
	cog_storage_memory_record r = record("emb", COG_MEMORY_LONG_TERM, "vector", NULL);
	r.embedding = v;
	r.dim = 12;
	r.embed_model = "hashing-384";
	uint64_t id1 = put_rec(&r);
	float *big = malloc(4096 * sizeof(float));
	srand(7);
	for (int i = 0; i < 4096; i++)
		big[i] = (float)rand() / (float)RAND_MAX - 0.5f;
	r = record("emb", COG_MEMORY_LONG_TERM, "big vector", NULL);
	r.embedding = big;
	r.dim = 4096;
	r.embed_model = "text-embedding-3-large";
	uint64_t id2 = put_rec(&r);
	mput("emb", COG_MEMORY_LONG_TERM, "no vector", NULL, 1);

	cog_storage_memory_query q = query1(ns);
	q.with_embedding = 1;
	found f = { 0 };
	find(&q, &f);
	ck_assert_uint_eq(f.n, 3);
	ck_assert_uint_eq(f.items[0].id, id1);
	ck_assert_uint_eq(f.items[0].dim, 12);
	ck_assert_ptr_nonnull(f.items[0].embedding);
	ck_assert_msg(memcmp(f.items[0].embedding, v, sizeof(v)) == 0, "embedding bits differ");
	ck_assert_str_eq(f.items[0].model, "hashing-384");
	ck_assert_uint_eq(f.items[1].id, id2);
	ck_assert_uint_eq(f.items[1].dim, 4096);
	ck_assert_msg(memcmp(f.items[1].embedding, big, 4096 * sizeof(float)) == 0,
		"large embedding bits differ");
	ck_assert_ptr_null(f.items[2].embedding);
	ck_assert_uint_eq(f.items[2].dim, 0);
	ck_assert_str_eq(f.items[2].model, "");
	found_free(&f);

	q.with_embedding = 0;
	q.match = "vector";
	find(&q, &f);
	ck_assert_uint_eq(f.n, 3);
	for (size_t i = 0; i < f.n; i++)
		ck_assert_ptr_null(f.items[i].embedding);
	ck_assert_str_eq(f.items[0].model, "hashing-384");  /* the model still comes */
	found_free(&f);
	free(big);
}
END_TEST

/* ---- delete ---- */

START_TEST(mem_delete)
{
	static const char *const a[] = { "d/a" };
	static const char *const b[] = { "d/b" };
	uint64_t id[8] = { 0 };
	id[0] = mput("d/a", COG_MEMORY_LONG_TERM, "a0", "{\"tag\":\"x\"}", 1);
	id[1] = mput("d/a", COG_MEMORY_LONG_TERM, "a1", "{\"tag\":\"y\"}", 2);
	id[2] = mput("d/a", COG_MEMORY_EPISODIC, "a2", "{\"tag\":\"x\"}", 3);
	id[3] = mput("d/b", COG_MEMORY_LONG_TERM, "b3", "{\"tag\":\"x\"}", 4);
	id[4] = mput("d/a", COG_MEMORY_LONG_TERM, "a4", "{\"tag\":\"z\"}", 5);
	cog_storage *s = conformance_storage();

	/* By ids: only those of the named namespace. */
	cog_storage_memory_query q = query1(a);
	uint64_t ids[] = { id[1], id[3], 987654 };
	q.ids = ids;
	q.id_count = 3;
	size_t n = 99;
	ck_assert_int_eq(cog_storage_memory_delete(s, &q, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(cog_storage_memory_delete(s, &q, &n), 0);
	ck_assert_uint_eq(n, 0);
	q.ids = NULL;
	q.id_count = 0;
	/* By filter, with layers. */
	q.filter = "{\"tag\":\"x\"}";
	q.layers = COG_MEMORY_LONG_TERM;
	ck_assert_int_eq(cog_storage_memory_delete(s, &q, &n), 0);
	ck_assert_uint_eq(n, 1);
	q.filter = NULL;
	q.layers = 0;
	expect_ids(&q, id, "2,4");
	cog_storage_memory_query qb = query1(b);
	expect_ids(&qb, id, "3");
	q.match = "a4";
	expect_ids(&q, id, "4");
	q.match = "a0";  /* a deleted record is gone from keyword search too */
	expect_ids(&q, id, "");
	q.match = NULL;

	/* Refused: nothing but namespaces (after_id and limit do not count),
	 * a filter without members, all layers; and match. */
	q.after_id = 1;
	q.limit = 5;
	q.filter = "{}";
	q.layers = COG_MEMORY_LAYERS_ALL;
	n = 99;
	ck_assert_int_eq(cog_storage_memory_delete(s, &q, &n), COG_EINVAL);
	ck_assert_msg(strstr(cog_error_last(), "ids or a filter"), "%s", cog_error_last());
	ck_assert_uint_eq(n, 0);
	q.after_id = 0;
	q.limit = 0;
	q.filter = NULL;
	q.layers = 0;
	ck_assert_int_eq(cog_storage_memory_delete(s, &q, NULL), COG_EINVAL);
	q.match = "a4";
	q.filter = "{\"tag\":\"z\"}";
	ck_assert_int_eq(cog_storage_memory_delete(s, &q, NULL), COG_EINVAL);
	ck_assert_msg(strstr(cog_error_last(), "q->match"), "%s", cog_error_last());
	q.match = NULL;
	q.filter = NULL;
	expect_ids(&q, id, "2,4");
	/* A time bound alone is enough. */
	q.since = 5;
	ck_assert_int_eq(cog_storage_memory_delete(s, &q, &n), 0);
	ck_assert_uint_eq(n, 1);
	q.since = 0;
	expect_ids(&q, id, "2");
}
END_TEST

/* ---- transactions ---- */

START_TEST(mem_transaction_rollback)
{
	static const char *const ns[] = { "tx" };
	cog_storage *s = conformance_storage();
	uint64_t id[8] = { 0 };
	id[0] = mput("tx", COG_MEMORY_LONG_TERM, "keep original apple", NULL, 1);
	id[1] = mput("tx", COG_MEMORY_LONG_TERM, "doomed banana", NULL, 2);

	ck_assert_int_eq(cog_storage_begin(s), 0);
	id[2] = mput("tx", COG_MEMORY_LONG_TERM, "added cherry", NULL, 3);
	cog_storage_memory_record r = record("tx", COG_MEMORY_LONG_TERM, "keep changed durian", NULL);
	r.id = id[0];
	put_rec(&r);
	cog_storage_memory_query q = query1(ns);
	q.ids = &id[1];
	q.id_count = 1;
	size_t n = 0;
	ck_assert_int_eq(cog_storage_memory_delete(s, &q, &n), 0);
	ck_assert_uint_eq(n, 1);
	q.ids = NULL;
	q.id_count = 0;
	expect_ids(&q, id, "0,2");  /* a transaction sees its own writes */
	q.match = "durian";
	expect_ids(&q, id, "0");
	ck_assert_int_eq(cog_storage_rollback(s), 0);

	q.match = NULL;
	expect_ids(&q, id, "0,1");
	found f = { 0 };
	find(&q, &f);
	ck_assert_str_eq(f.items[0].text, "keep original apple");
	found_free(&f);
	static const struct { const char *match, *expect; } after[] = {
		{ "apple", "0" }, { "banana", "1" }, { "cherry", "" }, { "durian", "" },
		{ "keep", "0" },
	};
	for (size_t i = 0; i < sizeof(after) / sizeof(*after); i++) {
		q.match = after[i].match;
		expect_ids(&q, id, after[i].expect);
	}
	q.match = NULL;

	ck_assert_int_eq(cog_storage_begin(s), 0);
	id[3] = mput("tx", COG_MEMORY_LONG_TERM, "committed elderberry", NULL, 4);
	ck_assert_int_eq(cog_storage_commit(s), 0);
	q.match = "elderberry";
	expect_ids(&q, id, "3");
	q.match = NULL;
	expect_ids(&q, id, "0,1,3");
}
END_TEST

/* ---- persistence ---- */

START_TEST(mem_reopen_keeps_records)
{
	static const char *const ns[] = { "p/q" };
	float v[3] = { 0.25f, -1.0f, 1e-3f };
	cog_storage_memory_record r = record("p/q", COG_MEMORY_LONG_TERM, "persistent fig", "{\"k\":1}");
	r.embedding = v;
	r.dim = 3;
	r.embed_model = "m";
	uint64_t id[4] = { 0 };
	id[0] = put_rec(&r);
	id[1] = mput("p/q", COG_MEMORY_EPISODIC, "persistent grape", NULL, 2);
	id[2] = mput("p/q", COG_MEMORY_EPISODIC, "last one", NULL, 3);
	cog_storage_memory_query q = query1(ns);
	q.ids = &id[2];
	q.id_count = 1;
	ck_assert_int_eq(cog_storage_memory_delete(conformance_storage(), &q, NULL), 0);
	q.ids = NULL;
	q.id_count = 0;
	conformance_reopen();
	q.with_embedding = 1;
	found f = { 0 };
	find(&q, &f);
	ck_assert_uint_eq(f.n, 2);
	ck_assert_str_eq(f.items[0].text, "persistent fig");
	ck_assert_str_eq(f.items[0].metadata, "{\"k\":1}");
	ck_assert_uint_eq(f.items[0].dim, 3);
	ck_assert(memcmp(f.items[0].embedding, v, sizeof(v)) == 0);
	found_free(&f);
	q.with_embedding = 0;
	q.match = "grape";
	expect_ids(&q, id, "1");
	ck_assert_uint_gt(mput("p/q", COG_MEMORY_LONG_TERM, "after reopen", NULL, 4), id[2]);
}
END_TEST

/* ---- isolation: 1,000 namespaces ---- */

#define ISO_NS 1000
#define ISO_WORDS 12

static const char *const iso_words[ISO_WORDS] = {
	"red", "green", "blue", "cyan", "magenta", "yellow", "black", "white",
	"orange", "purple", "brown", "grey",
};

typedef struct iso_rec {
	int ns;
	unsigned int words;  /* bit per iso_words entry */
	int k;
	unsigned int layer;
} iso_rec;

static void iso_name(char *out, size_t cap, int ns)
{
	snprintf(out, cap, "tenant%d/user%d", ns % 7, ns);
}

START_TEST(mem_namespace_isolation)
{
	cog_storage *s = conformance_storage();
	iso_rec *recs = calloc(ISO_NS * 4, sizeof(*recs));
	int count = 0;
	srand(1234);
	ck_assert_int_eq(cog_storage_begin(s), 0);
	for (int ns = 0; ns < ISO_NS; ns++) {
		int per = 1 + rand() % 4;
		char name[64];
		iso_name(name, sizeof(name), ns);
		for (int i = 0; i < per; i++) {
			iso_rec *ir = &recs[count++];
			char text[256] = "", meta[64];
			ir->ns = ns;
			ir->k = rand() % 4;
			ir->layer = 1u << (rand() % 4);
			for (int w = 0; w < 3; w++) {
				int pick = rand() % ISO_WORDS;
				ir->words |= 1u << pick;
				strcat(text, iso_words[pick]);
				strcat(text, " ");
			}
			snprintf(meta, sizeof(meta), "{\"k\":%d}", ir->k);
			mput(name, ir->layer, text, meta, 1000 + count);
		}
	}
	ck_assert_int_eq(cog_storage_commit(s), 0);

	for (int round = 0; round < 2000; round++) {
		int ns = rand() % (ISO_NS + 50);  /* some namespaces do not exist */
		char name[64], filter[32];
		iso_name(name, sizeof(name), ns);
		const char *const names[] = { name };
		cog_storage_memory_query q = query1(names);
		int word = -1, k = -1;
		unsigned int layers = 0;
		switch (round % 4) {
		case 0: word = rand() % ISO_WORDS; break;
		case 1: k = rand() % 4; break;
		case 2: word = rand() % ISO_WORDS; k = rand() % 4; break;
		default: word = rand() % ISO_WORDS; layers = 1u << (rand() % 4); break;
		}
		if (word >= 0)
			q.match = iso_words[word];
		if (k >= 0) {
			snprintf(filter, sizeof(filter), "{\"k\":%d}", k);
			q.filter = filter;
		}
		q.layers = layers;
		found f = { 0 };
		find(&q, &f);
		size_t expect = 0;
		for (int i = 0; i < count; i++)
			expect += recs[i].ns == ns && (word < 0 || (recs[i].words >> word & 1)) &&
				(k < 0 || recs[i].k == k) && (!layers || (recs[i].layer & layers));
		for (size_t i = 0; i < f.n; i++)
			ck_assert_msg(strcmp(f.items[i].ns, name) == 0,
				"query of \"%s\" returned a record of \"%s\"", name, f.items[i].ns);
		ck_assert_msg(f.n == expect, "query %d of \"%s\": %zu records, expected %zu",
			round, name, f.n, expect);
		found_free(&f);
	}
	/* Several namespaces at once: only those. */
	char n1[64], n2[64];
	iso_name(n1, sizeof(n1), 3);
	iso_name(n2, sizeof(n2), 997);
	const char *const pair[] = { n1, n2 };
	cog_storage_memory_query q = { .ns = pair, .ns_count = 2, .match = "red green blue" };
	found f = { 0 };
	find(&q, &f);
	for (size_t i = 0; i < f.n; i++)
		ck_assert(strcmp(f.items[i].ns, n1) == 0 || strcmp(f.items[i].ns, n2) == 0);
	found_free(&f);
	free(recs);
}
END_TEST

/* ---- bad arguments ---- */

static void expect_put_error(cog_storage_memory_record r, int code, const char *needle)
{
	int rc = cog_storage_memory_put(conformance_storage(), &r);
	ck_assert_msg(rc == code, "put: expected %d, got %d (%s)", code, rc, cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), needle), "message \"%s\" does not name %s",
		cog_error_last(), needle);
}

static void expect_find_error(cog_storage_memory_query q, const char *needle)
{
	found f = { 0 };
	int rc = cog_storage_memory_find(conformance_storage(), &q, collect, &f);
	ck_assert_msg(rc == COG_EINVAL, "find: expected EINVAL, got %d (%s)", rc, cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), needle), "message \"%s\" does not name %s",
		cog_error_last(), needle);
	ck_assert_uint_eq(f.n, 0);
}

START_TEST(mem_bad_arguments)
{
	static const char *const ns[] = { "bad" };
	uint64_t keep = mput("bad", COG_MEMORY_LONG_TERM, "kept", NULL, 1);
	cog_storage_memory_record ok = record("bad", COG_MEMORY_LONG_TERM, "text", NULL);
	cog_storage_memory_record r;
	ck_assert_int_eq(cog_storage_memory_put(NULL, &ok), COG_EINVAL);
	ck_assert_int_eq(cog_storage_memory_put(conformance_storage(), NULL), COG_EINVAL);

	static const struct { const char *ns; const char *needle; } bad_ns[] = {
		{ "", "rec->ns" }, { "a//b", "segment 2" }, { "a/../b", "\"..\"" },
		{ "./a", "\".\"" }, { "a#b", "rec->ns" }, { "a b", "rec->ns" },
		{ "a/b/c/d/e", "segments" }, { "caf\xc3\xa9", "rec->ns" }, { "/a", "segment 1" },
	};
	for (size_t i = 0; i < sizeof(bad_ns) / sizeof(*bad_ns); i++) {
		r = ok;
		r.ns = bad_ns[i].ns;
		expect_put_error(r, COG_EINVAL, bad_ns[i].needle);
	}
	r = ok; r.ns = NULL; expect_put_error(r, COG_EINVAL, "rec->ns");
	r = ok; r.layer = 0; expect_put_error(r, COG_EINVAL, "rec->layer");
	r = ok; r.layer = COG_MEMORY_LONG_TERM | COG_MEMORY_EPISODIC; expect_put_error(r, COG_EINVAL, "rec->layer");
	r = ok; r.layer = 0x10; expect_put_error(r, COG_EINVAL, "rec->layer");
	r = ok; r.text = NULL; expect_put_error(r, COG_EINVAL, "rec->text");
	r = ok; r.text_len = 0; expect_put_error(r, COG_EINVAL, "rec->text");
	r = ok; r.text = "bad \xff utf8"; r.text_len = strlen(r.text); expect_put_error(r, COG_EINVAL, "rec->text");
	r = ok; r.text = "nul\0inside"; r.text_len = 10; expect_put_error(r, COG_EINVAL, "rec->text");
	r = ok; r.metadata = "[1,2]"; r.metadata_len = 5; expect_put_error(r, COG_EINVAL, "rec->metadata");
	r = ok; r.metadata = "{\"a\":"; r.metadata_len = 5; expect_put_error(r, COG_EINVAL, "rec->metadata");
	r = ok; r.metadata = "\"str\""; r.metadata_len = 5; expect_put_error(r, COG_EINVAL, "rec->metadata");
	r = ok; r.importance = 1.5; expect_put_error(r, COG_EINVAL, "rec->importance");
	r = ok; r.importance = -0.1; expect_put_error(r, COG_EINVAL, "rec->importance");
	r = ok; r.importance = NAN; expect_put_error(r, COG_EINVAL, "rec->importance");
	r = ok; r.created_at = -1; expect_put_error(r, COG_EINVAL, "created_at");
	r = ok; r.expires_at = -1; expect_put_error(r, COG_EINVAL, "expires_at");
	float v[3] = { 1.0f, NAN, 0.0f };
	r = ok; r.embedding = v; r.dim = 3; expect_put_error(r, COG_EINVAL, "rec->embedding[1]");
	v[1] = INFINITY;
	r = ok; r.embedding = v; r.dim = 3; expect_put_error(r, COG_EINVAL, "rec->embedding[1]");
	v[1] = 0.5f;
	r = ok; r.embedding = v; r.dim = 0; expect_put_error(r, COG_EINVAL, "rec->dim");
	r = ok; r.embedding = NULL; r.dim = 3; expect_put_error(r, COG_EINVAL, "rec->dim");
	r = ok; r.embedding = v; r.dim = 65537; expect_put_error(r, COG_EINVAL, "rec->dim");
	char model[200];
	memset(model, 'm', sizeof(model) - 1);
	model[sizeof(model) - 1] = '\0';
	r = ok; r.embed_model = model; expect_put_error(r, COG_ERANGE, "rec->embed_model");
	r = ok; r.id = UINT64_C(1) << 53; expect_put_error(r, COG_EINVAL, "rec->id");

	cog_storage_memory_query q = query1(ns), b;
	found f = { 0 };
	ck_assert_int_eq(cog_storage_memory_find(NULL, &q, collect, &f), COG_EINVAL);
	ck_assert_int_eq(cog_storage_memory_find(conformance_storage(), NULL, collect, &f), COG_EINVAL);
	ck_assert_int_eq(cog_storage_memory_find(conformance_storage(), &q, NULL, &f), COG_EINVAL);
	b = q; b.ns = NULL; expect_find_error(b, "q->ns");
	b = q; b.ns_count = 0; expect_find_error(b, "q->ns_count");
	b = q; b.ns_count = 9; expect_find_error(b, "q->ns_count");
	const char *const two_bad[] = { "ok", "no way" };
	b = q; b.ns = two_bad; b.ns_count = 2; expect_find_error(b, "q->ns[1]");
	b = q; b.layers = 0x10; expect_find_error(b, "q->layers");
	b = q; b.filter = "[1]"; expect_find_error(b, "q->filter");
	b = q; b.filter = "{\"a\":"; expect_find_error(b, "q->filter");
	b = q; b.filter = "{\"a\":{\"b\":1}}"; expect_find_error(b, "q->filter");
	b = q; b.filter = "{\"a\":[1]}"; expect_find_error(b, "q->filter");
	uint64_t zero = 0;
	b = q; b.ids = &zero; b.id_count = 1; expect_find_error(b, "q->ids[0]");
	b = q; b.ids = NULL; b.id_count = 2; expect_find_error(b, "q->ids");
	b = q; b.match = "bad \xc0\xaf"; expect_find_error(b, "q->match");
	b = q; b.since = -5; expect_find_error(b, "q->since");

	/* Nothing stored changed. */
	expect_ids(&q, (uint64_t[]){ keep, 0 }, "0");
}
END_TEST

void storage_conformance_add_memory_cases(TCase *tc, const conformance_backend *b)
{
	tcase_add_test(tc, mem_put_and_replace);
	tcase_add_test(tc, mem_find_conditions);
	tcase_add_test(tc, mem_find_stop_and_reenter);
	tcase_add_test(tc, mem_keyword_ranking);
	tcase_add_test(tc, mem_keyword_limit_is_top);
	tcase_add_test(tc, mem_keyword_first_distinct_words);
	tcase_add_test(tc, mem_keyword_syntax_is_plain_text);
	tcase_add_test(tc, mem_expiry_and_purge);
	tcase_add_test(tc, mem_embedding_round_trip);
	tcase_add_test(tc, mem_delete);
	tcase_add_test(tc, mem_transaction_rollback);
	tcase_add_test(tc, mem_namespace_isolation);
	tcase_add_test(tc, mem_bad_arguments);
	if (b->persistent)
		tcase_add_test(tc, mem_reopen_keeps_records);
}
