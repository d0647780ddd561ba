/*
 * python and shell: a program in the sandbox (cog_sandbox_run), with the
 * call's workspace at /workspace.
 *
 * Network: none unless the call has a network grant; then the sandbox
 * shares the host's network, which means ALL of it. The sandbox cannot
 * filter by host the way http_fetch does, so a grant of ["example.com"] to
 * python or shell lets the program reach any host. Hosts that want
 * per-host control give these tools no grant and let the model use
 * http_fetch.
 *
 * Results: the program ran (whatever its exit status) -> 0 and
 * {"exit_code","signal","stdout","stderr","timed_out","truncated"}: a
 * failing program is something the model reads and fixes, not a tool
 * failure. Killed by the timeout -> COG_ETIMEOUT; by cog_ctx_cancel() ->
 * COG_ECANCELED; no sandbox on this machine -> COG_EUNAVAILABLE with the
 * sandbox's explanation, unless the call opted into running unsandboxed.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "builtin_int.h"

/* Room in the result for everything but the two streams. */
#define EXEC_RESULT_RESERVE 1024

typedef struct exec_input {
	const char **argv;           /* NULL-terminated, cog_malloc'd array */
	const char *cwd;             /* relative to the workspace, or NULL */
	const char *stdin_data;
	size_t stdin_len;
} exec_input;

/* ---- arguments ---- */

/* An optional array of strings, appended to argv at *n. */
static int add_strings(const cJSON *array, const char *tool, const char *what,
                       const char **argv, size_t *n)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, array) {
		if (!cJSON_IsString(item))
			return cog__error(COG_EINVAL, "%s: every item of \"%s\" must be "
				"a string", tool, what);
		argv[(*n)++] = item->valuestring;
	}
	return 0;
}

static int get_stdin(const cJSON *args, const char *tool, exec_input *in)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(args, "stdin");

	if (item == NULL || cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsString(item))
		return cog__error(COG_EINVAL, "%s: \"stdin\" must be a string", tool);
	in->stdin_data = item->valuestring;
	in->stdin_len = strlen(item->valuestring);
	return 0;
}

static int python_input(const cJSON *args, exec_input *in)
{
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(args, "code");
	const cJSON *extra = cJSON_GetObjectItemCaseSensitive(args, "args");
	size_t n = 0;

	if (!cJSON_IsString(code) || code->valuestring[0] == '\0')
		return cog__error(COG_EINVAL, "python: \"code\" must be a non-empty "
			"string");
	if (extra != NULL && !cJSON_IsArray(extra))
		return cog__error(COG_EINVAL, "python: \"args\" must be an array of "
			"strings");
	in->argv = cog__calloc((size_t)cJSON_GetArraySize(extra) + 4,
	                       sizeof(*in->argv));
	if (in->argv == NULL)
		return cog__oom("python");
	in->argv[n++] = "python3";
	in->argv[n++] = "-c";
	in->argv[n++] = code->valuestring;
	int rc = add_strings(extra, "python", "args", in->argv, &n);
	if (rc == 0)
		rc = get_stdin(args, "python", in);
	return rc;
}

static int shell_input(const cJSON *args, exec_input *in)
{
	const cJSON *argv = cJSON_GetObjectItemCaseSensitive(args, "argv");
	const cJSON *command = cJSON_GetObjectItemCaseSensitive(args, "command");
	const cJSON *cwd = cJSON_GetObjectItemCaseSensitive(args, "cwd");
	size_t n = 0;

	if ((argv == NULL) == (command == NULL))
		return cog__error(COG_EINVAL, "shell: give exactly one of \"argv\" "
			"(a program and its arguments) and \"command\" (a /bin/sh "
			"script)");
	if (argv != NULL && (!cJSON_IsArray(argv) || cJSON_GetArraySize(argv) == 0))
		return cog__error(COG_EINVAL, "shell: \"argv\" must be a non-empty "
			"array of strings");
	if (command != NULL && (!cJSON_IsString(command) ||
	                        command->valuestring[0] == '\0'))
		return cog__error(COG_EINVAL, "shell: \"command\" must be a non-empty "
			"string");
	if (cwd != NULL && !cJSON_IsString(cwd))
		return cog__error(COG_EINVAL, "shell: \"cwd\" must be a string");
	in->cwd = cwd != NULL ? cwd->valuestring : NULL;
	in->argv = cog__calloc((size_t)cJSON_GetArraySize(argv) + 4,
	                       sizeof(*in->argv));
	if (in->argv == NULL)
		return cog__oom("shell");
	int rc = 0;
	if (argv != NULL) {
		rc = add_strings(argv, "shell", "argv", in->argv, &n);
		if (rc == 0 && in->argv[0][0] == '\0')
			rc = cog__error(COG_EINVAL, "shell: argv[0] is empty");
	} else {
		in->argv[n++] = "/bin/sh";
		in->argv[n++] = "-c";
		in->argv[n++] = command->valuestring;
	}
	if (rc == 0)
		rc = get_stdin(args, "shell", in);
	return rc;
}

