/*
 * Opening files inside a workspace directory without leaving it.
 *
 * The kernel does the work where it can: openat2(2) with RESOLVE_BENEATH
 * refuses, atomically with the lookup, every path whose resolution would
 * step above the directory (through "..", an absolute path or a symlink),
 * and RESOLVE_NO_MAGICLINKS refuses /proc's fd links. Symlinks that stay
 * inside are followed. Kernels before 5.6 (and seccomp profiles that do not
 * know the call) get a user-space walk with the same rules: one component at
 * a time from a directory fd, never following a symlink with the kernel,
 * resolving each one by reading it and continuing from the directory we
 * hold, so no path is ever looked up twice and a directory swapped for a
 * symlink mid-way is seen for what it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "builtin_int.h"

/* What the kernel allows for one lookup (MAXSYMLINKS). */
#define WS_MAX_LINKS 40
/* How many times a lookup raced with a rename before we give up. */
#define WS_MAX_RETRIES 8
/* Deepest directory nesting the fallback walk keeps fds for. */
#define WS_MAX_DEPTH 256

/* ---- the path as given ---- */

/* Refuse what can never be inside: empty, absolute, any ".." component. */
int tool__workspace_check(const char *relpath)
{
	if (relpath == NULL || relpath[0] == '\0')
		return cog__error(COG_EDENIED, "workspace: an empty path names no "
			"file; give a path relative to the workspace, e.g. \"notes.txt\"");
	if (relpath[0] == '/')
		return cog__error(COG_EDENIED, "workspace: path \"%s\" is absolute; "
			"paths are relative to the workspace root", relpath);
	if (strlen(relpath) >= PATH_MAX)
		return cog__error(COG_EINVAL, "workspace: path \"%.64s...\" is "
			"longer than %d bytes", relpath, PATH_MAX - 1);
	for (const char *p = relpath; *p != '\0';) {
		size_t len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return cog__error(COG_EDENIED, "workspace: path \"%s\" has a "
				"\"..\" component; paths may not leave the workspace",
				relpath);
		p += len;
		while (*p == '/')
			p++;
	}
	return 0;
}

/* ---- errno to status ---- */

static int open_failed(int err, const char *relpath)
{
	switch (err) {
	case EXDEV:
		return cog__error(COG_EDENIED, "workspace: path \"%s\" leaves the "
			"workspace (through a symlink or an absolute link target)",
			relpath);
	case ELOOP:
		return cog__error(COG_EDENIED, "workspace: path \"%s\": too many "
			"symlinks, a symlink where none may be, or a /proc magic link",
			relpath);
	case ENOENT:
		return cog__error(COG_ENOTFOUND, "workspace: \"%s\" does not exist",
			relpath);
	case EACCES:
	case EPERM:
	case EROFS:
		return cog__error(COG_EDENIED, "workspace: \"%s\": %s", relpath,
			strerror(err));
	case EEXIST:
		return cog__error(COG_EEXISTS, "workspace: \"%s\" already exists",
			relpath);
	case EISDIR:
		return cog__error(COG_EINVAL, "workspace: \"%s\" is a directory",
			relpath);
	case ENOTDIR:
		return cog__error(COG_EINVAL, "workspace: a component of \"%s\" is "
			"not a directory", relpath);
	case ENAMETOOLONG:
	case EINVAL:
	case ENXIO:
	case ETXTBSY:
		return cog__error(COG_EINVAL, "workspace: cannot open \"%s\": %s",
			relpath, strerror(err));
	case ENOMEM:
		return cog__oom("workspace open");
	default:
		return cog__error(COG_EIO, "workspace: cannot open \"%s\": %s",
			relpath, strerror(err));
	}
}

/* ---- openat2 ---- */

/* The fd, or -errno. */
static int open_beneath(int dirfd, const char *relpath, int flags, mode_t mode)
{
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(unsigned int)(flags | O_CLOEXEC);
	/* openat2 insists on a zero mode unless a file may be created. */
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		how.mode = mode;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	for (int attempt = 0;; attempt++) {
		long fd = syscall(SYS_openat2, dirfd, relpath, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		/* EAGAIN: a rename or mount raced with the lookup; the kernel
		 * asks us to try again rather than risk a wrong answer. */
		if ((errno == EAGAIN || errno == EINTR) && attempt < WS_MAX_RETRIES)
			continue;
		return -errno;
	}
}

/* ---- the fallback walk ---- */

typedef struct walk {
	int dirs[WS_MAX_DEPTH];    /* dirs[0] == root; the rest are ours */
	int depth;                 /* index of the current directory */
	int links;                 /* symlinks followed so far */
	char rest[PATH_MAX * 2];   /* components still to resolve */
} walk;

static void walk_close(walk *w)
{
	for (int i = 1; i <= w->depth; i++)
		close(w->dirs[i]);
	w->depth = 0;
}

/* Take the next component off w->rest into name; false when none is left.
 * "." and empty components are skipped. */
static bool next_component(walk *w, char name[NAME_MAX + 1], bool *last,
                           int *err)
{
	char *p = w->rest;

	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0') {
			w->rest[0] = '\0';
			return false;
		}
		size_t len = strcspn(p, "/");
		if (len > NAME_MAX) {
			*err = ENAMETOOLONG;
			return false;
		}
		if (len == 1 && p[0] == '.') {
			p += 1;
			continue;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		p += len;
		while (*p == '/')
			p++;
		/* The last component is last only if nothing but "." remains. */
		const char *q = p;
		*last = true;
		while (*q != '\0') {
			size_t l = strcspn(q, "/");
			if (!(l == 1 && q[0] == '.')) {
				*last = false;
				break;
			}
			q += l;
			while (*q == '/')
				q++;
		}
		memmove(w->rest, p, strlen(p) + 1);
		return true;
	}
}

