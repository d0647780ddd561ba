/*
 * The signature half of unit/auth-crypto: the RFC 8032 Ed25519 vectors
 * through our JWK parsing, the RFC 8037 (EdDSA) and RFC 7515 A.1 (HS256)
 * JWS vectors (signatures reproduced exactly, every one-bit change of
 * header, payload and signature refused), algorithm confusion, and the
 * keys and inputs cog_jws_sign / cog_jws_verify refuse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <sodium.h>

#include "auth_crypto_test.h"

/* ---- RFC 8032 through JWK parsing ---- */

static cJSON *okp_jwk(const unsigned char *seed, const unsigned char *pub)
{
	cJSON *j = cJSON_CreateObject();
	char *d = seed ? b64(seed, 32) : NULL, *x = b64(pub, 32);
	cJSON_AddStringToObject(j, "kty", "OKP");
	cJSON_AddStringToObject(j, "crv", "Ed25519");
	if (d)
		cJSON_AddStringToObject(j, "d", d);
	cJSON_AddStringToObject(j, "x", x);
	cog_free(d);
	cog_free(x);
	return j;
}

START_TEST(ed25519_rfc8032)
{
	cJSON *v = vectors();
	const cJSON *t;
	unsigned char first_seed[32];
	int i = 0;
	cJSON_ArrayForEach(t, cJSON_GetObjectItem(v, "ed25519_rfc8032_7_1")) {
		unsigned char seed[32], pub[32], msg[8], want[64], sig[64];
		ck_assert_uint_eq(unhex(vstr(t, "secret_key_seed_hex"), seed, 32), 32);
		ck_assert_uint_eq(unhex(vstr(t, "public_key_hex"), pub, 32), 32);
		size_t mlen = unhex(vstr(t, "message_hex"), msg, sizeof(msg));
		ck_assert_uint_eq(unhex(vstr(t, "signature_hex"), want, 64), 64);
		cJSON *jwk = okp_jwk(seed, pub);
		auth_key k;
		ck_assert_cog(auth_jwk_parse(jwk, &k, "vector"));
		ck_assert(k.can_sign);
		ck_assert_int_eq(k.alg, AUTH_ALG_EDDSA);
		crypto_sign_detached(sig, NULL, msg, mlen, k.sk);
		ck_assert_msg(memcmp(sig, want, 64) == 0, "%s: signature differs", vstr(t, "name"));
		ck_assert_int_eq(crypto_sign_verify_detached(want, msg, mlen, k.pub), 0);
		/* Export and parse again: the same key. */
		cJSON *back = auth_jwk_export(&k, true);
		auth_key k2;
		ck_assert_cog(auth_jwk_parse(back, &k2, "export"));
		ck_assert_int_eq(memcmp(k.sk, k2.sk, 64), 0);
		cJSON_Delete(back);
		back = auth_jwk_export(&k, false);
		ck_assert_ptr_null(cJSON_GetObjectItem(back, "d"));
		cJSON_Delete(back);
		auth_key_dispose(&k2);
		auth_key_dispose(&k);
		cJSON_Delete(jwk);
		if (i == 0)
			memcpy(first_seed, seed, 32);
		else {
			/* TEST 1's d with this x: not one key. */
			jwk = okp_jwk(first_seed, pub);
			ck_assert_int_eq(auth_jwk_parse(jwk, &k, "mixed"), COG_EINVAL);
			ck_assert_ptr_nonnull(strstr(cog_error_last(), "does not give"));
			cJSON_Delete(jwk);
		}
		i++;
	}
	ck_assert_int_eq(i, 3);
	cJSON_Delete(v);
}
END_TEST

/* ---- the JWS vectors ---- */

typedef struct jws_vector {
	char *jwk;         /* JSON */
	char *header;      /* the header bytes */
	unsigned char *payload;
	size_t payload_len;
	char *compact;     /* the expected compact JWS */
} jws_vector;

