/*
 * Near-duplicate candidates (lib/memory/dedupe.c), measured against exact
 * cosine: pairs at cosine >= 0.95 must become candidates with probability
 * >= 0.95 (a few thousand random pairs near the threshold), a query among
 * 100,000 rows must look at few rows (random vectors and hashing-embedded
 * texts), candidate lists hold no duplicates, every dimension works, bad
 * input is refused.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory_int.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static double uniform(void)   /* (0, 1) */
{
	return ((double)(rng() >> 11) + 0.5) / 9007199254740992.0;
}

static double gaussian(void)
{
	return sqrt(-2 * log(uniform())) * cos(6.283185307179586 * uniform());
}

static void unit_random(float *v, size_t dim)
{
	double n = 0;
	for (size_t i = 0; i < dim; i++) {
		v[i] = (float)gaussian();
		n += (double)v[i] * v[i];
	}
	for (size_t i = 0; i < dim; i++)
		v[i] = (float)(v[i] / sqrt(n));
}

static double dot(const float *a, const float *b, size_t dim)
{
	double s = 0;
	for (size_t i = 0; i < dim; i++)
		s += (double)a[i] * b[i];
	return s;
}

/* A unit vector at cosine c from the unit vector u. */
static void at_cosine(const float *u, double c, float *v, size_t dim)
{
	float *w = malloc(dim * sizeof(float));
	unit_random(w, dim);
	double p = dot(w, u, dim), n = 0;
	for (size_t i = 0; i < dim; i++) {
		w[i] = (float)(w[i] - p * u[i]);
		n += (double)w[i] * w[i];
	}
	double s = sqrt(1 - c * c) / sqrt(n), m = 0;
	for (size_t i = 0; i < dim; i++) {
		v[i] = (float)(c * u[i] + s * w[i]);
		m += (double)v[i] * v[i];
	}
	for (size_t i = 0; i < dim; i++)
		v[i] = (float)(v[i] / sqrt(m));
	free(w);
}

static bool has_row(const uint32_t *rows, size_t n, uint32_t row)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i] == row)
			return true;
	return false;
}

START_TEST(near_pairs_are_found)
{
	enum { PAIRS = 8000 };
	const size_t dim = 384;
	mem_lsh *l = NULL;
	ck_assert_int_eq(mem_lsh_new(&l, dim), 0);
	float *u = malloc((size_t)PAIRS * dim * sizeof(float));
	int rc = 0;
	for (uint32_t r = 0; r < PAIRS && !rc; r++) {
		unit_random(u + (size_t)r * dim, dim);
		rc = mem_lsh_add(l, r, u + (size_t)r * dim);
	}
	ck_assert_int_eq(rc, 0);
	/* Pairs just above the threshold (0.95 to 0.955: the hardest ones), then
	 * pairs further above (0.97 to 0.99); the cosine that counts is the
	 * exact one of the floats. */
	float *v = malloc(dim * sizeof(float));
	size_t near = 0, found = 0, above = 0, found_above = 0, total_cands = 0;
	for (uint32_t r = 0; r < PAIRS; r++) {
		bool hard = r < PAIRS / 2;
		double c = hard ? 0.95 + 0.005 * uniform() : 0.97 + 0.02 * uniform();
		at_cosine(u + (size_t)r * dim, c, v, dim);
		double exact = dot(u + (size_t)r * dim, v, dim);
		uint32_t *rows = NULL;
		size_t n = 0;
		if (mem_lsh_candidates(l, v, &rows, &n))
			ck_abort_msg("candidates: %s", cog_error_last());
		total_cands += n;
		bool hit = has_row(rows, n, r);
		if (hard && exact >= 0.95) {
			near++;
			found += hit;
		} else if (!hard) {
			above++;
			found_above += hit;
		}
		cog_free(rows);
	}
	double recall = (double)found / (double)near;
	double recall_above = (double)found_above / (double)above;
	fprintf(stderr, "dedupe: cosine 0.95..0.955: %zu of %zu pairs found (%.4f); "
	        "0.97..0.99: %.4f; %.1f candidates per query among %d rows\n",
	        found, near, recall, recall_above, (double)total_cands / PAIRS, PAIRS);
	ck_assert_msg(near > PAIRS / 2 * 9 / 10, "only %zu pairs at >= 0.95", near);
	ck_assert_msg(recall >= 0.95, "recall %.4f at cosine >= 0.95", recall);
	ck_assert_msg(recall_above >= recall, "%.4f vs %.4f", recall_above, recall);
	/* a stored vector always finds itself */
	for (uint32_t r = 0; r < 200; r++) {
		uint32_t *rows = NULL;
		size_t n = 0;
		ck_assert_int_eq(mem_lsh_candidates(l, u + (size_t)r * dim, &rows, &n), 0);
		ck_assert(has_row(rows, n, r));
		cog_free(rows);
	}
	/* far pairs (cosine 0.5) are rarely candidates */
	size_t far_hits = 0;
	for (uint32_t r = 0; r < 1000; r++) {
		at_cosine(u + (size_t)r * dim, 0.5, v, dim);
		uint32_t *rows = NULL;
		size_t n = 0;
		ck_assert_int_eq(mem_lsh_candidates(l, v, &rows, &n), 0);
		far_hits += has_row(rows, n, r);
		cog_free(rows);
	}
	ck_assert_msg(far_hits < 50, "%zu of 1000 pairs at cosine 0.5 were candidates",
	              far_hits);
	free(v);
	free(u);
	mem_lsh_free(l);
}
END_TEST

