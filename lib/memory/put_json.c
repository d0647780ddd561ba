/*
 * The JSON doors to cog_memory_put: an item of an import file or a binding
 * (cog_memory_put_json), and an episode of a run (cog_memory_record_episode);
 * and the redaction of the metadata of the stored layers.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "auth_int.h"
#include "mem_auth.h"
#include "memory_int.h"
#include "redact_int.h"


/* COG_EINVAL naming every member of o that is not in known (and any that
 * appears twice). */
static int check_members(const char *fn, const cJSON *o, const char *const *known,
                         size_t nknown)
{
	cog_buf bad = COG_BUF_INIT;
	size_t nbad = 0;
	for (const cJSON *c = o->child; c; c = c->next) {
		size_t i = 0;
		while (i < nknown && strcmp(known[i], c->string) != 0)
			i++;
		if (i < nknown) {
			for (const cJSON *d = o->child; d != c; d = d->next)
				if (strcmp(d->string, c->string) == 0) {
					cog_buf_dispose(&bad);
					return cog__error(COG_EINVAL, "%s: member \"%.64s\" appears twice",
						fn, c->string);
				}
			continue;
		}
		if (nbad++ < 8) {
			cog_buf_puts(&bad, nbad > 1 ? ", " : "");
			cog_buf_put_json_string(&bad, c->string, strnlen(c->string, 64));
		}
	}
	if (!nbad)
		return COG_OK;
	cog_buf list = COG_BUF_INIT;
	for (size_t i = 0; i < nknown; i++)
		cog_buf_printf(&list, "%s%s", i ? ", " : "", known[i]);
	int rc = cog__error(COG_EINVAL, "%s: unknown member%s %s%s (known: %s)", fn,
		nbad > 1 ? "s" : "", bad.ptr ? bad.ptr : "", nbad > 8 ? ", ..." : "",
		list.ptr ? list.ptr : "");
	cog_buf_dispose(&bad);
	cog_buf_dispose(&list);
	return rc;
}

static int vector_from_json(const char *fn, const cJSON *a, float **out, size_t *dim)
{
	if (!cJSON_IsArray(a))
		return cog__error(COG_EINVAL, "%s: \"vector\" must be an array of numbers", fn);
	size_t n = (size_t)cJSON_GetArraySize(a);
	if (n == 0 || n > MEM_VEC_DIM_MAX)
		return cog__error(COG_EINVAL, "%s: \"vector\" must have 1..%d numbers, not %zu",
			fn, MEM_VEC_DIM_MAX, n);
	float *v = cog_malloc(n * sizeof(float));
	if (!v)
		return cog__oom(fn);
	size_t i = 0;
	for (const cJSON *e = a->child; e; e = e->next, i++) {
		if (!cJSON_IsNumber(e)) {
			cog_free(v);
			return cog__error(COG_EINVAL, "%s: vector[%zu] is not a number", fn, i);
		}
		v[i] = (float)e->valuedouble;
	}
	*out = v;
	*dim = n;
	return COG_OK;
}

/* The put options of an item (borrowing from it; *vec and *md are the
 * caller's to free). */
static int item_options(const char *fn, const cJSON *item, cog_memory_put_options *o,
                        float **vec, char **md)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, "metadata");
	if (v && !cJSON_IsNull(v)) {
		if (!cJSON_IsObject(v))
			return cog__error(COG_EINVAL, "%s: \"metadata\" must be an object", fn);
		*md = cog_json_print(v);
		if (!*md)
			return cog__error_wrap(COG_ENOMEM, "%s", fn);
		o->metadata = *md;
	}
	v = cJSON_GetObjectItemCaseSensitive(item, "layer");
	if (v && !cJSON_IsNull(v)) {
		o->layer = cJSON_IsString(v) ? mem_layer_bit(v->valuestring) : 0;
		if (!o->layer)
			return cog__error(COG_EINVAL,
				"%s: \"layer\" must be one of \"working\", \"short_term\", "
				"\"long_term\", \"episodic\"", fn);
	}
	v = cJSON_GetObjectItemCaseSensitive(item, "importance");
	if (v && !cJSON_IsNull(v)) {
		if (!cJSON_IsNumber(v))
			return cog__error(COG_EINVAL, "%s: \"importance\" must be a number in 0..1", fn);
		o->importance = v->valuedouble;
	}
	v = cJSON_GetObjectItemCaseSensitive(item, "ttl_ms");
	if (v && !cJSON_IsNull(v)) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9.2e18 ||
		    v->valuedouble != floor(v->valuedouble))
			return cog__error(COG_EINVAL,
				"%s: \"ttl_ms\" must be an integer number of milliseconds >= 0", fn);
		o->ttl_ms = (int64_t)v->valuedouble;
	}
	v = cJSON_GetObjectItemCaseSensitive(item, "embed_model");
	if (v && !cJSON_IsNull(v)) {
		if (!cJSON_IsString(v))
			return cog__error(COG_EINVAL, "%s: \"embed_model\" must be a string", fn);
		o->embed_model = v->valuestring;
	}
	v = cJSON_GetObjectItemCaseSensitive(item, "vector");
	if (v && !cJSON_IsNull(v)) {
		int rc = vector_from_json(fn, v, vec, &o->dim);
		if (rc)
			return rc;
		o->vector = *vec;
	}
	return COG_OK;
}

