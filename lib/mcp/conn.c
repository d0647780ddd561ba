/*
 * The life of a connection: connect (transport start, initialize with
 * version negotiation, notifications/initialized), close, and reference
 * counting. The transport is started and stopped only here, under m->life
 * for writing, so no send (rpc.c) ever meets a transport being started,
 * stopped or freed; conn_restart.c brings a connection that went down up
 * again through mcp_transport_stop() and mcp_handshake().
 */
#include <stdio.h>
#include <string.h>

#include "mcp_int.h"

#define FN "cog_mcp_connect"

/* ---- references ---- */

void mcp_ref(cog_mcp *m)
{
	atomic_fetch_add(&m->refs, 1);
}

static void conn_free(cog_mcp *m)
{
	while (m->pending) {
		mcp_pending *p = m->pending;
		m->pending = p->next;
		cJSON_Delete(p->result);
		cJSON_Delete(p->error);
		cog_free(p->why);
		pthread_cond_destroy(&p->cond);
		cog_free(p);
	}
	while (m->queue_head) {
		mcp_queued *q = m->queue_head;
		m->queue_head = q->next;
		cJSON_Delete(q->msg);
		cog_free(q);
	}
	cog_free(m->down_reason);
	cog_free(m->orphan_error);
	cog_free(m->protocol_version);
	cJSON_Delete(m->server_info);
	cJSON_Delete(m->capabilities);
	cog_free(m->instructions);
	cJSON_Delete(m->tools);
	cog_free(m->tool_prefix);
	cJSON_Delete(m->defined);
	mcp_config_dispose(&m->cfg);
	pthread_mutex_destroy(&m->tools_lock);
	pthread_cond_destroy(&m->restart_cond);
	pthread_cond_destroy(&m->queue_items);
	pthread_cond_destroy(&m->queue_room);
	pthread_condattr_destroy(&m->cond_attr);
	pthread_mutex_destroy(&m->lock);
	pthread_rwlock_destroy(&m->life);
	cog_free(m);
}

void mcp_unref(cog_mcp *m)
{
	if (m && atomic_fetch_sub(&m->refs, 1) == 1)
		conn_free(m);
}

bool mcp_should_stop(cog_mcp *m)
{
	pthread_mutex_lock(&m->lock);
	bool stop = m->closing || m->transport_stopping;
	pthread_mutex_unlock(&m->lock);
	return stop || cog_ctx_is_canceled(m->ctx);
}

/* ---- starting and stopping the transport ---- */

/* A new generation first: what the previous transport queued (its
 * reader threads are joined by now) is older and dropped by the
 * dispatcher, what the new one reads is not. */
static int transport_start(cog_mcp *m)
{
	pthread_rwlock_wrlock(&m->life);
	pthread_mutex_lock(&m->lock);
	m->generation++;
	pthread_mutex_unlock(&m->lock);
	int rc = m->ops->start(m);
	pthread_rwlock_unlock(&m->life);
	return rc;
}

static int transport_ready(cog_mcp *m)
{
	if (!m->ops->ready)
		return COG_OK;
	pthread_rwlock_rdlock(&m->life);
	int rc = m->transport ? m->ops->ready(m) : cog__error(COG_EUNAVAILABLE,
		"server \"%s\": the transport stopped", m->cfg.name);
	pthread_rwlock_unlock(&m->life);
	return rc;
}

/* Stop and free the transport once no send is in it. The flag is raised
 * first: sends in progress see mcp_should_stop() and end (HTTP within
 * 50 ms), a transport thread blocked on a full queue gives up its message
 * (receive.c), so the write lock comes. One stop at a time (connect,
 * the restarting thread, close after the restart ended). */
void mcp_transport_stop(cog_mcp *m)
{
	pthread_mutex_lock(&m->lock);
	m->transport_stopping = true;
	pthread_cond_broadcast(&m->queue_room);
	pthread_mutex_unlock(&m->lock);
	pthread_rwlock_wrlock(&m->life);
	m->ops->stop(m);
	pthread_rwlock_unlock(&m->life);
	pthread_mutex_lock(&m->lock);
	m->transport_stopping = false;
	pthread_mutex_unlock(&m->lock);
}

/* ---- initialize ---- */

