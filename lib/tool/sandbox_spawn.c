/*
 * Starting the sandboxed program: one clone() makes the child in new
 * user, pid, mount, IPC, UTS (and, without the network grant, network)
 * namespaces, so the child is pid 1 of its pid namespace: when it dies the
 * kernel kills everything inside, fork bombs included, and SIGKILL through
 * its pidfd is race-free. The child shares our address space
 * (CLONE_VM|CLONE_VFORK: no page tables copied, this thread sleeps until
 * execve), so everything it needs is prepared first (sandbox_plan.c); it
 * writes its own uid/gid maps, so there is no parent/child handshake:
 * clone() returns once the program runs, and one read of the CLOEXEC
 * report pipe says whether setup failed and where. Sanitizer builds clone
 * without CLONE_VM (fork semantics): the sanitizer runtimes must not run on
 * a second stack inside our address space.
 *
 * The child is cloned with exit signal 0: no SIGCHLD reaches the host, a
 * host that ignores SIGCHLD cannot auto-reap it, and a host's waitpid(-1)
 * loop cannot steal it (only __WALL waits see it).
 *
 * Ptrace of this process from the sandbox is impossible twice over: we
 * are outside its pid namespace (it cannot name us) and seccomp refuses
 * ptrace.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core_int.h"
#include "sandbox_int.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#  define SB_SHARE_VM 0
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
      __has_feature(memory_sanitizer)
#    define SB_SHARE_VM 0
#  endif
#endif
#ifndef SB_SHARE_VM
#  define SB_SHARE_VM 1
#endif

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

void sandbox_close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* Keep our pipes off 0, 1, 2 (a host may have closed them), so the child
 * can dup2 them into place in any order. */
static int fd_above_stdio(int *fd)
{
	if (*fd > 2)
		return 0;
	int moved = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
	if (moved < 0)
		return -1;
	close(*fd);
	*fd = moved;
	return 0;
}

static int make_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	if (fd_above_stdio(&fds[0]) < 0 || fd_above_stdio(&fds[1]) < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	return 0;
}

void sandbox_reap(sb_proc *proc, siginfo_t *info, struct rusage *ru)
{
	siginfo_t si;
	struct rusage r;
	memset(&si, 0, sizeof si);
	memset(&r, 0, sizeof r);
	while (syscall(SYS_waitid, P_PIDFD, proc->pidfd, &si, WEXITED | __WALL, &r) < 0) {
		if (errno != EINTR) {
			/* Kernels before 5.4 have no P_PIDFD; the pid is ours and
			 * unreaped, so it cannot have been reused. */
			int status = 0;
			while (wait4(proc->pid, &status, __WALL, &r) < 0 && errno == EINTR)
				;
			si.si_code = WIFSIGNALED(status) ? CLD_KILLED : CLD_EXITED;
			si.si_status = WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status);
			break;
		}
	}
	if (info)
		*info = si;
	if (ru)
		*ru = r;
}

static void describe_op(const sandbox_op *op, char *out, size_t size)
{
	switch (op->kind) {
	case SB_OP_MKDIR:
		snprintf(out, size, "mkdir /%s", op->path);
		break;
	case SB_OP_SYMLINK:
		snprintf(out, size, "symlink /%s -> %s", op->path, op->src);
		break;
	case SB_OP_COPY:
		snprintf(out, size, "copy %s to /%s", op->src, op->path);
		break;
	case SB_OP_WRITE:
		snprintf(out, size, "write /%s", op->path);
		break;
	case SB_OP_BIND:
	case SB_OP_BIND_FILE:
		if (op->flags & MS_RDONLY)
			snprintf(out, size, "mount %s read-only at /%s", op->src, op->path);
		else
			snprintf(out, size, "bind %s at /%s", op->src, op->path);
		break;
	case SB_OP_TMPFS:
		snprintf(out, size, "mount tmpfs at /%s", op->path);
		break;
	case SB_OP_PROC:
		snprintf(out, size, "mount proc at /%s", op->path);
		break;
	}
}

/* Whether the failure was the skeleton's (sandbox_skeleton.c): it could
 * not be bound, or a mount point in it is gone. */
static bool skeleton_damaged(const sandbox_plan *p, const sandbox_report *r)
{
	if (r->step == SB_STEP_ROOT_BIND || r->step == SB_STEP_CHDIR_ROOT)
		return true;
	if (r->step != SB_STEP_OP || r->op_index < 0 || (size_t)r->op_index >= p->op_count ||
	    (r->err != ENOENT && r->err != ENOTDIR))
		return false;
	char target[PATH_MAX];
	struct stat st;
	snprintf(target, sizeof target, "%s/%s", p->root_source, p->ops[r->op_index].path);
	return lstat(target, &st) < 0;
}

