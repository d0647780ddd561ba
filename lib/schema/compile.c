/* Compiling one subschema: each keyword becomes an op with its operands
 * checked and converted once (numbers, regexes, child nodes). Child nodes
 * are only queued here (compile_get_node), so compiling never recurses and
 * $ref cycles cost nothing. */
#include <math.h>
#include <string.h>

#include "schema_impl.h"

#define NODE_MAX_OPS 40

typedef struct node_build {
	compiler *c;
	snode *node;
	const cJSON *json;
	sop ops[NODE_MAX_OPS];
	size_t nops;
} node_build;

static int bad_value(const char *where, const char *expected)
{
	return cog__error(COG_EINVAL, "schema: %s: expected %s", where ? where : "?", expected);
}

snode *compile_get_node(compiler *c, const cJSON *json, const node_info *info)
{
	snode *n = map_get_ptr(&c->memo, json);
	if (n)
		return n;
	cog_schema *s = c->s;
	n = arena_alloc(&s->mem, sizeof(*n));
	if (!n)
		goto oom;
	n->json = json;
	n->base = info->base;
	n->where = info->where;
	if (s->nnodes == c->capnodes || c->ntodo == c->captodo) {
		size_t cap = c->capnodes ? c->capnodes * 2 : 64;
		snode **nodes = cog_realloc(s->nodes, cap * sizeof(*nodes));
		if (!nodes)
			goto oom;
		s->nodes = nodes;
		snode **todo = cog_realloc(c->todo, cap * sizeof(*todo));
		if (!todo)
			goto oom;
		c->todo = todo;
		c->capnodes = c->captodo = cap;
	}
	n->index = (uint32_t)s->nnodes;
	s->nodes[s->nnodes++] = n;
	c->todo[c->ntodo++] = n;
	if (map_put_ptr(&c->memo, json, n))
		return NULL;
	return n;
oom:
	cog__oom("schema compile");
	return NULL;
}

static const char *kw_where(node_build *b, const char *keyword)
{
	return ref_child_pointer(b->c, b->node->where, keyword);
}

static sop *add_op(node_build *b, op_kind kind, unsigned applies,
                   const char *keyword)
{
	const char *where = kw_where(b, keyword);
	if (!where)
		return NULL;
	sop *op = &b->ops[b->nops++];
	memset(op, 0, sizeof(*op));
	op->kind = (uint8_t)kind;
	op->applies = (uint8_t)applies;
	op->keyword = keyword;
	op->where = where;
	return op;
}

/* A subschema at `json` (object or boolean), else COG_EINVAL. */
static int sub(node_build *b, const cJSON *json, const char *where, snode **out)
{
	if (!cJSON_IsObject(json) && !cJSON_IsBool(json))
		return bad_value(where, "a schema (object or boolean)");
	const node_info *info = map_get_ptr(&b->c->info, json);
	node_info local;
	if (!info) { /* not reached by the scan: inherits the parent's base */
		local.base = b->node->base;
		local.where = where;
		info = &local;
		node_info *copy = arena_alloc(&b->c->s->mem, sizeof(*copy));
		if (!copy)
			return cog__oom("schema compile");
		*copy = local;
		info = copy;
	}
	*out = compile_get_node(b->c, json, info);
	return *out ? 0 : COG_ENOMEM;
}

static int sub_list(node_build *b, const cJSON *arr, const char *where,
                    bool nonempty, snode ***items, size_t *count)
{
	if (!cJSON_IsArray(arr) || (nonempty && !arr->child))
		return bad_value(where, nonempty ? "a non-empty array of schemas" : "an array of schemas");
	size_t n = (size_t)cJSON_GetArraySize(arr);
	*items = arena_alloc(&b->c->s->mem, (n ? n : 1) * sizeof(**items));
	if (!*items)
		return cog__oom("schema compile");
	size_t i = 0;
	for (const cJSON *it = arr->child; it; it = it->next, i++) {
		const char *w = ref_index_pointer(b->c, where, i);
		int rc = w ? sub(b, it, w, &(*items)[i]) : COG_ENOMEM;
		if (rc)
			return rc;
	}
	*count = n;
	return 0;
}

static const cJSON *get(node_build *b, const char *keyword)
{
	return cJSON_GetObjectItemCaseSensitive(b->json, keyword);
}

static bool count_value(const cJSON *v, size_t *out)
{
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) ||
	    floor(v->valuedouble) != v->valuedouble)
		return false;
	*out = v->valuedouble >= 18446744073709551615.0 ? SIZE_MAX : (size_t)v->valuedouble;
	return true;
}

