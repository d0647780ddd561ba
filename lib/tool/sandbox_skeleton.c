/*
 * The skeleton: the sandbox's root prepared once per process instead of
 * at every launch.
 *
 * Most of what the child used to do to build its root is the same every
 * time: about thirty mkdir, symlink, write and copy steps into a fresh
 * tmpfs (/usr, /etc with its files, /dev's mount points and links, ...),
 * a quarter of a millisecond of the launch. Here those steps run once,
 * into a private host directory (<TMPDIR or /tmp>/cog-sandbox-root-XXXXXX,
 * mode 0700, its "root" subdirectory 0755), and the child binds that
 * directory as its root and only mounts onto it: the plan keeps the mount
 * steps (the mount points exist) and drops the others. The root is
 * remounted read-only like the tmpfs was, so what the sandbox sees is the
 * same; the files' owner is the same (our uid, 0 inside).
 *
 * Freshness: /etc/hosts, resolv.conf, nsswitch.conf and ld.so.cache are
 * copies. Each launch stats the host files (a microsecond each) and
 * copies again what changed (same device, inode, size, mtime and ctime,
 * and a ctime at least two seconds old, so that a change within one
 * coarse timestamp tick is not missed); the new copy is renamed into
 * place, so a running sandbox sees either version whole.
 *
 * Safety: only this process (and others of our uid, which could ptrace
 * us anyway) can write the directory. A sandboxed program cannot: the
 * root is a read-only bind, the host's /tmp is not in its view, mount is
 * refused by seccomp and Landlock allows writes only beneath /workspace,
 * /tmp and /dev. The directory holds a shared flock for the process's
 * lifetime, which systemd-tmpfiles' age-based cleanup respects.
 *
 * The steps of the skeleton are the run's own ops, so it cannot drift
 * from the tmpfs root: a signature of them is checked at every launch,
 * and a run whose ops differ (read-only paths needing new mount points)
 * uses the tmpfs root. If a child reports that the skeleton is broken (a
 * mount point gone), the launch is retried with the tmpfs root and the
 * skeleton is not used again in this process.
 *
 * The directory is removed at exit (a destructor: also at dlclose) when
 * no run is using it and this is the process that made it (a forked
 * child makes its own). One left by a process killed outright (about
 * 60 KB) is removed by the next process that makes a skeleton there, once
 * no process holds its lock.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core_int.h"
#include "sandbox_int.h"

#define SKEL_PREFIX "cog-sandbox-root-"
#define SKEL_STALE_SECONDS 60
#define SKEL_MAX_COPIES 8
#define SKEL_NAME_MAX 128
#define SKEL_SETTLE_NS 2000000000ull

typedef struct skel_copy {
	char src[SKEL_NAME_MAX];    /* host file */
	char path[SKEL_NAME_MAX];   /* relative to the skeleton's root */
	unsigned int mode;
	bool present;
	bool settled;               /* ctime was old enough at the copy */
	struct stat st;             /* the source when it was copied */
} skel_copy;

enum { SKEL_NONE = 0, SKEL_READY, SKEL_OFF };

static pthread_mutex_t skel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int state;
	pid_t owner;
	char dir[PATH_MAX];         /* the mkdtemp directory */
	char root[PATH_MAX + 8];    /* dir/root: what the child binds */
	int dir_fd;                 /* holds the flock */
	int root_fd;
	uint64_t signature;
	unsigned long remount_flags;
	skel_copy copies[SKEL_MAX_COPIES];
	size_t copy_count;
	unsigned int active;        /* runs using it now */
} skel = { .dir_fd = -1, .root_fd = -1 };

static bool skel_op_is_prepared(const sandbox_op *op)
{
	return op->kind == SB_OP_MKDIR || op->kind == SB_OP_SYMLINK ||
	       op->kind == SB_OP_COPY || op->kind == SB_OP_WRITE;
}

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	return s ? fnv(h, s, strlen(s) + 1) : fnv(h, "", 1);
}

/* What the skeleton is made of: every prepared step and every file
 * mount point, in order. */
static uint64_t ops_signature(const sandbox_op *ops, size_t n)
{
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < n; i++) {
		const sandbox_op *op = &ops[i];
		if (!skel_op_is_prepared(op) && op->kind != SB_OP_BIND_FILE)
			continue;
		h = fnv(h, &op->kind, sizeof op->kind);
		h = fnv(h, &op->mode, sizeof op->mode);
		h = fnv_str(h, op->path);
		if (op->kind != SB_OP_BIND_FILE) {
			h = fnv_str(h, op->src);
			h = fnv_str(h, op->data);
		}
	}
	return h;
}

