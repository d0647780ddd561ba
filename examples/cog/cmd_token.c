/*
 * cog login NAME [--tenant T] [--client KEY] [--password-stdin]
 *   Log in with the password (standard input when it is not a terminal,
 *   else asked without echo) and print the tokens JSON: {"access_token",
 *   "token_type","expires_in","refresh_token","refresh_expires_in",
 *   "session"}. When the database has no key that can sign, cog makes an
 *   Ed25519 one first (and says so on standard error). Logins are rate
 *   limited per user and per --client KEY (the config file's
 *   "auth":{"login_per_minute":N}).
 * cog token verify TOKEN|- [--json]
 *   Check an access token against the database's keys, issuer, audience,
 *   expiry and revocations ("-": read it from standard input, out of
 *   argv). Valid: exit 0, "valid" and its claims (--json:
 *   {"valid":true,"claims":{...}}). Not: exit 1 and the reason (--json:
 *   {"valid":false,"status":"denied|malformed|error","error":"..."}).
 * cog token revoke TOKEN|-
 *   Revoke an access token (until it expires) or a refresh token's session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "cli.h"

#define PASSWORD_CAP 4098
#define TOKEN_CAP 16384

static const char token_usage[] =
	"usage: cog token verify TOKEN|- [--json]\n"
	"       cog token revoke TOKEN|- [--json]\n"
	"  \"-\": the token is the first line of standard input\n";

/* Make an Ed25519 signing key when no key in ctx can sign. Exit code. */
static int ensure_signing_key(const cli *c, cog_ctx *ctx)
{
	char *probe = NULL;
	int rc = cog_token_issue(ctx, "{\"sub\":\"cog-login-probe\"}", &probe);
	if (probe)
		sodium_memzero(probe, strlen(probe));
	cog_free(probe);
	if (rc != COG_ENOTFOUND)
		return CLI_OK;   /* a key signs; other failures: login will say */
	char *jwk = NULL;
	rc = cog_auth_key_generate(ctx, "EdDSA", NULL, &jwk);
	if (rc)
		return cli_auth_failure(c, rc);
	cJSON *key = cJSON_Parse(jwk);
	const cJSON *kid = cJSON_GetObjectItemCaseSensitive(key, "kid");
	fprintf(stderr, "%s: made an Ed25519 signing key, kid %s, in %s\n", c->program,
		cJSON_IsString(kid) ? kid->valuestring : "?", c->db_path);
	cJSON_Delete(key);
	cog_free(jwk);
	return CLI_OK;
}

int cmd_login(cli *c, int argc, char **argv)
{
	static const char usage[] = "usage: cog login NAME [--tenant T] [--client KEY] "
		"[--password-stdin]";
	cli_auth_opts o = { NULL, false };
	const char *name = NULL, *client = NULL;
	int code = CLI_OK, words = 0;
	for (int i = 0; i < argc && !code; i++) {
		const char *s = argv[i];
		if (s[0] != '-' || !s[1]) {
			if (words++ == 0)
				name = s;
		} else if (!cli_mem_flag(c, "--client", argc, argv, &i, &client, &code) &&
		           !cli_auth_common_flag(c, &o, argc, argv, &i, &code)) {
			code = cli_fail(c, CLI_USAGE, "unknown option '%s'; %s", s, usage);
		}
	}
	if (!code && words != 1)
		code = cli_fail(c, CLI_USAGE, "%s; %s", words ? "too many arguments" :
			"login needs NAME", usage);
	cog_ctx *ctx = NULL;
	char *password = NULL, *tokens = NULL;
	if (!code)
		code = cli_auth_open(c, false, &ctx);
	if (!code)
		code = ensure_signing_key(c, ctx);
	if (!code && !(password = sodium_malloc(PASSWORD_CAP)))
		code = cli_fail(c, CLI_FAILED, "out of memory");
	if (!code)
		code = cli_auth_password(c, &o, false, password, PASSWORD_CAP);
	if (!code) {
		int rc = cog_auth_login(ctx, cli_auth_tenant(&o), name, password, client, &tokens);
		if (rc == COG_EBUSY)
			code = cli_fail(c, CLI_FAILED, "login rate limited: %s", cog_error_last());
		else if (rc == COG_EDENIED)
			code = cli_fail(c, CLI_FAILED, "login failed: %s", cog_error_last());
		else if (rc)
			code = cli_auth_failure(c, rc);
	}
	if (!code) {
		if (c->json)
			cli_mem_print_json(tokens);
		else
			puts(tokens);
	}
	if (password)
		sodium_free(password);
	if (tokens) {
		sodium_memzero(tokens, strlen(tokens));
		cog_free(tokens);
	}
	cog_ctx_free(ctx);
	return code;
}

