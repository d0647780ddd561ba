/*
 * What the built-in tools (builtin*.c) share: their table entry, their
 * runners and the helpers that turn arguments and outputs into JSON for the
 * model. Private to lib/tool.
 */
#ifndef COG_BUILTIN_INT_H
#define COG_BUILTIN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tool_int.h"

/* One built-in: how it is defined. The runner receives its entry as
 * user_data (static, never freed) to know its own output cap. */
typedef struct builtin_tool {
	const char *name;
	const char *description;
	const char *input_schema;
	unsigned int flags;
	unsigned int timeout_ms;
	size_t max_output_bytes;
	cog_tool_fn fn;
} builtin_tool;

/* ---- runners (builtin_files.c, builtin_write.c, builtin_list.c,
 * builtin_http.c, builtin_exec.c) ---- */

int builtin_file_read(const cog_tool_request *request, char **result_json,
                      void *user_data);
int builtin_file_write(const cog_tool_request *request, char **result_json,
                       void *user_data);
int builtin_list_dir(const cog_tool_request *request, char **result_json,
                     void *user_data);
int builtin_http_fetch(const cog_tool_request *request, char **result_json,
                       void *user_data);
int builtin_python(const cog_tool_request *request, char **result_json,
                   void *user_data);
int builtin_shell(const cog_tool_request *request, char **result_json,
                  void *user_data);

/* ---- helpers (builtin.c) ---- */

/* The call's arguments as a JSON object. JSON strings holding U+0000 are
 * refused (COG_EINVAL): C strings would silently cut them short, so a path
 * "a\u0000b" would name "a". */
int builtin_args(const cog_tool_request *request, cJSON **out);

/* The call's workspace as an O_PATH directory fd (close it), or
 * COG_EDENIED "no workspace granted", COG_ENOTFOUND. `tool` names the
 * caller in messages. */
int builtin_workspace_fd(const cog_tool_request *request, const char *tool,
                         int *fd);

/* Print `result` (consumed) into *result_json. COG_ENOMEM. */
int builtin_finish(cJSON *result, char **result_json);

/* Bytes of output data a tool may return: its cap minus `reserve` for the
 * rest of the result, never below 1 KiB. */
size_t builtin_budget(const builtin_tool *tool, size_t reserve);

/* True when data[0..len) is valid UTF-8 without NUL bytes, i.e. can be a
 * JSON string as is. */
bool builtin_is_text(const char *data, size_t len);

/*
 * Add data[0..len) to `object` as member `name`: as a string when it is
 * text, else base64; member `encoding_name` (when not NULL) says which
 * ("utf-8" or "base64"). At most `budget` bytes of JSON string are used
 * (escapes and base64 expansion counted); *used gets how many bytes of data
 * made it. `is_prefix`: data was cut from something longer, so an
 * incomplete UTF-8 sequence at its end is a cut, not an encoding error.
 * Returns 0 or COG_ENOMEM.
 */
int builtin_add_data(cJSON *object, const char *name, const char *encoding_name,
                     const char *data, size_t len, size_t budget,
                     bool is_prefix, size_t *used);

/* Bytes the JSON string form of s[0..len) takes, quotes excluded. */
size_t builtin_json_size(const char *s, size_t len);

/* base64 (RFC 4648, padded) of data into a cog_malloc'd string; NULL on OOM. */
char *builtin_base64(const void *data, size_t len);
/* Decode base64 (whitespace not allowed) into a cog_malloc'd buffer:
 * COG_EINVAL naming `what` when malformed. */
int builtin_base64_decode(const char *text, const char *what, char **out,
                          size_t *out_len);

/* Number of hosts in request->allowed_hosts (0 for "[]" or unparsable). */
size_t builtin_grant_count(const cog_tool_request *request);

/* ---- what the file tools share (builtin_files.c) ---- */

/* A file tool's own work: `args` parsed, `ws` the workspace's fd, `result`
 * an empty object to fill. */
typedef int (*builtin_file_fn)(const cog_tool_request *request,
                               const cJSON *args, const builtin_tool *tool,
                               int ws, cJSON *result);

/* What every file tool does around its own work: parse the arguments, open
 * the workspace, and print the result. `name` names it in messages. */
int builtin_run_in_workspace(const cog_tool_request *request,
                             char **result_json, const builtin_tool *tool,
                             const char *name, builtin_file_fn fn);

/* Optional non-negative integer member; *out keeps its default when the
 * member is absent. COG_EINVAL naming `tool` when not an integer in
 * [0, max]. */
int builtin_get_count(const cJSON *args, const char *tool, const char *name,
                      double max, uint64_t *out);
/* Optional boolean member, false when absent. */
int builtin_get_flag(const cJSON *args, const char *tool, const char *name,
                     bool *out);
/* The "path" member, or `fallback` when absent and `fallback` is not NULL. */
int builtin_get_path(const cJSON *args, const char *tool, const char *fallback,
                     const char **out);
/* 0 when fd is a regular file, else COG_EINVAL (or COG_EIO) naming path. */
int builtin_check_regular(int fd, const char *tool, const char *path);

/* ---- http_fetch's URLs (builtin_http_url.c) ---- */

#define BUILTIN_HOST_MAX 255

/* A URL as builtin_http_parse_url() took it apart. */
typedef struct builtin_url_parts {
	bool https;
	char host[BUILTIN_HOST_MAX + 3]; /* lowercase; IPv6 keeps its brackets */
	unsigned int port;          /* explicit or the scheme's default */
	bool explicit_port;
	size_t origin_len;          /* length of "scheme://authority" */
	size_t end;                 /* where the fragment starts (or strlen) */
} builtin_url_parts;

/* Parse an http:// or https:// URL strictly: COG_EINVAL for what parsers
 * disagree on (userinfo, backslashes, odd host characters, bad ports). */
int builtin_http_parse_url(const char *url, builtin_url_parts *u);
/* 0 when the call's network grant allows u's host and port, else
 * COG_EDENIED saying why. */
int builtin_http_check_grant(const cog_tool_request *request,
                             const builtin_url_parts *u);
/* The URL without its fragment, with the query parameters (an object of
 * strings, numbers and booleans) appended, into a cog_malloc'd *out. */
int builtin_http_build_url(const char *url, const builtin_url_parts *u,
                           const cJSON *query, char **out);
/* A Location made absolute against the URL it answered (cog_malloc'd;
 * NULL on OOM). */
char *builtin_http_location(const char *url, const builtin_url_parts *u,
                            const char *location);

/* ---- workspace.c ---- */

/* The checks tool_workspace_open() makes on the path alone (empty,
 * absolute, ".."): 0 or COG_EDENIED naming it. */
int tool__workspace_check(const char *relpath);

/* The user-space walk tool_workspace_open() falls back on without
 * openat2(2); reachable by the tests on kernels that have it. */

int tool__workspace_open_walk(int workspace_fd, const char *relpath,
                              int flags, mode_t mode);

#endif /* COG_BUILTIN_INT_H */
