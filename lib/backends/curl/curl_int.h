/*
 * Private interface of libcognition-curl. Not installed.
 *
 * The transport keeps a pool of "slots": an easy handle and the multi handle
 * that drives it. A request borrows a slot, so per-request setup is a
 * curl_easy_reset() and a few setopts, and the connection the slot used last
 * time is still in its multi handle's connection cache (keep-alive).
 */
#ifndef COG_CURL_INT_H
#define COG_CURL_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "cognition/curl.h"

/* curl_multi_poll() timeout: how often a transfer looks at is_canceled. */
#define COG_CURL_POLL_MS 50

#define COG_CURL_DEFAULT_TIMEOUT_MS 30000u
#define COG_CURL_DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define COG_CURL_DEFAULT_MAX_CONNECTIONS 16u

typedef struct curl_slot {
	struct curl_slot *next;       /* idle list link */
	CURL *easy;
	CURLM *multi;                 /* owns the slot's connection cache */
	char errbuf[CURL_ERROR_SIZE];
} curl_slot;

typedef struct curl_transport {
	CURLSH *share;                /* DNS cache and TLS sessions */
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t pool_lock;
	curl_slot *idle;              /* LIFO: the warmest connection first */
	unsigned int idle_count;
	unsigned int max_connections;
	bool http2;                   /* libcurl was built with HTTP/2 */
	char *user_agent;
	char *ca_file;                /* NULL: libcurl's default trust store */
} curl_transport;

/* ---- curl_global.c ---- */

/* Initialise libcurl once per process with cog_malloc & co. as its
 * allocator. COG_EIO when libcurl refuses. Thread safe. */
int cog_curl_global_init(void);

/* ---- curl_pool.c ---- */

/* Borrow a slot (an idle one or a new one). COG_ENOMEM, COG_EIO. */
int curl_pool_acquire(curl_transport *t, curl_slot **out);
/* Reset the slot's easy handle and keep it for the next request (or free
 * it when enough are idle). The easy handle must not be in its multi. */
void curl_pool_release(curl_transport *t, curl_slot *slot);
/* Free every idle slot. */
void curl_pool_drain(curl_transport *t);

/* ---- curl_perform.c ---- */

int curl_transport_perform(void *self, const cog_http_request *request,
                           cog_http_response *response);

/* ---- curl_util.c ---- */

/* A growable byte buffer from cog_malloc, always NUL-terminated once
 * anything was put into it. Zero-initialise it. */
typedef struct curl_buf {
	char *ptr;
	size_t len;
	size_t cap;
} curl_buf;

/* 0 or COG_ENOMEM (the buffer is left as it was). */
int curl_buf_put(curl_buf *buf, const void *data, size_t len);
/* Hand over the contents ("" when empty); NULL only on COG_ENOMEM. */
char *curl_buf_detach(curl_buf *buf, size_t *len);
void curl_buf_dispose(curl_buf *buf);

char *curl_strdup(const char *s);   /* cog_malloc'd copy; NULL on OOM */

/* Copy `url` into out for error messages: user info and query are left out
 * because they often carry credentials (?key=...). Always NUL-terminates. */
void curl_url_for_message(const char *url, char *out, size_t size);

#endif /* COG_CURL_INT_H */
