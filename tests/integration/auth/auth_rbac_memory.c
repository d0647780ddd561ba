/*
 * auth-rbac: memory handles opened with a principal, checked per namespace
 * (globs '*' within a segment, '**' across; a purge, which reaches every
 * namespace, takes an admin role); bad inputs give clear errors; denied
 * calls are audited.
 */
#include "auth_rbac_test.h"


/* ---- memory ---- */

static cog_memory *open_as(cog_ctx *ctx, const char *ns, const char *principal)
{
	cog_memory_options mo = COG_MEMORY_OPTIONS_INIT;
	mo.principal = principal;
	mo.embedder = "hashing";
	cog_memory *m = NULL;
	ck_assert_cog(cog_memory_open_with(&m, ctx, ns, &mo));
	return m;
}

static int put(cog_memory *m, const char *text)
{
	return cog_memory_put(m, text, NULL, NULL);
}

static int search(cog_memory *m, bool inherit)
{
	char *json = NULL;
	int rc = cog_memory_search(m, inherit ? "{\"text\":\"invoice\",\"inherit\":true}" :
		"{\"text\":\"invoice\"}", &json);
	cog_free(json);
	return rc;
}

START_TEST(memory_by_namespace_globs)
{
	cog_ctx *ctx = ctx_open();
	ck_assert_cog(cog_auth_role_set(ctx, "reader", "{\"memory\":{\"read\":[\"acme/*\"]}}"));
	ck_assert_cog(cog_auth_role_set(ctx, "deep", "{\"memory\":{\"read\":[\"acme/**\"],"
		"\"write\":[\"acme/alice/**\"]}}"));
	ck_assert_cog(cog_auth_role_set(ctx, "root", "{\"admin\":true}"));
	const char *reader = "{\"tenant\":\"acme\",\"id\":\"r\",\"roles\":[\"reader\"]}";
	const char *deep = "{\"tenant\":\"acme\",\"id\":\"d\",\"roles\":[\"deep\"]}";
	const char *root = "{\"tenant\":\"acme\",\"id\":\"x\",\"roles\":[\"root\"]}";

	/* The host fills the namespaces. */
	static const char *const spaces[] = { "acme", "acme/alice", "acme/alice/helper",
		"acme/bob", "beta/alice" };
	for (size_t i = 0; i < sizeof(spaces) / sizeof(spaces[0]); i++) {
		cog_memory *h = open_as(ctx, spaces[i], NULL);
		ck_assert_cog(put(h, "invoice for the customer"));
		cog_memory_free(h);
	}

	/* '*' stays within a segment. */
	cog_memory *m = open_as(ctx, "acme/alice", reader);
	ck_assert_cog(search(m, false));
	ck_assert_fails(put(m, "another invoice"), COG_EDENIED,
		"cog_memory_put: principal 'acme/r' (roles: reader) may not write memory "
		"namespace 'acme/alice'");
	ck_assert_fails(search(m, true), COG_EDENIED, "namespace 'acme'"); /* inherit */
	char *json = NULL;
	ck_assert_cog(cog_memory_stats(m, &json));
	cog_free(json);
	ck_assert_fails(cog_memory_record_episode(m, "{\"kind\":\"task\"}", NULL),
		COG_EDENIED, "write");
	ck_assert_fails(cog_memory_forget_where(m, "{\"all\":true}", NULL), COG_EDENIED,
		"write");
	ck_assert_fails(cog_memory_forget(m, 1), COG_EDENIED, "write");
	ck_assert_fails(cog_memory_put_json(m, "{\"text\":\"invoice\"}", NULL), COG_EDENIED,
		"write");
	ck_assert_fails(cog_memory_purge(m, NULL), COG_EDENIED, "administer");
	cog_memory_free(m);
	/* Writing one namespace is not enough to purge them all: admin is. */
	m = open_as(ctx, "acme/alice/x", deep);
	ck_assert_cog(put(m, "invoice kept"));
	ck_assert_fails(cog_memory_purge(m, NULL), COG_EDENIED, "may not administer");
	cog_memory_free(m);
	m = open_as(ctx, "acme/alice/x", root);
	size_t purged = 99;
	ck_assert_cog(cog_memory_purge(m, &purged));
	ck_assert_uint_eq(purged, 0);
	cog_memory_free(m);
	m = open_as(ctx, "acme/alice/helper", reader);
	ck_assert_fails(search(m, false), COG_EDENIED, "acme/alice/helper");
	ck_assert_fails(cog_memory_get(m, 1, &json), COG_EDENIED, "read");
	ck_assert_fails(cog_memory_stats(m, &json), COG_EDENIED, "read");
	ck_assert_fails(cog_memory_context(m, "{\"budget_tokens\":500,\"task\":\"invoice\"}",
		&json), COG_EDENIED, "read");
	cog_memory_free(m);

	/* '**' spans segments; a trailing one needs at least one segment. */
	m = open_as(ctx, "acme/alice/helper", deep);
	ck_assert_cog(search(m, false));
	ck_assert_fails(search(m, true), COG_EDENIED, "namespace 'acme'");
	ck_assert_cog(put(m, "a new invoice"));
	ck_assert_cog(cog_memory_context(m, "{\"budget_tokens\":500,\"task\":\"invoice\"}",
		&json));
	cog_free(json);
	cog_memory_free(m);
	m = open_as(ctx, "acme/alice", deep);
	ck_assert_cog(search(m, false));
	ck_assert_fails(put(m, "an invoice"), COG_EDENIED, "acme/alice");
	cog_memory_free(m);
	m = open_as(ctx, "acme", deep);
	ck_assert_fails(search(m, false), COG_EDENIED, "namespace 'acme'");
	cog_memory_free(m);
	m = open_as(ctx, "beta/alice", deep);
	ck_assert_fails(search(m, false), COG_EDENIED, "beta/alice");
	cog_memory_free(m);
	m = open_as(ctx, "beta/alice", root);
	ck_assert_cog(search(m, true));
	ck_assert_cog(put(m, "admin invoice"));
	ck_assert_cog(cog_memory_forget_where(m, "{\"all\":true}", NULL));
	cog_memory_free(m);

	ck_assert_cog(cog_auth_check(ctx, deep, COG_AUTH_MEMORY_READ, "acme/a/b/c"));
	ck_assert_fails(cog_auth_check(ctx, deep, COG_AUTH_MEMORY_WRITE, "acme/bob"),
		COG_EDENIED, "may not write memory namespace 'acme/bob'");
	ck_assert_cog(cog_auth_check(ctx, reader, COG_AUTH_MEMORY_READ, "acme/bob"));
	ck_assert_fails(cog_auth_check(ctx, reader, COG_AUTH_MEMORY_READ, "acme"),
		COG_EDENIED, "read");

	/* A registered principal's handle follows its record. */
	ck_assert_cog(cog_auth_register(ctx, "{\"tenant\":\"acme\",\"id\":\"d\","
		"\"roles\":[\"deep\"]}", NULL));
	m = open_as(ctx, "acme/alice/helper", deep);
	ck_assert_cog(put(m, "invoice two"));
	ck_assert_cog(cog_auth_principal_update(ctx, "acme", "d", "{\"disabled\":true}"));
	ck_assert_fails(put(m, "invoice three"), COG_EDENIED, "disabled");
	ck_assert_fails(search(m, false), COG_EDENIED, "disabled");
	cog_memory_free(m);
	cog_ctx_free(ctx);
}


