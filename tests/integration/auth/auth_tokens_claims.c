/*
 * The claim checks of cog_token_verify, each both ways (a token that
 * passes it and one that fails it, with the message naming the check and
 * never the token), algorithm confusion at the token level, and revocation
 * of a jti and of a session. Tokens with chosen headers and claims are
 * signed with a known HS256 key in the key set (TT_FORGE_JWK).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_tokens_test.h"
#include "test_tmp.h"

#define SKEW 30
static cog_ctx *ctx;

static void setup(void)
{
	tmp_dir_make("auth-claims-");
	ctx = tt_ctx(tmp_file("auth.db"), "{\"issuer\":\"https://cog.test\",\"audience\":\"api\","
		"\"clock_skew_s\":30}");
	ck_assert_cog(cog_auth_key_add(ctx, TT_FORGE_JWK));
}

static void teardown(void)
{
	cog_ctx_free(ctx);
	ctx = NULL;
	tmp_dir_remove();
}

/* Verify claims forged under {"alg":"HS256","kid":"forge"}: rc and, when
 * refused, the message holds `words` and not the token. */
static void expect(const char *claims, int want, const char *words)
{
	char *token = tt_forge("{\"alg\":\"HS256\",\"kid\":\"forge\"}", claims);
	char *out = NULL;
	int rc = cog_token_verify(ctx, token, &out);
	ck_assert_msg(rc == want, "%s: %d, not %d (%s)", claims, rc, want, cog_error_last());
	if (want == 0) {
		ck_assert_str_eq(out, claims);
	} else {
		ck_assert_ptr_null(out);
		ck_assert_msg(strstr(cog_error_last(), words), "%s: \"%s\" lacks \"%s\"", claims,
			cog_error_last(), words);
		ck_assert_ptr_null(strstr(cog_error_last(), strrchr(token, '.') + 1));
		ck_assert_ptr_null(strstr(cog_error_last(), token));
	}
	cog_free(out);
	cog_free(token);
}

#define ISS "\"iss\":\"https://cog.test\",\"aud\":\"api\",\"sub\":\"alice\""

START_TEST(exp_checked_with_skew)
{
	char c[256];
	long long now = tt_now();
	snprintf(c, sizeof(c), "{" ISS ",\"exp\":%lld}", now + 600);
	expect(c, 0, NULL);
	snprintf(c, sizeof(c), "{" ISS ",\"exp\":%lld}", now - SKEW + 20);
	expect(c, 0, NULL);      /* past, but within the skew */
	snprintf(c, sizeof(c), "{" ISS ",\"exp\":%lld}", now - SKEW - 20);
	expect(c, COG_EDENIED, "expired at 20");
	expect("{" ISS "}", COG_EDENIED, "exp");
	expect("{" ISS ",\"exp\":\"tomorrow\"}", COG_EDENIED, "exp");
}
END_TEST

START_TEST(nbf_and_iat_checked_with_skew)
{
	char c[256];
	long long now = tt_now();
	snprintf(c, sizeof(c), "{" ISS ",\"exp\":%lld,\"nbf\":%lld}", now + 600, now + SKEW - 20);
	expect(c, 0, NULL);
	snprintf(c, sizeof(c), "{" ISS ",\"exp\":%lld,\"nbf\":%lld}", now + 600, now + SKEW + 60);
	expect(c, COG_EDENIED, "not yet valid");
	snprintf(c, sizeof(c), "{" ISS ",\"exp\":%lld,\"iat\":%lld}", now + 600, now + SKEW - 20);
	expect(c, 0, NULL);
	snprintf(c, sizeof(c), "{" ISS ",\"exp\":%lld,\"iat\":%lld}", now + 600, now + SKEW + 60);
	expect(c, COG_EDENIED, "iat");
}
END_TEST

