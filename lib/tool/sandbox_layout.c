/*
 * The fixed part of the sandbox's root, shaped by the host: /usr, /bin,
 * /lib* bound read-only as the host has them (directories, or usrmerge
 * symlinks recreated as symlinks), a small /etc, a minimal /dev, a fresh
 * /proc and a /tmp. The host's layout is probed once per process.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core_int.h"
#include "sandbox_int.h"

enum { SB_ABSENT = 0, SB_DIR, SB_LINK, SB_FILE };
#define SB_LINK_MAX 256

static const char *const layout_sys_names[] = {
	"usr", "bin", "sbin", "lib", "lib32", "libx32", "lib64"
};
static const char *const layout_etc_names[] = {
	"hosts", "resolv.conf", "nsswitch.conf", "ld.so.cache", "localtime",
	"matplotlibrc"
};
static const char *const layout_dir_names[] = {   /* bound read-only */
	"etc/ssl/certs", "etc/alternatives", "etc/pki/ca-trust", "etc/pki/tls/certs"
};

typedef struct sb_layout_entry {
	int kind;
	char target[SB_LINK_MAX];   /* SB_LINK */
	unsigned long ro_flags;     /* SB_DIR */
} sb_layout_entry;

static struct {
	sb_layout_entry sys[COG_ARRAY_LEN(layout_sys_names)];
	sb_layout_entry etc[COG_ARRAY_LEN(layout_etc_names)];
	sb_layout_entry dirs[COG_ARRAY_LEN(layout_dir_names)];
} host_layout;
static pthread_once_t host_layout_once = PTHREAD_ONCE_INIT;

static void layout_probe_one(const char *path, sb_layout_entry *e)
{
	struct stat st;
	e->kind = SB_ABSENT;
	if (lstat(path, &st) < 0)
		return;
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlink(path, e->target, sizeof e->target - 1);
		if (n <= 0 || (size_t)n >= sizeof e->target - 1)
			return;   /* absurdly long: left out */
		e->target[n] = '\0';
		e->kind = SB_LINK;
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			e->ro_flags = sandbox_ro_flags(path);
	} else if (S_ISDIR(st.st_mode)) {
		e->kind = SB_DIR;
		e->ro_flags = sandbox_ro_flags(path);
	} else if (S_ISREG(st.st_mode)) {
		e->kind = SB_FILE;
	}
}

static void host_layout_probe(void)
{
	char path[64];
	for (size_t i = 0; i < COG_ARRAY_LEN(layout_sys_names); i++) {
		snprintf(path, sizeof path, "/%s", layout_sys_names[i]);
		layout_probe_one(path, &host_layout.sys[i]);
	}
	for (size_t i = 0; i < COG_ARRAY_LEN(layout_etc_names); i++) {
		snprintf(path, sizeof path, "/etc/%s", layout_etc_names[i]);
		layout_probe_one(path, &host_layout.etc[i]);
	}
	for (size_t i = 0; i < COG_ARRAY_LEN(layout_dir_names); i++) {
		snprintf(path, sizeof path, "/%s", layout_dir_names[i]);
		struct stat st;
		host_layout.dirs[i].kind = stat(path, &st) == 0 && S_ISDIR(st.st_mode)
		                         ? SB_DIR : SB_ABSENT;
		if (host_layout.dirs[i].kind == SB_DIR)
			host_layout.dirs[i].ro_flags = sandbox_ro_flags(path);
	}
}

/* /usr, /bin, ... as the host has them: directories bound read-only,
 * symlinks (usrmerge) recreated as symlinks. */
static void plan_system_dirs(sb_build *b)
{
	for (size_t i = 0; i < COG_ARRAY_LEN(layout_sys_names); i++) {
		const sb_layout_entry *e = &host_layout.sys[i];
		const char *name = layout_sys_names[i];
		if (e->kind == SB_LINK) {
			sandbox_add_op(b, SB_OP_SYMLINK, e->target, name, NULL, 0, 0, 0);
		} else if (e->kind == SB_DIR) {
			sandbox_add_op(b, SB_OP_MKDIR, NULL, name, NULL, 0, 0755, 0);
			sandbox_add_op(b, SB_OP_BIND, sandbox_arena_abs(b, name), name, NULL,
			       e->ro_flags, 0, 0);
			if (b->sys_bound_count < COG_ARRAY_LEN(b->sys_bound))
				b->sys_bound[b->sys_bound_count++] = name;
		}
	}
}

/* Directory i of layout_dir_names, read-only, if the host has it. */
static void plan_ro_dir(sb_build *b, size_t i)
{
	if (host_layout.dirs[i].kind != SB_DIR)
		return;
	const char *rel = layout_dir_names[i];
	sandbox_add_op(b, SB_OP_MKDIR, NULL, rel, NULL, 0, 0755, 0);
	sandbox_add_op(b, SB_OP_BIND, sandbox_arena_abs(b, rel), rel, NULL,
	       host_layout.dirs[i].ro_flags, 0, 1);
	if (b->sys_bound_count < COG_ARRAY_LEN(b->sys_bound))
		b->sys_bound[b->sys_bound_count++] = rel;
}

