/* Compiling one subschema: each keyword becomes an op with its operands
 * checked and converted once (numbers, regexes, child nodes). Child nodes
 * are only queued here (compile_get_node), so compiling never recurses and
 * $ref cycles cost nothing.
 *
 * This file holds the driver (compile_node), the helpers the keyword
 * compilers share, and the keywords that combine whole subschemas (allOf,
 * anyOf, oneOf, not, if/then/else, $ref, $dynamicRef). The keywords on
 * values, numbers and strings are in compile_scalar.c; those on objects and
 * arrays in compile_container.c. */
#include <math.h>
#include <string.h>

#include "schema_impl.h"

int compile_bad_value(const char *where, const char *expected)
{
	return cog__error(COG_EINVAL, "schema: %s: expected %s", where ? where : "?", expected);
}

/* A new zeroed node in s->nodes (room for it in c->todo too). */
static snode *add_node(compiler *c)
{
	cog_schema *s = c->s;
	snode *n = arena_alloc(&s->mem, sizeof(*n));
	if (!n)
		goto oom;
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
	return n;
oom:
	cog__oom("schema compile");
	return NULL;
}

snode *compile_get_node(compiler *c, const cJSON *json, const node_info *info)
{
	snode *n = map_get_ptr(&c->memo, json);
	if (n)
		return n;
	n = add_node(c);
	if (!n)
		return NULL;
	n->json = json;
	n->base = info->base;
	n->where = info->where;
	c->todo[c->ntodo++] = n;
	if (map_put_ptr(&c->memo, json, n))
		return NULL;
	return n;
}

/* A node with unevaluated* gets one op, OP_TRACK, and its ops move to an
 * inner node that OP_TRACK validates with a fresh set of evaluated members
 * or items: the check costs nothing to the nodes of other schemas. */
static int wrap_tracked(compiler *c, snode *n)
{
	snode *inner = add_node(c);
	if (!inner)
		return COG_ENOMEM;
	sop *op = arena_alloc(&c->s->mem, sizeof(*op));
	if (!op)
		return cog__oom("schema compile");
	inner->ops = n->ops;
	inner->nops = n->nops;
	inner->where = n->where;
	inner->base = n->base;
	inner->json = n->json;
	inner->flags = n->flags;
	op->kind = OP_TRACK;
	op->applies = T_ANY;
	op->keyword = "unevaluated";
	op->where = n->where;
	op->u.child = inner;
	n->ops = op;
	n->nops = 1;
	n->flags = 0;
	return 0;
}

const char *build_where(node_build *b, const char *keyword)
{
	return ref_child_pointer(b->c, b->node->where, keyword);
}

sop *build_add_op(node_build *b, op_kind kind, unsigned applies,
                  const char *keyword)
{
	const char *where = build_where(b, keyword);
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
int build_sub(node_build *b, const cJSON *json, const char *where, snode **out)
{
	if (!cJSON_IsObject(json) && !cJSON_IsBool(json))
		return compile_bad_value(where, "a schema (object or boolean)");
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

int build_sub_list(node_build *b, const cJSON *arr, const char *where,
                   bool nonempty, snode ***items, size_t *count)
{
	if (!cJSON_IsArray(arr) || (nonempty && !arr->child))
		return compile_bad_value(where, nonempty ? "a non-empty array of schemas"
		                                         : "an array of schemas");
	size_t n = (size_t)cJSON_GetArraySize(arr);
	*items = arena_alloc(&b->c->s->mem, (n ? n : 1) * sizeof(**items));
	if (!*items)
		return cog__oom("schema compile");
	size_t i = 0;
	for (const cJSON *it = arr->child; it; it = it->next, i++) {
		const char *w = ref_index_pointer(b->c, where, i);
		int rc = w ? build_sub(b, it, w, &(*items)[i]) : COG_ENOMEM;
		if (rc)
			return rc;
	}
	*count = n;
	return 0;
}

const cJSON *build_get(node_build *b, const char *keyword)
{
	return cJSON_GetObjectItemCaseSensitive(b->json, keyword);
}

bool compile_count_value(const cJSON *v, size_t *out)
{
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) ||
	    floor(v->valuedouble) != v->valuedouble)
		return false;
	*out = v->valuedouble >= 18446744073709551615.0 ? SIZE_MAX : (size_t)v->valuedouble;
	return true;
}

