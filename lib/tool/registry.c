/*
 * The context's tool registry: definitions (sorted by name, looked up by
 * binary search under a read lock). Tools are reference-counted so that a
 * tool removed while a call runs lives until the call ends. Listing is in
 * list.c; role grants, the default workspace and the approval hook in
 * settings.c.
 */
#include <string.h>

#include <sodium.h>

#include "auth_int.h"
#include "tool_int.h"
#include "tool_mod.h"

static const size_t options_size[] = {
	0,
	offsetof(cog_tool_options, command) + sizeof(const char *),
};

int cog_tool_options_init(cog_tool_options *options, unsigned int version)
{
	COG_CHECK_ARG(options, "cog_tool_options_init", "options is NULL");
	if (version == 0 || version > COG_TOOL_OPTIONS_VERSION)
		return cog__error(COG_EVERSION, "cog_tool_options_init: version %u is not "
			"supported (1..%u)", version, COG_TOOL_OPTIONS_VERSION);
	cog_tool_options defaults = COG_TOOL_OPTIONS_INIT;
	memcpy(options, &defaults, options_size[version]);
	options->version = version;
	return COG_OK;
}

/* ---- the registry on the context ---- */

static void def_free(tool_def *def)
{
	if (def->free_user_data)
		def->free_user_data(def->user_data);
	cog_free(def->name);
	cog_free(def->description);
	cog_free(def->input_schema_text);
	cog_free(def->output_schema_text);
	cog_schema_free(def->input_schema);
	cog_schema_free(def->output_schema);
	cJSON_Delete(def->command);
	cog_free(def);
}

void tool_release(tool_def *def)
{
	if (def && atomic_fetch_sub(&def->refs, 1) == 1)
		def_free(def);
}

static int registry_create(cog_ctx *ctx, void **state)
{
	tool_registry *reg = cog__calloc(1, sizeof(*reg));
	if (!reg)
		return cog__oom("tool registry");
	reg->ctx = ctx;
	pthread_rwlock_init(&reg->lock, NULL);
	pthread_mutex_init(&reg->audit_lock, NULL);
	pthread_mutex_init(&reg->storage_lock, NULL);
	*state = reg;
	return COG_OK;
}

static void registry_destroy(void *state)
{
	tool_registry *reg = state;
	for (size_t i = 0; i < reg->count; i++)
		tool_release(reg->tools[i]);
	cog_free(reg->tools);
	for (size_t i = 0; i < reg->grant_count; i++) {
		cog_free(reg->grants[i].role);
		cog_free(reg->grants[i].glob);
	}
	cog_free(reg->grants);
	cog_free(reg->workspace);
	cog_storage_free(reg->fallback_storage);
	sodium_memzero(reg->audit_key, sizeof(reg->audit_key));
	pthread_rwlock_destroy(&reg->lock);
	pthread_mutex_destroy(&reg->audit_lock);
	pthread_mutex_destroy(&reg->storage_lock);
	cog_free(reg);
}

int tool_registry_get(cog_ctx *ctx, tool_registry **out)
{
	void *state = NULL;
	int rc = cog__ctx_ext(ctx, COG__EXT_TOOLS, registry_create, registry_destroy, &state);
	*out = state;
	return rc;
}

cog_storage *tool_storage(tool_registry *reg)
{
	cog_storage *storage = cog_ctx_storage(reg->ctx);
	if (storage)
		return storage;
	pthread_mutex_lock(&reg->storage_lock);
	if (!reg->fallback_storage && cog_storage_memory_new(&reg->fallback_storage) != COG_OK)
		reg->fallback_storage = NULL;
	storage = reg->fallback_storage;
	pthread_mutex_unlock(&reg->storage_lock);
	return storage;
}