/* Mean candidates for `queries` queries made by make(), over rows made by
 * make() too. */
static double mean_candidates(size_t dim, size_t rows, size_t queries,
                              void (*make)(float *v, size_t dim), size_t *max_seen)
{
	mem_lsh *l = NULL;
	ck_assert_int_eq(mem_lsh_new(&l, dim), 0);
	float *v = malloc(dim * sizeof(float));
	int rc = 0;
	for (uint32_t r = 0; r < rows && !rc; r++) {
		make(v, dim);
		rc = mem_lsh_add(l, r, v);
	}
	ck_assert_int_eq(rc, 0);
	size_t total = 0;
	*max_seen = 0;
	for (size_t q = 0; q < queries; q++) {
		make(v, dim);
		uint32_t *out = NULL;
		size_t n = 0;
		ck_assert_int_eq(mem_lsh_candidates(l, v, &out, &n), 0);
		/* rows that exist, none twice (asserted once: Check writes to a
		 * pipe per assertion) */
		bool ok = true;
		uint8_t *seen = calloc((rows + 7) / 8, 1);
		for (size_t i = 0; i < n; i++) {
			ok = ok && out[i] < rows && !(seen[out[i] / 8] >> (out[i] % 8) & 1);
			if (ok)
				seen[out[i] / 8] |= (uint8_t)(1u << (out[i] % 8));
		}
		free(seen);
		ck_assert_msg(ok, "query %zu: a row out of range or twice", q);
		total += n;
		*max_seen = n > *max_seen ? n : *max_seen;
		cog_free(out);
	}
	free(v);
	mem_lsh_free(l);
	return (double)total / (double)queries;
}

static const char *const vocab[] = {
	"the", "a", "of", "and", "to", "in", "is", "for", "on", "with", "customer",
	"invoice", "refund", "deploy", "cluster", "budget", "meeting", "server", "python",
	"garden", "weather", "holiday", "contract", "printer", "network", "coffee", "report",
	"ticket", "password", "migration", "database", "kitchen", "football", "library",
	"museum", "painting", "airport", "bicycle", "mountain", "river", "planet", "violin",
	"recipe", "engine", "window", "keyboard", "monitor", "battery", "station", "harbor",
	"castle", "forest", "island", "letter", "camera", "chapter", "novel", "science",
	"history", "finance", "payroll", "shipping", "warehouse", "supplier", "quarter",
	"license", "router", "firewall", "backup", "schedule", "alice", "bob", "monday",
	"friday", "morning", "evening", "asked", "wants", "paid", "sent", "broken", "new",
};

