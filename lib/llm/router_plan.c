/*
 * A call's plan: which endpoint + model pairs to try, in which order, at
 * which prices, with which settings. Built under the router's lock from
 * the configuration, so the call itself runs without the lock and a
 * configure() between calls never changes a call half way.
 */
#include <string.h>

#include "router_int.h"

void llm_plan_dispose(llm_plan *plan)
{
	for (size_t i = 0; i < plan->n_candidates; i++)
		cog_free(plan->candidates[i].model);
	cog_free(plan->candidates);
	cog_free(plan->role);
	memset(plan, 0, sizeof(*plan));
}

double llm_candidate_cost(const llm_candidate *c, uint64_t input_tokens,
                          uint64_t output_tokens, uint64_t cached_tokens)
{
	if (!c->priced)
		return 0;
	if (cached_tokens > input_tokens)
		cached_tokens = input_tokens;
	double cost = (double)(input_tokens - cached_tokens) * c->input_price +
	              (double)cached_tokens * c->cached_price +
	              (double)output_tokens * c->output_price;
	return cost / 1e6;
}

static void set_prices(llm_candidate *c, const llm_config *config, const char *model,
                       double input_tokens, double output_tokens)
{
	const llm_price *p = llm_config_price(config, model);
	if (p) {
		c->priced = true;
		c->input_price = p->input;
		c->output_price = p->output;
		c->cached_price = p->has_cached ? p->cached_input : p->input;
	}
	c->estimate = (input_tokens * c->input_price + output_tokens * c->output_price) / 1e6;
}

/* Stable insertion sort by estimate: routes are short (at most 64). */
static void sort_cheapest(llm_candidate *c, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		llm_candidate x = c[i];
		size_t j = i;
		while (j > 0 && c[j - 1].estimate > x.estimate) {
			c[j] = c[j - 1];
			j--;
		}
		c[j] = x;
	}
}

static int add_candidate(llm_plan *plan, llm_endpoint *ep, const char *model,
                         const llm_config *config, double in, double out)
{
	llm_candidate *c = &plan->candidates[plan->n_candidates];
	memset(c, 0, sizeof(*c));
	c->endpoint = ep;
	if (model && !(c->model = cog__strdup(model)))
		return cog__oom("LLM router plan");
	plan->n_candidates++;
	set_prices(c, config, model, in, out);
	return COG_OK;
}

static int build_locked(llm_plan *plan, llm_router *r, const char *role,
                        const char *request_model, double in, double out)
{
	const llm_config *config = &r->config;
	plan->max_attempts = config->max_attempts;
	plan->base_ms = config->base_ms;
	plan->cap_ms = config->cap_ms;
	plan->timeout_ms = config->timeout_ms;
	plan->cache_enabled = config->cache_enabled;
	plan->cache_ttl_s = config->cache_ttl_s;
	plan->schema_retries = config->schema_retries;
	if (r->n_endpoints == 0)
		return cog__error(COG_EUNAVAILABLE, "no LLM endpoint: add one with "
			"cog_llm_add_endpoint()");
	const llm_route *route = llm_config_route(config, role);
	size_t n = route ? route->n_models : 1;
	if (!(plan->candidates = cog__calloc(n, sizeof(*plan->candidates))))
		return cog__oom("LLM router plan");
	if (!route)
		return add_candidate(plan, r->endpoints[0], request_model, config, in, out);
	for (size_t i = 0; i < route->n_models; i++) {
		const llm_route_model *m = &route->models[i];
		if (m->tier < route->tier)
			continue;
		int rc = add_candidate(plan, r->endpoints[m->endpoint],
		                       m->model ? m->model : request_model, config, in, out);
		if (rc)
			return rc;
	}
	if (route->cheapest)
		sort_cheapest(plan->candidates, plan->n_candidates);
	return COG_OK;
}

int llm_plan_build(llm_plan *plan, llm_router *r, const char *role,
                   const char *request_model, double input_tokens,
                   double output_tokens)
{
	memset(plan, 0, sizeof(*plan));
	if (!(plan->role = cog__strdup(role)))
		return cog__oom("LLM router plan");
	llm_router_lock(r);
	int rc = build_locked(plan, r, role, request_model, input_tokens, output_tokens);
	llm_router_unlock(r);
	if (rc)
		llm_plan_dispose(plan);
	return rc;
}