/* `name` in the current directory is a symlink: splice its target in
 * front of what remains. 0, or -errno (EXDEV when it leaves). */
static int splice_link(walk *w, const char *name)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(w->dirs[w->depth], name, target, sizeof(target) - 1);

	if (n < 0)
		return -errno;
	target[n] = '\0';
	if (++w->links > WS_MAX_LINKS)
		return -ELOOP;
	/* An absolute target leaves, as /proc's links (which read as absolute
	 * paths or as "pipe:[123]"-style names that resolve to nothing here). */
	if (target[0] == '/' || n == 0)
		return -EXDEV;
	size_t rest_len = strlen(w->rest);
	if ((size_t)n + 1 + rest_len + 1 > sizeof(w->rest))
		return -ENAMETOOLONG;
	memmove(w->rest + n + 1, w->rest, rest_len + 1);
	memcpy(w->rest, target, (size_t)n);
	w->rest[n] = '/';
	if (rest_len == 0)
		w->rest[n] = '\0';
	return 0;
}

/* Is `name` in the current directory a symlink right now? */
static bool is_symlink(const walk *w, const char *name)
{
	struct stat st;

	return fstatat(w->dirs[w->depth], name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISLNK(st.st_mode);
}

/* Step into directory `name` (never through a symlink). 0, 1 if it is a
 * symlink (spliced in; go on), or -errno. */
static int step_into(walk *w, const char *name)
{
	if (strcmp(name, "..") == 0) {
		/* Only a symlink's target can bring ".." here. */
		if (w->depth == 0)
			return -EXDEV;
		close(w->dirs[w->depth--]);
		return 0;
	}
	int fd = openat(w->dirs[w->depth], name,
	                O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		if ((err == ENOTDIR || err == ELOOP) && is_symlink(w, name)) {
			int rc = splice_link(w, name);
			return rc < 0 ? rc : 1;
		}
		return -err;
	}
	/* O_PATH|O_NOFOLLOW may hand back the link itself on some kernels:
	 * make sure we hold a directory. */
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
		close(fd);
		if (is_symlink(w, name)) {
			int rc = splice_link(w, name);
			return rc < 0 ? rc : 1;
		}
		return -ENOTDIR;
	}
	if (w->depth + 1 >= WS_MAX_DEPTH) {
		close(fd);
		return -ENAMETOOLONG;
	}
	w->dirs[++w->depth] = fd;
	return 0;
}

/* Open the last component; 1 if it was a symlink (spliced; go on). */
static int open_last(walk *w, const char *name, int flags, mode_t mode, int *out)
{
	if (strcmp(name, "..") == 0) {
		int rc = step_into(w, name);
		if (rc < 0)
			return rc;
		/* "x/.." at the end: what remains is the directory itself. */
		snprintf(w->rest, sizeof(w->rest), ".");
		return 1;
	}
	int fd = openat(w->dirs[w->depth], name, flags | O_NOFOLLOW | O_CLOEXEC,
	                mode);
	if (fd >= 0) {
		*out = fd;
		return 0;
	}
	int err = errno;
	/* A symlink answers ELOOP to O_NOFOLLOW (ENOTDIR with O_DIRECTORY on
	 * some kernels, EEXIST with O_CREAT|O_EXCL, which must not follow). */
	if ((err == ELOOP || err == ENOTDIR) && !(flags & O_NOFOLLOW) &&
	    is_symlink(w, name)) {
		int rc = splice_link(w, name);
		return rc < 0 ? rc : 1;
	}
	return -err;
}

/* The fd or -errno. */
static int open_walk(int dirfd, const char *relpath, int flags, mode_t mode)
{
	walk *w = cog_malloc(sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->dirs[0] = dirfd;
	w->depth = 0;
	w->links = 0;
	snprintf(w->rest, sizeof(w->rest), "%s", relpath);

	char name[NAME_MAX + 1];
	int fd = -1, rc = 0;
	for (;;) {
		bool last = false;
		int err = 0;
		if (!next_component(w, name, &last, &err)) {
			if (err != 0) {
				rc = -err;
				break;
			}
			/* Nothing left: the path named the current directory. */
			fd = openat(w->dirs[w->depth], ".", flags | O_CLOEXEC, mode);
			rc = fd < 0 ? -errno : 0;
			break;
		}
		rc = last ? open_last(w, name, flags, mode, &fd)
		          : step_into(w, name);
		if (rc < 0 || (last && rc == 0))
			break;
	}
	walk_close(w);
	cog_free(w);
	return rc < 0 ? rc : fd;
}

/* ---- entry point ---- */

int tool_workspace_open(int workspace_fd, const char *relpath, int flags,
                        mode_t mode)
{
	int rc = tool__workspace_check(relpath);
	if (rc != 0)
		return rc;
	if (workspace_fd < 0)
		return cog__error(COG_EINVAL, "workspace: no directory to open \"%s\" "
			"in", relpath);
	int fd = open_beneath(workspace_fd, relpath, flags, mode);
	/* ENOSYS: kernel before 5.6; EPERM: a seccomp profile that does not
	 * know the call. The walk gives the same answers, more slowly. */
	if (fd == -ENOSYS || fd == -EPERM)
		fd = open_walk(workspace_fd, relpath, flags, mode);
	if (fd < 0)
		return open_failed(-fd, relpath);
	return fd;
}

int tool__workspace_open_walk(int workspace_fd, const char *relpath,
                              int flags, mode_t mode)
{
	int rc = tool__workspace_check(relpath);
	if (rc != 0)
		return rc;
	int fd = open_walk(workspace_fd, relpath, flags, mode);
	return fd < 0 ? open_failed(-fd, relpath) : fd;
}