/* cwd must be a directory inside the workspace: checked here with the
 * same rules as the file tools, for a message the model can act on (the
 * sandbox, which sees nothing but the workspace, checks again). */
static int check_cwd(const cog_tool_request *request, const char *tool,
                     const char *cwd)
{
	int ws = -1;
	int rc = builtin_workspace_fd(request, tool, &ws);

	if (rc != 0)
		return cog__error_wrap(rc, "\"cwd\" needs a workspace");
	int fd = tool_workspace_open(ws, cwd, O_PATH | O_DIRECTORY, 0);
	close(ws);
	if (fd < 0)
		return cog__error_wrap(fd, "%s: \"cwd\"", tool);
	close(fd);
	return 0;
}

/* ---- running ---- */

static int add_stream(cJSON *result, const char *name, const char *encoding,
                      const char *data, size_t len, size_t budget,
                      bool *truncated)
{
	size_t used = 0;
	int rc = builtin_add_data(result, name, encoding, data != NULL ? data : "",
	                          data != NULL ? len : 0, budget, *truncated, &used);

	if (rc == 0 && used < len)
		*truncated = true;
	return rc;
}

static int run(const cog_tool_request *request, const builtin_tool *tool,
               const exec_input *in, cJSON *result)
{
	cog_sandbox_options options;
	cog_sandbox_result out;
	size_t stream_budget = builtin_budget(tool, EXEC_RESULT_RESERVE) / 2;
	int rc = cog_sandbox_options_init(&options, COG_SANDBOX_OPTIONS_VERSION);

	if (rc != 0)
		return rc;
	options.argv = in->argv;
	options.workspace = request->workspace;
	options.cwd = in->cwd;
	options.stdin_data = in->stdin_data;
	options.stdin_len = in->stdin_len;
	options.network = builtin_grant_count(request) > 0;
	options.timeout_ms = request->timeout_ms != 0 ? request->timeout_ms :
	                     tool->timeout_ms;
	options.max_output_bytes = stream_budget;
	options.allow_unsandboxed = request->allow_unsandboxed;
	memset(&out, 0, sizeof(out));
	out.version = COG_SANDBOX_RESULT_VERSION;
	rc = cog_sandbox_run(request->ctx, &options, &out);
	if (rc != 0)
		return cog__error_wrap(rc, "%s", tool->name);
	if (out.timed_out) {
		rc = cog__error(COG_ETIMEOUT, "%s: the program ran past its time limit "
			"of %u ms and was killed (it had written %zu bytes to stdout and "
			"%zu to stderr); make it do less per call, or print progress",
			tool->name, options.timeout_ms, out.out_len, out.err_len);
	} else if (out.canceled) {
		rc = cog__error(COG_ECANCELED, "%s: canceled by the host; the program "
			"was killed", tool->name);
	} else {
		bool out_cut = out.out_truncated != 0, err_cut = out.err_truncated != 0;
		rc = add_stream(result, "stdout", "stdout_encoding", out.out,
		                out.out_len, stream_budget, &out_cut);
		if (rc == 0)
			rc = add_stream(result, "stderr", "stderr_encoding", out.err,
			                out.err_len, stream_budget, &err_cut);
		bool ok = rc == 0 &&
			cJSON_AddNumberToObject(result, "exit_code", out.exit_code) &&
			cJSON_AddNumberToObject(result, "signal", out.signal) &&
			cJSON_AddBoolToObject(result, "timed_out", false) &&
			cJSON_AddBoolToObject(result, "truncated", out_cut || err_cut) &&
			cJSON_AddBoolToObject(result, "sandboxed", out.sandboxed != 0) &&
			cJSON_AddNumberToObject(result, "wall_ms", (double)(out.wall_us / 1000));
		if (rc == 0 && !ok)
			rc = cog__oom(tool->name);
	}
	cog_sandbox_result_dispose(&out);
	return rc;
}

static int exec_tool(const cog_tool_request *request, char **result_json,
                     const builtin_tool *tool,
                     int (*input)(const cJSON *args, exec_input *in))
{
	cJSON *args = NULL, *result = NULL;
	exec_input in;
	int rc = builtin_args(request, &args);

	memset(&in, 0, sizeof(in));
	if (rc == 0)
		rc = input(args, &in);
	if (rc == 0 && in.cwd != NULL)
		rc = check_cwd(request, tool->name, in.cwd);
	if (rc == 0 && (result = cJSON_CreateObject()) == NULL)
		rc = cog__oom(tool->name);
	if (rc == 0)
		rc = run(request, tool, &in, result);
	cog_free((void *)in.argv);
	cJSON_Delete(args);
	if (rc != 0) {
		cJSON_Delete(result);
		return rc;
	}
	return builtin_finish(result, result_json);
}

int builtin_python(const cog_tool_request *request, char **result_json,
                   void *user_data)
{
	return exec_tool(request, result_json, user_data, python_input);
}

int builtin_shell(const cog_tool_request *request, char **result_json,
                  void *user_data)
{
	return exec_tool(request, result_json, user_data, shell_input);
}