static void vector_load(jws_vector *out, bool hs256)
{
	cJSON *v = vectors();
	memset(out, 0, sizeof(*out));
	char buf[2048];
	if (!hs256) {
		const cJSON *e = cJSON_GetObjectItem(v, "jws_eddsa_rfc8037_appendix_a");
		out->jwk = cJSON_PrintUnformatted(cJSON_GetObjectItem(e, "jwk"));
		out->header = strdup(vstr(e, "protected_header"));
		out->payload = (unsigned char *)strdup(vstr(e, "payload"));
		out->payload_len = strlen((char *)out->payload);
		snprintf(buf, sizeof(buf), "%s.%s", vstr(e, "signing_input"),
			vstr(e, "signature_b64url"));
	} else {
		const cJSON *e = cJSON_GetObjectItem(v, "jws_hs256_rfc7515_appendix_a_1");
		snprintf(buf, sizeof(buf), "{\"kty\":\"oct\",\"k\":\"%s\"}", vstr(e, "key_b64url"));
		out->jwk = strdup(buf);
		const char *in = vstr(e, "signing_input"), *dot = strchr(in, '.');
		size_t n;
		unsigned char *h = unb64(in, (size_t)(dot - in), &n);
		out->header = strdup((char *)h);
		cog_free(h);
		ck_assert_ptr_nonnull(strstr(out->header, "\r\n"));
		h = unb64(dot + 1, strlen(dot + 1), &out->payload_len);
		out->payload = malloc(out->payload_len + 1);
		memcpy(out->payload, h, out->payload_len + 1);
		cog_free(h);
		snprintf(buf, sizeof(buf), "%s.%s", in, vstr(e, "signature_b64url"));
	}
	out->compact = strdup(buf);
	cJSON_Delete(v);
}

static void vector_free(jws_vector *t)
{
	free(t->jwk);
	free(t->header);
	free(t->payload);
	free(t->compact);
}

START_TEST(jws_vectors_sign_and_verify)
{
	jws_vector t;
	vector_load(&t, _i == 1);
	char *compact = NULL;
	ck_assert_cog(cog_jws_sign(t.jwk, t.header, t.payload, t.payload_len, &compact));
	ck_assert_str_eq(compact, t.compact);
	cog_free(compact);
	char *payload = NULL;
	size_t n = 0;
	ck_assert_cog(cog_jws_verify(t.jwk, t.compact, &payload, &n));
	ck_assert_uint_eq(n, t.payload_len);
	ck_assert_int_eq(memcmp(payload, t.payload, n), 0);
	cog_free(payload);
	ck_assert_cog(cog_jws_verify(t.jwk, t.compact, NULL, NULL));
	vector_free(&t);
}
END_TEST

/* Flip bit `bit` of part `part` (0 header, 1 payload, 2 signature) of a
 * compact JWS, re-encoded canonically. */
static char *flip(const char *compact, int part, size_t bit, bool *done)
{
	const char *p[3] = { compact, strchr(compact, '.') + 1, NULL };
	p[2] = strchr(p[1], '.') + 1;
	size_t lens[3] = { (size_t)(p[1] - p[0] - 1), (size_t)(p[2] - p[1] - 1), strlen(p[2]) };
	char *enc[3];
	*done = false;
	for (int i = 0; i < 3; i++) {
		size_t n;
		unsigned char *raw = unb64(p[i], lens[i], &n);
		if (i == part) {
			if (bit / 8 >= n) {
				*done = true;
			} else {
				raw[bit / 8] ^= (unsigned char)(1u << (bit % 8));
			}
		}
		enc[i] = b64(raw, n);
		cog_free(raw);
	}
	size_t total = strlen(enc[0]) + strlen(enc[1]) + strlen(enc[2]) + 3;
	char *out = malloc(total);
	snprintf(out, total, "%s.%s.%s", enc[0], enc[1], enc[2]);
	for (int i = 0; i < 3; i++)
		cog_free(enc[i]);
	return out;
}

