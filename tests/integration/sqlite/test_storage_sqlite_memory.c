/*
 * libcognition-sqlite's memory records against real files: what only the
 * SQLite backend can get wrong (the shared cases are in the conformance
 * suite, tests/conformance/storage_conformance_memory.c):
 *   - schema version 1 files migrate to 2 and keep everything;
 *   - the FTS5 index stays in step with the rows through replace, delete,
 *     purge, rollback and a full disk (FTS5's own integrity-check);
 *   - keyword search: confined to the namespaces by the index itself, FTS5
 *     syntax never interpreted, diacritics, long and many words, the score
 *     is storage.h's BM25;
 *   - metadata filters in SQL: key quoting, exact numbers, refused keys;
 *   - the stored embedding format, and damaged rows (COG_EIO, no crash);
 *   - read-only stores, a second connection, many query shapes;
 *   - paging through a namespace and its parent in id order, under every
 *     condition, on the index plan that keeps it linear.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_storage_sqlite_memory.h"

static char tmp_root[512];

/* ---- helpers ---- */

const char *tmp_path(char *buf, const char *name)
{
	snprintf(buf, PATH_MAX, "%s/%s", tmp_root, name);
	return buf;
}

cog_storage *open_store(const char *path, int read_only)
{
	cog_sqlite_options o = COG_SQLITE_OPTIONS_INIT;
	o.durability = COG_SQLITE_DURABLE_NORMAL;
	o.read_only = read_only;
	cog_storage *s = NULL;
	int rc = cog_sqlite_storage_open(&s, path, &o);
	ck_assert_msg(rc == 0, "open %s: %d %s", path, rc, cog_error_last());
	return s;
}

int put_try(cog_storage *s, const char *ns, const char *text,
                   const char *meta, int64_t expires_at, uint64_t *id)
{
	cog_storage_memory_record r = {
		.ns = ns, .layer = COG_MEMORY_LONG_TERM, .text = text,
		.text_len = strlen(text), .metadata = meta ? meta : "{}",
		.metadata_len = meta ? strlen(meta) : 2, .importance = 0.5,
		.created_at = 1000, .updated_at = 1000, .expires_at = expires_at,
		.embed_model = "",
	};
	int rc = cog_storage_memory_put(s, &r);
	*id = r.id;
	return rc;
}

uint64_t put(cog_storage *s, const char *ns, const char *text,
                    const char *meta)
{
	uint64_t id = 0;
	int rc = put_try(s, ns, text, meta, 0, &id);
	ck_assert_msg(rc == 0, "put \"%s\": %d %s", text, rc, cog_error_last());
	return id;
}

int collect(const cog_storage_memory_record *r, double score, void *ud)
{
	hits *h = ud;
	if (h->n < 64) {
		h->id[h->n] = r->id;
		h->score[h->n] = score;
		snprintf(h->ns[h->n], sizeof(h->ns[0]), "%s", r->ns);
	}
	h->n++;
	return 0;
}

/* Records of the namespaces matching `match` (NULL: all) and `filter`. */
hits search(cog_storage *s, const char *const *ns, size_t ns_count,
                   const char *match, const char *filter)
{
	cog_storage_memory_query q = { .ns = ns, .ns_count = ns_count,
		.match = match, .filter = filter };
	hits h = { 0 };
	int rc = cog_storage_memory_find(s, &q, collect, &h);
	ck_assert_msg(rc == 0, "find \"%s\": %d %s", match ? match : "", rc,
		cog_error_last());
	return h;
}

hits search1(cog_storage *s, const char *ns, const char *match)
{
	const char *one[] = { ns };
	return search(s, one, 1, match, NULL);
}

sqlite3 *raw_open(const char *path)
{
	sqlite3 *db = NULL;
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
		SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

void raw_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, err ? err : "?");
}

long long raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	long long v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* FTS5 compares its index with the rows (through the content view). */
void assert_index_in_step(const char *path)
{
	sqlite3 *db = raw_open(path);
	raw_exec(db, "INSERT INTO memories_fts (memories_fts, rank)"
		" VALUES ('integrity-check', 1)");
	sqlite3_close(db);
}

/* ---- schema ---- */

