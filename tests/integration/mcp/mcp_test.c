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

int mcp_test_run(Suite *suite)
{
	SRunner *sr = srunner_create(suite);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* A context with options o and the curl transport. */
static cog_ctx *ctx_with_curl(const cog_ctx_options *o)
{
	cog_ctx *ctx = NULL;
	ck_assert_msg(cog_ctx_new(&ctx, o) == 0, "%s", cog_error_last());
	cog_transport *t = NULL;
	ck_assert_msg(cog_curl_transport_new(&t, NULL) == 0, "%s", cog_error_last());
	ck_assert_msg(cog_ctx_set_transport(ctx, t) == 0, "%s", cog_error_last());
	return ctx;
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
	return ctx_with_curl(&o);
}

cog_ctx *mcp_test_ctx_log_fn(int level, cog_log_fn fn, void *user_data)
{
	cog_ctx_options o = COG_CTX_OPTIONS_INIT;
	o.log_level = level;
	o.log_fn = fn;
	o.log_user_data = user_data;
	return ctx_with_curl(&o);
}

/* ---- JSON ---- */

cJSON *mcp_test_parse(const char *text)
{
	ck_assert_ptr_nonnull(text);
	cJSON *j = cJSON_Parse(text);
	ck_assert_msg(j != NULL, "not JSON: %.200s", text);
	return j;
}

const cJSON *mcp_test_find_named(const cJSON *array, const char *member, const char *name)
{
	const cJSON *item;
	cJSON_ArrayForEach(item, array) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(item, member);
		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
			return item;
	}
	return NULL;
}

const char *mcp_test_result_text(const cJSON *result)
{
	const cJSON *item = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(result,
	                                                                       "content"), 0);
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(item, "text");
	ck_assert_msg(cJSON_IsString(text), "no text content");
	return text->valuestring;
}

cJSON *mcp_test_registry(cog_ctx *ctx, const char *pattern)
{
	char *json = NULL;
	ck_assert_cog(cog_tool_list(ctx, pattern, COG_TOOL_FORMAT_COG, &json));
	cJSON *list = mcp_test_parse(json);
	cog_free(json);
	return list;
}

/* ---- servers over stdio ---- */

cog_mcp *mcp_test_connect(cog_ctx *ctx, cog_mcp_options *o)
{
	cog_mcp *m = NULL;
	int rc = cog_mcp_connect(&m, ctx, o);
	ck_assert_msg(rc == COG_OK, "connect: %d %s", rc, cog_error_last());
	ck_assert_ptr_nonnull(m);
	return m;
}

void mcp_test_everything_options(cog_mcp_options *o, const char *name)
{
	ck_assert_int_eq(cog_mcp_options_init(o, COG_MCP_OPTIONS_VERSION), COG_OK);
	o->name = name;
	o->argv = mcp_test_argv(MCP_EVERYTHING, NULL);
}

cog_mcp *mcp_test_connect_ev(cog_ctx *ctx, const char *allowed_tools)
{
	cog_mcp_options o;
	mcp_test_everything_options(&o, "ev");
	o.allowed_tools = allowed_tools;
	return mcp_test_connect(ctx, &o);
}

cog_mcp *mcp_test_connect_everything(cog_ctx *ctx, cog_mcp_request_fn on_request,
                                     void *user_data)
{
	cog_mcp_options o;
	mcp_test_everything_options(&o, "everything");
	o.on_request = on_request;
	o.request_user_data = user_data;
	return mcp_test_connect(ctx, &o);
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

cog_mcp *mcp_test_connect_fault(cog_ctx *ctx, const char *const *flags,
                                cog_mcp_request_fn on_request, void *user_data)
{
	cog_mcp_options o;
	mcp_test_fault_options(&o, flags);
	o.connect_timeout_ms = 20000;
	o.on_request = on_request;
	o.request_user_data = user_data;
	return mcp_test_connect(ctx, &o);
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

char *mcp_test_call_result(cog_mcp *m, const char *tool, const char *args_json,
                           unsigned int timeout_ms, int *rc)
{
	char params[1024];
	snprintf(params, sizeof params, "{\"name\":\"%s\",\"arguments\":%s}", tool, args_json);
	char *result = NULL;
	*rc = cog_mcp_request(m, "tools/call", params, timeout_ms, &result);
	return result;
}

int mcp_test_call(cog_mcp *m, const char *tool, const char *args_json,
                  unsigned int timeout_ms, char **text)
{
	int rc;
	char *result = mcp_test_call_result(m, tool, args_json, timeout_ms, &rc);
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
