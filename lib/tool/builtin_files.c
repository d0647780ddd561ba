/*
 * The file tools: file_read, file_write, list_dir. Every path goes through
 * tool_workspace_open() (workspace.c), so nothing outside the call's
 * workspace is read or written; the few operations that take a name
 * (mkdirat, renameat, fstatat) take a single component relative to a
 * directory fd that was itself opened that way.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "builtin_int.h"

/* Entries read from one directory before giving up on sorting it all. */
#define LIST_DIR_MAX_READ 65536u

/* ---- arguments ---- */

/* Optional non-negative integer member; *out keeps its default when the
 * member is absent. */
static int get_count(const cJSON *args, const char *tool, const char *name,
                     double max, uint64_t *out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(args, name);

	if (item == NULL || cJSON_IsNull(item))
		return 0;
	double v = cJSON_IsNumber(item) ? item->valuedouble : -1;
	if (!(v >= 0 && v <= max) || floor(v) != v)
		return cog__error(COG_EINVAL, "%s: \"%s\" must be an integer from 0 "
			"to %.0f", tool, name, max);
	*out = (uint64_t)v;
	return 0;
}

static int get_flag(const cJSON *args, const char *tool, const char *name,
                    bool *out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(args, name);

	*out = false;
	if (item == NULL || cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsBool(item))
		return cog__error(COG_EINVAL, "%s: \"%s\" must be true or false",
			tool, name);
	*out = cJSON_IsTrue(item);
	return 0;
}

static int get_path(const cJSON *args, const char *tool, const char *fallback,
                    const char **out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(args, "path");

	*out = fallback;
	if (item == NULL && fallback != NULL)
		return 0;
	if (!cJSON_IsString(item))
		return cog__error(COG_EINVAL, "%s: \"path\" must be a string, a path "
			"relative to the workspace root", tool);
	*out = item->valuestring;
	return 0;
}

/* Only regular files are read or written: a FIFO would block the call, a
 * device is never workspace content. */
static int check_regular(int fd, const char *tool, const char *path)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return cog__error(COG_EIO, "%s: cannot stat \"%s\": %s", tool, path,
			strerror(errno));
	if (S_ISDIR(st.st_mode))
		return cog__error(COG_EINVAL, "%s: \"%s\" is a directory%s", tool,
			path, strcmp(tool, "file_read") == 0 ? "; use list_dir" : "");
	if (!S_ISREG(st.st_mode))
		return cog__error(COG_EINVAL, "%s: \"%s\" is not a regular file",
			tool, path);
	return 0;
}

/* ---- running one ---- */

/* A file tool's own work: `args` parsed, `ws` the workspace's fd, `result`
 * an empty object to fill. */
typedef int (*file_tool_fn)(const cog_tool_request *request, const cJSON *args,
                            const builtin_tool *tool, int ws, cJSON *result);

/* What every file tool does around its own work: parse the arguments, open
 * the workspace, and print the result. `name` names it in messages. */
static int run_in_workspace(const cog_tool_request *request,
                            char **result_json, const builtin_tool *tool,
                            const char *name, file_tool_fn fn)
{
	cJSON *args = NULL, *result = NULL;
	int ws = -1;
	int rc = builtin_args(request, &args);

	if (rc == 0)
		rc = builtin_workspace_fd(request, name, &ws);
	if (rc == 0 && (result = cJSON_CreateObject()) == NULL)
		rc = cog__oom(name);
	if (rc == 0)
		rc = fn(request, args, tool, ws, result);
	if (ws >= 0)
		close(ws);
	cJSON_Delete(args);
	if (rc != 0) {
		cJSON_Delete(result);
		return rc;
	}
	return builtin_finish(result, result_json);
}

/* ---- file_read ---- */

