/*
 * How `cog run` and `cog resume` run a plan, so that both set up the same
 * way: the tools (built-ins, sql_query, and the tools of the MCP servers
 * in the config file), the LLM from the environment when one is
 * configured, and one task executor:
 *   kind "tool"  the tool layer (schema, permissions, sandbox, audit); a
 *                python or shell program that exits non-zero (or is killed
 *                by its time limit) fails the task, as a host program does:
 *                the library returns such an exit as a result for a model
 *                to read, but a plan step that failed has not done its job
 *   kind "llm"   the agent loop (cog_task_run_agent)
 *   otherwise    inputs.argv as a child process (exec_executor.c)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

void cli_runner_init(cli_runner *r)
{
	memset(r, 0, sizeof(*r));
	cog_tool_call_options tools = COG_TOOL_CALL_OPTIONS_INIT;
	cog_agent_run_options agent = COG_AGENT_RUN_OPTIONS_INIT;
	r->tools = tools;
	r->agent = agent;
	snprintf(r->hosts, sizeof(r->hosts), "[]");
	snprintf(r->workspace, sizeof(r->workspace), ".");
	const char *ns = getenv("COG_MEMORY_NS");
	r->memory_ns = ns && *ns ? ns : "default";
}

int cli_parse_workers(const cli *c, const char *v, unsigned int *workers)
{
	char *end = NULL;
	long n = v ? strtol(v, &end, 10) : 0;
	if (!v || !*v || *end || n < 1 || n > 256)
		return cli_fail(c, CLI_USAGE, "--workers needs a number from 1 to 256");
	*workers = (unsigned int)n;
	return CLI_OK;
}

/* "--name V" or "--name=V": the value, advancing *i; NULL if not `name`. */
static const char *flag_value(const char *name, int argc, char **argv, int *i, bool *missing)
{
	size_t len = strlen(name);
	const char *a = argv[*i];
	*missing = false;
	if (strncmp(a, name, len) != 0)
		return NULL;
	if (a[len] == '=')
		return a + len + 1;
	if (a[len])
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return "";
	}
	return argv[++*i];
}

int cli_runner_flag(const cli *c, cli_runner *r, int argc, char **argv, int *i, int *code)
{
	static const char *const names[] = { "--workspace", "--allow-net", "--ns" };
	for (size_t k = 0; k < sizeof(names) / sizeof(*names); k++) {
		bool missing = false;
		const char *v = flag_value(names[k], argc, argv, i, &missing);
		if (!v)
			continue;
		if (missing || !*v) {
			*code = cli_fail(c, CLI_USAGE, "%s needs a value", names[k]);
		} else if (k == 0) {
			if (strlen(v) >= sizeof(r->workspace))
				*code = cli_fail(c, CLI_USAGE, "--workspace: path too long");
			else
				snprintf(r->workspace, sizeof(r->workspace), "%s", v);
		} else if (k == 1) {
			*code = cli_add_host(c, r->hosts, sizeof(r->hosts), v);
		} else {
			r->memory_ns = v;
		}
		return 1;
	}
	return 0;
}

/* ---- the executor ---- */

/* The last non-empty line of s, at most 300 bytes, into out. */
static void last_line(const char *s, char *out, size_t size)
{
	size_t len = s ? strlen(s) : 0;
	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
		len--;
	size_t start = len;
	while (start && s[start - 1] != '\n')
		start--;
	snprintf(out, size, "%.*s", (int)(len - start > 300 ? 300 : len - start), s ? s + start : "");
}

/* python or shell: cog_task_run_tool, then fail the task when the program
 * did not exit 0 (the result it set is kept). */
static int run_program_task(cog_task_call *call, cli_runner *r, const char *tool)
{
	int rc = cog_task_run_tool(call, &r->tools);
	if (rc)
		return rc;
	cJSON *res = cJSON_Parse(cog_task_call_result(call));
	const cJSON *exit_code = cJSON_GetObjectItemCaseSensitive(res, "exit_code");
	const cJSON *timed_out = cJSON_GetObjectItemCaseSensitive(res, "timed_out");
	if (cJSON_IsTrue(timed_out) || (cJSON_IsNumber(exit_code) && exit_code->valuedouble != 0) ||
	    cJSON_IsNull(exit_code)) {
		const char *id = cog_task_call_task_id(call);
		char line[320];
		last_line(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(res, "stderr")),
			line, sizeof(line));
		rc = cJSON_IsTrue(timed_out)
			? cog_error_set(COG_ETIMEOUT, "task '%s': %s ran past its time limit", id, tool)
			: cog_error_set(COG_ERROR, "task '%s': %s exited with status %d%s%s", id, tool,
				cJSON_IsNumber(exit_code) ? exit_code->valueint : -1, *line ? ": " : "",
				line);
	}
	cJSON_Delete(res);
	return rc;
}

