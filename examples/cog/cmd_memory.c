/*
 * cog memory add TEXT... [--layer L] [--meta JSON] [--importance X] [--ttl MS]
 * cog memory import FILE.jsonl|-                    (cmd_memory_import.c)
 * cog memory search QUERY... [--k N] [--layer L]... [--meta JSON] [--inherit]
 *                                                    (cmd_memory_search.c)
 * cog memory get ID | forget ID | forget --filter JSON | stats | purge
 *                                                    (cmd_memory_manage.c)
 * each with [--ns NS] [--embedder hashing|auto|llm] [--json]
 *
 * The memories live in cog's database (--db, $COG_DB, ./cognition.db) so
 * that they outlast the process, in the namespace --ns, else $COG_MEMORY_NS,
 * else "default". The embedder is "hashing" unless --embedder or
 * $COG_MEMORY_EMBEDDER says otherwise: it needs no model and no network, and
 * one database keeps one embedder (a change re-embeds every memory of the
 * namespace at its next load). "auto" and "llm" take the LLM from the
 * environment as cog chat does, with $COG_EMBED_MODEL as the embedding
 * model. The working layer lives in one process's RAM, so cog stores only
 * the other three.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "cli.h"

static const char memory_usage[] =
	"usage: cog memory add TEXT... [--layer short_term|long_term|episodic] [--meta JSON]\n"
	"                  [--importance 0..1] [--ttl MS]\n"
	"       cog memory import FILE.jsonl|-\n"
	"       cog memory search QUERY... [--k N] [--layer L]... [--meta JSON] [--inherit]\n"
	"       cog memory get ID\n"
	"       cog memory forget ID | --filter JSON\n"
	"       cog memory stats | purge\n"
	"  each with [--ns NS] [--embedder hashing|auto|llm] [--json]\n";

/* ---- shared by the memory commands ---- */

int cli_mem_flag(const cli *c, const char *name, int argc, char **argv, int *i,
                 const char **value, int *code)
{
	const char *a = argv[*i];
	size_t n = strlen(name);
	if (strncmp(a, name, n) != 0 || (a[n] != '\0' && a[n] != '='))
		return 0;
	const char *v = a[n] == '=' ? a + n + 1 : *i + 1 < argc ? argv[++*i] : NULL;
	if (!v || !*v)
		*code = cli_fail(c, CLI_USAGE, "%s needs a value", name);
	*value = v;
	return 1;
}

int cli_mem_common_flag(cli *c, cli_mem_opts *o, int argc, char **argv, int *i, int *code)
{
	if (strcmp(argv[*i], "--json") == 0) {
		c->json = true;
		return 1;
	}
	return cli_mem_flag(c, "--ns", argc, argv, i, &o->ns, code) ||
	       cli_mem_flag(c, "--embedder", argc, argv, i, &o->embedder, code);
}

unsigned int cli_mem_layer(const cli *c, const char *flag, const char *name, int *code)
{
	static const char *const names[] = { "working", "short_term", "long_term", "episodic" };
	static const unsigned int bits[] = { COG_MEMORY_WORKING, COG_MEMORY_SHORT_TERM,
		COG_MEMORY_LONG_TERM, COG_MEMORY_EPISODIC };
	for (size_t k = 0; k < sizeof(names) / sizeof(*names); k++)
		if (strcmp(name, names[k]) == 0)
			return bits[k];
	*code = cli_fail(c, CLI_USAGE, "%s: unknown layer '%s' (working, short_term, long_term, "
		"episodic)", flag, name);
	return 0;
}

int cli_mem_json_object(const cli *c, const char *flag, const char *text)
{
	const char *end = NULL;
	cJSON *v = cJSON_ParseWithOpts(text, &end, 1);
	bool object = cJSON_IsObject(v);
	cJSON_Delete(v);
	if (object)
		return CLI_OK;
	if (!v) {
		size_t at = end && end >= text ? (size_t)(end - text) : 0;
		return cli_fail(c, CLI_USAGE, "%s is not valid JSON (at byte %zu: \"%.20s\"); it "
			"needs an object such as '{\"topic\":\"billing\"}'", flag, at, text + at);
	}
	return cli_fail(c, CLI_USAGE, "%s must be a JSON object such as '{\"topic\":\"billing\"}'",
		flag);
}

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);
	return v && *v ? v : fallback;
}

