/*
 * The built-in providers as cog_llm backends: options (from the caller or
 * the environment, copied), the vtable, and a chat or embedding request
 * carried out: the wire format builds the body, provider_http.c does the
 * exchange, the assembler makes the answer. The wire formats are in
 * openai*.c, anthropic*.c and ollama*.c.
 *
 * A provider is immutable once made, so several threads may use it at
 * once; everything a request needs lives on its stack.
 */
#include <ctype.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include "provider_int.h"
#include "redact_secret.h"

#define DEFAULT_MAX_RESPONSE ((size_t)16 << 20)

/* Struct sizes by version (see backend.c): an older caller's options are
 * read and written only as far as that version reaches. */
static const size_t options_size[COG_LLM_PROVIDER_OPTIONS_VERSION + 1] = {
	0, sizeof(cog_llm_provider_options)
};

static const llm_wire *const wires[] = {
	[COG_LLM_OPENAI] = &llm_wire_openai,
	[COG_LLM_ANTHROPIC] = &llm_wire_anthropic,
	[COG_LLM_OLLAMA] = &llm_wire_ollama,
};

/* ---- options ---- */

int cog_llm_provider_options_init(cog_llm_provider_options *options,
                                  unsigned int version)
{
	if (!options)
		return cog__error(COG_EINVAL, "cog_llm_provider_options_init: options is NULL");
	if (version == 0 || version > COG_LLM_PROVIDER_OPTIONS_VERSION)
		return cog__error(COG_EVERSION,
			"cog_llm_provider_options_init: version %u is not supported (1..%u)",
			version, COG_LLM_PROVIDER_OPTIONS_VERSION);
	cog_llm_provider_options defaults = COG_LLM_PROVIDER_OPTIONS_INIT;
	memcpy(options, &defaults, options_size[version]);
	options->version = version;
	return COG_OK;
}

/* A variable's value, NULL when unset or empty. */
static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static const char *key_variable(int provider)
{
	return provider == COG_LLM_OPENAI ? "OPENAI_API_KEY"
	     : provider == COG_LLM_ANTHROPIC ? "ANTHROPIC_API_KEY" : NULL;
}

int cog_llm_provider_options_from_env(cog_llm_provider_options *options)
{
	static const char fn[] = "cog_llm_provider_options_from_env";
	COG_CHECK_ARG(options, fn, "options is NULL");
	if (options->version == 0 || options->version > COG_LLM_PROVIDER_OPTIONS_VERSION)
		return cog__error(COG_EVERSION, "%s: options version %u is not supported (1..%u)",
			fn, options->version, COG_LLM_PROVIDER_OPTIONS_VERSION);
	int provider = options->provider;
	const char *name = env("COG_LLM_PROVIDER");
	if (name) {
		size_t i = 0;
		while (i < COG_ARRAY_LEN(wires) && strcasecmp(name, wires[i]->name) != 0)
			i++;
		if (i == COG_ARRAY_LEN(wires))
			return cog__error(COG_EINVAL, "%s: COG_LLM_PROVIDER=\"%.64s\" is not a "
				"provider (expected openai, anthropic or ollama)", fn, name);
		provider = (int)i;
	}
	options->provider = provider;
	if (env("COG_LLM_URL"))
		options->base_url = env("COG_LLM_URL");
	if (env("COG_MODEL"))
		options->model = env("COG_MODEL");
	const char *key = env("COG_API_KEY");
	if (!key && key_variable(provider))
		key = env(key_variable(provider));
	if (key)
		options->api_key = key;
	return COG_OK;
}

/* ---- making one ---- */

static void provider_free(llm_provider *p)
{
	if (!p)
		return;
	cog_free(p->base_url);
	if (p->api_key)
		memset(p->api_key, 0, strlen(p->api_key));
	cog_free(p->api_key);
	cog_free(p->model);
	for (size_t i = 0; i < p->header_count; i++) {
		memset(p->headers[i], 0, strlen(p->headers[i]));
		cog_free(p->headers[i]);
	}
	cog_free(p->headers);
	cog_free(p->anthropic_version);
	cog_free(p);
}

static void provider_close(void *self)
{
	provider_free(self);
}

