/* Where subschemas live: base URIs ($id), anchors and JSON pointers. The
 * document is scanned once before compiling so that a $ref can name any
 * subschema by URI, pointer or anchor, wherever it is. */
#include <stdio.h>
#include <string.h>

#include "schema_impl.h"

#define SCAN_MAX_DEPTH 2048

static const char *const single_keywords[] = {
	"additionalProperties", "propertyNames", "not", "if", "then", "else",
	"contains", "items", "additionalItems", "unevaluatedProperties",
	"unevaluatedItems",
};
static const char *const array_keywords[] = {
	"allOf", "anyOf", "oneOf", "prefixItems", "items",
};
static const char *const map_keywords[] = {
	"properties", "patternProperties", "$defs", "definitions",
	"dependentSchemas", "dependencies",
};

static void escape_token(cog_buf *b, const char *token)
{
	for (const char *p = token; *p; p++) {
		if (*p == '~')
			cog_buf_puts(b, "~0");
		else if (*p == '/')
			cog_buf_puts(b, "~1");
		else
			cog_buf_putc(b, *p);
	}
}

const char *ref_child_pointer(compiler *c, const char *parent, const char *token)
{
	cog_buf b = COG_BUF_INIT;
	cog_buf_puts(&b, parent);
	cog_buf_putc(&b, '/');
	escape_token(&b, token);
	char *out = b.failed ? NULL : arena_strdup(&c->s->mem, b.ptr);
	cog_buf_dispose(&b);
	if (!out)
		cog__oom("schema compile");
	return out;
}

const char *ref_index_pointer(compiler *c, const char *parent, size_t index)
{
	char *out = arena_printf(&c->s->mem, "%s/%zu", parent, index);
	if (!out)
		cog__oom("schema compile");
	return out;
}

/* The URI without its fragment, in the arena. */
static char *strip_fragment(compiler *c, const char *uri, const char **fragment)
{
	const char *hash = strchr(uri, '#');
	size_t len = hash ? (size_t)(hash - uri) : strlen(uri);
	char *out = arena_alloc(&c->s->mem, len + 1);
	if (out)
		memcpy(out, uri, len);
	if (fragment)
		*fragment = hash ? hash + 1 : "";
	return out;
}

static int register_anchor(compiler *c, const char *resource, const char *name,
                           const cJSON *json)
{
	char *key = arena_printf(&c->s->mem, "%s#%s", resource, name);
	if (!key)
		return cog__oom("schema compile");
	return map_put_str(&c->ids, key, (void *)json);
}

/* The base URI inside `json` given the one around it: applies its $id
 * (which draft-07 ignores next to $ref) and registers it. */
static int enter_id(compiler *c, const cJSON *json, const char **base)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(json, "$id");
	if (!cJSON_IsString(id))
		return 0;
	if (c->draft == DRAFT_07 && cJSON_GetObjectItemCaseSensitive(json, "$ref"))
		return 0;
	char *abs = uri_resolve(*base, id->valuestring);
	if (!abs)
		return cog__oom("schema compile");
	const char *fragment;
	char *resource = strip_fragment(c, abs, &fragment);
	int rc = resource ? 0 : cog__oom("schema compile");
	if (!rc && *fragment)  /* draft-07 "#name" (or "uri#name") */
		rc = register_anchor(c, resource, fragment, json);
	cog_free(abs);
	if (rc)
		return rc;
	if (id->valuestring[0] == '#')
		return 0;
	*base = resource;
	return map_put_str(&c->ids, resource, (void *)json);
}

static int scan_anchor(compiler *c, const cJSON *json, const char *base,
                       const char *keyword)
{
	const cJSON *anchor = cJSON_GetObjectItemCaseSensitive(json, keyword);
	if (!cJSON_IsString(anchor))
		return 0;
	return register_anchor(c, base, anchor->valuestring, json);
}

