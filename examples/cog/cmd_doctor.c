/* cog doctor: what is compiled in, whether the configuration is valid,
 * whether the database opens, whether the tool sandbox is available and
 * which LLM the environment configures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#ifdef COG_HAVE_SQLITE
#include <cognition/sqlite.h>
#endif
#ifdef COG_HAVE_CURL
#include <cognition/curl.h>
#endif

typedef struct check {
	const char *name;
	enum { CHECK_OK, CHECK_WARN, CHECK_FAIL } status;
	char detail[1024];
} check;

#define MAX_CHECKS 8

static check *add(check *checks, int *n, const char *name)
{
	check *k = &checks[(*n)++];
	k->name = name;
	k->status = CHECK_OK;
	k->detail[0] = '\0';
	return k;
}

static void check_config(check *k)
{
	cog_ctx_options options = COG_CTX_OPTIONS_INIT;
	if (cog_ctx_options_from_env(&options) != 0) {
		k->status = CHECK_FAIL;
		snprintf(k->detail, sizeof(k->detail), "%s", cog_error_last());
		return;
	}
	cog_ctx *ctx = NULL;
	char *json = NULL;
	if (cog_ctx_new(&ctx, &options) != 0 || cog_ctx_describe(ctx, &json) != 0) {
		k->status = CHECK_FAIL;
		snprintf(k->detail, sizeof(k->detail), "%s", cog_error_last());
	} else {
		snprintf(k->detail, sizeof(k->detail), "%s", json);
	}
	cog_free(json);
	cog_ctx_free(ctx);
}

static void check_database(const cli *c, check *k)
{
#ifdef COG_HAVE_SQLITE
	struct stat st;
	if (stat(c->db_path, &st) != 0) {
		k->status = CHECK_WARN;
		snprintf(k->detail, sizeof(k->detail),
			"%s does not exist yet; it is created on first use", c->db_path);
		return;
	}
	cog_sqlite_options options = COG_SQLITE_OPTIONS_INIT;
	options.create = 0;
	options.read_only = 1; /* a check must not modify what it checks */
	cog_storage *storage = NULL;
	char *json = NULL;
	if (cog_sqlite_storage_open(&storage, c->db_path, &options) != 0 ||
	    cog_storage_describe(storage, &json) != 0) {
		k->status = CHECK_FAIL;
		snprintf(k->detail, sizeof(k->detail), "%s", cog_error_last());
	} else {
		snprintf(k->detail, sizeof(k->detail), "%s", json);
	}
	cog_free(json);
	cog_storage_free(storage);
#else
	k->status = CHECK_WARN;
	snprintf(k->detail, sizeof(k->detail),
		"libcognition-sqlite is not built: %s cannot be opened", c->db_path);
#endif
}

static void check_transport(check *k)
{
#ifdef COG_HAVE_CURL
	cog_transport *t = NULL;
	char *json = NULL;
	if (cog_curl_transport_new(&t, NULL) != 0 || cog_transport_describe(t, &json) != 0) {
		k->status = CHECK_FAIL;
		snprintf(k->detail, sizeof(k->detail), "%s", cog_error_last());
	} else {
		snprintf(k->detail, sizeof(k->detail), "%s", json);
	}
	cog_free(json);
	cog_transport_free(t);
#else
	k->status = CHECK_WARN;
	snprintf(k->detail, sizeof(k->detail),
		"libcognition-curl is not built: no HTTP transport (LLM providers need one)");
#endif
}

/* Whether tools can run programs isolated: a warning, not a failure, when
 * the kernel refuses namespaces (sandboxed tools then refuse to run). */
static void check_sandbox(check *k)
{
	char *json = NULL;
	if (cog_sandbox_probe(&json) != 0) {
		k->status = CHECK_FAIL;
		snprintf(k->detail, sizeof(k->detail), "%s", cog_error_last());
		return;
	}
	if (strstr(json, "\"namespaces\":false"))
		k->status = CHECK_WARN;
	snprintf(k->detail, sizeof(k->detail), "%s", json);
	cog_free(json);
}

