/*
 * The sandbox child: what runs between clone() and execve().
 *
 * This code may share the parent's address space (CLONE_VM|CLONE_VFORK,
 * the parent thread suspended until execve), so it is async-signal-safe:
 * system calls only, every string and table prepared by the parent in the
 * sandbox_plan, nothing allocated, no stdio, no locks. errno is the
 * suspended parent thread's (shared TLS), which is harmless. A failing
 * step writes {errno, step, op} to the CLOEXEC report pipe and exits; the
 * parent turns it into "sandbox: <step>: <strerror>".
 *
 * Order matters: the id maps first (nothing is permitted before), then the
 * root, the hostname, pivot_root; then rlimits, the session, stdio and the
 * working directory; then privileges go: securebits, ambient
 * capabilities, no_new_privs, Landlock, capset; every other fd gets
 * close-on-exec; seccomp is last because it also constrains this code.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>

#include "sandbox_int.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1u << 2)
#endif

const char *const sandbox_step_names[SB_STEP_COUNT] = {
	[SB_STEP_SIGNALS] = "reset signal handlers",
	[SB_STEP_SETGROUPS] = "write /proc/self/setgroups",
	[SB_STEP_UID_MAP] = "write /proc/self/uid_map",
	[SB_STEP_GID_MAP] = "write /proc/self/gid_map",
	[SB_STEP_ROOT_TMPFS] = "mount the root tmpfs",
	[SB_STEP_ROOT_BIND] = "bind the prepared root",
	[SB_STEP_CHDIR_ROOT] = "enter the root tmpfs",
	[SB_STEP_OP] = "build the root",
	[SB_STEP_PID_MAX] = "write /proc/sys/kernel/pid_max",
	[SB_STEP_HOSTNAME] = "set the hostname",
	[SB_STEP_PIVOT_ROOT] = "pivot_root",
	[SB_STEP_DETACH_OLD_ROOT] = "detach the old root",
	[SB_STEP_REMOUNT_ROOT] = "remount / read-only",
	[SB_STEP_RLIMIT] = "setrlimit",
	[SB_STEP_SETSID] = "setsid",
	[SB_STEP_STDIO] = "set up standard input/output",
	[SB_STEP_CHDIR] = "chdir to the working directory",
	[SB_STEP_SECUREBITS] = "set securebits",
	[SB_STEP_AMBIENT] = "clear ambient capabilities",
	[SB_STEP_NO_NEW_PRIVS] = "set no_new_privs",
	[SB_STEP_LANDLOCK] = "apply Landlock",
	[SB_STEP_CAPSET] = "drop capabilities",
	[SB_STEP_CLOSE_FDS] = "close inherited file descriptors",
	[SB_STEP_SECCOMP] = "install the seccomp filter",
	[SB_STEP_EXEC] = "execve",
};

SB_CHILD_CODE static _Noreturn void child_fail(const sandbox_plan *plan, int step, int op,
                                 int err)
{
	sandbox_report report = { err, step, op };
	ssize_t n = write(plan->report_fd, &report, sizeof report);
	(void)n;   /* nothing more can be done about a failed report */
	_exit(127);
}

SB_CHILD_CODE static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	size_t len = strlen(text);
	ssize_t n = write(fd, text, len);
	int e = n == (ssize_t)len ? 0 : (n < 0 ? errno : EIO);
	close(fd);
	return e;
}

/* Copy everything from in to out (sendfile: no buffer, no allocation, so
 * the child may use it). 0 or the errno. */
SB_CHILD_CODE int sb_copy_all(int out, int in)
{
	for (;;) {
		ssize_t n = sendfile(out, in, NULL, 1 << 20);
		if (n == 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return errno;
	}
}

SB_CHILD_CODE static int copy_file(const char *src, const char *dst, unsigned int mode)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return errno;
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (out < 0) {
		int e = errno;
		close(in);
		return e;
	}
	int e = sb_copy_all(out, in);
	close(out);
	close(in);
	return e;
}

