/*
 * lib/mcp/config.c: cog_mcp_connect_json, a server described as in the
 * "mcpServers" entries of the usual MCP host configuration files:
 *   {"command":"npx","args":[..],"env":{..},"cwd":".."}
 *   {"url":"..","headers":{..},"bearer_token_env":"VAR"}
 * Unknown members and members of the wrong type are refused by name.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_int.h"

#define FN "cog_mcp_connect_json"

static const char *const known_members[] = {
	"type", "command", "args", "env", "cwd", "url", "headers", "bearer_token",
	"bearer_token_env", "allowed_tools", "timeout_ms", "connect_timeout_ms",
	"max_restarts", "max_message_bytes", NULL
};

/* What the options point into (freed after connecting). */
typedef struct config_parts {
	const char **argv;
	char **env;
	size_t env_count;
	char **headers;
	size_t header_count;
	char *allowed;
} config_parts;

static void parts_dispose(config_parts *p)
{
	cog_free(p->argv);
	for (size_t i = 0; i < p->env_count; i++)
		cog_free(p->env[i]);
	cog_free(p->env);
	for (size_t i = 0; i < p->header_count; i++)
		cog_free(p->headers[i]);
	cog_free(p->headers);
	cog_free(p->allowed);
}

static int wrong_type(const char *name, const char *member, const char *want)
{
	return cog__error(COG_EINVAL, FN ": server \"%s\": \"%s\" must be %s",
	                  name ? name : "", member, want);
}

static int get_string(const cJSON *root, const char *name, const char *member,
                      const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, member);
	*out = NULL;
	if (!v)
		return COG_OK;
	if (!cJSON_IsString(v))
		return wrong_type(name, member, "a string");
	*out = v->valuestring;
	return COG_OK;
}

static int get_count(const cJSON *root, const char *name, const char *member,
                     double max, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, member);
	if (!v)
		return COG_OK;
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max ||
	    floor(v->valuedouble) != v->valuedouble)
		return wrong_type(name, member, "a non-negative integer in range");
	*out = v->valuedouble;
	return COG_OK;
}

/* An object of strings as "K<sep>V" entries. */
static int string_map(const cJSON *root, const char *name, const char *member,
                      const char *sep, char ***out, size_t *count)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, member);
	if (!v)
		return COG_OK;
	if (!cJSON_IsObject(v))
		return wrong_type(name, member, "an object of strings");
	size_t n = (size_t)cJSON_GetArraySize(v);
	char **list = cog__calloc(n + 1, sizeof(*list));
	if (!list)
		return cog__oom(FN);
	*out = list;
	const cJSON *e;
	cJSON_ArrayForEach(e, v) {
		if (!cJSON_IsString(e))
			return cog__error(COG_EINVAL, FN ": server \"%s\": \"%s\" member "
				"\"%s\" must be a string", name, member, e->string);
		cog_buf b = COG_BUF_INIT;
		cog_buf_printf(&b, "%s%s%s", e->string, sep, e->valuestring);
		if (!(list[*count] = cog_buf_detach(&b)))
			return cog__oom(FN);
		(*count)++;
	}
	return COG_OK;
}

static int build_argv(const cJSON *root, const char *name, const char *command,
                      config_parts *p)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(root, "args");
	if (args && !cJSON_IsArray(args))
		return wrong_type(name, "args", "an array of strings");
	size_t n = args ? (size_t)cJSON_GetArraySize(args) : 0;
	p->argv = cog__calloc(n + 2, sizeof(*p->argv));
	if (!p->argv)
		return cog__oom(FN);
	p->argv[0] = command;
	size_t i = 1;
	const cJSON *a;
	cJSON_ArrayForEach(a, args) {
		if (!cJSON_IsString(a))
			return wrong_type(name, "args", "an array of strings");
		p->argv[i++] = a->valuestring;
	}
	return COG_OK;
}

static int check_members(const cJSON *root, const char *name)
{
	const cJSON *m;
	cJSON_ArrayForEach(m, root) {
		bool known = false;
		for (size_t i = 0; known_members[i]; i++)
			known = known || strcmp(m->string, known_members[i]) == 0;
		if (!known)
			return cog__error(COG_EINVAL, FN ": server \"%s\": unknown member "
				"\"%s\"", name, m->string);
	}
	return COG_OK;
}

