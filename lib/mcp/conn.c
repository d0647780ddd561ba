/*
 * The life of a connection: connect (transport start, initialize with
 * version negotiation, notifications/initialized), the transport going
 * down and the restart of a stdio server, close, reference counting and
 * cog_mcp_server_info.
 */
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
		cog_free(p);
	}
	while (m->queue_head) {
		mcp_queued *q = m->queue_head;
		m->queue_head = q->next;
		cJSON_Delete(q->msg);
		cog_free(q);
	}
	cog_free(m->down_reason);
	cog_free(m->protocol_version);
	cJSON_Delete(m->server_info);
	cJSON_Delete(m->capabilities);
	cog_free(m->instructions);
	cJSON_Delete(m->tools);
	cog_free(m->tool_prefix);
	cJSON_Delete(m->defined);
	mcp_config_dispose(&m->cfg);
	pthread_mutex_destroy(&m->tools_lock);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
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
	bool closing = m->closing;
	pthread_mutex_unlock(&m->lock);
	return closing || cog_ctx_is_canceled(m->ctx);
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
static int handshake(cog_mcp *m, uint64_t deadline_ns)
{
	int rc = m->ops->start(m);
	if (rc == 0) {
		uint64_t now = cog_clock_mono_ns();
		if (now >= deadline_ns) {
			rc = cog__error(COG_ETIMEOUT, "starting took the whole connect "
				"timeout (%u ms)", m->cfg.connect_timeout_ms);
		} else {
			uint64_t left = (deadline_ns - now + 999999u) / 1000000u;
			cJSON *params = initialize_params(m);
			cJSON *result = NULL;
			rc = params ? mcp_request_raw(m, "initialize", params,
				(unsigned int)(left ? left : 1), NULL, &result) : cog__oom("initialize");
			if (rc == 0)
				rc = keep_initialize(m, result);
		}
	}
	if (rc == 0)
		rc = mcp_notify(m, "notifications/initialized", NULL);
	if (rc == 0 && m->ops->ready)
		rc = m->ops->ready(m);
	if (rc == 0) {
		pthread_mutex_lock(&m->lock);
		m->connected = true;
		cog_free(m->down_reason);
		m->down_reason = NULL;
		pthread_mutex_unlock(&m->lock);
		return COG_OK;
	}
	/* Stop first (it may learn why the server went: exit status, the end
	 * of its stderr), then say it all. */
	cog_buf why = COG_BUF_INIT;
	cog_buf_puts(&why, cog_error_last());
	m->ops->stop(m);
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
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	/* rpc.c waits with CLOCK_MONOTONIC deadlines. */
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&m->tools_lock, NULL);
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
	rc = handshake(m, start + (uint64_t)m->cfg.connect_timeout_ms * 1000000u);
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
	pthread_cond_broadcast(&mcp->cond);
	pthread_mutex_unlock(&mcp->lock);
	mcp_tools_undefine(mcp);
	pthread_mutex_lock(&mcp->lock);
	mcp_rpc_fail_all_locked(mcp, COG_ECANCELED, "the connection was closed");
	/* A restart in progress finishes (or fails) before the transport goes. */
	while (mcp->restarting)
		pthread_cond_wait(&mcp->cond, &mcp->lock);
	pthread_mutex_unlock(&mcp->lock);
	mcp->ops->stop(mcp);
	mcp_dispatch_stop(mcp);
	mcp_unref(mcp);
}

/* ---- down and up again ---- */

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

