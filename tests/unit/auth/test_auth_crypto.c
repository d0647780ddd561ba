/*
 * The auth module's cryptography (lib/auth/b64.c, password.c, jwk.c,
 * jws.c): strict base64url, secret tokens and their hashes, argon2id
 * (the PHC reference hash) here; the RFC 8032 Ed25519 vectors through our
 * JWK parsing, the RFC 8037 and RFC 7515 JWS vectors (signatures
 * reproduced exactly, every one-bit change refused) and algorithm
 * confusion in auth_crypto_jws.c. The vectors are read at run time from
 * crypto.json (COG_VECTORS).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <sodium.h>

#include "auth_crypto_test.h"


cJSON *vectors(void)
{
	FILE *f = fopen(COG_VECTORS, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", COG_VECTORS);
	static char text[1 << 16];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	cJSON *v = cJSON_Parse(text);
	ck_assert_msg(v != NULL, "%s is not JSON", COG_VECTORS);
	return v;
}

const char *vstr(const cJSON *o, const char *name)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, name);
	ck_assert_msg(cJSON_IsString(s), "vector member %s missing", name);
	return s->valuestring;
}

size_t unhex(const char *hex, unsigned char *out, size_t cap)
{
	size_t n = 0;
	ck_assert_int_eq(sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &n, NULL), 0);
	return n;
}

char *b64(const void *data, size_t len)
{
	char *s = auth_b64url_encode(data, len);
	ck_assert_ptr_nonnull(s);
	return s;
}

unsigned char *unb64(const char *s, size_t len, size_t *out_len)
{
	unsigned char *out = NULL;
	ck_assert_cog(auth_b64url_decode(s, len, "test", &out, out_len));
	return out;
}

/* ---- base64url ---- */

START_TEST(b64_encodes_rfc4648)
{
	static const char *const in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const want[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE",
		"Zm9vYmFy" };
	for (size_t i = 0; i < 7; i++) {
		char *s = b64(in[i], strlen(in[i]));
		ck_assert_str_eq(s, want[i]);
		size_t n;
		unsigned char *back = unb64(s, strlen(s), &n);
		ck_assert_uint_eq(n, strlen(in[i]));
		ck_assert_int_eq(memcmp(back, in[i], n), 0);
		ck_assert_int_eq(back[n], 0);
		cog_free(back);
		cog_free(s);
	}
	static const unsigned char url[] = { 0xfb, 0xff, 0xbf };
	char *s = b64(url, sizeof(url));
	ck_assert_str_eq(s, "-_-_");
	cog_free(s);
}
END_TEST

START_TEST(b64_decode_is_strict)
{
	static const char *const bad[] = { "Zg==", "Zm9v\n", " Zm9v", "Zm 9v", "+/8", "Z",
		"Zh", "Zm9", "Zm8=", "Zm9vYmFy!" };
	static const char *const why[] = { "padding", "0x0a", "0x20", "0x20", "not base64url",
		"lone", "canonical", "canonical", "padding", "0x21" };
	for (size_t i = 0; i < COG_ARRAY_LEN(bad); i++) {
		unsigned char *out = (unsigned char *)"x";
		size_t n = 7;
		int rc = auth_b64url_decode(bad[i], strlen(bad[i]), "field", &out, &n);
		ck_assert_msg(rc == COG_EINVAL, "'%s' accepted", bad[i]);
		ck_assert_ptr_null(out);
		ck_assert_msg(strstr(cog_error_last(), why[i]) && strstr(cog_error_last(), "field"),
			"'%s': %s", bad[i], cog_error_last());
	}
	/* Embedded NUL within the length. */
	unsigned char *out = NULL;
	ck_assert_int_eq(auth_b64url_decode("Zm\0v", 4, "f", &out, NULL), COG_EINVAL);
	/* Only len bytes are read. */
	size_t n;
	out = unb64("Zm9vXXXX", 4, &n);
	ck_assert_str_eq((char *)out, "foo");
	cog_free(out);
}
END_TEST

START_TEST(random_tokens_and_hashes)
{
	char *a = auth_random_token("cogr_", 32), *b = auth_random_token("cogr_", 32);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(strlen(a), 5 + 43);
	ck_assert_int_eq(strncmp(a, "cogr_", 5), 0);
	ck_assert_str_ne(a, b);
	size_t n;
	unsigned char *raw = unb64(a + 5, strlen(a) - 5, &n);
	ck_assert_uint_eq(n, 32);
	cog_free(raw);
	char ha[AUTH_HASH_HEX], ha2[AUTH_HASH_HEX], hb[AUTH_HASH_HEX];
	auth_secret_hash(a, ha);
	auth_secret_hash(a, ha2);
	auth_secret_hash(b, hb);
	ck_assert_uint_eq(strlen(ha), 64);
	ck_assert_str_eq(ha, ha2);
	ck_assert_str_ne(ha, hb);
	uint8_t d[32];
	char hex[65];
	ck_assert_cog(cog_hash_blake2b(d, 32, a, strlen(a), NULL, 0));
	cog_hex_encode(d, 32, hex);
	ck_assert_str_eq(ha, hex);
	cog_free(a);
	cog_free(b);
}
END_TEST