int cog_memory_put_json(cog_memory *m, const char *item_json, uint64_t *id)
{
	static const char fn[] = "cog_memory_put_json";
	static const char *const known[] = {
		"text", "metadata", "layer", "importance", "ttl_ms", "vector", "embed_model"
	};
	if (id)
		*id = 0;
	COG_CHECK_ARG(m, fn, "mem is NULL");
	{
		int auth_rc = mem_auth_check(m, fn, COG_AUTH_MEMORY_WRITE, m->ns);
		if (auth_rc)
			return auth_rc;
	}
	COG_CHECK_ARG(item_json, fn, "item_json is NULL");
	cJSON *item = NULL;
	int rc = cog_json_parse(&item, item_json, "cog_memory_put_json: item");
	if (rc)
		return rc;
	if (!cJSON_IsObject(item))
		rc = cog__error(COG_EINVAL, "%s: the item must be a JSON object", fn);
	if (!rc)
		rc = check_members(fn, item, known, COG_ARRAY_LEN(known));
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(item, "text");
	if (!rc && !cJSON_IsString(text))
		rc = cog__error(COG_EINVAL, "%s: \"text\" %s", fn,
			text ? "must be a string" : "is missing");
	cog_memory_put_options o = COG_MEMORY_PUT_OPTIONS_INIT;
	float *vec = NULL;
	char *md = NULL;
	if (!rc)
		rc = item_options(fn, item, &o, &vec, &md);
	if (!rc) {
		rc = cog_memory_put(m, text->valuestring, &o, id);
		if (rc < 0)
			cog__error_wrap(rc, "%s", fn);
	}
	cog_free(vec);
	cog_free(md);
	cJSON_Delete(item);
	return rc;
}

/* ---- redaction of stored metadata ---- */

/* Whether md may hold anything ctx's rules replace: a built-in rule's cue
 * (cog__redact_candidates: '@', 9 or more digits, "sk-", "eyJ", ...), any
 * pattern of the host's, or an escape that could hide one. Most metadata
 * has none: it is stored as given, not parsed. */
static bool may_redact(cog_memory *m, const char *md, size_t len)
{
	if (memchr(md, '\\', len))
		return true;
	cog_redact_config *c = cog__redact_config_acquire(m->ctx);
	unsigned int on = c ? c->builtins : COG_REDACT_ALL_BUILTINS;
	bool may = (c && c->pattern_count) || (on & cog__redact_candidates(md, len));
	cog__redact_config_release(c);
	return may;
}

/* s redacted into *out (cog_free) when something was replaced, else NULL. */
static int redact_one(cog_memory *m, const char *s, char **out)
{
	uint64_t before = m->redactions;
	char *red = NULL;
	*out = NULL;
	int rc = mem_redact(m, s, strlen(s), &red, NULL);
	if (!rc && m->redactions != before)
		*out = red;
	else
		cog_free(red);
	return rc;
}

/* Redact the members of item at any depth: keys, string values, and
 * integers of 13..19 digits that redact as text (card numbers: they become
 * the replacement, a string). cJSON frees with cog_free (ours). */