static int scan_keywords(compiler *c, const cJSON *json, const char *base,
                         const char *where, int depth)
{
	int rc = 0;
	for (size_t k = 0; k < COG_ARRAY_LEN(single_keywords) && !rc; k++) {
		const cJSON *sub = cJSON_GetObjectItemCaseSensitive(json, single_keywords[k]);
		if (!cJSON_IsObject(sub) && !cJSON_IsBool(sub))
			continue;
		const char *ptr = ref_child_pointer(c, where, single_keywords[k]);
		rc = ptr ? ref_scan(c, sub, base, ptr, depth + 1) : COG_ENOMEM;
	}
	for (size_t k = 0; k < COG_ARRAY_LEN(array_keywords) && !rc; k++) {
		const cJSON *arr = cJSON_GetObjectItemCaseSensitive(json, array_keywords[k]);
		if (!cJSON_IsArray(arr))
			continue;
		const char *ptr = ref_child_pointer(c, where, array_keywords[k]);
		if (!ptr)
			return COG_ENOMEM;
		size_t i = 0;
		for (const cJSON *sub = arr->child; sub && !rc; sub = sub->next, i++) {
			const char *item = ref_index_pointer(c, ptr, i);
			rc = item ? ref_scan(c, sub, base, item, depth + 1) : COG_ENOMEM;
		}
	}
	for (size_t k = 0; k < COG_ARRAY_LEN(map_keywords) && !rc; k++) {
		const cJSON *obj = cJSON_GetObjectItemCaseSensitive(json, map_keywords[k]);
		if (!cJSON_IsObject(obj))
			continue;
		const char *ptr = ref_child_pointer(c, where, map_keywords[k]);
		if (!ptr)
			return COG_ENOMEM;
		for (const cJSON *sub = obj->child; sub && !rc; sub = sub->next) {
			const char *item = ref_child_pointer(c, ptr, sub->string);
			rc = item ? ref_scan(c, sub, base, item, depth + 1) : COG_ENOMEM;
		}
	}
	return rc;
}

int ref_scan(compiler *c, const cJSON *json, const char *base, const char *where,
             int depth)
{
	if (depth > SCAN_MAX_DEPTH)
		return cog__error(COG_EINVAL, "schema: %s: nested too deeply", where);
	if (!cJSON_IsObject(json) && !cJSON_IsBool(json))
		return 0; /* not a schema; compiling reports it where it matters */
	if (depth == 0) {
		int rc = map_put_str(&c->ids, base, (void *)json);
		if (rc)
			return rc;
	}
	int rc = 0;
	if (cJSON_IsObject(json)) {
		rc = enter_id(c, json, &base);
		if (!rc)
			rc = scan_anchor(c, json, base, "$anchor");
		if (!rc)
			rc = scan_anchor(c, json, base, "$dynamicAnchor");
		if (rc)
			return rc;
	}
	node_info *info = arena_alloc(&c->s->mem, sizeof(*info));
	if (!info)
		return cog__oom("schema compile");
	info->base = base;
	info->where = where;
	rc = map_put_ptr(&c->info, json, info);
	if (!rc && cJSON_IsObject(json))
		rc = scan_keywords(c, json, base, where, depth);
	return rc;
}

/* Facts about a value reached by a pointer step from `parent`, for values
 * the scan did not visit (inside unknown keywords). */
static const node_info *step_info(compiler *c, const cJSON *child,
                                  const node_info *parent, const char *token)
{
	const node_info *known = map_get_ptr(&c->info, child);
	if (known)
		return known;
	node_info *info = arena_alloc(&c->s->mem, sizeof(*info));
	if (!info) {
		cog__oom("schema compile");
		return NULL;
	}
	info->base = parent->base;
	info->where = ref_child_pointer(c, parent->where, token);
	if (!info->where)
		return NULL;
	if (cJSON_IsObject(child) && enter_id(c, child, &info->base))
		return NULL;
	if (map_put_ptr(&c->info, child, info))
		return NULL;
	return info;
}

