/*
 * The dispatch thread: the notifications and requests of the server that
 * receive.c queued, one at a time, in order. Logging → the log hook,
 * progress → "mcp.progress" events, list_changed → a tools refresh, other
 * notifications → "mcp.notification" events; requests → ping answered,
 * the host's on_request handler, or "not supported". Messages of a
 * transport a restart replaced (an older generation) are dropped.
 */
#include <string.h>

#include "mcp_int.h"

static int mcp_level(const char *level)
{
	if (!level)
		return COG_LOG_INFO;
	if (strcmp(level, "debug") == 0)
		return COG_LOG_DEBUG;
	if (strcmp(level, "info") == 0 || strcmp(level, "notice") == 0)
		return COG_LOG_INFO;
	if (strcmp(level, "warning") == 0)
		return COG_LOG_WARN;
	return COG_LOG_ERROR;   /* error, critical, alert, emergency, unknown */
}

static void emit_event(cog_mcp *m, const char *type, cJSON *data)
{
	if (!cog__ctx_has_event_hook(m->ctx)) {
		cJSON_Delete(data);
		return;
	}
	cog__event(m->ctx, type, data);
}

static bool move_member(cJSON *to, const char *name, cJSON *from, const char *from_name)
{
	cJSON *v = from ? cJSON_DetachItemFromObjectCaseSensitive(from, from_name) : NULL;
	if (!v)
		return true;
	if (!cJSON_AddItemToObject(to, name, v)) {
		cJSON_Delete(v);
		return false;
	}
	return true;
}

static void on_progress(cog_mcp *m, cJSON *params)
{
	if (!cog__ctx_has_event_hook(m->ctx))
		return;
	cJSON *data = cJSON_CreateObject();
	if (!data || cog_json_add_string(data, "server", m->cfg.name) != 0 ||
	    !move_member(data, "progressToken", params, "progressToken") ||
	    !move_member(data, "progress", params, "progress") ||
	    !move_member(data, "total", params, "total") ||
	    !move_member(data, "message", params, "message")) {
		cJSON_Delete(data);
		return;
	}
	emit_event(m, "mcp.progress", data);
}

static void on_other_notification(cog_mcp *m, const char *method, cJSON *msg)
{
	if (!cog__ctx_has_event_hook(m->ctx))
		return;
	cJSON *data = cJSON_CreateObject();
	if (!data || cog_json_add_string(data, "server", m->cfg.name) != 0 ||
	    cog_json_add_string(data, "method", method) != 0 ||
	    !move_member(data, "params", msg, "params")) {
		cJSON_Delete(data);
		return;
	}
	if (!cJSON_HasObjectItem(data, "params") && !cJSON_AddNullToObject(data, "params")) {
		cJSON_Delete(data);
		return;
	}
	emit_event(m, "mcp.notification", data);
}

static void on_log_message(cog_mcp *m, cJSON *params)
{
	const char *level = cog_json_get_string(params, "level");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(params, "data");
	char *printed = data && !cJSON_IsString(data) ? cog_json_print(data) : NULL;
	char *text = cog__strdup(cJSON_IsString(data) ? data->valuestring :
		printed ? printed : "");
	cog_free(printed);
	int cog_level = mcp_level(level);
	cJSON *fields = cJSON_CreateObject();
	if (fields && (!move_member(fields, "logger", params, "logger") ||
	               !move_member(fields, "data", params, "data"))) {
		cJSON_Delete(fields);
		fields = NULL;
	}
	mcp_log(m, cog_level, fields, "%s", text ? text : "(a log message)");
	cog_free(text);
}

static void on_notification(cog_mcp *m, const char *method, cJSON *msg, bool stopping)
{
	cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
	if (strcmp(method, "notifications/message") == 0)
		on_log_message(m, params);
	else if (strcmp(method, "notifications/progress") == 0)
		on_progress(m, params);
	else if (strcmp(method, "notifications/tools/list_changed") != 0)
		on_other_notification(m, method, msg);
	else if (!stopping)
		mcp_tools_changed(m);
}

/* The host's handler for a server request; 0 with *result, or a JSON-RPC
 * error code and *message (cog_malloc). */
static int ask_host(cog_mcp *m, const char *method, const cJSON *params,
                    cJSON **result, char **message)
{
	*result = NULL;
	*message = NULL;
	char *params_text = params ? cog_json_print(params) : NULL;
	if (params && !params_text) {
		*message = cog__strdup("out of memory");
		return MCP_INTERNAL_ERROR;
	}
	char *answer = NULL;
	cog_error_clear();
	int rc = m->cfg.on_request(method, params_text, &answer, m->cfg.request_user_data);
	cog_free(params_text);
	if (rc != 0) {
		cog_free(answer);
		const char *why = cog_error_last();
		if (!why || !why[0])
			why = cog_strerror(rc);
		*message = cog__strdup(why);
		return rc == COG_ENOTFOUND ? MCP_METHOD_NOT_FOUND : MCP_INTERNAL_ERROR;
	}
	cJSON *parsed = answer ? cJSON_Parse(answer) : NULL;
	cog_free(answer);
	if (!cJSON_IsObject(parsed)) {
		cJSON_Delete(parsed);
		*message = cog__strdup("the client's request handler returned something "
			"that is not a JSON object");
		mcp_log(m, COG_LOG_WARN, NULL, "mcp: the request handler's answer to %s "
			"from server \"%s\" is not a JSON object", method, m->cfg.name);
		return MCP_INTERNAL_ERROR;
	}
	*result = parsed;
	return 0;
}

