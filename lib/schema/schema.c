/* The public API (cognition/schema.h) and the internal one (schema_int.h):
 * compile a document into nodes, validate text or parsed values. */
#include <stdio.h>
#include <string.h>

#include "schema_impl.h"

#define DEFAULT_BASE "cog:///schema.json"

static int draft_of(const cJSON *doc, unsigned int flags)
{
	const cJSON *meta = cJSON_IsObject(doc) ? cJSON_GetObjectItemCaseSensitive(doc, "$schema") : NULL;
	if (cJSON_IsString(meta)) {
		const char *m = meta->valuestring;
		if (strstr(m, "draft-07") || strstr(m, "draft-06") || strstr(m, "draft-04"))
			return DRAFT_07;
		if (strstr(m, "2020-12") || strstr(m, "2019-09"))
			return DRAFT_2020;
	}
	return (flags & COG_SCHEMA_DRAFT_07) ? DRAFT_07 : DRAFT_2020;
}

void cog_schema_free(cog_schema *schema)
{
	if (!schema)
		return;
	for (size_t i = 0; i < schema->nregexes; i++)
		pcre2_code_free(schema->regexes[i]);
	cog_free(schema->regexes);
	cog_free(schema->nodes);
	cJSON_Delete(schema->doc);
	arena_free(&schema->mem);
	cog_free(schema);
}

static int compile_all(compiler *c)
{
	cog_schema *s = c->s;
	int rc = ref_scan(c, s->doc, DEFAULT_BASE, "", 0);
	if (rc)
		return rc;
	const node_info *info = map_get_ptr(&c->info, s->doc);
	if (!info)
		return cog__error(COG_EINVAL, "schema: (root): expected a schema (object or boolean)");
	s->root = compile_get_node(c, s->doc, info);
	if (!s->root)
		return COG_ENOMEM;
	while (c->ntodo) {
		snode *n = c->todo[--c->ntodo];
		rc = compile_node(c, n);
		if (rc)
			return rc;
	}
	return compile_check_cycles(s);
}

int cog__schema_compile(cog_schema **out, const cJSON *schema, unsigned int flags)
{
	COG_CHECK_ARG(out, "cog_schema_compile", "out is NULL");
	*out = NULL;
	COG_CHECK_ARG(schema, "cog_schema_compile", "schema is NULL");
	if (flags & ~(COG_SCHEMA_DRAFT_07 | COG_SCHEMA_FORMAT_ASSERT))
		return cog__error(COG_EINVAL, "schema: unknown flags 0x%x", flags);
	cog__json_init();
	cog_schema *s = cog__calloc(1, sizeof(*s));
	if (!s)
		return cog__oom("schema compile");
	s->flags = flags;
	s->doc = cJSON_Duplicate(schema, 1);
	if (!s->doc) {
		cog_free(s);
		return cog__oom("schema compile");
	}
	s->draft = draft_of(s->doc, flags);
	compiler c;
	memset(&c, 0, sizeof(c));
	c.s = s;
	c.draft = s->draft;
	int rc = compile_all(&c);
	map_dispose(&c.info);
	map_dispose(&c.ids);
	map_dispose(&c.memo);
	cog_free(c.todo);
	if (rc) {
		cog_schema_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int cog_schema_new(cog_schema **out, const char *schema_json, unsigned int flags)
{
	COG_CHECK_ARG(out, "cog_schema_new", "out is NULL");
	*out = NULL;
	COG_CHECK_ARG(schema_json, "cog_schema_new", "schema_json is NULL");
	cJSON *doc;
	int rc = cog_json_parse(&doc, schema_json, "schema");
	if (rc)
		return rc;
	rc = cog__schema_compile(out, doc, flags);
	cJSON_Delete(doc);
	return rc;
}

int cog__schema_check(const cog_schema *schema, const cJSON *instance,
                      cJSON **errors)
{
	if (errors)
		*errors = NULL;
	COG_CHECK_ARG(schema, "cog_schema_check", "schema is NULL");
	COG_CHECK_ARG(instance, "cog_schema_check", "instance is NULL");
	vctx v;
	memset(&v, 0, sizeof(v));
	v.mode = MODE_FIRST;
	vlog log; /* only its counters are set up: see vlog_init() */
	if (errors) {
		v.mode = MODE_COLLECT;
		v.log = &log;
		vlog_init(&log);
	}
	bool ok = validate_node(&v, schema->root, instance, NULL);
	if (v.abort) {
		/* A chain of $ref that compiling could not rule out ran too deep:
		 * the value cannot be shown valid. The failures collected so far
		 * stay, and this one is named by cog_error_last(). */
		v.full = false;
		v.nerrors = 0;
		v.mode = errors ? MODE_COLLECT : MODE_FIRST;
		report(&v, NULL, "$ref", "", "validation nests deeper than %d subschemas",
		       SCHEMA_MAX_DEPTH);
		ok = false;
	}
	if (v.oom) {
		if (errors)
			vlog_dispose(&log);
		return cog__oom("schema validate");
	}
	if (ok) {
		if (errors)
			vlog_dispose(&log);
		return 0;
	}
	if (errors) {
		*errors = vlog_finish(&log);
		if (!*errors)
			return cog__oom("schema validate");
	}
	return COG_ESCHEMA;
}

int cog_schema_validate(const cog_schema *schema, const char *instance_json,
                        char **errors_json)
{
	if (errors_json)
		*errors_json = NULL;
	COG_CHECK_ARG(schema, "cog_schema_validate", "schema is NULL");
	cJSON *inst;
	int rc = cog_json_parse(&inst, instance_json, "schema: instance");
	if (rc)
		return rc;
	cJSON *errors = NULL;
	rc = cog__schema_check(schema, inst, errors_json ? &errors : NULL);
	cJSON_Delete(inst);
	if (rc == COG_ESCHEMA && errors_json) {
		char saved[1024];
		snprintf(saved, sizeof(saved), "%s", cog_error_last());
		*errors_json = cog_json_print(errors);
		if (!*errors_json)
			rc = COG_ENOMEM;
		else
			cog__error(COG_ESCHEMA, "%s", saved); /* the first failure, again */
	}
	cJSON_Delete(errors);
	return rc;
}
