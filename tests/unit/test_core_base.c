/* Core basics: errors, UTF-8, the JSON validator, buffers. Links the
 * internal archive to reach hidden helpers. */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "core_int.h"

START_TEST(status_texts)
{
	for (int code = COG_OK; code >= COG_EINTEGRITY; code--)
		ck_assert_str_ne(cog_strerror(code), "unknown status");
	ck_assert_str_eq(cog_strerror(-999), "unknown status");
	ck_assert_str_eq(cog_strerror(COG_ENOTFOUND), "not found");
}
END_TEST

START_TEST(error_last_is_thread_local_and_never_null)
{
	cog_error_clear();
	ck_assert_str_eq(cog_error_last(), "no error");
	ck_assert_int_eq(cog_error_last_code(), COG_OK);
	ck_assert_int_eq(cog_error_set(COG_EIO, "disk %s", "full"), COG_EIO);
	ck_assert_str_eq(cog_error_last(), "disk full");
	ck_assert_int_eq(cog_error_last_code(), COG_EIO);
	ck_assert_int_eq(cog__error_wrap(COG_EIO, "saving %d", 3), COG_EIO);
	ck_assert_str_eq(cog_error_last(), "saving 3: disk full");
	char long_text[3000];
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	cog_error_set(COG_EINVAL, "%s", long_text);
	ck_assert_uint_eq(strlen(cog_error_last()), 1023);
	cog_error_set(COG_OK, NULL);
	ck_assert_int_eq(cog_error_last_code(), COG_ERROR);
	ck_assert_ptr_nonnull(cog_error_last());
}
END_TEST

START_TEST(utf8_validation)
{
	static const struct { const char *s; bool ok; size_t bad; } cases[] = {
		{ "plain ascii", true, 0 },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", true, 0 },
		{ "\xc0\xaf", false, 0 },          /* overlong '/' */
		{ "a\xe0\x80\xaf", false, 1 },      /* overlong 3-byte */
		{ "ab\xed\xa0\x80", false, 2 },     /* surrogate U+D800 */
		{ "\xf4\x90\x80\x80", false, 0 },   /* > U+10FFFF */
		{ "\xf5\x80\x80\x80", false, 0 },
		{ "abc\xc3", false, 3 },            /* truncated */
		{ "\x80", false, 0 },               /* lone continuation */
		{ "\xe2\x28\xa1", false, 0 },       /* bad continuation */
		{ "\xef\xbf\xbf", true, 0 },        /* U+FFFF is allowed */
		{ "\xf4\x8f\xbf\xbf", true, 0 },    /* U+10FFFF */
	};
	for (size_t i = 0; i < COG_ARRAY_LEN(cases); i++) {
		size_t bad = 999;
		bool ok = cog_utf8_valid(cases[i].s, strlen(cases[i].s), &bad);
		ck_assert_msg(ok == cases[i].ok, "case %zu", i);
		if (!ok)
			ck_assert_msg(bad == cases[i].bad, "case %zu: bad at %zu", i, bad);
	}
}
END_TEST

START_TEST(json_validator_accepts)
{
	static const char *const good[] = {
		"0", "-0", "1.5e10", "-1E-2", "true", "false", "null", "\"\"",
		"\"\\u00e9\\ud83d\\ude00\\n\\/\"", "[]", "{}", " [ 1 , { \"a\" : [ ] } ] ",
		"{\"a\":{\"b\":{\"c\":[null,true,false,\"x\"]}}}", "\"caf\xc3\xa9\"",
		"\"\x7f ~ \"", "\"a\\\"b\\\\c\"", "[\"\xe2\x82\xac\\n\xf0\x9f\x98\x80 \xc3\xa9\",\"x\"]",
	};
	for (size_t i = 0; i < COG_ARRAY_LEN(good); i++)
		ck_assert_msg(cog_json_validate(good[i], strlen(good[i]), "t") == 0,
			"%s: %s", good[i], cog_error_last());
}
END_TEST

