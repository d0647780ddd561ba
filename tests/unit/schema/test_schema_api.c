/* The validator's C API: error objects and pointers, cog_error_last(),
 * compile errors, limits, drafts and flags, threads. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_int.h"

static cog_schema *compile_ok(const char *text, unsigned int flags)
{
	cog_schema *s = NULL;
	int rc = cog_schema_new(&s, text, flags);
	ck_assert_msg(rc == 0, "compile %s: %s", text, cog_error_last());
	return s;
}

static void expect_compile_error(const char *text, unsigned int flags, int code,
                                 const char *in_message)
{
	cog_schema *s = (cog_schema *)1;
	int rc = cog_schema_new(&s, text, flags);
	ck_assert_msg(rc == code, "compile %s: expected %d, got %d (%s)", text, code, rc,
	              cog_error_last());
	ck_assert_ptr_null(s);
	if (in_message)
		ck_assert_msg(strstr(cog_error_last(), in_message), "compile %s: \"%s\" lacks \"%s\"",
		              text, cog_error_last(), in_message);
}

/* Validate and return the error array (parsed), NULL when valid. */
static cJSON *errors_of(const cog_schema *s, const char *instance)
{
	char *errors = (char *)1;
	int rc = cog_schema_validate(s, instance, &errors);
	if (rc == 0) {
		ck_assert_ptr_null(errors);
		return NULL;
	}
	ck_assert_int_eq(rc, COG_ESCHEMA);
	ck_assert_ptr_nonnull(errors);
	cJSON *arr = cJSON_Parse(errors);
	cog_free(errors);
	ck_assert(cJSON_IsArray(arr));
	return arr;
}

static void expect_error(const cJSON *e, const char *instance, const char *keyword,
                         const char *schema, const char *message)
{
	ck_assert_str_eq(cog_json_get_string(e, "instance"), instance);
	ck_assert_str_eq(cog_json_get_string(e, "keyword"), keyword);
	ck_assert_str_eq(cog_json_get_string(e, "schema"), schema);
	if (message)
		ck_assert_str_eq(cog_json_get_string(e, "message"), message);
}

static size_t allocations;

static void *count_malloc(size_t size, void *user_data)
{
	(void)user_data;
	allocations++;
	return malloc(size);
}

static void *count_realloc(void *ptr, size_t size, void *user_data)
{
	(void)user_data;
	allocations++;
	return realloc(ptr, size);
}

static void count_free(void *ptr, void *user_data)
{
	(void)user_data;
	free(ptr);
}

/* Allocations made by validating `instance` (valid) without an error list,
 * the second time (the first makes the thread's regex match data). */
static size_t allocations_of(const cog_schema *s, const char *instance)
{
	cJSON *inst = NULL;
	ck_assert_int_eq(cog_json_parse(&inst, instance, "instance"), 0);
	ck_assert_msg(cog__schema_check(s, inst, NULL) == 0, "%s: %s", instance, cog_error_last());
	allocations = 0;
	ck_assert_msg(cog__schema_check(s, inst, NULL) == 0, "%s: %s", instance, cog_error_last());
	size_t n = allocations;
	cJSON_Delete(inst);
	return n;
}

