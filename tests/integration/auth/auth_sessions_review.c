/*
 * Sessions after review (issue 10): reset tokens bound to the principal's
 * password, logout of an expired access token, a password change racing a
 * login, messages that name the public function, an oversized jti.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "auth_sessions_test.h"

#define ALICE "{\"tenant\":\"acme\",\"id\":\"alice\",\"roles\":[\"analyst\"]}"

START_TEST(reset_outlived_by_credential_changes)
{
	cog_ctx *ctx = setup(NULL);
	char *r1 = NULL, *r2 = NULL, *r3 = NULL, *r4 = NULL;
	/* a password set after the request */
	ck_assert_cog(cog_auth_reset_request(ctx, "acme", "alice", &r1));
	ck_assert_cog(cog_auth_set_password(ctx, "acme", "alice", "set by the admin"));
	ck_assert_fails(cog_auth_reset_confirm(ctx, r1, "taken over by r1"), COG_EDENIED,
		"request a new one");
	tokens t;
	login(ctx, "alice", "set by the admin", &t);
	/* a successful reset ends the other tokens of the principal */
	ck_assert_cog(cog_auth_reset_request(ctx, "acme", "alice", &r2));
	ck_assert_cog(cog_auth_reset_request(ctx, "acme", "alice", &r3));
	ck_assert_cog(cog_auth_reset_confirm(ctx, r2, "reset with r2"));
	ck_assert_fails(cog_auth_reset_confirm(ctx, r3, "taken over by r3"), COG_EDENIED,
		"unknown, used or expired");
	login(ctx, "alice", "reset with r2", &t);
	/* removed and registered again (same password even) */
	ck_assert_cog(cog_auth_reset_request(ctx, "acme", "alice", &r4));
	ck_assert_cog(cog_auth_principal_remove(ctx, "acme", "alice"));
	ck_assert_cog(cog_auth_register(ctx, ALICE, PW));
	/* (removing the principal deleted its reset tokens) */
	ck_assert_fails(cog_auth_reset_confirm(ctx, r4, "taken over by r4"), COG_EDENIED,
		"unknown, used or expired");
	login(ctx, "alice", PW, &t);
	cog_free(r1), cog_free(r2), cog_free(r3), cog_free(r4);
	teardown(ctx);
}
END_TEST

START_TEST(logout_expired_access_token)
{
	short_access_ttl = true;
	cog_ctx *ctx = setup("{\"access_ttl_s\":1,\"clock_skew_s\":0}");
	tokens t, spare;
	login(ctx, "alice", PW, &t);
	sleep(2);
	ck_assert_fails(cog_token_verify(ctx, t.access, NULL), COG_EDENIED, "expired");
	ck_assert_cog(cog_auth_logout(ctx, t.access));
	ck_assert_fails(refresh(ctx, t.refresh, &spare), COG_EDENIED, "revoked");
	/* an expired token whose signature does not check ends nothing */
	login(ctx, "alice", PW, &t);
	sleep(2);
	char *dot = strrchr(t.access, '.');
	dot[1] = dot[1] == 'A' ? 'B' : 'A';
	ck_assert_fails(cog_auth_logout(ctx, t.access), COG_EDENIED, "cog_auth_logout: ");
	ck_assert_msg(!strstr(cog_error_last(), "cog_token_verify"), "%s", cog_error_last());
	ck_assert_cog(refresh(ctx, t.refresh, &spare));
	teardown(ctx);
}
END_TEST

START_TEST(messages_name_public_functions)
{
	cog_ctx *ctx = setup(NULL);
	ck_assert_fails(cog_auth_logout(ctx, "cogr_unknown"), COG_EDENIED,
		"cog_auth_logout: unknown");
	ck_assert_fails(cog_token_revoke(ctx, "cogr_unknown"), COG_EDENIED,
		"cog_token_revoke: unknown");
	ck_assert_fails(cog_token_revoke(ctx, "not-a-token"), COG_EINVAL, "cog_token_revoke");
	ck_assert_msg(!strstr(cog_error_last(), "auth_"), "%s", cog_error_last());
	ck_assert_fails(cog_auth_logout(ctx, "not-a-token"), COG_EINVAL, "cog_auth_logout");
	teardown(ctx);
}
END_TEST

