/*
 * Interoperability with jose, our side: libcognition verifies the tokens
 * jose signs (and refuses them changed), and the JWS layer both ways.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth_jose_test.h"

/* cog_token_verify's verdict on token: 0, or the status it must be. */
static void expect_cog(const char *token, int want, const char *what)
{
	char *claims = NULL;
	int rc = cog_token_verify(ctx, token, &claims);
	if (want == 0) {
		ck_assert_msg(rc == 0, "%s: refused: %d %s", what, rc, cog_error_last());
		cJSON *c = cJSON_Parse(claims);
		ck_assert_str_eq(str(c, "sub"), "carol");
		ck_assert_str_eq(str(c, "tenant"), "acme");
		ck_assert_str_eq(str(c, "jti"), "jose-jti-1");
		ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c, "roles"), 0)
			->valuestring, "analyst");
		cJSON_Delete(c);
	} else {
		ck_assert_msg(rc == want, "%s: cog_token_verify gave %d (%s), expected %d", what, rc,
			rc ? cog_error_last() : "accepted", want);
		ck_assert_ptr_null(claims);
	}
	cog_free(claims);
}

/* The negatives every jose-signed token shares: tampered, expired,
 * another audience, unknown kid. */
static void cog_refuses_changed(const cJSON *jwk, const char *alg, const char *kid)
{
	char *token = jose_sign(jwk, alg, kid, 300, NULL);
	char *forged = with_payload(token, "{\"sub\":\"mallory\",\"iss\":\"" ISSUER
		"\",\"aud\":\"" AUDIENCE "\",\"exp\":4102444800}");
	expect_cog(forged, COG_EDENIED, "tampered payload");
	char *badsig = with_bad_signature(token);
	expect_cog(badsig, COG_EDENIED, "tampered signature");
	char *expired = jose_sign(jwk, alg, kid, -3600, NULL);
	expect_cog(expired, COG_EDENIED, "expired");
	ck_assert_msg(strstr(cog_error_last(), "expired"), "the message says expired: %s",
		cog_error_last());
	char *aud = jose_sign(jwk, alg, kid, 300, "someone-else");
	expect_cog(aud, COG_EDENIED, "another audience");
	char *unknown = jose_sign(jwk, alg, "no-such-kid", 300, NULL);
	expect_cog(unknown, COG_EDENIED, "unknown kid");
	free(token);
	free(forged);
	free(badsig);
	free(expired);
	free(aud);
	free(unknown);
}

START_TEST(we_verify_jose_eddsa)
{
	cJSON *a = jose_call(cJSON_Parse("{\"op\":\"generate\"}"));
	expect_ok(a, "jose generateKeyPair");
	cJSON *priv = cJSON_DetachItemFromObject(a, "jwk");
	cJSON_Delete(a);
	cJSON *pub = cJSON_Duplicate(priv, 1);
	cJSON_DeleteItemFromObject(pub, "d");
	cJSON_AddStringToObject(pub, "kid", "jose-ed");
	char *text = cJSON_PrintUnformatted(pub);
	ck_assert_cog(cog_auth_key_add(ctx, text));   /* public only */
	cJSON_free(text);

	char *token = jose_sign(priv, "EdDSA", "jose-ed", 300, NULL);
	expect_cog(token, 0, "jose's EdDSA token");
	char *nokid = jose_sign(priv, "EdDSA", NULL, 300, NULL);
	expect_cog(nokid, 0, "jose's EdDSA token without a kid");
	cog_refuses_changed(priv, "EdDSA", "jose-ed");

	/* another Ed25519 key under the same kid */
	a = jose_call(cJSON_Parse("{\"op\":\"generate\"}"));
	char *other = jose_sign(cJSON_GetObjectItemCaseSensitive(a, "jwk"), "EdDSA", "jose-ed", 300,
		NULL);
	cJSON_Delete(a);
	expect_cog(other, COG_EDENIED, "another key, same kid");

	/* algorithm confusion: HS256 keyed with the public key's bytes */
	cJSON *confused = cJSON_CreateObject();
	cJSON_AddStringToObject(confused, "kty", "oct");
	cJSON_AddStringToObject(confused, "k", str(pub, "x"));
	char *hs = jose_sign(confused, "HS256", "jose-ed", 300, NULL);
	expect_cog(hs, COG_EDENIED, "HS256 under an Ed25519 kid");
	char *hs_nokid = jose_sign(confused, "HS256", NULL, 300, NULL);
	expect_cog(hs_nokid, COG_EDENIED, "HS256 without a kid, no HS256 key");

	/* "alg":"none" */
	a = jose_call(cJSON_Parse("{\"op\":\"unsecured\",\"claims\":{\"sub\":\"carol\",\"iss\":\""
		ISSUER "\",\"aud\":\"" AUDIENCE "\",\"exp\":4102444800}}"));
	expect_ok(a, "jose UnsecuredJWT");
	char *claims = NULL;
	int rc = cog_token_verify(ctx, str(a, "token"), &claims);
	ck_assert_msg(rc == COG_EDENIED || rc == COG_EINVAL, "alg none: %d %s", rc,
		rc ? cog_error_last() : "accepted");
	ck_assert_ptr_null(claims);
	cJSON_Delete(a);

	free(token);
	free(nokid);
	free(other);
	free(hs);
	free(hs_nokid);
	cJSON_Delete(confused);
	cJSON_Delete(pub);
	cJSON_Delete(priv);
}
END_TEST

