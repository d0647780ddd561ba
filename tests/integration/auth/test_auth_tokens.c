/*
 * Keys and tokens end to end through the public API on a real SQLite file:
 * keys persist across contexts on the same file, rotation (new tokens carry
 * the new kid, old ones verify until their key is removed), retire and
 * remove, the public JWK set, and many verifications from four threads on
 * one context. The claim checks and revocation are in
 * auth_tokens_claims.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_tokens_test.h"
#include "test_tmp.h"

static cog_ctx *issue_ctx;

static char *issue(cog_ctx *ctx, const char *sub)
{
	char claims[128], *token = NULL;
	snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"roles\":[\"analyst\"]}", sub);
	ck_assert_cog(cog_token_issue(ctx, claims, &token));
	return token;
}

START_TEST(keys_persist_across_contexts)
{
	tmp_dir_make("auth-tokens-");
	const char *db = tmp_file("auth.db");
	cog_ctx *a = tt_ctx(db, NULL);
	char *pub = NULL;
	ck_assert_cog(cog_auth_key_generate(a, "EdDSA", "k1", &pub));
	cJSON *jwk = cJSON_Parse(pub);
	ck_assert_str_eq(cJSON_GetObjectItem(jwk, "kid")->valuestring, "k1");
	ck_assert_str_eq(cJSON_GetObjectItem(jwk, "alg")->valuestring, "EdDSA");
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(jwk, "x"));
	ck_assert_ptr_null(cJSON_GetObjectItem(jwk, "d"));
	char *token = issue(a, "alice");
	ck_assert_str_eq(tt_kid(token), "k1");
	cog_ctx_free(a);

	/* A new context on the same file: the key is there, signing too. */
	cog_ctx *b = tt_ctx(db, NULL);
	char *claims = NULL;
	ck_assert_cog(cog_token_verify(b, token, &claims));
	cJSON *c = cJSON_Parse(claims);
	ck_assert_str_eq(cJSON_GetObjectItem(c, "sub")->valuestring, "alice");
	ck_assert_str_eq(cJSON_GetObjectItem(c, "roles")->child->valuestring, "analyst");
	cJSON_Delete(c);
	cog_free(claims);
	char *token2 = issue(b, "bob");
	ck_assert_str_eq(tt_kid(token2), "k1");
	char *set = NULL;
	ck_assert_cog(cog_auth_jwks(b, &set));
	cJSON *s = cJSON_Parse(set);
	const cJSON *keys = cJSON_GetObjectItem(s, "keys");
	ck_assert_int_eq(cJSON_GetArraySize(keys), 1);
	ck_assert_str_eq(cJSON_GetObjectItem(keys->child, "x")->valuestring,
		cJSON_GetObjectItem(jwk, "x")->valuestring);
	ck_assert_ptr_null(strstr(set, "\"d\""));
	cJSON_Delete(s);
	cog_free(set);
	cJSON_Delete(jwk);
	cog_free(pub);
	cog_free(token);
	cog_free(token2);
	cog_ctx_free(b);
	tmp_dir_remove();
}
END_TEST

