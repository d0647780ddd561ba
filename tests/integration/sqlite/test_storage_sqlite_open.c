/*
 * libcognition-sqlite, opening files: options, foreign and newer files,
 * empty and missing files, read-only files, directories and stores.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_storage_sqlite.h"

#define NOBODY 65534
#define EXIT_SKIP 77

/* ---- helpers ---- */

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

static void assert_child_ok(int status, const char *what)
{
	/* Never a silent pass: a root that cannot drop privileges proves nothing. */
	ck_assert_msg(status != EXIT_SKIP, "%s: cannot drop root privileges to test "
		"file permissions", what);
	ck_assert_msg(status == 0, "%s: child failed with status %d", what, status);
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

/* In the unprivileged child: creating a database where no file may be
 * created is refused as a permission problem, naming the directory. */
static int check_cannot_create(const char *path)
{
	cog_storage *s = NULL;
	int rc = cog_sqlite_storage_open(&s, path, NULL);
	CHILD_REQUIRE(rc == COG_EDENIED, "create in a read-only directory: %d", rc);
	CHILD_REQUIRE(strstr(cog_error_last(), "not writable") &&
		strstr(cog_error_last(), path), "message does not say why");
	CHILD_REQUIRE(access(path, F_OK) != 0, "a file was created anyway");
	return 0;
}

START_TEST(create_in_read_only_directory)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	tmp_path(dir, "no-create");
	ck_assert_int_eq(mkdir(dir, 0555), 0);
	snprintf(path, sizeof(path), "%s/new.db", dir);
	int status = run_unprivileged(check_cannot_create, path);
	chmod(dir, 0755);
	assert_child_ok(status, "create in a read-only directory");
}
END_TEST

/* Another application's SQLite file is refused and left byte for byte. */
START_TEST(foreign_database_is_left_alone)
{
	char path[PATH_MAX];
	tmp_path(path, "foreign.db");
	sqlite3 *db = NULL;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	raw_exec(db, "CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT);"
		"INSERT INTO accounts (name) VALUES ('alice');");
	sqlite3_close(db);
	size_t before_len, after_len;
	char *before = read_file(path, &before_len);
	cog_storage *s = NULL;
	ck_assert_int_eq(cog_sqlite_storage_open(&s, path, NULL), COG_EIO);
	ck_assert_ptr_null(s);
	assert_error_names("foreign database", "not a libcognition database");
	assert_error_names("foreign database", "accounts");
	char *after = read_file(path, &after_len);
	ck_assert_msg(before_len == after_len && memcmp(before, after, before_len) == 0,
		"the foreign database was modified");
	char wal[PATH_MAX + 8];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	ck_assert_msg(access(wal, F_OK) != 0, "a WAL file was created next to it");
	free(before);
	free(after);
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

void sqlite_add_open_tests(TCase *tc)
{
	tcase_add_test(tc, options_are_checked);
	tcase_add_test(tc, not_a_database_is_left_alone);
	tcase_add_test(tc, newer_schema_is_refused);
	tcase_add_test(tc, empty_file_is_migrated);
	tcase_add_test(tc, missing_file_without_create);
	tcase_add_test(tc, read_only_file);
	tcase_add_test(tc, read_only_directory);
	tcase_add_test(tc, read_only_option_on_writable_file);
	tcase_add_test(tc, create_in_read_only_directory);
	tcase_add_test(tc, foreign_database_is_left_alone);
}
