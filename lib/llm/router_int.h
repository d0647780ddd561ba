/*
 * Private interface of the router of a context (cog_llm_chat and friends):
 * what its files share. Not installed.
 *
 *   router.c         the state on the context (slot COG__EXT_LLM), endpoints
 *                    added, configure, stats
 *   router_config.c  llm_config: defaults, copies, routes and prices by name
 *   router_config_json.c  cog_llm_configure's JSON → llm_config (atomic:
 *                    applied to a copy)
 *   router_plan.c    a call's plan: the route's candidates in the order to
 *                    try them, prices, the settings, copied under the lock
 *   router_call.c    one request through the candidates: breaker, rate
 *                    limits, retries with backoff, fallback, deadline
 *   router_chat.c    cog_llm_chat / cog_llm_embed: cache, structured output
 *                    rounds, cost, the response's router members, events
 *   router_span.c    the call's "llm" span
 *   router_schema.c  checking a structured answer and the re-ask message
 *   endpoint.c       an endpoint: backend, rate limits, breaker
 *   cache.c          deterministic answers in storage ("llm_cache")
 *
 * Locking: the router's mutex guards the endpoint list, the configuration
 * and every counter. A call copies what it needs into an llm_plan under the
 * lock and runs without it; endpoints are never removed while the context
 * lives, so the plan's endpoint pointers stay valid. Rate limiters and
 * breakers have their own locks.
 */
#ifndef COG_LLM_ROUTER_INT_H
#define COG_LLM_ROUTER_INT_H

#include <pthread.h>

#include "llm_int.h"
#include "cognition/schema.h"

/* Estimates use this many output tokens when a request sets no max_tokens. */
#define LLM_DEFAULT_MAX_TOKENS_ESTIMATE 1024u

/* ---- endpoint.c ---- */

typedef struct llm_endpoint {
	char *name;
	cog_llm *llm;                 /* owned */
	/* Who answers: hex BLAKE2b of the backend's describe() (canonical
	 * JSON: backend, base URL, default model, ...; no secrets), and the
	 * default model it names (NULL when none). Both go into cache keys, so
	 * that an endpoint of the same name over another backend or model (the
	 * next run of a program, same storage) never gets this one's answers. */
	char identity[65];
	char *default_model;
	double requests_per_minute;   /* 0: unlimited */
	double tokens_per_minute;     /* 0: unlimited */
	cog_ratelimit requests;       /* initialised when requests_per_minute > 0 */
	cog_ratelimit tokens;         /* initialised when tokens_per_minute > 0 */
	cog_breaker breaker;
	/* Under the router's lock. */
	uint64_t calls;               /* requests sent to the backend */
	uint64_t failures;            /* of which failed */
} llm_endpoint;

/* Names are 1..64 of [A-Za-z0-9_.-] (endpoints and roles). */
bool llm_name_valid(const char *name);
/* A new endpoint; takes `llm` (freed here on failure). options may be NULL
 * (else read up to its version's size). COG_EINVAL naming the bad option,
 * COG_EVERSION, or the backend's describe() failure. */
int llm_endpoint_new(llm_endpoint **out, const char *name, cog_llm *llm,
                     const cog_llm_endpoint_options *options);
void llm_endpoint_free(llm_endpoint *ep);
/*
 * May an attempt of about `tokens` tokens (input estimate + max_tokens) go
 * to the endpoint? In this order, so that a refusal spends nothing:
 *   - COG_ERANGE when it is over tokens_per_minute (it could never go);
 *   - the breaker: COG_EUNAVAILABLE when open or its half-open probe is
 *     out; *probe tells whether this attempt is that probe;
 *   - the rate limits, waiting in steps that poll the call's cancel
 *     function and ctx's flag: COG_EBUSY when the wait would end after
 *     deadline_ns (monotonic), COG_ECANCELED. The breaker admitted the
 *     attempt, so a refusal here reports a neutral outcome.
 * 0 admitted: the caller must report its outcome (llm_endpoint_outcome).
 * Each failure with a message naming the endpoint.
 */
int llm_endpoint_enter(llm_endpoint *ep, double tokens, uint64_t deadline_ns,
                       struct cog_ctx *ctx, const cog_llm_call *call, bool *probe);

typedef enum llm_peer_outcome {
	LLM_PEER_ANSWERED,            /* an answer, or a refusal it gave (4xx) */
	LLM_PEER_FAILED,              /* 5xx, 429, timeout, malformed, no connection */
	LLM_PEER_NEUTRAL              /* says nothing about the peer: canceled,
	                                 the call's deadline, not supported */
} llm_peer_outcome;

/*
 * Tell the breaker how an admitted attempt went. A half-open breaker
 * admits one probe and refuses everything else until it hears of it, so
 * every admitted attempt reports. A neutral outcome counts as a success
 * for a probe (the peer did not fail it) and is not reported otherwise (a
 * closed breaker keeps its count of failures in a row).
 */
void llm_endpoint_outcome(llm_endpoint *ep, bool probe, llm_peer_outcome outcome);

/* ---- router_config.c, router_config_json.c ---- */

