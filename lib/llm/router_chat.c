/*
 * cog_llm_chat and cog_llm_embed: a request through the context's router.
 * A chat call is one or more rounds of router_call.c's journey through the
 * candidates: the first may be answered from the cache; further rounds
 * re-ask the model when its answer did not match the requested JSON
 * schema. Cost and usage cover every answer the call paid for.
 */
#include <stdio.h>
#include <string.h>

#include "router_int.h"
#include "agent_int.h"   /* cog__llm_chat_tree's prototype: the agent loop calls it */
#include "trace_int.h"
#include "cognition/ctx.h"

/* Replace or add member `name` (item consumed). */
static int set_member(cJSON *object, const char *name, cJSON *item)
{
	if (!item)
		return cog__oom("LLM router answer");
	cJSON_DeleteItemFromObjectCaseSensitive(object, name);
	if (!cJSON_AddItemToObject(object, name, item)) {
		cJSON_Delete(item);
		return cog__oom("LLM router answer");
	}
	return COG_OK;
}

static double elapsed_ms(const llm_run *run)
{
	return (double)((cog_clock_mono_ns() - run->start_ns) / 1000000u);
}

/* The router's members on an answer. */
static int decorate(cJSON *response, const llm_run *run, bool embed)
{
	const llm_candidate *c = &run->plan->candidates[run->answered_by];
	int rc = set_member(response, "endpoint", cJSON_CreateString(c->endpoint->name));
	if (!rc)
		rc = set_member(response, "cost", cJSON_CreateNumber(run->cached ? 0 : run->cost));
	if (!rc)
		rc = set_member(response, "attempts", cJSON_CreateNumber(run->attempts));
	if (!rc && !embed)
		rc = set_member(response, "cached", cJSON_CreateBool(run->cached));
	if (!rc && !embed)
		rc = set_member(response, "latency_ms", cJSON_CreateNumber(elapsed_ms(run)));
	if (!rc && !embed && !run->cached) {
		/* Every answer the call paid for, schema re-asks included. */
		cJSON *usage = cJSON_CreateObject();
		rc = set_member(response, "usage", usage);
		if (!rc)
			rc = cog_json_add_number(usage, "input_tokens", (double)run->input_tokens);
		if (!rc)
			rc = cog_json_add_number(usage, "output_tokens", (double)run->output_tokens);
		if (!rc)
			rc = cog_json_add_number(usage, "cached_tokens", (double)run->cached_tokens);
	}
	return rc;
}

static void account(llm_router *r, const llm_run *run, bool looked_up)
{
	llm_router_lock(r);
	r->stats.calls++;
	r->stats.retries += run->retries;
	r->stats.cost += run->cost;
	r->stats.input_tokens += run->input_tokens;
	r->stats.output_tokens += run->output_tokens;
	if (looked_up && run->cached)
		r->stats.cache_hits++;
	else if (looked_up)
		r->stats.cache_misses++;
	llm_router_unlock(r);
}

/* The "llm.call" event. */
static void call_event(const llm_run *run, const cJSON *response, int status)
{
	if (!cog__ctx_has_event_hook(run->ctx))
		return;
	const llm_candidate *c = run->plan->n_candidates
		? &run->plan->candidates[run->answered_by] : NULL;
	const char *model = cog_json_get_string(response, "model");
	if (!model && c)
		model = c->model;
	cJSON *d = cJSON_CreateObject();
	if (!d)
		return;
	cJSON_AddStringToObject(d, "kind", run->embed ? "embed" : "chat");
	cJSON_AddStringToObject(d, "role", run->plan->role);
	if (c && status == COG_OK)
		cJSON_AddStringToObject(d, "endpoint", c->endpoint->name);
	else
		cJSON_AddNullToObject(d, "endpoint");
	if (model)
		cJSON_AddStringToObject(d, "model", model);
	else
		cJSON_AddNullToObject(d, "model");
	cJSON_AddNumberToObject(d, "latency_ms", elapsed_ms(run));
	cJSON_AddNumberToObject(d, "input_tokens", (double)run->input_tokens);
	cJSON_AddNumberToObject(d, "output_tokens", (double)run->output_tokens);
	cJSON_AddNumberToObject(d, "cost", run->cached ? 0 : run->cost);
	cJSON_AddBoolToObject(d, "cached", run->cached && status == COG_OK);
	cJSON_AddNumberToObject(d, "attempts", run->attempts);
	cJSON_AddNumberToObject(d, "status", status);
	cog__event(run->ctx, "llm.call", d);
}

