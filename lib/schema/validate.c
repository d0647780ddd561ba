/* Validation: run a node's ops on an instance. Three modes: collect errors
 * (up to 100), stop at the first error (errors == NULL), or probe a branch
 * quietly (anyOf, oneOf, not, if, contains, propertyNames). Nothing is
 * allocated unless a failure is reported (or, below unevaluated*, the
 * instance has more than EV_SMALL members or items).
 *
 * Annotations for unevaluatedProperties/unevaluatedItems: a node with one
 * of them compiles to a single OP_TRACK op whose inner node holds its ops
 * (NODE_UNEVAL_*). OP_TRACK validates an object or array with an evset, a
 * bitset over the instance's members or items by position, installed in
 * the context as v->ev for that instance (v->ev_inst). Every op on the
 * same instance sees it, however deep in allOf, $ref, $dynamicRef,
 * dependentSchemas, then or else it is, and no op on another instance does
 * (the pointer differs): properties, patternProperties,
 * additionalProperties, prefixItems, items and contains mark what they
 * evaluated. anyOf, oneOf and if give each branch that can annotate
 * (NODE_ANNOTATES) a fresh set and merge it only when the branch succeeded
 * (then anyOf runs every such branch, and contains every item); not hides
 * the set. The unevaluated* op itself, always last, applies its subschema
 * to what is not marked. A nested node with unevaluated* starts its own set
 * (it must not see what its parent's other keywords evaluated) and, when it
 * succeeded, marks everything in its parent's. Marks of a failing
 * properties, items or allOf branch are kept: the verdict is false anyway,
 * and their members are then not reported a second time as unevaluated.
 * Schemas without unevaluated* never install a set; their validation pays
 * one pointer test per properties, items, contains, anyOf, oneOf, not and
 * if op, and validate_node itself is unchanged. */
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
	return report_quiet(v);
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

/* ---- evaluated members or items (see above) ---- */

/* The tracking code stays out of validate_node, the path of every other
 * schema, where inlining it would cost registers and stack. */
#if defined(__GNUC__)
#define COLD __attribute__((noinline, cold))
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define COLD
#define ALWAYS_INLINE inline
#endif

#define EV_SMALL 256 /* members or items tracked without allocating */

typedef struct evset {
	uint64_t *w;
	size_t count;         /* members or items of the instance */
	bool all;             /* every one evaluated */
	uint64_t small[EV_SMALL / 64];
} evset;

static bool ev_init(vctx *v, evset *e, size_t count)
{
	e->count = count;
	e->all = false;
	size_t words = (count + 63) / 64;
	if (words <= COG_ARRAY_LEN(e->small)) {
		e->w = e->small;
		memset(e->small, 0, sizeof(e->small));
		return true;
	}
	e->w = cog__calloc(words, sizeof(uint64_t));
	if (e->w)
		return true;
	v->oom = v->full = v->abort = true;
	return false;
}

static void ev_dispose(evset *e)
{
	if (e->w != e->small)
		cog_free(e->w);
}

static void ev_mark(evset *e, size_t i)
{
	e->w[i / 64] |= (uint64_t)1 << (i % 64);
}

static bool ev_has(const evset *e, size_t i)
{
	return e->all || ((e->w[i / 64] >> (i % 64)) & 1);
}

static void ev_merge(evset *to, const evset *from)
{
	if (from->all)
		to->all = true;
	else if (!to->all)
		for (size_t i = 0; i < (from->count + 63) / 64; i++)
			to->w[i] |= from->w[i];
}

/* The set tracking `inst`, or NULL. */
static evset *tracking(const vctx *v, const cJSON *inst)
{
	return v->ev && v->ev_inst == inst ? v->ev : NULL;
}

/* Probe a branch of anyOf, oneOf or if; when `inst` is tracked, with a set
 * of its own, merged when it succeeds. */
static COLD bool probe_branch(vctx *v, const snode *n, const cJSON *inst, const ipath *p)
{
	evset *ev = tracking(v, inst);
	if (!ev || !(n->flags & NODE_ANNOTATES))
		return probe(v, n, inst, p);
	evset mine;
	if (!ev_init(v, &mine, ev->count))
		return false;
	v->ev = &mine;
	bool ok = probe(v, n, inst, p);
	v->ev = ev;
	if (ok)
		ev_merge(ev, &mine);
	ev_dispose(&mine);
	return ok;
}

