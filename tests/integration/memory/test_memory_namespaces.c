/*
 * Namespace isolation of cog_memory_search, over a real SQLite file and the
 * in-memory store: 1,000 namespaces of every shape (tenant, principal,
 * agent, session; names that are prefixes of one another), memories drawn
 * from one shared vocabulary, and thousands of random searches (keyword,
 * vector by text, vector by the caller's vector, hybrid; with and without
 * inherit; some layers restricted; writes interleaved). Every result must
 * come from the searcher's namespace, or from one of its ancestors when the
 * search inherits; and because the expected set is known, every memory that
 * should be found is found.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cognition.h>
#include <cognition/sqlite.h>

#include "llm_test.h"
#include "test_tmp.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

#define DIM 64
#define NS_COUNT 1000
#define PER_NS 4
#define VOCAB 40
#define SEARCHES 3000
#define MAX_MEMORIES (NS_COUNT * PER_NS + SEARCHES / 20 + NS_COUNT / 10 + 64)

static const char *const backends[] = { "sqlite", "memory" };

/* Names that are prefixes of each other, and every allowed punctuation. */
static const char *const tenants[] = {
	"acme", "acme2", "acme.eu", "beta", "beta_x", "gamma", "g", "gam", "delta", "delta:2",
};
static const char *const principals[] = { "alice", "alice2", "bob", "b", "bob@corp" };
static const char *const agents[] = { "helper", "helper2", "h" };

static const char *const vocab[VOCAB] = {
	"invoice", "refund", "meeting", "travel", "budget", "report", "server", "deploy",
	"ticket", "customer", "contract", "schedule", "weather", "coffee", "garden", "music",
	"python", "rust", "kernel", "network", "design", "review", "launch", "market",
	"health", "doctor", "school", "family", "holiday", "flight", "hotel", "dinner",
	"recipe", "football", "movie", "book", "password", "laptop", "phone", "river",
};

typedef struct memo {
	uint64_t id;
	int ns;                 /* index into names */
	uint64_t words;         /* bit i: vocab[i] is in the text */
	bool working;
	bool gone;              /* forgotten */
} memo;

static char names[NS_COUNT][128];
static cog_memory *handles[NS_COUNT];
static memo *memos;
static size_t nmemos;
static cog_ctx *ctx;
static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static size_t make_names(void)
{
	size_t n = 0, agent_no = 0;
	for (size_t t = 0; t < LEN(tenants); t++) {
		snprintf(names[n++], sizeof(names[0]), "%s", tenants[t]);
		for (size_t p = 0; p < LEN(principals); p++) {
			snprintf(names[n++], sizeof(names[0]), "%s/%s", tenants[t], principals[p]);
			for (size_t a = 0; a < LEN(agents); a++, agent_no++) {
				snprintf(names[n++], sizeof(names[0]), "%s/%s/%s", tenants[t],
				         principals[p], agents[a]);
				/* 150 agents: 40 with six sessions, 110 with five */
				size_t sessions = 5 + (agent_no < 40);
				for (size_t s = 1; s <= sessions; s++)
					snprintf(names[n++], sizeof(names[0]), "%s/%s/%s/s-%zu", tenants[t],
					         principals[p], agents[a], s);
			}
		}
	}
	return n;
}

/* Is a memory of namespace `of` visible to a search from `from`? */
static bool visible(int from, int of, bool inherit)
{
	if (from == of)
		return true;
	if (!inherit)
		return false;
	size_t len = strlen(names[of]);
	return strncmp(names[from], names[of], len) == 0 && names[from][len] == '/';
}

static void setup(int backend)
{
	ck_assert_cog(cog_ctx_new(&ctx, NULL));
	cog_storage *st = NULL;
	if (backend == 0) {
		tmp_dir_make("memns");
		cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
		so.durability = COG_SQLITE_DURABLE_NORMAL;
		ck_assert_cog(cog_sqlite_storage_open(&st, tmp_file("memory.db"), &so));
	} else {
		ck_assert_cog(cog_storage_memory_new(&st));
	}
	ck_assert_cog(cog_ctx_set_storage(ctx, st));
	ck_assert_uint_eq(make_names(), NS_COUNT);
	cog_memory_options o;
	ck_assert_cog(cog_memory_options_init(&o, COG_MEMORY_OPTIONS_VERSION));
	o.embedder = "hashing";
	o.hashing_dim = DIM;
	o.dedupe_threshold = 2.0;
	o.no_redact = 1;
	for (int i = 0; i < NS_COUNT; i++)
		ck_assert_cog(cog_memory_open_with(&handles[i], ctx, names[i], &o));
	memos = calloc(MAX_MEMORIES, sizeof(*memos));
	ck_assert_ptr_nonnull(memos);
	nmemos = 0;
	rng_state = 0x2545f4914f6cdd1dull + (uint64_t)backend;
}

