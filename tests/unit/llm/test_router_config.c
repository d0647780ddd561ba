/*
 * The router on its own (lib/llm/router*.c, endpoint.c, cache.c) with host
 * backends written here: configuration parsing and its errors (each naming
 * its JSON pointer, none changing anything), merging, candidate order by
 * tier and cost, cost arithmetic, how each backend status is handled
 * (retry, next endpoint, stop), token limits, the cache, structured-output
 * re-asks and embeddings. The same behaviour over real HTTP is in
 * tests/integration/llm/test_router.c.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "router_int.h"
#include "cognition/ctx.h"
#include "test_tmp.h"

#define ck_assert_cog(expr) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == 0, "%s: %d %s", #expr, rc_, cog_error_last()); \
} while (0)

/* ---- a scripted host backend ---- */

typedef struct step {
	int status;                   /* 0: answer */
	int http_status;
	unsigned int retry_after_ms;
	const char *content;          /* NULL: "ok" */
	bool stream_first;            /* send a text event before the outcome */
} step;

typedef struct script {
	const char *name;
	step steps[8];
	size_t n_steps, next;
	int calls;
	char last_request[8192];
	char requests[4][8192];
	const char *model;            /* describe()'s default model, or NULL */
	bool no_embed;                /* a backend without embeddings */
	int hang_call;                /* this call (1-based) waits out its
	                                 timeout_ms, then COG_ETIMEOUT */
	int block_call;               /* this call sleeps block_ms first */
	unsigned int block_ms;
	atomic_int entered;           /* block_call has begun */
} script;

static script scripts[3];

static int script_chat(void *self, const char *request, cog_llm_call *call,
                       char **response)
{
	script *s = self;
	if (s->calls < 4)
		snprintf(s->requests[s->calls], sizeof s->requests[0], "%s", request);
	s->calls++;
	snprintf(s->last_request, sizeof s->last_request, "%s", request);
	if (s->calls == s->hang_call) {
		cog_clock_sleep_ms(call->timeout_ms);
		return cog_error_set(COG_ETIMEOUT, "%s: timed out after %u ms", s->name,
			call->timeout_ms);
	}
	if (s->calls == s->block_call) {
		atomic_store(&s->entered, 1);
		cog_clock_sleep_ms(s->block_ms);
	}
	step st = s->steps[s->next < s->n_steps ? s->next : s->n_steps - 1];
	s->next++;
	if (st.stream_first && call->on_event) {
		const char *ev = "{\"type\":\"text\",\"text\":\"part\"}";
		call->streamed = 1;
		int rc = call->on_event(ev, strlen(ev), call->event_user_data);
		if (rc)
			return cog_error_set(rc, "stopped by the callback");
	}
	if (st.status) {
		call->http_status = st.http_status;
		call->retry_after_ms = st.retry_after_ms;
		return cog_error_set(st.status, "%s: scripted failure (HTTP %d)", s->name,
			st.http_status);
	}
	cJSON *req = cJSON_Parse(request);
	const char *model = cog_json_get_string(req, "model");
	cJSON *r = cJSON_CreateObject();
	cJSON *m = cJSON_AddObjectToObject(r, "message");
	cJSON_AddStringToObject(m, "role", "assistant");
	cJSON_AddStringToObject(m, "content", st.content ? st.content : "ok");
	cJSON_AddStringToObject(r, "finish_reason", "stop");
	cJSON_AddStringToObject(r, "model", model ? model : "default-model");
	cJSON *u = cJSON_AddObjectToObject(r, "usage");
	cJSON_AddNumberToObject(u, "input_tokens", 1000);
	cJSON_AddNumberToObject(u, "output_tokens", 500);
	cJSON_AddNumberToObject(u, "cached_tokens", 200);
	char *text = cJSON_PrintUnformatted(r);
	*response = cog_malloc(strlen(text) + 1);
	strcpy(*response, text);
	free(text);
	cJSON_Delete(r);
	cJSON_Delete(req);
	return 0;
}

static int script_embed(void *self, const char *request, cog_llm_call *call,
                        char **response)
{
	(void)call;
	script *s = self;
	s->calls++;
	snprintf(s->last_request, sizeof s->last_request, "%s", request);
	const char *answer = "{\"model\":\"e\",\"data\":[[0.5,0.25]],\"dimensions\":2,"
		"\"usage\":{\"input_tokens\":4000}}";
	*response = cog_malloc(strlen(answer) + 1);
	strcpy(*response, answer);
	return 0;
}

/* {"backend":"script","name":...,"model":...}: what the router keys
 * cached answers by besides the endpoint's name. */
static int script_describe(void *self, char **json)
{
	const script *s = self;
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "backend", "script");
	if (s->model)
		cJSON_AddStringToObject(d, "model", s->model);
	char *text = cJSON_PrintUnformatted(d);
	cJSON_Delete(d);
	*json = cog_malloc(strlen(text) + 1);
	strcpy(*json, text);
	free(text);
	return 0;
}

static int events_seen;
static char last_event[512];

static cog_ctx *ctx;

static void add(int i, const char *name, const cog_llm_endpoint_options *o)
{
	scripts[i].name = name;
	if (!scripts[i].n_steps)
		scripts[i].n_steps = 1;   /* one answer, reused */
	cog_llm_vtable vt = COG_LLM_VTABLE_INIT;
	vt.self = &scripts[i];
	vt.chat = script_chat;
	vt.embed = scripts[i].no_embed ? NULL : script_embed;
	vt.describe = script_describe;
	cog_llm *llm = NULL;
	ck_assert_cog(cog_llm_new(&llm, &vt));
	ck_assert_cog(cog_llm_add_endpoint(ctx, name, llm, o));
}

static void setup(void)
{
	memset(scripts, 0, sizeof scripts);
	events_seen = 0;
	last_event[0] = '\0';
	ck_assert_cog(cog_ctx_new(&ctx, NULL));
}

static void teardown(void)
{
	cog_ctx_free(ctx);
	ctx = NULL;
}

static llm_router *router(void)
{
	llm_router *r = NULL;
	ck_assert_cog(llm_router_get(ctx, false, &r));
	ck_assert_ptr_nonnull(r);
	return r;
}

static const char *HELLO = "{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";

/* ---- configuration ---- */

START_TEST(test_config_defaults_and_full)
{
	add(0, "main", NULL);
	add(1, "backup", NULL);
	llm_config *c = &router()->config;
	ck_assert_uint_eq(c->max_attempts, 4);
	ck_assert_uint_eq(c->base_ms, 250);
	ck_assert_uint_eq(c->cap_ms, 20000);
	ck_assert_uint_eq(c->timeout_ms, 120000);
	ck_assert(c->cache_enabled);
	ck_assert_uint_eq(c->cache_ttl_s, 86400);
	ck_assert_uint_eq(c->schema_retries, 2);
	ck_assert_cog(cog_llm_configure(ctx,
		"{\"routes\":{\"executor\":{\"tier\":1,\"choose\":\"cheapest\",\"models\":["
		"{\"endpoint\":\"main\",\"model\":\"m\",\"tier\":2},"
		"{\"endpoint\":\"backup\",\"model\":\"b\"}]},"
		"\"planner\":{\"models\":[{\"endpoint\":\"backup\"}]}},"
		"\"prices\":{\"m\":{\"input\":0.15,\"output\":0.60,\"cached_input\":0.075},"
		"\"org/b\":{\"input\":1,\"output\":2}},"
		"\"retry\":{\"max_attempts\":3,\"base_ms\":10,\"cap_ms\":100},"
		"\"timeout_ms\":5000,\"cache\":{\"enabled\":false,\"ttl_s\":60},"
		"\"schema_retries\":1}"));
	ck_assert_uint_eq(c->n_routes, 2);
	const llm_route *r = llm_config_route(c, "executor");
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->tier, 1);
	ck_assert(r->cheapest);
	ck_assert_uint_eq(r->n_models, 2);
	ck_assert_uint_eq(r->models[0].endpoint, 0);
	ck_assert_str_eq(r->models[0].model, "m");
	ck_assert_uint_eq(r->models[0].tier, 2);
	ck_assert_uint_eq(r->models[1].endpoint, 1);
	ck_assert_uint_eq(r->models[1].tier, 1);   /* absent: the route's */
	r = llm_config_route(c, "planner");
	ck_assert_ptr_null(r->models[0].model);   /* the request's model */
	ck_assert(!r->cheapest);
	const llm_price *p = llm_config_price(c, "m");
	ck_assert(p && p->has_cached && p->cached_input == 0.075 && p->output == 0.6);
	p = llm_config_price(c, "org/b");
	ck_assert(p && !p->has_cached && p->input == 1);
	ck_assert_uint_eq(c->max_attempts, 3);
	ck_assert_uint_eq(c->base_ms, 10);
	ck_assert_uint_eq(c->cap_ms, 100);
	ck_assert_uint_eq(c->timeout_ms, 5000);
	ck_assert(!c->cache_enabled);
	ck_assert_uint_eq(c->cache_ttl_s, 60);
	ck_assert_uint_eq(c->schema_retries, 1);
}
END_TEST