/* Whether messages of generation gen still belong to the running
 * transport (a restart started another since). */
static bool current(cog_mcp *m, unsigned int gen)
{
	pthread_mutex_lock(&m->lock);
	bool same = m->generation == gen;
	pthread_mutex_unlock(&m->lock);
	return same;
}

static void on_request(cog_mcp *m, const char *method, cJSON *msg,
                       unsigned int gen)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
	cJSON *result = NULL;
	char *message = NULL;
	int code = 0;
	if (strcmp(method, "ping") == 0) {
		result = cJSON_CreateObject();
		code = result ? 0 : MCP_INTERNAL_ERROR;
	} else if (m->cfg.on_request) {
		code = ask_host(m, method, params, &result, &message);
	} else {
		code = MCP_METHOD_NOT_FOUND;
		cog_buf b = COG_BUF_INIT;
		cog_buf_printf(&b, "%s is not supported by this client", method);
		message = cog_buf_detach(&b);
	}
	if (!current(m, gen)) {
		/* The server that asked was replaced while the handler ran. */
		mcp_log(m, COG_LOG_DEBUG, NULL, "mcp: the answer to %s of a previous "
			"server \"%s\" process or session is dropped", method, m->cfg.name);
		cJSON_Delete(result);
		cog_free(message);
		return;
	}
	/* mcp_respond checks the generation again, under the transport's
	 * read lock: a restart after this check is caught there. */
	int rc = mcp_respond(m, gen, id, code == 0 ? result : NULL, code,
	                     message ? message : "internal error");
	if (code != 0)
		cJSON_Delete(result);
	if (rc != 0)
		mcp_log(m, COG_LOG_DEBUG, NULL, "mcp: could not answer %s of server "
			"\"%s\": %s", method, m->cfg.name, cog_error_last());
	cog_free(message);
}

static void dispatch(cog_mcp *m, cJSON *msg, bool stopping, unsigned int gen,
                     bool stale)
{
	const char *method = cog_json_get_string(msg, "method");
	if (!method)
		return;
	if (stale) {
		/* From a process (or session) a restart replaced: answering it
		 * would reach the new one with ids it never issued. */
		mcp_log(m, COG_LOG_DEBUG, NULL, "mcp: %s from a previous server \"%s\" "
			"process or session (dropped)", method, m->cfg.name);
		return;
	}
	if (!cJSON_HasObjectItem(msg, "id"))
		on_notification(m, method, msg, stopping);
	else if (!stopping)
		on_request(m, method, msg, gen);
}

static void *dispatch_main(void *arg)
{
	cog_mcp *m = arg;
	pthread_mutex_lock(&m->lock);
	for (;;) {
		while (!m->queue_head && !m->dispatcher_stop)
			pthread_cond_wait(&m->queue_items, &m->lock);
		mcp_queued *q = m->queue_head;
		if (!q)
			break;   /* stopping and drained */
		m->queue_head = q->next;
		if (!m->queue_head)
			m->queue_tail = NULL;
		/* Only a full queue has readers waiting for room. */
		if (m->queue_len-- >= MCP_QUEUE_MAX)
			pthread_cond_broadcast(&m->queue_room);
		bool stopping = m->dispatcher_stop || m->closing;
		bool stale = q->generation != m->generation;
		pthread_mutex_unlock(&m->lock);
		dispatch(m, q->msg, stopping, q->generation, stale);
		cJSON_Delete(q->msg);
		cog_free(q);
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int mcp_dispatch_start(cog_mcp *m)
{
	pthread_mutex_lock(&m->lock);
	m->dispatcher_stop = false;
	pthread_mutex_unlock(&m->lock);
	int err = pthread_create(&m->dispatcher, NULL, dispatch_main, m);
	if (err != 0)
		return cog__error(COG_ERROR, "mcp: cannot start the dispatch thread: %s",
			strerror(err));
	m->dispatcher_started = true;
	return COG_OK;
}

void mcp_dispatch_stop(cog_mcp *m)
{
	if (!m->dispatcher_started)
		return;
	pthread_mutex_lock(&m->lock);
	m->dispatcher_stop = true;
	pthread_cond_broadcast(&m->queue_items);
	pthread_cond_broadcast(&m->queue_room);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->dispatcher, NULL);
	m->dispatcher_started = false;
}
