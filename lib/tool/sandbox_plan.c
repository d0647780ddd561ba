/*
 * Building the sandbox_plan from the options, in the parent: argv[0]
 * looked up, paths resolved and checked, the limits, the ops that build
 * the new root (the fixed part comes from sandbox_layout.c), the Landlock
 * rules, the seccomp filter and the environment. Every string lives in an
 * arena freed with the build, so the child (which may share our address
 * space until execve) only reads prepared memory.
 */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core_int.h"
#include "sandbox_int.h"

/* ------------------------------------------------------------------ */
/* the plan and its strings                                            */
/* ------------------------------------------------------------------ */

struct sb_chunk {
	struct sb_chunk *next;
	size_t used, cap;
	char data[];
};

void *sandbox_arena_alloc(sb_build *b, size_t size)
{
	size = (size + 15u) & ~(size_t)15u;
	if (!b->arena || b->arena->cap - b->arena->used < size) {
		size_t cap = size > 8192 ? size : 8192;
		sb_chunk *c = cog_malloc(sizeof *c + cap);
		if (!c) {
			b->oom = true;
			return NULL;
		}
		c->next = b->arena;
		c->used = 0;
		c->cap = cap;
		b->arena = c;
	}
	void *p = b->arena->data + b->arena->used;
	b->arena->used += size;
	return p;
}

char *sandbox_arena_printf(sb_build *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return NULL;
	}
	char *s = sandbox_arena_alloc(b, (size_t)n + 1);
	if (!s)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* "/" + rel in the arena. */
char *sandbox_arena_abs(sb_build *b, const char *rel)
{
	size_t len = strlen(rel);
	char *s = sandbox_arena_alloc(b, len + 2);
	if (s) {
		s[0] = '/';
		memcpy(s + 1, rel, len + 1);
	}
	return s;
}

static int remove_entry(const char *path, const struct stat *st, int type,
                        struct FTW *ftw)
{
	(void)st; (void)type; (void)ftw;
	remove(path);
	return 0;
}

void sandbox_build_free(sb_build *b)
{
	if (!b)
		return;
	sandbox_skeleton_release(b, false);
	if (b->temp_workspace)
		nftw(b->temp_workspace, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	while (b->arena) {
		sb_chunk *next = b->arena->next;
		cog_free(b->arena);
		b->arena = next;
	}
	free(b->workspace);
	for (size_t i = 0; i < b->ro_count; i++)
		free(b->ro_paths[i]);
	cog_free(b->ro_paths);
	cog_free(b);
}

void sandbox_add_op(sb_build *b, sandbox_op_kind kind, const char *src,
                   const char *path, const char *data, unsigned long flags,
                   unsigned int mode, int optional)
{
	if (b->plan.op_count >= SB_MAX_OPS) {
		b->too_many = true;
		return;
	}
	if ((kind != SB_OP_MKDIR && kind != SB_OP_TMPFS && kind != SB_OP_PROC &&
	     kind != SB_OP_WRITE && !src) || !path) {
		b->oom = true;   /* a failed arena_printf */
		return;
	}
	b->ops[b->plan.op_count++] = (sandbox_op){ kind, src, path, data, flags,
	                                           mode, optional };
}

static void add_rule(sb_build *b, const char *path, uint64_t access)
{
	if (!path) {
		b->oom = true;
		return;
	}
	if (access == 0)
		return;
	if (b->plan.ll_rule_count >= SB_MAX_LL_RULES) {
		b->too_many = true;
		return;
	}
	b->rules[b->plan.ll_rule_count++] = (sandbox_ll_rule){ path, access };
}

/* The flags a bind of host_path is remounted with: nosuid and nodev,
 * read-only when asked (or when the source is), plus those the source
 * mount has locked (a user namespace may not clear them). */
unsigned long sandbox_bind_flags(const char *host_path, bool read_only)
{
	unsigned long flags = MS_NOSUID | MS_NODEV | (read_only ? MS_RDONLY : 0);
	struct statvfs sv;
	if (statvfs(host_path, &sv) == 0) {
		if (sv.f_flag & ST_RDONLY)
			flags |= MS_RDONLY;
		if (sv.f_flag & ST_NOEXEC)
			flags |= MS_NOEXEC;
		if (sv.f_flag & ST_NOATIME)
			flags |= MS_NOATIME;
		if (sv.f_flag & ST_NODIRATIME)
			flags |= MS_NODIRATIME;
		if (sv.f_flag & ST_RELATIME)
			flags |= MS_RELATIME;
	}
	return flags;
}

unsigned long sandbox_ro_flags(const char *host_path)
{
	return sandbox_bind_flags(host_path, true);
}

bool sandbox_path_is_beneath(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* ------------------------------------------------------------------ */
/* validation                                                          */
/* ------------------------------------------------------------------ */

static bool is_executable_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	       (st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) != 0;
}

static int check_cwd(const char *cwd)
{
	if (cwd[0] == '/')
		return cog__error(COG_EINVAL, "cog_sandbox_run: cwd \"%s\" must be "
			"relative to /workspace", cwd);
	for (const char *p = cwd; *p;) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return cog__error(COG_EINVAL, "cog_sandbox_run: cwd \"%s\" must not "
				"leave the workspace (\"..\")", cwd);
		p += len;
		while (*p == '/')
			p++;
	}
	return 0;
}

