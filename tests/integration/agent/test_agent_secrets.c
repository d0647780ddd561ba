/*
 * A known secret, the API key the LLM endpoint was configured with, appears
 * nowhere the library writes: not in a log line (the log hook at trace
 * level), an event, a span (the span hook), nor any byte of the SQLite file
 * and its WAL (the agent journal, memories and episodes, the audit log, the
 * LLM cache, approvals), while the server answers with it (the key the
 * client sent in its Authorization header comes back in an answer and in a
 * tool call's arguments) and a tool returns it.
 *
 * The key is 24 plain letters and digits, a shape none of the redaction
 * patterns knows: only its registration as a literal secret of the context
 * hides it. Real SQLite file, real libcurl, the scripted wire server.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cognition/curl.h>
#include <cognition/sqlite.h>

#include "agent_test.h"

#define SECRET "q7Zr2LmVx9TkPwB4nHc8Ys1D"

/* Shared with test_agent_secrets_replay.c (the key through a crash and
 * the journal's replay). */
void secrets_check_db(const char *db, const char *present);
void secrets_add_replay_tests(Suite *s);

/* ---- what the context gives out ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char *seen;            /* every log line, event and span, one a line */
static size_t seen_len;
static unsigned int log_lines, events;

static void keep(const char *text)
{
	pthread_mutex_lock(&mu);
	size_t n = strlen(text);
	char *grown = realloc(seen, seen_len + n + 2);
	ck_assert_ptr_nonnull(grown);
	seen = grown;
	memcpy(seen + seen_len, text, n);
	seen_len += n;
	seen[seen_len++] = '\n';
	seen[seen_len] = '\0';
	pthread_mutex_unlock(&mu);
}

static void on_log(int level, const char *line, void *ud)
{
	(void)level; (void)ud;
	__atomic_add_fetch(&log_lines, 1, __ATOMIC_RELAXED);
	keep(line);
}

static void on_event(const char *event, void *ud)
{
	__atomic_add_fetch(&events, 1, __ATOMIC_RELAXED);
	keep(event);
	at_on_event(event, ud);
}

/* The tool hands the secret back, as a leaky tool would. */
static int leaky_tool(const cog_tool_request *req, char **result, void *ud)
{
	(void)req; (void)ud;
	const char *text = "{\"config\":\"api_base=http://x token " SECRET "\",\"echo\":\""
		SECRET "\"}";
	*result = cog_malloc(strlen(text) + 1);
	strcpy(*result, text);
	return 0;
}

/* ---- the context ---- */

static cog_ctx *secret_ctx(const char *db)
{
	cog_ctx_options co = COG_CTX_OPTIONS_INIT;
	co.log_fn = on_log;
	co.log_level = COG_LOG_TRACE;
	co.event_fn = on_event;
	cog_ctx *ctx = NULL;
	ck_assert_cog(cog_ctx_new(&ctx, &co));
	cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
	cog_storage *st = NULL;
	ck_assert_cog(cog_sqlite_storage_open(&st, db, &so));
	ck_assert_cog(cog_ctx_set_storage(ctx, st));
	cog_transport *transport = NULL;
	ck_assert_cog(cog_curl_transport_new(&transport, NULL));
	ck_assert_cog(cog_ctx_set_transport(ctx, transport));

	char base[128];
	snprintf(base, sizeof(base), "%s/v1", ws_url(at_server));
	cog_llm_provider_options o = COG_LLM_PROVIDER_OPTIONS_INIT;
	o.provider = COG_LLM_OPENAI;
	o.base_url = base;
	o.api_key = SECRET;
	o.model = AT_MODEL;
	cog_llm *llm = NULL;
	ck_assert_cog(cog_llm_provider_new(&llm, ctx, &o));
	ck_assert_cog(cog_llm_add_endpoint(ctx, "main", llm, NULL));
	/* embeddings from an endpoint that refuses connections: memory uses its
	 * hashing embedder and the wire server's queue stays the agent's */
	o.base_url = "http://127.0.0.1:1/v1";
	o.api_key = "sk-none";
	llm = NULL;
	ck_assert_cog(cog_llm_provider_new(&llm, ctx, &o));
	ck_assert_cog(cog_llm_add_endpoint(ctx, "dead", llm, NULL));
	ck_assert_cog(cog_llm_configure(ctx, "{\"routes\":{"
		"\"executor\":{\"models\":[{\"endpoint\":\"main\",\"model\":\"" AT_MODEL "\"}]},"
		"\"embedder\":{\"models\":[{\"endpoint\":\"dead\"}]}},"
		"\"prices\":{\"" AT_MODEL "\":{\"input\":1,\"output\":2}},"
		"\"retry\":{\"max_attempts\":1}}"));
	return ctx;
}

