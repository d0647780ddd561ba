/* placeholder stubs: being written (the owner replaces this file) */
#include "core_int.h"
#include "trace_int.h"
#include "cognition/trace.h"

cog_span *cog__span_begin(struct cog_ctx *ctx, const char *k, const char *n, cog_span *p) { (void)ctx; (void)k; (void)n; (void)p; return NULL; }
void cog__span_attr_str(cog_span *s, const char *k, const char *v) { (void)s; (void)k; (void)v; }
void cog__span_attr_num(cog_span *s, const char *k, double v) { (void)s; (void)k; (void)v; }
void cog__span_attr_bool(cog_span *s, const char *k, bool v) { (void)s; (void)k; (void)v; }
void cog__span_attr_json(cog_span *s, const char *k, cJSON *v) { (void)s; (void)k; cJSON_Delete(v); }
const char *cog__span_id(const cog_span *s) { (void)s; return ""; }
void cog__span_set_store(cog_span *s, const char *l) { (void)s; (void)l; }
void cog__span_end(cog_span *s, int st, const char *m) { (void)s; (void)st; (void)m; }
cog_span *cog__span_current(void) { return NULL; }
cog_span *cog__span_enter(cog_span *s) { (void)s; return NULL; }
void cog__span_leave(cog_span *p) { (void)p; }
int cog__trace_ctx_init(struct cog_ctx *ctx) { (void)ctx; return 0; }
void cog__trace_ctx_free(struct cog_ctx *ctx) { (void)ctx; }
int cog_ctx_set_span_hook(cog_ctx *ctx, cog_span_fn fn, void *ud) { (void)ctx; (void)fn; (void)ud; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