START_TEST(oversized_jti_denied)
{
	cog_ctx *ctx = setup(NULL);
	char jti[700], claims[800], *token = NULL;
	memset(jti, 'j', sizeof(jti) - 1);
	jti[sizeof(jti) - 1] = 0;
	snprintf(claims, sizeof(claims), "{\"sub\":\"alice\",\"jti\":\"%s\"}", jti);
	ck_assert_cog(cog_token_issue(ctx, claims, &token));
	ck_assert_fails(cog_token_verify(ctx, token, NULL), COG_EDENIED, "jti");
	ck_assert_msg(!strstr(cog_error_last(), "auth_"), "%s", cog_error_last());
	/* revoking it is moot: it never verifies */
	ck_assert_cog(cog_token_revoke(ctx, token));
	cog_free(token);
	teardown(ctx);
}
END_TEST

/* A login whose (slow) password check overlaps a password change. */
typedef struct racer {
	cog_ctx *ctx;
	atomic_int changed;      /* the change returned */
	int rc, changed_seen;
	char msg[512];
	tokens t;
} racer;

static void *slow_login(void *arg)
{
	racer *r = arg;
	char *json = NULL;
	r->rc = cog_auth_login(r->ctx, "acme", "alice", PW, NULL, &json);
	r->changed_seen = atomic_load(&r->changed);
	snprintf(r->msg, sizeof(r->msg), "%s", r->rc ? cog_error_last() : "");
	if (!r->rc)
		parse_tokens(json, &r->t);
	return NULL;
}

START_TEST(password_change_during_login)
{
	cog_ctx *ctx = setup("{\"password\":{\"opslimit\":1,\"memlimit\":8388608}}");
	int overlapped = 0;
	for (int i = 0; i < 10 && overlapped < 2; i++) {
		/* alice's stored hash slow to check, the new one quick to make */
		ck_assert_cog(cog_auth_configure(ctx, "{\"password\":{\"opslimit\":4,"
			"\"memlimit\":67108864}}"));
		ck_assert_cog(cog_auth_set_password(ctx, "acme", "alice", PW));
		ck_assert_cog(cog_auth_configure(ctx, "{\"password\":{\"opslimit\":1,"
			"\"memlimit\":8388608}}"));
		/* the first login after new limits makes the dummy hash: not this one */
		char *none = NULL;
		ck_assert_int_eq(cog_auth_login(ctx, "acme", "nobody", PW, NULL, &none),
			COG_EDENIED);
		racer r;
		memset(&r, 0, sizeof(r));
		r.ctx = ctx;
		pthread_t th;
		ck_assert_int_eq(pthread_create(&th, NULL, slow_login, &r), 0);
		ck_assert_cog(cog_auth_set_password(ctx, "acme", "alice", "changed meanwhile"));
		atomic_store(&r.changed, 1);
		ck_assert_int_eq(pthread_join(th, NULL), 0);
		if (r.rc == 0) {
			/* a session opened with the old password must not outlive the change */
			ck_assert_fails(cog_token_verify(ctx, r.t.access, NULL), COG_EDENIED,
				"revoked");
			overlapped += r.changed_seen;
		} else {
			ck_assert_msg(r.rc == COG_EDENIED, "%d %s", r.rc, r.msg);
			overlapped += strstr(r.msg, "changed during the login") != NULL;
		}
	}
	ck_assert_msg(overlapped > 0, "the change never fell inside a login's check");
	teardown(ctx);
}
END_TEST

void auth_sessions_review_tests(TCase *tc)
{
	tcase_add_test(tc, reset_outlived_by_credential_changes);
	tcase_add_test(tc, logout_expired_access_token);
	tcase_add_test(tc, messages_name_public_functions);
	tcase_add_test(tc, oversized_jti_denied);
	tcase_add_test(tc, password_change_during_login);
}
