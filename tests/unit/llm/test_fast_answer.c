/*
 * Unit tests for lib/llm/openai_fast_answer.c: the no-tree reader of whole
 * OpenAI answers must give the assembly exactly what cJSON and openai.c's
 * chat_parse give it, or decline and change nothing. Random answers from
 * a seeded generator (the seed is in every failure message): members in
 * any order, duplicated, of the wrong kind, escaped, with refusals, tool
 * calls, error reports and odd usage numbers.
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

static void sp(cog_buf *b)
{
	static const char *const gaps[] = { "", "", "", " ", "\n  ", "\t" };
	cog_buf_puts(b, PICK(gaps));
}

static void text(cog_buf *b)
{
	static const char *const pieces[] = {
		"Hello", " world", "\\n", "\\\"", "\\\\", "\\/", "\\t", "\\b\\f\\r",
		"\xc3\xa9t\xc3\xa9", "\\u00e9", "\\ud83d\\ude00", "{[,:]}", "", "42",
	};
	cog_buf_putc(b, '"');
	for (unsigned i = below(6); i > 0; i--)
		cog_buf_puts(b, PICK(pieces));
	cog_buf_putc(b, '"');
}

static void any_value(cog_buf *b)
{
	static const char *const values[] = {
		"null", "true", "false", "0", "-1.5e3", "[]", "{}", "[1,{\"a\":[null]}]",
		"{\"content\":\"x\",\"message\":{}}", "\"]}\\\"\"",
	};
	cog_buf_puts(b, PICK(values));
}

static void number(cog_buf *b)
{
	static const char *const numbers[] = {
		"0", "7", "123456", "12.7", "-3", "1e20", "9007199254740993", "-0",
		"\"12\"", "null", "1E2", "0.5e-3",
	};
	cog_buf_puts(b, below(3) ? numbers[below(3)] : PICK(numbers));
}

typedef void (*gen_fn)(cog_buf *b);

/* An object of the named members (each maybe left out, maybe twice),
 * in random order, plus an unknown one now and then. */