/* Version 1 exactly as it shipped (sqlite_schema.c, migration 1). */
static const char schema_v1[] =
	"CREATE TABLE docs (collection TEXT NOT NULL, key TEXT NOT NULL,"
	" value TEXT NOT NULL, expires_at INTEGER, PRIMARY KEY (collection, key))"
	" WITHOUT ROWID;"
	"CREATE INDEX docs_expiry ON docs (expires_at) WHERE expires_at IS NOT NULL;"
	"CREATE TABLE logs (log TEXT NOT NULL, seq INTEGER NOT NULL,"
	" record TEXT NOT NULL, PRIMARY KEY (log, seq));"
	"CREATE TABLE log_heads (log TEXT NOT NULL PRIMARY KEY,"
	" next_seq INTEGER NOT NULL) WITHOUT ROWID;"
	"INSERT INTO docs VALUES ('c', 'k', '{\"v\":1}', NULL);"
	"INSERT INTO docs VALUES ('c', 'gone', '2', 1);"
	"INSERT INTO logs VALUES ('audit', 1, '{\"a\":1}'), ('audit', 2, '{\"a\":2}');"
	"INSERT INTO log_heads VALUES ('audit', 3);"
	"PRAGMA user_version = 1;";

static int count_records(uint64_t seq, const char *rec, size_t len, void *ud)
{
	(*(int *)ud)++;
	return 0;
}

START_TEST(migrates_version_1)
{
	char path[PATH_MAX];
	tmp_path(path, "v1.db");
	sqlite3 *db = raw_open(path);
	raw_exec(db, schema_v1);
	sqlite3_close(db);

	cog_storage *s = open_store(path, 0);
	char *v = NULL;
	ck_assert_int_eq(cog_storage_get(s, "c", "k", &v), 0);
	ck_assert_str_eq(v, "{\"v\":1}");
	cog_free(v);
	int records = 0;
	ck_assert_int_eq(cog_storage_read(s, "audit", 1, 0, count_records, &records), 0);
	ck_assert_int_eq(records, 2);
	uint64_t seq = 0;
	ck_assert_int_eq(cog_storage_append(s, "audit", "{\"a\":3}", &seq), 0);
	ck_assert_uint_eq(seq, 3);
	uint64_t id = put(s, "acme", "migrated memory", NULL);
	hits h = search1(s, "acme", "memory");
	ck_assert_uint_eq(h.n, 1);
	ck_assert_uint_eq(h.id[0], id);
	char *desc = NULL;
	ck_assert_int_eq(cog_storage_describe(s, &desc), 0);
	ck_assert_ptr_nonnull(strstr(desc, "\"schema_version\":2"));
	cog_free(desc);
	size_t purged = 0;
	ck_assert_int_eq(cog_storage_purge_expired(s, &purged), 0);
	ck_assert_uint_eq(purged, 1);   /* the expired document of version 1 */
	cog_storage_free(s);

	db = raw_open(path);
	ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 2);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM docs"), 1);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM logs"), 3);
	sqlite3_close(db);
	assert_index_in_step(path);
}
END_TEST

/* ---- the index follows the rows ---- */