static cJSON *initialize_params(const cog_mcp *m)
{
	cJSON *params = cJSON_CreateObject();
	cJSON *caps = params ? cJSON_AddObjectToObject(params, "capabilities") : NULL;
	cJSON *info = params ? cJSON_AddObjectToObject(params, "clientInfo") : NULL;
	bool ok = caps && info &&
		cog_json_add_string(params, "protocolVersion", COG_MCP_PROTOCOL_VERSION) == 0 &&
		cog_json_add_string(info, "name", "libcognition") == 0 &&
		cog_json_add_string(info, "version", cog_version()) == 0;
	if (ok && m->cfg.on_request) {
		/* What the host's handler may answer; without one we answer
		 * none of these, so we do not claim them. */
		cJSON *roots = cJSON_AddObjectToObject(caps, "roots");
		ok = cJSON_AddObjectToObject(caps, "sampling") &&
			cJSON_AddObjectToObject(caps, "elicitation") && roots &&
			cog_json_add_bool(roots, "listChanged", false) == 0;
	}
	if (!ok) {
		cJSON_Delete(params);
		return NULL;
	}
	return params;
}

static void versions_text(cog_buf *b)
{
	for (size_t i = 0; mcp_protocol_versions[i]; i++)
		cog_buf_printf(b, "%s%s", i ? ", " : "", mcp_protocol_versions[i]);
}

/* Check and keep what initialize answered (result consumed). */
static int keep_initialize(cog_mcp *m, cJSON *result)
{
	const char *version = cog_json_get_string(result, "protocolVersion");
	if (!cJSON_IsObject(result) || !version) {
		cJSON_Delete(result);
		return cog__error(COG_EPROTO, "server \"%s\" answered initialize without a "
			"protocolVersion: not an MCP server?", m->cfg.name);
	}
	if (!mcp_protocol_known(version)) {
		cog_buf known = COG_BUF_INIT;
		versions_text(&known);
		int rc = cog__error(COG_EPROTO, "server \"%s\" wants protocol version "
			"\"%.64s\", which this client does not speak (it speaks %s)",
			m->cfg.name, version, known.ptr ? known.ptr : "?");
		cog_buf_dispose(&known);
		cJSON_Delete(result);
		return rc;
	}
	char *v = cog__strdup(version);
	cJSON *server_info = cJSON_DetachItemFromObjectCaseSensitive(result, "serverInfo");
	cJSON *caps = cJSON_DetachItemFromObjectCaseSensitive(result, "capabilities");
	const char *instr = cog_json_get_string(result, "instructions");
	char *instructions = instr ? cog__strdup(instr) : NULL;
	if (!server_info)
		server_info = cJSON_CreateObject();
	if (!caps)
		caps = cJSON_CreateObject();
	cJSON_Delete(result);
	if (!v || !server_info || !caps || (instr && !instructions)) {
		cog_free(v);
		cJSON_Delete(server_info);
		cJSON_Delete(caps);
		cog_free(instructions);
		return cog__oom("initialize");
	}
	pthread_mutex_lock(&m->lock);
	cog_free(m->protocol_version);
	cJSON_Delete(m->server_info);
	cJSON_Delete(m->capabilities);
	cog_free(m->instructions);
	m->protocol_version = v;
	m->server_info = server_info;
	m->capabilities = caps;
	m->instructions = instructions;
	pthread_mutex_unlock(&m->lock);
	return COG_OK;
}

/* Start the transport and run the lifecycle's first phase before
 * deadline_ns. On failure the transport is stopped and the message says
 * why (with the transport's reason). */
int mcp_handshake(cog_mcp *m, uint64_t deadline_ns)
{
	int rc = transport_start(m);
	if (rc == 0) {
		uint64_t now = cog_clock_mono_ns();
		if (now >= deadline_ns) {
			rc = cog__error(COG_ETIMEOUT, "starting took the whole connect "
				"timeout (%u ms)", m->cfg.connect_timeout_ms);
		} else {
			uint64_t left = (deadline_ns - now + 999999u) / 1000000u;
			cJSON *params = initialize_params(m);
			cJSON *result = NULL;
			rc = params ? mcp_request_initialize(m, params,
				(unsigned int)(left ? left : 1), &result) : cog__oom("initialize");
			if (rc == 0)
				rc = keep_initialize(m, result);
		}
	}
	if (rc == 0)
		rc = mcp_notify_initialized(m);
	if (rc == 0)
		rc = transport_ready(m);
	if (rc == 0) {
		pthread_mutex_lock(&m->lock);
		m->connected = true;
		m->session_answered = false;
		cog_free(m->down_reason);
		m->down_reason = NULL;
		pthread_mutex_unlock(&m->lock);
		return COG_OK;
	}
	/* Stop first (it may learn why the server went: exit status, the end
	 * of its stderr), then say it all. */
	cog_buf why = COG_BUF_INIT;
	cog_buf_puts(&why, cog_error_last());
	mcp_transport_stop(m);
	pthread_mutex_lock(&m->lock);
	m->connected = false;
	if (m->down_reason && why.ptr && !strstr(why.ptr, m->down_reason))
		cog_buf_printf(&why, " (%s)", m->down_reason);
	pthread_mutex_unlock(&m->lock);
	cog__error(rc, "%s", why.ptr ? why.ptr : cog_strerror(rc));
	cog_buf_dispose(&why);
	return rc;
}