START_TEST(rotation_retire_remove)
{
	tmp_dir_make("auth-tokens-");
	cog_ctx *ctx = tt_ctx(tmp_file("auth.db"), NULL);
	char *t0 = NULL;
	ck_assert_refused(cog_token_issue(ctx, "{\"sub\":\"a\"}", &t0), COG_ENOTFOUND, "generate");
	ck_assert_cog(cog_auth_key_generate(ctx, "EdDSA", "k1", NULL));
	char *t1 = issue(ctx, "a");
	ck_assert_str_eq(tt_kid(t1), "k1");
	ck_assert_cog(cog_auth_key_generate(ctx, "EdDSA", "k2", NULL));
	char *t2 = issue(ctx, "a");
	ck_assert_str_eq(tt_kid(t2), "k2");
	ck_assert_cog(cog_token_verify(ctx, t1, NULL));
	ck_assert_cog(cog_token_verify(ctx, t2, NULL));
	/* An HS256 key generated last signs (alg HS256), a random kid. */
	char *pub = NULL;
	ck_assert_cog(cog_auth_key_generate(ctx, "HS256", NULL, &pub));
	cJSON *hj = cJSON_Parse(pub);
	ck_assert_ptr_null(cJSON_GetObjectItem(hj, "k"));
	const char *hkid = cJSON_GetObjectItem(hj, "kid")->valuestring;
	ck_assert_uint_ge(strlen(hkid), 16);
	char *t3 = issue(ctx, "a");
	ck_assert_str_eq(tt_kid(t3), hkid);
	cJSON *h = tt_part(t3, 0);
	ck_assert_str_eq(cJSON_GetObjectItem(h, "alg")->valuestring, "HS256");
	ck_assert_str_eq(cJSON_GetObjectItem(h, "typ")->valuestring, "JWT");
	cJSON_Delete(h);
	ck_assert_cog(cog_token_verify(ctx, t3, NULL));
	/* Retire it and k2: k1 signs again; their tokens still verify. */
	ck_assert_cog(cog_auth_key_retire(ctx, hkid));
	ck_assert_cog(cog_auth_key_retire(ctx, "k2"));
	char *t4 = issue(ctx, "a");
	ck_assert_str_eq(tt_kid(t4), "k1");
	ck_assert_cog(cog_token_verify(ctx, t2, NULL));
	ck_assert_cog(cog_token_verify(ctx, t3, NULL));
	/* The JWK set: the two Ed25519 keys, never the HS256 one. */
	char *set = NULL;
	ck_assert_cog(cog_auth_jwks(ctx, &set));
	ck_assert_ptr_nonnull(strstr(set, "\"k1\""));
	ck_assert_ptr_nonnull(strstr(set, "\"k2\""));
	ck_assert_ptr_null(strstr(set, hkid));
	ck_assert_ptr_null(strstr(set, "\"d\""));
	cog_free(set);
	/* Remove k2: its token stops verifying; k1's go on. */
	ck_assert_cog(cog_auth_key_remove(ctx, "k2"));
	ck_assert_refused(cog_token_verify(ctx, t2, NULL), COG_EDENIED, "unknown key id");
	ck_assert_cog(cog_token_verify(ctx, t1, NULL));
	ck_assert_refused(cog_auth_key_remove(ctx, "k2"), COG_ENOTFOUND, "k2");
	ck_assert_refused(cog_auth_key_retire(ctx, "k2"), COG_ENOTFOUND, "k2");
	/* Retire the last signer: nothing signs, everything still verifies. */
	ck_assert_cog(cog_auth_key_retire(ctx, "k1"));
	ck_assert_refused(cog_token_issue(ctx, "{\"sub\":\"a\"}", &t0), COG_ENOTFOUND, "add");
	ck_assert_cog(cog_token_verify(ctx, t4, NULL));
	ck_assert_cog(cog_auth_key_remove(ctx, "k1"));
	ck_assert_refused(cog_token_verify(ctx, t1, NULL), COG_EDENIED, "unknown key id");
	ck_assert_refused(cog_token_verify(ctx, t4, NULL), COG_EDENIED, "unknown key id");
	cJSON_Delete(hj);
	cog_free(pub);
	cog_free(t1);
	cog_free(t2);
	cog_free(t3);
	cog_free(t4);
	cog_ctx_free(ctx);
	tmp_dir_remove();
}
END_TEST

