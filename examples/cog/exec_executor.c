/*
 * cog's task executor: runs a task whose inputs hold
 *   {"argv":["prog","arg",...],"cwd":"dir","env":{"NAME":"value"}}
 * as a child process (posix_spawnp, no shell), in its own process group,
 * with stdin from /dev/null and stdout/stderr captured up to a bound. The
 * result is {"exit_code":0,"stdout":"...","stderr":"..."}; a non-zero exit
 * or a signal fails the attempt. When the attempt is canceled (Ctrl-C, the
 * task's timeout, a fail-fast stop) the whole process group gets SIGTERM,
 * then SIGKILL after a grace period.
 *
 * The child also gets COG_PLAN_ID, COG_TASK_ID, COG_ATTEMPT and
 * COG_IDEMPOTENCY_KEY, so a program with side effects can deduplicate them
 * across a crash and a resume.
 *
 * Tasks of kind "tool" go to the library's tool layer instead
 * (cog_task_run_tool), with the call options given as user_data.
 *
 * Called from worker threads, several at once: no shared state.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"

extern char **environ;

#define OUTPUT_MAX (1024 * 1024)     /* bytes kept of stdout and of stderr */
#define POLL_MS 50
#define KILL_GRACE_MS 2000           /* SIGTERM, then SIGKILL after this */
#define DRAIN_AFTER_EXIT_MS 1000     /* a detached grandchild may keep a pipe open */

typedef struct capture {
	int fd;               /* -1 once closed */
	char *data;
	size_t len;
	bool truncated;
} capture;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read what is there; keep at most OUTPUT_MAX bytes, drain the rest. */
static void capture_read(capture *c)
{
	char buf[65536];
	ssize_t n = read(c->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(c->fd);
		c->fd = -1;
		return;
	}
	size_t keep = (size_t)n;
	if (c->len + keep > OUTPUT_MAX) {
		keep = OUTPUT_MAX - c->len;
		c->truncated = true;
	}
	if (keep) {
		memcpy(c->data + c->len, buf, keep);
		c->len += keep;
	}
}

/* A copy of s[0..len) that is valid UTF-8: bad bytes become U+FFFD, NUL
 * becomes U+FFFD too (JSON strings may hold it, C strings may not). */
