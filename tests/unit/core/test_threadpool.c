/* Unit tests for lib/core/threadpool.c. */
#include <check.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"

#define MANY_JOBS 10000

/* A function rather than atomic_load() in assertions keeps the failure
 * messages readable (atomic_load expands to a statement expression). */
static int value_of(atomic_int *counter)
{
	return atomic_load(counter);
}

static atomic_int job_count;
static atomic_int runs[MANY_JOBS];

static void count_job(void *arg)
{
	int index = (int)(intptr_t)arg;
	atomic_fetch_add(&runs[index], 1);
	atomic_fetch_add(&job_count, 1);
}

START_TEST(test_thread_count_bounds)
{
	cog_pool *pool = (cog_pool *)&pool;   /* must be reset to NULL */
	ck_assert_int_eq(cog_pool_new(&pool, 0), COG_EINVAL);
	ck_assert_ptr_null(pool);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "threads must be 1..256, got 0"));
	ck_assert_int_eq(cog_pool_new(&pool, 257), COG_EINVAL);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "got 257"));
	ck_assert_int_eq(cog_pool_new(NULL, 4), COG_EINVAL);

	ck_assert_int_eq(cog_pool_new(&pool, 1), COG_OK);
	ck_assert_uint_eq(cog_pool_threads(pool), 1);
	cog_pool_free(pool);
	ck_assert_int_eq(cog_pool_new(&pool, 256), COG_OK);
	ck_assert_uint_eq(cog_pool_threads(pool), 256);
	cog_pool_free(pool);
}
END_TEST

START_TEST(test_every_job_runs_once)
{
	cog_pool *pool;
	ck_assert_int_eq(cog_pool_new(&pool, 4), COG_OK);
	ck_assert_uint_eq(cog_pool_threads(pool), 4);
	for (int i = 0; i < MANY_JOBS; i++)
		ck_assert_int_eq(cog_pool_submit(pool, count_job, (void *)(intptr_t)i), COG_OK);
	cog_pool_wait(pool);
	ck_assert_int_eq(value_of(&job_count), MANY_JOBS);
	for (int i = 0; i < MANY_JOBS; i++)
		ck_assert_msg(atomic_load(&runs[i]) == 1, "job %d ran %d times", i,
			atomic_load(&runs[i]));
	cog_pool_free(pool);
	ck_assert_int_eq(value_of(&job_count), MANY_JOBS);
}
END_TEST

static atomic_int started, finished;

static void slow_job(void *arg)
{
	atomic_fetch_add(&started, 1);
	cog_clock_sleep_ms(20);
	atomic_fetch_add(&finished, 1);
}

