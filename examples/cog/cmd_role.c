/*
 * cog role set NAME PERMISSIONS_JSON | --file F | -
 * cog role get NAME
 * cog role list
 * cog role remove NAME
 * each with [--json]
 *
 * The roles (cognition/auth.h) of cog's database, shared by every tenant:
 * what the users `cog user add --role NAME` gives them may do. Permissions
 * are {"tools":[globs],"memory":{"read":[globs],"write":[globs]},
 * "admin":false}; the library checks them (its message says what is wrong)
 * and stores every member, so get prints them all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

#define PERMISSIONS_MAX (1024 * 1024)   /* bytes of a permissions document */

static const char role_usage[] =
	"usage: cog role set NAME PERMISSIONS_JSON | --file F | -\n"
	"       cog role get NAME\n"
	"       cog role list\n"
	"       cog role remove NAME\n"
	"  each with [--json]; permissions: {\"tools\":[\"file_read\",\"sql_*\"],\n"
	"  \"memory\":{\"read\":[\"**\"],\"write\":[\"acme/alice\"]},\"admin\":false}\n"
	"  (globs: * and ?; in memory namespaces ** spans segments)\n";

/* The arguments of a role command: --json, --file F (set only, into *file)
 * and `min`..`max` words into words[] (NAME first). Exit code, printed. */
static int parse(cli *c, int argc, char **argv, const char **file, int min, int max,
                 const char **words, const char *usage)
{
	int code = CLI_OK, n = 0;
	bool options_done = false;
	for (int i = 0; i < argc && !code; i++) {
		const char *s = argv[i];
		if (options_done || s[0] != '-' || !s[1]) {
			if (n++ < max)
				words[n - 1] = s;
		} else if (strcmp(s, "--") == 0) {
			options_done = true;
		} else if (strcmp(s, "--json") == 0) {
			c->json = true;
		} else if (!(file && cli_mem_flag(c, "--file", argc, argv, &i, file, &code))) {
			code = cli_fail(c, CLI_USAGE, "unknown option '%s'; %s", s, usage);
		}
	}
	if (!code && n < min)
		code = cli_fail(c, CLI_USAGE, "NAME is missing; %s", usage);
	else if (!code && n > max)
		code = cli_fail(c, CLI_USAGE, "too many arguments; %s", usage);
	return code;
}

/* All of f (at most PERMISSIONS_MAX bytes) into *text (free). Exit code,
 * printed; `what` names f. */
static int read_all(const cli *c, FILE *f, const char *what, char **text)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	while (buf) {
		if (len + 1 == cap) {
			char *grown = cap >= PERMISSIONS_MAX ? NULL : realloc(buf, cap * 2);
			if (!grown) {
				free(buf);
				return cli_fail(c, CLI_FAILED, "%s: over %d bytes of permissions", what,
					PERMISSIONS_MAX);
			}
			buf = grown;
			cap *= 2;
		}
		size_t n = fread(buf + len, 1, cap - 1 - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (!buf)
		return cli_fail(c, CLI_FAILED, "out of memory");
	if (ferror(f)) {
		free(buf);
		return cli_fail(c, CLI_FAILED, "cannot read %s", what);
	}
	buf[len] = '\0';
	*text = buf;
	return CLI_OK;
}

/* The permissions of role set: the argument, --file F, or standard input
 * for "-" (either). Exit code, printed. */
static int permissions_text(const cli *c, const char *arg, const char *file, char **text)
{
	*text = NULL;
	const char *path = file ? file : arg;
	if (strcmp(path, "-") == 0)
		return read_all(c, stdin, "standard input", text);
	if (!file) {
		*text = strdup(arg);
		return *text ? CLI_OK : cli_fail(c, CLI_FAILED, "out of memory");
	}
	FILE *f = fopen(file, "rb");
	if (!f)
		return cli_fail(c, CLI_FAILED, "cannot open %s", file);
	int code = read_all(c, f, file, text);
	fclose(f);
	return code;
}

/* The globs of a stored permissions array, comma-separated ("-": none). */
static void print_globs(const cJSON *globs)
{
	const cJSON *g;
	bool first = true;
	cJSON_ArrayForEach(g, globs) {
		if (!cJSON_IsString(g))
			continue;
		fputs(first ? "" : ",", stdout);
		cli_print_safe(g->valuestring, 0);
		first = false;
	}
	if (first)
		putchar('-');
}

/* The globs of one role: its tools, memory read and memory write. */
static void role_parts(const cJSON *perm, const cJSON *parts[3])
{
	const cJSON *memory = cJSON_GetObjectItemCaseSensitive(perm, "memory");
	parts[0] = cJSON_GetObjectItemCaseSensitive(perm, "tools");
	parts[1] = cJSON_GetObjectItemCaseSensitive(memory, "read");
	parts[2] = cJSON_GetObjectItemCaseSensitive(memory, "write");
}

/* One role as a line of role list: NAME tools .. read .. write .. */
static void print_role_line(const char *name, const cJSON *perm)
{
	static const char *const labels[] = { "tools", "read", "write" };
	const cJSON *parts[3];
	role_parts(perm, parts);
	cli_print_safe(name, 20);
	for (size_t k = 0; k < 3; k++) {
		printf("%s%s ", k ? "  " : " ", labels[k]);
		print_globs(parts[k]);
	}
	puts(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(perm, "admin")) ? "  (admin)" : "");
}

