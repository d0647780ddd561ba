/*
 * The agent registry and instance pool (lib/agent/registry*.c, pool.c):
 * the default definitions, define / replace / remove, definition errors
 * naming their member, capability matching, instances taken from and
 * given back to the pool, the pool's cap, terminate from another thread,
 * the "agent.state" events in order, and the list.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "agent_int.h"
#include "cognition/ctx.h"

#define ck_assert_cog(expr) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == 0, "%s: %d %s", #expr, rc_, cog_error_last()); \
} while (0)

/* ---- a context that keeps its agent.state events ---- */

typedef struct events {
	pthread_mutex_t lock;
	char *items[64];
	size_t n;
} events;

static void on_event(const char *event, void *user_data)
{
	events *ev = user_data;
	if (!strstr(event, "\"agent.state\""))
		return;
	pthread_mutex_lock(&ev->lock);
	if (ev->n < 64)
		ev->items[ev->n++] = strdup(event);
	pthread_mutex_unlock(&ev->lock);
}

static void events_clear(events *ev)
{
	for (size_t i = 0; i < ev->n; i++)
		free(ev->items[i]);
	ev->n = 0;
}

static cog_ctx *new_ctx(events *ev)
{
	cog_ctx_options o;
	ck_assert_cog(cog_ctx_options_init(&o, COG_CTX_OPTIONS_VERSION));
	if (ev) {
		o.event_fn = on_event;
		o.event_user_data = ev;
	}
	cog_ctx *ctx = NULL;
	ck_assert_cog(cog_ctx_new(&ctx, &o));
	return ctx;
}

static cJSON *definitions(cog_ctx *ctx)
{
	char *text = NULL;
	ck_assert_cog(cog_agent_definitions(ctx, &text));
	cJSON *a = cJSON_Parse(text);
	cog_free(text);
	ck_assert_ptr_nonnull(a);
	return a;
}

static cJSON *list(cog_ctx *ctx)
{
	char *text = NULL;
	ck_assert_cog(cog_agent_list(ctx, &text));
	cJSON *a = cJSON_Parse(text);
	cog_free(text);
	ck_assert_ptr_nonnull(a);
	return a;
}

/* ---- definitions ---- */