/* Copy host file src to path (relative to dfd) through a temporary name,
 * then rename it into place. 0 or an errno value. */
static int copy_into(int dfd, const char *src, const char *path, unsigned int mode)
{
	char tmp[SKEL_NAME_MAX + 8];
	const char *slash = strrchr(path, '/');
	int dir_len = slash ? (int)(slash - path + 1) : 0;
	snprintf(tmp, sizeof tmp, "%.*s.new-%s", dir_len, path,
	         slash ? slash + 1 : path);
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return errno;
	int out = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0) {
		int e = errno;
		close(in);
		return e;
	}
	int e = sb_copy_all(out, in);
	if (e == 0 && fchmod(out, mode) < 0)
		e = errno;
	close(in);
	if (close(out) < 0 && e == 0)
		e = errno;
	if (e == 0 && renameat(dfd, tmp, dfd, path) < 0)
		e = errno;
	if (e)
		unlinkat(dfd, tmp, 0);
	return e;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Copy c's source again if it changed (or vanished, or came back). */
static int refresh_copy(skel_copy *c)
{
	struct stat st;
	if (stat(c->src, &st) < 0) {
		if (errno != ENOENT)
			return errno;
		if (c->present && unlinkat(skel.root_fd, c->path, 0) < 0 && errno != ENOENT)
			return errno;
		c->present = false;
		return 0;
	}
	if (c->present && c->settled && same_file(&st, &c->st))
		return 0;
	int e = copy_into(skel.root_fd, c->src, c->path, c->mode);
	if (e == ENOENT) {   /* vanished meanwhile */
		c->present = false;
		return 0;
	}
	if (e)
		return e;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	uint64_t ctime_ns = (uint64_t)st.st_ctim.tv_sec * 1000000000u +
	                    (uint64_t)st.st_ctim.tv_nsec;
	c->st = st;
	c->present = true;
	c->settled = now_ns > ctime_ns && now_ns - ctime_ns > SKEL_SETTLE_NS;
	return 0;
}

/* One prepared step, relative to the skeleton's root. Mount steps only
 * need their mount point: directories come from their own MKDIR step,
 * files of SB_OP_BIND_FILE are made here. */
static int apply_op(const sandbox_op *op)
{
	int dfd = skel.root_fd;
	switch (op->kind) {
	case SB_OP_MKDIR:
		if (mkdirat(dfd, op->path, op->mode) < 0 && errno != EEXIST)
			return errno;
		/* The exact mode (our umask is the host's; the child's is 022,
		 * and a tmpfs or bind covers the mount points anyway). */
		return fchmodat(dfd, op->path, op->mode, 0) < 0 ? errno : 0;
	case SB_OP_SYMLINK:
		return symlinkat(op->src, dfd, op->path) < 0 ? errno : 0;
	case SB_OP_COPY: {
		if (skel.copy_count >= SKEL_MAX_COPIES ||
		    strlen(op->src) >= SKEL_NAME_MAX || strlen(op->path) >= SKEL_NAME_MAX)
			return ENAMETOOLONG;
		skel_copy *c = &skel.copies[skel.copy_count++];
		memset(c, 0, sizeof *c);
		strcpy(c->src, op->src);
		strcpy(c->path, op->path);
		c->mode = op->mode;
		return refresh_copy(c);
	}
	case SB_OP_WRITE: {
		int fd = openat(dfd, op->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		                op->mode);
		if (fd < 0)
			return errno;
		size_t len = strlen(op->data);
		ssize_t n = write(fd, op->data, len);
		int e = n == (ssize_t)len ? 0 : (n < 0 ? errno : EIO);
		if (e == 0 && fchmod(fd, op->mode) < 0)
			e = errno;
		close(fd);
		return e;
	}
	case SB_OP_BIND_FILE: {
		int fd = openat(dfd, op->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return errno;
		close(fd);
		return 0;
	}
	case SB_OP_BIND:
	case SB_OP_TMPFS:
	case SB_OP_PROC:
		return 0;
	}
	return EINVAL;
}

static int remove_entry(const char *path, const struct stat *st, int type,
                        struct FTW *ftw)
{
	(void)st; (void)type; (void)ftw;
	remove(path);
	return 0;
}

/* Close and remove the skeleton (the lock is held). */
static void skel_discard(void)
{
	if (skel.root_fd >= 0)
		close(skel.root_fd);
	if (skel.dir_fd >= 0)
		close(skel.dir_fd);
	skel.root_fd = skel.dir_fd = -1;
	if (skel.dir[0] && skel.owner == getpid())
		nftw(skel.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	skel.dir[0] = skel.root[0] = '\0';
	skel.copy_count = 0;
}

/* Skeletons left behind by processes that ended without their destructor
 * (killed, _exit): ours (our uid), more than a minute old and locked by
 * no one, since a live owner holds a shared lock. */
static void sweep_stale(const char *tmp)
{
	DIR *d = opendir(tmp);
	if (!d)
		return;
	time_t now = time(NULL);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, SKEL_PREFIX, strlen(SKEL_PREFIX)) != 0)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
		    now - st.st_mtime < SKEL_STALE_SECONDS)
			continue;
		int fd = openat(dirfd(d), de->d_name,
		                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			char path[PATH_MAX];
			if (snprintf(path, sizeof path, "%s/%s", tmp, de->d_name) <
			    (int)sizeof path)
				nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
		}
		close(fd);
	}
	closedir(d);
}

