/*
 * The connection going down and coming up again: the transport says its
 * server is gone (mcp_transport_lost), and before a request a connection
 * that is down is restarted while restarts remain (mcp_ensure_up: a stdio
 * server that exited is started again, an HTTP session that expired is
 * initialized again, once for free when it had answered, else counted
 * against max_restarts). Starting and stopping the transport itself is
 * conn.c's (mcp_transport_stop, mcp_handshake).
 */
#include "mcp_int.h"

void mcp_transport_lost(cog_mcp *m, const char *why)
{
	if (!why || !why[0])
		why = "the server went away";
	pthread_mutex_lock(&m->lock);
	bool was_up = m->connected;
	m->connected = false;
	if (!m->down_reason)
		m->down_reason = cog__strdup(why);
	mcp_rpc_fail_all_locked(m, COG_EUNAVAILABLE, why);
	bool closing = m->closing;
	pthread_mutex_unlock(&m->lock);
	if (was_up && !closing)
		mcp_log(m, COG_LOG_WARN, NULL, "mcp: server \"%s\" is down: %s",
			m->cfg.name, why);
}

/* Under m->lock, with restarting set by us: restart without the lock.
 * is_free: an HTTP session that expired after answering, re-initialized
 * whatever max_restarts says. */
static int restart_locked(cog_mcp *m, bool is_free)
{
	m->restarts++;
	if (is_free)
		m->free_restarts++;
	/* Set again once the new session answers: a server that expires
	 * every session before answering anything gets no free re-init. */
	m->session_answered = false;
	unsigned int n = m->restarts - m->free_restarts;
	pthread_mutex_unlock(&m->lock);
	if (m->ops == &mcp_stdio_ops)
		mcp_log(m, COG_LOG_WARN, NULL, "mcp: restarting server \"%s\" (restart %u "
			"of %u)", m->cfg.name, n, m->cfg.max_restarts);
	else if (is_free)
		mcp_log(m, COG_LOG_WARN, NULL, "mcp: initializing a new session with "
			"server \"%s\" (the session expired after answering; not counted "
			"against max_restarts)", m->cfg.name);
	else
		mcp_log(m, COG_LOG_WARN, NULL, "mcp: initializing a new session with "
			"server \"%s\" (restart %u of %u)", m->cfg.name, n, m->cfg.max_restarts);
	/* HTTP: the stop forgets the expired session (no DELETE for it), the
	 * start begins without one. */
	mcp_transport_stop(m);
	pthread_mutex_lock(&m->lock);
	cog_free(m->down_reason);
	m->down_reason = NULL;
	pthread_mutex_unlock(&m->lock);
	int rc = mcp_handshake(m, cog_clock_mono_ns() +
	                       (uint64_t)m->cfg.connect_timeout_ms * 1000000u);
	if (rc != 0) {
		mcp_log(m, COG_LOG_ERROR, NULL, "mcp: restarting server \"%s\" failed: %s",
			m->cfg.name, cog_error_last());
		pthread_mutex_lock(&m->lock);
		if (!m->down_reason)
			m->down_reason = cog__strdup(cog_error_last());
		pthread_mutex_unlock(&m->lock);
	}
	pthread_mutex_lock(&m->lock);
	return rc;
}

/* After a restart the registry follows the new server's tools (a new
 * process may have others) when they were defined. */
static void tools_follow(cog_mcp *m)
{
	pthread_mutex_lock(&m->tools_lock);
	bool defined = m->tool_prefix != NULL;
	pthread_mutex_unlock(&m->tools_lock);
	if (defined)
		mcp_tools_changed(m);
}

int mcp_ensure_up(cog_mcp *m)
{
	int rc = COG_OK;
	pthread_mutex_lock(&m->lock);
	for (;;) {
		if (m->closing) {
			rc = cog__error(COG_ECANCELED, "the connection to server \"%s\" is "
				"closed", m->cfg.name);
			break;
		}
		if (m->connected)
			break;
		if (m->restarting) {
			pthread_cond_wait(&m->restart_cond, &m->lock);
			continue;
		}
		if (cog_ctx_is_canceled(m->ctx)) {
			/* Not worth a restart: the caller gives up anyway. */
			rc = cog__error(COG_ECANCELED, "canceled while server \"%s\" is down",
				m->cfg.name);
			break;
		}
		/* The spec: a client whose HTTP session expired MUST start a
		 * new one. Free once per session that answered something. */
		bool is_free = m->ops == &mcp_http_ops && m->session_answered;
		if (!is_free && m->restarts - m->free_restarts >= m->cfg.max_restarts) {
			rc = cog__error(COG_EUNAVAILABLE, "the connection to server \"%s\" is "
				"down%s: %s", m->cfg.name,
				m->cfg.max_restarts ? " (no restarts left)" : "",
				m->down_reason ? m->down_reason : "the server went away");
			break;
		}
		m->restarting = true;
		int restarted = restart_locked(m, is_free);
		m->restarting = false;
		pthread_cond_broadcast(&m->restart_cond);
		if (restarted == 0) {
			pthread_mutex_unlock(&m->lock);
			tools_follow(m);
			pthread_mutex_lock(&m->lock);
		}
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}
