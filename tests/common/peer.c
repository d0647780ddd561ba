/* A third-party server started by a test (peer.h): the process itself,
 * from fork to reaping. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peer.h"
#include "peer_int.h"

struct peer {
	char name[64];
	pid_t pid;
	unsigned short port;
	char url[40];
	char log_path[512];
	bool keep_log;
	int stdin_fd, stdout_fd;
	bool reaped;
	int exit_status;
};

/* What the child needs, prepared before fork() (after it, only
 * async-signal-safe calls). */
typedef struct launch {
	char program[512];
	char **argv, **envp;
	char port_entry[96];
	const char *cwd;
	int log_fd;
	int in_pipe[2], out_pipe[2];  /* stdio peers */
	int report[2];                /* the child's errno if exec fails */
	pid_t parent;
} launch;

static int decode_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return status;
}

/* Reap the child if it exited; true when it has. */
static bool reap(peer *p, int flags)
{
	int status;
	pid_t r;

	if (p->reaped)
		return true;
	do
		r = waitpid(p->pid, &status, flags);
	while (r < 0 && errno == EINTR);
	if (r == p->pid) {
		p->reaped = true;
		p->exit_status = decode_status(status);
		return true;
	}
	/* Not our child (a forked test asking): ask the kernel. */
	if (r < 0 && errno == ECHILD)
		return kill(p->pid, 0) != 0;
	return false;
}

bool peer_alive(peer *p)
{
	return p != NULL && !reap(p, WNOHANG);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void exec_child(const launch *l)
{
	sigset_t none;
	int err;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != l->parent)
		_exit(126);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (l->in_pipe[0] >= 0) {
		dup2(l->in_pipe[0], 0);
		dup2(l->out_pipe[1], 1);
	} else {
		int null_fd = open("/dev/null", O_RDONLY);

		if (null_fd >= 0)
			dup2(null_fd, 0);
		dup2(l->log_fd, 1);
	}
	dup2(l->log_fd, 2);
	if (l->cwd == NULL || chdir(l->cwd) == 0)
		execve(l->program, l->argv, l->envp);
	err = errno;
	(void)!write(l->report[1], &err, sizeof(err));
	_exit(127);
}

