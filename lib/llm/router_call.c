/*
 * One request through a plan's candidates. For each endpoint + model in
 * turn: the cache (when the call may use it), the breaker, the rate limits
 * (waiting, but never past the deadline), then attempts with full-jitter
 * backoff. What happens after a failed attempt depends on what failed:
 *
 *   429, timeout, 5xx, malformed answer   breaker failure; retry after the
 *                                         backoff (at least Retry-After)
 *   cannot connect                        breaker failure; next candidate
 *   401/403, refused request, too large   the call fails at once: another
 *                                         endpoint would not change it
 *   canceled, the deadline                the call stops at once
 *
 * The breaker comes before the rate limits (a refused call spends no
 * tokens) and hears how every attempt it admitted went (endpoint.c), so
 * a half-open probe is never left out.
 *
 * An attempt that failed after it had streamed events is not retried: the
 * caller has already seen part of an answer, and a second one would be
 * spliced onto it.
 */
#include <stdio.h>
#include <string.h>

#include "router_int.h"
#include "cognition/ctx.h"

/* An ETIMEOUT this close to the deadline is the deadline's. */
#define DEADLINE_SLACK_NS 20000000u

enum outcome { OUT_DONE, OUT_RETRY, OUT_NEXT, OUT_STOP };

/* What one candidate came to. */
typedef struct candidate_result {
	int status;
	enum outcome next;            /* OUT_NEXT or OUT_STOP on failure */
	unsigned int attempts;
	char reason[256];
} candidate_result;

/* Per-attempt hooks handed to the backend. */
typedef struct hooks {
	llm_run *run;
	bool streamed;
} hooks;

static int hook_event(const char *json, size_t len, void *user_data)
{
	hooks *h = user_data;
	h->streamed = true;
	h->run->streamed = true;
	return h->run->on_event(json, len, h->run->event_user_data);
}

static int hook_canceled(void *user_data)
{
	const llm_run *run = ((hooks *)user_data)->run;
	return cog_ctx_is_canceled(run->ctx) ||
	       (run->is_canceled && run->is_canceled(run->cancel_user_data));
}

unsigned int llm_run_remaining_ms(const llm_run *run)
{
	uint64_t now = cog_clock_mono_ns();
	if (now >= run->deadline_ns)
		return 0;
	uint64_t ms = (run->deadline_ns - now) / 1000000u;
	return ms > UINT32_MAX ? UINT32_MAX : (unsigned int)ms;
}

int llm_run_retry_event(llm_run *run, unsigned int attempt, const char *endpoint,
                        unsigned int delay_ms, const char *reason)
{
	if (!run->on_event)
		return COG_OK;
	cog_buf b = COG_BUF_INIT;
	cog_buf_printf(&b, "{\"type\":\"retry\",\"attempt\":%u,\"endpoint\":", attempt);
	cog_buf_put_json_string(&b, endpoint, strlen(endpoint));
	cog_buf_printf(&b, ",\"delay_ms\":%u,\"reason\":", delay_ms);
	cog_buf_put_json_string(&b, reason, strlen(reason));
	cog_buf_putc(&b, '}');
	if (b.failed) {
		cog_buf_dispose(&b);
		return cog__oom(run->fn);
	}
	int rc = run->on_event(b.ptr, b.len, run->event_user_data);
	cog_buf_dispose(&b);
	if (rc)
		return cog__error(rc < 0 ? rc : COG_EUSER, "%s: the stream callback "
			"stopped the call (%d)", run->fn, rc);
	return COG_OK;
}

cJSON *llm_run_prepare(const cJSON *request, const llm_candidate *c)
{
	cJSON *copy = cJSON_Duplicate(request, 1);
	if (!copy || !c->model)
		return copy;
	cJSON *model = cJSON_CreateString(c->model);
	if (!model || !(cJSON_HasObjectItem(copy, "model")
	                ? cJSON_ReplaceItemInObjectCaseSensitive(copy, "model", model)
	                : cJSON_AddItemToObject(copy, "model", model))) {
		cJSON_Delete(model);
		cJSON_Delete(copy);
		return NULL;
	}
	return copy;
}

