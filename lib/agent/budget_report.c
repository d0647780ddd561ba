/* placeholder stubs: being written (the owner replaces this file) */
#include "agent_int.h"

int cog_ctx_set_budget(cog_ctx *ctx, const char *j) { (void)ctx; (void)j; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
int cog_budget_report(cog_ctx *ctx, const char *p, char **j) { (void)ctx; (void)p; (void)j; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
