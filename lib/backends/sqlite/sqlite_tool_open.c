/*
 * Opening the sql_query tool's database beneath the call's workspace.
 *
 * SQLite opens files by path: the database, and beside it "-journal",
 * "-wal" and "-shm". Checking a path and then handing it to SQLite would
 * leave a window (time of check to time of use) in which a program running
 * in the same workspace (the shell tool) swaps a directory of the path for
 * a symlink to somewhere else. So:
 *   1. the database's directory is opened with openat2(RESOLVE_BENEATH |
 *      RESOLVE_NO_MAGICLINKS) relative to the workspace: the kernel refuses
 *      any resolution that leaves it, atomically (kernels without openat2:
 *      a walk with O_NOFOLLOW that accepts no symlinks at all);
 *   2. SQLite is given "/proc/self/fd/<that fd>/<name>". The kernel resolves
 *      /proc/self/fd/N to the directory we hold, not to its path, so later
 *      renames or symlinks above it change nothing; <name> is one component,
 *      and SQLite's unix VFS opens every file with O_NOFOLLOW, so the
 *      database and its side files can never be symlinks leading out;
 *   3. the VFS of sqlite_tool_vfs.c keeps that name as given.
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

#include "sqlite_tool_int.h"

/* Paths as the file tools take them: relative, no "..". */
static int check_database_path(const char *path)
{
	if (path[0] == '\0')
		return cog_error_set(COG_EDENIED, "sql_query: \"database\" is empty; "
			"give a path relative to the workspace root");
	if (path[0] == '/')
		return cog_error_set(COG_EDENIED, "sql_query: database path \"%s\" is "
			"absolute; paths are relative to the workspace root", path);
	if (strlen(path) >= PATH_MAX)
		return cog_error_set(COG_EINVAL, "sql_query: database path is longer "
			"than %d bytes", PATH_MAX - 1);
	for (const char *p = path; *p != '\0';) {
		size_t len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return cog_error_set(COG_EDENIED, "sql_query: database path \"%s\" "
				"has a \"..\" component; paths may not leave the workspace",
				path);
		p += len;
		while (*p == '/')
			p++;
	}
	return 0;
}

static int dir_open_failed(int err, const char *dir)
{
	switch (err) {
	case EXDEV:
	case ELOOP:
		return cog_error_set(COG_EDENIED, "sql_query: directory \"%s\" leaves "
			"the workspace (through a symlink)", dir);
	case ENOENT:
		return cog_error_set(COG_ENOTFOUND, "sql_query: directory \"%s\" does "
			"not exist", dir);
	case ENOTDIR:
		return cog_error_set(COG_EINVAL, "sql_query: \"%s\" is not a "
			"directory", dir);
	case EACCES:
	case EPERM:
		return cog_error_set(COG_EDENIED, "sql_query: directory \"%s\": %s",
			dir, strerror(err));
	default:
		return cog_error_set(COG_EIO, "sql_query: cannot open directory "
			"\"%s\": %s", dir, strerror(err));
	}
}

/* Without openat2: every component a real directory, no symlinks. */
static int open_dir_strict(int ws, const char *dir)
{
	char component[NAME_MAX + 1];
	int cur = dup(ws);

	if (cur < 0)
		return -errno;
	for (const char *p = dir; *p != '\0';) {
		size_t len = strcspn(p, "/");
		if (len > NAME_MAX) {
			close(cur);
			return -ENAMETOOLONG;
		}
		if (len > 0 && !(len == 1 && p[0] == '.')) {
			memcpy(component, p, len);
			component[len] = '\0';
			int next = openat(cur, component, O_PATH | O_DIRECTORY |
			                  O_NOFOLLOW | O_CLOEXEC);
			int err = errno;
			close(cur);
			if (next < 0)
				return -(err == ENOTDIR ? ELOOP : err);
			cur = next;
		}
		p += len;
		while (*p == '/')
			p++;
	}
	return cur;
}

/* The directory `dir` inside the workspace as an O_PATH fd, or a status. */
static int open_dir_beneath(int ws, const char *dir)
{
	struct open_how how;
	long fd;

	memset(&how, 0, sizeof(how));
	how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	for (int attempt = 0;; attempt++) {
		fd = syscall(SYS_openat2, ws, dir, &how, sizeof(how));
		if (fd >= 0 || (errno != EAGAIN && errno != EINTR) || attempt >= 8)
			break;
	}
	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		fd = open_dir_strict(ws, dir);
	else if (fd < 0)
		fd = -errno;
	return fd < 0 ? dir_open_failed((int)-fd, dir) : (int)fd;
}

static int open_database(sql_call *c, int dirfd, const char *base,
                         const char *database)
{
	char path[PATH_MAX];
	struct stat st;
	bool writable = c->tool->writable;

	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno != ENOENT)
			return cog_error_set(COG_EIO, "sql_query: cannot stat \"%s\": %s",
				database, strerror(errno));
		if (!writable)
			return cog_error_set(COG_ENOTFOUND, "sql_query: database \"%s\" "
				"does not exist", database);
	} else if (S_ISLNK(st.st_mode)) {
		return cog_error_set(COG_EDENIED, "sql_query: database \"%s\" is a "
			"symlink; give the path of the file itself", database);
	} else if (!S_ISREG(st.st_mode)) {
		return cog_error_set(COG_EINVAL, "sql_query: \"%s\" is not a regular "
			"file", database);
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", dirfd);
	if (access(path, F_OK) != 0)
		return cog_error_set(COG_EUNAVAILABLE, "sql_query: /proc is not "
			"mounted, and it is needed to open databases safely");
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, base);

	/* Before anything initialises SQLite (finding a VFS does). */
	sqlstore_alloc_install();
	const char *vfs = sqltool_vfs();
	if (vfs == NULL)
		return cog_error_set(COG_EUNAVAILABLE, "sql_query: SQLite has no "
			"\"unix\" VFS to build on");
	int flags = (writable ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE :
	             SQLITE_OPEN_READONLY) | SQLITE_OPEN_NOMUTEX;
	int rc = sqlite3_open_v2(path, &c->db, flags, vfs);
	if (rc != SQLITE_OK) {
		char message[768];
		int status = sqltool_failed(c, rc, "opening the database");
		snprintf(message, sizeof(message), "%s", cog_error_last());
		return cog_error_set(status, "%s (database \"%s\")", message, database);
	}
	return sqltool_guard(c);
}

int sqltool_open(sql_call *c, const char *path, int *dirfd)
{
	*dirfd = -1;
	if (c->request->workspace == NULL)
		return cog_error_set(COG_EDENIED, "sql_query: no workspace granted to "
			"this call, so there is no database to open");
	int rc = check_database_path(path);
	if (rc != 0)
		return rc;

	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	const char *base = slash != NULL ? slash + 1 : path;
	if (base[0] == '\0' || strcmp(base, ".") == 0)
		return cog_error_set(COG_EINVAL, "sql_query: \"%s\" does not name a "
			"file", path);
	snprintf(dir, sizeof(dir), "%.*s", slash != NULL ? (int)(slash - path) : 0,
	         path);
	if (dir[0] == '\0')
		snprintf(dir, sizeof(dir), ".");

	int ws = open(c->request->workspace, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ws < 0)
		return cog_error_set(errno == ENOENT ? COG_ENOTFOUND : COG_EIO,
			"sql_query: the workspace %s cannot be opened: %s",
			c->request->workspace, strerror(errno));
	int fd = open_dir_beneath(ws, dir);
	close(ws);
	if (fd < 0)
		return fd;
	*dirfd = fd;
	return open_database(c, fd, base, path);
}