START_TEST(valid_instances_allocate_nothing)
{
	cog_allocator a = COG_ALLOCATOR_INIT;
	a.malloc = count_malloc;
	a.realloc = count_realloc;
	a.free = count_free;
	if (cog_set_allocator(&a) != 0)
		return; /* not forked: the library is already in use */
	cog_schema *s = compile_ok("{\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":[\"a\"],"
	                           "\"additionalProperties\":false}", 0);
	ck_assert_uint_eq(allocations_of(s, "{\"a\":\"x\"}"), 0);
	cog_schema_free(s);
	s = compile_ok("{\"$defs\":{\"b\":{\"properties\":{\"b\":true}}},\"properties\":{\"a\":true},"
	               "\"anyOf\":[{\"$ref\":\"#/$defs/b\"},{\"patternProperties\":{\"^c\":true}}],"
	               "\"if\":{\"required\":[\"a\"]},\"then\":{\"properties\":{\"t\":true}},"
	               "\"oneOf\":[{\"type\":\"object\"},{\"type\":\"array\",\"contains\":{\"type\":\"string\"}}],\"prefixItems\":[true],"
	               "\"unevaluatedProperties\":false,\"unevaluatedItems\":false}", 0);
	ck_assert_uint_eq(allocations_of(s, "{\"a\":1,\"b\":2,\"c1\":3,\"t\":4}"), 0);
	ck_assert_uint_eq(allocations_of(s, "[1,\"x\",\"y\"]"), 0);
	/* Beyond 256 members, the set of evaluated ones is allocated. */
	cog_buf b = COG_BUF_INIT;
	cog_buf_puts(&b, "{\"a\":0");
	for (int i = 0; i < 300; i++)
		cog_buf_printf(&b, ",\"c%d\":%d", i, i);
	cog_buf_puts(&b, "}");
	ck_assert_uint_gt(allocations_of(s, b.ptr), 0);
	cog_buf_dispose(&b);
	cog_schema_free(s);
}
END_TEST

START_TEST(error_pointers_and_last_error)
{
	cog_schema *s = compile_ok("{\"properties\":{\"items\":{\"items\":{\"properties\":"
	                           "{\"name\":{\"type\":\"string\"}}}}}}", 0);
	const char *inst = "{\"items\":[{\"name\":\"ok\"},{\"name\":1}]}";
	cJSON *errors = errors_of(s, inst);
	ck_assert_int_eq(cJSON_GetArraySize(errors), 1);
	expect_error(cJSON_GetArrayItem(errors, 0), "/items/1/name", "type",
	             "/properties/items/items/properties/name/type", "expected string, got integer");
	ck_assert_str_eq(cog_error_last(), "schema: /items/1/name: type: expected string, got integer");
	cJSON_Delete(errors);
	/* The fast path (no error list) names the same failure. */
	cog_error_clear();
	ck_assert_int_eq(cog_schema_validate(s, inst, NULL), COG_ESCHEMA);
	ck_assert_str_eq(cog_error_last(), "schema: /items/1/name: type: expected string, got integer");
	ck_assert_int_eq(cog_error_last_code(), COG_ESCHEMA);
	cog_schema_free(s);
}
END_TEST

START_TEST(tool_schema_errors)
{
	cog_schema *s = compile_ok("{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\","
	                           "\"minLength\":1},\"content\":{\"type\":\"string\"},\"append\":"
	                           "{\"type\":\"boolean\"},\"mode\":{\"enum\":[\"text\",\"binary\"]},"
	                           "\"max\":{\"type\":\"integer\",\"minimum\":0}},\"required\":[\"path\","
	                           "\"content\"],\"additionalProperties\":false}", 0);
	ck_assert_ptr_null(errors_of(s, "{\"path\":\"a\",\"content\":\"b\",\"mode\":\"text\"}"));
	cJSON *errors = errors_of(s, "{\"path\":\"\",\"mode\":\"hex\",\"max\":-1,\"extra\":true}");
	ck_assert_int_eq(cJSON_GetArraySize(errors), 5);
	expect_error(cJSON_GetArrayItem(errors, 0), "", "required", "/required",
	             "missing required property \"content\"");
	expect_error(cJSON_GetArrayItem(errors, 1), "/path", "minLength", "/properties/path/minLength",
	             "string has 0 characters, at least 1 required");
	expect_error(cJSON_GetArrayItem(errors, 2), "/mode", "enum", "/properties/mode/enum",
	             "value is not one of [\"text\",\"binary\"]");
	expect_error(cJSON_GetArrayItem(errors, 3), "/max", "minimum", "/properties/max/minimum", NULL);
	expect_error(cJSON_GetArrayItem(errors, 4), "/extra", "additionalProperties",
	             "/additionalProperties", "property \"extra\" is not allowed");
	ck_assert_str_eq(cog_error_last(), "schema: (root): required: missing required property \"content\"");
	cJSON_Delete(errors);
	errors = errors_of(s, "[1]");
	expect_error(cJSON_GetArrayItem(errors, 0), "", "type", "/type", "expected object, got array");
	cJSON_Delete(errors);
	cog_schema_free(s);
}
END_TEST

START_TEST(escaped_pointers_and_refs)
{
	cog_schema *s = compile_ok("{\"$defs\":{\"a/b\":{\"maximum\":3}},\"properties\":{\"x~y/z\":"
	                           "{\"$ref\":\"#/$defs/a~1b\"}}}", 0);
	cJSON *errors = errors_of(s, "{\"x~y/z\":4}");
	/* The schema pointer is where the failing keyword is written. */
	expect_error(cJSON_GetArrayItem(errors, 0), "/x~0y~1z", "maximum", "/$defs/a~1b/maximum",
	             "4 is greater than the maximum 3");
	cJSON_Delete(errors);
	cog_schema_free(s);
}
END_TEST

START_TEST(at_most_100_errors)
{
	cog_schema *s = compile_ok("{\"items\":{\"type\":\"string\"}}", 0);
	cog_buf b = COG_BUF_INIT;
	cog_buf_putc(&b, '[');
	for (int i = 0; i < 250; i++)
		cog_buf_puts(&b, i ? ",1" : "1");
	cog_buf_putc(&b, ']');
	cJSON *errors = errors_of(s, b.ptr);
	ck_assert_int_eq(cJSON_GetArraySize(errors), 100);
	expect_error(cJSON_GetArrayItem(errors, 99), "/99", "type", "/items/type", NULL);
	cJSON_Delete(errors);
	cog_buf_dispose(&b);
	cog_schema_free(s);
}
END_TEST

START_TEST(combinator_messages)
{
	cog_schema *s = compile_ok("{\"properties\":{\"a\":{\"anyOf\":[{\"type\":\"string\"},"
	                           "{\"type\":\"null\"}]},\"o\":{\"oneOf\":[{\"minimum\":1},{\"maximum\":5}]},"
	                           "\"n\":{\"not\":{\"const\":0}},\"c\":{\"contains\":{\"const\":1},"
	                           "\"maxContains\":1},\"u\":{\"uniqueItems\":true}}}", 0);
	cJSON *errors = errors_of(s, "{\"a\":1,\"o\":3,\"n\":0,\"c\":[1,1],\"u\":[1,2,1.0]}");
	ck_assert_int_eq(cJSON_GetArraySize(errors), 5);
	expect_error(cJSON_GetArrayItem(errors, 0), "/a", "anyOf", "/properties/a/anyOf",
	             "value matches none of the 2 alternatives");
	expect_error(cJSON_GetArrayItem(errors, 1), "/o", "oneOf", "/properties/o/oneOf",
	             "value matches more than one alternative (0 and 1), exactly one required");
	expect_error(cJSON_GetArrayItem(errors, 2), "/n", "not", "/properties/n/not", NULL);
	expect_error(cJSON_GetArrayItem(errors, 3), "/c", "maxContains", "/properties/c/contains", NULL);
	expect_error(cJSON_GetArrayItem(errors, 4), "/u", "uniqueItems", "/properties/u/uniqueItems",
	             "items 0 and 2 are equal");
	cJSON_Delete(errors);
	cog_schema_free(s);
}
END_TEST

START_TEST(compile_errors)
{
	expect_compile_error("{", 0, COG_EINVAL, NULL);
	expect_compile_error("5", 0, COG_EINVAL, "(root)");
	expect_compile_error("{\"minLength\":-1}", 0, COG_EINVAL, "schema: /minLength: expected a non-negative integer");
	expect_compile_error("{\"properties\":{\"a\":{\"maxItems\":1.5}}}", 0, COG_EINVAL, "/properties/a/maxItems");
	expect_compile_error("{\"type\":\"strin\"}", 0, COG_EINVAL, "/type");
	expect_compile_error("{\"type\":[]}", 0, COG_EINVAL, "/type");
	expect_compile_error("{\"properties\":{\"a\":{\"pattern\":\"(\"}}}", 0, COG_EINVAL, "/properties/a/pattern");
	expect_compile_error("{\"patternProperties\":{\"[\":{}}}", 0, COG_EINVAL, "/patternProperties/[");
	expect_compile_error("{\"items\":5}", 0, COG_EINVAL, "/items");
	expect_compile_error("{\"required\":\"a\"}", 0, COG_EINVAL, "/required");
	expect_compile_error("{\"required\":[1]}", 0, COG_EINVAL, "/required");
	expect_compile_error("{\"multipleOf\":0}", 0, COG_EINVAL, "/multipleOf");
	expect_compile_error("{\"exclusiveMinimum\":true}", 0, COG_EINVAL, "/exclusiveMinimum");
	expect_compile_error("{\"anyOf\":[]}", 0, COG_EINVAL, "/anyOf");
	expect_compile_error("{\"allOf\":[{},3]}", 0, COG_EINVAL, "/allOf/1");
	expect_compile_error("{\"not\":\"x\"}", 0, COG_EINVAL, "/not");
	expect_compile_error("{\"enum\":1}", 0, COG_EINVAL, "/enum");
	expect_compile_error("{\"uniqueItems\":1}", 0, COG_EINVAL, "/uniqueItems");
	expect_compile_error("{\"format\":1}", 0, COG_EINVAL, "/format");
	expect_compile_error("{\"dependentRequired\":{\"a\":{}}}", 0, COG_EINVAL, "/dependentRequired/a");
	expect_compile_error("{\"$ref\":5}", 0, COG_EINVAL, "/$ref");
	expect_compile_error("{\"$ref\":\"#/properties/a\",\"properties\":{\"a\":1}}", 0, COG_EINVAL, "/properties/a");
	expect_compile_error("{\"$ref\":\"#/$defs/nope\"}", 0, COG_ENOTFOUND, "#/$defs/nope");
	expect_compile_error("{\"$ref\":\"#nope\"}", 0, COG_ENOTFOUND, "nope");
	expect_compile_error("{\"$ref\":\"http://example.com/s.json\"}", 0, COG_EUNAVAILABLE, "remote");
	expect_compile_error("{\"$ref\":\"other.json#/a\"}", 0, COG_EUNAVAILABLE, "other.json");
	expect_compile_error("{\"$ref\":\"https://json-schema.org/draft/2020-12/schema\"}", 0, COG_EUNAVAILABLE, NULL);
	expect_compile_error("{}", 0x100, COG_EINVAL, "flags");
	expect_compile_error(NULL, 0, COG_EINVAL, NULL);
	/* In draft-07 a bad sibling of $ref is ignored with the rest. */
	cog_schema *s = compile_ok("{\"definitions\":{\"a\":{}},\"properties\":{\"x\":{\"$ref\":"
	                           "\"#/definitions/a\",\"minLength\":-1}}}", COG_SCHEMA_DRAFT_07);
	cog_schema_free(s);
}
END_TEST

START_TEST(ref_cycles)
{
	expect_compile_error("{\"$ref\":\"#\"}", 0, COG_EINVAL, "infinite recursion");
	expect_compile_error("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"allOf\":[{\"$ref\":"
	                     "\"#/$defs/a\"}]}},\"$ref\":\"#/$defs/a\"}", 0, COG_EINVAL, "infinite recursion");
	expect_compile_error("{\"anyOf\":[{\"type\":\"string\"},{\"$ref\":\"#\"}]}", 0, COG_EINVAL, NULL);
	expect_compile_error("{\"dependentSchemas\":{\"a\":{\"$ref\":\"#\"}}}", 0, COG_EINVAL, NULL);
	expect_compile_error("{\"definitions\":{\"a\":{\"$ref\":\"#/definitions/a\"}},\"$ref\":"
	                     "\"#/definitions/a\"}", COG_SCHEMA_DRAFT_07, COG_EINVAL, NULL);
	/* Recursion through properties and items consumes the instance. */
	cog_schema *s = compile_ok("{\"type\":[\"array\",\"integer\"],\"items\":{\"$ref\":\"#\"}}", 0);
	cog_buf b = COG_BUF_INIT;
	for (int i = 0; i < 500; i++)
		cog_buf_putc(&b, '[');
	cog_buf_putc(&b, '1');
	for (int i = 0; i < 500; i++)
		cog_buf_putc(&b, ']');
	ck_assert_int_eq(cog_schema_validate(s, b.ptr, NULL), 0);
	cog_buf_clear(&b);
	for (int i = 0; i < 500; i++)
		cog_buf_putc(&b, '[');
	cog_buf_puts(&b, "true");
	for (int i = 0; i < 500; i++)
		cog_buf_putc(&b, ']');
	ck_assert_int_eq(cog_schema_validate(s, b.ptr, NULL), COG_ESCHEMA);
	ck_assert_msg(strstr(cog_error_last(), "schema: /0/0/0/"), "%s", cog_error_last());
	cog_buf_dispose(&b);
	cog_schema_free(s);
}
END_TEST

START_TEST(long_ref_chain_is_bounded)
{
	/* A chain of 6000 definitions is no cycle, but validating through it
	 * would nest past the limit: a clear failure, not a stack overflow. */
	cog_buf b = COG_BUF_INIT;
	cog_buf_puts(&b, "{\"$ref\":\"#/$defs/d0\",\"$defs\":{");
	for (int i = 0; i < 6000; i++)
		cog_buf_printf(&b, "%s\"d%d\":{\"$ref\":\"#/$defs/d%d\"}", i ? "," : "", i, i + 1);
	cog_buf_puts(&b, ",\"d6000\":{\"type\":\"null\"}}}");
	cog_schema *s = compile_ok(b.ptr, 0);
	char *errors = NULL;
	ck_assert_int_eq(cog_schema_validate(s, "null", &errors), COG_ESCHEMA);
	ck_assert_ptr_nonnull(strstr(errors, "deeper than"));
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "deeper than"));
	cog_free(errors);
	ck_assert_int_eq(cog_schema_validate(s, "null", NULL), COG_ESCHEMA);
	cog_schema_free(s);
	cog_buf_dispose(&b);
}
END_TEST

