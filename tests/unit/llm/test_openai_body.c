/*
 * Unit tests for lib/llm/openai_body.c: the OpenAI chat body written
 * straight from the request must be byte for byte the tree builder's
 * (openai.c), or decline and leave the buffer as it was. Random requests
 * from a seeded generator (the seed is in every failure message): valid
 * ones as llm_request_check accepts them, and odd ones (members of the
 * wrong kind, missing roles and contents, duplicates, escapes, control
 * bytes, UTF-8, tools, tool calls, response formats).
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "llm_int.h"
#include "openai_int.h"
#include "provider_int.h"

static uint64_t rng;

static unsigned below(unsigned n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (unsigned)((rng * 2685821657736338717ull) >> 33) % n;
}

static const char *pick(const char *const *list, size_t n)
{
	return list[below((unsigned)n)];
}
#define PICK(list) pick(list, COG_ARRAY_LEN(list))

static cJSON *random_text(void)
{
	static const char *const words[] = {
		"", "hi", "Say hello.", "a \"quoted\" word", "back\\slash", "tab\there",
		"line\nbreak", "\x01\x1f ctl", "caf\xc3\xa9", "\xe2\x82\xac euro", "/slash/",
		"{\"json\":[1,2]}", "\xf0\x9f\x98\x80"
	};
	char text[256] = "";
	for (unsigned i = below(4); i > 0; i--)
		strncat(text, PICK(words), sizeof(text) - strlen(text) - 1);
	return cJSON_CreateString(text);
}

static cJSON *random_number(void)
{
	static const double numbers[] = {
		0, 1, -1, 0.2, 0.7, 64, 4096, 1e15, 1e16, 123456789012345678.0, -0.0,
		1.0 / 3, 2.5e-8, 9007199254740993.0, 1e300, 42
	};
	return cJSON_CreateNumber(numbers[below(COG_ARRAY_LEN(numbers))]);
}

static cJSON *random_value(int depth)
{
	switch (below(depth > 2 ? 5 : 7)) {
	case 0: return random_text();
	case 1: return random_number();
	case 2: return cJSON_CreateNull();
	case 3: return cJSON_CreateBool(below(2));
	case 4: return random_text();
	case 5: {
		cJSON *a = cJSON_CreateArray();
		for (unsigned i = below(4); i > 0; i--)
			cJSON_AddItemToArray(a, random_value(depth + 1));
		return a;
	}
	default: {
		cJSON *o = cJSON_CreateObject();
		for (unsigned i = below(4); i > 0; i--) {
			static const char *const keys[] = { "a", "name", "x\"y", "type" };
			cJSON_AddItemToObject(o, PICK(keys), random_value(depth + 1));
		}
		return o;
	}
	}
}

/* The member `name` with a usual value most of the time, else any. */
static void maybe(cJSON *o, const char *name, cJSON *(*usual)(void), unsigned in_ten)
{
	if (below(10) >= in_ten)
		return;
	cJSON_AddItemToObject(o, name, below(8) ? usual() : random_value(0));
	if (below(30) == 0) /* a duplicate: the first one counts */
		cJSON_AddItemToObject(o, name, random_value(0));
}

static cJSON *tool_call(void)
{
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "id", "call_1");
	cJSON_AddStringToObject(c, "name", "lookup");
	if (below(2))
		cJSON_AddItemToObject(c, "arguments", cJSON_Parse("{\"q\":\"x\"}"));
	else
		cJSON_AddStringToObject(c, "arguments_text", "{\"q\":");
	return c;
}

static cJSON *random_message(void)
{
	static const char *const roles[] = { "system", "user", "assistant", "tool", "developer" };
	cJSON *m = cJSON_CreateObject();
	if (below(30))
		cJSON_AddItemToObject(m, "role", below(20) ? cJSON_CreateString(PICK(roles))
		                                           : random_value(0));
	maybe(m, "content", random_text, 8);
	maybe(m, "name", random_text, 2);
	maybe(m, "tool_call_id", random_text, 3);
	if (below(6) == 0) {
		cJSON *calls = cJSON_AddArrayToObject(m, "tool_calls");
		for (unsigned i = below(3); i > 0; i--)
			cJSON_AddItemToArray(calls, tool_call());
	}
	return m;
}

static cJSON *random_request(void)
{
	static const char *const passed[] = {
		"temperature", "top_p", "max_tokens", "stop", "seed", "user", "other"
	};
	cJSON *r = cJSON_CreateObject();
	maybe(r, "model", random_text, 9);
	if (below(40)) {
		cJSON *list = cJSON_AddArrayToObject(r, "messages");
		for (unsigned i = below(5); i > 0; i--)
			cJSON_AddItemToArray(list, random_message());
	} else {
		cJSON_AddItemToObject(r, "messages", random_value(0));
	}
	for (unsigned i = below(5); i > 0; i--)
		cJSON_AddItemToObject(r, PICK(passed), below(2) ? random_number() : random_value(0));
	if (below(10) == 0)
		cJSON_AddItemToObject(r, "tools", cJSON_Parse(below(2) ? "[]" :
			"[{\"name\":\"lookup\",\"description\":\"d\"}]"));
	if (below(15) == 0)
		cJSON_AddStringToObject(r, "tool_choice", "auto");
	if (below(15) == 0)
		cJSON_AddItemToObject(r, "response_format", cJSON_Parse("{\"type\":\"json_object\"}"));
	return r;
}