int sandbox_resolve_options(sb_build *b, const cog_sandbox_options *o)
{
	static const char fn[] = "cog_sandbox_run";
	if (!o->argv || !o->argv[0] || !o->argv[0][0])
		return cog__error(COG_EINVAL, "%s: argv is empty", fn);
	if (o->stdin_len > 0 && !o->stdin_data)
		return cog__error(COG_EINVAL, "%s: stdin_data is NULL with stdin_len %zu",
			fn, o->stdin_len);
	const char *prog = o->argv[0];
	if (strchr(prog, '/')) {
		if (prog[0] != '/')
			return cog__error(COG_EINVAL, "%s: argv[0] \"%s\" must be absolute or "
				"a bare name (searched in /usr/bin and /bin)", fn, prog);
		b->exec_path = prog;
	} else {
		/* The sandbox sees the host's /usr and /bin at the same paths. */
		char *p = sandbox_arena_printf(b, "/usr/bin/%s", prog);
		if (p && !is_executable_file(p))
			p = sandbox_arena_printf(b, "/bin/%s", prog);
		if (!p)
			return cog__oom(fn);
		if (!is_executable_file(p))
			return cog__error(COG_ENOTFOUND, "%s: %s not found in /usr/bin or /bin",
				fn, prog);
		b->exec_path = p;
	}

	b->cwd = o->cwd && o->cwd[0] ? o->cwd : ".";
	int rc = check_cwd(b->cwd);
	if (rc)
		return rc;

	if (o->workspace) {
		b->workspace = realpath(o->workspace, NULL);
		if (!b->workspace)
			return cog__error(COG_EINVAL, "%s: workspace %s: %s", fn, o->workspace,
				strerror(errno));
		struct stat st;
		if (stat(b->workspace, &st) < 0 || !S_ISDIR(st.st_mode))
			return cog__error(COG_EINVAL, "%s: workspace %s is not a directory",
				fn, o->workspace);
		if (strcmp(b->workspace, "/") == 0)
			return cog__error(COG_EINVAL, "%s: the workspace must not be /", fn);
	}

	size_t n = 0;
	while (o->read_only_paths && o->read_only_paths[n])
		n++;
	if (n > 64)
		return cog__error(COG_EINVAL, "%s: %zu read_only_paths (at most 64)", fn, n);
	if (n) {
		b->ro_paths = cog__calloc(n, sizeof *b->ro_paths);
		if (!b->ro_paths)
			return cog__oom(fn);
	}
	for (size_t i = 0; i < n; i++) {
		const char *p = o->read_only_paths[i];
		if (p[0] != '/')
			return cog__error(COG_EINVAL, "%s: read_only_paths[%zu] \"%s\" is not "
				"absolute", fn, i, p);
		char *real = realpath(p, NULL);
		if (!real)
			return cog__error(COG_EINVAL, "%s: read_only_paths[%zu] %s: %s", fn, i,
				p, strerror(errno));
		b->ro_paths[b->ro_count++] = real;
		static const char *const reserved[] = { "/proc", "/dev", "/workspace" };
		if (strcmp(real, "/") == 0)
			return cog__error(COG_EINVAL, "%s: read_only_paths[%zu] is /", fn, i);
		for (size_t k = 0; k < COG_ARRAY_LEN(reserved); k++) {
			if (sandbox_path_is_beneath(real, reserved[k]))
				return cog__error(COG_EINVAL, "%s: read_only_paths[%zu] %s is inside "
					"the sandbox's own %s", fn, i, real, reserved[k]);
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* building the plan                                                   */
/* ------------------------------------------------------------------ */

sb_limits sandbox_resolve_limits(const cog_sandbox_options *o)
{
	sb_limits l;
	l.timeout_ms = o->timeout_ms ? o->timeout_ms : 30000;
	l.max_output = o->max_output_bytes ? o->max_output_bytes : (size_t)1 << 20;
	l.cpu_seconds = o->cpu_seconds ? o->cpu_seconds
	              : (unsigned int)(((uint64_t)l.timeout_ms + 999) / 1000);
	l.memory = o->memory_bytes ? o->memory_bytes : (uint64_t)1 << 30;
	l.processes = o->max_processes ? o->max_processes : 64;
	l.file_bytes = o->max_file_bytes ? o->max_file_bytes : (uint64_t)64 << 20;
	l.open_files = o->max_open_files ? o->max_open_files : 256;
	return l;
}

static void plan_common(sb_build *b, const cog_sandbox_options *o,
                        const sb_limits *l, bool namespaces)
{
	sandbox_plan *p = &b->plan;
	p->namespaces = namespaces;
	p->exec_path = b->exec_path;
	p->argv = (char *const *)o->argv;
	/* rlimits: the CPU hard limit one second later, so SIGXCPU comes
	 * first where it can (pid 1 ignores it: the hard limit's SIGKILL is
	 * what stops it). */
	size_t r = 0;
	p->rlimits[r].resource = RLIMIT_CPU;
	p->rlimits[r].soft = l->cpu_seconds;
	p->rlimits[r++].hard = (uint64_t)l->cpu_seconds + 1;
	p->rlimits[r].resource = RLIMIT_AS;
	p->rlimits[r].soft = p->rlimits[r].hard = l->memory;
	r++;
	p->rlimits[r].resource = RLIMIT_NPROC;
	p->rlimits[r].soft = p->rlimits[r].hard = l->processes;
	r++;
	p->rlimits[r].resource = RLIMIT_FSIZE;
	p->rlimits[r].soft = p->rlimits[r].hard = l->file_bytes;
	r++;
	p->rlimits[r].resource = RLIMIT_NOFILE;
	p->rlimits[r].soft = p->rlimits[r].hard = l->open_files;
	r++;
	p->rlimits[r].resource = RLIMIT_CORE;
	p->rlimits[r].soft = p->rlimits[r].hard = 0;
	r++;
	p->rlimit_count = r;

	int abi = sandbox_landlock_abi();
	p->landlock_abi = abi;
	p->ll_handled_fs = sandbox_landlock_fs_all(abi);
	p->ll_handled_net = o->network ? 0 : sandbox_landlock_net_tcp(abi);
	p->ll_scoped = sandbox_landlock_scopes(abi);
	p->ll_rules = b->rules;
	p->ll_rule_count = 0;

	p->bpf = b->bpf;
	p->bpf_len = sandbox_seccomp_build(b->bpf, !namespaces && !o->network);
}

/* The host's layout, probed once (like the kernel's features): which of
 * /usr, /bin, ... are directories or usrmerge symlinks, which /etc files
 * and certificate directories exist, and the mount flags read-only binds
 * of them must keep. */
static void plan_parents(sb_build *b, const char *rel)
{
	for (const char *slash = strchr(rel, '/'); slash; slash = strchr(slash + 1, '/')) {
		char *dir = sandbox_arena_alloc(b, (size_t)(slash - rel) + 1);
		if (!dir)
			return;
		memcpy(dir, rel, (size_t)(slash - rel));
		dir[slash - rel] = '\0';
		sandbox_add_op(b, SB_OP_MKDIR, NULL, dir, NULL, 0, 0755, 0);
	}
}

int sandbox_plan_sandboxed(sb_build *b, const cog_sandbox_options *o,
                          const sb_limits *l)
{
	sandbox_plan *p = &b->plan;
	plan_common(b, o, l, true);
	p->uid_map = sandbox_arena_printf(b, "0 %u 1", (unsigned int)geteuid());
	p->gid_map = sandbox_arena_printf(b, "0 %u 1", (unsigned int)getegid());
	/* RLIMIT_NPROC is not enforced for (host) uid 0. */
	p->set_pid_max = geteuid() == 0;
	p->root_tmpfs_data = "mode=0755,size=16m";
	char *tmpfs_data = sandbox_arena_printf(b, "mode=1777,size=%llu",
	                                (unsigned long long)b->fs_bytes);

	sandbox_plan_layout(b, tmpfs_data);
	sandbox_add_op(b, SB_OP_MKDIR, NULL, "workspace", NULL, 0, 0755, 0);
	if (b->workspace)   /* nosuid: see drop_capabilities in sandbox_child.c */
		sandbox_add_op(b, SB_OP_BIND, b->workspace, "workspace", NULL,
		               sandbox_bind_flags(b->workspace, false), 0, 0);
	else
		sandbox_add_op(b, SB_OP_TMPFS, NULL, "workspace",
		       sandbox_arena_printf(b, "mode=0755,size=%llu", (unsigned long long)b->fs_bytes),
		       MS_NOSUID | MS_NODEV, 0, 0);

	bool own_mount_points = false;   /* read-only paths need new ones */
	for (size_t i = 0; i < b->ro_count; i++) {
		const char *host = b->ro_paths[i];
		const char *rel = host + 1;
		bool visible = false;
		for (size_t k = 0; k < b->sys_bound_count && !visible; k++) {
			char dir[64];
			snprintf(dir, sizeof dir, "/%s", b->sys_bound[k]);
			visible = sandbox_path_is_beneath(host, dir);
		}
		if (visible)
			continue;   /* already there, read-only */
		struct stat st;
		if (stat(host, &st) < 0)
			return cog__error(COG_EINVAL, "cog_sandbox_run: read-only path %s: %s",
				host, strerror(errno));
		own_mount_points = true;
		plan_parents(b, rel);
		if (S_ISDIR(st.st_mode)) {
			sandbox_add_op(b, SB_OP_MKDIR, NULL, rel, NULL, 0, 0755, 0);
			sandbox_add_op(b, SB_OP_BIND, host, rel, NULL, sandbox_ro_flags(host), 0, 0);
		} else {
			sandbox_add_op(b, SB_OP_BIND_FILE, host, rel, NULL, sandbox_ro_flags(host), 0, 0);
		}
	}
	/* The root: the skeleton, prepared once (sandbox_skeleton.c), or a
	 * new tmpfs on a host directory none of the sources is beneath (it
	 * hides what is below it in our mount namespace). */
	if (!b->oom && !b->too_many && !own_mount_points)
		p->root_source = sandbox_skeleton_acquire(b, &p->root_remount_flags);
	p->root_mount = p->root_source;
	if (!p->root_source)
		p->root_remount_flags = MS_RDONLY | MS_NOSUID | MS_NODEV;
	static const char *const candidates[] = {
		"/tmp", "/mnt", "/run", "/media", "/srv", "/opt", "/var/tmp", "/home",
		"/root", "/boot", "/var"
	};
	for (size_t i = 0; i < COG_ARRAY_LEN(candidates) && !p->root_mount; i++) {
		struct stat st;
		if (lstat(candidates[i], &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		bool hides = b->workspace && sandbox_path_is_beneath(b->workspace, candidates[i]);
		for (size_t k = 0; k < b->ro_count && !hides; k++)
			hides = sandbox_path_is_beneath(b->ro_paths[k], candidates[i]);
		if (!hides)
			p->root_mount = candidates[i];
	}
	if (!p->root_mount)
		return cog__error(COG_EIO, "sandbox: no host directory to mount the new "
			"root on (the workspace and read-only paths cover them all)");

	p->ops = b->ops;

	/* Landlock: read and execute anywhere in this small root; write only
	 * beneath /workspace, /tmp and /dev (its devices and /dev/shm). */
	int abi = p->landlock_abi;
	if (abi > 0) {
		add_rule(b, "/", sandbox_landlock_fs_read_exec(abi));
		add_rule(b, "/workspace", sandbox_landlock_fs_all(abi));
		add_rule(b, "/tmp", sandbox_landlock_fs_all(abi));
		add_rule(b, "/dev", sandbox_landlock_fs_all(abi));
	}

	b->envp_default[0] = "PATH=/usr/local/bin:/usr/bin:/bin";
	b->envp_default[1] = "HOME=/workspace";
	b->envp_default[2] = "LANG=C.UTF-8";
	b->envp_default[3] = "TMPDIR=/tmp";
	b->envp_default[4] = NULL;
	p->envp = o->envp ? (char *const *)o->envp : b->envp_default;
	p->cwd = sandbox_arena_printf(b, "/workspace/%s", b->cwd);
	if (b->oom || !p->uid_map || !p->gid_map || !tmpfs_data || !p->cwd)
		return cog__oom("cog_sandbox_run");
	if (b->too_many)
		return cog__error(COG_EINVAL, "cog_sandbox_run: too many read-only paths "
			"to mount");
	return 0;
}

int sandbox_plan_unsandboxed(sb_build *b, const cog_sandbox_options *o,
                            const sb_limits *l)
{
	sandbox_plan *p = &b->plan;
	plan_common(b, o, l, false);
	const char *ws = b->workspace;
	if (!ws) {
		/* No workspace: a fresh empty directory, removed afterwards. */
		const char *tmp = getenv("TMPDIR");
		if (!tmp || tmp[0] != '/')
			tmp = "/tmp";
		char *templ = sandbox_arena_printf(b, "%s/cog-sandbox-XXXXXX", tmp);
		if (!templ)
			return cog__oom("cog_sandbox_run");
		if (!mkdtemp(templ))
			return cog__error(COG_EIO, "sandbox: mkdtemp %s: %s", templ,
				strerror(errno));
		b->temp_workspace = templ;
		ws = templ;
	}
	p->cwd = sandbox_arena_printf(b, "%s/%s", ws, b->cwd);

	int abi = p->landlock_abi;
	if (abi > 0) {
		static const char *const devices[] = { "/dev/null", "/dev/zero",
			"/dev/full", "/dev/random", "/dev/urandom" };
		add_rule(b, "/", sandbox_landlock_fs_read_exec(abi));
		add_rule(b, ws, sandbox_landlock_fs_all(abi));
		add_rule(b, "/tmp", sandbox_landlock_fs_all(abi));
		add_rule(b, "/dev/shm", sandbox_landlock_fs_all(abi));
		for (size_t i = 0; i < COG_ARRAY_LEN(devices); i++)
			add_rule(b, devices[i], sandbox_landlock_fs_file_rw(abi));
	}

	b->envp_default[0] = "PATH=/usr/local/bin:/usr/bin:/bin";
	b->envp_default[1] = sandbox_arena_printf(b, "HOME=%s", ws);
	b->envp_default[2] = "LANG=C.UTF-8";
	b->envp_default[3] = "TMPDIR=/tmp";
	b->envp_default[4] = NULL;
	p->envp = o->envp ? (char *const *)o->envp : b->envp_default;
	if (b->oom || !p->cwd || !b->envp_default[1])
		return cog__oom("cog_sandbox_run");
	return 0;
}