START_TEST(jws_vectors_refuse_every_bit_flip)
{
	jws_vector t;
	vector_load(&t, _i == 1);
	size_t tried = 0;
	for (int part = 0; part < 3; part++) {
		for (size_t bit = 0;; bit++) {
			bool done;
			char *bad = flip(t.compact, part, bit, &done);
			if (done) {
				free(bad);
				break;
			}
			char *payload = (char *)"x";
			int rc = cog_jws_verify(t.jwk, bad, &payload, NULL);
			ck_assert_msg(rc == COG_EDENIED || rc == COG_EINVAL,
				"part %d bit %zu accepted (%d)", part, bit, rc);
			ck_assert_ptr_null(payload);
			if (part > 0)   /* the header still parses: it is the signature */
				ck_assert_msg(rc == COG_EDENIED && strstr(cog_error_last(),
					"bad signature"), "part %d bit %zu: %s", part, bit,
					cog_error_last());
			free(bad);
			tried++;
		}
	}
	ck_assert_uint_ge(tried, (_i == 1 ? 32 + 70 + 30 : 64 + 26 + 15) * 8);
	vector_free(&t);
}
END_TEST

START_TEST(jws_algorithm_confusion)
{
	jws_vector t;
	vector_load(&t, false);
	cJSON *jwk = cJSON_Parse(t.jwk);
	const char *x = vstr(jwk, "x");
	char pub[256], oct[256];
	snprintf(pub, sizeof(pub), "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}", x);
	snprintf(oct, sizeof(oct), "{\"kty\":\"oct\",\"k\":\"%s\"}", x);
	/* HS256 keyed with the public key's bytes: refused by the Ed25519 key. */
	char *forged = NULL;
	ck_assert_cog(cog_jws_sign(oct, "{\"alg\":\"HS256\"}", "{\"sub\":\"root\"}", 15, &forged));
	ck_assert_cog(cog_jws_verify(oct, forged, NULL, NULL));
	ck_assert_int_eq(cog_jws_verify(pub, forged, NULL, NULL), COG_EDENIED);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "algorithm HS256 is not the key's (EdDSA)"));
	ck_assert_int_eq(cog_jws_verify(t.jwk, forged, NULL, NULL), COG_EDENIED);
	cog_free(forged);
	/* The Ed25519 vector refused by an HS256 key. */
	ck_assert_int_eq(cog_jws_verify(oct, t.compact, NULL, NULL), COG_EDENIED);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "algorithm EdDSA is not the key's (HS256)"));
	/* The public key verifies the genuine vector. */
	ck_assert_cog(cog_jws_verify(pub, t.compact, NULL, NULL));
	/* alg none, with and without a signature part. */
	const char *payload_b64 = strchr(t.compact, '.') + 1;
	char none[512];
	snprintf(none, sizeof(none), "eyJhbGciOiJub25lIn0.%.*s.", (int)(strchr(payload_b64, '.') -
		payload_b64), payload_b64);
	ck_assert_int_eq(cog_jws_verify(pub, none, NULL, NULL), COG_EDENIED);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "none"));
	ck_assert_int_eq(cog_jws_verify(oct, none, NULL, NULL), COG_EDENIED);
	/* "crit" and "b64" refused even with a good signature. */
	static const char *const headers[] = { "{\"alg\":\"EdDSA\",\"crit\":[\"exp\"],\"exp\":1}",
		"{\"alg\":\"EdDSA\",\"b64\":false,\"crit\":[\"b64\"]}", "{\"alg\":\"EdDSA\",\"b64\":true}",
		"{\"typ\":\"JWT\"}" };
	for (size_t i = 0; i < COG_ARRAY_LEN(headers); i++) {
		char *c = NULL;
		if (i < 3) {
			ck_assert_cog(cog_jws_sign(t.jwk, headers[i], "hi", 2, &c));
		} else {
			/* no alg: cannot even be signed */
			ck_assert_int_eq(cog_jws_sign(t.jwk, headers[i], "hi", 2, &c), COG_EINVAL);
			char *h = b64(headers[i], strlen(headers[i]));
			char *s = b64("0123456789012345678901234567890123456789012345678901234567890123",
				64);
			c = cog_malloc(strlen(h) + strlen(s) + 8);
			sprintf(c, "%s.aGk.%s", h, s);
			cog_free(h);
			cog_free(s);
		}
		ck_assert_int_eq(cog_jws_verify(t.jwk, c, NULL, NULL), COG_EDENIED);
		cog_free(c);
	}
	cJSON_Delete(jwk);
	vector_free(&t);
}
END_TEST