START_TEST(json_validator_rejects)
{
	static const char *const bad[] = {
		"", " ", "01", "1.", ".5", "+1", "1e", "--1", "tru", "nul", "[", "]",
		"[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{a:1}", "{\"a\":1,}", "{,}",
		"\"unterminated", "\"bad \\x escape\"", "\"\\ud800\"", "\"\\udc00\"",
		"\"\\ud800\\u0041\"", "\"tab\there\"", "[1] [2]", "{} x", "NaN",
		"\"\xc0\xaf\"", "[1 2]", "{\"a\" 1}", "\"\\u12g4\"",
		"\"\xff\"", "\"ok \xe2\x82\"", "\"\xed\xa0\x80\"", "\"a\\\"\xc3\"", "\"\x01\"",
		"[\"\xc3\xa9\", \"x\x80\"]", "\"abc", "\"abc\\", "\"\\q\"",
	};
	for (size_t i = 0; i < COG_ARRAY_LEN(bad); i++) {
		ck_assert_msg(cog_json_validate(bad[i], strlen(bad[i]), "t") == COG_EINVAL,
			"accepted %s", bad[i]);
		ck_assert_msg(strstr(cog_error_last(), "invalid JSON at byte"), "%s",
			cog_error_last());
	}
	/* Embedded NUL: the length decides, not the terminator. */
	ck_assert_int_eq(cog_json_validate("[1]\0", 4, "t"), COG_EINVAL);
}
END_TEST

START_TEST(json_nesting_limit)
{
	char deep[2000];
	size_t n = 0;
	for (int i = 0; i < 512; i++)
		deep[n++] = '[';
	for (int i = 0; i < 512; i++)
		deep[n++] = ']';
	ck_assert_int_eq(cog_json_validate(deep, n, "t"), 0);
	n = 0;
	for (int i = 0; i < 513; i++)
		deep[n++] = '[';
	for (int i = 0; i < 513; i++)
		deep[n++] = ']';
	ck_assert_int_eq(cog_json_validate(deep, n, "t"), COG_EINVAL);
	ck_assert_msg(strstr(cog_error_last(), "512"), "%s", cog_error_last());
	/* A million brackets: no recursion, no crash. */
	size_t big = 1000000;
	char *many = malloc(big);
	memset(many, '[', big);
	ck_assert_int_eq(cog_json_validate(many, big, "t"), COG_EINVAL);
	free(many);
}
END_TEST

START_TEST(json_parse_and_print)
{
	cJSON *j = NULL;
	ck_assert_int_eq(cog_json_parse(&j, "{\"a\":\"x\",\"n\":2}", "doc"), 0);
	ck_assert_str_eq(cog_json_get_string(j, "a"), "x");
	ck_assert_ptr_null(cog_json_get_string(j, "n"));
	ck_assert(cog_json_get_number(j, "n", 0) == 2);
	ck_assert(cog_json_get_number(j, "a", -1) == -1);
	ck_assert_int_eq(cog_json_add_bool(j, "b", true), 0);
	char *text = cog_json_print(j);
	ck_assert_str_eq(text, "{\"a\":\"x\",\"n\":2,\"b\":true}");
	cog_free(text);
	cJSON_Delete(j);
	ck_assert_int_eq(cog_json_parse(&j, "{\"a\":", "plan file"), COG_EINVAL);
	ck_assert_ptr_null(j);
	ck_assert_msg(strncmp(cog_error_last(), "plan file: invalid JSON at byte 5", 33) == 0,
		"%s", cog_error_last());
}
END_TEST

START_TEST(buffer_growth_and_escape)
{
	cog_buf b = COG_BUF_INIT;
	for (int i = 0; i < 10000; i++)
		ck_assert_int_eq(cog_buf_printf(&b, "%d,", i), 0);
	ck_assert_uint_eq(b.len, strlen(b.ptr));
	ck_assert(strncmp(b.ptr, "0,1,2,", 6) == 0);
	cog_buf_clear(&b);
	ck_assert_int_eq(cog_buf_printf(&b, "%0300d", 7), 0); /* > the small buffer */
	ck_assert_uint_eq(b.len, 300);
	cog_buf_clear(&b);
	const char raw[] = "q\"b\\n\n\x01\x1f\xc3\xa9";
	ck_assert_int_eq(cog_buf_put_json_string(&b, raw, sizeof(raw) - 1), 0);
	ck_assert_str_eq(b.ptr, "\"q\\\"b\\\\n\\n\\u0001\\u001f\xc3\xa9\"");
	ck_assert_int_eq(cog_json_validate(b.ptr, b.len, "t"), 0);
	char *out = cog_buf_detach(&b);
	ck_assert_ptr_null(b.ptr);
	cog_free(out);
	out = cog_buf_detach(&b); /* empty buffer detaches to "" */
	ck_assert_str_eq(out, "");
	cog_free(out);
}
END_TEST

