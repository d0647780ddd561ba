/*
 * The options of a connection: cog_mcp_options_init, checking what the host
 * gave (every message names the member at fault) and the connection's own
 * copy with the defaults applied; the protocol versions we speak; the
 * allowed_tools filter; mcp_log.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mcp_int.h"
#include "tool_int.h"

#define FN "cog_mcp_connect"
#define NAME_MAX_LEN 32
#define MESSAGE_MIN ((size_t)1 << 10)
#define MESSAGE_MAX ((size_t)1 << 30)

const char *const mcp_protocol_versions[] = {
	COG_MCP_PROTOCOL_VERSION, "2025-06-18", "2025-03-26", "2024-11-05", NULL
};

bool mcp_protocol_known(const char *v)
{
	for (size_t i = 0; v && mcp_protocol_versions[i]; i++)
		if (strcmp(v, mcp_protocol_versions[i]) == 0)
			return true;
	return false;
}

int cog_mcp_options_init(cog_mcp_options *options, unsigned int version)
{
	COG_CHECK_ARG(options, "cog_mcp_options_init", "options is NULL");
	if (version == 0 || version > COG_MCP_OPTIONS_VERSION)
		return cog__error(COG_EVERSION, "cog_mcp_options_init: version %u is not "
			"supported (1..%u)", version, COG_MCP_OPTIONS_VERSION);
	cog_mcp_options defaults = COG_MCP_OPTIONS_INIT;
	*options = defaults;
	options->version = version;
	return COG_OK;
}

/* ---- checks ---- */

static int check_name(const char *name)
{
	if (!name)
		return cog__error(COG_EINVAL, FN ": options.name is NULL");
	size_t len = strlen(name);
	if (len == 0 || len > NAME_MAX_LEN)
		return cog__error(COG_EINVAL, FN ": options.name must be 1..%d characters "
			"(it has %zu)", NAME_MAX_LEN, len);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '_' || c == '-';
		if (!ok)
			return cog__error(COG_EINVAL, FN ": options.name \"%s\" may only hold "
				"A-Z, a-z, 0-9, '_' and '-' (byte %zu is not one)", name, i);
	}
	return COG_OK;
}

static bool has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

static int check_url(const char *url)
{
	size_t skip = 0;
	if (strncasecmp(url, "http://", 7) == 0)
		skip = 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		skip = 8;
	if (skip == 0)
		return cog__error(COG_EINVAL, FN ": options.url must start with http:// "
			"or https://");
	if (url[skip] == '\0' || url[skip] == '/')
		return cog__error(COG_EINVAL, FN ": options.url \"%s\" has no host", url);
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return cog__error(COG_EINVAL, FN ": options.url holds a space or a "
				"control character at byte %zu", (size_t)(p - url));
	return COG_OK;
}

static int check_envp(const char *const *envp)
{
	for (size_t i = 0; envp && envp[i]; i++) {
		const char *eq = strchr(envp[i], '=');
		if (!eq || eq == envp[i])
			return cog__error(COG_EINVAL, FN ": options.envp[%zu] must be "
				"\"NAME=value\" with a non-empty NAME", i);
	}
	return COG_OK;
}

static bool header_name_char(char c)
{
	/* RFC 9110 tchar */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int check_headers(const char *const *headers, size_t count)
{
	if (count > 0 && !headers)
		return cog__error(COG_EINVAL, FN ": options.headers is NULL but "
			"options.header_count is %zu", count);
	for (size_t i = 0; i < count; i++) {
		const char *h = headers[i];
		if (!h)
			return cog__error(COG_EINVAL, FN ": options.headers[%zu] is NULL", i);
		const char *colon = strchr(h, ':');
		bool ok = colon && colon > h;
		for (const char *p = h; ok && p < colon; p++)
			ok = header_name_char(*p);
		if (!ok)
			return cog__error(COG_EINVAL, FN ": options.headers[%zu] must be "
				"\"Name: value\" with a header name before the colon", i);
		if (has_crlf(h))
			return cog__error(COG_EINVAL, FN ": options.headers[%zu] holds a CR "
				"or LF", i);
	}
	return COG_OK;
}

static int parse_allowed(cJSON **out, const char *text)
{
	*out = NULL;
	if (!text)
		return COG_OK;
	cJSON *globs = NULL;
	int rc = cog_json_validate(text, strlen(text), FN ": options.allowed_tools");
	if (rc == 0)
		rc = cog_json_parse(&globs, text, FN ": options.allowed_tools");
	if (rc != 0)
		return rc;
	if (!cJSON_IsArray(globs)) {
		cJSON_Delete(globs);
		return cog__error(COG_EINVAL, FN ": options.allowed_tools must be a JSON "
			"array of strings");
	}
	int i = 0;
	const cJSON *g;
	cJSON_ArrayForEach(g, globs) {
		if (!cJSON_IsString(g)) {
			cJSON_Delete(globs);
			return cog__error(COG_EINVAL, FN ": options.allowed_tools[%d] is not "
				"a string", i);
		}
		i++;
	}
	*out = globs;
	return COG_OK;
}

static int check(const cog_mcp_options *o)
{
	if (!o)
		return cog__error(COG_EINVAL, FN ": options is NULL");
	if (o->version == 0 || o->version > COG_MCP_OPTIONS_VERSION)
		return cog__error(COG_EVERSION, FN ": options.version %u is not supported "
			"(1..%u; use cog_mcp_options_init)", o->version, COG_MCP_OPTIONS_VERSION);
	int rc = check_name(o->name);
	if (rc != 0)
		return rc;
	if (o->argv && o->url)
		return cog__error(COG_EINVAL, FN ": options.argv and options.url are both "
			"set (give exactly one: argv for stdio, url for HTTP)");
	if (!o->argv && !o->url)
		return cog__error(COG_EINVAL, FN ": neither options.argv nor options.url "
			"is set (give exactly one: argv for stdio, url for HTTP)");
	if (o->argv && (!o->argv[0] || !o->argv[0][0]))
		return cog__error(COG_EINVAL, FN ": options.argv is empty (argv[0] must "
			"name the program)");
	if (o->url && (rc = check_url(o->url)) != 0)
		return rc;
	if ((rc = check_envp(o->envp)) != 0)
		return rc;
	if (o->cwd && !o->cwd[0])
		return cog__error(COG_EINVAL, FN ": options.cwd is empty (NULL: the "
			"host's)");
	if (o->bearer_token && (!o->bearer_token[0] || has_crlf(o->bearer_token)))
		return cog__error(COG_EINVAL, FN ": options.bearer_token is empty or "
			"holds a CR or LF");
	if ((rc = check_headers(o->headers, o->header_count)) != 0)
		return rc;
	if (o->max_message_bytes != 0 && (o->max_message_bytes < MESSAGE_MIN ||
	                                   o->max_message_bytes > MESSAGE_MAX))
		return cog__error(COG_EINVAL, FN ": options.max_message_bytes %zu is out "
			"of range (1 KiB..1 GiB, or 0 for 16 MiB)", o->max_message_bytes);
	return COG_OK;
}

/* ---- the copy ---- */

static char **copy_strv(const char *const *v, size_t count, bool terminated)
{
	if (terminated)
		for (count = 0; v[count]; count++)
			;
	char **copy = cog__calloc(count + 1, sizeof(*copy));
	if (!copy)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		copy[i] = cog__strdup(v[i]);
		if (!copy[i]) {
			for (size_t j = 0; j < i; j++)
				cog_free(copy[j]);
			cog_free(copy);
			return NULL;
		}
	}
	return copy;
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		cog_free(v[i]);
	cog_free(v);
}

