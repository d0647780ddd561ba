/*
 * cog chat PROMPT... [--system TEXT] [--model M] [--provider P] [--url URL]
 *          [--json] [--no-stream] [--temperature T] [--max-tokens N]
 *
 * One chat request through the library's router to the LLM configured in
 * the environment (COG_LLM_PROVIDER, COG_LLM_URL, COG_MODEL, COG_API_KEY or
 * the provider's own key variable) or by flags. The answer's text is
 * printed as it streams in; --json prints the whole response JSON instead.
 * Ctrl-C cancels the request (cog_ctx_cancel) and exits 130.
 *
 * Also what `cog plan GOAL --llm` shares: the LLM set-up (the curl
 * transport, one endpoint named "default", and the router settings of the
 * config file's "llm" object: prices, routes...), Ctrl-C, and the log hook
 * that shows the library's warnings (the LLM planner's fallback).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"

#ifdef COG_HAVE_CURL
#include <cognition/curl.h>
#endif

/* ---- Ctrl-C ---- */

static cog_ctx *sigint_ctx;
static struct sigaction old_int, old_term;

static void on_sigint(int sig)
{
	(void)sig;
	if (sigint_ctx)
		cog_ctx_cancel(sigint_ctx);   /* async-signal-safe */
}

void cli_cancel_on_sigint(cog_ctx *ctx)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sa.sa_flags = SA_RESETHAND;   /* a second Ctrl-C ends cog at once */
	sigemptyset(&sa.sa_mask);
	sigint_ctx = ctx;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
}

void cli_cancel_restore(void)
{
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigint_ctx = NULL;
}

/* ---- the library's log ---- */

void cli_log_line(int level, const char *line, void *user_data)
{
	const cli *c = user_data;
	cJSON *record = cJSON_Parse(line);
	const char *message = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(record,
		"message"));
	static const char *const names[] = { "trace", "debug", "info", "warning", "error" };
	char text[2048];
	snprintf(text, sizeof(text), "%s: %s: %s", c->program,
		level >= 0 && level <= COG_LOG_ERROR ? names[level] : "log",
		message ? message : line);
	/* Above cog run's live display, when it is drawn. */
	run_progress_print(text);
	cJSON_Delete(record);
}

/* ---- configuration ---- */

int cli_llm_flag(const cli *c, cli_llm *llm, int argc, char **argv, int *i, int *code)
{
	static const char *const names[] = { "--provider", "--url", "--model" };
	const char **slots[] = { &llm->provider, &llm->url, &llm->model };
	for (size_t k = 0; k < sizeof(names) / sizeof(*names); k++) {
		size_t n = strlen(names[k]);
		const char *a = argv[*i], *value;
		if (strcmp(a, names[k]) == 0)
			value = *i + 1 < argc ? argv[++*i] : NULL;
		else if (strncmp(a, names[k], n) == 0 && a[n] == '=')
			value = a + n + 1;
		else
			continue;
		if (!value || !*value)
			*code = cli_fail(c, CLI_USAGE, "%s needs a value", names[k]);
		*slots[k] = value;
		return 1;
	}
	return 0;
}

static int parse_provider(const cli *c, const char *name, int *provider)
{
	static const char *const names[] = { "openai", "anthropic", "ollama" };
	static const int values[] = { COG_LLM_OPENAI, COG_LLM_ANTHROPIC, COG_LLM_OLLAMA };
	for (size_t k = 0; k < sizeof(names) / sizeof(*names); k++) {
		if (strcmp(name, names[k]) == 0) {
			*provider = values[k];
			return CLI_OK;
		}
	}
	return cli_fail(c, CLI_USAGE, "--provider needs openai, anthropic or ollama, not '%s'",
		name);
}

/* The API key for the provider finally chosen: $COG_API_KEY, else that
 * provider's own variable (none for Ollama). Never another provider's key:
 * an OpenAI key must not reach api.anthropic.com or an Ollama server. */
static const char *api_key_for(int provider)
{
	const char *key = getenv("COG_API_KEY");
	if (key && *key)
		return key;
	key = provider == COG_LLM_OPENAI ? getenv("OPENAI_API_KEY")
	    : provider == COG_LLM_ANTHROPIC ? getenv("ANTHROPIC_API_KEY") : NULL;
	return key && *key ? key : NULL;
}

/* The config file's "llm" object, when it has one, to the router
 * (cog_llm_configure: routes, prices, retry, timeout, cache). */
static int configure_router(const cli *c, cog_ctx *ctx)
{
	const char *path = NULL;
	char *text = NULL;
	int code = cli_config_load(c, &path, &text);
	if (code || !text)
		return code;
	cJSON *root = cJSON_Parse(text);
	cJSON_free(text);
	const cJSON *llm = cJSON_GetObjectItemCaseSensitive(root, "llm");
	char *json = llm ? cJSON_PrintUnformatted(llm) : NULL;
	if (llm && !json)
		code = cli_fail(c, CLI_FAILED, "out of memory");
	else if (json && cog_llm_configure(ctx, json) != 0)
		code = cli_fail(c, CLI_USAGE, "config file %s: \"llm\": %s", path, cog_error_last());
	cJSON_free(json);
	cJSON_Delete(root);
	return code;
}

