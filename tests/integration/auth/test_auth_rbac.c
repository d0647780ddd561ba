/*
 * Principals and roles end to end through the public API on a real SQLite
 * file: roles and principals persist across contexts; tool calls are
 * allowed or denied by auth roles, cog_tool_grant() grants and admin; a
 * registered principal's stored roles and disabled flag count, and every
 * change (roles, role removed or changed, disabled) takes effect at the
 * next call, also when a second context on the same file makes it; memory
 * handles opened with a principal are checked per namespace (globs '*'
 * within a segment, '**' across); bad inputs give clear errors; denied
 * calls are audited; principal changes racing on one file from two
 * connections never lose one another (auth_rbac_race.c).
 */
#include "auth_rbac_test.h"

/* ---- persistence ---- */

START_TEST(roles_and_principals_persist)
{
	cog_ctx *ctx = ctx_open();
	ck_assert_cog(cog_auth_role_set(ctx, "analyst", "{\"tools\":[\"sql_*\"],"
		"\"memory\":{\"read\":[\"acme/**\"]}}"));
	ck_assert_cog(cog_auth_role_set(ctx, "root", "{\"admin\":true}"));
	ck_assert_cog(cog_auth_register(ctx, "{\"tenant\":\"acme\",\"id\":\"alice\","
		"\"roles\":[\"analyst\"],\"profile\":{\"name\":\"Alice\"}}", NULL));
	ck_assert_cog(cog_auth_register(ctx, "{\"id\":\"bob\"}", NULL));
	ck_assert_fails(cog_auth_register(ctx, "{\"tenant\":\"acme\",\"id\":\"alice\"}", NULL),
		COG_EEXISTS, "acme/alice");
	cog_ctx_free(ctx);

	ctx = ctx_open();
	char *json = NULL;
	ck_assert_cog(cog_auth_role_get(ctx, "analyst", &json));
	ck_assert_str_eq(json, "{\"tools\":[\"sql_*\"],\"memory\":{\"read\":[\"acme/**\"],"
		"\"write\":[]},\"admin\":false}");
	cog_free(json);
	ck_assert_cog(cog_auth_role_list(ctx, &json));
	cJSON *all = cJSON_Parse(json);
	cog_free(json);
	ck_assert_int_eq(cJSON_GetArraySize(all), 2);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(all, "root"), "admin")));
	cJSON_Delete(all);

	ck_assert_cog(cog_auth_principal_get(ctx, "acme", "alice", &json));
	cJSON *p = cJSON_Parse(json);
	cog_free(json);
	ck_assert_str_eq(cJSON_GetObjectItem(p, "tenant")->valuestring, "acme");
	ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "roles"), 0)->valuestring,
		"analyst");
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(p, "disabled")));
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "profile"), "name")
		->valuestring, "Alice");
	ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(p, "created")));
	ck_assert_ptr_null(cJSON_GetObjectItem(p, "hash"));
	cJSON_Delete(p);

	/* Without a tenant: "default". */
	ck_assert_cog(cog_auth_principal_get(ctx, "default", "bob", &json));
	cog_free(json);
	ck_assert_cog(cog_auth_principal_list(ctx, "acme", &json));
	cJSON *list = cJSON_Parse(json);
	cog_free(json);
	ck_assert_int_eq(cJSON_GetArraySize(list), 1);
	cJSON_Delete(list);
	ck_assert_cog(cog_auth_principal_list(ctx, NULL, &json));
	list = cJSON_Parse(json);
	cog_free(json);
	ck_assert_int_eq(cJSON_GetArraySize(list), 2);
	cJSON_Delete(list);

	ck_assert_cog(cog_auth_role_remove(ctx, "root"));
	ck_assert_fails(cog_auth_role_get(ctx, "root", &json), COG_ENOTFOUND, "root");
	ck_assert_fails(cog_auth_role_remove(ctx, "root"), COG_ENOTFOUND, "root");
	ck_assert_cog(cog_auth_principal_remove(ctx, "default", "bob"));
	ck_assert_fails(cog_auth_principal_get(ctx, "default", "bob", &json), COG_ENOTFOUND,
		"default/bob");
	ck_assert_fails(cog_auth_principal_remove(ctx, "default", "bob"), COG_ENOTFOUND, "bob");
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(password_kept_hashed)
{
	cog_ctx *ctx = ctx_open();
	ck_assert_fails(cog_auth_register(ctx, "{\"tenant\":\"acme\",\"id\":\"carol\"}",
		"short"), COG_EINVAL, "shorter than 8");
	ck_assert_cog(cog_auth_register(ctx, "{\"tenant\":\"acme\",\"id\":\"carol\"}",
		"correct horse"));
	char *json = NULL;
	ck_assert_cog(cog_auth_principal_get(ctx, "acme", "carol", &json));
	ck_assert_ptr_null(strstr(json, "argon2id"));
	ck_assert_ptr_null(strstr(json, "hash"));
	cog_free(json);
	ck_assert_cog(cog_auth_principal_list(ctx, NULL, &json));
	ck_assert_ptr_null(strstr(json, "argon2id"));
	cog_free(json);
	ck_assert_cog(cog_auth_set_password(ctx, "acme", "carol", "battery staple"));
	ck_assert_fails(cog_auth_set_password(ctx, "acme", "nobody", "battery staple"),
		COG_ENOTFOUND, "acme/nobody");
	ck_assert_fails(cog_auth_set_password(ctx, "acme", "carol", "x"), COG_EINVAL,
		"shorter");
	cog_ctx_free(ctx);
}
END_TEST

