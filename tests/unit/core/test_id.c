/* Unit tests for lib/core/id.c: time-ordered UUIDv7-style ids. */
#include <check.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"

#define MANY_IDS 100000
#define THREAD_IDS 20000
#define NTHREADS 4

START_TEST(test_ids_strictly_increasing)
{
	cog_id *ids = malloc(MANY_IDS * sizeof(*ids));
	ck_assert_ptr_nonnull(ids);
	for (size_t i = 0; i < MANY_IDS; i++)
		cog_id_new(&ids[i]);
	/* Strictly increasing also proves that they are all distinct. */
	for (size_t i = 1; i < MANY_IDS; i++) {
		if (cog_id_compare(&ids[i - 1], &ids[i]) >= 0) {
			char a[37], b[37];
			cog_id_to_uuid(&ids[i - 1], a);
			cog_id_to_uuid(&ids[i], b);
			ck_abort_msg("id %zu (%s) is not below id %zu (%s)",
				i - 1, a, i, b);
		}
		ck_assert_int_le(cog_id_time_ms(&ids[i - 1]), cog_id_time_ms(&ids[i]));
	}
	free(ids);
}
END_TEST

START_TEST(test_ids_share_milliseconds)
{
	/* 100k ids take far less than 100k ms, so the counter path (several
	 * ids inside one millisecond) must have been exercised. */
	cog_id prev, cur;
	cog_id_new(&prev);
	int same_ms = 0;
	for (int i = 0; i < 10000; i++) {
		cog_id_new(&cur);
		ck_assert_int_lt(cog_id_compare(&prev, &cur), 0);
		if (cog_id_time_ms(&prev) == cog_id_time_ms(&cur))
			same_ms++;
		prev = cur;
	}
	ck_assert_int_gt(same_ms, 0);
}
END_TEST

START_TEST(test_layout_bits)
{
	for (int i = 0; i < 1000; i++) {
		cog_id id;
		cog_id_new(&id);
		ck_assert_uint_eq(id.bytes[6] >> 4, 7);      /* version 7 */
		ck_assert_uint_eq(id.bytes[8] >> 6, 2);      /* variant 0b10 */
	}
}
END_TEST

START_TEST(test_time_field)
{
	for (int i = 0; i < 1000; i++) {
		int64_t before = cog_clock_realtime_ms();
		cog_id id;
		cog_id_new(&id);
		int64_t after = cog_clock_realtime_ms();
		ck_assert_int_ge(cog_id_time_ms(&id), before);
		ck_assert_int_le(cog_id_time_ms(&id), after);
	}
}
END_TEST

START_TEST(test_random_part_differs)
{
	/* Ids from different milliseconds start from fresh randomness, not
	 * from the previous counter. */
	cog_id a, b;
	cog_id_new(&a);
	cog_clock_sleep_ms(2);
	cog_id_new(&b);
	ck_assert_int_gt(cog_id_time_ms(&b), cog_id_time_ms(&a));
	ck_assert(memcmp(a.bytes + 8, b.bytes + 8, 8) != 0);
}
END_TEST

START_TEST(test_hex_and_uuid_forms)
{
	cog_id id;
	char hex[33], uuid[37];
	cog_id_new(&id);
	memset(hex, 'X', sizeof(hex));
	memset(uuid, 'X', sizeof(uuid));
	cog_id_to_hex(&id, hex);
	cog_id_to_uuid(&id, uuid);

	ck_assert_uint_eq(strlen(hex), 32);
	ck_assert_uint_eq(strlen(uuid), 36);
	for (int i = 0; i < 32; i++)
		ck_assert_msg(isxdigit((unsigned char)hex[i]) &&
			!isupper((unsigned char)hex[i]), "hex[%d] = '%c'", i, hex[i]);

	/* The UUID form is the hex form with dashes at 8, 13, 18, 23. */
	char undashed[33];
	int n = 0;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			ck_assert_int_eq(uuid[i], '-');
			continue;
		}
		undashed[n++] = uuid[i];
	}
	undashed[n] = '\0';
	ck_assert_str_eq(undashed, hex);
	ck_assert_int_eq(uuid[14], '7');   /* version digit */
}
END_TEST