START_TEST(key_add_rules)
{
	tmp_dir_make("auth-tokens-");
	cog_ctx *ctx = tt_ctx(tmp_file("auth.db"), NULL);
	/* RFC 8037's key, public part only: verifies, never signs. */
	static const char pub[] = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ext\","
		"\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}";
	static const char priv[] = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"mine\","
		"\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\","
		"\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}";
	ck_assert_cog(cog_auth_key_add(ctx, pub));
	char *t = NULL;
	ck_assert_refused(cog_token_issue(ctx, "{\"sub\":\"a\"}", &t), COG_ENOTFOUND, "sign");
	ck_assert_refused(cog_auth_key_add(ctx, pub), COG_EEXISTS, "ext");
	ck_assert_refused(cog_auth_key_add(ctx, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
		"\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}"), COG_EINVAL, "kid");
	ck_assert_refused(cog_auth_key_add(ctx, "{\"kty\":\"oct\",\"kid\":\"short\","
		"\"k\":\"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ\"}"), COG_EINVAL, "32");
	ck_assert_refused(cog_auth_key_add(ctx, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":"
		"\"bad\",\"alg\":\"HS256\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}"),
		COG_EINVAL, "alg");
	ck_assert_refused(cog_auth_key_add(ctx, "{\"kty\":\"oct\",\"kid\":\"x\\n\","
		"\"k\":\"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE\"}"), COG_EINVAL, "kid");
	ck_assert_refused(cog_auth_key_generate(ctx, "RS256", NULL, NULL), COG_EINVAL, "RS256");
	ck_assert_refused(cog_auth_key_generate(ctx, "EdDSA", "ext", NULL), COG_EEXISTS, "ext");
	ck_assert_cog(cog_auth_key_add(ctx, priv));
	ck_assert_cog(cog_token_issue(ctx, "{\"sub\":\"a\"}", &t));
	ck_assert_str_eq(tt_kid(t), "mine");
	cog_free(t);
	/* The private part never leaves: not in the JWK set. */
	char *set = NULL;
	ck_assert_cog(cog_auth_jwks(ctx, &set));
	ck_assert_ptr_null(strstr(set, "nWGxne"));
	ck_assert_ptr_nonnull(strstr(set, "\"mine\""));
	cog_free(set);
	/* The RFC 8037 vector verifies with the stored public key. */
	char *payload = NULL;
	ck_assert_cog(cog_jws_verify(pub, "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25"
		"pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_"
		"MuM0KAg", &payload, NULL));
	ck_assert_str_eq(payload, "Example of Ed25519 signing");
	cog_free(payload);
	cog_ctx_free(ctx);
	tmp_dir_remove();
}
END_TEST

/* cog_auth_key_add(jwk) fails with COG_EINVAL and a message holding
 * `words` that tells nothing of the secret `secret`: no offset, no byte,
 * no piece of it. */
static void expect_secret_refused(cog_ctx *ctx, const char *jwk, const char *secret,
                                  const char *words)
{
	ck_assert_refused(cog_auth_key_add(ctx, jwk), COG_EINVAL, words);
	const char *msg = cog_error_last();
	ck_assert_msg(!strstr(msg, "offset") && !strstr(msg, "0x") && !strstr(msg, "not 3"),
		"'%s' says where or what", msg);
	for (size_t i = 0; i + 4 <= strlen(secret); i++) {
		char piece[5];
		memcpy(piece, secret + i, 4);
		piece[4] = '\0';
		ck_assert_msg(!strstr(msg, piece), "'%s' holds '%s' of the secret", msg, piece);
	}
}

START_TEST(key_secrets_not_in_messages)
{
	tmp_dir_make("auth-tokens-");
	cog_ctx *ctx = tt_ctx(tmp_file("auth.db"), NULL);
	static const char *const bad_d[] = {
		"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDus*xyuf2A",   /* not in the alphabet */
		"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDus+xyuf2A",   /* base64, not url */
		"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=",  /* padding */
		"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2B",   /* not canonical */
	};
	for (size_t i = 0; i < sizeof(bad_d) / sizeof(bad_d[0]); i++) {
		char jwk[256];
		snprintf(jwk, sizeof(jwk), "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"d%zu\","
			"\"d\":\"%s\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}", i,
			bad_d[i]);
		expect_secret_refused(ctx, jwk, bad_d[i], "\"d\": not base64url");
	}
	/* 31 bytes where 32 are due: the size wanted, not the size given. */
	expect_secret_refused(ctx, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"s\","
		"\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyufw\",\"x\":"
		"\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
		"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyufw", "must be 32 bytes");
	expect_secret_refused(ctx, "{\"kty\":\"oct\",\"kid\":\"o\","
		"\"k\":\"AQEBAQEBAQEBAQEBAQEBAQEB.QEBAQEBAQEBAQEBAQEBAQE\"}",
		"AQEBAQEBAQEBAQEBAQEBAQEB.QEBAQEBAQEBAQEBAQEBAQE", "\"k\": not base64url");
	/* The public "x" is no secret: its message says where. */
	ck_assert_refused(cog_auth_key_add(ctx, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
		"\"kid\":\"p\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaP*HURo\"}"),
		COG_EINVAL, "offset 38");
	cog_ctx_free(ctx);
	tmp_dir_remove();
}
END_TEST

