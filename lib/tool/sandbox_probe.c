/*
 * cog_sandbox_probe(): what this machine offers, probed once per process.
 * The namespace probe clones a child through the same first steps as a
 * real run (id maps, a tmpfs mount) so that a kernel or LSM that allows
 * creating a user namespace but not using it is reported as unavailable.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/seccomp.h>

#include "core_int.h"
#include "sandbox_int.h"

typedef struct sb_probe_arg {
	int report_fd;
	char uid_map[32];
	char gid_map[32];
} sb_probe_arg;

static struct {
	bool namespaces;
	bool seccomp;
	char reason[256];
} probe_result;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

SB_CHILD_CODE static int probe_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	ssize_t n = write(fd, text, strlen(text));
	int e = n < 0 ? errno : 0;
	close(fd);
	return e;
}

/* The probe's child: the same first steps as the real one. */
SB_CHILD_CODE static int probe_child(void *argp)
{
	const sb_probe_arg *arg = argp;
	sandbox_report r = { 0, 0, 0 };
	if ((r.err = probe_write("/proc/self/setgroups", "deny")) != 0 && r.err != ENOENT)
		r.step = SB_STEP_SETGROUPS;
	else if ((r.err = probe_write("/proc/self/uid_map", arg->uid_map)) != 0)
		r.step = SB_STEP_UID_MAP;
	else if ((r.err = probe_write("/proc/self/gid_map", arg->gid_map)) != 0)
		r.step = SB_STEP_GID_MAP;
	else if (mount("tmpfs", "/", "tmpfs", MS_NOSUID | MS_NODEV, "size=4k") < 0) {
		r.err = errno;
		r.step = SB_STEP_ROOT_TMPFS;
	} else {
		r.err = 0;
	}
	if (r.err) {
		ssize_t n = write(arg->report_fd, &r, sizeof r);
		(void)n;
	}
	_exit(r.err ? 1 : 0);
}

static void probe_run(void)
{
	struct seccomp_act { unsigned int action; } act = { SECCOMP_RET_KILL_PROCESS };
	probe_result.seccomp =
		syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &act.action) == 0;

	sb_probe_arg arg;
	snprintf(arg.uid_map, sizeof arg.uid_map, "0 %u 1", (unsigned int)geteuid());
	snprintf(arg.gid_map, sizeof arg.gid_map, "0 %u 1", (unsigned int)getegid());
	int rep[2];
	if (pipe2(rep, O_CLOEXEC) < 0) {
		snprintf(probe_result.reason, sizeof probe_result.reason, "pipe: %s",
			strerror(errno));
		return;
	}
	arg.report_fd = rep[1];
	void *stack = mmap(NULL, SB_STACK_SIZE, PROT_READ | PROT_WRITE,
	                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
	if (stack == MAP_FAILED) {
		snprintf(probe_result.reason, sizeof probe_result.reason, "mmap: %s",
			strerror(errno));
		close(rep[0]);
		close(rep[1]);
		return;
	}
	int flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC |
	            CLONE_NEWUTS | CLONE_NEWNET;
	sigset_t all, saved;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	pid_t pid = clone(probe_child, (char *)stack + SB_STACK_SIZE, flags, &arg);
	int e = errno;
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	close(rep[1]);
	if (pid < 0) {
		snprintf(probe_result.reason, sizeof probe_result.reason,
			"clone with new user, pid, mount, IPC, UTS and network namespaces: %s",
			strerror(e));
	} else {
		sandbox_report r;
		ssize_t n;
		do
			n = read(rep[0], &r, sizeof r);
		while (n < 0 && errno == EINTR);
		int status;
		while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR)
			;
		if (n == (ssize_t)sizeof r && r.step >= 0 && r.step < SB_STEP_COUNT)
			snprintf(probe_result.reason, sizeof probe_result.reason, "%s: %s",
				sandbox_step_names[r.step], strerror(r.err));
		else if (n != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			snprintf(probe_result.reason, sizeof probe_result.reason,
				"the probe child failed");
		else
			probe_result.namespaces = true;
	}
	close(rep[0]);
	munmap(stack, SB_STACK_SIZE);
}

int cog_sandbox_probe(char **json)
{
	COG_CHECK_ARG(json, "cog_sandbox_probe", "json is NULL");
	*json = NULL;
	pthread_once(&probe_once, probe_run);
	bool namespaces = probe_result.namespaces;
	const char *reason = probe_result.reason[0] ? probe_result.reason : NULL;
	char forced[96];
	if (sandbox_force_unavailable()) {
		snprintf(forced, sizeof forced, "namespaces disabled by %s=1 (test hook)",
			SB_FORCE_ENV);
		namespaces = false;
		reason = forced;
	}
	cog_buf buf = COG_BUF_INIT;
	cog_buf_printf(&buf, "{\"namespaces\":%s,\"seccomp\":%s,\"landlock\":%d,"
		"\"reason\":", namespaces ? "true" : "false",
		probe_result.seccomp ? "true" : "false", sandbox_landlock_abi());
	if (reason && !namespaces)
		cog_buf_put_json_string(&buf, reason, strlen(reason));
	else
		cog_buf_puts(&buf, "null");
	cog_buf_putc(&buf, '}');
	*json = cog_buf_detach(&buf);
	return *json ? 0 : cog__oom("cog_sandbox_probe");
}
