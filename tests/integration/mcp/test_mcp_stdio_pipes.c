/*
 * The stdio transport when the pipe to the server is full, with servers
 * written inline (python3 -c): a call canceled while its large request is
 * half written to a server that reads slowly (the message is finished, so
 * the connection stays usable), and the notifications/cancelled of a
 * canceled call written into a full pipe once the server reads again (not
 * dropped because the ctx is canceled). The other stdio faults:
 * test_mcp_stdio_faults.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "mcp_test.h"

/* ---- cancel while a large request is half written ---- */

/* A server that reads its stdin slowly (8 KiB every 10 ms) once a line
 * passes 64 KiB, and says so on stderr; tools/call answers "got N bytes". */
static const char slow_reader_py[] =
	"import json, os, sys, time\n"
	"def send(m):\n"
	"    sys.stdout.buffer.write(json.dumps(m).encode() + b'\\n')\n"
	"    sys.stdout.buffer.flush()\n"
	"def handle(line):\n"
	"    msg = json.loads(line)\n"
	"    if 'id' not in msg or 'method' not in msg:\n"
	"        return\n"
	"    method, result = msg['method'], {}\n"
	"    if method == 'initialize':\n"
	"        result = {'protocolVersion': msg['params']['protocolVersion'],\n"
	"                  'capabilities': {'tools': {}},\n"
	"                  'serverInfo': {'name': 'slow-reader', 'version': '1'}}\n"
	"    elif method == 'tools/list':\n"
	"        result = {'tools': []}\n"
	"    elif method == 'tools/call':\n"
	"        text = 'got %d bytes' % len(line)\n"
	"        result = {'content': [{'type': 'text', 'text': text}]}\n"
	"    send({'jsonrpc': '2.0', 'id': msg['id'], 'result': result})\n"
	"buf, said = b'', False\n"
	"while True:\n"
	"    chunk = os.read(0, 8192)\n"
	"    if not chunk:\n"
	"        break\n"
	"    buf += chunk\n"
	"    while b'\\n' in buf:\n"
	"        line, buf = buf.split(b'\\n', 1)\n"
	"        said = False\n"
	"        if line.strip():\n"
	"            handle(line)\n"
	"    if len(buf) > 65536:\n"
	"        if not said:\n"
	"            sys.stderr.write('reading slowly\\n')\n"
	"            sys.stderr.flush()\n"
	"            said = True\n"
	"        time.sleep(0.01)\n";

/* A tools/call with params (cog_mcp_request) on a thread of its own. */
typedef struct bg_request {
	cog_mcp *m;
	const char *params;
	unsigned int timeout_ms;
	int rc;
} bg_request;

static void *bg_request_main(void *arg)
{
	bg_request *c = arg;
	char *result = NULL;
	c->rc = cog_mcp_request(c->m, "tools/call", c->params, c->timeout_ms, &result);
	cog_free(result);
	return NULL;
}

/* `script` run by python3 -c as server `name`, without restarts (a broken
 * stream would be the end); the test fails unless it connects. */
static cog_mcp *connect_script(cog_ctx *ctx, const char *name, const char *script)
{
	cog_mcp_options o;
	ck_assert_int_eq(cog_mcp_options_init(&o, COG_MCP_OPTIONS_VERSION), COG_OK);
	const char *argv[] = { "python3", "-c", script, NULL };
	o.name = name;
	o.argv = argv;
	o.max_restarts = 0;
	return mcp_test_connect(ctx, &o);
}

START_TEST(cancel_mid_write_keeps_the_connection)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = connect_script(ctx, "slow-reader", slow_reader_py);
	pid_t pid = mcp_test_server_pid(m, NULL);

	/* 600 KiB of arguments: far more than the pipe holds. */
	size_t big = 600 * 1024;
	char *params = malloc(big + 100);
	ck_assert_ptr_nonnull(params);
	int n = snprintf(params, 100, "{\"name\":\"big\",\"arguments\":{\"data\":\"");
	memset(params + n, 'x', big);
	strcpy(params + n + big, "\"}}");
	bg_request c = { m, params, 120000, 0 };
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, bg_request_main, &c), 0);
	/* The server has read 64 KiB of the line: the rest is being written
	 * into a full pipe. Cancel now. */
	ck_assert_msg(mcp_test_log_wait(log, "reading slowly", 60000), "the server never said "
	              "it reads slowly");
	cog_ctx_cancel(ctx);
	pthread_join(t, NULL);
	ck_assert_msg(c.rc == COG_ECANCELED, "%d %s", c.rc, cog_error_last());
	free(params);

	/* The message was finished, not cut: the stream is whole and the
	 * same server answers the next call. */
	cog_ctx_reset_cancel(ctx);
	char *text = NULL;
	int rc = mcp_test_call(m, "small", "{}", 60000, &text);
	ck_assert_msg(rc == COG_OK, "after cancel: %d %s", rc, cog_error_last());
	ck_assert_msg(strncmp(text, "got ", 4) == 0, "%s", text);
	free(text);
	bool running = false;
	ck_assert_int_eq(mcp_test_server_pid(m, &running), pid);
	ck_assert(running);
	cog_mcp_close(m);
	mcp_test_assert_reaped(pid);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

