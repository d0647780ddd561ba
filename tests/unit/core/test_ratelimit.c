/* Unit tests for lib/core/ratelimit.c, with explicit time throughout. */
#include <check.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "core_int.h"

#define SEC 1000000000ull
#define T0 (5 * SEC)   /* an arbitrary starting point */

START_TEST(test_init_validation)
{
	cog_ratelimit rl;
	ck_assert_int_eq(cog_ratelimit_init(NULL, 1, 1), COG_EINVAL);
	ck_assert_int_eq(cog_ratelimit_init(&rl, 0, 1), COG_EINVAL);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "rate"));
	ck_assert_int_eq(cog_ratelimit_init(&rl, -1, 1), COG_EINVAL);
	ck_assert_int_eq(cog_ratelimit_init(&rl, NAN, 1), COG_EINVAL);
	ck_assert_int_eq(cog_ratelimit_init(&rl, INFINITY, 1), COG_EINVAL);
	ck_assert_int_eq(cog_ratelimit_init(&rl, 1, 0.5), COG_EINVAL);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "burst"));
	ck_assert_int_eq(cog_ratelimit_init(&rl, 1, 0), COG_EINVAL);
	ck_assert_int_eq(cog_ratelimit_init(&rl, 1, NAN), COG_EINVAL);
	ck_assert_int_eq(cog_ratelimit_init(&rl, 1, INFINITY), COG_EINVAL);

	ck_assert_int_eq(cog_ratelimit_init(&rl, 0.001, 1), COG_OK);
	cog_ratelimit_dispose(&rl);
}
END_TEST

START_TEST(test_starts_full)
{
	cog_ratelimit rl;
	uint64_t wait = 12345;
	ck_assert_int_eq(cog_ratelimit_init(&rl, 1, 5), COG_OK);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(cog_ratelimit_take(&rl, 1, T0, &wait), COG_OK);
		ck_assert_uint_eq(wait, 0);
	}
	ck_assert_int_eq(cog_ratelimit_take(&rl, 1, T0, &wait), COG_EBUSY);
	ck_assert_uint_eq(wait, SEC);
	ck_assert_int_eq(cog_error_last_code(), COG_EBUSY);
	cog_ratelimit_dispose(&rl);
}
END_TEST

START_TEST(test_refill)
{
	cog_ratelimit rl;
	uint64_t wait;
	ck_assert_int_eq(cog_ratelimit_init(&rl, 10, 1), COG_OK);   /* one per 100 ms */
	ck_assert_int_eq(cog_ratelimit_take(&rl, 1, T0, &wait), COG_OK);
	ck_assert_int_eq(cog_ratelimit_take(&rl, 1, T0, &wait), COG_EBUSY);
	ck_assert_uint_eq(wait, 100000000);
	ck_assert_int_eq(cog_ratelimit_take(&rl, 1, T0 + 50000000, &wait), COG_EBUSY);
	ck_assert_uint_eq(wait, 50000000);   /* half a token is already back */
	ck_assert_int_eq(cog_ratelimit_take(&rl, 1, T0 + 100000000, &wait), COG_OK);
	ck_assert_int_eq(cog_ratelimit_take(&rl, 1, T0 + 100000000, &wait), COG_EBUSY);
	ck_assert_uint_eq(wait, 100000000);
	cog_ratelimit_dispose(&rl);
}
END_TEST

START_TEST(test_fractional_cost)
{
	cog_ratelimit rl;
	uint64_t wait;
	ck_assert_int_eq(cog_ratelimit_init(&rl, 1, 1), COG_OK);
	ck_assert_int_eq(cog_ratelimit_take(&rl, 0.5, T0, &wait), COG_OK);
	ck_assert_int_eq(cog_ratelimit_take(&rl, 0.5, T0, &wait), COG_OK);
	ck_assert_int_eq(cog_ratelimit_take(&rl, 0.25, T0, &wait), COG_EBUSY);
	ck_assert_uint_eq(wait, 250000000);
	ck_assert_int_eq(cog_ratelimit_take(&rl, 0, T0, &wait), COG_OK);   /* free */
	cog_ratelimit_dispose(&rl);
}
END_TEST

