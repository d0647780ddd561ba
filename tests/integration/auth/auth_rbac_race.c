/*
 * auth-rbac: changes of one principal racing from two contexts, each with
 * its own connection to the one SQLite file (as two processes would be: no
 * lock of the library is shared between them). Each change is one storage
 * transaction, so registering one id twice at once leaves exactly one
 * winner (the other gets COG_EEXISTS), and two updates at once both stay.
 * Many rounds, each started by a barrier: a read-modify-write that is not
 * atomic loses some of them. Counted, never timed.
 */
#include <pthread.h>

#include "auth_rbac_test.h"

#define ROUNDS 40

enum { OP_REGISTER, OP_ROLES, OP_DISABLE };

typedef struct racer {
	cog_ctx *ctx;
	pthread_barrier_t *start;
	int op;
	int ok, exists, other;   /* outcomes over the rounds */
	char last_error[256];
} racer;

static void *race(void *arg)
{
	racer *r = arg;
	for (int i = 0; i < ROUNDS; i++) {
		char id[32], json[128];
		snprintf(id, sizeof(id), "u%d", i);
		pthread_barrier_wait(r->start);
		int rc;
		if (r->op == OP_REGISTER) {
			snprintf(json, sizeof(json), "{\"tenant\":\"acme\",\"id\":\"%s\"}", id);
			rc = cog_auth_register(r->ctx, json, NULL);
		} else if (r->op == OP_ROLES) {
			rc = cog_auth_principal_update(r->ctx, "acme", id, "{\"roles\":[\"ops\"]}");
		} else {
			rc = cog_auth_principal_update(r->ctx, "acme", id,
				"{\"disabled\":true,\"profile\":{\"why\":\"left\"}}");
		}
		if (rc == 0)
			r->ok++;
		else if (rc == COG_EEXISTS)
			r->exists++;
		else {
			r->other++;
			snprintf(r->last_error, sizeof(r->last_error), "%d %s", rc,
				cog_error_last());
		}
	}
	return NULL;
}

/* Run op_a on context a and op_b on context b, round by round. */
static void run_pair(racer *ra, racer *rb)
{
	pthread_barrier_t start;
	ck_assert_int_eq(pthread_barrier_init(&start, NULL, 2), 0);
	ra->start = rb->start = &start;
	pthread_t ta, tb;
	ck_assert_int_eq(pthread_create(&ta, NULL, race, ra), 0);
	ck_assert_int_eq(pthread_create(&tb, NULL, race, rb), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_barrier_destroy(&start);
	ck_assert_msg(ra->other == 0 && rb->other == 0, "unexpected failures: %s | %s",
		ra->last_error, rb->last_error);
}

START_TEST(register_race_has_one_winner)
{
	cog_ctx *a = ctx_open(), *b = ctx_open();
	racer ra = { .ctx = a, .op = OP_REGISTER }, rb = { .ctx = b, .op = OP_REGISTER };
	run_pair(&ra, &rb);
	/* Each round: exactly one success and exactly one COG_EEXISTS. */
	ck_assert_int_eq(ra.ok + rb.ok, ROUNDS);
	ck_assert_int_eq(ra.exists + rb.exists, ROUNDS);
	char *json = NULL;
	ck_assert_cog(cog_auth_principal_list(a, "acme", &json));
	cJSON *all = cJSON_Parse(json);
	cog_free(json);
	ck_assert_int_eq(cJSON_GetArraySize(all), ROUNDS);
	cJSON_Delete(all);
	cog_ctx_free(b);
	cog_ctx_free(a);
}
END_TEST

START_TEST(concurrent_updates_both_stay)
{
	cog_ctx *a = ctx_open(), *b = ctx_open();
	for (int i = 0; i < ROUNDS; i++) {
		char json[128];
		snprintf(json, sizeof(json), "{\"tenant\":\"acme\",\"id\":\"u%d\"}", i);
		ck_assert_cog(cog_auth_register(a, json, NULL));
	}
	racer ra = { .ctx = a, .op = OP_ROLES }, rb = { .ctx = b, .op = OP_DISABLE };
	run_pair(&ra, &rb);
	ck_assert_int_eq(ra.ok, ROUNDS);
	ck_assert_int_eq(rb.ok, ROUNDS);
	/* Neither update wrote back what the other one had changed. */
	int lost = 0;
	for (int i = 0; i < ROUNDS; i++) {
		char id[32], *json = NULL;
		snprintf(id, sizeof(id), "u%d", i);
		ck_assert_cog(cog_auth_principal_get(b, "acme", id, &json));
		cJSON *p = cJSON_Parse(json);
		cog_free(json);
		const cJSON *roles = cJSON_GetObjectItem(p, "roles");
		bool has_roles = cJSON_GetArraySize(roles) == 1 &&
			strcmp(cJSON_GetArrayItem(roles, 0)->valuestring, "ops") == 0;
		bool disabled = cJSON_IsTrue(cJSON_GetObjectItem(p, "disabled"));
		bool profile = cJSON_IsObject(cJSON_GetObjectItem(p, "profile"));
		if (!has_roles || !disabled || !profile)
			lost++;
		cJSON_Delete(p);
	}
	ck_assert_msg(lost == 0, "%d of %d rounds lost an update", lost, ROUNDS);
	cog_ctx_free(b);
	cog_ctx_free(a);
}
END_TEST

void rbac_add_race_tests(TCase *tc)
{
	tcase_add_test(tc, register_race_has_one_winner);
	tcase_add_test(tc, concurrent_updates_both_stay);
}
