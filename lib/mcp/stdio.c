/*
 * The stdio transport: the server is our child (stdio_spawn.c), one
 * JSON-RPC message a line on its stdin and stdout.
 *
 * Two threads per server: the reader cuts stdout into lines and hands
 * each to mcp_receive_valid(), which blocks while the dispatch queue is
 * full; then the reader stops reading, the pipe fills and the server
 * blocks in its write: a flooding server is held back by the pipe, never
 * by a buffer of ours. A line longer than max_message_bytes is dropped as
 * it streams past. The stderr thread logs each line of the server's
 * standard error and keeps its last 2 KiB, which the reader quotes when
 * stdout ends and the server is gone.
 *
 * Writes happen one at a time (write_lock) on a non-blocking pipe, with
 * SIGPIPE blocked in the writing thread and a pending one taken back, so
 * a server that died never kills the host. A message once begun is
 * finished even if the ctx is canceled (half a line would break the
 * stream for every other request): only its deadline, stop or close end
 * it, and then the stream is lost. A canceled ctx abandons only a request
 * not yet begun: notifications (notifications/cancelled is sent because
 * the ctx was canceled) and responses wait for room in the pipe until
 * their deadline, stop or close. Stop closes the server's
 * stdin, waits 2 s, then SIGTERM and, 5 s later, SIGKILL to its process
 * group (signalled only while the leader is unreaped, so the group id
 * cannot have been reused). Whoever reaps the child (the reader when
 * stdout ends, or stop) first sends SIGTERM to what is left of its group;
 * a child still alive 2 s after SIGKILL is reaped by a detached thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stdio_int.h"

#define POLL_SLICE_MS 100

/* ---- the child's exit ---- */

/*
 * The one place that reaps the child (the reader when stdout ends, stop):
 * if it has exited (waiting up to wait_ms), SIGTERM what is left of its
 * process group (the children of npx and friends), then reap it. The
 * group is signalled while the leader is a zombie, so its id cannot have
 * been reused. describe only looks.
 */
static bool reap_if_exited(stdio_state *st, unsigned int wait_ms)
{
	pthread_mutex_lock(&st->lock);
	bool done = st->reaped;
	pthread_mutex_unlock(&st->lock);
	if (done)
		return true;
	if (!mcp_child_exited(st->child.pid, wait_ms, NULL))
		return false;
	pthread_mutex_lock(&st->lock);
	if (!st->reaped) {
		kill(-st->child.pid, SIGTERM);
		mcp_child_reap(st->child.pid, &st->wait_status);
		st->reaped = true;
	}
	pthread_mutex_unlock(&st->lock);
	return true;
}

static void signal_group(stdio_state *st, int sig)
{
	pthread_mutex_lock(&st->lock);
	if (!st->reaped)
		kill(-st->child.pid, sig);
	pthread_mutex_unlock(&st->lock);
}

/* See stdio_int.h. */
void mcp_stdio_report_eof(stdio_state *st)
{
	cog_mcp *m = st->m;
	atomic_store(&st->broken, true);
	if (atomic_load(&st->stopping))
		return;
	bool exited = reap_if_exited(st, 2000);
	/* Its last words may still be in the stderr pipe. */
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 500 * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&st->lock);
	while (!st->errors_done && !atomic_load(&st->stopping))
		if (pthread_cond_timedwait(&st->cond, &st->lock, &until) == ETIMEDOUT)
			break;
	int status = st->wait_status;
	pthread_mutex_unlock(&st->lock);

	char how[96];
	if (exited)
		mcp_child_status_text(status, how, sizeof how);
	else
		snprintf(how, sizeof how, "closed its standard output");
	char *tail = mcp_stdio_tail_text(st);
	cog_buf why = COG_BUF_INIT;
	cog_buf_printf(&why, "server \"%s\" %s", m->cfg.name, how);
	if (tail && *tail)
		cog_buf_printf(&why, ": %s", tail);
	cog_free(tail);
	mcp_log(m, COG_LOG_DEBUG, NULL, "%s", why.failed ? how : why.ptr);
	mcp_transport_lost(m, why.failed ? how : why.ptr);
	cog_buf_dispose(&why);
}

/* ---- the ops ---- */

static void stdio_stop(cog_mcp *m);

