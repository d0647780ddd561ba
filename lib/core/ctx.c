/* cog_ctx: backends, hooks, limits and cancellation. Its options (defaults,
 * checks, the values a new context runs with): ctx_options.c. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "redact_secret.h"
#include "core_int.h"
#include "trace_state.h"
#include "cognition/ctx.h"

struct cog_ctx {
	cog_ctx_options options;
	cog_storage *storage;
	cog_transport *transport;
	atomic_int canceled;
	char trace_id[33];
	/* Kept for the plan layer, which the core does not know. */
	cog__fn task_executor;
	void *task_executor_ud;
	char **template_dirs;
	size_t template_dir_count;
	/* State of the modules above the core (tool registry, ...), made on
	 * first use under ext_lock and freed with the context. */
	pthread_mutex_t ext_lock;
	void *ext[COG__EXT_COUNT];
	void (*ext_free[COG__EXT_COUNT])(void *);
	/* Span hook and metrics (trace.c, trace_metrics.c). */
	struct cog__trace trace;
	/* Writes what a module queued for the storage (the agent journals'
	 * group commit) before the storage is replaced or freed. */
	void (*storage_flush)(void *arg);
	void *storage_flush_arg;
};

int cog_ctx_new(cog_ctx **out, const cog_ctx_options *options)
{
	static const char fn[] = "cog_ctx_new";
	COG_CHECK_ARG(out, fn, "out is NULL");
	*out = NULL;
	cog_ctx_options opts;
	int rc = cog__ctx_options_resolve(&opts, options);
	if (rc)
		return rc;
	rc = cog_global_init();
	if (rc)
		return rc;
	cog_ctx *ctx = cog__calloc(1, sizeof(*ctx));
	if (!ctx) {
		cog_global_shutdown();
		return cog__oom(fn);
	}
	ctx->options = opts;
	pthread_mutex_init(&ctx->ext_lock, NULL);
	if ((rc = cog__trace_ctx_init(ctx))) {
		pthread_mutex_destroy(&ctx->ext_lock);
		cog_free(ctx);
		cog_global_shutdown();
		return rc;
	}
	cog_id trace;
	cog_id_new(&trace);
	cog_id_to_hex(&trace, ctx->trace_id);
	*out = ctx;
	return COG_OK;
}

void cog_ctx_free(cog_ctx *ctx)
{
	if (!ctx)
		return;
	/* Module state first, in reverse: it may use the backends. */
	for (int i = COG__EXT_COUNT - 1; i >= 0; i--) {
		if (ctx->ext[i] && ctx->ext_free[i])
			ctx->ext_free[i](ctx->ext[i]);
		ctx->ext[i] = NULL; /* a later slot's destroy may still log */
	}
	pthread_mutex_destroy(&ctx->ext_lock);
	cog__trace_ctx_free(ctx);
	cog_storage_free(ctx->storage);
	cog_transport_free(ctx->transport);
	for (size_t i = 0; i < ctx->template_dir_count; i++)
		cog_free(ctx->template_dirs[i]);
	cog_free(ctx->template_dirs);
	cog_free(ctx);
	cog_global_shutdown();
}

int cog_ctx_set_storage(cog_ctx *ctx, cog_storage *storage)
{
	if (!ctx) {
		cog_storage_free(storage);
		return cog__error(COG_EINVAL, "cog_ctx_set_storage: ctx is NULL");
	}
	if (storage != ctx->storage) { /* handing back the same one is a no-op */
		if (ctx->storage_flush && ctx->storage)
			ctx->storage_flush(ctx->storage_flush_arg);
		cog_storage_free(ctx->storage);
		ctx->storage = storage;
	}
	return COG_OK;
}

void cog__ctx_set_storage_flush(cog_ctx *ctx, void (*flush)(void *arg), void *arg)
{
	ctx->storage_flush = flush;
	ctx->storage_flush_arg = arg;
}

cog_storage *cog_ctx_storage(cog_ctx *ctx)
{
	return ctx ? ctx->storage : NULL;
}

int cog_ctx_set_transport(cog_ctx *ctx, cog_transport *transport)
{
	if (!ctx) {
		cog_transport_free(transport);
		return cog__error(COG_EINVAL, "cog_ctx_set_transport: ctx is NULL");
	}
	if (transport != ctx->transport) {
		cog_transport_free(ctx->transport);
		ctx->transport = transport;
	}
	return COG_OK;
}

cog_transport *cog_ctx_transport(cog_ctx *ctx)
{
	return ctx ? ctx->transport : NULL;
}

