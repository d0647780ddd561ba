/*
 * Agent definitions as data: parsed and checked from their JSON (agent.h
 * "Definition JSON": every member checked, unknown ones refused by name),
 * written back with every member filled in, and reference counted so that
 * an instance keeps its definition after a replace or remove. The
 * registry that holds them is registry.c.
 */
#include <math.h>
#include <string.h>

#include "registry_int.h"

/* ---- definitions: reference counting ---- */

static void def_free(agent_def *def)
{
	cog_free(def->name);
	cog_free(def->role);
	cog_free(def->description);
	cog_free(def->instructions);
	cog_free(def->model);
	for (size_t i = 0; i < def->n_capabilities; i++)
		cog_free(def->capabilities[i]);
	cog_free(def->capabilities);
	cog_free(def->tools);
	cog_free(def);
}

void agent_def_ref(agent_def *def)
{
	if (def)
		atomic_fetch_add(&def->refs, 1);
}

void agent_def_unref(agent_def *def)
{
	if (def && atomic_fetch_sub(&def->refs, 1) == 1)
		def_free(def);
}

/* ---- definitions: JSON ---- */

bool agent_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

static int bad(const char *what, const char *member, const char *expected)
{
	return cog__error(COG_EINVAL, "%s: \"%s\" must be %s", what, member, expected);
}

static int get_text(char **dst, const cJSON *v, const char *what, bool as_name)
{
	if (!cJSON_IsString(v) || (as_name && !agent_name_valid(v->valuestring)))
		return bad(what, v->string, as_name ? "1..64 of [A-Za-z0-9_.-]" : "a string");
	cog_free(*dst);
	return (*dst = cog__strdup(v->valuestring)) ? COG_OK : cog__oom(what);
}

static int get_uint(unsigned int *dst, const cJSON *v, const char *what,
                    unsigned int min, unsigned int max)
{
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
	    v->valuedouble < min || v->valuedouble > max)
		return cog__error(COG_EINVAL, "%s: \"%s\" must be a whole number from %u to %u",
			what, v->string, min, max);
	*dst = (unsigned int)v->valuedouble;
	return COG_OK;
}

static int get_capabilities(agent_def *d, const cJSON *v, const char *what)
{
	if (!cJSON_IsArray(v))
		return bad(what, "capabilities", "an array of strings");
	size_t n = (size_t)cJSON_GetArraySize(v);
	if (n > 64)
		return bad(what, "capabilities", "at most 64 strings");
	for (size_t i = 0; i < d->n_capabilities; i++)
		cog_free(d->capabilities[i]);
	cog_free(d->capabilities);
	d->capabilities = NULL;
	d->n_capabilities = 0;
	if (n && !(d->capabilities = cog__calloc(n, sizeof(char *))))
		return cog__oom(what);
	const cJSON *c;
	cJSON_ArrayForEach(c, v) {
		if (!cJSON_IsString(c) || !agent_name_valid(c->valuestring))
			return bad(what, "capabilities", "an array of names (1..64 of [A-Za-z0-9_.-])");
		for (size_t i = 0; i < d->n_capabilities; i++)
			if (strcmp(d->capabilities[i], c->valuestring) == 0)
				return cog__error(COG_EINVAL, "%s: \"capabilities\" names \"%s\" twice",
					what, c->valuestring);
		if (!(d->capabilities[d->n_capabilities] = cog__strdup(c->valuestring)))
			return cog__oom(what);
		d->n_capabilities++;
	}
	return COG_OK;
}

static int get_tools(agent_def *d, const cJSON *v, const char *what)
{
	const cJSON *t;
	if (!cJSON_IsArray(v))
		return bad(what, "tools", "an array of tool name globs");
	cJSON_ArrayForEach(t, v)
		if (!cJSON_IsString(t) || !t->valuestring[0] || strlen(t->valuestring) > 128)
			return bad(what, "tools", "an array of tool name globs (1..128 bytes)");
	cog_free(d->tools);
	return (d->tools = cog_json_print(v)) ? COG_OK : cog__oom(what);
}

