/*
 * An endpoint of the router: a backend with a name and an identity (what
 * its describe() says, for cache keys), two token buckets (requests and
 * tokens per minute) and a circuit breaker.
 */
#include <math.h>
#include <string.h>

#include "router_int.h"
#include "cognition/ctx.h"

#define DEFAULT_BREAKER_FAILURES 5u
#define DEFAULT_BREAKER_COOLDOWN_MS 30000u

/* Struct sizes by version (as lib/llm/backend.c): a caller built against
 * an older header has a shorter struct, read and written only that far. */
static const size_t options_size[COG_LLM_ENDPOINT_OPTIONS_VERSION + 1] = {
	0, sizeof(cog_llm_endpoint_options)
};

int cog_llm_endpoint_options_init(cog_llm_endpoint_options *options,
                                  unsigned int version)
{
	COG_CHECK_ARG(options, "cog_llm_endpoint_options_init", "options is NULL");
	if (version == 0 || version > COG_LLM_ENDPOINT_OPTIONS_VERSION)
		return cog__error(COG_EVERSION, "cog_llm_endpoint_options_init: version %u "
			"is not supported (1..%u)", version, COG_LLM_ENDPOINT_OPTIONS_VERSION);
	cog_llm_endpoint_options defaults = COG_LLM_ENDPOINT_OPTIONS_INIT;
	memcpy(options, &defaults, options_size[version]);
	options->version = version;
	return COG_OK;
}

