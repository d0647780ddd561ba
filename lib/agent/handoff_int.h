/*
 * What handoff.c shares with handoff_sub.c. Not installed.
 */
#ifndef COG_AGENT_HANDOFF_INT_H
#define COG_AGENT_HANDOFF_INT_H

#include "agent_int.h"

/*
 * Run `task` with `sub` (spawned by the caller, freed by it afterwards) as
 * the sub-run of the handoff at (turn, index) of a's run `env`: one level
 * deeper, tool call ids under `call_prefix`, journaled when env is, and
 * terminated when `a` is. Returns agent_run's status and *result (the
 * sub-run's result object, also on most failures).
 */
int agent_handoff_sub(cog_agent *a, cog_agent *sub, const agent_env *env,
                      const char *call_prefix, const char *task, unsigned int turn,
                      unsigned int index, cJSON **result);

#endif /* COG_AGENT_HANDOFF_INT_H */
