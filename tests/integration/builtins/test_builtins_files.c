/*
 * file_read, file_write and list_dir through cog_tool_call(), and
 * cog_tool_define_builtins() itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_builtins.h"

/* ---- defining ---- */

START_TEST(test_define_listing)
{
	char *json = NULL;
	cJSON *list;
	const cJSON *tool;
	int count = 0;

	ck_assert_int_eq(cog_tool_list(tb_ctx, NULL, COG_TOOL_FORMAT_COG, &json), 0);
	list = cJSON_Parse(json);
	cog_free(json);
	cJSON_ArrayForEach(tool, list) {
		const char *name = tb_str(tool, "name");
		const cJSON *schema = cJSON_GetObjectItemCaseSensitive(tool, "input_schema");
		ck_assert_msg(cJSON_IsObject(schema), "%s has no input schema", name);
		/* Strict schemas: a model's stray argument is an error it sees. */
		const cJSON *extra = cJSON_GetObjectItemCaseSensitive(schema,
			"additionalProperties");
		ck_assert_msg(cJSON_IsFalse(extra), "%s allows extra arguments", name);
		ck_assert_msg(strlen(tb_str(tool, "description")) > 80,
		              "%s: description too short for a model", name);
		count++;
	}
	cJSON_Delete(list);
	ck_assert_int_eq(count, 6);
}
END_TEST

START_TEST(test_define_pattern_and_exists)
{
	cog_ctx *ctx = NULL;

	ck_assert_int_eq(cog_ctx_new(&ctx, NULL), 0);
	ck_assert_int_eq(cog_tool_define_builtins(ctx, "file_*"), 0);
	char *json = NULL;
	ck_assert_int_eq(cog_tool_list(ctx, NULL, COG_TOOL_FORMAT_COG, &json), 0);
	cJSON *list = cJSON_Parse(json);
	cog_free(json);
	ck_assert_int_eq(cJSON_GetArraySize(list), 2);
	cJSON_Delete(list);
	/* Again with a wider pattern: the two are in the way and named; the
	 * others are defined. */
	ck_assert_int_eq(cog_tool_define_builtins(ctx, "*"), COG_EEXISTS);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "file_read"));
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "file_write"));
	ck_assert_ptr_null(strstr(cog_error_last(), "shell,"));
	ck_assert_int_eq(cog_tool_list(ctx, NULL, COG_TOOL_FORMAT_COG, &json), 0);
	list = cJSON_Parse(json);
	cog_free(json);
	ck_assert_int_eq(cJSON_GetArraySize(list), 6);
	cJSON_Delete(list);
	/* A pattern that names nothing is a mistake worth reporting. */
	ck_assert_int_eq(cog_tool_define_builtins(ctx, "file-read"), COG_ENOTFOUND);
	ck_assert_int_eq(cog_tool_define_builtins(NULL, NULL), COG_EINVAL);
	cog_ctx_free(ctx);
}
END_TEST

TCase *tb_define_tcase(void)
{
	TCase *tc = tcase_create("define");

	tcase_add_checked_fixture(tc, tb_setup, tb_teardown);
	tcase_add_test(tc, test_define_listing);
	tcase_add_test(tc, test_define_pattern_and_exists);
	return tc;
}

/* ---- file_read ---- */

START_TEST(test_read_text)
{
	tb_write(tb_ws, "a.txt", "h\xc3\xa9llo\nworld", 12);
	cJSON *r = tb_ok("file_read", "{\"path\":\"a.txt\"}", NULL);
	ck_assert_str_eq(tb_str(r, "content"), "h\xc3\xa9llo\nworld");
	ck_assert_str_eq(tb_str(r, "encoding"), "utf-8");
	ck_assert_str_eq(tb_str(r, "path"), "a.txt");
	ck_assert_int_eq((int)tb_num(r, "size"), 12);
	ck_assert_int_eq((int)tb_num(r, "length"), 12);
	ck_assert(!tb_bool(r, "truncated"));
	ck_assert(tb_bool(r, "eof"));
	cJSON_Delete(r);

	r = tb_ok("file_read", "{\"path\":\"a.txt\",\"offset\":7,\"length\":3}", NULL);
	ck_assert_str_eq(tb_str(r, "content"), "wor");
	ck_assert(!tb_bool(r, "truncated"));
	ck_assert(!tb_bool(r, "eof"));
	cJSON_Delete(r);

	r = tb_ok("file_read", "{\"path\":\"a.txt\",\"offset\":100}", NULL);
	ck_assert_str_eq(tb_str(r, "content"), "");
	ck_assert(tb_bool(r, "eof"));
	cJSON_Delete(r);
}
END_TEST