/* ---- passwords ---- */

START_TEST(password_reference_hash)
{
	cJSON *v = vectors();
	const cJSON *ref = cJSON_GetObjectItem(v, "argon2id_phc_reference");
	const char *hash = vstr(ref, "encoded"), *pw = vstr(ref, "password");
	ck_assert_cog(cog_password_verify(hash, pw));
	ck_assert_int_eq(cog_password_verify(hash, "passwore"), COG_EDENIED);
	ck_assert_int_eq(cog_password_verify(hash, "Password"), COG_EDENIED);
	ck_assert_int_eq(cog_password_verify(hash, ""), COG_EDENIED);
	/* m=64 MiB, t=2 are libsodium's INTERACTIVE limits. */
	ck_assert_int_eq(cog_password_needs_rehash(hash, 0, 0), 0);
	ck_assert_int_eq(cog_password_needs_rehash(hash, 3, 0), 1);
	ck_assert_int_eq(cog_password_needs_rehash(hash, 2, 32u << 20), 1);
	/* p=2 cannot be verified by libsodium: refused as unusable. */
	char p2[200];
	snprintf(p2, sizeof(p2), "%s", hash);
	char *p = strstr(p2, ",p=1$");
	ck_assert_ptr_nonnull(p);
	p[3] = '2';
	ck_assert_int_eq(cog_password_verify(p2, pw), COG_EINVAL);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "p=2"));
	/* A broken tag is a mismatch; a broken string is not a hash. */
	snprintf(p2, sizeof(p2), "%s", hash);
	p2[strlen(p2) - 2] = p2[strlen(p2) - 2] == 'P' ? 'Q' : 'P';
	ck_assert_int_eq(cog_password_verify(p2, pw), COG_EDENIED);
	ck_assert_int_eq(cog_password_verify("$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$x", pw),
		COG_EINVAL);
	ck_assert_int_eq(cog_password_verify("$argon2id$v=19$m=65536,t=2", pw), COG_EINVAL);
	ck_assert_int_eq(cog_password_verify(NULL, pw), COG_EINVAL);
	ck_assert_int_eq(cog_password_needs_rehash("nope", 0, 0), COG_EINVAL);
	cJSON_Delete(v);
}
END_TEST

START_TEST(password_hash_round_trip)
{
	char *h = NULL, *h2 = NULL;
	ck_assert_cog(cog_password_hash("correct horse", 1, 8192, &h));
	ck_assert_int_eq(strncmp(h, "$argon2id$v=19$m=8,t=1,p=1$", 27), 0);
	ck_assert_cog(cog_password_hash("correct horse", 1, 8192, &h2));
	ck_assert_str_ne(h, h2);   /* salted */
	ck_assert_cog(cog_password_verify(h, "correct horse"));
	ck_assert_cog(cog_password_verify(h2, "correct horse"));
	ck_assert_int_eq(cog_password_verify(h, "correct horsE"), COG_EDENIED);
	ck_assert_int_eq(cog_password_verify(h, "correct hors"), COG_EDENIED);
	ck_assert_int_eq(cog_password_needs_rehash(h, 1, 8192), 0);
	ck_assert_int_eq(cog_password_needs_rehash(h, 2, 8192), 1);
	ck_assert_int_eq(cog_password_needs_rehash(h, 0, 0), 1);
	cog_free(h);
	cog_free(h2);
	h = (char *)"x";
	ck_assert_int_eq(cog_password_hash("", 1, 8192, &h), COG_EINVAL);
	ck_assert_ptr_null(h);
	char *big = malloc(4098);
	memset(big, 'a', 4097);
	big[4097] = '\0';
	ck_assert_int_eq(cog_password_hash(big, 1, 8192, &h), COG_EINVAL);
	big[4096] = '\0';
	ck_assert_cog(cog_password_hash(big, 1, 8192, &h));
	ck_assert_cog(cog_password_verify(h, big));
	cog_free(h);
	free(big);
	ck_assert_int_eq(cog_password_hash("pw", 0, 1024, &h), COG_EINVAL);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "memlimit"));
	ck_assert_int_eq(cog_password_hash("pw", 1ULL << 40, 8192, &h), COG_EINVAL);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "opslimit"));
}
END_TEST

static Suite *crypto_suite(void)
{
	Suite *s = suite_create("auth-crypto");
	TCase *tc = tcase_create("b64");
	tcase_add_test(tc, b64_encodes_rfc4648);
	tcase_add_test(tc, b64_decode_is_strict);
	tcase_add_test(tc, random_tokens_and_hashes);
	suite_add_tcase(s, tc);
	tc = tcase_create("password");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, password_reference_hash);
	tcase_add_test(tc, password_hash_round_trip);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, crypto_jws_tcase());
	return s;
}

int main(void)
{
	if (cog_global_init() != 0 || sodium_init() < 0)
		return EXIT_FAILURE;
	SRunner *sr = srunner_create(crypto_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
