/*
 * What the server sends. Responses go straight to their waiters (rpc.c),
 * from whichever thread the transport reads on. Notifications and the
 * server's requests go through a bounded queue to one dispatch thread
 * (dispatch.c), so that a slow hook or handler never holds up responses,
 * and so that a server flooding us is slowed down: mcp_receive() blocks
 * while the queue is full, which stops the transport reading (the pipe or
 * the stream fills and the server's writes block), until room comes or the
 * transport stops. A sending thread fed the answer of its own request
 * (HTTP) waits only until its deadline (mcp_receive_until), and the
 * dispatch thread never waits, since only it frees room: what does not fit
 * is then dropped with a warning.
 */
#include <stdio.h>
#include <time.h>

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

#define SLICE_MS 50

/* Wait for room until deadline_ns (0: none), in slices; under m->lock.
 * COG_OK when there is room or the message is to be dropped silently
 * (closing), else why not: COG_ETIMEOUT, COG_ECANCELED (ctx canceled,
 * transport stopping), COG_EBUSY (the dispatcher's own thread, which
 * never waits: only it frees room). */
static int wait_room_locked(cog_mcp *m, uint64_t deadline_ns)
{
	if (m->dispatcher_started && pthread_equal(pthread_self(), m->dispatcher))
		return m->queue_len >= MCP_QUEUE_MAX ? COG_EBUSY : COG_OK;
	while (m->queue_len >= MCP_QUEUE_MAX && !m->closing && !m->dispatcher_stop) {
		if (m->transport_stopping)
			return COG_ECANCELED;
		if (deadline_ns == 0) {
			pthread_cond_wait(&m->queue_room, &m->lock);
			continue;
		}
		if (cog_ctx_is_canceled(m->ctx))
			return COG_ECANCELED;
		uint64_t now = cog_clock_mono_ns();
		if (now >= deadline_ns)
			return COG_ETIMEOUT;
		uint64_t left = deadline_ns - now;
		uint64_t slice = left < (uint64_t)SLICE_MS * 1000000u ? left :
			(uint64_t)SLICE_MS * 1000000u;
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += (time_t)(slice / 1000000000u);
		until.tv_nsec += (long)(slice % 1000000000u);
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&m->queue_room, &m->lock, &until);
	}
	return COG_OK;
}

/* Queue msg (consumed) for the dispatcher, waiting for room until
 * deadline_ns (0: as long as the transport runs). */
static int enqueue(cog_mcp *m, cJSON *msg, uint64_t deadline_ns)
{
	mcp_queued *q = cog__calloc(1, sizeof(*q));
	if (!q) {
		cJSON_Delete(msg);
		return cog__oom("mcp receive");
	}
	q->msg = msg;
	pthread_mutex_lock(&m->lock);
	int why = wait_room_locked(m, deadline_ns);
	/* A transport being stopped waits for this thread (its reader) while
	 * the dispatcher may wait for the stop: what it still reads of a
	 * server going away is dropped when there is no room. */
	bool closed = m->closing || m->dispatcher_stop;
	if (closed || why != 0) {
		pthread_mutex_unlock(&m->lock);
		cJSON_Delete(msg);
		cog_free(q);
		if (closed)
			return COG_OK;
		const char *what = why == COG_EBUSY ? "the dispatch thread itself "
			"received it" : why == COG_ETIMEOUT ? "no room came before the "
			"deadline" : "the transport stops or the ctx was canceled";
		mcp_log(m, COG_LOG_WARN, NULL, "mcp: server \"%s\": a message dropped, "
			"the dispatch queue is full (%d) and %s", m->cfg.name,
			MCP_QUEUE_MAX, what);
		int rc = why == COG_ECANCELED ? COG_ECANCELED : COG_ETIMEOUT;
		return cog__error(rc, "server \"%s\": a message dropped: the dispatch "
			"queue is full and %s", m->cfg.name, what);
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

static int receive_one(cog_mcp *m, cJSON *msg, uint64_t deadline_ns)
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
		return enqueue(m, msg, deadline_ns);
	default:
		log_bad(m, msg, "a message that is not JSON-RPC 2.0");
		cJSON_Delete(msg);
		return cog__error(COG_EPROTO, "server \"%s\" sent a message that is not "
			"JSON-RPC 2.0", m->cfg.name);
	}
}

static int receive(cog_mcp *m, cJSON *msg, uint64_t deadline_ns)
{
	if (!msg)
		return COG_OK;
	if (!cJSON_IsArray(msg))
		return receive_one(m, msg, deadline_ns);
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
			one = receive_one(m, item, deadline_ns);
		}
		if (one != 0 && rc == 0)
			rc = one;
	}
	cJSON_Delete(msg);
	return rc;
}

int mcp_receive(cog_mcp *m, cJSON *msg)
{
	return receive(m, msg, 0);
}

int mcp_receive_until(cog_mcp *m, cJSON *msg, uint64_t deadline_ns)
{
	/* 0 would mean no deadline: one already past. */
	return receive(m, msg, deadline_ns ? deadline_ns : 1);
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
static int receive_parsed(cog_mcp *m, const char *text, size_t len,
                          uint64_t deadline_ns)
{
	cJSON *msg = cJSON_ParseWithLengthOpts(text, len, NULL, false);
	if (!msg) {
		mcp_log(m, COG_LOG_WARN, NULL, "mcp: out of memory reading a %zu-byte "
			"message from server \"%s\" (dropped)", len, m->cfg.name);
		return cog__error(COG_ENOMEM, "message from server \"%s\": out of memory "
			"building the JSON of a valid %zu-byte message", m->cfg.name, len);
	}
	return receive(m, msg, deadline_ns);
}

int mcp_receive_valid(cog_mcp *m, const char *text, size_t len)
{
	if (len > m->cfg.max_message_bytes)
		return too_big(m, len);
	return receive_parsed(m, text, len, 0);
}

static int receive_text(cog_mcp *m, const char *text, size_t len,
                        uint64_t deadline_ns)
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
	return receive_parsed(m, text, len, deadline_ns);
}

int mcp_receive_text(cog_mcp *m, const char *text, size_t len)
{
	return receive_text(m, text, len, 0);
}

int mcp_receive_text_until(cog_mcp *m, const char *text, size_t len,
                           uint64_t deadline_ns)
{
	return receive_text(m, text, len, deadline_ns ? deadline_ns : 1);
}
