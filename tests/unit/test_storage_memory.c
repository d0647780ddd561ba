/* The in-memory backend against the storage conformance suite, twice: as
 * it is (version 2, its own memory records) and as "memory-v1", a version 1
 * backend made of its members, so that the core's fallback for memory
 * records (documents of "cog.memory") runs every case too. Plus the vtable
 * rules that cog_storage_new enforces for every backend. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_conformance.h"

static int open_memory(cog_storage **out, void *state)
{
	return cog_storage_memory_new(out);
}

/* ---- memory-v1: every member calls the in-memory store through the
 * public API ---- */

static cog_storage *inner(void *self)
{
	return self;
}

static void v1_close(void *self)
{
	cog_storage_free(inner(self));
}

static int v1_put(void *self, const char *c, const char *k, const char *v,
                  size_t n, int64_t e)
{
	return cog_storage_put(inner(self), c, k, v, e);
}

static int v1_get(void *self, const char *c, const char *k, int64_t now,
                  char **value, size_t *len)
{
	int rc = cog_storage_get(inner(self), c, k, value);
	if (rc == 0)
		*len = strlen(*value);
	return rc;
}

static int v1_del(void *self, const char *c, const char *k)
{
	return cog_storage_delete(inner(self), c, k);
}

static int v1_scan(void *self, const char *c, const char *prefix, int64_t now,
                   cog_storage_doc_fn fn, void *ud)
{
	return cog_storage_scan(inner(self), c, prefix, fn, ud);
}

static int v1_append(void *self, const char *log, const char *rec, size_t n,
                     uint64_t *seq)
{
	return cog_storage_append(inner(self), log, rec, seq);
}

static int v1_read(void *self, const char *log, uint64_t from, size_t limit,
                   cog_storage_record_fn fn, void *ud)
{
	return cog_storage_read(inner(self), log, from, limit, fn, ud);
}

static int v1_begin(void *self) { return cog_storage_begin(inner(self)); }
static int v1_commit(void *self) { return cog_storage_commit(inner(self)); }
static int v1_rollback(void *self) { return cog_storage_rollback(inner(self)); }

static int v1_purge(void *self, int64_t now, size_t *purged)
{
	return cog_storage_purge_expired(inner(self), purged);
}

static int v1_truncate(void *self, const char *log, uint64_t before)
{
	return cog_storage_truncate(inner(self), log, before);
}

static int v1_describe(void *self, char **json)
{
	return cog_storage_describe(inner(self), json);
}

static int open_memory_v1(cog_storage **out, void *state)
{
	cog_storage *in = NULL;
	int rc = cog_storage_memory_new(&in);
	if (rc)
		return rc;
	cog_storage_vtable vt;
	/* A version 1 backend knows nothing past its members: whatever lies
	 * there must never be read (garbage here, so that reading it crashes). */
	memset(&vt, 0xA5, sizeof(vt));
	ck_assert_int_eq(cog_storage_vtable_init(&vt, 1), 0);
	vt.self = in;
	vt.close = v1_close;
	vt.put = v1_put;
	vt.get = v1_get;
	vt.del = v1_del;
	vt.scan = v1_scan;
	vt.append = v1_append;
	vt.read = v1_read;
	vt.begin = v1_begin;
	vt.commit = v1_commit;
	vt.rollback = v1_rollback;
	vt.purge_expired = v1_purge;
	vt.truncate = v1_truncate;
	vt.describe = v1_describe;
	return cog_storage_new(out, &vt);
}

START_TEST(v1_memory_records_are_documents)
{
	/* The fallback keeps records where the contract says: documents of
	 * "cog.memory" keyed "<ns>#<16 hex digits>", ids from "cog.memory.ids". */
	cog_storage *s = NULL;
	ck_assert_int_eq(open_memory_v1(&s, NULL), 0);
	cog_storage_memory_record r = { .ns = "a/b", .layer = 0x4, .text = "hello",
		.text_len = 5, .metadata = "{}", .metadata_len = 2, .embed_model = "" };
	ck_assert_int_eq(cog_storage_memory_put(s, &r), 0);
	char key[64], *doc = NULL;
	snprintf(key, sizeof(key), "a/b#%016llx", (unsigned long long)r.id);
	ck_assert_int_eq(cog_storage_get(s, "cog.memory", key, &doc), 0);
	ck_assert_msg(strstr(doc, "\"text\":\"hello\""), "%s", doc);
	cog_free(doc);
	cog_storage_free(s);
}
END_TEST

