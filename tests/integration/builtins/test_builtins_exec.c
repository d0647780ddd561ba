/*
 * python and shell through cog_tool_call(), in the real sandbox. Where the
 * kernel offers no namespaces the calls opt into running unsandboxed (and
 * one case checks that without the opt-in they are unavailable).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_builtins.h"

static int sandbox_missing;      /* no namespaces here */

static void exec_setup(void)
{
	char *probe = NULL;

	tb_setup();
	ck_assert_int_eq(cog_sandbox_probe(&probe), 0);
	cJSON *p = cJSON_Parse(probe);
	sandbox_missing = !cJSON_IsTrue(cJSON_GetObjectItem(p, "namespaces"));
	cJSON_Delete(p);
	cog_free(probe);
}

static int run_call(const char *tool, const char *args, const char *hosts,
                    unsigned int timeout_ms, char **result)
{
	cog_tool_call_options options = COG_TOOL_CALL_OPTIONS_INIT;

	options.workspace = tb_ws;
	options.allowed_hosts = hosts;
	options.timeout_ms = timeout_ms;
	options.allow_unsandboxed = sandbox_missing;
	*result = NULL;
	return cog_tool_call(tb_ctx, tool, args, &options, result);
}

static cJSON *run_ok(const char *tool, const char *args)
{
	char *result = NULL;
	int rc = run_call(tool, args, NULL, 0, &result);

	ck_assert_msg(rc == 0, "%s %s: %d %s | %s", tool, args, rc, cog_error_last(),
	              result != NULL ? result : "");
	cJSON *r = cJSON_Parse(result);
	cog_free(result);
	ck_assert_ptr_nonnull(r);
	return r;
}

START_TEST(test_python_runs)
{
	cJSON *r = run_ok("python", "{\"code\":\"import sys\\nprint('hi', "
	                  "sys.argv[1:], sys.stdin.read())\",\"args\":[\"a\",\"b\"],"
	                  "\"stdin\":\"in\"}");
	ck_assert_str_eq(tb_str(r, "stdout"), "hi ['a', 'b'] in\n");
	ck_assert_int_eq((int)tb_num(r, "exit_code"), 0);
	ck_assert_int_eq((int)tb_num(r, "signal"), 0);
	ck_assert(!tb_bool(r, "timed_out"));
	ck_assert(!tb_bool(r, "truncated"));
	cJSON_Delete(r);
}
END_TEST

START_TEST(test_python_failure_is_a_result)
{
	cJSON *r = run_ok("python", "{\"code\":\"raise SystemExit('boom')\"}");
	ck_assert_int_eq((int)tb_num(r, "exit_code"), 1);
	ck_assert_ptr_nonnull(strstr(tb_str(r, "stderr"), "boom"));
	cJSON_Delete(r);
}
END_TEST

START_TEST(test_python_writes_workspace)
{
	cJSON *r = run_ok("python", "{\"code\":\"open('made.txt','w').write('by py')\"}");
	ck_assert_int_eq((int)tb_num(r, "exit_code"), 0);
	cJSON_Delete(r);
	char *data = tb_read(tb_ws, "made.txt", NULL);
	ck_assert_ptr_nonnull(data);
	ck_assert_str_eq(data, "by py");
	free(data);
}
END_TEST

START_TEST(test_shell_forms)
{
	cJSON *r = run_ok("shell", "{\"argv\":[\"echo\",\"a b\"]}");
	ck_assert_str_eq(tb_str(r, "stdout"), "a b\n");
	cJSON_Delete(r);
	r = run_ok("shell", "{\"command\":\"echo $((1+2)); exit 3\"}");
	ck_assert_str_eq(tb_str(r, "stdout"), "3\n");
	ck_assert_int_eq((int)tb_num(r, "exit_code"), 3);
	cJSON_Delete(r);
	r = run_ok("shell", "{\"command\":\"cat\",\"stdin\":\"piped\"}");
	ck_assert_str_eq(tb_str(r, "stdout"), "piped");
	cJSON_Delete(r);
	r = run_ok("file_write", "{\"path\":\"sub/here.txt\",\"content\":\"x\","
	           "\"create_dirs\":true}");
	cJSON_Delete(r);
	r = run_ok("shell", "{\"argv\":[\"ls\"],\"cwd\":\"sub\"}");
	ck_assert_str_eq(tb_str(r, "stdout"), "here.txt\n");
	cJSON_Delete(r);
}
END_TEST

START_TEST(test_shell_arguments_checked)
{
	/* argv and command together, or neither: the schema's oneOf. */
	tb_fails("shell", "{\"argv\":[\"ls\"],\"command\":\"ls\"}", NULL,
	         COG_ESCHEMA, "invalid_arguments", NULL);
	tb_fails("shell", "{}", NULL, COG_ESCHEMA, "invalid_arguments", NULL);
	tb_fails("shell", "{\"argv\":[]}", NULL, COG_ESCHEMA, "invalid_arguments",
	         NULL);
	tb_fails("python", "{\"code\":\"print(1)\",\"network\":true}", NULL,
	         COG_ESCHEMA, "invalid_arguments", NULL);
	char *result = NULL;
	int rc = run_call("shell", "{\"argv\":[\"ls\"],\"cwd\":\"../outside\"}",
	                  NULL, 0, &result);
	ck_assert_int_eq(rc, COG_EDENIED);
	cog_free(result);
	tb_symlink(tb_out, "outdir");
	rc = run_call("shell", "{\"argv\":[\"ls\"],\"cwd\":\"outdir\"}", NULL, 0,
	              &result);
	ck_assert_int_eq(rc, COG_EDENIED);
	cog_free(result);
}
END_TEST

START_TEST(test_timeout)
{
	char *result = NULL;
	int rc = run_call("python", "{\"code\":\"while True: pass\"}", NULL, 1000,
	                  &result);

	ck_assert_msg(rc == COG_ETIMEOUT, "%d %s", rc, cog_error_last());
	ck_assert_ptr_nonnull(strstr(result, "\"timeout\""));
	cog_free(result);
}
END_TEST

START_TEST(test_no_network_without_grant)
{
	if (sandbox_missing)
		return;   /* unsandboxed programs share the host's network */
	cJSON *r = run_ok("python", "{\"code\":\"import socket\\n"
	                  "s=socket.socket()\\ns.settimeout(2)\\n"
	                  "print(s.connect_ex(('1.1.1.1',80)))\"}");
	ck_assert_str_ne(tb_str(r, "stdout"), "0\n");
	cJSON_Delete(r);
}
END_TEST

START_TEST(test_unavailable_without_opt_in)
{
	if (!sandbox_missing)
		return;
	char *result = NULL;
	cog_tool_call_options options = COG_TOOL_CALL_OPTIONS_INIT;
	options.workspace = tb_ws;
	int rc = cog_tool_call(tb_ctx, "shell", "{\"argv\":[\"true\"]}", &options,
	                       &result);
	ck_assert_int_eq(rc, COG_EUNAVAILABLE);
	cog_free(result);
}
END_TEST

TCase *tb_exec_tcase(void)
{
	TCase *tc = tcase_create("exec");

	tcase_add_checked_fixture(tc, exec_setup, tb_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_python_runs);
	tcase_add_test(tc, test_python_failure_is_a_result);
	tcase_add_test(tc, test_python_writes_workspace);
	tcase_add_test(tc, test_shell_forms);
	tcase_add_test(tc, test_shell_arguments_checked);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_no_network_without_grant);
	tcase_add_test(tc, test_unavailable_without_opt_in);
	return tc;
}
