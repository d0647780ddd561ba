/*
 * cog_llm handles: the wrapper around a backend's vtable. Every request is
 * parsed and checked against the request shape here, once for all backends,
 * and every answer is checked against the response shape before it reaches
 * the caller: a host backend sees only well-formed requests and cannot hand
 * the router something it would misread. The router comes in through
 * llm_backend_call_tree with its request already checked, and gets the
 * answer as a tree: no print and parse between them.
 */
#include <string.h>

#include "llm_int.h"
#include "cognition/ctx.h"

/* Struct sizes by version (see lib/core/transport.c). */
static const size_t vtable_size[COG_LLM_VTABLE_VERSION + 1] = {
	0, sizeof(cog_llm_vtable)
};
static const size_t call_size[COG_LLM_CALL_VERSION + 1] = {
	0, sizeof(cog_llm_call)
};

int cog_llm_vtable_init(cog_llm_vtable *vtable, unsigned int version)
{
	if (!vtable)
		return cog__error(COG_EINVAL, "cog_llm_vtable_init: vtable is NULL");
	if (version == 0 || version > COG_LLM_VTABLE_VERSION)
		return cog__error(COG_EVERSION,
			"cog_llm_vtable_init: version %u is not supported (1..%u)",
			version, COG_LLM_VTABLE_VERSION);
	memset(vtable, 0, vtable_size[version]);
	vtable->version = version;
	return COG_OK;
}

int cog_llm_call_init(cog_llm_call *call, unsigned int version)
{
	if (!call)
		return cog__error(COG_EINVAL, "cog_llm_call_init: call is NULL");
	if (version == 0 || version > COG_LLM_CALL_VERSION)
		return cog__error(COG_EVERSION,
			"cog_llm_call_init: version %u is not supported (1..%u)",
			version, COG_LLM_CALL_VERSION);
	memset(call, 0, call_size[version]);
	call->version = version;
	return COG_OK;
}

int cog_llm_new(cog_llm **out, const cog_llm_vtable *vt)
{
	static const char fn[] = "cog_llm_new";
	COG_CHECK_ARG(out, fn, "out is NULL");
	*out = NULL;
	COG_CHECK_ARG(vt, fn, "vtable is NULL");
	int rc = COG_OK;
	if (vt->version == 0 || vt->version > COG_LLM_VTABLE_VERSION)
		rc = cog__error(COG_EVERSION,
			"%s: LLM vtable version %u is not supported (1..%u)",
			fn, vt->version, COG_LLM_VTABLE_VERSION);
	else if (!vt->chat)
		rc = cog__error(COG_EINVAL, "%s: required member 'chat' is NULL", fn);
	cog_llm *llm = NULL;
	if (!rc && !(llm = cog__calloc(1, sizeof(*llm))))
		rc = cog__oom(fn);
	if (rc) {
		/* close sits at the same offset in every version. */
		if (vt->close)
			vt->close(vt->self);
		return rc;
	}
	memcpy(&llm->vt, vt, vtable_size[vt->version]);
	*out = llm;
	return COG_OK;
}

void cog_llm_free(cog_llm *llm)
{
	if (!llm)
		return;
	if (llm->vt.close)
		llm->vt.close(llm->vt.self);
	cog_free(llm);
}

/* A caller's call struct of an older version is copied into a current one
 * and back, so that a backend can always use every member. */
static int call_in(cog_llm_call *local, const cog_llm_call *call, const char *fn)
{
	cog_llm_call defaults = COG_LLM_CALL_INIT;
	*local = defaults;
	if (!call)
		return COG_OK;
	if (call->version == 0 || call->version > COG_LLM_CALL_VERSION)
		return cog__error(COG_EVERSION, "%s: call version %u is not supported (1..%u)",
			fn, call->version, COG_LLM_CALL_VERSION);
	memcpy(local, call, call_size[call->version]);
	local->version = COG_LLM_CALL_VERSION;
	local->http_status = 0;
	local->retry_after_ms = 0;
	local->streamed = 0;
	return COG_OK;
}

