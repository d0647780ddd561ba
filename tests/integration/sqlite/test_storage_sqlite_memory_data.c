/*
 * What libcognition-sqlite stores for a memory and reads back: the
 * embedding's bytes, damaged rows written by another program (COG_EIO
 * naming the memory, never a crash), read-only stores, a second
 * connection, and id order over many rows and layers.
 */
#include <limits.h>
#include <stdio.h>
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

typedef struct pager {
	size_t n;
	uint64_t last;
	bool ordered;
} pager;

static int page_fn(const cog_storage_memory_record *r, double score, void *ud)
{
	pager *p = ud;
	if (r->id <= p->last)
		p->ordered = false;
	p->last = r->id;
	p->n++;
	return 0;
}

/* Rows of several layers interleave in the index; ids still come in order,
 * whole and page by page. */
START_TEST(id_order_across_layers_and_pages)
{
	char path[PATH_MAX];
	cog_storage *s = open_store(tmp_path(path, "pages.db"), 0);
	static const unsigned int layers[] = { COG_MEMORY_LONG_TERM,
		COG_MEMORY_SHORT_TERM, COG_MEMORY_EPISODIC };
	ck_assert_int_eq(cog_storage_begin(s), 0);
	for (int i = 0; i < 3000; i++) {
		cog_storage_memory_record r = { .ns = i % 2 ? "p/a" : "p/b",
			.layer = layers[i % 3], .text = "page", .text_len = 4,
			.metadata = "{}", .metadata_len = 2, .embed_model = "" };
		ck_assert_int_eq(cog_storage_memory_put(s, &r), 0);
	}
	ck_assert_int_eq(cog_storage_commit(s), 0);
	const char *both[] = { "p/a", "p/b" };
	cog_storage_memory_query q = { .ns = both, .ns_count = 2,
		.layers = COG_MEMORY_LONG_TERM | COG_MEMORY_EPISODIC };
	pager all = { 0, 0, true };
	ck_assert_int_eq(cog_storage_memory_find(s, &q, page_fn, &all), 0);
	ck_assert_uint_eq(all.n, 2000);
	ck_assert(all.ordered);
	pager paged = { 0, 0, true };
	q.limit = 7;
	for (;;) {
		size_t before = paged.n;
		q.after_id = paged.last;
		ck_assert_int_eq(cog_storage_memory_find(s, &q, page_fn, &paged), 0);
		ck_assert_uint_le(paged.n - before, 7);
		if (paged.n == before)
			break;
	}
	ck_assert_uint_eq(paged.n, 2000);
	ck_assert(paged.ordered);
	cog_storage_free(s);
}
END_TEST

void sqlite_memory_add_data_tests(TCase *tc)
{
	tcase_add_test(tc, embedding_is_little_endian_float32);
	tcase_add_test(tc, damaged_rows_are_io_errors);
	tcase_add_test(tc, read_only_store_reads);
	tcase_add_test(tc, second_connection_sees_changes);
	tcase_add_test(tc, id_order_across_layers_and_pages);
}