/* A sentence of 8 to 20 words, common words more often (Zipf-like). */
static void text_vector(float *v, size_t dim)
{
	char text[512] = "";
	size_t words = 8 + rng() % 13, nv = COG_ARRAY_LEN(vocab);
	for (size_t i = 0; i < words; i++) {
		size_t w = (size_t)((double)nv * pow(uniform(), 2.0));
		strcat(text, vocab[w < nv ? w : nv - 1]);
		char num[24];
		snprintf(num, sizeof(num), rng() % 4 == 0 ? " n%u " : " ",
		         (unsigned int)(rng() % 50000));
		strcat(text, num);
	}
	if (mem_hash_embed(text, strlen(text), v, dim))
		ck_abort_msg("embed: %s", cog_error_last());
}

START_TEST(few_candidates_at_100k)
{
	size_t max_random, max_text;
	double random = mean_candidates(384, 100000, 300, unit_random, &max_random);
	double text = mean_candidates(384, 100000, 300, text_vector, &max_text);
	fprintf(stderr, "dedupe: 100k rows: random vectors %.1f candidates per query (max %zu); "
	        "hashed texts %.1f (max %zu)\n", random, max_random, text, max_text);
	ck_assert_msg(random < 10, "%.1f candidates per query", random);
	ck_assert_msg(text < 100, "%.1f candidates per query", text);
}
END_TEST

START_TEST(every_dimension)
{
	static const size_t dims[] = { 1, 2, 7, 16, 100, 384, 512, 1536, 3072, 4097 };
	for (size_t d = 0; d < COG_ARRAY_LEN(dims); d++) {
		size_t dim = dims[d];
		mem_lsh *l = NULL;
		ck_assert_int_eq(mem_lsh_new(&l, dim), 0);
		float *v = malloc(50 * dim * sizeof(float));
		for (uint32_t r = 0; r < 50; r++) {
			unit_random(v + r * dim, dim);
			ck_assert_int_eq(mem_lsh_add(l, r * 3 + 1, v + r * dim), 0);
		}
		for (uint32_t r = 0; r < 50; r++) {
			uint32_t *rows = NULL;
			size_t n = 0;
			ck_assert_int_eq(mem_lsh_candidates(l, v + r * dim, &rows, &n), 0);
			ck_assert_msg(has_row(rows, n, r * 3 + 1), "dim %zu row %u", dim, r);
			cog_free(rows);
		}
		free(v);
		mem_lsh_free(l);
	}
	/* an empty index has no candidates */
	mem_lsh *l = NULL;
	ck_assert_int_eq(mem_lsh_new(&l, 8), 0);
	float q[8] = { 1, 0, 0, 0, 0, 0, 0, 0 };
	uint32_t *rows = (uint32_t *)1;
	size_t n = 99;
	ck_assert_int_eq(mem_lsh_candidates(l, q, &rows, &n), 0);
	ck_assert_uint_eq(n, 0);
	cog_free(rows);
	mem_lsh_free(l);
}
END_TEST

START_TEST(bad_input)
{
	mem_lsh *l = NULL;
	ck_assert_int_eq(mem_lsh_new(&l, 0), COG_EINVAL);
	ck_assert_ptr_null(l);
	ck_assert_int_eq(mem_lsh_new(&l, MEM_VEC_DIM_MAX + 1), COG_EINVAL);
	ck_assert_int_eq(mem_lsh_new(NULL, 8), COG_EINVAL);
	ck_assert_int_eq(mem_lsh_new(&l, 8), 0);
	float v[8] = { 0.5f, 0.5f, 0.5f, 0.5f, 0, 0, 0, 0 };
	ck_assert_int_eq(mem_lsh_add(l, 0, NULL), COG_EINVAL);
	ck_assert_int_eq(mem_lsh_add(NULL, 0, v), COG_EINVAL);
	ck_assert_int_eq(mem_lsh_add(l, UINT32_MAX, v), COG_EINVAL);
	uint32_t *rows;
	size_t n;
	ck_assert_int_eq(mem_lsh_candidates(l, NULL, &rows, &n), COG_EINVAL);
	ck_assert_int_eq(mem_lsh_candidates(NULL, v, &rows, &n), COG_EINVAL);
	ck_assert_int_eq(mem_lsh_candidates(l, v, NULL, &n), COG_EINVAL);
	mem_lsh_free(l);
	mem_lsh_free(NULL);
}
END_TEST

