/*
 * Between stdio.c (the transport), stdio_read.c (its threads),
 * stdio_spawn.c (starting the server process) and stdio_reap.c (waiting
 * for it and reaping it). Private to those files.
 */
#ifndef COG_MCP_STDIO_INT_H
#define COG_MCP_STDIO_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "mcp_int.h"

/* A started server: its pid (also its process group) and our ends of its
 * standard streams, all close-on-exec, none of them 0, 1 or 2. */
typedef struct mcp_child {
	pid_t pid;
	int stdin_fd;        /* we write; non-blocking */
	int stdout_fd;       /* we read */
	int stderr_fd;       /* we read */
} mcp_child;

/* ---- stdio_spawn.c ---- */

/*
 * Start cfg->argv with cfg->envp merged into our environment and cfg->cwd,
 * in a process group of its own. Returns once the program runs (execve
 * succeeded) or failed to: COG_ENOTFOUND "cannot run \"x\": No such file
 * or directory" (not found in PATH, or the path does not exist),
 * COG_EUNAVAILABLE for the other failures (permission, the working
 * directory, fork), COG_ENOMEM. On failure nothing is left open or
 * running.
 */
int mcp_child_spawn(const mcp_config *cfg, mcp_child *child);

/* ---- stdio_reap.c ---- */

/*
 * Whether the child has exited, without reaping it (it stays a zombie, so
 * its pid and process group cannot be reused while we signal them).
 * Waits up to wait_ms (0: just look). When it has, *status (may be NULL)
 * is its waitpid()-style status, or -1 when it is gone already: ECHILD (a
 * host that sets SIGCHLD to SIG_IGN has the kernel reap it) counts as
 * exited, with no status.
 */
bool mcp_child_exited(pid_t pid, unsigned int wait_ms, int *status);

/* Reap an exited child; *status as waitpid() gives it, or -1 when it was
 * reaped elsewhere. Never blocks on a child that has not exited: check
 * mcp_child_exited() first. */
void mcp_child_reap(pid_t pid, int *status);

/* Reap a child that was sent SIGKILL but has not died yet, in a detached
 * thread blocked in waitpid() (or here, when no thread can start): it is
 * never left a zombie. */
void mcp_child_reap_later(pid_t pid);

/* "exited with status N" / "killed by signal S (SIGTERM)" for a waitpid()
 * status (-1: "exited"). */
void mcp_child_status_text(int status, char *out, size_t size);

/* ---- the transport (stdio.c, stdio_read.c) ---- */

#define MCP_STDERR_TAIL 2048

/* One running server (m->transport). */
typedef struct stdio_state {
	cog_mcp *m;
	mcp_child child;
	int wake[2];                 /* written by stop: threads leave poll */
	pthread_t reader, errors;
	bool reader_started, errors_started;
	atomic_bool stopping;        /* stop began */
	atomic_bool broken;          /* stdout ended or stdin is unusable */

	pthread_mutex_t write_lock;  /* one writer; guards child.stdin_fd */

	pthread_mutex_t lock;        /* below */
	pthread_cond_t cond;
	bool reaped;                 /* or handed to mcp_child_reap_later() */
	int wait_status;             /* when reaped: waitpid()'s, or -1 */
	bool errors_done;            /* the stderr thread saw EOF */
	char tail[MCP_STDERR_TAIL];
	size_t tail_len;
} stdio_state;

/* The threads (stdio_read.c): stdout lines to mcp_receive_valid(), then
 * mcp_stdio_report_eof(); stderr lines to the log and the tail. */
void *mcp_stdio_reader_main(void *arg);
void *mcp_stdio_errors_main(void *arg);
/* The end of the server's stderr (whole lines, trimmed, UTF-8), to
 * cog_free(); NULL on OOM. */
char *mcp_stdio_tail_text(stdio_state *st);

/* stdio.c: stdout ended: reap (with the group signal, see stdio.c), and
 * tell conn.c why the server is gone (unless stop is under way). */
void mcp_stdio_report_eof(stdio_state *st);

#endif /* COG_MCP_STDIO_INT_H */