static void teardown(void)
{
	for (int i = 0; i < NS_COUNT; i++)
		cog_memory_free(handles[i]);
	cog_ctx_free(ctx);
	ctx = NULL;
	free(memos);
	memos = NULL;
	tmp_dir_remove();
}

static void add_memory(int ns, unsigned int layer)
{
	char text[512];
	size_t len = 0;
	uint64_t words = 0;
	int n = 3 + (int)(rng() % 5);
	for (int w = 0; w < n; w++) {
		int i = (int)(rng() % VOCAB);
		words |= 1ull << i;
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s", w ? " " : "", vocab[i]);
	}
	cog_memory_put_options po = COG_MEMORY_PUT_OPTIONS_INIT;
	po.layer = layer;
	po.importance = (double)(rng() % 11) / 10.0;
	uint64_t id = 0;
	ck_assert_cog(cog_memory_put(handles[ns], text, &po, &id));
	ck_assert(nmemos < MAX_MEMORIES);
	memos[nmemos++] = (memo){ id, ns, words, layer == COG_MEMORY_WORKING, false };
}

/* Working ids are per handle (each handle numbers its own from 2^52), so
 * a working memory is known by its id and the searcher's namespace. */
static const memo *memo_of(uint64_t id, int from)
{
	for (size_t i = 0; i < nmemos; i++)
		if (memos[i].id == id && !memos[i].gone && (!memos[i].working || memos[i].ns == from))
			return &memos[i];
	return NULL;
}

typedef enum { KEYWORD, VECTOR_TEXT, VECTOR_OWN, HYBRID, MODES } mode;

/* One random search from namespace `from`, checked against the oracle. */
static void one_search(int from, size_t round)
{
	mode md = (mode)(rng() % MODES);
	bool inherit = rng() % 2;
	static const int ks[] = { 1000, 1000, 10, 3 };
	int k = ks[rng() % LEN(ks)];
	bool stored_only = rng() % 8 == 0;   /* layers without working */
	uint64_t qwords = 0;
	char q[4096];
	size_t len = (size_t)snprintf(q, sizeof(q), "{\"k\":%d,\"inherit\":%s%s", k,
	                              inherit ? "true" : "false",
	                              stored_only ? ",\"layers\":[\"long_term\",\"short_term\"]" : "");
	if (md != VECTOR_OWN) {
		len += (size_t)snprintf(q + len, sizeof(q) - len, ",\"text\":\"");
		int n = 1 + (int)(rng() % 3);
		for (int w = 0; w < n; w++) {
			int i = (int)(rng() % VOCAB);
			qwords |= 1ull << i;
			len += (size_t)snprintf(q + len, sizeof(q) - len, "%s%s", w ? " " : "", vocab[i]);
		}
		len += (size_t)snprintf(q + len, sizeof(q) - len, "\"");
	}
	if (md == VECTOR_OWN) {
		len += (size_t)snprintf(q + len, sizeof(q) - len, ",\"vector\":[");
		for (int i = 0; i < DIM; i++)
			len += (size_t)snprintf(q + len, sizeof(q) - len, "%s%d", i ? "," : "",
			                        (int)(rng() % 2001) - 1000);
		len += (size_t)snprintf(q + len, sizeof(q) - len, "]");
	}
	if (md == KEYWORD)
		len += (size_t)snprintf(q + len, sizeof(q) - len, ",\"weights\":{\"vector\":0}");
	if (md == VECTOR_TEXT)
		len += (size_t)snprintf(q + len, sizeof(q) - len, ",\"weights\":{\"keyword\":0}");
	snprintf(q + len, sizeof(q) - len, "}");

	char *json = NULL;
	int rc = cog_memory_search(handles[from], q, &json);
	ck_assert_msg(rc == 0, "round %zu: %s: %d %s", round, q, rc, cog_error_last());
	cJSON *r = cJSON_Parse(json);
	ck_assert_ptr_nonnull(r);
	const cJSON *results = cJSON_GetObjectItem(r, "results");
	ck_assert(cJSON_IsArray(results));

	/* what it must find: every visible memory the lists can reach (the
	 * vector list reaches every visible row: fewer than its 50 candidates) */
	size_t expected = 0;
	for (size_t i = 0; i < nmemos; i++) {
		const memo *e = &memos[i];
		if (e->gone || !visible(from, e->ns, inherit))
			continue;
		if (e->working && (stored_only || e->ns != from))
			continue;   /* the working layer is the searching handle's own */
		if (md == KEYWORD && !(e->words & qwords))
			continue;
		expected++;
	}
	size_t got = 0;
	for (const cJSON *res = results->child; res; res = res->next, got++) {
		uint64_t id = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(res, "id"));
		const char *ns = cJSON_GetStringValue(cJSON_GetObjectItem(res, "namespace"));
		ck_assert_ptr_nonnull(ns);
		const memo *e = memo_of(id, from);
		ck_assert_msg(e != NULL, "round %zu: unknown id %llu", round, (unsigned long long)id);
		ck_assert_msg(strcmp(ns, names[e->ns]) == 0, "round %zu: id %llu says %s, is in %s",
		              round, (unsigned long long)id, ns, names[e->ns]);
		ck_assert_msg(visible(from, e->ns, inherit),
		              "round %zu: %s (inherit %d) got a memory of %s: %s", round, names[from],
		              inherit, ns, q);
		ck_assert(!(stored_only && e->working));
		if (md == KEYWORD)
			ck_assert_msg(e->words & qwords, "round %zu: keyword hit without the words", round);
	}
	size_t want = expected < (size_t)k ? expected : (size_t)k;
	ck_assert_msg(got == want, "round %zu: %s from %s: %zu results, expected %zu", round, q,
	              names[from], got, want);
	cJSON_Delete(r);
	cog_free(json);
}