static int run_setup(llm_run *run, cog_ctx *ctx, llm_router *r, const llm_plan *plan,
                     const char *fn, unsigned int timeout_ms)
{
	memset(run, 0, sizeof(*run));
	run->ctx = ctx;
	run->router = r;
	run->plan = plan;
	run->fn = fn;
	run->start_ns = cog_clock_mono_ns();
	run->deadline_ns = run->start_ns +
		(uint64_t)(timeout_ms ? timeout_ms : plan->timeout_ms) * 1000000u;
	return COG_OK;
}

/* The rounds of a chat call: *response on success. */
static int chat_rounds(llm_run *run, const cJSON *request, const llm_answer_check *check,
                       unsigned int schema_retries, cJSON **response)
{
	cJSON *work = NULL;   /* the request with the re-asks, made when needed */
	int rc = COG_OK;
	for (unsigned int round = 0;; round++) {
		rc = llm_run_request(run, work ? work : request, response);
		if (rc)
			break;
		run->cache_lookup = false;
		if (run->cached && run->on_event &&
		    (rc = llm_cache_replay_events(*response, run->on_event, run->event_user_data)))
			break;
		char *errors = NULL;
		rc = llm_answer_check_run(check, *response, &errors);
		if (rc == COG_ESCHEMA && round == schema_retries)
			rc = cog__error(COG_ESCHEMA, "%s: role '%s': the answer did not match "
				"the response format after %u re-ask%s: %s", run->fn,
				run->plan->role, schema_retries, schema_retries == 1 ? "" : "s",
				errors);
		if (rc != COG_ESCHEMA || round == schema_retries) {
			cog_free(errors);
			break;
		}
		rc = COG_OK;
		if (!work && !(work = cJSON_Duplicate(request, 1)))
			rc = cog__oom(run->fn);
		if (!rc)
			rc = llm_answer_reask(check, work, *response, errors);
		if (!rc)
			rc = llm_run_retry_event(run, run->attempts + 1,
				run->plan->candidates[run->answered_by].endpoint->name, 0, "schema");
		cog_free(errors);
		if (rc)
			break;
		cJSON_Delete(*response);
		*response = NULL;
	}
	if (rc) {
		cJSON_Delete(*response);
		*response = NULL;
	}
	cJSON_Delete(work);
	return rc;
}

static void cache_store(llm_run *run, const cJSON *request, const cJSON *response)
{
	char key[65];
	const llm_candidate *c = &run->plan->candidates[run->answered_by];
	cJSON *prepared = llm_run_prepare(request, c);
	if (prepared && llm_cache_key(prepared, c->endpoint, key) == COG_OK)
		llm_cache_put(run->ctx, key, response, run->plan->cache_ttl_s);
	cJSON_Delete(prepared);
}

/* Struct sizes by version (as lib/llm/backend.c): a caller built against
 * an older header has a shorter struct, read and written only that far. */
static const size_t options_size[COG_LLM_CHAT_OPTIONS_VERSION + 1] = {
	0, sizeof(cog_llm_chat_options)
};

int cog_llm_chat_options_init(cog_llm_chat_options *options, unsigned int version)
{
	COG_CHECK_ARG(options, "cog_llm_chat_options_init", "options is NULL");
	if (version == 0 || version > COG_LLM_CHAT_OPTIONS_VERSION)
		return cog__error(COG_EVERSION, "cog_llm_chat_options_init: version %u "
			"is not supported (1..%u)", version, COG_LLM_CHAT_OPTIONS_VERSION);
	cog_llm_chat_options defaults = COG_LLM_CHAT_OPTIONS_INIT;
	memcpy(options, &defaults, options_size[version]);
	options->version = version;
	return COG_OK;
}