/* Drain a fresh limiter at T0, then ask for `cost` at T0 + dt. */
static int take_after_drain(double rate, double burst, double cost,
                            uint64_t dt, uint64_t *wait)
{
	cog_ratelimit rl;
	ck_assert_int_eq(cog_ratelimit_init(&rl, rate, burst), COG_OK);
	ck_assert_int_eq(cog_ratelimit_take(&rl, burst, T0, NULL), COG_OK);
	int rc = cog_ratelimit_take(&rl, cost, T0 + dt, wait);
	cog_ratelimit_dispose(&rl);
	return rc;
}

START_TEST(test_wait_is_exact)
{
	/* For each case, the promised wait must be enough and one nanosecond
	 * less must not be. Rates chosen so that the divisions do not come
	 * out even; with 34/7 and 1.7 the plain ceil(cost / rate) is one
	 * nanosecond short in double arithmetic, with 1.4 and 0.7 one
	 * nanosecond long. */
	static const double rates[] = {
		3, 7.5, 0.1, 1000, 1e6, 0.37, 123.456, 1e9 / 7, 34.0 / 7, 1.4,
		0.35, 300.0 / 7,
	};
	static const double costs[] = { 1, 0.3, 2, 1.7, 0.7, 1.4, 0.9 };
	for (size_t r = 0; r < COG_ARRAY_LEN(rates); r++) {
		for (size_t c = 0; c < COG_ARRAY_LEN(costs); c++) {
			uint64_t wait, ignored;
			double rate = rates[r], cost = costs[c];
			ck_assert_int_eq(take_after_drain(rate, 2, cost, 0, &wait), COG_EBUSY);
			double ideal = cost * 1e9 / rate;
			ck_assert_msg(fabs((double)wait - ideal) <= 1.0 + ideal * 1e-12,
				"rate %g cost %g: wait %llu, expected about %.1f",
				rate, cost, (unsigned long long)wait, ideal);
			ck_assert_msg(take_after_drain(rate, 2, cost, wait, &ignored) == COG_OK,
				"rate %g cost %g: not granted after the promised %llu ns",
				rate, cost, (unsigned long long)wait);
			ck_assert_msg(take_after_drain(rate, 2, cost, wait - 1, &ignored) == COG_EBUSY,
				"rate %g cost %g: granted before the promised %llu ns",
				rate, cost, (unsigned long long)wait);
		}
	}
}
END_TEST

START_TEST(test_burst_cap)
{
	cog_ratelimit rl;
	uint64_t wait;
	ck_assert_int_eq(cog_ratelimit_init(&rl, 100, 3), COG_OK);
	ck_assert_int_eq(cog_ratelimit_take(&rl, 3, T0, &wait), COG_OK);
	/* Ten idle seconds earn 1000 tokens, but the bucket holds 3. */
	uint64_t later = T0 + 10 * SEC;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(cog_ratelimit_take(&rl, 1, later, &wait), COG_OK);
	ck_assert_int_eq(cog_ratelimit_take(&rl, 1, later, &wait), COG_EBUSY);
	ck_assert_uint_eq(wait, 10000000);
	cog_ratelimit_dispose(&rl);
}
END_TEST

START_TEST(test_cost_validation)
{
	cog_ratelimit rl;
	uint64_t wait = 7;
	ck_assert_int_eq(cog_ratelimit_init(&rl, 1, 4), COG_OK);
	ck_assert_int_eq(cog_ratelimit_take(&rl, 4.5, T0, &wait), COG_ERANGE);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "exceeds the burst"));
	ck_assert_int_eq(cog_ratelimit_take(&rl, -1, T0, &wait), COG_EINVAL);
	ck_assert_int_eq(cog_ratelimit_take(&rl, NAN, T0, &wait), COG_EINVAL);
	ck_assert_int_eq(cog_ratelimit_take(&rl, INFINITY, T0, &wait), COG_EINVAL);
	ck_assert_int_eq(cog_ratelimit_take(NULL, 1, T0, &wait), COG_EINVAL);
	/* None of that consumed anything: the whole burst is still there. */
	ck_assert_int_eq(cog_ratelimit_take(&rl, 4, T0, NULL), COG_OK);
	ck_assert_int_eq(cog_ratelimit_take(&rl, 1, T0, NULL), COG_EBUSY);
	cog_ratelimit_dispose(&rl);
}
END_TEST