START_TEST(test_known_value)
{
	static const uint8_t expected[16] = {
		0x01, 0x88, 0xd0, 0xa4, 0x12, 0x34, 0x7a, 0xbc,
		0x8d, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
	};
	cog_id id;
	char hex[33], uuid[37];
	ck_assert_int_eq(cog_id_parse(&id, "0188d0a4-1234-7abc-8def-0123456789ab"), COG_OK);
	ck_assert_mem_eq(id.bytes, expected, 16);
	ck_assert_int_eq(cog_id_time_ms(&id), (int64_t)0x0188d0a41234);
	cog_id_to_hex(&id, hex);
	cog_id_to_uuid(&id, uuid);
	ck_assert_str_eq(hex, "0188d0a412347abc8def0123456789ab");
	ck_assert_str_eq(uuid, "0188d0a4-1234-7abc-8def-0123456789ab");
}
END_TEST

START_TEST(test_parse_round_trip)
{
	for (int i = 0; i < 1000; i++) {
		cog_id id, from_hex, from_uuid;
		char hex[33], uuid[37];
		cog_id_new(&id);
		cog_id_to_hex(&id, hex);
		cog_id_to_uuid(&id, uuid);
		ck_assert_int_eq(cog_id_parse(&from_hex, hex), COG_OK);
		ck_assert_int_eq(cog_id_parse(&from_uuid, uuid), COG_OK);
		ck_assert_int_eq(cog_id_compare(&id, &from_hex), 0);
		ck_assert_int_eq(cog_id_compare(&id, &from_uuid), 0);
		ck_assert_mem_eq(id.bytes, from_uuid.bytes, 16);
	}
}
END_TEST

START_TEST(test_parse_uppercase)
{
	cog_id lower, upper;
	ck_assert_int_eq(cog_id_parse(&lower, "0188d0a412347abc8def0123456789ab"), COG_OK);
	ck_assert_int_eq(cog_id_parse(&upper, "0188D0A4-1234-7ABC-8DEF-0123456789AB"), COG_OK);
	ck_assert_int_eq(cog_id_compare(&lower, &upper), 0);
}
END_TEST

/* Each bad input with a piece of text the error message must contain. */
static const struct {
	const char *text;
	const char *message;
} bad_inputs[] = {
	{ "", "got 0 characters" },
	{ "0188d0a412347abc8def0123456789a", "got 31 characters" },
	{ "0188d0a412347abc8def0123456789abc", "got 33 characters" },
	{ "0188d0a4-1234-7abc-8def-0123456789a", "got 35 characters" },
	{ "0188d0a4-1234-7abc-8def-0123456789abc", "more than 36" },
	{ "0188d0a4-1234-7abc-8def-0123456789ab0188d0a4", "more than 36" },
	{ "0188d0a412347abc8def0123456789ag", "hex digit at offset 31, got 'g'" },
	{ "g188d0a412347abc8def0123456789ab", "hex digit at offset 0" },
	{ "0188d0a4-1234-7abc-8def-0123456789aZ", "hex digit at offset 35" },
	{ "0188d0a41-234-7abc-8def-0123456789ab", "'-' at offset 8" },
	{ "0188d0a4-12347-abc-8def-0123456789ab", "'-' at offset 13" },
	{ "0188d0a4-1234-7abc-8def0-123456789ab", "'-' at offset 23" },
	{ "0188d0a4_1234_7abc_8def_0123456789ab", "'-' at offset 8" },
	{ "0188d0a4-1234-7abc-8def-0123456789-b", "hex digit at offset 34" },
	{ "0188d0a4-1234-7abc8def-0123456789ab", "got 35 characters" },
	{ "0188d0a412347abc8def-0123456789a", "hex digit at offset 20" },
	{ " 188d0a412347abc8def0123456789ab", "hex digit at offset 0" },
	{ "0188d0a412347abc8def0123456789a\n", "byte 0x0a" },
	{ "0x88d0a412347abc8def0123456789ab", "hex digit at offset 1" },
	{ "0188d0a4-1234-7abc-8def-0123456789ab ", "more than 36" },
};

