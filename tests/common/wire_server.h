/*
 * A scripted HTTP/1.1 server on 127.0.0.1 for tests that need exact bytes
 * on the wire: recorded provider streams replayed byte for byte, and faults
 * (a 500 then a 200, a 429 with Retry-After, a stream cut in the middle, a
 * malformed chunk, a drip that never ends, an oversized body).
 *
 * The test queues answers; each request takes the next one in order (the
 * last one is reused when the queue runs dry, unless it was marked once).
 * One thread accepts; one thread per connection serves with keep-alive.
 * Requests are recorded (method, path, headers, body) for the test to check.
 */
#ifndef WIRE_SERVER_H
#define WIRE_SERVER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ws_server ws_server;

typedef struct ws_answer {
	int status;                   /* e.g. 200 */
	const char *content_type;     /* NULL: application/json */
	const char *extra_headers;    /* "Name: value\r\n..." or NULL */
	const char *body;             /* copied */
	size_t body_len;              /* 0 with body: strlen(body) */
	bool chunked;                 /* Transfer-Encoding: chunked */
	size_t chunk_bytes;           /* chunked: bytes per chunk; 0: whole body */
	unsigned int chunk_delay_ms;  /* pause before each chunk */
	unsigned int delay_ms;        /* pause before the status line */
	long close_after;             /* >= 0: send that many body bytes, then
	                                 close the connection; -1: whole body */
	bool drip;                    /* after the body, keep the chunked stream
	                                 open sending ": ping\n\n" every 20 ms
	                                 until the client goes */
	/* Appended by the SSE helper: */
	bool once;                    /* not reused when the queue runs dry
	                                 (a request past the queue then gets a
	                                 500 "no answer queued") */
	bool raw;                     /* no Content-Length and no chunk framing:
	                                 the body goes out as is, so a test can
	                                 write its own (a malformed chunk) with
	                                 extra_headers "Transfer-Encoding:
	                                 chunked\r\n" */
} ws_answer;

/* A 200 answer with this body and content type, every other member default
 * (close_after -1). */
ws_answer ws_answer_body(int status, const char *content_type, const char *body);

/* Listen on 127.0.0.1 (kernel-chosen port). 0, or -1 with a message on
 * stderr. */
int ws_start(ws_server **out);
unsigned short ws_port(const ws_server *server);
/* "http://127.0.0.1:<port>" (static per server). */
const char *ws_url(const ws_server *server);
/* Queue an answer (copied). */
int ws_push(ws_server *server, const ws_answer *answer);
/* Queue the bytes of a file as the body (e.g. a recorded .sse stream). */
int ws_push_file(ws_server *server, const ws_answer *answer, const char *path);
/* Forget queued answers and recorded requests. */
void ws_reset(ws_server *server);
/* Requests served so far. */
unsigned int ws_requests(ws_server *server);
/* Request number i (0-based) as recorded: "METHOD PATH\n" + header lines
 * "name: value\n" (names lowercased) + "\n" + body; a malloc'd copy, NULL
 * when there is no such request. */
char *ws_request(ws_server *server, unsigned int i);
/* The body of request i (malloc'd), NULL when none. */
char *ws_request_body(ws_server *server, unsigned int i);
/* Header `name` (case-insensitive) of request i (malloc'd), or NULL. */
char *ws_request_header(ws_server *server, unsigned int i, const char *name);
/* Appended by the SSE helper: connections open now (a client that went
 * away is noticed within a few tens of milliseconds, even mid-answer). */
unsigned int ws_connections(ws_server *server);
/* Stop, join every thread, free. NULL-safe. */
void ws_stop(ws_server *server);

#endif /* WIRE_SERVER_H */
