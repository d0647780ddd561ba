/*
 * libcognition-sqlite and the data it keeps: large values, expiry, scan
 * prefixes, log sequences, a full disk in the middle of a transaction, and
 * SQLite's memory through the allocator hook.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_storage_sqlite.h"

/* ---- data ---- */

START_TEST(large_values_round_trip)
{
	char path[PATH_MAX];
	tmp_path(path, "large.db");
	size_t n = 1024 * 1024;
	char *big = malloc(n + 1);
	ck_assert_ptr_nonnull(big);
	big[0] = '"';
	for (size_t i = 1; i < n - 1; i++)
		big[i] = (char)('a' + (i * 7) % 26);
	big[n - 1] = '"';
	big[n] = '\0';
	cog_storage *s = open_store(path, COG_SQLITE_DURABLE_NORMAL);
	must_put(s, "c", "big", big);
	ck_assert_uint_eq(must_append(s, "log", big), 1);
	cog_storage_free(s);

	s = open_store(path, COG_SQLITE_DURABLE_NORMAL);
	char *v = NULL;
	ck_assert_int_eq(cog_storage_get(s, "c", "big", &v), 0);
	ck_assert_uint_eq(strlen(v), n);
	ck_assert_int_eq(memcmp(v, big, n), 0);
	cog_free(v);
	int records = 0;
	ck_assert_int_eq(cog_storage_read(s, "log", 1, 1, count_records, &records), 0);
	ck_assert_int_eq(records, 1);
	cog_storage_free(s);
	free(big);
}
END_TEST

START_TEST(expired_hidden_then_purged)
{
	char path[PATH_MAX];
	tmp_path(path, "expiry.db");
	cog_storage *s = open_store(path, COG_SQLITE_DURABLE_FULL);
	int64_t now = now_ms();
	ck_assert_int_eq(cog_storage_put(s, "c", "old", "1", now - 1), 0);
	ck_assert_int_eq(cog_storage_put(s, "c", "soon", "2", now + 3600 * 1000), 0);
	must_put(s, "c", "never", "3");
	assert_doc(s, "c", "old", NULL);
	assert_doc(s, "c", "soon", "2");
	int n = 0;
	ck_assert_int_eq(cog_storage_scan(s, "c", "", count_docs, &n), 0);
	ck_assert_int_eq(n, 2);

	/* Hidden is not gone: the row stays until purged. */
	sqlite3 *db = raw_open(path);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM docs"), 3);
	size_t purged = 0;
	ck_assert_int_eq(cog_storage_purge_expired(s, &purged), 0);
	ck_assert_uint_eq(purged, 1);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM docs"), 2);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM docs WHERE expires_at IS NULL"), 1);
	sqlite3_close(db);
	assert_doc(s, "c", "never", "3");
	cog_storage_free(s);
}
END_TEST

struct keys {
	char list[16][32];
	int n;
};

static int collect_keys(const char *key, const char *value, size_t len,
                        int64_t expires_at, void *ud)
{
	struct keys *k = ud;
	ck_assert_int_lt(k->n, 16);
	snprintf(k->list[k->n++], 32, "%s", key);
	return 0;
}

/* Prefixes are compared as bytes: no LIKE wildcards, no collation, and
 * prefixes ending in the largest UTF-8 bytes still have an upper bound. */