void cog_ctx_cancel(cog_ctx *ctx)
{
	if (ctx)
		atomic_store(&ctx->canceled, 1);
}

int cog_ctx_is_canceled(const cog_ctx *ctx)
{
	return ctx ? atomic_load(&((cog_ctx *)ctx)->canceled) : 0;
}

void cog_ctx_reset_cancel(cog_ctx *ctx)
{
	if (ctx)
		atomic_store(&ctx->canceled, 0);
}

const char *cog_ctx_trace_id(const cog_ctx *ctx)
{
	return ctx ? ctx->trace_id : "";
}

/* The request's own cancel check, combined with the context's flag. */
struct ctx_cancel {
	cog_ctx *ctx;
	const cog_http_request *request;
};

static int ctx_is_canceled(void *ud)
{
	struct ctx_cancel *c = ud;
	if (atomic_load(&c->ctx->canceled))
		return 1;
	return c->request->is_canceled &&
	       c->request->is_canceled(c->request->cancel_user_data);
}

int cog_ctx_http_perform(cog_ctx *ctx, const cog_http_request *request,
                         cog_http_response *response)
{
	static const char fn[] = "cog_ctx_http_perform";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(request, fn, "request is NULL");
	if (!ctx->transport)
		return cog__error(COG_EUNAVAILABLE,
			"%s: no transport is attached to the context (cog_ctx_set_transport)", fn);
	if (request->version == 0 || request->version > COG_HTTP_REQUEST_VERSION)
		return cog__error(COG_EVERSION, "%s: request version %u is not supported",
			fn, request->version);
	cog_http_request req = COG_HTTP_REQUEST_INIT;
	memcpy(&req, request, cog__http_request_size(request->version));
	struct ctx_cancel cancel = { ctx, request };
	req.is_canceled = ctx_is_canceled;
	req.cancel_user_data = &cancel;
	if (req.timeout_ms == 0)
		req.timeout_ms = ctx->options.http_timeout_ms;
	return cog_transport_perform(ctx->transport, &req, response);
}

static int write_log(cog_ctx *ctx, int level, const char *message, cJSON *fields)
{
	char *line = cog__log_format_ctx(ctx, level, ctx->trace_id,
		trace_current_span_id(ctx), message, fields);
	if (!line)
		return cog__oom("log");
	ctx->options.log_fn(level, line, ctx->options.log_user_data);
	cog_free(line);
	return COG_OK;
}

int cog_ctx_log(cog_ctx *ctx, int level, const char *message, const char *fields_json)
{
	static const char fn[] = "cog_ctx_log";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(message, fn, "message is NULL");
	size_t bad;
	if (!cog_utf8_valid(message, strlen(message), &bad))
		return cog__error(COG_EINVAL, "%s: message is not valid UTF-8 (byte %zu)",
			fn, bad);
	if (level < COG_LOG_TRACE || level >= COG_LOG_OFF)
		return cog__error(COG_EINVAL, "%s: level %d is not a cog_log_level (0..4)",
			fn, level);
	cJSON *fields = NULL;
	if (fields_json) {
		int rc = cog_json_parse(&fields, fields_json, fn);
		if (rc)
			return rc;
		if (!cJSON_IsObject(fields)) {
			cJSON_Delete(fields);
			return cog__error(COG_EINVAL, "%s: fields must be a JSON object", fn);
		}
	}
	int rc = COG_OK;
	if (ctx->options.log_fn && level >= ctx->options.log_level)
		rc = write_log(ctx, level, message, fields);
	cJSON_Delete(fields);
	return rc;
}

void cog__log(cog_ctx *ctx, int level, cJSON *fields, const char *fmt, ...)
{
	if (ctx && ctx->options.log_fn && level >= ctx->options.log_level) {
		char message[1024];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(message, sizeof(message), fmt, ap);
		va_end(ap);
		write_log(ctx, level, message, fields); /* best effort */
	}
	cJSON_Delete(fields);
}