/* ---- bad inputs ---- */

START_TEST(bad_inputs)
{
	cog_ctx *ctx = ctx_open();
	ck_assert_fails(cog_auth_role_set(ctx, "r", "{\"tool\":[\"x\"]}"), COG_EINVAL,
		"unknown member \"tool\"");
	ck_assert_fails(cog_auth_role_set(ctx, "r", "{\"memory\":{\"delete\":[\"x\"]}}"),
		COG_EINVAL, "unknown member \"delete\" in \"memory\"");
	ck_assert_fails(cog_auth_role_set(ctx, "r", "{\"admin\":1}"), COG_EINVAL, "admin");
	ck_assert_fails(cog_auth_role_set(ctx, "r", "{\"tools\":\"sql_*\"}"), COG_EINVAL,
		"\"tools\" must be an array");
	ck_assert_fails(cog_auth_role_set(ctx, "r", "{\"tools\":[\"sql/x\"]}"), COG_EINVAL,
		"\"tools\"[0]");
	ck_assert_fails(cog_auth_role_set(ctx, "r", "{\"memory\":{\"read\":[\"a//b\"]}}"),
		COG_EINVAL, "\"memory\".\"read\"[0]");
	ck_assert_fails(cog_auth_role_set(ctx, "r", "{\"memory\":{\"write\":[\"a/x**\"]}}"),
		COG_EINVAL, "\"memory\".\"write\"[0]");
	ck_assert_fails(cog_auth_role_set(ctx, "r", "{\"tools\":[\"sql\\u0000_x\"]}"),
		COG_EINVAL, "\\u0000");
	ck_assert_fails(cog_auth_role_set(ctx, "r", "[]"), COG_EINVAL, "JSON object");
	ck_assert_fails(cog_auth_role_set(ctx, "r", "{"), COG_EINVAL, "cog_auth_role_set");
	ck_assert_fails(cog_auth_role_set(ctx, "", "{}"), COG_EINVAL, "role name");
	ck_assert_fails(cog_auth_role_set(ctx, "a b", "{}"), COG_EINVAL, "role name");
	ck_assert_fails(cog_auth_role_set(ctx, "x/y", "{}"), COG_EINVAL, "role name");
	char long_name[80];
	memset(long_name, 'a', 65);
	long_name[65] = '\0';
	ck_assert_fails(cog_auth_role_set(ctx, long_name, "{}"), COG_EINVAL, "1..64");
	char *json = NULL;
	ck_assert_cog(cog_auth_role_list(ctx, &json));
	ck_assert_str_eq(json, "{}"); /* nothing was stored */
	cog_free(json);

	ck_assert_fails(cog_auth_register(ctx, "{\"id\":\"a\",\"roles\":[\"admin\\u0000x\"]}",
		NULL), COG_EINVAL, "\\u0000");
	ck_assert_fails(cog_auth_register(ctx, "{\"id\":\"a\",\"roles\":[\"a b\"]}", NULL),
		COG_EINVAL, "\"roles\"[0]");
	ck_assert_fails(cog_auth_register(ctx, "{\"id\":\"a\",\"roles\":[\"x\",\"x\"]}", NULL),
		COG_EINVAL, "twice");
	ck_assert_fails(cog_auth_register(ctx, "{\"id\":\"a\",\"hash\":\"$argon2id$\"}", NULL),
		COG_EINVAL, "unknown member \"hash\"");
	ck_assert_fails(cog_auth_register(ctx, "{\"id\":\"a/b\"}", NULL), COG_EINVAL, "id");
	ck_assert_fails(cog_auth_register(ctx, "{\"tenant\":\"\",\"id\":\"a\"}", NULL),
		COG_EINVAL, "tenant");
	ck_assert_fails(cog_auth_register(ctx, "{\"tenant\":\"t\"}", NULL), COG_EINVAL, "id");
	ck_assert_fails(cog_auth_register(ctx, "{\"id\":\"a\",\"disabled\":\"no\"}", NULL),
		COG_EINVAL, "disabled");
	ck_assert_cog(cog_auth_principal_list(ctx, NULL, &json));
	ck_assert_str_eq(json, "[]");
	cog_free(json);

	ck_assert_cog(cog_auth_register(ctx, "{\"id\":\"a\"}", NULL));
	ck_assert_fails(cog_auth_principal_update(ctx, "default", "a", "{\"hash\":\"x\"}"),
		COG_EINVAL, "unknown member \"hash\"");
	ck_assert_fails(cog_auth_principal_update(ctx, "default", "a", "{\"id\":\"b\"}"),
		COG_EINVAL, "unknown member \"id\"");
	ck_assert_fails(cog_auth_principal_update(ctx, "default", "a",
		"{\"roles\":[\"root\\u0000\"]}"), COG_EINVAL, "\\u0000");
	ck_assert_fails(cog_auth_principal_update(ctx, "default", "zed", "{}"), COG_ENOTFOUND,
		"default/zed");
	ck_assert_fails(cog_auth_principal_get(ctx, "default", "a b", &json), COG_EINVAL, "id");

	ck_assert_fails(cog_auth_check(ctx, "{\"id\":\"a\"}", 99, "x"), COG_EINVAL, "action");
	ck_assert_fails(cog_auth_check(ctx, "{\"id\":\"a\"}", COG_AUTH_TOOL_CALL, NULL),
		COG_EINVAL, "resource");
	ck_assert_fails(cog_auth_check(ctx, "[1]", COG_AUTH_TOOL_CALL, "x"), COG_EDENIED,
		"not a valid principal");
	ck_assert_fails(cog_auth_check(ctx, "{\"roles\":[]}", COG_AUTH_TOOL_CALL, "x"),
		COG_EDENIED, "\"id\"");
	ck_assert_cog(cog_auth_role_set(ctx, "root", "{\"admin\":true}"));
	/* "root\u0000x" must not read as "root". */
	ck_assert_fails(cog_auth_check(ctx, "{\"id\":\"u\",\"roles\":[\"root\\u0000x\"]}",
		COG_AUTH_ADMIN, NULL), COG_EDENIED, "\\u0000");
	ck_assert_fails(cog_auth_check(ctx, "{\"id\":\"u\",\"roles\":[\"no such\"]}",
		COG_AUTH_ADMIN, NULL), COG_EDENIED, "\"roles\"[0]");
	define_tools(ctx);
	ck_assert_fails(call_as(ctx, "{\"id\":\"u\",\"roles\":[\"root\\u0000x\"]}", "fs_read"),
		COG_EDENIED, "principal");
	ck_assert_fails(call_as(ctx, "not json", "fs_read"), COG_EDENIED, "principal");

	cog_memory_options mo = COG_MEMORY_OPTIONS_INIT;
	mo.principal = "[\"root\"]";
	cog_memory *m = NULL;
	ck_assert_fails(cog_memory_open_with(&m, ctx, "acme", &mo), COG_EINVAL, "principal");
	mo.principal = "{\"id\":\"u\",\"roles\":[\"root\\u0000x\"]}";
	ck_assert_fails(cog_memory_open_with(&m, ctx, "acme", &mo), COG_EINVAL, "\\u0000");
	ck_assert_ptr_null(m);
	cog_ctx_free(ctx);
}


