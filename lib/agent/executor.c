/* placeholder stubs: being written (the owner replaces this file) */
#include "agent_int.h"

int cog_agent_run_options_init(cog_agent_run_options *o, unsigned int v) { (void)o; (void)v; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
int cog_agent_run(cog_agent *a, const char *t, const cog_agent_run_options *o, char **r) { (void)a; (void)t; (void)o; (void)r; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
int cog_task_run_agent(cog_task_call *c, void *ud) { (void)c; (void)ud; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
