/*
 * libcognition-sqlite against real files: the storage conformance suite
 * (durability FULL and NORMAL), then what only a SQLite file can get wrong:
 * foreign and newer files, permissions, WAL, several connections and
 * processes, memory databases, the allocator hook.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <cognition/sqlite.h>

#include "storage_conformance.h"

#define NOBODY 65534
#define EXIT_SKIP 77

static char tmp_root[512];  /* short, so every path built from it fits */
static bool forking;   /* Check runs each test in a fresh process */

/* ---- helpers ---- */

/* A path under the temporary directory; each test uses its own names. */
static const char *tmp_path(char *buf, const char *name)
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

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static bool exists_suffix(const char *path, const char *suffix)
{
	char buf[PATH_MAX + 16];
	snprintf(buf, sizeof(buf), "%s%s", path, suffix);
	return exists(buf);
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	ck_assert_msg(f, "create %s: %s", path, strerror(errno));
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* The whole file, malloc'd; *len gets its size. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f, "open %s: %s", path, strerror(errno));
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	size_t got;
	while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
	}
	fclose(f);
	*len = n;
	return buf;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static cog_storage *open_store(const char *path, int durability)
{
	cog_sqlite_options o;
	ck_assert_int_eq(cog_sqlite_options_init(&o, COG_SQLITE_OPTIONS_VERSION), 0);
	o.durability = durability;
	cog_storage *s = NULL;
	int rc = cog_sqlite_storage_open(&s, path, &o);
	ck_assert_msg(rc == 0, "open %s: %d %s", path, rc, cog_error_last());
	return s;
}

static void must_put(cog_storage *s, const char *coll, const char *key,
                     const char *json)
{
	int rc = cog_storage_put(s, coll, key, json, 0);
	ck_assert_msg(rc == 0, "put %s/%s: %s", coll, key, cog_error_last());
}

static void assert_doc(cog_storage *s, const char *coll, const char *key,
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

static uint64_t must_append(cog_storage *s, const char *log, const char *json)
{
	uint64_t seq = 0;
	int rc = cog_storage_append(s, log, json, &seq);
	ck_assert_msg(rc == 0, "append %s: %s", log, cog_error_last());
	return seq;
}

static void assert_error_names(const char *what, const char *needle)
{
	ck_assert_msg(strstr(cog_error_last(), needle) != NULL,
		"%s: message \"%s\" does not mention \"%s\"", what, cog_error_last(),
		needle);
}

/* Raw SQLite on a file, to see what is really in it (or to make one). */
static sqlite3 *raw_open_flags(const char *path, int flags)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, flags, NULL);
	ck_assert_msg(rc == SQLITE_OK, "raw open %s: %s", path,
		db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static sqlite3 *raw_open(const char *path)
{
	return raw_open_flags(path, SQLITE_OPEN_READWRITE);
}

/* First column of the first row as text, into buf. */
static const char *raw_text(sqlite3 *db, const char *sql, char *buf, size_t cap)
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

static long raw_int(sqlite3 *db, const char *sql)
{
	char buf[64];
	return strtol(raw_text(db, sql, buf, sizeof(buf)), NULL, 10);
}

static void raw_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, err ? err : "?");
}

/*
 * Run fn(arg) in a child process that cannot override file permissions:
 * as root it drops to nobody first, since root reads and writes any file.
 * Returns the child's exit status (EXIT_SKIP when it could not drop).
 */
static int run_unprivileged(int (*fn)(const char *arg), const char *arg)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (geteuid() == 0 && (setgroups(0, NULL) != 0 ||
		    setgid(NOBODY) != 0 || setuid(NOBODY) != 0))
			_exit(EXIT_SKIP);
		_exit(fn(arg));
	}
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Checks inside a child process, where ck_assert must not be used. */
#define CHILD_REQUIRE(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__); \
		fprintf(stderr, " [%s]\n", cog_error_last()); \
		return 1; \
	} \
} while (0)

