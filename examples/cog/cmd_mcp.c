/*
 * cog mcp tools SERVER [--json] [--timeout MS]
 * cog mcp call SERVER TOOL ARGS_JSON [--json] [--timeout MS]
 * cog mcp servers
 *
 * SERVER is an http(s) URL (streamable HTTP through the curl transport),
 * the NAME of a server in the config file's "mcpServers", or `-- COMMAND
 * ARGS...` at the end for a stdio server. For call with a stdio server both
 * `call TOOL ARGS_JSON -- COMMAND ARGS...` and `call -- COMMAND ARGS... TOOL
 * ARGS_JSON` (the last two words) are taken. The tool is called directly
 * (cog_mcp_call_tool): the server's own checks apply, not cog's registry.
 *
 * Exit status: 0, 1 when the call fails or the result has isError (its text
 * on stderr), 2 for usage errors, 130 on Ctrl-C. What the server writes on
 * its standard error and its log messages reach the terminal only with
 * COG_LOG_LEVEL set.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <cognition/mcp.h>

#include "cli.h"

#ifdef COG_HAVE_CURL
#include <cognition/curl.h>
#endif

typedef struct mcp_args {
	const char *server;        /* URL or config NAME; NULL with command */
	char **command;            /* after "--": NULL-terminated (malloc'd) */
	const char *tool, *arguments;
	unsigned int timeout_ms;   /* 0: the library's */
} mcp_args;

static const char tools_usage[] = "usage: cog mcp tools SERVER [--json] [--timeout MS], "
	"SERVER: an http(s) URL, a NAME from the config file, or -- COMMAND ARGS...";
static const char call_usage[] = "usage: cog mcp call SERVER TOOL ARGS_JSON [--json] "
	"[--timeout MS] | cog mcp call TOOL ARGS_JSON -- COMMAND ARGS... | cog mcp call -- "
	"COMMAND ARGS... TOOL ARGS_JSON";

/* The options before "--"; the words (argc + 1 entries) and where "--" is. */
static int parse_flags(cli *c, int argc, char **argv, mcp_args *a, const char **words,
                       int *nwords, int *dashes, const char *usage)
{
	*nwords = 0;
	*dashes = -1;
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i], *value = NULL;
		if (strcmp(s, "--") == 0) {
			*dashes = i;
			return CLI_OK;
		}
		if (s[0] != '-' || !s[1]) {
			words[(*nwords)++] = s;
			continue;
		}
		if (strcmp(s, "--json") == 0) {
			c->json = true;
			continue;
		}
		if (strcmp(s, "--timeout") == 0)
			value = i + 1 < argc ? argv[++i] : "";
		else if (strncmp(s, "--timeout=", 10) == 0)
			value = s + 10;
		else
			return cli_fail(c, CLI_USAGE, "mcp: unknown option '%s'; %s", s, usage);
		char *end;
		unsigned long ms = strtoul(value, &end, 10);
		if (!*value || *end || ms == 0 || ms > 86400000)
			return cli_fail(c, CLI_USAGE, "--timeout needs milliseconds (1..86400000)");
		a->timeout_ms = (unsigned int)ms;
	}
	return CLI_OK;
}

/* Copy argv[from, to) as the NULL-terminated command. */
static int take_command(const cli *c, mcp_args *a, char **argv, int from, int to)
{
	a->command = calloc((size_t)(to - from) + 1, sizeof(*a->command));
	if (!a->command)
		return cli_fail(c, CLI_FAILED, "out of memory");
	for (int k = from; k < to; k++)
		a->command[k - from] = argv[k];
	return CLI_OK;
}

static int parse_args(cli *c, int argc, char **argv, bool call, mcp_args *a)
{
	const char *usage = call ? call_usage : tools_usage;
	const char **words = calloc((size_t)argc + 1, sizeof(*words));
	int nwords, dashes, code;
	if (!words)
		return cli_fail(c, CLI_FAILED, "out of memory");
	code = parse_flags(c, argc, argv, a, words, &nwords, &dashes, usage);
	int after = dashes < 0 ? 0 : argc - dashes - 1;   /* words after "--" */
	if (code) {
		/* printed */
	} else if (dashes < 0 && nwords == (call ? 3 : 1)) {
		a->server = words[0];
		a->tool = call ? words[1] : NULL;
		a->arguments = call ? words[2] : NULL;
	} else if (dashes >= 0 && nwords == (call ? 2 : 0) && after >= 1) {
		a->tool = call ? words[0] : NULL;
		a->arguments = call ? words[1] : NULL;
		code = take_command(c, a, argv, dashes + 1, argc);
	} else if (dashes >= 0 && call && nwords == 0 && after >= 3) {
		a->tool = argv[argc - 2];
		a->arguments = argv[argc - 1];
		code = take_command(c, a, argv, dashes + 1, argc - 2);
	} else if (nwords == 0 && after == 0) {
		code = cli_fail(c, CLI_USAGE, "mcp %s needs a SERVER; %s", call ? "call" : "tools",
			usage);
	} else if (dashes >= 0 && call && nwords == 0) {
		code = cli_fail(c, CLI_USAGE, "mcp call -- COMMAND ARGS... TOOL ARGS_JSON needs a "
			"COMMAND, a TOOL and its ARGS_JSON; %s", usage);
	} else {
		code = cli_fail(c, CLI_USAGE, "mcp %s: unexpected arguments; %s",
			call ? "call" : "tools", usage);
	}
	free(words);
	if (!code && a->arguments) {
		const char *end = NULL;
		cJSON *v = cJSON_ParseWithOpts(a->arguments, &end, 1);
		bool object = cJSON_IsObject(v);
		cJSON_Delete(v);
		size_t at = !v && end && end >= a->arguments ? (size_t)(end - a->arguments) : 0;
		if (!v)
			code = cli_fail(c, CLI_USAGE, "ARGS_JSON is not valid JSON (at byte %zu: "
				"\"%.20s\"); it needs an object such as '{\"message\":\"hi\"}'", at,
				a->arguments + at);
		else if (!object)
			code = cli_fail(c, CLI_USAGE, "ARGS_JSON must be a JSON object such as "
				"'{\"message\":\"hi\"}'");
	}
	return code;
}

