/*
 * Allocation-failure injection through the allocator hook: for every N,
 * fail the Nth allocation of a whole scenario (ctx, in-memory storage,
 * SQLite storage) and check that nothing crashes, the failing call returns
 * a status with a message, and no memory is left behind.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <cognition.h>
#include <cognition/sqlite.h>

static atomic_long alloc_count;   /* allocations so far in this run */
static atomic_long fail_at;       /* 0: never fail */
static atomic_long live;          /* blocks currently allocated */
static atomic_int failed_once;

/* A size header lets free() keep the live count exact. */
#define HEADER 16

static void *test_malloc(size_t size, void *ud)
{
	long n = atomic_fetch_add(&alloc_count, 1) + 1;
	if (atomic_load(&fail_at) && n == atomic_load(&fail_at)) {
		atomic_store(&failed_once, 1);
		return NULL;
	}
	char *p = malloc(size + HEADER);
	if (!p)
		return NULL;
	atomic_fetch_add(&live, 1);
	return p + HEADER;
}

static void *test_realloc(void *ptr, size_t size, void *ud)
{
	if (!ptr)
		return test_malloc(size, ud);
	long n = atomic_fetch_add(&alloc_count, 1) + 1;
	if (atomic_load(&fail_at) && n == atomic_load(&fail_at)) {
		atomic_store(&failed_once, 1);
		return NULL;
	}
	char *p = realloc((char *)ptr - HEADER, size + HEADER);
	return p ? p + HEADER : NULL;
}

static void test_free(void *ptr, void *ud)
{
	if (ptr) {
		atomic_fetch_sub(&live, 1);
		free((char *)ptr - HEADER);
	}
}

static int check_failure(int rc, const char *what)
{
	if (rc == 0)
		return 0;
	ck_assert_msg(rc < 0, "%s returned %d", what, rc);
	ck_assert_msg(cog_error_last_code() == rc && strcmp(cog_error_last(), "no error") != 0,
		"%s failed (%d) without a message of its own (last: %d %s)", what, rc,
		cog_error_last_code(), cog_error_last());
	return rc;
}

static void log_sink(int level, const char *line, void *ud)
{
	(void)level;
	(void)line;
	(void)ud;
}

