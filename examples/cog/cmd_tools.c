/*
 * cog tools list | cog tools call NAME ARGS_JSON, cog audit verify | show,
 * cog approvals, cog approve ID [--edit ARGS_JSON], cog deny ID.
 *
 * Every call goes through the library's tool layer: the arguments are
 * checked against the tool's schema, file tools stay inside --workspace,
 * http_fetch reaches only --allow-net hosts, python and shell run in the
 * sandbox, and each call is appended to the audit log in the database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "cli.h"

#ifdef COG_HAVE_CURL
#include <cognition/curl.h>
#endif
#ifdef COG_HAVE_SQLITE
#include <cognition/sqlite.h>
#endif

int cli_define_tools(const cli *c, cog_ctx *ctx)
{
	if (cog_tool_define_builtins(ctx, NULL) != 0)
		return cli_fail(c, CLI_FAILED, "%s", cog_error_last());
#ifdef COG_HAVE_SQLITE
	if (cog_sqlite_define_sql_tool(ctx, 0) != 0)
		return cli_fail(c, CLI_FAILED, "%s", cog_error_last());
#endif
#ifdef COG_HAVE_CURL
	cog_transport *transport = NULL;
	if (cog_curl_transport_new(&transport, NULL) != 0 ||
	    cog_ctx_set_transport(ctx, transport) != 0)
		return cli_fail(c, CLI_FAILED, "%s", cog_error_last());
#endif
	return CLI_OK;
}

/* ---- cog tools list ---- */

static int tools_list(cli *c, int argc, char **argv)
{
	if (argc > 1)
		return cli_fail(c, CLI_USAGE, "usage: cog tools list [PATTERN]");
	cog_ctx *ctx = NULL;
	int code = cli_open(c, CLI_DB_NONE, NULL, &ctx);
	if (!code)
		code = cli_define_tools(c, ctx);
	char *json = NULL;
	if (!code && cog_tool_list(ctx, argc ? argv[0] : NULL, COG_TOOL_FORMAT_COG, &json) != 0)
		code = cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	if (!code && c->json) {
		printf("{\"ok\":true,\"tools\":%s}\n", json);
	} else if (!code) {
		cJSON *tools = cJSON_Parse(json);
		const cJSON *t;
		cJSON_ArrayForEach(t, tools) {
			printf("%-12s", cJSON_GetObjectItemCaseSensitive(t, "name")->valuestring);
			const cJSON *f;
			const char *sep = " [";
			cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(t, "flags")) {
				printf("%s%s", sep, f->valuestring);
				sep = ", ";
			}
			printf("%s\n    %s\n", sep[0] == ',' ? "]" : "",
				cJSON_GetObjectItemCaseSensitive(t, "description")->valuestring);
		}
		cJSON_Delete(tools);
	}
	cog_free(json);
	cog_ctx_free(ctx);
	return code;
}

/* ---- cog tools call ---- */

/* Append a JSON string to a growing JSON array text in buf. */
int cli_add_host(const cli *c, char *buf, size_t cap, const char *host)
{
	size_t len = strlen(buf);
	if (!host || !*host || strpbrk(host, "\"\\ ") || len + strlen(host) + 4 >= cap)
		return cli_fail(c, CLI_USAGE, "--allow-net needs a HOST (like example.org or "
			"*.example.org)");
	snprintf(buf + len - 1, cap - len + 1, "%s\"%s\"]", len > 2 ? "," : "", host);
	return CLI_OK;
}

