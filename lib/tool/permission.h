/*
 * The permission step of a tool call (permission.c), used by call.c.
 */
#ifndef COG_TOOL_PERMISSION_H
#define COG_TOOL_PERMISSION_H

#include "tool_int.h"

/* May `principal` (JSON text, NULL: the host) call `tool` under the agent's
 * allow-list `allowed_tools` (JSON array of globs, NULL: no list)? 0, or
 * COG_EDENIED with a message naming the principal, its effective roles and
 * the tool; COG_EIO / COG_EINTEGRITY when the auth records cannot be read. */
int tool_permission_check(tool_registry *reg, const char *tool, const char *allowed_tools,
                          const char *agent, const char *principal);

#endif