int cli_llm_setup(const cli *c, cog_ctx *ctx, const cli_llm *llm)
{
	cog_llm_provider_options po = COG_LLM_PROVIDER_OPTIONS_INIT;
	if (cog_llm_provider_options_from_env(&po) != 0)
		return cli_fail(c, CLI_USAGE, "%s", cog_error_last());
	const char *env_provider = getenv("COG_LLM_PROVIDER");
	/* The provider first (--provider over $COG_LLM_PROVIDER), then its key:
	 * the environment's choice of key followed the environment's provider. */
	if (llm->provider && parse_provider(c, llm->provider, &po.provider) != CLI_OK)
		return CLI_USAGE;
	po.api_key = api_key_for(po.provider);
	if (llm->url)
		po.base_url = llm->url;
	if (llm->model)
		po.model = llm->model;
	/* A URL, or a provider named on purpose (whose default URL is then
	 * meant): a key lying in the environment for other programs is not a
	 * request to call a paid API. */
	if ((!po.base_url || !*po.base_url) && !llm->provider &&
	    !(env_provider && *env_provider))
		return cli_fail(c, CLI_USAGE, "no LLM configured: set COG_LLM_URL (and "
			"COG_LLM_PROVIDER, COG_MODEL) or pass --url");
#ifdef COG_HAVE_CURL
	if (!cog_ctx_transport(ctx)) {
		cog_transport *transport = NULL;
		if (cog_curl_transport_new(&transport, NULL) != 0 ||
		    cog_ctx_set_transport(ctx, transport) != 0)
			return cli_fail(c, CLI_FAILED, "%s", cog_error_last());
	}
#else
	if (!cog_ctx_transport(ctx))
		return cli_fail(c, CLI_FAILED, "this cog cannot reach an LLM: libcognition-curl "
			"is not built");
#endif
	cog_llm *backend = NULL;
	if (cog_llm_provider_new(&backend, ctx, &po) != 0 ||
	    cog_llm_add_endpoint(ctx, "default", backend, NULL) != 0)
		return cli_fail(c, CLI_USAGE, "%s", cog_error_last());
	return configure_router(c, ctx);
}

/* ---- streaming ---- */

typedef struct chat_output {
	bool printed;      /* some text went to stdout */
	char last;         /* its last byte */
	bool terminal;     /* stdout is a terminal: keep control bytes off it */
} chat_output;

static void put_text(chat_output *out, const char *s, size_t len)
{
	if (!len)
		return;
	if (out->terminal) {
		/* A model's text must not drive the terminal (escape sequences). */
		for (size_t i = 0; i < len; i++) {
			unsigned char ch = (unsigned char)s[i];
			if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f)
				printf("\\x%02x", ch);
			else
				putchar(ch);
		}
	} else {
		fwrite(s, 1, len, stdout);
	}
	fflush(stdout);
	out->printed = true;
	out->last = s[len - 1];
}

static int on_event(const char *event, size_t len, void *user_data)
{
	chat_output *out = user_data;
	cJSON *e = cJSON_ParseWithLength(event, len);
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "type"));
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(e, "text");
	if (type && strcmp(type, "text") == 0 && cJSON_IsString(text))
		put_text(out, text->valuestring, strlen(text->valuestring));
	else if (type && strcmp(type, "retry") == 0)
		fprintf(stderr, "cog: retrying (attempt %d, in %d ms)\n",
			(int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "attempt")),
			(int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "delay_ms")));
	cJSON_Delete(e);
	return 0;
}

/* ---- the request ---- */

typedef struct chat_args {
	cli_llm llm;
	const char *system;
	double temperature;       /* < 0: not given */
	long max_tokens;          /* 0: not given */
	bool stream;
} chat_args;