/* The bytes of a file ("" when it does not exist), NUL-terminated. */
static char *slurp(const char *path, size_t *len)
{
	*len = 0;
	FILE *f = fopen(path, "rb");
	char *buf = malloc(1);
	ck_assert_ptr_nonnull(buf);
	if (f) {
		char chunk[65536];
		size_t n;
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
			buf = realloc(buf, *len + n + 1);
			ck_assert_ptr_nonnull(buf);
			memcpy(buf + *len, chunk, n);
			*len += n;
		}
		fclose(f);
	}
	buf[*len] = '\0';
	return buf;
}

static bool has_bytes(const char *hay, size_t len, const char *needle)
{
	return memmem(hay, len, needle, strlen(needle)) != NULL;
}

/* The database file and its WAL: the secret in neither, `present` in one
 * of them (so the check reads what was stored). */
void secrets_check_db(const char *db, const char *present)
{
	char wal[1024];
	snprintf(wal, sizeof(wal), "%s-wal", db);
	size_t n1, n2;
	char *a = slurp(db, &n1), *b = slurp(wal, &n2);
	ck_assert_uint_gt(n1 + n2, 0);
	const char *in_a = memmem(a, n1, SECRET, strlen(SECRET));
	const char *in_b = memmem(b, n2, SECRET, strlen(SECRET));
	ck_assert_msg(!in_a, "the secret is in %s: ...%.200s", db,
	              in_a ? (in_a - a > 150 ? in_a - 150 : a) : "");
	ck_assert_msg(!in_b, "the secret is in %s: ...%.200s", wal,
	              in_b ? (in_b - b > 150 ? in_b - 150 : b) : "");
	ck_assert_msg(has_bytes(a, n1, present) || has_bytes(b, n2, present),
	              "\"%s\" is not in the database: nothing was stored?", present);
	free(a);
	free(b);
}

static void setup(void)
{
	at_setup();
	seen = NULL;
	seen_len = 0;
	log_lines = events = 0;
}

static void teardown(void)
{
	free(seen);
	seen = NULL;
	at_teardown();
}

