/* placeholder stubs: being written (the owner replaces this file) */
#include "agent_int.h"

int agent_llm_call(cog_agent *a, agent_env *e, const char *role, cJSON *req, unsigned int t, unsigned int i, cJSON **r) { (void)a; (void)e; (void)role; (void)req; (void)t; (void)i; *r = NULL; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