int build_count_op(node_build *b, const char *keyword, op_kind kind,
                   unsigned applies)
{
	const cJSON *v = build_get(b, keyword);
	if (!v)
		return 0;
	sop *op = build_add_op(b, kind, applies, keyword);
	if (!op)
		return COG_ENOMEM;
	if (!compile_count_value(v, &op->u.count))
		return compile_bad_value(op->where, "a non-negative integer");
	return 0;
}

static int compile_logic(node_build *b)
{
	static const struct { const char *keyword; op_kind kind; } lists[] = {
		{ "allOf", OP_ALLOF }, { "anyOf", OP_ANYOF }, { "oneOf", OP_ONEOF },
	};
	for (size_t i = 0; i < COG_ARRAY_LEN(lists); i++) {
		const cJSON *v = build_get(b, lists[i].keyword);
		if (!v)
			continue;
		sop *op = build_add_op(b, lists[i].kind, T_ANY, lists[i].keyword);
		if (!op)
			return COG_ENOMEM;
		int rc = build_sub_list(b, v, op->where, true, &op->u.list.items, &op->u.list.count);
		if (rc)
			return rc;
	}
	const cJSON *v = build_get(b, "not");
	if (v) {
		sop *op = build_add_op(b, OP_NOT, T_ANY, "not");
		if (!op)
			return COG_ENOMEM;
		int rc = build_sub(b, v, op->where, &op->u.child);
		if (rc)
			return rc;
	}
	v = build_get(b, "if");
	if (!v)
		return 0;
	sop *op = build_add_op(b, OP_IF, T_ANY, "if");
	if (!op)
		return COG_ENOMEM;
	int rc = build_sub(b, v, op->where, &op->u.when.cond);
	const cJSON *then = build_get(b, "then"), *other = build_get(b, "else");
	if (!rc && then) {
		const char *w = build_where(b, "then");
		rc = w ? build_sub(b, then, w, &op->u.when.then) : COG_ENOMEM;
	}
	if (!rc && other) {
		const char *w = build_where(b, "else");
		rc = w ? build_sub(b, other, w, &op->u.when.other) : COG_ENOMEM;
	}
	/* "if" alone asserts nothing, but in 2020-12 its annotations count for
	 * unevaluated*: validation skips it unless they are tracked. */
	if (!rc && !op->u.when.then && !op->u.when.other && b->c->draft == DRAFT_07)
		b->nops--;
	return rc;
}

static int compile_ref(node_build *b, const char *keyword)
{
	const cJSON *v = build_get(b, keyword);
	if (!v)
		return 0;
	sop *op = build_add_op(b, OP_REF, T_ANY, keyword);
	if (!op)
		return COG_ENOMEM;
	if (!cJSON_IsString(v))
		return compile_bad_value(op->where, "a URI reference string");
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
		rc = compile_bad_value(n->where[0] ? n->where : "(root)", "a schema (object or boolean)");
	} else if (c->draft == DRAFT_07 && build_get(b, "$ref")) {
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
		if (!rc) rc = compile_unevaluated(b);
	}
	if (!rc && b->nops) {
		n->ops = arena_alloc(&c->s->mem, b->nops * sizeof(sop));
		if (!n->ops)
			rc = cog__oom("schema compile");
		else
			memcpy(n->ops, b->ops, b->nops * sizeof(sop));
		n->nops = b->nops;
	}
	if (!rc && (n->flags & (NODE_UNEVAL_PROPS | NODE_UNEVAL_ITEMS)))
		rc = wrap_tracked(c, n);
	cog_free(b);
	return rc;
}
