/*
 * The NDJSON reader (lib/llm/ndjson.c): line ends, blank lines, the last
 * line without its LF, every way of cutting a stream into feeds, a
 * callback that stops the reader, max_line, and Ollama's recorded stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "llm_int.h"
#include "wire_file.h"

#define S(lit) lit, sizeof(lit) - 1

/* Lines written out as "len:line\n" so that runs compare as strings. */
typedef struct lines {
	cog_buf log;
	unsigned int count;
	unsigned int stop_at;
	int stop_status;
} lines;

static int collect(const char *line, size_t len, void *user_data)
{
	lines *l = user_data;
	ck_assert(line[len] == '\0'); /* the reader promises C strings */
	cog_buf_printf(&l->log, "%zu:", len);
	cog_buf_put(&l->log, line, len);
	cog_buf_putc(&l->log, '\n');
	ck_assert(!l->log.failed);
	l->count++;
	return l->stop_at && l->count >= l->stop_at ? l->stop_status : 0;
}

static void lines_init(lines *l)
{
	memset(l, 0, sizeof(*l));
	cog_buf_puts(&l->log, "");
}

/* Feed s cut at `cut` and again at `cut2` (both clamped), then finish. */
static int run_cut(const char *s, size_t len, size_t cut, size_t cut2,
                   size_t max_line, lines *l)
{
	llm_ndjson nd;
	llm_ndjson_init(&nd, collect, l);
	nd.max_line = max_line;
	cut = cut < len ? cut : len;
	cut2 = cut2 < cut ? cut : cut2 < len ? cut2 : len;
	int rc = llm_ndjson_feed(&nd, s, cut);
	if (!rc)
		rc = llm_ndjson_feed(&nd, s + cut, cut2 - cut);
	if (!rc)
		rc = llm_ndjson_feed(&nd, s + cut2, len - cut2);
	int fin = llm_ndjson_finish(&nd);
	if (rc)
		ck_assert_int_eq(fin, rc);
	llm_ndjson_dispose(&nd);
	return rc ? rc : fin;
}

static int run_bytes(const char *s, size_t len, size_t max_line, lines *l)
{
	llm_ndjson nd;
	llm_ndjson_init(&nd, collect, l);
	nd.max_line = max_line;
	int rc = 0;
	for (size_t i = 0; i < len && !rc; i++)
		rc = llm_ndjson_feed(&nd, s + i, 1);
	int fin = llm_ndjson_finish(&nd);
	if (rc)
		ck_assert_int_eq(fin, rc);
	llm_ndjson_dispose(&nd);
	return rc ? rc : fin;
}

/* Whole, byte by byte, and cut in three at every pair of points (short
 * streams) or in two at every point (long ones). */
static void expect_lines(const char *s, size_t len, const char *want)
{
	lines l;
	lines_init(&l);
	ck_assert_int_eq(run_bytes(s, len, 0, &l), 0);
	ck_assert_msg(strcmp(l.log.ptr, want) == 0, "bytes: got\n%s\nwant\n%s", l.log.ptr, want);
	cog_buf_dispose(&l.log);
	for (size_t a = 0; a <= len; a++) {
		for (size_t b = a; b <= len; b += len < 64 ? 1 : len + 1) {
			lines_init(&l);
			ck_assert_int_eq(run_cut(s, len, a, b, 0, &l), 0);
			ck_assert_msg(strcmp(l.log.ptr, want) == 0, "cut %zu,%zu: got\n%s\nwant\n%s",
			              a, b, l.log.ptr, want);
			cog_buf_dispose(&l.log);
		}
	}
}

START_TEST(test_lines)
{
	expect_lines(S("{\"a\":1}\n{\"b\":2}\n"), "7:{\"a\":1}\n7:{\"b\":2}\n");
	expect_lines(S("{\"a\":1}\r\n{\"b\":2}\r\n"), "7:{\"a\":1}\n7:{\"b\":2}\n");
	/* Only a CR right before the LF goes; others stay. */
	expect_lines(S("a\rb\r\r\n"), "4:a\rb\r\n");
	/* Whitespace around content is left alone. */
	expect_lines(S("  {}\t\n"), "5:  {}\t\n");
	expect_lines(S(""), "");
}
END_TEST

START_TEST(test_blank_lines_skipped)
{
	expect_lines(S("\n\n{}\n\r\n  \n\t \r\n\n[]\n \n"), "2:{}\n2:[]\n");
	expect_lines(S("\r\n"), "");
	expect_lines(S("  "), "");
	expect_lines(S(" \r"), "");
}
END_TEST

START_TEST(test_last_line_without_lf)
{
	expect_lines(S("{\"a\":1}\n{\"b\":2}"), "7:{\"a\":1}\n7:{\"b\":2}\n");
	expect_lines(S("{\"b\":2}\r"), "7:{\"b\":2}\n");
	/* finish twice delivers it once; the reader then starts afresh. */
	lines l;
	lines_init(&l);
	llm_ndjson nd;
	llm_ndjson_init(&nd, collect, &l);
	ck_assert_int_eq(llm_ndjson_feed(&nd, S("1\n2")), 0);
	ck_assert_int_eq(llm_ndjson_feed(&nd, NULL, 0), 0);
	ck_assert_int_eq(llm_ndjson_finish(&nd), 0);
	ck_assert_int_eq(llm_ndjson_finish(&nd), 0);
	ck_assert_int_eq(llm_ndjson_feed(&nd, S("3\n")), 0);
	ck_assert_int_eq(llm_ndjson_finish(&nd), 0);
	ck_assert_str_eq(l.log.ptr, "1:1\n1:2\n1:3\n");
	llm_ndjson_dispose(&nd);
	cog_buf_dispose(&l.log);
}
END_TEST

