/* placeholder stubs: being written (the owner replaces this file) */
#include "agent_int.h"

int agent_critic_check(cog_agent *a, const cJSON *t, const cJSON *r, agent_env *e, cJSON **p, char **c, int *code) { (void)a; (void)t; (void)r; (void)e; (void)p; (void)c; (void)code; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
int cog_agent_set_critic(cog_ctx *ctx, cog_critic_fn fn, void *ud) { (void)ctx; (void)fn; (void)ud; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
