/*
 * cog_sandbox_run(): what a program sees and what the caller gets back.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <linux/capability.h>
#include <unistd.h>

#include "sandbox_test.h"

START_TEST(exit_codes_and_signals)
{
	cog_sandbox_options o;
	sbt_sh_options(&o, "echo out; echo err >&2; exit 7");
	cog_sandbox_result r;
	sbt_run_ok(&o, &r);
	ck_assert_int_eq(r.exit_code, 7);
	ck_assert_int_eq(r.signal, 0);
	ck_assert_str_eq(r.out, "out\n");
	ck_assert_str_eq(r.err, "err\n");
	ck_assert_uint_eq(r.out_len, 4);
	ck_assert_int_eq(r.sandboxed, 1);
	ck_assert_int_eq(r.timed_out, 0);
	cog_sandbox_result_dispose(&r);
	ck_assert_ptr_null(r.out);
	ck_assert_uint_eq(r.version, COG_SANDBOX_RESULT_VERSION);

	/* A crash (a forced signal: pid 1 of the namespace ignores signals it
	 * sends itself, not faults). */
	sbt_require_python3();
	const char *argv[] = { "python3", "-c", "import ctypes; ctypes.string_at(0)", NULL };
	cog_sandbox_options_init(&o, COG_SANDBOX_OPTIONS_VERSION);
	o.argv = argv;
	o.timeout_ms = 20000;
	sbt_run_ok(&o, &r);
	ck_assert_int_eq(r.exit_code, -1);
	ck_assert_int_eq(r.signal, SIGSEGV);
	cog_sandbox_result_dispose(&r);

	/* A signal to a child is reported by the shell as usual. */
	sbt_sh_options(&o, "sh -c 'kill -TERM $$'; echo status $?");
	sbt_run_ok(&o, &r);
	ck_assert_str_eq(r.out, "status 143\n");
	cog_sandbox_result_dispose(&r);
}
END_TEST

START_TEST(stdin_delivered)
{
	cog_sandbox_options o;
	sbt_sh_options(&o, "cat");
	o.stdin_data = "hello\0world";
	o.stdin_len = 11;
	cog_sandbox_result r;
	sbt_run_ok(&o, &r);
	ck_assert_uint_eq(r.out_len, 11);
	ck_assert_int_eq(memcmp(r.out, "hello\0world", 11), 0);
	cog_sandbox_result_dispose(&r);

	/* More than a pipe holds, both ways at once. */
	size_t big = 3u << 20;
	char *data = malloc(big);
	ck_assert_ptr_nonnull(data);
	memset(data, 'a', big);
	sbt_sh_options(&o, "cat; echo; wc -c </dev/null >&2");
	o.stdin_data = data;
	o.stdin_len = big;
	o.max_output_bytes = 8u << 20;
	sbt_run_ok(&o, &r);
	ck_assert_uint_eq(r.out_len, big + 1);
	ck_assert_int_eq(r.out_truncated, 0);
	cog_sandbox_result_dispose(&r);

	/* A program that never reads its input does not hang us, and the
	 * EPIPE does not kill us (SIGPIPE stays default in this process). */
	signal(SIGPIPE, SIG_DFL);
	sbt_sh_options(&o, "exit 3");
	o.stdin_data = data;
	o.stdin_len = big;
	uint64_t t0 = sbt_now_ms();
	sbt_run_ok(&o, &r);
	ck_assert_int_eq(r.exit_code, 3);
	ck_assert_msg(sbt_now_ms() - t0 < 5000, "hung on stdin");
	sigset_t pending;
	sigpending(&pending);
	ck_assert(!sigismember(&pending, SIGPIPE));
	cog_sandbox_result_dispose(&r);
	free(data);
}
END_TEST

START_TEST(missing_program)
{
	const char *argv[] = { "no-such-program-cog", NULL };
	cog_sandbox_options o;
	cog_sandbox_options_init(&o, COG_SANDBOX_OPTIONS_VERSION);
	o.argv = argv;
	cog_sandbox_result r = COG_SANDBOX_RESULT_INIT;
	ck_assert_int_eq(cog_sandbox_run(NULL, &o, &r), COG_ENOTFOUND);
	const char *argv2[] = { "/usr/bin/no-such-program-cog", NULL };
	o.argv = argv2;
	ck_assert_int_eq(cog_sandbox_run(NULL, &o, &r), COG_ENOTFOUND);
	ck_assert_msg(strstr(cog_error_last(), "no-such-program-cog") != NULL, "%s",
		cog_error_last());
}
END_TEST