static int options_in(cog_llm_chat_options *o, const cog_llm_chat_options *options,
                      const char *fn)
{
	cog_llm_chat_options defaults = COG_LLM_CHAT_OPTIONS_INIT;
	*o = defaults;
	if (!options)
		return COG_OK;
	if (options->version == 0 || options->version > COG_LLM_CHAT_OPTIONS_VERSION)
		return cog__error(COG_EVERSION, "%s: chat options version %u is not "
			"supported (1..%u)", fn, options->version, COG_LLM_CHAT_OPTIONS_VERSION);
	memcpy(o, options, options_size[options->version]);   /* rest: defaults */
	if (o->role && !llm_name_valid(o->role))
		return cog__error(COG_EINVAL, "%s: bad role '%.80s' (1..64 of [A-Za-z0-9_.-])",
			fn, o->role);
	return COG_OK;
}

/* Parse, find the router, plan: what both calls begin with. */
static int begin(cog_ctx *ctx, const char *role, const cJSON *request, size_t bytes,
                 bool embed, llm_router **r, llm_plan *plan, const char *fn)
{
	int rc = llm_router_get(ctx, false, r);
	if (rc)
		return rc;
	if (!*r)
		return cog__error(COG_EUNAVAILABLE, "%s: no LLM endpoint: add one with "
			"cog_llm_add_endpoint()", fn);
	double in = 0, out = 0;
	if (!embed) {
		in = (double)((bytes + 3) / 4);
		out = llm_request_max_tokens(request, LLM_DEFAULT_MAX_TOKENS_ESTIMATE);
	}
	rc = llm_plan_build(plan, *r, role, cog_json_get_string(request, "model"), in, out);
	return rc ? cog__error_wrap(rc, "%s", fn) : COG_OK;
}

/* The answer as text in *response_json, or (response_json NULL) as the
 * tree in *tree; freed on failure. */
static int finish(llm_run *run, llm_router *r, cJSON *response, int rc, bool looked_up,
                  char **response_json, cJSON **tree)
{
	if (!rc)
		rc = decorate(response, run, run->embed);
	if (!rc && response_json && !(*response_json = cog_json_print(response)))
		rc = cog__oom(run->fn);
	account(r, run, looked_up);
	call_event(run, rc ? NULL : response, rc);
	if (!rc && tree)
		*tree = response;
	else
		cJSON_Delete(response);
	return rc;
}

/* A checked request (normalised) through the router: the answer as text
 * (response_json) or as a tree (response_json NULL: *tree). */
static int chat_checked(cog_ctx *ctx, cJSON *request, const cog_llm_chat_options *o,
                        const char *fn, char **response_json, cJSON **tree,
                        cog__llm_paid *paid)
{
	const char *role = o->role ? o->role : "executor";
	llm_answer_check check = { 0 };
	int rc = llm_answer_check_init(&check, request, fn);
	llm_router *r = NULL;
	llm_plan plan = { 0 };
	size_t bytes = llm_request_text_bytes(request);
	if (!rc)
		rc = begin(ctx, role, request, bytes, false, &r, &plan, fn);
	cog_span *span = llm_span_begin(ctx, request, &plan, role);
	if (rc) {
		cog__span_end(span, rc, cog_error_last());
		llm_plan_dispose(&plan);
		llm_answer_check_dispose(&check);
		return rc;
	}
	llm_run run;
	run_setup(&run, ctx, r, &plan, fn, o->timeout_ms);
	run.sized = request;
	run.sized_bytes = bytes;
	run.on_event = o->on_event;
	run.event_user_data = o->event_user_data;
	run.is_canceled = o->is_canceled;
	run.cancel_user_data = o->cancel_user_data;
	bool cacheable = plan.cache_enabled && cog_ctx_storage(ctx) &&
	                 llm_cache_wanted(request, o->cacheable);
	run.cache_lookup = cacheable;
	unsigned int retries = o->schema_retries >= 0 ? (unsigned int)o->schema_retries
	                                              : plan.schema_retries;
	cJSON *response = NULL;
	rc = chat_rounds(&run, request, &check, retries, &response);
	if (!rc && cacheable && !run.cached)
		cache_store(&run, request, response);
	if (!rc) {
		llm_span_answer(span, &run, response);
	} else {
		cog__span_attr_num(span, "cog.llm.attempts", run.attempts);
		if (run.answers && span) {
			/* answers paid for before the failure (schema re-asks) */
			cog__span_attr_num(span, "gen_ai.usage.input_tokens",
			                   (double)run.input_tokens);
			cog__span_attr_num(span, "gen_ai.usage.output_tokens",
			                   (double)run.output_tokens);
			cog__span_attr_num(span, "cog.llm.cost", run.cost);
		}
	}
	if (paid) {
		paid->sent = run.attempts;
		paid->answers = run.answers;
		paid->input_tokens = run.input_tokens;
		paid->output_tokens = run.output_tokens;
		paid->cost = run.cost;
	}
	rc = finish(&run, r, response, rc, cacheable, response_json, tree);
	cog__span_end(span, rc, rc ? cog_error_last() : NULL);
	llm_plan_dispose(&plan);
	llm_answer_check_dispose(&check);
	return rc;
}