/* A request llm_request_check accepts: plain messages, usual members. */
static cJSON *valid_request(void)
{
	static const char *const roles[] = { "system", "user", "assistant", "user" };
	cJSON *r = cJSON_CreateObject();
	if (below(2))
		cJSON_AddStringToObject(r, "model", below(2) ? "gpt-4.1" : "caf\xc3\xa9\n\"m\"");
	cJSON *list = cJSON_AddArrayToObject(r, "messages");
	for (unsigned i = below(4) + 1; i > 0; i--) {
		cJSON *m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "role", PICK(roles));
		cJSON_AddItemToObject(m, "content", random_text());
		cJSON_AddItemToArray(list, m);
	}
	if (below(2))
		cJSON_AddNumberToObject(r, "temperature", below(2) ? 0.2 : (double)below(3));
	if (below(2))
		cJSON_AddNumberToObject(r, "max_tokens", 1 + below(100000));
	if (below(3) == 0)
		cJSON_AddNumberToObject(r, "top_p", below(2) ? 0.95 : 1);
	if (below(3) == 0)
		cJSON_AddNumberToObject(r, "seed", below(1000000));
	if (below(3) == 0)
		cJSON_AddItemToObject(r, "stop", cJSON_Parse("[\"\\n\", \"END\"]"));
	return r;
}

START_TEST(test_direct_matches_tree)
{
	unsigned direct = 0, valid = 0;
	for (unsigned i = 0; i < 40000; i++) {
		uint64_t seed = 0x9e3779b97f4a7c15ull * (i + 1) + (uint64_t)_i;
		rng = seed;
		cJSON *request = below(2) ? valid_request() : random_request();
		bool stream = below(2);
		cog_buf want = COG_BUF_INIT, got = COG_BUF_INIT;
		cog_buf_puts(&got, "prefix");
		int rc_tree = llm_openai_body_tree(request, stream, &want);
		int rc = llm_openai_body_direct(request, stream, &got);
		ck_assert_msg(rc == 0 || rc == 1, "seed %llu: rc %d", (unsigned long long)seed, rc);
		ck_assert_msg(!got.failed && !want.failed, "seed %llu", (unsigned long long)seed);
		if (rc == 0) {
			direct++;
			ck_assert_msg(rc_tree == 0, "seed %llu: the builder failed (%d) where the "
				"direct writer wrote %.*s", (unsigned long long)seed, rc_tree,
				(int)got.len, got.ptr);
			ck_assert_msg(got.len == want.len + 6 && memcmp(got.ptr + 6, want.ptr,
				want.len) == 0, "seed %llu:\n direct %.*s\n tree   %.*s",
				(unsigned long long)seed, (int)got.len - 6, got.ptr + 6,
				(int)want.len, want.ptr);
			char *text = cog_json_print(request);
			cJSON *parsed = NULL;
			ck_assert_ptr_nonnull(text);
			if (llm_request_parse(&parsed, text, "test") == 0)
				valid++;
			cJSON_Delete(parsed);
			cog_free(text);
		} else {
			ck_assert_msg(got.len == 6 && memcmp(got.ptr, "prefix", 6) == 0,
				"seed %llu: declined and changed the buffer", (unsigned long long)seed);
		}
		cog_buf_dispose(&want);
		cog_buf_dispose(&got);
		cJSON_Delete(request);
	}
	/* The test means something only if both kinds are common. */
	ck_assert_uint_gt(direct, 10000);
	ck_assert_uint_gt(valid, 2000);
	ck_assert_uint_lt(direct, 39000);
}
END_TEST

/* The bench's request, and one with every plain member. */
START_TEST(test_known_bodies)
{
	static const char *const cases[][2] = {
		{ "{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"system\",\"content\":\"You are "
		  "a helpful assistant.\"},{\"role\":\"user\",\"content\":\"Say hello.\"}],"
		  "\"max_tokens\":64,\"temperature\":0.2}",
		  "{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"system\",\"content\":\"You are "
		  "a helpful assistant.\"},{\"role\":\"user\",\"content\":\"Say hello.\"}],"
		  "\"temperature\":0.2,\"max_tokens\":64}" },
		{ "{\"stop\":[\"x\"],\"messages\":[{\"role\":\"assistant\",\"name\":\"a\"},"
		  "{\"role\":\"tool\",\"tool_call_id\":\"c\",\"name\":\"n\",\"content\":\"r\"},"
		  "{\"role\":\"user\"}],\"seed\":7,\"user\":\"u\",\"top_p\":1}",
		  "{\"messages\":[{\"role\":\"assistant\",\"content\":null,\"name\":\"a\"},"
		  "{\"role\":\"tool\",\"content\":\"r\",\"tool_call_id\":\"c\"},"
		  "{\"role\":\"user\",\"content\":\"\"}],\"top_p\":1,\"stop\":[\"x\"],\"seed\":7,"
		  "\"user\":\"u\"}" },
	};
	for (size_t i = 0; i < COG_ARRAY_LEN(cases); i++) {
		cJSON *request = cJSON_Parse(cases[i][0]);
		cog_buf b = COG_BUF_INIT;
		ck_assert_ptr_nonnull(request);
		ck_assert_int_eq(llm_openai_body_direct(request, false, &b), 0);
		ck_assert_int_eq(cog_buf_putc(&b, '\0'), 0);
		ck_assert_str_eq(b.ptr, cases[i][1]);
		cog_buf_dispose(&b);
		cJSON_Delete(request);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("llm-openai-body");
	TCase *tc = tcase_create("body");
	tcase_set_timeout(tc, 240);
	tcase_add_loop_test(tc, test_direct_matches_tree, 0, 2);
	tcase_add_test(tc, test_known_bodies);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
