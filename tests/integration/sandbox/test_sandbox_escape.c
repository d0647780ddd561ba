/*
 * Escape attempts from cog_sandbox_run(): each one is contained, and the
 * result says how.
 */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox_test.h"

START_TEST(write_outside_workspace)
{
	char *ws = sbt_mkdtemp();
	char marker[64], script[2048];
	snprintf(marker, sizeof marker, "cog-sbx-escape-%d", (int)getpid());
	snprintf(script, sizeof script,
		"for p in /usr/%s /etc/%s /%s /bin/%s /lib/%s /dev/%s /proc/%s; do "
		"  if echo x > \"$p\" 2>/dev/null; then echo \"WROTE $p\"; fi; "
		"done; "
		"echo tmp > /tmp/%s && cat /tmp/%s; echo ws > /workspace/inside",
		marker, marker, marker, marker, marker, marker, marker, marker, marker);
	cog_sandbox_options o;
	sbt_sh_options(&o, script);
	o.workspace = ws;
	cog_sandbox_result r;
	sbt_run_ok(&o, &r);
	ck_assert_msg(strstr(r.out, "WROTE") == NULL, "escaped: %s", r.out);
	ck_assert_msg(strstr(r.out, "tmp") != NULL, "/tmp not writable: %s %s", r.out, r.err);
	ck_assert_int_eq(r.exit_code, 0);
	ck_assert(sbt_exists(ws, "inside"));
	const char *host_dirs[] = { "/usr", "/etc", "", "/tmp", "/usr/bin", "/usr/lib" };
	for (size_t i = 0; i < sizeof host_dirs / sizeof host_dirs[0]; i++)
		ck_assert_msg(!sbt_exists(host_dirs[i], marker), "%s/%s exists on the host",
			host_dirs[i], marker);
	cog_sandbox_result_dispose(&r);
	sbt_rmtree(ws);
}
END_TEST

START_TEST(read_shadow)
{
	cog_sandbox_options o;
	sbt_sh_options(&o, "cat /etc/shadow; ls /etc");
	cog_sandbox_result r;
	sbt_run_ok(&o, &r);
	ck_assert_msg(strstr(r.out, "shadow") == NULL, "shadow listed: %s", r.out);
	ck_assert_msg(strstr(r.err, "No such file") != NULL, "err: %s", r.err);
	ck_assert_msg(strstr(r.out, "passwd") != NULL, "no passwd: %s", r.out);
	cog_sandbox_result_dispose(&r);
}
END_TEST

/* A listener on the host's loopback; the sandbox tries to connect. */
static int listen_loopback(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	socklen_t len = sizeof a;
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void connect_from_sandbox(int network, int expect_connected)
{
	sbt_require_python3();
	int port;
	int fd = listen_loopback(&port);
	char code[512];
	snprintf(code, sizeof code,
		"import socket\n"
		"try:\n"
		"    s = socket.create_connection(('127.0.0.1', %d), timeout=5)\n"
		"    print('connected')\n"
		"except OSError as e:\n"
		"    print('refused', e)\n", port);
	const char *argv[] = { "python3", "-c", code, NULL };
	cog_sandbox_options o;
	cog_sandbox_options_init(&o, COG_SANDBOX_OPTIONS_VERSION);
	o.argv = argv;
	o.timeout_ms = 20000;
	o.network = network;
	cog_sandbox_result r;
	sbt_run_ok(&o, &r);
	if (expect_connected)
		ck_assert_msg(strstr(r.out, "connected") != NULL, "out %s err %s", r.out, r.err);
	else
		ck_assert_msg(strstr(r.out, "refused") != NULL, "out %s err %s", r.out, r.err);
	cog_sandbox_result_dispose(&r);
	close(fd);
}

START_TEST(socket_without_network)
{
	connect_from_sandbox(0, 0);
}
END_TEST

START_TEST(socket_with_network)
{
	connect_from_sandbox(1, 1);
}
END_TEST

/* Count this user's processes (a fork bomb left behind would show). */
/* How many live processes carry `marker` in their environment (the
 * sandbox's processes can be told from those of tests running beside this
 * one that way, wherever their pid namespace is). */
static int processes_with(const char *marker)
{
	DIR *proc = opendir("/proc");
	ck_assert_ptr_nonnull(proc);
	int found = 0;
	struct dirent *d;
	while ((d = readdir(proc))) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		char path[300], env[8192];
		snprintf(path, sizeof(path), "/proc/%s/environ", d->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, env, sizeof(env) - 1);
		close(fd);
		if (n <= 0)
			continue;
		for (ssize_t k = 0; k < n; k++)
			if (env[k] == '\0')
				env[k] = '\n';
		env[n] = '\0';
		found += strstr(env, marker) != NULL;
	}
	closedir(proc);
	return found;
}

