/*
 * What registry.c, registry_def.c and pool.c share (not installed; the rest of
 * the module goes through agent_int.h).
 */
#ifndef COG_AGENT_REGISTRY_INT_H
#define COG_AGENT_REGISTRY_INT_H

#include "agent_int.h"

/* 1..64 of [A-Za-z0-9_.-]: agent names, roles and capabilities. */
bool agent_name_valid(const char *s);
/* A new definition (refs 1) from its JSON object; *replace gets its
 * "replace" member. COG_EINVAL prefixed with `what`, naming the member. */
int agent_def_parse(agent_def **out, const cJSON *json, const char *what, bool *replace);

/* pool.c: free the idle instances of `def` (under st->lock), when it
 * leaves the registry. */
void agents_pool_drop_locked(agents_state *st, agent_def *def);

#endif /* COG_AGENT_REGISTRY_INT_H */