/* ---- the native records and the fallback, side by side: random writes,
 * transactions and rollbacks, records put already expired, and every query
 * must answer the same in both, scores bit for bit. Queries run right after
 * a purge: until then the native index counts expired records in its BM25
 * statistics, the fallback does not. ---- */

#define DIFF_NS 5
#define DIFF_MAX 4000

static const char *const diff_vocab[] = {
	"apple", "banana", "cherry", "date", "elder", "fig", "grape", "honey", "iris",
	"jade", "kiwi", "lemon", "mango", "nut", "olive", "pear", "quince", "rose",
	"sage", "thyme", "umber", "violet", "walnut", "xigua", "yam", "zest",
};
#define DIFF_VOCAB (sizeof(diff_vocab) / sizeof(*diff_vocab))

typedef struct diff_rec {
	bool alive;
	int ns;
	uint64_t id[2];      /* in the native store, in the fallback */
	int k;
	unsigned int layer;
} diff_rec;

typedef struct diff_hit {
	uint64_t id;
	double score;
	char text[160];
	char meta[32];
} diff_hit;

typedef struct diff_found {
	diff_hit hits[DIFF_MAX];
	size_t n;
} diff_found;

static int diff_collect(const cog_storage_memory_record *r, double score, void *ud)
{
	diff_found *f = ud;
	ck_assert_uint_lt(f->n, DIFF_MAX);
	diff_hit *h = &f->hits[f->n++];
	h->id = r->id;
	h->score = score;
	snprintf(h->text, sizeof(h->text), "%s", r->text);
	snprintf(h->meta, sizeof(h->meta), "%s", r->metadata);
	return 0;
}

static const char *diff_ns_name(int ns)
{
	static const char *const names[DIFF_NS] = { "t/a", "t/b", "t/c", "u/a", "t/a/x" };
	return names[ns];
}

static void diff_text(char *out, size_t cap)
{
	int words = 1 + rand() % 8;
	out[0] = '\0';
	for (int w = 0; w < words; w++) {
		size_t len = strlen(out);
		snprintf(out + len, cap - len, "%s%s", w ? (rand() % 3 ? " " : ", ") : "",
			diff_vocab[rand() % DIFF_VOCAB]);
	}
}

/* The logical index of a record with `id` in store `which`. */
static int diff_logical(const diff_rec *recs, int count, int which, uint64_t id)
{
	for (int i = 0; i < count; i++)
		if (recs[i].id[which] == id)
			return i;
	return -1;
}