START_TEST(issuer_audience_subject)
{
	char c[256];
	long long exp = tt_now() + 600;
	snprintf(c, sizeof(c), "{\"iss\":\"https://evil.test\",\"aud\":\"api\",\"sub\":\"a\","
		"\"exp\":%lld}", exp);
	expect(c, COG_EDENIED, "issuer");
	snprintf(c, sizeof(c), "{\"aud\":\"api\",\"sub\":\"a\",\"exp\":%lld}", exp);
	expect(c, COG_EDENIED, "issuer");
	snprintf(c, sizeof(c), "{\"iss\":\"https://cog.test\",\"aud\":\"web\",\"sub\":\"a\","
		"\"exp\":%lld}", exp);
	expect(c, COG_EDENIED, "audience");
	snprintf(c, sizeof(c), "{\"iss\":\"https://cog.test\",\"aud\":[\"web\",\"app\"],"
		"\"sub\":\"a\",\"exp\":%lld}", exp);
	expect(c, COG_EDENIED, "audience");
	snprintf(c, sizeof(c), "{\"iss\":\"https://cog.test\",\"aud\":[\"web\",\"api\"],"
		"\"sub\":\"a\",\"exp\":%lld}", exp);
	expect(c, 0, NULL);
	snprintf(c, sizeof(c), "{\"iss\":\"https://cog.test\",\"sub\":\"a\",\"exp\":%lld}", exp);
	expect(c, COG_EDENIED, "audience");
	snprintf(c, sizeof(c), "{\"iss\":\"https://cog.test\",\"aud\":\"api\",\"exp\":%lld}", exp);
	expect(c, COG_EDENIED, "sub");
	snprintf(c, sizeof(c), "{\"iss\":\"https://cog.test\",\"aud\":\"api\",\"sub\":7,"
		"\"exp\":%lld}", exp);
	expect(c, COG_EDENIED, "sub");
	/* Without a configured issuer and audience, neither is required. */
	ck_assert_cog(cog_auth_configure(ctx, "{\"issuer\":null,\"audience\":null}"));
	snprintf(c, sizeof(c), "{\"sub\":\"a\",\"exp\":%lld}", exp);
	expect(c, 0, NULL);
}
END_TEST

START_TEST(issue_fills_claims)
{
	char *token = NULL, *out = NULL;
	ck_assert_cog(cog_token_issue(ctx, "{\"sub\":\"alice\",\"tenant\":\"acme\"}", &token));
	ck_assert_cog(cog_token_verify(ctx, token, &out));
	cJSON *c = cJSON_Parse(out);
	long long now = tt_now();
	double iat = cJSON_GetObjectItem(c, "iat")->valuedouble;
	ck_assert(iat >= (double)now - 5 && iat <= (double)now);
	ck_assert(cJSON_GetObjectItem(c, "exp")->valuedouble == iat + 900);
	ck_assert_str_eq(cJSON_GetObjectItem(c, "iss")->valuestring, "https://cog.test");
	ck_assert_str_eq(cJSON_GetObjectItem(c, "aud")->valuestring, "api");
	ck_assert_uint_ge(strlen(cJSON_GetObjectItem(c, "jti")->valuestring), 16);
	cJSON_Delete(c);
	cog_free(out);
	char *again = NULL;
	ck_assert_cog(cog_token_issue(ctx, "{\"sub\":\"alice\",\"tenant\":\"acme\"}", &again));
	cJSON *a = tt_part(token, 1), *b = tt_part(again, 1);
	ck_assert_str_ne(cJSON_GetObjectItem(a, "jti")->valuestring,
		cJSON_GetObjectItem(b, "jti")->valuestring);
	cJSON_Delete(a);
	cJSON_Delete(b);
	cog_free(again);
	cog_free(token);
	/* Given claims are kept; bad ones refused. */
	ck_assert_cog(cog_auth_configure(ctx, "{\"access_ttl_s\":60}"));
	ck_assert_cog(cog_token_issue(ctx, "{\"sub\":\"a\",\"aud\":[\"x\",\"api\"],\"jti\":\"j1\"}",
		&token));
	c = tt_part(token, 1);
	ck_assert_str_eq(cJSON_GetObjectItem(c, "jti")->valuestring, "j1");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(c, "aud")), 2);
	ck_assert(cJSON_GetObjectItem(c, "exp")->valuedouble ==
		cJSON_GetObjectItem(c, "iat")->valuedouble + 60);
	cJSON_Delete(c);
	cog_free(token);
	ck_assert_refused(cog_token_issue(ctx, "{\"name\":\"a\"}", &token), COG_EINVAL, "sub");
	ck_assert_refused(cog_token_issue(ctx, "{\"sub\":\"a\",\"exp\":\"x\"}", &token),
		COG_EINVAL, "exp");
	ck_assert_refused(cog_token_issue(ctx, "[1]", &token), COG_EINVAL, "object");
	ck_assert_refused(cog_token_issue(ctx, "{\"sub\":", &token), COG_EINVAL, "claims");
}
END_TEST

