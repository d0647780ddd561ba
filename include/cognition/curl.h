/*
 * libcognition-curl: the default HTTP transport, over libcurl.
 *
 * Link with `pkg-config --libs libcognition-curl`. Connections are kept
 * alive in a pool of transfer slots that every thread using the transport
 * draws from (most recently used first), so sequential requests reuse a warm
 * connection and N concurrent threads use at most N connections per host;
 * a connection is never used by two threads at once (libcurl's shared
 * connection cache is not thread-safe). DNS and TLS sessions are shared.
 * HTTP/2 is used where the server and libcurl support it; TLS peers are
 * always verified; the proxy environment variables (http_proxy,
 * https_proxy, no_proxy, ...) are honoured.
 */
#ifndef COGNITION_CURL_H
#define COGNITION_CURL_H

#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cog_curl_options {
	unsigned int version;
	const char *user_agent;     /* NULL: "libcognition/<version>" */
	const char *ca_file;        /* NULL: the system's trust store */
	unsigned int max_connections; /* idle transfer slots kept, and cached
	                                 connections per slot; 0: 16 */
} cog_curl_options;

#define COG_CURL_OPTIONS_VERSION 1
#define COG_CURL_OPTIONS_INIT { COG_CURL_OPTIONS_VERSION, NULL, NULL, 0 }

/* Set `options` to the defaults of `version`. COG_EVERSION if unknown. */
COG_API int cog_curl_options_init(cog_curl_options *options, unsigned int version);

/*
 * Create a libcurl transport (options may be NULL). Free it with
 * cog_transport_free() or hand it to cog_ctx_set_transport().
 * Errors: COG_EVERSION, COG_EINVAL, COG_ENOMEM, COG_EIO (libcurl could not
 * be initialised).
 */
COG_API int cog_curl_transport_new(cog_transport **out,
                                   const cog_curl_options *options);

#ifdef __cplusplus
}
#endif

#endif /* COGNITION_CURL_H */
