/*
 * Fuzz target for the MCP client's message handling (libFuzzer entry
 * point). The input is lines: the first is the result the server gives to
 * every request the client sends (a JSON value), each other line one
 * message the server sends (mcp_receive_text: classified, responses to
 * their waiters, notifications and server requests through the dispatch
 * thread: log messages, progress, list_changed, ping, the host's request
 * handler).
 *
 * The connection is a real cog_mcp whose transport is this file's: no
 * process, no HTTP. Its first send of a request delivers the lines (so a
 * line with "id":1 answers that request, as a server streaming its answer
 * would), then every request gets the result line as its answer (or an
 * error answer when that does not make a JSON-RPC response). The client
 * lists tools, defines them (their schemas compiled), calls the first one
 * (the result checked against its outputSchema), lists resources and
 * prompts. Besides not crashing, leaking or hanging, it checks that what
 * the client sends is JSON.
 */
#include <stdlib.h>
#include <string.h>

#include "mcp_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 64

typedef struct fake_server {
	const char *answer;          /* the result line */
	size_t answer_len;
	const char *lines[MAX_LINES];
	size_t lens[MAX_LINES];
	size_t count;
	bool delivered;
} fake_server;

static void deliver(cog_mcp *m, fake_server *s, uint64_t deadline_ns)
{
	s->delivered = true;
	for (size_t i = 0; i < s->count; i++)
		mcp_receive_text_until(m, s->lines[i], s->lens[i], deadline_ns);
}

static void answer(cog_mcp *m, fake_server *s, int64_t id, uint64_t deadline_ns)
{
	cog_buf b = COG_BUF_INIT;
	cog_buf_printf(&b, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":%.*s}",
	               (long long)id, (int)s->answer_len, s->answer);
	if (!b.ptr)
		abort();
	int rc = mcp_receive_text_until(m, b.ptr, b.len, deadline_ns);
	cog_buf_dispose(&b);
	if (rc == COG_OK)
		return;
	/* Not a response: answer with an error so that the request ends now. */
	cJSON *msg = NULL;
	cog_buf e = COG_BUF_INIT;
	cog_buf_printf(&e, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":-32603,"
	               "\"message\":\"fuzz\"}}", (long long)id);
	if (!e.ptr || cog_json_parse(&msg, e.ptr, "fuzz") != COG_OK)
		abort();
	cog_buf_dispose(&e);
	mcp_receive_until(m, msg, deadline_ns);
}

static int fake_start(cog_mcp *m)
{
	(void)m;
	return COG_OK;
}

static int fake_send(cog_mcp *m, const char *json, size_t len, int what,
                     int64_t id, uint64_t deadline_ns)
{
	if (cog_json_validate(json, len, "sent") != COG_OK)
		abort();  /* the client sent something that is not JSON */
	fake_server *s = m->transport;
	if (what != MCP_SEND_REQUEST)
		return COG_OK;
	if (!s->delivered)
		deliver(m, s, deadline_ns);
	answer(m, s, id, deadline_ns);
	return COG_OK;
}

static void fake_stop(cog_mcp *m)
{
	m->transport = NULL;
}

static const mcp_transport_ops fake_ops = {
	"fuzz", fake_start, fake_send, NULL, fake_stop, NULL
};

/* The host's handler of server requests. */
static int on_request(const char *method, const char *params_json,
                      char **result_json, void *user_data)
{
	(void)params_json;
	(void)user_data;
	const char *answer = strcmp(method, "roots/list") == 0 ? "{\"roots\":[]}" :
		strcmp(method, "sampling/createMessage") == 0 ? "not an object" : NULL;
	if (!answer)
		return cog__error(COG_ENOTFOUND, "fuzz: no %s", method);
	*result_json = cog__strdup(answer);
	return *result_json ? COG_OK : COG_ENOMEM;
}

static cog_ctx *shared_ctx;

/* A connection up, on the fake transport (as cog_mcp_connect makes one,
 * minus the handshake). */
static cog_mcp *fake_connection(fake_server *s)
{
	if (!shared_ctx && cog_ctx_new(&shared_ctx, NULL) != COG_OK)
		abort();
	cog_mcp_options o = COG_MCP_OPTIONS_INIT;
	o.name = "fz";
	o.url = "http://fuzz.invalid/mcp";
	o.timeout_ms = 5000;
	o.max_message_bytes = 1 << 16;
	o.on_request = on_request;
	cog_mcp *m = cog__calloc(1, sizeof(*m));
	if (!m || mcp_config_from_options(&m->cfg, &o) != COG_OK)
		abort();
	pthread_condattr_init(&m->cond_attr);
	pthread_condattr_setclock(&m->cond_attr, CLOCK_MONOTONIC);
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->restart_cond, &m->cond_attr);
	pthread_cond_init(&m->queue_items, &m->cond_attr);
	pthread_cond_init(&m->queue_room, &m->cond_attr);
	pthread_mutex_init(&m->tools_lock, NULL);
	pthread_rwlock_init(&m->life, NULL);
	atomic_init(&m->refs, 1);
	m->ctx = shared_ctx;
	m->next_id = 1;
	m->ops = &fake_ops;
	m->transport = s;
	m->generation = 1;
	m->connected = true;
	m->protocol_version = cog__strdup(mcp_protocol_versions[0]);
	if (!m->protocol_version || mcp_dispatch_start(m) != COG_OK)
		abort();
	return m;
}

/* The name of the first tool listed, or "t". */
static char *first_tool(const char *list)
{
	cJSON *tools = NULL;
	char *name = NULL;
	if (list && cog_json_parse(&tools, list, "tools") == COG_OK) {
		const char *n = cog_json_get_string(cJSON_GetArrayItem(tools, 0), "name");
		name = n ? cog__strdup(n) : NULL;
	}
	cJSON_Delete(tools);
	return name ? name : cog__strdup("t");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fake_server s;
	memset(&s, 0, sizeof(s));
	const char *text = (const char *)data, *end = text + size;
	const char *nl = memchr(text, '\n', size);
	s.answer = text;
	s.answer_len = nl ? (size_t)(nl - text) : size;
	for (const char *p = nl ? nl + 1 : end; p < end && s.count < MAX_LINES;) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		if (!e)
			e = end;
		s.lines[s.count] = p;
		s.lens[s.count++] = (size_t)(e - p);
		p = e + 1;
	}

	cog_mcp *m = fake_connection(&s);
	char *json = NULL;
	if (cog_mcp_list_tools(m, &json) == COG_OK) {
		char *tool = first_tool(json);
		cog_free(json);
		json = NULL;
		if (cog_mcp_define_tools(m, NULL, 0) == COG_OK) {
			if (cog_mcp_call_tool(m, tool, "{}", 0, &json) == COG_OK ||
			    json) {
				cog_free(json);
				json = NULL;
			}
		}
		cog_free(tool);
	}
	if (cog_mcp_list_resources(m, &json) == COG_OK)
		cog_free(json);
	json = NULL;
	if (cog_mcp_list_prompts(m, &json) == COG_OK)
		cog_free(json);
	json = NULL;
	if (cog_mcp_server_info(m, &json) == COG_OK)
		cog_free(json);
	cog_mcp_close(m);
	return 0;
}
