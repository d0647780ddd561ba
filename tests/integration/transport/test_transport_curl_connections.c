/*
 * libcognition-curl and connections: refused ports, keep-alive, one
 * transport shared by threads, a proxy from the environment, and TLS
 * against `openssl s_server`.
 */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "test_transport_curl.h"

/* ---- connections ---- */

START_TEST(test_connection_refused)
{
	cog_transport *transport = transport_new();
	cog_http_response response = COG_HTTP_RESPONSE_INIT;
	unsigned short port;
	char url[128];
	int rc;

	ck_assert_int_eq(lb_unused_port(&port), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/nothing-here", port);
	rc = get(transport, url, &response);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "got %d: %s", rc, cog_error_last());
	assert_error_mentions(url);
	cog_transport_free(transport);
}
END_TEST

START_TEST(test_keep_alive)
{
	lb_server *server = server_start();
	cog_transport *transport = transport_new();
	cog_http_response response = COG_HTTP_RESPONSE_INIT;
	char url[128];
	int i;

	url_for(url, sizeof(url), server, "/hello");
	for (i = 0; i < 50; i++) {
		int rc = get(transport, url, &response);

		ck_assert_msg(rc == 0, "request %d: %d %s", i, rc, cog_error_last());
		ck_assert_str_eq(response.body, "hello world");
		cog_http_response_dispose(&response);
	}
	ck_assert_uint_eq(lb_server_requests(server), 50);
	ck_assert_uint_eq(lb_server_accepts(server), 1);

	/* A server that closes is not an error; the next request reconnects. */
	url_for(url, sizeof(url), server, "/close");
	ck_assert_int_eq(get(transport, url, &response), 0);
	cog_http_response_dispose(&response);
	url_for(url, sizeof(url), server, "/hello");
	ck_assert_int_eq(get(transport, url, &response), 0);
	cog_http_response_dispose(&response);
	ck_assert_uint_eq(lb_server_accepts(server), 2);
	cog_transport_free(transport);
	lb_server_stop(server);
}
END_TEST

#define THREADS 4
#define PER_THREAD 25

typedef struct thread_run {
	cog_transport *transport;
	const char *url;
	int failures;
	char error[512];
} thread_run;

static void *thread_worker(void *arg)
{
	thread_run *run = arg;
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		cog_http_response response = COG_HTTP_RESPONSE_INIT;
		int rc = get(run->transport, run->url, &response);

		if (rc != 0 || response.status != 200 ||
		    strcmp(response.body, "hello world") != 0) {
			run->failures++;
			snprintf(run->error, sizeof(run->error), "%d %s", rc,
			         cog_error_last());
		}
		cog_http_response_dispose(&response);
	}
	return NULL;
}

