/*
 * Fuzz target for the JSON validator (libFuzzer entry point). Besides not
 * crashing, it checks the validator against cJSON: whatever the validator
 * accepts, cJSON must parse, and its compact print must validate again.
 */
#include <stdlib.h>
#include <string.h>

#include "core_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	if (cog_json_validate(text, size, "fuzz") != COG_OK)
		return 0;
	/* Accepted text has no NUL bytes outside strings (and none inside). */
	char *copy = cog__strndup(text, size);
	if (!copy)
		abort();
	cJSON *item = cJSON_ParseWithLength(copy, size);
	if (!item)
		abort(); /* the validator accepted what cJSON rejects */
	char *printed = cJSON_PrintUnformatted(item);
	if (printed && cog_json_validate(printed, strlen(printed), "reprint") != COG_OK)
		abort();
	cJSON_free(printed);
	cJSON_Delete(item);
	cog_free(copy);
	return 0;
}