START_TEST(test_read_binary_base64)
{
	tb_write(tb_ws, "bin", "\x00\xff\x10" "abc", 6);
	cJSON *r = tb_ok("file_read", "{\"path\":\"bin\"}", NULL);
	ck_assert_str_eq(tb_str(r, "encoding"), "base64");
	ck_assert_str_eq(tb_str(r, "content"), "AP8QYWJj");
	cJSON_Delete(r);
}
END_TEST

START_TEST(test_read_large_truncated)
{
	size_t size = 3 * 1024 * 1024;
	char *big = malloc(size);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', size);
	/* Characters that JSON escapes take more room: the cap counts them. */
	for (size_t i = 0; i < size; i += 100)
		big[i] = '\n';
	tb_write(tb_ws, "big.txt", big, size);
	free(big);

	char *result = NULL;
	ck_assert_int_eq(tb_call("file_read", "{\"path\":\"big.txt\"}", NULL, &result), 0);
	ck_assert_uint_le(strlen(result), 1024 * 1024);
	cJSON *r = cJSON_Parse(result);
	cog_free(result);
	ck_assert(tb_bool(r, "truncated"));
	ck_assert(!tb_bool(r, "eof"));
	ck_assert_int_eq((int)tb_num(r, "size"), (int)size);
	double length = tb_num(r, "length");
	ck_assert(length > 900 * 1024 && length < 1024 * 1024);
	ck_assert_uint_eq(strlen(tb_str(r, "content")), (size_t)length);
	cJSON_Delete(r);
}
END_TEST

START_TEST(test_read_escapes_refused)
{
	tb_symlink("/etc/passwd", "passwd");
	tb_symlink(tb_out, "outdir");
	tb_symlink("passwd", "chain1");
	tb_symlink("chain1", "chain2");
	tb_fails("file_read", "{\"path\":\"../outside/secret\"}", NULL,
	         COG_EDENIED, "denied", "../outside/secret");
	tb_fails("file_read", "{\"path\":\"/etc/passwd\"}", NULL,
	         COG_EDENIED, "denied", "/etc/passwd");
	tb_fails("file_read", "{\"path\":\"a/../../x\"}", NULL,
	         COG_EDENIED, "denied", "a/../../x");
	tb_fails("file_read", "{\"path\":\"passwd\"}", NULL,
	         COG_EDENIED, "denied", "leaves the workspace");
	tb_fails("file_read", "{\"path\":\"outdir/secret\"}", NULL,
	         COG_EDENIED, "denied", "outdir/secret");
	tb_fails("file_read", "{\"path\":\"chain2\"}", NULL,
	         COG_EDENIED, "denied", "chain2");
}
END_TEST

START_TEST(test_read_errors)
{
	char dir[PATH_MAX];
	tb_path(dir, tb_ws, "d");
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	tb_fails("file_read", "{\"path\":\"missing.txt\"}", NULL,
	         COG_ENOTFOUND, "tool_error", "missing.txt");
	tb_fails("file_read", "{\"path\":\"d\"}", NULL,
	         COG_EUSER, "tool_error", "list_dir");
	/* A FIFO would block a reader forever: refused, at once. */
	char fifo[PATH_MAX];
	tb_path(fifo, tb_ws, "fifo");
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	tb_fails("file_read", "{\"path\":\"fifo\"}", NULL,
	         COG_EUSER, "tool_error", "not a regular file");
	/* No workspace for the call. */
	tb_fails_in(tb_ctx, "file_read", "{\"path\":\"a.txt\"}", NULL, NULL,
	            COG_EDENIED, "denied", "no workspace granted");
}
END_TEST

START_TEST(test_schema_rejects_before_runner)
{
	/* Wrong type, unknown member, out-of-range value, missing member:
	 * rejected by the schema, the runner never runs (nothing written). */
	tb_fails("file_read", "{\"path\":5}", NULL, COG_ESCHEMA,
	         "invalid_arguments", NULL);
	tb_fails("file_read", "{\"path\":\"a\",\"offset\":-1}", NULL, COG_ESCHEMA,
	         "invalid_arguments", NULL);
	tb_fails("file_write", "{\"path\":\"new.txt\",\"content\":\"x\","
	         "\"mode\":\"0777\"}", NULL, COG_ESCHEMA, "invalid_arguments", NULL);
	tb_fails("file_write", "{\"path\":\"new.txt\"}", NULL, COG_ESCHEMA,
	         "invalid_arguments", NULL);
	tb_fails("file_write", "{\"path\":\"new.txt\",\"content\":\"x\","
	         "\"encoding\":\"hex\"}", NULL, COG_ESCHEMA, "invalid_arguments",
	         NULL);
	tb_fails("list_dir", "{\"max_entries\":0}", NULL, COG_ESCHEMA,
	         "invalid_arguments", NULL);
	tb_fails("file_read", "{\"path\":\"\"}", NULL, COG_ESCHEMA,
	         "invalid_arguments", NULL);
	ck_assert_ptr_null(tb_read(tb_ws, "new.txt", NULL));
}
END_TEST

