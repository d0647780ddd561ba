/* placeholder stubs: being written (the owner replaces this file) */
#include "core_int.h"
#include "trace_int.h"
#include "cognition/trace.h"

int cog_ctx_metrics(cog_ctx *ctx, char **j) { (void)ctx; (void)j; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
void cog_ctx_metrics_reset(cog_ctx *ctx) { (void)ctx; }
