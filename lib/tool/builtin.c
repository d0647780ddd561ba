/*
 * The built-in tools: their table (names, descriptions for the model, input
 * schemas, flags, limits), cog_tool_define_builtins(), and the helpers their
 * runners share. The runners are in builtin_files.c (file_read),
 * builtin_write.c (file_write), builtin_list.c (list_dir), builtin_http.c
 * (http_fetch) and builtin_exec.c (python, shell).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "builtin_int.h"

#define KIB 1024u
#define MIB (1024u * 1024u)

/* ---- the table ---- */

/* Paths: relative, no NUL; the runner refuses "..", absolute paths and
 * escaping symlinks with a message naming the path. */
#define PATH_SCHEMA(what) \
	"{\"type\":\"string\",\"minLength\":1,\"maxLength\":4095," \
	"\"description\":\"" what "\"}"

static const builtin_tool builtins[] = {
	{
		"file_read",
		"Read a file of the workspace. Paths are relative to the workspace "
		"root; absolute paths, \"..\" and symlinks that lead outside are "
		"refused. Returns {\"path\",\"size\",\"offset\",\"length\","
		"\"encoding\",\"content\",\"truncated\",\"eof\"}: \"content\" is the "
		"text when the bytes are UTF-8, else their base64 "
		"(\"encoding\":\"base64\"). About 1 MiB at most per call: when "
		"\"eof\" is false, call again with \"offset\" set to offset + length "
		"to read on.",
		"{\"type\":\"object\",\"properties\":{"
		"\"path\":" PATH_SCHEMA("File to read, relative to the workspace root") ","
		"\"offset\":{\"type\":\"integer\",\"minimum\":0,"
		"\"description\":\"Byte offset to start at (default 0)\"},"
		"\"length\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1048576,"
		"\"description\":\"Most bytes to return (default: as many as fit)\"}"
		"},\"required\":[\"path\"],\"additionalProperties\":false}",
		COG_TOOL_IDEMPOTENT, 10000, MIB, builtin_file_read
	},
	{
		"file_write",
		"Write a file of the workspace: replaces it atomically (readers see "
		"the old or the new content, never a mix), or appends with "
		"\"append\":true. \"content\" is UTF-8 text, or base64 with "
		"\"encoding\":\"base64\" for binary data. \"create_dirs\":true makes "
		"missing parent directories. Paths are relative to the workspace "
		"root; absolute paths, \"..\" and symlinks that lead outside are "
		"refused. Returns {\"path\",\"bytes_written\"}.",
		"{\"type\":\"object\",\"properties\":{"
		"\"path\":" PATH_SCHEMA("File to write, relative to the workspace root") ","
		"\"content\":{\"type\":\"string\",\"maxLength\":16777216,"
		"\"description\":\"The new content (or what to append)\"},"
		"\"encoding\":{\"enum\":[\"utf-8\",\"base64\"],"
		"\"description\":\"How content is given (default utf-8)\"},"
		"\"append\":{\"type\":\"boolean\",\"description\":\"Append instead "
		"of replacing (default false)\"},"
		"\"create_dirs\":{\"type\":\"boolean\",\"description\":\"Create "
		"missing parent directories (default false)\"}"
		"},\"required\":[\"path\",\"content\"],\"additionalProperties\":false}",
		COG_TOOL_SIDE_EFFECTS, 10000, MIB, builtin_file_write
	},
	{
		"list_dir",
		"List a directory of the workspace. Returns {\"path\",\"entries\":"
		"[{\"name\",\"type\":\"file|dir|symlink|other\",\"size\"}],"
		"\"truncated\"}, sorted by name; with \"recursive\":true, names are "
		"paths relative to \"path\" and each directory's entries follow it "
		"(symlinked directories are not entered). At most \"max_entries\" "
		"entries (default 1000); \"truncated\" says some were left out.",
		"{\"type\":\"object\",\"properties\":{"
		"\"path\":" PATH_SCHEMA("Directory to list, relative to the workspace "
		                        "root (default \\\".\\\")") ","
		"\"recursive\":{\"type\":\"boolean\",\"description\":\"List "
		"subdirectories too (default false)\"},"
		"\"max_depth\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":16,"
		"\"description\":\"How deep recursion goes (default 8)\"},"
		"\"max_entries\":{\"type\":\"integer\",\"minimum\":1,"
		"\"maximum\":10000,\"description\":\"Most entries returned "
		"(default 1000)\"}"
		"},\"additionalProperties\":false}",
		COG_TOOL_IDEMPOTENT, 10000, MIB, builtin_list_dir
	},
	{
		"http_fetch",
		"Fetch a URL over HTTP or HTTPS. Only hosts in this call's network "
		"grant can be reached. Redirects are not followed: a 3xx answer comes "
		"back with \"location\"; fetch that URL yourself if you want it. "
		"Returns {\"url\",\"status\",\"headers\":{lowercase name: value},"
		"\"body\",\"encoding\",\"truncated\"}: the body as text when it is "
		"UTF-8, else base64 (\"encoding\":\"base64\"), cut at \"max_bytes\" "
		"(and about 1 MiB) with \"truncated\":true. \"query\" parameters are "
		"URL-encoded and appended. Host, Content-Length, Connection and "
		"other transport headers cannot be set.",
		"{\"type\":\"object\",\"properties\":{"
		"\"url\":{\"type\":\"string\",\"minLength\":8,\"maxLength\":8192,"
		"\"pattern\":\"^[Hh][Tt][Tt][Pp][Ss]?://\","
		"\"description\":\"http:// or https:// URL\"},"
		"\"method\":{\"enum\":[\"GET\",\"HEAD\",\"POST\",\"PUT\",\"PATCH\","
		"\"DELETE\",\"OPTIONS\"],\"description\":\"Default GET\"},"
		"\"headers\":{\"type\":\"object\",\"maxProperties\":64,"
		"\"propertyNames\":{\"pattern\":\"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$\"},"
		"\"additionalProperties\":{\"type\":\"string\",\"maxLength\":8192},"
		"\"description\":\"Request headers, name to value\"},"
		"\"body\":{\"type\":\"string\",\"maxLength\":10485760,"
		"\"description\":\"Request body (not with GET or HEAD)\"},"
		"\"query\":{\"type\":\"object\",\"maxProperties\":100,"
		"\"additionalProperties\":{\"type\":[\"string\",\"number\",\"boolean\"]},"
		"\"description\":\"Query parameters to append, name to value\"},"
		"\"max_bytes\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1048576,"
		"\"description\":\"Most body bytes to return (default 1 MiB)\"}"
		"},\"required\":[\"url\"],\"additionalProperties\":false}",
		COG_TOOL_NEEDS_NETWORK | COG_TOOL_SIDE_EFFECTS, 30000, MIB,
		builtin_http_fetch
	},
	{
		"python",
		"Run Python 3 code in an isolated sandbox (python3 -c code args...). "
		"The working directory is the workspace (/workspace), the only "
		"writable place besides /tmp; there is no network unless the call "
		"has a network grant. Print what you want to see. Returns "
		"{\"exit_code\",\"signal\",\"stdout\",\"stderr\",\"timed_out\","
		"\"truncated\"}; a non-zero exit_code is a normal result: read "
		"stderr to see what went wrong. Output that is not UTF-8 comes as "
		"base64 (\"stdout_encoding\"/\"stderr_encoding\").",
		"{\"type\":\"object\",\"properties\":{"
		"\"code\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1048576,"
		"\"description\":\"The program\"},"
		"\"args\":{\"type\":\"array\",\"maxItems\":256,\"items\":{\"type\":"
		"\"string\",\"maxLength\":65536},\"description\":\"sys.argv[1:]\"},"
		"\"stdin\":{\"type\":\"string\",\"maxLength\":10485760,"
		"\"description\":\"Standard input\"}"
		"},\"required\":[\"code\"],\"additionalProperties\":false}",
		COG_TOOL_SIDE_EFFECTS, 60000, MIB, builtin_python
	},
	{
		"shell",
		"Run a command in an isolated sandbox: \"argv\" (a program and its "
		"arguments, no shell) or \"command\" (a /bin/sh -c script), exactly "
		"one of them. The working directory is the workspace (/workspace) or "
		"\"cwd\" inside it; it is the only writable place besides /tmp; "
		"there is no network unless the call has a network grant. Returns "
		"{\"exit_code\",\"signal\",\"stdout\",\"stderr\",\"timed_out\","
		"\"truncated\"}; a non-zero exit_code is a normal result: read "
		"stderr to see what went wrong.",
		"{\"type\":\"object\",\"properties\":{"
		"\"argv\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":1024,"
		"\"items\":{\"type\":\"string\",\"maxLength\":65536},"
		"\"description\":\"Program and arguments\"},"
		"\"command\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1048576,"
		"\"description\":\"Shell script for /bin/sh -c\"},"
		"\"cwd\":" PATH_SCHEMA("Working directory relative to the workspace "
		                       "root") ","
		"\"stdin\":{\"type\":\"string\",\"maxLength\":10485760,"
		"\"description\":\"Standard input\"}"
		"},\"oneOf\":[{\"required\":[\"argv\"]},{\"required\":[\"command\"]}],"
		"\"additionalProperties\":false}",
		COG_TOOL_SIDE_EFFECTS, 60000, MIB, builtin_shell
	},
};