START_TEST(test_config_errors)
{
	static const struct { const char *json, *message; } cases[] = {
		{ "[]", "must be a JSON object" },
		{ "{\"routes\":", "cog_llm_configure" },
		{ "{\"retries\":{}}", "/retries: unknown member" },
		{ "{\"routes\":[]}", "/routes: expected an object" },
		{ "{\"routes\":{\"bad/role\":{\"models\":[{\"endpoint\":\"main\"}]}}}",
		  "/routes/bad~1role: a role name" },
		{ "{\"routes\":{\"executor\":{\"models\":[{\"endpoint\":\"nope\"}]}}}",
		  "/routes/executor/models/0/endpoint: no endpoint named 'nope'" },
		{ "{\"routes\":{\"executor\":{\"models\":[{\"endpoint\":\"main\"},"
		  "{\"endpoint\":\"main\",\"modle\":\"x\"}]}}}",
		  "/routes/executor/models/1/modle: unknown member" },
		{ "{\"routes\":{\"executor\":{\"models\":[]}}}",
		  "/routes/executor/models: expected an array of 1..64 models" },
		{ "{\"routes\":{\"executor\":{\"choose\":\"random\",\"models\":[{\"endpoint\":\"main\"}]}}}",
		  "/routes/executor/choose: expected \"order\" or \"cheapest\"" },
		{ "{\"routes\":{\"executor\":{\"tier\":3,\"models\":[{\"endpoint\":\"main\",\"tier\":1}]}}}",
		  "/routes/executor/models: no model has a tier of at least the route's (3)" },
		{ "{\"routes\":{\"executor\":{\"tier\":-1,\"models\":[{\"endpoint\":\"main\"}]}}}",
		  "/routes/executor/tier: expected an integer in 0..1000" },
		{ "{\"routes\":{\"executor\":{\"models\":[{\"endpoint\":\"main\",\"model\":\"\"}]}}}",
		  "/routes/executor/models/0/model: expected a model name" },
		{ "{\"prices\":{\"m\":{\"input\":-1,\"output\":1}}}",
		  "/prices/m/input: expected a price per million tokens" },
		{ "{\"prices\":{\"m\":{\"input\":1}}}", "/prices/m/output: missing" },
		{ "{\"prices\":{\"m\":{\"input\":1,\"output\":\"2\"}}}", "/prices/m/output: expected" },
		{ "{\"prices\":{\"a~b\":{\"input\":1,\"output\":2,\"cache\":1}}}",
		  "/prices/a~0b/cache: unknown member" },
		{ "{\"retry\":{\"max_attempts\":0}}", "/retry/max_attempts: expected an integer in 1..100" },
		{ "{\"retry\":{\"max_attempts\":1.5}}", "/retry/max_attempts: expected an integer" },
		{ "{\"retry\":{\"base_ms\":500,\"cap_ms\":100}}", "/retry: base_ms (500) is above cap_ms (100)" },
		{ "{\"timeout_ms\":0}", "/timeout_ms: expected an integer in 1..86400000" },
		{ "{\"timeout_ms\":\"5000\"}", "/timeout_ms: expected an integer" },
		{ "{\"cache\":{\"enabled\":1}}", "/cache/enabled: expected true or false" },
		{ "{\"cache\":{\"ttl_s\":0}}", "/cache/ttl_s: expected an integer" },
		{ "{\"schema_retries\":11}", "/schema_retries: expected an integer in 0..10" },
	};
	add(0, "main", NULL);
	ck_assert_cog(cog_llm_configure(ctx, "{\"routes\":{\"critic\":{\"models\":"
		"[{\"endpoint\":\"main\",\"model\":\"keep\"}]}},\"retry\":{\"max_attempts\":7}}"));
	llm_config *c = &router()->config;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		/* A good member before the bad one must not be applied either. */
		char json[1024];
		snprintf(json, sizeof json, "%s", cases[i].json);
		int rc = cog_llm_configure(ctx, json);
		ck_assert_msg(rc == COG_EINVAL, "%s: got %d", json, rc);
		ck_assert_msg(strstr(cog_error_last(), cases[i].message),
			"%s: message \"%s\" lacks \"%s\"", json, cog_error_last(), cases[i].message);
		ck_assert_uint_eq(c->max_attempts, 7);
		ck_assert_uint_eq(c->n_routes, 1);
		ck_assert_str_eq(c->routes[0].models[0].model, "keep");
	}
	ck_assert_int_eq(cog_llm_configure(ctx, "{\"retry\":{\"max_attempts\":2},"
		"\"routes\":{\"critic\":null},\"bogus\":1}"), COG_EINVAL);
	ck_assert_uint_eq(c->max_attempts, 7);
	ck_assert_uint_eq(c->n_routes, 1);
	ck_assert_int_eq(cog_llm_configure(ctx, NULL), COG_EINVAL);
	ck_assert_int_eq(cog_llm_configure(NULL, "{}"), COG_EINVAL);
}
END_TEST

START_TEST(test_config_merge)
{
	add(0, "main", NULL);
	add(1, "backup", NULL);
	ck_assert_cog(cog_llm_configure(ctx, "{\"routes\":{"
		"\"a\":{\"models\":[{\"endpoint\":\"main\",\"model\":\"x\"}]},"
		"\"b\":{\"models\":[{\"endpoint\":\"main\",\"model\":\"y\"}]}},"
		"\"prices\":{\"x\":{\"input\":1,\"output\":1}},\"retry\":{\"max_attempts\":5}}"));
	/* Absent members keep their values; given ones replace; null removes. */
	ck_assert_cog(cog_llm_configure(ctx, "{\"retry\":{\"base_ms\":1},"
		"\"routes\":{\"a\":null,\"b\":{\"models\":[{\"endpoint\":\"backup\"}]}},"
		"\"prices\":{\"x\":{\"input\":3,\"output\":4},\"y\":{\"input\":1,\"output\":1}}}"));
	llm_config *c = &router()->config;
	ck_assert_uint_eq(c->max_attempts, 5);
	ck_assert_uint_eq(c->base_ms, 1);
	ck_assert_ptr_null(llm_config_route(c, "a"));
	const llm_route *b = llm_config_route(c, "b");
	ck_assert_uint_eq(b->n_models, 1);
	ck_assert_uint_eq(b->models[0].endpoint, 1);
	ck_assert_uint_eq(c->n_prices, 2);
	ck_assert(llm_config_price(c, "x")->input == 3);
	ck_assert_cog(cog_llm_configure(ctx, "{\"prices\":{\"x\":null,\"nothing\":null}}"));
	ck_assert_uint_eq(c->n_prices, 1);
	ck_assert_ptr_null(llm_config_price(c, "x"));
}
END_TEST

START_TEST(test_add_endpoint_errors)
{
	ck_assert(!cog_llm_available(ctx));
	add(0, "main", NULL);
	ck_assert(cog_llm_available(ctx));
	cog_llm_vtable vt = COG_LLM_VTABLE_INIT;
	vt.chat = script_chat;
	vt.self = &scripts[1];
	cog_llm *llm = NULL;
	ck_assert_cog(cog_llm_new(&llm, &vt));
	ck_assert_int_eq(cog_llm_add_endpoint(ctx, "main", llm, NULL), COG_EEXISTS);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "already an endpoint named 'main'"));
	ck_assert_cog(cog_llm_new(&llm, &vt));
	ck_assert_int_eq(cog_llm_add_endpoint(ctx, "no spaces", llm, NULL), COG_EINVAL);
	ck_assert_cog(cog_llm_new(&llm, &vt));
	cog_llm_endpoint_options o = COG_LLM_ENDPOINT_OPTIONS_INIT;
	o.tokens_per_minute = 0.5;
	ck_assert_int_eq(cog_llm_add_endpoint(ctx, "tiny", llm, &o), COG_EINVAL);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "tokens_per_minute"));
	ck_assert_cog(cog_llm_new(&llm, &vt));
	o.tokens_per_minute = 0;
	o.version = 99;
	ck_assert_int_eq(cog_llm_add_endpoint(ctx, "future", llm, &o), COG_EVERSION);
	ck_assert_int_eq(cog_llm_add_endpoint(ctx, "null", NULL, NULL), COG_EINVAL);
	ck_assert_int_eq(cog_llm_endpoint_options_init(&o, 2), COG_EVERSION);
	ck_assert_cog(cog_llm_endpoint_options_init(&o, 1));
	ck_assert_uint_eq(router()->n_endpoints, 1);
}
END_TEST