START_TEST(algorithm_pinned_per_key)
{
	char *pub = NULL, c[256];
	ck_assert_cog(cog_auth_key_generate(ctx, "EdDSA", "ed", &pub));
	cJSON *jwk = cJSON_Parse(pub);
	char oct[256];
	/* HS256 keyed with the Ed25519 public key's bytes, under its kid. */
	snprintf(oct, sizeof(oct), "{\"kty\":\"oct\",\"k\":\"%s\"}",
		cJSON_GetObjectItem(jwk, "x")->valuestring);
	snprintf(c, sizeof(c), "{" ISS ",\"exp\":%lld}", tt_now() + 600);
	char *forged = NULL;
	ck_assert_cog(cog_jws_sign(oct, "{\"alg\":\"HS256\",\"kid\":\"ed\"}", c, strlen(c),
		&forged));
	ck_assert_refused(cog_token_verify(ctx, forged, NULL), COG_EDENIED,
		"algorithm HS256 is not the key's (EdDSA)");
	cog_free(forged);
	/* alg none under a known kid and without one. */
	char *body = tt_b64(c, strlen(c)), tok[512];
	snprintf(tok, sizeof(tok), "%s.%s.", "eyJhbGciOiJub25lIiwia2lkIjoiZWQifQ", body);
	ck_assert_refused(cog_token_verify(ctx, tok, NULL), COG_EDENIED, "none");
	snprintf(tok, sizeof(tok), "%s.%s.", "eyJhbGciOiJub25lIn0", body);
	ck_assert_refused(cog_token_verify(ctx, tok, NULL), COG_EDENIED, "none");
	free(body);
	/* No kid: the keys of the header's algorithm are tried. */
	char *t = tt_forge("{\"alg\":\"HS256\"}", c);
	ck_assert_cog(cog_token_verify(ctx, t, NULL));
	cog_free(t);
	t = tt_forge("{\"alg\":\"HS256\",\"kid\":\"nope\"}", c);
	ck_assert_refused(cog_token_verify(ctx, t, NULL), COG_EDENIED, "unknown key id");
	cog_free(t);
	t = tt_forge("{\"alg\":\"HS256\",\"kid\":\"forge\",\"crit\":[\"x\"],\"x\":1}", c);
	ck_assert_refused(cog_token_verify(ctx, t, NULL), COG_EDENIED, "crit");
	cog_free(t);
	/* Not a JWT at all. */
	ck_assert_refused(cog_token_verify(ctx, "a.b", NULL), COG_EINVAL, "compact");
	ck_assert_refused(cog_token_verify(ctx, "e30.e30.e30", NULL), COG_EDENIED, "alg");
	cJSON_Delete(jwk);
	cog_free(pub);
}
END_TEST