static int get_member(agent_def *d, const cJSON *f, const char *what, bool *replace)
{
	const char *k = f->string;
	if (!strcmp(k, "name"))
		return get_text(&d->name, f, what, true);
	if (!strcmp(k, "role"))
		return get_text(&d->role, f, what, true);
	if (!strcmp(k, "description"))
		return get_text(&d->description, f, what, false);
	if (!strcmp(k, "instructions"))
		return get_text(&d->instructions, f, what, false);
	if (!strcmp(k, "model"))
		return cJSON_IsNull(f) ? COG_OK : get_text(&d->model, f, what, false);
	if (!strcmp(k, "capabilities"))
		return get_capabilities(d, f, what);
	if (!strcmp(k, "tools"))
		return get_tools(d, f, what);
	if (!strcmp(k, "budget"))
		return budget_limits_from_json(&d->budget, f, what);
	if (!strcmp(k, "max_turns"))
		return get_uint(&d->max_turns, f, what, 1, 1000);
	if (!strcmp(k, "max_tokens"))
		return get_uint(&d->max_tokens, f, what, 1, 1000000);
	if (!strcmp(k, "context_tokens"))
		return get_uint(&d->context_tokens, f, what, 256, 10000000);
	if (!strcmp(k, "memory_k"))
		return get_uint(&d->memory_k, f, what, 0, 100);
	if (!strcmp(k, "max_idle"))
		return get_uint(&d->max_idle, f, what, 0, 1024);
	if (!strcmp(k, "temperature")) {
		if (cJSON_IsNull(f))
			return COG_OK;
		if (!cJSON_IsNumber(f) || !(f->valuedouble >= 0 && f->valuedouble <= 2))
			return bad(what, k, "a number from 0 to 2");
		d->temperature = f->valuedouble;
		return COG_OK;
	}
	if (!strcmp(k, "handoff") || !strcmp(k, "replace")) {
		if (!cJSON_IsBool(f))
			return bad(what, k, "true or false");
		*(!strcmp(k, "handoff") ? &d->handoff : replace) = cJSON_IsTrue(f);
		return COG_OK;
	}
	return cog__error(COG_EINVAL, "%s: unknown member \"%s\" (name, role, description, "
		"instructions, model, capabilities, tools, budget, max_turns, max_tokens, "
		"temperature, context_tokens, memory_k, handoff, max_idle, replace)", what, k);
}

int agent_def_parse(agent_def **out, const cJSON *json, const char *what, bool *replace)
{
	*out = NULL;
	*replace = false;
	if (!cJSON_IsObject(json))
		return cog__error(COG_EINVAL, "%s: a definition must be a JSON object", what);
	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(json, "name")))
		return cog__error(COG_EINVAL, "%s: \"name\" is required (a string)", what);
	agent_def *d = cog__calloc(1, sizeof(*d));
	if (!d)
		return cog__oom(what);
	atomic_init(&d->refs, 1);
	d->max_turns = 8;
	d->max_tokens = 1024;
	d->context_tokens = 6000;
	d->memory_k = 6;
	d->max_idle = 4;
	d->temperature = -1;
	int rc = COG_OK;
	if (!(d->role = cog__strdup("executor")) || !(d->description = cog__strdup("")) ||
	    !(d->instructions = cog__strdup("")) || !(d->tools = cog__strdup("[]")))
		rc = cog__oom(what);
	const cJSON *f;
	for (f = json->child; f && rc == COG_OK; f = f->next)
		rc = get_member(d, f, what, replace);
	if (rc) {
		def_free(d);
		return rc;
	}
	*out = d;
	return COG_OK;
}

cJSON *agent_def_to_json(const agent_def *d)
{
	cJSON *o = cJSON_CreateObject(), *caps = cJSON_CreateArray(), *tools = NULL;
	cJSON *budget = budget_limits_to_json(&d->budget);
	for (size_t i = 0; caps && i < d->n_capabilities; i++)
		if (!cJSON_AddItemToArray(caps, cJSON_CreateString(d->capabilities[i]))) {
			cJSON_Delete(caps);
			caps = NULL;
		}
	if (cog_json_parse(&tools, d->tools, "agent tools") != COG_OK)
		tools = NULL;
	bool ok = o && caps && tools && budget &&
		cJSON_AddStringToObject(o, "name", d->name) &&
		cJSON_AddStringToObject(o, "role", d->role) &&
		cJSON_AddStringToObject(o, "description", d->description) &&
		cJSON_AddStringToObject(o, "instructions", d->instructions) &&
		(d->model ? cJSON_AddStringToObject(o, "model", d->model) :
		            cJSON_AddNullToObject(o, "model")) &&
		cJSON_AddItemToObject(o, "capabilities", caps) &&
		(caps = NULL, cJSON_AddItemToObject(o, "tools", tools)) &&
		(tools = NULL, cJSON_AddItemToObject(o, "budget", budget)) &&
		(budget = NULL, cJSON_AddNumberToObject(o, "max_turns", d->max_turns)) &&
		cJSON_AddNumberToObject(o, "max_tokens", d->max_tokens) &&
		(d->temperature >= 0 ? cJSON_AddNumberToObject(o, "temperature", d->temperature) :
		                       cJSON_AddNullToObject(o, "temperature")) &&
		cJSON_AddNumberToObject(o, "context_tokens", d->context_tokens) &&
		cJSON_AddNumberToObject(o, "memory_k", d->memory_k) &&
		cJSON_AddBoolToObject(o, "handoff", d->handoff) &&
		cJSON_AddNumberToObject(o, "max_idle", d->max_idle);
	cJSON_Delete(caps);
	cJSON_Delete(tools);
	cJSON_Delete(budget);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}
