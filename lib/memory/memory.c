/*
 * The memory handle: options, namespaces, layer names, and the store it
 * works on (the context's storage, or one in-memory store shared by every
 * handle of a context that has none).
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "auth_int.h"
#include "mem_auth.h"
#include "memory_int.h"
#include "cognition/llm.h"

/* ---- namespaces ---- */

static bool segment_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
	       c == ':' || c == '@';
}

int mem_ns_check(const char *fn, const char *ns)
{
	if (!ns)
		return cog__error(COG_EINVAL, "%s: namespace is NULL", fn);
	if (!*ns)
		return cog__error(COG_EINVAL, "%s: namespace is empty (use e.g. \"tenant/user\")", fn);
	size_t seg = 1, seg_len = 0;
	for (const char *p = ns;; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '/' || c == '\0') {
			if (seg_len == 0)
				return cog__error(COG_EINVAL,
					"%s: namespace \"%.64s\": segment %zu is empty", fn, ns, seg);
			if (seg_len == 1 && p[-1] == '.')
				return cog__error(COG_EINVAL,
					"%s: namespace \"%.64s\": segment %zu is \".\"", fn, ns, seg);
			if (seg_len == 2 && p[-1] == '.' && p[-2] == '.')
				return cog__error(COG_EINVAL,
					"%s: namespace \"%.64s\": segment %zu is \"..\"", fn, ns, seg);
			if (c == '\0')
				return COG_OK;
			if (++seg > MEM_SEGMENTS_MAX)
				return cog__error(COG_EINVAL,
					"%s: namespace \"%.64s\" has more than %d segments "
					"(tenant/principal/agent/session)", fn, ns, MEM_SEGMENTS_MAX);
			seg_len = 0;
			continue;
		}
		if (!segment_char(c))
			return cog__error(COG_EINVAL,
				"%s: namespace \"%.64s\": segment %zu has the character 0x%02x at "
				"byte %zu (allowed: letters, digits and . _ - : @)",
				fn, ns, seg, c, (size_t)(p - ns));
		if (++seg_len > MEM_SEGMENT_MAX)
			return cog__error(COG_ERANGE,
				"%s: namespace \"%.64s\": segment %zu is longer than %d bytes",
				fn, ns, seg, MEM_SEGMENT_MAX);
	}
}

size_t mem_ns_chain(const char *ns, char *storage, const char *out[MEM_SEGMENTS_MAX])
{
	size_t len = strlen(ns), n = 0;
	for (;;) {
		memcpy(storage, ns, len);
		storage[len] = '\0';
		out[n++] = storage;
		storage += len + 1;
		while (len > 0 && ns[len - 1] != '/')
			len--;
		if (len == 0 || n == MEM_SEGMENTS_MAX)
			return n;
		len--; /* the '/' */
	}
}

/* ---- layers ---- */

static const struct {
	unsigned int bit;
	const char *name;
} layers[] = {
	{ COG_MEMORY_WORKING, "working" },
	{ COG_MEMORY_SHORT_TERM, "short_term" },
	{ COG_MEMORY_LONG_TERM, "long_term" },
	{ COG_MEMORY_EPISODIC, "episodic" },
};

const char *mem_layer_name(unsigned int layer)
{
	for (size_t i = 0; i < COG_ARRAY_LEN(layers); i++)
		if (layers[i].bit == layer)
			return layers[i].name;
	return NULL;
}

unsigned int mem_layer_bit(const char *name)
{
	for (size_t i = 0; name && i < COG_ARRAY_LEN(layers); i++)
		if (strcmp(layers[i].name, name) == 0)
			return layers[i].bit;
	return 0;
}

int mem_layers_from_json(const cJSON *array, const char *where, unsigned int *mask)
{
	*mask = COG_MEMORY_LAYERS_ALL;
	if (!array || cJSON_IsNull(array))
		return COG_OK;
	if (!cJSON_IsArray(array))
		return cog__error(COG_EINVAL, "%s: \"layers\" must be an array of layer names", where);
	unsigned int m = 0;
	int i = 0;
	for (const cJSON *e = array->child; e; e = e->next, i++) {
		unsigned int bit = cJSON_IsString(e) ? mem_layer_bit(e->valuestring) : 0;
		if (!bit)
			return cog__error(COG_EINVAL,
				"%s: layers[%d] is not a layer (working, short_term, long_term, episodic)",
				where, i);
		m |= bit;
	}
	if (!m)
		return cog__error(COG_EINVAL, "%s: \"layers\" is empty", where);
	*mask = m;
	return COG_OK;
}