static char *utf8_sanitize(const char *s, size_t len)
{
	char *out = malloc(len * 3 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 :
			(c >> 3) == 30 ? 4 : 0;
		bool ok = n && c != 0 && i + n <= len;
		for (size_t k = 1; ok && k < n; k++)
			ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
		if (ok && n > 1) {
			unsigned long cp = c & (0xff >> (n + 1));
			for (size_t k = 1; k < n; k++)
				cp = (cp << 6) | ((unsigned char)s[i + k] & 0x3f);
			static const unsigned long min_cp[] = { 0, 0, 0x80, 0x800, 0x10000 };
			ok = cp >= min_cp[n] && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
		}
		if (ok) {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
	return out;
}

static void free_strings(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* NULL-terminated argv from a JSON array of strings; NULL with *why set. */
static char **read_argv(const cJSON *argv, const char **why)
{
	int n = cJSON_GetArraySize(argv);
	if (!cJSON_IsArray(argv) || n == 0) {
		*why = "inputs.argv must be a non-empty array of strings";
		return NULL;
	}
	char **v = calloc((size_t)n + 1, sizeof(*v));
	if (!v) {
		*why = "out of memory";
		return NULL;
	}
	int i = 0;
	const cJSON *a;
	cJSON_ArrayForEach(a, argv) {
		if (!cJSON_IsString(a) || (i == 0 && !*a->valuestring)) {
			*why = "inputs.argv must be a non-empty array of strings";
			free_strings(v);
			return NULL;
		}
		if (!(v[i++] = strdup(a->valuestring))) {
			*why = "out of memory";
			free_strings(v);
			return NULL;
		}
	}
	return v;
}

static bool env_name_is(const char *entry, const char *name)
{
	size_t n = strlen(name);
	return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

static int env_add(char ***env, size_t *count, const char *name, const char *value)
{
	size_t len = strlen(name) + strlen(value) + 2;
	char *entry = malloc(len);
	if (!entry)
		return -1;
	snprintf(entry, len, "%s=%s", name, value);
	for (size_t i = 0; i < *count; i++) {
		if (env_name_is((*env)[i], name)) {
			free((*env)[i]);
			(*env)[i] = entry;
			return 0;
		}
	}
	char **grown = realloc(*env, (*count + 2) * sizeof(**env));
	if (!grown) {
		free(entry);
		return -1;
	}
	*env = grown;
	(*env)[(*count)++] = entry;
	(*env)[*count] = NULL;
	return 0;
}

/* This process's environment, the task's "env" over it, and the COG_*
 * identity of the attempt. NULL with *why set. */
static char **build_env(const cJSON *env_json, cog_task_call *call, const char **why)
{
	size_t count = 0;
	char **env = calloc(1, sizeof(*env));
	bool ok = env != NULL;
	for (char **e = environ; ok && e && *e; e++) {
		char **grown = realloc(env, (count + 2) * sizeof(*env));
		ok = grown != NULL;
		if (ok) {
			env = grown;
			ok = (env[count] = strdup(*e)) != NULL;
			env[count + (ok ? 1 : 0)] = NULL;
			count += ok ? 1 : 0;
		}
	}
	if (!ok) {
		*why = "out of memory";
		free_strings(env);
		return NULL;
	}
	if (env_json && !cJSON_IsObject(env_json)) {
		*why = "inputs.env must be an object of strings";
		free_strings(env);
		return NULL;
	}
	const cJSON *v;
	cJSON_ArrayForEach(v, env_json) {
		if (!cJSON_IsString(v) || !*v->string || strchr(v->string, '=')) {
			*why = "inputs.env must map names (without '=') to strings";
			free_strings(env);
			return NULL;
		}
		if (env_add(&env, &count, v->string, v->valuestring) != 0) {
			*why = "out of memory";
			free_strings(env);
			return NULL;
		}
	}
	char attempt[16];
	snprintf(attempt, sizeof(attempt), "%u", cog_task_call_attempt(call));
	if (env_add(&env, &count, "COG_PLAN_ID", cog_task_call_plan_id(call)) ||
	    env_add(&env, &count, "COG_TASK_ID", cog_task_call_task_id(call)) ||
	    env_add(&env, &count, "COG_ATTEMPT", attempt) ||
	    env_add(&env, &count, "COG_IDEMPOTENCY_KEY", cog_task_call_idempotency_key(call))) {
		*why = "out of memory";
		free_strings(env);
		return NULL;
	}
	return env;
}

/* Start the child; 0 or an errno value. */
static int spawn_child(pid_t *pid, char **argv, char **env, const char *cwd,
                       int out_fd, int err_fd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int rc = posix_spawn_file_actions_init(&fa);
	if (rc)
		return rc;
	if ((rc = posix_spawnattr_init(&attr))) {
		posix_spawn_file_actions_destroy(&fa);
		return rc;
	}
	sigset_t defaults, empty;
	sigemptyset(&empty);
	sigemptyset(&defaults);
	int reset[] = { SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2 };
	for (size_t i = 0; i < sizeof(reset) / sizeof(*reset); i++)
		sigaddset(&defaults, reset[i]);
	/* Its own process group, so that a cancel reaches its children too. */
	if (!rc) rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
		POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	if (!rc) rc = posix_spawnattr_setpgroup(&attr, 0);
	if (!rc) rc = posix_spawnattr_setsigdefault(&attr, &defaults);
	if (!rc) rc = posix_spawnattr_setsigmask(&attr, &empty);
	if (!rc) rc = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (!rc) rc = posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
	if (!rc) rc = posix_spawn_file_actions_adddup2(&fa, err_fd, STDERR_FILENO);
	if (!rc && cwd) rc = posix_spawn_file_actions_addchdir_np(&fa, cwd);
	if (!rc) rc = posix_spawnp(pid, argv[0], &fa, &attr, argv, env);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

/* Wait for the child while reading its output; kill its group when the
 * attempt is canceled. Returns the wait status; *canceled says why. The
 * child is reaped only at the end, so that its pid (the group's id) cannot
 * be reused by another process while we may still signal the group. */
static int supervise(cog_task_call *call, pid_t pid, capture *out, capture *err,
                     bool *canceled)
{
	bool exited = false;
	long long kill_at = 0, exited_at = 0;
	*canceled = false;
	while (!exited || out->fd >= 0 || err->fd >= 0) {
		struct pollfd fds[2];
		nfds_t n = 0;
		capture *which[2];
		if (out->fd >= 0) { fds[n].fd = out->fd; fds[n].events = POLLIN; which[n++] = out; }
		if (err->fd >= 0) { fds[n].fd = err->fd; fds[n].events = POLLIN; which[n++] = err; }
		int ready = poll(fds, n, POLL_MS);
		for (nfds_t i = 0; ready > 0 && i < n; i++)
			if (fds[i].revents)
				capture_read(which[i]);
		if (!exited) {
			siginfo_t info;
			memset(&info, 0, sizeof(info));
			int w = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT);
			if ((w == 0 && info.si_pid == pid) || (w < 0 && errno != EINTR)) {
				exited = true;
				exited_at = now_ms();
			}
		} else if (now_ms() - exited_at > DRAIN_AFTER_EXIT_MS) {
			break; /* a detached grandchild holds the pipe: stop reading */
		}
		if (!exited && cog_task_call_is_canceled(call)) {
			if (!*canceled) {
				*canceled = true;
				kill(-pid, SIGTERM);
				kill_at = now_ms() + KILL_GRACE_MS;
			} else if (kill_at && now_ms() >= kill_at) {
				kill(-pid, SIGKILL);
				kill_at = 0;
			}
		}
	}
	if (*canceled)
		kill(-pid, SIGKILL); /* whatever of the group is left */
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

/* The last line of captured stderr (for a failure message). */
static void last_line(const capture *c, char *out, size_t size)
{
	size_t end = c->len;
	while (end && (c->data[end - 1] == '\n' || c->data[end - 1] == '\r'))
		end--;
	size_t start = end;
	while (start && c->data[start - 1] != '\n')
		start--;
	if (end - start > 200)
		start = end - 200;
	char *line = utf8_sanitize(c->data + start, end - start);
	snprintf(out, size, "%s", line ? line : "");
	free(line);
}

static int set_result(cog_task_call *call, int exit_code, int sig, const capture *out,
                      const capture *err)
{
	char *so = utf8_sanitize(out->data, out->len), *se = utf8_sanitize(err->data, err->len);
	cJSON *r = cJSON_CreateObject();
	bool ok = so && se && r && cJSON_AddNumberToObject(r, "exit_code", exit_code) &&
		cJSON_AddStringToObject(r, "stdout", so) &&
		cJSON_AddStringToObject(r, "stderr", se);
	if (ok && sig)
		ok = cJSON_AddNumberToObject(r, "signal", sig) != NULL;
	if (ok && (out->truncated || err->truncated))
		ok = cJSON_AddBoolToObject(r, "truncated", true) != NULL;
	char *text = ok ? cJSON_PrintUnformatted(r) : NULL;
	int rc = text ? cog_task_call_set_result(call, text)
	              : cog_error_set(COG_ENOMEM, "task %s: out of memory for its result",
	                              cog_task_call_task_id(call));
	cJSON_free(text);
	cJSON_Delete(r);
	free(so);
	free(se);
	return rc;
}

static int run_process(cog_task_call *call, char **argv, char **env, const char *cwd)
{
	const char *id = cog_task_call_task_id(call);
	int out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 };
	capture out = { -1, malloc(OUTPUT_MAX), 0, false };
	capture err = { -1, malloc(OUTPUT_MAX), 0, false };
	int rc = 0;
	if (!out.data || !err.data)
		rc = cog_error_set(COG_ENOMEM, "task %s: out of memory for its output", id);
	else if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0)
		rc = cog_error_set(COG_EIO, "task %s: pipe: %s", id, strerror(errno));
	pid_t pid = 0;
	int spawn_rc = rc ? 0 : spawn_child(&pid, argv, env, cwd, out_pipe[1], err_pipe[1]);
	if (!rc && spawn_rc)
		rc = cog_error_set(spawn_rc == ENOENT ? COG_ENOTFOUND : COG_EIO,
			"task %s: cannot run '%s'%s%s: %s", id, argv[0], cwd ? " in " : "",
			cwd ? cwd : "", strerror(spawn_rc));
	/* The child has the write ends now; on failure the read ends go too. */
	int *ends[] = { &out_pipe[1], &err_pipe[1], &out_pipe[0], &err_pipe[0] };
	for (size_t i = 0; i < 4; i++)
		if (*ends[i] >= 0 && (i < 2 || rc))
			close(*ends[i]);
	if (rc) {
		free(out.data);
		free(err.data);
		return rc;
	}
	out.fd = out_pipe[0];
	err.fd = err_pipe[0];
	bool canceled = false;
	int status = supervise(call, pid, &out, &err, &canceled);
	if (out.fd >= 0)
		close(out.fd);
	if (err.fd >= 0)
		close(err.fd);

	int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	char line[256];
	last_line(&err, line, sizeof(line));
	rc = set_result(call, exit_code, sig, &out, &err);
	if (!rc && canceled)
		rc = cog_error_set(COG_ECANCELED, "task %s: canceled (interrupt, timeout or a "
			"failing task); process group %d killed", id, (int)pid);
	else if (!rc && sig)
		rc = cog_error_set(COG_ERROR, "task %s: %s was killed by signal %d%s%s", id,
			argv[0], sig, *line ? ": " : "", line);
	else if (!rc && exit_code)
		rc = cog_error_set(COG_ERROR, "task %s: %s exited with status %d%s%s", id,
			argv[0], exit_code, *line ? ": " : "", line);
	free(out.data);
	free(err.data);
	return rc;
}

int cli_exec_task(cog_task_call *call, void *user_data)
{
	const char *id = cog_task_call_task_id(call);
	cJSON *task = cJSON_Parse(cog_task_call_task(call));
	if (!task)
		return cog_error_set(COG_ENOMEM, "task %s: cannot read its definition", id);
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "kind"));
	if (kind && strcmp(kind, "tool") == 0) {
		/* Through the tool layer: schema, sandbox, audit (user_data holds
		 * the call options: workspace and network grant). */
		cJSON_Delete(task);
		return cog_task_run_tool(call, user_data);
	}
	const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(task, "inputs");
	const cJSON *argv_json = cJSON_GetObjectItemCaseSensitive(inputs, "argv");
	if (!argv_json) {
		cJSON_Delete(task);
		return cog_error_set(COG_EINVAL, "task %s: a task of kind '%s' needs inputs.argv "
			"(the program cog runs for it)", id, kind ? kind : "host");
	}
	const char *why = NULL;
	const cJSON *cwd = cJSON_GetObjectItemCaseSensitive(inputs, "cwd");
	char **argv = read_argv(argv_json, &why), **env = NULL;
	if (argv && cwd && (!cJSON_IsString(cwd) || !*cwd->valuestring))
		why = "inputs.cwd must be a non-empty string";
	if (argv && !why)
		env = build_env(cJSON_GetObjectItemCaseSensitive(inputs, "env"), call, &why);
	int rc = why ? cog_error_set(COG_EINVAL, "task %s: %s", id, why)
	             : run_process(call, argv, env, cwd ? cwd->valuestring : NULL);
	free_strings(argv);
	free_strings(env);
	cJSON_Delete(task);
	return rc;
}
