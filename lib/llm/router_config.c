/*
 * The router's configuration as data (llm_config): defaults, copies, the
 * route and price tables by name. router_config_json.c fills it from
 * cog_llm_configure()'s JSON.
 */
#include <string.h>

#include "router_int.h"

static const char FN[] = "cog_llm_configure";

void llm_config_defaults(llm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->max_attempts = 4;
	c->base_ms = 250;
	c->cap_ms = 20000;
	c->timeout_ms = 120000;
	c->cache_enabled = true;
	c->cache_ttl_s = 86400;
	c->schema_retries = 2;
}

void llm_route_dispose(llm_route *r)
{
	for (size_t i = 0; i < r->n_models; i++)
		cog_free(r->models[i].model);
	cog_free(r->models);
	cog_free(r->role);
	memset(r, 0, sizeof(*r));
}

void llm_config_dispose(llm_config *c)
{
	for (size_t i = 0; i < c->n_routes; i++)
		llm_route_dispose(&c->routes[i]);
	cog_free(c->routes);
	for (size_t i = 0; i < c->n_prices; i++)
		cog_free(c->prices[i].model);
	cog_free(c->prices);
	c->routes = NULL;
	c->prices = NULL;
	c->n_routes = c->n_prices = 0;
}

const llm_route *llm_config_route(const llm_config *c, const char *role)
{
	for (size_t i = 0; i < c->n_routes; i++)
		if (strcmp(c->routes[i].role, role) == 0)
			return &c->routes[i];
	return NULL;
}

const llm_price *llm_config_price(const llm_config *c, const char *model)
{
	for (size_t i = 0; model && i < c->n_prices; i++)
		if (strcmp(c->prices[i].model, model) == 0)
			return &c->prices[i];
	return NULL;
}

static int route_copy(llm_route *dst, const llm_route *src)
{
	*dst = *src;
	dst->models = NULL;
	dst->n_models = 0;
	if (!(dst->role = cog__strdup(src->role)) ||
	    !(dst->models = cog__calloc(src->n_models, sizeof(*dst->models)))) {
		llm_route_dispose(dst);
		return cog__oom(FN);
	}
	for (size_t i = 0; i < src->n_models; i++, dst->n_models++) {
		dst->models[i] = src->models[i];
		if (src->models[i].model &&
		    !(dst->models[i].model = cog__strdup(src->models[i].model))) {
			llm_route_dispose(dst);
			return cog__oom(FN);
		}
	}
	return COG_OK;
}

int llm_config_copy(llm_config *dst, const llm_config *src)
{
	*dst = *src;
	dst->routes = NULL;
	dst->prices = NULL;
	dst->n_routes = dst->n_prices = 0;
	if ((src->n_routes && !(dst->routes = cog__calloc(src->n_routes, sizeof(llm_route)))) ||
	    (src->n_prices && !(dst->prices = cog__calloc(src->n_prices, sizeof(llm_price)))))
		goto oom;
	for (size_t i = 0; i < src->n_routes; i++, dst->n_routes++)
		if (route_copy(&dst->routes[i], &src->routes[i]))
			goto oom;
	for (size_t i = 0; i < src->n_prices; i++, dst->n_prices++) {
		dst->prices[i] = src->prices[i];
		if (!(dst->prices[i].model = cog__strdup(src->prices[i].model)))
			goto oom;
	}
	return COG_OK;
oom:
	llm_config_dispose(dst);
	return cog__oom(FN);
}

int llm_config_set_route(llm_config *c, llm_route *route)
{
	llm_route *old = (llm_route *)llm_config_route(c, route->role);
	if (old) {
		llm_route_dispose(old);
		*old = *route;
		return COG_OK;
	}
	llm_route *grown = cog_realloc(c->routes, (c->n_routes + 1) * sizeof(*grown));
	if (!grown) {
		llm_route_dispose(route);
		return cog__oom(FN);
	}
	c->routes = grown;
	c->routes[c->n_routes++] = *route;
	return COG_OK;
}

void llm_config_remove_route(llm_config *c, const char *role)
{
	llm_route *old = (llm_route *)llm_config_route(c, role);
	if (!old)
		return;
	size_t i = (size_t)(old - c->routes);
	llm_route_dispose(old);
	memmove(&c->routes[i], &c->routes[i + 1], (c->n_routes - i - 1) * sizeof(llm_route));
	c->n_routes--;
}

int llm_config_set_price(llm_config *c, const char *model, const llm_price *price)
{
	llm_price *old = (llm_price *)llm_config_price(c, model);
	if (old) {
		char *name = old->model;
		*old = *price;
		old->model = name;
		return COG_OK;
	}
	llm_price *grown = cog_realloc(c->prices, (c->n_prices + 1) * sizeof(*grown));
	if (!grown)
		return cog__oom(FN);
	c->prices = grown;
	llm_price *p = &c->prices[c->n_prices];
	*p = *price;
	if (!(p->model = cog__strdup(model)))
		return cog__oom(FN);
	c->n_prices++;
	return COG_OK;
}

void llm_config_remove_price(llm_config *c, const char *model)
{
	llm_price *old = (llm_price *)llm_config_price(c, model);
	if (!old)
		return;
	size_t i = (size_t)(old - c->prices);
	cog_free(old->model);
	memmove(&c->prices[i], &c->prices[i + 1], (c->n_prices - i - 1) * sizeof(llm_price));
	c->n_prices--;
}
