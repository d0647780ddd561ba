/* Validation: run a node's ops on an instance. Three modes: collect errors
 * (up to 100), stop at the first error (errors == NULL), or probe a branch
 * quietly (anyOf, oneOf, not, if, contains, propertyNames). Nothing is
 * allocated unless a failure is reported. */
#include <math.h>
#include <float.h>
#include <stdio.h>
#include <string.h>

#include "schema_impl.h"

unsigned instance_type(const cJSON *j)
{
	switch (j->type & 0xFF) {
	case cJSON_NULL: return T_NULL;
	case cJSON_False: case cJSON_True: return T_BOOL;
	case cJSON_Number: {
		double d = j->valuedouble;
		return isfinite(d) && floor(d) == d ? T_INT : T_NUM;
	}
	case cJSON_String: return T_STR;
	case cJSON_Array: return T_ARR;
	case cJSON_Object: return T_OBJ;
	default: return 0;
	}
}

static bool quiet(const vctx *v)
{
	return v->mode == MODE_PROBE || v->full;
}

static bool go_on(const vctx *v)
{
	return v->mode == MODE_COLLECT && !v->full && !v->abort;
}

static bool probe(vctx *v, const snode *n, const cJSON *inst, const ipath *p)
{
	int saved = v->mode;
	v->mode = MODE_PROBE;
	bool ok = validate_node(v, n, inst, p);
	v->mode = saved;
	return ok && !v->abort;
}

static bool is_false(const snode *n)
{
	return n->nops == 1 && n->ops[0].kind == OP_FALSE;
}

static void types_text(unsigned mask, char *out, size_t size)
{
	static const unsigned order[] = { T_NULL, T_BOOL, T_INT, T_NUM, T_STR, T_ARR, T_OBJ };
	out[0] = '\0';
	size_t len = 0;
	for (size_t i = 0; i < COG_ARRAY_LEN(order); i++) {
		unsigned bit = order[i];
		if (!(mask & bit) || (bit == T_INT && (mask & T_NUM)))
			continue;
		const char *name = bit == T_NUM ? "number" : type_name(bit);
		int n = snprintf(out + len, size - len, "%s%s", len ? " or " : "", name);
		if (n < 0 || (size_t)n >= size - len)
			return;
		len += (size_t)n;
	}
}

/* Short JSON text of a keyword's value for a message. */
static void value_text(const cJSON *value, char *out, size_t size)
{
	char *text = cog_json_print(value);
	snprintf(out, size, "%s", text ? text : "(the schema's value)");
	if (text && strlen(text) >= size && size > 4)
		memcpy(out + size - 4, "...", 4);
	cog_free(text);
}

static size_t utf8_length(const char *s, size_t stop_after)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xC0) != 0x80 && ++n > stop_after)
			break;
	return n;
}

static bool multiple_of(double x, double m)
{
	if (floor(m) == m) /* fmod is exact */
		return fmod(x, m) == 0;
	double q = x / m;
	if (!isfinite(q))
		return false;
	double r = nearbyint(q);
	if (r == 0)
		return x == 0;
	return fabs(q - r) <= fmax(1e-9, 8 * DBL_EPSILON * fabs(q));
}

static const cJSON *member(const cJSON *object, const char *name)
{
	for (const cJSON *m = object->child; m; m = m->next)
		if (strcmp(m->string, name) == 0)
			return m;
	return NULL;
}

static size_t child_count(const cJSON *j)
{
	size_t n = 0;
	for (const cJSON *c = j->child; c; c = c->next)
		n++;
	return n;
}

static bool check_number(vctx *v, const sop *op, const cJSON *inst, const ipath *p)
{
	double x = inst->valuedouble, lim = op->u.num;
	const char *what = NULL;
	switch (op->kind) {
	case OP_MINIMUM: if (x < lim) what = "less than the minimum"; break;
	case OP_MAXIMUM: if (x > lim) what = "greater than the maximum"; break;
	case OP_EXMIN: if (x <= lim) what = "not greater than the exclusive minimum"; break;
	case OP_EXMAX: if (x >= lim) what = "not less than the exclusive maximum"; break;
	default:
		if (!multiple_of(x, lim)) {
			report(v, p, op->keyword, op->where, "%.17g is not a multiple of %.17g", x, lim);
			return false;
		}
		break;
	}
	if (!what)
		return true;
	report(v, p, op->keyword, op->where, "%.17g is %s %.17g", x, what, lim);
	return false;
}

