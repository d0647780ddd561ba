/*
 * The counting allocator of alloc_fail.h. Each block carries a header so
 * that free() can keep the count of live blocks exact; the header is 16
 * bytes to keep malloc's alignment.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include <cognition.h>

#include "alloc_fail.h"

#define HEADER 16

static _Thread_local bool armed;
static size_t fail_size;
static long seen, failing;
static bool failed_now;
static atomic_long live;

static void *counting_malloc(size_t size, void *ud)
{
	(void)ud;
	if (armed && size == fail_size && ++seen == failing) {
		failed_now = true;
		return NULL;
	}
	char *p = malloc(size + HEADER);
	if (!p)
		return NULL;
	atomic_fetch_add(&live, 1);
	return p + HEADER;
}

static void *counting_realloc(void *ptr, size_t size, void *ud)
{
	if (!ptr)
		return counting_malloc(size, ud);
	char *p = realloc((char *)ptr - HEADER, size + HEADER);
	return p ? p + HEADER : NULL;
}

static void counting_free(void *ptr, void *ud)
{
	(void)ud;
	if (ptr) {
		atomic_fetch_sub(&live, 1);
		free((char *)ptr - HEADER);
	}
}

void alloc_fail_add_tcase(Suite *s, const TTest *test)
{
	TCase *tc = tcase_create("out of memory");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

void alloc_fail_install(void)
{
	cog_allocator a = COG_ALLOCATOR_INIT;
	a.malloc = counting_malloc;
	a.realloc = counting_realloc;
	a.free = counting_free;
	ck_assert_msg(cog_set_allocator(&a) == 0, "the allocator hook needs a fresh process "
		"(CK_FORK=yes): %s", cog_error_last());
}

void alloc_fail_arm(void)
{
	armed = true;
}

void alloc_fail_disarm(void)
{
	armed = false;
}

void alloc_fail_check(int rc, const void *out, long fail_at)
{
	ck_assert_msg(rc == 0 ? out != NULL : out == NULL && strcmp(cog_error_last(),
		"no error") != 0, "failing %zu-byte allocation %ld: status %d without a "
		"message", fail_size, fail_at, rc);
}

static void run_once(long n, alloc_fail_run_fn run, void *user_data)
{
	seen = 0;
	failing = n;
	failed_now = false;
	run(n, user_data);
}

long alloc_fail_each(size_t size, alloc_fail_run_fn run, void *user_data, long *failed)
{
	fail_size = size;
	run_once(0, run, user_data);      /* warm-up: one-time allocations */
	run_once(0, run, user_data);
	long points = seen, baseline = atomic_load(&live), reached = 0;
	for (long n = 1; n <= points; n++) {
		run_once(n, run, user_data);
		reached += failed_now;
		ck_assert_msg(atomic_load(&live) == baseline, "failing %zu-byte allocation "
			"%ld of %ld leaked %ld blocks", size, n, points,
			atomic_load(&live) - baseline);
	}
	if (failed)
		*failed = reached;
	return points;
}
