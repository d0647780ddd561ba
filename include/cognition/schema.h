/*
 * libcognition: JSON Schema validation.
 *
 * The one JSON Schema validator of the library: tool arguments and results
 * (tool.h), structured LLM output and critic checks all use it. Drafts
 * 2020-12 and 07. A schema is compiled once (cog_schema_new) and then
 * validates any number of instances, from any number of threads at once.
 *
 * Keywords: type, enum, const, properties, required, additionalProperties,
 * patternProperties, propertyNames, minProperties, maxProperties,
 * dependentRequired, dependentSchemas (draft-07: dependencies), items,
 * prefixItems (draft-07: array-form items and additionalItems), contains,
 * minContains, maxContains, minItems, maxItems, uniqueItems, minimum,
 * maximum, exclusiveMinimum, exclusiveMaximum (draft-04 style booleans are
 * not accepted), multipleOf, minLength, maxLength (in code points), pattern
 * (PCRE2, UTF mode), allOf, anyOf, oneOf, not, if/then/else, $ref (to $defs
 * or definitions, JSON pointers, and $id-identified subschemas inside the
 * same document), unevaluatedProperties and unevaluatedItems (2020-12 only:
 * they see what properties, patternProperties, additionalProperties,
 * prefixItems, items and contains evaluated, here and through successful
 * allOf/anyOf/oneOf/if/then/else/dependentSchemas/$ref subschemas, never
 * through not), boolean schemas. "format" is an annotation unless
 * COG_SCHEMA_FORMAT_ASSERT is given; then date-time, date, time, email, uri,
 * uuid, ipv4 and ipv6 are checked. Other keywords are ignored, as the
 * specification asks. A $ref to a document other than the schema itself
 * (a remote reference) is a compile error.
 *
 * Errors of an instance come as a JSON array, one object per failure:
 *   [{"instance":"/items/0/name","keyword":"type",
 *     "schema":"/properties/items/items/properties/name/type",
 *     "message":"expected string, got integer"}]
 * "instance" is the JSON pointer (RFC 6901) of the failing value, "schema"
 * the pointer of the failing keyword inside the schema.
 *
 * Threads: a compiled cog_schema is immutable; cog_schema_validate() may be
 * called on it from several threads at once.
 */
#ifndef COGNITION_SCHEMA_H
#define COGNITION_SCHEMA_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cog_schema cog_schema;

/* Which draft a schema without "$schema" follows (a "$schema" naming a
 * known draft always wins). */
#define COG_SCHEMA_DRAFT_2020_12 0x0u   /* the default */
#define COG_SCHEMA_DRAFT_07      0x1u
/* Check "format" instead of treating it as an annotation. */
#define COG_SCHEMA_FORMAT_ASSERT 0x2u

/*
 * Compile `schema_json` (a JSON object or boolean) with COG_SCHEMA_* flags.
 * Errors: COG_EINVAL (not JSON, or a keyword with a value of the wrong type:
 * the message gives the keyword's schema pointer), COG_ENOTFOUND (a $ref that
 * names nothing in the document), COG_EUNAVAILABLE (a remote $ref),
 * COG_ENOMEM.
 */
COG_API int cog_schema_new(cog_schema **out, const char *schema_json,
                           unsigned int flags);

/* Free a compiled schema. NULL-safe. */
COG_API void cog_schema_free(cog_schema *schema);

/*
 * Validate the JSON text `instance_json`. 0 when valid. COG_ESCHEMA when it
 * does not match: then, if `errors_json` is not NULL, *errors_json gets the
 * array described above (cog_malloc'd, to cog_free; at most 100 entries),
 * and cog_error_last() names the first failure. COG_EINVAL when the text is
 * not JSON. errors_json may be NULL; on success *errors_json is set to NULL.
 */
COG_API int cog_schema_validate(const cog_schema *schema,
                                const char *instance_json,
                                char **errors_json);

#ifdef __cplusplus
}
#endif

#endif /* COGNITION_SCHEMA_H */