START_TEST(bad_options)
{
	cog_sandbox_options o;
	cog_sandbox_result r = COG_SANDBOX_RESULT_INIT;
	cog_sandbox_options_init(&o, COG_SANDBOX_OPTIONS_VERSION);
	ck_assert_int_eq(cog_sandbox_run(NULL, &o, &r), COG_EINVAL);   /* no argv */
	const char *empty[] = { NULL };
	o.argv = empty;
	ck_assert_int_eq(cog_sandbox_run(NULL, &o, &r), COG_EINVAL);
	const char *relative[] = { "./prog", NULL };
	o.argv = relative;
	ck_assert_int_eq(cog_sandbox_run(NULL, &o, &r), COG_EINVAL);
	const char *ok[] = { "true", NULL };
	o.argv = ok;
	o.stdin_len = 3;
	ck_assert_int_eq(cog_sandbox_run(NULL, &o, &r), COG_EINVAL);
	o.stdin_len = 0;
	o.workspace = "/nonexistent/cog-sandbox";
	ck_assert_int_eq(cog_sandbox_run(NULL, &o, &r), COG_EINVAL);
	o.workspace = NULL;
	const char *ro[] = { "relative/path", NULL };
	o.read_only_paths = ro;
	ck_assert_int_eq(cog_sandbox_run(NULL, &o, &r), COG_EINVAL);
	const char *ro_proc[] = { "/proc/self", NULL };
	o.read_only_paths = ro_proc;
	ck_assert_int_eq(cog_sandbox_run(NULL, &o, &r), COG_EINVAL);
	o.read_only_paths = NULL;
	ck_assert_int_eq(cog_sandbox_run(NULL, NULL, &r), COG_EINVAL);
	ck_assert_int_eq(cog_sandbox_run(NULL, &o, NULL), COG_EINVAL);
	o.version = 99;
	ck_assert_int_eq(cog_sandbox_run(NULL, &o, &r), COG_EVERSION);
	ck_assert_int_eq(cog_sandbox_options_init(&o, 0), COG_EVERSION);
}
END_TEST

START_TEST(cwd_escape_rejected)
{
	char *ws = sbt_mkdtemp();
	char sub[4096];
	snprintf(sub, sizeof sub, "%s/sub", ws);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	cog_sandbox_options o;
	sbt_sh_options(&o, "pwd");
	o.workspace = ws;
	cog_sandbox_result r = COG_SANDBOX_RESULT_INIT;
	const char *bad[] = { "..", "../x", "sub/../..", "/etc", "sub/..", NULL };
	for (size_t i = 0; bad[i]; i++) {
		o.cwd = bad[i];
		ck_assert_msg(cog_sandbox_run(NULL, &o, &r) == COG_EINVAL, "cwd %s", bad[i]);
	}
	o.cwd = "sub";
	sbt_run_ok(&o, &r);
	ck_assert_str_eq(r.out, "/workspace/sub\n");
	cog_sandbox_result_dispose(&r);
	o.cwd = "missing";
	ck_assert_int_eq(cog_sandbox_run(NULL, &o, &r), COG_EINVAL);
	sbt_rmtree(ws);
}
END_TEST

START_TEST(timeout_kills_grandchildren)
{
	char *ws = sbt_mkdtemp();
	cog_sandbox_options o;
	sbt_sh_options(&o, "(sleep 2; touch /workspace/marker) & "
		"setsid sh -c 'sleep 2; touch /workspace/marker2' & sleep 1000");
	o.workspace = ws;
	o.timeout_ms = 500;
	cog_sandbox_result r;
	sbt_run_ok(&o, &r);
	ck_assert_int_eq(r.timed_out, 1);
	ck_assert_int_eq(r.signal, SIGKILL);
	sleep(3);
	ck_assert(!sbt_exists(ws, "marker"));
	ck_assert(!sbt_exists(ws, "marker2"));
	cog_sandbox_result_dispose(&r);
	sbt_rmtree(ws);
}
END_TEST

typedef struct cancel_arg {
	cog_ctx *ctx;
	uint64_t canceled_at;
} cancel_arg;

static void *cancel_later(void *p)
{
	cancel_arg *a = p;
	usleep(300 * 1000);
	a->canceled_at = sbt_now_ms();
	cog_ctx_cancel(a->ctx);
	return NULL;
}