/* not: nothing inside counts, so the set is hidden. */
static COLD bool probe_hidden(vctx *v, const snode *n, const cJSON *inst, const ipath *p)
{
	evset *ev = v->ev;
	v->ev = NULL;
	bool ok = probe(v, n, inst, p);
	v->ev = ev;
	return ok;
}

static bool is_false(const snode *n)
{
	return n->nops == 1 && n->ops[0].kind == OP_FALSE;
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

static inline const sprop *find_property(const sop *op, const char *name)
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

/* `ev`: where to mark the members evaluated, or NULL (then, once inlined,
 * the marking is compiled out of the path of other schemas). */
static ALWAYS_INLINE bool check_properties(vctx *v, const sop *op, const cJSON *inst,
                                           const ipath *p, evset *ev)
{
	bool ok = true;
	size_t index = 0;
	if (ev && op->u.props.additional)
		ev->all = true; /* every member is evaluated by one of the three */
	for (const cJSON *m = inst->child; m; m = m->next, index++) {
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
		if (ev && matched)
			ev_mark(ev, index);
		if (!good) {
			ok = false;
			if (!go_on(v))
				return false;
		}
	}
	return ok;
}

/* properties on a tracked instance (any other: v->ev is set for another). */
static COLD bool check_properties_tracked(vctx *v, const sop *op, const cJSON *inst,
                                          const ipath *p)
{
	return check_properties(v, op, inst, p, tracking(v, inst));
}

static COLD bool check_unevaluated(vctx *v, const sop *op, const cJSON *inst, const ipath *p)
{
	const evset *ev = tracking(v, inst); /* its node's own (OP_TRACK): set */
	if (!ev || ev->all)
		return true;
	bool ok = true, props = op->kind == OP_UNEVAL_PROPS, no = is_false(op->u.child);
	size_t i = 0;
	for (const cJSON *m = inst->child; m; m = m->next, i++) {
		if (ev_has(ev, i))
			continue;
		ipath here = { p, props ? m->string : NULL, i };
		if (!no && validate_node(v, op->u.child, m, &here))
			continue;
		if (no && props)
			report(v, &here, op->keyword, op->where,
			       "property \"%s\" is not allowed: no keyword evaluated it", m->string);
		else if (no)
			report(v, &here, op->keyword, op->where,
			       "item %zu is not allowed: no keyword evaluated it", i);
		ok = false;
		if (!go_on(v))
			return false;
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
		return v->ev ? check_properties_tracked(v, op, inst, p)
		             : check_properties(v, op, inst, p, NULL);
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
	evset *ev = v->ev ? tracking(v, inst) : NULL; /* then every item is tried */
	for (const cJSON *it = inst->child; it; it = it->next, i++) {
		ipath here = { p, NULL, i };
		bool match = probe(v, op->u.contains.child, it, &here);
		if (match && ev)
			ev_mark(ev, i);
		if (match && ++found > max)
			break;
		if (found >= min && max == SIZE_MAX && !ev)
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

/* What prefixItems and items (or array-form items and additionalItems)
 * evaluated. */
static COLD void mark_items(const vctx *v, const sop *op, const cJSON *inst)
{
	evset *ev = tracking(v, inst);
	if (!ev)
		return;
	if (op->u.items.rest) {
		ev->all = true;
		return;
	}
	for (size_t i = 0; i < op->u.items.nprefix && i < ev->count; i++)
		ev_mark(ev, i);
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
	case OP_ITEMS: {
		bool ok = check_items(v, op, inst, p);
		if (v->ev && (ok || go_on(v)))
			mark_items(v, op, inst);
		return ok;
	}
	default:
		return check_contains(v, op, inst, p);
	}
}

/* anyOf on a tracked instance: every branch that can annotate runs. */
static COLD bool check_anyof_tracked(vctx *v, const sop *op, const cJSON *inst, const ipath *p)
{
	bool any = false, track = tracking(v, inst) != NULL;
	for (size_t i = 0; i < op->u.list.count && !v->abort && (track || !any); i++) {
		const snode *n = op->u.list.items[i];
		if ((!any || (n->flags & NODE_ANNOTATES)) && probe_branch(v, n, inst, p))
			any = true;
	}
	if (any || v->abort)
		return any && !v->abort;
	report(v, p, op->keyword, op->where, "value matches none of the %zu alternatives",
	       op->u.list.count);
	return false;
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
		if (v->ev)
			return check_anyof_tracked(v, op, inst, p);
		for (size_t i = 0; i < op->u.list.count; i++)
			if (probe(v, op->u.list.items[i], inst, p))
				return true;
		report(v, p, op->keyword, op->where, "value matches none of the %zu alternatives",
		       op->u.list.count);
		return false;
	case OP_ONEOF: {
		size_t first = 0, matches = 0;
		for (size_t i = 0; i < op->u.list.count && matches < 2; i++) {
			const snode *n = op->u.list.items[i];
			if (!(v->ev ? probe_branch(v, n, inst, p) : probe(v, n, inst, p))) {
				if (v->abort)
					return false;
				continue;
			}
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
		if (!(v->ev ? probe_hidden(v, op->u.child, inst, p) : probe(v, op->u.child, inst, p)))
			return true;
		report(v, p, op->keyword, op->where, "value must not match the schema in \"not\"");
		return false;
	case OP_IF: {
		bool cond;
		if (!v->ev) {
			if (!op->u.when.then && !op->u.when.other)
				return true; /* a lone "if": only its annotations matter */
			cond = probe(v, op->u.when.cond, inst, p);
		} else if (!op->u.when.then && !op->u.when.other && !tracking(v, inst)) {
			return true;
		} else {
			cond = probe_branch(v, op->u.when.cond, inst, p);
			if (v->abort)
				return false;
		}
		const snode *next = cond ? op->u.when.then : op->u.when.other;
		return !next || validate_node(v, next, inst, p);
	}
	default: /* OP_REF */
		return validate_node(v, op->u.child, inst, p);
	}
}

/* OP_TRACK: the inner node of a node with unevaluated*, validated with a
 * set of its own when the instance is of a type they look at; when it
 * succeeded, its unevaluated* evaluated everything for the set around. */
static COLD bool check_tracked(vctx *v, const snode *n, const cJSON *inst, const ipath *p)
{
	unsigned t = instance_type(inst);
	if (!((n->flags & NODE_UNEVAL_PROPS) && t == T_OBJ) &&
	    !((n->flags & NODE_UNEVAL_ITEMS) && t == T_ARR))
		return validate_node(v, n, inst, p);
	evset mine, *outer = v->ev;
	const cJSON *outer_inst = v->ev_inst;
	if (!ev_init(v, &mine, child_count(inst)))
		return false;
	v->ev = &mine;
	v->ev_inst = inst;
	bool ok = validate_node(v, n, inst, p);
	v->ev = outer;
	v->ev_inst = outer_inst;
	if (ok && outer && outer_inst == inst)
		outer->all = true;
	ev_dispose(&mine);
	return ok;
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
			validate_types_text(op->u.types, text, sizeof(text));
			report(v, p, op->keyword, op->where, "expected %s, got %s", text, type_name(t));
		}
		return false;
	case OP_ENUM:
		for (const cJSON *e = op->u.val.value->child; e; e = e->next)
			if (json_equal(inst, e))
				return true;
		report(v, p, op->keyword, op->where, "value is not one of %s", op->u.val.text);
		return false;
	case OP_CONST:
		if (json_equal(inst, op->u.val.value))
			return true;
		report(v, p, op->keyword, op->where, "value must be %s", op->u.val.text);
		return false;
	case OP_MINIMUM: case OP_MAXIMUM: case OP_EXMIN: case OP_EXMAX: case OP_MULTIPLE:
		return validate_number(v, op, inst, p);
	case OP_MINLEN: case OP_MAXLEN: case OP_PATTERN: case OP_FORMAT:
		return validate_string(v, op, inst, p);
	case OP_REQUIRED: case OP_MINPROPS: case OP_MAXPROPS: case OP_PROPS:
	case OP_PROPNAMES: case OP_DEPREQ: case OP_DEPSCHEMA:
		return check_object(v, op, inst, p);
	case OP_MINITEMS: case OP_MAXITEMS: case OP_UNIQUE: case OP_ITEMS: case OP_CONTAINS:
		return check_array(v, op, inst, p);
	case OP_UNEVAL_PROPS: case OP_UNEVAL_ITEMS:
		return check_unevaluated(v, op, inst, p);
	case OP_TRACK:
		return check_tracked(v, op->u.child, inst, p);
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
	const sop *ops = n->ops;
	size_t nops = n->nops;
	for (size_t i = 0; i < nops; i++) {
		const sop *op = &ops[i];
		if (!(op->applies & t) || check_op(v, op, inst, t, p))
			continue;
		ok = false;
		if (!go_on(v))
			break;
	}
	v->depth--;
	return ok && !v->abort;
}
