/* Unit tests for lib/core/breaker.c, with explicit time throughout. */
#include <check.h>
#include <stdatomic.h>
#include <string.h>

#include "core_int.h"

#define MS 1000000ull
#define COOLDOWN (500 * MS)
#define T0 (1000 * MS)

static cog_breaker b;

static void open_breaker(uint64_t now)
{
	for (int i = 0; i < 3; i++)
		cog_breaker_failure(&b, now);
	ck_assert_int_eq(cog_breaker_state_at(&b, now), COG_BREAKER_OPEN);
}

static void setup(void)
{
	ck_assert_int_eq(cog_breaker_init(&b, 3, COOLDOWN), COG_OK);
}

static void teardown(void)
{
	cog_breaker_dispose(&b);
}

START_TEST(test_init_validation)
{
	cog_breaker other;
	ck_assert_int_eq(cog_breaker_init(NULL, 3, COOLDOWN), COG_EINVAL);
	ck_assert_int_eq(cog_breaker_init(&other, 0, COOLDOWN), COG_EINVAL);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "failure_threshold"));
	ck_assert_int_eq(cog_breaker_init(&other, 1, 0), COG_OK);
	cog_breaker_dispose(&other);
}
END_TEST

START_TEST(test_closed_until_threshold)
{
	ck_assert_int_eq(cog_breaker_state_at(&b, T0), COG_BREAKER_CLOSED);
	ck_assert_int_eq(cog_breaker_allow(&b, T0), COG_OK);
	cog_breaker_failure(&b, T0);
	cog_breaker_failure(&b, T0);
	ck_assert_int_eq(cog_breaker_state_at(&b, T0), COG_BREAKER_CLOSED);
	/* A success breaks the run: failures must be consecutive. */
	cog_breaker_success(&b);
	cog_breaker_failure(&b, T0);
	cog_breaker_failure(&b, T0);
	ck_assert_int_eq(cog_breaker_state_at(&b, T0), COG_BREAKER_CLOSED);
	ck_assert_int_eq(cog_breaker_allow(&b, T0), COG_OK);
	cog_breaker_failure(&b, T0 + 1);
	ck_assert_int_eq(cog_breaker_state_at(&b, T0 + 1), COG_BREAKER_OPEN);
}
END_TEST

START_TEST(test_open_refuses_until_cooldown)
{
	open_breaker(T0);
	cog_error_clear();
	ck_assert_int_eq(cog_breaker_allow(&b, T0), COG_EUNAVAILABLE);
	ck_assert_int_eq(cog_error_last_code(), COG_EUNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "open"));
	ck_assert_int_eq(cog_breaker_allow(&b, T0 + COOLDOWN - 1), COG_EUNAVAILABLE);
	ck_assert_int_eq(cog_breaker_state_at(&b, T0 + COOLDOWN - 1), COG_BREAKER_OPEN);
	ck_assert_int_eq(cog_breaker_state_at(&b, T0 + COOLDOWN), COG_BREAKER_HALF_OPEN);
}
END_TEST

START_TEST(test_half_open_probe_success_closes)
{
	open_breaker(T0);
	uint64_t t = T0 + COOLDOWN;
	ck_assert_int_eq(cog_breaker_allow(&b, t), COG_OK);            /* the probe */
	ck_assert_int_eq(cog_breaker_allow(&b, t), COG_EUNAVAILABLE);  /* only one */
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "probe"));
	ck_assert_int_eq(cog_breaker_allow(&b, t + 10 * MS), COG_EUNAVAILABLE);
	ck_assert_int_eq(cog_breaker_state_at(&b, t), COG_BREAKER_HALF_OPEN);
	cog_breaker_success(&b);
	ck_assert_int_eq(cog_breaker_state_at(&b, t), COG_BREAKER_CLOSED);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(cog_breaker_allow(&b, t), COG_OK);
	/* Closed again with a clean count: it takes three new failures. */
	cog_breaker_failure(&b, t);
	cog_breaker_failure(&b, t);
	ck_assert_int_eq(cog_breaker_state_at(&b, t), COG_BREAKER_CLOSED);
	cog_breaker_failure(&b, t);
	ck_assert_int_eq(cog_breaker_state_at(&b, t), COG_BREAKER_OPEN);
}
END_TEST

