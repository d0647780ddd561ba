/*
 * The router's configuration JSON (cog_llm_configure, documented in
 * llm.h) onto an llm_config. The JSON is applied to a copy that replaces
 * the configuration only when every member was good, so a failing call
 * changes nothing. Errors name the JSON pointer (RFC 6901) of the member.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "router_int.h"

static const char FN[] = "cog_llm_configure";

#define MAX_ROUTE_MODELS 64u
#define MAX_TIER 1000u

/* parent + "/" + name as a JSON pointer (~ and / escaped); long names are
 * cut, which only shortens the message. */
static void child(char *out, size_t cap, const char *parent, const char *name)
{
	size_t n = (size_t)snprintf(out, cap, "%s/", parent);
	for (const char *p = name; *p && n + 3 < cap; p++) {
		if (*p == '~' || *p == '/') {
			out[n++] = '~';
			out[n++] = *p == '~' ? '0' : '1';
		} else {
			out[n++] = *p;
		}
	}
	out[n < cap ? n : cap - 1] = '\0';
}

static void child_index(char *out, size_t cap, const char *parent, size_t i)
{
	snprintf(out, cap, "%s/%zu", parent, i);
}

static int bad(const char *at, const char *what)
{
	return cog__error(COG_EINVAL, "%s: %s: %s", FN, at, what);
}

/* Every member of obj is one of names[] (NULL-terminated). */
static int known_members(const cJSON *obj, const char *at, const char *const *names,
                         const char *expected)
{
	const cJSON *m;
	cJSON_ArrayForEach(m, obj) {
		bool known = false;
		for (size_t i = 0; names[i] && !known; i++)
			known = strcmp(m->string, names[i]) == 0;
		if (!known) {
			char p[600];
			child(p, sizeof p, at, m->string);
			return cog__error(COG_EINVAL, "%s: %s: unknown member (expected %s)",
				FN, p, expected);
		}
	}
	return COG_OK;
}

static int get_uint(const cJSON *item, const char *at, unsigned int min,
                    unsigned int max, unsigned int *out)
{
	double v = cJSON_IsNumber(item) ? item->valuedouble : NAN;
	if (!isfinite(v) || v != floor(v) || v < min || v > max)
		return cog__error(COG_EINVAL, "%s: %s: expected an integer in %u..%u",
			FN, at, min, max);
	*out = (unsigned int)v;
	return COG_OK;
}

static int get_price(const cJSON *item, const char *at, double *out)
{
	double v = cJSON_IsNumber(item) ? item->valuedouble : NAN;
	if (!isfinite(v) || v < 0)
		return bad(at, "expected a price per million tokens (a number >= 0)");
	*out = v;
	return COG_OK;
}

static int parse_route_model(const cJSON *item, const char *at, const llm_route *route,
                             const char *const *names, size_t n_names,
                             llm_route_model *m)
{
	static const char *const keys[] = { "endpoint", "model", "tier", NULL };
	char p[640];
	if (!cJSON_IsObject(item))
		return bad(at, "expected an object {\"endpoint\",\"model\",\"tier\"}");
	int rc = known_members(item, at, keys, "endpoint, model, tier");
	if (rc)
		return rc;
	const cJSON *ep = cJSON_GetObjectItemCaseSensitive(item, "endpoint");
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(item, "model");
	const cJSON *tier = cJSON_GetObjectItemCaseSensitive(item, "tier");
	child(p, sizeof p, at, "endpoint");
	if (!cJSON_IsString(ep))
		return bad(p, "expected the name of an endpoint");
	for (m->endpoint = 0; m->endpoint < n_names; m->endpoint++)
		if (strcmp(names[m->endpoint], ep->valuestring) == 0)
			break;
	if (m->endpoint == n_names)
		return cog__error(COG_EINVAL, "%s: %s: no endpoint named '%.64s' (add it "
			"with cog_llm_add_endpoint first)", FN, p, ep->valuestring);
	m->tier = route->tier;
	child(p, sizeof p, at, "tier");
	if (tier && (rc = get_uint(tier, p, 0, MAX_TIER, &m->tier)))
		return rc;
	child(p, sizeof p, at, "model");
	if (model && !cJSON_IsNull(model)) {
		if (!cJSON_IsString(model) || !model->valuestring[0])
			return bad(p, "expected a model name (a non-empty string)");
		if (!(m->model = cog__strdup(model->valuestring)))
			return cog__oom(FN);
	}
	return COG_OK;
}