/* ---- tool calls ---- */

START_TEST(tool_calls_by_roles)
{
	cog_ctx *ctx = ctx_open();
	define_tools(ctx);
	ck_assert_cog(cog_auth_role_set(ctx, "analyst", "{\"tools\":[\"sql_r?ad\",\"fs_*\"]}"));
	ck_assert_cog(cog_auth_role_set(ctx, "root", "{\"admin\":true}"));
	ck_assert_cog(cog_tool_grant(ctx, "ops", "deploy_*"));
	const char *analyst = "{\"tenant\":\"acme\",\"id\":\"ann\",\"roles\":[\"analyst\"]}";
	const char *ops = "{\"tenant\":\"acme\",\"id\":\"otto\",\"roles\":[\"ops\"]}";
	const char *both = "{\"id\":\"bo\",\"roles\":[\"ops\",\"analyst\"]}";
	const char *nobody = "{\"tenant\":\"acme\",\"id\":\"nils\",\"roles\":[]}";

	ck_assert_cog(call_as(ctx, analyst, "sql_read"));
	ck_assert_cog(call_as(ctx, analyst, "fs_read"));
	ck_assert_fails(call_as(ctx, analyst, "sql_write"), COG_EDENIED,
		"principal 'acme/ann' (roles: analyst) may not call tool 'sql_write'");
	ck_assert_fails(call_as(ctx, analyst, "deploy_app"), COG_EDENIED, "deploy_app");
	ck_assert_cog(call_as(ctx, ops, "deploy_app"));   /* cog_tool_grant */
	ck_assert_fails(call_as(ctx, ops, "sql_read"), COG_EDENIED, "roles: ops");
	ck_assert_cog(call_as(ctx, both, "deploy_app"));
	ck_assert_cog(call_as(ctx, both, "sql_read"));
	ck_assert_fails(call_as(ctx, nobody, "fs_read"), COG_EDENIED, "roles: none");
	for (size_t i = 0; i < 4; i++) {
		static const char *const t[] = { "sql_read", "sql_write", "deploy_app", "fs_read" };
		ck_assert_cog(call_as(ctx, "{\"id\":\"r\",\"roles\":[\"root\"]}", t[i]));
		ck_assert_cog(call_as(ctx, NULL, t[i])); /* the host */
	}
	/* The agent's allow-list still applies, also to admins. */
	cog_tool_call_options o = COG_TOOL_CALL_OPTIONS_INIT;
	o.principal = "{\"id\":\"r\",\"roles\":[\"root\"]}";
	o.allowed_tools = "[\"fs_*\"]";
	o.agent = "helper";
	char *result = NULL;
	ck_assert_fails(cog_tool_call(ctx, "sql_read", "{}", &o, &result), COG_EDENIED,
		"allow-list");
	cog_free(result);

	ck_assert_cog(cog_auth_check(ctx, analyst, COG_AUTH_TOOL_CALL, "sql_read"));
	ck_assert_fails(cog_auth_check(ctx, analyst, COG_AUTH_ADMIN, NULL), COG_EDENIED,
		"may not administer");
	ck_assert_cog(cog_auth_check(ctx, "{\"id\":\"r\",\"roles\":[\"root\"]}",
		COG_AUTH_ADMIN, NULL));
	ck_assert_cog(cog_auth_check(ctx, NULL, COG_AUTH_ADMIN, NULL));
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(registered_principal_changes_take_effect)
{
	cog_ctx *ctx = ctx_open();
	define_tools(ctx);
	ck_assert_cog(cog_auth_role_set(ctx, "analyst", "{\"tools\":[\"sql_read\"]}"));
	ck_assert_cog(cog_auth_role_set(ctx, "root", "{\"admin\":true}"));
	ck_assert_cog(cog_auth_register(ctx, "{\"tenant\":\"acme\",\"id\":\"alice\","
		"\"roles\":[\"viewer\"]}", NULL));
	/* Registered: the stored roles count, not those the JSON claims. */
	ck_assert_fails(call_as(ctx, ALICE, "sql_read"), COG_EDENIED, "roles: viewer");
	ck_assert_cog(cog_auth_principal_update(ctx, "acme", "alice",
		"{\"roles\":[\"analyst\"]}"));
	ck_assert_cog(call_as(ctx, ALICE, "sql_read"));
	ck_assert_fails(call_as(ctx, ALICE, "sql_write"), COG_EDENIED, "sql_write");

	/* Disabled: denied at once, whatever the roles. */
	ck_assert_cog(cog_auth_principal_update(ctx, "acme", "alice", "{\"disabled\":true}"));
	ck_assert_fails(call_as(ctx, ALICE, "sql_read"), COG_EDENIED, "disabled");
	ck_assert_fails(cog_auth_check(ctx, ALICE, COG_AUTH_TOOL_CALL, "sql_read"),
		COG_EDENIED, "disabled");
	ck_assert_cog(cog_auth_principal_update(ctx, "acme", "alice", "{\"disabled\":false}"));
	ck_assert_cog(call_as(ctx, ALICE, "sql_read"));

	/* The role changed, then removed: the next call sees it. */
	ck_assert_cog(cog_auth_role_set(ctx, "analyst", "{\"tools\":[\"sql_write\"]}"));
	ck_assert_fails(call_as(ctx, ALICE, "sql_read"), COG_EDENIED, "sql_read");
	ck_assert_cog(call_as(ctx, ALICE, "sql_write"));
	ck_assert_cog(cog_auth_role_remove(ctx, "analyst"));
	ck_assert_fails(call_as(ctx, ALICE, "sql_write"), COG_EDENIED, "roles: analyst");

	/* Removed principal: taken as the host describes it again. */
	ck_assert_cog(cog_auth_principal_remove(ctx, "acme", "alice"));
	ck_assert_cog(call_as(ctx, ALICE, "sql_write"));
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(second_context_changes_are_seen)
{
	cog_ctx *a = ctx_open();
	cog_ctx *b = ctx_open();
	define_tools(a);
	ck_assert_cog(cog_auth_role_set(a, "analyst", "{\"tools\":[\"sql_*\"],"
		"\"memory\":{\"read\":[\"acme/alice\"]}}"));
	ck_assert_cog(cog_auth_register(a, "{\"tenant\":\"acme\",\"id\":\"alice\","
		"\"roles\":[\"analyst\"]}", NULL));
	ck_assert_cog(call_as(a, ALICE, "sql_read"));
	cog_memory_options mo = COG_MEMORY_OPTIONS_INIT;
	mo.principal = ALICE;
	cog_memory *mem = NULL;
	ck_assert_cog(cog_memory_open_with(&mem, a, "acme/alice", &mo));
	char *json = NULL;
	ck_assert_cog(cog_memory_stats(mem, &json));
	cog_free(json);

	/* b, another context on the file, narrows the role... */
	ck_assert_cog(cog_auth_role_set(b, "analyst", "{\"tools\":[\"fs_*\"]}"));
	ck_assert_fails(call_as(a, ALICE, "sql_read"), COG_EDENIED, "sql_read");
	ck_assert_fails(cog_memory_stats(mem, &json), COG_EDENIED,
		"may not read memory namespace 'acme/alice'");
	ck_assert_cog(call_as(a, ALICE, "fs_read"));
	/* ... disables alice ... */
	ck_assert_cog(cog_auth_principal_update(b, "acme", "alice", "{\"disabled\":true}"));
	ck_assert_fails(call_as(a, ALICE, "fs_read"), COG_EDENIED, "disabled");
	/* ... and gives her back a wider role. */
	ck_assert_cog(cog_auth_role_set(b, "wide", "{\"tools\":[\"*\"],"
		"\"memory\":{\"read\":[\"**\"]}}"));
	ck_assert_cog(cog_auth_principal_update(b, "acme", "alice",
		"{\"disabled\":false,\"roles\":[\"wide\"]}"));
	ck_assert_cog(call_as(a, ALICE, "deploy_app"));
	ck_assert_cog(cog_memory_stats(mem, &json));
	cog_free(json);
	cog_memory_free(mem);
	cog_ctx_free(b);
	cog_ctx_free(a);
}

int main(void)
{
	Suite *s = suite_create("auth-rbac");
	TCase *tc = tcase_create("rbac");
	tcase_add_checked_fixture(tc, rbac_setup, rbac_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, roles_and_principals_persist);
	tcase_add_test(tc, password_kept_hashed);
	tcase_add_test(tc, tool_calls_by_roles);
	tcase_add_test(tc, registered_principal_changes_take_effect);
	tcase_add_test(tc, second_context_changes_are_seen);
	rbac_add_memory_tests(tc);
	rbac_add_race_tests(tc);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
