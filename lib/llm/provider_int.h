/*
 * The built-in providers (provider.c and one file per wire format). Not
 * installed.
 *
 * provider.c owns what the three share: options (copied), the cog_llm
 * vtable, the HTTP exchange through the context's transport (auth and extra
 * headers, the response-size cap, cancellation, latency), the mapping of
 * HTTP statuses to cog statuses (with the provider's error message and
 * Retry-After), and the stream plumbing (bytes → SSE or NDJSON reader →
 * the wire format's handler → llm_asm). A wire format file only translates
 * JSON: our request → its body, its body or stream pieces → llm_asm.
 */
#ifndef COG_LLM_PROVIDER_INT_H
#define COG_LLM_PROVIDER_INT_H

#include "llm_int.h"

typedef struct llm_provider llm_provider;

/* How a wire format streams. */
enum { LLM_STREAM_SSE = 0, LLM_STREAM_NDJSON = 1 };

typedef struct llm_wire {
	const char *name;             /* "openai", "anthropic", "ollama" */
	const char *default_base_url;
	int stream_kind;              /* LLM_STREAM_* */
	const char *chat_path;        /* appended to the base URL */
	const char *embed_path;       /* NULL: embeddings unsupported */

	/* The provider's request body for our (normalised, model set) request.
	 * stream: ask for a stream. COG_EINVAL for what the format cannot say. */
	int (*chat_body)(const llm_provider *p, const cJSON *request, bool stream,
	                 cog_buf *body);
	/* A whole (non-streamed, 2xx) answer into the assembly. COG_EPROTO
	 * naming what is wrong. */
	int (*chat_parse)(const llm_provider *p, const cJSON *request,
	                  const cJSON *answer, llm_asm *a);
	/* Optional: the same for the common answer read straight from its
	 * text (already validated JSON), no tree: 1 taken, 0 left to cJSON and
	 * chat_parse (nothing changed), or a negative status. */
	int (*chat_fast)(const char *body, size_t len, llm_asm *a);
	/* One stream event: for SSE the event type and data, for NDJSON
	 * type NULL and the line. *done set once the format's last event came
	 * ([DONE], message_stop, "done":true). */
	int (*stream_event)(const llm_provider *p, void *state, const char *type,
	                    const char *data, size_t len, llm_asm *a, bool *done);
	/* Per-stream state for a request (may be NULL members: no state);
	 * NULL on OOM. */
	void *(*stream_state_new)(const llm_provider *p, const cJSON *request);
	void (*stream_state_free)(void *state);

	int (*embed_body)(const llm_provider *p, const cJSON *request, cog_buf *body);
	/* → {"model","data":[[...]],"dimensions","usage":{"input_tokens"}} */
	int (*embed_parse)(const llm_provider *p, const cJSON *answer,
	                   cJSON **response);
	/* The provider's error text from an error body (NULL: none); borrowed
	 * from answer. */
	const char *(*error_message)(const cJSON *answer);
} llm_wire;

struct llm_provider {
	const llm_wire *wire;
	struct cog_ctx *ctx;
	char *base_url;               /* no trailing slash */
	char *api_key;                /* NULL: none */
	char *model;                  /* default model, may be NULL */
	char **headers;               /* extra headers, copied */
	size_t header_count;
	unsigned int timeout_ms;
	size_t max_response_bytes;
	char *anthropic_version;
	unsigned int default_max_tokens;
};

extern const llm_wire llm_wire_openai;     /* openai.c */
extern const llm_wire llm_wire_anthropic;  /* anthropic.c */
extern const llm_wire llm_wire_ollama;     /* ollama.c */

/*
 * Parse a Retry-After value (delay-seconds or an HTTP-date, RFC 9110
 * §10.2.3) or retry-after-ms; milliseconds from now, 0 when absent or
 * unparsable, capped at 1 hour.
 */
unsigned int llm_retry_after_ms(const char *retry_after, const char *retry_after_ms,
                                int64_t now_unix_ms);

/* Append `url` as it may be shown (describe(), logs, messages): without
 * userinfo ("user:password@"), query or fragment, which can carry
 * credentials: "https://k@host/v1?key=x" is shown "https://host/v1". */
int llm_put_shown_url(cog_buf *b, const char *url);

/* The status for an HTTP error answer (see cog_llm_vtable), with a message
 * naming the provider, the status and the provider's error text (redacted,
 * at most 300 bytes). */
int llm_http_error(const llm_provider *p, int http_status, const char *body,
                   size_t body_len);

/*
 * One HTTP exchange of a provider (provider_http.c): POST body to
 * base_url + path through the context's transport with the provider's
 * headers, the call's timeout and cancellation, and the response-size cap.
 * Streaming: the bytes go through the wire format's reader (SSE or NDJSON)
 * to wire->stream_event with x->a (which must be initialised; its state
 * made after the body was built, on the same thread); otherwise the 2xx
 * body is parsed into x->answer (to cJSON_Delete; also when an SSE stream
 * was asked for and a whole JSON answer came instead). A non-2xx answer is
 * llm_http_error() with call->http_status and retry_after_ms filled.
 */
typedef struct llm_exchange {
	const char *path;             /* chat_path or embed_path */
	const char *body;
	size_t body_len;
	bool stream;
	llm_asm *a;                   /* stream: the assembly */
	void *stream_state;           /* stream: from wire->stream_state_new */
	cog_llm_call *call;           /* never NULL */
	/* out */
	cJSON *answer;                /* also when a stream was asked for and a
	                                 whole JSON answer came instead */
	int http_status;
	size_t bytes;                 /* answer bytes received */
	size_t events;                /* stream events dispatched */
} llm_exchange;

int llm_provider_exchange(const llm_provider *p, llm_exchange *x);

/* The vtable's chat and embed of a provider (provider_chat.c); self is the
 * llm_provider. */
int llm_provider_chat(void *self, const char *request_json, cog_llm_call *call,
                      char **response_json);
int llm_provider_embed(void *self, const char *request_json, cog_llm_call *call,
                       char **response_json);
/* The same as trees (llm_tree_ops): request checked by backend.c, changed
 * here (default model); *response the answer (cJSON_Delete), NULL on
 * failure. The text members above parse, call these and print. */
int llm_provider_chat_tree(void *self, cJSON *request, cog_llm_call *call,
                           cJSON **response);
int llm_provider_embed_tree(void *self, cJSON *request, cog_llm_call *call,
                            cJSON **response);

#endif /* COG_LLM_PROVIDER_INT_H */
