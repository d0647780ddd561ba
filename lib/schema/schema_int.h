/*
 * Interface of lib/schema for the modules above it (tool, llm, agent): the
 * validator on parsed cJSON values, without a JSON round trip. Not
 * installed; not part of the ABI.
 */
#ifndef COG_SCHEMA_INT_H
#define COG_SCHEMA_INT_H

#include "core_int.h"
#include "cognition/schema.h"

/*
 * Validate a parsed instance. 0 when valid; COG_ESCHEMA when not: then, if
 * `errors` is not NULL, *errors gets a cJSON array of error objects (the
 * caller deletes it; at most 100) and cog_error_last() names the first
 * failure. COG_ENOMEM. Thread safe on a shared schema.
 */
int cog__schema_check(const cog_schema *schema, const cJSON *instance,
                      cJSON **errors);

/* Compile from a parsed schema (not consumed). Errors as cog_schema_new(). */
int cog__schema_compile(cog_schema **out, const cJSON *schema, unsigned int flags);

#endif /* COG_SCHEMA_INT_H */