static int count_op(node_build *b, const char *keyword, op_kind kind, unsigned applies)
{
	const cJSON *v = get(b, keyword);
	if (!v)
		return 0;
	sop *op = add_op(b, kind, applies, keyword);
	if (!op)
		return COG_ENOMEM;
	if (!count_value(v, &op->u.count))
		return bad_value(op->where, "a non-negative integer");
	return 0;
}

static int number_op(node_build *b, const char *keyword, op_kind kind)
{
	const cJSON *v = get(b, keyword);
	if (!v)
		return 0;
	sop *op = add_op(b, kind, T_NUMERIC, keyword);
	if (!op)
		return COG_ENOMEM;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return bad_value(op->where, "a number");
	op->u.num = v->valuedouble;
	if (kind == OP_MULTIPLE && !(op->u.num > 0))
		return bad_value(op->where, "a number greater than 0");
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

static int compile_type(node_build *b)
{
	const cJSON *v = get(b, "type");
	if (!v)
		return 0;
	sop *op = add_op(b, OP_TYPE, T_ANY, "type");
	if (!op)
		return COG_ENOMEM;
	const char *expect = "a type name or a non-empty array of type names";
	if (cJSON_IsString(v)) {
		if (type_bit(v->valuestring, &op->u.types))
			return bad_value(op->where, expect);
		return 0;
	}
	if (!cJSON_IsArray(v) || !v->child)
		return bad_value(op->where, expect);
	for (const cJSON *t = v->child; t; t = t->next)
		if (!cJSON_IsString(t) || type_bit(t->valuestring, &op->u.types))
			return bad_value(op->where, expect);
	return 0;
}

static int compile_values(node_build *b)
{
	const cJSON *v = get(b, "enum");
	if (v) {
		sop *op = add_op(b, OP_ENUM, T_ANY, "enum");
		if (!op)
			return COG_ENOMEM;
		if (!cJSON_IsArray(v))
			return bad_value(op->where, "an array");
		op->u.value = v;
	}
	v = get(b, "const");
	if (v) {
		sop *op = add_op(b, OP_CONST, T_ANY, "const");
		if (!op)
			return COG_ENOMEM;
		op->u.value = v;
	}
	return 0;
}

static int compile_numbers(node_build *b)
{
	int rc = number_op(b, "minimum", OP_MINIMUM);
	if (!rc) rc = number_op(b, "maximum", OP_MAXIMUM);
	if (!rc) rc = number_op(b, "exclusiveMinimum", OP_EXMIN);
	if (!rc) rc = number_op(b, "exclusiveMaximum", OP_EXMAX);
	if (!rc) rc = number_op(b, "multipleOf", OP_MULTIPLE);
	return rc;
}

static int compile_strings(node_build *b)
{
	int rc = count_op(b, "minLength", OP_MINLEN, T_STR);
	if (!rc) rc = count_op(b, "maxLength", OP_MAXLEN, T_STR);
	if (rc)
		return rc;
	const cJSON *v = get(b, "pattern");
	if (v) {
		sop *op = add_op(b, OP_PATTERN, T_STR, "pattern");
		if (!op)
			return COG_ENOMEM;
		if (!cJSON_IsString(v))
			return bad_value(op->where, "a string (a regular expression)");
		op->u.pattern.source = v->valuestring;
		rc = regex_compile(b->c->s, v->valuestring, op->where, &op->u.pattern.re);
		if (rc)
			return rc;
	}
	v = get(b, "format");
	if (v) {
		const char *where = kw_where(b, "format");
		if (!where)
			return COG_ENOMEM;
		if (!cJSON_IsString(v))
			return bad_value(where, "a string");
		int format = format_lookup(v->valuestring);
		if ((b->c->s->flags & COG_SCHEMA_FORMAT_ASSERT) && format >= 0) {
			sop *op = add_op(b, OP_FORMAT, T_STR, "format");
			if (!op)
				return COG_ENOMEM;
			op->u.format = format;
		}
	}
	return 0;
}

static int string_list(node_build *b, const cJSON *arr, const char *where,
                       const char ***names, size_t *count)
{
	if (!cJSON_IsArray(arr))
		return bad_value(where, "an array of strings");
	size_t n = (size_t)cJSON_GetArraySize(arr);
	*names = arena_alloc(&b->c->s->mem, (n ? n : 1) * sizeof(**names));
	if (!*names)
		return cog__oom("schema compile");
	size_t i = 0;
	for (const cJSON *it = arr->child; it; it = it->next) {
		if (!cJSON_IsString(it))
			return bad_value(where, "an array of strings");
		(*names)[i++] = it->valuestring;
	}
	*count = n;
	return 0;
}

static int compile_props_index(node_build *b, sop *op)
{
	size_t n = op->u.props.nprops;
	uint32_t size = 4;
	while (size < 2 * n)
		size *= 2;
	op->u.props.slots = arena_alloc(&b->c->s->mem, size * sizeof(uint32_t));
	if (!op->u.props.slots)
		return cog__oom("schema compile");
	op->u.props.mask = size - 1;
	for (size_t i = 0; i < n; i++) {
		uint32_t h = op->u.props.props[i].hash & op->u.props.mask;
		while (op->u.props.slots[h])
			h = (h + 1) & op->u.props.mask;
		op->u.props.slots[h] = (uint32_t)i + 1;
	}
	return 0;
}

static int compile_properties(node_build *b)
{
	const cJSON *props = get(b, "properties");
	const cJSON *pats = get(b, "patternProperties");
	const cJSON *add = get(b, "additionalProperties");
	if (!props && !pats && !add)
		return 0;
	sop *op = add_op(b, OP_PROPS, T_OBJ, "properties");
	if (!op)
		return COG_ENOMEM;
	arena *mem = &b->c->s->mem;
	if (props) {
		if (!cJSON_IsObject(props))
			return bad_value(op->where, "an object of schemas");
		size_t n = (size_t)cJSON_GetArraySize(props);
		op->u.props.props = arena_alloc(mem, (n ? n : 1) * sizeof(sprop));
		if (!op->u.props.props)
			return cog__oom("schema compile");
		for (const cJSON *p = props->child; p; p = p->next) {
			sprop *sp = &op->u.props.props[op->u.props.nprops++];
			sp->name = p->string;
			sp->hash = schema_hash(p->string);
			const char *w = ref_child_pointer(b->c, op->where, p->string);
			int rc = w ? sub(b, p, w, &sp->schema) : COG_ENOMEM;
			if (rc)
				return rc;
		}
	}
	int rc = compile_props_index(b, op);
	if (rc)
		return rc;
	if (pats) {
		const char *where = kw_where(b, "patternProperties");
		if (!where)
			return COG_ENOMEM;
		if (!cJSON_IsObject(pats))
			return bad_value(where, "an object of schemas");
		size_t n = (size_t)cJSON_GetArraySize(pats);
		op->u.props.pats = arena_alloc(mem, (n ? n : 1) * sizeof(spattern));
		if (!op->u.props.pats)
			return cog__oom("schema compile");
		for (const cJSON *p = pats->child; p; p = p->next) {
			spattern *sp = &op->u.props.pats[op->u.props.npats++];
			const char *w = ref_child_pointer(b->c, where, p->string);
			rc = w ? regex_compile(b->c->s, p->string, w, &sp->re) : COG_ENOMEM;
			if (!rc)
				rc = sub(b, p, w, &sp->schema);
			if (rc)
				return rc;
		}
	}
	if (add) {
		op->u.props.where_add = kw_where(b, "additionalProperties");
		if (!op->u.props.where_add)
			return COG_ENOMEM;
		rc = sub(b, add, op->u.props.where_add, &op->u.props.additional);
	}
	return rc;
}

/* dependentRequired, dependentSchemas, or draft-07 dependencies (both). */
static int compile_dependencies(node_build *b, const char *keyword,
                                bool names_ok, bool schemas_ok)
{
	const cJSON *v = get(b, keyword);
	if (!v)
		return 0;
	const char *where = kw_where(b, keyword);
	if (!where)
		return COG_ENOMEM;
	if (!cJSON_IsObject(v))
		return bad_value(where, "an object");
	size_t n = (size_t)cJSON_GetArraySize(v);
	sop *req = NULL, *sch = NULL;
	for (const cJSON *d = v->child; d; d = d->next) {
		bool is_names = cJSON_IsArray(d);
		sop **slot = is_names ? &req : &sch;
		if (is_names ? !names_ok : !schemas_ok)
			return bad_value(ref_child_pointer(b->c, where, d->string),
			                 names_ok ? "an array of strings" : "a schema");
		if (!*slot) {
			*slot = add_op(b, is_names ? OP_DEPREQ : OP_DEPSCHEMA, T_OBJ, keyword);
			if (!*slot)
				return COG_ENOMEM;
			(*slot)->u.dep.deps = arena_alloc(&b->c->s->mem, n * sizeof(sdep));
			if (!(*slot)->u.dep.deps)
				return cog__oom("schema compile");
		}
		sdep *dep = &(*slot)->u.dep.deps[(*slot)->u.dep.count++];
		dep->name = d->string;
		const char *w = ref_child_pointer(b->c, where, d->string);
		int rc = !w ? COG_ENOMEM : is_names ? string_list(b, d, w, &dep->names, &dep->count)
		                                    : sub(b, d, w, &dep->schema);
		if (rc)
			return rc;
	}
	return 0;
}

static int compile_objects(node_build *b)
{
	const cJSON *v = get(b, "required");
	if (v) {
		sop *op = add_op(b, OP_REQUIRED, T_OBJ, "required");
		if (!op)
			return COG_ENOMEM;
		int rc = string_list(b, v, op->where, &op->u.req.names, &op->u.req.count);
		if (rc)
			return rc;
	}
	int rc = count_op(b, "minProperties", OP_MINPROPS, T_OBJ);
	if (!rc) rc = count_op(b, "maxProperties", OP_MAXPROPS, T_OBJ);
	if (!rc) rc = compile_properties(b);
	if (rc)
		return rc;
	v = get(b, "propertyNames");
	if (v) {
		sop *op = add_op(b, OP_PROPNAMES, T_OBJ, "propertyNames");
		if (!op)
			return COG_ENOMEM;
		rc = sub(b, v, op->where, &op->u.child);
		if (rc)
			return rc;
	}
	if (b->c->draft == DRAFT_07)
		return compile_dependencies(b, "dependencies", true, true);
	rc = compile_dependencies(b, "dependentRequired", true, false);
	if (!rc)
		rc = compile_dependencies(b, "dependentSchemas", false, true);
	return rc;
}

static int compile_items(node_build *b)
{
	const cJSON *prefix = get(b, "prefixItems");
	const cJSON *items = get(b, "items");
	const cJSON *additional = get(b, "additionalItems");
	/* 2020-12 without prefixItems accepts the older array form of items
	 * too, as MCP schemas without "$schema" often use it. */
	bool old_form = cJSON_IsArray(items) && (b->c->draft == DRAFT_07 || !prefix);
	if (b->c->draft == DRAFT_07)
		prefix = NULL;
	if (!prefix && !items)
		return 0;
	sop *op = add_op(b, OP_ITEMS, T_ARR, prefix ? "prefixItems" : "items");
	if (!op)
		return COG_ENOMEM;
	int rc = 0;
	if (old_form) {
		rc = sub_list(b, items, op->where, false, &op->u.items.prefix, &op->u.items.nprefix);
		if (!rc && additional) {
			op->u.items.rest_keyword = "additionalItems";
			op->u.items.where_rest = kw_where(b, "additionalItems");
			rc = op->u.items.where_rest ? sub(b, additional, op->u.items.where_rest, &op->u.items.rest)
			                            : COG_ENOMEM;
		}
		return rc;
	}
	if (prefix)
		rc = sub_list(b, prefix, op->where, true, &op->u.items.prefix, &op->u.items.nprefix);
	if (!rc && items) {
		op->u.items.rest_keyword = "items";
		op->u.items.where_rest = kw_where(b, "items");
		rc = op->u.items.where_rest ? sub(b, items, op->u.items.where_rest, &op->u.items.rest)
		                            : COG_ENOMEM;
	}
	return rc;
}

static int compile_arrays(node_build *b)
{
	int rc = count_op(b, "minItems", OP_MINITEMS, T_ARR);
	if (!rc) rc = count_op(b, "maxItems", OP_MAXITEMS, T_ARR);
	if (rc)
		return rc;
	const cJSON *v = get(b, "uniqueItems");
	if (v) {
		const char *where = kw_where(b, "uniqueItems");
		if (!where)
			return COG_ENOMEM;
		if (!cJSON_IsBool(v))
			return bad_value(where, "a boolean");
		if (cJSON_IsTrue(v) && !add_op(b, OP_UNIQUE, T_ARR, "uniqueItems"))
			return COG_ENOMEM;
	}
	rc = compile_items(b);
	if (rc)
		return rc;
	v = get(b, "contains");
	if (!v)
		return 0;
	sop *op = add_op(b, OP_CONTAINS, T_ARR, "contains");
	if (!op)
		return COG_ENOMEM;
	rc = sub(b, v, op->where, &op->u.contains.child);
	op->u.contains.min = 1;
	op->u.contains.max = SIZE_MAX;
	if (rc || b->c->draft == DRAFT_07)
		return rc;
	const cJSON *min = get(b, "minContains"), *max = get(b, "maxContains");
	if (min && !count_value(min, &op->u.contains.min))
		return bad_value(kw_where(b, "minContains"), "a non-negative integer");
	if (max && !count_value(max, &op->u.contains.max))
		return bad_value(kw_where(b, "maxContains"), "a non-negative integer");
	return 0;
}

static int compile_logic(node_build *b)
{
	static const struct { const char *keyword; op_kind kind; } lists[] = {
		{ "allOf", OP_ALLOF }, { "anyOf", OP_ANYOF }, { "oneOf", OP_ONEOF },
	};
	for (size_t i = 0; i < COG_ARRAY_LEN(lists); i++) {
		const cJSON *v = get(b, lists[i].keyword);
		if (!v)
			continue;
		sop *op = add_op(b, lists[i].kind, T_ANY, lists[i].keyword);
		if (!op)
			return COG_ENOMEM;
		int rc = sub_list(b, v, op->where, true, &op->u.list.items, &op->u.list.count);
		if (rc)
			return rc;
	}
	const cJSON *v = get(b, "not");
	if (v) {
		sop *op = add_op(b, OP_NOT, T_ANY, "not");
		if (!op)
			return COG_ENOMEM;
		int rc = sub(b, v, op->where, &op->u.child);
		if (rc)
			return rc;
	}
	v = get(b, "if");
	if (!v)
		return 0;
	sop *op = add_op(b, OP_IF, T_ANY, "if");
	if (!op)
		return COG_ENOMEM;
	int rc = sub(b, v, op->where, &op->u.when.cond);
	const cJSON *then = get(b, "then"), *other = get(b, "else");
	if (!rc && then) {
		const char *w = kw_where(b, "then");
		rc = w ? sub(b, then, w, &op->u.when.then) : COG_ENOMEM;
	}
	if (!rc && other) {
		const char *w = kw_where(b, "else");
		rc = w ? sub(b, other, w, &op->u.when.other) : COG_ENOMEM;
	}
	if (!rc && !op->u.when.then && !op->u.when.other)
		b->nops--; /* "if" alone asserts nothing */
	return rc;
}

static int compile_ref(node_build *b, const char *keyword)
{
	const cJSON *v = get(b, keyword);
	if (!v)
		return 0;
	sop *op = add_op(b, OP_REF, T_ANY, keyword);
	if (!op)
		return COG_ENOMEM;
	if (!cJSON_IsString(v))
		return bad_value(op->where, "a URI reference string");
	const cJSON *target;
	const node_info *info = NULL;
	int rc = ref_resolve(b->c, v->valuestring, b->node->base, op->where, &target, &info);
	if (rc)
		return rc;
	if (!cJSON_IsObject(target) && !cJSON_IsBool(target))
		return cog__error(COG_EINVAL, "schema: %s: $ref \"%s\" names a value that is not a schema",
		                  op->where, v->valuestring);
	op->u.child = compile_get_node(b->c, target, info);
	return op->u.child ? 0 : COG_ENOMEM;
}

int compile_node(compiler *c, snode *n)
{
	node_build *b = cog_malloc(sizeof(*b));
	if (!b)
		return cog__oom("schema compile");
	b->c = c;
	b->node = n;
	b->json = n->json;
	b->nops = 0;
	int rc = 0;
	if (cJSON_IsBool(n->json)) {
		if (cJSON_IsFalse(n->json)) {
			sop *op = &b->ops[b->nops++];
			memset(op, 0, sizeof(*op));
			op->kind = OP_FALSE;
			op->applies = T_ANY;
			op->keyword = "false";
			op->where = n->where;
		}
	} else if (!cJSON_IsObject(n->json)) {
		rc = bad_value(n->where[0] ? n->where : "(root)", "a schema (object or boolean)");
	} else if (c->draft == DRAFT_07 && get(b, "$ref")) {
		rc = compile_ref(b, "$ref"); /* draft-07 ignores the siblings */
	} else {
		rc = compile_type(b);
		if (!rc) rc = compile_values(b);
		if (!rc) rc = compile_numbers(b);
		if (!rc) rc = compile_strings(b);
		if (!rc) rc = compile_objects(b);
		if (!rc) rc = compile_arrays(b);
		if (!rc) rc = compile_logic(b);
		if (!rc && c->draft == DRAFT_2020) rc = compile_ref(b, "$ref");
		if (!rc && c->draft == DRAFT_2020) rc = compile_ref(b, "$dynamicRef");
	}
	if (!rc && b->nops) {
		n->ops = arena_alloc(&c->s->mem, b->nops * sizeof(sop));
		if (!n->ops)
			rc = cog__oom("schema compile");
		else
			memcpy(n->ops, b->ops, b->nops * sizeof(sop));
		n->nops = b->nops;
	}
	cog_free(b);
	return rc;
}