/* The one TOKEN argument of a token command ("-": standard input's first
 * line, into buf). Exit code, printed. */
static int token_arg(cli *c, int argc, char **argv, const char *usage, char *buf,
                     const char **token)
{
	int code = CLI_OK, words = 0;
	for (int i = 0; i < argc && !code; i++) {
		if (strcmp(argv[i], "--json") == 0)
			c->json = true;
		else if (argv[i][0] == '-' && argv[i][1])
			code = cli_fail(c, CLI_USAGE, "unknown option '%s'; %s", argv[i], usage);
		else if (words++ == 0)
			*token = argv[i];
	}
	if (!code && words != 1)
		return cli_fail(c, CLI_USAGE, "%s; %s", words ? "too many arguments" :
			"TOKEN is missing", usage);
	if (code || strcmp(*token, "-") != 0)
		return code;
	if (!fgets(buf, TOKEN_CAP, stdin))
		return cli_fail(c, CLI_USAGE, "no token on standard input");
	buf[strcspn(buf, "\r\n")] = '\0';
	*token = buf;
	return CLI_OK;
}

static const char *status_of(int rc)
{
	return rc == COG_EDENIED ? "denied" : rc == COG_EINVAL ? "malformed" : "error";
}

static int token_verify(cli *c, int argc, char **argv)
{
	static const char usage[] = "usage: cog token verify TOKEN|- [--json]";
	static char buf[TOKEN_CAP];
	const char *token = NULL;
	int code = token_arg(c, argc, argv, usage, buf, &token);
	cog_ctx *ctx = NULL;
	if (!code)
		code = cli_auth_open(c, false, &ctx);
	char *claims = NULL;
	int rc = code ? 0 : cog_token_verify(ctx, token, &claims);
	if (!code && rc == 0) {
		if (c->json) {
			printf("{\"valid\":true,\"claims\":%s}\n", claims);
		} else {
			cJSON *parsed = cJSON_Parse(claims);
			char *pretty = parsed ? cJSON_Print(parsed) : NULL;
			printf("valid\n%s\n", pretty ? pretty : claims);
			cJSON_free(pretty);
			cJSON_Delete(parsed);
		}
	} else if (!code) {
		const char *why = cog_error_last();
		if (c->json) {
			printf("{\"valid\":false,\"status\":\"%s\",\"error\":", status_of(rc));
			cli_json_string(why);
			puts("}");
		}
		fprintf(stderr, "%s: error: invalid token: %s\n", c->program, why);
		code = CLI_FAILED;
	}
	cog_free(claims);
	cog_ctx_free(ctx);
	sodium_memzero(buf, sizeof(buf));
	return code;
}

static int token_revoke(cli *c, int argc, char **argv)
{
	static const char usage[] = "usage: cog token revoke TOKEN|- [--json]";
	static char buf[TOKEN_CAP];
	const char *token = NULL;
	int code = token_arg(c, argc, argv, usage, buf, &token);
	cog_ctx *ctx = NULL;
	if (!code)
		code = cli_auth_open(c, false, &ctx);
	if (!code) {
		int rc = cog_token_revoke(ctx, token);
		if (rc)
			code = cli_fail(c, CLI_FAILED, "cannot revoke: %s", cog_error_last());
		else if (c->json)
			puts("{\"ok\":true,\"revoked\":true}");
		else
			puts("revoked");
	}
	cog_ctx_free(ctx);
	sodium_memzero(buf, sizeof(buf));
	return code;
}

int cmd_token(cli *c, int argc, char **argv)
{
	if (argc >= 1 && (strcmp(argv[0], "help") == 0 || strcmp(argv[0], "--help") == 0)) {
		fputs(token_usage, stdout);
		return CLI_OK;
	}
	if (argc >= 1 && strcmp(argv[0], "verify") == 0)
		return token_verify(c, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "revoke") == 0)
		return token_revoke(c, argc - 1, argv + 1);
	if (!c->json)
		fputs(token_usage, stderr);
	if (argc < 1)
		return cli_fail(c, CLI_USAGE, "token needs a command: verify or revoke");
	return cli_fail(c, CLI_USAGE, "unknown token command '%s' (verify, revoke)", argv[0]);
}
