/* Shared by the MCP integration tests: see mcp_test.h. */
#include "mcp_test.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <cognition/curl.h>

static const char *const packages[] = {
	"@modelcontextprotocol/server-everything/dist/index.js",
	"@modelcontextprotocol/server-filesystem/dist/index.js",
	"@modelcontextprotocol/server-memory/dist/index.js",
};

static char scripts[3][4096];
static char args[3][4096];
static const char *argvs[3][4];

const char *const *mcp_test_argv(int server, const char *arg)
{
	ck_assert(server >= 0 && server < 3);
	ck_assert_msg(peer_node_module(scripts[server], sizeof(scripts[server]),
	                               packages[server]) == 0, "%s", peer_error());
	argvs[server][0] = "node";
	argvs[server][1] = scripts[server];
	argvs[server][2] = NULL;
	if (server == MCP_EVERYTHING) {
		argvs[server][2] = "stdio";
	} else if (server == MCP_FILESYSTEM && arg) {
		snprintf(args[server], sizeof(args[server]), "%s", arg);
		argvs[server][2] = args[server];
	}
	argvs[server][3] = NULL;
	return argvs[server];
}

peer *mcp_test_start_http(char *url, size_t url_size)
{
	char script[4096], preload[4096];
	ck_assert_msg(peer_node_module(script, sizeof(script), packages[MCP_EVERYTHING]) == 0,
	              "%s", peer_error());
	const char *root = getenv("COG_TEST_SOURCE_ROOT");
	ck_assert_msg(root != NULL, "COG_TEST_SOURCE_ROOT is not set (run through meson test)");
	snprintf(preload, sizeof(preload), "%s/../shared/peers/bind-loopback.cjs", root);
	const char *argv[] = { "node", "-r", preload, script, "streamableHttp", NULL };
	peer_options o = { 0 };
	o.name = "mcp-everything-http";
	o.argv = argv;
	o.install_hint = PEER_NODE_HINT;
	peer *p = NULL;
	ck_assert_msg(peer_start(&p, &o) == 0, "%s", peer_error());
	snprintf(url, url_size, "%s/mcp", peer_url(p));
	return p;
}

void mcp_test_peer_file(char *out, size_t size, const char *file)
{
	const char *root = getenv("COG_TEST_SOURCE_ROOT");
	ck_assert_msg(root != NULL, "COG_TEST_SOURCE_ROOT is not set (run through meson test)");
	snprintf(out, size, "%s/tests/peers/%s", root, file);
}

struct mcp_test_log {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char **lines;
	size_t count, cap;
};

mcp_test_log *mcp_test_log_new(void)
{
	mcp_test_log *log = calloc(1, sizeof(*log));
	ck_assert(log != NULL);
	pthread_mutex_init(&log->lock, NULL);
	pthread_cond_init(&log->cond, NULL);
	return log;
}

void mcp_test_log_free(mcp_test_log *log)
{
	if (!log)
		return;
	for (size_t i = 0; i < log->count; i++)
		free(log->lines[i]);
	free(log->lines);
	pthread_cond_destroy(&log->cond);
	pthread_mutex_destroy(&log->lock);
	free(log);
}

static void keep(mcp_test_log *log, const char *line)
{
	char *copy = strdup(line);
	if (!copy)
		return;
	pthread_mutex_lock(&log->lock);
	if (log->count == log->cap) {
		size_t cap = log->cap ? log->cap * 2 : 64;
		char **grown = realloc(log->lines, cap * sizeof(*grown));
		if (!grown) {
			pthread_mutex_unlock(&log->lock);
			free(copy);
			return;
		}
		log->lines = grown;
		log->cap = cap;
	}
	log->lines[log->count++] = copy;
	pthread_cond_broadcast(&log->cond);
	pthread_mutex_unlock(&log->lock);
}

void mcp_test_log_fn(int level, const char *line, void *user_data)
{
	(void)level;
	keep(user_data, line);
}

void mcp_test_event_fn(const char *event, void *user_data)
{
	keep(user_data, event);
}