START_TEST(instance_errors)
{
	cog_schema *s = compile_ok("true", 0);
	char *errors = (char *)1;
	ck_assert_int_eq(cog_schema_validate(s, "{", &errors), COG_EINVAL);
	ck_assert_ptr_null(errors);
	ck_assert_int_eq(cog_schema_validate(s, NULL, NULL), COG_EINVAL);
	ck_assert_int_eq(cog_schema_validate(NULL, "1", NULL), COG_EINVAL);
	ck_assert_int_eq(cog_schema_validate(s, "{\"a\":[1,2,{\"b\":null}]}", &errors), 0);
	ck_assert_ptr_null(errors);
	ck_assert_int_eq(cog__schema_check(s, NULL, NULL), COG_EINVAL);
	cog_schema_free(s);
	cog_schema_free(NULL);
	s = compile_ok("false", 0);
	cJSON *list = errors_of(s, "1");
	expect_error(cJSON_GetArrayItem(list, 0), "", "false", "", NULL);
	cJSON_Delete(list);
	cog_schema_free(s);
}
END_TEST

START_TEST(drafts_and_flags)
{
	const char *tuple = "{\"items\":[{\"type\":\"string\"}],\"additionalItems\":false}";
	cog_schema *s07 = compile_ok(tuple, COG_SCHEMA_DRAFT_07);
	ck_assert_int_eq(cog_schema_validate(s07, "[\"a\"]", NULL), 0);
	ck_assert_int_eq(cog_schema_validate(s07, "[\"a\",1]", NULL), COG_ESCHEMA);
	ck_assert_str_eq(cog_error_last(), "schema: /1: additionalItems: array has 2 items, at most 1 allowed");
	cog_schema_free(s07);
	/* "$schema" wins over the flag. */
	cog_schema *s = compile_ok("{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
	                           "\"prefixItems\":[{\"type\":\"string\"}],\"items\":false}", COG_SCHEMA_DRAFT_07);
	ck_assert_int_eq(cog_schema_validate(s, "[\"a\",1]", NULL), COG_ESCHEMA);
	cog_schema_free(s);
	s = compile_ok("{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"$ref\":"
	               "\"#/definitions/s\",\"definitions\":{\"s\":{\"type\":\"string\"}},\"maxLength\":1}", 0);
	ck_assert_int_eq(cog_schema_validate(s, "\"long\"", NULL), 0);
	cog_schema_free(s);
	/* format: annotation unless asked. */
	s = compile_ok("{\"format\":\"date-time\"}", 0);
	ck_assert_int_eq(cog_schema_validate(s, "\"yesterday\"", NULL), 0);
	cog_schema_free(s);
	s = compile_ok("{\"format\":\"date-time\"}", COG_SCHEMA_FORMAT_ASSERT);
	ck_assert_int_eq(cog_schema_validate(s, "\"2024-01-02T03:04:05Z\"", NULL), 0);
	ck_assert_int_eq(cog_schema_validate(s, "\"yesterday\"", NULL), COG_ESCHEMA);
	ck_assert_str_eq(cog_error_last(), "schema: (root): format: string is not a valid date-time");
	cog_schema_free(s);
}
END_TEST

