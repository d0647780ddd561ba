/*
 * What we send: every message goes through mcp_send, to the transport of
 * one generation only (a message meant for a server a restart replaced is
 * not sent, nor a request already failed), never during a stop; each send
 * is numbered (m->send_seq: an error with id null is given to the one
 * request pending only when nothing was sent after it, rpc_errors.c). The
 * messages: requests (their waiters are rpc.c's), notifications (to a
 * connection up, or the handshake's notifications/initialized) and the
 * responses to server requests (dispatch.c).
 */
#include <string.h>

#include "mcp_int.h"

static uint64_t deadline_after(unsigned int ms)
{
	return cog_clock_mono_ns() + (uint64_t)ms * 1000000u;
}

/* Under m->lock: why a message for transport `gen` (and waiter p) must
 * not go (COG_EUNAVAILABLE, message set), else 0 and its sequence number
 * taken. */
static int may_send_locked(cog_mcp *m, unsigned int gen, mcp_pending *p)
{
	if (m->transport_stopping)
		return cog__error(COG_EUNAVAILABLE, "server \"%s\": the %s transport "
			"is stopping", m->cfg.name, m->ops->kind);
	if (m->generation != gen)
		return cog__error(COG_EUNAVAILABLE, "server \"%s\": the %s it was meant "
			"for was replaced by a restart (not sent)", m->cfg.name,
			m->ops == &mcp_stdio_ops ? "process" : "session");
	if (p && p->done)
		return cog__error(COG_EUNAVAILABLE, "server \"%s\": the request failed "
			"before it was sent: %s", m->cfg.name, p->why ? p->why :
			"the server went away");
	m->send_seq++;
	if (p)
		p->send_seq = m->send_seq;
	return COG_OK;
}

int mcp_send(cog_mcp *m, const char *json, size_t len, int what, int64_t id,
             uint64_t deadline_ns, unsigned int generation, mcp_pending *p)
{
	/* Not even a wait for the read lock during a stop: it prefers
	 * readers, so new sends would keep the stop waiting. */
	pthread_mutex_lock(&m->lock);
	bool stopping = m->transport_stopping;
	pthread_mutex_unlock(&m->lock);
	if (stopping)
		return cog__error(COG_EUNAVAILABLE, "server \"%s\": the %s transport "
			"is stopping", m->cfg.name, m->ops->kind);
	/* Read-locked: a start or stop (conn.c) waits for us, and we for it;
	 * the generation cannot change while we hold it. */
	pthread_rwlock_rdlock(&m->life);
	pthread_mutex_lock(&m->lock);
	int rc = may_send_locked(m, generation, p);
	pthread_mutex_unlock(&m->lock);
	if (rc == 0)
		rc = m->transport ? m->ops->send(m, json, len, what, id, deadline_ns) :
			cog__error(COG_EUNAVAILABLE, "server \"%s\": the %s transport is "
				"stopped", m->cfg.name, m->ops->kind);
	pthread_rwlock_unlock(&m->life);
	return rc;
}

static int send_message(cog_mcp *m, cJSON *msg, int what, int64_t id,
                        uint64_t deadline_ns, const char *method,
                        unsigned int gen, mcp_pending *p)
{
	char *text = cog_json_print(msg);
	cJSON_Delete(msg);
	if (!text)
		return cog__oom(method);
	int rc = mcp_send(m, text, strlen(text), what, id, deadline_ns, gen, p);
	cog_free(text);
	return rc;
}

/* The generation of the transport up now (or, for the handshake, the
 * one just started); COG_EUNAVAILABLE when the connection is not up. */