/* Under m->lock, with restarting set by us: restart without the lock. */
static int restart_locked(cog_mcp *m)
{
	m->restarts++;
	unsigned int n = m->restarts;
	pthread_mutex_unlock(&m->lock);
	mcp_log(m, COG_LOG_WARN, NULL, "mcp: restarting server \"%s\" (restart %u of %u)",
		m->cfg.name, n, m->cfg.max_restarts);
	m->ops->stop(m);
	pthread_mutex_lock(&m->lock);
	cog_free(m->down_reason);
	m->down_reason = NULL;
	pthread_mutex_unlock(&m->lock);
	int rc = handshake(m, cog_clock_mono_ns() +
	                   (uint64_t)m->cfg.connect_timeout_ms * 1000000u);
	if (rc != 0) {
		mcp_log(m, COG_LOG_ERROR, NULL, "mcp: restart %u of server \"%s\" failed: %s",
			n, m->cfg.name, cog_error_last());
		pthread_mutex_lock(&m->lock);
		if (!m->down_reason)
			m->down_reason = cog__strdup(cog_error_last());
		pthread_mutex_unlock(&m->lock);
	}
	pthread_mutex_lock(&m->lock);
	return rc;
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
			pthread_cond_wait(&m->cond, &m->lock);
			continue;
		}
		if (cog_ctx_is_canceled(m->ctx)) {
			/* Not worth a restart: the caller gives up anyway. */
			rc = cog__error(COG_ECANCELED, "canceled while server \"%s\" is down",
				m->cfg.name);
			break;
		}
		bool can = m->ops == &mcp_stdio_ops && m->restarts < m->cfg.max_restarts;
		if (!can) {
			rc = cog__error(COG_EUNAVAILABLE, "the connection is down%s: %s",
				m->cfg.max_restarts ? " (no restarts left)" : "",
				m->down_reason ? m->down_reason : "the server went away");
			break;
		}
		m->restarting = true;
		restart_locked(m);
		m->restarting = false;
		pthread_cond_broadcast(&m->cond);
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

/* ---- what initialize told ---- */

static int add_dup(cJSON *info, const char *name, const cJSON *value)
{
	cJSON *copy = value ? cJSON_Duplicate(value, true) : cJSON_CreateNull();
	if (!copy || !cJSON_AddItemToObject(info, name, copy)) {
		cJSON_Delete(copy);
		return COG_ENOMEM;
	}
	return COG_OK;
}

int cog_mcp_server_info(cog_mcp *mcp, char **json)
{
	COG_CHECK_ARG(json, "cog_mcp_server_info", "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(mcp, "cog_mcp_server_info", "mcp is NULL");
	cJSON *info = cJSON_CreateObject();
	int rc = info ? COG_OK : COG_ENOMEM;
	if (rc == 0)
		rc = cog_json_add_string(info, "name", mcp->cfg.name);
	if (rc == 0)
		rc = cog_json_add_string(info, "transport", mcp->ops->kind);
	pthread_mutex_lock(&mcp->lock);
	if (rc == 0)
		rc = mcp->protocol_version ? cog_json_add_string(info, "protocolVersion",
			mcp->protocol_version) : add_dup(info, "protocolVersion", NULL);
	if (rc == 0)
		rc = add_dup(info, "serverInfo", mcp->server_info);
	if (rc == 0)
		rc = add_dup(info, "capabilities", mcp->capabilities);
	if (rc == 0)
		rc = mcp->instructions ? cog_json_add_string(info, "instructions",
			mcp->instructions) : add_dup(info, "instructions", NULL);
	if (rc == 0)
		rc = cog_json_add_number(info, "restarts", mcp->restarts);
	if (rc == 0)
		rc = cog_json_add_bool(info, "connected", mcp->connected);
	pthread_mutex_unlock(&mcp->lock);
	/* Outside m->lock: the transport takes its own. */
	if (rc == 0 && mcp->ops->describe)
		mcp->ops->describe(mcp, info);
	if (rc == 0 && !cJSON_HasObjectItem(info, "session_id"))
		rc = add_dup(info, "session_id", NULL);
	if (rc == 0)
		*json = cog_json_print(info);
	cJSON_Delete(info);
	if (rc != 0 || !*json)
		return cog__oom("cog_mcp_server_info");
	return COG_OK;
}
