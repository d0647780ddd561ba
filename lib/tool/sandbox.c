/*
 * cog_sandbox_run(): the API and the run loop. The plan is built by
 * sandbox_plan.c, the child started by sandbox_spawn.c (files listed in
 * sandbox_int.h); this file feeds it, reads it, times it out and reaps it.
 *
 * Output: both streams are read as they come with poll(); past
 * max_output_bytes they are read and discarded (the child never blocks on
 * a full pipe, memory stays bounded). Standard input is written with
 * non-blocking writes interleaved with the reads. A child that exits
 * without reading makes write() fail with EPIPE and raise SIGPIPE: the
 * signal is blocked in this thread for the run and a SIGPIPE we caused is
 * consumed with sigtimedwait() afterwards. That keeps stdin a real pipe
 * (a socketpair would change what the program sees: fstat, splice, "-p")
 * and never touches process-wide signal dispositions, which are the
 * host's.
 *
 * Resource usage comes from waitid() on pid 1: it includes the
 * descendants pid 1 reaped, not those killed with the namespace.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core_int.h"
#include "cognition/ctx.h"
#include "cognition/tool.h"
#include "sandbox_int.h"

#define SB_READ_CHUNK 65536u
#define SB_POLL_SLICE_MS 50

/* ------------------------------------------------------------------ */
/* options                                                             */
/* ------------------------------------------------------------------ */

int cog_sandbox_options_init(cog_sandbox_options *options, unsigned int version)
{
	COG_CHECK_ARG(options, "cog_sandbox_options_init", "options is NULL");
	if (version == 0 || version > COG_SANDBOX_OPTIONS_VERSION)
		return cog__error(COG_EVERSION, "cog_sandbox_options_init: version %u is "
			"not supported (1..%u)", version, COG_SANDBOX_OPTIONS_VERSION);
	cog_sandbox_options init = COG_SANDBOX_OPTIONS_INIT;
	*options = init;
	options->version = version;
	return 0;
}

void cog_sandbox_result_dispose(cog_sandbox_result *result)
{
	if (!result)
		return;
	unsigned int version = result->version;
	cog_free(result->out);
	cog_free(result->err);
	memset(result, 0, sizeof *result);
	result->version = version;
}

/* ------------------------------------------------------------------ */
/* supervising                                                         */
/* ------------------------------------------------------------------ */

typedef struct sb_stream {
	int *fd;
	char *buf;
	size_t len, cap, limit;
	bool truncated;
} sb_stream;