START_TEST(isolation)
{
	setup(_i);
	for (int ns = 0; ns < NS_COUNT; ns++)
		for (int j = 0; j < PER_NS; j++)
			add_memory(ns, j == 3 ? COG_MEMORY_SHORT_TERM : COG_MEMORY_LONG_TERM);
	for (int ns = 0; ns < NS_COUNT; ns += 10)
		add_memory(ns, COG_MEMORY_WORKING);
	for (size_t round = 0; round < SEARCHES; round++) {
		int from = (int)(rng() % NS_COUNT);
		if (round % 20 == 19) {
			/* a write elsewhere, or here, between searches */
			add_memory((int)(rng() % NS_COUNT), COG_MEMORY_LONG_TERM);
		}
		if (round % 250 == 249) {
			/* a memory of an ancestor forgotten: never found again */
			for (size_t i = nmemos; i-- > 0;) {
				if (!memos[i].gone && !memos[i].working && strchr(names[memos[i].ns], '/') &&
				    !strchr(strchr(names[memos[i].ns], '/') + 1, '/')) {
					ck_assert_cog(cog_memory_forget(handles[memos[i].ns], memos[i].id));
					memos[i].gone = true;
					break;
				}
			}
		}
		one_search(from, round);
	}
	teardown();
}
END_TEST

/* Handles share nothing but storage: a namespace's memories stay its own
 * even for handles opened after the writes, and for the deepest sessions
 * with every ancestor populated. */
START_TEST(fresh_handles)
{
	setup(_i);
	for (int ns = 0; ns < NS_COUNT; ns++)
		add_memory(ns, COG_MEMORY_LONG_TERM);
	cog_memory_options o;
	ck_assert_cog(cog_memory_options_init(&o, COG_MEMORY_OPTIONS_VERSION));
	o.embedder = "hashing";
	o.hashing_dim = DIM;
	for (int i = 0; i < 200; i++) {
		int from = (int)(rng() % NS_COUNT);
		cog_memory_free(handles[from]);
		handles[from] = NULL;
		ck_assert_cog(cog_memory_open_with(&handles[from], ctx, names[from], &o));
		one_search(from, (size_t)i);
	}
	teardown();
}
END_TEST

static Suite *namespaces_suite(void)
{
	Suite *s = suite_create("memory-namespaces");
	TCase *tc = tcase_create("namespaces");
	tcase_set_timeout(tc, 600);
	int n = (int)LEN(backends);
	tcase_add_loop_test(tc, isolation, 0, n);
	tcase_add_loop_test(tc, fresh_handles, 0, n);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(namespaces_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
