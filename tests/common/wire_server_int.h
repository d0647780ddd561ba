/*
 * What the two files of the wire server share: wire_server.c (the public
 * functions, the answer queue, the recorded requests, accepting
 * connections) and wire_server_conn.c (one connection: reading requests,
 * writing answers). Not for tests to include.
 */
#ifndef WIRE_SERVER_INT_H
#define WIRE_SERVER_INT_H

#include "wire_server.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct ws_record {
	char *text;                   /* as ws_request() returns it */
	char *body;
	size_t body_len;
} ws_record;

typedef struct ws_conn {
	ws_server *server;
	pthread_t thread;
	int fd;                       /* -1 once the thread closed it */
} ws_conn;

struct ws_server {
	int listen_fd;
	unsigned short port;
	char url[40];
	pthread_t accept_thread;
	atomic_bool stopping;
	pthread_mutex_t mu;           /* guards everything below */
	ws_answer *answers;
	size_t n_answers, next_answer;
	ws_record *records;
	unsigned int n_records;
	ws_conn **conns;
	size_t n_conns;
};

/* A request as read from a connection. */
typedef struct ws_req {
	char *text;                   /* the record */
	char *body;
	size_t body_len;
	bool close;                   /* Connection: close or HTTP/1.0 */
	bool expect_continue;
	long long content_length;     /* -1 none */
	bool chunked;
} ws_req;

/* wire_server.c */

/* Free what a copied answer owns (ws_push, ws_take). */
void ws_answer_free(ws_answer *a);
/* Record the request (its text and body are taken, set to NULL) and copy
 * the answer it gets into *answer; false on OOM. */
bool ws_take(ws_server *server, ws_req *req, ws_answer *answer);

/* wire_server_conn.c */

/* The thread of one connection (arg: its ws_conn): requests in, answers
 * out, with keep-alive, until the client goes or the server stops. */
void *ws_conn_main(void *arg);

#endif /* WIRE_SERVER_INT_H */