START_TEST(defaults_are_there)
{
	cog_ctx *ctx = new_ctx(NULL);
	cJSON *defs = definitions(ctx);
	ck_assert_int_eq(cJSON_GetArraySize(defs), 3);
	const char *names[] = { "planner", "executor", "critic" };
	const char *caps[] = { "plan", "general", "review" };
	const char *tools[] = { "[]", "[\"*\"]", "[]" };
	for (int i = 0; i < 3; i++) {
		cJSON *d = cJSON_GetArrayItem(defs, i);
		ck_assert_str_eq(cJSON_GetObjectItem(d, "name")->valuestring, names[i]);
		ck_assert_str_eq(cJSON_GetObjectItem(d, "role")->valuestring, names[i]);
		ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(d, "capabilities"), 0)
			->valuestring, caps[i]);
		char *t = cJSON_PrintUnformatted(cJSON_GetObjectItem(d, "tools"));
		ck_assert_str_eq(t, tools[i]);
		free(t);
		ck_assert_int_gt(strlen(cJSON_GetObjectItem(d, "instructions")->valuestring), 100);
		ck_assert_int_eq(cJSON_GetObjectItem(d, "max_turns")->valueint, 8);
		ck_assert_int_eq(cJSON_GetObjectItem(d, "max_tokens")->valueint, 1024);
		ck_assert_int_eq(cJSON_GetObjectItem(d, "context_tokens")->valueint, 6000);
		ck_assert_int_eq(cJSON_GetObjectItem(d, "memory_k")->valueint, 6);
		ck_assert_int_eq(cJSON_GetObjectItem(d, "max_idle")->valueint, 4);
		ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(d, "handoff")));
		ck_assert(cJSON_IsNull(cJSON_GetObjectItem(d, "model")));
		ck_assert(cJSON_IsNull(cJSON_GetObjectItem(d, "temperature")));
		ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(d, "budget")), 0);
	}
	ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(cJSON_GetArrayItem(defs, 2),
		"instructions")->valuestring, "verdict"));
	cJSON_Delete(defs);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(define_replace_remove)
{
	cog_ctx *ctx = new_ctx(NULL);
	ck_assert_cog(cog_agent_define(ctx, "{\"name\":\"analyst\",\"role\":\"executor\","
		"\"description\":\"numbers\",\"instructions\":\"Count.\",\"model\":\"m1\","
		"\"capabilities\":[\"sql\",\"python\"],\"tools\":[\"sql_*\",\"python\"],"
		"\"budget\":{\"max_tokens\":5000,\"max_cost\":0.5,\"max_duration_ms\":60000},"
		"\"max_turns\":3,\"max_tokens\":256,\"temperature\":0.2,\"context_tokens\":4000,"
		"\"memory_k\":2,\"handoff\":true,\"max_idle\":1}"));
	ck_assert_int_eq(cog_agent_define(ctx, "{\"name\":\"analyst\"}"), COG_EEXISTS);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "analyst"));
	cJSON *defs = definitions(ctx);
	ck_assert_int_eq(cJSON_GetArraySize(defs), 4);
	cJSON *d = cJSON_GetArrayItem(defs, 3);
	char *text = cJSON_PrintUnformatted(d);
	ck_assert_str_eq(text, "{\"name\":\"analyst\",\"role\":\"executor\",\"description\":"
		"\"numbers\",\"instructions\":\"Count.\",\"model\":\"m1\",\"capabilities\":[\"sql\","
		"\"python\"],\"tools\":[\"sql_*\",\"python\"],\"budget\":{\"max_tokens\":5000,"
		"\"max_cost\":0.5,\"max_duration_ms\":60000},\"max_turns\":3,\"max_tokens\":256,"
		"\"temperature\":0.2,\"context_tokens\":4000,\"memory_k\":2,\"handoff\":true,"
		"\"max_idle\":1}");
	free(text);
	cJSON_Delete(defs);

	/* a replacement keeps the place in the order; an instance keeps the old one */
	cog_agent *a = NULL;
	ck_assert_cog(cog_agent_spawn(&a, ctx, "analyst"));
	ck_assert_cog(cog_agent_define(ctx, "{\"name\":\"analyst\",\"replace\":true,"
		"\"instructions\":\"New.\"}"));
	ck_assert_str_eq(a->def->instructions, "Count.");
	ck_assert(a->def->removed);
	defs = definitions(ctx);
	ck_assert_int_eq(cJSON_GetArraySize(defs), 4);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(defs, 3), "instructions")
		->valuestring, "New.");
	cJSON_Delete(defs);
	cog_agent_free(a); /* its definition is gone: the instance goes too */
	cJSON *l = list(ctx);
	ck_assert_int_eq(cJSON_GetArraySize(l), 0);
	cJSON_Delete(l);

	/* remove: idle instances go, a busy one finishes with its definition */
	cog_agent *idle = NULL, *busy = NULL;
	ck_assert_cog(cog_agent_spawn(&idle, ctx, "analyst"));
	ck_assert_cog(cog_agent_spawn(&busy, ctx, "analyst"));
	cog_agent_free(idle);
	ck_assert_cog(cog_agent_remove(ctx, "analyst"));
	ck_assert_int_eq(cog_agent_remove(ctx, "analyst"), COG_ENOTFOUND);
	ck_assert_int_eq(cog_agent_spawn(&a, ctx, "analyst"), COG_ENOTFOUND);
	ck_assert_ptr_null(a);
	l = list(ctx);
	ck_assert_int_eq(cJSON_GetArraySize(l), 1);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(l, 0), "id")->valuestring,
		cog_agent_id(busy));
	cJSON_Delete(l);
	ck_assert_str_eq(cog_agent_name(busy), "analyst");
	ck_assert_str_eq(busy->def->instructions, "New.");
	cog_agent_free(busy);
	l = list(ctx);
	ck_assert_int_eq(cJSON_GetArraySize(l), 0);
	cJSON_Delete(l);

	/* the defaults can be replaced and removed like any */
	ck_assert_cog(cog_agent_remove(ctx, "planner"));
	defs = definitions(ctx);
	ck_assert_int_eq(cJSON_GetArraySize(defs), 2);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(defs, 0), "name")->valuestring,
		"executor");
	cJSON_Delete(defs);
	cog_ctx_free(ctx);
}
END_TEST

static void define_fails(cog_ctx *ctx, const char *json, int code, const char *needle)
{
	int rc = cog_agent_define(ctx, json);
	ck_assert_msg(rc == code, "%s: %d (%s)", json, rc, cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), needle), "%s: \"%s\" lacks \"%s\"", json,
		cog_error_last(), needle);
}