START_TEST(scan_prefix_edges)
{
	cog_storage *s = open_store(":memory:", COG_SQLITE_DURABLE_FULL);
	const char *keys[] = { "a%b", "axb", "a_c", "A%b", "\xf4\x8f\xbf\xbf",
		"\xf4\x8f\xbf\xbfz", "\xf4\x8f\xbf\xbe", "\x7f", "\x7f\x7f" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
		must_put(s, "c", keys[i], "0");
	struct keys k = { .n = 0 };
	ck_assert_int_eq(cog_storage_scan(s, "c", "a%", collect_keys, &k), 0);
	ck_assert_int_eq(k.n, 1);
	ck_assert_str_eq(k.list[0], "a%b");
	memset(&k, 0, sizeof(k));
	ck_assert_int_eq(cog_storage_scan(s, "c", "\xf4\x8f\xbf\xbf", collect_keys, &k), 0);
	ck_assert_int_eq(k.n, 2);
	ck_assert_str_eq(k.list[0], "\xf4\x8f\xbf\xbf");
	ck_assert_str_eq(k.list[1], "\xf4\x8f\xbf\xbfz");
	memset(&k, 0, sizeof(k));
	ck_assert_int_eq(cog_storage_scan(s, "c", "\x7f", collect_keys, &k), 0);
	ck_assert_int_eq(k.n, 2);
	cog_storage_free(s);
}
END_TEST

START_TEST(sequence_survives_full_truncation)
{
	char path[PATH_MAX];
	tmp_path(path, "seq.db");
	cog_storage *s = open_store(path, COG_SQLITE_DURABLE_FULL);
	for (int i = 0; i < 3; i++)
		must_append(s, "log", "1");
	ck_assert_int_eq(cog_storage_truncate(s, "log", UINT64_MAX), 0);
	int n = 0;
	ck_assert_int_eq(cog_storage_read(s, "log", 0, 0, count_records, &n), 0);
	ck_assert_int_eq(n, 0);
	cog_storage_free(s);
	s = open_store(path, COG_SQLITE_DURABLE_FULL);
	ck_assert_uint_eq(must_append(s, "log", "1"), 4);
	/* An append inside a transaction that rolls back takes no number. */
	ck_assert_int_eq(cog_storage_begin(s), 0);
	ck_assert_uint_eq(must_append(s, "log", "2"), 5);
	ck_assert_int_eq(cog_storage_rollback(s), 0);
	ck_assert_uint_eq(must_append(s, "log", "3"), 5);
	cog_storage_free(s);
}
END_TEST

/* ---- a full disk ---- */

static char *big_string(size_t n)
{
	char *big = malloc(n + 3);
	if (big) {
		memset(big, 'x', n + 2);
		big[0] = '"';
		big[n + 1] = '"';
		big[n + 2] = '\0';
	}
	return big;
}

/*
 * In a child: a file size limit makes SQLite's writes fail (as on a full
 * disk) in the middle of a transaction. SQLite then rolls the transaction
 * back by itself; later writes must not slip out as separate commits, the
 * commit must fail, and the store must work again afterwards.
 */
static int disk_full_child(const char *path)
{
	cog_storage *s = NULL;
	CHILD_REQUIRE(cog_sqlite_storage_open(&s, path, NULL) == 0, "open");
	CHILD_REQUIRE(cog_storage_put(s, "c", "before", "1", 0) == 0, "put before");
	char *big = big_string(64 * 1024);
	CHILD_REQUIRE(big, "malloc");
	struct rlimit saved, small;
	CHILD_REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0, "getrlimit");
	small = saved;
	small.rlim_cur = 1 << 20;
	signal(SIGXFSZ, SIG_IGN);
	CHILD_REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0, "setrlimit");

	CHILD_REQUIRE(cog_storage_begin(s) == 0, "begin");
	int rc = 0;
	for (int i = 0; i < 400 && rc == 0; i++) {
		char key[32];
		snprintf(key, sizeof(key), "k%03d", i);
		rc = cog_storage_put(s, "c", key, big, 0);
	}
	CHILD_REQUIRE(rc == COG_EIO, "put on a full disk: %d", rc);
	CHILD_REQUIRE(strstr(cog_error_last(), path), "message names the file");
	CHILD_REQUIRE(cog_storage_put(s, "c", "after", "1", 0) != 0,
		"a put after the failure must not commit on its own");
	CHILD_REQUIRE(cog_storage_append(s, "log", "1", NULL) != 0,
		"an append after the failure must not commit on its own");
	CHILD_REQUIRE(cog_storage_commit(s) == COG_EIO, "commit");
	CHILD_REQUIRE(strstr(cog_error_last(), "rolled back"), "commit message");

	/* Outside a transaction a failed write is simply an error. */
	CHILD_REQUIRE(cog_storage_put(s, "c", "huge", big, 0) == 0 ||
		cog_error_last_code() == COG_EIO, "autocommit put");
	CHILD_REQUIRE(setrlimit(RLIMIT_FSIZE, &saved) == 0, "restore the limit");
	char *v = NULL;
	CHILD_REQUIRE(cog_storage_get(s, "c", "k000", &v) == COG_ENOTFOUND, "k000");
	CHILD_REQUIRE(cog_storage_get(s, "c", "after", &v) == COG_ENOTFOUND, "after");
	CHILD_REQUIRE(cog_storage_begin(s) == 0, "begin again");
	CHILD_REQUIRE(cog_storage_put(s, "c", "later", big, 0) == 0, "put later");
	CHILD_REQUIRE(cog_storage_commit(s) == 0, "commit later");
	cog_storage_free(s);
	free(big);

	CHILD_REQUIRE(cog_sqlite_storage_open(&s, path, NULL) == 0, "reopen");
	CHILD_REQUIRE(cog_storage_get(s, "c", "before", &v) == 0, "before");
	cog_free(v);
	CHILD_REQUIRE(cog_storage_get(s, "c", "later", &v) == 0, "later");
	cog_free(v);
	int records = 0;
	CHILD_REQUIRE(cog_storage_read(s, "log", 0, 0, count_records, &records) == 0 &&
		records == 0, "log records: %d", records);
	cog_storage_free(s);
	return 0;
}