START_TEST(test_nul_in_line)
{
	expect_lines(S("a\0b\n"), "3:a\0b\n");
}
END_TEST

START_TEST(test_callback_stops)
{
	for (int bytes = 0; bytes < 2; bytes++) {
		lines l;
		lines_init(&l);
		l.stop_at = 2;
		l.stop_status = COG_ECANCELED;
		int rc = bytes ? run_bytes(S("1\n2\n3\n"), 0, &l) : run_cut(S("1\n2\n3\n"), 99, 99, 0, &l);
		ck_assert_int_eq(rc, COG_ECANCELED);
		ck_assert_str_eq(l.log.ptr, "1:1\n1:2\n");
		cog_buf_dispose(&l.log);
	}
	/* Sticky: later feeds do nothing, finish repeats the status. */
	lines l;
	lines_init(&l);
	l.stop_at = 1;
	l.stop_status = COG_EUSER;
	llm_ndjson nd;
	llm_ndjson_init(&nd, collect, &l);
	ck_assert_int_eq(llm_ndjson_feed(&nd, S("1\n")), COG_EUSER);
	ck_assert_int_eq(llm_ndjson_feed(&nd, S("2\n")), COG_EUSER);
	ck_assert_int_eq(llm_ndjson_finish(&nd), COG_EUSER);
	ck_assert_uint_eq(l.count, 1);
	llm_ndjson_dispose(&nd);
	cog_buf_dispose(&l.log);
	/* A last line's callback failing at finish. */
	lines_init(&l);
	l.stop_at = 1;
	l.stop_status = COG_EUSER;
	ck_assert_int_eq(run_cut(S("last"), 2, 2, 0, &l), COG_EUSER);
	cog_buf_dispose(&l.log);
}
END_TEST

START_TEST(test_max_line)
{
	for (int bytes = 0; bytes < 2; bytes++) {
		lines l;
		lines_init(&l);
		static const char ok[] = "0123456789abcdef\n";
		ck_assert_int_eq(bytes ? run_bytes(S(ok), 16, &l) : run_cut(S(ok), 5, 9, 16, &l), 0);
		ck_assert_str_eq(l.log.ptr, "16:0123456789abcdef\n");
		cog_buf_dispose(&l.log);

		lines_init(&l);
		static const char bad[] = "1\n0123456789abcdefg\n2\n";
		ck_assert_int_eq(bytes ? run_bytes(S(bad), 16, &l) : run_cut(S(bad), 99, 99, 16, &l),
		                 COG_ERANGE);
		ck_assert_str_eq(l.log.ptr, "1:1\n");
		ck_assert_ptr_nonnull(strstr(cog_error_last(), "ndjson"));
		ck_assert_ptr_nonnull(strstr(cog_error_last(), "max_line"));
		cog_buf_dispose(&l.log);

		/* A line that never ends cannot grow past the limit. */
		lines_init(&l);
		static const char endless[] = "0123456789abcdefg";
		ck_assert_int_eq(bytes ? run_bytes(S(endless), 16, &l)
		                       : run_cut(S(endless), 99, 99, 16, &l), COG_ERANGE);
		ck_assert_uint_eq(l.count, 0);
		cog_buf_dispose(&l.log);
	}
}
END_TEST

START_TEST(test_ollama_stream)
{
	size_t size;
	char *stream = wire_file("ollama_api_chat_stream.ndjson", &size);

	lines l;
	lines_init(&l);
	ck_assert_int_eq(run_cut(stream, size, size, size, 0, &l), 0);
	ck_assert_uint_eq(l.count, 2);
	/* Each line is one JSON object; the last says done. */
	const char *p = l.log.ptr;
	for (unsigned int i = 0; i < 2; i++) {
		char *end;
		size_t len = strtoul(p, &end, 10);
		cJSON *chunk = cJSON_ParseWithLength(end + 1, len);
		ck_assert_ptr_nonnull(chunk);
		ck_assert_str_eq(cJSON_GetObjectItem(chunk, "model")->valuestring, "llama3.2");
		ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(chunk, "done")) == (i == 1));
		if (i == 0)
			ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(chunk, "message"),
			                                     "content")->valuestring, "The");
		cJSON_Delete(chunk);
		p = end + 1 + len + 1;
	}
	expect_lines(stream, size, l.log.ptr);
	/* The same with CRLF line ends and without the last LF. */
	cog_buf crlf = COG_BUF_INIT;
	for (size_t i = 0; i < size; i++)
		cog_buf_puts(&crlf, stream[i] == '\n' ? "\r\n" : (char[]){ stream[i], 0 });
	expect_lines(crlf.ptr, crlf.len, l.log.ptr);
	expect_lines(stream, size - 1, l.log.ptr);
	cog_buf_dispose(&crlf);
	cog_buf_dispose(&l.log);
	free(stream);
}
END_TEST

static Suite *ndjson_suite(void)
{
	Suite *s = suite_create("llm-ndjson");
	TCase *tc = tcase_create("reader");
	tcase_add_test(tc, test_lines);
	tcase_add_test(tc, test_blank_lines_skipped);
	tcase_add_test(tc, test_last_line_without_lf);
	tcase_add_test(tc, test_nul_in_line);
	tcase_add_test(tc, test_callback_stops);
	tcase_add_test(tc, test_max_line);
	tcase_add_test(tc, test_ollama_stream);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ndjson_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