START_TEST(bad_definitions_name_the_member)
{
	cog_ctx *ctx = new_ctx(NULL);
	define_fails(ctx, "{\"name\":\"x\",\"colour\":\"red\"}", COG_EINVAL, "\"colour\"");
	define_fails(ctx, "{\"role\":\"executor\"}", COG_EINVAL, "\"name\"");
	define_fails(ctx, "{\"name\":\"a b\"}", COG_EINVAL, "\"name\"");
	define_fails(ctx, "{\"name\":\"\"}", COG_EINVAL, "\"name\"");
	define_fails(ctx, "{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		COG_EINVAL, "\"name\"");
	define_fails(ctx, "{\"name\":\"x\",\"role\":\"no/role\"}", COG_EINVAL, "\"role\"");
	define_fails(ctx, "{\"name\":\"x\",\"max_turns\":0}", COG_EINVAL, "\"max_turns\"");
	define_fails(ctx, "{\"name\":\"x\",\"max_turns\":1001}", COG_EINVAL, "\"max_turns\"");
	define_fails(ctx, "{\"name\":\"x\",\"max_turns\":2.5}", COG_EINVAL, "\"max_turns\"");
	define_fails(ctx, "{\"name\":\"x\",\"max_tokens\":\"9\"}", COG_EINVAL, "\"max_tokens\"");
	define_fails(ctx, "{\"name\":\"x\",\"temperature\":3}", COG_EINVAL, "\"temperature\"");
	define_fails(ctx, "{\"name\":\"x\",\"memory_k\":-1}", COG_EINVAL, "\"memory_k\"");
	define_fails(ctx, "{\"name\":\"x\",\"context_tokens\":1}", COG_EINVAL, "\"context_tokens\"");
	define_fails(ctx, "{\"name\":\"x\",\"max_idle\":true}", COG_EINVAL, "\"max_idle\"");
	define_fails(ctx, "{\"name\":\"x\",\"handoff\":1}", COG_EINVAL, "\"handoff\"");
	define_fails(ctx, "{\"name\":\"x\",\"replace\":\"yes\"}", COG_EINVAL, "\"replace\"");
	define_fails(ctx, "{\"name\":\"x\",\"capabilities\":\"sql\"}", COG_EINVAL, "\"capabilities\"");
	define_fails(ctx, "{\"name\":\"x\",\"capabilities\":[\"sql\",\"sql\"]}", COG_EINVAL, "twice");
	define_fails(ctx, "{\"name\":\"x\",\"capabilities\":[1]}", COG_EINVAL, "\"capabilities\"");
	define_fails(ctx, "{\"name\":\"x\",\"tools\":[\"\"]}", COG_EINVAL, "\"tools\"");
	define_fails(ctx, "{\"name\":\"x\",\"tools\":{}}", COG_EINVAL, "\"tools\"");
	define_fails(ctx, "{\"name\":\"x\",\"description\":5}", COG_EINVAL, "\"description\"");
	define_fails(ctx, "{\"name\":\"x\",\"budget\":{\"max_money\":1}}", COG_EINVAL, "\"max_money\"");
	define_fails(ctx, "{\"name\":\"x\",\"budget\":{\"max_tokens\":-5}}", COG_EINVAL, "\"max_tokens\"");
	define_fails(ctx, "{\"name\":\"x\",\"budget\":[]}", COG_EINVAL, "budget");
	define_fails(ctx, "[\"x\"]", COG_EINVAL, "object");
	define_fails(ctx, "{\"name\":\"x\"", COG_EINVAL, "cog_agent_define");
	ck_assert_int_eq(cog_agent_define(ctx, NULL), COG_EINVAL);
	ck_assert_int_eq(cog_agent_define(NULL, "{\"name\":\"x\"}"), COG_EINVAL);
	/* nothing of that was kept */
	cJSON *defs = definitions(ctx);
	ck_assert_int_eq(cJSON_GetArraySize(defs), 3);
	cJSON_Delete(defs);
	/* a member given twice: the last one counts, nothing leaks */
	ck_assert_cog(cog_agent_define(ctx, "{\"name\":\"x\",\"capabilities\":[\"a\"],"
		"\"capabilities\":[\"b\"],\"tools\":[\"a\"],\"tools\":[\"b\"],\"role\":\"r1\","
		"\"role\":\"r2\"}"));
	char *name = NULL;
	ck_assert_cog(cog_agent_match(ctx, "[\"b\"]", &name));
	ck_assert_str_eq(name, "x");
	cog_free(name);
	cog_ctx_free(ctx);
}
END_TEST