/* Read what is there. 0, or COG_ENOMEM. Closes the fd at EOF. */
static int drain(sb_stream *s, char **scratch)
{
	for (int rounds = 0; rounds < 64 && *s->fd >= 0; rounds++) {
		char *dst;
		size_t room;
		if (s->len < s->limit) {
			size_t want = s->len + SB_READ_CHUNK;
			if (want > s->limit)
				want = s->limit;
			if (want + 1 > s->cap) {
				size_t cap = s->cap ? s->cap * 2 : 4096;
				while (cap < want + 1)
					cap *= 2;
				if (cap > s->limit + 1)
					cap = s->limit + 1;
				char *nb = cog_realloc(s->buf, cap);
				if (!nb)
					return cog__oom("sandbox output");
				s->buf = nb;
				s->cap = cap;
			}
			dst = s->buf + s->len;
			room = want - s->len;
		} else {
			if (!*scratch && !(*scratch = cog_malloc(SB_READ_CHUNK)))
				return cog__oom("sandbox output");
			dst = *scratch;
			room = SB_READ_CHUNK;
		}
		ssize_t n = read(*s->fd, dst, room);
		if (n > 0) {
			if (s->len < s->limit)
				s->len += (size_t)n;
			else
				s->truncated = true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		sandbox_close_fd(s->fd);   /* EOF or an error */
	}
	return 0;
}

static char *finish_stream(sb_stream *s, size_t *len)
{
	if (!s->buf) {
		s->buf = cog_malloc(1);
		if (!s->buf)
			return NULL;
	}
	s->buf[s->len] = '\0';
	*len = s->len;
	char *b = s->buf;
	s->buf = NULL;
	return b;
}

static void kill_all(const sb_build *b, sb_proc *proc)
{
	if (syscall(SYS_pidfd_send_signal, proc->pidfd, SIGKILL, NULL, 0) < 0)
		kill(proc->pid, SIGKILL);   /* unreaped: the pid is still ours */
	if (!b->plan.namespaces)
		kill(-proc->pid, SIGKILL);   /* the process group (setsid) */
}

static int supervise(cog_ctx *ctx, const cog_sandbox_options *o,
                     const sb_limits *l, const sb_build *b, sb_proc *proc,
                     cog_sandbox_result *result)
{
	sb_stream out = { &proc->out_r, NULL, 0, 0, l->max_output, false };
	sb_stream err = { &proc->err_r, NULL, 0, 0, l->max_output, false };
	char *scratch = NULL;
	const unsigned char *in_data = o->stdin_data;
	size_t in_off = 0;
	int rc = 0;
	bool exited = false, killed = false, epipe = false;
	uint64_t exit_ns = 0;
	uint64_t deadline = proc->start_ns + (uint64_t)l->timeout_ms * 1000000u;

	/* SIGPIPE: see the top of the file. */
	sigset_t pipe_set, saved_mask, pending;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	bool pipe_was_pending = false;
	bool writing = o->stdin_len > 0;
	if (writing) {
		pthread_sigmask(SIG_BLOCK, &pipe_set, &saved_mask);
		if (sigpending(&pending) == 0)
			pipe_was_pending = sigismember(&pending, SIGPIPE);
	} else {
		sandbox_close_fd(&proc->stdin_w);
	}

	while (!exited || proc->out_r >= 0 || proc->err_r >= 0) {
		uint64_t now = cog_clock_mono_ns();
		if (!killed && !exited) {
			if (now >= deadline) {
				kill_all(b, proc);
				killed = true;
				result->timed_out = 1;
			} else if (ctx && cog_ctx_is_canceled(ctx)) {
				kill_all(b, proc);
				killed = true;
				result->canceled = 1;
			}
		}
		if (exited && now >= deadline + 1000000000u) {
			/* Only on the unsandboxed path can something outside the
			 * process group still hold our pipes: stop reading. */
			sandbox_close_fd(&proc->out_r);
			sandbox_close_fd(&proc->err_r);
			break;
		}

		struct pollfd pfd[4];
		int nfds = 0, i_pid = -1, i_in = -1, i_out = -1, i_err = -1;
		if (!exited) {
			i_pid = nfds;
			pfd[nfds++] = (struct pollfd){ proc->pidfd, POLLIN, 0 };
		}
		if (proc->stdin_w >= 0) {
			i_in = nfds;
			pfd[nfds++] = (struct pollfd){ proc->stdin_w, POLLOUT, 0 };
		}
		if (proc->out_r >= 0) {
			i_out = nfds;
			pfd[nfds++] = (struct pollfd){ proc->out_r, POLLIN, 0 };
		}
		if (proc->err_r >= 0) {
			i_err = nfds;
			pfd[nfds++] = (struct pollfd){ proc->err_r, POLLIN, 0 };
		}
		uint64_t until = exited || killed ? deadline + 1000000000u : deadline;
		int wait_ms = now >= until ? 0 : (int)((until - now + 999999) / 1000000);
		if (killed && !exited)
			wait_ms = SB_POLL_SLICE_MS;
		if (ctx && wait_ms > SB_POLL_SLICE_MS)
			wait_ms = SB_POLL_SLICE_MS;
		int ready = poll(pfd, (nfds_t)nfds, wait_ms);
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			rc = cog__error(COG_EIO, "sandbox: poll: %s", strerror(errno));
			break;
		}
		if (ready == 0)
			continue;
		if (i_out >= 0 && pfd[i_out].revents && (rc = drain(&out, &scratch)) != 0)
			break;
		if (i_err >= 0 && pfd[i_err].revents && (rc = drain(&err, &scratch)) != 0)
			break;
		if (i_in >= 0 && pfd[i_in].revents) {
			if (pfd[i_in].revents & (POLLERR | POLLHUP)) {
				sandbox_close_fd(&proc->stdin_w);
			} else {
				size_t chunk = o->stdin_len - in_off;
				if (chunk > SB_READ_CHUNK)
					chunk = SB_READ_CHUNK;
				ssize_t n = write(proc->stdin_w, in_data + in_off, chunk);
				if (n > 0)
					in_off += (size_t)n;
				else if (n < 0 && errno == EPIPE)
					epipe = true;
				if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
				    in_off >= o->stdin_len)
					sandbox_close_fd(&proc->stdin_w);
			}
		}
		if (i_pid >= 0 && pfd[i_pid].revents) {
			exited = true;
			exit_ns = cog_clock_mono_ns();
			sandbox_close_fd(&proc->stdin_w);
			/* Unsandboxed: what is left of the group goes with the
			 * leader (still unreaped, so the group id is still ours). */
			if (!b->plan.namespaces)
				kill(-proc->pid, SIGKILL);
		}
	}
	if (!exited) {
		kill_all(b, proc);
		exit_ns = cog_clock_mono_ns();
	}
	sandbox_close_fd(&proc->stdin_w);
	sandbox_close_fd(&proc->out_r);
	sandbox_close_fd(&proc->err_r);
	if (writing) {
		if (epipe && !pipe_was_pending) {
			struct timespec zero = { 0, 0 };
			while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
				;
		}
		pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
	}

	siginfo_t si;
	struct rusage ru;
	sandbox_reap(proc, &si, &ru);
	sandbox_close_fd(&proc->pidfd);
	cog_free(scratch);

	if (si.si_code == CLD_EXITED) {
		result->exit_code = si.si_status;
		result->signal = 0;
	} else {
		result->exit_code = -1;
		result->signal = si.si_status;
	}
	result->wall_us = (exit_ns - proc->start_ns) / 1000u;
	result->cpu_us = (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
	                 (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
	result->max_rss_kb = (uint64_t)ru.ru_maxrss;
	result->out_truncated = out.truncated;
	result->err_truncated = err.truncated;
	result->sandboxed = b->plan.namespaces;
	if (rc == 0) {
		result->out = finish_stream(&out, &result->out_len);
		result->err = finish_stream(&err, &result->err_len);
		if (!result->out || !result->err)
			rc = cog__oom("sandbox output");
	}
	cog_free(out.buf);
	cog_free(err.buf);
	if (rc)
		cog_sandbox_result_dispose(result);
	return rc;
}

/* ------------------------------------------------------------------ */
/* the API                                                             */
/* ------------------------------------------------------------------ */

bool sandbox_force_unavailable(void)
{
	const char *v = getenv(SB_FORCE_ENV);
	return v && strcmp(v, "1") == 0;
}

int cog_sandbox_run(cog_ctx *ctx, const cog_sandbox_options *options,
                    cog_sandbox_result *result)
{
	static const char fn[] = "cog_sandbox_run";
	COG_CHECK_ARG(options, fn, "options is NULL");
	COG_CHECK_ARG(result, fn, "result is NULL");
	if (options->version == 0 || options->version > COG_SANDBOX_OPTIONS_VERSION)
		return cog__error(COG_EVERSION, "%s: options version %u is not supported "
			"(1..%u)", fn, options->version, COG_SANDBOX_OPTIONS_VERSION);
	if (result->version == 0 || result->version > COG_SANDBOX_RESULT_VERSION)
		return cog__error(COG_EVERSION, "%s: result version %u is not supported "
			"(1..%u)", fn, result->version, COG_SANDBOX_RESULT_VERSION);
	unsigned int result_version = result->version;
	memset(result, 0, sizeof *result);
	result->version = result_version;

	sb_build *b = cog__calloc(1, sizeof *b);
	if (!b)
		return cog__oom(fn);
	sb_limits limits = sandbox_resolve_limits(options);
	b->fs_bytes = limits.file_bytes;
	sb_proc proc;
	bool unavailable = false;
	int rc = sandbox_resolve_options(b, options);
	if (rc)
		goto out;

	if (sandbox_force_unavailable()) {
		unavailable = true;
		rc = cog__error(COG_EUNAVAILABLE, "namespaces disabled by %s=1 (test hook)",
			SB_FORCE_ENV);
	} else {
		rc = sandbox_plan_sandboxed(b, options, &limits);
		if (rc == 0)
			rc = sandbox_spawn(b, options, &proc, &unavailable);
		if (rc && b->skeleton_broken) {
			/* Once more with a root of its own (sandbox_skeleton.c). */
			sandbox_skeleton_release(b, true);
			memset(&b->plan, 0, sizeof b->plan);
			b->sys_bound_count = 0;
			rc = sandbox_plan_sandboxed(b, options, &limits);
			if (rc == 0)
				rc = sandbox_spawn(b, options, &proc, &unavailable);
		}
	}
	if (rc && unavailable) {
		if (!options->allow_unsandboxed) {
			rc = cog__error_wrap(COG_EUNAVAILABLE, "sandbox unavailable (set "
				"allow_unsandboxed to run without it)");
			goto out;
		}
		if (ctx)
			cog__log(ctx, COG_LOG_WARN, NULL, "sandbox unavailable, running %s "
				"unsandboxed: %s", b->exec_path, cog_error_last());
		memset(&b->plan, 0, sizeof b->plan);
		b->sys_bound_count = 0;
		rc = sandbox_plan_unsandboxed(b, options, &limits);
		if (rc == 0)
			rc = sandbox_spawn(b, options, &proc, &unavailable);
	}
	if (rc)
		goto out;
	rc = supervise(ctx, options, &limits, b, &proc, result);
	if (rc == 0 && ctx)
		cog__log(ctx, COG_LOG_DEBUG, NULL, "sandbox: %s exit %d signal %d "
			"wall %llu us%s", b->exec_path, result->exit_code, result->signal,
			(unsigned long long)result->wall_us,
			result->sandboxed ? "" : " (unsandboxed)");
out:
	sandbox_build_free(b);
	return rc;
}

