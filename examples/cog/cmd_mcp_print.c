/*
 * What cog mcp prints: the tools table, a tool's result, the configured
 * servers. Everything a server sends is shown without terminal control:
 * control bytes and C1 characters as \xNN (stored-text style), except in a
 * tool's text sent to a pipe or file, which is written as it came.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"

void cli_mcp_sanitize(const char *s, char *out, size_t cap)
{
	size_t n = 0;
	if (!cap)
		return;
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && n + 5 < cap; p++) {
		bool c1 = p[0] == 0xc2 && p[1] >= 0x80 && p[1] < 0xa0;
		if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f || c1) {
			n += (size_t)snprintf(out + n, cap - n, "\\x%02x", c1 ? p[1] : *p);
			p += c1;
		} else {
			out[n++] = (char)*p;
		}
	}
	out[n] = '\0';
}

/* Columns for the table: the terminal's, else $COLUMNS, else 0 (no cut). */
static int terminal_columns(void)
{
	struct winsize ws;
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	const char *env = getenv("COLUMNS");
	int cols = env ? atoi(env) : 0;
	return cols > 0 && cols < 10000 ? cols : 0;
}

static const char *member_str(const cJSON *o, const char *name)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

void cli_mcp_print_tools(const char *tools_json)
{
	cJSON *tools = cJSON_Parse(tools_json);
	const cJSON *t;
	int namew = 4;
	cJSON_ArrayForEach(t, tools) {
		const char *name = member_str(t, "name");
		int w = name ? (int)strlen(name) : 1;
		namew = w > namew ? (w > 40 ? 40 : w) : namew;
	}
	if (cJSON_GetArraySize(tools) == 0) {
		puts("the server lists no tools");
		cJSON_Delete(tools);
		return;
	}
	int cols = terminal_columns(), text_cols = cols ? cols - namew - 2 : 0;
	if (cols && text_cols < 20)
		text_cols = 20;
	printf("%-*s  DESCRIPTION\n", namew, "NAME");
	cJSON_ArrayForEach(t, tools) {
		const char *name = member_str(t, "name"), *desc = member_str(t, "description");
		if (!desc)
			desc = member_str(t, "title");
		cli_mem_print_text(name ? name : "?", 40, true);
		int w = name ? (int)strlen(name) : 1;
		printf("%*s  ", w < namew ? namew - w : 0, "");
		cli_mem_print_text(desc ? desc : "", text_cols, true);
		putchar('\n');
	}
	cJSON_Delete(tools);
}

/* A tool's text: as it came to a pipe or a file, without terminal control
 * to a terminal (newlines and tabs kept). Ends with a newline. */
static void print_text(const char *s, bool terminal)
{
	size_t len = strlen(s);
	if (terminal)
		cli_mem_print_text(s, 0, false);   /* the memory commands' safe printer */
	else
		fwrite(s, 1, len, stdout);
	if (!len || s[len - 1] != '\n')
		putchar('\n');
}

/* One content item that is not text: a line saying what it is. */
static void print_other(const cJSON *item, const char *type)
{
	char line[1024];
	const char *mime = member_str(item, "mimeType");
	if (strcmp(type, "image") == 0 || strcmp(type, "audio") == 0) {
		const char *data = member_str(item, "data");
		snprintf(line, sizeof(line), "[%s %s, %zu bytes]", type, mime ? mime : "?",
			data ? strlen(data) / 4 * 3 : 0);
	} else if (strcmp(type, "resource_link") == 0) {
		const char *name = member_str(item, "name");
		snprintf(line, sizeof(line), "[resource link %s%s%s]", member_str(item, "uri") ?
			member_str(item, "uri") : "?", name ? " " : "", name ? name : "");
	} else {
		snprintf(line, sizeof(line), "[%s content]", type);
	}
	cli_mem_print_text(line, 0, true);
	putchar('\n');
}

/* Whether a text content holds structured as JSON (servers are asked to
 * send it both ways): then it is printed once. */