START_TEST(many_properties)
{
	cog_buf b = COG_BUF_INIT;
	cog_buf_puts(&b, "{\"additionalProperties\":false,\"properties\":{");
	for (int i = 0; i < 1000; i++)
		cog_buf_printf(&b, "%s\"p%d\":{\"const\":%d}", i ? "," : "", i, i);
	cog_buf_puts(&b, "}}");
	cog_schema *s = compile_ok(b.ptr, 0);
	ck_assert_int_eq(cog_schema_validate(s, "{\"p0\":0,\"p999\":999,\"p500\":500}", NULL), 0);
	ck_assert_int_eq(cog_schema_validate(s, "{\"p500\":499}", NULL), COG_ESCHEMA);
	ck_assert_int_eq(cog_schema_validate(s, "{\"p1000\":1}", NULL), COG_ESCHEMA);
	cog_schema_free(s);
	cog_buf_dispose(&b);
}
END_TEST

START_TEST(unevaluated_errors)
{
	cog_schema *s = compile_ok("{\"properties\":{\"a\":true},\"unevaluatedProperties\":false}", 0);
	cJSON *errors = errors_of(s, "{\"a\":1,\"b\":2,\"c/d\":3}");
	ck_assert_int_eq(cJSON_GetArraySize(errors), 2);
	expect_error(cJSON_GetArrayItem(errors, 0), "/b", "unevaluatedProperties",
	             "/unevaluatedProperties", "property \"b\" is not allowed: no keyword evaluated it");
	expect_error(cJSON_GetArrayItem(errors, 1), "/c~1d", "unevaluatedProperties",
	             "/unevaluatedProperties", NULL);
	cJSON_Delete(errors);
	ck_assert_int_eq(cog_schema_validate(s, "{\"a\":1,\"b\":2}", NULL), COG_ESCHEMA);
	ck_assert_str_eq(cog_error_last(),
	                 "schema: /b: unevaluatedProperties: property \"b\" is not allowed: no keyword evaluated it");
	ck_assert_int_eq(cog_schema_validate(s, "{\"a\":1}", NULL), 0);
	cog_schema_free(s);

	/* A schema value reports its own failures, under its pointer. */
	s = compile_ok("{\"properties\":{\"o\":{\"unevaluatedProperties\":{\"type\":\"string\"}}}}", 0);
	errors = errors_of(s, "{\"o\":{\"x\":\"ok\",\"y\":1}}");
	ck_assert_int_eq(cJSON_GetArraySize(errors), 1);
	expect_error(cJSON_GetArrayItem(errors, 0), "/o/y", "type",
	             "/properties/o/unevaluatedProperties/type", "expected string, got integer");
	cJSON_Delete(errors);
	cog_schema_free(s);

	s = compile_ok("{\"prefixItems\":[true],\"anyOf\":[{\"contains\":{\"const\":\"c\"}}],"
	               "\"unevaluatedItems\":false}", 0);
	errors = errors_of(s, "[1,2,\"c\",3]");
	ck_assert_int_eq(cJSON_GetArraySize(errors), 2);
	expect_error(cJSON_GetArrayItem(errors, 0), "/1", "unevaluatedItems", "/unevaluatedItems",
	             "item 1 is not allowed: no keyword evaluated it");
	expect_error(cJSON_GetArrayItem(errors, 1), "/3", "unevaluatedItems", "/unevaluatedItems", NULL);
	cJSON_Delete(errors);
	ck_assert_int_eq(cog_schema_validate(s, "[1,\"c\"]", NULL), 0);
	cog_schema_free(s);

	/* Draft-07 has neither keyword. */
	s = compile_ok("{\"unevaluatedProperties\":false,\"unevaluatedItems\":false}", COG_SCHEMA_DRAFT_07);
	ck_assert_int_eq(cog_schema_validate(s, "{\"a\":[1]}", NULL), 0);
	ck_assert_int_eq(cog_schema_validate(s, "[1]", NULL), 0);
	cog_schema_free(s);
	expect_compile_error("{\"unevaluatedItems\":1}", 0, COG_EINVAL, "/unevaluatedItems");
}
END_TEST