static bool check_string(vctx *v, const sop *op, const cJSON *inst, const ipath *p)
{
	const char *s = inst->valuestring;
	switch (op->kind) {
	case OP_MINLEN: {
		size_t n = utf8_length(s, op->u.count);
		if (n >= op->u.count)
			return true;
		report(v, p, op->keyword, op->where, "string has %zu characters, at least %zu required",
		       n, op->u.count);
		return false;
	}
	case OP_MAXLEN: {
		size_t n = utf8_length(s, op->u.count);
		if (n <= op->u.count)
			return true;
		report(v, p, op->keyword, op->where, "string has more than %zu characters", op->u.count);
		return false;
	}
	case OP_PATTERN: {
		int rc = regex_search(op->u.pattern.re, s, strlen(s));
		if (rc == 1)
			return true;
		report(v, p, op->keyword, op->where, rc == 0 ? "string does not match the pattern \"%s\""
		                                             : "the pattern \"%s\" could not be evaluated",
		       op->u.pattern.source);
		return false;
	}
	default: /* OP_FORMAT */
		if (format_check(op->u.format, s))
			return true;
		report(v, p, op->keyword, op->where, "string is not a valid %s", format_name(op->u.format));
		return false;
	}
}

static const sprop *find_property(const sop *op, const char *name)
{
	if (!op->u.props.nprops)
		return NULL;
	uint32_t h = schema_hash(name);
	for (uint32_t i = h & op->u.props.mask;; i = (i + 1) & op->u.props.mask) {
		uint32_t slot = op->u.props.slots[i];
		if (!slot)
			return NULL;
		const sprop *sp = &op->u.props.props[slot - 1];
		if (sp->hash == h && strcmp(sp->name, name) == 0)
			return sp;
	}
}

static bool check_properties(vctx *v, const sop *op, const cJSON *inst, const ipath *p)
{
	bool ok = true;
	for (const cJSON *m = inst->child; m; m = m->next) {
		ipath here = { p, m->string, 0 };
		bool matched = false, good = true;
		const sprop *sp = find_property(op, m->string);
		if (sp) {
			matched = true;
			good = validate_node(v, sp->schema, m, &here);
		}
		for (size_t i = 0; i < op->u.props.npats && (good || go_on(v)); i++) {
			const spattern *pat = &op->u.props.pats[i];
			int rc = regex_search(pat->re, m->string, strlen(m->string));
			if (rc < 0) {
				report(v, &here, "patternProperties", op->where, "a pattern could not be evaluated");
				good = false;
			} else if (rc == 1) {
				matched = true;
				good = validate_node(v, pat->schema, m, &here) && good;
			}
		}
		if (!matched && op->u.props.additional && (good || go_on(v))) {
			if (is_false(op->u.props.additional)) {
				report(v, &here, "additionalProperties", op->u.props.where_add,
				       "property \"%s\" is not allowed", m->string);
				good = false;
			} else {
				good = validate_node(v, op->u.props.additional, m, &here);
			}
		}
		if (!good) {
			ok = false;
			if (!go_on(v))
				return false;
		}
	}
	return ok;
}

