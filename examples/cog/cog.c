/* cog: the libcognition command-line host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
	"usage: cog [--db PATH] [--config PATH] [--json] COMMAND [ARGS]\n"
	"       cog --version | --help\n"
	"\n"
	"Commands:\n"
	"  doctor      check the build, the configuration and the database\n"
	"  run GOAL|PLAN.json [--workspace DIR] [--workers N] [--continue] [--ns NS]\n"
	"              [--allow-net HOST]... [--templates DIR]... [--provider P] [--url URL]\n"
	"              plan and run with live progress; print what it produced (e.g.\n"
	"              cog run \"analyze examples/data/sales.csv\"); Ctrl-C stops\n"
	"  trace PLAN_ID   a run as a timeline: spans, durations, tokens, errors\n"
	"  plan GOAL|FILE [--format json|dot|mermaid] [--templates DIR] [--no-save]\n"
	"              [--llm [--provider P] [--url URL] [--model M]]\n"
	"              make a plan (template planner; with --llm the LLM planner first,\n"
	"              templates as its fallback) or read one; print and save it\n"
	"  plan validate FILE   check a plan file: tasks, levels, critical path\n"
	"  plan templates       list the templates the planner knows\n"
	"  status [PLAN_ID]     the plans in the database, or one plan's tasks\n"
	"  resume PLAN_ID [--workers N] [--continue] [--workspace DIR] [--allow-net HOST]...\n"
	"              run or continue a plan as cog run does (host tasks: inputs.argv)\n"
	"  decide PLAN_ID TASK retry|skip|fail   settle an uncertain task\n"
	"  tools list [PATTERN]  the tools: built-ins (python, shell, http_fetch, files,\n"
	"              sql_query) with their flags\n"
	"  tools call NAME ARGS_JSON [--workspace DIR] [--allow-net HOST]... [--timeout MS]\n"
	"              [--unsandboxed]   call a tool (schema-checked, sandboxed, audited)\n"
	"  audit verify | audit show [FROM_SEQ]   check or print the hash-chained audit log\n"
	"  approvals   tool calls waiting for approval\n"
	"  approve ID [--edit ARGS_JSON] | deny ID   decide one; then cog resume the plan\n"
	"  chat PROMPT [--system TEXT] [--model M] [--provider P] [--url URL] [--json]\n"
	"              [--no-stream] [--temperature T] [--max-tokens N]\n"
	"              ask the configured LLM; its answer streams to stdout (--json:\n"
	"              the whole response JSON); Ctrl-C cancels\n"
	"  memory add TEXT [--layer L] [--meta JSON] [--importance X] [--ttl MS]\n"
	"              remember TEXT (layers short_term, long_term, episodic); prints its id\n"
	"  memory import FILE.jsonl   one memory per line; reports added, merged, failed\n"
	"  memory search QUERY [--k N] [--layer L]... [--meta JSON] [--inherit]\n"
	"              hybrid keyword + vector search: a table, or the results as JSON\n"
	"  memory get ID | forget ID | forget --filter JSON | stats | purge\n"
	"              every memory command takes --ns NS (default $COG_MEMORY_NS, else\n"
	"              \"default\") and --embedder hashing|auto|llm\n";

/* The rest of the help (one string would pass -Woverlength-strings' 4095). */
static const char usage_more[] =
	"  mcp tools SERVER [--json] [--timeout MS]   list an MCP server's tools\n"
	"  mcp call SERVER TOOL ARGS_JSON [--json] [--timeout MS]   call one of them\n"
	"              SERVER: an http(s) URL, the NAME of a server in the config file,\n"
	"              or -- COMMAND ARGS... last (a stdio server; for call also\n"
	"              cog mcp call -- COMMAND ARGS... TOOL ARGS_JSON)\n"
	"  mcp servers [--json]   the MCP servers of the config file\n"
	"  user add NAME --role R... | passwd NAME | list | remove NAME  [--tenant T]\n"
	"  role set NAME PERMISSIONS_JSON|--file F|- | get NAME | list | remove NAME\n"
	"              what users with role NAME may do, e.g. {\"tools\":[\"file_read\"],\n"
	"              \"memory\":{\"read\":[\"**\"],\"write\":[]},\"admin\":false}\n"
	"  login NAME [--client KEY]   print the access and refresh tokens (JSON)\n"
	"  token verify TOKEN|- [--json] | revoke TOKEN|-   exit 0 valid, 1 not\n"
	"  help        show this text\n"
	"\n"
	"Options:\n"
	"  --db PATH   database file (default: $COG_DB, else ./cognition.db)\n"
	"  --config PATH  config file, {\"mcpServers\":{...},\"auth\":{...}} (default:\n"
	"              $COG_CONFIG, else ./cog.json when it exists)\n"
	"  --json      print machine-readable JSON on stdout\n"
	"  --version   print the version and compiled-in features\n"
	"  --help      print this text\n"
	"\n"
	"Environment: COG_DB, COG_CONFIG, COG_LOG_LEVEL, COG_WORKERS, COG_HTTP_TIMEOUT_MS,\n"
	"             COG_TEMPLATE_PATH, COG_TEMPLATE_DIR,\n"
	"             COG_LLM_PROVIDER (openai|anthropic|ollama), COG_LLM_URL, COG_MODEL,\n"
	"             COG_API_KEY (else OPENAI_API_KEY or ANTHROPIC_API_KEY),\n"
	"             COG_MEMORY_NS, COG_MEMORY_EMBEDDER, COG_EMBED_MODEL, COG_TENANT\n";