static const char *model_name(const llm_candidate *c)
{
	return c->model ? c->model : "(default model)";
}

static const char *retry_reason(int status)
{
	switch (status) {
	case COG_EBUSY: return "rate_limited";
	case COG_ETIMEOUT: return "timeout";
	case COG_EPROTO: return "malformed_answer";
	default: return "server_error";
	}
}

static enum outcome classify(int rc, const cog_llm_call *call)
{
	switch (rc) {
	case COG_OK:
		return OUT_DONE;
	case COG_EBUSY: case COG_ETIMEOUT: case COG_EPROTO:
		return OUT_RETRY;
	case COG_EUNAVAILABLE:
		return call->http_status >= 500 ? OUT_RETRY : OUT_NEXT;
	default:
		return OUT_STOP;
	}
}

static void note(candidate_result *res, int status, enum outcome next)
{
	res->status = status;
	res->next = next;
	snprintf(res->reason, sizeof res->reason, "%s", cog_error_last());
}

/* The wait before the next attempt: full jitter, at least Retry-After.
 * false when it would end past the deadline. */
static bool retry_delay(const llm_run *run, unsigned int attempt,
                        const cog_llm_call *call, unsigned int *delay_ms)
{
	uint64_t d = cog_backoff_delay_ms(attempt - 1, run->plan->base_ms, run->plan->cap_ms);
	if (call->retry_after_ms > d)
		d = call->retry_after_ms;
	*delay_ms = (unsigned int)d;
	return d < llm_run_remaining_ms(run);
}

static void count_attempt(llm_run *run, llm_endpoint *ep, int rc)
{
	llm_router_lock(run->router);
	ep->calls++;
	if (rc && rc != COG_ECANCELED)
		ep->failures++;
	llm_router_unlock(run->router);
}

/* What an attempt that reached the backend says about the peer. */
static llm_peer_outcome peer_outcome(const llm_run *run, int rc, enum outcome next,
                                     bool deadline, const cog_llm_call *call)
{
	if (next == OUT_DONE)
		return LLM_PEER_ANSWERED;
	if (rc == COG_ECANCELED || deadline)
		return LLM_PEER_NEUTRAL;
	/* An embedding call without a status may be a backend without
	 * embeddings (the first endpoint serves roles without a route): that
	 * must not open the breaker its chat calls need. */
	if (run->embed && rc == COG_EUNAVAILABLE && call->http_status == 0)
		return LLM_PEER_NEUTRAL;
	if (next == OUT_RETRY || next == OUT_NEXT)
		return LLM_PEER_FAILED;
	/* OUT_STOP: a refusal the peer gave (401, 400, ...) is an answer; one
	 * without a status (a host backend's own check, a stream callback's
	 * stop) says nothing. */
	return call->http_status > 0 ? LLM_PEER_ANSWERED : LLM_PEER_NEUTRAL;
}

/* Attempts at one candidate with `request` (the candidate's: see
 * llm_run_request). 0 with *answer, or a failure in res. */