/* ---- defining ---- */

static int define_one(cog_ctx *ctx, const builtin_tool *tool)
{
	cog_tool_options options = COG_TOOL_OPTIONS_INIT;

	options.name = tool->name;
	options.description = tool->description;
	options.input_schema = tool->input_schema;
	options.flags = tool->flags;
	options.timeout_ms = tool->timeout_ms;
	options.max_output_bytes = tool->max_output_bytes;
	options.fn = tool->fn;
	/* The table is static and read-only; the runner only reads it. */
	options.user_data = (void *)tool;
	return cog_tool_define(ctx, &options);
}

/* Remove what this call defined before failing, keeping the failure's
 * message. */
static int undo(cog_ctx *ctx, const builtin_tool **defined, size_t count, int rc)
{
	char message[1024];

	snprintf(message, sizeof(message), "%s", cog_error_last());
	for (size_t i = 0; i < count; i++)
		cog_tool_remove(ctx, defined[i]->name);
	return cog__error(rc, "%s", message);
}

int cog_tool_define_builtins(cog_ctx *ctx, const char *pattern)
{
	static const char fn[] = "cog_tool_define_builtins";
	const builtin_tool *defined[COG_ARRAY_LEN(builtins)];
	size_t defined_count = 0, matched = 0;
	cog_buf existing = COG_BUF_INIT;
	const char *glob = pattern != NULL ? pattern : "*";

	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	for (size_t i = 0; i < COG_ARRAY_LEN(builtins); i++) {
		const builtin_tool *tool = &builtins[i];
		if (!tool_glob_match(glob, tool->name))
			continue;
		matched++;
		int rc = define_one(ctx, tool);
		if (rc == COG_EEXISTS) {
			/* Keep going: the others are still wanted, and the caller
			 * learns every name that was in the way. */
			if (existing.len > 0)
				cog_buf_puts(&existing, ", ");
			cog_buf_puts(&existing, tool->name);
			continue;
		}
		if (rc != 0) {
			cog_buf_dispose(&existing);
			return undo(ctx, defined, defined_count, rc);
		}
		defined[defined_count++] = tool;
	}
	if (matched == 0)
		return cog__error(COG_ENOTFOUND, "%s: no built-in tool matches \"%s\" "
			"(they are file_read, file_write, list_dir, http_fetch, python, "
			"shell)", fn, glob);
	if (existing.failed) {
		cog_buf_dispose(&existing);
		return cog__oom(fn);
	}
	if (existing.len > 0) {
		int rc = cog__error(COG_EEXISTS, "%s: already defined, left as they "
			"were: %s (the other built-ins matching \"%s\" were defined)",
			fn, existing.ptr, glob);
		cog_buf_dispose(&existing);
		return rc;
	}
	return 0;
}