static int run_task(cog_task_call *call, void *user_data)
{
	cli_runner *r = user_data;
	cJSON *task = cJSON_Parse(cog_task_call_task(call));
	if (!task)
		return cog_error_set(COG_ENOMEM, "task %s: cannot read its definition",
			cog_task_call_task_id(call));
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "kind"));
	const char *tool = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "tool"));
	int rc;
	if (kind && strcmp(kind, "tool") == 0 && tool &&
	    (strcmp(tool, "python") == 0 || strcmp(tool, "shell") == 0))
		rc = run_program_task(call, r, tool);
	else if (kind && strcmp(kind, "tool") == 0)
		rc = cog_task_run_tool(call, &r->tools);
	else if (kind && strcmp(kind, "llm") == 0)
		rc = cog_task_run_agent(call, &r->agent);
	else
		rc = cli_exec_task(call, &r->tools);
	cJSON_Delete(task);
	return rc;
}

/* ---- setup ---- */

/* Each server of the config file's "mcpServers", connected, its tools
 * defined as "<name>__<tool>". */
static int connect_mcp(const cli *c, cli_runner *r, cog_ctx *ctx)
{
	const char *path = NULL;
	char *text = NULL;
	int code = cli_config_load(c, &path, &text);
	if (code || !text)
		return code;
	cJSON *config = cJSON_Parse(text);
	cJSON_free(text);
	const cJSON *servers = cJSON_GetObjectItemCaseSensitive(config, "mcpServers");
	int count = cJSON_GetArraySize(servers);
	r->mcp = count ? calloc((size_t)count, sizeof(*r->mcp)) : NULL;
	if (count && !r->mcp)
		code = cli_fail(c, CLI_FAILED, "out of memory");
	const cJSON *server;
	cJSON_ArrayForEach(server, servers) {
		if (code)
			break;
		char *json = cJSON_PrintUnformatted(server);
		cog_mcp *mcp = NULL;
		int rc = json ? cog_mcp_connect_json(&mcp, ctx, server->string, json) : COG_ENOMEM;
		cJSON_free(json);
		if (!rc)
			r->mcp[r->mcp_count++] = mcp;
		if (!rc)
			rc = cog_mcp_define_tools(mcp, NULL, 0);
		if (rc)
			code = cli_fail(c, rc == COG_EINVAL ? CLI_USAGE : CLI_FAILED, "MCP server '%s' "
				"of %s: %s", server->string, path, cog_error_last());
	}
	cJSON_Delete(config);
	return code;
}

/* An LLM counts as configured as for cog chat: a URL, or a provider named. */
static bool llm_configured(const cli_llm *llm)
{
	const char *url = getenv("COG_LLM_URL"), *provider = getenv("COG_LLM_PROVIDER");
	return (llm && (llm->url || llm->provider)) || (url && *url) || (provider && *provider);
}

int cli_runner_setup(const cli *c, cli_runner *r, cog_ctx *ctx, const cli_llm *llm)
{
	r->ctx = ctx;
	char *real = realpath(r->workspace, NULL);
	if (!real)
		return cli_fail(c, CLI_USAGE, "--workspace %s: no such directory", r->workspace);
	snprintf(r->workspace, sizeof(r->workspace), "%s", real);
	free(real);
	r->tools.workspace = r->workspace;
	r->tools.allowed_hosts = r->hosts;
	r->agent.tool_options = &r->tools;
	r->agent.memory_namespace = r->memory_ns;
	int code = cli_define_tools(c, ctx);
	if (!code)
		code = connect_mcp(c, r, ctx);
	if (!code && llm_configured(llm)) {
		cli_llm none = { NULL, NULL, NULL };
		code = cli_llm_setup(c, ctx, llm ? llm : &none);
		r->have_llm = code == CLI_OK;
	}
	if (!code && cog_ctx_set_task_executor(ctx, run_task, r) != 0)
		code = cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	return code;
}

void cli_runner_dispose(cli_runner *r)
{
	for (size_t i = 0; i < r->mcp_count; i++)
		cog_mcp_close(r->mcp[i]);
	free(r->mcp);
	r->mcp = NULL;
	r->mcp_count = 0;
}