/* ---- candidates ---- */

static void ck_order(llm_plan *p, const char *expected)
{
	char got[256] = "";
	for (size_t i = 0; i < p->n_candidates; i++) {
		size_t n = strlen(got);
		snprintf(got + n, sizeof got - n, "%s%s/%s", i ? " " : "",
			p->candidates[i].endpoint->name,
			p->candidates[i].model ? p->candidates[i].model : "-");
	}
	ck_assert_str_eq(got, expected);
}

START_TEST(test_plan_tier_and_cost)
{
	add(0, "a", NULL);
	add(1, "b", NULL);
	add(2, "c", NULL);
	ck_assert_cog(cog_llm_configure(ctx, "{\"routes\":{"
		"\"executor\":{\"tier\":2,\"models\":[{\"endpoint\":\"a\",\"model\":\"small\",\"tier\":1},"
		"{\"endpoint\":\"b\",\"model\":\"big\",\"tier\":3},"
		"{\"endpoint\":\"c\",\"model\":\"mid\",\"tier\":2}]},"
		"\"planner\":{\"tier\":2,\"choose\":\"cheapest\",\"models\":["
		"{\"endpoint\":\"a\",\"model\":\"small\",\"tier\":1},"
		"{\"endpoint\":\"b\",\"model\":\"big\",\"tier\":3},"
		"{\"endpoint\":\"c\",\"model\":\"mid\",\"tier\":2},"
		"{\"endpoint\":\"a\",\"model\":\"free\",\"tier\":2}]},"
		"\"reader\":{\"choose\":\"cheapest\",\"models\":["
		"{\"endpoint\":\"a\",\"model\":\"in-cheap\"},{\"endpoint\":\"b\",\"model\":\"out-cheap\"}]}},"
		"\"prices\":{\"small\":{\"input\":0.1,\"output\":0.1},"
		"\"big\":{\"input\":5,\"output\":15},\"mid\":{\"input\":1,\"output\":2},"
		"\"in-cheap\":{\"input\":0.1,\"output\":10},\"out-cheap\":{\"input\":2,\"output\":1}}}"));
	llm_router *r = router();
	llm_plan p;
	/* Order: the route's, below-tier models left out. */
	ck_assert_cog(llm_plan_build(&p, r, "executor", NULL, 100, 100));
	ck_order(&p, "b/big c/mid");
	ck_assert_uint_eq(p.max_attempts, 4);
	llm_plan_dispose(&p);
	/* Cheapest: an unpriced model costs 0 and goes first. */
	ck_assert_cog(llm_plan_build(&p, r, "planner", NULL, 1000, 1000));
	ck_order(&p, "a/free c/mid b/big");
	ck_assert_double_eq_tol(p.candidates[1].estimate, (1000 * 1.0 + 1000 * 2.0) / 1e6, 1e-12);
	llm_plan_dispose(&p);
	/* The estimate weighs input and output: a long prompt with a short
	 * answer favours cheap input, a short prompt with a long answer cheap
	 * output. */
	ck_assert_cog(llm_plan_build(&p, r, "reader", NULL, 100000, 10));
	ck_order(&p, "a/in-cheap b/out-cheap");
	llm_plan_dispose(&p);
	ck_assert_cog(llm_plan_build(&p, r, "reader", NULL, 10, 100000));
	ck_order(&p, "b/out-cheap a/in-cheap");
	llm_plan_dispose(&p);
	/* No route: the first endpoint with the request's model. */
	ck_assert_cog(llm_plan_build(&p, r, "critic", "req-model", 1, 1));
	ck_order(&p, "a/req-model");
	ck_assert(!p.candidates[0].priced);
	llm_plan_dispose(&p);
}
END_TEST

START_TEST(test_cost_arithmetic)
{
	llm_candidate c = { 0 };
	ck_assert(llm_candidate_cost(&c, 1000, 500, 200) == 0);   /* unpriced */
	c.priced = true;
	c.input_price = 0.15;
	c.output_price = 0.60;
	c.cached_price = 0.075;
	/* (1000-200)*0.15 + 200*0.075 + 500*0.60 = 435 per million */
	ck_assert_double_eq_tol(llm_candidate_cost(&c, 1000, 500, 200), 435e-6, 1e-15);
	c.cached_price = c.input_price;   /* no cached price: input price */
	ck_assert_double_eq_tol(llm_candidate_cost(&c, 1000, 500, 200), 450e-6, 1e-15);
	/* More cached than input (a confused provider) is not negative. */
	ck_assert_double_eq_tol(llm_candidate_cost(&c, 100, 0, 300), 15e-6, 1e-15);

	/* Through a call: the answer's usage at the route model's prices. */
	add(0, "main", NULL);
	ck_assert_cog(cog_llm_configure(ctx, "{\"routes\":{\"executor\":{\"models\":"
		"[{\"endpoint\":\"main\",\"model\":\"m\"}]}},"
		"\"prices\":{\"m\":{\"input\":0.15,\"output\":0.60,\"cached_input\":0.075}}}"));
	char *out = NULL;
	ck_assert_cog(cog_llm_chat(ctx, HELLO, NULL, &out));
	cJSON *resp = cJSON_Parse(out);
	ck_assert_double_eq_tol(cog_json_get_number(resp, "cost", -1), 435e-6, 1e-15);
	ck_assert_str_eq(cog_json_get_string(resp, "endpoint"), "main");
	ck_assert_str_eq(cog_json_get_string(resp, "model"), "m");
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(resp, "cached")));
	ck_assert_int_eq((int)cog_json_get_number(resp, "attempts", 0), 1);
	cJSON_Delete(resp);
	cog_free(out);
	ck_assert_cog(cog_llm_stats(ctx, &out));
	resp = cJSON_Parse(out);
	ck_assert_double_eq_tol(cog_json_get_number(resp, "cost", -1), 435e-6, 1e-15);
	ck_assert_int_eq((int)cog_json_get_number(resp, "calls", 0), 1);
	ck_assert_int_eq((int)cog_json_get_number(resp, "input_tokens", 0), 1000);
	ck_assert_int_eq((int)cog_json_get_number(resp, "output_tokens", 0), 500);
	cJSON *main_ep = cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "endpoints"), "main");
	ck_assert_str_eq(cog_json_get_string(main_ep, "breaker"), "closed");
	ck_assert_int_eq((int)cog_json_get_number(main_ep, "calls", 0), 1);
	cJSON_Delete(resp);
	cog_free(out);
}
END_TEST

/* ---- what each status does ---- */

static void two_endpoints(void)
{
	add(0, "a", NULL);
	add(1, "b", NULL);
	ck_assert_cog(cog_llm_configure(ctx, "{\"routes\":{\"executor\":{\"models\":["
		"{\"endpoint\":\"a\",\"model\":\"m1\"},{\"endpoint\":\"b\",\"model\":\"m2\"}]}},"
		"\"retry\":{\"max_attempts\":2,\"base_ms\":1,\"cap_ms\":2}}"));
}

static char *chat_ok(const cog_llm_chat_options *o)
{
	char *out = NULL;
	ck_assert_cog(cog_llm_chat(ctx, HELLO, o, &out));
	return out;
}

START_TEST(test_retry_then_success)
{
	scripts[0].steps[0] = (step){ COG_EPROTO, 200, 0, NULL, false };
	scripts[0].steps[1] = (step){ 0, 0, 0, "fine", false };
	scripts[0].n_steps = 2;
	two_endpoints();
	char *out = chat_ok(NULL);
	ck_assert_ptr_nonnull(strstr(out, "\"attempts\":2"));
	ck_assert_ptr_nonnull(strstr(out, "\"endpoint\":\"a\""));
	ck_assert_int_eq(scripts[0].calls, 2);
	ck_assert_int_eq(scripts[1].calls, 0);
	cog_free(out);
	ck_assert_cog(cog_llm_stats(ctx, &out));
	ck_assert_ptr_nonnull(strstr(out, "\"retries\":1"));
	ck_assert_ptr_nonnull(strstr(out, "\"a\":{\"breaker\":\"closed\",\"calls\":2,\"failures\":1}"));
	cog_free(out);
}
END_TEST