/* ---- options ---- */

static const size_t options_size[COG_MEMORY_OPTIONS_VERSION + 1] = {
	0, offsetof(cog_memory_options, principal), sizeof(cog_memory_options)
};

int cog_memory_options_init(cog_memory_options *o, unsigned int version)
{
	COG_CHECK_ARG(o, "cog_memory_options_init", "options is NULL");
	if (version == 0 || version > COG_MEMORY_OPTIONS_VERSION)
		return cog__error(COG_EVERSION,
			"cog_memory_options_init: version %u is not supported (1..%u)",
			version, COG_MEMORY_OPTIONS_VERSION);
	cog_memory_options d = COG_MEMORY_OPTIONS_INIT;
	memcpy(o, &d, options_size[version]);
	o->version = version;
	return COG_OK;
}

static const size_t put_options_size[COG_MEMORY_PUT_OPTIONS_VERSION + 1] = {
	0, sizeof(cog_memory_put_options)
};

int cog_memory_put_options_init(cog_memory_put_options *o, unsigned int version)
{
	COG_CHECK_ARG(o, "cog_memory_put_options_init", "options is NULL");
	if (version == 0 || version > COG_MEMORY_PUT_OPTIONS_VERSION)
		return cog__error(COG_EVERSION,
			"cog_memory_put_options_init: version %u is not supported (1..%u)",
			version, COG_MEMORY_PUT_OPTIONS_VERSION);
	cog_memory_put_options d = COG_MEMORY_PUT_OPTIONS_INIT;
	memcpy(o, &d, put_options_size[version]);
	o->version = version;
	return COG_OK;
}

static int take_options(const char *fn, cog_memory *m, const cog_memory_options *in)
{
	cog_memory_options o = COG_MEMORY_OPTIONS_INIT;
	if (in) {
		if (in->version == 0 || in->version > COG_MEMORY_OPTIONS_VERSION)
			return cog__error(COG_EVERSION,
				"%s: options version %u is not supported (1..%u); use "
				"cog_memory_options_init()", fn, in->version, COG_MEMORY_OPTIONS_VERSION);
		memcpy(&o, in, options_size[in->version]);
	}
	if (!o.max_text_bytes)
		o.max_text_bytes = MEM_TEXT_MAX_DEFAULT;
	if (o.max_text_bytes > COG_STORAGE_VALUE_MAX / 2)
		return cog__error(COG_EINVAL, "%s: max_text_bytes %zu is over the limit of %u",
			fn, o.max_text_bytes, COG_STORAGE_VALUE_MAX / 2);
	if (o.short_term_ttl_ms < 0)
		return cog__error(COG_EINVAL, "%s: short_term_ttl_ms is negative", fn);
	if (!o.short_term_ttl_ms)
		o.short_term_ttl_ms = MEM_SHORT_TTL_DEFAULT;
	if (!o.working_max_tokens)
		o.working_max_tokens = MEM_WORKING_TOKENS_DEFAULT;
	if (isnan(o.dedupe_threshold) || o.dedupe_threshold < 0)
		return cog__error(COG_EINVAL,
			"%s: dedupe_threshold must be 0 (default 0.95), a cosine in (0, 1], "
			"or above 1 to never merge", fn);
	if (o.dedupe_threshold == 0)
		o.dedupe_threshold = MEM_DEDUPE_DEFAULT;
	if (!o.hashing_dim)
		o.hashing_dim = MEM_HASH_DIM_DEFAULT;
	if (o.hashing_dim < MEM_HASH_DIM_MIN || o.hashing_dim > MEM_HASH_DIM_MAX)
		return cog__error(COG_EINVAL, "%s: hashing_dim %u is outside %u..%u",
			fn, o.hashing_dim, MEM_HASH_DIM_MIN, MEM_HASH_DIM_MAX);
	mem_embed_kind kind;
	if (!o.embedder || strcmp(o.embedder, "auto") == 0)
		kind = MEM_EMBED_AUTO;
	else if (strcmp(o.embedder, "hashing") == 0)
		kind = MEM_EMBED_HASHING;
	else if (strcmp(o.embedder, "llm") == 0)
		kind = MEM_EMBED_LLM;
	else
		return cog__error(COG_EINVAL,
			"%s: embedder \"%.40s\" is not one of auto, hashing, llm", fn, o.embedder);
	o.embedder = NULL; /* the caller's string is not kept */
	if (o.principal) {
		/* Checked here so a bad principal fails at open, not at each
		 * call; a \u0000 would cut a role name short. */
		cJSON *p = NULL;
		cog__json_init();
		if (cog__json_has_nul(o.principal) || cog_json_parse(&p, o.principal, "principal") ||
		    !cJSON_IsObject(p)) {
			cJSON_Delete(p);
			return cog__error(COG_EINVAL, "%s: options.principal must be a JSON object "
				"{\"tenant\",\"id\",\"roles\"} without \\u0000", fn);
		}
		cJSON_Delete(p);
		o.principal = cog__strdup(o.principal);
		if (!o.principal)
			return cog__oom(fn);
	}
	m->opt = o;
	m->emb.want = kind;
	m->emb.hashing_dim = o.hashing_dim;
	return COG_OK;
}

