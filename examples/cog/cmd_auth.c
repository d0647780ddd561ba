/*
 * What the auth commands (cmd_user.c, cmd_token.c) share: a context over
 * cog's database with the auth settings of the config file, the flags they
 * take, and reading a password.
 *
 * The config file's "auth" object, when present, goes to
 * cog_auth_configure() as it is: {"auth":{"issuer":"https://a.example",
 * "access_ttl_s":600,"password":{"opslimit":3}}} (the members auth.h lists).
 *
 * Passwords never come from the command line (other users see argv): with
 * --password-stdin, or when standard input is not a terminal, the first line
 * of standard input is the password (its newline dropped); else cog asks on
 * the terminal with echo off (twice when setting one).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "cli.h"

int cli_auth_open(cli *c, bool create, cog_ctx **ctx)
{
	*ctx = NULL;
	char *config = NULL;
	const char *path = NULL;
	int code = cli_config_load(c, &path, &config);
	if (code)
		return code;
	c->log_warnings = true;
	code = cli_open(c, create ? CLI_DB_CREATE : CLI_DB_EXISTING, NULL, ctx);
	if (!code && config) {
		cJSON *root = cJSON_Parse(config);
		const cJSON *auth = cJSON_GetObjectItemCaseSensitive(root, "auth");
		char *text = NULL;
		if (auth && !cJSON_IsObject(auth))
			code = cli_fail(c, CLI_USAGE, "config file %s: \"auth\" must be an object "
				"such as {\"issuer\":\"...\",\"access_ttl_s\":900}", path);
		else if (auth && !(text = cJSON_PrintUnformatted(auth)))
			code = cli_fail(c, CLI_FAILED, "out of memory");
		if (text && cog_auth_configure(*ctx, text) != 0)
			code = cli_fail(c, CLI_USAGE, "config file %s: \"auth\": %s", path,
				cog_error_last());
		cJSON_free(text);
		cJSON_Delete(root);
	}
	cJSON_free(config);
	if (code) {
		cog_ctx_free(*ctx);
		*ctx = NULL;
	}
	return code;
}

int cli_auth_common_flag(cli *c, cli_auth_opts *o, int argc, char **argv, int *i, int *code)
{
	if (strcmp(argv[*i], "--json") == 0) {
		c->json = true;
		return 1;
	}
	if (strcmp(argv[*i], "--password-stdin") == 0) {
		o->password_stdin = true;
		return 1;
	}
	return cli_mem_flag(c, "--tenant", argc, argv, i, &o->tenant, code);
}

const char *cli_auth_tenant(const cli_auth_opts *o)
{
	const char *env = getenv("COG_TENANT");
	return o->tenant ? o->tenant : env && *env ? env : "default";
}

int cli_auth_failure(const cli *c, int rc)
{
	return cli_fail(c, rc == COG_EINVAL || rc == COG_ERANGE ? CLI_USAGE : CLI_FAILED, "%s",
		cog_error_last());
}

/* One line of fd into buf (at most cap - 2 bytes and a NUL; newline dropped).
 * 0; -1 at end of input before any byte; -2 when the line is too long. */
static int read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	for (;;) {
		char ch;
		ssize_t r = read(fd, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (n == 0)
				return -1;
			break;
		}
		if (ch == '\n')
			break;
		if (n + 2 >= cap) {
			sodium_memzero(buf, cap);
			return -2;
		}
		buf[n++] = ch;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return 0;
}

/* Ask on the terminal (tty_fd) with echo off. Same returns as read_line. */
static int ask(int tty_fd, const char *prompt, char *buf, size_t cap)
{
	struct termios old, quiet;
	bool restore = tcgetattr(tty_fd, &old) == 0;
	if (restore) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		tcsetattr(tty_fd, TCSAFLUSH, &quiet);
	}
	if (write(tty_fd, prompt, strlen(prompt)) < 0)
		(void)0;   /* the prompt is a courtesy */
	int rc = read_line(tty_fd, buf, cap);
	if (restore)
		tcsetattr(tty_fd, TCSAFLUSH, &old);
	if (write(tty_fd, "\n", 1) < 0)
		(void)0;
	return rc;
}

int cli_auth_password(const cli *c, const cli_auth_opts *o, bool confirm, char *buf, size_t cap)
{
	int rc;
	if (o->password_stdin || !isatty(STDIN_FILENO)) {
		rc = read_line(STDIN_FILENO, buf, cap);
		if (rc == -1)
			return cli_fail(c, CLI_USAGE, "no password on standard input (give it as the "
				"first line)");
	} else {
		rc = ask(STDIN_FILENO, confirm ? "New password: " : "Password: ", buf, cap);
		if (rc == 0 && confirm) {
			char *again = sodium_malloc(cap);
			if (!again)
				return cli_fail(c, CLI_FAILED, "out of memory");
			rc = ask(STDIN_FILENO, "Again: ", again, cap);
			bool same = rc == 0 && strcmp(buf, again) == 0;
			sodium_free(again);
			if (rc == 0 && !same) {
				sodium_memzero(buf, cap);
				return cli_fail(c, CLI_USAGE, "the passwords do not match");
			}
		}
		if (rc == -1)
			return cli_fail(c, CLI_USAGE, "no password given");
	}
	if (rc == -2)
		return cli_fail(c, CLI_USAGE, "the password is longer than %zu bytes", cap - 2);
	if (!buf[0])
		return cli_fail(c, CLI_USAGE, "the password is empty");
	return CLI_OK;
}
