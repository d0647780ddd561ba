/*
 * A provider's chat and embedding requests, start to end: the request
 * (normalised by backend.c) gets its model, the wire format writes the
 * body, provider_http.c carries it, and the answer (streamed pieces or a
 * whole body) becomes the response shape with latency and provider.
 *
 * Whatever a request fails with, the message leaves here with the API key
 * masked: a provider may quote the key back in an error body, a 2xx error
 * report or a stream's error event, and each of those ends up in the
 * message.
 */
#include <stdio.h>
#include <string.h>

#include "provider_int.h"

/* The provider's default model into a request that names none. */
static int set_model(const llm_provider *p, cJSON *request)
{
	const char *name = p->wire->name;
	const char *model = cog_json_get_string(request, "model");
	if (model && *model)
		return COG_OK;
	if (!p->model)
		return cog__error(COG_EINVAL, "%s: the request names no model and the provider "
			"has no default model (options.model, COG_MODEL)", name);
	cJSON_DeleteItemFromObjectCaseSensitive(request, "model");
	return cog_json_add_string(request, "model", p->model) ? cog__oom(name) : COG_OK;
}

/* Request text (the vtable's members) → the request tree. */
static int parse_request(const llm_provider *p, const char *json, cJSON **out)
{
	const char *name = p->wire->name;
	int rc = cog_json_parse(out, json, "request");
	if (rc)
		return cog__error_wrap(COG_EINVAL, "%s", name);
	if (!cJSON_IsObject(*out))
		return cog__error(COG_EINVAL, "%s: the request is not a JSON object", name);
	return COG_OK;
}

/* model (the request's when the answer has none), latency_ms, provider. */
static int complete(const llm_provider *p, const cJSON *request, cJSON *response,
                    uint64_t t0)
{
	double ms = (double)((cog_clock_mono_ns() - t0) / 1000u) / 1000.0;
	const char *model = cog_json_get_string(response, "model");
	if ((!model && cog_json_add_string(response, "model",
	                                   cog_json_get_string(request, "model"))) ||
	    cog_json_add_number(response, "latency_ms", ms) ||
	    cog_json_add_string(response, "provider", p->wire->name))
		return cog__oom(p->wire->name);
	return COG_OK;
}

/* Mask the key wherever it is in text, and a start of it (4 bytes or
 * more) that ends the text: a provider's words are cut to a few hundred
 * bytes, possibly inside the key. */
static void mask_key(char *text, const char *key)
{
	size_t n = key ? strlen(key) : 0;
	if (n < 4)
		return;
	for (char *at = strstr(text, key); at; at = strstr(at + 1, key))
		memset(at, '*', n);
	size_t len = strlen(text);
	for (size_t k = (len < n ? len : n - 1); k >= 4; k--)
		if (memcmp(text + len - k, key, k) == 0) {
			memset(text + len - k, '*', k);
			break;
		}
}

/* One debug line per request: never the key, never a body. The failure's
 * message survives the logging, with the key masked. */
static void log_request(const llm_provider *p, const char *kind, const cJSON *request,
                        const llm_exchange *x, int rc, uint64_t t0)
{
	char saved[1024];
	if (rc) {
		snprintf(saved, sizeof(saved), "%s", cog_error_last());
		mask_key(saved, p->api_key);
	}
	cog_buf url = COG_BUF_INIT;
	llm_put_shown_url(&url, p->base_url);
	const char *model = request ? cog_json_get_string(request, "model") : NULL;
	cog__log(p->ctx, COG_LOG_DEBUG, NULL,
		"%s: %s POST %s%s model %s%s: %s, HTTP %d, %zu bytes, %zu events, %.1f ms",
		p->wire->name, kind, url.ptr && !url.failed ? url.ptr : "?", x->path,
		model ? model : "(none)",
		x->stream ? " (streamed)" : "", rc ? cog_strerror(rc) : "ok",
		x->http_status, x->bytes, x->events,
		(double)(cog_clock_mono_ns() - t0) / 1e6);
	cog_buf_dispose(&url);
	if (rc)
		cog__error(rc, "%s", saved);
}