START_TEST(fork_bomb)
{
	char marker[64];
	snprintf(marker, sizeof(marker), "COG_BOMB=%d-%llu", (int)getpid(),
		(unsigned long long)sbt_now_ms());
	const char *envp[] = { "PATH=/usr/bin:/bin", marker, NULL };
	cog_sandbox_options o;
	/* exec: the last word needs no fork, so the sandbox lives until the
	 * timeout whatever the bomb did to the process table. */
	sbt_sh_options(&o, "bomb() { bomb | bomb & }; bomb; exec sleep 100");
	o.envp = envp;
	o.timeout_ms = 3000;
	o.max_processes = 32;
	cog_sandbox_result r;
	uint64_t t0 = sbt_now_ms();
	sbt_run_ok(&o, &r);
	uint64_t took = sbt_now_ms() - t0;
	ck_assert_msg(took < 3000 + 3000, "took %llu ms", (unsigned long long)took);
	ck_assert_msg(r.timed_out == 1 && r.signal == SIGKILL, "timed_out %d signal %d exit %d "
		"err %.300s", r.timed_out, r.signal, r.exit_code, r.err);
	/* The host is unaffected: it can still start processes, and none of
	 * the bomb's are left. */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	int left = processes_with(marker);
	for (int i = 0; i < 40 && left; i++) { /* the namespace's teardown */
		usleep(50000);
		left = processes_with(marker);
	}
	ck_assert_msg(left == 0, "%d of the bomb's processes are left", left);
	cog_sandbox_result_dispose(&r);
}
END_TEST

START_TEST(memory_bomb)
{
	sbt_require_python3();
	const char *argv[] = { "python3", "-c",
		"x = []\n"
		"while True:\n"
		"    x.append(bytearray(64 * 1024 * 1024))\n", NULL };
	cog_sandbox_options o;
	cog_sandbox_options_init(&o, COG_SANDBOX_OPTIONS_VERSION);
	o.argv = argv;
	o.timeout_ms = 20000;
	o.memory_bytes = 256u << 20;
	cog_sandbox_result r;
	sbt_run_ok(&o, &r);
	ck_assert_int_eq(r.timed_out, 0);
	ck_assert_msg(r.exit_code != 0, "exit %d", r.exit_code);
	ck_assert_msg(strstr(r.err, "MemoryError") != NULL || r.signal != 0,
		"exit %d signal %d err %s", r.exit_code, r.signal, r.err);
	cog_sandbox_result_dispose(&r);
}
END_TEST

START_TEST(infinite_loop_timeout)
{
	cog_sandbox_options o;
	sbt_sh_options(&o, "while :; do :; done");
	o.timeout_ms = 1000;
	cog_sandbox_result r;
	uint64_t t0 = sbt_now_ms();
	sbt_run_ok(&o, &r);
	uint64_t took = sbt_now_ms() - t0;
	ck_assert_int_eq(r.timed_out, 1);
	ck_assert_int_eq(r.canceled, 0);
	ck_assert_int_eq(r.signal, SIGKILL);
	ck_assert_int_eq(r.exit_code, -1);
	ck_assert_msg(r.wall_us >= 1000000 && r.wall_us < 1800000, "wall %llu us",
		(unsigned long long)r.wall_us);
	ck_assert_msg(took < 2500, "took %llu ms", (unsigned long long)took);
	ck_assert_msg(r.cpu_us > 300000, "cpu %llu us", (unsigned long long)r.cpu_us);
	cog_sandbox_result_dispose(&r);
}
END_TEST