static bool dup_opt(char **dst, const char *src)
{
	if (!src)
		return true;
	*dst = cog__strdup(src);
	return *dst != NULL;
}

int mcp_config_from_options(mcp_config *cfg, const cog_mcp_options *options)
{
	memset(cfg, 0, sizeof(*cfg));
	int rc = check(options);
	if (rc != 0)
		return rc;
	const cog_mcp_options *o = options;
	rc = parse_allowed(&cfg->allowed_tools, o->allowed_tools);
	if (rc != 0)
		return rc;
	bool ok = dup_opt(&cfg->name, o->name) && dup_opt(&cfg->cwd, o->cwd) &&
		dup_opt(&cfg->url, o->url) && dup_opt(&cfg->bearer_token, o->bearer_token);
	if (ok && o->argv)
		ok = (cfg->argv = copy_strv(o->argv, 0, true)) != NULL;
	if (ok && o->envp)
		ok = (cfg->envp = copy_strv(o->envp, 0, true)) != NULL;
	if (ok && o->header_count > 0) {
		ok = (cfg->headers = copy_strv(o->headers, o->header_count, false)) != NULL;
		cfg->header_count = ok ? o->header_count : 0;
	}
	if (!ok) {
		mcp_config_dispose(cfg);
		return cog__oom(FN ": options");
	}
	cfg->timeout_ms = o->timeout_ms ? o->timeout_ms : MCP_DEFAULT_TIMEOUT_MS;
	cfg->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms :
		MCP_DEFAULT_CONNECT_TIMEOUT_MS;
	cfg->max_restarts = o->max_restarts;
	cfg->max_message_bytes = o->max_message_bytes ? o->max_message_bytes :
		MCP_DEFAULT_MAX_MESSAGE;
	cfg->flags = o->flags;
	cfg->on_request = o->on_request;
	cfg->request_user_data = o->request_user_data;
	return COG_OK;
}

void mcp_config_dispose(mcp_config *cfg)
{
	if (!cfg)
		return;
	cog_free(cfg->name);
	free_strv(cfg->argv);
	free_strv(cfg->envp);
	cog_free(cfg->cwd);
	cog_free(cfg->url);
	if (cfg->bearer_token) {
		memset(cfg->bearer_token, 0, strlen(cfg->bearer_token));
		cog_free(cfg->bearer_token);
	}
	free_strv(cfg->headers);
	cJSON_Delete(cfg->allowed_tools);
	memset(cfg, 0, sizeof(*cfg));
}

bool mcp_tool_allowed(const mcp_config *cfg, const char *name)
{
	if (!name)
		return false;
	if (!cfg->allowed_tools)
		return true;
	const cJSON *g;
	cJSON_ArrayForEach(g, cfg->allowed_tools)
		if (cJSON_IsString(g) && tool_glob_match(g->valuestring, name))
			return true;
	return false;
}

/* ---- logging with the server's name ---- */

void mcp_log(cog_mcp *m, int level, cJSON *fields, const char *fmt, ...)
{
	if (!fields)
		fields = cJSON_CreateObject();
	if (fields) {
		cJSON_DeleteItemFromObjectCaseSensitive(fields, "mcp");
		cJSON *name = cJSON_CreateString(m->cfg.name ? m->cfg.name : "");
		if (!name || !cJSON_AddItemToObject(fields, "mcp", name))
			cJSON_Delete(name);
	}
	cog_buf text = COG_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	va_list copy;
	va_copy(copy, ap);
	int len = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (len >= 0 && cog_buf_reserve(&text, (size_t)len + 1) == 0) {
		vsnprintf(text.ptr, (size_t)len + 1, fmt, ap);
		text.len = (size_t)len;
	}
	va_end(ap);
	cog__log(m->ctx, level, fields, "%s", text.ptr ? text.ptr : fmt);
	cog_buf_dispose(&text);
}