static int parse_args(cli *c, int argc, char **argv, chat_args *a, char **prompt)
{
	static const char usage[] = "usage: cog chat PROMPT... [--system TEXT] [--model M] "
		"[--provider openai|anthropic|ollama] [--url URL] [--json] [--no-stream] "
		"[--temperature T] [--max-tokens N]";
	char **words = calloc((size_t)argc + 1, sizeof(*words));
	if (!words)
		return cli_fail(c, CLI_FAILED, "out of memory");
	int nwords = 0, code = CLI_OK;
	bool options_done = false;
	for (int i = 0; i < argc && !code; i++) {
		const char *s = argv[i];
		char *end;
		if (options_done || s[0] != '-' || !s[1]) {
			words[nwords++] = argv[i];
		} else if (strcmp(s, "--") == 0) {
			options_done = true;
		} else if (cli_llm_flag(c, &a->llm, argc, argv, &i, &code)) {
			continue;
		} else if (strcmp(s, "--system") == 0 && i + 1 < argc) {
			a->system = argv[++i];
		} else if (strcmp(s, "--json") == 0) {
			c->json = true;
		} else if (strcmp(s, "--no-stream") == 0) {
			a->stream = false;
		} else if (strcmp(s, "--temperature") == 0 && i + 1 < argc) {
			a->temperature = strtod(argv[++i], &end);
			if (*end || end == argv[i] || !(a->temperature >= 0 && a->temperature <= 2))
				code = cli_fail(c, CLI_USAGE, "--temperature needs a number from 0 to 2");
		} else if (strcmp(s, "--max-tokens") == 0 && i + 1 < argc) {
			a->max_tokens = strtol(argv[++i], &end, 10);
			if (*end || end == argv[i] || a->max_tokens < 1 || a->max_tokens > 10000000)
				code = cli_fail(c, CLI_USAGE, "--max-tokens needs a whole number from 1 "
					"to 10000000");
		} else {
			code = cli_fail(c, CLI_USAGE, "chat: unknown option '%s'; %s", s, usage);
		}
	}
	if (!code && nwords == 0)
		code = cli_fail(c, CLI_USAGE, "chat needs a PROMPT; %s", usage);
	if (!code)
		code = cli_join_words(c, nwords, words, prompt);
	free(words);
	return code;
}

/* The request JSON (malloc'd by cJSON). */
static char *build_request(const chat_args *a, const char *prompt)
{
	cJSON *req = cJSON_CreateObject();
	cJSON *messages = cJSON_AddArrayToObject(req, "messages");
	cJSON *m;
	if (a->system) {
		m = cJSON_CreateObject();
		cJSON_AddItemToArray(messages, m);
		cJSON_AddStringToObject(m, "role", "system");
		cJSON_AddStringToObject(m, "content", a->system);
	}
	m = cJSON_CreateObject();
	cJSON_AddItemToArray(messages, m);
	cJSON_AddStringToObject(m, "role", "user");
	cJSON_AddStringToObject(m, "content", prompt);
	if (a->temperature >= 0)
		cJSON_AddNumberToObject(req, "temperature", a->temperature);
	if (a->max_tokens)
		cJSON_AddNumberToObject(req, "max_tokens", (double)a->max_tokens);
	char *text = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	return text;
}

/* The answer's text when nothing was streamed (--no-stream, a cached
 * answer, a provider that answered whole). */
static void print_content(chat_output *out, const char *response)
{
	cJSON *r = cJSON_Parse(response);
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(r, "message");
	const char *content = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg,
		"content"));
	if (content)
		put_text(out, content, strlen(content));
	cJSON_Delete(r);
}

int cmd_chat(cli *c, int argc, char **argv)
{
	chat_args a = { { NULL, NULL, NULL }, NULL, -1, 0, true };
	char *prompt = NULL;
	int code = parse_args(c, argc, argv, &a, &prompt);
	cog_ctx *ctx = NULL;
	c->log_warnings = true;
	if (!code)
		code = cli_open(c, CLI_DB_NONE, NULL, &ctx);
	if (!code)
		code = cli_llm_setup(c, ctx, &a.llm);
	char *request = code ? NULL : build_request(&a, prompt);
	if (!code && !request)
		code = cli_fail(c, CLI_FAILED, "out of memory");
	free(prompt);
	if (code) {
		cog_ctx_free(ctx);
		return code;
	}

	chat_output out = { false, '\n', isatty(STDOUT_FILENO) != 0 };
	cog_llm_chat_options options = COG_LLM_CHAT_OPTIONS_INIT;
	if (a.stream && !c->json) {
		options.on_event = on_event;
		options.event_user_data = &out;
	}
	char *response = NULL;
	cli_cancel_on_sigint(ctx);
	int rc = cog_llm_chat(ctx, request, &options, &response);
	char message[1024];
	snprintf(message, sizeof(message), "%s", rc ? cog_error_last() : "");
	cli_cancel_restore();
	cJSON_free(request);

	if (!rc && c->json) {
		fputs(response, stdout);
		putchar('\n');
	} else if (!rc) {
		if (!out.printed)
			print_content(&out, response);
		if (out.last != '\n' || !out.printed)
			putchar('\n');
	} else {
		if (out.printed && out.last != '\n')
			putchar('\n');   /* the error starts on its own line */
		fflush(stdout);
		code = rc == COG_ECANCELED ? cli_fail(c, CLI_CANCELED, "canceled")
			: cli_fail(c, CLI_FAILED, "%s", message);
	}
	cog_free(response);
	cog_ctx_free(ctx);
	return code;
}
