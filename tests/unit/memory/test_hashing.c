/*
 * The hashing embedder (lib/memory/hashing.c): pinned vectors (a change to
 * the hash or the weighting shows here: stored vectors would no longer
 * match new queries), unit length, lexical similarity (one word changed
 * stays close, unrelated texts do not), case folding, shared spellings,
 * long and non-ASCII text, and bad input.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory_int.h"

static double cosine(const float *a, const float *b, size_t dim)
{
	double dot = 0, na = 0, nb = 0;
	for (size_t i = 0; i < dim; i++) {
		dot += (double)a[i] * b[i];
		na += (double)a[i] * a[i];
		nb += (double)b[i] * b[i];
	}
	return dot / sqrt(na * nb);
}

static void embed_ok(const char *text, float *out, size_t dim)
{
	int rc = mem_hash_embed(text, strlen(text), out, dim);
	ck_assert_msg(rc == 0, "embed \"%.40s\": %d %s", text, rc, cog_error_last());
}

static double text_cosine(const char *a, const char *b)
{
	float va[384], vb[384];
	embed_ok(a, va, 384);
	embed_ok(b, vb, 384);
	return cosine(va, vb, 384);
}

/* Values computed once from the implementation and checked in. */
typedef struct pinned {
	const char *text;
	size_t dim;
	size_t nonzero;          /* buckets that are not 0 */
	struct { size_t i; float v; } at[4];
} pinned;

static const pinned pins[] = {
	{ "The quick brown fox jumps over the lazy dog", 384, 37,
	  { { 9, 0.0623573624f }, { 43, -0.472168982f }, { 96, -0.0623573624f },
	    { 144, 0.0623573624f } } },
	{ "Invoice 4711: the customer paid twice, refund requested", 64, 33,
	  { { 1, -0.0769535825f }, { 4, -0.0513023883f }, { 7, -0.365985781f },
	    { 10, -0.153907165f } } },
};

START_TEST(pinned_vectors)
{
	for (size_t p = 0; p < COG_ARRAY_LEN(pins); p++) {
		float v[384];
		size_t dim = pins[p].dim;
		embed_ok(pins[p].text, v, dim);
		size_t nonzero = 0, first[4] = { 0 }, nfirst = 0;
		for (size_t i = 0; i < dim; i++)
			if (v[i] != 0) {
				if (nfirst < 4)
					first[nfirst++] = i;
				nonzero++;
			}
		char got[256];
		snprintf(got, sizeof(got), "nonzero %zu; %zu:%.9g %zu:%.9g %zu:%.9g %zu:%.9g",
		         nonzero, first[0], (double)v[first[0]], first[1], (double)v[first[1]],
		         first[2], (double)v[first[2]], first[3], (double)v[first[3]]);
		ck_assert_msg(nonzero == pins[p].nonzero, "pin %zu: %s", p, got);
		for (size_t j = 0; j < 4; j++)
			ck_assert_msg(fabsf(v[pins[p].at[j].i] - pins[p].at[j].v) < 1e-6f,
			              "pin %zu bucket %zu: %s", p, pins[p].at[j].i, got);
		/* the same again: no state carried between calls */
		float w[384];
		embed_ok(pins[p].text, w, dim);
		ck_assert_int_eq(memcmp(v, w, dim * sizeof(float)), 0);
	}
	char model[32];
	mem_hash_model(384, model);
	ck_assert_str_eq(model, "hash-384");
	mem_hash_model(4096, model);
	ck_assert_str_eq(model, "hash-4096");
}
END_TEST

START_TEST(unit_length)
{
	static const char *const texts[] = {
		"a", "x y", "hello hello hello hello", "Ünïcödé wörds ünd ASCII",
		"12345 67890", "日本語のテキスト と English",
	};
	static const size_t dims[] = { 16, 17, 100, 384, 1536, 4096 };
	float *v = malloc(4096 * sizeof(float));
	for (size_t t = 0; t < COG_ARRAY_LEN(texts); t++)
		for (size_t d = 0; d < COG_ARRAY_LEN(dims); d++) {
			embed_ok(texts[t], v, dims[d]);
			double n = 0;
			for (size_t i = 0; i < dims[d]; i++) {
				ck_assert(isfinite(v[i]));
				n += (double)v[i] * v[i];
			}
			ck_assert_msg(fabs(n - 1) < 1e-5, "\"%s\" dim %zu: |v|^2 = %g", texts[t],
			              dims[d], n);
		}
	free(v);
}
END_TEST

START_TEST(one_word_changed_stays_close)
{
	static const char *const pairs[][2] = {
		{ "the customer asked for a refund of the second invoice in march",
		  "the customer asked for a refund of the third invoice in march" },
		{ "deploy the web service to the staging cluster before the review",
		  "deploy the web service to the production cluster before the review" },
		{ "Alice prefers short answers and dislikes long explanations of code",
		  "Alice prefers short answers and dislikes long explanations of tests" },
		{ "meeting notes: budget approved, hiring frozen until next quarter",
		  "meeting notes: budget rejected, hiring frozen until next quarter" },
	};
	for (size_t i = 0; i < COG_ARRAY_LEN(pairs); i++) {
		double c = text_cosine(pairs[i][0], pairs[i][1]);
		ck_assert_msg(c > 0.8, "pair %zu: cosine %.3f", i, c);
		ck_assert_msg(c < 0.999, "pair %zu: cosine %.3f (the change was lost)", i, c);
	}
}
END_TEST

