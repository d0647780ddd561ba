/*
 * Sessions end to end (lib/auth/login*.c, session.c, refresh.c, revoke.c,
 * reset.c), public API, real SQLite files: login, its rate limits, refresh
 * rotation and reuse (also from 8 threads at once), logout seen by a second
 * context, password reset, and no secret in clear in the database file.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "auth_sessions_test.h"
#include "cognition/sqlite.h"
#include "test_tmp.h"


START_TEST(login_outcomes)
{
	cog_ctx *ctx = setup(NULL);
	ck_assert_cog(cog_auth_register(ctx, "{\"tenant\":\"acme\",\"id\":\"bob\","
		"\"disabled\":true}", PW));
	ck_assert_cog(cog_auth_register(ctx, "{\"tenant\":\"acme\",\"id\":\"carol\"}", NULL));
	tokens t;
	login(ctx, "alice", PW, &t);
	char *claims = NULL;
	ck_assert_cog(cog_token_verify(ctx, t.access, &claims));
	cJSON *c = cJSON_Parse(claims);
	ck_assert_str_eq(cJSON_GetObjectItem(c, "sub")->valuestring, "alice");
	ck_assert_str_eq(cJSON_GetObjectItem(c, "tenant")->valuestring, "acme");
	ck_assert_str_eq(cJSON_GetObjectItem(c, "sid")->valuestring, t.sid);
	const cJSON *roles = cJSON_GetObjectItem(c, "roles");
	ck_assert_int_eq(cJSON_GetArraySize(roles), 1);
	ck_assert_str_eq(cJSON_GetArrayItem(roles, 0)->valuestring, "analyst");
	cJSON_Delete(c);
	cog_free(claims);
	ck_assert_int_eq(strncmp(t.refresh, "cogr_", 5), 0);
	/* one answer for a wrong password, an unknown principal, no password */
	char *json = NULL, first[512];
	ck_assert_fails(cog_auth_login(ctx, "acme", "alice", "wrong password", NULL, &json),
		COG_EDENIED, "invalid credentials");
	snprintf(first, sizeof(first), "%s", cog_error_last());
	ck_assert_fails(cog_auth_login(ctx, "acme", "nobody", PW, NULL, &json),
		COG_EDENIED, "invalid credentials");
	ck_assert_str_eq(strstr(cog_error_last(), "invalid"), strstr(first, "invalid"));
	ck_assert_fails(cog_auth_login(ctx, "acme", "carol", PW, NULL, &json),
		COG_EDENIED, "invalid credentials");
	ck_assert_fails(cog_auth_login(ctx, "acme", "bob", PW, NULL, &json),
		COG_EDENIED, "disabled");
	ck_assert_fails(cog_auth_login(ctx, "acme", "bob", "wrong password", NULL, &json),
		COG_EDENIED, "invalid credentials");
	ck_assert_ptr_null(json);
	ck_assert_fails(cog_auth_login(ctx, "acme", "a/b", PW, NULL, &json), COG_EINVAL, "id");
	teardown(ctx);
}
END_TEST

/* `n` attempts of principal p_i (p(i)) from client c_i; all must pass the
 * limiter. Then attempts until refused: those that still pass are the
 * refill of the time taken (1 a second), no more. */
static void exhaust(cog_ctx *ctx, const char *(*principal)(int), const char *client)
{
	char *json = NULL;
	time_t start = time(NULL);
	for (int i = 0; i < 60; i++) {
		int rc = cog_auth_login(ctx, "acme", principal(i), "wrong password", client,
			&json);
		ck_assert_msg(rc == COG_EDENIED, "attempt %d: %d %s", i + 1, rc, cog_error_last());
	}
	int extra = 0, rc;
	while ((rc = cog_auth_login(ctx, "acme", principal(60 + extra), "wrong password",
	    client, &json)) == COG_EDENIED && extra < 100)
		extra++;
	ck_assert_fails(rc, COG_EBUSY, "retry in");
	ck_assert_msg(extra <= (int)(time(NULL) - start) + 1, "%d extra attempts passed", extra);
	/* refused: even the right password */
	ck_assert_fails(cog_auth_login(ctx, "acme", principal(0), PW, client, &json),
		COG_EBUSY, "login rate limit");
}

static const char *always_alice(int i) { (void)i; return "alice"; }

static const char *numbered(int i)
{
	static char id[32];
	return snprintf(id, sizeof(id), "user%d", i), id;
}

START_TEST(rate_limit_per_principal)
{
	cog_ctx *ctx = setup(NULL);
	char *json = NULL;
	ck_assert_cog(cog_auth_register(ctx, "{\"tenant\":\"acme\",\"id\":\"bob\"}", PW));
	exhaust(ctx, always_alice, NULL);
	ck_assert_fails(cog_auth_login(ctx, "acme", "alice", PW, "other-client", &json),
		COG_EBUSY, "acme/alice");
	tokens t;
	login(ctx, "bob", PW, &t);   /* another principal is not affected */
	teardown(ctx);
}
END_TEST