START_TEST(test_fatal_statuses_stop)
{
	static const int fatal[] = { COG_EDENIED, COG_EINVAL, COG_ERANGE };
	for (size_t i = 0; i < 3; i++) {
		teardown();
		setup();
		scripts[0].steps[0] = (step){ fatal[i], 400, 0, NULL, false };
		two_endpoints();
		char *out = NULL;
		ck_assert_int_eq(cog_llm_chat(ctx, HELLO, NULL, &out), fatal[i]);
		ck_assert_ptr_null(out);
		ck_assert_msg(strstr(cog_error_last(), "a/m1") &&
			strstr(cog_error_last(), "scripted failure"), "%s", cog_error_last());
		ck_assert_int_eq(scripts[0].calls, 1);
		ck_assert_int_eq(scripts[1].calls, 0);
	}
}
END_TEST

START_TEST(test_connect_failure_falls_back)
{
	scripts[0].steps[0] = (step){ COG_EUNAVAILABLE, 0, 0, NULL, false };
	two_endpoints();
	char *out = chat_ok(NULL);
	ck_assert_ptr_nonnull(strstr(out, "\"endpoint\":\"b\""));
	ck_assert_ptr_nonnull(strstr(out, "\"model\":\"m2\""));
	ck_assert_ptr_nonnull(strstr(out, "\"attempts\":2"));
	ck_assert_int_eq(scripts[0].calls, 1);   /* not retried */
	cog_free(out);
}
END_TEST

START_TEST(test_all_fail_lists_each)
{
	scripts[0].steps[0] = (step){ COG_EUNAVAILABLE, 503, 0, NULL, false };
	scripts[1].steps[0] = (step){ COG_EBUSY, 429, 0, NULL, false };
	two_endpoints();
	char *out = NULL;
	ck_assert_int_eq(cog_llm_chat(ctx, HELLO, NULL, &out), COG_EUNAVAILABLE);
	const char *msg = cog_error_last();
	ck_assert_msg(strstr(msg, "role 'executor'") &&
		strstr(msg, "a/m1: a: scripted failure (HTTP 503) (2 attempts); "
		            "b/m2: b: scripted failure (HTTP 429) (2 attempts)"), "%s", msg);
	ck_assert_int_eq(scripts[0].calls, 2);
	ck_assert_int_eq(scripts[1].calls, 2);
	/* Every candidate failed alike: that status. */
	teardown();
	setup();
	scripts[0].steps[0] = (step){ COG_EBUSY, 429, 0, NULL, false };
	scripts[1].steps[0] = (step){ COG_EBUSY, 429, 0, NULL, false };
	two_endpoints();
	ck_assert_int_eq(cog_llm_chat(ctx, HELLO, NULL, &out), COG_EBUSY);
}
END_TEST

static int count_events(const char *json, size_t len, void *ud)
{
	(void)ud;
	events_seen++;
	snprintf(last_event, sizeof last_event, "%.*s", (int)len, json);
	return 0;
}

START_TEST(test_streamed_failure_not_retried)
{
	scripts[0].steps[0] = (step){ COG_EUNAVAILABLE, 500, 0, NULL, true };
	two_endpoints();
	cog_llm_chat_options o = COG_LLM_CHAT_OPTIONS_INIT;
	o.on_event = count_events;
	char *out = NULL;
	ck_assert_int_eq(cog_llm_chat(ctx, HELLO, &o, &out), COG_EUNAVAILABLE);
	ck_assert_int_eq(scripts[0].calls, 1);
	ck_assert_int_eq(scripts[1].calls, 0);
	ck_assert_int_eq(events_seen, 1);
}
END_TEST

START_TEST(test_retry_after_honoured)
{
	scripts[0].steps[0] = (step){ COG_EBUSY, 429, 150, NULL, false };
	scripts[0].steps[1] = (step){ 0, 0, 0, NULL, false };
	scripts[0].n_steps = 2;
	two_endpoints();
	cog_llm_chat_options o = COG_LLM_CHAT_OPTIONS_INIT;
	o.on_event = count_events;
	uint64_t t0 = cog_clock_mono_ns();
	char *out = chat_ok(&o);
	uint64_t ms = (cog_clock_mono_ns() - t0) / 1000000u;
	ck_assert_msg(ms >= 150, "waited %llu ms", (unsigned long long)ms);
	ck_assert_int_eq(events_seen, 1);
	ck_assert_str_eq(last_event, "{\"type\":\"retry\",\"attempt\":2,\"endpoint\":\"a\","
		"\"delay_ms\":150,\"reason\":\"rate_limited\"}");
	cog_free(out);
}
END_TEST

static uint64_t cancel_after_ns;

static int cancel_when_due(void *ud)
{
	(void)ud;
	return cog_clock_mono_ns() >= cancel_after_ns;
}

START_TEST(test_cancel_during_backoff)
{
	scripts[0].steps[0] = (step){ COG_EBUSY, 429, 5000, NULL, false };
	two_endpoints();
	cog_llm_chat_options o = COG_LLM_CHAT_OPTIONS_INIT;
	o.is_canceled = cancel_when_due;
	uint64_t t0 = cog_clock_mono_ns();
	cancel_after_ns = t0 + 100000000u;
	char *out = NULL;
	ck_assert_int_eq(cog_llm_chat(ctx, HELLO, &o, &out), COG_ECANCELED);
	uint64_t late_ms = (cog_clock_mono_ns() - cancel_after_ns) / 1000000u;
	ck_assert_msg(late_ms < 100, "returned %llu ms after the cancel",
		(unsigned long long)late_ms);
	ck_assert_int_eq(scripts[0].calls, 1);
	ck_assert_int_eq(scripts[1].calls, 0);   /* canceled: no fallback */
}
END_TEST

START_TEST(test_tokens_per_minute)
{
	cog_llm_endpoint_options o = COG_LLM_ENDPOINT_OPTIONS_INIT;
	o.tokens_per_minute = 600;
	add(0, "small", &o);
	char *out = NULL;
	/* hello: ~2 tokens + max_tokens 1000: over a minute's 600. */
	ck_assert_int_eq(cog_llm_chat(ctx, "{\"messages\":[{\"role\":\"user\","
		"\"content\":\"hello\"}],\"max_tokens\":1000}", NULL, &out), COG_ERANGE);
	ck_assert_msg(strstr(cog_error_last(), "tokens_per_minute 600"), "%s", cog_error_last());
	ck_assert_int_eq(scripts[0].calls, 0);
	/* 500 fits once; the second must wait ~50 s for the bucket, past a
	 * 200 ms deadline: rate limited at once. */
	const char *req = "{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],"
		"\"max_tokens\":500}";
	ck_assert_cog(cog_llm_chat(ctx, req, NULL, &out));
	cog_free(out);
	cog_llm_chat_options co = COG_LLM_CHAT_OPTIONS_INIT;
	co.timeout_ms = 200;
	uint64_t t0 = cog_clock_mono_ns();
	ck_assert_int_eq(cog_llm_chat(ctx, req, &co, &out), COG_EBUSY);
	ck_assert_uint_lt((cog_clock_mono_ns() - t0) / 1000000u, 100);
	ck_assert_msg(strstr(cog_error_last(), "after the call's deadline"), "%s",
		cog_error_last());
	ck_assert_int_eq(scripts[0].calls, 1);
}
END_TEST

/* ---- cache ---- */

