/*
 * Private to lib/schema: the compiled form of a schema and the helpers the
 * files of this folder share. A schema compiles to a graph of nodes; a node
 * is a flat array of checks ("ops"), each for one keyword (or a group of
 * keywords that must be evaluated together, like properties with
 * patternProperties and additionalProperties). Validation walks the ops;
 * nothing is looked up by name any more.
 */
#ifndef COG_SCHEMA_IMPL_H
#define COG_SCHEMA_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "schema_int.h"

/* Instance types as bits; an integer-valued number is T_INT only. */
enum {
	T_NULL = 1, T_BOOL = 2, T_INT = 4, T_NUM = 8, T_STR = 16,
	T_ARR = 32, T_OBJ = 64,
	T_NUMERIC = T_INT | T_NUM,
	T_ANY = 127
};

enum { DRAFT_2020 = 0, DRAFT_07 = 1 };

typedef enum op_kind {
	OP_FALSE, OP_TYPE, OP_ENUM, OP_CONST,
	OP_MINIMUM, OP_MAXIMUM, OP_EXMIN, OP_EXMAX, OP_MULTIPLE,
	OP_MINLEN, OP_MAXLEN, OP_PATTERN, OP_FORMAT,
	OP_REQUIRED, OP_MINPROPS, OP_MAXPROPS, OP_PROPS, OP_PROPNAMES,
	OP_DEPREQ, OP_DEPSCHEMA,
	OP_MINITEMS, OP_MAXITEMS, OP_UNIQUE, OP_ITEMS, OP_CONTAINS,
	OP_ALLOF, OP_ANYOF, OP_ONEOF, OP_NOT, OP_IF, OP_REF,
	OP_UNEVAL_PROPS, OP_UNEVAL_ITEMS,   /* always a node's last ops */
	OP_TRACK    /* the only op of a node with unevaluated*: see compile.c */
} op_kind;

typedef enum format_kind {
	FMT_DATE_TIME, FMT_DATE, FMT_TIME, FMT_EMAIL, FMT_URI, FMT_UUID,
	FMT_IPV4, FMT_IPV6
} format_kind;

typedef struct snode snode;

typedef struct sprop {
	const char *name;
	uint32_t hash;
	snode *schema;
} sprop;

typedef struct spattern {
	pcre2_code *re;
	snode *schema;
} spattern;

/* dependentRequired (names) or dependentSchemas (schema), per property. */
typedef struct sdep {
	const char *name;
	const char **names;
	size_t count;
	snode *schema;
} sdep;

typedef struct sop {
	uint8_t kind;        /* op_kind */
	uint8_t applies;     /* instance types the keyword looks at */
	const char *keyword;
	const char *where;   /* schema pointer of the keyword */
	union {
		unsigned types;
		double num;
		size_t count;
		struct {
			const cJSON *value;             /* const, enum (array) */
			const char *text;               /* its text for messages */
		} val;
		int format;
		snode *child;                       /* not, propertyNames, $ref,
		                                       unevaluated*, OP_TRACK */
		struct { pcre2_code *re; const char *source; } pattern;
		struct { snode **items; size_t count; } list;
		struct { snode *cond, *then, *other; } when;
		struct { const char **names; size_t count; } req;
		struct { sdep *deps; size_t count; } dep;
		struct {
			sprop *props; size_t nprops;
			uint32_t *slots; uint32_t mask; /* hash index+1, 0 empty */
			spattern *pats; size_t npats;
			snode *additional;              /* NULL: none */
			const char *where_add;
		} props;
		struct {
			snode **prefix; size_t nprefix;
			snode *rest;                    /* NULL: none */
			const char *rest_keyword, *where_rest;
		} items;
		struct { snode *child; size_t min, max; } contains;
	} u;
} sop;

/* snode.flags. Annotations (which members of an object, which items of an
 * array a subschema evaluated) are only tracked below a node that has an
 * unevaluated* keyword; everything else validates without them. */
enum {
	NODE_UNEVAL_PROPS = 1, /* has unevaluatedProperties: validated with a
	                          set of its own (the inner node of OP_TRACK) */
	NODE_UNEVAL_ITEMS = 2, /* has unevaluatedItems */
	NODE_ANNOTATES = 4     /* it, or an in-place subschema of it (not "not"),
	                          evaluates members or items of its instance */
};

struct snode {
	sop *ops;
	size_t nops;
	const char *where;    /* schema pointer of this subschema */
	uint32_t index;       /* position in cog_schema.nodes */
	uint8_t flags;        /* NODE_* */
	/* compile time only */
	const cJSON *json;
	const char *base;     /* base URI in effect inside this subschema */
};