START_TEST(jws_refuses_bad_keys_and_input)
{
	jws_vector t;
	vector_load(&t, false);
	char *c = (char *)"x";
	/* Header alg must be the key's; a public key cannot sign. */
	ck_assert_int_eq(cog_jws_sign(t.jwk, "{\"alg\":\"HS256\"}", "a", 1, &c), COG_EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(cog_jws_sign(t.jwk, "[1]", "a", 1, &c), COG_EINVAL);
	ck_assert_int_eq(cog_jws_sign(t.jwk, "{\"alg\":", "a", 1, &c), COG_EINVAL);
	ck_assert_cog(cog_jws_sign(t.jwk, "{\"alg\":\"Ed25519\"}", "a", 1, &c));
	ck_assert_cog(cog_jws_verify(t.jwk, c, NULL, NULL));
	cog_free(c);
	ck_assert_int_eq(cog_jws_sign("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":"
		"\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}", "{\"alg\":\"EdDSA\"}", "a", 1, &c),
		COG_EINVAL);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "private"));
	/* HS256 keys below 32 bytes, wrong alg for the type, other curves. */
	static const char *const keys[] = {
		"{\"kty\":\"oct\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
		"{\"kty\":\"oct\",\"alg\":\"EdDSA\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
		"{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
		"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR\"}",
		"{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", "{\"k\":1}", "nope",
	};
	for (size_t i = 0; i < COG_ARRAY_LEN(keys); i++) {
		ck_assert_msg(cog_jws_verify(keys[i], t.compact, NULL, NULL) == COG_EINVAL,
			"key %zu accepted", i);
		ck_assert_msg(cog_jws_sign(keys[i], "{\"alg\":\"HS256\"}", "a", 1, &c) == COG_EINVAL,
			"key %zu signs", i);
	}
	/* Not compact JWS. */
	static const char *const bad[] = { "", "abc", "a.b", "a.b.c.d", ".e30.", "e30.e30.!!",
		"W10.e30.", "eyJhbGciOiJFZERTQSJ9.e30=.AA" };
	for (size_t i = 0; i < COG_ARRAY_LEN(bad); i++)
		ck_assert_msg(cog_jws_verify(t.jwk, bad[i], NULL, NULL) == COG_EINVAL,
			"'%s': %s", bad[i], cog_error_last());
	/* A signature of the wrong length. */
	char shortsig[512];
	snprintf(shortsig, sizeof(shortsig), "%.*s.AAAA", (int)(strrchr(t.compact, '.') -
		t.compact), t.compact);
	ck_assert_int_eq(cog_jws_verify(t.jwk, shortsig, NULL, NULL), COG_EDENIED);
	vector_free(&t);
}
END_TEST

TCase *crypto_jws_tcase(void)
{
	TCase *tc = tcase_create("jws");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, ed25519_rfc8032);
	tcase_add_loop_test(tc, jws_vectors_sign_and_verify, 0, 2);
	tcase_add_loop_test(tc, jws_vectors_refuse_every_bit_flip, 0, 2);
	tcase_add_test(tc, jws_algorithm_confusion);
	tcase_add_test(tc, jws_refuses_bad_keys_and_input);
	return tc;
}