static void match_is(cog_ctx *ctx, const char *caps, const char *want)
{
	char *name = NULL;
	int rc = cog_agent_match(ctx, caps, &name);
	ck_assert_msg(rc == 0, "%s: %d %s", caps ? caps : "NULL", rc, cog_error_last());
	ck_assert_msg(strcmp(name, want) == 0, "%s: %s, not %s", caps ? caps : "NULL", name, want);
	cog_free(name);
}

START_TEST(matching_rules)
{
	cog_ctx *ctx = new_ctx(NULL);
	ck_assert_cog(cog_agent_define(ctx, "{\"name\":\"wide\",\"capabilities\":[\"sql\","
		"\"python\",\"charts\"]}"));
	ck_assert_cog(cog_agent_define(ctx, "{\"name\":\"data\",\"capabilities\":[\"sql\","
		"\"python\"]}"));
	ck_assert_cog(cog_agent_define(ctx, "{\"name\":\"sql1\",\"capabilities\":[\"sql\"]}"));
	ck_assert_cog(cog_agent_define(ctx, "{\"name\":\"sql2\",\"capabilities\":[\"sql\"]}"));
	match_is(ctx, NULL, "executor");
	match_is(ctx, "[]", "executor");
	match_is(ctx, "[\"sql\"]", "sql1");           /* fewest extra, then first */
	match_is(ctx, "[\"python\"]", "data");
	match_is(ctx, "[\"python\",\"sql\"]", "data");
	match_is(ctx, "[\"charts\"]", "wide");
	match_is(ctx, "[\"review\"]", "critic");
	char *name = NULL;
	ck_assert_int_eq(cog_agent_match(ctx, "[\"sql\",\"fly\"]", &name), COG_ENOTFOUND);
	ck_assert_ptr_null(name);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "[\"sql\",\"fly\"]"));
	ck_assert_int_eq(cog_agent_match(ctx, "{\"sql\":1}", &name), COG_EINVAL);
	ck_assert_int_eq(cog_agent_match(ctx, "[1]", &name), COG_EINVAL);
	ck_assert_int_eq(cog_agent_match(ctx, "[", &name), COG_EINVAL);

	/* the internal form: an excluded definition is never chosen */
	agents_state *st = NULL;
	ck_assert_cog(agents_get(ctx, &st));
	cJSON *caps = cJSON_Parse("[\"sql\"]");
	agent_def *d = agents_match(st, caps, "sql1");
	ck_assert_str_eq(d->name, "sql2");
	agent_def_unref(d);
	cJSON_Delete(caps);
	d = agents_match(st, NULL, "executor");       /* none asked, executor excluded */
	ck_assert_ptr_nonnull(d);
	ck_assert_str_ne(d->name, "executor");
	agent_def_unref(d);
	caps = cJSON_Parse("[\"charts\"]");
	ck_assert_ptr_null(agents_match(st, caps, "wide"));
	ck_assert_int_eq(cog_error_last_code(), COG_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "other than 'wide'"));
	cJSON_Delete(caps);
	d = agents_find(st, "data");
	ck_assert_str_eq(d->name, "data");
	agent_def_unref(d);
	ck_assert_ptr_null(agents_find(st, "nobody"));
	ck_assert_int_eq(cog_error_last_code(), COG_ENOTFOUND);

	/* executor removed: none asked takes the fewest capabilities */
	ck_assert_cog(cog_agent_remove(ctx, "executor"));
	match_is(ctx, "[]", "planner");
	cog_ctx_free(ctx);
}
END_TEST

/* ---- instances ---- */

