/* Unit tests for lib/core/backoff.c. */
#include <check.h>
#include <string.h>

#include "core_int.h"

/* min(cap, base * 2^attempt), computed the slow way: doubling step by step
 * and stopping at the cap, so it shares nothing with the shift logic. */
static uint64_t reference_ceiling(unsigned int attempt, uint64_t base, uint64_t cap)
{
	if (base >= cap)
		return cap;
	uint64_t c = base;
	for (unsigned int i = 0; i < attempt && c < cap; i++)
		c = c > cap / 2 ? cap : c * 2;
	return c;
}

static const uint32_t randoms[] = {
	0, 1, 2, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu,
	0x12345678u, 0x9abcdef0u,
};

START_TEST(test_bounds)
{
	static const uint64_t bases[] = { 0, 1, 3, 100, 1000, 1ull << 40, UINT64_MAX };
	static const uint64_t caps[] = { 0, 1, 50, 30000, 1ull << 50, UINT64_MAX };
	for (unsigned int attempt = 0; attempt < 200; attempt++) {
		for (size_t bi = 0; bi < COG_ARRAY_LEN(bases); bi++) {
			for (size_t ci = 0; ci < COG_ARRAY_LEN(caps); ci++) {
				uint64_t ceiling = reference_ceiling(attempt, bases[bi], caps[ci]);
				for (size_t ri = 0; ri < COG_ARRAY_LEN(randoms); ri++) {
					uint64_t d = cog_backoff_full_jitter(attempt, bases[bi],
						caps[ci], randoms[ri]);
					ck_assert_msg(d <= ceiling,
						"attempt %u base %llu cap %llu random %u: %llu > %llu",
						attempt, (unsigned long long)bases[bi],
						(unsigned long long)caps[ci], randoms[ri],
						(unsigned long long)d, (unsigned long long)ceiling);
				}
				/* Random 0 is the bottom of the window. */
				ck_assert_uint_eq(cog_backoff_full_jitter(attempt, bases[bi],
					caps[ci], 0), 0);
			}
		}
	}
}
END_TEST

START_TEST(test_window_edges)
{
	/* The window is [0, ceiling], both ends reachable. */
	ck_assert_uint_eq(cog_backoff_full_jitter(0, 100, 10000, 0xffffffffu), 100);
	ck_assert_uint_eq(cog_backoff_full_jitter(0, 100, 10000, 0x80000000u), 50);
	ck_assert_uint_eq(cog_backoff_full_jitter(3, 100, 10000, 0xffffffffu), 800);
	ck_assert_uint_eq(cog_backoff_full_jitter(3, 100, 10000, 0x80000000u), 400);
	/* Capped. */
	ck_assert_uint_eq(cog_backoff_full_jitter(7, 100, 10000, 0xffffffffu), 10000);
	ck_assert_uint_eq(cog_backoff_full_jitter(7, 100, 10000, 0x80000000u), 5000);
	/* Base above the cap. */
	ck_assert_uint_eq(cog_backoff_full_jitter(0, 500, 200, 0xffffffffu), 200);
	/* Nothing to wait for. */
	ck_assert_uint_eq(cog_backoff_full_jitter(5, 0, 10000, 0xffffffffu), 0);
	ck_assert_uint_eq(cog_backoff_full_jitter(5, 100, 0, 0xffffffffu), 0);
}
END_TEST

START_TEST(test_no_overflow_for_large_attempts)
{
	static const unsigned int attempts[] = { 62, 63, 64, 65, 100, 1000, 1u << 20, ~0u };
	for (size_t i = 0; i < COG_ARRAY_LEN(attempts); i++) {
		/* A wrapped shift would give a tiny or zero window. */
		ck_assert_uint_eq(cog_backoff_full_jitter(attempts[i], 100, 30000, 0xffffffffu), 30000);
		ck_assert_uint_eq(cog_backoff_full_jitter(attempts[i], 100, 30000, 0x80000000u), 15000);
		uint64_t d = cog_backoff_delay_ms(attempts[i], 100, 30000);
		ck_assert_uint_le(d, 30000);
	}
	/* With no cap to speak of, 2^63 still fits and 2^64 is the cap. */
	uint64_t d63 = cog_backoff_full_jitter(63, 1, UINT64_MAX, 0xffffffffu);
	ck_assert_uint_le(d63, 1ull << 63);
	ck_assert_uint_ge(d63, (1ull << 63) - (1ull << 32));
	uint64_t d1000 = cog_backoff_full_jitter(1000, 1, UINT64_MAX, 0xffffffffu);
	ck_assert_uint_ge(d1000, UINT64_MAX - (1ull << 32));
	ck_assert_uint_eq(cog_backoff_full_jitter(1000, UINT64_MAX, UINT64_MAX, 0), 0);
}
END_TEST

START_TEST(test_mapping_is_even)
{
	/* Sweep random over the whole 32-bit range in even steps: every
	 * delay in a small window must come up equally often (within one). */
	enum { CEILING = 9, STEP = 1 << 12 };
	unsigned int counts[CEILING + 1] = { 0 };
	for (uint64_t r = 0; r <= 0xffffffffu; r += STEP)
		counts[cog_backoff_full_jitter(0, CEILING, CEILING, (uint32_t)r)]++;
	unsigned int lo = counts[0], hi = counts[0];
	for (int i = 1; i <= CEILING; i++) {
		lo = counts[i] < lo ? counts[i] : lo;
		hi = counts[i] > hi ? counts[i] : hi;
	}
	ck_assert_uint_le(hi - lo, 1);
}
END_TEST

START_TEST(test_delay_distribution)
{
	/* attempt 3, base 10: window [0, 80]. 162000 samples give 2000 per
	 * value on average (sd about 44); a loose +-25% band only catches a
	 * broken mapping or a stuck generator. */
	enum { CEILING = 80, SAMPLES = 162000 };
	unsigned int counts[CEILING + 1] = { 0 };
	double sum = 0;
	for (int i = 0; i < SAMPLES; i++) {
		uint64_t d = cog_backoff_delay_ms(3, 10, 1000);
		ck_assert_uint_le(d, CEILING);
		counts[d]++;
		sum += (double)d;
	}
	double expected = (double)SAMPLES / (CEILING + 1);
	for (int i = 0; i <= CEILING; i++)
		ck_assert_msg(counts[i] > expected * 0.75 && counts[i] < expected * 1.25,
			"delay %d came up %u times, expected about %.0f", i, counts[i], expected);
	double mean = sum / SAMPLES;
	ck_assert_msg(mean > 39 && mean < 41, "mean %.3f, expected 40", mean);
}
END_TEST

START_TEST(test_delay_grows_with_attempts)
{
	/* The largest of many samples approaches the window's top. */
	for (unsigned int attempt = 0; attempt < 8; attempt++) {
		uint64_t top = 10ull << attempt, max = 0;
		for (int i = 0; i < 20000; i++) {
			uint64_t d = cog_backoff_delay_ms(attempt, 10, 100000);
			ck_assert_uint_le(d, top);
			max = d > max ? d : max;
		}
		ck_assert_uint_ge(max, top - top / 10);
	}
}
END_TEST

static Suite *backoff_suite(void)
{
	Suite *s = suite_create("backoff");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_bounds);
	tcase_add_test(tc, test_window_edges);
	tcase_add_test(tc, test_no_overflow_for_large_attempts);
	tcase_add_test(tc, test_mapping_is_even);
	tcase_add_test(tc, test_delay_distribution);
	tcase_add_test(tc, test_delay_grows_with_attempts);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(backoff_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures != 0;
}
