/*
 * After a stdio MCP server was started (stdio_spawn.c): whether it has
 * exited (looked at without reaping it, so its pid and process group stay
 * ours while we may signal them), reaping it, here or in a detached
 * thread when it was killed but is not dead yet, and its status in words.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "stdio_int.h"

/* A waitpid()-style status from what waitid() says. */
static int status_of(const siginfo_t *si)
{
	if (si->si_code == CLD_EXITED)
		return (si->si_status & 0xff) << 8;
	if (si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED)
		return (si->si_status & 0x7f) | (si->si_code == CLD_DUMPED ? 0x80 : 0);
	return -1;
}

/* See stdio_int.h. */
bool mcp_child_exited(pid_t pid, unsigned int wait_ms, int *status)
{
	uint64_t end = cog_clock_mono_ns() + (uint64_t)wait_ms * 1000000u;
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof si);
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
			if (errno == EINTR)
				continue;
			if (status)
				*status = -1;
			return true;            /* ECHILD: reaped by someone else */
		}
		if (si.si_pid != 0) {
			if (status)
				*status = status_of(&si);
			return true;
		}
		if (cog_clock_mono_ns() >= end)
			return false;
		cog_clock_sleep_ms(10);
	}
}

/* See stdio_int.h. */
void mcp_child_reap(pid_t pid, int *status)
{
	int s = 0;
	pid_t r;
	while ((r = waitpid(pid, &s, 0)) < 0 && errno == EINTR)
		;
	*status = r == pid ? s : -1;
}

static void *reap_main(void *arg)
{
	int status;
	mcp_child_reap((pid_t)(intptr_t)arg, &status);
	return NULL;
}

/* See stdio_int.h. */
void mcp_child_reap_later(pid_t pid)
{
	pthread_attr_t attr;
	pthread_t t;
	int err = pthread_attr_init(&attr);
	if (err == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		err = pthread_create(&t, &attr, reap_main, (void *)(intptr_t)pid);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_attr_destroy(&attr);
	}
	if (err) {
		/* No thread: wait here (it was sent SIGKILL, which it cannot
		 * ignore; the kernel bounds this). */
		int status;
		mcp_child_reap(pid, &status);
	}
}

/* See stdio_int.h. */
void mcp_child_status_text(int status, char *out, size_t size)
{
	if (status == -1)
		snprintf(out, size, "exited");
	else if (WIFEXITED(status))
		snprintf(out, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status)) {
		const char *abbrev = sigabbrev_np(WTERMSIG(status));
		snprintf(out, size, "killed by signal %d (SIG%s)", WTERMSIG(status),
			abbrev ? abbrev : "?");
	} else
		snprintf(out, size, "stopped (status 0x%x)", (unsigned int)status);
}
