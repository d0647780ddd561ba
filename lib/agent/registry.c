/* placeholder stubs: being written (the owner replaces this file) */
#include "agent_int.h"

int agents_get(cog_ctx *ctx, agents_state **out) { (void)ctx; *out = NULL; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
agent_def *agents_find(agents_state *st, const char *name) { (void)st; (void)name; cog__error(COG_EUNAVAILABLE, "not written yet"); return NULL; }
agent_def *agents_match(agents_state *st, const cJSON *c, const char *e) { (void)st; (void)c; (void)e; cog__error(COG_EUNAVAILABLE, "not written yet"); return NULL; }
void agent_def_ref(agent_def *def) { (void)def; }
void agent_def_unref(agent_def *def) { (void)def; }
cJSON *agent_def_to_json(const agent_def *def) { (void)def; return NULL; }
int cog_agent_define(cog_ctx *ctx, const char *j) { (void)ctx; (void)j; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
int cog_agent_remove(cog_ctx *ctx, const char *n) { (void)ctx; (void)n; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
int cog_agent_definitions(cog_ctx *ctx, char **j) { (void)ctx; (void)j; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
int cog_agent_match(cog_ctx *ctx, const char *c, char **n) { (void)ctx; (void)c; (void)n; return cog__error(COG_EUNAVAILABLE, "not written yet: %s", __func__); }