bool llm_name_valid(const char *name)
{
	if (!name)
		return false;
	size_t n = strlen(name);
	if (n < 1 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static int check_per_minute(double v, double min, const char *what, const char *fn)
{
	if (v == 0)
		return COG_OK;
	if (!isfinite(v) || !(v >= min))
		return cog__error(COG_EINVAL, "%s: %s must be 0 (unlimited) or a finite "
			"number >= %g, got %g", fn, what, min, v);
	return COG_OK;
}

/* The default model a describe() names: its "model", else its inner
 * backend's (a recorder's), a few levels down. */
static const char *described_model(const cJSON *d)
{
	for (int depth = 0; depth < 8 && cJSON_IsObject(d); depth++) {
		const char *model = cog_json_get_string(d, "model");
		if (model && model[0])
			return model;
		d = cJSON_GetObjectItemCaseSensitive(d, "inner");
	}
	return NULL;
}

/* ep->identity and ep->default_model from the backend's describe(): its
 * canonical JSON when it is an object (else its text as it is), hashed. */
static int set_identity(llm_endpoint *ep)
{
	char *text = NULL;
	int rc = cog_llm_describe(ep->llm, &text);
	if (rc)
		return cog__error_wrap(rc, "the backend's describe()");
	cJSON *d = text ? cJSON_Parse(text) : NULL;
	char *canon = cJSON_IsObject(d) ? llm_canonical_json(d, false) : NULL;
	const char *keyed = canon ? canon : text ? text : "";
	const char *model = described_model(d);
	uint8_t hash[COG_HASH_BYTES];
	if (cJSON_IsObject(d) && !canon)
		rc = cog__oom("describe() identity");
	if (!rc)
		rc = cog_hash_blake2b(hash, sizeof(hash), keyed, strlen(keyed), NULL, 0);
	if (!rc)
		cog_hex_encode(hash, sizeof(hash), ep->identity);
	if (!rc && model && !(ep->default_model = cog__strdup(model)))
		rc = cog__oom("describe() identity");
	cog_free(canon);
	cJSON_Delete(d);
	cog_free(text);
	return rc;
}

int llm_endpoint_new(llm_endpoint **out, const char *name, cog_llm *llm,
                     const cog_llm_endpoint_options *options)
{
	static const char fn[] = "cog_llm_add_endpoint";
	cog_llm_endpoint_options o = COG_LLM_ENDPOINT_OPTIONS_INIT;
	*out = NULL;
	int rc = COG_OK;
	if (options && (options->version == 0 ||
	                options->version > COG_LLM_ENDPOINT_OPTIONS_VERSION))
		rc = cog__error(COG_EVERSION, "%s: endpoint options version %u is not "
			"supported (1..%u)", fn, options->version,
			COG_LLM_ENDPOINT_OPTIONS_VERSION);
	else if (options)
		memcpy(&o, options, options_size[options->version]);   /* rest: defaults */
	if (!rc)
		rc = check_per_minute(o.requests_per_minute, 0, "requests_per_minute", fn);
	/* A bucket holds at least one token, so a token limit below 1 could
	 * never admit anything. */
	if (!rc)
		rc = check_per_minute(o.tokens_per_minute, 1, "tokens_per_minute", fn);
	llm_endpoint *ep = NULL;
	if (!rc && !(ep = cog__calloc(1, sizeof(*ep))))
		rc = cog__oom(fn);
	if (rc) {
		cog_llm_free(llm);
		return rc;
	}
	ep->llm = llm;
	ep->requests_per_minute = o.requests_per_minute;
	ep->tokens_per_minute = o.tokens_per_minute;
	unsigned int failures = o.breaker_failures ? o.breaker_failures
	                                           : DEFAULT_BREAKER_FAILURES;
	unsigned int cooldown = o.breaker_cooldown_ms ? o.breaker_cooldown_ms
	                                              : DEFAULT_BREAKER_COOLDOWN_MS;
	bool have_breaker = false, have_requests = false;
	if (!(ep->name = cog__strdup(name)))
		rc = cog__oom(fn);
	if (!rc)
		rc = set_identity(ep);
	if (!rc && !(rc = cog_breaker_init(&ep->breaker, failures,
	                                   (uint64_t)cooldown * 1000000u)))
		have_breaker = true;
	/*
	 * Requests: a burst of a tenth of a minute's allowance (at least one).
	 * A flurry of parallel calls (an agent fanning out a plan's tasks) is
	 * not serialised, yet a client cannot spend its whole minute in the
	 * first second and meet the provider's own shorter windows as a wall of
	 * 429s.
	 */
	if (!rc && o.requests_per_minute > 0) {
		double burst = fmax(1.0, o.requests_per_minute / 10.0);
		rc = cog_ratelimit_init(&ep->requests, o.requests_per_minute / 60.0, burst);
		have_requests = rc == COG_OK;
	}
	/*
	 * Tokens: a request's cost is its input estimate plus its max_tokens,
	 * often thousands at once, so the bucket holds a whole minute's worth:
	 * one large request may go at once, and only a request larger than the
	 * minute's allowance can never go (COG_ERANGE in llm_endpoint_enter).
	 */
	if (!rc && o.tokens_per_minute > 0)
		rc = cog_ratelimit_init(&ep->tokens, o.tokens_per_minute / 60.0,
		                        o.tokens_per_minute);
	if (rc) {
		if (have_requests)
			cog_ratelimit_dispose(&ep->requests);
		if (have_breaker)
			cog_breaker_dispose(&ep->breaker);
		cog_free(ep->default_model);
		cog_free(ep->name);
		cog_free(ep);
		cog_llm_free(llm);
		return cog__error_wrap(rc, "%s: endpoint '%s'", fn, name);
	}
	*out = ep;
	return COG_OK;
}

void llm_endpoint_free(llm_endpoint *ep)
{
	if (!ep)
		return;
	cog_llm_free(ep->llm);
	if (ep->requests_per_minute > 0)
		cog_ratelimit_dispose(&ep->requests);
	if (ep->tokens_per_minute > 0)
		cog_ratelimit_dispose(&ep->tokens);
	cog_breaker_dispose(&ep->breaker);
	cog_free(ep->default_model);
	cog_free(ep->name);
	cog_free(ep);
}

/* Take `cost` from one bucket, waiting while the wait ends before the
 * deadline. */
static int take(llm_endpoint *ep, cog_ratelimit *rl, double cost, const char *what,
                uint64_t deadline_ns, struct cog_ctx *ctx, const cog_llm_call *call)
{
	for (;;) {
		uint64_t now = cog_clock_mono_ns(), wait_ns = 0;
		int rc = cog_ratelimit_take(rl, cost, now, &wait_ns);
		if (rc != COG_EBUSY)
			return rc ? cog__error_wrap(rc, "endpoint '%s': %s", ep->name, what)
			          : COG_OK;
		if (wait_ns == UINT64_MAX || now + wait_ns > deadline_ns)
			return cog__error(COG_EBUSY, "rate limited: %s: the next slot is "
				"%.0f ms away, after the call's deadline", what,
				(double)wait_ns / 1e6);
		uint64_t ms = (wait_ns + 999999u) / 1000000u;
		rc = llm_sleep_cancelable(ctx, call, (unsigned int)(ms ? ms : 1));
		if (rc)
			return rc;
	}
}

void llm_endpoint_outcome(llm_endpoint *ep, bool probe, llm_peer_outcome outcome)
{
	switch (outcome) {
	case LLM_PEER_ANSWERED:
		cog_breaker_success(&ep->breaker);
		break;
	case LLM_PEER_FAILED:
		cog_breaker_failure(&ep->breaker, cog_clock_mono_ns());
		break;
	case LLM_PEER_NEUTRAL:
		if (probe)
			cog_breaker_success(&ep->breaker);
		break;
	}
}

int llm_endpoint_enter(llm_endpoint *ep, double tokens, uint64_t deadline_ns,
                       struct cog_ctx *ctx, const cog_llm_call *call, bool *probe)
{
	*probe = false;
	if (ep->tokens_per_minute > 0 && tokens > ep->tokens_per_minute)
		return cog__error(COG_ERANGE, "the request needs about %.0f tokens "
			"(input estimate + max_tokens), more than endpoint '%s' allows "
			"in a minute (tokens_per_minute %.0f)", tokens, ep->name,
			ep->tokens_per_minute);
	uint64_t now = cog_clock_mono_ns();
	bool half_open = cog_breaker_state_at(&ep->breaker, now) == COG_BREAKER_HALF_OPEN;
	if (cog_breaker_allow(&ep->breaker, now))
		return cog__error(COG_EUNAVAILABLE, "breaker %s",
			half_open ? "half-open, its probe is out" : "open");
	int rc = COG_OK;
	if (ep->requests_per_minute > 0)
		rc = take(ep, &ep->requests, 1, "requests_per_minute", deadline_ns,
		          ctx, call);
	if (!rc && ep->tokens_per_minute > 0)
		rc = take(ep, &ep->tokens, tokens, "tokens_per_minute", deadline_ns,
		          ctx, call);
	if (rc)
		llm_endpoint_outcome(ep, half_open, LLM_PEER_NEUTRAL);   /* never sent */
	else
		*probe = half_open;
	return rc;
}
