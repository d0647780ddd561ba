/*
 * What libcognition-sqlite stores for a memory and reads back: the
 * embedding's bytes, damaged rows written by another program (COG_EIO
 * naming the memory, never a crash), read-only stores, a second
 * connection, and paging through a namespace and its parent with
 * interleaved ids (every row once, in order, under every condition; the
 * index plan that keeps paging linear).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_storage_sqlite_memory.h"

typedef struct vec {
	int status;
	size_t n;
	float v[4];
	uint32_t dim;
} vec;

static int take_vector(const cog_storage_memory_record *r, double score, void *ud)
{
	vec *out = ud;
	out->n++;
	out->dim = r->dim;
	if (r->embedding && r->dim <= 4)
		memcpy(out->v, r->embedding, r->dim * sizeof(float));
	return 0;
}

static vec find_vector(cog_storage *s, const char *ns, uint64_t *id)
{
	const char *one[] = { ns };
	cog_storage_memory_query q = { .ns = one, .ns_count = 1, .ids = id,
		.id_count = id ? 1 : 0, .with_embedding = 1 };
	vec out = { 0 };
	out.status = cog_storage_memory_find(s, &q, take_vector, &out);
	return out;
}

static uint64_t put_vector(cog_storage *s, const char *ns, const float *v,
                           uint32_t dim)
{
	cog_storage_memory_record r = { .ns = ns, .layer = COG_MEMORY_LONG_TERM,
		.text = "vector", .text_len = 6, .metadata = "{}", .metadata_len = 2,
		.embed_model = "test-2", .embedding = v, .dim = dim };
	int rc = cog_storage_memory_put(s, &r);
	ck_assert_msg(rc == 0, "put: %s", cog_error_last());
	return r.id;
}

START_TEST(embedding_is_little_endian_float32)
{
	char path[PATH_MAX];
	tmp_path(path, "vec.db");
	cog_storage *s = open_store(path, 0);
	const float v[] = { 1.0f, -2.5f };
	uint64_t a = put_vector(s, "v", v, 2);
	uint64_t b = put_vector(s, "v", v, 2);
	sqlite3 *db = raw_open(path);
	char sql[160];
	snprintf(sql, sizeof(sql), "SELECT hex(embedding) = '0000803F000020C0' AND"
		" dim = 2 FROM memories WHERE id = %llu", (unsigned long long)a);
	ck_assert_int_eq(raw_int(db, sql), 1);
	/* Another writer's little-endian bytes read back as floats. */
	snprintf(sql, sizeof(sql), "UPDATE memories SET embedding ="
		" X'000000400000803F' WHERE id = %llu", (unsigned long long)b);
	raw_exec(db, sql);
	sqlite3_close(db);
	vec got = find_vector(s, "v", &b);
	ck_assert_int_eq(got.status, 0);
	ck_assert_uint_eq(got.dim, 2);
	ck_assert(got.v[0] == 2.0f && got.v[1] == 1.0f);
	cog_storage_free(s);
}
END_TEST

/* Damage row `id` with raw SQL (after restoring it); the query over all
 * rows must fail with COG_EIO naming memory `named`, and so must one
 * without vectors unless `ok_without_vectors`. */
static void damage(const char *path, cog_storage *s, uint64_t id, uint64_t named,
                   const char *set, bool ok_without_vectors)
{
	sqlite3 *db = raw_open(path);
	char sql[256], name[32];
	snprintf(sql, sizeof(sql), "UPDATE memories SET embedding ="
		" X'0000803F00000040', dim = 2, layer = 4 WHERE id = %llu;"
		"UPDATE memories SET %s WHERE id = %llu", (unsigned long long)id, set,
		(unsigned long long)id);
	raw_exec(db, sql);
	sqlite3_close(db);
	vec got = find_vector(s, "d", NULL);
	ck_assert_msg(got.status == COG_EIO, "%s: %d", set, got.status);
	snprintf(name, sizeof(name), "memory %llu ", (unsigned long long)named);
	ck_assert_msg(strstr(cog_error_last(), name), "%s: %s", set, cog_error_last());
	const char *one[] = { "d" };
	cog_storage_memory_query q = { .ns = one, .ns_count = 1 };
	hits h = { 0 };
	int rc = cog_storage_memory_find(s, &q, collect, &h);
	ck_assert_int_eq(rc, ok_without_vectors ? 0 : COG_EIO);
}

