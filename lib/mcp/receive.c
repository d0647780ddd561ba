/*
 * What the server sends. Responses go straight to their waiters (rpc.c),
 * from whichever thread the transport reads on. Notifications and the
 * server's requests go through a bounded queue to one dispatch thread
 * (dispatch.c), so that a slow hook or handler never holds up responses,
 * and so that a server flooding us is slowed down: mcp_receive() blocks
 * while the queue is full, which stops the transport reading (the pipe or
 * the stream fills and the server's writes block).
 */
#include <stdio.h>

#include "mcp_int.h"

/* ---- classifying ---- */

enum { KIND_BAD, KIND_RESPONSE, KIND_REQUEST, KIND_NOTIFICATION };

static int classify(const cJSON *msg)
{
	if (!cJSON_IsObject(msg))
		return KIND_BAD;
	const cJSON *method = cJSON_GetObjectItemCaseSensitive(msg, "method");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	bool has_answer = cJSON_HasObjectItem(msg, "result") ||
		cJSON_HasObjectItem(msg, "error");
	if (!method) {
		if (id && has_answer)
			return KIND_RESPONSE;
		return KIND_BAD;
	}
	if (!cJSON_IsString(method) || !method->valuestring[0] || has_answer)
		return KIND_BAD;
	if (!id)
		return KIND_NOTIFICATION;
	return cJSON_IsNumber(id) || cJSON_IsString(id) ? KIND_REQUEST : KIND_BAD;
}

static void log_bad(cog_mcp *m, const cJSON *msg, const char *what)
{
	char *text = cog_json_print(msg);
	mcp_log(m, COG_LOG_WARN, NULL, "mcp: server \"%s\" sent %s (dropped): %.200s",
		m->cfg.name, what, text ? text : "?");
	cog_free(text);
}

static int enqueue(cog_mcp *m, cJSON *msg)
{
	mcp_queued *q = cog__calloc(1, sizeof(*q));
	if (!q) {
		cJSON_Delete(msg);
		return cog__oom("mcp receive");
	}
	q->msg = msg;
	pthread_mutex_lock(&m->lock);
	while (m->queue_len >= MCP_QUEUE_MAX && !m->closing && !m->dispatcher_stop &&
	       !m->transport_stopping)
		pthread_cond_wait(&m->queue_room, &m->lock);
	/* A transport being stopped waits for this thread (its reader) while
	 * the dispatcher may wait for the stop: what it still reads of a
	 * server going away is dropped when there is no room. */
	bool closed = m->closing || m->dispatcher_stop;
	bool full = !closed && m->queue_len >= MCP_QUEUE_MAX;
	if (closed || full) {
		pthread_mutex_unlock(&m->lock);
		if (full)
			log_bad(m, msg, "a message while its transport stops and the queue "
				"is full");
		cJSON_Delete(msg);
		cog_free(q);
		return COG_OK;
	}
	q->generation = m->generation;
	if (m->queue_tail)
		m->queue_tail->next = q;
	else
		m->queue_head = q;
	m->queue_tail = q;
	m->queue_len++;
	pthread_cond_signal(&m->queue_items);   /* the one dispatcher */
	pthread_mutex_unlock(&m->lock);
	return COG_OK;
}

static int receive_one(cog_mcp *m, cJSON *msg)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	switch (classify(msg)) {
	case KIND_RESPONSE:
		if (cJSON_IsNull(id)) {
			/* The server could not read something we sent. */
			if (!cJSON_HasObjectItem(msg, "error")) {
				log_bad(m, msg, "a result for id null");
				cJSON_Delete(msg);
				return COG_OK;
			}
			mcp_rpc_resolve_id_null(m, msg);
			return COG_OK;
		}
		mcp_rpc_resolve(m, msg);
		return COG_OK;
	case KIND_REQUEST:
	case KIND_NOTIFICATION:
		return enqueue(m, msg);
	default:
		log_bad(m, msg, "a message that is not JSON-RPC 2.0");
		cJSON_Delete(msg);
		return cog__error(COG_EPROTO, "server \"%s\" sent a message that is not "
			"JSON-RPC 2.0", m->cfg.name);
	}
}

int mcp_receive(cog_mcp *m, cJSON *msg)
{
	if (!msg)
		return COG_OK;
	if (!cJSON_IsArray(msg))
		return receive_one(m, msg);
	int rc = COG_OK;
	if (cJSON_GetArraySize(msg) == 0) {
		log_bad(m, msg, "an empty batch");
		rc = cog__error(COG_EPROTO, "server \"%s\" sent an empty batch",
			m->cfg.name);
	}
	while (msg->child) {
		cJSON *item = cJSON_DetachItemViaPointer(msg, msg->child);
		int one = cJSON_IsArray(item) ? COG_EPROTO : COG_OK;
		if (one != 0) {
			log_bad(m, item, "a batch inside a batch");
			cJSON_Delete(item);
		} else {
			one = receive_one(m, item);
		}
		if (one != 0 && rc == 0)
			rc = one;
	}
	cJSON_Delete(msg);
	return rc;
}

static int too_big(cog_mcp *m, size_t len)
{
	mcp_log(m, COG_LOG_WARN, NULL, "mcp: server \"%s\" sent a message of %zu "
		"bytes, over the limit of %zu (dropped)", m->cfg.name, len,
		m->cfg.max_message_bytes);
	return cog__error(COG_EPROTO, "server \"%s\" sent a message of %zu bytes "
		"(limit %zu)", m->cfg.name, len, m->cfg.max_message_bytes);
}

/* Build the JSON of valid text (checked by cog_json_validate: no deeper
 * than cJSON's nesting limit, so cJSON fails on it only for want of
 * memory) and receive it. */
static int receive_parsed(cog_mcp *m, const char *text, size_t len)
{
	cJSON *msg = cJSON_ParseWithLengthOpts(text, len, NULL, false);
	if (!msg) {
		mcp_log(m, COG_LOG_WARN, NULL, "mcp: out of memory reading a %zu-byte "
			"message from server \"%s\" (dropped)", len, m->cfg.name);
		return cog__error(COG_ENOMEM, "message from server \"%s\": out of memory "
			"building the JSON of a valid %zu-byte message", m->cfg.name, len);
	}
	return mcp_receive(m, msg);
}

int mcp_receive_valid(cog_mcp *m, const char *text, size_t len)
{
	if (len > m->cfg.max_message_bytes)
		return too_big(m, len);
	return receive_parsed(m, text, len);
}

int mcp_receive_text(cog_mcp *m, const char *text, size_t len)
{
	if (len > m->cfg.max_message_bytes)
		return too_big(m, len);
	char what[80];
	snprintf(what, sizeof(what), "message from server \"%s\"", m->cfg.name);
	int rc = cog_json_validate(text, len, what);
	if (rc != 0) {
		char *start = cog_utf8_lossy(text, len < 120 ? len : 120);
		mcp_log(m, COG_LOG_WARN, NULL, "mcp: server \"%s\" sent something that is "
			"not JSON (dropped): %s%s", m->cfg.name, start ? start : "?",
			len > 120 ? "..." : "");
		cog_free(start);
		return rc == COG_EINVAL ? cog__error(COG_EPROTO, "%s", cog_error_last()) : rc;
	}
	return receive_parsed(m, text, len);
}
