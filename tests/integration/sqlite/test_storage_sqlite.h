/*
 * Shared by the test_storage_sqlite*.c sources: helpers defined in
 * test_storage_sqlite.c (temporary files, opening stores, raw SQLite) and
 * the functions that add each source's cases to the "sqlite" test case.
 */
#ifndef TEST_STORAGE_SQLITE_H
#define TEST_STORAGE_SQLITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <check.h>
#include <sqlite3.h>

#include <cognition/sqlite.h>

extern bool forking;   /* Check runs each test in a fresh process */

/* A path under the temporary directory; each test uses its own names. */
const char *tmp_path(char *buf, const char *name);
bool exists(const char *path);
bool exists_suffix(const char *path, const char *suffix);
int64_t now_ms(void);

cog_storage *open_store(const char *path, int durability);
void must_put(cog_storage *s, const char *coll, const char *key,
              const char *json);
/* expect NULL: the document must be absent. */
void assert_doc(cog_storage *s, const char *coll, const char *key,
                const char *expect);
uint64_t must_append(cog_storage *s, const char *log, const char *json);
void assert_error_names(const char *what, const char *needle);
/* Scan and read callbacks that count into an int. */
int count_docs(const char *key, const char *value, size_t len,
               int64_t expires_at, void *ud);
int count_records(uint64_t seq, const char *record, size_t len, void *ud);

/* Raw SQLite on a file, to see what is really in it (or to make one). */
sqlite3 *raw_open_flags(const char *path, int flags);
sqlite3 *raw_open(const char *path);
/* First column of the first row as text, into buf. */
const char *raw_text(sqlite3 *db, const char *sql, char *buf, size_t cap);
long raw_int(sqlite3 *db, const char *sql);

/* Checks inside a child process, where ck_assert must not be used. */
#define CHILD_REQUIRE(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__); \
		fprintf(stderr, " [%s]\n", cog_error_last()); \
		return 1; \
	} \
} while (0)

/* Each adds its source's cases to the "storage/sqlite" test case, in order. */
void sqlite_add_open_tests(TCase *tc);         /* test_storage_sqlite_open.c */
void sqlite_add_concurrency_tests(TCase *tc);  /* test_storage_sqlite_concurrency.c */
void sqlite_add_data_tests(TCase *tc);         /* test_storage_sqlite_data.c */

#endif /* TEST_STORAGE_SQLITE_H */