/* ---- notifications/cancelled into a full pipe ---- */

/* A server that, on tools/call, fills its own stdin pipe with blank lines
 * (until it would block), says so on stderr and reads nothing for 5 s;
 * then it reads on and logs every notification it receives. The call is
 * never answered. */
static const char full_pipe_py[] =
	"import json, os, sys, time\n"
	"def send(m):\n"
	"    sys.stdout.buffer.write(json.dumps(m).encode() + b'\\n')\n"
	"    sys.stdout.buffer.flush()\n"
	"def say(t):\n"
	"    sys.stderr.write(t + '\\n')\n"
	"    sys.stderr.flush()\n"
	"def fill_stdin():\n"
	"    fd = os.open('/proc/self/fd/0', os.O_WRONLY | os.O_NONBLOCK)\n"
	"    n = 0\n"
	"    try:\n"
	"        while True:\n"
	"            n += os.write(fd, b'\\n' * 512)\n"
	"    except BlockingIOError:\n"
	"        pass\n"
	"    os.close(fd)\n"
	"    return n\n"
	"buf = b''\n"
	"while True:\n"
	"    chunk = os.read(0, 65536)\n"
	"    if not chunk:\n"
	"        break\n"
	"    buf += chunk\n"
	"    while b'\\n' in buf:\n"
	"        line, buf = buf.split(b'\\n', 1)\n"
	"        if not line.strip():\n"
	"            continue\n"
	"        msg = json.loads(line)\n"
	"        method = msg.get('method')\n"
	"        if 'id' not in msg:\n"
	"            say('received %s %s' % (method, json.dumps(msg.get('params'))))\n"
	"            continue\n"
	"        if method == 'initialize':\n"
	"            result = {'protocolVersion': msg['params']['protocolVersion'],\n"
	"                      'capabilities': {'tools': {}},\n"
	"                      'serverInfo': {'name': 'full-pipe', 'version': '1'}}\n"
	"        elif method == 'tools/call':\n"
	"            n = fill_stdin()\n"
	"            say('stdin is full (%d blank lines): not reading for 5 s' % n)\n"
	"            time.sleep(5)\n"
	"            say('reading again')\n"
	"            continue\n"
	"        else:\n"
	"            result = {}\n"
	"        send({'jsonrpc': '2.0', 'id': msg['id'], 'result': result})\n";

START_TEST(cancelled_notice_waits_for_a_full_pipe)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = connect_script(ctx, "full-pipe", full_pipe_py);
	pid_t pid = mcp_test_server_pid(m, NULL);

	bg_request c = { m, "{\"name\":\"block\"}", 60000, 0 };
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, bg_request_main, &c), 0);
	/* The pipe to the server is full and nobody reads it: the
	 * notifications/cancelled the cancel sends cannot be written now. */
	ck_assert_msg(mcp_test_log_wait(log, "stdin is full", 60000),
	              "the server never filled its stdin");
	cog_ctx_cancel(ctx);
	pthread_join(t, NULL);
	ck_assert_msg(c.rc == COG_ECANCELED, "%d %s", c.rc, cog_error_last());
	/* It was written once the server read again, not dropped because
	 * the ctx is canceled. */
	ck_assert_msg(mcp_test_log_wait(log, "received notifications/cancelled "
	                                "{\\\"requestId\\\": ", 30000),
	              "the server never received notifications/cancelled");
	ck_assert(mcp_test_log_wait(log, "reading again", 1000));
	cog_mcp_close(m);
	mcp_test_assert_reaped(pid);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

static Suite *stdio_pipes_suite(void)
{
	Suite *s = suite_create("mcp-stdio-pipes");
	TCase *tc = tcase_create("pipes");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, cancel_mid_write_keeps_the_connection);
	tcase_add_test(tc, cancelled_notice_waits_for_a_full_pipe);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return mcp_test_run(stdio_pipes_suite());
}