struct command {
	const char *name;
	int (*run)(cli *c, int argc, char **argv);
};

static const struct command commands[] = {
	{ "doctor", cmd_doctor },
	{ "run", cmd_run },
	{ "trace", cmd_trace },
	{ "plan", cmd_plan },
	{ "status", cmd_status },
	{ "resume", cmd_resume },
	{ "decide", cmd_decide },
	{ "tools", cmd_tools },
	{ "audit", cmd_audit },
	{ "approvals", cmd_approvals },
	{ "approve", cmd_approve },
	{ "deny", cmd_deny },
	{ "chat", cmd_chat },
	{ "memory", cmd_memory },
	{ "mcp", cmd_mcp },
	{ "user", cmd_user },
	{ "login", cmd_login },
	{ "token", cmd_token },
	{ "role", cmd_role },
};

static int print_version(const cli *c)
{
	unsigned int f = cog_features();
	if (c->json) {
		printf("{\"ok\":true,\"version\":\"%s\",\"version_number\":%u,"
		       "\"features\":{\"curl\":%s,\"sqlite\":%s,\"threads\":%s}}\n",
		       cog_version(), cog_version_number(),
		       f & COG_FEATURE_CURL ? "true" : "false",
		       f & COG_FEATURE_SQLITE ? "true" : "false",
		       f & COG_FEATURE_THREADS ? "true" : "false");
	} else {
		printf("cog %s (libcognition %s)\nfeatures:%s%s%s\n", COG_VERSION_STRING,
		       cog_version(), f & COG_FEATURE_CURL ? " curl" : "",
		       f & COG_FEATURE_SQLITE ? " sqlite" : "",
		       f & COG_FEATURE_THREADS ? " threads" : "");
	}
	return CLI_OK;
}

static int print_help(const cli *c)
{
	if (c->json) {
		size_t a = strlen(usage_text), b = strlen(usage_more);
		char *whole = malloc(a + b + 1);
		if (!whole)
			return cli_fail(c, CLI_FAILED, "out of memory");
		memcpy(whole, usage_text, a);
		memcpy(whole + a, usage_more, b + 1);
		fputs("{\"ok\":true,\"usage\":", stdout);
		cli_json_string(whole);
		free(whole);
		fputs(",\"commands\":[\"doctor\",\"run\",\"trace\",\"plan\",\"status\",\"resume\",\"decide\","
		      "\"tools\",\"audit\",\"approvals\",\"approve\",\"deny\",\"chat\",\"memory\",\"mcp\",\"user\",\"login\",\"token\",\"role\",\"help\"]}\n", stdout);
	} else {
		fputs(usage_text, stdout);
		fputs(usage_more, stdout);
	}
	return CLI_OK;
}

int main(int argc, char **argv)
{
	cli c = { NULL, false, "cog", false };
	int i = 1;
	bool want_version = false, want_help = false;

	/* Global options come before the command. */
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			c.json = true;
		} else if (strcmp(argv[i], "--db") == 0) {
			if (++i >= argc || !*argv[i])
				return cli_fail(&c, CLI_USAGE, "--db needs a PATH");
			c.db_path = argv[i];
		} else if (strncmp(argv[i], "--db=", 5) == 0 && argv[i][5]) {
			c.db_path = argv[i] + 5;
		} else if (strcmp(argv[i], "--config") == 0) {
			if (++i >= argc || !*argv[i])
				return cli_fail(&c, CLI_USAGE, "--config needs a PATH");
			cli_config_set_path(argv[i]);
		} else if (strncmp(argv[i], "--config=", 9) == 0 && argv[i][9]) {
			cli_config_set_path(argv[i] + 9);
		} else if (strcmp(argv[i], "--version") == 0) {
			want_version = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			want_help = true;
		} else {
			return cli_fail(&c, CLI_USAGE, "unknown option '%s' (see cog --help)", argv[i]);
		}
	}
	if (!c.db_path) {
		const char *env = getenv("COG_DB");
		c.db_path = env && *env ? env : "./cognition.db";
	}
	if (want_version)
		return print_version(&c);
	if (want_help || (i < argc && strcmp(argv[i], "help") == 0))
		return print_help(&c);
	if (i >= argc) {
		if (!c.json) {
			fputs(usage_text, stderr);
			fputs(usage_more, stderr);
		}
		return cli_fail(&c, CLI_USAGE, "no command given (see cog --help)");
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(*commands); k++)
		if (strcmp(argv[i], commands[k].name) == 0)
			return commands[k].run(&c, argc - i - 1, argv + i + 1);
	return cli_fail(&c, CLI_USAGE, "unknown command '%s' (see cog --help)", argv[i]);
}
