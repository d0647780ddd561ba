/* placeholder stubs: being written (the owner replaces this file) */
#include "core_int.h"
#include "trace_int.h"
#include "cognition/trace.h"

int cog_trace_read(cog_ctx *ctx, const char *p, char **j) { (void)ctx; (void)p; (void)j; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