/* A role's permissions as indented lines (after a line naming it). */
static void print_role_block(const cJSON *perm)
{
	static const char *const labels[] = { "tools", "memory read", "memory write" };
	const cJSON *parts[3];
	role_parts(perm, parts);
	for (size_t k = 0; k < 3; k++) {
		printf("  %-13s ", labels[k]);
		print_globs(parts[k]);
		putchar('\n');
	}
	printf("  %-13s %s\n", "admin", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(perm,
		"admin")) ? "yes (every tool, namespace and action)" : "no");
}

/* {"ok":true,<what>:true,"role":NAME,"permissions":JSON} or, in text,
 * "<what> role NAME" and the permissions. */
static void print_done(const cli *c, const char *what, const char *name, const char *perm)
{
	if (c->json) {
		printf("{\"ok\":true,\"%s\":true,\"role\":", what);
		cli_json_string(name);
		if (perm)
			printf(",\"permissions\":%s", perm);
		puts("}");
		return;
	}
	printf("%s role ", what);
	cli_print_safe(name, 0);
	putchar('\n');
	cJSON *doc = perm ? cJSON_Parse(perm) : NULL;
	if (doc)
		print_role_block(doc);
	cJSON_Delete(doc);
}

static int role_set(cli *c, int argc, char **argv)
{
	static const char usage[] = "usage: cog role set NAME PERMISSIONS_JSON | --file F | - "
		"[--json]";
	const char *words[2] = { NULL, NULL }, *file = NULL;
	int code = parse(c, argc, argv, &file, 1, 2, words, usage);
	if (!code && !file && !words[1])
		code = cli_fail(c, CLI_USAGE, "PERMISSIONS_JSON is missing (or --file F, or - for "
			"standard input); %s", usage);
	if (!code && file && words[1])
		code = cli_fail(c, CLI_USAGE, "PERMISSIONS_JSON and --file both given; %s", usage);
	char *text = NULL;
	if (!code)
		code = permissions_text(c, words[1], file, &text);
	cog_ctx *ctx = NULL;
	if (!code)
		code = cli_auth_open(c, true, &ctx);
	bool existed = false;
	if (!code) {
		/* A bad NAME is a usage error; bad permissions are a failure. */
		char *old = NULL;
		int rc = cog_auth_role_get(ctx, words[0], &old);
		cog_free(old);
		existed = rc == 0;
		if (rc && rc != COG_ENOTFOUND)
			code = cli_auth_failure(c, rc);
	}
	if (!code && cog_auth_role_set(ctx, words[0], text) != 0)
		code = cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	char *stored = NULL;
	if (!code && cog_auth_role_get(ctx, words[0], &stored) != 0)
		code = cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	if (!code)
		print_done(c, existed ? "replaced" : "defined", words[0], stored);
	cog_free(stored);
	cog_ctx_free(ctx);
	free(text);
	return code;
}

