/*
 * libcognition: HTTP transport.
 *
 * Everything libcognition sends over HTTP (LLM providers, MCP over HTTP,
 * http_fetch) goes through a cog_transport. libcognition-curl
 * (cognition/curl.h) is the default; a host may plug in its own through
 * cog_transport_vtable.
 *
 * Threads: a cog_transport may be used by several threads at once; each call
 * of cog_transport_perform() is independent. Callbacks of a request run on
 * the thread that called cog_transport_perform().
 */
#ifndef COGNITION_TRANSPORT_H
#define COGNITION_TRANSPORT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cog_transport cog_transport;

/*
 * Receives the response body piece by piece as it arrives. When a request
 * has one, the body is not accumulated in the response. Return 0 to go on or
 * a negative status to abort the transfer (cog_transport_perform() returns
 * that status).
 */
typedef int (*cog_http_chunk_fn)(const char *data, size_t len, void *user_data);

/* Polled while a transfer is in progress (at least every 50 ms); non-zero
 * aborts it with COG_ECANCELED. */
typedef int (*cog_http_cancel_fn)(void *user_data);

typedef struct cog_http_request {
	unsigned int version;
	const char *method;           /* "GET", "POST", ...; NULL: GET, or POST with a body */
	const char *url;              /* http:// or https:// */
	const char *const *headers;   /* "Name: value" strings, borrowed */
	size_t header_count;
	const void *body;             /* borrowed; NULL for none */
	size_t body_len;
	unsigned int timeout_ms;      /* whole transfer; 0: 30000 */
	unsigned int connect_timeout_ms; /* 0: 10000 */
	cog_http_chunk_fn on_chunk;   /* optional streaming */
	void *chunk_user_data;
	cog_http_cancel_fn is_canceled; /* optional */
	void *cancel_user_data;
} cog_http_request;

#define COG_HTTP_REQUEST_VERSION 1
#define COG_HTTP_REQUEST_INIT { COG_HTTP_REQUEST_VERSION, NULL, NULL, NULL, 0, \
	NULL, 0, 0, 0, NULL, NULL, NULL, NULL }

/* Zero `request` and set its version. COG_EVERSION for an unknown version. */
COG_API int cog_http_request_init(cog_http_request *request, unsigned int version);

/*
 * A response. Filled by cog_transport_perform(); release its contents with
 * cog_http_response_dispose(). `headers` holds the final response's header
 * lines, "Name: value\n" each; `body` is NUL-terminated (the terminator is
 * not counted in body_len) and NULL when streamed.
 * When a transfer fails after the final answer's headers arrived (a chunk
 * callback returned a status, is_canceled fired, the body broke), `status`
 * and `headers` are still filled; only the body is dropped. A backend may
 * set `status` before its first on_chunk call (libcognition-curl does), so
 * a chunk callback holding the response can look at it; 0 means not known
 * yet.
 */
typedef struct cog_http_response {
	unsigned int version;
	int status;                   /* HTTP status, e.g. 200 or 404 */
	char *headers;
	char *body;
	size_t body_len;
} cog_http_response;

#define COG_HTTP_RESPONSE_VERSION 1
#define COG_HTTP_RESPONSE_INIT { COG_HTTP_RESPONSE_VERSION, 0, NULL, NULL, 0 }

/* Free what a response holds and reset it (the struct itself is the
 * caller's). NULL-safe. */
COG_API void cog_http_response_dispose(cog_http_response *response);

/* Value of header `name` (case-insensitive) of a response, or NULL; a copy
 * to cog_free(). */
COG_API char *cog_http_response_header(const cog_http_response *response,
                                       const char *name);

/*
 * The backend interface. perform() receives a validated request and a
 * response initialised with COG_HTTP_RESPONSE_INIT; it fills status,
 * headers and body (cog_malloc'd) and returns 0, or a negative status:
 * COG_ETIMEOUT, COG_ECANCELED, COG_EUNAVAILABLE (could not connect or
 * resolve), COG_EPROTO (malformed answer, TLS failure), COG_EIO, or the
 * status a chunk callback returned. HTTP error statuses are not failures.
 * A backend must not follow redirects: a 3xx is returned as it is (the
 * http_fetch tool checks every host against the call's network grant, and
 * a redirect followed underneath would bypass that check).
 *
 * Version 1 is the set below; later versions only append members.
 */
typedef struct cog_transport_vtable {
	unsigned int version;
	void *self;
	void (*close)(void *self);    /* optional */
	int (*perform)(void *self, const cog_http_request *request,
	               cog_http_response *response);
	/* Optional: a JSON object describing the backend. */
	int (*describe)(void *self, char **json);
} cog_transport_vtable;

#define COG_TRANSPORT_VTABLE_VERSION 1
#define COG_TRANSPORT_VTABLE_INIT { COG_TRANSPORT_VTABLE_VERSION, NULL, NULL, NULL, NULL }

/* Zero `vtable` and set its version. COG_EVERSION for an unknown version. */
COG_API int cog_transport_vtable_init(cog_transport_vtable *vtable,
                                      unsigned int version);

/* Wrap a backend; same ownership rules as cog_storage_new(). */
COG_API int cog_transport_new(cog_transport **out,
                              const cog_transport_vtable *vtable);

/* Close the backend and free the handle. NULL-safe. */
COG_API void cog_transport_free(cog_transport *transport);

/*
 * Perform one request. `response` must be initialised (COG_HTTP_RESPONSE_INIT
 * or disposed) and is filled even for 4xx/5xx answers.
 * Errors: COG_EINVAL (bad request: missing or non-http(s) URL, header
 * without ':' or with CR/LF, ...), COG_EVERSION, and the backend's codes.
 */
COG_API int cog_transport_perform(cog_transport *transport,
                                  const cog_http_request *request,
                                  cog_http_response *response);

/* A JSON description of the backend, to cog_free(). */
COG_API int cog_transport_describe(cog_transport *transport, char **json);

#ifdef __cplusplus
}
#endif

#endif /* COGNITION_TRANSPORT_H */