START_TEST(clocks)
{
	char text[32];
	cog_clock_format_iso8601(0, text);
	ck_assert_str_eq(text, "1970-01-01T00:00:00.000Z");
	cog_clock_format_iso8601(1795613400123, text);
	ck_assert_str_eq(text, "2026-11-25T13:30:00.123Z");
	cog_clock_format_iso8601(-1, text);
	ck_assert_str_eq(text, "1969-12-31T23:59:59.999Z");
	int64_t wall = cog_clock_realtime_ms();
	ck_assert_int_gt(wall, 1700000000000); /* after 2023 */
	uint64_t t0 = cog_clock_mono_ns();
	cog_clock_sleep_ms(20);
	uint64_t elapsed = cog_clock_mono_ns() - t0;
	ck_assert_uint_ge(elapsed, 20000000);
	ck_assert_uint_lt(elapsed, 2000000000);
}
END_TEST

START_TEST(version_and_features)
{
	ck_assert_str_eq(cog_version(), COG_VERSION_STRING);
	ck_assert_uint_eq(cog_version_number(), COG_VERSION_NUMBER);
	ck_assert(COG_VERSION_CHECK(0, 1, 0));
	ck_assert(!COG_VERSION_CHECK(99, 0, 0));
	ck_assert(cog_features() & COG_FEATURE_THREADS);
}
END_TEST

START_TEST(json_pointer)
{
	cJSON *doc = cJSON_Parse("{\"a\":{\"b/c\":[10,{\"m~n\":true}]},\"\":1,\"x\":null}");
	ck_assert_ptr_nonnull(doc);
	ck_assert_ptr_eq(cog_json_pointer_get(doc, ""), doc);
	ck_assert_int_eq(cog_json_pointer_get(doc, "/a/b~1c/0")->valueint, 10);
	ck_assert(cJSON_IsTrue(cog_json_pointer_get(doc, "/a/b~1c/1/m~0n")));
	ck_assert_int_eq(cog_json_pointer_get(doc, "/")->valueint, 1);
	ck_assert(cJSON_IsNull(cog_json_pointer_get(doc, "/x")));
	const char *none[] = { "a", "/nope", "/a/b~1c/2", "/a/b~1c/01", "/a/b~1c/-1",
		"/a/b~2c", "/a/b~1c/0/deeper", "/x/y", "/a/b~1c/99999999999" };
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
		ck_assert_msg(cog_json_pointer_get(doc, none[i]) == NULL, "%s found", none[i]);
	ck_assert_ptr_null(cog_json_pointer_get(doc, NULL));
	cJSON_Delete(doc);
}
END_TEST

START_TEST(utf8_lossy)
{
	char *s = cog_utf8_lossy("ok\xff\0x\xc3\xa9", 7);
	ck_assert_str_eq(s, "ok\xef\xbf\xbd\xef\xbf\xbdx\xc3\xa9");
	cog_free(s);
	s = cog_utf8_lossy("", 0);
	ck_assert_str_eq(s, "");
	cog_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("unit/core-base");
	TCase *tc = tcase_create("base");
	tcase_add_test(tc, status_texts);
	tcase_add_test(tc, error_last_is_thread_local_and_never_null);
	tcase_add_test(tc, utf8_validation);
	tcase_add_test(tc, json_pointer);
	tcase_add_test(tc, utf8_lossy);
	tcase_add_test(tc, json_validator_accepts);
	tcase_add_test(tc, json_validator_rejects);
	tcase_add_test(tc, json_nesting_limit);
	tcase_add_test(tc, json_parse_and_print);
	tcase_add_test(tc, buffer_growth_and_escape);
	tcase_add_test(tc, clocks);
	tcase_add_test(tc, version_and_features);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