START_TEST(test_wait_covers_running_jobs)
{
	cog_pool *pool;
	ck_assert_int_eq(cog_pool_new(&pool, 4), COG_OK);
	cog_pool_wait(pool);   /* idle pool: returns at once */

	/* Once every job has been taken off the queue the queue is empty but
	 * jobs still run: wait() must not return until they finish. */
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(cog_pool_submit(pool, slow_job, NULL), COG_OK);
	cog_pool_wait(pool);
	ck_assert_int_eq(value_of(&finished), 4);

	/* Queue empty, all four jobs running: wait() must still block. */
	atomic_store(&started, 0);
	atomic_store(&finished, 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(cog_pool_submit(pool, slow_job, NULL), COG_OK);
	while (value_of(&started) < 4)
		sched_yield();
	cog_pool_wait(pool);
	ck_assert_int_eq(value_of(&finished), 4);

	/* More jobs than threads: some wait in the queue. */
	atomic_store(&started, 0);
	atomic_store(&finished, 0);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(cog_pool_submit(pool, slow_job, NULL), COG_OK);
	cog_pool_wait(pool);
	ck_assert_int_eq(value_of(&started), 10);
	ck_assert_int_eq(value_of(&finished), 10);
	cog_pool_free(pool);
}
END_TEST

static int order[1000];
static atomic_int order_len;

static void record_order(void *arg)
{
	order[atomic_fetch_add(&order_len, 1)] = (int)(intptr_t)arg;
}

START_TEST(test_fifo_order)
{
	cog_pool *pool;
	ck_assert_int_eq(cog_pool_new(&pool, 1), COG_OK);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(cog_pool_submit(pool, record_order, (void *)(intptr_t)i), COG_OK);
	cog_pool_wait(pool);
	ck_assert_int_eq(value_of(&order_len), 1000);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(order[i], i);
	cog_pool_free(pool);
}
END_TEST

/* A job that spawns two children until depth 10: 2^11 - 1 jobs. */
static cog_pool *tree_pool;
static atomic_int tree_jobs, tree_submit_errors;

static void tree_job(void *arg)
{
	int depth = (int)(intptr_t)arg;
	atomic_fetch_add(&tree_jobs, 1);
	if (depth == 10)
		return;
	/* Sleep a little so that parents are still running while children
	 * queue up: wait() must count both. */
	if (depth < 3)
		cog_clock_sleep_ms(5);
	for (int i = 0; i < 2; i++)
		if (cog_pool_submit(tree_pool, tree_job, (void *)(intptr_t)(depth + 1)) != COG_OK)
			atomic_fetch_add(&tree_submit_errors, 1);
}

START_TEST(test_jobs_submit_jobs)
{
	ck_assert_int_eq(cog_pool_new(&tree_pool, 4), COG_OK);
	ck_assert_int_eq(cog_pool_submit(tree_pool, tree_job, (void *)(intptr_t)0), COG_OK);
	cog_pool_wait(tree_pool);
	ck_assert_int_eq(value_of(&tree_submit_errors), 0);
	ck_assert_int_eq(value_of(&tree_jobs), 2047);
	cog_pool_free(tree_pool);
	ck_assert_int_eq(value_of(&tree_jobs), 2047);
}
END_TEST

START_TEST(test_free_runs_queued_jobs)
{
	cog_pool *pool;
	ck_assert_int_eq(cog_pool_new(&pool, 1), COG_OK);
	/* The slow job holds the only worker, so the rest stay queued when
	 * free() begins. */
	ck_assert_int_eq(cog_pool_submit(pool, slow_job, NULL), COG_OK);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(cog_pool_submit(pool, count_job, (void *)(intptr_t)i), COG_OK);
	cog_pool_free(pool);
	ck_assert_int_eq(value_of(&finished), 1);
	ck_assert_int_eq(value_of(&job_count), 100);
}
END_TEST

static cog_pool *shutdown_pool;
static atomic_bool free_called;
static atomic_int late_submit_rc;
static atomic_int late_submitted;

/* Runs while the main thread is in cog_pool_free(): keeps submitting until
 * the pool refuses. Jobs accepted before the shutdown flag was raised must
 * still run; after it, submits fail with COG_ECANCELED. */
static void submit_during_free(void *arg)
{
	while (!atomic_load(&free_called))
		cog_clock_sleep_ms(1);
	for (int i = 0; i < 10000; i++) {
		int rc = cog_pool_submit(shutdown_pool, count_job, NULL);
		if (rc != COG_OK) {
			atomic_store(&late_submit_rc, rc);
			return;
		}
		atomic_fetch_add(&late_submitted, 1);
		cog_clock_sleep_ms(1);
	}
}

START_TEST(test_submit_after_shutdown)
{
	ck_assert_int_eq(cog_pool_new(&shutdown_pool, 2), COG_OK);
	ck_assert_int_eq(cog_pool_submit(shutdown_pool, submit_during_free, NULL), COG_OK);
	atomic_store(&free_called, true);
	cog_pool_free(shutdown_pool);
	ck_assert_int_eq(value_of(&late_submit_rc), COG_ECANCELED);
	ck_assert_int_eq(value_of(&job_count), value_of(&late_submitted));
}
END_TEST

static atomic_int arrived;
static atomic_int met;

/* Each job waits (up to 10 s) until all four are running at once. */
static void rendezvous(void *arg)
{
	atomic_fetch_add(&arrived, 1);
	for (int i = 0; i < 10000 && atomic_load(&arrived) < 4; i++)
		cog_clock_sleep_ms(1);
	if (atomic_load(&arrived) >= 4)
		atomic_fetch_add(&met, 1);
}

START_TEST(test_jobs_run_in_parallel)
{
	cog_pool *pool;
	ck_assert_int_eq(cog_pool_new(&pool, 4), COG_OK);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(cog_pool_submit(pool, rendezvous, NULL), COG_OK);
	cog_pool_wait(pool);
	ck_assert_int_eq(value_of(&met), 4);
	cog_pool_free(pool);
}
END_TEST

START_TEST(test_null_arguments)
{
	cog_pool *pool;
	ck_assert_int_eq(cog_pool_submit(NULL, count_job, NULL), COG_EINVAL);
	ck_assert_int_eq(cog_pool_new(&pool, 2), COG_OK);
	ck_assert_int_eq(cog_pool_submit(pool, NULL, NULL), COG_EINVAL);
	ck_assert_uint_eq(cog_pool_threads(NULL), 0);
	cog_pool_wait(NULL);
	cog_pool_free(pool);
	cog_pool_free(NULL);
}
END_TEST

START_TEST(test_many_pools)
{
	/* Creating and freeing pools repeatedly leaks nothing and never
	 * hangs (workers that never got a job must still exit). */
	for (int i = 0; i < 50; i++) {
		cog_pool *pool;
		ck_assert_int_eq(cog_pool_new(&pool, 3), COG_OK);
		if (i % 2)
			ck_assert_int_eq(cog_pool_submit(pool, count_job, (void *)(intptr_t)i), COG_OK);
		cog_pool_free(pool);
	}
	ck_assert_int_eq(value_of(&job_count), 25);
}
END_TEST

/* Fresh counters for every test, also when Check does not fork
 * (CK_FORK=no, e.g. under valgrind). */
static void reset_counters(void)
{
	atomic_store(&job_count, 0);
	for (int i = 0; i < MANY_JOBS; i++)
		atomic_store(&runs[i], 0);
	atomic_store(&started, 0);
	atomic_store(&finished, 0);
	atomic_store(&order_len, 0);
	atomic_store(&tree_jobs, 0);
	atomic_store(&tree_submit_errors, 0);
	atomic_store(&free_called, false);
	atomic_store(&late_submit_rc, 1);
	atomic_store(&late_submitted, 0);
	atomic_store(&arrived, 0);
	atomic_store(&met, 0);
}

static Suite *threadpool_suite(void)
{
	Suite *s = suite_create("threadpool");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, reset_counters, NULL);
	tcase_add_test(tc, test_thread_count_bounds);
	tcase_add_test(tc, test_every_job_runs_once);
	tcase_add_test(tc, test_wait_covers_running_jobs);
	tcase_add_test(tc, test_fifo_order);
	tcase_add_test(tc, test_jobs_submit_jobs);
	tcase_add_test(tc, test_free_runs_queued_jobs);
	tcase_add_test(tc, test_submit_after_shutdown);
	tcase_add_test(tc, test_jobs_run_in_parallel);
	tcase_add_test(tc, test_null_arguments);
	tcase_add_test(tc, test_many_pools);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(threadpool_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures != 0;
}