START_TEST(damaged_rows_are_io_errors)
{
	char path[PATH_MAX];
	tmp_path(path, "damaged.db");
	cog_storage *s = open_store(path, 0);
	const float v[] = { 1.0f, 2.0f };
	uint64_t good = put_vector(s, "d", v, 2);
	uint64_t bad = put_vector(s, "d", v, 2);
	damage(path, s, bad, bad, "embedding = X'01020304050607'", true);
	damage(path, s, bad, bad, "embedding = NULL, dim = 5", true);
	damage(path, s, bad, bad, "embedding = X'0000803F', dim = 70000", true);
	damage(path, s, bad, bad, "embedding = X'0000803F', dim = -1", true);
	damage(path, s, bad, bad, "embedding = 'text!!!', dim = 1", true);
	damage(path, s, bad, bad, "layer = 3", false);
	damage(path, s, bad, bad, "layer = 'four'", false);
	damage(path, s, bad, 0, "id = 0", false);
	/* The good record is still readable by id. */
	vec got = find_vector(s, "d", &good);
	ck_assert_int_eq(got.status, 0);
	ck_assert_uint_eq(got.n, 1);
	/* Metadata that is not JSON fails a filter with SQLite's message. */
	sqlite3 *db = raw_open(path);
	raw_exec(db, "UPDATE memories SET id = 99, metadata = 'not json' WHERE id = 0");
	sqlite3_close(db);
	const char *one[] = { "d" };
	cog_storage_memory_query q = { .ns = one, .ns_count = 1, .filter = "{\"a\":1}" };
	hits h = { 0 };
	ck_assert_int_eq(cog_storage_memory_find(s, &q, collect, &h), COG_EIO);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "JSON"));
	cog_storage_free(s);
}
END_TEST

START_TEST(read_only_store_reads)
{
	char path[PATH_MAX];
	tmp_path(path, "ro.db");
	cog_storage *s = open_store(path, 0);
	uint64_t id = put(s, "r", "readable", NULL);
	uint64_t e = 0;
	ck_assert_int_eq(put_try(s, "r", "expired", NULL, 1, &e), 0);
	cog_storage_free(s);
	s = open_store(path, 1);
	hits h = search1(s, "r", "readable");
	ck_assert_uint_eq(h.n, 1);
	ck_assert_uint_eq(h.id[0], id);
	ck_assert_int_eq(put_try(s, "r", "new", NULL, 0, &e), COG_EDENIED);
	const char *one[] = { "r" };
	cog_storage_memory_query q = { .ns = one, .ns_count = 1, .ids = &id, .id_count = 1 };
	size_t n = 0;
	ck_assert_int_eq(cog_storage_memory_delete(s, &q, &n), COG_EDENIED);
	ck_assert_int_eq(cog_storage_purge_expired(s, &n), COG_EDENIED);
	ck_assert_uint_eq(search1(s, "r", "readable").n, 1);
	cog_storage_free(s);
}
END_TEST