START_TEST(test_half_open_probe_failure_reopens)
{
	open_breaker(T0);
	uint64_t probe = T0 + COOLDOWN + 7 * MS;
	ck_assert_int_eq(cog_breaker_allow(&b, probe), COG_OK);
	uint64_t failed = probe + 3 * MS;
	cog_breaker_failure(&b, failed);
	/* One failure is enough while half-open, and the cool-down starts
	 * over from the failure. */
	ck_assert_int_eq(cog_breaker_state_at(&b, failed), COG_BREAKER_OPEN);
	ck_assert_int_eq(cog_breaker_allow(&b, failed + COOLDOWN - 1), COG_EUNAVAILABLE);
	ck_assert_int_eq(cog_breaker_state_at(&b, failed + COOLDOWN - 1), COG_BREAKER_OPEN);
	ck_assert_int_eq(cog_breaker_allow(&b, failed + COOLDOWN), COG_OK);
	ck_assert_int_eq(cog_breaker_state_at(&b, failed + COOLDOWN), COG_BREAKER_HALF_OPEN);
	cog_breaker_success(&b);
	ck_assert_int_eq(cog_breaker_state_at(&b, failed + COOLDOWN), COG_BREAKER_CLOSED);
}
END_TEST

START_TEST(test_stale_results_ignored)
{
	open_breaker(T0);
	/* Results of calls let through before the breaker opened. */
	cog_breaker_success(&b);
	ck_assert_int_eq(cog_breaker_state_at(&b, T0 + 1), COG_BREAKER_OPEN);
	cog_breaker_failure(&b, T0 + 100 * MS);
	/* The late failure did not push the cool-down back. */
	ck_assert_int_eq(cog_breaker_state_at(&b, T0 + COOLDOWN), COG_BREAKER_HALF_OPEN);
	/* Half-open, no probe out yet: still stale. */
	cog_breaker_success(&b);
	ck_assert_int_eq(cog_breaker_state_at(&b, T0 + COOLDOWN), COG_BREAKER_HALF_OPEN);
	cog_breaker_failure(&b, T0 + COOLDOWN);
	ck_assert_int_eq(cog_breaker_state_at(&b, T0 + COOLDOWN), COG_BREAKER_HALF_OPEN);
	ck_assert_int_eq(cog_breaker_allow(&b, T0 + COOLDOWN), COG_OK);
}
END_TEST

START_TEST(test_lost_probe_replaced)
{
	open_breaker(T0);
	uint64_t probe = T0 + COOLDOWN;
	ck_assert_int_eq(cog_breaker_allow(&b, probe), COG_OK);
	/* The probe's caller never reports back. After a whole cool-down a
	 * new probe may go, so the breaker is not stuck half-open. */
	ck_assert_int_eq(cog_breaker_allow(&b, probe + COOLDOWN - 1), COG_EUNAVAILABLE);
	ck_assert_int_eq(cog_breaker_allow(&b, probe + COOLDOWN), COG_OK);
	ck_assert_int_eq(cog_breaker_allow(&b, probe + COOLDOWN), COG_EUNAVAILABLE);
}
END_TEST

START_TEST(test_clock_reading_older_than_open)
{
	/* Another thread read the clock before the breaker opened. */
	open_breaker(T0);
	ck_assert_int_eq(cog_breaker_allow(&b, T0 - 1), COG_EUNAVAILABLE);
	ck_assert_int_eq(cog_breaker_state_at(&b, T0 - 1), COG_BREAKER_OPEN);
}
END_TEST