START_TEST(keys_without_storage)
{
	/* No storage on the context: auth keeps its documents in memory. */
	cog_ctx *ctx = NULL;
	ck_assert_cog(cog_ctx_new(&ctx, NULL));
	ck_assert_cog(cog_auth_key_generate(ctx, "EdDSA", "m1", NULL));
	ck_assert_refused(cog_auth_key_generate(ctx, "HS256", "m1", NULL), COG_EEXISTS, "m1");
	char *t1 = issue(ctx, "a");
	ck_assert_cog(cog_token_verify(ctx, t1, NULL));
	ck_assert_cog(cog_auth_key_generate(ctx, "HS256", "m2", NULL));
	ck_assert_cog(cog_auth_key_retire(ctx, "m2"));
	char *t2 = issue(ctx, "a");
	ck_assert_str_eq(tt_kid(t2), "m1");
	ck_assert_cog(cog_auth_key_remove(ctx, "m1"));
	ck_assert_refused(cog_token_verify(ctx, t2, NULL), COG_EDENIED, "unknown key id");
	cog_free(t1);
	cog_free(t2);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- concurrent verification ---- */

#define THREADS 4
#define ROUNDS 200

typedef struct worker {
	const char *good[2];
	const char *bad;
	int ok, denied, other;
} worker;

static void *verify_many(void *arg)
{
	worker *w = arg;
	for (int i = 0; i < ROUNDS; i++) {
		char *claims = NULL;
		int rc = cog_token_verify(issue_ctx, w->good[i % 2], &claims);
		if (rc == 0 && claims && strstr(claims, "\"sub\""))
			w->ok++;
		else
			w->other++;
		cog_free(claims);
		rc = cog_token_verify(issue_ctx, w->bad, NULL);
		if (rc == COG_EDENIED)
			w->denied++;
		else
			w->other++;
	}
	return NULL;
}

START_TEST(verify_from_four_threads)
{
	tmp_dir_make("auth-tokens-");
	issue_ctx = tt_ctx(tmp_file("auth.db"), "{\"issuer\":\"https://cog.test\"}");
	ck_assert_cog(cog_auth_key_generate(issue_ctx, "HS256", "h", NULL));
	char *hs = issue(issue_ctx, "alice");
	ck_assert_cog(cog_auth_key_generate(issue_ctx, "EdDSA", "e", NULL));
	char *ed = issue(issue_ctx, "bob");
	/* The Ed25519 token with its last signature character changed. */
	char *bad = strdup(ed);
	char *last = bad + strlen(bad) - 2;
	*last = *last == 'A' ? 'B' : 'A';
	worker w[THREADS];
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].good[0] = hs;
		w[i].good[1] = ed;
		w[i].bad = bad;
		ck_assert_int_eq(pthread_create(&th[i], NULL, verify_many, &w[i]), 0);
	}
	int ok = 0, denied = 0, other = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		ok += w[i].ok;
		denied += w[i].denied;
		other += w[i].other;
	}
	ck_assert_int_eq(ok, THREADS * ROUNDS);
	ck_assert_int_eq(denied, THREADS * ROUNDS);
	ck_assert_int_eq(other, 0);
	free(bad);
	cog_free(hs);
	cog_free(ed);
	cog_ctx_free(issue_ctx);
	issue_ctx = NULL;
	tmp_dir_remove();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth-tokens");
	TCase *tc = tcase_create("keys");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, keys_persist_across_contexts);
	tcase_add_test(tc, rotation_retire_remove);
	tcase_add_test(tc, key_add_rules);
	tcase_add_test(tc, key_secrets_not_in_messages);
	tcase_add_test(tc, keys_without_storage);
	tcase_add_test(tc, verify_from_four_threads);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tt_claims_tcase());
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