/* Index of the first tool whose name is >= name. */
static size_t lower_bound(const tool_registry *reg, const char *name)
{
	size_t lo = 0, hi = reg->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(reg->tools[mid]->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

tool_def *tool_find(tool_registry *reg, const char *name)
{
	tool_def *def = NULL;
	pthread_rwlock_rdlock(&reg->lock);
	size_t i = lower_bound(reg, name);
	if (i < reg->count && strcmp(reg->tools[i]->name, name) == 0) {
		def = reg->tools[i];
		atomic_fetch_add(&def->refs, 1);
	}
	pthread_rwlock_unlock(&reg->lock);
	return def;
}

bool tool_glob_match(const char *glob, const char *name)
{
	return auth_glob_match(glob, name); /* one matcher for tools and roles */
}

/* ---- defining ---- */

static int check_name(const char *fn, const char *name)
{
	if (!name)
		return cog__error(COG_EINVAL, "%s: name is NULL", fn);
	size_t len = strlen(name);
	if (len == 0 || len > COG_TOOL_NAME_MAX)
		return cog__error(COG_EINVAL, "%s: tool name '%.80s' must be 1 to %d characters",
			fn, name, COG_TOOL_NAME_MAX);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return cog__error(COG_EINVAL, "%s: tool name '%s' has '%c' at %zu; "
				"only letters, digits, '_' and '-' are allowed", fn, name,
				(c >= 0x20 && c < 0x7f) ? c : '?', i);
	}
	return COG_OK;
}

static int compile_schema(const char *fn, const char *name, const char *which,
                          const char *text, cog_schema **out, char **copy)
{
	int rc = cog_schema_new(out, text, 0);
	if (rc)
		return cog__error_wrap(rc, "%s: tool '%s': %s schema", fn, name, which);
	*copy = cog__strdup(text);
	if (!*copy)
		return cog__oom(fn);
	return COG_OK;
}

/* A tool's input must be an object for the LLM APIs: reject schemas that
 * say otherwise, early and clearly. */
static int check_object_schema(const char *fn, const char *name, const char *text)
{
	cJSON *schema = NULL;
	int rc = cog_json_parse(&schema, text, "input schema");
	if (rc)
		return cog__error_wrap(rc, "%s: tool '%s'", fn, name);
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(schema, "type");
	bool ok = cJSON_IsObject(schema) &&
		(!type || (cJSON_IsString(type) && strcmp(type->valuestring, "object") == 0));
	cJSON_Delete(schema);
	if (!ok)
		return cog__error(COG_EINVAL, "%s: tool '%s': the input schema must be a JSON "
			"object schema with \"type\":\"object\" (tool arguments are objects)",
			fn, name);
	return COG_OK;
}


static int def_new(const char *fn, const cog_tool_options *o, tool_def **out)
{
	tool_def *def = cog__calloc(1, sizeof(*def));
	if (!def)
		return cog__oom(fn);
	atomic_init(&def->refs, 1);
	int rc = COG_ENOMEM;
	def->name = cog__strdup(o->name);
	def->description = cog__strdup(o->description ? o->description : "");
	if (!def->name || !def->description)
		goto fail;
	const char *input = o->input_schema ? o->input_schema : "{\"type\":\"object\"}";
	if ((rc = check_object_schema(fn, o->name, input)) ||
	    (rc = compile_schema(fn, o->name, "input", input, &def->input_schema,
	                         &def->input_schema_text)))
		goto fail;
	if (o->output_schema && (rc = compile_schema(fn, o->name, "output", o->output_schema,
	                                             &def->output_schema,
	                                             &def->output_schema_text)))
		goto fail;
	if (o->command && (rc = tool_command_parse(fn, o->name, o->command, &def->command)))
		goto fail;
	if (def->command && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(def->command, "network")) &&
	    !(o->flags & COG_TOOL_NEEDS_NETWORK)) {
		rc = cog__error(COG_EINVAL, "%s: tool '%s': a command with \"network\":true must "
			"be flagged COG_TOOL_NEEDS_NETWORK (so calls without a grant are denied)", fn,
			o->name);
		goto fail;
	}
	def->flags = o->flags;
	def->timeout_ms = o->timeout_ms ? o->timeout_ms : 30000;
	def->max_output_bytes = o->max_output_bytes ? o->max_output_bytes : (size_t)1 << 20;
	def->fn = o->fn;
	*out = def;
	return COG_OK;
fail:
	if (rc == COG_ENOMEM)
		cog__oom(fn);
	def_free(def); /* user_data not yet owned: free_user_data is unset */
	return rc;
}