SB_CHILD_CODE static int run_op(const sandbox_op *op)
{
	switch (op->kind) {
	case SB_OP_MKDIR:
		if (mkdir(op->path, op->mode) < 0 && errno != EEXIST)
			return errno;
		return 0;
	case SB_OP_SYMLINK:
		return symlink(op->src, op->path) < 0 ? errno : 0;
	case SB_OP_COPY: {
		int e = copy_file(op->src, op->path, op->mode);
		return e == ENOENT && op->optional ? 0 : e;
	}
	case SB_OP_BIND_FILE: {
		int fd = open(op->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return errno;
		close(fd);
	}
		/* fall through */
	case SB_OP_BIND:
		if (mount(op->src, op->path, NULL, MS_BIND | MS_REC, NULL) < 0)
			return errno == ENOENT && op->optional ? 0 : errno;
		if (op->flags &&
		    mount(NULL, op->path, NULL, MS_REMOUNT | MS_BIND | op->flags, NULL) < 0)
			return errno;
		return 0;
	case SB_OP_TMPFS:
		return mount("tmpfs", op->path, "tmpfs", op->flags, op->data) < 0 ? errno : 0;
	case SB_OP_PROC:
		return mount("proc", op->path, "proc", op->flags, NULL) < 0 ? errno : 0;
	case SB_OP_WRITE: {
		int fd = open(op->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, op->mode);
		if (fd < 0)
			return errno;
		size_t len = strlen(op->data);
		ssize_t n = write(fd, op->data, len);
		int e = n == (ssize_t)len ? 0 : (n < 0 ? errno : EIO);
		close(fd);
		return e;
	}
	}
	return EINVAL;
}

SB_CHILD_CODE static int set_limit(int resource, uint64_t soft, uint64_t hard)
{
	struct rlimit rl = { (rlim_t)soft, (rlim_t)hard };
	if (setrlimit((__rlimit_resource_t)resource, &rl) == 0)
		return 0;
	if (errno != EPERM)
		return errno;
	/* Raising a hard limit needs privilege: stay under the current one. */
	struct rlimit cur;
	if (getrlimit((__rlimit_resource_t)resource, &cur) < 0)
		return errno;
	if (rl.rlim_max > cur.rlim_max)
		rl.rlim_max = cur.rlim_max;
	if (rl.rlim_cur > rl.rlim_max)
		rl.rlim_cur = rl.rlim_max;
	return setrlimit((__rlimit_resource_t)resource, &rl) < 0 ? errno : 0;
}

SB_CHILD_CODE static int move_fd(int from, int to)
{
	if (from == to)   /* dup2 would keep FD_CLOEXEC */
		return fcntl(to, F_SETFD, 0) < 0 ? errno : 0;
	return dup2(from, to) < 0 ? errno : 0;
}

SB_CHILD_CODE static void build_root(const sandbox_plan *plan)
{
	int e;
	/* An unprivileged process may map only its own ids, and the gid map
	 * only once setgroups is denied; no parent handshake is needed. */
	e = write_text("/proc/self/setgroups", "deny");
	if (e && e != ENOENT)
		child_fail(plan, SB_STEP_SETGROUPS, 0, e);
	if ((e = write_text("/proc/self/uid_map", plan->uid_map)) != 0)
		child_fail(plan, SB_STEP_UID_MAP, 0, e);
	if ((e = write_text("/proc/self/gid_map", plan->gid_map)) != 0)
		child_fail(plan, SB_STEP_GID_MAP, 0, e);

	/* Mounts in a mount namespace owned by a new user namespace are slaves
	 * of the host's (CL_SHARED_TO_SLAVE): nothing done here propagates
	 * out, so no MS_PRIVATE walk over the host's mounts is needed. */
	if (plan->root_source) {
		/* The skeleton (sandbox_skeleton.c) onto itself: a mount of its
		 * own, which pivot_root needs. */
		if (mount(plan->root_source, plan->root_mount, NULL, MS_BIND, NULL) < 0)
			child_fail(plan, SB_STEP_ROOT_BIND, 0, errno);
	} else if (mount("tmpfs", plan->root_mount, "tmpfs", MS_NOSUID | MS_NODEV,
	                 plan->root_tmpfs_data) < 0) {
		child_fail(plan, SB_STEP_ROOT_TMPFS, 0, errno);
	}
	if (chdir(plan->root_mount) < 0)
		child_fail(plan, SB_STEP_CHDIR_ROOT, 0, errno);
	for (size_t i = 0; i < plan->op_count; i++) {
		if ((e = run_op(&plan->ops[i])) != 0)
			child_fail(plan, SB_STEP_OP, (int)i, e);
	}
	/* RLIMIT_NPROC does not apply to (host) uid 0; since Linux 6.14
	 * pid_max is per pid namespace and bounds a fork bomb instead. Older
	 * kernels refuse the write: the timeout is the bound then. */
	if (plan->set_pid_max)
		(void)write_text("proc/sys/kernel/pid_max", "301");
	if (sethostname("sandbox", 7) < 0)
		child_fail(plan, SB_STEP_HOSTNAME, 0, errno);
	/* pivot_root(".", ".") stacks the old root on top of the new one;
	 * unmounting "." then detaches it without needing a directory. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		child_fail(plan, SB_STEP_PIVOT_ROOT, 0, errno);
	if (umount2(".", MNT_DETACH) < 0)
		child_fail(plan, SB_STEP_DETACH_OLD_ROOT, 0, errno);
	if (chdir("/") < 0)
		child_fail(plan, SB_STEP_CHDIR, 0, errno);
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | plan->root_remount_flags,
	          NULL) < 0)
		child_fail(plan, SB_STEP_REMOUNT_ROOT, 0, errno);
}

SB_CHILD_CODE static void drop_capabilities(const sandbox_plan *plan)
{
	/* uid 0 must gain nothing at execve, ever. */
	if (prctl(PR_SET_SECUREBITS,
	          SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
	          SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
	          SECBIT_KEEP_CAPS_LOCKED |
	          SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
	          0, 0, 0) < 0)
		child_fail(plan, SB_STEP_SECUREBITS, 0, errno);
	/* The bounding set is left as the new user namespace made it (full):
	 * it only caps what an execve may add to the permitted set, and here
	 * nothing can be added. After capset() below the permitted, effective,
	 * inheritable and ambient sets are empty; no_new_privs (which no
	 * process can clear) makes every execve grant at most the permitted
	 * set it already has, whatever setuid bits or file capabilities say
	 * (and every mount the program can execute from is nosuid, which
	 * ignores them anyway: the system directories, the root, /tmp, the
	 * workspace); SECBIT_NOROOT (locked) stops uid 0's execve grant; the
	 * inheritable set cannot grow without CAP_SETPCAP in the permitted
	 * set, nor the ambient set without the capability in both (and
	 * SECBIT_NO_CAP_AMBIENT_RAISE is locked). A nested user namespace,
	 * which would start with a full bounding set anyway, is refused by
	 * seccomp. Clearing it took 41 prctl() calls, each a credential
	 * commit: about 45 us of every launch, for nothing. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		child_fail(plan, SB_STEP_AMBIENT, 0, errno);
}

SB_CHILD_CODE int sandbox_child_main(void *arg)
{
	const sandbox_plan *plan = arg;
	int e;

	/* The parent blocked every signal before clone(): reset the host's
	 * handlers here (they must never run in this copy of the process)
	 * and unblock only just before execve. */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &dfl, NULL);
	}

	umask(022);
	if (plan->namespaces)
		build_root(plan);

	for (size_t i = 0; i < plan->rlimit_count; i++) {
		e = set_limit(plan->rlimits[i].resource, plan->rlimits[i].soft,
		              plan->rlimits[i].hard);
		if (e)
			child_fail(plan, SB_STEP_RLIMIT, plan->rlimits[i].resource, e);
	}
	if (setsid() < 0)
		child_fail(plan, SB_STEP_SETSID, 0, errno);
	if ((e = move_fd(plan->stdin_fd, 0)) != 0 ||
	    (e = move_fd(plan->stdout_fd, 1)) != 0 ||
	    (e = move_fd(plan->stderr_fd, 2)) != 0)
		child_fail(plan, SB_STEP_STDIO, 0, e);
	if (chdir(plan->cwd) < 0)
		child_fail(plan, SB_STEP_CHDIR, 0, errno);

	if (plan->namespaces)
		drop_capabilities(plan);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(plan, SB_STEP_NO_NEW_PRIVS, 0, errno);
	if (plan->landlock_abi > 0 && (e = sandbox_landlock_apply(plan)) != 0)
		child_fail(plan, SB_STEP_LANDLOCK, 0, e);
	if (plan->namespaces) {
		struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct data[2];
		memset(data, 0, sizeof data);
		if (syscall(SYS_capset, &hdr, data) < 0)
			child_fail(plan, SB_STEP_CAPSET, 0, errno);
	}

	/* Everything but 0, 1, 2 closes at execve (the report pipe too, which
	 * is how the parent learns that execve succeeded). */
	if (close_range(3, ~0u, CLOSE_RANGE_CLOEXEC) < 0) {
		if (errno != EINVAL && errno != ENOSYS)
			child_fail(plan, SB_STEP_CLOSE_FDS, 0, errno);
		/* Before Linux 5.11: close all but the report pipe. */
		if (plan->report_fd > 3)
			(void)close_range(3, (unsigned int)plan->report_fd - 1, 0);
		(void)close_range((unsigned int)plan->report_fd + 1, ~0u, 0);
	}

	if (plan->bpf_len > 0) {
		struct sock_fprog prog = { plan->bpf_len, (struct sock_filter *)plan->bpf };
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
			child_fail(plan, SB_STEP_SECCOMP, 0, errno);
	}

	sigset_t none;
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	execve(plan->exec_path, plan->argv, plan->envp);
	child_fail(plan, SB_STEP_EXEC, 0, errno);
}
