/*
 * JSON-RPC requests and their waiters. Ids are integers from 1; a waiter is
 * registered in m->pending before its request is sent (the answer may come
 * before send returns: HTTP answers in the POST, and a fast stdio server
 * beats the writer). Each waiter has a condition variable of its own,
 * signalled only for its answer or its failure (and by close): an answer
 * wakes its caller and no one else. Waiting is in slices of at most 50 ms
 * so that cog_ctx_cancel() and cog_mcp_close() are seen promptly; a
 * request given up on (timeout, cancel) is announced to the server with
 * notifications/cancelled (never for initialize). A request is registered
 * only while the connection is up (or for the handshake's initialize) and
 * remembers the transport generation it was registered under: it goes to
 * that server or to none (rpc_send.c). What a failed request says (the error answered, id null errors, timeout
 * and cancel messages) and the thread's last JSON-RPC error code are
 * rpc_errors.c's.
 */
#include <string.h>
#include <time.h>

#include "mcp_int.h"

#define SLICE_MS 50

/* ---- the pending list (under m->lock) ---- */

void mcp_rpc_unlink_locked(cog_mcp *m, mcp_pending *p)
{
	for (mcp_pending **pp = &m->pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			p->next = NULL;
			return;
		}
	}
}

static void pending_free(mcp_pending *p)
{
	if (!p)
		return;
	cJSON_Delete(p->result);
	cJSON_Delete(p->error);
	cog_free(p->why);
	pthread_cond_destroy(&p->cond);
	cog_free(p);
}

void mcp_rpc_wake_all_locked(cog_mcp *m)
{
	for (mcp_pending *p = m->pending; p; p = p->next)
		pthread_cond_signal(&p->cond);
}

void mcp_rpc_fail_all_locked(cog_mcp *m, int status, const char *why)
{
	while (m->pending) {
		mcp_pending *p = m->pending;
		m->pending = p->next;
		p->next = NULL;
		p->done = true;
		p->status = status;
		cog_free(p->why);
		p->why = cog__strdup(why ? why : cog_strerror(status));
		pthread_cond_signal(&p->cond);
	}
}

void mcp_rpc_resolve(cog_mcp *m, cJSON *msg)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	bool found = false;
	if (cJSON_IsNumber(id)) {
		pthread_mutex_lock(&m->lock);
		for (mcp_pending *p = m->pending; p; p = p->next) {
			if ((double)p->id != id->valuedouble)
				continue;
			p->result = cJSON_DetachItemFromObjectCaseSensitive(msg, "result");
			p->error = cJSON_DetachItemFromObjectCaseSensitive(msg, "error");
			p->done = true;
			mcp_rpc_unlink_locked(m, p);
			if (m->connected)
				m->session_answered = true;
			pthread_cond_signal(&p->cond);
			found = true;
			break;
		}
		pthread_mutex_unlock(&m->lock);
	}
	if (!found) {
		/* Typically the answer to a request we gave up on. */
		char *text = cJSON_IsNumber(id) || cJSON_IsString(id) ? cog_json_print(id) : NULL;
		mcp_log(m, COG_LOG_DEBUG, NULL, "mcp: response to id %s, which no one "
			"waits for (dropped)", text ? text : "(none)");
		cog_free(text);
	}
	cJSON_Delete(msg);
}

/* notifications/cancelled for a request we stop waiting for; its failure
 * changes nothing for the caller (whose error is kept). */
static void send_cancelled(cog_mcp *m, const mcp_pending *p, const char *reason)
{
	int64_t id = p->id;
	cog_buf saved = COG_BUF_INIT;
	cog_buf_puts(&saved, cog_error_last());
	int code = cog_error_last_code();
	cJSON *params = cJSON_CreateObject();
	if (params && (cog_json_add_number(params, "requestId", (double)id) != 0 ||
	               cog_json_add_string(params, "reason", reason) != 0)) {
		cJSON_Delete(params);
		params = NULL;
	}
	/* Only to the server that got the request. */
	if (params && mcp_notify_to(m, p->generation, "notifications/cancelled",
	                            params) != 0)
		mcp_log(m, COG_LOG_DEBUG, NULL, "mcp: could not send "
			"notifications/cancelled for request %lld: %s", (long long)id,
			cog_error_last());
	cog__error(code, "%s", saved.ptr ? saved.ptr : "");
	cog_buf_dispose(&saved);
}

/* ---- requests ---- */

