/*
 * What the built-in tools (builtin*.c) share: their table entry, their
 * runners and the helpers that turn arguments and outputs into JSON for the
 * model. Private to lib/tool.
 */
#ifndef COG_BUILTIN_INT_H
#define COG_BUILTIN_INT_H

#include <stdbool.h>
#include <stddef.h>

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

/* ---- runners (builtin_files.c, builtin_http.c, builtin_exec.c) ---- */

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

/* ---- workspace.c ---- */

/* The checks tool_workspace_open() makes on the path alone (empty,
 * absolute, ".."): 0 or COG_EDENIED naming it. */
int tool__workspace_check(const char *relpath);

/* The user-space walk tool_workspace_open() falls back on without
 * openat2(2); reachable by the tests on kernels that have it. */

int tool__workspace_open_walk(int workspace_fd, const char *relpath,
                              int flags, mode_t mode);

#endif /* COG_BUILTIN_INT_H */
