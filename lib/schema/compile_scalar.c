/* Compiling the keywords on any value (type, enum, const), on numbers
 * (minimum, maximum, exclusive bounds, multipleOf) and on strings
 * (minLength, maxLength, pattern, format). compile.c drives them. */
#include <math.h>
#include <string.h>

#include "schema_impl.h"

static int number_op(node_build *b, const char *keyword, op_kind kind)
{
	const cJSON *v = build_get(b, keyword);
	if (!v)
		return 0;
	sop *op = build_add_op(b, kind, T_NUMERIC, keyword);
	if (!op)
		return COG_ENOMEM;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return compile_bad_value(op->where, "a number");
	op->u.num = v->valuedouble;
	if (kind == OP_MULTIPLE && !(op->u.num > 0))
		return compile_bad_value(op->where, "a number greater than 0");
	return 0;
}

static int type_bit(const char *name, unsigned *bits)
{
	static const struct { const char *name; unsigned bits; } types[] = {
		{ "null", T_NULL }, { "boolean", T_BOOL }, { "integer", T_INT },
		{ "number", T_NUMERIC }, { "string", T_STR }, { "array", T_ARR },
		{ "object", T_OBJ },
	};
	for (size_t i = 0; i < COG_ARRAY_LEN(types); i++)
		if (strcmp(types[i].name, name) == 0) {
			*bits |= types[i].bits;
			return 0;
		}
	return -1;
}

int compile_type(node_build *b)
{
	const cJSON *v = build_get(b, "type");
	if (!v)
		return 0;
	sop *op = build_add_op(b, OP_TYPE, T_ANY, "type");
	if (!op)
		return COG_ENOMEM;
	const char *expect = "a type name or a non-empty array of type names";
	if (cJSON_IsString(v)) {
		if (type_bit(v->valuestring, &op->u.types))
			return compile_bad_value(op->where, expect);
		return 0;
	}
	if (!cJSON_IsArray(v) || !v->child)
		return compile_bad_value(op->where, expect);
	for (const cJSON *t = v->child; t; t = t->next)
		if (!cJSON_IsString(t) || type_bit(t->valuestring, &op->u.types))
			return compile_bad_value(op->where, expect);
	return 0;
}

/* The message text of an enum or const value, made once (arena). */
static const char *value_text(node_build *b, const cJSON *v)
{
	char text[160];
	if (!validate_value_text(v, text, sizeof(text)))
		return NULL;
	return arena_strdup(&b->c->s->mem, text);
}

int compile_values(node_build *b)
{
	const cJSON *v = build_get(b, "enum");
	if (v) {
		sop *op = build_add_op(b, OP_ENUM, T_ANY, "enum");
		if (!op)
			return COG_ENOMEM;
		if (!cJSON_IsArray(v))
			return compile_bad_value(op->where, "an array");
		op->u.val.value = v;
		if (!(op->u.val.text = value_text(b, v)))
			return COG_ENOMEM;
	}
	v = build_get(b, "const");
	if (v) {
		sop *op = build_add_op(b, OP_CONST, T_ANY, "const");
		if (!op)
			return COG_ENOMEM;
		op->u.val.value = v;
		if (!(op->u.val.text = value_text(b, v)))
			return COG_ENOMEM;
	}
	return 0;
}

int compile_numbers(node_build *b)
{
	int rc = number_op(b, "minimum", OP_MINIMUM);
	if (!rc) rc = number_op(b, "maximum", OP_MAXIMUM);
	if (!rc) rc = number_op(b, "exclusiveMinimum", OP_EXMIN);
	if (!rc) rc = number_op(b, "exclusiveMaximum", OP_EXMAX);
	if (!rc) rc = number_op(b, "multipleOf", OP_MULTIPLE);
	return rc;
}

int compile_strings(node_build *b)
{
	int rc = build_count_op(b, "minLength", OP_MINLEN, T_STR);
	if (!rc) rc = build_count_op(b, "maxLength", OP_MAXLEN, T_STR);
	if (rc)
		return rc;
	const cJSON *v = build_get(b, "pattern");
	if (v) {
		sop *op = build_add_op(b, OP_PATTERN, T_STR, "pattern");
		if (!op)
			return COG_ENOMEM;
		if (!cJSON_IsString(v))
			return compile_bad_value(op->where, "a string (a regular expression)");
		op->u.pattern.source = v->valuestring;
		rc = regex_compile(b->c->s, v->valuestring, op->where, &op->u.pattern.re);
		if (rc)
			return rc;
	}
	v = build_get(b, "format");
	if (v) {
		const char *where = build_where(b, "format");
		if (!where)
			return COG_ENOMEM;
		if (!cJSON_IsString(v))
			return compile_bad_value(where, "a string");
		int format = format_lookup(v->valuestring);
		if ((b->c->s->flags & COG_SCHEMA_FORMAT_ASSERT) && format >= 0) {
			sop *op = build_add_op(b, OP_FORMAT, T_STR, "format");
			if (!op)
				return COG_ENOMEM;
			op->u.format = format;
		}
	}
	return 0;
}
