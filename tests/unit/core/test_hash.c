/*
 * Unit tests for lib/core/hash.c. /work/shared/data/vectors/crypto.json has
 * no BLAKE2b entries, so the vectors are RFC 7693 appendix A ("abc",
 * BLAKE2b-512) and the keyed known-answer tests of the BLAKE2 reference
 * package (blake2b-kat.txt: key 00..3f, input 00..n-1); the others were
 * computed with Python's hashlib.blake2b, an independent implementation.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "core_int.h"

static size_t hex_to_bytes(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex) / 2;
	ck_assert_uint_le(n, cap);
	for (size_t i = 0; i < n; i++) {
		unsigned int v;
		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

static void check_digest(const uint8_t *digest, size_t len, const char *expected_hex)
{
	char hex[129];
	ck_assert_uint_le(len, 64);
	cog_hex_encode(digest, len, hex);
	ck_assert_str_eq(hex, expected_hex);
}

START_TEST(test_rfc7693_abc)
{
	uint8_t out[64];
	ck_assert_int_eq(cog_hash_blake2b(out, 64, "abc", 3, NULL, 0), COG_OK);
	check_digest(out, 64,
		"ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
		"7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
}
END_TEST

/* blake2b-kat.txt: key = 00 01 .. 3f, in = 00 01 .. (len-1), 64-byte out. */
static const struct {
	size_t in_len;
	const char *hash;
} kat[] = {
	{ 0, "10ebb67700b1868efb4417987acf4690ae9d972fb7a590c2f02871799aaa4786"
	     "b5e996e8f0f4eb981fc214b005f42d2ff4233499391653df7aefcbc13fc51568" },
	{ 1, "961f6dd1e4dd30f63901690c512e78e4b45e4742ed197c3c5e45c549fd25f2e4"
	     "187b0bc9fe30492b16b0d0bc4ef9b0f34c7003fac09a5ef1532e69430234cebd" },
	{ 255, "142709d62e28fcccd0af97fad0f8465b971e82201dc51070faa0372aa43e9248"
	       "4be1c1e73ba10906d5d1853db6a4106e0a7bf9800d373d6dee2d46d62ef2a461" },
};

START_TEST(test_keyed_kat)
{
	uint8_t key[64], in[256], out[64];
	for (int i = 0; i < 64; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	ck_assert_int_eq(cog_hash_blake2b(out, 64, in, kat[_i].in_len, key, 64), COG_OK);
	check_digest(out, 64, kat[_i].hash);
}
END_TEST

START_TEST(test_short_outputs_and_keys)
{
	uint8_t out[64], key[16];
	/* Unkeyed, 32-byte output (COG_HASH_BYTES), empty input; data may be
	 * NULL when len is 0. */
	ck_assert_int_eq(cog_hash_blake2b(out, COG_HASH_BYTES, NULL, 0, NULL, 0), COG_OK);
	check_digest(out, 32,
		"0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
	ck_assert_int_eq(cog_hash_blake2b(out, COG_HASH_BYTES, "", 0, NULL, 0), COG_OK);
	check_digest(out, 32,
		"0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");

	/* Smallest output with the smallest key. */
	hex_to_bytes("000102030405060708090a0b0c0d0e0f", key, sizeof(key));
	const char *fox = "The quick brown fox jumps over the lazy dog";
	ck_assert_int_eq(cog_hash_blake2b(out, 16, fox, strlen(fox), key, 16), COG_OK);
	check_digest(out, 16, "fb80e606c7e3d993cbf7117a60f630a0");
}
END_TEST

START_TEST(test_key_changes_digest)
{
	uint8_t key[32], a[32], b[32];
	memset(key, 0x11, sizeof(key));
	ck_assert_int_eq(cog_hash_blake2b(a, 32, "data", 4, key, 32), COG_OK);
	key[31] ^= 1;
	ck_assert_int_eq(cog_hash_blake2b(b, 32, "data", 4, key, 32), COG_OK);
	ck_assert(memcmp(a, b, 32) != 0);
	ck_assert_int_eq(cog_hash_blake2b(b, 32, "data", 4, NULL, 0), COG_OK);
	ck_assert(memcmp(a, b, 32) != 0);
}
END_TEST

static void expect_einval(int rc, const char *needle)
{
	ck_assert_int_eq(rc, COG_EINVAL);
	ck_assert_int_eq(cog_error_last_code(), COG_EINVAL);
	ck_assert_msg(strstr(cog_error_last(), "cog_hash_blake2b") != NULL,
		"message: %s", cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), needle) != NULL,
		"message \"%s\" lacks \"%s\"", cog_error_last(), needle);
}

START_TEST(test_invalid_arguments)
{
	uint8_t out[65], key[65];
	memset(key, 7, sizeof(key));
	expect_einval(cog_hash_blake2b(out, 15, "x", 1, NULL, 0), "out_len must be 16..64, got 15");
	expect_einval(cog_hash_blake2b(out, 65, "x", 1, NULL, 0), "out_len must be 16..64, got 65");
	expect_einval(cog_hash_blake2b(out, 0, "x", 1, NULL, 0), "got 0");
	expect_einval(cog_hash_blake2b(out, 32, "x", 1, key, 15), "key_len must be 16..64, got 15");
	expect_einval(cog_hash_blake2b(out, 32, "x", 1, key, 65), "key_len must be 16..64, got 65");
	expect_einval(cog_hash_blake2b(out, 32, "x", 1, key, 0), "key_len must be 16..64, got 0");
	expect_einval(cog_hash_blake2b(out, 32, "x", 1, NULL, 32), "key is NULL but key_len is 32");
	expect_einval(cog_hash_blake2b(NULL, 32, "x", 1, NULL, 0), "out is NULL");
	expect_einval(cog_hash_blake2b(out, 32, NULL, 1, NULL, 0), "data is NULL");

	/* The bounds themselves are accepted. */
	ck_assert_int_eq(cog_hash_blake2b(out, 16, "x", 1, key, 16), COG_OK);
	ck_assert_int_eq(cog_hash_blake2b(out, 64, "x", 1, key, 64), COG_OK);
}
END_TEST

START_TEST(test_hex_encode)
{
	static const uint8_t bytes[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	char out[13];
	memset(out, 'X', sizeof(out));
	cog_hex_encode(bytes, sizeof(bytes), out);
	ck_assert_str_eq(out, "00017f80abff");

	char empty[1] = { 'X' };
	cog_hex_encode(bytes, 0, empty);
	ck_assert_str_eq(empty, "");
}
END_TEST

static Suite *hash_suite(void)
{
	Suite *s = suite_create("hash");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_rfc7693_abc);
	tcase_add_loop_test(tc, test_keyed_kat, 0, (int)COG_ARRAY_LEN(kat));
	tcase_add_test(tc, test_short_outputs_and_keys);
	tcase_add_test(tc, test_key_changes_digest);
	tcase_add_test(tc, test_invalid_arguments);
	tcase_add_test(tc, test_hex_encode);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hash_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures != 0;
}