/* ---- file_write ---- */

START_TEST(test_write_and_read_back)
{
	cJSON *r = tb_ok("file_write", "{\"path\":\"out.txt\",\"content\":\"one\\n\"}",
	                 NULL);
	ck_assert_str_eq(tb_str(r, "path"), "out.txt");
	ck_assert_int_eq((int)tb_num(r, "bytes_written"), 4);
	cJSON_Delete(r);
	char *data = tb_read(tb_ws, "out.txt", NULL);
	ck_assert_str_eq(data, "one\n");
	free(data);

	/* Replace: atomic, mode kept, no temporary file left behind. */
	char path[PATH_MAX];
	tb_path(path, tb_ws, "out.txt");
	ck_assert_int_eq(chmod(path, 0640), 0);
	r = tb_ok("file_write", "{\"path\":\"out.txt\",\"content\":\"two\"}", NULL);
	cJSON_Delete(r);
	data = tb_read(tb_ws, "out.txt", NULL);
	ck_assert_str_eq(data, "two");
	free(data);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);

	r = tb_ok("file_write", "{\"path\":\"out.txt\",\"content\":\"+3\","
	          "\"append\":true}", NULL);
	cJSON_Delete(r);
	data = tb_read(tb_ws, "out.txt", NULL);
	ck_assert_str_eq(data, "two+3");
	free(data);

	r = tb_ok("list_dir", "{}", NULL);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "entries")), 1);
	cJSON_Delete(r);
}
END_TEST

START_TEST(test_write_base64_and_dirs)
{
	cJSON *r = tb_ok("file_write", "{\"path\":\"a/b/c.bin\",\"content\":"
	                 "\"AP8QYWJj\",\"encoding\":\"base64\",\"create_dirs\":true}",
	                 NULL);
	ck_assert_int_eq((int)tb_num(r, "bytes_written"), 6);
	cJSON_Delete(r);
	size_t len = 0;
	char *data = tb_read(tb_ws, "a/b/c.bin", &len);
	ck_assert_uint_eq(len, 6);
	ck_assert_int_eq(memcmp(data, "\x00\xff\x10" "abc", 6), 0);
	free(data);
	tb_fails("file_write", "{\"path\":\"x/y.txt\",\"content\":\"\"}", NULL,
	         COG_ENOTFOUND, "tool_error", "create_dirs");
	tb_fails("file_write", "{\"path\":\"z.bin\",\"content\":\"@@\","
	         "\"encoding\":\"base64\"}", NULL, COG_EUSER, "tool_error",
	         "base64");
	tb_fails("file_write", "{\"path\":\"a/b\",\"content\":\"x\"}", NULL,
	         COG_EUSER, "tool_error", "is a directory");
	tb_fails("file_write", "{\"path\":\"a/\",\"content\":\"x\"}", NULL,
	         COG_EUSER, "tool_error", "does not name a file");
}
END_TEST

START_TEST(test_write_escapes_refused)
{
	char *before = tb_read(tb_out, "secret", NULL);

	tb_symlink("../outside/secret", "to-secret");
	tb_symlink(tb_out, "outdir");
	tb_fails("file_write", "{\"path\":\"to-secret\",\"content\":\"pwned\"}",
	         NULL, COG_EDENIED, "denied", "leaves the workspace");
	tb_fails("file_write", "{\"path\":\"to-secret\",\"content\":\"pwned\","
	         "\"append\":true}", NULL, COG_EDENIED, "denied", "to-secret");
	tb_fails("file_write", "{\"path\":\"outdir/new\",\"content\":\"pwned\"}",
	         NULL, COG_EDENIED, "denied", "outdir");
	tb_fails("file_write", "{\"path\":\"outdir/sub/new\",\"content\":\"x\","
	         "\"create_dirs\":true}", NULL, COG_EDENIED, "denied", "outdir");
	tb_fails("file_write", "{\"path\":\"../outside/secret\",\"content\":\"x\"}",
	         NULL, COG_EDENIED, "denied", "..");
	tb_fails("file_write", "{\"path\":\"/tmp/x\",\"content\":\"x\"}",
	         NULL, COG_EDENIED, "denied", "absolute");
	char *after = tb_read(tb_out, "secret", NULL);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	char path[PATH_MAX];
	struct stat st;
	tb_path(path, tb_out, "new");
	ck_assert_int_ne(stat(path, &st), 0);
	tb_path(path, tb_out, "sub");
	ck_assert_int_ne(stat(path, &st), 0);
}
END_TEST

