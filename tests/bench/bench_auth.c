/*
 * Auth benchmark: token verifications per second, libcognition vs the
 * `jose` package on Node.js (tests/peers) in the same run, and password
 * hashing time at the default argon2id limits.
 *
 *   bench_auth [verifications=20000 [rounds=3 [hashes=10]]]
 *
 * Tokens: one Ed25519 ("EdDSA") and one HS256 JWT, issued once by
 * cog_token_issue with the same claims (sub, tenant, roles, iss, aud, iat,
 * exp, jti); the same two strings go to every verifier. Per round, for each
 * algorithm, one after the other on one thread:
 *   cog mem   cog_token_verify on a context without storage (its in-memory
 *             store): key lookup by kid, algorithm pin, signature, exp/nbf/
 *             iat, iss, aud, the jti revocation look-up, the claims out;
 *   cog sql   the same on a context over a SQLite file (WAL) holding the
 *             same keys;
 *   cog jws   cog_jws_verify with the JWK text alone (signature and header
 *             checks, the payload out; no claims checks);
 *   sodium    the signature check alone, libsodium called directly;
 *   jose      jose.jwtVerify (key imported once; algorithms, issuer and
 *             audience checked), awaited one at a time in one Node process.
 * Each measurement starts with n/10 + 1 untimed verifications (jose too).
 * Every verification must succeed (the bench stops otherwise). Prints the
 * medians over the rounds as Markdown tables, and jose/cog ratios.
 *
 * Passwords: cog_password_hash (0, 0: libsodium's INTERACTIVE limits,
 * opslimit 2, memlimit 64 MiB) and cog_password_verify, against libsodium's
 * crypto_pwhash_str at the same limits called directly and, when the
 * system has it, the reference implementation libargon2.so.1 (dlopen'ed:
 * argon2id_hash_encoded t=2, m=65536 KiB, p=1, 16-byte salt, 32-byte hash).
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "cognition.h"
#include "cognition/sqlite.h"
#include "peer.h"

#define ROUNDS_MAX 15
#ifndef COG_SOURCE_ROOT
#define COG_SOURCE_ROOT "."
#endif
#define ISS "https://bench.test"
#define AUD "bench"
#define CLAIMS "{\"sub\":\"alice\",\"tenant\":\"acme\",\"roles\":[\"analyst\",\"ops\"]}"

static void die(const char *what)
{
	fprintf(stderr, "bench_auth: %s: %s\n", what, cog_error_last());
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- keys and contexts ---- */

typedef struct keys {
	char ed_private[256], ed_public[200], hs[160], hs_k[64], ed_x[64];
} keys;