/* ---- the store ---- */

static int fallback_create(cog_ctx *ctx, void **state)
{
	(void)ctx;
	cog_storage *s = NULL;
	int rc = cog_storage_memory_new(&s);
	if (rc)
		return rc;
	*state = s;
	return COG_OK;
}

static void fallback_destroy(void *state)
{
	cog_storage_free(state);
}

static int pick_store(cog_memory *m)
{
	m->store = cog_ctx_storage(m->ctx);
	if (m->store)
		return COG_OK;
	void *state = NULL;
	int rc = cog__ctx_ext(m->ctx, COG__EXT_MEMORY, fallback_create, fallback_destroy, &state);
	if (rc)
		return rc;
	m->store = state;
	return COG_OK;
}

int cog_memory_open_with(cog_memory **out, cog_ctx *ctx, const char *ns,
                         const cog_memory_options *options)
{
	static const char fn[] = "cog_memory_open";
	COG_CHECK_ARG(out, fn, "out is NULL");
	*out = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	int rc = mem_ns_check(fn, ns);
	if (rc)
		return rc;
	cog_memory *m = cog__calloc(1, sizeof(*m));
	if (!m)
		return cog__oom(fn);
	m->ctx = ctx;
	rc = take_options(fn, m, options);
	if (!rc)
		rc = pick_store(m);
	if (rc) {
		cog_free((char *)m->opt.principal);
		cog_free(m);
		return rc;
	}
	memcpy(m->ns, ns, strlen(ns) + 1);
	m->chain_len = mem_ns_chain(m->ns, m->chain_buf, m->chain);
	m->working.max_tokens = m->opt.working_max_tokens;
	mem_tok_init(&m->tokens);
	*out = m;
	return COG_OK;
}

int cog_memory_open(cog_memory **out, cog_ctx *ctx, const char *ns)
{
	return cog_memory_open_with(out, ctx, ns, NULL);
}

void cog_memory_free(cog_memory *m)
{
	if (!m)
		return;
	mem_index_free(m->index);
	mem_work_clear(&m->working);
	cog_free((char *)m->opt.principal);
	cog_free(m);
}

const char *cog_memory_namespace(const cog_memory *m)
{
	return m ? m->ns : NULL;
}

int mem_redact(cog_memory *m, const char *text, size_t len, char **out, size_t *out_len)
{
	if (m->opt.no_redact) {
		*out = cog__strndup(text, len);
		if (!*out)
			return cog__oom("memory: redaction");
		if (out_len)
			*out_len = len;
		return COG_OK;
	}
	size_t count = 0;
	int rc = cog__redact_pii(m->ctx, text, len, out, out_len, &count);
	if (!rc)
		m->redactions += count;
	return rc;
}

/* ---- access (mem_auth.h) ---- */

int mem_auth_check(cog_memory *m, const char *fn, int action, const char *ns)
{
	if (!m->opt.principal)
		return COG_OK; /* the host */
	cJSON *principal = NULL;
	int rc = cog_json_parse(&principal, m->opt.principal, "principal");
	if (!rc)
		rc = cog__auth_check(m->ctx, principal, action, ns);
	cJSON_Delete(principal);
	return rc ? cog__error_wrap(rc, "%s", fn) : COG_OK;
}
