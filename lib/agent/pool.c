/* placeholder stubs: being written (the owner replaces this file) */
#include "agent_int.h"

const char *cog_agent_state_name(int s) { (void)s; return "unknown"; }
int cog_agent_spawn(cog_agent **out, cog_ctx *ctx, const char *n) { (void)out; (void)ctx; (void)n; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
void cog_agent_free(cog_agent *a) { (void)a; }
const char *cog_agent_id(const cog_agent *a) { (void)a; return ""; }
const char *cog_agent_name(const cog_agent *a) { (void)a; return ""; }
int cog_agent_get_state(const cog_agent *a) { (void)a; return 0; }
int cog_agent_terminate(cog_ctx *ctx, const char *id) { (void)ctx; (void)id; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
int cog_agent_list(cog_ctx *ctx, char **j) { (void)ctx; (void)j; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
void agent_set_state(cog_agent *a, int s, const char *p, const char *t) { (void)a; (void)s; (void)p; (void)t; }
bool agent_should_stop(const cog_agent *a) { (void)a; return true; }
void agent_count_usage(cog_agent *a, uint64_t i, uint64_t o, double c) { (void)a; (void)i; (void)o; (void)c; }