typedef struct llm_route_model {
	size_t endpoint;              /* index into the router's endpoints */
	char *model;                  /* NULL: the request's (or the backend's) */
	unsigned int tier;            /* absent in the JSON: the route's tier */
} llm_route_model;

typedef struct llm_route {
	char *role;
	unsigned int tier;            /* models below it are not used */
	bool cheapest;                /* "choose":"cheapest"; else "order" */
	llm_route_model *models;
	size_t n_models;
} llm_route;

typedef struct llm_price {
	char *model;
	double input, output;         /* per million tokens */
	double cached_input;          /* valid when has_cached */
	bool has_cached;
} llm_price;

typedef struct llm_config {
	llm_route *routes;
	size_t n_routes;
	llm_price *prices;
	size_t n_prices;
	unsigned int max_attempts;    /* per candidate, first try included */
	unsigned int base_ms, cap_ms; /* backoff */
	unsigned int timeout_ms;      /* whole call */
	bool cache_enabled;
	unsigned int cache_ttl_s;
	unsigned int schema_retries;
} llm_config;

/* The defaults: no routes or prices, 4 attempts, 250 ms base, 20 s cap,
 * 120 s timeout, cache on for a day, 2 schema retries. */
void llm_config_defaults(llm_config *config);
void llm_config_dispose(llm_config *config);
/* A deep copy (dst is overwritten). COG_ENOMEM leaves dst empty. */
int llm_config_copy(llm_config *dst, const llm_config *src);
void llm_route_dispose(llm_route *route);
/* Add a route or replace the one of its role; takes *route (disposed on
 * failure too). */
int llm_config_set_route(llm_config *config, llm_route *route);
void llm_config_remove_route(llm_config *config, const char *role);
/* Add or replace the price of model (price->model is ignored). */
int llm_config_set_price(llm_config *config, const char *model, const llm_price *price);
void llm_config_remove_price(llm_config *config, const char *model);
/*
 * Apply configuration JSON onto `config` (members absent keep their
 * values; a route or price given replaces the one of the same name; null
 * removes it). Endpoint names resolve against names[0..n_names). On failure
 * `config` is left as it was (the work is done on a copy) and the error is
 * COG_EINVAL naming the JSON pointer of the member, or COG_ENOMEM.
 */
int llm_config_apply(llm_config *config, const char *json,
                     const char *const *names, size_t n_names);
const llm_route *llm_config_route(const llm_config *config, const char *role);
const llm_price *llm_config_price(const llm_config *config, const char *model);

/* ---- router.c ---- */

typedef struct llm_router_stats {
	uint64_t calls, retries;
	uint64_t input_tokens, output_tokens;
	uint64_t cache_hits, cache_misses;
	double cost;
} llm_router_stats;

typedef struct llm_router {
	struct cog_ctx *ctx;
	pthread_mutex_t lock;
	llm_endpoint **endpoints;     /* in the order added */
	size_t n_endpoints, cap_endpoints;
	llm_config config;
	llm_router_stats stats;
} llm_router;

/* The context's router; with create false *out may be NULL (none yet). */
int llm_router_get(struct cog_ctx *ctx, bool create, llm_router **out);
void llm_router_lock(llm_router *r);
void llm_router_unlock(llm_router *r);

/* ---- router_plan.c ---- */

typedef struct llm_candidate {
	llm_endpoint *endpoint;
	char *model;                  /* NULL: leave the request's model */
	bool priced;
	double input_price, output_price, cached_price; /* per million tokens */
	double estimate;              /* cost of the request's estimate */
} llm_candidate;

typedef struct llm_plan {
	char *role;
	llm_candidate *candidates;    /* in the order to try them */
	size_t n_candidates;
	unsigned int max_attempts, base_ms, cap_ms;
	unsigned int timeout_ms;
	bool cache_enabled;
	unsigned int cache_ttl_s;
	unsigned int schema_retries;
} llm_plan;

/*
 * The plan of a call for `role` (taking the router's lock): the route's
 * models whose tier is at least the route's, in the route's order or
 * cheapest first (stable: equal costs keep the route's order; an unpriced
 * model costs 0); without a route, the first endpoint with request_model.
 * The estimate is input_tokens at the input price plus output_tokens at
 * the output price. COG_EUNAVAILABLE when there is no endpoint.
 */
int llm_plan_build(llm_plan *plan, llm_router *r, const char *role,
                   const char *request_model, double input_tokens,
                   double output_tokens);
void llm_plan_dispose(llm_plan *plan);
/* Cost of usage at a candidate's prices: input tokens less cached ones at
 * the input price, cached ones at the cached price (else the input price),
 * output at the output price; 0 when unpriced. */
double llm_candidate_cost(const llm_candidate *c, uint64_t input_tokens,
                          uint64_t output_tokens, uint64_t cached_tokens);

/* ---- router_call.c ---- */

