/*
 * cog user add NAME --role R [--role R2]... [--tenant T] [--password-stdin]
 * cog user passwd NAME [--tenant T] [--password-stdin]
 * cog user list [--tenant T]
 * cog user remove NAME [--tenant T]
 * each with [--json]
 *
 * The principals (cognition/auth.h) of cog's database: registered with an
 * argon2id hash of their password, their roles stored with them. The
 * tenant is --tenant, else $COG_TENANT, else "default". A role that is not
 * defined yet is accepted (it grants nothing until it is): cog warns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "cli.h"

#define PASSWORD_CAP 4098   /* 4096 bytes, the library's maximum, and room */

static const char user_usage[] =
	"usage: cog user add NAME --role R [--role R]... [--tenant T] [--password-stdin]\n"
	"       cog user passwd NAME [--tenant T] [--password-stdin]\n"
	"       cog user list [--tenant T]\n"
	"       cog user remove NAME [--tenant T]\n"
	"  each with [--json]; the password: the first line of standard input when it is\n"
	"  not a terminal (or with --password-stdin), else asked twice without echo\n";

/* The arguments of a user command: the common flags, --role (add only,
 * into roles) and exactly `want` words (NAME). Exit code, printed. */
static int parse(cli *c, cli_auth_opts *o, int argc, char **argv, cJSON *roles, int want,
                 const char **name, const char *usage)
{
	int code = CLI_OK, words = 0;
	bool options_done = false;
	for (int i = 0; i < argc && !code; i++) {
		const char *s = argv[i], *role = NULL;
		if (options_done || s[0] != '-' || !s[1]) {
			if (words++ < want)
				*name = s;
		} else if (strcmp(s, "--") == 0) {
			options_done = true;
		} else if (roles && cli_mem_flag(c, "--role", argc, argv, &i, &role, &code)) {
			if (!code && !cJSON_AddItemToArray(roles, cJSON_CreateString(role)))
				code = cli_fail(c, CLI_FAILED, "out of memory");
		} else if (!cli_auth_common_flag(c, o, argc, argv, &i, &code)) {
			code = cli_fail(c, CLI_USAGE, "unknown option '%s'; %s", s, usage);
		}
	}
	if (!code && words != want)
		code = cli_fail(c, CLI_USAGE, "%s; %s", words < want ? "NAME is missing" :
			"too many arguments", usage);
	return code;
}

static void print_done(const cli *c, const char *what, const char *tenant, const char *id)
{
	if (c->json) {
		printf("{\"ok\":true,\"%s\":true,\"tenant\":", what);
		cli_json_string(tenant);
		fputs(",\"id\":", stdout);
		cli_json_string(id);
		puts("}");
	} else {
		printf("%s ", what);
		cli_print_safe(tenant, 0);
		putchar('/');
		cli_print_safe(id, 0);
		putchar('\n');
	}
}