/* ---- helpers ---- */

/* Does JSON text hold a \u0000 escape inside a string? */
static bool has_nul_escape(const char *text)
{
	bool in_string = false;

	for (const char *p = text; *p != '\0'; p++) {
		if (!in_string) {
			in_string = *p == '"';
			continue;
		}
		if (*p == '"') {
			in_string = false;
		} else if (*p == '\\') {
			p++;
			if (*p == '\0')
				return false;
			if (*p == 'u' && strncmp(p + 1, "0000", 4) == 0)
				return true;
		}
	}
	return false;
}

int builtin_args(const cog_tool_request *request, cJSON **out)
{
	cJSON *args = NULL;
	const char *text = request->arguments != NULL ? request->arguments : "{}";

	*out = NULL;
	if (has_nul_escape(text))
		return cog__error(COG_EINVAL, "%s: arguments may not contain NUL "
			"characters (\\u0000)", request->tool);
	int rc = cog_json_parse(&args, text, request->tool);
	if (rc != 0)
		return rc;
	if (!cJSON_IsObject(args)) {
		cJSON_Delete(args);
		return cog__error(COG_EINVAL, "%s: arguments must be a JSON object",
			request->tool);
	}
	*out = args;
	return 0;
}

int builtin_workspace_fd(const cog_tool_request *request, const char *tool,
                         int *fd)
{
	*fd = -1;
	if (request->workspace == NULL)
		return cog__error(COG_EDENIED, "%s: no workspace granted to this "
			"call, so there are no files to use", tool);
	int dir = open(request->workspace, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0) {
		int err = errno;
		return cog__error(err == ENOENT ? COG_ENOTFOUND :
		                  err == ENOTDIR ? COG_EINVAL :
		                  err == EACCES ? COG_EDENIED : COG_EIO,
			"%s: the workspace %s cannot be opened: %s", tool,
			request->workspace, strerror(err));
	}
	*fd = dir;
	return 0;
}

