/*
 * What the file tools (file_read here, file_write in builtin_write.c,
 * list_dir in builtin_list.c) share, and file_read itself. Every path goes
 * through tool_workspace_open() (workspace.c), so nothing outside the
 * call's workspace is read or written; the few operations that take a name
 * (mkdirat, renameat, fstatat) take a single component relative to a
 * directory fd that was itself opened that way.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builtin_int.h"

/* ---- arguments ---- */

/* Optional non-negative integer member; *out keeps its default when the
 * member is absent. */
int builtin_get_count(const cJSON *args, const char *tool, const char *name,
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

int builtin_get_flag(const cJSON *args, const char *tool, const char *name,
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

int builtin_get_path(const cJSON *args, const char *tool, const char *fallback,
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
int builtin_check_regular(int fd, const char *tool, const char *path)
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

/* What every file tool does around its own work: parse the arguments, open
 * the workspace, and print the result. `name` names it in messages. */
int builtin_run_in_workspace(const cog_tool_request *request,
                             char **result_json, const builtin_tool *tool,
                             const char *name, builtin_file_fn fn)
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
	int rc = builtin_get_path(args, request->tool, NULL, &path);

	if (rc == 0)
		rc = builtin_get_count(args, request->tool, "offset", 9007199254740991.0, &offset);
	if (rc == 0)
		rc = builtin_get_count(args, request->tool, "length", 9007199254740991.0, &length);
	if (rc != 0)
		return rc;

	int fd = tool_workspace_open(ws, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
	if (fd < 0)
		return cog__error_wrap(fd, "file_read");
	rc = builtin_check_regular(fd, "file_read", path);
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
	return builtin_run_in_workspace(request, result_json, user_data, "file_read",
	                        file_read_run);
}