static int user_add(cli *c, int argc, char **argv)
{
	static const char usage[] = "usage: cog user add NAME --role R [--role R]... "
		"[--tenant T] [--password-stdin] [--json]";
	cli_auth_opts o = { NULL, false };
	const char *name = NULL;
	cJSON *principal = cJSON_CreateObject();
	cJSON *roles = cJSON_AddArrayToObject(principal, "roles");
	if (!roles) {
		cJSON_Delete(principal);
		return cli_fail(c, CLI_FAILED, "out of memory");
	}
	int code = parse(c, &o, argc, argv, roles, 1, &name, usage);
	if (!code && cJSON_GetArraySize(roles) == 0)
		code = cli_fail(c, CLI_USAGE, "user add needs at least one --role; %s", usage);
	const char *tenant = cli_auth_tenant(&o);
	char *json = NULL;
	if (!code && (!cJSON_AddStringToObject(principal, "tenant", tenant) ||
	    !cJSON_AddStringToObject(principal, "id", name) ||
	    !(json = cJSON_PrintUnformatted(principal))))
		code = cli_fail(c, CLI_FAILED, "out of memory");
	cog_ctx *ctx = NULL;
	char *password = NULL;
	if (!code)
		code = cli_auth_open(c, true, &ctx);
	if (!code) {
		/* Taken is said before a password is asked for. */
		char *old = NULL;
		int rc = cog_auth_principal_get(ctx, tenant, name, &old);
		cog_free(old);
		if (rc == 0 || rc == COG_EEXISTS)
			code = cli_fail(c, CLI_FAILED, "user %s/%s exists already (cog user passwd "
				"changes its password)", tenant, name);
		else if (rc != COG_ENOTFOUND)
			code = cli_auth_failure(c, rc);   /* a bad NAME: COG_EINVAL */
	}
	if (!code && !(password = sodium_malloc(PASSWORD_CAP)))
		code = cli_fail(c, CLI_FAILED, "out of memory");
	if (!code)
		code = cli_auth_password(c, &o, true, password, PASSWORD_CAP);
	if (!code) {
		int rc = cog_auth_register(ctx, json, password);
		if (rc == COG_EEXISTS)
			code = cli_fail(c, CLI_FAILED, "user %s/%s exists already (cog user passwd "
				"changes its password)", tenant, name);
		else if (rc)
			code = cli_auth_failure(c, rc);
	}
	if (!code) {
		const cJSON *r;
		cJSON_ArrayForEach(r, roles) {
			char *perm = NULL;
			if (cog_auth_role_get(ctx, r->valuestring, &perm) == COG_ENOTFOUND)
				fprintf(stderr, "%s: warning: role '%s' is not defined: it grants "
					"nothing until it is (cog role set %s PERMISSIONS_JSON)\n",
					c->program, r->valuestring, r->valuestring);
			cog_free(perm);
		}
		print_done(c, "added", tenant, name);
	}
	if (password)
		sodium_free(password);   /* wipes it */
	cog_ctx_free(ctx);
	cJSON_free(json);
	cJSON_Delete(principal);
	return code;
}

static int user_passwd(cli *c, int argc, char **argv)
{
	static const char usage[] = "usage: cog user passwd NAME [--tenant T] "
		"[--password-stdin] [--json]";
	cli_auth_opts o = { NULL, false };
	const char *name = NULL;
	int code = parse(c, &o, argc, argv, NULL, 1, &name, usage);
	cog_ctx *ctx = NULL;
	char *password = NULL;
	if (!code)
		code = cli_auth_open(c, false, &ctx);
	if (!code) {
		/* Not found is said before a password is asked for. */
		char *json = NULL;
		int rc = cog_auth_principal_get(ctx, cli_auth_tenant(&o), name, &json);
		cog_free(json);
		if (rc == COG_ENOTFOUND)
			code = cli_fail(c, CLI_FAILED, "no user %s/%s (see cog user list)",
				cli_auth_tenant(&o), name);
		else if (rc)
			code = cli_auth_failure(c, rc);
	}
	if (!code && !(password = sodium_malloc(PASSWORD_CAP)))
		code = cli_fail(c, CLI_FAILED, "out of memory");
	if (!code)
		code = cli_auth_password(c, &o, true, password, PASSWORD_CAP);
	if (!code) {
		int rc = cog_auth_set_password(ctx, cli_auth_tenant(&o), name, password);
		if (rc == COG_ENOTFOUND)
			code = cli_fail(c, CLI_FAILED, "no user %s/%s (see cog user list)",
				cli_auth_tenant(&o), name);
		else if (rc)
			code = cli_auth_failure(c, rc);
		else
			print_done(c, "password changed", cli_auth_tenant(&o), name);
	}
	if (password)
		sodium_free(password);
	cog_ctx_free(ctx);
	return code;
}