/* Each step starts with no error recorded, so a failure must set its own. */
#define STEP(call) do { cog_error_clear(); \
	if (check_failure((call), #call)) goto out; } while (0)

static int count_doc(const char *k, const char *v, size_t n, int64_t e, void *ud)
{
	(*(int *)ud)++;
	return 0;
}

static int count_rec(uint64_t seq, const char *r, size_t n, void *ud)
{
	(*(int *)ud)++;
	return 0;
}

/* Everything a host does with a context and in-memory storage. */
static void scenario_ctx(void)
{
	cog_ctx_options options = COG_CTX_OPTIONS_INIT;
	options.log_fn = log_sink;
	cog_ctx *ctx = NULL;
	cog_storage *s = NULL;
	char *json = NULL;
	int count = 0;

	STEP(cog_ctx_new(&ctx, &options));
	STEP(cog_storage_memory_new(&s));
	cog_ctx_set_storage(ctx, s);
	STEP(cog_storage_put(s, "c", "a", "{\"x\":[1,2,3]}", 0));
	STEP(cog_storage_put(s, "c", "b", "\"two\"", 0));
	STEP(cog_storage_get(s, "c", "a", &json));
	STEP(cog_storage_append(s, "log", "{\"e\":1}", NULL));
	STEP(cog_storage_begin(s));
	cog_error_clear();
	if (check_failure(cog_storage_put(s, "c", "a", "1", 0), "put in txn") ||
	    check_failure(cog_storage_delete(s, "c", "b"), "delete in txn") ||
	    check_failure(cog_storage_append(s, "log", "2", NULL), "append in txn")) {
		cog_storage_rollback(s);
		goto out;
	}
	STEP(cog_storage_commit(s));
	STEP(cog_storage_scan(s, "c", "", count_doc, &count));
	STEP(cog_storage_read(s, "log", 0, 0, count_rec, &count));
	STEP(cog_storage_truncate(s, "log", 2));
	cog_free(json);
	json = NULL;
	STEP(cog_ctx_describe(ctx, &json));
	STEP(cog_ctx_log(ctx, COG_LOG_INFO, "token=abc", "{\"password\":\"x\",\"n\":1}"));
out:
	cog_free(json);
	cog_ctx_free(ctx);
}

static char db_path[256];

static void scenario_sqlite(void)
{
	cog_storage *s = NULL;
	char *json = NULL;
	int count = 0;

	unlink(db_path);
	STEP(cog_sqlite_storage_open(&s, db_path, NULL));
	STEP(cog_storage_put(s, "c", "a", "{\"x\":[1,2,3]}", 0));
	STEP(cog_storage_get(s, "c", "a", &json));
	STEP(cog_storage_append(s, "log", "{\"e\":1}", NULL));
	STEP(cog_storage_begin(s));
	cog_error_clear();
	if (check_failure(cog_storage_put(s, "c", "b", "2", 0), "put in txn")) {
		cog_storage_rollback(s);
		goto out;
	}
	STEP(cog_storage_rollback(s));
	STEP(cog_storage_scan(s, "c", "", count_doc, &count));
	STEP(cog_storage_read(s, "log", 0, 0, count_rec, &count));
	cog_free(json);
	json = NULL;
	STEP(cog_storage_describe(s, &json));
out:
	cog_free(json);
	cog_storage_free(s);
}

/* Run the scenario failing allocation 1, 2, 3, ... until a run completes
 * without reaching the failure point. */
static void inject(void (*scenario)(void), const char *name)
{
	atomic_store(&fail_at, 0);
	scenario(); /* warm-up: one-time global allocations happen here */
	long baseline = atomic_load(&live);
	long runs = 0;
	for (long n = 1;; n++) {
		atomic_store(&alloc_count, 0);
		atomic_store(&failed_once, 0);
		atomic_store(&fail_at, n);
		scenario();
		atomic_store(&fail_at, 0);
		ck_assert_msg(atomic_load(&live) == baseline,
			"%s: failing allocation %ld leaked %ld blocks", name, n,
			atomic_load(&live) - baseline);
		runs++;
		if (!atomic_load(&failed_once))
			break;
	}
	ck_assert_msg(runs > 20, "%s: only %ld allocation points: is the hook used?",
		name, runs);
	printf("%s: %ld allocation points injected\n", name, runs - 1);
}

START_TEST(ctx_and_memory_storage)
{
	inject(scenario_ctx, "ctx+memory");
}
END_TEST

START_TEST(sqlite_storage)
{
	snprintf(db_path, sizeof(db_path), "/tmp/cog-allocfail-%d.db", (int)getpid());
	inject(scenario_sqlite, "sqlite");
	unlink(db_path);
	char side[300];
	snprintf(side, sizeof(side), "%s-wal", db_path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", db_path);
	unlink(side);
}
END_TEST

int main(void)
{
	cog_allocator a = { COG_ALLOCATOR_VERSION, test_malloc, test_realloc, test_free, NULL };
	if (cog_set_allocator(&a) != 0) {
		fprintf(stderr, "cog_set_allocator: %s\n", cog_error_last());
		return 1;
	}
	/* Too late once the library has allocated. */
	void *p = cog_malloc(1);
	cog_free(p);
	if (cog_set_allocator(NULL) != COG_EBUSY) {
		fprintf(stderr, "cog_set_allocator after use did not fail with COG_EBUSY\n");
		return 1;
	}
	Suite *s = suite_create("unit/alloc-fail");
	TCase *tc = tcase_create("inject");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, ctx_and_memory_storage);
	tcase_add_test(tc, sqlite_storage);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