static const cJSON *pointer_step(const cJSON *node, const char *token)
{
	if (cJSON_IsObject(node)) {
		for (const cJSON *m = node->child; m; m = m->next)
			if (strcmp(m->string, token) == 0)
				return m;
		return NULL;
	}
	if (!cJSON_IsArray(node) || !token[0] || (token[0] == '0' && token[1]))
		return NULL;
	size_t index = 0;
	for (const char *p = token; *p; p++) {
		if (*p < '0' || *p > '9' || index > SIZE_MAX / 10 - 1)
			return NULL;
		index = index * 10 + (size_t)(*p - '0');
	}
	const cJSON *item = node->child;
	while (item && index--)
		item = item->next;
	return item;
}

/* Follow the JSON pointer `pointer` (already percent-decoded) from `node`. */
static int walk_pointer(compiler *c, char *pointer, const cJSON **node,
                        const node_info **info)
{
	char *p = pointer + 1; /* skip the leading '/' */
	for (;;) {
		char *end = strchr(p, '/');
		if (end)
			*end = '\0';
		char *out = p;
		for (char *q = p; *q; q++) {
			if (*q == '~') {
				if (q[1] != '0' && q[1] != '1')
					return COG_ENOTFOUND;
				*out++ = q[1] == '0' ? '~' : '/';
				q++;
			} else {
				*out++ = *q;
			}
		}
		*out = '\0';
		const cJSON *next = pointer_step(*node, p);
		if (!next)
			return COG_ENOTFOUND;
		*info = step_info(c, next, *info, p);
		if (!*info)
			return cog_error_last_code();
		*node = next;
		if (!end)
			return 0;
		p = end + 1;
	}
}

static int resolve_fragment(compiler *c, const char *ref, const char *where,
                            const char *resource, char *fragment,
                            const cJSON **target, const node_info **info)
{
	if (!uri_percent_decode(fragment))
		return cog__error(COG_EINVAL, "schema: %s: $ref \"%s\" has a bad %% escape",
		                  where, ref);
	if (fragment[0] == '\0')
		return 0;
	if (fragment[0] == '/') {
		int rc = walk_pointer(c, fragment, target, info);
		if (rc == COG_ENOTFOUND)
			return cog__error(COG_ENOTFOUND, "schema: %s: $ref \"%s\" names nothing in the schema",
			                  where, ref);
		return rc;
	}
	char *key = arena_printf(&c->s->mem, "%s#%s", resource, fragment);
	if (!key)
		return cog__oom("schema compile");
	*target = map_get_str(&c->ids, key);
	if (!*target)
		return cog__error(COG_ENOTFOUND, "schema: %s: $ref \"%s\": no anchor \"%s\" in the schema",
		                  where, ref, fragment);
	*info = map_get_ptr(&c->info, *target);
	return 0;
}

int ref_resolve(compiler *c, const char *ref, const char *base,
                const char *where, const cJSON **target,
                const node_info **info)
{
	char *abs = uri_resolve(base, ref);
	if (!abs)
		return cog__oom("schema compile");
	char *hash = strchr(abs, '#');
	char *fragment = hash ? hash + 1 : abs + strlen(abs);
	if (hash)
		*hash = '\0';
	int rc;
	*target = map_get_str(&c->ids, abs);
	if (!*target) {
		rc = cog__error(COG_EUNAVAILABLE,
		                "schema: %s: $ref \"%s\" refers to another document (%s): remote references are not supported",
		                where, ref, abs);
	} else {
		*info = map_get_ptr(&c->info, *target);
		rc = resolve_fragment(c, ref, where, abs, fragment, target, info);
	}
	if (!rc && !*info)
		rc = cog__error(COG_EINVAL, "schema: %s: $ref \"%s\" does not name a schema", where, ref);
	cog_free(abs);
	return rc;
}