START_TEST(cancel_from_another_thread)
{
	cog_ctx *ctx = NULL;
	ck_assert_int_eq(cog_ctx_new(&ctx, NULL), 0);
	cog_sandbox_options o;
	sbt_sh_options(&o, "sleep 100");
	o.timeout_ms = 30000;
	cancel_arg a = { ctx, 0 };
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, cancel_later, &a), 0);
	cog_sandbox_result r = COG_SANDBOX_RESULT_INIT;
	int rc = cog_sandbox_run(ctx, &o, &r);
	uint64_t returned = sbt_now_ms();
	pthread_join(t, NULL);
	ck_assert_msg(rc == 0, "%s", cog_error_last());
	ck_assert_int_eq(r.canceled, 1);
	ck_assert_int_eq(r.timed_out, 0);
	ck_assert_int_eq(r.signal, SIGKILL);
	ck_assert_msg(returned - a.canceled_at < 150, "returned %llu ms after cancel",
		(unsigned long long)(returned - a.canceled_at));
	cog_sandbox_result_dispose(&r);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(unsandboxed_opt_in)
{
	setenv("COG_SANDBOX_FORCE_UNAVAILABLE", "1", 1);
	cog_sandbox_options o;
	sbt_sh_options(&o, "echo hi");
	cog_sandbox_result r = COG_SANDBOX_RESULT_INIT;
	ck_assert_int_eq(cog_sandbox_run(NULL, &o, &r), COG_EUNAVAILABLE);
	ck_assert_msg(strstr(cog_error_last(), "COG_SANDBOX_FORCE_UNAVAILABLE") != NULL,
		"%s", cog_error_last());
	char *json = NULL;
	ck_assert_int_eq(cog_sandbox_probe(&json), 0);
	ck_assert_msg(strstr(json, "\"namespaces\":false") != NULL, "%s", json);
	cog_free(json);

	o.allow_unsandboxed = 1;
	sbt_run_ok(&o, &r);
	ck_assert_int_eq(r.sandboxed, 0);
	ck_assert_str_eq(r.out, "hi\n");
	cog_sandbox_result_dispose(&r);

	/* Limits and no_new_privs still apply. */
	sbt_sh_options(&o, "ulimit -n; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status");
	o.allow_unsandboxed = 1;
	o.max_open_files = 77;
	sbt_run_ok(&o, &r);
	ck_assert_msg(strstr(r.out, "77\n") != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "NoNewPrivs:\t1") != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "Seccomp:\t2") != NULL, "%s", r.out);
	cog_sandbox_result_dispose(&r);

	/* The timeout kills the whole process group. */
	char *ws = sbt_mkdtemp();
	char script[1024];
	snprintf(script, sizeof script,
		"(sleep 2; touch %s/marker) & sleep 1000", ws);
	sbt_sh_options(&o, script);
	o.allow_unsandboxed = 1;
	o.workspace = ws;
	o.timeout_ms = 500;
	sbt_run_ok(&o, &r);
	ck_assert_int_eq(r.sandboxed, 0);
	ck_assert_int_eq(r.timed_out, 1);
	sleep(3);
	ck_assert(!sbt_exists(ws, "marker"));
	cog_sandbox_result_dispose(&r);
	sbt_rmtree(ws);
	unsetenv("COG_SANDBOX_FORCE_UNAVAILABLE");
}
END_TEST

START_TEST(rlimits_visible)
{
	cog_sandbox_options o;
	sbt_sh_options(&o, "ulimit -n; ulimit -t; ulimit -c; "
		"grep -E '^Max (processes|address space|file size)' /proc/self/limits");
	o.max_open_files = 100;
	o.max_processes = 50;
	o.cpu_seconds = 7;
	o.memory_bytes = 512u << 20;
	o.max_file_bytes = 1u << 20;
	cog_sandbox_result r;
	sbt_run_ok(&o, &r);
	ck_assert_msg(strncmp(r.out, "100\n7\n0\n", 8) == 0, "%s", r.out);
	ck_assert_msg(strstr(r.out, "Max processes             50                   50 ") != NULL,
		"%s", r.out);
	ck_assert_msg(strstr(r.out, "Max address space         536870912            536870912 ")
		!= NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "Max file size             1048576              1048576 ")
		!= NULL, "%s", r.out);
	cog_sandbox_result_dispose(&r);
}
END_TEST