START_TEST(test_configured_key_appears_nowhere)
{
	const char *db = tmp_file("secrets.db");
	cog_ctx *ctx = secret_ctx(db);
	at_spans_start(ctx);
	at_define_tool(ctx, "lookup_config", NULL, COG_TOOL_IDEMPOTENT, leaky_tool, NULL);
	at_define_agent(ctx, "{\"name\":\"ops\",\"tools\":[\"lookup_config\"],"
		"\"temperature\":0}");
	/* the server reflects the key it was sent: in a tool call, then in the
	 * final answer */
	at_push_tool("lookup_config", "{\"key\":\"" SECRET "\",\"note\":\"use " SECRET "\"}",
	             40, 6);
	at_push_text("All set. The key you use is " SECRET " (Authorization: Bearer "
	             SECRET ").", 60, 12);

	/* the host also keeps a note with the key in memory */
	cog_memory *mem = NULL;
	ck_assert_cog(cog_memory_open(&mem, ctx, "acme/ops"));
	ck_assert_cog(cog_memory_put(mem, "The production key is " SECRET ", rotate monthly.",
	                             NULL, NULL));
	cog_memory_free(mem);

	cog_agent *a = at_spawn(ctx, "ops");
	cog_agent_run_options ro = COG_AGENT_RUN_OPTIONS_INIT;
	ro.memory_namespace = "acme/ops";
	ro.run_key = "deploy/check";       /* journaled */
	cJSON *res = NULL;
	ck_assert_cog(at_run(a, "{\"prompt\":\"Check the configuration of the deploy\"}",
	                     &ro, &res));
	ck_assert_int_eq((int)at_num(res, "tool_calls"), 1);
	cJSON_Delete(res);
	cog_agent_free(a);

	/* what the server got and gave: the key itself, reflected */
	ck_assert_uint_eq(at_requests(), 2);
	char *auth = ws_request_header(at_server, 0, "Authorization");
	ck_assert_ptr_nonnull(auth);
	ck_assert_str_eq(auth, "Bearer " SECRET);
	free(auth);

	/* a failing call whose error message would quote the header */
	ck_assert_cog(cog_ctx_log(ctx, COG_LOG_ERROR, "upstream said: invalid key " SECRET,
	                          "{\"detail\":\"key " SECRET "\"}"));
	/* and one cut inside the key, as messages are cut to a size */
	char cut[64];
	snprintf(cut, sizeof(cut), "upstream said: bad key %.14s", SECRET);
	ck_assert_cog(cog_ctx_log(ctx, COG_LOG_ERROR, cut, NULL));

	/* the log, events and spans: the secret in none, and they were there */
	ck_assert_uint_gt(log_lines, 0);
	ck_assert_uint_gt(events, 2);
	ck_assert_uint_gt(at_spans_count("tool"), 0);
	for (unsigned int i = 0; i < at_spans_count("agent.turn"); i++) {
		cJSON *s = at_span("agent.turn", i);
		char *t = cJSON_PrintUnformatted(s);
		keep(t);
		free(t);
		cJSON_Delete(s);
	}
	for (unsigned int i = 0; i < at_spans_count("tool"); i++) {
		cJSON *s = at_span("tool", i);
		char *t = cJSON_PrintUnformatted(s);
		keep(t);
		free(t);
		cJSON_Delete(s);
	}
	for (unsigned int i = 0; i < at_spans_count("llm"); i++) {
		cJSON *s = at_span("llm", i);
		char *t = cJSON_PrintUnformatted(s);
		keep(t);
		free(t);
		cJSON_Delete(s);
	}
	ck_assert_ptr_nonnull(seen);
	const char *leak = strstr(seen, SECRET);
	size_t at = leak ? (size_t)(leak - seen) : 0;
	ck_assert_msg(leak == NULL, "the secret was given out: ...%.400s",
	              seen + (at > 300 ? at - 300 : 0));
	at_assert_has(seen, "invalid key ****", true);
	at_assert_has(seen, "bad key ****", true);
	char start[16];
	snprintf(start, sizeof(start), "%.12s", SECRET);
	at_assert_has(seen, start, false);

	/* memory through the API: the note and the episode, masked */
	ck_assert_cog(cog_memory_open(&mem, ctx, "acme/ops"));
	char *found = NULL;
	ck_assert_cog(cog_memory_search(mem, "{\"text\":\"production key rotate\",\"k\":8}",
	                                &found));
	at_assert_has(found, "rotate monthly", true);
	at_assert_has(found, SECRET, false);
	cog_free(found);
	cog_memory_free(mem);

	/* the audit log through the API */
	char *audit = NULL;
	ck_assert_cog(cog_audit_read(ctx, 1, 0, &audit));
	at_assert_has(audit, "lookup_config", true);
	at_assert_has(audit, SECRET, false);
	cog_free(audit);

	/* every byte of the database, while open (the WAL) and after */
	secrets_check_db(db, "The key you use is ****");
	cog_ctx_free(ctx);
	secrets_check_db(db, "rotate monthly");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("agent-secrets");
	TCase *tc = tcase_create("secrets");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_configured_key_appears_nowhere);
	suite_add_tcase(s, tc);
	secrets_add_replay_tests(s);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