int llm_provider_chat_tree(void *self, cJSON *request, cog_llm_call *call,
                           cJSON **response_out)
{
	const llm_provider *p = self;
	const llm_wire *wire = p->wire;
	uint64_t t0 = cog_clock_mono_ns();
	cog_llm_call local = COG_LLM_CALL_INIT;
	if (!call)
		call = &local;
	*response_out = NULL;
	cJSON *response = NULL;
	cog_buf body = COG_BUF_INIT;
	llm_asm a;
	llm_asm_init(&a, call);
	llm_exchange x;
	memset(&x, 0, sizeof(x));
	x.path = wire->chat_path;
	x.stream = call->on_event != NULL;
	x.a = &a;
	x.call = call;

	int rc = set_model(p, request);
	if (!rc)
		rc = wire->chat_body(p, request, x.stream, &body);
	if (!rc && body.failed)
		rc = cog__oom(wire->name);
	x.body = body.ptr;
	x.body_len = body.len;
	if (!rc && x.stream && wire->stream_state_new &&
	    !(x.stream_state = wire->stream_state_new(p, request)))
		rc = cog__oom(wire->name);
	if (!rc)
		rc = llm_provider_exchange(p, &x);
	if (!rc && x.answer)
		rc = wire->chat_parse(p, request, x.answer, &a);
	if (!rc && (rc = llm_asm_finish(&a, &response)))
		rc = cog__error_wrap(rc, "%s: answer", wire->name);
	if (!rc)
		rc = complete(p, request, response, t0);
	log_request(p, "chat", request, &x, rc, t0);
	if (!rc) {
		*response_out = response;
		response = NULL;
	}

	if (x.stream_state && wire->stream_state_free)
		wire->stream_state_free(x.stream_state);
	cJSON_Delete(x.answer);
	cJSON_Delete(response);
	llm_asm_dispose(&a);
	cog_buf_dispose(&body);
	return rc;
}

int llm_provider_embed_tree(void *self, cJSON *request, cog_llm_call *call,
                            cJSON **response_out)
{
	const llm_provider *p = self;
	const llm_wire *wire = p->wire;
	uint64_t t0 = cog_clock_mono_ns();
	cog_llm_call local = COG_LLM_CALL_INIT;
	if (!call)
		call = &local;
	*response_out = NULL;
	if (!wire->embed_path || !wire->embed_body || !wire->embed_parse)
		return cog__error(COG_EUNAVAILABLE, "%s: no embeddings", wire->name);
	cJSON *response = NULL;
	cog_buf body = COG_BUF_INIT;
	llm_exchange x;
	memset(&x, 0, sizeof(x));
	x.path = wire->embed_path;
	x.call = call;

	int rc = set_model(p, request);
	if (!rc)
		rc = wire->embed_body(p, request, &body);
	if (!rc && body.failed)
		rc = cog__oom(wire->name);
	x.body = body.ptr;
	x.body_len = body.len;
	if (!rc)
		rc = llm_provider_exchange(p, &x);
	if (!rc)
		rc = wire->embed_parse(p, x.answer, &response);
	if (!rc)
		rc = complete(p, request, response, t0);
	log_request(p, "embed", request, &x, rc, t0);
	if (!rc) {
		*response_out = response;
		response = NULL;
	}

	cJSON_Delete(x.answer);
	cJSON_Delete(response);
	cog_buf_dispose(&body);
	return rc;
}

/* The vtable's text members: parse, run the tree member, print. */
static int run_text(void *self, const char *request_json, cog_llm_call *call,
                    char **response_json,
                    int (*tree)(void *, cJSON *, cog_llm_call *, cJSON **))
{
	const llm_provider *p = self;
	*response_json = NULL;
	cJSON *request = NULL, *response = NULL;
	int rc = parse_request(p, request_json, &request);
	if (!rc)
		rc = tree(self, request, call, &response);
	if (!rc && !(*response_json = cog_json_print(response)))
		rc = cog__oom(p->wire->name);
	cJSON_Delete(request);
	cJSON_Delete(response);
	return rc;
}

int llm_provider_chat(void *self, const char *request_json, cog_llm_call *call,
                      char **response_json)
{
	return run_text(self, request_json, call, response_json, llm_provider_chat_tree);
}

int llm_provider_embed(void *self, const char *request_json, cog_llm_call *call,
                       char **response_json)
{
	return run_text(self, request_json, call, response_json, llm_provider_embed_tree);
}
