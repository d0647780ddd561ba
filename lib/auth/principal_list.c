/*
 * Listing and removing registered principals (principal.c keeps the rest).
 */
#include <string.h>

#include "rbac_int.h"

/* Delete the document (COG_ENOTFOUND when there is none). */
static int step_del(cog_storage *s, const char *key, cJSON *doc, const void *arg,
                    bool *revoke)
{
	(void)arg;
	if (!doc)
		return cog__error(COG_ENOTFOUND, "no principal '%s' is registered", key);
	*revoke = true;
	int rc = cog_storage_delete(s, AUTH_PRINCIPALS_COLL, key);
	/* its reset tokens go too: none may serve a principal registered
	 * again under the same name */
	const char *tenant = cog_json_get_string(doc, "tenant");
	const char *id = cog_json_get_string(doc, "id");
	if (!rc && tenant && id)
		rc = auth_reset_drop(s, tenant, id);
	return rc;
}

int cog_auth_principal_remove(cog_ctx *ctx, const char *tenant, const char *id)
{
	static const char fn[] = "cog_auth_principal_remove";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	int rc = auth_check_ids(fn, tenant, id);
	return rc ? rc : auth_principal_change(ctx, fn, tenant, id, step_del, NULL);
}

static int list_one(const char *key, const char *value, size_t value_len,
                    int64_t expires_at, void *user_data)
{
	(void)value_len;
	(void)expires_at;
	cJSON *doc = cJSON_Parse(value);
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return cog_error_set(COG_EINTEGRITY, "cog_auth_principal_list: principal '%s' "
			"is not stored as a JSON object", key);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "hash");
	if (!cJSON_AddItemToArray(user_data, doc)) {
		cJSON_Delete(doc);
		return cog__oom("cog_auth_principal_list");
	}
	return 0;
}

int cog_auth_principal_list(cog_ctx *ctx, const char *tenant, char **json)
{
	static const char fn[] = "cog_auth_principal_list";
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	char prefix[AUTH_PKEY_MAX] = "";
	int rc = tenant ? auth_check_name(fn, "tenant", tenant) : COG_OK;
	if (rc)
		return rc;
	if (tenant)
		auth_principal_key(tenant, "", prefix); /* "<tenant>/" */
	cog__json_init();
	return auth_scan_json(ctx, fn, AUTH_PRINCIPALS_COLL, prefix, list_one,
		cJSON_CreateArray(), json);
}
