/*
 * Helpers of the auth-sessions integration tests (auth_sessions_test.h).
 */
#include <stdio.h>

#include <cjson/cJSON.h>

#include "auth_sessions_test.h"
#include "cognition/sqlite.h"
#include "test_tmp.h"

/* A context on the SQLite file of this test, with low argon2 limits. */
cog_ctx *open_ctx(const char *extra_config)
{
	cog_ctx *ctx = NULL;
	cog_storage *s = NULL;
	cog_sqlite_options o;
	ck_assert_cog(cog_sqlite_options_init(&o, COG_SQLITE_OPTIONS_VERSION));
	o.durability = COG_SQLITE_DURABLE_NORMAL;
	ck_assert_cog(cog_ctx_new(&ctx, NULL));
	ck_assert_cog(cog_sqlite_storage_open(&s, tmp_file("auth.db"), &o));
	ck_assert_cog(cog_ctx_set_storage(ctx, s));
	ck_assert_cog(cog_auth_configure(ctx, "{\"password\":{\"opslimit\":1,\"memlimit\":8192}}"));
	if (extra_config)
		ck_assert_cog(cog_auth_configure(ctx, extra_config));
	return ctx;
}

/* A fresh file with a signing key and acme/alice (analyst, PW). */
cog_ctx *setup(const char *extra_config)
{
	tmp_dir_make("auth-sessions-");
	cog_ctx *ctx = open_ctx(extra_config);
	ck_assert_cog(cog_auth_key_generate(ctx, "EdDSA", NULL, NULL));
	ck_assert_cog(cog_auth_register(ctx, "{\"tenant\":\"acme\",\"id\":\"alice\","
		"\"roles\":[\"analyst\"]}", PW));
	return ctx;
}

void teardown(cog_ctx *ctx) { cog_ctx_free(ctx); tmp_dir_remove(); }

bool short_access_ttl;

void parse_tokens(char *json, tokens *t)
{
	cJSON *j = cJSON_Parse(json);
	ck_assert_ptr_nonnull(j);
	const cJSON *a = cJSON_GetObjectItem(j, "access_token"), *s = cJSON_GetObjectItem(j,
		"session"), *r = cJSON_GetObjectItem(j, "refresh_token");
	ck_assert(cJSON_IsString(a) && cJSON_IsString(r) && cJSON_IsString(s));
	ck_assert_str_eq(cJSON_GetObjectItem(j, "token_type")->valuestring, "Bearer");
	/* the default access_ttl_s (900), or what the test configured */
	ck_assert(cJSON_GetObjectItem(j, "expires_in")->valuedouble > (short_access_ttl ? 0
		: 800));
	ck_assert(cJSON_GetObjectItem(j, "refresh_expires_in")->valuedouble > 1000000);
	snprintf(t->access, sizeof(t->access), "%s", a->valuestring);
	snprintf(t->refresh, sizeof(t->refresh), "%s", r->valuestring);
	snprintf(t->sid, sizeof(t->sid), "%s", s->valuestring);
	cJSON_Delete(j), cog_free(json);
}

void login(cog_ctx *ctx, const char *id, const char *pw, tokens *t)
{
	char *json = NULL;
	ck_assert_cog(cog_auth_login(ctx, "acme", id, pw, NULL, &json));
	parse_tokens(json, t);
}

int refresh(cog_ctx *ctx, const char *token, tokens *t)
{
	char *json = NULL;
	int rc = cog_auth_refresh(ctx, token, &json);
	return rc ? rc : (parse_tokens(json, t), 0);
}