static int parse_route(const cJSON *item, const char *at, llm_route *r,
                       const char *const *names, size_t n_names)
{
	static const char *const keys[] = { "tier", "choose", "models", NULL };
	char p[600];
	if (!cJSON_IsObject(item))
		return bad(at, "expected a route {\"tier\",\"choose\",\"models\"} or null");
	int rc = known_members(item, at, keys, "tier, choose, models");
	if (rc)
		return rc;
	const cJSON *tier = cJSON_GetObjectItemCaseSensitive(item, "tier");
	const cJSON *choose = cJSON_GetObjectItemCaseSensitive(item, "choose");
	const cJSON *models = cJSON_GetObjectItemCaseSensitive(item, "models");
	child(p, sizeof p, at, "tier");
	if (tier && (rc = get_uint(tier, p, 0, MAX_TIER, &r->tier)))
		return rc;
	child(p, sizeof p, at, "choose");
	if (choose) {
		const char *s = cJSON_IsString(choose) ? choose->valuestring : "";
		if (strcmp(s, "cheapest") && strcmp(s, "order"))
			return bad(p, "expected \"order\" or \"cheapest\"");
		r->cheapest = strcmp(s, "cheapest") == 0;
	}
	child(p, sizeof p, at, "models");
	int n = cJSON_IsArray(models) ? cJSON_GetArraySize(models) : -1;
	if (n < 1 || (unsigned int)n > MAX_ROUTE_MODELS)
		return cog__error(COG_EINVAL, "%s: %s: expected an array of 1..%u models",
			FN, p, MAX_ROUTE_MODELS);
	if (!(r->models = cog__calloc((size_t)n, sizeof(*r->models))))
		return cog__oom(FN);
	bool tier_met = false;
	for (int i = 0; i < n; i++, r->n_models++) {
		char mp[640];
		child_index(mp, sizeof mp, p, (size_t)i);
		rc = parse_route_model(cJSON_GetArrayItem(models, i), mp, r, names,
		                       n_names, &r->models[i]);
		if (rc)
			return rc;
		tier_met |= r->models[i].tier >= r->tier;
	}
	if (!tier_met)
		return cog__error(COG_EINVAL, "%s: %s: no model has a tier of at least "
			"the route's (%u)", FN, p, r->tier);
	return COG_OK;
}

static int parse_routes(const cJSON *routes, llm_config *c,
                        const char *const *names, size_t n_names)
{
	if (!cJSON_IsObject(routes))
		return bad("/routes", "expected an object of routes by role");
	const cJSON *item;
	cJSON_ArrayForEach(item, routes) {
		char p[600];
		child(p, sizeof p, "/routes", item->string);
		if (!llm_name_valid(item->string))
			return bad(p, "a role name is 1..64 of [A-Za-z0-9_.-]");
		if (cJSON_IsNull(item)) {
			llm_config_remove_route(c, item->string);
			continue;
		}
		llm_route r = { 0 };
		int rc = (r.role = cog__strdup(item->string)) ? COG_OK : cog__oom(FN);
		if (!rc)
			rc = parse_route(item, p, &r, names, n_names);
		if (rc) {
			llm_route_dispose(&r);
			return rc;
		}
		if ((rc = llm_config_set_route(c, &r)))   /* takes r */
			return rc;
	}
	return COG_OK;
}

static int parse_price(const cJSON *item, const char *at, llm_price *price)
{
	static const char *const keys[] = { "input", "output", "cached_input", NULL };
	char p[640];
	if (!cJSON_IsObject(item))
		return bad(at, "expected {\"input\",\"output\",\"cached_input\"} or null");
	int rc = known_members(item, at, keys, "input, output, cached_input");
	const char *required[] = { "input", "output" };
	double *into[] = { &price->input, &price->output };
	for (size_t i = 0; !rc && i < 2; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, required[i]);
		child(p, sizeof p, at, required[i]);
		rc = v ? get_price(v, p, into[i]) : bad(p, "missing (a price per million tokens)");
	}
	const cJSON *cached = cJSON_GetObjectItemCaseSensitive(item, "cached_input");
	child(p, sizeof p, at, "cached_input");
	if (!rc && cached && !cJSON_IsNull(cached)) {
		rc = get_price(cached, p, &price->cached_input);
		price->has_cached = rc == COG_OK;
	}
	return rc;
}