void cog__event(cog_ctx *ctx, const char *type, cJSON *data)
{
	if (!ctx || !ctx->options.event_fn) {
		cJSON_Delete(data);
		return;
	}
	cog__json_init();
	cJSON *event = cJSON_CreateObject();
	if (event && !cog_json_add_string(event, "type", type) &&
	    !cog_json_add_number(event, "time", (double)cog_clock_realtime_ms()) &&
	    !cog_json_add_string(event, "trace_id", ctx->trace_id)) {
		if (data)
			cJSON_AddItemToObject(event, "data", data);
		else
			cJSON_AddItemToObject(event, "data", cJSON_CreateObject());
		data = NULL;
		char *text = cog_json_print(event);
		/* configured secrets (API keys) never reach the host's hook,
		 * whatever an event quotes (streamed text, tool arguments) */
		char *masked = NULL;
		if (text && cog__redact_secrets_any() &&
		    cog__redact_secrets(text, strlen(text), &masked, NULL, NULL) == COG_OK) {
			cog_free(text);
			text = masked;
		} else if (text && cog__redact_secrets_any()) {
			cog_free(text);   /* could not mask: drop rather than leak */
			text = NULL;
		}
		if (text)
			ctx->options.event_fn(text, ctx->options.event_user_data);
		cog_free(text);
	}
	cJSON_Delete(data);
	cJSON_Delete(event);
}

int cog_ctx_describe(cog_ctx *ctx, char **json)
{
	static const char fn[] = "cog_ctx_describe";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	cog_buf b = COG_BUF_INIT;
	cog_buf_printf(&b, "{\"version\":\"%s\",\"trace_id\":\"%s\",\"log_level\":\"%s\","
		"\"worker_threads\":%u,\"http_timeout_ms\":%u,\"storage\":",
		cog_version(), ctx->trace_id, cog__log_level_name(ctx->options.log_level),
		ctx->options.worker_threads, ctx->options.http_timeout_ms);
	char *part = NULL;
	int rc = ctx->storage ? cog_storage_describe(ctx->storage, &part) : COG_OK;
	cog_buf_puts(&b, part ? part : "null");
	cog_free(part);
	part = NULL;
	cog_buf_puts(&b, ",\"transport\":");
	if (!rc && ctx->transport)
		rc = cog_transport_describe(ctx->transport, &part);
	cog_buf_puts(&b, part ? part : "null");
	cog_free(part);
	cog_buf_putc(&b, '}');
	if (rc) {
		cog_buf_dispose(&b);
		return rc;
	}
	*json = cog_buf_detach(&b);
	return *json ? COG_OK : cog__oom(fn);
}

void cog__ctx_set_executor(cog_ctx *ctx, cog__fn fn, void *user_data)
{
	ctx->task_executor = fn;
	ctx->task_executor_ud = user_data;
}

cog__fn cog__ctx_executor(const cog_ctx *ctx, void **user_data)
{
	*user_data = ctx->task_executor_ud;
	return ctx->task_executor;
}

int cog__ctx_add_template_dir(cog_ctx *ctx, const char *path)
{
	char **dirs = cog_realloc(ctx->template_dirs,
		(ctx->template_dir_count + 1) * sizeof(*dirs));
	if (!dirs)
		return cog__oom("cog_ctx_add_template_dir");
	ctx->template_dirs = dirs;
	if (!(dirs[ctx->template_dir_count] = cog__strdup(path)))
		return cog__oom("cog_ctx_add_template_dir");
	ctx->template_dir_count++;
	return COG_OK;
}

const char *const *cog__ctx_template_dirs(const cog_ctx *ctx, size_t *count)
{
	*count = ctx->template_dir_count;
	return (const char *const *)ctx->template_dirs;
}

unsigned int cog__ctx_workers(const cog_ctx *ctx)
{
	return ctx->options.worker_threads;
}

unsigned int cog__ctx_http_timeout_ms(const cog_ctx *ctx)
{
	return ctx->options.http_timeout_ms;
}

bool cog__ctx_has_event_hook(const cog_ctx *ctx)
{
	return ctx && ctx->options.event_fn;
}

int cog__ctx_ext(cog_ctx *ctx, int slot, int (*create)(cog_ctx *ctx, void **state),
                 void (*destroy)(void *state), void **out)
{
	*out = NULL;
	if (slot < 0 || slot >= COG__EXT_COUNT)
		return cog__error(COG_EINVAL, "context: no module slot %d", slot);
	pthread_mutex_lock(&ctx->ext_lock);
	int rc = COG_OK;
	if (!ctx->ext[slot] && create) {
		void *state = NULL;
		rc = create(ctx, &state);
		if (rc == COG_OK) {
			ctx->ext[slot] = state;
			ctx->ext_free[slot] = destroy;
		}
	}
	*out = ctx->ext[slot];
	pthread_mutex_unlock(&ctx->ext_lock);
	return rc;
}

struct cog__trace *cog__ctx_trace(cog_ctx *ctx)
{
	return &ctx->trace;
}
