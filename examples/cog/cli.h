/* The cog command-line program: shared state of its commands. */
#ifndef COG_CLI_H
#define COG_CLI_H

#include <stdbool.h>

#include <cognition.h>

typedef struct cli {
	const char *db_path;   /* --db, else $COG_DB, else ./cognition.db */
	bool json;             /* --json: machine-readable output on stdout */
	const char *program;
} cli;

/* Exit codes. */
#define CLI_OK 0
#define CLI_FAILED 1     /* the command ran and found a problem */
#define CLI_USAGE 2      /* bad command line */

/* Print "cog: error: <message>" (text) or {"ok":false,"error":...} (json). */
int cli_fail(const cli *c, int exit_code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Write s as a JSON string literal to stdout. */
void cli_json_string(const char *s);

int cmd_doctor(cli *c, int argc, char **argv);

#endif
