/*
 * libcognition-sqlite with several connections and processes on one file,
 * WAL and the pragmas that follow from the options, memory databases.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_storage_sqlite.h"

/* ---- several connections and processes ---- */

START_TEST(two_handles_see_each_other)
{
	char path[PATH_MAX];
	tmp_path(path, "two.db");
	cog_storage *a = open_store(path, COG_SQLITE_DURABLE_FULL);
	cog_sqlite_options o = COG_SQLITE_OPTIONS_INIT;
	o.busy_timeout_ms = 100;
	cog_storage *b = NULL;
	ck_assert_int_eq(cog_sqlite_storage_open(&b, path, &o), 0);

	must_put(a, "c", "k", "1");
	assert_doc(b, "c", "k", "1");
	ck_assert_uint_eq(must_append(b, "log", "1"), 1);
	ck_assert_uint_eq(must_append(a, "log", "2"), 2);
	ck_assert_uint_eq(must_append(b, "log", "3"), 3);
	int n = 0;
	ck_assert_int_eq(cog_storage_read(a, "log", 1, 0, count_records, &n), 0);
	ck_assert_int_eq(n, 3);

	/* An open transaction is invisible to the other connection, whose
	 * writes wait for the busy timeout and then fail with COG_EBUSY. */
	ck_assert_int_eq(cog_storage_begin(a), 0);
	must_put(a, "c", "k", "2");
	assert_doc(b, "c", "k", "1");
	int64_t t0 = now_ms();
	ck_assert_int_eq(cog_storage_put(b, "c", "k", "3", 0), COG_EBUSY);
	ck_assert_int_ge(now_ms() - t0, 80);
	assert_error_names("busy", path);
	ck_assert_int_eq(cog_storage_append(b, "log", "4", NULL), COG_EBUSY);
	ck_assert_int_eq(cog_storage_commit(a), 0);
	assert_doc(b, "c", "k", "2");
	ck_assert_uint_eq(must_append(b, "log", "4"), 4);
	cog_storage_free(a);
	cog_storage_free(b);
}
END_TEST

START_TEST(other_process_commits_are_seen)
{
	char path[PATH_MAX];
	tmp_path(path, "fork.db");
	cog_storage *mine = open_store(path, COG_SQLITE_DURABLE_FULL);
	must_put(mine, "c", "parent", "1");
	assert_doc(mine, "c", "child", NULL);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* A connection must not cross fork(): the child opens its own
		 * and leaves the inherited one alone. */
		cog_storage *theirs = NULL;
		char *v = NULL;
		if (cog_sqlite_storage_open(&theirs, path, NULL) != 0 ||
		    cog_storage_get(theirs, "c", "parent", &v) != 0 ||
		    cog_storage_put(theirs, "c", "child", "2", 0) != 0 ||
		    cog_storage_append(theirs, "log", "\"child\"", NULL) != 0)
			_exit(1);
		cog_free(v);
		cog_storage_free(theirs);
		_exit(0);
	}
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		"child failed (%d)", status);
	assert_doc(mine, "c", "child", "2");
	ck_assert_uint_eq(must_append(mine, "log", "\"parent\""), 2);
	cog_storage_free(mine);
}
END_TEST

#define APPENDERS 3
#define APPENDS 200

static int check_dense(uint64_t seq, const char *record, size_t len, void *ud)
{
	uint64_t *expect = ud;
	ck_assert_uint_eq(seq, *expect);
	(*expect)++;
	return 0;
}

/* Processes appending to one log at the same time never get the same
 * sequence number, and none fails: the busy timeout absorbs the waits. */
START_TEST(processes_append_concurrently)
{
	char path[PATH_MAX];
	tmp_path(path, "appenders.db");
	cog_storage_free(open_store(path, COG_SQLITE_DURABLE_NORMAL));
	pid_t pids[APPENDERS];
	fflush(stdout);
	fflush(stderr);
	for (int p = 0; p < APPENDERS; p++) {
		pids[p] = fork();
		ck_assert_int_ge(pids[p], 0);
		if (pids[p] == 0) {
			cog_sqlite_options o = COG_SQLITE_OPTIONS_INIT;
			o.durability = COG_SQLITE_DURABLE_NORMAL;
			cog_storage *s = NULL;
			if (cog_sqlite_storage_open(&s, path, &o) != 0)
				_exit(2);
			for (int i = 0; i < APPENDS; i++) {
				char rec[32];
				snprintf(rec, sizeof(rec), "{\"p\":%d,\"i\":%d}", p, i);
				if (cog_storage_append(s, "shared", rec, NULL) != 0) {
					fprintf(stderr, "append: %s\n", cog_error_last());
					_exit(1);
				}
			}
			cog_storage_free(s);
			_exit(0);
		}
	}
	for (int p = 0; p < APPENDERS; p++) {
		int status = 0;
		ck_assert_int_eq(waitpid(pids[p], &status, 0), pids[p]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			"appender %d failed (%d)", p, status);
	}
	cog_storage *s = open_store(path, COG_SQLITE_DURABLE_NORMAL);
	uint64_t next = 1;
	ck_assert_int_eq(cog_storage_read(s, "shared", 0, 0, check_dense, &next), 0);
	ck_assert_uint_eq(next, APPENDERS * APPENDS + 1);
	cog_storage_free(s);
}
END_TEST

/* ---- pragmas ---- */

/* Several processes creating the same new database at the same moment all
 * open it: one migrates, the others wait for it and see its schema. */