/* ---- audit ---- */

START_TEST(denied_calls_audited)
{
	cog_ctx *ctx = ctx_open();
	define_tools(ctx);
	ck_assert_cog(cog_auth_role_set(ctx, "analyst", "{\"tools\":[\"sql_read\"]}"));
	ck_assert_cog(cog_auth_register(ctx, "{\"tenant\":\"acme\",\"id\":\"alice\","
		"\"roles\":[\"analyst\"]}", NULL));
	ck_assert_cog(call_as(ctx, ALICE, "sql_read"));
	ck_assert_fails(call_as(ctx, ALICE, "sql_write"), COG_EDENIED, "sql_write");
	ck_assert_cog(cog_auth_principal_update(ctx, "acme", "alice", "{\"disabled\":true}"));
	ck_assert_fails(call_as(ctx, ALICE, "sql_read"), COG_EDENIED, "disabled");

	char *json = NULL;
	ck_assert_cog(cog_audit_read(ctx, 1, 0, &json));
	cJSON *log = cJSON_Parse(json);
	cog_free(json);
	ck_assert_int_eq(cJSON_GetArraySize(log), 3);
	static const char *const outcome[] = { "ok", "denied", "denied" };
	static const char *const detail[] = { NULL,
		"principal 'acme/alice' (roles: analyst) may not call tool 'sql_write'",
		"principal 'acme/alice' is disabled" };
	for (int i = 0; i < 3; i++) {
		cJSON *e = cJSON_GetArrayItem(log, i);
		ck_assert_str_eq(cJSON_GetObjectItem(e, "outcome")->valuestring, outcome[i]);
		ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "principal"), "id")
			->valuestring, "alice");
		cJSON *d = cJSON_GetObjectItem(e, "detail");
		if (detail[i])
			ck_assert_msg(cJSON_IsString(d) && strstr(d->valuestring, detail[i]),
				"entry %d detail: %s", i, cJSON_IsString(d) ? d->valuestring : "null");
	}
	cJSON_Delete(log);
	ck_assert_cog(cog_audit_verify(ctx, NULL));
	cog_ctx_free(ctx);
}

void rbac_add_memory_tests(TCase *tc)
{
	tcase_add_test(tc, memory_by_namespace_globs);
	tcase_add_test(tc, bad_inputs);
	tcase_add_test(tc, denied_calls_audited);
}