START_TEST(rate_limit_per_client)
{
	cog_ctx *ctx = setup(NULL);
	exhaust(ctx, numbered, "10.0.0.1");
	char *json = NULL;
	ck_assert_fails(cog_auth_login(ctx, "acme", "alice", PW, "10.0.0.1", &json),
		COG_EBUSY, "client");
	ck_assert_cog(cog_auth_login(ctx, "acme", "alice", PW, "10.0.0.2", &json));
	cog_free(json);
	teardown(ctx);
}
END_TEST

START_TEST(rate_limit_configured)
{
	/* a good login counts too, and the limit is the configured one */
	cog_ctx *ctx = setup("{\"login_per_minute\":2}");
	tokens t;
	login(ctx, "alice", PW, &t);
	login(ctx, "alice", PW, &t);
	char *json = NULL;
	ck_assert_fails(cog_auth_login(ctx, "acme", "alice", PW, NULL, &json), COG_EBUSY,
		"retry in");
	teardown(ctx);
}
END_TEST

START_TEST(refresh_rotation_and_reuse)
{
	cog_ctx *ctx = setup(NULL);
	tokens t1, t2, t3;
	login(ctx, "alice", PW, &t1);
	ck_assert_cog(refresh(ctx, t1.refresh, &t2));
	ck_assert_str_ne(t2.refresh, t1.refresh);
	ck_assert_str_eq(t2.sid, t1.sid);
	ck_assert_cog(cog_token_verify(ctx, t2.access, NULL));
	ck_assert_cog(refresh(ctx, t2.refresh, &t3));
	ck_assert_cog(cog_token_verify(ctx, t3.access, NULL));
	/* t1's token again: the thief or the owner, the session ends for both */
	ck_assert_fails(refresh(ctx, t1.refresh, &t2), COG_EDENIED, "reuse");
	ck_assert_fails(refresh(ctx, t3.refresh, &t2), COG_EDENIED, "revoked");
	ck_assert_fails(cog_token_verify(ctx, t3.access, NULL), COG_EDENIED, "revoked");
	ck_assert_fails(cog_token_verify(ctx, t1.access, NULL), COG_EDENIED, "revoked");
	ck_assert_fails(refresh(ctx, "cogr_unknown", &t2), COG_EDENIED, "unknown");
	ck_assert_fails(refresh(ctx, t1.access, &t2), COG_EINVAL, "not a refresh token");
	/* another session of alice is untouched */
	login(ctx, "alice", PW, &t1);
	ck_assert_cog(refresh(ctx, t1.refresh, &t2));
	teardown(ctx);
}
END_TEST

typedef struct racer { cog_ctx *ctx; const char *token; pthread_barrier_t *go; int rc; } racer;

static void *race(void *arg)
{
	racer *r = arg;
	char *json = NULL;
	pthread_barrier_wait(r->go);
	r->rc = cog_auth_refresh(r->ctx, r->token, &json);
	cog_free(json);
	return NULL;
}

/* Rounds of 8 threads refreshing one token, half through a second context
 * on the file (its own lock and connection: only SQLite's transaction
 * stands between them): exactly one wins each round. Without the
 * transaction about one round in twenty lets two win: 100 rounds. */
START_TEST(refresh_concurrent)
{
	cog_ctx *ctx = setup("{\"login_per_minute\":1000}"), *other = open_ctx(NULL);
	for (int round = 0; round < 100; round++) {
		tokens t;
		login(ctx, "alice", PW, &t);
		pthread_barrier_t go;
		pthread_barrier_init(&go, NULL, 8);
		racer r[8];
		pthread_t th[8];
		for (int i = 0; i < 8; i++) {
			r[i] = (racer){ i % 2 ? other : ctx, t.refresh, &go, 1 };
			ck_assert_int_eq(pthread_create(&th[i], NULL, race, &r[i]), 0);
		}
		int ok = 0, denied = 0;
		for (int i = 0; i < 8; i++) {
			pthread_join(th[i], NULL);
			ok += r[i].rc == COG_OK, denied += r[i].rc == COG_EDENIED;
		}
		pthread_barrier_destroy(&go);
		ck_assert_msg(ok == 1 && denied == 7, "round %d: %d won, %d denied", round, ok,
			denied);
	}
	cog_ctx_free(other);
	teardown(ctx);
}
END_TEST

START_TEST(logout_seen_by_other_context)
{
	cog_ctx *ctx = setup(NULL);
	cog_ctx *other = open_ctx(NULL);
	tokens a, b, spare;
	login(ctx, "alice", PW, &a);
	login(ctx, "alice", PW, &b);
	ck_assert_cog(cog_token_verify(other, a.access, NULL));
	ck_assert_cog(cog_token_verify(other, b.access, NULL));
	/* with the access token */
	ck_assert_cog(cog_auth_logout(ctx, a.access));
	ck_assert_fails(cog_token_verify(other, a.access, NULL), COG_EDENIED, "revoked");
	ck_assert_fails(refresh(other, a.refresh, &spare), COG_EDENIED, "revoked");
	ck_assert_cog(cog_token_verify(other, b.access, NULL));
	/* with the refresh token, from the other context */
	ck_assert_cog(cog_auth_logout(other, b.refresh));
	ck_assert_fails(cog_token_verify(ctx, b.access, NULL), COG_EDENIED, "revoked");
	ck_assert_fails(refresh(ctx, b.refresh, &spare), COG_EDENIED, "revoked");
	ck_assert_fails(cog_auth_logout(ctx, "cogr_unknown"), COG_EDENIED, "unknown");
	cog_ctx_free(other);
	teardown(ctx);
}
END_TEST