/* ---- arena (arena.c): the compiled schema's memory, freed at once ---- */

typedef struct arena_block arena_block;
typedef struct arena {
	arena_block *head;
} arena;

void *arena_alloc(arena *a, size_t size);       /* zeroed; NULL on OOM */
char *arena_strdup(arena *a, const char *s);
char *arena_printf(arena *a, const char *fmt, ...) COG_PRINTF(2, 3);
void arena_free(arena *a);

/* ---- maps (map.c): compile-time hash maps from a pointer or a string ---- */

typedef struct map_entry {
	const void *pkey;
	const char *skey;
	void *value;
} map_entry;

typedef struct map {
	map_entry *slots;
	size_t cap, count;
} map;

/* 0 or COG_ENOMEM; an existing key keeps its value. */
int map_put_ptr(map *m, const void *key, void *value);
void *map_get_ptr(const map *m, const void *key);
int map_put_str(map *m, const char *key, void *value); /* key is kept */
void *map_get_str(const map *m, const char *key);
void map_dispose(map *m);
uint32_t schema_hash(const char *s);

/* ---- URIs (uri.c) ---- */

/* RFC 3986 section 5.2 resolution of ref against base (cog_malloc'd). */
char *uri_resolve(const char *base, const char *ref);
/* Decode %XX in place; false for a malformed escape. */
bool uri_percent_decode(char *s);

/* ---- the schema ---- */

struct cog_schema {
	arena mem;
	cJSON *doc;           /* our copy: enum and const point into it */
	unsigned int flags;
	int draft;
	snode *root;
	snode **nodes;        /* every node, for the cycle check */
	size_t nnodes;
	pcre2_code **regexes; /* owned, freed with the schema */
	size_t nregexes;
	pcre2_general_context *pcre_ctx;
};

/* ---- compiling (compile*.c, ref.c, regex.c) ---- */

typedef struct node_info {
	const char *base;     /* base URI inside the subschema */
	const char *where;    /* its schema pointer */
} node_info;

typedef struct compiler {
	cog_schema *s;
	int draft;
	map info;             /* cJSON * -> node_info * */
	map ids;              /* absolute URI (or URI#anchor) -> cJSON * */
	map memo;             /* cJSON * -> snode * */
	snode **todo;         /* nodes made but not compiled yet */
	size_t ntodo, captodo;
	size_t capnodes;
} compiler;

/* Walk the document: record base URIs, pointers, $id and anchors. */
int ref_scan(compiler *c, const cJSON *json, const char *base, const char *where,
             int depth);
/* Resolve a $ref found in a subschema with base URI `base`. */
int ref_resolve(compiler *c, const char *ref, const char *base,
                const char *where, const cJSON **target,
                const node_info **info);
/* Pointer of `parent` + "/" + escaped token (arena). */
const char *ref_child_pointer(compiler *c, const char *parent, const char *token);
const char *ref_index_pointer(compiler *c, const char *parent, size_t index);

/* The node for a subschema, queued for compiling on first sight. */
snode *compile_get_node(compiler *c, const cJSON *json, const node_info *info);
int compile_node(compiler *c, snode *node);
/* Refuse same-instance $ref cycles; set NODE_ANNOTATES. */
int compile_check_cycles(cog_schema *s);

/* ---- compiling one node's keywords (compile.c, compile_scalar.c,
 * compile_container.c) ---- */

#define NODE_MAX_OPS 40

/* The node being compiled and the ops made for it so far. */
typedef struct node_build {
	compiler *c;
	snode *node;
	const cJSON *json;
	sop ops[NODE_MAX_OPS];
	size_t nops;
} node_build;

/* COG_EINVAL: "schema: <where>: expected <expected>". */
int compile_bad_value(const char *where, const char *expected);
/* A non-negative integer (SIZE_MAX when larger), else false. */
bool compile_count_value(const cJSON *v, size_t *out);

/* The node's member `keyword`, or NULL. */
const cJSON *build_get(node_build *b, const char *keyword);
/* The schema pointer of the node's `keyword` (arena; NULL on OOM). */
const char *build_where(node_build *b, const char *keyword);
/* A new zeroed op for `keyword`; NULL on OOM. */
sop *build_add_op(node_build *b, op_kind kind, unsigned applies,
                  const char *keyword);
/* The node of subschema `json` (object or boolean), else COG_EINVAL. */
int build_sub(node_build *b, const cJSON *json, const char *where, snode **out);
/* The nodes of an array of subschemas (`nonempty`: at least one). */
int build_sub_list(node_build *b, const cJSON *arr, const char *where,
                   bool nonempty, snode ***items, size_t *count);