START_TEST(test_cache)
{
	cog_storage *st = NULL;
	ck_assert_cog(cog_storage_memory_new(&st));
	ck_assert_cog(cog_ctx_set_storage(ctx, st));
	add(0, "main", NULL);
	const char *req = "{\"model\":\"m\",\"temperature\":0,"
		"\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
	char *out = NULL;
	ck_assert_cog(cog_llm_chat(ctx, req, NULL, &out));
	ck_assert_ptr_nonnull(strstr(out, "\"cached\":false"));
	cog_free(out);
	cog_llm_chat_options o = COG_LLM_CHAT_OPTIONS_INIT;
	o.on_event = count_events;
	ck_assert_cog(cog_llm_chat(ctx, req, &o, &out));
	cJSON *resp = cJSON_Parse(out);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(resp, "cached")));
	ck_assert(cog_json_get_number(resp, "cost", -1) == 0);
	ck_assert_str_eq(cog_json_get_string(resp, "endpoint"), "main");
	cJSON_Delete(resp);
	cog_free(out);
	ck_assert_int_eq(scripts[0].calls, 1);
	ck_assert_int_eq(events_seen, 1);   /* the cached text, streamed */
	ck_assert_str_eq(last_event, "{\"type\":\"text\",\"text\":\"ok\"}");
	/* Another model is another answer; never when the caller says so;
	 * not at temperature 0.7 unless the caller says so. */
	ck_assert_cog(cog_llm_chat(ctx, "{\"model\":\"m2\",\"temperature\":0,"
		"\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}", NULL, &out));
	cog_free(out);
	ck_assert_int_eq(scripts[0].calls, 2);
	o.on_event = NULL;
	o.cacheable = -1;
	ck_assert_cog(cog_llm_chat(ctx, req, &o, &out));
	cog_free(out);
	ck_assert_int_eq(scripts[0].calls, 3);
	const char *warm = "{\"model\":\"m\",\"temperature\":0.7,"
		"\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
	ck_assert_cog(cog_llm_chat(ctx, warm, NULL, &out));
	cog_free(out);
	ck_assert_cog(cog_llm_chat(ctx, warm, NULL, &out));
	cog_free(out);
	ck_assert_int_eq(scripts[0].calls, 5);
	o.cacheable = 1;
	ck_assert_cog(cog_llm_chat(ctx, warm, &o, &out));
	cog_free(out);
	ck_assert_cog(cog_llm_chat(ctx, warm, &o, &out));
	cog_free(out);
	ck_assert_int_eq(scripts[0].calls, 6);
	ck_assert_cog(cog_llm_stats(ctx, &out));
	ck_assert_msg(strstr(out, "\"cache\":{\"hits\":2,\"misses\":3}"), "%s", out);
	cog_free(out);
	/* Disabled by configuration. */
	ck_assert_cog(cog_llm_configure(ctx, "{\"cache\":{\"enabled\":false}}"));
	ck_assert_cog(cog_llm_chat(ctx, req, NULL, &out));
	cog_free(out);
	ck_assert_int_eq(scripts[0].calls, 7);
}
END_TEST

/* Events a cached answer replays: its text, then each tool call. */
static char replayed[4][256];
static int n_replayed;

static int keep_event(const char *json, size_t len, void *ud)
{
	(void)ud;
	if (n_replayed < 4)
		snprintf(replayed[n_replayed++], sizeof replayed[0], "%.*s", (int)len, json);
	return 0;
}

START_TEST(test_cache_replay_and_ttl)
{
	cJSON *r = cJSON_Parse("{\"message\":{\"role\":\"assistant\",\"content\":\"Let me look.\","
		"\"tool_calls\":[{\"id\":\"call_1\",\"name\":\"get_weather\",\"arguments\":"
		"{\"city\":\"Paris\"}},{\"id\":\"call_2\",\"name\":\"f\",\"arguments\":null,"
		"\"arguments_text\":\"{oops\"}]},\"finish_reason\":\"tool_calls\"}");
	ck_assert_cog(llm_cache_replay_events(r, keep_event, NULL));
	cJSON_Delete(r);
	ck_assert_int_eq(n_replayed, 3);
	ck_assert_str_eq(replayed[0], "{\"type\":\"text\",\"text\":\"Let me look.\"}");
	ck_assert_str_eq(replayed[1], "{\"type\":\"tool_call\",\"index\":0,\"id\":\"call_1\","
		"\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}");
	ck_assert_str_eq(replayed[2], "{\"type\":\"tool_call\",\"index\":1,\"id\":\"call_2\","
		"\"name\":\"f\",\"arguments\":\"{oops\"}");

	/* An answer expires after ttl_s. */
	cog_storage *st = NULL;
	ck_assert_cog(cog_storage_memory_new(&st));
	ck_assert_cog(cog_ctx_set_storage(ctx, st));
	add(0, "main", NULL);
	ck_assert_cog(cog_llm_configure(ctx, "{\"cache\":{\"ttl_s\":1}}"));
	const char *req = "{\"temperature\":0,\"messages\":[{\"role\":\"user\","
		"\"content\":\"hello\"}]}";
	char *out = NULL;
	for (int i = 0; i < 2; i++) {
		ck_assert_cog(cog_llm_chat(ctx, req, NULL, &out));
		cog_free(out);
	}
	ck_assert_int_eq(scripts[0].calls, 1);
	cog_clock_sleep_ms(1100);
	ck_assert_cog(cog_llm_chat(ctx, req, NULL, &out));
	cog_free(out);
	ck_assert_int_eq(scripts[0].calls, 2);
}
END_TEST

/* ---- structured output ---- */

static const char *SCHEMA_REQ =
	"{\"messages\":[{\"role\":\"user\",\"content\":\"a person\"}],"
	"\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"p\","
	"\"schema\":{\"type\":\"object\",\"properties\":{\"age\":{\"type\":\"integer\"}},"
	"\"required\":[\"age\"]}}}}";

START_TEST(test_schema_reask)
{
	scripts[0].steps[0] = (step){ 0, 0, 0, "{\"age\":\"ten\"}", false };
	scripts[0].steps[1] = (step){ 0, 0, 0, "```json\n{\"age\":10}\n```", false };
	scripts[0].n_steps = 2;
	add(0, "main", NULL);
	char *out = NULL;
	ck_assert_cog(cog_llm_chat(ctx, SCHEMA_REQ, NULL, &out));
	cJSON *resp = cJSON_Parse(out);
	cJSON *parsed = cJSON_GetObjectItem(resp, "parsed");
	ck_assert_int_eq((int)cog_json_get_number(parsed, "age", 0), 10);
	ck_assert_int_eq((int)cog_json_get_number(resp, "attempts", 0), 2);
	/* Usage covers both answers. */
	ck_assert_int_eq((int)cog_json_get_number(cJSON_GetObjectItem(resp, "usage"),
		"input_tokens", 0), 2000);
	cJSON_Delete(resp);
	cog_free(out);
	ck_assert_int_eq(scripts[0].calls, 2);
	const char *second = scripts[0].requests[1];
	ck_assert_msg(strstr(second, "{\\\"age\\\":\\\"ten\\\"}") &&
		strstr(second, "Your previous answer did not match the required JSON schema: "
		               "[{\\\"instance\\\":\\\"/age\\\"") &&
		strstr(second, "Answer again with only the corrected JSON."), "%s", second);
}
END_TEST

START_TEST(test_schema_gives_up)
{
	scripts[0].steps[0] = (step){ 0, 0, 0, "not json", false };
	add(0, "main", NULL);
	char *out = NULL;
	ck_assert_int_eq(cog_llm_chat(ctx, SCHEMA_REQ, NULL, &out), COG_ESCHEMA);
	ck_assert_int_eq(scripts[0].calls, 3);   /* 1 + the default 2 re-asks */
	ck_assert_msg(strstr(cog_error_last(), "after 2 re-asks") &&
		strstr(cog_error_last(), "\"keyword\":\"json\""), "%s", cog_error_last());
	cog_llm_chat_options o = COG_LLM_CHAT_OPTIONS_INIT;
	o.schema_retries = 0;
	ck_assert_int_eq(cog_llm_chat(ctx, SCHEMA_REQ, &o, &out), COG_ESCHEMA);
	ck_assert_int_eq(scripts[0].calls, 4);
	/* json_object: an array is not an object. */
	scripts[0].steps[0].content = "[1]";
	ck_assert_int_eq(cog_llm_chat(ctx, "{\"messages\":[{\"role\":\"user\",\"content\":"
		"\"x\"}],\"response_format\":{\"type\":\"json_object\"}}", &o, &out), COG_ESCHEMA);
	ck_assert_msg(strstr(cog_error_last(), "expected a JSON object"), "%s", cog_error_last());
	/* A schema that does not compile is the request's fault, before any call. */
	ck_assert_int_eq(cog_llm_chat(ctx, "{\"messages\":[{\"role\":\"user\",\"content\":"
		"\"x\"}],\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":"
		"\"p\",\"schema\":{\"type\":7}}}}", NULL, &out), COG_EINVAL);
	ck_assert_int_eq(scripts[0].calls, 5);
}
END_TEST

/* ---- the rest ---- */

START_TEST(test_call_errors)
{
	char *out = NULL;
	ck_assert_int_eq(cog_llm_chat(ctx, HELLO, NULL, &out), COG_EUNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "no LLM endpoint"));
	add(0, "main", NULL);
	cog_llm_chat_options o;
	ck_assert_int_eq(cog_llm_chat_options_init(&o, 0), COG_EVERSION);
	ck_assert_cog(cog_llm_chat_options_init(&o, COG_LLM_CHAT_OPTIONS_VERSION));
	ck_assert_int_eq(o.schema_retries, -1);
	o.role = "bad role";
	ck_assert_int_eq(cog_llm_chat(ctx, HELLO, &o, &out), COG_EINVAL);
	o.role = NULL;
	o.version = 7;
	ck_assert_int_eq(cog_llm_chat(ctx, HELLO, &o, &out), COG_EVERSION);
	ck_assert_int_eq(cog_llm_chat(ctx, "{\"messages\":[]}", NULL, &out), COG_EINVAL);
	ck_assert_int_eq(cog_llm_chat(ctx, HELLO, NULL, NULL), COG_EINVAL);
	ck_assert_int_eq(scripts[0].calls, 0);
	/* Canceled before it starts. */
	cog_ctx_cancel(ctx);
	ck_assert_int_eq(cog_llm_chat(ctx, HELLO, NULL, &out), COG_ECANCELED);
	cog_ctx_reset_cancel(ctx);
	ck_assert_cog(cog_llm_stats(NULL, &out) == COG_EINVAL ? 0 : -1);
}
END_TEST