static int skel_build(const sandbox_op *ops, size_t n)
{
	const char *tmp = getenv("TMPDIR");
	if (!tmp || tmp[0] != '/')
		tmp = "/tmp";
	sweep_stale(tmp);
	int len = snprintf(skel.dir, sizeof skel.dir, "%s/" SKEL_PREFIX "XXXXXX", tmp);
	if (len < 0 || (size_t)len + 6 >= sizeof skel.dir)
		return ENAMETOOLONG;
	if (!mkdtemp(skel.dir)) {
		skel.dir[0] = '\0';
		return errno;
	}
	skel.owner = getpid();
	snprintf(skel.root, sizeof skel.root, "%s/root", skel.dir);
	skel.dir_fd = open(skel.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (skel.dir_fd < 0)
		return errno;
	(void)flock(skel.dir_fd, LOCK_SH | LOCK_NB);   /* best effort */
	if (mkdirat(skel.dir_fd, "root", 0755) < 0 ||
	    fchmodat(skel.dir_fd, "root", 0755, 0) < 0)
		return errno;
	skel.root_fd = openat(skel.dir_fd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (skel.root_fd < 0)
		return errno;
	for (size_t i = 0; i < n; i++) {
		int e = apply_op(&ops[i]);
		if (e)
			return e;
	}
	skel.signature = ops_signature(ops, n);
	skel.remount_flags = sandbox_ro_flags(skel.root);
	return 0;
}

const char *sandbox_skeleton_acquire(sb_build *b, unsigned long *remount_flags)
{
	sandbox_plan *p = &b->plan;
	const char *root = NULL;
	pthread_mutex_lock(&skel_lock);
	if (skel.state == SKEL_READY && skel.owner != getpid()) {
		/* A forked child: the directory (and its runs) are the
		 * parent's. */
		skel.state = SKEL_NONE;
		skel.active = 0;
		skel_discard();
	}
	if (skel.state == SKEL_NONE) {
		int e = skel_build(b->ops, p->op_count);
		if (e == 0) {
			skel.state = SKEL_READY;
		} else {
			skel.state = SKEL_OFF;
			skel_discard();
		}
	} else if (skel.state == SKEL_READY) {
		if (skel.signature != ops_signature(b->ops, p->op_count))
			goto out;   /* not this run's root */
		for (size_t i = 0; i < skel.copy_count; i++) {
			if (refresh_copy(&skel.copies[i]) != 0)
				goto out;   /* this run builds its root itself */
		}
	}
	if (skel.state != SKEL_READY)
		goto out;

	/* Keep only the mount steps; their mount points are there. */
	size_t k = 0;
	for (size_t i = 0; i < p->op_count; i++) {
		sandbox_op op = b->ops[i];
		if (skel_op_is_prepared(&op))
			continue;
		if (op.kind == SB_OP_BIND_FILE)
			op.kind = SB_OP_BIND;
		b->ops[k++] = op;
	}
	p->op_count = k;
	skel.active++;
	b->skeleton_held = true;
	*remount_flags = skel.remount_flags;
	root = skel.root;
out:
	pthread_mutex_unlock(&skel_lock);
	return root;
}

void sandbox_skeleton_release(sb_build *b, bool broken)
{
	if (!b->skeleton_held)
		return;
	b->skeleton_held = false;
	pthread_mutex_lock(&skel_lock);
	skel.active--;
	if (broken && skel.state == SKEL_READY)
		skel.state = SKEL_OFF;   /* removed at exit, when unused */
	pthread_mutex_unlock(&skel_lock);
}

__attribute__((destructor)) static void skel_cleanup(void)
{
	if (pthread_mutex_trylock(&skel_lock) != 0)
		return;   /* another thread is in the middle of a launch */
	if (skel.active == 0 && skel.dir[0])
		skel_discard();
	pthread_mutex_unlock(&skel_lock);
}