START_TEST(reset_flow)
{
	cog_ctx *ctx = setup(NULL);
	tokens t, spare;
	login(ctx, "alice", PW, &t);
	char *reset = NULL, *json = NULL;
	ck_assert_fails(cog_auth_reset_request(ctx, "acme", "nobody", &reset), COG_ENOTFOUND,
		"nobody");
	ck_assert_cog(cog_auth_reset_request(ctx, "acme", "alice", &reset));
	ck_assert_cog(cog_auth_reset_confirm(ctx, reset, "a new password"));
	ck_assert_fails(cog_token_verify(ctx, t.access, NULL), COG_EDENIED, "revoked");
	ck_assert_fails(refresh(ctx, t.refresh, &spare), COG_EDENIED, "revoked");
	ck_assert_fails(cog_auth_login(ctx, "acme", "alice", PW, NULL, &json), COG_EDENIED,
		"invalid credentials");
	login(ctx, "alice", "a new password", &t);
	/* once only */
	ck_assert_fails(cog_auth_reset_confirm(ctx, reset, "another password"), COG_EDENIED,
		"reset token");
	cog_free(reset);
	/* spent even when the new password is refused */
	ck_assert_cog(cog_auth_reset_request(ctx, "acme", "alice", &reset));
	ck_assert_fails(cog_auth_reset_confirm(ctx, reset, "short"), COG_EINVAL, "shorter");
	ck_assert_fails(cog_auth_reset_confirm(ctx, reset, "long enough now"), COG_EDENIED,
		"reset token");
	cog_free(reset);
	login(ctx, "alice", "a new password", &t);
	/* expired */
	ck_assert_cog(cog_auth_configure(ctx, "{\"reset_ttl_s\":1}"));
	ck_assert_cog(cog_auth_reset_request(ctx, "acme", "alice", &reset));
	sleep(2);
	ck_assert_fails(cog_auth_reset_confirm(ctx, reset, "a third password"), COG_EDENIED,
		"expired");
	cog_free(reset);
	login(ctx, "alice", "a new password", &t);   /* that password stands */
	teardown(ctx);
}
END_TEST

/* In how many of the database's files `needle` is. */
static int in_files(const char *needle)
{
	static const char *const names[] = { "auth.db", "auth.db-wal" };
	int found = 0;
	for (size_t i = 0; i < 2; i++) {
		FILE *f = fopen(tmp_file(names[i]), "rb");
		if (!f)
			continue;
		static char bytes[8 << 20];
		size_t len = fread(bytes, 1, sizeof(bytes), f);
		ck_assert_msg(feof(f), "%s is larger than the test's buffer", names[i]);
		fclose(f);
		found += memmem(bytes, len, needle, strlen(needle)) != NULL;
	}
	return found;
}

START_TEST(no_secret_in_clear)
{
	cog_ctx *ctx = setup(NULL);
	tokens t1, t2;
	login(ctx, "alice", PW, &t1);
	ck_assert_cog(refresh(ctx, t1.refresh, &t2));
	char *reset = NULL, *json = NULL;
	ck_assert_cog(cog_auth_reset_request(ctx, "acme", "alice", &reset));
	/* a client key (an address, a device id) counts, but is not kept */
	ck_assert_cog(cog_auth_login(ctx, "acme", "alice", PW, "client-203.0.113.77", &json));
	cog_free(json);
	ck_assert_int_eq(in_files("203.0.113.77"), 0);
	/* the random parts, past the prefixes */
	ck_assert_int_eq(in_files(t1.refresh + 5), 0);
	ck_assert_int_eq(in_files(t2.refresh + 5), 0);
	ck_assert_int_eq(in_files(reset + 5), 0);
	ck_assert_int_eq(in_files(PW), 0);
	/* the files read are those holding the session */
	ck_assert_int_gt(in_files(t1.sid), 0);
	cog_free(reset);
	teardown(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth-sessions");
	TCase *tc = tcase_create("sessions");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, login_outcomes);
	tcase_add_test(tc, rate_limit_per_principal);
	tcase_add_test(tc, rate_limit_per_client);
	tcase_add_test(tc, rate_limit_configured);
	tcase_add_test(tc, refresh_rotation_and_reuse);
	tcase_add_test(tc, refresh_concurrent);
	tcase_add_test(tc, logout_seen_by_other_context);
	tcase_add_test(tc, reset_flow);
	tcase_add_test(tc, no_secret_in_clear);
	auth_sessions_review_tests(tc);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