START_TEST(spawn_free_reuses)
{
	cog_ctx *ctx = new_ctx(NULL);
	cog_agent *a = NULL, *b = NULL;
	ck_assert_cog(cog_agent_spawn(&a, ctx, "executor"));
	ck_assert_int_eq(strlen(cog_agent_id(a)), 32);
	ck_assert_int_eq(strspn(cog_agent_id(a), "0123456789abcdef"), 32);
	ck_assert_str_eq(cog_agent_name(a), "executor");
	ck_assert_int_eq(cog_agent_get_state(a), COG_AGENT_IDLE);
	char id[33];
	snprintf(id, sizeof id, "%s", cog_agent_id(a));
	agent_set_state(a, COG_AGENT_BUSY, "p1", "t1");
	agent_count_usage(a, 100, 20, 0.25);
	agent_set_state(a, COG_AGENT_DONE, NULL, NULL);
	ck_assert(!agent_should_stop(a));
	cog_agent_free(a);
	ck_assert_cog(cog_agent_spawn(&b, ctx, "executor"));
	ck_assert_ptr_eq(a, b);
	ck_assert_str_eq(cog_agent_id(b), id);
	ck_assert_int_eq(cog_agent_get_state(b), COG_AGENT_IDLE);
	/* a second one while the first is out is a new instance */
	ck_assert_cog(cog_agent_spawn(&a, ctx, "executor"));
	ck_assert_ptr_ne(a, b);
	ck_assert_str_ne(cog_agent_id(a), id);
	cog_agent_free(a);
	cog_agent_free(b);
	cog_agent_free(NULL);
	ck_assert_int_eq(cog_agent_spawn(&a, ctx, "nobody"), COG_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "nobody"));
	ck_assert_int_eq(cog_agent_spawn(NULL, ctx, "executor"), COG_EINVAL);
	ck_assert_str_eq(cog_agent_state_name(COG_AGENT_TERMINATED), "terminated");
	ck_assert_str_eq(cog_agent_state_name(COG_AGENT_SPAWNED), "spawned");
	ck_assert_str_eq(cog_agent_state_name(42), "unknown");
	ck_assert_str_eq(cog_agent_state_name(-1), "unknown");
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(pool_cap)
{
	cog_ctx *ctx = new_ctx(NULL);
	ck_assert_cog(cog_agent_define(ctx, "{\"name\":\"two\",\"max_idle\":2}"));
	ck_assert_cog(cog_agent_define(ctx, "{\"name\":\"none\",\"max_idle\":0}"));
	cog_agent *a[5];
	for (int i = 0; i < 5; i++)
		ck_assert_cog(cog_agent_spawn(&a[i], ctx, "two"));
	cog_agent *z = NULL;
	ck_assert_cog(cog_agent_spawn(&z, ctx, "none"));
	cJSON *l = list(ctx);
	ck_assert_int_eq(cJSON_GetArraySize(l), 6);
	cJSON_Delete(l);
	for (int i = 0; i < 5; i++)
		cog_agent_free(a[i]);
	cog_agent_free(z);
	l = list(ctx);
	ck_assert_int_eq(cJSON_GetArraySize(l), 2);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(l, 0), "id")->valuestring,
		cog_agent_id(a[0]));
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(l, 1), "id")->valuestring,
		cog_agent_id(a[1]));
	cJSON_Delete(l);
	/* both pooled ones come back before a new one is made */
	cog_agent *b[3];
	for (int i = 0; i < 3; i++)
		ck_assert_cog(cog_agent_spawn(&b[i], ctx, "two"));
	ck_assert(b[0] == a[0] || b[0] == a[1]);
	ck_assert(b[1] == a[0] || b[1] == a[1]);
	ck_assert_ptr_ne(b[0], b[1]);
	for (int i = 0; i < 3; i++)
		cog_agent_free(b[i]);
	cog_ctx_free(ctx);
}
END_TEST

typedef struct term_arg {
	cog_ctx *ctx;
	char id[33];
	int rc;
} term_arg;

static void *terminate_thread(void *p)
{
	term_arg *t = p;
	t->rc = cog_agent_terminate(t->ctx, t->id);
	return NULL;
}

