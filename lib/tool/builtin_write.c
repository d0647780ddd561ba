/*
 * The file_write tool: writes a file in the workspace, atomically (a
 * temporary file renamed over the target) unless appending or writing
 * through a symlink, making missing directories when asked.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "builtin_int.h"

static int write_all(int fd, const char *data, size_t len, const char *path)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			return cog__error(err == ENOSPC || err == EDQUOT || err == EFBIG ?
			                  COG_ERANGE : COG_EIO,
				"file_write: writing \"%s\" failed: %s", path, strerror(err));
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Split path into its directory part (into dir; "." when none) and its last
 * component (returned, pointing into path). NULL when path ends in '/' or
 * its last component is "." or "..". */
static const char *split_path(const char *path, char dir[PATH_MAX])
{
	const char *slash = strrchr(path, '/');
	const char *base = slash != NULL ? slash + 1 : path;

	if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return NULL;
	if (slash == NULL)
		snprintf(dir, PATH_MAX, ".");
	else
		snprintf(dir, PATH_MAX, "%.*s", (int)(slash - path), path);
	if (dir[0] == '\0')
		snprintf(dir, PATH_MAX, ".");
	return base;
}

/* mkdir -p of dir inside the workspace, one component at a time, each made
 * with mkdirat() in a parent opened through tool_workspace_open(). */
static int make_dirs(int ws, const char *dir)
{
	char prefix[PATH_MAX];
	size_t len = strlen(dir);

	for (size_t end = 0; end <= len; end++) {
		if (end < len && dir[end] != '/')
			continue;
		if (end == 0 || dir[end - 1] == '/')
			continue;
		snprintf(prefix, sizeof(prefix), "%.*s", (int)end, dir);
		int fd = tool_workspace_open(ws, prefix, O_PATH | O_DIRECTORY, 0);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		if (fd != COG_ENOTFOUND)
			return cog__error_wrap(fd, "file_write: creating directories");
		char *slash = strrchr(prefix, '/');
		const char *name = slash != NULL ? slash + 1 : prefix;
		if (slash != NULL)
			*slash = '\0';
		int parent = tool_workspace_open(ws, slash != NULL ? prefix : ".",
		                                 O_PATH | O_DIRECTORY, 0);
		if (parent < 0)
			return cog__error_wrap(parent, "file_write: creating directories");
		if (mkdirat(parent, name, 0777) != 0 && errno != EEXIST) {
			int err = errno;
			close(parent);
			return cog__error(err == EACCES || err == EPERM || err == EROFS ?
			                  COG_EDENIED : COG_EIO,
				"file_write: cannot create directory \"%.*s\": %s",
				(int)end, dir, strerror(err));
		}
		close(parent);
	}
	return 0;
}

/* Write into an opened file (append, or through a symlink that stays in
 * the workspace). */
static int write_in_place(int ws, const char *path, int flags,
                          const char *data, size_t len)
{
	int fd = tool_workspace_open(ws, path, O_WRONLY | O_CREAT | O_NONBLOCK |
	                             O_NOCTTY | flags, 0666);
	if (fd < 0)
		return cog__error_wrap(fd, "file_write");
	int rc = builtin_check_regular(fd, "file_write", path);
	if (rc == 0)
		rc = write_all(fd, data, len, path);
	if (close(fd) != 0 && rc == 0)
		rc = cog__error(COG_EIO, "file_write: closing \"%s\" failed: %s",
			path, strerror(errno));
	return rc;
}

/* A temporary file beside the target, then rename(2) over it: readers see
 * the old or the new content, never a part. */
static int write_atomic(int dirfd, const char *base, const struct stat *old,
                        const char *path, const char *data, size_t len)
{
	char tmp[64];
	int fd = -1;

	for (int attempt = 0; fd < 0 && attempt < 16; attempt++) {
		snprintf(tmp, sizeof(tmp), ".cog-write-%08x.tmp", randombytes_random());
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		            O_CLOEXEC, 0666);
		if (fd < 0 && errno != EEXIST) {
			int err = errno;
			return cog__error(err == EACCES || err == EPERM || err == EROFS ?
			                  COG_EDENIED : COG_EIO,
				"file_write: cannot create a temporary file beside \"%s\": %s",
				path, strerror(err));
		}
	}
	if (fd < 0)
		return cog__error(COG_EIO, "file_write: no free temporary name beside "
			"\"%s\"", path);
	int rc = 0;
	/* Replacing a file keeps its permissions. */
	if (old != NULL && fchmod(fd, old->st_mode & 07777) != 0)
		rc = cog__error(COG_EIO, "file_write: cannot set the mode of \"%s\": "
			"%s", path, strerror(errno));
	if (rc == 0)
		rc = write_all(fd, data, len, path);
	if (rc == 0 && fsync(fd) != 0)
		rc = cog__error(COG_EIO, "file_write: fsync of \"%s\" failed: %s",
			path, strerror(errno));
	if (close(fd) != 0 && rc == 0)
		rc = cog__error(COG_EIO, "file_write: closing \"%s\" failed: %s",
			path, strerror(errno));
	if (rc == 0 && renameat(dirfd, tmp, dirfd, base) != 0)
		rc = cog__error(errno == EISDIR ? COG_EINVAL : COG_EIO,
			"file_write: cannot replace \"%s\": %s", path, strerror(errno));
	if (rc != 0)
		unlinkat(dirfd, tmp, 0);
	return rc;
}