static int up_generation(cog_mcp *m, const char *method, bool handshake,
                         unsigned int *gen)
{
	pthread_mutex_lock(&m->lock);
	int rc = COG_OK;
	bool up = handshake ? !m->down_reason : m->connected && !m->down_reason;
	if (m->closing)
		rc = cog__error(COG_ECANCELED, "%s: the connection to server \"%s\" was "
			"closed", method, m->cfg.name);
	else if (!up)
		rc = cog__error(COG_EUNAVAILABLE, "%s: server \"%s\" is %s%s", method,
			m->cfg.name, m->down_reason ? "down: " : "not initialized",
			m->down_reason ? m->down_reason : "");
	*gen = m->generation;
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static cJSON *envelope(void)
{
	cJSON *msg = cJSON_CreateObject();
	if (msg && cog_json_add_string(msg, "jsonrpc", "2.0") != 0) {
		cJSON_Delete(msg);
		return NULL;
	}
	return msg;
}

/* Take params (may be NULL) into msg. */
static bool add_params(cJSON *msg, cJSON *params)
{
	if (!params)
		return true;
	if (!cJSON_AddItemToObject(msg, "params", params)) {
		cJSON_Delete(params);
		return false;
	}
	return true;
}

int mcp_notify_to(cog_mcp *m, unsigned int gen, const char *method,
                  cJSON *params)
{
	cJSON *msg = envelope();
	if (!msg || cog_json_add_string(msg, "method", method) != 0) {
		cJSON_Delete(msg);
		cJSON_Delete(params);
		return cog__oom(method);
	}
	if (!add_params(msg, params)) {
		cJSON_Delete(msg);
		return cog__oom(method);
	}
	return send_message(m, msg, MCP_SEND_NOTIFICATION, 0,
	                    deadline_after(m->cfg.timeout_ms), method, gen, NULL);
}

int mcp_notify(cog_mcp *m, const char *method, cJSON *params)
{
	unsigned int gen;
	int rc = up_generation(m, method, false, &gen);
	if (rc != 0) {
		cJSON_Delete(params);
		return rc;
	}
	return mcp_notify_to(m, gen, method, params);
}

int mcp_notify_initialized(cog_mcp *m)
{
	const char *method = "notifications/initialized";
	unsigned int gen;
	int rc = up_generation(m, method, true, &gen);
	return rc != 0 ? rc : mcp_notify_to(m, gen, method, NULL);
}

int mcp_respond(cog_mcp *m, unsigned int generation, const cJSON *id,
                cJSON *result, int code, const char *message)
{
	cJSON *msg = envelope();
	cJSON *id_copy = id ? cJSON_Duplicate(id, true) : cJSON_CreateNull();
	bool ok = msg && id_copy && cJSON_AddItemToObject(msg, "id", id_copy);
	if (!ok)
		cJSON_Delete(id_copy);
	if (ok && result) {
		ok = cJSON_AddItemToObject(msg, "result", result);
		if (!ok)
			cJSON_Delete(result);
		result = NULL;
	} else if (ok) {
		cJSON *error = cJSON_AddObjectToObject(msg, "error");
		ok = error && cog_json_add_number(error, "code", code) == 0 &&
			cog_json_add_string(error, "message", message ? message : "") == 0;
	}
	cJSON_Delete(result);
	if (!ok) {
		cJSON_Delete(msg);
		return cog__oom("mcp response");
	}
	return send_message(m, msg, MCP_SEND_RESPONSE, 0,
	                    deadline_after(m->cfg.timeout_ms), "mcp response",
	                    generation, NULL);
}

static cJSON *request_message(const char *method, cJSON *params, int64_t id,
                              const char *progress_token)
{
	cJSON *msg = envelope();
	if (!msg || cog_json_add_number(msg, "id", (double)id) != 0 ||
	    cog_json_add_string(msg, "method", method) != 0) {
		cJSON_Delete(msg);
		cJSON_Delete(params);
		return NULL;
	}
	if (progress_token) {
		if (!params)
			params = cJSON_CreateObject();
		cJSON *meta = params ? cJSON_GetObjectItemCaseSensitive(params, "_meta") : NULL;
		if (params && !cJSON_IsObject(meta)) {
			cJSON_DeleteItemFromObjectCaseSensitive(params, "_meta");
			meta = cJSON_AddObjectToObject(params, "_meta");
		}
		if (meta) {
			cJSON_DeleteItemFromObjectCaseSensitive(meta, "progressToken");
			if (cog_json_add_string(meta, "progressToken", progress_token) != 0)
				meta = NULL;
		}
		if (!meta) {
			cJSON_Delete(params);
			cJSON_Delete(msg);
			return NULL;
		}
	}
	if (!add_params(msg, params)) {
		cJSON_Delete(msg);
		return NULL;
	}
	return msg;
}

int mcp_send_request(cog_mcp *m, mcp_pending *p, const char *method,
                     cJSON *params, const char *progress_token,
                     uint64_t deadline_ns)
{
	cJSON *msg = request_message(method, params, p->id, progress_token);
	if (!msg)
		return cog__oom(method);
	return send_message(m, msg, MCP_SEND_REQUEST, p->id, deadline_ns, method,
	                    p->generation, p);
}