/* Multiset keys: order, case and punctuation do not count, repeats do; a
 * text one word longer has the shorter one among its keys one word shorter. */
START_TEST(word_keys)
{
	mem_words_key a, b, c;
	const char *t = "The cat saw the dog";
	ck_assert_int_eq(mem_words_key_of(t, strlen(t), true, &a), 0);
	ck_assert_uint_eq(a.count, 5);
	ck_assert_uint_eq(a.ndel, 4);   /* "the" twice */
	ck_assert(a.hashed);
	t = "dog, THE saw... the cat!";
	ck_assert_int_eq(mem_words_key_of(t, strlen(t), false, &b), 0);
	ck_assert_uint_eq(a.key, b.key);
	t = "the cat saw dog";
	ck_assert_int_eq(mem_words_key_of(t, strlen(t), true, &c), 0);
	ck_assert_uint_ne(c.key, a.key);
	bool found = false;
	for (size_t i = 0; i < a.ndel; i++)
		found |= a.del[i] == c.key;
	ck_assert(found);
	t = "the the cat saw dog dog";
	ck_assert_int_eq(mem_words_key_of(t, strlen(t), true, &c), 0);
	ck_assert_uint_ne(c.key, a.key);
	ck_assert_int_eq(mem_words_key_of("", 0, true, &c), 0);
	ck_assert_uint_eq(c.count, 0);
	ck_assert_uint_ne(c.key, 0);
}
END_TEST

/* The bounds against every pair of multiset sizes a <= b and overlap i:
 * a different multiset at Jaccard >= t has both sizes >= near, and one
 * more than one word apart both >= far. */
START_TEST(word_bounds)
{
	static const double ts[] = { 0.5, 0.8, 0.9, 0.95, 0.97, 0.99 };
	for (size_t k = 0; k < sizeof(ts) / sizeof(ts[0]); k++) {
		size_t near, far;
		mem_words_bounds(ts[k], &near, &far);
		ck_assert_uint_le(near, far);
		for (size_t a = 1; a <= 300; a++)
			for (size_t b = a; b <= 300; b++)
				for (size_t i = 0; i <= a; i++) {
					size_t d = a + b - 2 * i;
					if (d == 0 || (double)i / (double)(a + b - i) < ts[k] - 1e-9)
						continue;
					ck_assert_msg(a >= near, "t %g: %zu %zu %zu", ts[k], a, b, i);
					ck_assert_msg(d == 1 || a >= far, "t %g: %zu %zu %zu", ts[k], a, b, i);
				}
	}
	size_t near, far;
	mem_words_bounds(0.95, &near, &far);
	ck_assert_uint_eq(near, 18);
	ck_assert_uint_eq(far, 37);
	mem_words_bounds(1.0, &near, &far);
	ck_assert_uint_ge(near, 100000);   /* identical multisets only */
	mem_words_bounds(0.0, &near, &far);
	ck_assert_uint_eq(far, 0);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("memory-dedupe");
	TCase *tc = tcase_create("dedupe");
	tcase_set_timeout(tc, 280);
	tcase_add_test(tc, near_pairs_are_found);
	tcase_add_test(tc, few_candidates_at_100k);
	tcase_add_test(tc, every_dimension);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, word_keys);
	tcase_add_test(tc, word_bounds);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
