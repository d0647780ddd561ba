/*
 * Interoperability with the `jose` package from npm (tests/peers), run by
 * Node.js as a stdio peer (jose_peer.mjs): jose verifies the tokens
 * libcognition issues (Ed25519 and HS256; the public key taken from
 * cog_auth_jwks, issuer and audience checked) and libcognition verifies the
 * tokens jose signs (its keys given to cog_auth_key_add), with the
 * negatives both ways: a tampered payload or signature, the wrong
 * algorithm (and HS256 keyed with an Ed25519 public key), an expired token,
 * another issuer or audience, an unknown kid, "alg":"none". And the JWS
 * layer alone: cog_jws_sign read by jose.compactVerify, jose.CompactSign
 * read by cog_jws_verify. The store is a real SQLite file; a missing node
 * or jose fails the test and says what to install.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "cognition.h"
#include "cognition/sqlite.h"
#include "peer.h"
#include "test_tmp.h"
#include "auth_jose_test.h"

peer *jose;
cog_ctx *ctx;

/* ---- the peer ---- */

void jose_start(void)
{
	char module[4096];
	if (peer_node_module(module, sizeof(module), "jose/dist/webapi/index.js") != 0)
		ck_abort_msg("jose is not installed: %s", peer_error());
	const char *argv[] = { "node", COG_AUTH_TEST_DIR "/jose_peer.mjs", module, NULL };
	peer_options o = { 0 };
	o.name = "jose";
	o.argv = argv;
	o.stdio = true;
	o.install_hint = PEER_NODE_HINT;
	if (peer_start(&jose, &o) != 0)
		ck_abort_msg("cannot start node with jose: %s", peer_error());
}

/* Send req (deleted) and return jose's answer (cJSON_Delete). */
cJSON *jose_call(cJSON *req)
{
	char *line = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	ck_assert_ptr_nonnull(line);
	size_t len = strlen(line);
	line[len] = '\n';   /* over the NUL: written by length */
	for (size_t off = 0; off < len + 1;) {
		ssize_t n = write(peer_stdin_fd(jose), line + off, len + 1 - off);
		ck_assert_msg(n > 0, "writing to node failed (log: %s)", peer_log_path(jose));
		off += (size_t)n;
	}
	cJSON_free(line);
	static char buf[1 << 16];
	size_t got = 0;
	while (got == 0 || buf[got - 1] != '\n') {
		ck_assert_msg(got < sizeof(buf) - 1, "node's answer is too long");
		ssize_t n = read(peer_stdout_fd(jose), buf + got, sizeof(buf) - 1 - got);
		ck_assert_msg(n > 0, "node stopped answering (log: %s)", peer_log_path(jose));
		got += (size_t)n;
	}
	buf[got] = '\0';
	cJSON *answer = cJSON_Parse(buf);
	ck_assert_msg(cJSON_IsObject(answer), "node answered '%s'", buf);
	return answer;
}

const char *str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

void expect_ok(const cJSON *answer, const char *what)
{
	ck_assert_msg(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(answer, "ok")),
		"%s: jose said %s: %s", what, str(answer, "code"), str(answer, "message"));
}

void expect_refused(const cJSON *answer, const char *code, const char *what)
{
	ck_assert_msg(!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(answer, "ok")),
		"%s: jose accepted it", what);
	ck_assert_msg(str(answer, "code") && strcmp(str(answer, "code"), code) == 0,
		"%s: jose said %s (%s), expected %s", what, str(answer, "code"),
		str(answer, "message"), code);
}

/* jose.jwtVerify(token, jwk) with algorithms [alg] and our issuer and
 * audience (iss/aud NULL: the configured ones). */
cJSON *jose_verify(const char *token, const cJSON *jwk, const char *alg,
                   const char *iss)
{
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", "verify");
	cJSON_AddStringToObject(req, "token", token);
	cJSON_AddItemToObject(req, "jwk", cJSON_Duplicate(jwk, 1));
	cJSON_AddStringToObject(req, "alg", alg);
	cJSON_AddStringToObject(req, "issuer", iss ? iss : ISSUER);
	cJSON_AddStringToObject(req, "audience", AUDIENCE);
	return jose_call(req);
}

/* A token jose signs with jwk: header {alg, kid (NULL: none), typ}, the
 * standard claims around now + exp_offset, and sub/tenant/roles. */