static bool in_text(const cJSON *result, const cJSON *structured)
{
	const cJSON *item;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(result, "content")) {
		const char *text = member_str(item, "text");
		cJSON *parsed = text ? cJSON_Parse(text) : NULL;
		bool same = parsed && cJSON_Compare(parsed, structured, 1);
		cJSON_Delete(parsed);
		if (same)
			return true;
	}
	return false;
}

void cli_mcp_print_result(const char *result_json)
{
	bool terminal = isatty(STDOUT_FILENO) != 0;
	cJSON *r = cJSON_Parse(result_json);
	const cJSON *item;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(r, "content")) {
		const char *type = member_str(item, "type");
		const cJSON *resource = cJSON_GetObjectItemCaseSensitive(item, "resource");
		if (!type)
			continue;
		if (strcmp(type, "text") == 0 && member_str(item, "text"))
			print_text(member_str(item, "text"), terminal);
		else if (strcmp(type, "resource") == 0 && member_str(resource, "text"))
			print_text(member_str(resource, "text"), terminal);
		else if (strcmp(type, "resource") == 0)
			print_other(resource, "resource");
		else
			print_other(item, type);
	}
	const cJSON *structured = cJSON_GetObjectItemCaseSensitive(r, "structuredContent");
	if (structured && !in_text(r, structured)) {
		/* cJSON escapes control characters in strings: safe as it is. */
		char *text = cJSON_PrintUnformatted(structured);
		if (text)
			puts(text);
		cJSON_free(text);
	}
	cJSON_Delete(r);
}

void cli_mcp_error_text(const char *result_json, char *out, size_t cap)
{
	cJSON *r = cJSON_Parse(result_json);
	const cJSON *item;
	size_t len = 0;
	out[0] = '\0';
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(r, "content")) {
		const char *text = member_str(item, "text");
		if (!text || len + 2 >= cap)
			continue;
		int n = snprintf(out + len, cap - len, "%s%s", len ? "\n" : "", text);
		len = n < 0 ? len : len + (size_t)n >= cap ? cap - 1 : len + (size_t)n;
	}
	if (!len)
		snprintf(out, cap, "the tool reported an error (isError) without text");
	cJSON_Delete(r);
}

/* ---- cog mcp servers ---- */

/* What one server entry runs, for the list: no env values, no headers. */
static void describe_server(const cJSON *s, cJSON *out)
{
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(s, "command");
	const cJSON *url = cJSON_GetObjectItemCaseSensitive(s, "url");
	cJSON_AddStringToObject(out, "transport", url ? "http" : "stdio");
	if (cJSON_IsString(url))
		cJSON_AddStringToObject(out, "url", url->valuestring);
	if (cJSON_IsString(cmd))
		cJSON_AddStringToObject(out, "command", cmd->valuestring);
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(s, "args");
	if (cJSON_IsArray(args))
		cJSON_AddItemToObject(out, "args", cJSON_Duplicate(args, 1));
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(s, "env"), *e;
	if (cJSON_IsObject(env)) {
		cJSON *names = cJSON_AddArrayToObject(out, "env");
		cJSON_ArrayForEach(e, env)
			cJSON_AddItemToArray(names, cJSON_CreateString(e->string));
	}
	const cJSON *allowed = cJSON_GetObjectItemCaseSensitive(s, "allowed_tools");
	if (allowed)
		cJSON_AddItemToObject(out, "allowed_tools", cJSON_Duplicate(allowed, 1));
}