START_TEST(test_write_through_inside_symlink)
{
	tb_write(tb_ws, "target.txt", "old", 3);
	tb_symlink("target.txt", "alias");
	cJSON *r = tb_ok("file_write", "{\"path\":\"alias\",\"content\":\"new\"}", NULL);
	cJSON_Delete(r);
	char *data = tb_read(tb_ws, "target.txt", NULL);
	ck_assert_str_eq(data, "new");
	free(data);
	struct stat st;
	char path[PATH_MAX];
	tb_path(path, tb_ws, "alias");
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
}
END_TEST

/* ---- list_dir ---- */

START_TEST(test_list_dir)
{
	char path[PATH_MAX];

	tb_write(tb_ws, "b.txt", "12345", 5);
	tb_write(tb_ws, "a.txt", "1", 1);
	tb_path(path, tb_ws, "sub");
	ck_assert_int_eq(mkdir(path, 0700), 0);
	tb_write(tb_ws, "sub/deep.txt", "x", 1);
	tb_symlink(tb_out, "outlink");

	cJSON *r = tb_ok("list_dir", "{}", NULL);
	const cJSON *entries = cJSON_GetObjectItem(r, "entries");
	ck_assert_int_eq(cJSON_GetArraySize(entries), 4);
	const char *names[] = { "a.txt", "b.txt", "outlink", "sub" };
	const char *types[] = { "file", "file", "symlink", "dir" };
	for (int i = 0; i < 4; i++) {
		const cJSON *e = cJSON_GetArrayItem(entries, i);
		ck_assert_str_eq(tb_str(e, "name"), names[i]);
		ck_assert_str_eq(tb_str(e, "type"), types[i]);
	}
	ck_assert_int_eq((int)tb_num(cJSON_GetArrayItem(entries, 1), "size"), 5);
	ck_assert(!tb_bool(r, "truncated"));
	cJSON_Delete(r);

	/* Recursive: the symlinked directory (outside) is not entered. */
	r = tb_ok("list_dir", "{\"recursive\":true}", NULL);
	entries = cJSON_GetObjectItem(r, "entries");
	ck_assert_int_eq(cJSON_GetArraySize(entries), 5);
	ck_assert_str_eq(tb_str(cJSON_GetArrayItem(entries, 4), "name"), "sub/deep.txt");
	cJSON_Delete(r);

	r = tb_ok("list_dir", "{\"recursive\":true,\"max_entries\":2}", NULL);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "entries")), 2);
	ck_assert(tb_bool(r, "truncated"));
	cJSON_Delete(r);

	r = tb_ok("list_dir", "{\"path\":\"sub\"}", NULL);
	ck_assert_str_eq(tb_str(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "entries"),
	                                           0), "name"), "deep.txt");
	cJSON_Delete(r);

	tb_fails("list_dir", "{\"path\":\"outlink\"}", NULL, COG_EDENIED, "denied",
	         "outlink");
	tb_fails("list_dir", "{\"path\":\"..\"}", NULL, COG_EDENIED, "denied", "..");
	tb_fails("list_dir", "{\"path\":\"a.txt\"}", NULL, COG_EUSER, "tool_error",
	         "a.txt");
}
END_TEST

TCase *tb_files_tcase(void)
{
	TCase *tc = tcase_create("files");

	tcase_add_checked_fixture(tc, tb_setup, tb_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_read_text);
	tcase_add_test(tc, test_read_binary_base64);
	tcase_add_test(tc, test_read_large_truncated);
	tcase_add_test(tc, test_read_escapes_refused);
	tcase_add_test(tc, test_read_errors);
	tcase_add_test(tc, test_schema_rejects_before_runner);
	tcase_add_test(tc, test_write_and_read_back);
	tcase_add_test(tc, test_write_base64_and_dirs);
	tcase_add_test(tc, test_write_escapes_refused);
	tcase_add_test(tc, test_write_through_inside_symlink);
	tcase_add_test(tc, test_list_dir);
	return tc;
}