static void object(cog_buf *b, const char *const *names, const gen_fn *gens, size_t n)
{
	size_t order[16], count = 0;
	for (size_t i = 0; i < n; i++) {
		if (below(8) == 0)
			continue;
		order[count++] = i;
		if (below(30) == 0)
			order[count++] = i;
	}
	for (size_t i = count; i > 1; i--) {
		size_t j = below((unsigned)i), t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
	cog_buf_putc(b, '{');
	for (size_t i = 0; i < count; i++) {
		sp(b);
		const char *name = names[order[i]];
		if (below(60) == 0 && strcmp(name, "content") == 0)
			name = "cont\\u0065nt";
		cog_buf_printf(b, "%s\"%s\"", i ? "," : "", name);
		sp(b);
		cog_buf_putc(b, ':');
		sp(b);
		if (below(25) == 0)
			any_value(b);
		else
			gens[order[i]](b);
	}
	if (below(4) == 0) {
		cog_buf_printf(b, "%s\"extra\":", count ? "," : "");
		any_value(b);
	}
	sp(b);
	cog_buf_putc(b, '}');
}

static void null_mostly(cog_buf *b)
{
	if (below(5))
		cog_buf_puts(b, "null");
	else if (below(2))
		text(b);
	else
		cog_buf_puts(b, "[{\"id\":\"c1\",\"type\":\"function\",\"function\":"
			"{\"name\":\"f\",\"arguments\":\"{}\"}}]");
}

static void content(cog_buf *b)
{
	if (below(8) == 0)
		cog_buf_puts(b, below(2) ? "null" : "[{\"type\":\"text\",\"text\":\"part\"}]");
	else
		text(b);
}

static void role(cog_buf *b)
{
	cog_buf_puts(b, "\"assistant\"");
}

static void message(cog_buf *b)
{
	static const char *const names[] = {
		"role", "content", "refusal", "tool_calls", "function_call", "annotations",
	};
	static const gen_fn gens[] = { role, content, null_mostly, null_mostly,
	                               null_mostly, any_value };
	object(b, names, gens, COG_ARRAY_LEN(names));
}

static void finish(cog_buf *b)
{
	static const char *const reasons[] = {
		"\"stop\"", "\"length\"", "\"tool_calls\"", "\"content_filter\"",
		"\"function_call\"", "\"eos\"", "null", "\"st\\u006fp\"", "3",
		"\"a-very-long-finish-reason-that-is-not-known-anywhere\"",
	};
	cog_buf_puts(b, below(2) ? "\"stop\"" : PICK(reasons));
}

static void choice(cog_buf *b)
{
	static const char *const names[] = { "index", "message", "logprobs", "finish_reason" };
	static const gen_fn gens[] = { number, message, any_value, finish };
	object(b, names, gens, COG_ARRAY_LEN(names));
}

static void choices(cog_buf *b)
{
	unsigned n = below(10) == 0 ? 0 : 1 + (below(4) == 0);
	cog_buf_putc(b, '[');
	for (unsigned i = 0; i < n; i++) {
		if (i)
			cog_buf_putc(b, ',');
		choice(b);
	}
	cog_buf_putc(b, ']');
}

static void details(cog_buf *b)
{
	static const char *const names[] = { "cached_tokens", "audio_tokens" };
	static const gen_fn gens[] = { number, number };
	object(b, names, gens, COG_ARRAY_LEN(names));
}

static void usage(cog_buf *b)
{
	static const char *const names[] = {
		"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details",
	};
	static const gen_fn gens[] = { number, number, number, details };
	if (below(10) == 0)
		cog_buf_puts(b, "null");
	else
		object(b, names, gens, COG_ARRAY_LEN(names));
}

static void model(cog_buf *b)
{
	static const char *const models[] = {
		"\"gpt-4o-mini-2024-07-18\"", "\"m\"", "\"\"", "\"gpt\\u002d4\"", "7",
	};
	cog_buf_puts(b, below(2) ? models[0] : PICK(models));
}

static void error(cog_buf *b)
{
	cog_buf_puts(b, below(3) ? "null" : "{\"message\":\"overloaded\"}");
}

static void answer(cog_buf *b)
{
	static const char *const names[] = {
		"id", "object", "created", "model", "choices", "usage", "error",
		"system_fingerprint",
	};
	static const gen_fn gens[] = { text, text, number, model, choices, usage, error,
	                               any_value };
	sp(b);
	object(b, names, gens, COG_ARRAY_LEN(names));
	sp(b);
}

/* The assembly's answer as text, or the failure. */
static char *finished(llm_asm *a, int rc)
{
	cJSON *r = NULL;
	if (!rc)
		rc = llm_asm_finish(a, &r);
	char *out = rc ? NULL : cog_json_print(r);
	cJSON_Delete(r);
	if (rc) {
		char msg[64];
		snprintf(msg, sizeof(msg), "failed %d", rc);
		out = cog__strdup(msg);
	}
	return out;
}

START_TEST(test_random_answers)
{
	int taken = 0, declined = 0;
	cog_buf b = COG_BUF_INIT;
	for (int i = 0; i < 40000; i++) {
		uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
		rng = seed;
		cog_buf_clear(&b);
		answer(&b);
		ck_assert(!b.failed);
		ck_assert_msg(cog_json_validate(b.ptr, b.len, "answer") == 0,
			"seed %llu: the generator made invalid JSON: %s",
			(unsigned long long)seed, b.ptr);
		llm_asm fast, slow, fresh;
		llm_asm_init(&fast, NULL);
		llm_asm_init(&slow, NULL);
		llm_asm_init(&fresh, NULL);
		int rc = llm_openai_fast_answer(b.ptr, b.len, &fast);
		ck_assert_msg(rc == 0 || rc == 1, "seed %llu: %d", (unsigned long long)seed, rc);
		cJSON *tree = cJSON_ParseWithLength(b.ptr, b.len);
		ck_assert_ptr_nonnull(tree);
		int slow_rc = llm_wire_openai.chat_parse(NULL, NULL, tree, &slow);
		cJSON_Delete(tree);
		char *f = finished(&fast, 0);
		char *s = rc == 1 ? finished(&slow, slow_rc) : finished(&fresh, 0);
		ck_assert_msg(strcmp(f, s) == 0, "seed %llu (%s):\n %s\n fast %s\n %s %s",
			(unsigned long long)seed, rc ? "taken" : "declined", b.ptr, f,
			rc ? "cJSON" : "untouched", s);
		if (rc == 1)
			ck_assert_msg(slow_rc == 0, "seed %llu: taken, but chat_parse failed: %s",
				(unsigned long long)seed, b.ptr);
		if (rc == 1)
			taken++;
		else
			declined++;
		cog_free(f);
		cog_free(s);
		llm_asm_dispose(&fast);
		llm_asm_dispose(&slow);
		llm_asm_dispose(&fresh);
	}
	cog_buf_dispose(&b);
	/* Both ways are exercised. */
	ck_assert_int_gt(taken, 2000);
	ck_assert_int_gt(declined, 4000);
}
END_TEST

START_TEST(test_common_answer)
{
	static const char body[] =
		"{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1732500000,"
		"\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"message\":"
		"{\"role\":\"assistant\",\"content\":\"Hi \\\"there\\\"\\n\",\"refusal\":null,"
		"\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\"length\"}],"
		"\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":5,\"total_tokens\":17,"
		"\"prompt_tokens_details\":{\"cached_tokens\":4,\"audio_tokens\":0}},"
		"\"service_tier\":\"default\",\"system_fingerprint\":\"fp_1\"}";
	llm_asm a;
	llm_asm_init(&a, NULL);
	ck_assert_int_eq(llm_openai_fast_answer(body, strlen(body), &a), 1);
	ck_assert_str_eq(a.text.ptr, "Hi \"there\"\n");
	ck_assert_str_eq(a.finish_reason, "length");
	ck_assert(a.have_usage);
	ck_assert_uint_eq(a.input_tokens, 12);
	ck_assert_uint_eq(a.output_tokens, 5);
	ck_assert_uint_eq(a.cached_tokens, 4);
	llm_asm_dispose(&a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("llm-fast-answer");
	TCase *tc = tcase_create("fast-answer");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_common_answer);
	tcase_add_test(tc, test_random_answers);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures == 0 ? 0 : 1;
}