/* Read up to `want` bytes at `offset`; *got is how many came. */
static int read_at(int fd, uint64_t offset, size_t want, char *buf,
                   size_t *got, const char *path)
{
	size_t done = 0;

	while (done < want) {
		ssize_t n = pread(fd, buf + done, want - done, (off_t)(offset + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cog__error(COG_EIO, "file_read: reading \"%s\" failed: %s",
				path, strerror(errno));
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*got = done;
	return 0;
}

static int file_read_run(const cog_tool_request *request, const cJSON *args,
                         const builtin_tool *tool, int ws, cJSON *result)
{
	const char *path;
	uint64_t offset = 0, length = 0;
	int rc = get_path(args, request->tool, NULL, &path);

	if (rc == 0)
		rc = get_count(args, request->tool, "offset", 9007199254740991.0, &offset);
	if (rc == 0)
		rc = get_count(args, request->tool, "length", 9007199254740991.0, &length);
	if (rc != 0)
		return rc;

	int fd = tool_workspace_open(ws, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
	if (fd < 0)
		return cog__error_wrap(fd, "file_read");
	rc = check_regular(fd, "file_read", path);
	struct stat st;
	if (rc == 0 && fstat(fd, &st) != 0)
		rc = cog__error(COG_EIO, "file_read: cannot stat \"%s\": %s", path,
			strerror(errno));
	if (rc != 0) {
		close(fd);
		return rc;
	}

	uint64_t size = (uint64_t)st.st_size;
	uint64_t left = offset < size ? size - offset : 0;
	uint64_t asked = length != 0 && length < left ? length : left;
	size_t budget = builtin_budget(tool, 512 + builtin_json_size(path, strlen(path)));
	/* Text takes at least a byte of JSON per byte, so more than `budget`
	 * bytes can never fit. */
	size_t want = asked < budget ? (size_t)asked : budget;
	char *buf = cog_malloc(want + 1);
	size_t got = 0, used = 0;
	if (buf == NULL) {
		close(fd);
		return cog__oom("file_read");
	}
	rc = read_at(fd, offset, want, buf, &got, path);
	close(fd);
	if (rc == 0)
		rc = builtin_add_data(result, "content", "encoding", buf, got, budget,
		                      got < left, &used);
	cog_free(buf);
	if (rc != 0)
		return rc;
	bool ok = cJSON_AddStringToObject(result, "path", path) != NULL &&
	          cJSON_AddNumberToObject(result, "size", (double)size) != NULL &&
	          cJSON_AddNumberToObject(result, "offset", (double)offset) != NULL &&
	          cJSON_AddNumberToObject(result, "length", (double)used) != NULL &&
	          cJSON_AddBoolToObject(result, "truncated", used < asked) != NULL &&
	          cJSON_AddBoolToObject(result, "eof", offset + used >= size) != NULL;
	return ok ? 0 : cog__oom("file_read");
}

int builtin_file_read(const cog_tool_request *request, char **result_json,
                      void *user_data)
{
	return run_in_workspace(request, result_json, user_data, "file_read",
	                        file_read_run);
}

/* ---- file_write ---- */

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
	int rc = check_regular(fd, "file_write", path);
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
	int rc = get_path(args, tool, NULL, &path);

	(void)def;   /* its result is a few numbers: no output budget to keep */
	if (rc == 0)
		rc = get_flag(args, tool, "append", &append);
	if (rc == 0)
		rc = get_flag(args, tool, "create_dirs", &create_dirs);
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
	return run_in_workspace(request, result_json, user_data, "file_write",
	                        file_write_run);
}

/* ---- list_dir ---- */

typedef struct listing {
	cJSON *entries;
	size_t count, max_entries;
	size_t bytes, budget;        /* JSON bytes so far, and the cap */
	unsigned int max_depth;
	bool recursive;
	bool truncated;              /* something was left out */
	bool full;                   /* no more entries fit */
} listing;

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t count)
{
	for (size_t i = 0; i < count; i++)
		cog_free(names[i]);
	cog_free(names);
}

/* The names in directory fd (consumed), sorted; "." and ".." left out. */
static int read_names(int fd, const char *path, char ***out, size_t *count,
                      bool *cut)
{
	DIR *d = fdopendir(fd);
	char **names = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	*count = 0;
	if (d == NULL) {
		close(fd);
		return cog__error(COG_EIO, "list_dir: cannot read \"%s\": %s", path,
			strerror(errno));
	}
	for (;;) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (e == NULL)
			break;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n == LIST_DIR_MAX_READ) {
			*cut = true;
			break;
		}
		if (n == cap) {
			size_t grown_cap = cap ? cap * 2 : 64;
			char **grown = cog_realloc(names, grown_cap * sizeof(*names));
			if (grown == NULL)
				goto oom;
			names = grown;
			cap = grown_cap;
		}
		if ((names[n] = cog__strdup(e->d_name)) == NULL)
			goto oom;
		n++;
	}
	int err = errno;
	closedir(d);
	if (err != 0) {
		free_names(names, n);
		return cog__error(COG_EIO, "list_dir: cannot read \"%s\": %s", path,
			strerror(err));
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), compare_names);
	*out = names;
	*count = n;
	return 0;
oom:
	closedir(d);
	free_names(names, n);
	return cog__oom("list_dir");
}

static const char *type_name(mode_t mode)
{
	return S_ISREG(mode) ? "file" : S_ISDIR(mode) ? "dir" :
	       S_ISLNK(mode) ? "symlink" : "other";
}