/* A small /etc: what programs need to start, resolve names and verify
 * TLS. passwd and group are written, not copied: the host's users are
 * none of the sandbox's business. Never shadow. */
static void plan_etc(sb_build *b)
{
	sandbox_add_op(b, SB_OP_MKDIR, NULL, "etc", NULL, 0, 0755, 0);
	sandbox_add_op(b, SB_OP_WRITE, NULL, "etc/passwd",
	       "root:x:0:0:root:/workspace:/bin/sh\n"
	       "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
	       0, 0644, 0);
	sandbox_add_op(b, SB_OP_WRITE, NULL, "etc/group", "root:x:0:\nnogroup:x:65534:\n",
	       0, 0644, 0);
	for (size_t i = 0; i < COG_ARRAY_LEN(layout_etc_names); i++) {
		const sb_layout_entry *e = &host_layout.etc[i];
		const char *name = layout_etc_names[i];
		if (e->kind == SB_ABSENT)
			continue;
		char *rel = sandbox_arena_printf(b, "etc/%s", name);
		if (e->kind == SB_LINK && strcmp(name, "localtime") == 0)
			sandbox_add_op(b, SB_OP_SYMLINK, e->target, rel, NULL, 0, 0, 0);
		else   /* copied as it is now (resolv.conf changes) */
			sandbox_add_op(b, SB_OP_COPY, sandbox_arena_printf(b, "/etc/%s", name), rel, NULL, 0,
			       0644, 1);
	}
	if (host_layout.dirs[0].kind == SB_DIR)
		sandbox_add_op(b, SB_OP_MKDIR, NULL, "etc/ssl", NULL, 0, 0755, 0);
	plan_ro_dir(b, 0);
	plan_ro_dir(b, 1);
	if (host_layout.dirs[2].kind == SB_DIR || host_layout.dirs[3].kind == SB_DIR)
		sandbox_add_op(b, SB_OP_MKDIR, NULL, "etc/pki", NULL, 0, 0755, 0);
	plan_ro_dir(b, 2);
	if (host_layout.dirs[3].kind == SB_DIR)
		sandbox_add_op(b, SB_OP_MKDIR, NULL, "etc/pki/tls", NULL, 0, 0755, 0);
	plan_ro_dir(b, 3);
}

static void plan_dev_proc_tmp(sb_build *b, const char *tmpfs_data)
{
	static const char *const devices[] = { "null", "zero", "full", "random",
	                                       "urandom" };
	sandbox_add_op(b, SB_OP_MKDIR, NULL, "dev", NULL, 0, 0755, 0);
	for (size_t i = 0; i < COG_ARRAY_LEN(devices); i++)
		sandbox_add_op(b, SB_OP_BIND_FILE, sandbox_arena_printf(b, "/dev/%s", devices[i]),
		       sandbox_arena_printf(b, "dev/%s", devices[i]), NULL, 0, 0, 0);
	sandbox_add_op(b, SB_OP_SYMLINK, "/proc/self/fd", "dev/fd", NULL, 0, 0, 0);
	sandbox_add_op(b, SB_OP_SYMLINK, "/proc/self/fd/0", "dev/stdin", NULL, 0, 0, 0);
	sandbox_add_op(b, SB_OP_SYMLINK, "/proc/self/fd/1", "dev/stdout", NULL, 0, 0, 0);
	sandbox_add_op(b, SB_OP_SYMLINK, "/proc/self/fd/2", "dev/stderr", NULL, 0, 0, 0);
	sandbox_add_op(b, SB_OP_MKDIR, NULL, "dev/shm", NULL, 0, 01777, 0);
	sandbox_add_op(b, SB_OP_TMPFS, NULL, "dev/shm", tmpfs_data, MS_NOSUID | MS_NODEV, 0, 0);
	sandbox_add_op(b, SB_OP_MKDIR, NULL, "proc", NULL, 0, 0555, 0);
	sandbox_add_op(b, SB_OP_PROC, NULL, "proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, 0);
	sandbox_add_op(b, SB_OP_MKDIR, NULL, "tmp", NULL, 0, 01777, 0);
	sandbox_add_op(b, SB_OP_TMPFS, NULL, "tmp", tmpfs_data, MS_NOSUID | MS_NODEV, 0, 0);
}

/* Make every directory of rel (relative) that is not yet there. */

void sandbox_plan_layout(sb_build *b, const char *tmpfs_data)
{
	pthread_once(&host_layout_once, host_layout_probe);
	plan_system_dirs(b);
	plan_etc(b);
	plan_dev_proc_tmp(b, tmpfs_data);
}