int cog_llm_chat(cog_ctx *ctx, const char *request_json,
                 const cog_llm_chat_options *options, char **response_json)
{
	static const char fn[] = "cog_llm_chat";
	COG_CHECK_ARG(response_json, fn, "response_json is NULL");
	*response_json = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(request_json, fn, "request_json is NULL");
	cog_llm_chat_options o;
	int rc = options_in(&o, options, fn);
	cJSON *request = NULL;
	if (!rc)
		rc = llm_request_parse(&request, request_json, fn);
	if (!rc) {
		rc = chat_checked(ctx, request, &o, fn, response_json, NULL, NULL);
	} else {
		/* a refused request has its span too */
		llm_plan plan = { 0 };
		cog__span_end(llm_span_begin(ctx, NULL, &plan, o.role ? o.role : "executor"), rc,
		              cog_error_last());
	}
	cJSON_Delete(request);
	return rc;
}

int cog__llm_chat_tree(cog_ctx *ctx, cJSON *request, const cog_llm_chat_options *options,
                       cJSON **response, cog__llm_paid *paid)
{
	static const char fn[] = "cog_llm_chat";
	*response = NULL;
	if (paid)
		memset(paid, 0, sizeof(*paid));
	cog_llm_chat_options o;
	int rc = options_in(&o, options, fn);
	if (!rc)
		rc = llm_request_check(request, fn);
	if (!rc)
		return chat_checked(ctx, request, &o, fn, NULL, response, paid);
	llm_plan plan = { 0 };
	cog__span_end(llm_span_begin(ctx, NULL, &plan, o.role ? o.role : "executor"), rc,
	              cog_error_last());
	return rc;
}

int cog_llm_embed(cog_ctx *ctx, const char *role, const char *request_json,
                  char **response_json)
{
	static const char fn[] = "cog_llm_embed";
	COG_CHECK_ARG(response_json, fn, "response_json is NULL");
	*response_json = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(request_json, fn, "request_json is NULL");
	if (role && !llm_name_valid(role))
		return cog__error(COG_EINVAL, "%s: bad role '%.80s' (1..64 of [A-Za-z0-9_.-])",
			fn, role);
	cJSON *request = NULL;
	int rc = llm_embed_request_parse(&request, request_json, fn);
	if (rc)
		return rc;
	llm_router *r = NULL;
	llm_plan plan = { 0 };
	if ((rc = begin(ctx, role ? role : "embedder", request, 0, true, &r, &plan, fn))) {
		cJSON_Delete(request);
		return rc;
	}
	llm_run run;
	run_setup(&run, ctx, r, &plan, fn, 0);
	run.embed = true;
	cJSON *response = NULL;
	rc = llm_run_request(&run, request, &response);
	rc = finish(&run, r, response, rc, false, response_json, NULL);
	llm_plan_dispose(&plan);
	cJSON_Delete(request);
	return rc;
}