int cog_tool_define(cog_ctx *ctx, const cog_tool_options *options)
{
	static const char fn[] = "cog_tool_define";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(options, fn, "options is NULL");
	if (options->version == 0 || options->version > COG_TOOL_OPTIONS_VERSION)
		return cog__error(COG_EVERSION, "%s: options version %u is not supported (1..%u)",
			fn, options->version, COG_TOOL_OPTIONS_VERSION);
	cog_tool_options o = COG_TOOL_OPTIONS_INIT;
	memcpy(&o, options, options_size[options->version]);
	int rc = check_name(fn, o.name);
	if (rc)
		return rc;
	if (!o.fn == !o.command)
		return cog__error(COG_EINVAL, "%s: tool '%s' needs exactly one runner: fn or "
			"command", fn, o.name);
	const unsigned int known = COG_TOOL_IDEMPOTENT | COG_TOOL_SIDE_EFFECTS |
		COG_TOOL_NEEDS_APPROVAL | COG_TOOL_NEEDS_NETWORK;
	if (o.flags & ~known)
		return cog__error(COG_EINVAL, "%s: tool '%s': unknown flags 0x%x", fn, o.name,
			o.flags & ~known);
	if (o.description && !cog_utf8_valid(o.description, strlen(o.description), NULL))
		return cog__error(COG_EINVAL, "%s: tool '%s': description is not UTF-8", fn, o.name);
	tool_registry *reg;
	if ((rc = tool_registry_get(ctx, &reg)))
		return rc;
	tool_def *def = NULL;
	if ((rc = def_new(fn, &o, &def)))
		return rc;

	pthread_rwlock_wrlock(&reg->lock);
	size_t i = lower_bound(reg, def->name);
	if (i < reg->count && strcmp(reg->tools[i]->name, def->name) == 0) {
		pthread_rwlock_unlock(&reg->lock);
		def_free(def);
		return cog__error(COG_EEXISTS, "%s: a tool named '%s' is already defined", fn,
			o.name);
	}
	if (reg->count == reg->cap) {
		size_t cap = reg->cap ? reg->cap * 2 : 16;
		tool_def **tools = cog_realloc(reg->tools, cap * sizeof(*tools));
		if (!tools) {
			pthread_rwlock_unlock(&reg->lock);
			def_free(def);
			return cog__oom(fn);
		}
		reg->tools = tools;
		reg->cap = cap;
	}
	memmove(reg->tools + i + 1, reg->tools + i, (reg->count - i) * sizeof(*reg->tools));
	reg->tools[i] = def;
	reg->count++;
	/* Only now does the registry own user_data. */
	def->user_data = o.user_data;
	def->free_user_data = o.free_user_data;
	pthread_rwlock_unlock(&reg->lock);
	return COG_OK;
}

int cog_tool_remove(cog_ctx *ctx, const char *name)
{
	static const char fn[] = "cog_tool_remove";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(name, fn, "name is NULL");
	tool_registry *reg;
	int rc = tool_registry_get(ctx, &reg);
	if (rc)
		return rc;
	tool_def *gone = NULL;
	pthread_rwlock_wrlock(&reg->lock);
	size_t i = lower_bound(reg, name);
	if (i < reg->count && strcmp(reg->tools[i]->name, name) == 0) {
		gone = reg->tools[i];
		memmove(reg->tools + i, reg->tools + i + 1,
			(reg->count - i - 1) * sizeof(*reg->tools));
		reg->count--;
	}
	pthread_rwlock_unlock(&reg->lock);
	if (!gone)
		return cog__error(COG_ENOTFOUND, "%s: no tool named '%s'", fn, name);
	tool_release(gone);
	return COG_OK;
}

/* ---- questions from the modules above (tool_mod.h) ---- */

bool cog__tool_defined(cog_ctx *ctx, const char *name, size_t *count)
{
	void *state = NULL;
	/* Asking must not make a registry: no create function. */
	cog__ctx_ext(ctx, COG__EXT_TOOLS, NULL, NULL, &state);
	tool_registry *reg = state;
	if (count)
		*count = 0;
	if (!reg)
		return false;
	pthread_rwlock_rdlock(&reg->lock);
	size_t i = lower_bound(reg, name);
	bool found = i < reg->count && strcmp(reg->tools[i]->name, name) == 0;
	if (count)
		*count = reg->count;
	pthread_rwlock_unlock(&reg->lock);
	return found;
}

int cog__tool_check_arguments(cog_ctx *ctx, const char *name, const cJSON *arguments)
{
	void *state = NULL;
	cog__ctx_ext(ctx, COG__EXT_TOOLS, NULL, NULL, &state);
	tool_def *def = state ? tool_find(state, name) : NULL;
	if (!def)
		return cog__error(COG_ENOTFOUND, "no tool named '%s'", name);
	cJSON *empty = arguments ? NULL : cJSON_CreateObject();
	int rc = arguments || empty ? cog__schema_check(def->input_schema,
		arguments ? arguments : empty, NULL) : cog__oom("tool arguments");
	cJSON_Delete(empty);
	tool_release(def);
	return rc;
}