static void make_keys(keys *k)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	unsigned char secret[32];
	char *x = k->ed_x, d[64];
	crypto_sign_keypair(pk, sk);
	sodium_bin2base64(x, sizeof(k->ed_x), pk, sizeof(pk), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_bin2base64(d, sizeof(d), sk, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	randombytes_buf(secret, sizeof(secret));
	sodium_bin2base64(k->hs_k, sizeof(k->hs_k), secret, sizeof(secret),
		sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(k->ed_private, sizeof(k->ed_private), "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
		"\"kid\":\"bench-ed\",\"x\":\"%s\",\"d\":\"%s\"}", x, d);
	snprintf(k->ed_public, sizeof(k->ed_public), "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
		"\"kid\":\"bench-ed\",\"x\":\"%s\"}", x);
	snprintf(k->hs, sizeof(k->hs), "{\"kty\":\"oct\",\"kid\":\"bench-hs\",\"k\":\"%s\"}",
		k->hs_k);
	sodium_memzero(sk, sizeof(sk));
}

static cog_ctx *make_ctx(const char *db, const keys *k)
{
	cog_ctx *ctx = NULL;
	if (cog_ctx_new(&ctx, NULL) != 0)
		die("cog_ctx_new");
	if (db) {
		cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
		cog_storage *st = NULL;
		so.create = true;
		if (cog_sqlite_storage_open(&st, db, &so) != 0 || cog_ctx_set_storage(ctx, st) != 0)
			die("cog_sqlite_storage_open");
	}
	if (cog_auth_configure(ctx, "{\"issuer\":\"" ISS "\",\"audience\":\"" AUD "\","
	    "\"access_ttl_s\":86400}") != 0 ||
	    cog_auth_key_add(ctx, k->ed_private) != 0 || cog_auth_key_add(ctx, k->hs) != 0)
		die("auth setup");
	return ctx;
}

/* ---- the measurements: verifications per second ---- */

enum { COG_MEM, COG_SQL, COG_JWS, RAW, JOSE, KINDS };
static const char *const kind_names[KINDS] = {
	"cog_token_verify, no storage (in-memory)", "cog_token_verify, SQLite",
	"cog_jws_verify alone (no claims checks)",
	"libsodium alone (signature only, input decoded once)", "jose.jwtVerify (Node)" };

static void run_cog(cog_ctx *ctx, const char *token, unsigned int n, double *rate, double *cpu)
{
	double t0 = 0, c0 = 0;
	for (unsigned int i = 0, warmup = n / 10 + 1; i < warmup + n; i++) {
		if (i == warmup) {
			t0 = now_s();
			c0 = cpu_s();
		}
		char *claims = NULL;
		if (cog_token_verify(ctx, token, &claims) != 0 || !strstr(claims, "\"alice\""))
			die("cog_token_verify");
		cog_free(claims);
	}
	*rate = n / (now_s() - t0);
	*cpu = (cpu_s() - c0) / n * 1e6;
}

static void run_jws(const char *jwk, const char *token, unsigned int n, double *rate,
                    double *cpu)
{
	double t0 = 0, c0 = 0;
	for (unsigned int i = 0, warmup = n / 10 + 1; i < warmup + n; i++) {
		if (i == warmup) {
			t0 = now_s();
			c0 = cpu_s();
		}
		char *payload = NULL;
		if (cog_jws_verify(jwk, token, &payload, NULL) != 0 || !strstr(payload, "\"alice\""))
			die("cog_jws_verify");
		cog_free(payload);
	}
	*rate = n / (now_s() - t0);
	*cpu = (cpu_s() - c0) / n * 1e6;
}

/* The signature check alone: crypto_sign_verify_detached or
 * crypto_auth_hmacsha256_verify over "header.payload", the signature and
 * key decoded once, outside the loop. */
static void run_raw(bool ed, const char *key_b64, const char *token, unsigned int n, double *rate,
                    double *cpu)
{
	unsigned char key[32], sig[64];
	size_t sig_len = 0, input_len = (size_t)(strrchr(token, '.') - token);
	if (sodium_base642bin(key, sizeof(key), key_b64, strlen(key_b64), NULL, NULL, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    sodium_base642bin(sig, sizeof(sig), token + input_len + 1, strlen(token + input_len + 1),
	    NULL, &sig_len, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		die("base64url");
	double t0 = now_s(), c0 = cpu_s();
	for (unsigned int i = 0; i < n; i++)
		if ((ed ? crypto_sign_verify_detached(sig, (const unsigned char *)token, input_len, key)
		        : crypto_auth_hmacsha256_verify(sig, (const unsigned char *)token, input_len,
		          key)) != 0)
			die("libsodium verify");
	*rate = n / (now_s() - t0);
	*cpu = (cpu_s() - c0) / n * 1e6;
}

static void run_jose(peer *p, const char *jwk, const char *alg, const char *token,
                     unsigned int n, double *rate, double *cpu)
{
	char line[4096];
	int len = snprintf(line, sizeof(line), "{\"token\":\"%s\",\"jwk\":%s,\"alg\":\"%s\","
		"\"issuer\":\"" ISS "\",\"audience\":\"" AUD "\",\"n\":%u,\"warmup\":%u}\n", token,
		jwk, alg, n, n / 10 + 1);
	if (len <= 0 || (size_t)len >= sizeof(line) ||
	    write(peer_stdin_fd(p), line, (size_t)len) != len)
		die("writing to node");
	size_t got = 0;
	while (got == 0 || line[got - 1] != '\n') {
		ssize_t r = read(peer_stdout_fd(p), line + got, sizeof(line) - 1 - got);
		if (r <= 0 || got + (size_t)r >= sizeof(line) - 1)
			die("reading node's answer");
		got += (size_t)r;
	}
	line[got] = '\0';
	cJSON *a = cJSON_Parse(line);
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(a, "ok");
	if (!cJSON_IsNumber(ok) || ok->valuedouble != n) {
		fprintf(stderr, "bench_auth: jose said %s", line);
		exit(1);
	}
	*rate = n / cJSON_GetObjectItemCaseSensitive(a, "wall_s")->valuedouble;
	*cpu = cJSON_GetObjectItemCaseSensitive(a, "cpu_s")->valuedouble / n * 1e6;
	cJSON_Delete(a);
}

static peer *start_jose(void)
{
	static char module[4096];
	if (peer_node_module(module, sizeof(module), "jose/dist/webapi/index.js") != 0) {
		fprintf(stderr, "bench_auth: %s\n", peer_error());
		exit(1);
	}
	static const char *argv[] = { "node", COG_BENCH_DIR "/peers/jose_bench.mjs", NULL, NULL };
	argv[2] = module;
	peer_options o = { 0 };
	o.name = "jose-bench";
	o.argv = argv;
	o.stdio = true;
	o.install_hint = PEER_NODE_HINT;
	peer *p = NULL;
	if (peer_start(&p, &o) != 0) {
		fprintf(stderr, "bench_auth: %s\n", peer_error());
		exit(1);
	}
	return p;
}

static void bench_tokens(unsigned int n, int rounds)
{
	keys k;
	char dir[] = "/tmp/bench-auth-XXXXXX", db[64];
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(db, sizeof(db), "%s/auth.db", dir);
	make_keys(&k);
	cog_ctx *mem = make_ctx(NULL, &k), *sql = make_ctx(db, &k);
	/* the HS256 key was added last: it signs; then the Ed25519 one again */
	char *token_hs = NULL, *token_ed = NULL;
	if (cog_token_issue(mem, CLAIMS, &token_hs) != 0)
		die("cog_token_issue HS256");
	cog_ctx *ed_only = NULL;
	if (cog_ctx_new(&ed_only, NULL) != 0 ||
	    cog_auth_configure(ed_only, "{\"issuer\":\"" ISS "\",\"audience\":\"" AUD "\","
	    "\"access_ttl_s\":86400}") != 0 || cog_auth_key_add(ed_only, k.ed_private) != 0 ||
	    cog_token_issue(ed_only, CLAIMS, &token_ed) != 0)
		die("cog_token_issue EdDSA");
	cog_ctx_free(ed_only);
	printf("tokens: EdDSA %zu bytes, HS256 %zu bytes\n\n", strlen(token_ed), strlen(token_hs));
	char hs_jwk[160];
	snprintf(hs_jwk, sizeof(hs_jwk), "{\"kty\":\"oct\",\"k\":\"%s\"}", k.hs_k);

	peer *jose = start_jose();
	const char *algs[2] = { "EdDSA", "HS256" }, *tokens[2] = { token_ed, token_hs };
	const char *jwks[2] = { k.ed_public, hs_jwk };
	double rate[2][KINDS][ROUNDS_MAX], cpu[2][KINDS][ROUNDS_MAX];
	for (int r = 0; r < rounds; r++) {
		for (int a = 0; a < 2; a++) {
			run_cog(mem, tokens[a], n, &rate[a][COG_MEM][r], &cpu[a][COG_MEM][r]);
			run_cog(sql, tokens[a], n, &rate[a][COG_SQL][r], &cpu[a][COG_SQL][r]);
			run_jws(a == 0 ? k.ed_public : k.hs, tokens[a], n, &rate[a][COG_JWS][r],
				&cpu[a][COG_JWS][r]);
			run_raw(a == 0, a == 0 ? k.ed_x : k.hs_k, tokens[a], n, &rate[a][RAW][r],
				&cpu[a][RAW][r]);
			run_jose(jose, jwks[a], algs[a], tokens[a], n, &rate[a][JOSE][r],
				&cpu[a][JOSE][r]);
		}
		fprintf(stderr, "round %d done\n", r + 1);
	}
	peer_stop(jose);
	for (int a = 0; a < 2; a++) {
		double ratios[ROUNDS_MAX];
		printf("%s, %u verifications a measurement, %d rounds (medians):\n\n", algs[a], n,
			rounds);
		printf("| verifier | verifications/s | CPU µs/verification | vs jose (rate) |\n");
		printf("|---|---|---|---|\n");
		for (int kind = 0; kind < KINDS; kind++) {
			for (int r = 0; r < rounds; r++)
				ratios[r] = rate[a][kind][r] / rate[a][JOSE][r];
			printf("| %s | %.0f | %.1f | %.2f |\n", kind_names[kind],
				median(rate[a][kind], rounds), median(cpu[a][kind], rounds),
				median(ratios, rounds));
		}
		printf("\n");
	}
	cog_free(token_ed);
	cog_free(token_hs);
	cog_ctx_free(mem);
	cog_ctx_free(sql);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_auth: could not remove %s\n", dir);
}

/* ---- password hashing ---- */

typedef int (*argon2_hash_fn)(uint32_t t, uint32_t m, uint32_t p, const void *pwd, size_t pwdlen,
                              const void *salt, size_t saltlen, size_t hashlen, char *encoded,
                              size_t encodedlen);
typedef int (*argon2_verify_fn)(const char *encoded, const void *pwd, size_t pwdlen);

static void bench_passwords(int hashes)
{
	static const char pw[] = "correct horse battery staple";
	double h_cog[64], v_cog[64], h_na[64], v_na[64], h_ref[64], v_ref[64];
	void *lib = dlopen("libargon2.so.1", RTLD_NOW);
	argon2_hash_fn ref_hash = lib ? (argon2_hash_fn)(uintptr_t)dlsym(lib, "argon2id_hash_encoded") : NULL;
	argon2_verify_fn ref_verify = lib ? (argon2_verify_fn)(uintptr_t)dlsym(lib, "argon2id_verify") : NULL;
	if (!ref_hash || !ref_verify)
		fprintf(stderr, "bench_auth: no libargon2.so.1: the reference peer is left out\n");
	if (hashes > 64)
		hashes = 64;
	for (int i = 0; i < hashes; i++) {
		char *hash = NULL, na[crypto_pwhash_STRBYTES], ref[128];
		double t0 = now_s();
		if (cog_password_hash(pw, 0, 0, &hash) != 0)
			die("cog_password_hash");
		h_cog[i] = (now_s() - t0) * 1e3;
		t0 = now_s();
		if (cog_password_verify(hash, pw) != 0)
			die("cog_password_verify");
		v_cog[i] = (now_s() - t0) * 1e3;
		t0 = now_s();
		if (crypto_pwhash_str(na, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
		    crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
			die("crypto_pwhash_str");
		h_na[i] = (now_s() - t0) * 1e3;
		t0 = now_s();
		if (crypto_pwhash_str_verify(na, pw, strlen(pw)) != 0)
			die("crypto_pwhash_str_verify");
		v_na[i] = (now_s() - t0) * 1e3;
		if (ref_hash) {
			unsigned char salt[16];
			randombytes_buf(salt, sizeof(salt));
			t0 = now_s();
			if (ref_hash(2, 65536, 1, pw, strlen(pw), salt, sizeof(salt), 32, ref,
			    sizeof(ref)) != 0)
				die("argon2id_hash_encoded");
			h_ref[i] = (now_s() - t0) * 1e3;
			t0 = now_s();
			if (ref_verify(ref, pw, strlen(pw)) != 0 || ref_verify(hash, pw, strlen(pw)) != 0)
				die("argon2id_verify");   /* also reads our hash */
			v_ref[i] = (now_s() - t0) * 1e3 / 2;
		}
		if (i == 0)
			printf("hash: %s\n\n", hash);
		cog_free(hash);
	}
	printf("argon2id at opslimit 2, memlimit 64 MiB (INTERACTIVE), %d hashes (medians):\n\n",
		hashes);
	printf("| implementation | hash ms | verify ms |\n|---|---|---|\n");
	printf("| cog_password_hash / _verify | %.1f | %.1f |\n", median(h_cog, hashes),
		median(v_cog, hashes));
	printf("| libsodium crypto_pwhash_str direct | %.1f | %.1f |\n", median(h_na, hashes),
		median(v_na, hashes));
	if (ref_hash)
		printf("| libargon2.so.1 (reference, p=1) | %.1f | %.1f |\n", median(h_ref, hashes),
			median(v_ref, hashes));
	if (lib)
		dlclose(lib);
}

int main(int argc, char **argv)
{
	unsigned int n = argc > 1 ? (unsigned int)strtoul(argv[1], NULL, 10) : 20000;
	int rounds = argc > 2 ? atoi(argv[2]) : 3, hashes = argc > 3 ? atoi(argv[3]) : 10;
	if (n == 0 || rounds < 1 || rounds > ROUNDS_MAX || hashes < 1) {
		fprintf(stderr, "usage: bench_auth [verifications=20000 [rounds=3 [hashes=10]]]\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	setenv("COG_TEST_SOURCE_ROOT", COG_SOURCE_ROOT, 0);   /* where peer.h finds jose */
	bench_tokens(n, rounds);
	bench_passwords(hashes);
	return 0;
}