static void diff_query(cog_storage *st[2], const diff_rec *recs, int count, int round)
{
	static diff_found found[2];
	const char *names[3];
	size_t nsn = 1 + (size_t)(rand() % 3);
	for (size_t i = 0; i < nsn; i++)
		names[i] = diff_ns_name(rand() % DIFF_NS);
	cog_storage_memory_query q = { .ns = names, .ns_count = nsn };
	char match[64], filter[32];
	if (rand() % 3) {
		snprintf(match, sizeof(match), "%s %s", diff_vocab[rand() % DIFF_VOCAB],
			rand() % 2 ? diff_vocab[rand() % DIFF_VOCAB] : "");
		q.match = match;
	}
	if (rand() % 4 == 0) {
		snprintf(filter, sizeof(filter), "{\"k\":%d}", rand() % 3);
		q.filter = filter;
	}
	if (rand() % 4 == 0)
		q.layers = 1u << (rand() % 4);
	if (rand() % 3 == 0)
		q.limit = 1 + (size_t)(rand() % 5);
	for (int w = 0; w < 2; w++) {
		found[w].n = 0;
		int rc = cog_storage_memory_find(st[w], &q, diff_collect, &found[w]);
		ck_assert_msg(rc == 0, "find: %s", cog_error_last());
	}
	ck_assert_msg(found[0].n == found[1].n, "round %d, match '%s': %zu records native, %zu fallback",
		round, q.match ? q.match : "", found[0].n, found[1].n);
	for (size_t i = 0; i < found[0].n; i++) {
		int a = diff_logical(recs, count, 0, found[0].hits[i].id);
		int b = diff_logical(recs, count, 1, found[1].hits[i].id);
		ck_assert_msg(a >= 0 && a == b, "round %d, match '%s', filter %s: record %zu is %d "
			"native, %d fallback", round, q.match ? q.match : "", q.filter ? q.filter : "-",
			i, a, b);
		ck_assert_msg(found[0].hits[i].score == found[1].hits[i].score,
			"round %d, match '%s' in %zu namespaces (%s...): record %zu \"%s\": score "
			"%.17g native, %.17g fallback", round, q.match ? q.match : "", nsn, names[0], i,
			found[0].hits[i].text, found[0].hits[i].score, found[1].hits[i].score);
		ck_assert_str_eq(found[0].hits[i].text, found[1].hits[i].text);
		ck_assert_str_eq(found[0].hits[i].meta, found[1].hits[i].meta);
		ck_assert(recs[a].alive);
	}
	if (!q.match && !q.limit) {
		/* Without match, the model knows the answer. */
		size_t expect = 0;
		for (int i = 0; i < count; i++) {
			bool in = false;
			for (size_t j = 0; j < nsn; j++)
				in = in || strcmp(diff_ns_name(recs[i].ns), names[j]) == 0;
			expect += recs[i].alive && in && (!q.filter || recs[i].k == q.filter[5] - '0') &&
				(!q.layers || recs[i].layer == q.layers);
		}
		ck_assert_msg(found[0].n == expect, "round %d: %zu records, the model has %zu",
			round, found[0].n, expect);
	}
}

static void diff_put(cog_storage *st[2], diff_rec *r, const char *text, int64_t expires_at)
{
	char meta[32];
	snprintf(meta, sizeof(meta), "{\"k\":%d}", r->k);
	for (int w = 0; w < 2; w++) {
		cog_storage_memory_record rec = { .id = r->id[w], .ns = diff_ns_name(r->ns),
			.layer = r->layer, .text = text, .text_len = strlen(text), .metadata = meta,
			.metadata_len = strlen(meta), .importance = 0.5, .embed_model = "",
			.expires_at = expires_at };
		int rc = cog_storage_memory_put(st[w], &rec);
		ck_assert_msg(rc == 0, "put: %s", cog_error_last());
		r->id[w] = rec.id;
	}
}

static void diff_delete(cog_storage *st[2], diff_rec *recs, int count)
{
	int ns = rand() % DIFF_NS;
	const char *names[] = { diff_ns_name(ns) };
	cog_storage_memory_query q[2] = { { .ns = names, .ns_count = 1 },
		{ .ns = names, .ns_count = 1 } };
	uint64_t ids[2][3];
	int picked[3], n = 0, filter_k = -1;
	char filter[32];
	if (rand() % 3 == 0) {
		filter_k = rand() % 3;
		snprintf(filter, sizeof(filter), "{\"k\":%d}", filter_k);
		q[0].filter = q[1].filter = filter;
	} else {
		for (int tries = 0; tries < 40 && n < 3; tries++) {
			int i = rand() % count;
			if (recs[i].alive && recs[i].ns == ns) {
				bool dup = false;
				for (int j = 0; j < n; j++)
					dup = dup || picked[j] == i;
				if (dup)
					continue;
				picked[n] = i;
				ids[0][n] = recs[i].id[0];
				ids[1][n] = recs[i].id[1];
				n++;
			}
		}
		if (n == 0)
			return;
		for (int w = 0; w < 2; w++) {
			q[w].ids = ids[w];
			q[w].id_count = (size_t)n;
		}
	}
	size_t deleted[2];
	for (int w = 0; w < 2; w++)
		ck_assert_int_eq(cog_storage_memory_delete(st[w], &q[w], &deleted[w]), 0);
	ck_assert_uint_eq(deleted[0], deleted[1]);
	size_t expect = 0;
	for (int i = 0; i < count; i++) {
		bool hit = false;
		if (filter_k >= 0)
			hit = recs[i].alive && recs[i].ns == ns && recs[i].k == filter_k;
		for (int j = 0; j < n; j++)
			hit = hit || picked[j] == i;
		if (hit) {
			recs[i].alive = false;
			expect++;
		}
	}
	ck_assert_uint_eq(deleted[0], expect);
}