static void assert_child_ok(int status, const char *what)
{
	/* Never a silent pass: a root that cannot drop privileges proves nothing. */
	ck_assert_msg(status != EXIT_SKIP, "%s: cannot drop root privileges to test "
		"file permissions", what);
	ck_assert_msg(status == 0, "%s: child failed with status %d", what, status);
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

/* ---- options ---- */

START_TEST(options_are_checked)
{
	cog_sqlite_options o;
	cog_storage *s = (cog_storage *)1;
	ck_assert_int_eq(cog_sqlite_options_init(NULL, 1), COG_EINVAL);
	ck_assert_int_eq(cog_sqlite_options_init(&o, 0), COG_EVERSION);
	ck_assert_int_eq(cog_sqlite_options_init(&o, COG_SQLITE_OPTIONS_VERSION + 1),
		COG_EVERSION);
	ck_assert_int_eq(cog_sqlite_options_init(&o, COG_SQLITE_OPTIONS_VERSION), 0);
	ck_assert_int_eq(o.durability, COG_SQLITE_DURABLE_FULL);
	ck_assert_int_eq(o.create, 1);
	ck_assert_int_eq(o.read_only, 0);

	ck_assert_int_eq(cog_sqlite_storage_open(NULL, ":memory:", NULL), COG_EINVAL);
	ck_assert_int_eq(cog_sqlite_storage_open(&s, NULL, NULL), COG_EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(cog_sqlite_storage_open(&s, "", NULL), COG_EINVAL);
	o.durability = 7;
	ck_assert_int_eq(cog_sqlite_storage_open(&s, ":memory:", &o), COG_EINVAL);
	assert_error_names("bad durability", "durability");
	o.durability = COG_SQLITE_DURABLE_NORMAL;
	o.version = 99;
	ck_assert_int_eq(cog_sqlite_storage_open(&s, ":memory:", &o), COG_EVERSION);
	o.version = COG_SQLITE_OPTIONS_VERSION;
	o.busy_timeout_ms = 3000000000u;
	ck_assert_int_eq(cog_sqlite_storage_open(&s, ":memory:", &o), COG_EINVAL);
	o.busy_timeout_ms = 0;
	o.read_only = 1;
	ck_assert_int_eq(cog_sqlite_storage_open(&s, ":memory:", &o), COG_EINVAL);
	ck_assert_ptr_null(s);
}
END_TEST

/* ---- foreign and newer files ---- */

static void assert_not_a_database(const char *name, const char *content,
                                  size_t len, int read_only)
{
	char path[PATH_MAX];
	tmp_path(path, name);
	write_file(path, content, len);
	cog_sqlite_options o = COG_SQLITE_OPTIONS_INIT;
	o.read_only = read_only;
	cog_storage *s = NULL;
	ck_assert_int_eq(cog_sqlite_storage_open(&s, path, &o), COG_EIO);
	ck_assert_ptr_null(s);
	assert_error_names("not a database", path);
	assert_error_names("not a database", "file is not a database");
	size_t after_len = 0;
	char *after = read_file(path, &after_len);
	ck_assert_uint_eq(after_len, len);
	ck_assert_msg(memcmp(after, content, len) == 0, "%s was modified", path);
	free(after);
	ck_assert_msg(!exists_suffix(path, "-wal") && !exists_suffix(path, "-shm") &&
		!exists_suffix(path, "-journal"), "open left files next to %s", path);
}

START_TEST(not_a_database_is_left_alone)
{
	size_t len = 16384;
	char *text = malloc(len);
	ck_assert_ptr_nonnull(text);
	for (size_t i = 0; i < len; i++)
		text[i] = "This is a text file, not an SQLite database.\n"[i % 45];
	assert_not_a_database("text.db", text, len, 0);
	assert_not_a_database("text-ro.db", text, len, 1);
	free(text);
	/* Shorter than SQLite's 100-byte header: still not an empty database. */
	assert_not_a_database("short.db", "hello", 5, 0);
}
END_TEST

START_TEST(newer_schema_is_refused)
{
	char path[PATH_MAX], buf[64];
	tmp_path(path, "newer.db");
	sqlite3 *db = raw_open_flags(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	raw_exec(db, "CREATE TABLE future (x)");
	snprintf(buf, sizeof(buf), "PRAGMA user_version = %d",
		COG_SQLITE_SCHEMA_VERSION + 1);
	raw_exec(db, buf);
	sqlite3_close(db);
	size_t before_len, after_len;
	char *before = read_file(path, &before_len);

	cog_storage *s = NULL;
	ck_assert_int_eq(cog_sqlite_storage_open(&s, path, NULL), COG_EIO);
	ck_assert_ptr_null(s);
	assert_error_names("newer schema", "newer");
	assert_error_names("newer schema", path);

	char *after = read_file(path, &after_len);
	ck_assert_msg(before_len == after_len && memcmp(before, after, before_len) == 0,
		"refusing a newer schema changed the file");
	free(before);
	free(after);
	db = raw_open(path);
	ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), COG_SQLITE_SCHEMA_VERSION + 1);
	ck_assert_str_eq(raw_text(db, "PRAGMA journal_mode", buf, sizeof(buf)), "delete");
	sqlite3_close(db);
}
END_TEST

START_TEST(empty_file_is_migrated)
{
	char path[PATH_MAX], buf[64];
	tmp_path(path, "empty.db");
	write_file(path, "", 0);
	cog_storage *s = open_store(path, COG_SQLITE_DURABLE_FULL);
	must_put(s, "c", "k", "1");
	cog_storage_free(s);

	sqlite3 *db = raw_open(path);
	ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), COG_SQLITE_SCHEMA_VERSION);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE "
		"type = 'table' AND name IN ('docs', 'logs', 'log_heads')"), 3);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM docs"), 1);
	ck_assert_str_eq(raw_text(db, "PRAGMA journal_mode", buf, sizeof(buf)), "wal");
	sqlite3_close(db);

	/* Opening again migrates nothing and keeps the data. */
	s = open_store(path, COG_SQLITE_DURABLE_FULL);
	assert_doc(s, "c", "k", "1");
	char *json = NULL;
	ck_assert_int_eq(cog_storage_describe(s, &json), 0);
	snprintf(buf, sizeof(buf), "\"schema_version\":%d", COG_SQLITE_SCHEMA_VERSION);
	ck_assert_msg(strstr(json, buf), "%s", json);
	cog_free(json);
	cog_storage_free(s);
}
END_TEST