START_TEST(terminate_from_another_thread)
{
	events ev = { PTHREAD_MUTEX_INITIALIZER, { NULL }, 0 };
	cog_ctx *ctx = new_ctx(&ev);
	cog_agent *a = NULL;
	ck_assert_cog(cog_agent_spawn(&a, ctx, "executor"));
	agent_set_state(a, COG_AGENT_BUSY, "p1", "t1");
	term_arg t = { ctx, "", -100 };
	snprintf(t.id, sizeof t.id, "%s", cog_agent_id(a));
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, terminate_thread, &t), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_cog(t.rc);
	ck_assert(agent_should_stop(a));
	ck_assert_int_eq(cog_agent_get_state(a), COG_AGENT_TERMINATED);
	agent_set_state(a, COG_AGENT_FAILED, "p1", "t1"); /* terminated is final */
	ck_assert_int_eq(cog_agent_get_state(a), COG_AGENT_TERMINATED);
	ck_assert_cog(cog_agent_terminate(ctx, t.id));    /* again: nothing more */
	cJSON *l = list(ctx);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(l, 0), "state")->valuestring,
		"terminated");
	cJSON_Delete(l);
	cog_agent_free(a); /* terminated: not pooled */
	l = list(ctx);
	ck_assert_int_eq(cJSON_GetArraySize(l), 0);
	cJSON_Delete(l);
	ck_assert_int_eq(cog_agent_terminate(ctx, t.id), COG_ENOTFOUND);
	ck_assert_int_eq(cog_agent_terminate(ctx, "nope"), COG_ENOTFOUND);

	/* an idle pooled instance goes at once */
	ck_assert_cog(cog_agent_spawn(&a, ctx, "executor"));
	snprintf(t.id, sizeof t.id, "%s", cog_agent_id(a));
	cog_agent_free(a);
	ck_assert_cog(cog_agent_terminate(ctx, t.id));
	l = list(ctx);
	ck_assert_int_eq(cJSON_GetArraySize(l), 0);
	cJSON_Delete(l);

	/* a canceled context stops every agent */
	ck_assert_cog(cog_agent_spawn(&a, ctx, "executor"));
	ck_assert(!agent_should_stop(a));
	cog_ctx_cancel(ctx);
	ck_assert(agent_should_stop(a));
	cog_agent_free(a);
	cog_ctx_free(ctx);
	events_clear(&ev);
}
END_TEST

static cJSON *event_data(events *ev, size_t i)
{
	cJSON *e = cJSON_Parse(ev->items[i]);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(cJSON_GetObjectItem(e, "type")->valuestring, "agent.state");
	return e;
}

