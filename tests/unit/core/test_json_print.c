/*
 * Unit tests for lib/core/json_print.c: cog_json_print must print exactly
 * what cJSON_PrintUnformatted prints (stored hash chains hash those bytes).
 * Random trees and numbers from a seeded generator (the seed is in every
 * failure message), plus the edges of the integer path.
 */
#include <check.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core_int.h"

static uint64_t rng_state;

static uint64_t next(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static unsigned below(unsigned n)
{
	return (unsigned)(next() % n);
}

/* Both printers on one tree; equal text, or both NULL. */
static void same(const cJSON *item, const char *what, uint64_t seed)
{
	char *ours = cog_json_print(item);
	char *theirs = cJSON_PrintUnformatted(item);
	if (!theirs) {
		ck_assert_msg(ours == NULL, "%s (seed %llu): cJSON failed, we printed %s",
			what, (unsigned long long)seed, ours);
		return;
	}
	ck_assert_msg(ours != NULL, "%s (seed %llu): we failed, cJSON printed %s", what,
		(unsigned long long)seed, theirs);
	ck_assert_msg(strcmp(ours, theirs) == 0, "%s (seed %llu):\n ours   %s\n cJSON  %s",
		what, (unsigned long long)seed, ours, theirs);
	cog_free(ours);
	cJSON_free(theirs);
}

/* A number of some interesting kind. */
static double random_number(void)
{
	static const double edges[] = {
		0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1e15, -1e15, 1e15 - 1, -(1e15 - 1),
		1e15 + 1, 9007199254740992.0, 9007199254740993.0, -9007199254740992.0,
		2147483647.0, 2147483648.0, -2147483648.0, -2147483649.0, 1e16, 1e17,
		1e300, -1e300, 5e-324, DBL_MIN, DBL_MAX, -DBL_MAX, 1e-7, 123456789012345.0,
		1234567890123456.0, 0.30000000000000004, 1.0 / 3, 100.0, 1e21, 1e22,
	};
	uint64_t bits;
	double d;
	switch (below(8)) {
	case 0:
		return edges[below(COG_ARRAY_LEN(edges))];
	case 1: /* small integers */
		return (double)((int64_t)below(2000001) - 1000000);
	case 2: /* integers of any size up to 2^63 */
		return (double)((int64_t)(next() >> below(64)) * (below(2) ? 1 : -1));
	case 3: /* fractions with few digits */
		return (double)((int64_t)below(2000001) - 1000000) / (double)(1u << below(20));
	case 4: /* decimal fractions */
		return (double)((int64_t)below(20000001) - 10000000) / pow(10, below(12));
	case 5: /* any finite bit pattern */
		do {
			bits = next();
			memcpy(&d, &bits, sizeof(d));
		} while (!isfinite(d));
		return d;
	case 6: /* powers of ten and their neighbours */
		d = pow(10, (int)below(44) - 22);
		return below(2) ? nextafter(d, below(2) ? INFINITY : 0) : d;
	default:
		return below(4) ? (double)(int64_t)(next() >> 11) : (below(2) ? NAN : -INFINITY);
	}
}

/* A number item; sometimes with valuedouble set behind cJSON's back, so
 * that valueint no longer matches (as code that assigns it does). */
static cJSON *random_number_item(void)
{
	double d = random_number();
	cJSON *n = cJSON_CreateNumber(below(4) ? d : 7.0);
	if (n && !(below(4)))
		n->valuedouble = d;
	return n;
}

static char *random_text(char *buf, size_t cap)
{
	size_t len = below((unsigned)cap);
	for (size_t i = 0; i < len; i++) {
		unsigned kind = below(6);
		unsigned special = (unsigned char)"\"\\/\x7f"[below(4)];
		buf[i] = (char)(kind == 0 ? 1 + below(31) : kind == 1 ? special
		              : kind == 2 ? 0x80 + below(128) : 32 + below(95));
	}
	buf[len] = '\0';
	return buf;
}

static cJSON *random_tree(int depth)
{
	char text[40];
	unsigned kind = depth > 5 ? below(5) : below(7);
	cJSON *item = NULL;
	switch (kind) {
	case 0: item = cJSON_CreateNull(); break;
	case 1: item = cJSON_CreateBool(below(2)); break;
	case 2: item = random_number_item(); break;
	case 3: item = cJSON_CreateString(random_text(text, sizeof(text))); break;
	case 4: item = below(8) ? random_number_item() : cJSON_CreateRaw("[1,2.50]"); break;
	default: {
		bool object = kind == 6;
		item = object ? cJSON_CreateObject() : cJSON_CreateArray();
		unsigned n = below(6);
		for (unsigned i = 0; item && i < n; i++) {
			cJSON *child = random_tree(depth + 1);
			ck_assert_ptr_nonnull(child);
			if (object)
				cJSON_AddItemToObject(item, random_text(text, 12), child);
			else
				cJSON_AddItemToArray(item, child);
		}
	}
	}
	ck_assert_ptr_nonnull(item);
	return item;
}

START_TEST(test_random_trees)
{
	for (int i = 0; i < 20000; i++) {
		uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
		rng_state = seed;
		cJSON *tree = random_tree(0);
		same(tree, "random tree", seed);
		cJSON_Delete(tree);
	}
}
END_TEST

START_TEST(test_random_numbers)
{
	rng_state = 42;
	for (int i = 0; i < 300000; i++) {
		uint64_t seed = rng_state;
		cJSON *n = random_number_item();
		ck_assert_ptr_nonnull(n);
		same(n, "random number", seed);
		cJSON_Delete(n);
	}
}
END_TEST

START_TEST(test_integer_edges)
{
	/* Every integer near the 10^15 switch, near int's range and near 2^53,
	 * both with cJSON's valueint and with valuedouble assigned directly. */
	static const double centres[] = {
		1e15, -1e15, 2147483647.0, -2147483648.0, 9007199254740992.0, 0.0,
	};
	for (size_t c = 0; c < COG_ARRAY_LEN(centres); c++)
		for (int k = -300; k <= 300; k++) {
			double d = centres[c] + k;
			cJSON *n = cJSON_CreateNumber(d);
			ck_assert_ptr_nonnull(n);
			same(n, "integer edge", (uint64_t)k);
			n->valueint = 3;
			same(n, "integer edge, valueint off", (uint64_t)k);
			cJSON_Delete(n);
		}
	cJSON *z = cJSON_CreateNumber(0);
	ck_assert_ptr_nonnull(z);
	z->valuedouble = -0.0;
	same(z, "-0 with valueint 0", 0);
	z->valueint = 1;
	same(z, "-0 with valueint 1", 0);
	cJSON_Delete(z);
}
END_TEST

START_TEST(test_short_decimals)
{
	/* m / 10^k for k up to 11 around the short-decimal range's ends and
	 * inside it, both signs, and their neighbouring doubles. */
	rng_state = 7;
	for (int i = 0; i < 300000; i++) {
		uint64_t seed = rng_state;
		int k = (int)below(12);
		double m = (double)(next() >> (11 + below(53)));
		double d = m / pow(10, k);
		if (below(8) == 0)
			d = nextafter(d, below(2) ? INFINITY : 0);
		if (below(2))
			d = -d;
		cJSON *n = cJSON_CreateNumber(d);
		ck_assert_ptr_nonnull(n);
		same(n, "short decimal", seed);
		cJSON_Delete(n);
	}
	static const double edges[] = {
		1e-4, -1e-4, 0.0001000000000000001, 0.00009999999999999999, 999999.999999999,
		999999.9999999999, 1e6 - 0.5, 0.1, 0.2, 0.3, 0.7, 1.1, 2.675, 0.000123456789,
		123456.123456789, 999999.123456789, 0.101, 5.0000000001,
	};
	for (size_t i = 0; i < COG_ARRAY_LEN(edges); i++) {
		cJSON *n = cJSON_CreateNumber(edges[i]);
		ck_assert_ptr_nonnull(n);
		same(n, "short decimal edge", i);
		cJSON_Delete(n);
	}
}
END_TEST

START_TEST(test_odd_items)
{
	/* An object whose members lost their names (made as an array), a
	 * string without text, a raw without text, an unknown type. */
	cJSON *a = cJSON_CreateArray();
	ck_assert_ptr_nonnull(a);
	cJSON_AddItemToArray(a, cJSON_CreateNumber(1));
	cJSON_AddItemToArray(a, cJSON_CreateString("x"));
	a->type = cJSON_Object;
	same(a, "object without names", 0);
	a->type = cJSON_Array;
	cJSON *s = cJSON_CreateString("y");
	ck_assert_ptr_nonnull(s);
	cJSON_free(s->valuestring);
	s->valuestring = NULL;
	same(s, "string without text", 0);
	s->type = cJSON_Raw;
	same(s, "raw without text", 0);
	s->type = cJSON_Invalid;
	same(s, "invalid item", 0);
	cJSON_AddItemToArray(a, s);
	same(a, "array holding an invalid item", 0);
	cJSON_Delete(a);
	/* Deep nesting: past our own depth limit, cJSON prints it. */
	cJSON *deep = cJSON_CreateArray(), *at = deep;
	for (int i = 0; at && i < 400; i++) {
		cJSON *inner = cJSON_CreateArray();
		ck_assert_ptr_nonnull(inner);
		cJSON_AddItemToArray(at, inner);
		at = inner;
	}
	same(deep, "400 nested arrays", 0);
	cJSON_Delete(deep);
}
END_TEST

int main(void)
{
	if (cog_global_init() != COG_OK) {
		fprintf(stderr, "test_json_print: cog_global_init failed\n");
		return 1;
	}
	Suite *s = suite_create("json_print");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_random_trees);
	tcase_add_test(tc, test_random_numbers);
	tcase_add_test(tc, test_integer_edges);
	tcase_add_test(tc, test_short_decimals);
	tcase_add_test(tc, test_odd_items);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	cog_global_shutdown();
	return failed ? 1 : 0;
}
