/*
 * Out-of-memory tests through the allocator hook (alloc_fail.c): a counting
 * allocator that, while armed on the test's thread, fails the n-th
 * allocation of one chosen size, and a driver that fails every such
 * allocation of a scenario in turn and checks that nothing leaked.
 *
 * The hook must go in before the library's first use: the test case runs
 * in a fresh process (CK_FORK=yes, Check's default) in a TCase without a
 * fixture that touches the library. Public API only.
 */
#ifndef ALLOC_FAIL_H
#define ALLOC_FAIL_H

#include <stddef.h>

#include <check.h>

/* Add to s a TCase "out of memory" of this one test: no fixture (the
 * allocator goes in before the library's first use), a long timeout. */
void alloc_fail_add_tcase(Suite *s, const TTest *test);

/* Install the hook with cog_set_allocator(), or fail the test. */
void alloc_fail_install(void);

/* Count (and maybe fail) allocations of the chosen size made on this
 * thread between these two calls. A scenario may arm more than once. */
void alloc_fail_arm(void);
void alloc_fail_disarm(void);

/* The status rc of an armed call that makes out: a success made it (not
 * NULL); a failure made nothing and set a message of its own (the test
 * clears the last error before the call). fail_at is for the message. */
void alloc_fail_check(int rc, const void *out, long fail_at);

/* One run of a scenario: make what it needs, arm, do the work, disarm,
 * check the status (a failure must say why), free everything. fail_at is
 * the allocation being failed (0: none), for messages. */
typedef void (*alloc_fail_run_fn)(long fail_at, void *user_data);

/*
 * Run the scenario twice without failing anything (the first run makes
 * the library's one-time allocations), then once for each allocation of
 * `size` bytes the second run armed, failing that one. After each run the
 * live blocks must be what they were after the warm-up, or the test fails
 * naming the allocation that leaked. Returns the number of allocations
 * failed in turn; *failed (may be NULL) gets how many runs really reached
 * the allocation they were to fail.
 */
long alloc_fail_each(size_t size, alloc_fail_run_fn run, void *user_data, long *failed);

#endif
