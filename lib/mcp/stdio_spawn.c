/*
 * Starting a stdio MCP server as a child process, safely in a host with
 * many threads.
 *
 * Everything the child needs (the merged environment, the resolved path
 * of the program, the pipes) is prepared before fork(); between fork()
 * and execve() the child makes only async-signal-safe system calls: the
 * fork happens with every signal blocked, so no host handler can run in
 * the child before it has reset the dispositions. The child goes into a
 * process group of its own (npx and friends start children: stop signals
 * the whole group). Whether execve() succeeded comes back through a
 * close-on-exec pipe: EOF means it ran, else the child wrote which step
 * failed and its errno, so a missing program is an error of the start,
 * not a late EOF on its stdout.
 *
 * argv[0] is searched in the PATH of the environment the server gets
 * (ours with cfg->envp applied), as a shell run with that environment
 * would. Waiting for the child and reaping it: stdio_reap.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stdio_int.h"

extern char **environ;

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

enum { STEP_PGID = 1, STEP_DUP, STEP_CHDIR, STEP_EXEC };

typedef struct spawn_report {
	int step;
	int err;
} spawn_report;

typedef struct spawn_plan {
	char **envp;        /* array owned, strings borrowed */
	char *path;         /* the program to execve, owned */
	char *const *argv;
	const char *cwd;
	int in[2], out[2], err[2], rep[2];
} spawn_plan;

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* A close-on-exec pipe whose ends are not 0, 1 or 2 (a host may have
 * closed those), so the child's dup2() calls cannot clobber each other. */
static int pipe_above_stdio(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (fds[i] > 2)
			continue;
		int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (moved < 0) {
			close(fds[0]);
			close(fds[1]);
			fds[0] = fds[1] = -1;
			return -1;
		}
		close(fds[i]);
		fds[i] = moved;
	}
	return 0;
}

/* Whether `entry` ("K=V") names a variable that one of `extra` sets. */
static bool env_overridden(const char *entry, char *const *extra)
{
	size_t n = strcspn(entry, "=");
	for (; extra && *extra; extra++)
		if (strncmp(*extra, entry, n) == 0 && (*extra)[n] == '=')
			return true;
	return false;
}

static int merge_env(spawn_plan *p, char *const *extra)
{
	size_t count = 0, extra_count = 0;
	for (char **e = environ; e && *e; e++)
		count++;
	for (char *const *e = extra; e && *e; e++)
		extra_count++;
	p->envp = cog__calloc(count + extra_count + 1, sizeof(char *));
	if (!p->envp)
		return cog__oom("mcp stdio: environment");
	size_t n = 0;
	for (char **e = environ; e && *e && n < count; e++)
		if (!env_overridden(*e, extra))
			p->envp[n++] = *e;
	for (char *const *e = extra; e && *e; e++)
		p->envp[n++] = *e;
	p->envp[n] = NULL;
	return 0;
}

static const char *env_get(char *const *envp, const char *name)
{
	size_t len = strlen(name);
	for (; *envp; envp++)
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
			return *envp + len + 1;
	return NULL;
}

static bool is_executable_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* The program's path: argv[0] itself when it has a '/', else the first
 * executable file named so in a directory of PATH. */
static int resolve_program(spawn_plan *p, const char *name)
{
	if (strchr(name, '/')) {
		p->path = cog__strdup(name);
		return p->path ? 0 : cog__oom("mcp stdio: program path");
	}
	if (!*name)
		return cog__error(COG_ENOTFOUND, "cannot run \"\": empty program name");
	const char *search = env_get(p->envp, "PATH");
	if (!search)
		search = "/usr/local/bin:/usr/bin:/bin";
	cog_buf candidate = COG_BUF_INIT;
	for (const char *dir = search;;) {
		size_t len = strcspn(dir, ":");
		cog_buf_clear(&candidate);
		if (len == 0)
			cog_buf_puts(&candidate, ".");
		else
			cog_buf_put(&candidate, dir, len);
		cog_buf_printf(&candidate, "/%s", name);
		if (candidate.failed) {
			cog_buf_dispose(&candidate);
			return cog__oom("mcp stdio: program path");
		}
		if (is_executable_file(candidate.ptr)) {
			p->path = cog_buf_detach(&candidate);
			return p->path ? 0 : cog__oom("mcp stdio: program path");
		}
		if (!dir[len])
			break;
		dir += len + 1;
	}
	cog_buf_dispose(&candidate);
	return cog__error(COG_ENOTFOUND, "cannot run \"%s\": %s (searched PATH=%s)",
		name, strerror(ENOENT), search);
}

static void plan_dispose(spawn_plan *p)
{
	cog_free(p->envp);
	cog_free(p->path);
	int *fds[] = { p->in, p->out, p->err, p->rep };
	for (size_t i = 0; i < COG_ARRAY_LEN(fds); i++) {
		close_fd(&fds[i][0]);
		close_fd(&fds[i][1]);
	}
}