START_TEST(processes_create_one_file_at_once)
{
	enum { CHILDREN = 4, ROUNDS = 15 };
	for (int round = 0; round < ROUNDS; round++) {
		char name[64], path[PATH_MAX];
		snprintf(name, sizeof(name), "race-%d.db", round);
		tmp_path(path, name);
		pid_t pids[CHILDREN];
		for (int c = 0; c < CHILDREN; c++) {
			pids[c] = fork();
			ck_assert_int_ge(pids[c], 0);
			if (pids[c] == 0) {
				cog_storage *s = NULL;
				int rc = cog_sqlite_storage_open(&s, path, NULL);
				if (rc == 0)
					rc = cog_storage_put(s, "c", "k", "1", 0);
				if (rc)
					fprintf(stderr, "round %d child %d: %s\n", round, c, cog_error_last());
				cog_storage_free(s);
				_exit(rc ? 1 : 0);
			}
		}
		for (int c = 0; c < CHILDREN; c++) {
			int status = 0;
			ck_assert_int_eq(waitpid(pids[c], &status, 0), pids[c]);
			ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
				"round %d: child %d could not open the new database", round, c);
		}
	}
}
END_TEST

START_TEST(wal_mode_is_on)
{
	char path[PATH_MAX], buf[64];
	tmp_path(path, "wal.db");
	cog_storage *s = open_store(path, COG_SQLITE_DURABLE_FULL);
	must_put(s, "c", "k", "1");
	/* While the store is open, and from a connection of its own. */
	sqlite3 *db = raw_open(path);
	ck_assert_str_eq(raw_text(db, "PRAGMA journal_mode", buf, sizeof(buf)), "wal");
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM docs"), 1);
	sqlite3_close(db);
	ck_assert(exists_suffix(path, "-wal"));
	cog_storage_free(s);
	/* The -wal and -shm files are kept, emptied, so that the file can be
	 * read later from a read-only directory. */
	char wal[PATH_MAX + 8];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	struct stat sb;
	ck_assert_int_eq(stat(wal, &sb), 0);
	ck_assert_int_eq(sb.st_size, 0);
}
END_TEST

static void assert_synchronous(int durability, const char *expect)
{
	char path[PATH_MAX], want[64];
	tmp_path(path, expect[0] == 'f' ? "sync-full.db" : "sync-normal.db");
	cog_storage *s = open_store(path, durability);
	char *json = NULL;
	ck_assert_int_eq(cog_storage_describe(s, &json), 0);
	/* "synchronous" is read back from the connection, not from options. */
	snprintf(want, sizeof(want), "\"synchronous\":\"%s\"", expect);
	ck_assert_msg(strstr(json, want), "%s lacks %s", json, want);
	snprintf(want, sizeof(want), "\"durability\":\"%s\"", expect);
	ck_assert_msg(strstr(json, want), "%s lacks %s", json, want);
	ck_assert_msg(strstr(json, "\"backend\":\"sqlite\""), "%s", json);
	ck_assert_msg(strstr(json, "\"journal_mode\":\"wal\""), "%s", json);
	ck_assert_msg(strstr(json, sqlite3_libversion()), "%s", json);
	ck_assert_msg(strstr(json, path), "%s", json);
	cog_free(json);
	cog_storage_free(s);
}

START_TEST(synchronous_follows_durability)
{
	assert_synchronous(COG_SQLITE_DURABLE_FULL, "full");
	assert_synchronous(COG_SQLITE_DURABLE_NORMAL, "normal");
}
END_TEST

START_TEST(describe_escapes_the_path)
{
	char path[PATH_MAX];
	tmp_path(path, "quote\"back\\slash.db");
	cog_storage *s = open_store(path, COG_SQLITE_DURABLE_FULL);
	char *json = NULL;
	ck_assert_int_eq(cog_storage_describe(s, &json), 0);
	ck_assert_msg(strstr(json, "quote\\\"back\\\\slash.db"), "%s", json);
	cog_free(json);
	cog_storage_free(s);
}
END_TEST

/* ---- memory databases ---- */

START_TEST(memory_database)
{
	cog_storage *a = open_store(":memory:", COG_SQLITE_DURABLE_FULL);
	cog_storage *b = open_store(":memory:", COG_SQLITE_DURABLE_FULL);
	must_put(a, "c", "k", "[1]");
	assert_doc(a, "c", "k", "[1]");
	assert_doc(b, "c", "k", NULL); /* each is private */
	ck_assert_uint_eq(must_append(a, "log", "1"), 1);
	ck_assert_uint_eq(must_append(a, "log", "2"), 2);
	ck_assert_int_eq(cog_storage_begin(a), 0);
	must_put(a, "c", "k", "[2]");
	ck_assert_int_eq(cog_storage_rollback(a), 0);
	assert_doc(a, "c", "k", "[1]");
	char *json = NULL;
	ck_assert_int_eq(cog_storage_describe(a, &json), 0);
	ck_assert_msg(strstr(json, "\"journal_mode\":\"memory\""), "%s", json);
	cog_free(json);
	cog_storage_free(a);
	cog_storage_free(b);
	ck_assert(!exists(":memory:"));
}
END_TEST

void sqlite_add_concurrency_tests(TCase *tc)
{
	tcase_add_test(tc, processes_create_one_file_at_once);
	tcase_add_test(tc, two_handles_see_each_other);
	tcase_add_test(tc, other_process_commits_are_seen);
	tcase_add_test(tc, processes_append_concurrently);
	tcase_add_test(tc, wal_mode_is_on);
	tcase_add_test(tc, synchronous_follows_durability);
	tcase_add_test(tc, describe_escapes_the_path);
	tcase_add_test(tc, memory_database);
}