/* One request's journey through the plan, and what it left behind. */
typedef struct llm_run {
	struct cog_ctx *ctx;
	llm_router *router;
	const llm_plan *plan;
	const char *fn;               /* the public function, for messages */
	bool embed;                   /* cog_llm_backend_embed, not chat */
	cog_llm_stream_fn on_event;   /* the caller's; NULL: no streaming */
	void *event_user_data;
	cog_llm_cancel_fn is_canceled;/* the caller's, besides ctx's flag */
	void *cancel_user_data;
	uint64_t start_ns, deadline_ns;
	/* cache lookups before each candidate's first attempt (cache.c) */
	bool cache_lookup;
	unsigned int cache_ttl_s;
	/* out, over every request of the call */
	unsigned int attempts;        /* backend requests sent */
	unsigned int retries;         /* of which were backoff retries */
	bool streamed;                /* an event reached the caller */
	bool cached;                  /* the last answer came from the cache */
	size_t answered_by;           /* candidate index of the last answer */
	unsigned int answers;         /* answers received (paid or cached) */
	uint64_t input_tokens, output_tokens, cached_tokens;
	double cost;                  /* of the answers paid for */
	/* llm_request_text_bytes of `sized` (the call's request), made once
	 * for the plan and the rate limits alike; another request (a schema
	 * re-ask) is measured anew */
	const cJSON *sized;
	size_t sized_bytes;
} llm_run;

/* Milliseconds left before the deadline (0 when past). */
unsigned int llm_run_remaining_ms(const llm_run *run);
/*
 * Send `request` (parsed, normalised) through the plan's candidates: the
 * answer in *response (parsed, checked). Failures: the status of the last
 * candidate when every one failed the same way, else COG_EUNAVAILABLE, with
 * a message listing each candidate's outcome; COG_ETIMEOUT at the deadline;
 * at once COG_ECANCELED, a stream callback's status, an attempt that failed
 * after it had streamed, and the statuses no other endpoint would change
 * (COG_EINVAL, COG_EDENIED, COG_ERANGE, ...).
 */
int llm_run_request(llm_run *run, const cJSON *request, cJSON **response);
/* Send {"type":"retry",...} to the caller's callback (if any). */
int llm_run_retry_event(llm_run *run, unsigned int attempt, const char *endpoint,
                        unsigned int delay_ms, const char *reason);
/* A copy of request with the candidate's model set (NULL on OOM). */
cJSON *llm_run_prepare(const cJSON *request, const llm_candidate *c);

/* ---- router_span.c ---- */

struct cog_span;
/* The call's "llm" span, begun (request may be NULL: a refused request). */
struct cog_span *llm_span_begin(struct cog_ctx *ctx, const cJSON *request,
                                const llm_plan *plan, const char *role);
/* The answer's attributes: provider, model, finish reason, usage, cost. */
void llm_span_answer(struct cog_span *span, const llm_run *run, const cJSON *response);

/* ---- router_schema.c ---- */

/* What a request's response_format asks the answer to be. */
typedef struct llm_answer_check {
	bool active;                  /* json_schema or json_object */
	bool object_only;             /* json_object */
	cog_schema *schema;           /* json_schema with a schema */
} llm_answer_check;

/* From the request: compiles the schema once. COG_EINVAL naming
 * /response_format/json_schema/schema when it does not compile. */
int llm_answer_check_init(llm_answer_check *check, const cJSON *request,
                          const char *fn);
void llm_answer_check_dispose(llm_answer_check *check);
/*
 * Check an answer. 0: valid (or nothing to check: no check, or the model
 * called tools), with "parsed" added to the response when there was JSON.
 * COG_ESCHEMA: invalid, *errors a compact JSON array (cog_free) of at
 * most 2000 bytes. COG_ENOMEM.
 */
int llm_answer_check_run(const llm_answer_check *check, cJSON *response,
                         char **errors);
/* Append the answer and the re-ask message to the request's messages. */
int llm_answer_reask(const llm_answer_check *check, cJSON *request,
                     const cJSON *response, const char *errors);

/* ---- cache.c ---- */

/* Whether a request may be answered from the cache: cacheable 1 always,
 * -1 never, 0 when its temperature is 0. */
bool llm_cache_wanted(const cJSON *request, int cacheable);
/* The key of a prepared request (the candidate's model set) at an
 * endpoint: the request with its resolved model (the request's, else the
 * backend's default when describe() names one), the endpoint's name and
 * its backend's identity. `prepared` is changed during the call only. */
int llm_cache_key(cJSON *prepared, const llm_endpoint *ep, char key[65]);
/* A stored answer for key: 0 with *response; COG_ENOTFOUND. Storage
 * failures are logged and reported as COG_ENOTFOUND. */
int llm_cache_get(struct cog_ctx *ctx, const char *key, cJSON **response);
/* Store an answer for ttl_s seconds; failures are logged and ignored. */
void llm_cache_put(struct cog_ctx *ctx, const char *key, const cJSON *response,
                   unsigned int ttl_s);
/* Send a cached answer to a stream callback as the events a backend would
 * have sent: llm_emit_response_events, as the replay backend does (its
 * text, then each tool call). A callback's negative status stops it. */
int llm_cache_replay_events(const cJSON *response, cog_llm_stream_fn on_event,
                            void *user_data);

#endif /* COG_LLM_ROUTER_INT_H */