START_TEST(second_connection_sees_changes)
{
	char path[PATH_MAX];
	tmp_path(path, "two.db");
	cog_storage *a = open_store(path, 0);
	cog_storage *b = open_store(path, 0);
	ck_assert_uint_eq(search1(b, "c", "shared").n, 0);
	uint64_t id = put(a, "c", "shared note", NULL);
	ck_assert_uint_eq(search1(b, "c", "shared").n, 1);
	const char *one[] = { "c" };
	cog_storage_memory_query q = { .ns = one, .ns_count = 1, .ids = &id, .id_count = 1 };
	size_t n = 0;
	ck_assert_int_eq(cog_storage_memory_delete(b, &q, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(search1(a, "c", "shared").n, 0);
	ck_assert_uint_gt(put(b, "c", "again", NULL), id);
	cog_storage_free(a);
	cog_storage_free(b);
	assert_index_in_step(path);
}
END_TEST

/* ---- paging over several namespaces ---- */

#define MIXED_ROWS 1500

typedef struct stored {
	uint64_t id;
	int ns;                 /* into mixed_ns */
	unsigned int layer;
	int64_t created_at;
	bool expired, tagged;
} stored;

static const char *const mixed_ns[] = { "acme/alice", "acme", "acme/bob" };

typedef struct seen {
	uint64_t id[MIXED_ROWS];
	size_t n;
	bool ordered, foreign;
	unsigned int layers;    /* 0: any */
} seen;

static int see(const cog_storage_memory_record *r, double score, void *ud)
{
	seen *s = ud;
	if (s->n && r->id <= s->id[s->n - 1])
		s->ordered = false;
	if (strcmp(r->ns, mixed_ns[2]) == 0 || (s->layers && !(r->layer & s->layers)))
		s->foreign = true;
	if (s->n < MIXED_ROWS)
		s->id[s->n++] = r->id;
	return 0;
}

/* Runs of 1..40 rows alternate between the namespaces, so that a page may
 * hold one namespace, both, or the end of either. */
static void put_mixed(cog_storage *s, stored *rows)
{
	static const unsigned int layers[] = { COG_MEMORY_LONG_TERM,
		COG_MEMORY_SHORT_TERM, COG_MEMORY_EPISODIC };
	uint32_t x = 12345;
	int ns = 0, run = 0;
	ck_assert_int_eq(cog_storage_begin(s), 0);
	for (int i = 0; i < MIXED_ROWS; i++) {
		x = x * 1103515245u + 12345u;
		if (run-- == 0) {
			ns = (int)(x >> 16) % 3;
			run = (int)(x >> 20) % 40;
		}
		stored *w = &rows[i];
		*w = (stored){ 0, ns, layers[(x >> 8) % 3], 1000 + i, (x >> 4) % 9 == 0,
			(x >> 12) % 2 == 0 };
		cog_storage_memory_record r = { .ns = mixed_ns[ns], .layer = w->layer,
			.text = "mixed", .text_len = 5,
			.metadata = w->tagged ? "{\"tag\":\"x\"}" : "{}",
			.metadata_len = w->tagged ? 11 : 2, .created_at = w->created_at,
			.updated_at = w->created_at, .expires_at = w->expired ? 1 : 0,
			.embed_model = "" };
		ck_assert_int_eq(cog_storage_memory_put(s, &r), 0);
		w->id = r.id;
	}
	ck_assert_int_eq(cog_storage_commit(s), 0);
}

static bool wanted(const stored *w, const cog_storage_memory_query *q)
{
	return w->ns != 2 && !w->expired && (!q->layers || (w->layer & q->layers)) &&
		(!q->since || w->created_at >= q->since) &&
		(!q->until || w->created_at < q->until) && (!q->filter || w->tagged);
}

/* Page through q as the memory index does (after the last id, until a page
 * is short): exactly the wanted rows, each once, in id order, every page
 * full but the last; and the same as one query without a limit. */
static void check_pages(cog_storage *s, cog_storage_memory_query q,
                        const stored *rows, size_t page)
{
	size_t want = 0;
	for (size_t i = 0; i < MIXED_ROWS; i++)
		want += wanted(&rows[i], &q);
	ck_assert_uint_gt(want, 2 * page);
	seen *all = calloc(2, sizeof(*all));
	ck_assert_ptr_nonnull(all);
	seen *paged = &all[1];
	all->ordered = paged->ordered = true;
	all->layers = paged->layers = q.layers;
	ck_assert_int_eq(cog_storage_memory_find(s, &q, see, all), 0);
	q.limit = page;
	for (;;) {
		size_t before = paged->n;
		q.after_id = before ? paged->id[before - 1] : 0;
		ck_assert_int_eq(cog_storage_memory_find(s, &q, see, paged), 0);
		ck_assert_uint_le(paged->n - before, page);
		if (paged->n - before < page)
			break;
	}
	for (seen *v = all; v <= paged; v++) {
		ck_assert_msg(v->ordered, "ids out of order or repeated (page %zu)", page);
		ck_assert_msg(!v->foreign, "a row of another namespace or layer");
		ck_assert_uint_eq(v->n, want);
		for (size_t i = 0, k = 0; i < MIXED_ROWS; i++)
			if (wanted(&rows[i], &q))
				ck_assert_uint_eq(v->id[k++], rows[i].id);
	}
	free(all);
}

/* The plan the backend builds on (sqlite_memory_sql.c): each namespace's
 * part is a range of the memories_ns index from after_id on, already in id
 * order, and the parts merge without a sort. */
static void assert_plan(sqlite3 *db, const char *sql, int ranges)
{
	char text[1024] = "";
	size_t len = 0;
	sqlite3_stmt *st = NULL;
	char eqp[1024];
	snprintf(eqp, sizeof(eqp), "EXPLAIN QUERY PLAN %s", sql);
	ck_assert_int_eq(sqlite3_prepare_v2(db, eqp, -1, &st, NULL), SQLITE_OK);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && len < sizeof(text) - 1)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s\n",
			(const char *)sqlite3_column_text(st, 3));
	ck_assert_msg(rc == SQLITE_DONE, "%s: %s", eqp, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	int found = 0;
	static const char range[] = "INDEX memories_ns (ns=? AND rowid>?)";
	for (const char *p = text; (p = strstr(p, range)); p++)
		found++;
	ck_assert_msg(found == ranges && !strstr(text, "TEMP B-TREE") &&
		!strstr(text, "SCAN"), "plan of %s:\n%s", sql, text);
}

START_TEST(pages_of_a_namespace_and_its_parent)
{
	char path[PATH_MAX];
	cog_storage *s = open_store(tmp_path(path, "mixed.db"), 0);
	stored *rows = calloc(MIXED_ROWS, sizeof(*rows));
	ck_assert_ptr_nonnull(rows);
	put_mixed(s, rows);
	const char *chain[] = { "acme/alice", "acme" };
	cog_storage_memory_query q = { .ns = chain, .ns_count = 2, .with_embedding = 1 };
	check_pages(s, q, rows, 1);
	check_pages(s, q, rows, 7);
	check_pages(s, q, rows, 64);
	/* Every condition at once; a namespace with no rows, and one named
	 * twice (its rows still come once). */
	const char *odd[] = { "acme/alice", "acme/none", "acme", "acme/alice" };
	cog_storage_memory_query c = { .ns = odd, .ns_count = 4,
		.layers = COG_MEMORY_SHORT_TERM | COG_MEMORY_EPISODIC, .since = 1100,
		.until = 1450, .filter = "{\"tag\":\"x\"}" };
	check_pages(s, c, rows, 5);
	/* Statistics by which one namespace holds every row (so that a plain
	 * query would read the table from after_id on) change nothing. */
	sqlite3 *db = raw_open(path);
	raw_exec(db, "ANALYZE; UPDATE sqlite_stat1 SET stat = '1500 1500'"
		" WHERE idx = 'memories_ns'; ANALYZE sqlite_schema");
	cog_storage_free(s);
	s = open_store(path, 0);
	check_pages(s, c, rows, 5);
	assert_plan(db, "SELECT id FROM memories INDEXED BY memories_ns WHERE"
		" ns = ?1 AND id > ?2 ORDER BY id LIMIT ?3", 1);
	assert_plan(db, "SELECT id FROM memories INDEXED BY memories_ns WHERE"
		" ns = ?1 AND id > ?3 UNION ALL SELECT id FROM memories INDEXED BY"
		" memories_ns WHERE ns = ?2 AND id > ?3 ORDER BY 1 LIMIT ?4", 2);
	sqlite3_close(db);
	/* A delete with a limit takes the lowest matching ids of both. */
	size_t deleted = 0, gone = 0;
	c.limit = 4;
	ck_assert_int_eq(cog_storage_memory_delete(s, &c, &deleted), 0);
	ck_assert_uint_eq(deleted, 4);
	for (size_t i = 0; i < MIXED_ROWS && gone < 4; i++) {
		if (!wanted(&rows[i], &c))
			continue;
		rows[i].expired = true;   /* wanted() no more */
		gone++;
	}
	check_pages(s, (cog_storage_memory_query){ .ns = chain, .ns_count = 2 }, rows, 9);
	cog_storage_free(s);
	assert_index_in_step(path);
	free(rows);
}
END_TEST

void sqlite_memory_add_data_tests(TCase *tc)
{
	tcase_add_test(tc, embedding_is_little_endian_float32);
	tcase_add_test(tc, damaged_rows_are_io_errors);
	tcase_add_test(tc, read_only_store_reads);
	tcase_add_test(tc, second_connection_sees_changes);
	tcase_add_test(tc, pages_of_a_namespace_and_its_parent);
}