START_TEST(test_parse_rejects)
{
	const char *text = bad_inputs[_i].text;
	cog_id id, before;
	memset(&id, 0x5a, sizeof(id));
	before = id;
	cog_error_clear();
	int rc = cog_id_parse(&id, text);
	ck_assert_msg(rc == COG_EINVAL, "\"%s\" gave %d", text, rc);
	ck_assert_int_eq(cog_error_last_code(), COG_EINVAL);
	ck_assert_msg(strstr(cog_error_last(), "cog_id_parse") != NULL,
		"message: %s", cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), bad_inputs[_i].message) != NULL,
		"\"%s\": message \"%s\" lacks \"%s\"", text, cog_error_last(),
		bad_inputs[_i].message);
	ck_assert_mem_eq(id.bytes, before.bytes, 16);   /* untouched */
}
END_TEST

START_TEST(test_parse_null)
{
	cog_id id;
	ck_assert_int_eq(cog_id_parse(NULL, "0188d0a412347abc8def0123456789ab"), COG_EINVAL);
	ck_assert_int_eq(cog_id_parse(&id, NULL), COG_EINVAL);
}
END_TEST

START_TEST(test_compare)
{
	cog_id a, b;
	ck_assert_int_eq(cog_id_parse(&a, "00000000000000000000000000000001"), COG_OK);
	ck_assert_int_eq(cog_id_parse(&b, "00000000000000000000000000000002"), COG_OK);
	ck_assert_int_eq(cog_id_compare(&a, &b), -1);
	ck_assert_int_eq(cog_id_compare(&b, &a), 1);
	ck_assert_int_eq(cog_id_compare(&a, &a), 0);
	/* The first byte dominates, unsigned. */
	ck_assert_int_eq(cog_id_parse(&a, "ff000000000000000000000000000000"), COG_OK);
	ck_assert_int_eq(cog_id_parse(&b, "7fffffffffffffffffffffffffffffff"), COG_OK);
	ck_assert_int_eq(cog_id_compare(&a, &b), 1);
	ck_assert_int_eq(cog_id_time_ms(&a), (int64_t)0xff0000000000);
}
END_TEST

struct thread_ids {
	pthread_t thread;
	cog_id ids[THREAD_IDS];
};

static void *make_ids(void *arg)
{
	struct thread_ids *t = arg;
	for (int i = 0; i < THREAD_IDS; i++)
		cog_id_new(&t->ids[i]);
	return NULL;
}

static int compare_ids(const void *a, const void *b)
{
	return cog_id_compare(a, b);
}

START_TEST(test_threads_unique_and_ordered)
{
	struct thread_ids *t = calloc(NTHREADS, sizeof(*t));
	ck_assert_ptr_nonnull(t);
	for (int i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i].thread, NULL, make_ids, &t[i]), 0);
	for (int i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_join(t[i].thread, NULL), 0);

	cog_id *all = malloc(NTHREADS * THREAD_IDS * sizeof(*all));
	ck_assert_ptr_nonnull(all);
	for (int i = 0; i < NTHREADS; i++) {
		for (int j = 0; j < THREAD_IDS; j++) {
			if (j > 0)
				ck_assert_int_lt(cog_id_compare(&t[i].ids[j - 1], &t[i].ids[j]), 0);
			all[i * THREAD_IDS + j] = t[i].ids[j];
		}
	}
	qsort(all, NTHREADS * THREAD_IDS, sizeof(*all), compare_ids);
	for (int i = 1; i < NTHREADS * THREAD_IDS; i++)
		ck_assert_int_ne(cog_id_compare(&all[i - 1], &all[i]), 0);
	free(all);
	free(t);
}
END_TEST

static Suite *id_suite(void)
{
	Suite *s = suite_create("id");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_ids_strictly_increasing);
	tcase_add_test(tc, test_ids_share_milliseconds);
	tcase_add_test(tc, test_layout_bits);
	tcase_add_test(tc, test_time_field);
	tcase_add_test(tc, test_random_part_differs);
	tcase_add_test(tc, test_hex_and_uuid_forms);
	tcase_add_test(tc, test_known_value);
	tcase_add_test(tc, test_parse_round_trip);
	tcase_add_test(tc, test_parse_uppercase);
	tcase_add_loop_test(tc, test_parse_rejects, 0, (int)COG_ARRAY_LEN(bad_inputs));
	tcase_add_test(tc, test_parse_null);
	tcase_add_test(tc, test_compare);
	tcase_add_test(tc, test_threads_unique_and_ordered);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(id_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures != 0;
}