char *jose_sign(const cJSON *jwk, const char *alg, const char *kid, long exp_offset,
                const char *aud)
{
	long now = (long)time(NULL);
	cJSON *req = cJSON_CreateObject(), *header = cJSON_CreateObject();
	cJSON *claims = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", "sign");
	cJSON_AddItemToObject(req, "jwk", cJSON_Duplicate(jwk, 1));
	cJSON_AddStringToObject(req, "alg", alg);
	cJSON_AddStringToObject(header, "alg", alg);
	if (kid)
		cJSON_AddStringToObject(header, "kid", kid);
	cJSON_AddStringToObject(header, "typ", "JWT");
	cJSON_AddItemToObject(req, "header", header);
	cJSON_AddStringToObject(claims, "iss", ISSUER);
	cJSON_AddStringToObject(claims, "aud", aud ? aud : AUDIENCE);
	cJSON_AddStringToObject(claims, "sub", "carol");
	cJSON_AddStringToObject(claims, "tenant", "acme");
	cJSON *roles = cJSON_AddArrayToObject(claims, "roles");
	cJSON_AddItemToArray(roles, cJSON_CreateString("analyst"));
	cJSON_AddStringToObject(claims, "jti", "jose-jti-1");
	cJSON_AddNumberToObject(claims, "iat", (double)(now + (exp_offset < 0 ? exp_offset - 600 : 0)));
	cJSON_AddNumberToObject(claims, "exp", (double)(now + exp_offset));
	cJSON_AddItemToObject(req, "claims", claims);
	cJSON *answer = jose_call(req);
	expect_ok(answer, "jose SignJWT");
	char *token = strdup(str(answer, "token"));
	cJSON_Delete(answer);
	return token;
}

/* ---- tokens changed on the way ---- */

void b64url(const unsigned char *in, size_t len, char *out)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		unsigned long v = (unsigned long)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned long)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = abc[(v >> 18) & 63];
		out[o++] = abc[(v >> 12) & 63];
		if (i + 1 < len)
			out[o++] = abc[(v >> 6) & 63];
		if (i + 2 < len)
			out[o++] = abc[v & 63];
	}
	out[o] = '\0';
}

/* token with its payload replaced by `claims` (a valid JWT shape, the old
 * signature). */
char *with_payload(const char *token, const char *claims)
{
	const char *dot1 = strchr(token, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	ck_assert_ptr_nonnull(dot2);
	size_t hlen = (size_t)(dot1 - token), clen = strlen(claims);
	char *out = malloc(hlen + 2 + clen * 4 / 3 + 4 + strlen(dot2) + 1);
	memcpy(out, token, hlen + 1);
	b64url((const unsigned char *)claims, clen, out + hlen + 1);
	strcat(out, dot2);
	return out;
}

/* token with one character of its signature changed. */
char *with_bad_signature(const char *token)
{
	char *out = strdup(token);
	char *sig = strrchr(out, '.') + 1;
	size_t at = strlen(sig) / 2;
	sig[at] = sig[at] == 'A' ? 'B' : 'A';
	return out;
}

/* ---- fixtures ---- */

void setup(void)
{
	tmp_dir_make("auth-jose-");
	cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
	so.create = true;
	cog_storage *storage = NULL;
	ck_assert_cog(cog_ctx_new(&ctx, NULL));
	ck_assert_cog(cog_sqlite_storage_open(&storage, tmp_file("auth.db"), &so));
	ck_assert_cog(cog_ctx_set_storage(ctx, storage));
	ck_assert_cog(cog_auth_configure(ctx, "{\"issuer\":\"" ISSUER "\",\"audience\":\""
		AUDIENCE "\",\"clock_skew_s\":5}"));
	jose_start();
}

void teardown(void)
{
	peer_stop(jose);
	jose = NULL;
	cog_ctx_free(ctx);
	ctx = NULL;
	tmp_dir_remove();
}

/* The public JWK of kid from cog_auth_jwks (cJSON_Delete). */
cJSON *jwks_key(const char *kid)
{
	char *json = NULL;
	ck_assert_cog(cog_auth_jwks(ctx, &json));
	cJSON *set = cJSON_Parse(json), *found = NULL;
	cog_free(json);
	const cJSON *k;
	cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(set, "keys")) {
		ck_assert_msg(!cJSON_GetObjectItemCaseSensitive(k, "d"), "jwks has a private part");
		ck_assert_msg(!cJSON_GetObjectItemCaseSensitive(k, "k"), "jwks has a secret");
		if (str(k, "kid") && strcmp(str(k, "kid"), kid) == 0)
			found = cJSON_Duplicate(k, 1);
	}
	cJSON_Delete(set);
	ck_assert_msg(found, "no key %s in cog_auth_jwks", kid);
	return found;
}

char *issue(const char *claims)
{
	char *token = NULL;
	ck_assert_cog(cog_token_issue(ctx, claims, &token));
	return token;
}

/* jose accepts a token we issued with jwk/alg: claims and header as we
 * put them; then the negatives. */