START_TEST(index_stays_in_step)
{
	char path[PATH_MAX];
	tmp_path(path, "step.db");
	cog_storage *s = open_store(path, 0);
	uint64_t a = put(s, "n", "alpha beta", "{\"k\":\"x\"}");
	uint64_t b = put(s, "n", "gamma delta", "{\"k\":\"y\"}");
	put(s, "n", "epsilon", "{\"k\":\"x\"}");
	uint64_t e = 0;
	ck_assert_int_eq(put_try(s, "n", "expiring zeta", NULL, 5, &e), 0);

	/* Replace: new text found, old text gone; metadata-only replace. */
	cog_storage_memory_record r = { .id = a, .ns = "n", .layer = COG_MEMORY_LONG_TERM,
		.text = "omega", .text_len = 5, .metadata = "{}", .metadata_len = 2,
		.embed_model = "" };
	ck_assert_int_eq(cog_storage_memory_put(s, &r), 0);
	ck_assert_uint_eq(search1(s, "n", "alpha").n, 0);
	ck_assert_uint_eq(search1(s, "n", "omega").n, 1);
	r.importance = 0.9;
	ck_assert_int_eq(cog_storage_memory_put(s, &r), 0);
	ck_assert_uint_eq(search1(s, "n", "omega").n, 1);
	assert_index_in_step(path);

	/* Delete by id and by filter, then purge. */
	const char *ns[] = { "n" };
	cog_storage_memory_query q = { .ns = ns, .ns_count = 1, .ids = &b, .id_count = 1 };
	size_t n = 0;
	ck_assert_int_eq(cog_storage_memory_delete(s, &q, &n), 0);
	ck_assert_uint_eq(n, 1);
	q = (cog_storage_memory_query){ .ns = ns, .ns_count = 1, .filter = "{\"k\":\"x\"}" };
	ck_assert_int_eq(cog_storage_memory_delete(s, &q, &n), 0);
	ck_assert_uint_eq(n, 1);   /* epsilon; omega lost its metadata */
	ck_assert_int_eq(cog_storage_purge_expired(s, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(search1(s, "n", "zeta gamma epsilon").n, 0);
	assert_index_in_step(path);

	/* A rolled-back transaction leaves neither rows nor index entries. */
	ck_assert_int_eq(cog_storage_begin(s), 0);
	for (int i = 0; i < 50; i++)
		put(s, "n", "rolled back words", NULL);
	q = (cog_storage_memory_query){ .ns = ns, .ns_count = 1, .ids = &a, .id_count = 1 };
	ck_assert_int_eq(cog_storage_memory_delete(s, &q, &n), 0);
	ck_assert_int_eq(cog_storage_rollback(s), 0);
	ck_assert_uint_eq(search1(s, "n", "rolled").n, 0);
	ck_assert_uint_eq(search1(s, "n", "omega").n, 1);
	cog_storage_free(s);
	assert_index_in_step(path);
}
END_TEST

START_TEST(ids_never_reused_across_opens)
{
	char path[PATH_MAX];
	tmp_path(path, "ids.db");
	cog_storage *s = open_store(path, 0);
	put(s, "n", "one", NULL);
	uint64_t last = put(s, "n", "two", NULL);
	const char *ns[] = { "n" };
	cog_storage_memory_query q = { .ns = ns, .ns_count = 1, .ids = &last, .id_count = 1 };
	size_t n = 0;
	ck_assert_int_eq(cog_storage_memory_delete(s, &q, &n), 0);
	cog_storage_free(s);
	s = open_store(path, 0);
	ck_assert_uint_eq(put(s, "n", "three", NULL), last + 1);
	cog_storage_free(s);
}
END_TEST

/*
 * In a child: a file size limit makes writes fail as on a full disk. A put
 * that fails must leave rows and index in step, inside a transaction (which
 * is then refused) and outside one.
 */
static int full_disk_child(const char *path)
{
	cog_storage *s = NULL;
	if (cog_sqlite_storage_open(&s, path, NULL) != 0)
		return 10;
	uint64_t id = 0;
	char text[4096] = "common";
	for (size_t i = 6; i + 1 < sizeof(text); i++)
		text[i] = i % 7 == 6 ? ' ' : (char)('a' + (int)(i * 13 % 26));
	text[sizeof(text) - 1] = '\0';
	struct rlimit small;
	if (getrlimit(RLIMIT_FSIZE, &small) != 0)
		return 11;
	small.rlim_cur = 1 << 20;
	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &small) != 0)
		return 12;
	int rc = 0;
	for (int i = 0; i < 2000 && rc == 0; i++)
		rc = put_try(s, "n", text, NULL, 0, &id);
	if (rc != COG_EIO)
		return 13;
	if (cog_storage_begin(s) != 0)
		return 14;
	rc = 0;
	for (int i = 0; i < 2000 && rc == 0; i++)
		rc = put_try(s, "n", text, NULL, 0, &id);
	if (rc != COG_EIO)
		return 15;
	cog_storage_rollback(s);
	cog_storage_free(s);
	return 0;
}

START_TEST(full_disk_keeps_index_in_step)
{
	char path[PATH_MAX];
	tmp_path(path, "full.db");
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(full_disk_child(path));
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		"child failed (status %d)", status);
	assert_index_in_step(path);
	cog_storage *s = open_store(path, 0);
	sqlite3 *db = raw_open(path);
	long long rows = raw_int(db, "SELECT count(*) FROM memories");
	sqlite3_close(db);
	ck_assert_int_gt(rows, 0);
	const char *ns[] = { "n" };
	cog_storage_memory_query q = { .ns = ns, .ns_count = 1, .match = "common" };
	hits h = { 0 };
	ck_assert_int_eq(cog_storage_memory_find(s, &q, collect, &h), 0);
	ck_assert_int_eq((long long)h.n, rows);   /* every row is indexed */
	cog_storage_free(s);
}
END_TEST

/* ---- main ---- */

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(tmp_root, sizeof(tmp_root), "%s/cog-sqlite-mem-XXXXXX",
		tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tmp_root)) {
		perror("temporary directory");
		return EXIT_FAILURE;
	}
	Suite *suite = suite_create("storage/sqlite-memory");
	TCase *tc = tcase_create("sqlite-memory");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, migrates_version_1);
	tcase_add_test(tc, index_stays_in_step);
	tcase_add_test(tc, ids_never_reused_across_opens);
	tcase_add_test(tc, full_disk_keeps_index_in_step);
	sqlite_memory_add_search_tests(tc);
	sqlite_memory_add_data_tests(tc);
	suite_add_tcase(suite, tc);
	SRunner *sr = srunner_create(suite);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