START_TEST(unevaluated_recursion_is_bounded)
{
	/* Tracking through a deep instance: one set per level. */
	cog_schema *s = compile_ok("{\"prefixItems\":[{\"$ref\":\"#\"}],\"unevaluatedItems\":false,"
	                           "\"properties\":{\"a\":{\"$ref\":\"#\"}},\"unevaluatedProperties\":false}", 0);
	cog_buf b = COG_BUF_INIT;
	for (int i = 0; i < 400; i++)
		cog_buf_puts(&b, i % 2 ? "{\"a\":" : "[");
	cog_buf_puts(&b, "[]");
	for (int i = 399; i >= 0; i--)
		cog_buf_puts(&b, i % 2 ? "}" : "]");
	ck_assert_int_eq(cog_schema_validate(s, b.ptr, NULL), 0);
	cog_buf_clear(&b);
	for (int i = 0; i < 400; i++)
		cog_buf_puts(&b, i % 2 ? "{\"a\":" : "[");
	cog_buf_puts(&b, "7");
	for (int i = 399; i >= 0; i--)
		cog_buf_puts(&b, i % 2 ? ",\"b\":1}" : "]");
	cJSON *errors = errors_of(s, b.ptr);
	ck_assert_int_eq(cJSON_GetArraySize(errors), 100);
	cJSON_Delete(errors);
	cog_buf_dispose(&b);
	cog_schema_free(s);

	/* A lone "if" only runs for annotations, so a $ref cycle through it
	 * compiles; when tracked it runs into the depth limit. */
	s = compile_ok("{\"if\":{\"$ref\":\"#\"},\"unevaluatedProperties\":false}", 0);
	ck_assert_int_eq(cog_schema_validate(s, "1", NULL), 0);
	char *list = NULL;
	ck_assert_int_eq(cog_schema_validate(s, "{}", &list), COG_ESCHEMA);
	ck_assert_ptr_nonnull(strstr(list, "deeper than"));
	cog_free(list);
	ck_assert_int_eq(cog_schema_validate(s, "{}", NULL), COG_ESCHEMA);
	cog_schema_free(s);

	/* A chain of $refs longer than the limit below unevaluatedProperties. */
	cog_buf_puts(&b, "{\"$ref\":\"#/$defs/d0\",\"unevaluatedProperties\":false,\"$defs\":{");
	for (int i = 0; i < 6000; i++)
		cog_buf_printf(&b, "%s\"d%d\":{\"$ref\":\"#/$defs/d%d\"}", i ? "," : "", i, i + 1);
	cog_buf_puts(&b, ",\"d6000\":{\"properties\":{\"a\":true}}}}");
	s = compile_ok(b.ptr, 0);
	ck_assert_int_eq(cog_schema_validate(s, "{\"a\":1}", NULL), COG_ESCHEMA);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "deeper than"));
	cog_schema_free(s);
	cog_buf_dispose(&b);
}
END_TEST