START_TEST(infinite_loop_cpu_limit)
{
	cog_sandbox_options o;
	sbt_sh_options(&o, "while :; do :; done");
	o.timeout_ms = 20000;
	o.cpu_seconds = 1;
	cog_sandbox_result r;
	sbt_run_ok(&o, &r);
	/* pid 1 of a pid namespace ignores SIGXCPU; the hard limit's SIGKILL
	 * a second later is what stops it. */
	ck_assert_int_eq(r.timed_out, 0);
	ck_assert_msg(r.signal == SIGKILL || r.signal == SIGXCPU, "signal %d", r.signal);
	ck_assert_msg(r.wall_us < 6000000, "wall %llu", (unsigned long long)r.wall_us);
	cog_sandbox_result_dispose(&r);
}
END_TEST

START_TEST(gigabyte_of_output)
{
	struct rusage before, after;
	getrusage(RUSAGE_SELF, &before);
	cog_sandbox_options o;
	sbt_sh_options(&o, "head -c 1073741824 /dev/zero; echo done >&2");
	o.timeout_ms = 60000;
	o.max_output_bytes = 65536;
	cog_sandbox_result r;
	uint64_t t0 = sbt_now_ms();
	sbt_run_ok(&o, &r);
	uint64_t took = sbt_now_ms() - t0;
	getrusage(RUSAGE_SELF, &after);
	ck_assert_int_eq(r.exit_code, 0);
	ck_assert_int_eq(r.timed_out, 0);
	ck_assert_uint_eq(r.out_len, 65536);
	ck_assert_int_eq(r.out_truncated, 1);
	ck_assert_int_eq(r.err_truncated, 0);
	ck_assert_str_eq(r.err, "done\n");
	ck_assert_msg(took < 30000, "took %llu ms", (unsigned long long)took);
	ck_assert_msg(after.ru_maxrss - before.ru_maxrss < 64 * 1024, "rss grew %ld kB",
		after.ru_maxrss - before.ru_maxrss);
	cog_sandbox_result_dispose(&r);
}
END_TEST

START_TEST(ptrace_parent)
{
	sbt_require_python3();
	char code[768];
	snprintf(code, sizeof code,
		"import ctypes, os\n"
		"libc = ctypes.CDLL(None, use_errno=True)\n"
		"for pid in (os.getppid(), %d, 1):\n"
		"    r = libc.ptrace(16, pid, 0, 0)\n"
		"    print(pid, r, ctypes.get_errno())\n", (int)getpid());
	const char *argv[] = { "python3", "-c", code, NULL };
	cog_sandbox_options o;
	cog_sandbox_options_init(&o, COG_SANDBOX_OPTIONS_VERSION);
	o.argv = argv;
	o.timeout_ms = 20000;
	cog_sandbox_result r;
	sbt_run_ok(&o, &r);
	ck_assert_int_eq(r.exit_code, 0);
	/* Every attempt fails with EPERM (1), the seccomp filter's answer. */
	char expect[64];
	snprintf(expect, sizeof expect, "%d -1 1\n", (int)getpid());
	ck_assert_msg(strstr(r.out, expect) != NULL, "out: %s err: %s", r.out, r.err);
	ck_assert_msg(strstr(r.out, "1 -1 1\n") != NULL, "out: %s", r.out);
	ck_assert_msg(strstr(r.out, " 0 ") == NULL, "an attach succeeded: %s", r.out);
	cog_sandbox_result_dispose(&r);
}
END_TEST

