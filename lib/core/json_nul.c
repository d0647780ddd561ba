/*
 * Whether JSON text holds a \u0000 escape. cJSON ends a string at the NUL
 * it decodes, so "admin\u0000-readonly" would read as "admin": auth, tool
 * and memory refuse such text before parsing names and roles out of it.
 */
#include <string.h>

#include "core_int.h"

bool cog__json_has_nul(const char *text)
{
	/* A backslash occurs only inside strings, where it starts an escape:
	 * skipping each escape whole tells "\\u0000" (text) from "\u0000". */
	for (const char *p = text; *p; p++) {
		if (*p != '\\')
			continue;
		if (p[1] == 'u' && strncmp(p + 2, "0000", 4) == 0)
			return true;
		if (p[1])
			p++;
	}
	return false;
}