START_TEST(test_embed)
{
	add(0, "chat", NULL);
	add(1, "vectors", NULL);
	char *out = NULL;
	/* No "embedder" route: the first endpoint. */
	ck_assert_cog(cog_llm_embed(ctx, NULL, "{\"input\":\"hi\"}", &out));
	ck_assert_ptr_nonnull(strstr(out, "\"endpoint\":\"chat\""));
	cog_free(out);
	ck_assert_cog(cog_llm_configure(ctx, "{\"routes\":{\"embedder\":{\"models\":"
		"[{\"endpoint\":\"vectors\",\"model\":\"e\"}]}},"
		"\"prices\":{\"e\":{\"input\":0.02,\"output\":0}}}"));
	ck_assert_cog(cog_llm_embed(ctx, NULL, "{\"input\":[\"hi\"]}", &out));
	cJSON *resp = cJSON_Parse(out);
	ck_assert_str_eq(cog_json_get_string(resp, "endpoint"), "vectors");
	ck_assert_double_eq_tol(cog_json_get_number(resp, "cost", -1), 4000 * 0.02 / 1e6, 1e-15);
	cJSON_Delete(resp);
	cog_free(out);
	ck_assert_ptr_nonnull(strstr(scripts[1].last_request, "\"model\":\"e\""));
	ck_assert_int_eq(cog_llm_embed(ctx, NULL, "{\"input\":[]}", &out), COG_EINVAL);
}
END_TEST

/* ---- events and threads ---- */

static char call_event[1024];

static void on_ctx_event(const char *event, void *user_data)
{
	(void)user_data;
	if (strstr(event, "\"type\":\"llm.call\""))
		snprintf(call_event, sizeof call_event, "%s", event);
}

START_TEST(test_call_event)
{
	cog_ctx_free(ctx);
	cog_ctx_options co = COG_CTX_OPTIONS_INIT;
	co.event_fn = on_ctx_event;
	ck_assert_cog(cog_ctx_new(&ctx, &co));
	add(0, "main", NULL);
	ck_assert_cog(cog_llm_configure(ctx, "{\"routes\":{\"critic\":{\"models\":"
		"[{\"endpoint\":\"main\",\"model\":\"m\"}]}},"
		"\"prices\":{\"m\":{\"input\":1,\"output\":2}}}"));
	cog_llm_chat_options o = COG_LLM_CHAT_OPTIONS_INIT;
	o.role = "critic";
	char *out = chat_ok(&o);
	cog_free(out);
	cJSON *ev = cJSON_Parse(call_event);
	cJSON *d = cJSON_GetObjectItem(ev, "data");
	ck_assert_msg(d, "%s", call_event);
	ck_assert_str_eq(cog_json_get_string(d, "role"), "critic");
	ck_assert_str_eq(cog_json_get_string(d, "endpoint"), "main");
	ck_assert_str_eq(cog_json_get_string(d, "model"), "m");
	ck_assert_int_eq((int)cog_json_get_number(d, "input_tokens", 0), 1000);
	ck_assert_int_eq((int)cog_json_get_number(d, "output_tokens", 0), 500);
	ck_assert_double_eq_tol(cog_json_get_number(d, "cost", 0), 2000e-6, 1e-12);
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(d, "cached")));
	ck_assert_int_eq((int)cog_json_get_number(d, "attempts", 0), 1);
	ck_assert_int_eq((int)cog_json_get_number(d, "status", -99), 0);
	ck_assert(cog_json_get_number(d, "latency_ms", -1) >= 0);
	cJSON_Delete(ev);
	/* A failed call reports its status. */
	scripts[0].steps[0] = (step){ COG_EDENIED, 401, 0, NULL, false };
	ck_assert_int_eq(cog_llm_chat(ctx, HELLO, &o, &out), COG_EDENIED);
	ev = cJSON_Parse(call_event);
	d = cJSON_GetObjectItem(ev, "data");
	ck_assert_int_eq((int)cog_json_get_number(d, "status", 0), COG_EDENIED);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(d, "endpoint")));
	cJSON_Delete(ev);
}
END_TEST

static atomic_int shared_calls;

static int counting_chat(void *self, const char *request, cog_llm_call *call,
                         char **response)
{
	(void)self; (void)request; (void)call;
	int n = atomic_fetch_add(&shared_calls, 1);
	*response = cog_malloc(256);
	snprintf(*response, 256, "{\"message\":{\"role\":\"assistant\",\"content\":"
		"\"%d\"},\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}", n);
	return 0;
}

static void *chat_many(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++) {
		char *out = NULL;
		if (cog_llm_chat(ctx, HELLO, NULL, &out) != 0)
			return (void *)1;
		cog_free(out);
	}
	return NULL;
}

START_TEST(test_threads)
{
	cog_llm_vtable vt = COG_LLM_VTABLE_INIT;
	vt.chat = counting_chat;
	cog_llm *llm = NULL;
	ck_assert_cog(cog_llm_new(&llm, &vt));
	cog_llm_endpoint_options o = COG_LLM_ENDPOINT_OPTIONS_INIT;
	o.requests_per_minute = 6000000;
	ck_assert_cog(cog_llm_add_endpoint(ctx, "shared", llm, &o));
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, chat_many, NULL), 0);
	for (int i = 0; i < 4; i++) {
		void *failed = NULL;
		pthread_join(t[i], &failed);
		ck_assert_ptr_null(failed);
	}
	ck_assert_int_eq(atomic_load(&shared_calls), 400);
	char *json = NULL;
	ck_assert_cog(cog_llm_stats(ctx, &json));
	ck_assert_msg(strstr(json, "\"calls\":400,") && strstr(json, "\"input_tokens\":4000,") &&
		strstr(json, "\"shared\":{\"breaker\":\"closed\",\"calls\":400,\"failures\":0}"),
		"%s", json);
	cog_free(json);
}
END_TEST

/* ---- cache keys: who answers ---- */

static char *chat_content(const char *request, int expect_calls)
{
	char *out = NULL;
	ck_assert_cog(cog_llm_chat(ctx, request, NULL, &out));
	ck_assert_int_eq(scripts[0].calls, expect_calls);
	cJSON *r = cJSON_Parse(out);
	cog_free(out);
	char *cached = cJSON_IsTrue(cJSON_GetObjectItem(r, "cached")) ? strdup("hit") : strdup("miss");
	cJSON_Delete(r);
	return cached;
}

static int failing_describe(void *self, char **json)
{
	(void)self;
	*json = NULL;
	return cog_error_set(COG_EIO, "describe: the host could not say");
}

