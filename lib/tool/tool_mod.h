/*
 * Interface of lib/tool for the modules above it (plan, agent): questions
 * about the context's registry without its internals. Not installed.
 */
#ifndef COG_TOOL_MOD_H
#define COG_TOOL_MOD_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "cognition/ctx.h"

/* Whether a tool named `name` is defined on ctx; *count (may be NULL) gets
 * how many tools are defined (0 also when the registry was never made). */
bool cog__tool_defined(cog_ctx *ctx, const char *name, size_t *count);

/* Check `arguments` (NULL: {}) against the input schema of tool `name`:
 * 0, COG_ENOTFOUND (no such tool), COG_ESCHEMA naming the first failure,
 * COG_ENOMEM. What a plan's validation uses on its tool tasks' inputs. */
int cog__tool_check_arguments(cog_ctx *ctx, const char *name, const cJSON *arguments);

#endif /* COG_TOOL_MOD_H */