/* ---- connect and close ---- */

static int conn_new(cog_mcp **out, cog_ctx *ctx, const cog_mcp_options *options)
{
	cog_mcp *m = cog__calloc(1, sizeof(*m));
	if (!m)
		return cog__oom(FN);
	int rc = mcp_config_from_options(&m->cfg, options);
	if (rc != 0) {
		cog_free(m);
		return rc;
	}
	/* rpc.c waits with CLOCK_MONOTONIC deadlines (on each request's own
	 * condition variable, made with this attribute). */
	pthread_condattr_init(&m->cond_attr);
	pthread_condattr_setclock(&m->cond_attr, CLOCK_MONOTONIC);
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->restart_cond, &m->cond_attr);
	pthread_cond_init(&m->queue_items, &m->cond_attr);
	pthread_cond_init(&m->queue_room, &m->cond_attr);
	pthread_mutex_init(&m->tools_lock, NULL);
	pthread_rwlockattr_t rw;
	pthread_rwlockattr_init(&rw);
	/* A send holding it may wait (a full queue) for the dispatcher, whose
	 * response must get in while a stop waits to write. */
	pthread_rwlockattr_setkind_np(&rw, PTHREAD_RWLOCK_PREFER_READER_NP);
	pthread_rwlock_init(&m->life, &rw);
	pthread_rwlockattr_destroy(&rw);
	atomic_init(&m->refs, 1);
	m->ctx = ctx;
	m->next_id = 1;
	m->ops = m->cfg.argv ? &mcp_stdio_ops : &mcp_http_ops;
	*out = m;
	return COG_OK;
}

int cog_mcp_connect(cog_mcp **out, cog_ctx *ctx, const cog_mcp_options *options)
{
	COG_CHECK_ARG(out, FN, "out is NULL");
	*out = NULL;
	COG_CHECK_ARG(ctx, FN, "ctx is NULL");
	uint64_t start = cog_clock_mono_ns();
	cog_mcp *m = NULL;
	int rc = conn_new(&m, ctx, options);
	if (rc != 0)
		return rc;
	if (!m->cfg.argv && !cog_ctx_transport(ctx)) {
		rc = cog__error(COG_EUNAVAILABLE, FN ": server \"%s\" is reached over HTTP, "
			"which needs a transport: cog_ctx_set_transport", m->cfg.name);
		mcp_unref(m);
		return rc;
	}
	rc = mcp_dispatch_start(m);
	if (rc != 0) {
		mcp_unref(m);
		return cog__error_wrap(rc, FN ": server \"%s\"", options->name);
	}
	rc = mcp_handshake(m, start + (uint64_t)m->cfg.connect_timeout_ms * 1000000u);
	if (rc != 0) {
		cog__error_wrap(rc, FN ": server \"%s\" (%s)", m->cfg.name, m->ops->kind);
		cog_buf why = COG_BUF_INIT;
		cog_buf_puts(&why, cog_error_last());
		pthread_mutex_lock(&m->lock);
		m->closing = true;
		mcp_rpc_fail_all_locked(m, COG_ECANCELED, "connect failed");
		pthread_mutex_unlock(&m->lock);
		mcp_dispatch_stop(m);
		mcp_unref(m);
		cog__error(rc, "%s", why.ptr ? why.ptr : cog_strerror(rc));
		cog_buf_dispose(&why);
		return rc;
	}
	mcp_log(m, COG_LOG_INFO, NULL, "mcp: connected to server \"%s\" (%s, protocol %s)",
		m->cfg.name, m->ops->kind, m->protocol_version);
	*out = m;
	return COG_OK;
}

void cog_mcp_close(cog_mcp *mcp)
{
	if (!mcp)
		return;
	pthread_mutex_lock(&mcp->lock);
	mcp->closing = true;
	mcp_rpc_wake_all_locked(mcp);
	pthread_cond_broadcast(&mcp->restart_cond);
	pthread_cond_broadcast(&mcp->queue_room);
	pthread_mutex_unlock(&mcp->lock);
	mcp_tools_undefine(mcp);
	char why[96];
	snprintf(why, sizeof(why), "the connection to server \"%s\" was closed",
	         mcp->cfg.name);
	pthread_mutex_lock(&mcp->lock);
	mcp_rpc_fail_all_locked(mcp, COG_ECANCELED, why);
	/* A restart in progress finishes (or fails) before the transport goes. */
	while (mcp->restarting)
		pthread_cond_wait(&mcp->restart_cond, &mcp->lock);
	pthread_mutex_unlock(&mcp->lock);
	mcp_transport_stop(mcp);
	mcp_dispatch_stop(mcp);
	mcp_unref(mcp);
}