START_TEST(test_cache_key_backend_identity)
{
	cog_storage *st = NULL;
	ck_assert_cog(cog_storage_memory_new(&st));
	ck_assert_cog(cog_ctx_set_storage(ctx, st));
	scripts[0].model = "model-a";   /* the backend's own default */
	add(0, "default", NULL);
	const char *bare = "{\"temperature\":0,\"messages\":[{\"role\":\"user\","
		"\"content\":\"hello\"}]}";
	const char *named = "{\"model\":\"model-a\",\"temperature\":0,\"messages\":"
		"[{\"role\":\"user\",\"content\":\"hello\"}]}";
	const char *other = "{\"model\":\"model-b\",\"temperature\":0,\"messages\":"
		"[{\"role\":\"user\",\"content\":\"hello\"}]}";
	char *c = chat_content(bare, 1);
	ck_assert_str_eq(c, "miss");
	free(c);
	c = chat_content(bare, 1);
	ck_assert_str_eq(c, "hit");
	free(c);
	/* Asking for the default model by name is the same question. */
	c = chat_content(named, 1);
	ck_assert_str_eq(c, "hit");
	free(c);
	c = chat_content(other, 2);
	ck_assert_str_eq(c, "miss");
	free(c);

	/* An endpoint of the same name over a backend with another default
	 * model (the next run of a program, the same storage) has other keys;
	 * one over an identical backend has the same. */
	llm_endpoint *a = router()->endpoints[0], *b = NULL, *same = NULL;
	scripts[1].model = "model-b";
	scripts[2].model = "model-a";
	llm_endpoint **eps[] = { &b, &same };
	for (int i = 0; i < 2; i++) {
		cog_llm_vtable vt = COG_LLM_VTABLE_INIT;
		vt.self = &scripts[i + 1];
		vt.chat = script_chat;
		vt.describe = script_describe;
		cog_llm *llm = NULL;
		ck_assert_cog(cog_llm_new(&llm, &vt));
		ck_assert_cog(llm_endpoint_new(eps[i], "default", llm, NULL));
	}
	ck_assert_str_eq(b->default_model, "model-b");
	ck_assert_str_ne(a->identity, b->identity);
	ck_assert_str_eq(a->identity, same->identity);
	cJSON *prepared = cJSON_Parse(bare);
	char *before = cJSON_PrintUnformatted(prepared);
	char ka[65], kb[65], ksame[65];
	ck_assert_cog(llm_cache_key(prepared, a, ka));
	ck_assert_cog(llm_cache_key(prepared, b, kb));
	ck_assert_cog(llm_cache_key(prepared, same, ksame));
	ck_assert_str_ne(ka, kb);
	ck_assert_str_eq(ka, ksame);
	char *after = cJSON_PrintUnformatted(prepared);
	ck_assert_str_eq(before, after);   /* the request is left as it was */
	free(before);
	free(after);
	cJSON_Delete(prepared);
	llm_endpoint_free(b);
	llm_endpoint_free(same);

	/* A describe() that fails fails the endpoint, saying so. */
	cog_llm_vtable vt = COG_LLM_VTABLE_INIT;
	vt.chat = script_chat;
	vt.self = &scripts[1];
	vt.describe = failing_describe;
	cog_llm *llm = NULL;
	ck_assert_cog(cog_llm_new(&llm, &vt));
	ck_assert_int_eq(cog_llm_add_endpoint(ctx, "mute", llm, NULL), COG_EIO);
	ck_assert_msg(strstr(cog_error_last(), "endpoint 'mute'") &&
		strstr(cog_error_last(), "describe()") &&
		strstr(cog_error_last(), "the host could not say"), "%s", cog_error_last());
}
END_TEST

/* ---- the breaker hears of every attempt it admitted ---- */

static cog_breaker_state breaker_of(size_t i)
{
	return cog_breaker_state_at(&router()->endpoints[i]->breaker, cog_clock_mono_ns());
}

START_TEST(test_breaker_neutral_probe)
{
	/* Probes whose outcome says nothing about the peer. */
	enum { HOST_REFUSAL, CANCELED, DEADLINE, NO_EMBEDDINGS, N_CASES };
	static const char *names[] = { "host refusal without a status", "canceled",
		"the call's deadline", "embed on a backend without embeddings" };
	for (int k = 0; k < N_CASES; k++) {
		teardown();
		setup();
		scripts[0].steps[0] = (step){ COG_EUNAVAILABLE, 503, 0, NULL, false };
		scripts[0].steps[1] = (step){ 0, 0, 0, "back", false };
		scripts[0].n_steps = 2;
		if (k == HOST_REFUSAL || k == CANCELED) {
			scripts[0].steps[1] = (step){ k == CANCELED ? COG_ECANCELED : COG_EINVAL,
			                              0, 0, NULL, false };
			scripts[0].steps[2] = (step){ 0, 0, 0, "back", false };
			scripts[0].n_steps = 3;
		}
		if (k == DEADLINE)
			scripts[0].hang_call = 2;
		scripts[0].no_embed = k == NO_EMBEDDINGS;
		cog_llm_endpoint_options eo = COG_LLM_ENDPOINT_OPTIONS_INIT;
		eo.breaker_failures = 1;
		eo.breaker_cooldown_ms = 100;
		add(0, "main", &eo);
		ck_assert_cog(cog_llm_configure(ctx, "{\"retry\":{\"max_attempts\":1}}"));
		char *out = NULL;
		ck_assert_int_eq(cog_llm_chat(ctx, HELLO, NULL, &out), COG_EUNAVAILABLE);
		ck_assert_int_eq(breaker_of(0), COG_BREAKER_OPEN);
		cog_clock_sleep_ms(150);
		ck_assert_int_eq(breaker_of(0), COG_BREAKER_HALF_OPEN);
		int rc;
		cog_llm_chat_options o = COG_LLM_CHAT_OPTIONS_INIT;
		switch (k) {
		case HOST_REFUSAL:
			rc = cog_llm_chat(ctx, HELLO, NULL, &out);
			ck_assert_msg(rc == COG_EINVAL, "%s: %d %s", names[k], rc, cog_error_last());
			break;
		case CANCELED:
			rc = cog_llm_chat(ctx, HELLO, NULL, &out);
			ck_assert_msg(rc == COG_ECANCELED, "%s: %d %s", names[k], rc, cog_error_last());
			break;
		case DEADLINE:
			o.timeout_ms = 100;
			rc = cog_llm_chat(ctx, HELLO, &o, &out);
			ck_assert_msg(rc == COG_ETIMEOUT, "%s: %d %s", names[k], rc, cog_error_last());
			break;
		default:
			rc = cog_llm_embed(ctx, NULL, "{\"input\":\"hi\"}", &out);
			ck_assert_msg(rc == COG_EUNAVAILABLE, "%s: %d %s", names[k], rc,
				cog_error_last());
			break;
		}
		/* The probe came back: the endpoint is not blocked for a cool-down. */
		ck_assert_msg(breaker_of(0) == COG_BREAKER_CLOSED, "%s: breaker %d", names[k],
			breaker_of(0));
		rc = cog_llm_chat(ctx, HELLO, NULL, &out);
		ck_assert_msg(rc == COG_OK, "%s: the next call: %d %s", names[k], rc,
			cog_error_last());
		ck_assert_msg(strstr(out, "\"content\":\"back\""), "%s: %s", names[k], out);
		cog_free(out);
	}
}
END_TEST

static void *probe_call(void *arg)
{
	(void)arg;
	char *out = NULL;
	int rc = cog_llm_chat(ctx, HELLO, NULL, &out);
	cog_free(out);
	return rc == COG_OK ? NULL : (void *)1;
}

START_TEST(test_breaker_before_rate_limit)
{
	/* 1 request a second, a burst of 6; the breaker opens on one failure. */
	cog_llm_endpoint_options eo = COG_LLM_ENDPOINT_OPTIONS_INIT;
	eo.breaker_failures = 1;
	eo.breaker_cooldown_ms = 100;
	eo.requests_per_minute = 60;
	scripts[0].steps[0] = (step){ COG_EUNAVAILABLE, 503, 0, NULL, false };
	scripts[0].steps[1] = (step){ 0, 0, 0, "back", false };
	scripts[0].n_steps = 2;
	scripts[0].block_call = 2;     /* the probe takes 400 ms */
	scripts[0].block_ms = 400;
	add(0, "main", &eo);
	ck_assert_cog(cog_llm_configure(ctx, "{\"retry\":{\"max_attempts\":1}}"));
	char *out = NULL;
	ck_assert_int_eq(cog_llm_chat(ctx, HELLO, NULL, &out), COG_EUNAVAILABLE);
	cog_clock_sleep_ms(150);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, probe_call, NULL), 0);
	while (!atomic_load(&scripts[0].entered))
		cog_clock_sleep_ms(1);
	/* While the probe is out, calls are refused before they take a slot. */
	cog_llm_chat_options o = COG_LLM_CHAT_OPTIONS_INIT;
	o.timeout_ms = 50;
	for (int i = 0; i < 6; i++) {
		int rc = cog_llm_chat(ctx, HELLO, &o, &out);
		ck_assert_msg(rc == COG_EUNAVAILABLE && strstr(cog_error_last(), "probe is out"),
			"refused call %d: %d %s", i, rc, cog_error_last());
	}
	void *failed = NULL;
	pthread_join(t, &failed);
	ck_assert_ptr_null(failed);
	ck_assert_int_eq(breaker_of(0), COG_BREAKER_CLOSED);
	/* Two slots were used (the failure and the probe): four go at once. */
	for (int i = 0; i < 4; i++) {
		int rc = cog_llm_chat(ctx, HELLO, &o, &out);
		ck_assert_msg(rc == COG_OK, "call %d after the probe: %d %s", i, rc,
			cog_error_last());
		cog_free(out);
	}
	ck_assert_int_eq(scripts[0].calls, 6);
}
END_TEST

/* ---- versioned option structs ---- */