static int try_candidate(llm_run *run, const llm_candidate *c, cJSON *request,
                         double tokens, cJSON **answer, candidate_result *res)
{
	llm_endpoint *ep = c->endpoint;
	for (unsigned int attempt = 1;; attempt++) {
		if (llm_run_remaining_ms(run) == 0) {
			cog__error(COG_ETIMEOUT, "the call's deadline passed");
			note(res, COG_ETIMEOUT, OUT_STOP);
			return COG_ETIMEOUT;
		}
		if (cog_breaker_state_at(&ep->breaker, cog_clock_mono_ns()) == COG_BREAKER_OPEN) {
			if (res->attempts) {   /* our own failures opened it: keep the last */
				size_t n = strlen(res->reason);
				snprintf(res->reason + n, sizeof res->reason - n,
					"; then the breaker opened");
				res->next = OUT_NEXT;
				return res->status;
			}
			cog__error(COG_EUNAVAILABLE, "breaker open");
			note(res, COG_EUNAVAILABLE, OUT_NEXT);
			return COG_EUNAVAILABLE;
		}
		hooks h = { run, false };
		cog_llm_call call = COG_LLM_CALL_INIT;
		call.on_event = run->on_event ? hook_event : NULL;
		call.event_user_data = &h;
		call.is_canceled = hook_canceled;
		call.cancel_user_data = &h;
		if (hook_canceled(&h)) {
			note(res, cog__error(COG_ECANCELED, "canceled"), OUT_STOP);
			return COG_ECANCELED;
		}
		bool probe = false;
		int rc = llm_endpoint_enter(ep, tokens, run->deadline_ns, run->ctx, &call,
		                            &probe);
		if (rc) {
			note(res, rc, rc == COG_ECANCELED ? OUT_STOP : OUT_NEXT);
			return rc;
		}
		/* The whole time left; the backend may end an attempt sooner (a
		 * provider's own per-request timeout), and then the retries and
		 * the other candidates have the rest. */
		call.timeout_ms = llm_run_remaining_ms(run);
		if (call.timeout_ms == 0)
			call.timeout_ms = 1;
		run->attempts++;
		res->attempts++;
		rc = llm_backend_call_tree(ep->llm, run->embed, request, &call, answer);
		count_attempt(run, ep, rc);
		enum outcome next = classify(rc, &call);
		bool deadline = rc == COG_ETIMEOUT &&
			cog_clock_mono_ns() + DEADLINE_SLACK_NS >= run->deadline_ns;
		llm_endpoint_outcome(ep, probe, peer_outcome(run, rc, next, deadline, &call));
		if (next == OUT_DONE)
			return COG_OK;
		if (deadline || h.streamed || rc == COG_ECANCELED)
			next = OUT_STOP;
		note(res, rc, next == OUT_STOP ? OUT_STOP : OUT_NEXT);
		unsigned int delay = 0;
		if (next == OUT_RETRY && attempt < run->plan->max_attempts &&
		    retry_delay(run, attempt, &call, &delay)) {
			const char *why = retry_reason(rc);
			rc = llm_run_retry_event(run, attempt + 1, ep->name, delay, why);
			if (!rc)
				rc = llm_sleep_cancelable(run->ctx, &call, delay);
			if (rc) {
				note(res, rc, OUT_STOP);
				return rc;
			}
			run->retries++;
			continue;
		}
		return rc;
	}
}

/* Tokens a request will take from a tokens-per-minute bucket. */
static double token_estimate(const llm_run *run, const cJSON *request)
{
	if (!run->embed) {
		size_t bytes = request == run->sized ? run->sized_bytes
		                                     : llm_request_text_bytes(request);
		return (double)((bytes + 3) / 4) +
		       llm_request_max_tokens(request, LLM_DEFAULT_MAX_TOKENS_ESTIMATE);
	}
	size_t bytes = 0;
	const cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(request, "input"))
		if (cJSON_IsString(s))
			bytes += strlen(s->valuestring);
	return (double)((bytes + 3) / 4);
}

/* Usage and cost of an answer paid for. */
static void account(llm_run *run, const llm_candidate *c, const cJSON *response)
{
	const cJSON *usage = cJSON_GetObjectItemCaseSensitive(response, "usage");
	double in = cog_json_get_number(usage, "input_tokens", 0);
	double out = cog_json_get_number(usage, "output_tokens", 0);
	double cached = cog_json_get_number(usage, "cached_tokens", 0);
	uint64_t i = in > 0 ? (uint64_t)in : 0, o = out > 0 ? (uint64_t)out : 0;
	uint64_t k = cached > 0 ? (uint64_t)cached : 0;
	run->input_tokens += i;
	run->output_tokens += o;
	run->cached_tokens += k;
	run->cost += llm_candidate_cost(c, i, o, k);
}