bool mcp_test_log_wait(mcp_test_log *log, const char *needle, unsigned int timeout_ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	size_t seen = 0;
	bool found = false;
	pthread_mutex_lock(&log->lock);
	for (;;) {
		for (; seen < log->count && !found; seen++)
			found = strstr(log->lines[seen], needle) != NULL;
		if (found || pthread_cond_timedwait(&log->cond, &log->lock, &until) != 0)
			break;
	}
	for (; seen < log->count && !found; seen++)
		found = strstr(log->lines[seen], needle) != NULL;
	pthread_mutex_unlock(&log->lock);
	return found;
}

cog_ctx *mcp_test_ctx(mcp_test_log *log)
{
	cog_ctx_options o = COG_CTX_OPTIONS_INIT;
	if (log) {
		o.log_level = COG_LOG_DEBUG;
		o.log_fn = mcp_test_log_fn;
		o.log_user_data = log;
		o.event_fn = mcp_test_event_fn;
		o.event_user_data = log;
	}
	cog_ctx *ctx = NULL;
	ck_assert_msg(cog_ctx_new(&ctx, &o) == 0, "%s", cog_error_last());
	cog_transport *t = NULL;
	ck_assert_msg(cog_curl_transport_new(&t, NULL) == 0, "%s", cog_error_last());
	ck_assert_msg(cog_ctx_set_transport(ctx, t) == 0, "%s", cog_error_last());
	return ctx;
}

/* ---- the stdio tests (test_mcp_stdio.c, test_mcp_stdio_faults.c) ---- */

cog_mcp *mcp_test_connect(cog_ctx *ctx, cog_mcp_options *o)
{
	cog_mcp *m = NULL;
	int rc = cog_mcp_connect(&m, ctx, o);
	ck_assert_msg(rc == COG_OK, "connect: %d %s", rc, cog_error_last());
	ck_assert_ptr_nonnull(m);
	return m;
}

/* mcp_test_fault_options()'s argv and the path in it. */
static const char *fault_argv[10];
static char fault_path[4096];

void mcp_test_fault_options(cog_mcp_options *o, const char *const *flags)
{
	ck_assert_int_eq(cog_mcp_options_init(o, COG_MCP_OPTIONS_VERSION), COG_OK);
	mcp_test_peer_file(fault_path, sizeof fault_path, "mcp_fault.py");
	size_t n = 0;
	fault_argv[n++] = "python3";
	fault_argv[n++] = fault_path;
	for (; flags && *flags && n < 9; flags++)
		fault_argv[n++] = *flags;
	fault_argv[n] = NULL;
	o->name = "fault";
	o->argv = fault_argv;
}

char *mcp_test_first_text(const char *result_json)
{
	cJSON *r = cJSON_Parse(result_json);
	ck_assert_msg(r != NULL, "not JSON: %s", result_json);
	cJSON *item = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "content"), 0);
	cJSON *text = cJSON_GetObjectItemCaseSensitive(item, "text");
	ck_assert_msg(cJSON_IsString(text), "no text content in %s", result_json);
	char *copy = strdup(text->valuestring);
	cJSON_Delete(r);
	return copy;
}

int mcp_test_call(cog_mcp *m, const char *tool, const char *args_json,
                  unsigned int timeout_ms, char **text)
{
	char params[1024];
	snprintf(params, sizeof params, "{\"name\":\"%s\",\"arguments\":%s}", tool, args_json);
	char *result = NULL;
	int rc = cog_mcp_request(m, "tools/call", params, timeout_ms, &result);
	if (text)
		*text = rc == COG_OK ? mcp_test_first_text(result) : NULL;
	cog_free(result);
	return rc;
}

pid_t mcp_test_server_pid(cog_mcp *m, bool *running)
{
	char *json = NULL;
	ck_assert_int_eq(cog_mcp_server_info(m, &json), COG_OK);
	cJSON *info = cJSON_Parse(json);
	ck_assert_ptr_nonnull(info);
	cJSON *pid = cJSON_GetObjectItemCaseSensitive(info, "pid");
	ck_assert_msg(cJSON_IsNumber(pid), "no pid in %s", json);
	if (running)
		*running = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(info, "running"));
	pid_t p = (pid_t)pid->valuedouble;
	cJSON_Delete(info);
	cog_free(json);
	return p;
}

