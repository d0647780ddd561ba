/*
 * What a failed request says. A JSON-RPC error answered to a request
 * (its code kept as the thread's last error code, cog_mcp_last_error_code);
 * an error the server sent with id null because it could not read a
 * message of ours: it fails the one waiter when exactly one waits and
 * nothing was sent after its request, else it is kept (m->orphan_error) and told by the requests that then time out;
 * and the messages of a request given up on (timeout, cancel, close).
 */
#include "mcp_int.h"

static _Thread_local int last_error_code;

void mcp_set_last_error_code(int code)
{
	last_error_code = code;
}

int cog_mcp_last_error_code(void)
{
	return last_error_code;
}

/* ---- the answer ---- */

/* The outcome of an answered request. */
int mcp_rpc_take_answer(cog_mcp *m, mcp_pending *p, const char *method,
                        cJSON **result)
{
	if (p->status != 0)
		return cog__error(p->status, "%s: %s", method, p->why ? p->why :
			cog_strerror(p->status));
	if (p->error) {
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(p->error, "code");
		const char *message = cog_json_get_string(p->error, "message");
		if (!cJSON_IsNumber(code))
			return cog__error(COG_EPROTO, "%s: server \"%s\" answered with an "
				"error without an integer code", method, m->cfg.name);
		mcp_set_last_error_code(code->valueint);
		return cog__error(COG_ERROR, "%s: server \"%s\" answered error %d: %s%s",
			method, m->cfg.name, code->valueint, message ? message : "(no message)",
			p->id_null ? " (with id null: it could not read the request, the "
			"only one pending)" : "");
	}
	if (!p->result)
		return cog__error(COG_EPROTO, "%s: server \"%s\" answered without a "
			"result or an error", method, m->cfg.name);
	*result = p->result;
	p->result = NULL;
	return COG_OK;
}

/* ---- errors with id null ---- */

/* "error <code>: <message>" of an error member (cog_malloc), or NULL. */
static char *error_text(const cJSON *error)
{
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(error, "code");
	const char *message = cog_json_get_string(error, "message");
	cog_buf b = COG_BUF_INIT;
	if (cJSON_IsNumber(code))
		cog_buf_printf(&b, "error %d: ", code->valueint);
	else
		cog_buf_puts(&b, "an error without an integer code: ");
	cog_buf_printf(&b, "%.300s", message ? message : "(no message)");
	return cog_buf_detach(&b);
}

void mcp_rpc_resolve_id_null(cog_mcp *m, cJSON *msg)
{
	cJSON *error = cJSON_DetachItemFromObjectCaseSensitive(msg, "error");
	cJSON_Delete(msg);
	char *text = error_text(error);
	pthread_mutex_lock(&m->lock);
	mcp_pending *only = m->pending && !m->pending->next ? m->pending : NULL;
	/* Only when its request was the last thing sent: else the server may
	 * be speaking of a notification or response sent after it. */
	if (only && (only->send_seq == 0 || only->send_seq != m->send_seq))
		only = NULL;
	if (only && cJSON_IsObject(error)) {
		/* It can only be about that one. */
		only->error = error;
		error = NULL;
		only->id_null = true;
		only->done = true;
		mcp_rpc_unlink_locked(m, only);
		pthread_cond_signal(&only->cond);
	} else if (text) {
		cog_free(m->orphan_error);
		m->orphan_error = cog__strdup(text);
		m->orphan_error_next_id = m->next_id;
	}
	pthread_mutex_unlock(&m->lock);
	mcp_log(m, COG_LOG_WARN, NULL, "mcp: server \"%s\" answered %s with id null "
		"(it could not read a request of ours)%s", m->cfg.name,
		text ? text : "an error", only ? "" : "; no single request to fail with it");
	cog_free(text);
	cJSON_Delete(error);
}

/* ---- a request given up on ---- */

char *mcp_rpc_orphan_locked(cog_mcp *m, int64_t id)
{
	return m->orphan_error && id < m->orphan_error_next_id ?
		cog__strdup(m->orphan_error) : NULL;
}

void mcp_rpc_gave_up_error(cog_mcp *m, const char *method, int rc, bool closing,
                           uint64_t start, unsigned int timeout_ms,
                           const char *orphan)
{
	if (rc == COG_ECANCELED && closing) {
		cog__error(rc, "%s: the connection to server \"%s\" was closed",
			method, m->cfg.name);
	} else if (rc == COG_ETIMEOUT || rc == COG_ECANCELED) {
		unsigned int waited = (unsigned int)((cog_clock_mono_ns() - start) / 1000000u);
		const char *reason = rc == COG_ETIMEOUT ? "timed out" : "canceled";
		cog__error(rc, "%s: %s after %u ms (timeout %u ms) waiting for "
			"server \"%s\"%s%s%s", method, reason, waited, timeout_ms,
			m->cfg.name, orphan ? "; meanwhile it answered " : "",
			orphan ? orphan : "", orphan ? " with id null (a request it "
			"could not read, maybe this one)" : "");
	}
}
