/* placeholder stubs: being written (the owner replaces this file) */
#include "agent_int.h"

cJSON *agent_handoff_tool(const cog_agent *a, const agent_env *e) { (void)a; (void)e; return NULL; }
int agent_handoff_run(cog_agent *a, const cJSON *arg, agent_env *e, unsigned int t, unsigned int i, cJSON **r) { (void)a; (void)arg; (void)e; (void)t; (void)i; *r = NULL; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