static struct timespec mono_after_ms(unsigned int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* Wait for p under m->lock; 0 when done, else COG_ETIMEOUT/COG_ECANCELED
 * (p is then still linked). */
static int wait_locked(cog_mcp *m, mcp_pending *p, uint64_t deadline_ns)
{
	while (!p->done) {
		if (m->closing)
			return COG_ECANCELED;
		if (cog_ctx_is_canceled(m->ctx))
			return COG_ECANCELED;
		uint64_t now = cog_clock_mono_ns();
		if (now >= deadline_ns)
			return COG_ETIMEOUT;
		uint64_t left_ms = (deadline_ns - now + 999999u) / 1000000u;
		struct timespec until = mono_after_ms(left_ms < SLICE_MS ?
		                                      (unsigned int)left_ms : SLICE_MS);
		pthread_cond_timedwait(&p->cond, &m->lock, &until);
	}
	return COG_OK;
}

static int request_raw(cog_mcp *m, const char *method, cJSON *params,
                       unsigned int timeout_ms, const char *progress_token,
                       bool handshake, cJSON **result)
{
	mcp_set_last_error_code(0);
	if (timeout_ms == 0)
		timeout_ms = m->cfg.timeout_ms;
	uint64_t start = cog_clock_mono_ns();
	uint64_t deadline = start + (uint64_t)timeout_ms * 1000000u;
	mcp_pending *p = cog__calloc(1, sizeof(*p));
	if (!p) {
		cJSON_Delete(params);
		return cog__oom(method);
	}
	p->progress_token = progress_token;
	if (pthread_cond_init(&p->cond, &m->cond_attr) != 0) {
		cJSON_Delete(params);
		cog_free(p);
		return cog__error(COG_ERROR, "%s: pthread_cond_init failed", method);
	}

	if (cog_ctx_is_canceled(m->ctx)) {
		cJSON_Delete(params);
		pending_free(p);
		return cog__error(COG_ECANCELED, "%s: canceled before it was sent", method);
	}
	pthread_mutex_lock(&m->lock);
	/* Up (initialized) and not failed since, or the handshake's own
	 * initialize: a request never reaches a server before its initialize. */
	bool up = handshake ? !m->down_reason : m->connected && !m->down_reason;
	if (m->closing || !up) {
		int rc = m->closing ?
			cog__error(COG_ECANCELED, "%s: the connection to server \"%s\" was "
				"closed", method, m->cfg.name) :
			cog__error(COG_EUNAVAILABLE, "%s: server \"%s\" is %s%s", method,
				m->cfg.name, m->down_reason ? "down: " : "not initialized",
				m->down_reason ? m->down_reason : "");
		pthread_mutex_unlock(&m->lock);
		cJSON_Delete(params);
		pending_free(p);
		return rc;
	}
	p->generation = m->generation;
	p->id = m->next_id++;
	p->next = m->pending;
	m->pending = p;
	pthread_mutex_unlock(&m->lock);

	int rc = mcp_send_request(m, p, method, params, progress_token, deadline);

	bool send_failed = false;
	pthread_mutex_lock(&m->lock);
	if (rc == 0 || p->done) {
		rc = wait_locked(m, p, deadline);
	} else {
		cog__error_wrap(rc, "%s", method);
		send_failed = true;
	}
	/* Answered (or failed by the transport) while we stopped waiting:
	 * the answer counts and nothing is cancelled. */
	bool give_up = !p->done;
	if (give_up)
		mcp_rpc_unlink_locked(m, p);
	bool closing = m->closing;
	/* An error the server sent with id null since this was sent. */
	char *orphan = give_up && rc == COG_ETIMEOUT ?
		mcp_rpc_orphan_locked(m, p->id) : NULL;
	pthread_mutex_unlock(&m->lock);

	if (give_up) {
		/* After a failed send its own message stays. */
		if (!send_failed)
			mcp_rpc_gave_up_error(m, method, rc, closing, start, timeout_ms,
			                      orphan);
		cog_free(orphan);
		if (rc == COG_ETIMEOUT || rc == COG_ECANCELED) {
			/* The spec: initialize is never cancelled (the connect
			 * fails and the transport stops); a closing connection
			 * says nothing more. */
			if (!closing && strcmp(method, "initialize") != 0)
				send_cancelled(m, p, rc == COG_ETIMEOUT ?
					"the client's timeout was reached" : "canceled by the client");
		}
		pending_free(p);
		return rc;
	}
	rc = mcp_rpc_take_answer(m, p, method, result);
	pending_free(p);
	return rc;
}

/* A reference for the while: a cog_mcp_close() that fails this request
 * may otherwise free the connection before the caller has said why. */
int mcp_request_raw(cog_mcp *m, const char *method, cJSON *params,
                    unsigned int timeout_ms, const char *progress_token,
                    cJSON **result)
{
	*result = NULL;
	mcp_ref(m);
	int rc = request_raw(m, method, params, timeout_ms, progress_token, false,
	                     result);
	mcp_unref(m);
	return rc;
}

int mcp_request_initialize(cog_mcp *m, cJSON *params, unsigned int timeout_ms,
                           cJSON **result)
{
	*result = NULL;
	mcp_ref(m);
	int rc = request_raw(m, "initialize", params, timeout_ms, NULL, true, result);
	mcp_unref(m);
	return rc;
}

int mcp_request(cog_mcp *m, const char *method, cJSON *params,
                unsigned int timeout_ms, const char *progress_token,
                cJSON **result)
{
	*result = NULL;
	int rc = mcp_ensure_up(m);
	if (rc != 0) {
		cJSON_Delete(params);
		return cog__error_wrap(rc, "%s", method);
	}
	return mcp_request_raw(m, method, params, timeout_ms, progress_token, result);
}