static void call_out(cog_llm_call *call, const cog_llm_call *local)
{
	if (!call)
		return;
	unsigned int v = call->version;
	memcpy(call, local, call_size[v]);
	call->version = v;
}

/* Run one backend member on a parsed request; check its answer. A built-in
 * provider's tree member (tree non-NULL) takes the request and gives its
 * answer as trees; a host backend's text member gets the request printed
 * and its answer is parsed. Either way the answer is checked here, once. */
typedef int (*member_fn)(void *self, const char *request, cog_llm_call *call,
                         char **response);
typedef int (*tree_fn)(void *self, cJSON *request, cog_llm_call *call,
                       cJSON **response);

static int member_failed(int rc, const char *fn)
{
	if (rc > 0)
		rc = COG_EUSER;
	if (cog_error_last_code() == COG_OK)
		cog__error(rc, "%s: the backend failed (%s) without saying why",
			fn, cog_strerror(rc));
	return rc;
}

/* The text member: the request printed, the answer parsed into *parsed. */
static int run_text(cog_llm *llm, member_fn member, const cJSON *request,
                    cog_llm_call *local, cJSON **parsed, const char *fn)
{
	char *text = cog_json_print(request);
	if (!text)
		return cog__oom(fn);
	char *answer = NULL;
	cog_error_clear();
	int rc = member(llm->vt.self, text, local, &answer);
	cog_free(text);
	if (rc) {
		cog_free(answer);
		return member_failed(rc, fn);
	}
	if (!answer)
		return cog__error(COG_EPROTO, "%s: the backend returned success and no answer", fn);
	rc = cog_json_parse(parsed, answer, "the backend's answer");
	cog_free(answer);
	return rc ? cog__error_wrap(COG_EPROTO, "%s", fn) : COG_OK;
}

/* One member on a checked request: the answer checked, as a tree. `request`
 * is the caller's, and a tree member may change it. */
static int run_member(cog_llm *llm, member_fn member, tree_fn tree, cJSON *request,
                      size_t n_inputs, cog_llm_call *call, cJSON **response,
                      const char *fn)
{
	*response = NULL;
	cog_llm_call local;
	int rc = call_in(&local, call, fn);
	if (rc)
		return rc;
	cJSON *parsed = NULL;
	if (tree) {
		cog_error_clear();
		rc = tree(llm->vt.self, request, &local, &parsed);
		if (rc)
			rc = member_failed(rc, fn);
		else if (!parsed)
			rc = cog__error(COG_EPROTO, "%s: the backend returned success and no "
				"answer", fn);
	} else {
		rc = run_text(llm, member, request, &local, &parsed, fn);
	}
	call_out(call, &local);
	if (!rc)
		rc = n_inputs ? llm_embed_response_check(parsed, n_inputs, fn)
		              : llm_response_check(parsed, fn);
	if (rc) {
		cJSON_Delete(parsed);
		return rc;
	}
	*response = parsed;
	return COG_OK;
}

/* The text entries: the request parsed and checked, the answer printed. */
static int print_answer(int rc, cJSON *parsed, char **response_json, const char *fn)
{
	if (!rc && !(*response_json = cog_json_print(parsed)))
		rc = cog__oom(fn);
	cJSON_Delete(parsed);
	return rc;
}

int cog_llm_backend_chat(cog_llm *llm, const char *request_json,
                         cog_llm_call *call, char **response_json)
{
	static const char fn[] = "cog_llm_backend_chat";
	COG_CHECK_ARG(response_json, fn, "response_json is NULL");
	*response_json = NULL;
	COG_CHECK_ARG(llm, fn, "llm is NULL");
	COG_CHECK_ARG(request_json, fn, "request_json is NULL");
	cJSON *request = NULL, *parsed = NULL;
	int rc = llm_request_parse(&request, request_json, fn);
	if (rc)
		return rc;
	rc = run_member(llm, llm->vt.chat, llm->tree ? llm->tree->chat : NULL, request, 0,
	                call, &parsed, fn);
	cJSON_Delete(request);
	return print_answer(rc, parsed, response_json, fn);
}