/* One entry, unless the listing is full (then l->full is set). */
static int add_entry(listing *l, const char *name, const struct stat *st)
{
	size_t len = strlen(name);
	bool text = builtin_is_text(name, len);
	/* Names that are not UTF-8 are shown with '?' for the odd bytes, and
	 * given exactly in base64 too. */
	size_t cost = 64 + builtin_json_size(name, len) + (text ? 0 : len * 2 + 32);

	if (l->count >= l->max_entries || l->bytes + cost > l->budget) {
		l->truncated = true;
		l->full = true;
		return 0;
	}
	cJSON *entry = cJSON_CreateObject();
	if (entry == NULL)
		return cog__oom("list_dir");
	cJSON_AddItemToArray(l->entries, entry);
	bool ok;
	if (text) {
		ok = cJSON_AddStringToObject(entry, "name", name) != NULL;
	} else {
		char *shown = cog__strdup(name);
		char *raw = builtin_base64(name, len);
		for (size_t i = 0; shown != NULL && i < len; i++)
			if ((unsigned char)shown[i] >= 0x80)
				shown[i] = '?';
		ok = shown != NULL && raw != NULL &&
		     cJSON_AddStringToObject(entry, "name", shown) != NULL &&
		     cJSON_AddStringToObject(entry, "name_base64", raw) != NULL;
		cog_free(shown);
		cog_free(raw);
	}
	ok = ok && cJSON_AddStringToObject(entry, "type", type_name(st->st_mode)) != NULL;
	if (ok && (S_ISREG(st->st_mode) || S_ISLNK(st->st_mode)))
		ok = cJSON_AddNumberToObject(entry, "size", (double)st->st_size) != NULL;
	if (!ok)
		return cog__oom("list_dir");
	l->count++;
	l->bytes += cost;
	return 0;
}

/* List directory fd (consumed) whose entries are named prefix + name. */
static int list_into(listing *l, int fd, const char *path, const char *prefix,
                     unsigned int depth)
{
	char **names = NULL;
	size_t count = 0;
	int dup_fd = dup(fd);
	if (dup_fd < 0) {
		close(fd);
		return cog__error(COG_EIO, "list_dir: dup: %s", strerror(errno));
	}
	/* fdopendir takes dup_fd; fd stays ours for fstatat and openat. */
	int rc = read_names(dup_fd, path, &names, &count, &l->truncated);

	for (size_t i = 0; rc == 0 && i < count; i++) {
		struct stat st;
		if (fstatat(fd, names[i], &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;  /* gone since readdir */
		char full[PATH_MAX];
		int n = snprintf(full, sizeof(full), "%s%s", prefix, names[i]);
		if (n < 0 || (size_t)n >= sizeof(full))
			continue;
		rc = add_entry(l, full, &st);
		if (rc != 0 || l->full)
			break;
		if (!l->recursive || !S_ISDIR(st.st_mode) || depth >= l->max_depth)
			continue;
		/* O_NOFOLLOW and a single component: a directory swapped for a
		 * symlink since fstatat is refused, not entered. */
		int sub = openat(fd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		                 O_CLOEXEC);
		if (sub < 0)
			continue;
		char sub_prefix[PATH_MAX];
		n = snprintf(sub_prefix, sizeof(sub_prefix), "%s/", full);
		if (n < 0 || (size_t)n >= sizeof(sub_prefix)) {
			close(sub);
			continue;
		}
		rc = list_into(l, sub, path, sub_prefix, depth + 1);
		if (l->full)
			break;
	}
	free_names(names, count);
	close(fd);
	return rc;
}

static int list_dir_run(const cog_tool_request *request, const cJSON *args,
                        const builtin_tool *tool, int ws, cJSON *result)
{
	const char *tool_name = request->tool;
	const char *path;
	uint64_t max_depth = 8, max_entries = 1000;
	listing l;
	int rc = get_path(args, tool_name, ".", &path);

	memset(&l, 0, sizeof(l));
	if (rc == 0)
		rc = get_flag(args, tool_name, "recursive", &l.recursive);
	if (rc == 0)
		rc = get_count(args, tool_name, "max_depth", 16, &max_depth);
	if (rc == 0)
		rc = get_count(args, tool_name, "max_entries", 10000, &max_entries);
	if (rc != 0)
		return rc;
	l.max_depth = max_depth == 0 ? 1 : (unsigned int)max_depth;
	l.max_entries = max_entries == 0 ? 1 : (size_t)max_entries;
	l.budget = builtin_budget(tool, 512 + builtin_json_size(path, strlen(path)));

	int fd = tool_workspace_open(ws, path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return cog__error_wrap(fd, "list_dir");
	if (cJSON_AddStringToObject(result, "path", path) == NULL ||
	    (l.entries = cJSON_AddArrayToObject(result, "entries")) == NULL) {
		close(fd);
		return cog__oom("list_dir");
	}
	rc = list_into(&l, fd, path, "", 1);
	if (rc != 0)
		return rc;
	if (cJSON_AddBoolToObject(result, "truncated", l.truncated) == NULL)
		return cog__oom("list_dir");
	return 0;
}

int builtin_list_dir(const cog_tool_request *request, char **result_json,
                     void *user_data)
{
	return run_in_workspace(request, result_json, user_data, "list_dir",
	                        list_dir_run);
}