/* The LLM that `cog chat` and `cog plan --llm` would use, as the provider
 * describes itself (never the key). Nothing is sent: doctor needs no
 * network. Not configured is fine (the templates plan without an LLM). */
static void check_llm(check *k)
{
	const char *url = getenv("COG_LLM_URL"), *provider = getenv("COG_LLM_PROVIDER");
	if ((!url || !*url) && (!provider || !*provider)) {
		snprintf(k->detail, sizeof(k->detail), "not configured (set COG_LLM_URL, "
			"COG_LLM_PROVIDER and COG_MODEL to use cog chat and cog plan --llm)");
		return;
	}
	cog_llm_provider_options po = COG_LLM_PROVIDER_OPTIONS_INIT;
	cog_ctx *ctx = NULL;
	cog_llm *llm = NULL;
	char *json = NULL;
	if (cog_llm_provider_options_from_env(&po) != 0 || cog_ctx_new(&ctx, NULL) != 0 ||
	    cog_llm_provider_new(&llm, ctx, &po) != 0 || cog_llm_describe(llm, &json) != 0) {
		k->status = CHECK_FAIL;
		snprintf(k->detail, sizeof(k->detail), "%s", cog_error_last());
	} else {
		snprintf(k->detail, sizeof(k->detail), "%s%s", json,
			po.model ? "" : " (no model: set COG_MODEL or pass --model)");
		if (!po.model)
			k->status = CHECK_WARN;
	}
	cog_free(json);
	cog_llm_free(llm);
	cog_ctx_free(ctx);
}

static const char *status_name(int status)
{
	return status == CHECK_OK ? "ok" : status == CHECK_WARN ? "warn" : "fail";
}

static void print_checks(const cli *c, const check *checks, int n, bool ok)
{
	unsigned int f = cog_features();
	if (!c->json) {
		printf("libcognition %s (features:%s%s%s)\n", cog_version(),
			f & COG_FEATURE_CURL ? " curl" : "", f & COG_FEATURE_SQLITE ? " sqlite" : "",
			f & COG_FEATURE_THREADS ? " threads" : "");
		for (int i = 0; i < n; i++)
			printf("[%-4s] %-10s %s\n", status_name(checks[i].status),
				checks[i].name, checks[i].detail);
		printf("%s\n", ok ? "all checks passed" : "some checks failed");
		return;
	}
	printf("{\"ok\":%s,\"version\":\"%s\",\"features\":{\"curl\":%s,\"sqlite\":%s},"
		"\"database\":", ok ? "true" : "false", cog_version(),
		f & COG_FEATURE_CURL ? "true" : "false", f & COG_FEATURE_SQLITE ? "true" : "false");
	cli_json_string(c->db_path);
	fputs(",\"checks\":[", stdout);
	for (int i = 0; i < n; i++) {
		printf("%s{\"name\":\"%s\",\"status\":\"%s\",\"detail\":", i ? "," : "",
			checks[i].name, status_name(checks[i].status));
		cli_json_string(checks[i].detail);
		putchar('}');
	}
	fputs("]}\n", stdout);
}

int cmd_doctor(cli *c, int argc, char **argv)
{
	if (argc > 0)
		return cli_fail(c, CLI_USAGE, "doctor takes no arguments (got '%s')", argv[0]);
	check checks[MAX_CHECKS];
	int n = 0;
	check_config(add(checks, &n, "config"));
	check_database(c, add(checks, &n, "database"));
	check_transport(add(checks, &n, "transport"));
	check_sandbox(add(checks, &n, "sandbox"));
	check_llm(add(checks, &n, "llm"));
	bool ok = true;
	for (int i = 0; i < n; i++)
		ok = ok && checks[i].status != CHECK_FAIL;
	print_checks(c, checks, n, ok);
	return ok ? CLI_OK : CLI_FAILED;
}
