/* Compiling the keywords on objects (required, property counts,
 * properties with patternProperties and additionalProperties,
 * propertyNames, dependencies), on arrays (item counts, uniqueItems,
 * prefixItems/items/additionalItems, contains) and unevaluatedProperties/
 * unevaluatedItems. compile.c drives them. */
#include <string.h>

#include "schema_impl.h"

static int string_list(node_build *b, const cJSON *arr, const char *where,
                       const char ***names, size_t *count)
{
	if (!cJSON_IsArray(arr))
		return compile_bad_value(where, "an array of strings");
	size_t n = (size_t)cJSON_GetArraySize(arr);
	*names = arena_alloc(&b->c->s->mem, (n ? n : 1) * sizeof(**names));
	if (!*names)
		return cog__oom("schema compile");
	size_t i = 0;
	for (const cJSON *it = arr->child; it; it = it->next) {
		if (!cJSON_IsString(it))
			return compile_bad_value(where, "an array of strings");
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
	const cJSON *props = build_get(b, "properties");
	const cJSON *pats = build_get(b, "patternProperties");
	const cJSON *add = build_get(b, "additionalProperties");
	if (!props && !pats && !add)
		return 0;
	sop *op = build_add_op(b, OP_PROPS, T_OBJ, "properties");
	if (!op)
		return COG_ENOMEM;
	arena *mem = &b->c->s->mem;
	if (props) {
		if (!cJSON_IsObject(props))
			return compile_bad_value(op->where, "an object of schemas");
		size_t n = (size_t)cJSON_GetArraySize(props);
		op->u.props.props = arena_alloc(mem, (n ? n : 1) * sizeof(sprop));
		if (!op->u.props.props)
			return cog__oom("schema compile");
		for (const cJSON *p = props->child; p; p = p->next) {
			sprop *sp = &op->u.props.props[op->u.props.nprops++];
			sp->name = p->string;
			sp->hash = schema_hash(p->string);
			const char *w = ref_child_pointer(b->c, op->where, p->string);
			int rc = w ? build_sub(b, p, w, &sp->schema) : COG_ENOMEM;
			if (rc)
				return rc;
		}
	}
	int rc = compile_props_index(b, op);
	if (rc)
		return rc;
	if (pats) {
		const char *where = build_where(b, "patternProperties");
		if (!where)
			return COG_ENOMEM;
		if (!cJSON_IsObject(pats))
			return compile_bad_value(where, "an object of schemas");
		size_t n = (size_t)cJSON_GetArraySize(pats);
		op->u.props.pats = arena_alloc(mem, (n ? n : 1) * sizeof(spattern));
		if (!op->u.props.pats)
			return cog__oom("schema compile");
		for (const cJSON *p = pats->child; p; p = p->next) {
			spattern *sp = &op->u.props.pats[op->u.props.npats++];
			const char *w = ref_child_pointer(b->c, where, p->string);
			rc = w ? regex_compile(b->c->s, p->string, w, &sp->re) : COG_ENOMEM;
			if (!rc)
				rc = build_sub(b, p, w, &sp->schema);
			if (rc)
				return rc;
		}
	}
	if (add) {
		op->u.props.where_add = build_where(b, "additionalProperties");
		if (!op->u.props.where_add)
			return COG_ENOMEM;
		rc = build_sub(b, add, op->u.props.where_add, &op->u.props.additional);
	}
	return rc;
}

/* dependentRequired, dependentSchemas, or draft-07 dependencies (both). */
static int compile_dependencies(node_build *b, const char *keyword,
                                bool names_ok, bool schemas_ok)
{
	const cJSON *v = build_get(b, keyword);
	if (!v)
		return 0;
	const char *where = build_where(b, keyword);
	if (!where)
		return COG_ENOMEM;
	if (!cJSON_IsObject(v))
		return compile_bad_value(where, "an object");
	size_t n = (size_t)cJSON_GetArraySize(v);
	sop *req = NULL, *sch = NULL;
	for (const cJSON *d = v->child; d; d = d->next) {
		bool is_names = cJSON_IsArray(d);
		sop **slot = is_names ? &req : &sch;
		if (is_names ? !names_ok : !schemas_ok)
			return compile_bad_value(ref_child_pointer(b->c, where, d->string),
			                 names_ok ? "an array of strings" : "a schema");
		if (!*slot) {
			*slot = build_add_op(b, is_names ? OP_DEPREQ : OP_DEPSCHEMA, T_OBJ, keyword);
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
		                                    : build_sub(b, d, w, &dep->schema);
		if (rc)
			return rc;
	}
	return 0;
}

int compile_objects(node_build *b)
{
	const cJSON *v = build_get(b, "required");
	if (v) {
		sop *op = build_add_op(b, OP_REQUIRED, T_OBJ, "required");
		if (!op)
			return COG_ENOMEM;
		int rc = string_list(b, v, op->where, &op->u.req.names, &op->u.req.count);
		if (rc)
			return rc;
	}
	int rc = build_count_op(b, "minProperties", OP_MINPROPS, T_OBJ);
	if (!rc) rc = build_count_op(b, "maxProperties", OP_MAXPROPS, T_OBJ);
	if (!rc) rc = compile_properties(b);
	if (rc)
		return rc;
	v = build_get(b, "propertyNames");
	if (v) {
		sop *op = build_add_op(b, OP_PROPNAMES, T_OBJ, "propertyNames");
		if (!op)
			return COG_ENOMEM;
		rc = build_sub(b, v, op->where, &op->u.child);
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
	const cJSON *prefix = build_get(b, "prefixItems");
	const cJSON *items = build_get(b, "items");
	const cJSON *additional = build_get(b, "additionalItems");
	/* 2020-12 without prefixItems accepts the older array form of items
	 * too, as MCP schemas without "$schema" often use it. */
	bool old_form = cJSON_IsArray(items) && (b->c->draft == DRAFT_07 || !prefix);
	if (b->c->draft == DRAFT_07)
		prefix = NULL;
	if (!prefix && !items)
		return 0;
	sop *op = build_add_op(b, OP_ITEMS, T_ARR, prefix ? "prefixItems" : "items");
	if (!op)
		return COG_ENOMEM;
	int rc = 0;
	if (old_form) {
		rc = build_sub_list(b, items, op->where, false, &op->u.items.prefix, &op->u.items.nprefix);
		if (!rc && additional) {
			op->u.items.rest_keyword = "additionalItems";
			op->u.items.where_rest = build_where(b, "additionalItems");
			rc = op->u.items.where_rest ? build_sub(b, additional, op->u.items.where_rest, &op->u.items.rest)
			                            : COG_ENOMEM;
		}
		return rc;
	}
	if (prefix)
		rc = build_sub_list(b, prefix, op->where, true, &op->u.items.prefix, &op->u.items.nprefix);
	if (!rc && items) {
		op->u.items.rest_keyword = "items";
		op->u.items.where_rest = build_where(b, "items");
		rc = op->u.items.where_rest ? build_sub(b, items, op->u.items.where_rest, &op->u.items.rest)
		                            : COG_ENOMEM;
	}
	return rc;
}

int compile_arrays(node_build *b)
{
	int rc = build_count_op(b, "minItems", OP_MINITEMS, T_ARR);
	if (!rc) rc = build_count_op(b, "maxItems", OP_MAXITEMS, T_ARR);
	if (rc)
		return rc;
	const cJSON *v = build_get(b, "uniqueItems");
	if (v) {
		const char *where = build_where(b, "uniqueItems");
		if (!where)
			return COG_ENOMEM;
		if (!cJSON_IsBool(v))
			return compile_bad_value(where, "a boolean");
		if (cJSON_IsTrue(v) && !build_add_op(b, OP_UNIQUE, T_ARR, "uniqueItems"))
			return COG_ENOMEM;
	}
	rc = compile_items(b);
	if (rc)
		return rc;
	v = build_get(b, "contains");
	if (!v)
		return 0;
	sop *op = build_add_op(b, OP_CONTAINS, T_ARR, "contains");
	if (!op)
		return COG_ENOMEM;
	rc = build_sub(b, v, op->where, &op->u.contains.child);
	op->u.contains.min = 1;
	op->u.contains.max = SIZE_MAX;
	if (rc || b->c->draft == DRAFT_07)
		return rc;
	const cJSON *min = build_get(b, "minContains"), *max = build_get(b, "maxContains");
	if (min && !compile_count_value(min, &op->u.contains.min))
		return compile_bad_value(build_where(b, "minContains"), "a non-negative integer");
	if (max && !compile_count_value(max, &op->u.contains.max))
		return compile_bad_value(build_where(b, "maxContains"), "a non-negative integer");
	return 0;
}

/* unevaluatedProperties and unevaluatedItems (2020-12 only). They read what
 * every other op of the node evaluated, so compile_node adds them last, and
 * the node gets a flag that makes validation track annotations for it. */
int compile_unevaluated(node_build *b)
{
	static const struct { const char *keyword; op_kind kind; unsigned applies, flag; } kw[] = {
		{ "unevaluatedProperties", OP_UNEVAL_PROPS, T_OBJ, NODE_UNEVAL_PROPS },
		{ "unevaluatedItems", OP_UNEVAL_ITEMS, T_ARR, NODE_UNEVAL_ITEMS },
	};
	if (b->c->draft == DRAFT_07)
		return 0;
	for (size_t i = 0; i < COG_ARRAY_LEN(kw); i++) {
		const cJSON *v = build_get(b, kw[i].keyword);
		if (!v)
			continue;
		sop *op = build_add_op(b, kw[i].kind, kw[i].applies, kw[i].keyword);
		if (!op)
			return COG_ENOMEM;
		int rc = build_sub(b, v, op->where, &op->u.child);
		if (rc)
			return rc;
		b->node->flags |= (uint8_t)kw[i].flag;
	}
	return 0;
}