static int redact_tree(cog_memory *m, cJSON *item, bool *changed)
{
	for (cJSON *c = item->child; c; c = c->next) {
		char *red = NULL;
		int rc = COG_OK;
		if (c->string && !(c->type & cJSON_StringIsConst)) {
			rc = redact_one(m, c->string, &red);
			if (red) {
				cog_free(c->string);
				c->string = red;
				*changed = true;
			}
		}
		if (!rc && (cJSON_IsObject(c) || cJSON_IsArray(c))) {
			rc = redact_tree(m, c, changed);
		} else if (!rc && cJSON_IsString(c)) {
			rc = redact_one(m, c->valuestring, &red);
			if (red) {
				cog_free(c->valuestring);
				c->valuestring = red;
				*changed = true;
			}
		} else if (!rc && cJSON_IsNumber(c)) {
			double v = fabs(c->valuedouble);
			if (v >= 1e12 && v < 1e19 && v == floor(v)) {
				char digits[32];
				snprintf(digits, sizeof(digits), "%.0f", v);
				rc = redact_one(m, digits, &red);
				if (red) {
					c->type = cJSON_String;
					c->valuestring = red;
					*changed = true;
				}
			}
		}
		if (rc)
			return rc;
	}
	return COG_OK;
}

int mem_put_redact_metadata(cog_memory *m, const char *md, char **out)
{
	*out = NULL;
	size_t len = strlen(md);
	if (m->opt.no_redact || !may_redact(m, md, len))
		return COG_OK;
	cJSON *root = NULL;
	int rc = cog_json_parse(&root, md, "cog_memory_put: metadata");
	bool changed = false;
	if (!rc)
		rc = redact_tree(m, root, &changed);
	if (!rc && changed && !(*out = cog_json_print(root)))
		rc = COG_ENOMEM;
	cJSON_Delete(root);
	return rc;
}

/* ---- episodes ---- */

static void put_field(cog_buf *b, const cJSON *v)
{
	if (cJSON_IsString(v) && v->valuestring[0])
		cog_buf_printf(b, " %s", v->valuestring);
	else if (cJSON_IsNumber(v))
		cog_buf_printf(b, " %.17g", v->valuedouble);
}

int cog_memory_record_episode(cog_memory *m, const char *event_json, uint64_t *id)
{
	static const char fn[] = "cog_memory_record_episode";
	if (id)
		*id = 0;
	COG_CHECK_ARG(m, fn, "mem is NULL");
	{
		int auth_rc = mem_auth_check(m, fn, COG_AUTH_MEMORY_WRITE, m->ns);
		if (auth_rc)
			return auth_rc;
	}
	COG_CHECK_ARG(event_json, fn, "event_json is NULL");
	cJSON *ev = NULL;
	int rc = cog_json_parse(&ev, event_json, "cog_memory_record_episode: event");
	if (rc)
		return rc;
	const char *kind = cog_json_get_string(ev, "kind");
	const cJSON *summary = cJSON_GetObjectItemCaseSensitive(ev, "summary");
	if (!cJSON_IsObject(ev))
		rc = cog__error(COG_EINVAL, "%s: the event must be a JSON object", fn);
	else if (!kind || !*kind)
		rc = cog__error(COG_EINVAL, "%s: \"kind\" must be a non-empty string (\"task\", "
			"\"llm_call\", \"tool_call\", \"outcome\" or the host's own)", fn);
	else if (summary && !cJSON_IsNull(summary) && !cJSON_IsString(summary))
		rc = cog__error(COG_EINVAL, "%s: \"summary\" must be a string", fn);
	cog_buf text = COG_BUF_INIT;
	if (!rc) {
		if (cJSON_IsString(summary) && summary->valuestring[0]) {
			cog_buf_puts(&text, summary->valuestring);
		} else {
			cog_buf_puts(&text, kind);
			put_field(&text, cJSON_GetObjectItemCaseSensitive(ev, "task"));
			put_field(&text, cJSON_GetObjectItemCaseSensitive(ev, "status"));
		}
		if (text.failed)
			rc = cog__oom(fn);
	}
	/* cog_memory_put redacts the text and the event (its metadata) */
	if (!rc) {
		cog_memory_put_options o = COG_MEMORY_PUT_OPTIONS_INIT;
		o.layer = COG_MEMORY_EPISODIC;
		o.metadata = event_json;
		rc = cog_memory_put(m, text.ptr, &o, id);
		if (rc < 0)
			cog__error_wrap(rc, "%s", fn);
	}
	cog_buf_dispose(&text);
	cJSON_Delete(ev);
	return rc;
}