START_TEST(hostname_is_sandbox)
{
	cog_sandbox_options o;
	sbt_sh_options(&o, "uname -n");
	cog_sandbox_result r;
	sbt_run_ok(&o, &r);
	ck_assert_str_eq(r.out, "sandbox\n");
	cog_sandbox_result_dispose(&r);
}
END_TEST

START_TEST(uid0_without_capabilities)
{
	cog_sandbox_options o;
	sbt_sh_options(&o, "id -u; grep -E '^(CapInh|CapEff|CapPrm|CapAmb|NoNewPrivs|Seccomp):' "
		"/proc/self/status");
	cog_sandbox_result r;
	sbt_run_ok(&o, &r);
	ck_assert_msg(strncmp(r.out, "0\n", 2) == 0, "%s", r.out);
	/* The bounding set is not cleared (see drop_capabilities in
	 * lib/tool/sandbox_child.c); capabilities_cannot_be_regained shows
	 * it does not matter. */
	ck_assert_msg(strstr(r.out, "CapInh:\t0000000000000000") != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "CapEff:\t0000000000000000") != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "CapPrm:\t0000000000000000") != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "CapAmb:\t0000000000000000") != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "NoNewPrivs:\t1") != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "Seccomp:\t2") != NULL, "%s", r.out);
	cog_sandbox_result_dispose(&r);
}
END_TEST

/* A program carrying file capabilities (all of them) in the workspace
 * gains nothing: the workspace is mounted nosuid (file capabilities are
 * ignored there), and no_new_privs with the empty permitted set would make
 * execve grant nothing new anyway. Needs CAP_SETFCAP on the host to set
 * the attribute; without it the test says so and passes. */
START_TEST(capabilities_cannot_be_regained)
{
	char *ws = sbt_mkdtemp();
	char path[4096];
	snprintf(path, sizeof path, "%s/capcat", ws);
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "cp /bin/cat '%s'", path);
	ck_assert_int_eq(system(cmd), 0);
	struct vfs_cap_data caps;
	memset(&caps, 0, sizeof caps);
	caps.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE;
	caps.data[0].permitted = 0xffffffffu;
	caps.data[1].permitted = 0xffffffffu;
	if (setxattr(path, "security.capability", &caps, XATTR_CAPS_SZ_2, 0) < 0) {
		printf("capabilities_cannot_be_regained: setxattr: %s (needs CAP_SETFCAP); "
		       "not checked\n", strerror(errno));
		sbt_rmtree(ws);
		return;
	}
	const char *argv[] = { "/workspace/capcat", "/proc/self/status", "/proc/self/mounts",
	                       NULL };
	cog_sandbox_options o;
	ck_assert_int_eq(cog_sandbox_options_init(&o, COG_SANDBOX_OPTIONS_VERSION), 0);
	o.argv = argv;
	o.workspace = ws;
	o.timeout_ms = 20000;
	cog_sandbox_result r;
	sbt_run_ok(&o, &r);
	ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
	static const char *const sets[] = { "CapInh", "CapPrm", "CapEff", "CapAmb" };
	for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
		char want[64];
		snprintf(want, sizeof want, "%s:\t0000000000000000", sets[i]);
		ck_assert_msg(strstr(r.out, want) != NULL, "%s gained: %s", sets[i], r.out);
	}
	const char *ws_line = strstr(r.out, " /workspace ");
	ck_assert_msg(ws_line != NULL, "no /workspace mount: %s", r.out);
	const char *eol = strchr(ws_line, '\n');
	size_t line_len = eol ? (size_t)(eol - ws_line) : strlen(ws_line);
	char line[512];
	snprintf(line, sizeof line, "%.*s", (int)line_len, ws_line);
	ck_assert_msg(strstr(line, "nosuid") && strstr(line, "nodev"), "%s", line);
	cog_sandbox_result_dispose(&r);
	sbt_rmtree(ws);
}
END_TEST

/* This process's prepared root (lib/tool/sandbox_skeleton.c), found
 * through the directory descriptor it keeps open; NULL if none. */
static char *skeleton_root(void)
{
	for (int fd = 3; fd < 1024; fd++) {
		char link[64], target[4096];
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof target - 6);
		if (n <= 0)
			continue;
		target[n] = '\0';
		const char *base = strrchr(target, '/');
		if (base && strncmp(base + 1, "cog-sandbox-root-", 17) == 0) {
			strcat(target, "/root");
			return strdup(target);
		}
	}
	return NULL;
}

