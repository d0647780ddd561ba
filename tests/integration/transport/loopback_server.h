/*
 * A small scripted HTTP/1.1 server on 127.0.0.1 for the transport tests and
 * the transport benchmark. One thread accepts, one thread per connection
 * serves requests with keep-alive. Behaviour is chosen by the request path:
 *
 *   /hello                200 "hello world", X-Test: yes
 *   /echo                 200, the request body back, X-Echo-Method
 *   /headers              200, the request head (request line + headers)
 *   /chunked/<n>/<ms>     chunked: n chunks "chunk <i>\n", <ms> apart
 *   /stream               chunked: "tick\n" every 20 ms until the client goes
 *   /slow/<ms>            waits <ms>, then 200 "late"
 *   /status/<code>        <code> with body "status <code> body\n"
 *   /continue             100 Continue (X-Interim: yes), then 200 (X-Final)
 *   /redirect             302 to /hello with body "moved"
 *   /big/<bytes>          200 with <bytes> of 'x'
 *   /close                200 "bye" with Connection: close
 *   http://...            (absolute form, i.e. used as a proxy) 200 "proxied"
 *   anything else         404 "no route"
 *
 * Waits end early when the client disconnects or the server stops.
 */
#ifndef LOOPBACK_SERVER_H
#define LOOPBACK_SERVER_H

#include <stddef.h>

typedef struct lb_server lb_server;

/* Listen on 127.0.0.1, port chosen by the kernel. 0, or -1 with a message on
 * stderr. */
int lb_server_start(lb_server **out);
unsigned short lb_server_port(const lb_server *server);
/* TCP connections accepted so far. */
unsigned int lb_server_accepts(lb_server *server);
/* Requests parsed so far. */
unsigned int lb_server_requests(lb_server *server);
/* The most recent request line, e.g. "GET /hello HTTP/1.1". */
void lb_server_last_request_line(lb_server *server, char *out, size_t size);
/* Stop, join every thread, free. NULL-safe. */
void lb_server_stop(lb_server *server);

/* A port on 127.0.0.1 that nothing listens on (bound, then closed). */
int lb_unused_port(unsigned short *port);

#endif /* LOOPBACK_SERVER_H */