static bool check_object(vctx *v, const sop *op, const cJSON *inst, const ipath *p)
{
	bool ok = true;
	switch (op->kind) {
	case OP_REQUIRED:
		for (size_t i = 0; i < op->u.req.count; i++) {
			if (member(inst, op->u.req.names[i]))
				continue;
			report(v, p, op->keyword, op->where, "missing required property \"%s\"",
			       op->u.req.names[i]);
			ok = false;
			if (!go_on(v))
				return false;
		}
		return ok;
	case OP_MINPROPS: case OP_MAXPROPS: {
		size_t n = child_count(inst);
		bool min = op->kind == OP_MINPROPS;
		if (min ? n >= op->u.count : n <= op->u.count)
			return true;
		report(v, p, op->keyword, op->where, "object has %zu properties, at %s %zu allowed",
		       n, min ? "least" : "most", op->u.count);
		return false;
	}
	case OP_PROPS:
		return check_properties(v, op, inst, p);
	case OP_PROPNAMES:
		for (const cJSON *m = inst->child; m; m = m->next) {
			cJSON name;
			memset(&name, 0, sizeof(name));
			name.type = cJSON_String;
			name.valuestring = m->string;
			if (probe(v, op->u.child, &name, NULL))
				continue;
			ipath here = { p, m->string, 0 };
			report(v, &here, op->keyword, op->where,
			       "property name \"%s\" does not match the propertyNames schema", m->string);
			ok = false;
			if (!go_on(v))
				return false;
		}
		return ok;
	case OP_DEPREQ:
		for (size_t i = 0; i < op->u.dep.count; i++) {
			const sdep *d = &op->u.dep.deps[i];
			if (!member(inst, d->name))
				continue;
			for (size_t k = 0; k < d->count; k++) {
				if (member(inst, d->names[k]))
					continue;
				report(v, p, op->keyword, op->where,
				       "property \"%s\" is required when \"%s\" is present", d->names[k], d->name);
				ok = false;
				if (!go_on(v))
					return false;
			}
		}
		return ok;
	default: /* OP_DEPSCHEMA */
		for (size_t i = 0; i < op->u.dep.count; i++) {
			const sdep *d = &op->u.dep.deps[i];
			if (!member(inst, d->name) || validate_node(v, d->schema, inst, p))
				continue;
			ok = false;
			if (!go_on(v))
				return false;
		}
		return ok;
	}
}

static bool check_items(vctx *v, const sop *op, const cJSON *inst, const ipath *p)
{
	bool ok = true;
	size_t i = 0;
	for (const cJSON *it = inst->child; it; it = it->next, i++) {
		const snode *n = i < op->u.items.nprefix ? op->u.items.prefix[i] : op->u.items.rest;
		if (!n)
			break;
		ipath here = { p, NULL, i };
		if (n == op->u.items.rest && is_false(n)) {
			report(v, &here, op->u.items.rest_keyword, op->u.items.where_rest,
			       "array has %zu items, at most %zu allowed", child_count(inst),
			       op->u.items.nprefix);
			return false;
		}
		if (!validate_node(v, n, it, &here)) {
			ok = false;
			if (!go_on(v))
				return false;
		}
	}
	return ok;
}

static bool check_contains(vctx *v, const sop *op, const cJSON *inst, const ipath *p)
{
	size_t found = 0, min = op->u.contains.min, max = op->u.contains.max;
	size_t i = 0;
	for (const cJSON *it = inst->child; it; it = it->next, i++) {
		ipath here = { p, NULL, i };
		if (probe(v, op->u.contains.child, it, &here) && ++found > max)
			break;
		if (found >= min && max == SIZE_MAX)
			break;
		if (v->abort)
			return false;
	}
	if (found >= min && found <= max)
		return true;
	if (found < min && min == 1)
		report(v, p, op->keyword, op->where, "no item matches the contains schema");
	else if (found < min)
		report(v, p, "minContains", op->where, "%zu items match the contains schema, at least %zu required",
		       found, min);
	else
		report(v, p, "maxContains", op->where, "more than %zu items match the contains schema", max);
	return false;
}

static bool check_array(vctx *v, const sop *op, const cJSON *inst, const ipath *p)
{
	switch (op->kind) {
	case OP_MINITEMS: case OP_MAXITEMS: {
		size_t n = child_count(inst);
		bool min = op->kind == OP_MINITEMS;
		if (min ? n >= op->u.count : n <= op->u.count)
			return true;
		report(v, p, op->keyword, op->where, "array has %zu items, at %s %zu allowed",
		       n, min ? "least" : "most", op->u.count);
		return false;
	}
	case OP_UNIQUE: {
		size_t i = 0;
		for (const cJSON *a = inst->child; a; a = a->next, i++) {
			size_t k = i + 1;
			for (const cJSON *b = a->next; b; b = b->next, k++) {
				if (!json_equal(a, b))
					continue;
				report(v, p, op->keyword, op->where, "items %zu and %zu are equal", i, k);
				return false;
			}
		}
		return true;
	}
	case OP_ITEMS:
		return check_items(v, op, inst, p);
	default:
		return check_contains(v, op, inst, p);
	}
}