/* The root is prepared once per process; if a mount point in it is
 * removed under us, the launch is retried with a root of its own, and
 * the following ones do without. */
START_TEST(damaged_skeleton_falls_back)
{
	cog_sandbox_options o;
	sbt_sh_options(&o, "echo x > /dev/null && ls /etc/passwd");
	cog_sandbox_result r;
	sbt_run_ok(&o, &r);
	ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
	cog_sandbox_result_dispose(&r);
	char *root = skeleton_root();
	ck_assert_msg(root != NULL, "no prepared root");
	char path[4200];
	snprintf(path, sizeof path, "%s/dev/null", root);
	ck_assert_msg(unlink(path) == 0, "unlink %s: %s", path, strerror(errno));
	for (int i = 0; i < 2; i++) {
		sbt_run_ok(&o, &r);
		ck_assert_msg(r.exit_code == 0, "run %d: exit %d: %s", i, r.exit_code, r.err);
		ck_assert_str_eq(r.out, "/etc/passwd\n");
		cog_sandbox_result_dispose(&r);
	}
	free(root);
}
END_TEST

START_TEST(python3_runs)
{
	sbt_require_python3();
	const char *argv[] = { "python3", "-c", "print(1+1)", NULL };
	cog_sandbox_options o;
	cog_sandbox_options_init(&o, COG_SANDBOX_OPTIONS_VERSION);
	o.argv = argv;
	o.timeout_ms = 20000;
	cog_sandbox_result r;
	sbt_run_ok(&o, &r);
	ck_assert_msg(strcmp(r.out, "2\n") == 0, "out %s err %s", r.out, r.err);
	ck_assert_int_eq(r.exit_code, 0);
	ck_assert(r.max_rss_kb > 0);
	cog_sandbox_result_dispose(&r);
}
END_TEST

START_TEST(read_only_paths_and_tmpfs_workspace)
{
	char *ro = sbt_mkdtemp();
	sbt_write_file(ro, "data", "ro-data\n");
	char script[1024];
	snprintf(script, sizeof script, "cat %s/data; echo x > %s/new 2>/dev/null || "
		"echo denied; echo w > /workspace/f && cat /workspace/f; ls /workspace", ro, ro);
	cog_sandbox_options o;
	sbt_sh_options(&o, script);
	const char *paths[] = { ro, NULL };
	o.read_only_paths = paths;
	cog_sandbox_result r;
	sbt_run_ok(&o, &r);
	ck_assert_msg(strcmp(r.out, "ro-data\ndenied\nw\nf\n") == 0, "out %s err %s",
		r.out, r.err);
	ck_assert(!sbt_exists(ro, "new"));
	cog_sandbox_result_dispose(&r);
	sbt_rmtree(ro);
}
END_TEST

START_TEST(probe)
{
	char *json = NULL;
	ck_assert_int_eq(cog_sandbox_probe(&json), 0);
	ck_assert_msg(strstr(json, "\"namespaces\":true") != NULL, "%s", json);
	ck_assert_msg(strstr(json, "\"seccomp\":true") != NULL, "%s", json);
	ck_assert_msg(strstr(json, "\"reason\":null") != NULL, "%s", json);
	cog_free(json);
}
END_TEST

int main(void)
{
	const sbt_case tests[] = {
		{ "exit_codes_and_signals", exit_codes_and_signals },
		{ "stdin_delivered", stdin_delivered },
		{ "missing_program", missing_program },
		{ "bad_options", bad_options },
		{ "cwd_escape_rejected", cwd_escape_rejected },
		{ "timeout_kills_grandchildren", timeout_kills_grandchildren },
		{ "cancel_from_another_thread", cancel_from_another_thread },
		{ "unsandboxed_opt_in", unsandboxed_opt_in },
		{ "rlimits_visible", rlimits_visible },
		{ "hostname_is_sandbox", hostname_is_sandbox },
		{ "uid0_without_capabilities", uid0_without_capabilities },
		{ "capabilities_cannot_be_regained", capabilities_cannot_be_regained },
		{ "damaged_skeleton_falls_back", damaged_skeleton_falls_back },
		{ "python3_runs", python3_runs },
		{ "read_only_paths_and_tmpfs_workspace", read_only_paths_and_tmpfs_workspace },
		{ "probe", probe },
	};
	return sbt_run_suite("sandbox-run", tests, sizeof tests / sizeof tests[0]);
}