START_TEST(test_threads_share_transport)
{
	lb_server *server = server_start();
	cog_transport *transport = transport_new();
	thread_run runs[THREADS];
	pthread_t threads[THREADS];
	char url[128];
	int i;

	url_for(url, sizeof(url), server, "/hello");
	for (i = 0; i < THREADS; i++) {
		memset(&runs[i], 0, sizeof(runs[i]));
		runs[i].transport = transport;
		runs[i].url = url;
		ck_assert_int_eq(pthread_create(&threads[i], NULL, thread_worker, &runs[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
		ck_assert_msg(runs[i].failures == 0, "thread %d: %d failures, last %s",
		              i, runs[i].failures, runs[i].error);
	}
	ck_assert_uint_eq(lb_server_requests(server), THREADS * PER_THREAD);
	ck_assert_msg(lb_server_accepts(server) <= THREADS, "%u connections",
	              lb_server_accepts(server));
	cog_transport_free(transport);
	lb_server_stop(server);
}
END_TEST

START_TEST(test_proxy_from_environment)
{
	lb_server *proxy = server_start();
	cog_transport *transport;
	cog_http_response response = COG_HTTP_RESPONSE_INIT;
	char proxy_url[128], line[512];
	int rc;

	url_for(proxy_url, sizeof(proxy_url), proxy, "");
	ck_assert_int_eq(setenv("http_proxy", proxy_url, 1), 0);
	transport = transport_new();
	/* .invalid never resolves: only the proxy can answer this. */
	rc = get(transport, "http://example.invalid/via/proxy", &response);
	ck_assert_msg(rc == 0, "%d %s", rc, cog_error_last());
	ck_assert_int_eq(response.status, 200);
	ck_assert_str_eq(response.body, "proxied");
	lb_server_last_request_line(proxy, line, sizeof(line));
	ck_assert_str_eq(line, "GET http://example.invalid/via/proxy HTTP/1.1");
	cog_http_response_dispose(&response);
	cog_transport_free(transport);
	ck_assert_int_eq(unsetenv("http_proxy"), 0);
	lb_server_stop(proxy);
}
END_TEST

/* ---- TLS, against openssl s_server ---- */

typedef struct tls_server {
	char dir[64];
	char cert[128];
	char key[128];
	pid_t pid;
	int stdin_fd;              /* kept open: s_server reads its stdin */
	unsigned short port;
} tls_server;

/* Run argv with output to log; its exit status, or -1. */
static int run_quiet(char *const argv[], const char *log)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static bool port_accepts(unsigned short port)
{
	struct sockaddr_in addr;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	if (fd < 0)
		return false;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons(port);
	ok = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	close(fd);
	return ok;
}

static void tls_server_start(tls_server *tls)
{
	char log[128], accept_arg[32];
	int pipe_fds[2];
	int waited;

	memset(tls, 0, sizeof(*tls));
	snprintf(tls->dir, sizeof(tls->dir), "/tmp/cog-tls-XXXXXX");
	ck_assert_msg(mkdtemp(tls->dir) != NULL, "mkdtemp failed");
	snprintf(tls->cert, sizeof(tls->cert), "%s/cert.pem", tls->dir);
	snprintf(tls->key, sizeof(tls->key), "%s/key.pem", tls->dir);
	snprintf(log, sizeof(log), "%s/req.log", tls->dir);
	{
		char *argv[] = { "openssl", "req", "-x509", "-newkey", "ec",
		                 "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		                 "-keyout", tls->key, "-out", tls->cert, "-days", "2",
		                 "-subj", "/CN=localhost", "-addext",
		                 "subjectAltName=IP:127.0.0.1,DNS:localhost", NULL };
		int rc = run_quiet(argv, log);

		ck_assert_msg(rc == 0, "`openssl req` failed (exit %d, see %s); the "
		              "TLS tests need the openssl command", rc, log);
	}
	ck_assert_int_eq(lb_unused_port(&tls->port), 0);
	snprintf(accept_arg, sizeof(accept_arg), "127.0.0.1:%u", tls->port);
	snprintf(log, sizeof(log), "%s/server.log", tls->dir);
	ck_assert_int_eq(pipe(pipe_fds), 0);
	tls->pid = fork();
	ck_assert_int_ge(tls->pid, 0);
	if (tls->pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(pipe_fds[0], 0);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("openssl", "openssl", "s_server", "-accept", accept_arg,
		       "-cert", tls->cert, "-key", tls->key, "-www", "-quiet",
		       (char *)NULL);
		_exit(127);
	}
	close(pipe_fds[0]);
	tls->stdin_fd = pipe_fds[1];
	for (waited = 0; waited < 10000 && !port_accepts(tls->port); waited += 20) {
		int status;

		ck_assert_msg(waitpid(tls->pid, &status, WNOHANG) == 0,
		              "openssl s_server exited early, see %s", log);
		sleep_ms(20);
	}
	ck_assert_msg(port_accepts(tls->port), "openssl s_server did not listen "
	              "on %s within 10 s, see %s", accept_arg, log);
}

static void tls_server_stop(tls_server *tls)
{
	char path[160];

	kill(tls->pid, SIGTERM);
	waitpid(tls->pid, NULL, 0);
	close(tls->stdin_fd);
	unlink(tls->cert);
	unlink(tls->key);
	snprintf(path, sizeof(path), "%s/req.log", tls->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/server.log", tls->dir);
	unlink(path);
	rmdir(tls->dir);
}

START_TEST(test_tls_self_signed_rejected)
{
	tls_server tls;
	cog_transport *transport;
	cog_http_response response = COG_HTTP_RESPONSE_INIT;
	cog_curl_options options;
	char url[128];
	int rc;

	tls_server_start(&tls);
	transport = transport_new();
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/", tls.port);
	rc = get(transport, url, &response);
	ck_assert_msg(rc == COG_EPROTO, "got %d: %s", rc, cog_error_last());
	assert_error_mentions(url);
	cog_transport_free(transport);

	/* The same server is trusted once its certificate is the CA. */
	ck_assert_int_eq(cog_curl_options_init(&options, COG_CURL_OPTIONS_VERSION), 0);
	options.ca_file = tls.cert;
	ck_assert_int_eq(cog_curl_transport_new(&transport, &options), 0);
	rc = get(transport, url, &response);
	ck_assert_msg(rc == 0, "with ca_file: %d %s", rc, cog_error_last());
	ck_assert_int_eq(response.status, 200);
	cog_http_response_dispose(&response);

	/* Host name checking stays on: the certificate is not for 127.0.0.2. */
	snprintf(url, sizeof(url), "https://127.0.0.2:%u/", tls.port);
	rc = get(transport, url, &response);
	ck_assert_msg(rc == COG_EPROTO || rc == COG_EUNAVAILABLE, "got %d: %s", rc,
	              cog_error_last());
	cog_transport_free(transport);
	tls_server_stop(&tls);
}
END_TEST

TCase *transport_connections_tcase(void)
{
	TCase *connections = tcase_create("connections");

	tcase_add_test(connections, test_connection_refused);
	tcase_add_test(connections, test_keep_alive);
	tcase_add_test(connections, test_threads_share_transport);
	tcase_add_test(connections, test_proxy_from_environment);
	return connections;
}

TCase *transport_tls_tcase(void)
{
	TCase *tls = tcase_create("tls");

	tcase_add_test(tls, test_tls_self_signed_rejected);
	return tls;
}