START_TEST(test_time_going_back)
{
	cog_ratelimit rl;
	uint64_t wait;
	ck_assert_int_eq(cog_ratelimit_init(&rl, 1, 1), COG_OK);
	ck_assert_int_eq(cog_ratelimit_take(&rl, 1, T0 + 10 * SEC, &wait), COG_OK);
	/* An older reading (another thread read the clock earlier) must not
	 * refill, nor move the bucket's clock back. */
	ck_assert_int_eq(cog_ratelimit_take(&rl, 1, T0, &wait), COG_EBUSY);
	ck_assert_uint_eq(wait, SEC);
	ck_assert_int_eq(cog_ratelimit_take(&rl, 1, T0 + 10 * SEC + SEC - 1, &wait), COG_EBUSY);
	ck_assert_uint_eq(wait, 1);
	ck_assert_int_eq(cog_ratelimit_take(&rl, 1, T0 + 11 * SEC, &wait), COG_OK);
	cog_ratelimit_dispose(&rl);
}
END_TEST

START_TEST(test_tiny_rate_huge_wait)
{
	cog_ratelimit rl;
	uint64_t wait;
	/* One token per ~31700 years, a million of them: the wait is far
	 * past 2^64 ns and must saturate, not wrap. */
	ck_assert_int_eq(cog_ratelimit_init(&rl, 1e-12, 1e6), COG_OK);
	ck_assert_int_eq(cog_ratelimit_take(&rl, 1e6, T0, &wait), COG_OK);
	ck_assert_int_eq(cog_ratelimit_take(&rl, 1e6, T0, &wait), COG_EBUSY);
	ck_assert_uint_eq(wait, UINT64_MAX);
	cog_ratelimit_dispose(&rl);
}
END_TEST

#define NTHREADS 4
#define TAKES_PER_THREAD 20000
#define TICK_NS 10000ull   /* each take advances the shared clock 10 us */

static cog_ratelimit shared_rl;
static atomic_ullong shared_clock;
static atomic_uint granted;
static atomic_int bad_rc;

static void *taker(void *arg)
{
	for (int i = 0; i < TAKES_PER_THREAD; i++) {
		uint64_t now = atomic_fetch_add(&shared_clock, TICK_NS);
		uint64_t wait;
		int rc = cog_ratelimit_take(&shared_rl, 1, now, &wait);
		if (rc == COG_OK)
			atomic_fetch_add(&granted, 1);
		else if (rc != COG_EBUSY || wait == 0 || wait > 1000000)
			atomic_fetch_add(&bad_rc, 1);
	}
	return NULL;
}

START_TEST(test_concurrent_never_over_grants)
{
	/* 1000 tokens/s, burst 10, 80000 takes over 0.8 s of clock: at most
	 * 10 + 800 grants; the shared clock hands every thread fresh times,
	 * so close to that many must be granted too. */
	pthread_t threads[NTHREADS];
	ck_assert_int_eq(cog_ratelimit_init(&shared_rl, 1000, 10), COG_OK);
	atomic_store(&shared_clock, 0);
	atomic_store(&granted, 0);
	atomic_store(&bad_rc, 0);
	for (int i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_create(&threads[i], NULL, taker, NULL), 0);
	for (int i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_join(threads[i], NULL), 0);

	uint64_t last_now = atomic_load(&shared_clock) - TICK_NS;
	double limit = 10 + 1000.0 * (double)last_now / 1e9;
	unsigned int n = atomic_load(&granted);
	ck_assert_msg(n <= (unsigned int)floor(limit + 1e-9),
		"granted %u, limit %.3f", n, limit);
	ck_assert_msg(n >= (unsigned int)(limit * 0.95),
		"granted only %u of %.3f", n, limit);
	ck_assert_int_eq(atomic_load(&bad_rc), 0);
	cog_ratelimit_dispose(&shared_rl);
}
END_TEST

static Suite *ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_init_validation);
	tcase_add_test(tc, test_starts_full);
	tcase_add_test(tc, test_refill);
	tcase_add_test(tc, test_fractional_cost);
	tcase_add_test(tc, test_wait_is_exact);
	tcase_add_test(tc, test_burst_cap);
	tcase_add_test(tc, test_cost_validation);
	tcase_add_test(tc, test_time_going_back);
	tcase_add_test(tc, test_tiny_rate_huge_wait);
	tcase_add_test(tc, test_concurrent_never_over_grants);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ratelimit_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures != 0;
}
