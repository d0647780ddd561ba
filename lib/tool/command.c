/*
 * Tools whose runner is a program in the sandbox: the "command" of
 * cog_tool_options. The arguments JSON goes to the program's standard input;
 * standard output is the result when it is JSON, else a record of the run.
 */
#include <string.h>

#include "tool_int.h"

static bool positive_integer(const cJSON *v, double max)
{
	return cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= max &&
		v->valuedouble == (double)(uint64_t)v->valuedouble;
}

/* Why a command is not acceptable, or NULL. An unknown member sets
 * *unknown instead. */
static const char *command_problem(const cJSON *cmd, const char **unknown)
{
	const cJSON *argv = cJSON_GetObjectItemCaseSensitive(cmd, "argv");
	const cJSON *item;
	if (!cJSON_IsObject(cmd))
		return "is not a JSON object";
	if (!cJSON_IsArray(argv) || cJSON_GetArraySize(argv) < 1)
		return "needs \"argv\": a non-empty array of strings";
	cJSON_ArrayForEach(item, argv)
		if (!cJSON_IsString(item) || (item == argv->child && !item->valuestring[0]))
			return "\"argv\" must hold strings, the first one not empty";
	cJSON_ArrayForEach(item, cmd) {
		const char *key = item->string;
		if (strcmp(key, "argv") == 0)
			continue;
		if (strcmp(key, "env") == 0) {
			const cJSON *kv;
			if (!cJSON_IsObject(item))
				return "\"env\" must be an object of strings";
			cJSON_ArrayForEach(kv, item)
				if (!cJSON_IsString(kv) || !kv->string[0] || strchr(kv->string, '='))
					return "\"env\" must map names (no '=') to strings";
		} else if (strcmp(key, "memory_bytes") == 0 || strcmp(key, "max_file_bytes") == 0) {
			if (!positive_integer(item, 9.0e15))
				return "byte limits must be whole numbers from 1 to 9e15";
		} else if (strcmp(key, "cpu_seconds") == 0 || strcmp(key, "max_processes") == 0) {
			if (!positive_integer(item, 1.0e6))
				return "cpu_seconds and max_processes must be whole numbers from 1 to 1000000";
		} else if (strcmp(key, "network") == 0) {
			if (!cJSON_IsBool(item))
				return "\"network\" must be true or false";
		} else {
			*unknown = key;
			return NULL;
		}
	}
	return NULL;
}

int tool_command_parse(const char *fn, const char *name, const char *text, cJSON **out)
{
	*out = NULL;
	cJSON *cmd = NULL;
	int rc = cog_json_parse(&cmd, text, "command");
	if (rc)
		return cog__error_wrap(rc, "%s: tool '%s'", fn, name);
	const char *unknown = NULL;
	const char *why = command_problem(cmd, &unknown);
	if (why)
		rc = cog__error(COG_EINVAL, "%s: tool '%s': command %s", fn, name, why);
	else if (unknown)
		rc = cog__error(COG_EINVAL, "%s: tool '%s': command: unknown member \"%s\" "
			"(argv, env, network, memory_bytes, cpu_seconds, max_processes, "
			"max_file_bytes)", fn, name, unknown);
	if (rc) {
		cJSON_Delete(cmd);
		return rc;
	}
	*out = cmd;
	return COG_OK;
}

/* NULL-terminated arrays of the command's strings; the strings stay owned
 * by the cJSON tree. */
static const char **string_array(const cJSON *array, const char *prefix_env, cog_buf *store)
{
	int n = cJSON_GetArraySize(array);
	const char **out = cog__calloc((size_t)n + 1, sizeof(*out));
	if (!out)
		return NULL;
	int i = 0;
	const cJSON *item;
	cJSON_ArrayForEach(item, array) {
		if (!prefix_env) {
			out[i++] = item->valuestring;
			continue;
		}
		/* env: "K=V" strings, kept in one buffer of offsets fixed up below */
		size_t at = store->len;
		cog_buf_printf(store, "%s=%s", item->string, item->valuestring);
		cog_buf_putc(store, '\0');
		out[i++] = (const char *)(uintptr_t)at;
	}
	if (prefix_env) {
		if (store->failed) {
			cog_free(out);
			return NULL;
		}
		for (int k = 0; k < i; k++)
			out[k] = store->ptr + (uintptr_t)out[k];
	}
	return out;
}