/* The native store's own count (describe) follows the model. */
static void diff_check_count(cog_storage *native, const diff_rec *recs, int count, int round)
{
	char *json = NULL;
	size_t alive = 0;
	ck_assert_int_eq(cog_storage_describe(native, &json), 0);
	const char *m = strstr(json, "\"memories\":");
	for (int i = 0; i < count; i++)
		alive += recs[i].alive;
	ck_assert_msg(m && (size_t)atol(m + 11) == alive, "round %d: %s, the model has %zu",
		round, json, alive);
	cog_free(json);
}

START_TEST(native_and_fallback_agree)
{
	cog_storage *st[2] = { NULL, NULL };
	ck_assert_int_eq(open_memory(&st[0], NULL), 0);
	ck_assert_int_eq(open_memory_v1(&st[1], NULL), 0);
	static diff_rec recs[DIFF_MAX], saved[DIFF_MAX];
	int count = 0, saved_count = 0;
	bool in_txn = false;
	char text[160];
	srand(20240611);
	for (int round = 0; round < 6000; round++) {
		int op = rand() % 100;
		if (op < 40 && count < DIFF_MAX) {
			diff_rec *r = &recs[count++];
			memset(r, 0, sizeof(*r));
			r->alive = rand() % 10 != 0; /* else it expired long ago */
			r->ns = rand() % DIFF_NS;
			r->k = rand() % 3;
			r->layer = 1u << (rand() % 4);
			diff_text(text, sizeof(text));
			diff_put(st, r, text, r->alive ? 0 : 1);
		} else if (op < 55 && count > 0) {
			diff_rec *r = &recs[rand() % count];
			if (!r->alive)
				continue;
			r->k = rand() % 3;
			r->layer = 1u << (rand() % 4);
			if (rand() % 2) {
				diff_text(text, sizeof(text));
			} else {
				/* The same text again (the index keeps its postings). */
				diff_found f;
				const char *names[] = { diff_ns_name(r->ns) };
				cog_storage_memory_query q = { .ns = names, .ns_count = 1,
					.ids = &r->id[0], .id_count = 1 };
				f.n = 0;
				ck_assert_int_eq(cog_storage_memory_find(st[0], &q, diff_collect, &f), 0);
				ck_assert_uint_eq(f.n, 1);
				snprintf(text, sizeof(text), "%s", f.hits[0].text);
			}
			diff_put(st, r, text, 0);
		} else if (op < 68 && count > 0) {
			diff_delete(st, recs, count);
		} else if (op < 72 && !in_txn) {
			for (int w = 0; w < 2; w++)
				ck_assert_int_eq(cog_storage_begin(st[w]), 0);
			memcpy(saved, recs, sizeof(recs));
			saved_count = count;
			in_txn = true;
		} else if (op < 76 && in_txn) {
			bool commit = rand() % 2;
			for (int w = 0; w < 2; w++)
				ck_assert_int_eq(commit ? cog_storage_commit(st[w]) :
					cog_storage_rollback(st[w]), 0);
			if (!commit) {
				memcpy(recs, saved, sizeof(recs));
				count = saved_count;
			}
			in_txn = false;
		} else {
			size_t purged[2];
			for (int w = 0; w < 2; w++)
				ck_assert_int_eq(cog_storage_purge_expired(st[w], &purged[w]), 0);
			ck_assert_uint_eq(purged[0], purged[1]);
			diff_check_count(st[0], recs, count, round);
			diff_query(st, recs, count, round);
		}
	}
	if (in_txn)
		for (int w = 0; w < 2; w++)
			ck_assert_int_eq(cog_storage_rollback(st[w]), 0);
	cog_storage_free(st[0]);
	cog_storage_free(st[1]);
}
END_TEST