static int user_remove(cli *c, int argc, char **argv)
{
	static const char usage[] = "usage: cog user remove NAME [--tenant T] [--json]";
	cli_auth_opts o = { NULL, false };
	const char *name = NULL;
	int code = parse(c, &o, argc, argv, NULL, 1, &name, usage);
	cog_ctx *ctx = NULL;
	if (!code)
		code = cli_auth_open(c, false, &ctx);
	if (!code) {
		int rc = cog_auth_principal_remove(ctx, cli_auth_tenant(&o), name);
		if (rc == COG_ENOTFOUND)
			code = cli_fail(c, CLI_FAILED, "no user %s/%s (see cog user list)",
				cli_auth_tenant(&o), name);
		else if (rc)
			code = cli_auth_failure(c, rc);
		else
			print_done(c, "removed", cli_auth_tenant(&o), name);
	}
	cog_ctx_free(ctx);
	return code;
}

/* One principal as a line: TENANT/ID  ROLES  [disabled]. */
static void print_user(const cJSON *p)
{
	const cJSON *tenant = cJSON_GetObjectItemCaseSensitive(p, "tenant");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(p, "id");
	const cJSON *roles = cJSON_GetObjectItemCaseSensitive(p, "roles"), *r;
	char who[300];
	snprintf(who, sizeof(who), "%s/%s", cJSON_IsString(tenant) ? tenant->valuestring : "?",
		cJSON_IsString(id) ? id->valuestring : "?");
	cli_print_safe(who, 32);
	putchar(' ');
	bool first = true;
	cJSON_ArrayForEach(r, roles) {
		if (!cJSON_IsString(r))
			continue;
		fputs(first ? "" : ",", stdout);
		cli_print_safe(r->valuestring, 0);
		first = false;
	}
	if (first)
		fputs("-", stdout);
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "disabled")))
		fputs("  (disabled)", stdout);
	putchar('\n');
}

static int user_list(cli *c, int argc, char **argv)
{
	static const char usage[] = "usage: cog user list [--tenant T] [--json]";
	cli_auth_opts o = { NULL, false };
	const char *none = NULL;
	int code = parse(c, &o, argc, argv, NULL, 0, &none, usage);
	cog_ctx *ctx = NULL;
	if (!code)
		code = cli_auth_open(c, false, &ctx);
	char *json = NULL;
	if (!code) {
		int rc = cog_auth_principal_list(ctx, o.tenant, &json);   /* all tenants without --tenant */
		if (rc)
			code = cli_auth_failure(c, rc);
	}
	if (!code && c->json) {
		fputs("{\"ok\":true,\"users\":", stdout);
		fputs(json, stdout);
		puts("}");
	} else if (!code) {
		cJSON *list = cJSON_Parse(json);
		const cJSON *p;
		if (cJSON_GetArraySize(list) == 0)
			puts("no users (cog user add NAME --role R)");
		else
			printf("%-32s ROLES\n", "TENANT/ID");
		cJSON_ArrayForEach(p, list)
			print_user(p);
		cJSON_Delete(list);
	}
	cog_free(json);
	cog_ctx_free(ctx);
	return code;
}

int cmd_user(cli *c, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(cli *c, int argc, char **argv);
	} subs[] = {
		{ "add", user_add }, { "passwd", user_passwd }, { "list", user_list },
		{ "remove", user_remove },
	};
	if (argc >= 1 && (strcmp(argv[0], "help") == 0 || strcmp(argv[0], "--help") == 0)) {
		fputs(user_usage, stdout);
		return CLI_OK;
	}
	for (size_t k = 0; argc >= 1 && k < sizeof(subs) / sizeof(*subs); k++)
		if (strcmp(argv[0], subs[k].name) == 0)
			return subs[k].run(c, argc - 1, argv + 1);
	if (!c->json)
		fputs(user_usage, stderr);
	if (argc < 1)
		return cli_fail(c, CLI_USAGE, "user needs a command: add, passwd, list or remove");
	return cli_fail(c, CLI_USAGE, "unknown user command '%s' (add, passwd, list, remove)",
		argv[0]);
}