START_TEST(test_options_versions)
{
	/* A struct is written only as far as its version reaches, with that
	 * version; an unknown version is refused and leaves it alone. */
	union {
		cog_llm_endpoint_options o;
		unsigned char bytes[sizeof(cog_llm_endpoint_options) + 32];
	} ep;
	memset(&ep, 0xAA, sizeof ep);
	ck_assert_cog(cog_llm_endpoint_options_init(&ep.o, 1));
	ck_assert_uint_eq(ep.o.version, 1);
	ck_assert(ep.o.requests_per_minute == 0 && ep.o.breaker_failures == 0);
	for (size_t i = sizeof ep.o; i < sizeof ep.bytes; i++)
		ck_assert_uint_eq(ep.bytes[i], 0xAA);
	memset(&ep, 0xAA, sizeof ep);
	ck_assert_int_eq(cog_llm_endpoint_options_init(&ep.o, COG_LLM_ENDPOINT_OPTIONS_VERSION + 1),
		COG_EVERSION);
	ck_assert_int_eq(cog_llm_endpoint_options_init(&ep.o, 0), COG_EVERSION);
	for (size_t i = 0; i < sizeof ep.bytes; i++)
		ck_assert_uint_eq(ep.bytes[i], 0xAA);
	ck_assert_int_eq(cog_llm_endpoint_options_init(NULL, 1), COG_EINVAL);

	union {
		cog_llm_chat_options o;
		unsigned char bytes[sizeof(cog_llm_chat_options) + 32];
	} chat;
	memset(&chat, 0xAA, sizeof chat);
	ck_assert_cog(cog_llm_chat_options_init(&chat.o, 1));
	ck_assert_uint_eq(chat.o.version, 1);
	ck_assert_ptr_null(chat.o.role);
	ck_assert_int_eq(chat.o.schema_retries, -1);
	for (size_t i = sizeof chat.o; i < sizeof chat.bytes; i++)
		ck_assert_uint_eq(chat.bytes[i], 0xAA);
	memset(&chat, 0xAA, sizeof chat);
	ck_assert_int_eq(cog_llm_chat_options_init(&chat.o, COG_LLM_CHAT_OPTIONS_VERSION + 1),
		COG_EVERSION);
	for (size_t i = 0; i < sizeof chat.bytes; i++)
		ck_assert_uint_eq(chat.bytes[i], 0xAA);

	/* The readers take a version-1 struct as it is. */
	add(0, "main", NULL);
	ck_assert_cog(cog_llm_chat_options_init(&chat.o, 1));
	chat.o.role = "critic";
	char *out = NULL;
	ck_assert_cog(cog_llm_chat(ctx, HELLO, &chat.o, &out));
	cog_free(out);
	ck_assert_cog(cog_llm_endpoint_options_init(&ep.o, 1));
	ep.o.breaker_failures = 1;
	scripts[1].steps[0] = (step){ COG_EUNAVAILABLE, 503, 0, NULL, false };
	add(1, "fragile", &ep.o);
	ck_assert_cog(cog_llm_configure(ctx, "{\"routes\":{\"critic\":{\"models\":"
		"[{\"endpoint\":\"fragile\"}]}},\"retry\":{\"max_attempts\":1}}"));
	ck_assert_int_eq(cog_llm_chat(ctx, HELLO, &chat.o, &out), COG_EUNAVAILABLE);
	ck_assert_int_eq(breaker_of(1), COG_BREAKER_OPEN);   /* breaker_failures read */
}
END_TEST

/* ---- a cached answer streams as a replayed one does ---- */

static const char *TOOL_ANSWER = "{\"message\":{\"role\":\"assistant\","
	"\"content\":\"Let me look.\",\"tool_calls\":["
	"{\"id\":\"call_1\",\"name\":\"get_weather\",\"arguments\":{\"units\":\"C\","
	"\"city\":\"Paris\",\"days\":[1,2]}},"
	"{\"id\":\"call_2\",\"name\":\"f\",\"arguments\":null,\"arguments_text\":\"{oops\"}]},"
	"\"finish_reason\":\"tool_calls\",\"usage\":{\"input_tokens\":5,\"output_tokens\":7}}";

static int fixed_chat(void *self, const char *request, cog_llm_call *call,
                      char **response)
{
	(void)request; (void)call;
	const char *answer = self;
	*response = cog_malloc(strlen(answer) + 1);
	strcpy(*response, answer);
	return 0;
}

static cog_llm *fixed_backend(void)
{
	cog_llm_vtable vt = COG_LLM_VTABLE_INIT;
	vt.self = (void *)TOOL_ANSWER;
	vt.chat = fixed_chat;
	cog_llm *llm = NULL;
	ck_assert_cog(cog_llm_new(&llm, &vt));
	return llm;
}

typedef struct events {
	char list[8][512];
	int n;
} events;

static int collect(const char *json, size_t len, void *ud)
{
	events *e = ud;
	if (e->n < 8)
		snprintf(e->list[e->n++], sizeof e->list[0], "%.*s", (int)len, json);
	return 0;
}

START_TEST(test_cache_events_match_replay)
{
	const char *req = "{\"temperature\":0,\"messages\":[{\"role\":\"user\","
		"\"content\":\"weather?\"}]}";
	/* The replay backend's events for the answer. */
	tmp_dir_make("cog-router-");
	char path[512];
	snprintf(path, sizeof path, "%s", tmp_file("answers.jsonl"));
	cog_llm *rec = NULL, *rp = NULL;
	ck_assert_cog(cog_llm_recorder_new(&rec, fixed_backend(), path));
	char *out = NULL;
	ck_assert_cog(cog_llm_backend_chat(rec, req, NULL, &out));
	cog_free(out);
	cog_llm_free(rec);
	ck_assert_cog(cog_llm_replay_new(&rp, path));
	events from_replay = { 0 };
	cog_llm_call call = COG_LLM_CALL_INIT;
	call.on_event = collect;
	call.event_user_data = &from_replay;
	ck_assert_cog(cog_llm_backend_chat(rp, req, &call, &out));
	cog_free(out);
	cog_llm_free(rp);
	tmp_dir_remove();

	/* The router's, answering from its cache. */
	cog_storage *st = NULL;
	ck_assert_cog(cog_storage_memory_new(&st));
	ck_assert_cog(cog_ctx_set_storage(ctx, st));
	ck_assert_cog(cog_llm_add_endpoint(ctx, "main", fixed_backend(), NULL));
	ck_assert_cog(cog_llm_chat(ctx, req, NULL, &out));
	cog_free(out);
	events cached = { 0 };
	cog_llm_chat_options o = COG_LLM_CHAT_OPTIONS_INIT;
	o.on_event = collect;
	o.event_user_data = &cached;
	ck_assert_cog(cog_llm_chat(ctx, req, &o, &out));
	ck_assert_ptr_nonnull(strstr(out, "\"cached\":true"));
	cog_free(out);

	ck_assert_int_eq(from_replay.n, 3);
	ck_assert_int_eq(cached.n, from_replay.n);
	for (int i = 0; i < cached.n; i++)
		ck_assert_str_eq(cached.list[i], from_replay.list[i]);
}
END_TEST

static Suite *router_suite(void)
{
	Suite *s = suite_create("llm-router-config");
	TCase *tc = tcase_create("config");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_config_defaults_and_full);
	tcase_add_test(tc, test_config_errors);
	tcase_add_test(tc, test_config_merge);
	tcase_add_test(tc, test_add_endpoint_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("choice");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_plan_tier_and_cost);
	tcase_add_test(tc, test_cost_arithmetic);
	suite_add_tcase(s, tc);
	tc = tcase_create("statuses");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_retry_then_success);
	tcase_add_test(tc, test_fatal_statuses_stop);
	tcase_add_test(tc, test_connect_failure_falls_back);
	tcase_add_test(tc, test_all_fail_lists_each);
	tcase_add_test(tc, test_streamed_failure_not_retried);
	tcase_add_test(tc, test_retry_after_honoured);
	tcase_add_test(tc, test_tokens_per_minute);
	tcase_add_test(tc, test_cancel_during_backoff);
	tcase_add_test(tc, test_breaker_neutral_probe);
	tcase_add_test(tc, test_breaker_before_rate_limit);
	tcase_add_test(tc, test_options_versions);
	suite_add_tcase(s, tc);
	tc = tcase_create("answers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_cache);
	tcase_add_test(tc, test_cache_replay_and_ttl);
	tcase_add_test(tc, test_cache_key_backend_identity);
	tcase_add_test(tc, test_cache_events_match_replay);
	tcase_add_test(tc, test_schema_reask);
	tcase_add_test(tc, test_schema_gives_up);
	tcase_add_test(tc, test_call_errors);
	tcase_add_test(tc, test_embed);
	tcase_add_test(tc, test_call_event);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(router_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