START_TEST(we_verify_jose_hs256)
{
	ck_assert_cog(cog_auth_key_add(ctx, "{\"kty\":\"oct\",\"kid\":\"jose-hs\",\"k\":\""
		SECRET_B64 "\"}"));
	cJSON *jwk = cJSON_Parse("{\"kty\":\"oct\",\"k\":\"" SECRET_B64 "\"}");
	char *token = jose_sign(jwk, "HS256", "jose-hs", 300, NULL);
	expect_cog(token, 0, "jose's HS256 token");
	cog_refuses_changed(jwk, "HS256", "jose-hs");
	cJSON *other = cJSON_Parse("{\"kty\":\"oct\",\"k\":\""
		"b3RoZXIgc2VjcmV0LCBhbHNvIDMyIGJ5dGVzIGxvbmcsIG9r" "\"}");
	char *wrong = jose_sign(other, "HS256", "jose-hs", 300, NULL);
	expect_cog(wrong, COG_EDENIED, "another secret");
	/* an EdDSA token naming the HS256 kid */
	cJSON *a = jose_call(cJSON_Parse("{\"op\":\"generate\"}"));
	char *ed = jose_sign(cJSON_GetObjectItemCaseSensitive(a, "jwk"), "EdDSA", "jose-hs", 300,
		NULL);
	cJSON_Delete(a);
	expect_cog(ed, COG_EDENIED, "EdDSA under an HS256 kid");
	free(ed);
	free(wrong);
	free(token);
	cJSON_Delete(other);
	cJSON_Delete(jwk);
}
END_TEST

/* The JWS layer: arbitrary payload bytes both ways, both algorithms. */
static void jws_both_ways(const cJSON *jwk, const char *alg)
{
	static const char payload[] = "not JSON: \"quotes\", \\ and \xc3\xa9 \xe2\x82\xac";
	char header[64], *text = cJSON_PrintUnformatted(jwk), *jws = NULL;
	snprintf(header, sizeof(header), "{\"alg\":\"%s\"}", alg);
	ck_assert_cog(cog_jws_sign(text, header, payload, strlen(payload), &jws));
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", "compact_verify");
	cJSON_AddStringToObject(req, "jws", jws);
	cJSON *pub = cJSON_Duplicate(jwk, 1);
	cJSON_DeleteItemFromObject(pub, "d");   /* jose verifies with a public key */
	cJSON_AddItemToObject(req, "jwk", pub);
	cJSON_AddStringToObject(req, "alg", alg);
	cJSON *a = jose_call(req);
	expect_ok(a, "jose.compactVerify of cog_jws_sign");
	ck_assert_str_eq(str(a, "payload"), payload);
	cJSON_Delete(a);

	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", "compact_sign");
	cJSON_AddItemToObject(req, "jwk", cJSON_Duplicate(jwk, 1));
	cJSON_AddStringToObject(req, "alg", alg);
	cJSON_AddItemToObject(req, "header", cJSON_Parse(header));
	cJSON_AddStringToObject(req, "payload", payload);
	a = jose_call(req);
	expect_ok(a, "jose CompactSign");
	char *out = NULL;
	size_t out_len = 0;
	ck_assert_cog(cog_jws_verify(text, str(a, "jws"), &out, &out_len));
	ck_assert_uint_eq(out_len, strlen(payload));
	ck_assert_str_eq(out, payload);
	cog_free(out);
	char *bad = with_bad_signature(str(a, "jws"));
	ck_assert_int_eq(cog_jws_verify(text, bad, NULL, NULL), COG_EDENIED);
	free(bad);
	cJSON_Delete(a);
	cog_free(jws);
	cJSON_free(text);
}

START_TEST(jws_interop)
{
	cJSON *a = jose_call(cJSON_Parse("{\"op\":\"generate\"}"));
	expect_ok(a, "jose generateKeyPair");
	jws_both_ways(cJSON_GetObjectItemCaseSensitive(a, "jwk"), "EdDSA");
	cJSON_Delete(a);
	cJSON *oct = cJSON_Parse("{\"kty\":\"oct\",\"k\":\"" SECRET_B64 "\"}");
	jws_both_ways(oct, "HS256");
	cJSON_Delete(oct);
}
END_TEST

void auth_jose_ours_tests(TCase *tc)
{
	tcase_add_test(tc, we_verify_jose_eddsa);
	tcase_add_test(tc, we_verify_jose_hs256);
	tcase_add_test(tc, jws_interop);
}