static int tools_call(cli *c, int argc, char **argv)
{
	static const char usage[] = "usage: cog tools call NAME ARGS_JSON [--workspace DIR] "
		"[--allow-net HOST]... [--timeout MS] [--unsandboxed]";
	cog_tool_call_options co = COG_TOOL_CALL_OPTIONS_INIT;
	char hosts[4096] = "[]";
	const char *name = NULL, *args = NULL;
	int code = CLI_OK;
	for (int i = 0; i < argc && !code; i++) {
		if (strcmp(argv[i], "--workspace") == 0 && i + 1 < argc) {
			co.workspace = argv[++i];
		} else if (strcmp(argv[i], "--allow-net") == 0) {
			code = cli_add_host(c, hosts, sizeof(hosts), i + 1 < argc ? argv[++i] : NULL);
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			char *end;
			unsigned long ms = strtoul(argv[++i], &end, 10);
			if (*end || ms == 0 || ms > 86400000)
				code = cli_fail(c, CLI_USAGE, "--timeout needs milliseconds (1..86400000)");
			co.timeout_ms = (unsigned int)ms;
		} else if (strcmp(argv[i], "--unsandboxed") == 0) {
			co.allow_unsandboxed = 1;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			code = cli_fail(c, CLI_USAGE, "tools call: unknown option '%s'; %s", argv[i],
				usage);
		} else if (!name) {
			name = argv[i];
		} else if (!args) {
			args = argv[i];
		} else {
			code = cli_fail(c, CLI_USAGE, "tools call: unexpected '%s'; %s", argv[i], usage);
		}
	}
	if (!code && (!name || !args))
		code = cli_fail(c, CLI_USAGE, "tools call needs NAME and ARGS_JSON; %s", usage);
	struct stat st;
	if (!code && co.workspace && (stat(co.workspace, &st) != 0 || !S_ISDIR(st.st_mode)))
		code = cli_fail(c, CLI_USAGE, "--workspace %s is not a directory", co.workspace);
	if (code)
		return code;
	co.allowed_hosts = hosts;
	cog_ctx *ctx = NULL;
	code = cli_open(c, CLI_DB_CREATE, NULL, &ctx);
	if (!code)
		code = cli_define_tools(c, ctx);
	if (code) {
		cog_ctx_free(ctx);
		return code;
	}
	char *result = NULL;
	int rc = cog_tool_call(ctx, name, args, &co, &result);
	if (rc == COG_OK && c->json)
		printf("{\"ok\":true,\"result\":%s}\n", result);
	else if (rc == COG_OK)
		printf("%s\n", result);
	else if (c->json && result)
		printf("{\"ok\":false,\"status\":\"%s\",\"result\":%s}\n", cog_strerror(rc), result);
	if (rc != COG_OK && c->json && !result)
		code = cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	else if (rc != COG_OK) {
		fprintf(stderr, "%s: error: %s\n", c->program, cog_error_last());
		code = CLI_FAILED;
	}
	cog_free(result);
	cog_ctx_free(ctx);
	return code;
}

int cmd_tools(cli *c, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "list") == 0)
		return tools_list(c, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "call") == 0)
		return tools_call(c, argc - 1, argv + 1);
	return cli_fail(c, CLI_USAGE, "usage: cog tools list [PATTERN] | "
		"cog tools call NAME ARGS_JSON [...]");
}

/* ---- cog audit verify | show ---- */

int cmd_audit(cli *c, int argc, char **argv)
{
	bool verify = argc == 1 && strcmp(argv[0], "verify") == 0;
	bool show = argc >= 1 && argc <= 2 && strcmp(argv[0], "show") == 0;
	if (!verify && !show)
		return cli_fail(c, CLI_USAGE, "usage: cog audit verify | cog audit show [FROM_SEQ]");
	unsigned long long from = 1;
	if (show && argc == 2) {
		char *end;
		from = strtoull(argv[1], &end, 10);
		if (*end || from == 0)
			return cli_fail(c, CLI_USAGE, "audit show: FROM_SEQ is a number from 1");
	}
	cog_ctx *ctx = NULL;
	int code = cli_open(c, CLI_DB_READ_ONLY, NULL, &ctx);
	if (code)
		return code;
	char *json = NULL;
	int rc = verify ? cog_audit_verify(ctx, &json) : cog_audit_read(ctx, from, 0, &json);
	if (rc != COG_OK && rc != COG_EINTEGRITY) {
		code = cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	} else if (c->json) {
		printf("{\"ok\":%s,\"%s\":%s}\n", rc ? "false" : "true", verify ? "report" : "entries",
			json);
	} else if (show) {
		/* Shown when someone investigates: damaged entries too, and
		 * nothing taken on trust (missing members, odd characters). */
		cJSON *entries = cJSON_Parse(json);
		const cJSON *e;
		cJSON_ArrayForEach(e, entries) {
			const cJSON *seq = cJSON_GetObjectItemCaseSensitive(e, "seq");
			if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "malformed")) ||
			    !cJSON_IsNumber(seq)) {
				printf("     ? malformed entry at storage seq %d\n",
					cJSON_GetObjectItemCaseSensitive(e, "storage_seq") ?
					cJSON_GetObjectItemCaseSensitive(e, "storage_seq")->valueint : -1);
				continue;
			}
			printf("%6d ", seq->valueint);
			static const char *const fields[] = { "time", "tool", "outcome", "call_id" };
			for (size_t k = 0; k < sizeof(fields) / sizeof(*fields); k++) {
				const char *v = cJSON_GetStringValue(
					cJSON_GetObjectItemCaseSensitive(e, fields[k]));
				cli_print_safe(v ? v : "-", k == 1 ? 12 : k == 2 ? 18 : 0);
				putchar(k + 1 < sizeof(fields) / sizeof(*fields) ? ' ' : '\n');
			}
		}
		cJSON_Delete(entries);
	} else if (rc == COG_OK) {
		cJSON *r = cJSON_Parse(json);
		printf("audit log intact: %d entries\n",
			cJSON_GetObjectItemCaseSensitive(r, "entries")->valueint);
		cJSON_Delete(r);
	}
	if (rc == COG_EINTEGRITY) {
		fprintf(stderr, "%s: audit log damaged: %s\n", c->program, cog_error_last());
		code = CLI_FAILED;
	}
	cog_free(json);
	cog_ctx_free(ctx);
	return code;
}

