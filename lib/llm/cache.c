/*
 * The cache of deterministic answers: the context's storage, collection
 * "llm_cache", one document per request key, expiring after the configured
 * TTL. The key covers the normalised request with the model it goes to
 * (the route's or the request's, else the backend's default model), the
 * endpoint's name and the identity of the backend behind it (a hash of its
 * describe(): provider, base URL, default model). Storage outlives a run:
 * the next run may name its endpoint alike over another backend or model,
 * and must not get this one's answers. The cache is an optimisation: a
 * storage failure is logged and the call goes on as if the answer were not
 * cached.
 */
#include <string.h>

#include "router_int.h"
#include "cognition/ctx.h"

#define CACHE_COLLECTION "llm_cache"

/* Members the router adds to an answer; not part of what is stored. */
static const char *const router_members[] = {
	"endpoint", "cost", "cached", "attempts", "parsed"
};

bool llm_cache_wanted(const cJSON *request, int cacheable)
{
	if (cacheable != 0)
		return cacheable > 0;
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(request, "temperature");
	return cJSON_IsNumber(t) && t->valuedouble == 0;
}

/* Add `name` (a member the request shape does not have, or "model" when
 * absent) for the time of the hash; *added is what to detach after. */
static int add_keyed(cJSON *prepared, const char *name, const char *value,
                     cJSON **added)
{
	*added = cJSON_CreateString(value);
	if (!*added || !cJSON_AddItemToObject(prepared, name, *added)) {
		cJSON_Delete(*added);
		*added = NULL;
		return cog__oom("LLM cache key");
	}
	return COG_OK;
}

int llm_cache_key(cJSON *prepared, const llm_endpoint *ep, char key[65])
{
	cJSON *name = NULL, *identity = NULL, *model = NULL;
	int rc = add_keyed(prepared, "router_endpoint", ep->name, &name);
	if (!rc)
		rc = add_keyed(prepared, "router_backend", ep->identity, &identity);
	/* No model in the route or the request: the backend's default is the
	 * one that answers; keyed as if asked for, so both spellings share. */
	if (!rc && ep->default_model &&
	    !cJSON_GetObjectItemCaseSensitive(prepared, "model"))
		rc = add_keyed(prepared, "model", ep->default_model, &model);
	if (!rc)
		rc = llm_request_key(prepared, "chat", key);
	cJSON *added[] = { name, identity, model };
	for (size_t i = 0; i < COG_ARRAY_LEN(added); i++)
		if (added[i])
			cJSON_Delete(cJSON_DetachItemViaPointer(prepared, added[i]));
	return rc;
}

static void warn(struct cog_ctx *ctx, const char *what, const char *key)
{
	cJSON *fields = cJSON_CreateObject();
	if (fields && cog_json_add_string(fields, "key", key)) {
		cJSON_Delete(fields);
		fields = NULL;
	}
	cog__log(ctx, COG_LOG_WARN, fields, "LLM cache: %s: %s (ignored)", what,
		cog_error_last());
}

int llm_cache_get(struct cog_ctx *ctx, const char *key, cJSON **response)
{
	*response = NULL;
	cog_storage *storage = cog_ctx_storage(ctx);
	if (!storage)
		return COG_ENOTFOUND;
	char *json = NULL;
	int rc = cog_storage_get(storage, CACHE_COLLECTION, key, &json);
	if (rc == COG_OK) {
		rc = cog_json_parse(response, json, "a cached answer");
		if (!rc && (rc = llm_response_check(*response, "LLM cache"))) {
			cJSON_Delete(*response);
			*response = NULL;
		}
	}
	cog_free(json);
	if (rc == COG_ENOTFOUND)
		return rc;
	if (rc) {
		warn(ctx, "reading a cached answer", key);
		return COG_ENOTFOUND;
	}
	return COG_OK;
}

void llm_cache_put(struct cog_ctx *ctx, const char *key, const cJSON *response,
                   unsigned int ttl_s)
{
	cog_storage *storage = cog_ctx_storage(ctx);
	if (!storage)
		return;
	cJSON *copy = cJSON_Duplicate(response, 1);
	char *json = NULL;
	int rc = COG_OK;
	if (copy) {
		for (size_t i = 0; i < COG_ARRAY_LEN(router_members); i++)
			cJSON_DeleteItemFromObjectCaseSensitive(copy, router_members[i]);
		json = cog_json_print(copy);
	}
	if (!json)
		rc = cog__oom("LLM cache");
	else
		rc = cog_storage_put(storage, CACHE_COLLECTION, key, json,
			cog_clock_realtime_ms() + (int64_t)ttl_s * 1000);
	if (rc)
		warn(ctx, "storing an answer", key);
	cog_free(json);
	cJSON_Delete(copy);
}

int llm_cache_replay_events(const cJSON *response, cog_llm_stream_fn on_event,
                            void *user_data)
{
	cog_llm_call call = COG_LLM_CALL_INIT;
	call.on_event = on_event;
	call.event_user_data = user_data;
	return llm_emit_response_events(&call, response);
}