static int start_thread(pthread_t *t, void *(*fn)(void *), stdio_state *st)
{
	/* Our threads take no host signals. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int err = pthread_create(t, NULL, fn, st);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

static int stdio_start(cog_mcp *m)
{
	if (m->transport)
		stdio_stop(m);
	stdio_state *st = cog__calloc(1, sizeof *st);
	if (!st)
		return cog__oom("mcp stdio: start");
	st->m = m;
	st->wake[0] = st->wake[1] = -1;
	st->child.pid = -1;
	st->child.stdin_fd = st->child.stdout_fd = st->child.stderr_fd = -1;
	pthread_mutex_init(&st->write_lock, NULL);
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->cond, NULL);
	m->transport = st;
	if (pipe2(st->wake, O_CLOEXEC) < 0) {
		int rc = cog__error(COG_EUNAVAILABLE, "mcp stdio: pipe: %s", strerror(errno));
		stdio_stop(m);
		return rc;
	}
	int rc = mcp_child_spawn(&m->cfg, &st->child);
	if (rc) {
		stdio_stop(m);
		return rc;
	}
	int err = start_thread(&st->reader, mcp_stdio_reader_main, st);
	st->reader_started = err == 0;
	if (err == 0) {
		err = start_thread(&st->errors, mcp_stdio_errors_main, st);
		st->errors_started = err == 0;
	}
	if (err) {
		rc = cog__error(COG_EUNAVAILABLE, "mcp stdio: pthread_create: %s", strerror(err));
		stdio_stop(m);
		return rc;
	}
	mcp_log(m, COG_LOG_DEBUG, NULL, "started \"%s\" (pid %ld)", m->cfg.argv[0],
		(long)st->child.pid);
	return 0;
}

/* Whether a message under way must be given up: stop began, the stream
 * broke, or the connection is closing or its transport being stopped. A
 * canceled ctx is not one of these. */
static bool must_give_up(stdio_state *st)
{
	if (atomic_load(&st->stopping) || atomic_load(&st->broken))
		return true;
	cog_mcp *m = st->m;
	pthread_mutex_lock(&m->lock);
	bool stop = m->closing || m->transport_stopping;
	pthread_mutex_unlock(&m->lock);
	return stop;
}

/*
 * Write the message and its newline (iov[0], iov[1]: one writev, one
 * system call, when the pipe has room) before deadline_ns (0: none).
 * *wrote says whether any byte of it went out: from then on the message
 * is finished whatever the ctx says (half a line would break the stream
 * for every other request), given up only on the deadline, stop or close.
 * Before its first byte, a canceled ctx abandons a request cleanly; a
 * notification or a response (what) is written whatever the ctx says:
 * notifications/cancelled is sent because the ctx was canceled, and the
 * server must see it. *broken is
 * set when the stream is unusable after this: the server closed its stdin
 * (*epipe: the write failed with EPIPE, so a SIGPIPE was raised).
 */
static int write_all(stdio_state *st, struct iovec iov[2], int what, uint64_t deadline_ns,
                     bool *wrote, bool *broken, bool *epipe)
{
	cog_mcp *m = st->m;
	int first = 0;
	while (first < 2) {
		if (iov[first].iov_len == 0) {
			first++;
			continue;
		}
		ssize_t n = writev(st->child.stdin_fd, iov + first, 2 - first);
		if (n > 0) {
			*wrote = true;
			for (size_t done = (size_t)n; done > 0 && first < 2; ) {
				size_t take = done < iov[first].iov_len ? done : iov[first].iov_len;
				iov[first].iov_base = (char *)iov[first].iov_base + take;
				iov[first].iov_len -= take;
				done -= take;
				if (iov[first].iov_len == 0)
					first++;
			}
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EPIPE) {
			*broken = true;
			*epipe = true;
			return cog__error(COG_EUNAVAILABLE, "server \"%s\" closed its standard input",
				m->cfg.name);
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return cog__error(COG_EIO, "server \"%s\": write: %s", m->cfg.name,
				strerror(errno));
		int slice = POLL_SLICE_MS;
		if (deadline_ns) {
			uint64_t now = cog_clock_mono_ns();
			if (now >= deadline_ns)
				return cog__error(COG_ETIMEOUT, "server \"%s\" does not read its "
					"standard input", m->cfg.name);
			if ((deadline_ns - now) / 1000000u < (uint64_t)slice)
				slice = (int)((deadline_ns - now) / 1000000u) + 1;
		}
		if (must_give_up(st))
			return cog__error(COG_EUNAVAILABLE, "server \"%s\" is gone", m->cfg.name);
		if (what == MCP_SEND_REQUEST && !*wrote && cog_ctx_is_canceled(m->ctx))
			return cog__error(COG_ECANCELED, "server \"%s\": write canceled", m->cfg.name);
		struct pollfd p = { st->child.stdin_fd, POLLOUT, 0 };
		poll(&p, 1, slice);
	}
	return 0;
}

static int stdio_send(cog_mcp *m, const char *json, size_t len, int what,
                      int64_t id, uint64_t deadline_ns)
{
	stdio_state *st = m->transport;
	if (!st)
		return cog__error(COG_EUNAVAILABLE, "server \"%s\" is not running", m->cfg.name);
	pthread_mutex_lock(&st->write_lock);
	if (st->child.stdin_fd < 0 || atomic_load(&st->broken)) {
		pthread_mutex_unlock(&st->write_lock);
		return cog__error(COG_EUNAVAILABLE, "server \"%s\" is not running", m->cfg.name);
	}
	sigset_t pipe_set, old, pending;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	/* A SIGPIPE can be pending for this thread only if it was blocked
	 * already (else it would have been delivered): only then look. */
	bool was_pending = false;
	if (sigismember(&old, SIGPIPE)) {
		sigpending(&pending);
		was_pending = sigismember(&pending, SIGPIPE);
	}

	bool wrote = false, broken = false, epipe = false;
	struct iovec iov[2] = { { (void *)json, len }, { (void *)"\n", 1 } };
	int rc = write_all(st, iov, what, deadline_ns, &wrote, &broken, &epipe);

	/* Only a write that failed with EPIPE raised one. */
	if (epipe && !was_pending) {
		sigpending(&pending);
		if (sigismember(&pending, SIGPIPE)) {
			struct timespec zero = { 0, 0 };
			while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
				;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	bool lost = rc != 0 && (wrote || broken);
	if (lost)
		atomic_store(&st->broken, true);
	pthread_mutex_unlock(&st->write_lock);
	if (lost) {
		/* Down until a restart (which stops this process). */
		char *why = cog__strdup(cog_error_last());
		mcp_transport_lost(m, why ? why : "write failed");
		cog__error(rc, "%s", why ? why : "write failed");
		cog_free(why);
	}
	return rc;
}

static void stdio_stop(cog_mcp *m)
{
	stdio_state *st = m->transport;
	if (!st)
		return;
	atomic_store(&st->stopping, true);
	pthread_mutex_lock(&st->write_lock);
	if (st->child.stdin_fd >= 0) {
		close(st->child.stdin_fd);
		st->child.stdin_fd = -1;
	}
	pthread_mutex_unlock(&st->write_lock);
	if (st->child.pid > 0 && !reap_if_exited(st, 2000)) {
		mcp_log(m, COG_LOG_DEBUG, NULL, "server \"%s\" still runs 2 s after the end of "
			"its stdin: SIGTERM to its process group", m->cfg.name);
		signal_group(st, SIGTERM);
		if (!reap_if_exited(st, 5000)) {
			mcp_log(m, COG_LOG_WARN, NULL, "server \"%s\" still runs 5 s after "
				"SIGTERM: SIGKILL to its process group", m->cfg.name);
			signal_group(st, SIGKILL);
			if (!reap_if_exited(st, 2000)) {
				/* It dies (SIGKILL), just not yet: reaped later,
				 * never left a zombie. */
				mcp_log(m, COG_LOG_WARN, NULL, "server \"%s\" (pid %ld) still "
					"runs 2 s after SIGKILL: it will be reaped when it "
					"dies", m->cfg.name, (long)st->child.pid);
				pthread_mutex_lock(&st->lock);
				if (!st->reaped) {
					st->reaped = true;
					st->wait_status = -1;
					mcp_child_reap_later(st->child.pid);
				}
				pthread_mutex_unlock(&st->lock);
			}
		}
	}
	/* Whatever of its group still holds the pipes cannot keep us here. */
	if (st->wake[1] >= 0) {
		ssize_t w;
		do
			w = write(st->wake[1], "x", 1);
		while (w < 0 && errno == EINTR);
	}
	if (st->reader_started)
		pthread_join(st->reader, NULL);
	if (st->errors_started)
		pthread_join(st->errors, NULL);
	int fds[] = { st->child.stdout_fd, st->child.stderr_fd, st->wake[0], st->wake[1] };
	for (size_t i = 0; i < COG_ARRAY_LEN(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	pthread_mutex_destroy(&st->write_lock);
	pthread_mutex_destroy(&st->lock);
	pthread_cond_destroy(&st->cond);
	m->transport = NULL;
	cog_free(st);
}

static void stdio_describe(cog_mcp *m, cJSON *info)
{
	stdio_state *st = m->transport;
	if (!st || st->child.pid <= 0) {
		cJSON_AddNullToObject(info, "pid");
		cJSON_AddFalseToObject(info, "running");
		return;
	}
	/* Only look: reaping (and the group signal that goes with it) is
	 * the reader's and stop's. Under st->lock, so neither reaps between
	 * our look and our reading of what they recorded. */
	pthread_mutex_lock(&st->lock);
	int status = st->wait_status;
	bool exited = st->reaped || mcp_child_exited(st->child.pid, 0, &status);
	pthread_mutex_unlock(&st->lock);
	bool known = exited && status != -1;
	exited = exited || atomic_load(&st->broken);
	cJSON_AddNumberToObject(info, "pid", (double)st->child.pid);
	cJSON_AddBoolToObject(info, "running", !exited);
	if (known && WIFEXITED(status))
		cJSON_AddNumberToObject(info, "exit_status", WEXITSTATUS(status));
	else
		cJSON_AddNullToObject(info, "exit_status");
	if (known && WIFSIGNALED(status))
		cJSON_AddNumberToObject(info, "exit_signal", WTERMSIG(status));
}

const mcp_transport_ops mcp_stdio_ops = {
	.kind = "stdio",
	.start = stdio_start,
	.send = stdio_send,
	.ready = NULL,
	.stop = stdio_stop,
	.describe = stdio_describe,
};
