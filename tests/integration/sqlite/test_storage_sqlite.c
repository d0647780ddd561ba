/*
 * libcognition-sqlite against real files: the storage conformance suite
 * (durability FULL and NORMAL), then what only a SQLite file can get wrong:
 * foreign and newer files, permissions, WAL, several connections and
 * processes, memory databases, the allocator hook.
 *
 * This file holds the shared helpers (test_storage_sqlite.h), the
 * conformance backends and main(); the SQLite-specific cases are in
 *   test_storage_sqlite_open.c         options, foreign/newer/empty/missing
 *                                      files, read-only files and directories
 *   test_storage_sqlite_concurrency.c  several connections and processes,
 *                                      WAL and pragmas, memory databases
 *   test_storage_sqlite_data.c         values, expiry, scans, sequences, a
 *                                      full disk, the allocator hook
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage_conformance.h"
#include "test_storage_sqlite.h"

static char tmp_root[512];  /* short, so every path built from it fits */
bool forking;

/* ---- helpers ---- */

const char *tmp_path(char *buf, const char *name)
{
	snprintf(buf, PATH_MAX, "%s/%s", tmp_root, name);
	return buf;
}

static void remove_db(const char *path)
{
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	char buf[PATH_MAX + 16];
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(*suffixes); i++) {
		snprintf(buf, sizeof(buf), "%s%s", path, suffixes[i]);
		if (unlink(buf) != 0 && errno != ENOENT)
			ck_abort_msg("unlink %s: %s", buf, strerror(errno));
	}
}

bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

bool exists_suffix(const char *path, const char *suffix)
{
	char buf[PATH_MAX + 16];
	snprintf(buf, sizeof(buf), "%s%s", path, suffix);
	return exists(buf);
}

int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

cog_storage *open_store(const char *path, int durability)
{
	cog_sqlite_options o;
	ck_assert_int_eq(cog_sqlite_options_init(&o, COG_SQLITE_OPTIONS_VERSION), 0);
	o.durability = durability;
	cog_storage *s = NULL;
	int rc = cog_sqlite_storage_open(&s, path, &o);
	ck_assert_msg(rc == 0, "open %s: %d %s", path, rc, cog_error_last());
	return s;
}

void must_put(cog_storage *s, const char *coll, const char *key,
              const char *json)
{
	int rc = cog_storage_put(s, coll, key, json, 0);
	ck_assert_msg(rc == 0, "put %s/%s: %s", coll, key, cog_error_last());
}

void assert_doc(cog_storage *s, const char *coll, const char *key,
                const char *expect)
{
	char *v = NULL;
	int rc = cog_storage_get(s, coll, key, &v);
	if (!expect) {
		ck_assert_msg(rc == COG_ENOTFOUND, "%s/%s: expected absent, got %d %s",
			coll, key, rc, v ? v : cog_error_last());
	} else {
		ck_assert_msg(rc == 0, "get %s/%s: %s", coll, key, cog_error_last());
		ck_assert_str_eq(v, expect);
	}
	cog_free(v);
}

uint64_t must_append(cog_storage *s, const char *log, const char *json)
{
	uint64_t seq = 0;
	int rc = cog_storage_append(s, log, json, &seq);
	ck_assert_msg(rc == 0, "append %s: %s", log, cog_error_last());
	return seq;
}

void assert_error_names(const char *what, const char *needle)
{
	ck_assert_msg(strstr(cog_error_last(), needle) != NULL,
		"%s: message \"%s\" does not mention \"%s\"", what, cog_error_last(),
		needle);
}

int count_docs(const char *key, const char *value, size_t len,
               int64_t expires_at, void *ud)
{
	(*(int *)ud)++;
	return 0;
}

int count_records(uint64_t seq, const char *record, size_t len, void *ud)
{
	(*(int *)ud)++;
	return 0;
}

/* Raw SQLite on a file, to see what is really in it (or to make one). */
sqlite3 *raw_open_flags(const char *path, int flags)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, flags, NULL);
	ck_assert_msg(rc == SQLITE_OK, "raw open %s: %s", path,
		db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	sqlite3_busy_timeout(db, 5000);
	return db;
}

sqlite3 *raw_open(const char *path)
{
	return raw_open_flags(path, SQLITE_OPEN_READWRITE);
}

/* First column of the first row as text, into buf. */
const char *raw_text(sqlite3 *db, const char *sql, char *buf, size_t cap)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
	rc = sqlite3_step(st);
	ck_assert_msg(rc == SQLITE_ROW, "%s: %s", sql, sqlite3_errmsg(db));
	snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return buf;
}

long raw_int(sqlite3 *db, const char *sql)
{
	char buf[64];
	return strtol(raw_text(db, sql, buf, sizeof(buf)), NULL, 10);
}

/* ---- conformance ---- */

typedef struct sqlite_target {
	char path[PATH_MAX];
	int durability;
} sqlite_target;

static int conformance_open(cog_storage **out, void *state)
{
	sqlite_target *t = state;
	cog_sqlite_options o = COG_SQLITE_OPTIONS_INIT;
	o.durability = t->durability;
	return cog_sqlite_storage_open(out, t->path, &o);
}

static void conformance_reset(void *state)
{
	remove_db(((sqlite_target *)state)->path);
}

static Suite *sqlite_suite(void)
{
	Suite *s = suite_create("storage/sqlite");
	TCase *tc = tcase_create("sqlite");
	tcase_set_timeout(tc, 120);
	sqlite_add_open_tests(tc);
	sqlite_add_concurrency_tests(tc);
	sqlite_add_data_tests(tc);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- main ---- */

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
	if (flag == FTW_DP)
		chmod(path, 0755);
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static int run_suite(Suite *suite)
{
	SRunner *sr = srunner_create(suite);
	forking = srunner_fork_status(sr) == CK_FORK;
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed;
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(tmp_root, sizeof(tmp_root), "%s/cog-sqlite-test-XXXXXX",
		tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tmp_root) || chmod(tmp_root, 0755) != 0) {
		perror("temporary directory");
		return EXIT_FAILURE;
	}
	sqlite_target full = { .durability = COG_SQLITE_DURABLE_FULL };
	sqlite_target normal = { .durability = COG_SQLITE_DURABLE_NORMAL };
	tmp_path(full.path, "conformance-full.db");
	tmp_path(normal.path, "conformance-normal.db");
	conformance_backend full_backend = { "sqlite", conformance_open,
		conformance_reset, true, &full };
	conformance_backend normal_backend = { "sqlite-normal", conformance_open,
		conformance_reset, true, &normal };

	/* One runner per conformance suite: the suite keeps its backend in a
	 * static, so a second suite built before the first runs would take
	 * the first one's place. */
	int failed = run_suite(storage_conformance_suite(&full_backend));
	failed += run_suite(storage_conformance_suite(&normal_backend));
	failed += run_suite(sqlite_suite());

	nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
