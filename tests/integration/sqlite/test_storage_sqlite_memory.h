/*
 * Shared by the test_storage_sqlite_memory*.c sources: helpers defined in
 * test_storage_sqlite_memory.c, and the functions that add each source's
 * cases.
 */
#ifndef TEST_STORAGE_SQLITE_MEMORY_H
#define TEST_STORAGE_SQLITE_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <check.h>
#include <sqlite3.h>

#include <cognition.h>
#include <cognition/sqlite.h>

/* A path in the test's temporary directory (buf: PATH_MAX). */
const char *tmp_path(char *buf, const char *name);
cog_storage *open_store(const char *path, int read_only);

/* A long-term memory in ns; put_try returns the status. */
int put_try(cog_storage *s, const char *ns, const char *text,
            const char *meta, int64_t expires_at, uint64_t *id);
uint64_t put(cog_storage *s, const char *ns, const char *text, const char *meta);

/* What a find returned (the first 64 records; n counts them all). */
typedef struct hits {
	size_t n;
	uint64_t id[64];
	double score[64];
	char ns[64][64];
} hits;

int collect(const cog_storage_memory_record *r, double score, void *ud);
/* Records of the namespaces matching `match` (NULL: all) and `filter`. */
hits search(cog_storage *s, const char *const *ns, size_t ns_count,
            const char *match, const char *filter);
hits search1(cog_storage *s, const char *ns, const char *match);

/* Raw SQLite on the same file. */
sqlite3 *raw_open(const char *path);
void raw_exec(sqlite3 *db, const char *sql);
long long raw_int(sqlite3 *db, const char *sql);
/* FTS5's integrity-check of the memories index against the rows. */
void assert_index_in_step(const char *path);

void sqlite_memory_add_search_tests(TCase *tc);  /* ..._memory_search.c */
void sqlite_memory_add_data_tests(TCase *tc);    /* ..._memory_data.c */

#endif