int builtin_finish(cJSON *result, char **result_json)
{
	char *text = cog_json_print(result);

	cJSON_Delete(result);
	if (text == NULL)
		return cog__oom("tool result");
	*result_json = text;
	return 0;
}

size_t builtin_budget(const builtin_tool *tool, size_t reserve)
{
	size_t cap = tool->max_output_bytes != 0 ? tool->max_output_bytes : MIB;

	return cap > reserve + KIB ? cap - reserve : KIB;
}

bool builtin_is_text(const char *data, size_t len)
{
	size_t bad;

	return memchr(data, '\0', len) == NULL && cog_utf8_valid(data, len, &bad);
}

/* Bytes cJSON prints for byte c inside a string. */
static size_t escaped_size(unsigned char c)
{
	if (c == '"' || c == '\\')
		return 2;
	if (c >= 0x20)
		return 1;
	if (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
		return 2;
	return 6;
}

size_t builtin_json_size(const char *s, size_t len)
{
	size_t size = 0;

	for (size_t i = 0; i < len; i++)
		size += escaped_size((unsigned char)s[i]);
	return size;
}

/* The longest prefix of valid UTF-8 text whose JSON form fits budget,
 * ending on a character boundary. */
static size_t text_fit(const char *s, size_t len, size_t budget)
{
	size_t used = 0, i = 0;

	for (; i < len; i++) {
		used += escaped_size((unsigned char)s[i]);
		if (used > budget)
			break;
	}
	if (i < len) {
		while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
			i--;
	}
	return i;
}

/* Length without an incomplete UTF-8 sequence at the very end. */
static size_t trim_partial_char(const char *s, size_t len)
{
	size_t back = 0;

	while (back < 4 && back < len &&
	       ((unsigned char)s[len - 1 - back] & 0xC0) == 0x80)
		back++;
	if (back == len || back >= 4)
		return len;
	unsigned char lead = (unsigned char)s[len - 1 - back];
	size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
	return need > back + 1 ? len - 1 - back : len;
}

int builtin_add_data(cJSON *object, const char *name, const char *encoding_name,
                     const char *data, size_t len, size_t budget,
                     bool is_prefix, size_t *used)
{
	size_t text_len = is_prefix ? trim_partial_char(data, len) : len;
	bool text = builtin_is_text(data, text_len);
	char *value;
	size_t n;

	if (text) {
		n = text_fit(data, text_len, budget);
		value = cog__strndup(data, n);
	} else {
		n = budget / 4 * 3;
		if (n > len)
			n = len;
		value = builtin_base64(data, n);
	}
	if (value == NULL)
		return cog__oom("tool result");
	bool ok = cJSON_AddStringToObject(object, name, value) != NULL;
	cog_free(value);
	if (ok && encoding_name != NULL)
		ok = cJSON_AddStringToObject(object, encoding_name,
		                             text ? "utf-8" : "base64") != NULL;
	if (!ok)
		return cog__oom("tool result");
	*used = n;
	return 0;
}

char *builtin_base64(const void *data, size_t len)
{
	size_t size = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *out = cog_malloc(size);

	if (out == NULL)
		return NULL;
	sodium_bin2base64(out, size, data, len, sodium_base64_VARIANT_ORIGINAL);
	return out;
}

int builtin_base64_decode(const char *text, const char *what, char **out,
                          size_t *out_len)
{
	size_t len = strlen(text);
	size_t cap = len / 4 * 3 + 3;
	char *bin = cog_malloc(cap + 1);
	const char *end = NULL;
	size_t bin_len = 0;

	*out = NULL;
	*out_len = 0;
	if (bin == NULL)
		return cog__oom(what);
	if (sodium_base642bin((unsigned char *)bin, cap, text, len, NULL, &bin_len,
	                      &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != text + len) {
		cog_free(bin);
		return cog__error(COG_EINVAL, "%s is not valid base64 (RFC 4648 with "
			"padding; bad at byte %zu)", what,
			end != NULL ? (size_t)(end - text) : (size_t)0);
	}
	bin[bin_len] = '\0';
	*out = bin;
	*out_len = bin_len;
	return 0;
}

size_t builtin_grant_count(const cog_tool_request *request)
{
	cJSON *hosts = NULL;
	size_t count = 0;

	if (request->allowed_hosts == NULL)
		return 0;
	hosts = cJSON_Parse(request->allowed_hosts);
	if (cJSON_IsArray(hosts))
		count = (size_t)cJSON_GetArraySize(hosts);
	cJSON_Delete(hosts);
	return count;
}