int cli_mcp_print_servers(const cli *c, const char *path, const char *config_json)
{
	cJSON *root = config_json ? cJSON_Parse(config_json) : NULL;
	const cJSON *servers = cJSON_GetObjectItemCaseSensitive(root, "mcpServers"), *s;
	cJSON *list = cJSON_CreateArray();
	cJSON_ArrayForEach(s, servers) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddItemToArray(list, d);
		cJSON_AddStringToObject(d, "name", s->string);
		describe_server(s, d);
	}
	if (c->json) {
		cJSON *out = cJSON_CreateObject();
		if (path)
			cJSON_AddStringToObject(out, "config", path);
		else
			cJSON_AddNullToObject(out, "config");
		cJSON_AddItemToObject(out, "servers", list);
		char *text = cJSON_PrintUnformatted(out);
		if (text)
			puts(text);
		cJSON_free(text);
		cJSON_Delete(out);
		cJSON_Delete(root);
		return CLI_OK;
	}
	if (!path)
		fprintf(stderr, "%s: no config file (--config PATH, $COG_CONFIG or ./cog.json)\n",
			c->program);
	else if (!cJSON_GetArraySize(list))
		printf("no MCP servers in %s\n", path);
	const cJSON *d;
	cJSON_ArrayForEach(d, list) {
		char line[4096];
		size_t len = (size_t)snprintf(line, sizeof(line), "%s  ", member_str(d, "name"));
		const cJSON *a;
		if (member_str(d, "url")) {
			snprintf(line + len, sizeof(line) - len, "%s", member_str(d, "url"));
		} else {
			len += (size_t)snprintf(line + len, sizeof(line) - len, "%s",
				member_str(d, "command") ? member_str(d, "command") : "?");
			cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(d, "args"))
				if (cJSON_IsString(a) && len < sizeof(line))
					len += (size_t)snprintf(line + len, sizeof(line) - len, " %s",
						a->valuestring);
		}
		cli_mem_print_text(line, terminal_columns(), true);
		putchar('\n');
	}
	cJSON_Delete(list);
	cJSON_Delete(root);
	return CLI_OK;
}

/* ---- the context: warnings as the other commands, the server's records
 * and standard error only when COG_LOG_LEVEL asks ---- */

bool cli_mcp_log_level_set(void)
{
	const char *v = getenv("COG_LOG_LEVEL");
	return v && *v;
}

void cli_mcp_log_line(int level, const char *line, void *user_data)
{
	const cli *c = user_data;
	cJSON *record = cJSON_Parse(line);
	bool from_server = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(record, "fields"), "mcp") != NULL;
	if (!from_server || cli_mcp_log_level_set()) {
		static const char *const names[] = { "trace", "debug", "info", "warning", "error" };
		const char *message = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(record,
			"message"));
		char safe[4096];
		cli_mcp_sanitize(message ? message : line, safe, sizeof(safe));
		fprintf(stderr, "%s: %s: %s\n", c->program,
			level >= 0 && level <= COG_LOG_ERROR ? names[level] : "log", safe);
	}
	cJSON_Delete(record);
}

/* Progress as "progress: 1/2 message", other notifications by method. */
void cli_mcp_on_event(const char *event, void *user_data)
{
	const cli *c = user_data;
	cJSON *e = cJSON_Parse(event);
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "type"));
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(e, "data");
	const cJSON *progress = cJSON_GetObjectItemCaseSensitive(data, "progress");
	const cJSON *total = cJSON_GetObjectItemCaseSensitive(data, "total");
	const char *message = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data,
		"message"));
	char line[4096], safe[4096];
	if (type && strcmp(type, "mcp.progress") == 0 && cJSON_IsNumber(progress) &&
	    cJSON_IsNumber(total))
		snprintf(line, sizeof(line), "progress: %g/%g%s%s", progress->valuedouble,
			total->valuedouble, message ? " " : "", message ? message : "");
	else if (type && strcmp(type, "mcp.progress") == 0 && cJSON_IsNumber(progress))
		snprintf(line, sizeof(line), "progress: %g%s%s", progress->valuedouble,
			message ? " " : "", message ? message : "");
	else
		snprintf(line, sizeof(line), "event: %s", event);
	cJSON_Delete(e);
	cli_mcp_sanitize(line, safe, sizeof(safe));
	fprintf(stderr, "%s: %s\n", c->program, safe);
}