static int fake_query(void *self, const cog_storage_memory_query *q,
                      cog_storage_memory_fn fn, void *ud)
{
	return 0;
}

START_TEST(vtable_memory_members_together)
{
	cog_storage *s = NULL;
	cog_storage_vtable vt;
	ck_assert_int_eq(open_memory(&s, NULL), 0);
	cog_storage_free(s);
	/* A version 2 backend with some memory members but not all. */
	ck_assert_int_eq(cog_storage_vtable_init(&vt, 2), 0);
	vt.put = v1_put;
	vt.get = v1_get;
	vt.del = v1_del;
	vt.scan = v1_scan;
	vt.append = v1_append;
	vt.read = v1_read;
	vt.begin = v1_begin;
	vt.commit = v1_commit;
	vt.rollback = v1_rollback;
	vt.mem_query = fake_query;
	ck_assert_int_eq(cog_storage_new(&s, &vt), COG_EINVAL);
	ck_assert_msg(strstr(cog_error_last(), "'mem_put'"), "%s", cog_error_last());
	ck_assert_ptr_null(s);
}
END_TEST

static void reset_nothing(void *state)
{
}

static int closed;

static void count_close(void *self)
{
	closed++;
}

static int fake_put(void *self, const char *c, const char *k, const char *v,
                    size_t n, int64_t e)
{
	return 0;
}

START_TEST(vtable_versions_and_members)
{
	cog_storage *s = NULL;
	cog_storage_vtable vt;
	ck_assert_int_eq(cog_storage_vtable_init(&vt, 0), COG_EVERSION);
	ck_assert_int_eq(cog_storage_vtable_init(&vt, COG_STORAGE_VTABLE_VERSION + 1),
		COG_EVERSION);
	ck_assert_int_eq(cog_storage_vtable_init(&vt, COG_STORAGE_VTABLE_VERSION), 0);
	vt.version = 99;
	ck_assert_int_eq(cog_storage_new(&s, &vt), COG_EVERSION);
	ck_assert_ptr_null(s);
	vt.version = COG_STORAGE_VTABLE_VERSION;
	vt.close = count_close;
	vt.put = fake_put;
	closed = 0;
	ck_assert_int_eq(cog_storage_new(&s, &vt), COG_EINVAL);
	ck_assert_msg(strstr(cog_error_last(), "'get'"), "%s", cog_error_last());
	ck_assert_int_eq(closed, 1); /* ownership of self was taken, then released */
	ck_assert_int_eq(cog_storage_new(NULL, &vt), COG_EINVAL);
	ck_assert_int_eq(cog_storage_new(&s, NULL), COG_EINVAL);
	cog_storage_free(NULL);
}
END_TEST

int main(void)
{
	conformance_backend memory = { "memory", open_memory, reset_nothing, false, NULL };
	conformance_backend memory_v1 = { "memory-v1", open_memory_v1, reset_nothing,
		false, NULL };
	SRunner *sr = srunner_create(storage_conformance_suite(&memory));
	srunner_add_suite(sr, storage_conformance_suite(&memory_v1));
	Suite *extra = suite_create("storage/vtable");
	TCase *tc = tcase_create("vtable");
	tcase_add_test(tc, vtable_versions_and_members);
	tcase_add_test(tc, vtable_memory_members_together);
	tcase_add_test(tc, v1_memory_records_are_documents);
	tcase_add_test(tc, native_and_fallback_agree);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(extra, tc);
	srunner_add_suite(sr, extra);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