/* The context's LLM for embeddings: "auto" only when the environment names
 * one (a key lying around is not a request to call an API), "llm" always. */
static int llm_for_embeddings(const cli *c, cog_ctx *ctx, bool required)
{
	if (!required && !env_or("COG_LLM_URL", NULL) && !env_or("COG_LLM_PROVIDER", NULL))
		return CLI_OK;
	cli_llm llm = { NULL, NULL, NULL };
	int code = cli_llm_setup(c, ctx, &llm);
	const char *model = env_or("COG_EMBED_MODEL", NULL);
	if (code || !model)
		return code;
	cJSON *cfg = cJSON_CreateObject();
	cJSON *route = cJSON_AddObjectToObject(cJSON_AddObjectToObject(cfg, "routes"), "embedder");
	cJSON *entry = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(route, "models"), entry);
	cJSON_AddStringToObject(entry, "endpoint", "default");
	cJSON_AddStringToObject(entry, "model", model);
	char *text = cJSON_PrintUnformatted(cfg);
	cJSON_Delete(cfg);
	if (!text)
		return cli_fail(c, CLI_FAILED, "out of memory");
	if (cog_llm_configure(ctx, text) != 0)
		code = cli_fail(c, CLI_USAGE, "COG_EMBED_MODEL: %s", cog_error_last());
	cJSON_free(text);
	return code;
}

int cli_mem_open(cli *c, const cli_mem_opts *o, bool create, cog_ctx **ctx,
                 cog_memory **mem)
{
	*ctx = NULL;
	*mem = NULL;
	const char *ns = o->ns ? o->ns : env_or("COG_MEMORY_NS", "default");
	const char *embedder = o->embedder ? o->embedder : env_or("COG_MEMORY_EMBEDDER", "hashing");
	if (strcmp(embedder, "hashing") != 0 && strcmp(embedder, "auto") != 0 &&
	    strcmp(embedder, "llm") != 0)
		return cli_fail(c, CLI_USAGE, "%s must be hashing, auto or llm, not '%s'",
			o->embedder ? "--embedder" : "COG_MEMORY_EMBEDDER", embedder);
	struct stat st;
	if (!create && stat(c->db_path, &st) != 0)
		return cli_fail(c, CLI_FAILED, "no database at %s: nothing is remembered there yet "
			"(cog memory add TEXT)", c->db_path);
	c->log_warnings = true;
	int code = cli_open(c, create ? CLI_DB_CREATE : CLI_DB_EXISTING, NULL, ctx);
	if (!code && strcmp(embedder, "hashing") != 0)
		code = llm_for_embeddings(c, *ctx, strcmp(embedder, "llm") == 0);
	if (!code) {
		cog_memory_options mo = COG_MEMORY_OPTIONS_INIT;
		mo.embedder = embedder;
		int rc = cog_memory_open_with(mem, *ctx, ns, &mo);
		if (rc)
			code = cli_fail(c, rc == COG_EINVAL || rc == COG_ERANGE ? CLI_USAGE : CLI_FAILED,
				"%s", cog_error_last());
	}
	if (code) {
		cog_ctx_free(*ctx);
		*ctx = NULL;
	}
	return code;
}

void cli_mem_print_json(const char *json)
{
	const char *rest = json && json[0] == '{' ? json + 1 : "}";
	while (*rest == ' ' || *rest == '\n' || *rest == '\t' || *rest == '\r')
		rest++;
	printf("{\"ok\":true%s%s\n", *rest == '}' ? "" : ",", rest);
}

/* One character of s as shown: its bytes in (shown), its columns in *width;
 * returns how many input bytes it takes. */