START_TEST(events_in_order)
{
	events ev = { PTHREAD_MUTEX_INITIALIZER, { NULL }, 0 };
	cog_ctx *ctx = new_ctx(&ev);
	cog_agent *a = NULL;
	ck_assert_cog(cog_agent_spawn(&a, ctx, "critic"));
	agent_set_state(a, COG_AGENT_BUSY, "p1", "t1");
	agent_set_state(a, COG_AGENT_DONE, NULL, NULL);
	cog_agent_free(a);
	ck_assert_cog(cog_agent_spawn(&a, ctx, "critic")); /* from the pool: no event */
	agent_set_state(a, COG_AGENT_BUSY, "p2", "t9");
	agent_set_state(a, COG_AGENT_FAILED, "p2", "t9");
	char id[33];
	snprintf(id, sizeof id, "%s", cog_agent_id(a));
	ck_assert_cog(cog_agent_terminate(ctx, id));
	cog_agent_free(a);
	const char *want[][3] = {
		{ "spawned", NULL, NULL }, { "idle", NULL, NULL }, { "busy", "p1", "t1" },
		{ "done", "p1", "t1" }, { "idle", NULL, NULL }, { "busy", "p2", "t9" },
		{ "failed", "p2", "t9" }, { "terminated", "p2", "t9" },
	};
	ck_assert_int_eq(ev.n, COG_ARRAY_LEN(want));
	for (size_t i = 0; i < ev.n; i++) {
		cJSON *e = event_data(&ev, i), *d = cJSON_GetObjectItem(e, "data");
		ck_assert_str_eq(cJSON_GetObjectItem(d, "agent_id")->valuestring, id);
		ck_assert_str_eq(cJSON_GetObjectItem(d, "name")->valuestring, "critic");
		ck_assert_str_eq(cJSON_GetObjectItem(d, "state")->valuestring, want[i][0]);
		cJSON *p = cJSON_GetObjectItem(d, "plan_id"), *t = cJSON_GetObjectItem(d, "task_id");
		if (want[i][1]) {
			ck_assert_str_eq(p->valuestring, want[i][1]);
			ck_assert_str_eq(t->valuestring, want[i][2]);
		} else {
			ck_assert_ptr_null(p);
			ck_assert_ptr_null(t);
		}
		cJSON_Delete(e);
	}
	events_clear(&ev);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(list_shows_work_and_spending)
{
	cog_ctx *ctx = new_ctx(NULL);
	cog_agent *a = NULL, *b = NULL;
	ck_assert_cog(cog_agent_spawn(&a, ctx, "executor"));
	ck_assert_cog(cog_agent_spawn(&b, ctx, "planner"));
	agent_set_state(a, COG_AGENT_BUSY, "plan-7", "load");
	agent_count_usage(a, 1000, 200, 0.5);
	agent_count_usage(a, 10, 2, 0.25);
	cJSON *l = list(ctx);
	ck_assert_int_eq(cJSON_GetArraySize(l), 2);
	char *text = cJSON_PrintUnformatted(cJSON_GetArrayItem(l, 0));
	char want[512];
	snprintf(want, sizeof want, "{\"id\":\"%s\",\"name\":\"executor\",\"role\":\"executor\","
		"\"state\":\"busy\",\"plan\":\"plan-7\",\"task\":\"load\",\"turns\":2,"
		"\"input_tokens\":1010,\"output_tokens\":202,\"cost\":0.75}", cog_agent_id(a));
	ck_assert_str_eq(text, want);
	free(text);
	text = cJSON_PrintUnformatted(cJSON_GetArrayItem(l, 1));
	snprintf(want, sizeof want, "{\"id\":\"%s\",\"name\":\"planner\",\"role\":\"planner\","
		"\"state\":\"idle\",\"turns\":0,\"input_tokens\":0,\"output_tokens\":0,\"cost\":0}",
		cog_agent_id(b));
	ck_assert_str_eq(text, want);
	free(text);
	cJSON_Delete(l);
	cog_agent_free(a);
	cog_agent_free(b);
	/* a context freed with instances still out frees them too (no leak) */
	ck_assert_cog(cog_agent_spawn(&a, ctx, "executor"));
	cog_ctx_free(ctx);
}
END_TEST

/* ---- threads ---- */

typedef struct churn_arg {
	cog_ctx *ctx;
	int failures;
} churn_arg;

static void *churn(void *p)
{
	churn_arg *c = p;
	for (int i = 0; i < 400; i++) {
		cog_agent *a = NULL, *b = NULL;
		if (cog_agent_spawn(&a, c->ctx, "executor") || cog_agent_spawn(&b, c->ctx, "executor")) {
			c->failures++;
			cog_agent_free(a);
			continue;
		}
		if (a == b)
			c->failures++;
		agent_set_state(a, COG_AGENT_BUSY, "p", "t");
		agent_count_usage(a, 1, 1, 0);
		if (i % 50 == 0) {
			char id[33];
			snprintf(id, sizeof id, "%s", cog_agent_id(b));
			if (cog_agent_terminate(c->ctx, id))
				c->failures++;
		}
		cog_agent_free(a);
		cog_agent_free(b);
		if (i % 100 == 0) {
			char *json = NULL;
			if (cog_agent_list(c->ctx, &json))
				c->failures++;
			cog_free(json);
		}
	}
	return NULL;
}

START_TEST(threads_share_the_pool)
{
	cog_ctx *ctx = new_ctx(NULL);
	churn_arg args[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (churn_arg){ ctx, 0 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, churn, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_int_eq(args[i].failures, 0);
	}
	cJSON *l = list(ctx);
	ck_assert_int_le(cJSON_GetArraySize(l), 4); /* executor's max_idle */
	ck_assert_int_ge(cJSON_GetArraySize(l), 1);
	cJSON *x;
	cJSON_ArrayForEach(x, l)
		ck_assert_str_eq(cJSON_GetObjectItem(x, "state")->valuestring, "idle");
	cJSON_Delete(l);
	cog_ctx_free(ctx);
}
END_TEST

static Suite *registry_suite(void)
{
	Suite *s = suite_create("agent-registry");
	TCase *tc = tcase_create("registry");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, defaults_are_there);
	tcase_add_test(tc, define_replace_remove);
	tcase_add_test(tc, bad_definitions_name_the_member);
	tcase_add_test(tc, matching_rules);
	tcase_add_test(tc, spawn_free_reuses);
	tcase_add_test(tc, pool_cap);
	tcase_add_test(tc, terminate_from_another_thread);
	tcase_add_test(tc, events_in_order);
	tcase_add_test(tc, list_shows_work_and_spending);
	tcase_add_test(tc, threads_share_the_pool);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(registry_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