typedef struct thread_job {
	const cog_schema *schema;
	cJSON *good, *bad;
	int failures;
} thread_job;

static void *hammer(void *arg)
{
	thread_job *job = arg;
	for (int i = 0; i < 20000; i++) {
		if (cog__schema_check(job->schema, job->good, NULL) != 0)
			job->failures++;
		cJSON *errors = NULL;
		if (i % 10 == 0) {
			if (cog__schema_check(job->schema, job->bad, &errors) != COG_ESCHEMA ||
			    cJSON_GetArraySize(errors) != 2)
				job->failures++;
			cJSON_Delete(errors);
		} else if (cog__schema_check(job->schema, job->bad, NULL) != COG_ESCHEMA ||
		           !strstr(cog_error_last(), "/name: pattern")) {
			job->failures++;
		}
	}
	return NULL;
}

START_TEST(threads_share_a_schema)
{
	cog_schema *s = compile_ok("{\"properties\":{\"name\":{\"pattern\":\"^[a-z]+\\\\d*$\"},"
	                           "\"tags\":{\"items\":{\"enum\":[\"a\",\"b\"]}}}}", 0);
	thread_job jobs[4];
	pthread_t threads[4];
	for (int i = 0; i < 4; i++) {
		jobs[i].schema = s;
		jobs[i].good = cJSON_Parse("{\"name\":\"abc12\",\"tags\":[\"a\"]}");
		jobs[i].bad = cJSON_Parse("{\"name\":\"ABC\",\"tags\":[\"c\"]}");
		jobs[i].failures = 0;
		ck_assert_int_eq(pthread_create(&threads[i], NULL, hammer, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(threads[i], NULL);
		ck_assert_int_eq(jobs[i].failures, 0);
		cJSON_Delete(jobs[i].good);
		cJSON_Delete(jobs[i].bad);
	}
	cog_schema_free(s);
}
END_TEST

START_TEST(internal_compile_from_cjson)
{
	cJSON *doc = cJSON_Parse("{\"enum\":[{\"a\":1}]}");
	cog_schema *s;
	ck_assert_int_eq(cog__schema_compile(&s, doc, 0), 0);
	cJSON_Delete(doc); /* the schema keeps its own copy */
	cJSON *inst = cJSON_Parse("{\"a\":1.0}");
	ck_assert_int_eq(cog__schema_check(s, inst, NULL), 0);
	cJSON_Delete(inst);
	cog_schema_free(s);
	ck_assert_int_eq(cog__schema_compile(&s, NULL, 0), COG_EINVAL);
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("schema-api");
	TCase *tc = tcase_create("api");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, valid_instances_allocate_nothing);
	tcase_add_test(tc, error_pointers_and_last_error);
	tcase_add_test(tc, tool_schema_errors);
	tcase_add_test(tc, escaped_pointers_and_refs);
	tcase_add_test(tc, at_most_100_errors);
	tcase_add_test(tc, combinator_messages);
	tcase_add_test(tc, compile_errors);
	tcase_add_test(tc, ref_cycles);
	tcase_add_test(tc, long_ref_chain_is_bounded);
	tcase_add_test(tc, instance_errors);
	tcase_add_test(tc, drafts_and_flags);
	tcase_add_test(tc, many_properties);
	tcase_add_test(tc, unevaluated_errors);
	tcase_add_test(tc, unevaluated_recursion_is_bounded);
	tcase_add_test(tc, threads_share_a_schema);
	tcase_add_test(tc, internal_compile_from_cjson);
	suite_add_tcase(suite, tc);
	SRunner *sr = srunner_create(suite);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