START_TEST(disk_full_inside_a_transaction)
{
	char path[PATH_MAX];
	tmp_path(path, "full.db");
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(disk_full_child(path));
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		"disk-full child failed (status %d)", status);
}
END_TEST

/* ---- the allocator hook ---- */

static size_t hook_calls;

static void *count_malloc(size_t n, void *ud) { hook_calls++; return malloc(n); }
static void *count_realloc(void *p, size_t n, void *ud) { hook_calls++; return realloc(p, n); }
static void count_free(void *p, void *ud) { free(p); }

START_TEST(sqlite_memory_goes_through_the_hook)
{
	ck_assert_msg(forking, "this test needs a fresh process per test: run without "
		"CK_FORK=no");
	/* A fresh test process: nothing has allocated yet. */
	cog_allocator a = { COG_ALLOCATOR_VERSION, count_malloc, count_realloc,
		count_free, NULL };
	ck_assert_msg(cog_set_allocator(&a) == 0, "%s", cog_error_last());
	cog_storage *s = open_store(":memory:", COG_SQLITE_DURABLE_FULL);
	size_t before = hook_calls;
	void *p = sqlite3_malloc(1000);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(hook_calls, before + 1);
	ck_assert_int_ge(sqlite3_msize(p), 1000);
	p = sqlite3_realloc(p, 100000);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_ge(sqlite3_msize(p), 100000);
	ck_assert_uint_eq((uintptr_t)p % 16, 0);
	sqlite3_free(p);
	must_put(s, "c", "k", "1");
	cog_storage_free(s);
}
END_TEST

START_TEST(host_initialised_sqlite_first)
{
	/* SQLite is already initialised, so its allocator cannot change; the
	 * store must still work with SQLite's own. */
	ck_assert_int_eq(sqlite3_initialize(), SQLITE_OK);
	cog_storage *s = open_store(":memory:", COG_SQLITE_DURABLE_FULL);
	must_put(s, "c", "k", "1");
	assert_doc(s, "c", "k", "1");
	cog_storage_free(s);
}
END_TEST

void sqlite_add_data_tests(TCase *tc)
{
	tcase_add_test(tc, large_values_round_trip);
	tcase_add_test(tc, expired_hidden_then_purged);
	tcase_add_test(tc, scan_prefix_edges);
	tcase_add_test(tc, sequence_survives_full_truncation);
	tcase_add_test(tc, disk_full_inside_a_transaction);
	tcase_add_test(tc, sqlite_memory_goes_through_the_hook);
	tcase_add_test(tc, host_initialised_sqlite_first);
}