static const char *const vocab[] = {
	"invoice", "refund", "deploy", "cluster", "budget", "meeting", "alice", "server",
	"python", "garden", "weather", "holiday", "contract", "printer", "network", "coffee",
	"report", "ticket", "password", "migration", "database", "kitchen", "football",
	"library", "museum", "painting", "vaccine", "airport", "bicycle", "mountain",
	"river", "planet", "violin", "recipe", "tomato", "engine", "window", "keyboard",
	"monitor", "battery", "station", "harbor", "castle", "forest", "desert", "island",
	"letter", "camera", "stadium", "theatre", "chapter", "novel", "poetry", "science",
	"history", "finance", "payroll", "shipping", "warehouse", "customer", "supplier",
	"quarter", "license", "router", "firewall", "backup", "schedule", "holiday",
};

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void sentence(char *out, size_t cap, size_t words)
{
	out[0] = '\0';
	for (size_t i = 0; i < words; i++) {
		strncat(out, vocab[rng() % COG_ARRAY_LEN(vocab)], cap - strlen(out) - 2);
		strcat(out, " ");
	}
}

START_TEST(unrelated_texts_are_far)
{
	double sum = 0, worst = 0;
	int pairs = 500;
	for (int i = 0; i < pairs; i++) {
		char a[512], b[512];
		sentence(a, sizeof(a), 10);
		sentence(b, sizeof(b), 10);
		double c = text_cosine(a, b);
		sum += c;
		worst = c > worst ? c : worst;
	}
	double mean = sum / pairs;
	fprintf(stderr, "hashing: %d pairs of unrelated 10-word texts: mean cosine %.3f, "
	        "max %.3f\n", pairs, mean, worst);
	ck_assert_msg(mean < 0.3, "mean cosine of unrelated texts %.3f", mean);
	/* and texts with no word in common are close to orthogonal */
	double c = text_cosine("quarterly payroll figures for the warehouse staff",
	                       "violin concerto tonight at eight");
	ck_assert_msg(fabs(c) < 0.2, "cosine %.3f", c);
}
END_TEST

START_TEST(lexical_properties)
{
	/* ASCII case is folded: the same vector */
	float a[384], b[384];
	embed_ok("Hello World, HELLO again", a, 384);
	embed_ok("hello world hello AGAIN!", b, 384);
	ck_assert_int_eq(memcmp(a, b, sizeof(a)), 0);
	/* punctuation and spacing are not features */
	embed_ok("  hello...world ", a, 384);
	embed_ok("hello world", b, 384);
	ck_assert_int_eq(memcmp(a, b, sizeof(a)), 0);
	/* shared spelling: related forms are closer than unrelated words */
	double related = text_cosine("embedding", "embedded");
	double unrelated = text_cosine("embedding", "carnival");
	ck_assert_msg(related > 0.08 && related > unrelated + 0.05, "%.3f vs %.3f", related,
	              unrelated);
	/* repetition counts sub-linearly: "x x x x y" is still close to "x y" */
	double rep = text_cosine("refund refund refund refund invoice", "refund invoice");
	ck_assert_msg(rep > 0.85 && rep < 0.9999, "%.3f", rep);
	/* non-ASCII words take part */
	double uni = text_cosine("Übergrößenträger straße", "Übergrößenträger weg");
	ck_assert_msg(uni > 0.4, "%.3f", uni);
}
END_TEST

START_TEST(long_text)
{
	size_t len = 1024 * 1024;
	char *text = malloc(len + 1);
	size_t n = 0;
	while (n < len) {
		char w[32];
		int k = snprintf(w, sizeof(w), "w%llu ", (unsigned long long)(rng() % 100000));
		if (n + (size_t)k > len)
			break;
		memcpy(text + n, w, (size_t)k);
		n += (size_t)k;
	}
	text[n] = '\0';
	float v[384];
	ck_assert_int_eq(mem_hash_embed(text, n, v, 384), 0);
	double norm = 0;
	for (size_t i = 0; i < 384; i++)
		norm += (double)v[i] * v[i];
	ck_assert(fabs(norm - 1) < 1e-5);
	/* the length given counts, not the NUL: a prefix embeds differently */
	float p[384];
	ck_assert_int_eq(mem_hash_embed(text, 100, p, 384), 0);
	ck_assert(cosine(v, p, 384) < 0.5);
	free(text);
}
END_TEST

static void expect_einval(int rc, const char *text)
{
	ck_assert_int_eq(rc, COG_EINVAL);
	ck_assert_msg(strstr(cog_error_last(), text), "message: %s", cog_error_last());
}

START_TEST(bad_input)
{
	float v[384];
	expect_einval(mem_hash_embed("", 0, v, 384), "no word");
	expect_einval(mem_hash_embed("   ", 3, v, 384), "no word");
	expect_einval(mem_hash_embed("!?.,;: -- ()[]{}", 16, v, 384), "no word");
	expect_einval(mem_hash_embed(NULL, 0, v, 384), "no word");
	expect_einval(mem_hash_embed(NULL, 3, v, 384), "text is NULL");
	expect_einval(mem_hash_embed("word", 4, NULL, 384), "out is NULL");
	expect_einval(mem_hash_embed("word", 4, v, 8), "dimension 8");
	expect_einval(mem_hash_embed("word", 4, v, 4097), "dimension 4097");
	/* bytes that are not UTF-8 separate words; they never crash */
	ck_assert_int_eq(mem_hash_embed("ab\xff\xfe" "cd\xc3", 7, v, 384), 0);
	expect_einval(mem_hash_embed("\xff\xfe\x80", 3, v, 384), "no word");
}
END_TEST

int main(void)
{
	Suite *su = suite_create("memory-hashing");
	TCase *tc = tcase_create("hashing");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, pinned_vectors);
	tcase_add_test(tc, unit_length);
	tcase_add_test(tc, one_word_changed_stays_close);
	tcase_add_test(tc, unrelated_texts_are_far);
	tcase_add_test(tc, lexical_properties);
	tcase_add_test(tc, long_text);
	tcase_add_test(tc, bad_input);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