/* ---- approvals ---- */

int cmd_approvals(cli *c, int argc, char **argv)
{
	(void)argv;
	if (argc)
		return cli_fail(c, CLI_USAGE, "usage: cog approvals");
	cog_ctx *ctx = NULL;
	int code = cli_open(c, CLI_DB_READ_ONLY, NULL, &ctx);
	if (code)
		return code;
	char *json = NULL;
	if (cog_tool_approvals(ctx, &json) != 0) {
		code = cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	} else if (c->json) {
		printf("{\"ok\":true,\"approvals\":%s}\n", json);
	} else {
		cJSON *list = cJSON_Parse(json);
		const cJSON *a;
		cJSON_ArrayForEach(a, list) {
			char *args = cJSON_PrintUnformatted(
				cJSON_GetObjectItemCaseSensitive(a, "arguments"));
			const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "id"));
			const char *tool = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "tool"));
			const char *call = cJSON_GetStringValue(
				cJSON_GetObjectItemCaseSensitive(a, "call_id"));
			cli_print_safe(id ? id : "?", 0);
			fputs("  ", stdout);
			cli_print_safe(tool ? tool : "?", 0);
			putchar(' ');
			cli_print_safe(args ? args : "?", 0);
			fputs("  (call ", stdout);
			cli_print_safe(call ? call : "?", 0);
			fputs(")\n", stdout);
			cJSON_free(args);
		}
		if (!cJSON_GetArraySize(list))
			printf("no approvals pending\n");
		cJSON_Delete(list);
	}
	cog_free(json);
	cog_ctx_free(ctx);
	return code;
}

static int decide(cli *c, int argc, char **argv, bool approve)
{
	const char *usage = approve ? "usage: cog approve APPROVAL_ID [--edit ARGS_JSON]"
	                            : "usage: cog deny APPROVAL_ID";
	const char *edited = NULL;
	if (approve && argc == 3 && strcmp(argv[1], "--edit") == 0)
		edited = argv[2];
	else if (argc != 1)
		return cli_fail(c, CLI_USAGE, "%s", usage);
	cog_ctx *ctx = NULL;
	int code = cli_open(c, CLI_DB_EXISTING, NULL, &ctx);
	if (!code && edited)
		code = cli_define_tools(c, ctx); /* edited arguments meet the tool's schema */
	if (code) {
		cog_ctx_free(ctx);
		return code;
	}
	int decision = !approve ? COG_APPROVAL_DENY : edited ? COG_APPROVAL_EDIT :
		COG_APPROVAL_APPROVE;
	if (cog_tool_approval_decide(ctx, argv[0], decision, edited) != 0)
		code = cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	else if (c->json) {
		fputs("{\"ok\":true,\"id\":", stdout);
		cli_json_string(argv[0]);
		printf(",\"decision\":\"%s\"}\n", approve ? "approved" : "denied");
	} else {
		cli_print_safe(argv[0], 0);
		printf(" %s; run the plan again with cog resume PLAN_ID\n",
			approve ? "approved" : "denied");
	}
	cog_ctx_free(ctx);
	return code;
}

int cmd_approve(cli *c, int argc, char **argv)
{
	return decide(c, argc, argv, true);
}

int cmd_deny(cli *c, int argc, char **argv)
{
	return decide(c, argc, argv, false);
}