/* The peer's port, URL, log, argv and environment. */
static int prepare(peer *p, launch *l, const peer_options *o)
{
	const char *name = p->name;

	if (!o->stdio) {
		if (peer_free_port(&p->port) != 0) {
			peer_set_error("%s: no free port on 127.0.0.1: %s", name, strerror(errno));
			return -1;
		}
		snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%u", p->port);
		snprintf(l->port_entry, sizeof(l->port_entry), "%s=%u",
		         o->port_env != NULL ? o->port_env : "PORT", p->port);
	}
	l->argv = peer_child_argv(o->argv, p->port);
	l->envp = peer_child_env(o->env, o->stdio ? NULL : l->port_entry);
	if (l->argv == NULL || l->envp == NULL) {
		peer_set_error("%s: out of memory", name);
		return -1;
	}
	if (o->log_path != NULL)
		snprintf(p->log_path, sizeof(p->log_path), "%s", o->log_path);
	else
		peer_default_log_path(p->log_path, sizeof(p->log_path), name);
	l->log_fd = open(p->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (l->log_fd < 0) {
		peer_set_error("%s: cannot open its log %s: %s", name, p->log_path,
		               strerror(errno));
		return -1;
	}
	if (pipe2(l->report, O_CLOEXEC) != 0 || (o->stdio &&
	    (pipe2(l->in_pipe, O_CLOEXEC) != 0 || pipe2(l->out_pipe, O_CLOEXEC) != 0))) {
		peer_set_error("%s: pipe: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

/* fork() and execve(); 0 once the program runs. */
static int spawn(peer *p, launch *l, const char *hint)
{
	int child_errno = 0;
	ssize_t got;

	p->pid = fork();
	if (p->pid < 0) {
		peer_set_error("%s: fork: %s", p->name, strerror(errno));
		return -1;
	}
	if (p->pid == 0)
		exec_child(l);
	close_fd(&l->report[1]);
	close_fd(&l->in_pipe[0]);
	close_fd(&l->out_pipe[1]);
	p->stdin_fd = l->in_pipe[1];
	p->stdout_fd = l->out_pipe[0];
	l->in_pipe[1] = l->out_pipe[0] = -1;
	/* EOF: execve() succeeded (the pipe closed on exec). */
	do
		got = read(l->report[0], &child_errno, sizeof(child_errno));
	while (got < 0 && errno == EINTR);
	if (got == (ssize_t)sizeof(child_errno)) {
		reap(p, 0);
		peer_set_error("%s: cannot start %s%s%s: %s%s%s", p->name, l->program,
		               l->cwd != NULL ? " in " : "", l->cwd != NULL ? l->cwd : "",
		               strerror(child_errno), *hint ? "; " : "", hint);
		return -1;
	}
	return 0;
}

/* Wait until the peer answers at its readiness path (a stdio peer: until
 * it has run for 50 ms without exiting). */
static int wait_ready(peer *p, const peer_options *o)
{
	unsigned int timeout = o->ready_timeout_ms != 0 ? o->ready_timeout_ms : 30000;
	long long deadline = peer_now_ms() + timeout;
	const char *path = o->ready_path != NULL ? o->ready_path : "/";
	int last = -1;

	if (o->stdio) {
		peer_sleep_ms(50);
		if (!reap(p, WNOHANG))
			return 0;
		peer_set_error("%s: exited with status %d at once; its log %s ends with:\n%s",
		               p->name, p->exit_status, p->log_path, peer_log_tail(p->log_path));
		return -1;
	}
	for (;;) {
		if (reap(p, WNOHANG)) {
			peer_set_error("%s: exited with status %d before answering on %s%s; "
			               "its log %s ends with:\n%s", p->name, p->exit_status,
			               p->url, path, p->log_path, peer_log_tail(p->log_path));
			return -1;
		}
		last = peer_probe(p->port, path);
		if (o->ready_path == NULL ? last > 0 : last >= 200 && last < 300)
			return 0;
		if (peer_now_ms() > deadline)
			break;
		peer_sleep_ms(50);
	}
	peer_set_error("%s: no %s answer from GET %s%s within %u ms (last: %d); "
	               "its log %s ends with:\n%s", p->name,
	               o->ready_path != NULL ? "2xx" : "HTTP", p->url, path, timeout,
	               last, p->log_path, peer_log_tail(p->log_path));
	return -1;
}

int peer_start(peer **out, const peer_options *o)
{
	const char *name = o != NULL && o->name != NULL ? o->name : "peer";
	const char *hint = o != NULL && o->install_hint != NULL ? o->install_hint : "";
	launch l = { .log_fd = -1, .in_pipe = { -1, -1 }, .out_pipe = { -1, -1 },
	             .report = { -1, -1 }, .parent = getpid() };
	peer *p;
	int rc = -1;

	*out = NULL;
	peer_set_error("%s", "");
	if (o == NULL || o->argv == NULL || o->argv[0] == NULL) {
		peer_set_error("%s: no command", name);
		return -1;
	}
	if (peer_find_program(o->argv[0], l.program, sizeof(l.program)) != 0) {
		peer_set_error("%s: cannot start: program '%s' not found%s%s%s", name,
		               o->argv[0], strchr(o->argv[0], '/') ? "" : " in PATH",
		               *hint ? "; " : "", hint);
		return -1;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		peer_set_error("%s: out of memory", name);
		return -1;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->stdin_fd = p->stdout_fd = -1;
	p->keep_log = o->keep_log || getenv("COG_TEST_KEEP_PEER_LOGS") != NULL;
	l.cwd = o->cwd;
	if (prepare(p, &l, o) == 0 && spawn(p, &l, hint) == 0 && wait_ready(p, o) == 0) {
		*out = p;
		rc = 0;
	} else {
		p->keep_log = true;   /* the message points at it */
		if (p->pid > 0)
			peer_stop(p);
		else
			free(p);
	}
	close_fd(&l.log_fd);
	close_fd(&l.report[0]);
	close_fd(&l.report[1]);
	close_fd(&l.in_pipe[0]);
	close_fd(&l.in_pipe[1]);
	close_fd(&l.out_pipe[0]);
	close_fd(&l.out_pipe[1]);
	peer_free_argv(l.argv);
	free(l.envp);
	return rc;
}

int peer_stop(peer *p)
{
	long long deadline;
	int status;

	if (p == NULL)
		return -1;
	if (p->stdin_fd >= 0) {
		/* A stdio peer usually ends at the end of its input. */
		close_fd(&p->stdin_fd);
		deadline = peer_now_ms() + 500;
		while (!reap(p, WNOHANG) && peer_now_ms() < deadline)
			peer_sleep_ms(10);
	}
	if (!reap(p, WNOHANG)) {
		kill(p->pid, SIGTERM);
		deadline = peer_now_ms() + 5000;
		while (!reap(p, WNOHANG) && peer_now_ms() < deadline)
			peer_sleep_ms(10);
		if (!reap(p, WNOHANG)) {
			kill(p->pid, SIGKILL);
			reap(p, 0);
		}
	}
	close_fd(&p->stdout_fd);
	if (!p->keep_log)
		unlink(p->log_path);
	status = p->exit_status;
	free(p);
	return status;
}

pid_t peer_pid(const peer *p) { return p->pid; }
unsigned short peer_port(const peer *p) { return p->port; }
const char *peer_url(const peer *p) { return p->url; }
const char *peer_log_path(const peer *p) { return p->log_path; }
int peer_stdin_fd(const peer *p) { return p->stdin_fd; }
int peer_stdout_fd(const peer *p) { return p->stdout_fd; }