static int fill_options(const cJSON *root, const char *name, cog_mcp_options *o,
                        config_parts *p)
{
	int rc = check_members(root, name);
	const char *type = NULL, *command = NULL, *url = NULL, *token_env = NULL;
	if (rc == COG_OK) rc = get_string(root, name, "type", &type);
	if (rc == COG_OK) rc = get_string(root, name, "command", &command);
	if (rc == COG_OK) rc = get_string(root, name, "url", &url);
	if (rc == COG_OK) rc = get_string(root, name, "cwd", &o->cwd);
	if (rc == COG_OK) rc = get_string(root, name, "bearer_token", &o->bearer_token);
	if (rc == COG_OK) rc = get_string(root, name, "bearer_token_env", &token_env);
	if (rc != COG_OK)
		return rc;
	bool want_http = false;
	if (type) {
		if (strcmp(type, "http") == 0 || strcmp(type, "streamable-http") == 0 ||
		    strcmp(type, "streamableHttp") == 0)
			want_http = true;
		else if (strcmp(type, "stdio") != 0)
			return cog__error(COG_EINVAL, FN ": server \"%s\": \"type\" \"%s\" "
				"is not supported (stdio, http, streamable-http)", name, type);
	} else {
		want_http = url != NULL;
	}
	if (command && url)
		return cog__error(COG_EINVAL, FN ": server \"%s\": give \"command\" or "
			"\"url\", not both", name);
	if (want_http && !url)
		return cog__error(COG_EINVAL, FN ": server \"%s\": \"url\" is missing",
		                  name);
	if (!want_http && !command)
		return cog__error(COG_EINVAL, FN ": server \"%s\": \"command\" or "
			"\"url\" is missing", name);
	if (command) {
		if ((rc = build_argv(root, name, command, p)) != COG_OK ||
		    (rc = string_map(root, name, "env", "=", &p->env, &p->env_count)) != COG_OK)
			return rc;
		o->argv = p->argv;
		o->envp = (const char *const *)p->env;
	} else {
		static const char *const stdio_only[] = { "args", "env", "cwd", NULL };
		for (size_t i = 0; stdio_only[i]; i++)
			if (cJSON_GetObjectItemCaseSensitive(root, stdio_only[i]))
				return cog__error(COG_EINVAL, FN ": server \"%s\": \"%s\" is "
					"for stdio servers (with \"command\")", name, stdio_only[i]);
		if ((rc = string_map(root, name, "headers", ": ", &p->headers,
		                     &p->header_count)) != COG_OK)
			return rc;
		o->url = url;
		o->headers = (const char *const *)p->headers;
		o->header_count = p->header_count;
	}
	if (token_env) {
		if (o->bearer_token)
			return cog__error(COG_EINVAL, FN ": server \"%s\": give "
				"\"bearer_token\" or \"bearer_token_env\", not both", name);
		const char *token = getenv(token_env);
		if (!token || !token[0])
			return cog__error(COG_EINVAL, FN ": server \"%s\": "
				"\"bearer_token_env\" names \"%s\", which is not set", name,
				token_env);
		o->bearer_token = token;
	}
	const cJSON *allowed = cJSON_GetObjectItemCaseSensitive(root, "allowed_tools");
	if (allowed) {
		const cJSON *g;
		bool ok = cJSON_IsArray(allowed);
		cJSON_ArrayForEach(g, allowed)
			ok = ok && cJSON_IsString(g);
		if (!ok)
			return wrong_type(name, "allowed_tools", "an array of strings");
		if (!(p->allowed = cog_json_print(allowed)))
			return cog__oom(FN);
		o->allowed_tools = p->allowed;
	}
	double t = 0, ct = 0, restarts = 0, bytes = 0;
	if ((rc = get_count(root, name, "timeout_ms", UINT_MAX, &t)) != COG_OK ||
	    (rc = get_count(root, name, "connect_timeout_ms", UINT_MAX, &ct)) != COG_OK ||
	    (rc = get_count(root, name, "max_restarts", UINT_MAX, &restarts)) != COG_OK ||
	    (rc = get_count(root, name, "max_message_bytes", (double)(1ull << 53),
	                    &bytes)) != COG_OK)
		return rc;
	o->timeout_ms = (unsigned int)t;
	o->connect_timeout_ms = (unsigned int)ct;
	o->max_restarts = (unsigned int)restarts;
	o->max_message_bytes = (size_t)bytes;
	return COG_OK;
}

int cog_mcp_connect_json(cog_mcp **out, cog_ctx *ctx, const char *name,
                         const char *server_json)
{
	COG_CHECK_ARG(out, FN, "out is NULL");
	*out = NULL;
	COG_CHECK_ARG(ctx, FN, "ctx is NULL");
	COG_CHECK_ARG(name, FN, "name is NULL");
	COG_CHECK_ARG(server_json, FN, "server_json is NULL");
	cJSON *root = NULL;
	int rc = cog_json_parse(&root, server_json, "server JSON");
	if (rc != COG_OK)
		return cog__error_wrap(rc, FN ": server \"%s\"", name);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return cog__error(COG_EINVAL, FN ": server \"%s\": the description is "
			"not a JSON object", name);
	}
	cog_mcp_options o = COG_MCP_OPTIONS_INIT;
	o.name = name;
	config_parts parts = { 0 };
	rc = fill_options(root, name, &o, &parts);
	if (rc == COG_OK)
		rc = cog_mcp_connect(out, ctx, &o);
	parts_dispose(&parts);
	cJSON_Delete(root);
	return rc;
}