static bool has_line_break(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/*
 * A URL as it may be shown (describe(), logs, messages): without userinfo
 * ("user:password@") and without query or fragment, which can carry
 * credentials: "https://k@host/v1?key=x" is shown "https://host/v1".
 */
int llm_put_shown_url(cog_buf *b, const char *url)
{
	const char *scheme_end = strstr(url, "://");
	const char *host = scheme_end ? scheme_end + 3 : url;
	size_t authority = strcspn(host, "/?#");
	const char *at = NULL;
	for (const char *c = host; c < host + authority; c++)
		if (*c == '@')
			at = c;
	cog_buf_put(b, url, (size_t)(host - url));
	const char *rest = at ? at + 1 : host;
	return cog_buf_put(b, rest, strcspn(rest, "?#"));
}

/* Fails with "fn: base URL "<shown>" <what>". */
static int bad_url(const char *fn, const char *url, const char *what)
{
	cog_buf shown = COG_BUF_INIT;
	llm_put_shown_url(&shown, url);
	int rc = cog__error(COG_EINVAL, "%s: base URL \"%.200s\" %s", fn,
		shown.ptr ? shown.ptr : "", what);
	cog_buf_dispose(&shown);
	return rc;
}

/* http:// or https://, a host, no spaces or control characters. */
static int check_url(const char *url, const char *fn)
{
	size_t skip = strncasecmp(url, "http://", 7) == 0 ? 7
	            : strncasecmp(url, "https://", 8) == 0 ? 8 : 0;
	if (!skip)
		return bad_url(fn, url, "is not http:// or https://");
	if (url[skip] == '\0' || url[skip] == '/')
		return bad_url(fn, url, "has no host");
	for (const char *c = url; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7F)
			return bad_url(fn, url, "contains a space or control character");
	return COG_OK;
}

/* "Name: value": a token (RFC 9110 tchar) for the name, a value without
 * line breaks. The value is not quoted in messages: it may be a secret. */
static int check_header(const char *h, size_t i, const char *fn)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~";
	if (!h)
		return cog__error(COG_EINVAL, "%s: header %zu is NULL", fn, i);
	size_t n = 0;
	while (h[n] && (isalnum((unsigned char)h[n]) || strchr(tchar, h[n])))
		n++;
	if (n == 0 || h[n] != ':')
		return cog__error(COG_EINVAL, "%s: header %zu is not \"Name: value\"", fn, i);
	if (has_line_break(h))
		return cog__error(COG_EINVAL, "%s: header %zu (%.*s) contains CR or LF",
			fn, i, (int)(n < 64 ? n : 64), h);
	return COG_OK;
}

static int copy_options(llm_provider *p, const cog_llm_provider_options *o,
                        const char *fn)
{
	const char *url = o->base_url ? o->base_url : p->wire->default_base_url;
	const char *key = o->api_key;
	if (!key && key_variable(o->provider))
		key = env(key_variable(o->provider));
	int rc = check_url(url, fn);
	if (!rc && key && has_line_break(key))
		rc = cog__error(COG_EINVAL, "%s: the API key contains CR or LF", fn);
	if (!rc && o->anthropic_version && has_line_break(o->anthropic_version))
		rc = cog__error(COG_EINVAL, "%s: anthropic_version contains CR or LF", fn);
	if (!rc && o->header_count && !o->headers)
		rc = cog__error(COG_EINVAL, "%s: header_count %zu without headers", fn,
			o->header_count);
	for (size_t i = 0; !rc && i < o->header_count; i++)
		rc = check_header(o->headers[i], i, fn);
	if (rc)
		return rc;
	p->base_url = cog__strdup(url);
	p->api_key = key ? cog__strdup(key) : NULL;
	p->model = o->model && *o->model ? cog__strdup(o->model) : NULL;
	p->anthropic_version = cog__strdup(o->anthropic_version ? o->anthropic_version
	                                                        : "2023-06-01");
	p->headers = o->header_count ? cog__calloc(o->header_count, sizeof(char *)) : NULL;
	bool ok = p->base_url && (p->api_key || !key) && (p->model || !o->model || !*o->model) &&
	          p->anthropic_version && (p->headers || !o->header_count);
	for (size_t i = 0; ok && i < o->header_count; i++, p->header_count++)
		ok = (p->headers[i] = cog__strdup(o->headers[i])) != NULL;
	if (!ok)
		return cog__oom(fn);
	size_t len = strlen(p->base_url);
	while (len > 0 && p->base_url[len - 1] == '/')
		p->base_url[--len] = '\0';
	p->timeout_ms = o->timeout_ms ? o->timeout_ms : cog__ctx_http_timeout_ms(p->ctx);
	p->max_response_bytes = o->max_response_bytes ? o->max_response_bytes
	                                              : DEFAULT_MAX_RESPONSE;
	p->default_max_tokens = o->default_max_tokens ? o->default_max_tokens : 4096;
	return COG_OK;
}