/* An op holding a non-negative integer, when `keyword` is present. */
int build_count_op(node_build *b, const char *keyword, op_kind kind,
                   unsigned applies);

/* The keyword compilers compile_node() runs in turn: 0 or an error. */
int compile_type(node_build *b);      /* compile_scalar.c */
int compile_values(node_build *b);
int compile_numbers(node_build *b);
int compile_strings(node_build *b);
int compile_objects(node_build *b);   /* compile_container.c */
int compile_arrays(node_build *b);
int compile_unevaluated(node_build *b); /* last: reads the other ops */

/* Compile a pattern (kept by the schema); COG_EINVAL naming `where`. */
int regex_compile(cog_schema *s, const char *source, const char *where,
                  pcre2_code **out);
/* Unanchored search; -1 when matching itself failed (error set). */
int regex_search(const pcre2_code *re, const char *subject, size_t len);

/* ---- validating (validate.c, equal.c, format.c, report.c) ---- */

bool json_equal(const cJSON *a, const cJSON *b);
bool format_check(int format, const char *s);
const char *format_name(int format);
int format_lookup(const char *name);      /* -1 for unknown formats */

/* One step of an instance pointer, on the C stack while validating. */
typedef struct ipath {
	const struct ipath *up;
	const char *key;      /* NULL: an array index */
	size_t index;
} ipath;

enum { MODE_COLLECT, MODE_FIRST, MODE_PROBE };

struct evset;

#define SCHEMA_MAX_ERRORS 100
#define SCHEMA_MAX_DEPTH 4096
#define SCHEMA_MSG_MAX 512      /* a message's bytes, its NUL included */
#define SCHEMA_LOG_INLINE 2048  /* log text held without allocating */

/* One collected failure. The keyword and schema pointer are borrowed from
 * the compiled schema; the instance pointer and the message are offsets
 * into the log's text. */
typedef struct verr {
	const char *keyword;
	const char *where;
	size_t inst, msg;
} verr;

/* The failures of MODE_COLLECT, turned into cJSON once validation is done
 * (report.c). Lives on the caller's stack; only the counters are set up
 * front, so a valid instance costs neither zeroing nor allocation. */
typedef struct vlog {
	char *text;           /* inline, or cog_malloc'd once it outgrew it */
	size_t len, cap;
	size_t count;         /* records in errs */
	verr errs[SCHEMA_MAX_ERRORS + 1]; /* + the recursion limit's own */
	char inline_text[SCHEMA_LOG_INLINE];
} vlog;

typedef struct vctx {
	int mode;
	vlog *log;            /* MODE_COLLECT (and a probe inside it) */
	size_t nerrors;
	unsigned int depth;
	struct evset *ev;     /* below unevaluated*: what is evaluated of ... */
	const cJSON *ev_inst; /* ... this instance (validate.c) */
	bool full;            /* 100 errors collected, or the first one found
	                         in MODE_FIRST: nothing more is recorded */
	bool oom;
	bool abort;           /* recursion limit or OOM: stop everything */
} vctx;

/* True when report() would record nothing: texts for it need no work. */
static inline bool report_quiet(const vctx *v)
{
	return v->mode == MODE_PROBE || v->full;
}

/* Record a failure (nothing in MODE_PROBE or once full). */
void report(vctx *v, const ipath *p, const char *keyword, const char *where,
            const char *fmt, ...) COG_PRINTF(5, 6);
void vlog_init(vlog *log);
/* The collected failures as a cJSON array (NULL on OOM); frees the log. */
cJSON *vlog_finish(vlog *log);
void vlog_dispose(vlog *log);
const char *type_name(unsigned t);
unsigned instance_type(const cJSON *j);

bool validate_node(vctx *v, const snode *n, const cJSON *inst, const ipath *p);

/* ---- validate_scalar.c: number and string keywords, message texts ---- */

/* The keyword ops on a number (minimum, maximum, exclusive*, multipleOf)
 * and on a string (minLength, maxLength, pattern, format): true if the
 * instance passes, else false with the failure reported. */
bool validate_number(vctx *v, const sop *op, const cJSON *inst, const ipath *p);
bool validate_string(vctx *v, const sop *op, const cJSON *inst, const ipath *p);
/* "string or null" for a type mask; short JSON text of a schema value
 * (false on OOM: enum and const make theirs when compiled). */
void validate_types_text(unsigned mask, char *out, size_t size);
bool validate_value_text(const cJSON *value, char *out, size_t size);

#endif /* COG_SCHEMA_IMPL_H */