static size_t show_char(const unsigned char *p, bool one_line, char shown[8], int *width)
{
	unsigned char b = *p;
	size_t len = 1;
	*width = 1;
	if (b == '\n' || b == '\t' || b == '\r') {
		snprintf(shown, 8, "%c", one_line || b == '\r' ? ' ' : b);
		return 1;
	}
	if (b < 0x20 || b == 0x7f) {
		snprintf(shown, 8, "\\x%02x", b);
		*width = 4;
		return 1;
	}
	if (b >= 0x80) {
		len = b >= 0xf8 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 ? 2 : 1;
		for (size_t k = 1; k < len; k++)
			if ((p[k] & 0xc0) != 0x80)
				len = 1;   /* cut short: not a character */
		if (len == 1 || (b == 0xc2 && p[1] < 0xa0)) {
			/* a stray byte, or a C1 control (U+0080..U+009F): no terminal
			 * control from stored text */
			snprintf(shown, 8, "\\x%02x", len == 1 ? b : p[1]);
			*width = 4;
			return len;
		}
	}
	memcpy(shown, p, len);
	shown[len] = '\0';
	return len;
}

void cli_mem_print_text(const char *s, int cols, bool one_line)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	char shown[8];
	int width, total = 0, used = 0;
	if (cols > 0)
		for (const unsigned char *q = p; *q && total <= cols; total += width)
			q += show_char(q, one_line, shown, &width);
	bool cut = cols > 0 && total > cols;
	while (*p) {
		size_t len = show_char(p, one_line, shown, &width);
		if (cut && used + width > cols - 3)
			break;
		fputs(shown, stdout);
		used += width;
		p += len;
	}
	if (cut)
		fputs(cols >= 3 ? "..." : "", stdout);
}

int cli_mem_parse(cli *c, cli_mem_opts *o, int argc, char **argv, cli_mem_flag_fn extra,
                  void *state, char **words, int *nwords, const char *usage)
{
	int code = CLI_OK;
	bool options_done = false;
	*nwords = 0;
	for (int i = 0; i < argc && !code; i++) {
		const char *s = argv[i];
		if (options_done || s[0] != '-' || !s[1])
			words[(*nwords)++] = argv[i];
		else if (strcmp(s, "--") == 0)
			options_done = true;
		else if (!cli_mem_common_flag(c, o, argc, argv, &i, &code) &&
		         !(extra && extra(c, state, argc, argv, &i, &code)))
			code = cli_fail(c, CLI_USAGE, "unknown option '%s'; %s", s, usage);
	}
	return code;
}

int cli_mem_failure(const cli *c, int rc)
{
	if (rc == COG_ECANCELED)
		return cli_fail(c, CLI_CANCELED, "canceled");
	return cli_fail(c, rc == COG_EINVAL || rc == COG_ERANGE ? CLI_USAGE : CLI_FAILED, "%s",
		cog_error_last());
}

/* ---- cog memory add ---- */

typedef struct add_args {
	const char *layer, *meta, *importance, *ttl;
} add_args;

static int add_flag(cli *c, void *state, int argc, char **argv, int *i, int *code)
{
	add_args *a = state;
	return cli_mem_flag(c, "--layer", argc, argv, i, &a->layer, code) ||
	       cli_mem_flag(c, "--meta", argc, argv, i, &a->meta, code) ||
	       cli_mem_flag(c, "--importance", argc, argv, i, &a->importance, code) ||
	       cli_mem_flag(c, "--ttl", argc, argv, i, &a->ttl, code);
}