START_TEST(revocation)
{
	char *token = NULL;
	ck_assert_cog(cog_token_issue(ctx, "{\"sub\":\"alice\"}", &token));
	ck_assert_cog(cog_token_verify(ctx, token, NULL));
	ck_assert_cog(cog_token_revoke(ctx, token));
	ck_assert_refused(cog_token_verify(ctx, token, NULL), COG_EDENIED, "revoked");
	ck_assert_cog(cog_token_revoke(ctx, token));   /* again: still fine */
	/* Revoked in storage: another context on the file sees it. */
	cog_ctx *other = tt_ctx(tmp_file("auth.db"), "{\"issuer\":\"https://cog.test\","
		"\"audience\":\"api\"}");
	ck_assert_refused(cog_token_verify(other, token, NULL), COG_EDENIED, "revoked");
	cog_ctx_free(other);
	/* Another token of the same subject is untouched. */
	char *second = NULL;
	ck_assert_cog(cog_token_issue(ctx, "{\"sub\":\"alice\"}", &second));
	ck_assert_cog(cog_token_verify(ctx, second, NULL));
	/* Expired: already dead, 0. Tampered: refused. */
	char c[256];
	snprintf(c, sizeof(c), "{" ISS ",\"jti\":\"old\",\"exp\":%lld}", tt_now() - 3600);
	char *expired = tt_forge("{\"alg\":\"HS256\",\"kid\":\"forge\"}", c);
	ck_assert_cog(cog_token_revoke(ctx, expired));
	char *sig = expired + strlen(expired) - 3;
	*sig = *sig == 'A' ? 'B' : 'A';
	ck_assert_refused(cog_token_revoke(ctx, expired), COG_EDENIED, "bad signature");
	ck_assert_int_eq(cog_token_revoke(ctx, "a.b"), COG_EINVAL);
	/* Not a JWT: a refresh token, unknown here. */
	ck_assert_int_eq(cog_token_revoke(ctx, "cogr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
		COG_EDENIED);
	/* An exp too large for any clock: revoked for good. */
	char *far = tt_forge("{\"alg\":\"HS256\",\"kid\":\"forge\"}",
		"{" ISS ",\"jti\":\"far\",\"exp\":1e300}");
	ck_assert_cog(cog_token_verify(ctx, far, NULL));
	ck_assert_cog(cog_token_revoke(ctx, far));
	ck_assert_refused(cog_token_verify(ctx, far, NULL), COG_EDENIED, "revoked");
	cog_free(far);
	/* A token of a session that does not exist (or was revoked). */
	snprintf(c, sizeof(c), "{" ISS ",\"tenant\":\"acme\",\"sid\":\"s1\",\"exp\":%lld}",
		tt_now() + 600);
	char *sess = tt_forge("{\"alg\":\"HS256\",\"kid\":\"forge\"}", c);
	ck_assert_refused(cog_token_verify(ctx, sess, NULL), COG_EDENIED, "revoked");
	cog_free(sess);
	/* Session claims that no session can have are the token's fault (its
	 * contents are untrusted): refused, never COG_EINVAL. */
	long long exp = tt_now() + 600;
	snprintf(c, sizeof(c), "{" ISS ",\"tenant\":\"acme\",\"sid\":\"a/b\",\"exp\":%lld}",
		exp);
	expect(c, COG_EDENIED, "name no session");
	snprintf(c, sizeof(c), "{" ISS ",\"tenant\":\"a c\",\"sid\":\"s1\",\"exp\":%lld}",
		exp);
	expect(c, COG_EDENIED, "name no session");
	snprintf(c, sizeof(c), "{" ISS ",\"tenant\":\"acme\",\"sid\":\"%070d\",\"exp\":%lld}",
		0, exp);
	expect(c, COG_EDENIED, "name no session");
	/* A signed token whose claims are not an object. */
	char *arr = tt_forge("{\"alg\":\"HS256\",\"kid\":\"forge\"}", "[1]");
	ck_assert_refused(cog_token_verify(ctx, arr, NULL), COG_EDENIED, "not a JSON object");
	cog_free(arr);
	cog_free(expired);
	cog_free(second);
	cog_free(token);
}
END_TEST

TCase *tt_claims_tcase(void)
{
	TCase *tc = tcase_create("claims");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, exp_checked_with_skew);
	tcase_add_test(tc, nbf_and_iat_checked_with_skew);
	tcase_add_test(tc, issuer_audience_subject);
	tcase_add_test(tc, issue_fills_claims);
	tcase_add_test(tc, algorithm_pinned_per_key);
	tcase_add_test(tc, revocation);
	return tc;
}