static void report_and_exit(int fd, int step, int err) __attribute__((noreturn));
static void report_and_exit(int fd, int step, int err)
{
	spawn_report r = { step, err };
	ssize_t n;
	do
		n = write(fd, &r, sizeof r);
	while (n < 0 && errno == EINTR);
	_exit(127);
}

/* In the child, between fork() and execve(): async-signal-safe calls
 * only, nothing allocated. Every signal is blocked on entry. */
static void child_exec(const spawn_plan *p) __attribute__((noreturn));
static void child_exec(const spawn_plan *p)
{
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	/* The host's handlers and ignored signals (SIGPIPE, often) are not
	 * the server's business. Errors (SIGKILL, glibc's own) are fine. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (setpgid(0, 0) < 0)
		report_and_exit(p->rep[1], STEP_PGID, errno);
	if (dup2(p->in[0], 0) < 0 || dup2(p->out[1], 1) < 0 || dup2(p->err[1], 2) < 0)
		report_and_exit(p->rep[1], STEP_DUP, errno);
	if (p->cwd && chdir(p->cwd) < 0)
		report_and_exit(p->rep[1], STEP_CHDIR, errno);
#ifdef SYS_close_range
	/* Descriptors the host opened without O_CLOEXEC stay ours. */
	syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
#endif
	execve(p->path, p->argv, p->envp);
	report_and_exit(p->rep[1], STEP_EXEC, errno);
}

static int report_error(const spawn_plan *p, const mcp_config *cfg,
                        const spawn_report *r)
{
	const char *prog = cfg->argv[0];
	switch (r->step) {
	case STEP_EXEC:
		return cog__error(r->err == ENOENT || r->err == ENOTDIR ? COG_ENOTFOUND :
		                  COG_EUNAVAILABLE, "cannot run \"%s\": %s", p->path,
		                  strerror(r->err));
	case STEP_CHDIR:
		return cog__error(COG_EUNAVAILABLE, "cannot run \"%s\": working directory \"%s\": %s",
			prog, p->cwd, strerror(r->err));
	case STEP_PGID:
		return cog__error(COG_EUNAVAILABLE, "cannot run \"%s\": setpgid: %s",
			prog, strerror(r->err));
	default:
		return cog__error(COG_EUNAVAILABLE, "cannot run \"%s\": dup2: %s",
			prog, strerror(r->err));
	}
}

/* See stdio_int.h. */
int mcp_child_spawn(const mcp_config *cfg, mcp_child *child)
{
	spawn_plan p;
	memset(&p, 0, sizeof p);
	int *fds[] = { p.in, p.out, p.err, p.rep };
	for (size_t i = 0; i < COG_ARRAY_LEN(fds); i++)
		fds[i][0] = fds[i][1] = -1;
	child->pid = -1;
	child->stdin_fd = child->stdout_fd = child->stderr_fd = -1;
	if (!cfg->argv || !cfg->argv[0])
		return cog__error(COG_EINVAL, "mcp stdio: no program to run");
	p.argv = cfg->argv;
	p.cwd = cfg->cwd;

	int rc = merge_env(&p, cfg->envp);
	if (rc == 0)
		rc = resolve_program(&p, cfg->argv[0]);
	if (rc == 0 && (pipe_above_stdio(p.in) < 0 || pipe_above_stdio(p.out) < 0 ||
	                pipe_above_stdio(p.err) < 0 || pipe_above_stdio(p.rep) < 0))
		rc = cog__error(COG_EUNAVAILABLE, "mcp stdio: pipe: %s", strerror(errno));
	if (rc == 0 && fcntl(p.in[1], F_SETFL, O_NONBLOCK) < 0)
		rc = cog__error(COG_EUNAVAILABLE, "mcp stdio: fcntl: %s", strerror(errno));
	if (rc) {
		plan_dispose(&p);
		return rc;
	}

	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = fork();
	if (pid == 0)
		child_exec(&p);
	int fork_errno = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		plan_dispose(&p);
		return cog__error(COG_EUNAVAILABLE, "cannot run \"%s\": fork: %s",
			cfg->argv[0], strerror(fork_errno));
	}
	/* Also from here: whichever runs first, the group exists before we
	 * signal it (EACCES once the child has exec'd is fine). */
	setpgid(pid, pid);
	close_fd(&p.in[0]);
	close_fd(&p.out[1]);
	close_fd(&p.err[1]);
	close_fd(&p.rep[1]);

	spawn_report r;
	ssize_t n;
	do
		n = read(p.rep[0], &r, sizeof r);
	while (n < 0 && errno == EINTR);
	if (n != 0) {
		if (n != (ssize_t)sizeof r) {
			r.step = STEP_EXEC;
			r.err = n < 0 ? errno : EIO;
		}
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		rc = report_error(&p, cfg, &r);
		plan_dispose(&p);
		return rc;
	}
	child->pid = pid;
	child->stdin_fd = p.in[1];
	child->stdout_fd = p.out[0];
	child->stderr_fd = p.err[0];
	p.in[1] = p.out[0] = p.err[0] = -1;
	plan_dispose(&p);
	return 0;
}