static bool check_logic(vctx *v, const sop *op, const cJSON *inst, const ipath *p)
{
	switch (op->kind) {
	case OP_ALLOF: {
		bool ok = true;
		for (size_t i = 0; i < op->u.list.count; i++) {
			if (validate_node(v, op->u.list.items[i], inst, p))
				continue;
			ok = false;
			if (!go_on(v))
				return false;
		}
		return ok;
	}
	case OP_ANYOF:
		for (size_t i = 0; i < op->u.list.count; i++)
			if (probe(v, op->u.list.items[i], inst, p))
				return true;
		report(v, p, op->keyword, op->where, "value matches none of the %zu alternatives",
		       op->u.list.count);
		return false;
	case OP_ONEOF: {
		size_t first = 0, matches = 0;
		for (size_t i = 0; i < op->u.list.count && matches < 2; i++) {
			if (!probe(v, op->u.list.items[i], inst, p))
				continue;
			if (matches++ == 1) {
				report(v, p, op->keyword, op->where,
				       "value matches more than one alternative (%zu and %zu), exactly one required",
				       first, i);
				return false;
			}
			first = i;
		}
		if (matches == 1)
			return true;
		report(v, p, op->keyword, op->where, "value matches none of the %zu alternatives",
		       op->u.list.count);
		return false;
	}
	case OP_NOT:
		if (!probe(v, op->u.child, inst, p))
			return true;
		report(v, p, op->keyword, op->where, "value must not match the schema in \"not\"");
		return false;
	case OP_IF: {
		bool cond = probe(v, op->u.when.cond, inst, p);
		const snode *next = cond ? op->u.when.then : op->u.when.other;
		return !next || validate_node(v, next, inst, p);
	}
	default: /* OP_REF */
		return validate_node(v, op->u.child, inst, p);
	}
}

static bool check_op(vctx *v, const sop *op, const cJSON *inst, unsigned t,
                     const ipath *p)
{
	char text[160];
	switch (op->kind) {
	case OP_FALSE:
		report(v, p, op->keyword, op->where, "no value is allowed here (the schema is false)");
		return false;
	case OP_TYPE:
		if (op->u.types & t)
			return true;
		if (!quiet(v)) {
			types_text(op->u.types, text, sizeof(text));
			report(v, p, op->keyword, op->where, "expected %s, got %s", text, type_name(t));
		}
		return false;
	case OP_ENUM:
		for (const cJSON *e = op->u.value->child; e; e = e->next)
			if (json_equal(inst, e))
				return true;
		if (!quiet(v)) {
			value_text(op->u.value, text, sizeof(text));
			report(v, p, op->keyword, op->where, "value is not one of %s", text);
		}
		return false;
	case OP_CONST:
		if (json_equal(inst, op->u.value))
			return true;
		if (!quiet(v)) {
			value_text(op->u.value, text, sizeof(text));
			report(v, p, op->keyword, op->where, "value must be %s", text);
		}
		return false;
	case OP_MINIMUM: case OP_MAXIMUM: case OP_EXMIN: case OP_EXMAX: case OP_MULTIPLE:
		return check_number(v, op, inst, p);
	case OP_MINLEN: case OP_MAXLEN: case OP_PATTERN: case OP_FORMAT:
		return check_string(v, op, inst, p);
	case OP_REQUIRED: case OP_MINPROPS: case OP_MAXPROPS: case OP_PROPS:
	case OP_PROPNAMES: case OP_DEPREQ: case OP_DEPSCHEMA:
		return check_object(v, op, inst, p);
	case OP_MINITEMS: case OP_MAXITEMS: case OP_UNIQUE: case OP_ITEMS: case OP_CONTAINS:
		return check_array(v, op, inst, p);
	default:
		return check_logic(v, op, inst, p);
	}
}

bool validate_node(vctx *v, const snode *n, const cJSON *inst, const ipath *p)
{
	if (v->depth >= SCHEMA_MAX_DEPTH) {
		v->abort = true;
		return false;
	}
	v->depth++;
	unsigned t = instance_type(inst);
	bool ok = true;
	for (size_t i = 0; i < n->nops; i++) {
		const sop *op = &n->ops[i];
		if (!(op->applies & t) || check_op(v, op, inst, t, p))
			continue;
		ok = false;
		if (!go_on(v))
			break;
	}
	v->depth--;
	return ok && !v->abort;
}
