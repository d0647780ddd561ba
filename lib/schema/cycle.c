/* A $ref cycle that never steps into a part of the instance ({"$ref": "#"},
 * or two definitions referring to each other through allOf) would recurse
 * forever on any instance: refuse such schemas when compiling. Edges that
 * go to an item or a property value consume instance depth, which is
 * bounded, so only the "same instance" edges are followed here.
 *
 * The same walk sets NODE_ANNOTATES, bottom up: whether validating a node
 * can evaluate members or items of its own instance (what unevaluated*
 * reads), so that tracking skips the subschemas that cannot. (A lone "if",
 * which only runs when annotations are tracked, is no edge: its condition
 * counts as annotating, and a $ref cycle through it is cut by the depth
 * limit when validating instead.) */
#include <string.h>

#include "schema_impl.h"

typedef struct edge_list {
	snode **items;
	size_t count;
} edge_list;

/* The subschemas that `n` applies to the same instance. */
static size_t same_instance_edges(const snode *n, snode **out, size_t cap)
{
	size_t count = 0;
#define PUSH(x) do { if ((x) && count < cap) out[count] = (x); if (x) count++; } while (0)
	for (size_t i = 0; i < n->nops; i++) {
		const sop *op = &n->ops[i];
		switch (op->kind) {
		case OP_REF: case OP_NOT: case OP_TRACK:
			PUSH(op->u.child);
			break;
		case OP_ALLOF: case OP_ANYOF: case OP_ONEOF:
			for (size_t k = 0; k < op->u.list.count; k++)
				PUSH(op->u.list.items[k]);
			break;
		case OP_IF: /* a lone "if" only runs for annotations: not an edge */
			if (op->u.when.then || op->u.when.other)
				PUSH(op->u.when.cond);
			PUSH(op->u.when.then);
			PUSH(op->u.when.other);
			break;
		case OP_DEPSCHEMA:
			for (size_t k = 0; k < op->u.dep.count; k++)
				PUSH(op->u.dep.deps[k].schema);
			break;
		default:
			break;
		}
	}
#undef PUSH
	return count;
}

static bool child_annotates(const snode *c, const uint8_t *color)
{
	return c && (color[c->index] != 2 || (c->flags & NODE_ANNOTATES));
}

/* Called when every same-instance edge of `n` is done. */
static void set_annotates(snode *n, const uint8_t *color)
{
	bool yes = false;
	for (size_t i = 0; i < n->nops && !yes; i++) {
		const sop *op = &n->ops[i];
		switch (op->kind) {
		case OP_PROPS: case OP_ITEMS: case OP_CONTAINS:
		case OP_UNEVAL_PROPS: case OP_UNEVAL_ITEMS:
			yes = true;
			break;
		case OP_REF: case OP_TRACK:
			yes = child_annotates(op->u.child, color);
			break;
		case OP_ALLOF: case OP_ANYOF: case OP_ONEOF:
			for (size_t k = 0; k < op->u.list.count && !yes; k++)
				yes = child_annotates(op->u.list.items[k], color);
			break;
		case OP_IF:
			yes = child_annotates(op->u.when.cond, color) ||
			      child_annotates(op->u.when.then, color) ||
			      child_annotates(op->u.when.other, color);
			break;
		case OP_DEPSCHEMA:
			for (size_t k = 0; k < op->u.dep.count && !yes; k++)
				yes = child_annotates(op->u.dep.deps[k].schema, color);
			break;
		default: /* OP_NOT: its annotations are dropped */
			break;
		}
	}
	if (yes)
		n->flags |= NODE_ANNOTATES;
}

typedef struct frame {
	snode *node;
	size_t next;
} frame;

int compile_check_cycles(cog_schema *s)
{
	size_t n = s->nnodes;
	uint8_t *color = cog__calloc(n ? n : 1, 1); /* 0 new, 1 on stack, 2 done */
	frame *stack = cog__calloc(n ? n : 1, sizeof(*stack));
	edge_list *edges = cog__calloc(n ? n : 1, sizeof(*edges));
	int rc = 0;
	if (!color || !stack || !edges) {
		rc = cog__oom("schema compile");
		goto done;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		size_t count = same_instance_edges(s->nodes[i], NULL, 0);
		if (!count)
			continue;
		edges[i].items = cog__calloc(count, sizeof(snode *));
		if (!edges[i].items) {
			rc = cog__oom("schema compile");
			break;
		}
		edges[i].count = same_instance_edges(s->nodes[i], edges[i].items, count);
	}
	for (size_t start = 0; start < n && !rc; start++) {
		if (color[start])
			continue;
		size_t depth = 0;
		stack[depth++] = (frame){ s->nodes[start], 0 };
		color[start] = 1;
		while (depth && !rc) {
			frame *f = &stack[depth - 1];
			const edge_list *e = &edges[f->node->index];
			if (f->next == e->count) {
				set_annotates(f->node, color);
				color[f->node->index] = 2;
				depth--;
				continue;
			}
			snode *to = e->items[f->next++];
			if (color[to->index] == 1)
				rc = cog__error(COG_EINVAL,
				                "schema: %s: infinite recursion: this subschema applies itself to the same value through $ref",
				                to->where[0] ? to->where : "(root)");
			else if (color[to->index] == 0) {
				color[to->index] = 1;
				stack[depth++] = (frame){ to, 0 };
			}
		}
	}
done:
	if (edges)
		for (size_t i = 0; i < n; i++)
			cog_free(edges[i].items);
	cog_free(edges);
	cog_free(stack);
	cog_free(color);
	return rc;
}