/* ---- the connection ---- */

/* A server name (1..32 of [A-Za-z0-9_-]) from a URL's host or a command's
 * file name, for log records and messages. */
static void derive_name(const char *src, bool url, char out[33])
{
	const char *p = src;
	size_t len;
	if (url) {
		const char *scheme = strstr(p, "://");
		p = scheme ? scheme + 3 : p;
		len = strcspn(p, ":/?#");
	} else {
		const char *slash = strrchr(p, '/');
		p = slash ? slash + 1 : p;
		len = strlen(p);
	}
	size_t n = 0;
	for (; n < len && n < 32; n++) {
		char ch = p[n];
		out[n] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			(ch >= '0' && ch <= '9') || ch == '-' ? ch : '_';
	}
	out[n] = '\0';
	if (!n)
		snprintf(out, 33, "server");
}

static bool is_url(const char *s)
{
	return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

static int give_transport(const cli *c, cog_ctx *ctx)
{
#ifdef COG_HAVE_CURL
	cog_transport *transport = NULL;
	if (cog_curl_transport_new(&transport, NULL) != 0 ||
	    cog_ctx_set_transport(ctx, transport) != 0)
		return cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	return CLI_OK;
#else
	(void)ctx;
	return cli_fail(c, CLI_FAILED, "this cog cannot reach an HTTP server: libcognition-curl "
		"is not built");
#endif
}

/* The failure of a library call: the message without terminal control,
 * CLI_CANCELED for Ctrl-C, `code` else. */
static int failure(const cli *c, int rc, int code)
{
	char message[4096];
	if (rc == COG_ECANCELED)
		return cli_fail(c, CLI_CANCELED, "canceled");
	cli_mcp_sanitize(cog_error_last(), message, sizeof(message));
	return cli_fail(c, code, "%s", message);
}

/* The config entry with --timeout put into it (cJSON_free). */
static int config_server(const cli *c, const mcp_args *a, char **json)
{
	int code = cli_config_mcp_server(c, a->server, json);
	if (code || !a->timeout_ms)
		return code;
	cJSON *s = cJSON_Parse(*json);
	cJSON_free(*json);
	cJSON_DeleteItemFromObjectCaseSensitive(s, "timeout_ms");
	cJSON_DeleteItemFromObjectCaseSensitive(s, "connect_timeout_ms");
	cJSON_AddNumberToObject(s, "timeout_ms", a->timeout_ms);
	cJSON_AddNumberToObject(s, "connect_timeout_ms", a->timeout_ms);
	*json = cJSON_PrintUnformatted(s);
	cJSON_Delete(s);
	return *json ? CLI_OK : cli_fail(c, CLI_FAILED, "out of memory");
}

static int connect_server(const cli *c, cog_ctx *ctx, const mcp_args *a, cog_mcp **mcp)
{
	char name[33];
	int rc, code;
	if (a->command || is_url(a->server)) {
		cog_mcp_options o = COG_MCP_OPTIONS_INIT;
		derive_name(a->command ? a->command[0] : a->server, !a->command, name);
		o.name = name;
		o.argv = (const char *const *)a->command;
		o.url = a->command ? NULL : a->server;
		o.timeout_ms = a->timeout_ms;
		o.connect_timeout_ms = a->timeout_ms;
		if (o.url && (code = give_transport(c, ctx)) != CLI_OK)
			return code;
		rc = cog_mcp_connect(mcp, ctx, &o);
	} else {
		char *json = NULL;
		code = config_server(c, a, &json);
		if (!code && strstr(json, "\"url\"") && !cog_ctx_transport(ctx))
			code = give_transport(c, ctx);
		if (code) {
			cJSON_free(json);
			return code;
		}
		rc = cog_mcp_connect_json(mcp, ctx, a->server, json);
		cJSON_free(json);
	}
	/* COG_EINVAL: what the user gave (a URL, the config entry) is wrong. */
	return rc ? failure(c, rc, rc == COG_EINVAL ? CLI_USAGE : CLI_FAILED) : CLI_OK;
}

/* ---- the context ---- */

static int open_ctx(cli *c, cog_ctx **ctx)
{
	cog_ctx_options o = COG_CTX_OPTIONS_INIT;
	o.log_level = COG_LOG_WARN;
	o.log_fn = cli_mcp_log_line;
	o.log_user_data = c;
	if (cog_ctx_options_from_env(&o) != 0)
		return cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	if (cli_mcp_log_level_set() && o.log_level <= COG_LOG_INFO) {
		o.event_fn = cli_mcp_on_event;    /* progress and other server notifications */
		o.event_user_data = c;
	}
	if (cog_ctx_new(ctx, &o) != 0)
		return cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	return CLI_OK;
}

/* ---- the subcommands ---- */

static int run_tools(cli *c, cog_mcp *mcp)
{
	char *json = NULL;
	int rc = cog_mcp_list_tools(mcp, &json);
	if (rc)
		return failure(c, rc, CLI_FAILED);
	if (c->json)
		printf("{\"ok\":true,\"tools\":%s}\n", json);
	else
		cli_mcp_print_tools(json);
	cog_free(json);
	return CLI_OK;
}

static int run_call(cli *c, cog_mcp *mcp, const mcp_args *a)
{
	char *result = NULL;
	int rc = cog_mcp_call_tool(mcp, a->tool, a->arguments, a->timeout_ms, &result);
	int code = CLI_OK;
	if (result && c->json)
		printf("{\"ok\":%s,\"result\":%s}\n", rc == COG_OK ? "true" : "false", result);
	else if (result && rc == COG_OK)
		cli_mcp_print_result(result);
	fflush(stdout);
	if (rc == COG_EUSER && result) {
		/* isError: the tool's own text, without terminal control */
		char text[8192], safe[8192];
		cli_mcp_error_text(result, text, sizeof(text));
		cli_mcp_sanitize(text, safe, sizeof(safe));
		fprintf(stderr, "%s: error: %s\n", c->program, safe);
		code = CLI_FAILED;
	} else if (rc && result && c->json) {
		char safe[4096];
		cli_mcp_sanitize(cog_error_last(), safe, sizeof(safe));
		fprintf(stderr, "%s: error: %s\n", c->program, safe);   /* JSON printed */
		code = rc == COG_ECANCELED ? CLI_CANCELED : CLI_FAILED;
	} else if (rc) {
		code = failure(c, rc, CLI_FAILED);
	}
	cog_free(result);
	return code;
}

static int run(cli *c, int argc, char **argv, bool call)
{
	mcp_args a = { NULL, NULL, NULL, NULL, 0 };
	int code = parse_args(c, argc, argv, call, &a);
	cog_ctx *ctx = NULL;
	cog_mcp *mcp = NULL;
	if (!code)
		code = open_ctx(c, &ctx);
	if (!code) {
		/* A server that exits under a write must not end cog. */
		signal(SIGPIPE, SIG_IGN);
		cli_cancel_on_sigint(ctx);
		code = connect_server(c, ctx, &a, &mcp);
		if (!code)
			code = call ? run_call(c, mcp, &a) : run_tools(c, mcp);
		cog_mcp_close(mcp);
		cli_cancel_restore();
	}
	cog_ctx_free(ctx);
	free(a.command);
	return code;
}

static int run_servers(cli *c, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			c->json = true;
		else
			return cli_fail(c, CLI_USAGE, "usage: cog mcp servers [--json]");
	}
	const char *path = NULL;
	char *json = NULL;
	int code = cli_config_load(c, &path, &json);
	if (!code)
		code = cli_mcp_print_servers(c, path, json);
	cJSON_free(json);
	return code;
}

int cmd_mcp(cli *c, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "tools") == 0)
		return run(c, argc - 1, argv + 1, false);
	if (argc >= 1 && strcmp(argv[0], "call") == 0)
		return run(c, argc - 1, argv + 1, true);
	if (argc >= 1 && strcmp(argv[0], "servers") == 0)
		return run_servers(c, argc - 1, argv + 1);
	if (argc >= 1)
		return cli_fail(c, CLI_USAGE, "unknown mcp command '%s'; usage: cog mcp tools SERVER "
			"| cog mcp call SERVER TOOL ARGS_JSON | cog mcp servers", argv[0]);
	return cli_fail(c, CLI_USAGE, "usage: cog mcp tools SERVER | cog mcp call SERVER TOOL "
		"ARGS_JSON | cog mcp servers (SERVER: an http(s) URL, a NAME from the config file, "
		"or -- COMMAND ARGS...)");
}