static int role_get(cli *c, int argc, char **argv)
{
	static const char usage[] = "usage: cog role get NAME [--json]";
	const char *words[1] = { NULL };
	int code = parse(c, argc, argv, NULL, 1, 1, words, usage);
	cog_ctx *ctx = NULL;
	if (!code)
		code = cli_auth_open(c, false, &ctx);
	char *json = NULL;
	if (!code) {
		int rc = cog_auth_role_get(ctx, words[0], &json);
		if (rc == COG_ENOTFOUND)
			code = cli_fail(c, CLI_FAILED, "no role named '%s' (see cog role list; "
				"cog role set defines one)", words[0]);
		else if (rc)
			code = cli_auth_failure(c, rc);
	}
	if (!code && c->json) {
		fputs("{\"ok\":true,\"role\":", stdout);
		cli_json_string(words[0]);
		printf(",\"permissions\":%s}\n", json);
	} else if (!code) {
		cJSON *doc = cJSON_Parse(json);
		fputs("role ", stdout);
		cli_print_safe(words[0], 0);
		putchar('\n');
		print_role_block(doc);
		cJSON_Delete(doc);
	}
	cog_free(json);
	cog_ctx_free(ctx);
	return code;
}

static int role_list(cli *c, int argc, char **argv)
{
	static const char usage[] = "usage: cog role list [--json]";
	int code = parse(c, argc, argv, NULL, 0, 0, NULL, usage);
	cog_ctx *ctx = NULL;
	if (!code)
		code = cli_auth_open(c, false, &ctx);
	char *json = NULL;
	if (!code) {
		int rc = cog_auth_role_list(ctx, &json);
		if (rc)
			code = cli_auth_failure(c, rc);
	}
	if (!code && c->json) {
		printf("{\"ok\":true,\"roles\":%s}\n", json);
	} else if (!code) {
		cJSON *all = cJSON_Parse(json);
		const cJSON *r;
		if (cJSON_GetArraySize(all) == 0)
			puts("no roles (cog role set NAME PERMISSIONS_JSON)");
		cJSON_ArrayForEach(r, all)
			print_role_line(r->string, r);
		cJSON_Delete(all);
	}
	cog_free(json);
	cog_ctx_free(ctx);
	return code;
}

static int role_remove(cli *c, int argc, char **argv)
{
	static const char usage[] = "usage: cog role remove NAME [--json]";
	const char *words[1] = { NULL };
	int code = parse(c, argc, argv, NULL, 1, 1, words, usage);
	cog_ctx *ctx = NULL;
	if (!code)
		code = cli_auth_open(c, false, &ctx);
	if (!code) {
		int rc = cog_auth_role_remove(ctx, words[0]);
		if (rc == COG_ENOTFOUND)
			code = cli_fail(c, CLI_FAILED, "no role named '%s' (see cog role list)",
				words[0]);
		else if (rc)
			code = cli_auth_failure(c, rc);
		else
			print_done(c, "removed", words[0], NULL);
	}
	cog_ctx_free(ctx);
	return code;
}

int cmd_role(cli *c, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(cli *c, int argc, char **argv);
	} subs[] = {
		{ "set", role_set }, { "get", role_get }, { "list", role_list },
		{ "remove", role_remove },
	};
	if (argc >= 1 && (strcmp(argv[0], "help") == 0 || strcmp(argv[0], "--help") == 0)) {
		fputs(role_usage, stdout);
		return CLI_OK;
	}
	for (size_t k = 0; argc >= 1 && k < sizeof(subs) / sizeof(*subs); k++)
		if (strcmp(argv[0], subs[k].name) == 0)
			return subs[k].run(c, argc - 1, argv + 1);
	if (!c->json)
		fputs(role_usage, stderr);
	if (argc < 1)
		return cli_fail(c, CLI_USAGE, "role needs a command: set, get, list or remove");
	return cli_fail(c, CLI_USAGE, "unknown role command '%s' (set, get, list, remove)",
		argv[0]);
}