void jose_reads_ours(const cJSON *jwk, const char *alg, const char *kid)
{
	char *token = issue("{\"sub\":\"alice\",\"tenant\":\"acme\",\"roles\":[\"analyst\"]}");
	cJSON *a = jose_verify(token, jwk, alg, NULL);
	expect_ok(a, "jose verifies our token");
	const cJSON *payload = cJSON_GetObjectItemCaseSensitive(a, "payload");
	const cJSON *header = cJSON_GetObjectItemCaseSensitive(a, "header");
	ck_assert_str_eq(str(payload, "sub"), "alice");
	ck_assert_str_eq(str(payload, "tenant"), "acme");
	ck_assert_str_eq(str(payload, "iss"), ISSUER);
	ck_assert_str_eq(str(payload, "aud"), AUDIENCE);
	ck_assert_ptr_nonnull(str(payload, "jti"));
	ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(payload, "roles"), 0)
		->valuestring, "analyst");
	ck_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(payload, "exp")));
	ck_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(payload, "iat")));
	ck_assert_str_eq(str(header, "alg"), alg);
	ck_assert_str_eq(str(header, "kid"), kid);
	ck_assert_str_eq(str(header, "typ"), "JWT");
	cJSON_Delete(a);

	char *forged = with_payload(token, "{\"sub\":\"mallory\",\"iss\":\"" ISSUER
		"\",\"aud\":\"" AUDIENCE "\",\"exp\":4102444800}");
	a = jose_verify(forged, jwk, alg, NULL);
	expect_refused(a, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED", "tampered payload");
	cJSON_Delete(a);
	char *badsig = with_bad_signature(token);
	a = jose_verify(badsig, jwk, alg, NULL);
	expect_refused(a, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED", "tampered signature");
	cJSON_Delete(a);
	a = jose_verify(token, jwk, alg, "https://someone-else.test");
	expect_refused(a, "ERR_JWT_CLAIM_VALIDATION_FAILED", "another issuer");
	cJSON_Delete(a);

	cJSON *req = cJSON_CreateObject();   /* only the other algorithm allowed */
	cJSON_AddStringToObject(req, "op", "verify");
	cJSON_AddStringToObject(req, "token", token);
	cJSON_AddItemToObject(req, "jwk", cJSON_Duplicate(jwk, 1));
	cJSON_AddStringToObject(req, "alg", alg);
	cJSON *algs = cJSON_AddArrayToObject(req, "algorithms");
	cJSON_AddItemToArray(algs, cJSON_CreateString(strcmp(alg, "HS256") ? "HS256" : "EdDSA"));
	a = jose_call(req);
	expect_refused(a, "ERR_JOSE_ALG_NOT_ALLOWED", "wrong algorithm");
	cJSON_Delete(a);

	char claims[256];
	long now = (long)time(NULL);
	snprintf(claims, sizeof(claims), "{\"sub\":\"alice\",\"iat\":%ld,\"exp\":%ld}",
		now - 7200, now - 3600);
	char *expired = issue(claims);
	a = jose_verify(expired, jwk, alg, NULL);
	expect_refused(a, "ERR_JWT_EXPIRED", "expired");
	cJSON_Delete(a);
	free(forged);
	free(badsig);
	cog_free(expired);
	cog_free(token);
}

START_TEST(jose_verifies_our_eddsa)
{
	char *pub = NULL;
	ck_assert_cog(cog_auth_key_generate(ctx, "EdDSA", "cog-ed", &pub));
	cog_free(pub);
	cJSON *jwk = jwks_key("cog-ed");
	ck_assert_str_eq(str(jwk, "kty"), "OKP");
	ck_assert_str_eq(str(jwk, "crv"), "Ed25519");
	jose_reads_ours(jwk, "EdDSA", "cog-ed");
	cJSON_Delete(jwk);
}
END_TEST


START_TEST(jose_verifies_our_hs256)
{
	ck_assert_cog(cog_auth_key_add(ctx, "{\"kty\":\"oct\",\"kid\":\"cog-hs\",\"k\":\""
		SECRET_B64 "\"}"));
	cJSON *jwk = cJSON_Parse("{\"kty\":\"oct\",\"k\":\"" SECRET_B64 "\"}");
	jose_reads_ours(jwk, "HS256", "cog-hs");
	/* another secret does not verify */
	char *token = issue("{\"sub\":\"alice\"}");
	cJSON *other = cJSON_Parse("{\"kty\":\"oct\",\"k\":\"" "b3RoZXIgc2VjcmV0LCBhbHNvIDMyIGJ5dGVzIGxvbmcsIG9r" "\"}");
	cJSON *a = jose_verify(token, other, "HS256", NULL);
	expect_refused(a, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED", "another secret");
	cJSON_Delete(a);
	cJSON_Delete(other);
	cog_free(token);
	cJSON_Delete(jwk);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth-jose");
	TCase *tc = tcase_create("jose");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, jose_verifies_our_eddsa);
	tcase_add_test(tc, jose_verifies_our_hs256);
	auth_jose_ours_tests(tc);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