static int add_options(cli *c, const add_args *a, cog_memory_put_options *po)
{
	int code = CLI_OK;
	char *end;
	if (a->layer && (po->layer = cli_mem_layer(c, "--layer", a->layer, &code)) ==
	    COG_MEMORY_WORKING)
		return cli_fail(c, CLI_USAGE, "--layer working lives in one process's RAM and "
			"would be gone when cog exits: use short_term or long_term");
	if (!code && a->meta && (code = cli_mem_json_object(c, "--meta", a->meta)) == CLI_OK)
		po->metadata = a->meta;
	if (!code && a->importance) {
		po->importance = strtod(a->importance, &end);
		if (*end || end == a->importance || !(po->importance >= 0 && po->importance <= 1))
			code = cli_fail(c, CLI_USAGE, "--importance needs a number from 0 to 1, not '%s'",
				a->importance);
	}
	if (!code && a->ttl) {
		long long ttl = strtoll(a->ttl, &end, 10);
		if (*end || end == a->ttl || ttl < 0 || ttl > INT64_MAX / 2)
			code = cli_fail(c, CLI_USAGE, "--ttl needs milliseconds (a whole number, 0 for "
				"the layer's default), not '%s'", a->ttl);
		po->ttl_ms = ttl;
	}
	return code;
}

static int memory_add(cli *c, int argc, char **argv)
{
	static const char usage[] = "usage: cog memory add TEXT... [--layer short_term|long_term|"
		"episodic] [--meta JSON] [--importance 0..1] [--ttl MS] [--ns NS] [--json]";
	cli_mem_opts o = { NULL, NULL };
	add_args a = { NULL, NULL, NULL, NULL };
	cog_memory_put_options po = COG_MEMORY_PUT_OPTIONS_INIT;
	char **words = calloc((size_t)argc + 1, sizeof(*words)), *text = NULL;
	int nwords = 0, code = words ? cli_mem_parse(c, &o, argc, argv, add_flag, &a, words, &nwords,
		usage) : cli_fail(c, CLI_FAILED, "out of memory");
	if (!code)
		code = add_options(c, &a, &po);
	if (!code && nwords == 0)
		code = cli_fail(c, CLI_USAGE, "memory add needs TEXT; %s", usage);
	if (!code)
		code = cli_join_words(c, nwords, words, &text);
	free(words);
	if (!code && !text[strspn(text, " \t\r\n")])
		code = cli_fail(c, CLI_USAGE, "memory add: TEXT is empty");
	cog_ctx *ctx = NULL;
	cog_memory *mem = NULL;
	if (!code)
		code = cli_mem_open(c, &o, true, &ctx, &mem);
	if (!code) {
		uint64_t id = 0;
		cli_cancel_on_sigint(ctx);
		int rc = cog_memory_put(mem, text, &po, &id);
		cli_cancel_restore();
		if (rc < 0) {
			code = cli_mem_failure(c, rc);
		} else if (c->json) {
			printf("{\"ok\":true,\"id\":%" PRIu64 ",\"merged\":%s,\"namespace\":", id,
				rc == COG_MEMORY_MERGED ? "true" : "false");
			cli_json_string(cog_memory_namespace(mem));
			puts("}");
		} else {
			printf("%s %" PRIu64 "\n", rc == COG_MEMORY_MERGED ? "merged into" : "added", id);
		}
	}
	free(text);
	cog_memory_free(mem);
	cog_ctx_free(ctx);
	return code;
}

int cmd_memory(cli *c, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(cli *c, int argc, char **argv);
	} subs[] = {
		{ "add", memory_add }, { "import", cmd_memory_import },
		{ "search", cmd_memory_search }, { "get", cmd_memory_get },
		{ "forget", cmd_memory_forget }, { "stats", cmd_memory_stats },
		{ "purge", cmd_memory_purge },
	};
	if (argc >= 1 && (strcmp(argv[0], "help") == 0 || strcmp(argv[0], "--help") == 0)) {
		fputs(memory_usage, stdout);
		return CLI_OK;
	}
	for (size_t k = 0; argc >= 1 && k < sizeof(subs) / sizeof(*subs); k++)
		if (strcmp(argv[0], subs[k].name) == 0)
			return subs[k].run(c, argc - 1, argv + 1);
	if (!c->json)
		fputs(memory_usage, stderr);
	if (argc < 1)
		return cli_fail(c, CLI_USAGE, "memory needs a command: add, import, search, get, "
			"forget, stats or purge");
	return cli_fail(c, CLI_USAGE, "unknown memory command '%s' (add, import, search, get, "
		"forget, stats, purge)", argv[0]);
}
