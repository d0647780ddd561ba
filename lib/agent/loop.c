/* placeholder stubs: being written (the owner replaces this file) */
#include "agent_int.h"

int agent_run(cog_agent *a, const cJSON *t, agent_env *e, cJSON **r) { (void)a; (void)t; (void)e; *r = NULL; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
bool agent_env_canceled(const cog_agent *a, const agent_env *e) { (void)a; (void)e; return true; }