int cog_llm_backend_embed(cog_llm *llm, const char *request_json,
                          cog_llm_call *call, char **response_json)
{
	static const char fn[] = "cog_llm_backend_embed";
	COG_CHECK_ARG(response_json, fn, "response_json is NULL");
	*response_json = NULL;
	COG_CHECK_ARG(llm, fn, "llm is NULL");
	COG_CHECK_ARG(request_json, fn, "request_json is NULL");
	if (!llm->vt.embed)
		return cog__error(COG_EUNAVAILABLE, "%s: this backend has no embeddings", fn);
	cJSON *request = NULL, *parsed = NULL;
	int rc = llm_embed_request_parse(&request, request_json, fn);
	if (rc)
		return rc;
	size_t n = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(request, "input"));
	rc = run_member(llm, llm->vt.embed, llm->tree ? llm->tree->embed : NULL, request, n,
	                call, &parsed, fn);
	cJSON_Delete(request);
	return print_answer(rc, parsed, response_json, fn);
}

int llm_backend_call_tree(cog_llm *llm, bool embed, cJSON *request, cog_llm_call *call,
                          cJSON **response)
{
	static const char chat_fn[] = "cog_llm_backend_chat";
	static const char embed_fn[] = "cog_llm_backend_embed";
	*response = NULL;
	if (!embed)
		return run_member(llm, llm->vt.chat, llm->tree ? llm->tree->chat : NULL,
		                  request, 0, call, response, chat_fn);
	if (!llm->vt.embed)
		return cog__error(COG_EUNAVAILABLE, "%s: this backend has no embeddings",
		                  embed_fn);
	size_t n = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(request, "input"));
	return run_member(llm, llm->vt.embed, llm->tree ? llm->tree->embed : NULL, request, n,
	                  call, response, embed_fn);
}

int cog_llm_count_tokens(cog_llm *llm, const char *request_json, uint64_t *tokens)
{
	static const char fn[] = "cog_llm_count_tokens";
	COG_CHECK_ARG(tokens, fn, "tokens is NULL");
	*tokens = 0;
	COG_CHECK_ARG(llm, fn, "llm is NULL");
	COG_CHECK_ARG(request_json, fn, "request_json is NULL");
	cJSON *request = NULL;
	int rc = llm_request_parse(&request, request_json, fn);
	if (rc)
		return rc;
	if (llm->vt.count_tokens) {
		char *text = cog_json_print(request);
		if (!text)
			rc = cog__oom(fn);
		else
			rc = llm->vt.count_tokens(llm->vt.self, text, tokens);
		cog_free(text);
	} else {
		/* About four bytes of English per token for current tokenizers;
		 * an estimate for budgets and rate limits, not a count. */
		*tokens = (llm_request_text_bytes(request) + 3) / 4;
	}
	cJSON_Delete(request);
	return rc;
}

int cog_llm_describe(cog_llm *llm, char **json)
{
	static const char fn[] = "cog_llm_describe";
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(llm, fn, "llm is NULL");
	if (llm->vt.describe)
		return llm->vt.describe(llm->vt.self, json);
	*json = cog__strdup("{\"backend\":\"host\"}");
	return *json ? COG_OK : cog__oom(fn);
}

int llm_sleep_cancelable(struct cog_ctx *ctx, const cog_llm_call *call,
                         unsigned int ms)
{
	uint64_t end = cog_clock_mono_ns() + (uint64_t)ms * 1000000u;
	for (;;) {
		if ((ctx && cog_ctx_is_canceled(ctx)) ||
		    (call && call->is_canceled && call->is_canceled(call->cancel_user_data)))
			return cog__error(COG_ECANCELED, "canceled while waiting");
		uint64_t now = cog_clock_mono_ns();
		if (now >= end)
			return COG_OK;
		uint64_t left_ms = (end - now + 999999u) / 1000000u;
		cog_clock_sleep_ms(left_ms < 10 ? (unsigned int)left_ms : 10);
	}
}