static int answer_from(llm_run *run, size_t i, cJSON *answer, cJSON **response)
{
	*response = answer;
	run->answered_by = i;
	run->cached = false;
	run->answers++;
	account(run, &run->plan->candidates[i], *response);
	return COG_OK;
}

/* Look the request up in the cache for candidate c. */
static bool cache_hit(llm_run *run, cJSON *prepared, size_t i, cJSON **response)
{
	char key[65];
	const llm_candidate *c = &run->plan->candidates[i];
	if (!run->cache_lookup || llm_cache_key(prepared, c->endpoint, key) ||
	    llm_cache_get(run->ctx, key, response))
		return false;
	run->answered_by = i;
	run->cached = true;
	run->answers++;
	return true;
}

static int all_failed(llm_run *run, cog_buf *outcomes, int status, bool same)
{
	if (outcomes->failed)
		return cog__oom(run->fn);
	if (status == COG_ETIMEOUT)
		return cog__error(COG_ETIMEOUT, "%s: role '%s': timed out after %u ms: %s",
			run->fn, run->plan->role,
			(unsigned int)((cog_clock_mono_ns() - run->start_ns) / 1000000u),
			outcomes->ptr);
	if (!same)
		status = COG_EUNAVAILABLE;
	return cog__error(status, "%s: role '%s': no endpoint could answer: %s",
		run->fn, run->plan->role, outcomes->ptr);
}

int llm_run_request(llm_run *run, const cJSON *request, cJSON **response)
{
	*response = NULL;
	cog_buf outcomes = COG_BUF_INIT;
	double tokens = token_estimate(run, request);
	int status = COG_EUNAVAILABLE;
	bool same = true;
	for (size_t i = 0; i < run->plan->n_candidates; i++) {
		const llm_candidate *c = &run->plan->candidates[i];
		/* The candidate's request goes to the backend as a tree (checked
		 * already: no print and parse). A built-in provider may change it
		 * (it adds its default model, the same for each of its attempts),
		 * so it gets a copy: the one the cache key or the candidate's
		 * model needed, else one made for it; a host backend only prints
		 * the request, and no copy is made for it. */
		cJSON *own = NULL;
		const llm_tree_ops *tree = c->endpoint->llm->tree;
		if (run->cache_lookup || c->model ||
		    (tree && (run->embed ? tree->embed : tree->chat))) {
			if (!(own = llm_run_prepare(request, c))) {
				cog_buf_dispose(&outcomes);
				return cog__oom(run->fn);
			}
			if (cache_hit(run, own, i, response)) {
				cJSON_Delete(own);
				cog_buf_dispose(&outcomes);
				return COG_OK;
			}
		}
		cJSON *answer = NULL;
		candidate_result res = { 0 };
		/* without a copy the request is only read (printed) */
		int rc = try_candidate(run, c, own ? own : (cJSON *)request, tokens, &answer,
		                       &res);
		cJSON_Delete(own);
		if (!rc) {
			cog_buf_dispose(&outcomes);
			return answer_from(run, i, answer, response);
		}
		if (res.next == OUT_STOP && rc != COG_ETIMEOUT) {
			cog_buf_dispose(&outcomes);
			return cog__error_wrap(rc, "%s: role '%s': %s/%s", run->fn,
				run->plan->role, c->endpoint->name, model_name(c));
		}
		cog_buf_printf(&outcomes, "%s%s/%s: %s", i ? "; " : "", c->endpoint->name,
			model_name(c), res.reason);
		if (res.attempts)
			cog_buf_printf(&outcomes, " (%u attempt%s)", res.attempts,
				res.attempts == 1 ? "" : "s");
		same = same && (i == 0 || rc == status);
		status = rc;
		if (res.next == OUT_STOP)   /* the deadline */
			break;
	}
	int rc = all_failed(run, &outcomes, status, same);
	cog_buf_dispose(&outcomes);
	return rc;
}