static int file_write_run(const cog_tool_request *request, const cJSON *args,
                          const builtin_tool *def, int ws, cJSON *result)
{
	const char *tool = request->tool;
	const char *path;
	bool append = false, create_dirs = false;
	int rc = builtin_get_path(args, tool, NULL, &path);

	(void)def;   /* its result is a few numbers: no output budget to keep */
	if (rc == 0)
		rc = builtin_get_flag(args, tool, "append", &append);
	if (rc == 0)
		rc = builtin_get_flag(args, tool, "create_dirs", &create_dirs);
	if (rc != 0)
		return rc;
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(args, "content");
	if (!cJSON_IsString(content))
		return cog__error(COG_EINVAL, "file_write: \"content\" must be a string");
	const char *encoding = cog_json_get_string(args, "encoding");
	if (encoding != NULL && strcmp(encoding, "utf-8") != 0 &&
	    strcmp(encoding, "base64") != 0)
		return cog__error(COG_EINVAL, "file_write: \"encoding\" must be "
			"\"utf-8\" or \"base64\", not \"%s\"", encoding);

	rc = tool__workspace_check(path);
	if (rc != 0)
		return cog__error_wrap(rc, "file_write");
	char dir[PATH_MAX];
	const char *base = split_path(path, dir);
	if (base == NULL)
		return cog__error(COG_EINVAL, "file_write: \"%s\" does not name a file "
			"(it ends in \"/\", \".\" or \"..\")", path);

	char *decoded = NULL;
	const char *data = content->valuestring;
	size_t len = strlen(data);
	if (encoding != NULL && strcmp(encoding, "base64") == 0) {
		rc = builtin_base64_decode(data, "file_write: \"content\"", &decoded, &len);
		if (rc != 0)
			return rc;
		data = decoded;
	}

	if (create_dirs && strcmp(dir, ".") != 0)
		rc = make_dirs(ws, dir);
	int dirfd = -1;
	if (rc == 0) {
		dirfd = tool_workspace_open(ws, dir, O_PATH | O_DIRECTORY, 0);
		if (dirfd == COG_ENOTFOUND && !create_dirs)
			rc = cog__error_wrap(dirfd, "file_write (\"create_dirs\":true "
				"makes missing directories)");
		else if (dirfd < 0)
			rc = cog__error_wrap(dirfd, "file_write");
	}
	if (rc == 0 && append) {
		rc = write_in_place(ws, path, O_APPEND, data, len);
	} else if (rc == 0) {
		struct stat st;
		if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT)
				rc = write_atomic(dirfd, base, NULL, path, data, len);
			else
				rc = cog__error(COG_EIO, "file_write: cannot stat \"%s\": %s",
					path, strerror(errno));
		} else if (S_ISLNK(st.st_mode)) {
			/* Through a symlink: tool_workspace_open() refuses it if it
			 * leads out; inside, the link stays and its target is
			 * rewritten (in place: the link's target is not ours to
			 * rename over). */
			rc = write_in_place(ws, path, O_TRUNC, data, len);
		} else if (S_ISDIR(st.st_mode)) {
			rc = cog__error(COG_EINVAL, "file_write: \"%s\" is a directory",
				path);
		} else if (!S_ISREG(st.st_mode)) {
			rc = cog__error(COG_EINVAL, "file_write: \"%s\" is not a regular "
				"file", path);
		} else {
			rc = write_atomic(dirfd, base, &st, path, data, len);
		}
	}
	if (dirfd >= 0)
		close(dirfd);
	cog_free(decoded);
	if (rc != 0)
		return rc;
	bool ok = cJSON_AddStringToObject(result, "path", path) != NULL &&
	          cJSON_AddNumberToObject(result, "bytes_written", (double)len) != NULL;
	return ok ? 0 : cog__oom("file_write");
}

int builtin_file_write(const cog_tool_request *request, char **result_json,
                       void *user_data)
{
	return builtin_run_in_workspace(request, result_json, user_data, "file_write",
	                        file_write_run);
}