START_TEST(missing_file_without_create)
{
	char path[PATH_MAX];
	tmp_path(path, "missing.db");
	cog_sqlite_options o = COG_SQLITE_OPTIONS_INIT;
	o.create = 0;
	cog_storage *s = NULL;
	ck_assert_int_eq(cog_sqlite_storage_open(&s, path, &o), COG_EIO);
	assert_error_names("missing file", path);
	ck_assert(!exists(path));
	o.create = 1;
	o.read_only = 1;
	ck_assert_int_eq(cog_sqlite_storage_open(&s, path, &o), COG_EIO);
	ck_assert(!exists(path));
	ck_assert_ptr_null(s);
}
END_TEST

/* ---- read-only ---- */

static void make_db_with_data(const char *path)
{
	cog_storage *s = open_store(path, COG_SQLITE_DURABLE_FULL);
	must_put(s, "c", "k", "{\"v\":1}");
	must_put(s, "c", "k2", "{\"v\":2}");
	must_append(s, "log", "\"first\"");
	cog_storage_free(s);
}

static int count_docs(const char *key, const char *value, size_t len,
                      int64_t expires_at, void *ud)
{
	(*(int *)ud)++;
	return 0;
}

static int count_records(uint64_t seq, const char *record, size_t len, void *ud)
{
	(*(int *)ud)++;
	return 0;
}

/* In the unprivileged child: reads work read-only, writes fail clearly,
 * and a read-write open is refused with a reason. */
static int check_read_only(const char *path)
{
	cog_storage *s = NULL;
	int rc = cog_sqlite_storage_open(&s, path, NULL);
	CHILD_REQUIRE(rc == COG_EDENIED, "read-write open of a read-only file: %d", rc);
	CHILD_REQUIRE(strstr(cog_error_last(), "read_only") &&
		strstr(cog_error_last(), path), "message does not say what to do");

	cog_sqlite_options o = COG_SQLITE_OPTIONS_INIT;
	o.read_only = 1;
	rc = cog_sqlite_storage_open(&s, path, &o);
	CHILD_REQUIRE(rc == 0, "read-only open: %d", rc);
	char *v = NULL;
	rc = cog_storage_get(s, "c", "k", &v);
	CHILD_REQUIRE(rc == 0 && strcmp(v, "{\"v\":1}") == 0, "get: %d", rc);
	cog_free(v);
	int n = 0;
	CHILD_REQUIRE(cog_storage_scan(s, "c", "", count_docs, &n) == 0 && n == 2,
		"scan: %d documents", n);
	n = 0;
	CHILD_REQUIRE(cog_storage_read(s, "log", 1, 0, count_records, &n) == 0 && n == 1,
		"read: %d records", n);
	rc = cog_storage_put(s, "c", "k", "2", 0);
	CHILD_REQUIRE(rc == COG_EDENIED || rc == COG_EIO, "put: %d", rc);
	CHILD_REQUIRE(strstr(cog_error_last(), "readonly") &&
		strstr(cog_error_last(), path), "put message");
	rc = cog_storage_append(s, "log", "2", NULL);
	CHILD_REQUIRE(rc == COG_EDENIED || rc == COG_EIO, "append: %d", rc);
	/* The failed writes left nothing behind. */
	rc = cog_storage_get(s, "c", "k", &v);
	CHILD_REQUIRE(rc == 0 && strcmp(v, "{\"v\":1}") == 0, "get after put: %d", rc);
	cog_free(v);
	cog_storage_free(s);
	return 0;
}

