/*
 * The router of a context: its state in the context's COG__EXT_LLM slot
 * (endpoints, configuration, counters), and the public functions that set
 * it up and report on it. The calls themselves are in router_chat.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router_int.h"
#include "cognition/ctx.h"

static void must(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "libcognition: router.c: %s: %s\n", what, strerror(rc));
		abort();
	}
}

void llm_router_lock(llm_router *r)
{
	must(pthread_mutex_lock(&r->lock), "pthread_mutex_lock");
}

void llm_router_unlock(llm_router *r)
{
	must(pthread_mutex_unlock(&r->lock), "pthread_mutex_unlock");
}

static int router_create(cog_ctx *ctx, void **state)
{
	llm_router *r = cog__calloc(1, sizeof(*r));
	if (!r)
		return cog__oom("LLM router");
	int rc = pthread_mutex_init(&r->lock, NULL);
	if (rc) {
		cog_free(r);
		return cog__error(COG_ERROR, "LLM router: pthread_mutex_init: %s",
			strerror(rc));
	}
	r->ctx = ctx;
	llm_config_defaults(&r->config);
	*state = r;
	return COG_OK;
}

static void router_destroy(void *state)
{
	llm_router *r = state;
	for (size_t i = 0; i < r->n_endpoints; i++)
		llm_endpoint_free(r->endpoints[i]);
	cog_free(r->endpoints);
	llm_config_dispose(&r->config);
	must(pthread_mutex_destroy(&r->lock), "pthread_mutex_destroy");
	cog_free(r);
}

int llm_router_get(cog_ctx *ctx, bool create, llm_router **out)
{
	void *state = NULL;
	int rc = cog__ctx_ext(ctx, COG__EXT_LLM, create ? router_create : NULL,
	                      router_destroy, &state);
	*out = state;
	return rc;
}

int cog_llm_add_endpoint(cog_ctx *ctx, const char *name, cog_llm *llm,
                         const cog_llm_endpoint_options *options)
{
	static const char fn[] = "cog_llm_add_endpoint";
	int rc = COG_OK;
	if (!ctx || !llm)
		rc = cog__error(COG_EINVAL, "%s: %s is NULL", fn, ctx ? "llm" : "ctx");
	else if (!llm_name_valid(name))
		rc = cog__error(COG_EINVAL, "%s: bad endpoint name '%.80s' (1..64 of "
			"[A-Za-z0-9_.-])", fn, name ? name : "(null)");
	llm_router *r = NULL;
	if (!rc)
		rc = llm_router_get(ctx, true, &r);
	if (rc) {
		cog_llm_free(llm);
		return rc;
	}
	llm_endpoint *ep = NULL;
	rc = llm_endpoint_new(&ep, name, llm, options);   /* owns llm now */
	if (rc)
		return rc;
	llm_router_lock(r);
	for (size_t i = 0; i < r->n_endpoints && !rc; i++)
		if (strcmp(r->endpoints[i]->name, name) == 0)
			rc = cog__error(COG_EEXISTS, "%s: there is already an endpoint "
				"named '%s'", fn, name);
	if (!rc && r->n_endpoints == r->cap_endpoints) {
		size_t cap = r->cap_endpoints ? 2 * r->cap_endpoints : 4;
		llm_endpoint **grown = cog_realloc(r->endpoints, cap * sizeof(*grown));
		if (grown) {
			r->endpoints = grown;
			r->cap_endpoints = cap;
		} else {
			rc = cog__oom(fn);
		}
	}
	if (!rc)
		r->endpoints[r->n_endpoints++] = ep;
	llm_router_unlock(r);
	if (rc)
		llm_endpoint_free(ep);
	return rc;
}

int cog_llm_configure(cog_ctx *ctx, const char *config_json)
{
	static const char fn[] = "cog_llm_configure";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(config_json, fn, "config_json is NULL");
	llm_router *r = NULL;
	int rc = llm_router_get(ctx, true, &r);
	if (rc)
		return rc;
	llm_router_lock(r);
	const char **names = cog__calloc(r->n_endpoints + 1, sizeof(*names));
	if (!names) {
		rc = cog__oom(fn);
	} else {
		for (size_t i = 0; i < r->n_endpoints; i++)
			names[i] = r->endpoints[i]->name;
		rc = llm_config_apply(&r->config, config_json, names, r->n_endpoints);
	}
	llm_router_unlock(r);
	cog_free(names);
	return rc;
}

int cog_llm_available(cog_ctx *ctx)
{
	if (!ctx)
		return 0;
	llm_router *r = NULL;
	if (llm_router_get(ctx, false, &r) || !r)
		return 0;
	llm_router_lock(r);
	int available = r->n_endpoints > 0;
	llm_router_unlock(r);
	return available;
}

static const char *breaker_name(cog_breaker_state s)
{
	switch (s) {
	case COG_BREAKER_OPEN: return "open";
	case COG_BREAKER_HALF_OPEN: return "half_open";
	default: return "closed";
	}
}

/* The stats object; called with the lock held (r may be NULL: all zero). */
static int stats_print(llm_router *r, cog_buf *b)
{
	llm_router_stats s = { 0 };
	if (r)
		s = r->stats;
	cog_buf_printf(b, "{\"cache\":{\"hits\":%llu,\"misses\":%llu},\"calls\":%llu,"
		"\"retries\":%llu,\"cost\":%.10g,\"input_tokens\":%llu,"
		"\"output_tokens\":%llu,\"endpoints\":{",
		(unsigned long long)s.cache_hits, (unsigned long long)s.cache_misses,
		(unsigned long long)s.calls, (unsigned long long)s.retries, s.cost,
		(unsigned long long)s.input_tokens, (unsigned long long)s.output_tokens);
	uint64_t now = cog_clock_mono_ns();
	for (size_t i = 0; r && i < r->n_endpoints; i++) {
		llm_endpoint *ep = r->endpoints[i];
		if (i)
			cog_buf_putc(b, ',');
		cog_buf_put_json_string(b, ep->name, strlen(ep->name));
		cog_buf_printf(b, ":{\"breaker\":\"%s\",\"calls\":%llu,\"failures\":%llu}",
			breaker_name(cog_breaker_state_at(&ep->breaker, now)),
			(unsigned long long)ep->calls, (unsigned long long)ep->failures);
	}
	return cog_buf_puts(b, "}}");
}

int cog_llm_stats(cog_ctx *ctx, char **json)
{
	static const char fn[] = "cog_llm_stats";
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	llm_router *r = NULL;
	int rc = llm_router_get(ctx, false, &r);
	if (rc)
		return rc;
	cog_buf b = COG_BUF_INIT;
	if (r)
		llm_router_lock(r);
	stats_print(r, &b);
	if (r)
		llm_router_unlock(r);
	*json = cog_buf_detach(&b);
	return *json ? COG_OK : cog__oom(fn);
}