static int parse_prices(const cJSON *prices, llm_config *c)
{
	if (!cJSON_IsObject(prices))
		return bad("/prices", "expected an object of prices by model");
	const cJSON *item;
	cJSON_ArrayForEach(item, prices) {
		char p[600];
		child(p, sizeof p, "/prices", item->string);
		if (!item->string[0])
			return bad(p, "a model name must not be empty");
		if (cJSON_IsNull(item)) {
			llm_config_remove_price(c, item->string);
			continue;
		}
		llm_price price = { 0 };
		int rc = parse_price(item, p, &price);
		if (!rc)
			rc = llm_config_set_price(c, item->string, &price);
		if (rc)
			return rc;
	}
	return COG_OK;
}

static int parse_retry(const cJSON *retry, llm_config *c)
{
	static const char *const keys[] = { "max_attempts", "base_ms", "cap_ms", NULL };
	if (!cJSON_IsObject(retry))
		return bad("/retry", "expected {\"max_attempts\",\"base_ms\",\"cap_ms\"}");
	int rc = known_members(retry, "/retry", keys, "max_attempts, base_ms, cap_ms");
	const cJSON *v;
	if (!rc && (v = cJSON_GetObjectItemCaseSensitive(retry, "max_attempts")))
		rc = get_uint(v, "/retry/max_attempts", 1, 100, &c->max_attempts);
	if (!rc && (v = cJSON_GetObjectItemCaseSensitive(retry, "base_ms")))
		rc = get_uint(v, "/retry/base_ms", 0, 3600000, &c->base_ms);
	if (!rc && (v = cJSON_GetObjectItemCaseSensitive(retry, "cap_ms")))
		rc = get_uint(v, "/retry/cap_ms", 0, 3600000, &c->cap_ms);
	if (!rc && c->base_ms > c->cap_ms)
		rc = cog__error(COG_EINVAL, "%s: /retry: base_ms (%u) is above cap_ms (%u)",
			FN, c->base_ms, c->cap_ms);
	return rc;
}

static int parse_cache(const cJSON *cache, llm_config *c)
{
	static const char *const keys[] = { "enabled", "ttl_s", NULL };
	if (!cJSON_IsObject(cache))
		return bad("/cache", "expected {\"enabled\",\"ttl_s\"}");
	int rc = known_members(cache, "/cache", keys, "enabled, ttl_s");
	const cJSON *v;
	if (!rc && (v = cJSON_GetObjectItemCaseSensitive(cache, "enabled"))) {
		if (!cJSON_IsBool(v))
			return bad("/cache/enabled", "expected true or false");
		c->cache_enabled = cJSON_IsTrue(v);
	}
	if (!rc && (v = cJSON_GetObjectItemCaseSensitive(cache, "ttl_s")))
		rc = get_uint(v, "/cache/ttl_s", 1, 366u * 86400u, &c->cache_ttl_s);
	return rc;
}

static int apply_member(const cJSON *m, llm_config *c, const char *const *names,
                        size_t n_names)
{
	if (strcmp(m->string, "routes") == 0)
		return parse_routes(m, c, names, n_names);
	if (strcmp(m->string, "prices") == 0)
		return parse_prices(m, c);
	if (strcmp(m->string, "retry") == 0)
		return parse_retry(m, c);
	if (strcmp(m->string, "cache") == 0)
		return parse_cache(m, c);
	if (strcmp(m->string, "timeout_ms") == 0)
		return get_uint(m, "/timeout_ms", 1, 86400000, &c->timeout_ms);
	if (strcmp(m->string, "schema_retries") == 0)
		return get_uint(m, "/schema_retries", 0, 10, &c->schema_retries);
	char p[600];
	child(p, sizeof p, "", m->string);
	return cog__error(COG_EINVAL, "%s: %s: unknown member (expected routes, prices, "
		"retry, timeout_ms, cache, schema_retries)", FN, p);
}

int llm_config_apply(llm_config *config, const char *json,
                     const char *const *names, size_t n_names)
{
	cJSON *root = NULL;
	int rc = cog_json_parse(&root, json, "the configuration");
	if (rc)
		return cog__error_wrap(rc, "%s", FN);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return cog__error(COG_EINVAL, "%s: the configuration must be a JSON object", FN);
	}
	llm_config next;
	rc = llm_config_copy(&next, config);
	const cJSON *m;
	cJSON_ArrayForEach(m, root) {
		if (rc)
			break;
		rc = apply_member(m, &next, names, n_names);
	}
	cJSON_Delete(root);
	if (rc) {
		llm_config_dispose(&next);   /* safe after a failed copy too */
		return rc;
	}
	llm_config_dispose(config);
	*config = next;
	return COG_OK;
}