static uint64_t limit(const cJSON *cmd, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cmd, name);
	return cJSON_IsNumber(v) ? (uint64_t)v->valuedouble : 0;
}

static int run_record(const cog_sandbox_result *r, char **result_json)
{
	cJSON *obj = cJSON_CreateObject();
	if (!obj)
		return cog__oom("command");
	char *out_text = cog_utf8_lossy(r->out ? r->out : "", r->out ? r->out_len : 0);
	char *err_text = cog_utf8_lossy(r->err ? r->err : "", r->err ? r->err_len : 0);
	cJSON *out = out_text ? cJSON_CreateString(out_text) : NULL;
	cJSON *err = err_text ? cJSON_CreateString(err_text) : NULL;
	cog_free(out_text);
	cog_free(err_text);
	if (!out || !cJSON_AddItemToObject(obj, "stdout", out) || (out = NULL) ||
	    !err || !cJSON_AddItemToObject(obj, "stderr", err) || (err = NULL) ||
	    cog_json_add_number(obj, "exit_code", r->exit_code) ||
	    cog_json_add_bool(obj, "truncated", r->out_truncated || r->err_truncated)) {
		cJSON_Delete(out);
		cJSON_Delete(err);
		cJSON_Delete(obj);
		return cog__oom("command");
	}
	*result_json = cog_json_print(obj);
	cJSON_Delete(obj);
	return *result_json ? COG_OK : cog__oom("command");
}

int tool_command_run(const tool_def *def, const cog_tool_request *request,
                     char **result_json)
{
	const cJSON *cmd = def->command;
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(cmd, "env");
	cog_buf env_store = COG_BUF_INIT;
	const char **argv = string_array(cJSON_GetObjectItemCaseSensitive(cmd, "argv"), NULL, NULL);
	const char **envp = env ? string_array(env, "env", &env_store) : NULL;
	if (!argv || (env && !envp)) {
		cog_free(argv);
		cog_buf_dispose(&env_store);
		return cog__oom("command");
	}
	const cJSON *net = cJSON_GetObjectItemCaseSensitive(cmd, "network");
	cog_sandbox_options o = COG_SANDBOX_OPTIONS_INIT;
	o.argv = argv;
	o.envp = envp;
	o.workspace = request->workspace;
	o.stdin_data = request->arguments;
	o.stdin_len = strlen(request->arguments);
	/* The program may use the network only if it asks for it and the call
	 * carries a grant; the sandbox cannot filter by host. */
	o.network = cJSON_IsTrue(net) && tool_network_granted(request->allowed_hosts);
	o.timeout_ms = request->timeout_ms;
	o.max_output_bytes = def->max_output_bytes;
	o.cpu_seconds = (unsigned int)limit(cmd, "cpu_seconds");
	o.memory_bytes = limit(cmd, "memory_bytes");
	o.max_processes = (unsigned int)limit(cmd, "max_processes");
	o.max_file_bytes = limit(cmd, "max_file_bytes");
	o.allow_unsandboxed = request->allow_unsandboxed;
	cog_sandbox_result r = COG_SANDBOX_RESULT_INIT;
	int rc = cog_sandbox_run(request->ctx, &o, &r);
	cog_free(argv);
	cog_free(envp);
	cog_buf_dispose(&env_store);
	if (rc)
		return rc;
	if (r.timed_out)
		rc = cog__error(COG_ETIMEOUT, "%s timed out after %u ms", def->name, o.timeout_ms);
	else if (r.canceled)
		rc = cog__error(COG_ECANCELED, "%s was canceled", def->name);
	else if (r.exit_code != 0)
		rc = cog__error(COG_EUSER, "%s exited with %s %d: %.400s", def->name,
			r.signal ? "signal" : "status", r.signal ? r.signal : r.exit_code,
			r.err && r.err[0] ? r.err : "(no error output)");
	else if (r.out_truncated)
		rc = cog__error(COG_ERANGE, "%s wrote more than %zu bytes", def->name,
			def->max_output_bytes);
	else if (r.out && r.out_len == strlen(r.out) &&
	         cog_json_validate(r.out, r.out_len, "output") == COG_OK) {
		*result_json = r.out;
		r.out = NULL;
	} else {
		rc = run_record(&r, result_json);
	}
	cog_sandbox_result_dispose(&r);
	return rc;
}