START_TEST(test_zero_cooldown)
{
	cog_breaker z;
	ck_assert_int_eq(cog_breaker_init(&z, 1, 0), COG_OK);
	cog_breaker_failure(&z, T0);
	ck_assert_int_eq(cog_breaker_state_at(&z, T0), COG_BREAKER_HALF_OPEN);
	ck_assert_int_eq(cog_breaker_allow(&z, T0), COG_OK);
	cog_breaker_success(&z);
	ck_assert_int_eq(cog_breaker_state_at(&z, T0), COG_BREAKER_CLOSED);
	cog_breaker_dispose(&z);
}
END_TEST

#define NTHREADS 8
#define ROUNDS 200

static pthread_barrier_t start_line;
static atomic_uint admitted[ROUNDS];

static void *contend(void *arg)
{
	for (unsigned int r = 0; r < ROUNDS; r++) {
		pthread_barrier_wait(&start_line);
		/* Everyone asks at the same instant, the end of the cool-down. */
		uint64_t now = T0 + (r + 1) * COOLDOWN;
		if (cog_breaker_allow(&b, now) == COG_OK) {
			atomic_fetch_add(&admitted[r], 1);
			/* The probe fails: open again from `now` for the next
			 * round. */
			cog_breaker_failure(&b, now);
		}
		pthread_barrier_wait(&start_line);
	}
	return NULL;
}

START_TEST(test_single_probe_under_contention)
{
	pthread_t threads[NTHREADS];
	open_breaker(T0);
	ck_assert_int_eq(pthread_barrier_init(&start_line, NULL, NTHREADS), 0);
	for (int r = 0; r < ROUNDS; r++)
		atomic_store(&admitted[r], 0);
	for (int i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_create(&threads[i], NULL, contend, NULL), 0);
	for (int i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
	pthread_barrier_destroy(&start_line);
	for (int r = 0; r < ROUNDS; r++)
		ck_assert_msg(atomic_load(&admitted[r]) == 1,
			"round %d admitted %u probes", r, atomic_load(&admitted[r]));
}
END_TEST

static void *fail_many(void *arg)
{
	unsigned int n = *(const unsigned int *)arg;
	for (unsigned int i = 0; i < n; i++)
		cog_breaker_failure(&b, T0);
	return NULL;
}

START_TEST(test_concurrent_failure_count)
{
	/* 4 x 249 failures stay under a threshold of 1000; 4 more reach it.
	 * A lost update in the counter would leave it closed. */
	pthread_t threads[4];
	unsigned int n = 249;
	cog_breaker_dispose(&b);
	ck_assert_int_eq(cog_breaker_init(&b, 1000, COOLDOWN), COG_OK);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&threads[i], NULL, fail_many, &n), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
	ck_assert_int_eq(cog_breaker_state_at(&b, T0), COG_BREAKER_CLOSED);
	for (int i = 0; i < 3; i++)
		cog_breaker_failure(&b, T0);
	ck_assert_int_eq(cog_breaker_state_at(&b, T0), COG_BREAKER_CLOSED);
	cog_breaker_failure(&b, T0);
	ck_assert_int_eq(cog_breaker_state_at(&b, T0), COG_BREAKER_OPEN);
}
END_TEST

START_TEST(test_null_arguments)
{
	ck_assert_int_eq(cog_breaker_allow(NULL, T0), COG_EINVAL);
	cog_breaker_success(NULL);
	cog_breaker_failure(NULL, T0);
	cog_breaker_dispose(NULL);
}
END_TEST

static Suite *breaker_suite(void)
{
	Suite *s = suite_create("breaker");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_init_validation);
	tcase_add_test(tc, test_closed_until_threshold);
	tcase_add_test(tc, test_open_refuses_until_cooldown);
	tcase_add_test(tc, test_half_open_probe_success_closes);
	tcase_add_test(tc, test_half_open_probe_failure_reopens);
	tcase_add_test(tc, test_stale_results_ignored);
	tcase_add_test(tc, test_lost_probe_replaced);
	tcase_add_test(tc, test_clock_reading_older_than_open);
	tcase_add_test(tc, test_zero_cooldown);
	tcase_add_test(tc, test_single_probe_under_contention);
	tcase_add_test(tc, test_concurrent_failure_count);
	tcase_add_test(tc, test_null_arguments);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(breaker_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures != 0;
}