START_TEST(mount_denied)
{
	sbt_require_python3();
	const char *argv[] = { "python3", "-c",
		"import ctypes\n"
		"libc = ctypes.CDLL(None, use_errno=True)\n"
		"r = libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)\n"
		"print('mount', r, ctypes.get_errno())\n"
		"r = libc.umount2(b'/usr', 2)\n"
		"print('umount', r, ctypes.get_errno())\n"
		"r = libc.unshare(0x10000000)\n"
		"print('unshare', r, ctypes.get_errno())\n", NULL };
	cog_sandbox_options o;
	cog_sandbox_options_init(&o, COG_SANDBOX_OPTIONS_VERSION);
	o.argv = argv;
	o.timeout_ms = 20000;
	cog_sandbox_result r;
	sbt_run_ok(&o, &r);
	ck_assert_msg(strstr(r.out, "mount -1 1\n") != NULL, "out: %s err: %s", r.out, r.err);
	ck_assert_msg(strstr(r.out, "umount -1 1\n") != NULL, "out: %s", r.out);
	ck_assert_msg(strstr(r.out, "unshare -1 1\n") != NULL, "out: %s", r.out);
	cog_sandbox_result_dispose(&r);
}
END_TEST

START_TEST(kill_parent)
{
	char script[512];
	snprintf(script, sizeof script,
		"kill -9 $PPID 2>/dev/null; echo ppid $?; "
		"kill -9 %d 2>/dev/null; echo host $?; "
		"kill -9 -1 2>/dev/null; echo all $?; echo alive", (int)getpid());
	cog_sandbox_options o;
	sbt_sh_options(&o, script);
	cog_sandbox_result r;
	sbt_run_ok(&o, &r);
	/* We are still here; the host pid is not even visible inside. */
	ck_assert_msg(strstr(r.out, "host 1") != NULL, "out: %s", r.out);
	ck_assert_msg(strstr(r.out, "alive") != NULL, "out: %s", r.out);
	ck_assert_int_eq(kill(getpid(), 0), 0);
	ck_assert_int_eq(kill(getppid(), 0), 0);
	cog_sandbox_result_dispose(&r);
}
END_TEST

START_TEST(symlink_out_of_workspace)
{
	char *ws = sbt_mkdtemp();
	char *outside = sbt_mkdtemp();
	sbt_write_file(outside, "secret", "host-secret\n");
	char link[4096];
	snprintf(link, sizeof link, "%s/passwd-link", ws);
	ck_assert_int_eq(symlink("/etc/passwd", link), 0);
	snprintf(link, sizeof link, "%s/dir-link", ws);
	ck_assert_int_eq(symlink(outside, link), 0);
	cog_sandbox_options o;
	sbt_sh_options(&o, "cat /workspace/passwd-link; cat /workspace/dir-link/secret; "
		"echo pwned > /workspace/dir-link/new; true");
	o.workspace = ws;
	cog_sandbox_result r;
	sbt_run_ok(&o, &r);
	/* The sandbox's own passwd (root and nobody only), not the host's. */
	ck_assert_msg(strstr(r.out, "root:x:0:0:root:/workspace") != NULL, "out: %s", r.out);
	ck_assert_msg(strstr(r.out, "daemon:") == NULL, "host passwd leaked: %s", r.out);
	ck_assert_msg(strstr(r.out, "host-secret") == NULL, "secret leaked: %s", r.out);
	ck_assert(!sbt_exists(outside, "new"));
	cog_sandbox_result_dispose(&r);
	sbt_rmtree(outside);
	sbt_rmtree(ws);
}
END_TEST

int main(void)
{
	const sbt_case tests[] = {
		{ "write_outside_workspace", write_outside_workspace },
		{ "read_shadow", read_shadow },
		{ "socket_without_network", socket_without_network },
		{ "socket_with_network", socket_with_network },
		{ "fork_bomb", fork_bomb },
		{ "memory_bomb", memory_bomb },
		{ "infinite_loop_timeout", infinite_loop_timeout },
		{ "infinite_loop_cpu_limit", infinite_loop_cpu_limit },
		{ "gigabyte_of_output", gigabyte_of_output },
		{ "ptrace_parent", ptrace_parent },
		{ "mount_denied", mount_denied },
		{ "kill_parent", kill_parent },
		{ "symlink_out_of_workspace", symlink_out_of_workspace },
	};
	return sbt_run_suite("sandbox-escape", tests, sizeof tests / sizeof tests[0]);
}