void mcp_test_assert_reaped(pid_t pid)
{
	int status;
	errno = 0;
	ck_assert_int_eq(waitpid(pid, &status, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
}

/* ---- the HTTP tests (test_mcp_http.c, test_mcp_http_faults.c) ---- */

cog_mcp *mcp_test_http_connect(cog_ctx *ctx, const char *url, const char *token)
{
	cog_mcp_options o = COG_MCP_OPTIONS_INIT;
	o.name = "web";
	o.url = url;
	o.bearer_token = token;
	cog_mcp *m = NULL;
	ck_assert_msg(cog_mcp_connect(&m, ctx, &o) == 0, "%s", cog_error_last());
	return m;
}

char *mcp_test_call_json(cog_mcp *m, const char *tool, const char *args_json)
{
	char *result = NULL;
	int rc = cog_mcp_call_tool(m, tool, args_json, 0, &result);
	ck_assert_msg(rc == 0, "%s: %s", tool, cog_error_last());
	ck_assert(result != NULL);
	return result;
}

char *mcp_test_session_id(cog_mcp *m)
{
	char *info = NULL;
	ck_assert_msg(cog_mcp_server_info(m, &info) == 0, "%s", cog_error_last());
	cJSON *j = cJSON_Parse(info);
	ck_assert_msg(j != NULL, "%s", info);
	const cJSON *sid = cJSON_GetObjectItemCaseSensitive(j, "session_id");
	ck_assert_msg(cJSON_IsString(sid) && sid->valuestring[0], "%s", info);
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "transport");
	ck_assert_msg(cJSON_IsString(kind) && strcmp(kind->valuestring, "http") == 0,
	              "%s", info);
	char *copy = strdup(sid->valuestring);
	cJSON_Delete(j);
	cog_free(info);
	return copy;
}

peer *mcp_test_start_fault_http(char *url, size_t url_size, const char *const *flags)
{
	char script[4096];
	mcp_test_peer_file(script, sizeof(script), "mcp_fault_http.py");
	const char *argv[8] = { "python3", script };
	size_t n = 2;
	for (; flags && flags[n - 2] && n < 7; n++)
		argv[n] = flags[n - 2];
	argv[n] = NULL;
	peer_options o = { 0 };
	o.name = "mcp-fault-http";
	o.argv = argv;
	o.ready_path = "/stats";
	o.install_hint = "apt-get install python3";
	peer *p = NULL;
	ck_assert_msg(peer_start(&p, &o) == 0, "%s", peer_error());
	snprintf(url, url_size, "%s/mcp", peer_url(p));
	return p;
}

cJSON *mcp_test_fault_stats(cog_ctx *ctx, peer *server)
{
	char stats_url[600];
	snprintf(stats_url, sizeof(stats_url), "%s/stats", peer_url(server));
	cog_http_request req = COG_HTTP_REQUEST_INIT;
	req.url = stats_url;
	cog_http_response resp = COG_HTTP_RESPONSE_INIT;
	ck_assert_msg(cog_transport_perform(cog_ctx_transport(ctx), &req, &resp) == 0,
	              "%s", cog_error_last());
	ck_assert_int_eq(resp.status, 200);
	cJSON *j = cJSON_Parse(resp.body);
	ck_assert_msg(j != NULL, "%s", resp.body);
	cog_http_response_dispose(&resp);
	return j;
}

int mcp_test_stats_int(const cJSON *stats, const char *member)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(stats, member);
	ck_assert_msg(cJSON_IsNumber(n), "stats without %s", member);
	return n->valueint;
}

int mcp_test_stats_count(const cJSON *stats, const char *member, const char *value)
{
	int n = 0;
	const cJSON *item;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(stats, member))
		if (cJSON_IsString(item) && strcmp(item->valuestring, value) == 0)
			n++;
	return n;
}
