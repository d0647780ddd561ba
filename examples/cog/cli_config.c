/*
 * cog's configuration file: --config PATH, else $COG_CONFIG, else ./cog.json
 * when it exists. A JSON object; what cog reads of it today is the
 * "mcpServers" object most MCP hosts use:
 *   {"mcpServers":{"NAME":{"command":"...","args":[...]} | {"url":"..."}}}
 * Each entry is passed as it is to cog_mcp_connect_json(), which checks
 * its members. "llm", an object, goes to cog_llm_configure() when an LLM
 * is set up (prices per million tokens, routes, retry, cache):
 *   {"llm":{"prices":{"MODEL":{"input":0.15,"output":0.6}}}}
 * "auth", an object, goes to cog_auth_configure() for the user, login and
 * token commands (issuer, audience, token lifetimes, login rate, argon2id
 * limits):
 *   {"auth":{"issuer":"cog","access_ttl_s":600,"login_per_minute":30}}
 * A file that cannot be read or is not such JSON is a usage error naming
 * the file and the line and column where the JSON goes wrong.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "cli.h"

static const char *config_flag;   /* --config, set once by main() */

void cli_config_set_path(const char *path)
{
	config_flag = path;
}

const char *cli_config_path(bool *named)
{
	const char *env = getenv("COG_CONFIG");
	struct stat st;
	*named = true;
	if (config_flag)
		return config_flag;
	if (env && *env)
		return env;
	*named = false;
	return stat("cog.json", &st) == 0 ? "cog.json" : NULL;
}

/* Line and column (from 1) of byte `at` of text. */
static void line_col(const char *text, size_t at, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < at && text[i]; i++) {
		if (text[i] == '\n') {
			++*line;
			*col = 1;
		} else {
			++*col;
		}
	}
}

/* The text near byte `at`, on one line, for an error message. */
static void excerpt(const char *text, size_t at, char *out, size_t cap)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)text + at; *p && n + 1 < cap && n < 24;
	     p++)
		out[n++] = *p < 0x20 || *p == 0x7f ? ' ' : (char)*p;
	out[n] = '\0';
}

/* Check what cog reads: a top-level object; "mcpServers", when present,
 * an object of objects named 1..32 of [A-Za-z0-9_-]; "llm", when present,
 * an object. */
static int check_shape(const cli *c, const char *path, const cJSON *root)
{
	if (!cJSON_IsObject(root))
		return cli_fail(c, CLI_USAGE, "config file %s: the top level must be a JSON object "
			"such as {\"mcpServers\":{...}}", path);
	const cJSON *llm = cJSON_GetObjectItemCaseSensitive(root, "llm");
	if (llm && !cJSON_IsObject(llm))
		return cli_fail(c, CLI_USAGE, "config file %s: \"llm\" must be an object of router "
			"settings such as {\"prices\":{...}}", path);
	const cJSON *servers = cJSON_GetObjectItemCaseSensitive(root, "mcpServers");
	if (!servers)
		return CLI_OK;
	if (!cJSON_IsObject(servers))
		return cli_fail(c, CLI_USAGE, "config file %s: \"mcpServers\" must be an object of "
			"servers by name", path);
	const cJSON *s;
	cJSON_ArrayForEach(s, servers) {
		const char *name = s->string;
		size_t len = strlen(name);
		if (len == 0 || len > 32 || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789_-") != len)
			return cli_fail(c, CLI_USAGE, "config file %s: server name \"%.40s\" must be 1 "
				"to 32 of A-Z, a-z, 0-9, _ and -", path, name);
		if (!cJSON_IsObject(s))
			return cli_fail(c, CLI_USAGE, "config file %s: mcpServers.%s must be an object "
				"such as {\"command\":\"...\",\"args\":[...]} or {\"url\":\"...\"}",
				path, name);
	}
	return CLI_OK;
}

int cli_config_load(const cli *c, const char **path_out, char **json)
{
	bool named;
	const char *path = cli_config_path(&named);
	*json = NULL;
	if (path_out)
		*path_out = path;
	if (!path)
		return CLI_OK;
	char *text = NULL, why[512];
	if (cli_read_file(path, &text, why, sizeof(why)) != 0)
		return cli_fail(c, CLI_USAGE, "config file: %s%s", why, named ? "" :
			" (found in the current directory)");
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
	int code = CLI_OK;
	if (!root) {
		size_t at = end && end >= text ? (size_t)(end - text) : 0;
		int line, col;
		char near[32];
		line_col(text, at, &line, &col);
		excerpt(text, at, near, sizeof(near));
		code = cli_fail(c, CLI_USAGE, "config file %s is not valid JSON: line %d, column %d "
			"(byte %zu), near \"%s\"", path, line, col, at, near);
	} else {
		code = check_shape(c, path, root);
	}
	if (!code) {
		*json = cJSON_PrintUnformatted(root);
		if (!*json)
			code = cli_fail(c, CLI_FAILED, "out of memory");
	}
	cJSON_Delete(root);
	free(text);
	return code;
}

int cli_config_mcp_server(const cli *c, const char *name, char **server_json)
{
	const char *path = NULL;
	char *json = NULL;
	*server_json = NULL;
	int code = cli_config_load(c, &path, &json);
	if (code)
		return code;
	if (!path)
		return cli_fail(c, CLI_USAGE, "'%s' is not an http(s) URL, and there is no config "
			"file to name servers in (--config PATH, $COG_CONFIG or ./cog.json); for a "
			"stdio server give -- COMMAND ARGS...", name);
	cJSON *root = cJSON_Parse(json);
	cJSON_free(json);
	const cJSON *servers = cJSON_GetObjectItemCaseSensitive(root, "mcpServers");
	const cJSON *server = cJSON_GetObjectItemCaseSensitive(servers, name);
	if (!server) {
		char known[512] = "";
		size_t len = 0;
		const cJSON *s;
		cJSON_ArrayForEach(s, servers) {
			int n = snprintf(known + len, sizeof(known) - len, "%s%s", len ? ", " : "",
				s->string);
			if (n < 0 || (size_t)n >= sizeof(known) - len)
				break;
			len += (size_t)n;
		}
		code = cli_fail(c, CLI_USAGE, "no MCP server '%s' in config file %s (%s%s)", name,
			path, len ? "it has: " : "its \"mcpServers\" is empty or missing",
			known);
	} else {
		*server_json = cJSON_PrintUnformatted(server);
		if (!*server_json)
			code = cli_fail(c, CLI_FAILED, "out of memory");
	}
	cJSON_Delete(root);
	return code;
}
