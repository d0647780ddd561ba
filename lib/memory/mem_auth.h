/*
 * The access check of a memory handle opened with a principal
 * (cog_memory_options.principal, auth.h): memory.c. Not installed.
 */
#ifndef COG_MEMORY_AUTH_H
#define COG_MEMORY_AUTH_H

#include "memory_int.h"

/* May the handle's principal do `action` (COG_AUTH_MEMORY_READ or _WRITE
 * on namespace `ns`, or COG_AUTH_ADMIN with ns NULL: cog_memory_purge)? 0 (always for a handle without a principal: the host),
 * or COG_EDENIED "<fn>: principal ... may not read memory namespace ..."; COG_EIO
 * when the auth records cannot be read. */
int mem_auth_check(cog_memory *m, const char *fn, int action, const char *ns);

#endif