static int provider_describe(void *self, char **json)
{
	const llm_provider *p = self;
	cog_buf b = COG_BUF_INIT;
	cog_buf_puts(&b, "{\"backend\":");
	cog_buf_put_json_string(&b, p->wire->name, strlen(p->wire->name));
	cog_buf shown = COG_BUF_INIT;
	llm_put_shown_url(&shown, p->base_url);
	cog_buf_puts(&b, ",\"base_url\":");
	cog_buf_put_json_string(&b, shown.ptr ? shown.ptr : "", shown.len);
	bool lost = shown.failed;
	cog_buf_dispose(&shown);
	cog_buf_puts(&b, ",\"model\":");
	if (p->model)
		cog_buf_put_json_string(&b, p->model, strlen(p->model));
	else
		cog_buf_puts(&b, "null");
	cog_buf_printf(&b, ",\"api_key_set\":%s,\"timeout_ms\":%u,"
		"\"max_response_bytes\":%zu,\"extra_headers\":%zu}",
		p->api_key ? "true" : "false", p->timeout_ms, p->max_response_bytes,
		p->header_count);
	if (lost)
		cog_buf_dispose(&b);
	*json = lost ? NULL : cog_buf_detach(&b);
	return *json ? COG_OK : cog__oom("describe");
}

int cog_llm_provider_new(cog_llm **out, cog_ctx *ctx,
                         const cog_llm_provider_options *options)
{
	static const char fn[] = "cog_llm_provider_new";
	COG_CHECK_ARG(out, fn, "out is NULL");
	*out = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	cog_llm_provider_options copy = COG_LLM_PROVIDER_OPTIONS_INIT;
	const cog_llm_provider_options *o = &copy;
	if (options && (options->version == 0 ||
	                options->version > COG_LLM_PROVIDER_OPTIONS_VERSION))
		return cog__error(COG_EVERSION, "%s: options version %u is not supported (1..%u)",
			fn, options->version, COG_LLM_PROVIDER_OPTIONS_VERSION);
	/* Members past the caller's version keep their defaults. */
	if (options)
		memcpy(&copy, options, options_size[options->version]);
	if (o->provider < 0 || (size_t)o->provider >= COG_ARRAY_LEN(wires))
		return cog__error(COG_EINVAL, "%s: provider %d is not a cog_llm_provider "
			"(0 openai, 1 anthropic, 2 ollama)", fn, o->provider);
	llm_provider *p = cog__calloc(1, sizeof(*p));
	if (!p)
		return cog__oom(fn);
	p->wire = wires[o->provider];
	p->ctx = ctx;
	int rc = copy_options(p, o, fn);
	/* The key, and credentials in the extra headers, are masked wherever
	 * the library redacts text (logs, journal, memory, audit, traces). */
	if (!rc)
		rc = cog__redact_add_secret(ctx, p->api_key);
	for (size_t i = 0; !rc && i < p->header_count; i++) {
		const char *colon = strchr(p->headers[i], ':');
		char name[128];
		size_t n = colon ? (size_t)(colon - p->headers[i]) : 0;
		if (!colon || n >= sizeof(name))
			continue;
		memcpy(name, p->headers[i], n);
		name[n] = '\0';
		if (!cog__is_secret_name(name))
			continue;
		const char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		const char *sp = strchr(v, ' ');   /* "Bearer <token>": the token too */
		rc = cog__redact_add_secret(ctx, v);
		if (!rc && sp)
			rc = cog__redact_add_secret(ctx, sp + 1);
	}
	if (rc) {
		provider_free(p);
		return rc;
	}
	cog_llm_vtable vt = COG_LLM_VTABLE_INIT;
	vt.self = p;
	vt.close = provider_close;
	vt.chat = llm_provider_chat;
	vt.embed = p->wire->embed_path ? llm_provider_embed : NULL;
	vt.describe = provider_describe;
	static const llm_tree_ops with_embed = {
		llm_provider_chat_tree, llm_provider_embed_tree
	};
	static const llm_tree_ops chat_only = { llm_provider_chat_tree, NULL };
	rc = cog_llm_new(out, &vt);
	if (!rc)
		(*out)->tree = p->wire->embed_path ? &with_embed : &chat_only;
	return rc;
}
