/*
 * Fuzz target for the JSON Schema validator (libFuzzer entry point). The
 * input is a flags byte, a schema, a newline and an instance. Besides not
 * crashing or leaking, it checks that the two ways of validating agree:
 * stopping at the first error (errors == NULL, the path anyOf/oneOf/not use)
 * and collecting every error give the same verdict, and a failure always
 * comes with at least one error object.
 */
#include <stdlib.h>
#include <string.h>

#include "schema_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	unsigned int flags = data[0] & (COG_SCHEMA_DRAFT_07 | COG_SCHEMA_FORMAT_ASSERT);
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	const char *nl = memchr(text, '\n', len);
	if (!nl)
		return 0;
	char *schema_text = cog__strndup(text, (size_t)(nl - text));
	char *instance_text = cog__strndup(nl + 1, len - (size_t)(nl - text) - 1);
	if (!schema_text || !instance_text)
		abort();
	cog_schema *schema = NULL;
	cJSON *instance = NULL;
	if (cog_schema_new(&schema, schema_text, flags) == COG_OK &&
	    cog_json_parse(&instance, instance_text, "instance") == COG_OK) {
		int quick = cog__schema_check(schema, instance, NULL);
		cJSON *errors = NULL;
		int full = cog__schema_check(schema, instance, &errors);
		if (quick != full && quick != COG_ENOMEM && full != COG_ENOMEM)
			abort(); /* the two paths disagree */
		if (full == COG_ESCHEMA && cJSON_GetArraySize(errors) < 1)
			abort(); /* a failure without an error object */
		cJSON_Delete(errors);
		/* The text API must agree with the parsed one. */
		char *list = NULL;
		int via_text = cog_schema_validate(schema, instance_text, &list);
		if (via_text != full && via_text != COG_ENOMEM && full != COG_ENOMEM)
			abort();
		cog_free(list);
	}
	cJSON_Delete(instance);
	cog_schema_free(schema);
	cog_free(schema_text);
	cog_free(instance_text);
	return 0;
}