/* See sandbox_int.h. */
int sandbox_spawn(sb_build *b, const cog_sandbox_options *o, sb_proc *proc,
                 bool *unavailable)
{
	sandbox_plan *p = &b->plan;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	int rep[2] = { -1, -1 };
	int rc = 0;
	*unavailable = false;
	proc->pid = -1;
	proc->pidfd = -1;
	proc->stdin_w = proc->out_r = proc->err_r = -1;

	if (make_pipe(in) < 0 || make_pipe(out) < 0 || make_pipe(err) < 0 ||
	    make_pipe(rep) < 0) {
		rc = cog__error(COG_EIO, "sandbox: pipe: %s", strerror(errno));
		goto fail;
	}
	if (fcntl(in[1], F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(err[0], F_SETFL, O_NONBLOCK) < 0) {
		rc = cog__error(COG_EIO, "sandbox: fcntl: %s", strerror(errno));
		goto fail;
	}
	p->stdin_fd = in[0];
	p->stdout_fd = out[1];
	p->stderr_fd = err[1];
	p->report_fd = rep[1];

	void *stack = mmap(NULL, SB_STACK_SIZE, PROT_READ | PROT_WRITE,
	                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
	if (stack == MAP_FAILED) {
		rc = cog__error(COG_ENOMEM, "sandbox: mmap of the child stack: %s",
			strerror(errno));
		goto fail;
	}
	/* A guard page: with CLONE_VM an overflow would land in our memory. */
	(void)mprotect(stack, 4096, PROT_NONE);

	int flags = CLONE_PIDFD;   /* exit signal 0: see the top of the file */
	if (SB_SHARE_VM)
		flags |= CLONE_VM | CLONE_VFORK;
	if (p->namespaces) {
		flags |= CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC |
		         CLONE_NEWUTS;
		if (!o->network)
			flags |= CLONE_NEWNET;
	}

	sigset_t all, saved;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	proc->start_ns = cog_clock_mono_ns();
	int pidfd = -1;
	pid_t pid = clone(sandbox_child_main, (char *)stack + SB_STACK_SIZE, flags, p,
	                  &pidfd);
	int clone_errno = errno;
	pthread_sigmask(SIG_SETMASK, &saved, NULL);

	if (pid < 0) {
		munmap(stack, SB_STACK_SIZE);
		if (p->namespaces && (clone_errno == EPERM || clone_errno == EINVAL ||
		                      clone_errno == ENOSPC || clone_errno == EUSERS ||
		                      clone_errno == ENOSYS)) {
			*unavailable = true;
			rc = cog__error(COG_EUNAVAILABLE, "clone with new user, pid, mount, "
				"IPC, UTS%s namespaces: %s", o->network ? "" : " and network",
				strerror(clone_errno));
		} else {
			rc = cog__error(clone_errno == ENOMEM ? COG_ENOMEM : COG_EIO,
				"sandbox: clone: %s", strerror(clone_errno));
		}
		goto fail;
	}
	proc->pid = pid;
	proc->pidfd = pidfd;
	sandbox_close_fd(&in[0]);
	sandbox_close_fd(&out[1]);
	sandbox_close_fd(&err[1]);
	sandbox_close_fd(&rep[1]);

	/* With CLONE_VFORK the child has already exec'd or died: this read
	 * does not wait. Without it, it waits for exactly that. */
	sandbox_report report;
	ssize_t n;
	do
		n = read(rep[0], &report, sizeof report);
	while (n < 0 && errno == EINTR);
	sandbox_close_fd(&rep[0]);
	munmap(stack, SB_STACK_SIZE);   /* the child is past using it */

	if (n == 0) {
		proc->stdin_w = in[1];
		proc->out_r = out[0];
		proc->err_r = err[0];
		return 0;
	}

	/* Setup failed: reap the child, then say exactly what failed. */
	sandbox_reap(proc, NULL, NULL);
	sandbox_close_fd(&proc->pidfd);
	if (n != (ssize_t)sizeof report) {
		rc = cog__error(COG_EIO, "sandbox: the child died during setup");
		goto fail;
	}
	if (p->root_source && skeleton_damaged(p, &report))
		b->skeleton_broken = true;
	const char *step = report.step >= 0 && report.step < SB_STEP_COUNT
	                 ? sandbox_step_names[report.step] : "setup";
	char what[PATH_MAX + 64];
	if (report.step == SB_STEP_OP && report.op_index >= 0 &&
	    (size_t)report.op_index < p->op_count)
		describe_op(&p->ops[report.op_index], what, sizeof what);
	else if (report.step == SB_STEP_EXEC)
		snprintf(what, sizeof what, "%s %s", step, p->exec_path);
	else if (report.step == SB_STEP_CHDIR)
		snprintf(what, sizeof what, "%s %s", step, p->cwd);
	else
		snprintf(what, sizeof what, "%s", step);

	bool early = report.step == SB_STEP_SETGROUPS || report.step == SB_STEP_UID_MAP ||
	             report.step == SB_STEP_GID_MAP || report.step == SB_STEP_ROOT_TMPFS;
	if (p->namespaces && early && (report.err == EPERM || report.err == EACCES)) {
		/* The kernel (or an LSM) lets us create a user namespace but
		 * not use it. */
		*unavailable = true;
		rc = cog__error(COG_EUNAVAILABLE, "%s: %s", what, strerror(report.err));
	} else if (report.step == SB_STEP_EXEC && report.err == ENOENT) {
		rc = cog__error(COG_ENOTFOUND, "sandbox: %s: not found in the sandbox",
			p->exec_path);
	} else if (report.step == SB_STEP_CHDIR && (report.err == ENOENT ||
	                                             report.err == ENOTDIR)) {
		rc = cog__error(COG_EINVAL, "sandbox: cwd %s: %s", p->cwd,
			strerror(report.err));
	} else {
		rc = cog__error(report.err == ENOMEM ? COG_ENOMEM : COG_EIO,
			"sandbox: %s: %s", what, strerror(report.err));
	}

fail:
	sandbox_close_fd(&in[0]);
	sandbox_close_fd(&in[1]);
	sandbox_close_fd(&out[0]);
	sandbox_close_fd(&out[1]);
	sandbox_close_fd(&err[0]);
	sandbox_close_fd(&err[1]);
	sandbox_close_fd(&rep[0]);
	sandbox_close_fd(&rep[1]);
	return rc;
}