START_TEST(read_only_file)
{
	char path[PATH_MAX];
	tmp_path(path, "ro-file.db");
	make_db_with_data(path);
	ck_assert_int_eq(chmod(path, 0444), 0);
	assert_child_ok(run_unprivileged(check_read_only, path), "read-only file");
}
END_TEST

START_TEST(read_only_directory)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	tmp_path(dir, "ro-dir");
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/x.db", dir);
	make_db_with_data(path);
	char side[PATH_MAX + 32];
	snprintf(side, sizeof(side), "%s-wal", path);
	ck_assert_int_eq(chmod(side, 0444), 0);
	snprintf(side, sizeof(side), "%s-shm", path);
	ck_assert_int_eq(chmod(side, 0444), 0);
	ck_assert_int_eq(chmod(path, 0444), 0);
	ck_assert_int_eq(chmod(dir, 0555), 0);
	int status = run_unprivileged(check_read_only, path);
	chmod(dir, 0755);
	assert_child_ok(status, "read-only directory");
}
END_TEST

START_TEST(read_only_option_on_writable_file)
{
	char path[PATH_MAX];
	tmp_path(path, "ro-option.db");
	make_db_with_data(path);
	cog_sqlite_options o = COG_SQLITE_OPTIONS_INIT;
	o.read_only = 1;
	cog_storage *s = NULL;
	ck_assert_int_eq(cog_sqlite_storage_open(&s, path, &o), 0);
	assert_doc(s, "c", "k", "{\"v\":1}");
	ck_assert_int_eq(cog_storage_put(s, "c", "k", "3", 0), COG_EDENIED);
	assert_error_names("read-only put", path);
	ck_assert_int_eq(cog_storage_delete(s, "c", "k"), COG_EDENIED);
	ck_assert_int_eq(cog_storage_truncate(s, "log", 10), COG_EDENIED);
	/* A transaction on a read-only store is a consistent snapshot. */
	ck_assert_int_eq(cog_storage_begin(s), 0);
	assert_doc(s, "c", "k2", "{\"v\":2}");
	ck_assert_int_eq(cog_storage_put(s, "c", "k", "4", 0), COG_EDENIED);
	ck_assert_int_eq(cog_storage_rollback(s), 0);
	char *json = NULL;
	ck_assert_int_eq(cog_storage_describe(s, &json), 0);
	ck_assert_msg(strstr(json, "\"read_only\":true"), "%s", json);
	cog_free(json);
	cog_storage_free(s);

	/* A file at schema version 0 cannot be migrated read-only. */
	tmp_path(path, "ro-empty.db");
	write_file(path, "", 0);
	ck_assert_int_eq(cog_sqlite_storage_open(&s, path, &o), COG_EDENIED);
	assert_error_names("read-only migration", "read-only");
	struct stat sb;
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_size, 0);
}
END_TEST

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

static Suite *sqlite_suite(void)
{
	Suite *s = suite_create("storage/sqlite");
	TCase *tc = tcase_create("sqlite");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, options_are_checked);
	tcase_add_test(tc, not_a_database_is_left_alone);
	tcase_add_test(tc, newer_schema_is_refused);
	tcase_add_test(tc, empty_file_is_migrated);
	tcase_add_test(tc, missing_file_without_create);
	tcase_add_test(tc, read_only_file);
	tcase_add_test(tc, read_only_directory);
	tcase_add_test(tc, read_only_option_on_writable_file);
	tcase_add_test(tc, two_handles_see_each_other);
	tcase_add_test(tc, other_process_commits_are_seen);
	tcase_add_test(tc, processes_append_concurrently);
	tcase_add_test(tc, wal_mode_is_on);
	tcase_add_test(tc, synchronous_follows_durability);
	tcase_add_test(tc, describe_escapes_the_path);
	tcase_add_test(tc, memory_database);
	tcase_add_test(tc, large_values_round_trip);
	tcase_add_test(tc, expired_hidden_then_purged);
	tcase_add_test(tc, scan_prefix_edges);
	tcase_add_test(tc, sequence_survives_full_truncation);
	tcase_add_test(tc, disk_full_inside_a_transaction);
	tcase_add_test(tc, sqlite_memory_goes_through_the_hook);
	tcase_add_test(tc, host_initialised_sqlite_first);
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
