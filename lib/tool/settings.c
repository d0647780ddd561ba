/*
 * The registry's settings beside its tools: role grants (which roles may
 * call which tools), the default workspace of calls, and the approval hook.
 * All under the registry's write lock, like the tools.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "tool_int.h"

int cog_tool_grant(cog_ctx *ctx, const char *role, const char *tool_glob)
{
	static const char fn[] = "cog_tool_grant";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(role && role[0], fn, "role is NULL or empty");
	COG_CHECK_ARG(tool_glob && tool_glob[0], fn, "tool_glob is NULL or empty");
	tool_registry *reg;
	int rc = tool_registry_get(ctx, &reg);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&reg->lock);
	for (size_t i = 0; i < reg->grant_count; i++) {
		if (strcmp(reg->grants[i].role, role) == 0 &&
		    strcmp(reg->grants[i].glob, tool_glob) == 0) {
			pthread_rwlock_unlock(&reg->lock);
			return COG_OK;
		}
	}
	if (reg->grant_count == reg->grant_cap) {
		size_t cap = reg->grant_cap ? reg->grant_cap * 2 : 8;
		tool_grant *grants = cog_realloc(reg->grants, cap * sizeof(*grants));
		if (!grants)
			goto oom;
		reg->grants = grants;
		reg->grant_cap = cap;
	}
	tool_grant g = { cog__strdup(role), cog__strdup(tool_glob) };
	if (!g.role || !g.glob) {
		cog_free(g.role);
		cog_free(g.glob);
		goto oom;
	}
	reg->grants[reg->grant_count++] = g;
	pthread_rwlock_unlock(&reg->lock);
	return COG_OK;
oom:
	pthread_rwlock_unlock(&reg->lock);
	return cog__oom(fn);
}

int cog_tool_revoke(cog_ctx *ctx, const char *role, const char *tool_glob)
{
	static const char fn[] = "cog_tool_revoke";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(role, fn, "role is NULL");
	COG_CHECK_ARG(tool_glob, fn, "tool_glob is NULL");
	tool_registry *reg;
	int rc = tool_registry_get(ctx, &reg);
	if (rc)
		return rc;
	rc = COG_ENOTFOUND;
	pthread_rwlock_wrlock(&reg->lock);
	for (size_t i = 0; i < reg->grant_count; i++) {
		if (strcmp(reg->grants[i].role, role) == 0 &&
		    strcmp(reg->grants[i].glob, tool_glob) == 0) {
			cog_free(reg->grants[i].role);
			cog_free(reg->grants[i].glob);
			reg->grants[i] = reg->grants[--reg->grant_count];
			rc = COG_OK;
			break;
		}
	}
	pthread_rwlock_unlock(&reg->lock);
	if (rc)
		return cog__error(COG_ENOTFOUND, "%s: role '%s' has no grant '%s'", fn, role,
			tool_glob);
	return COG_OK;
}

int cog_tool_set_workspace(cog_ctx *ctx, const char *path)
{
	static const char fn[] = "cog_tool_set_workspace";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	char *copy = NULL;
	if (path) {
		struct stat st;
		if (stat(path, &st) != 0)
			return cog__error(errno == ENOENT ? COG_ENOTFOUND : COG_EINVAL,
				"%s: %s: %s", fn, path, strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return cog__error(COG_EINVAL, "%s: %s is not a directory", fn, path);
		if (!(copy = cog__strdup(path)))
			return cog__oom(fn);
	}
	tool_registry *reg;
	int rc = tool_registry_get(ctx, &reg);
	if (rc) {
		cog_free(copy);
		return rc;
	}
	pthread_rwlock_wrlock(&reg->lock);
	cog_free(reg->workspace);
	reg->workspace = copy;
	pthread_rwlock_unlock(&reg->lock);
	return COG_OK;
}

int cog_tool_set_approval_hook(cog_ctx *ctx, cog_approval_fn fn_, void *user_data)
{
	COG_CHECK_ARG(ctx, "cog_tool_set_approval_hook", "ctx is NULL");
	tool_registry *reg;
	int rc = tool_registry_get(ctx, &reg);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&reg->lock);
	reg->approval_fn = fn_;
	reg->approval_ud = fn_ ? user_data : NULL;
	pthread_rwlock_unlock(&reg->lock);
	return COG_OK;
}
