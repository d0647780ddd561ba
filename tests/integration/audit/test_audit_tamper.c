/*
 * The chain against an attacker who edits the SQLite file directly: each
 * test writes a chain through tool_audit_append, closes the context,
 * tampers with the file through the sqlite3 API (tables logs(log, seq,
 * record) and docs(collection, key, value)), reopens and verifies.
 *
 * Positions: first_bad_seq is the chain position where the log first
 * stops being the chain that was written. Swapping entries 3 and 5 is
 * "reordered" at 3; deleting entry 5 is "removed" at 5; cutting entries
 * 9..10 off is "truncated" at 9.
 */
#include <stdio.h>
#include <string.h>

#include "audit_test.h"

static const unsigned char key_a[32] = "0123456789abcdef0123456789abcdef";
static const unsigned char key_b[32] = "fedcba9876543210fedcba9876543210";

/* A chain of `count` entries in a fresh file; returns its path (copied). */
static const char *write_chain(int count, const unsigned char *key)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s", tmp_file("audit.db"));
	cog_ctx *ctx = ctx_open(path, false);
	if (key)
		ck_assert_cog(cog_audit_set_key(ctx, key, 32));
	append_range(registry_of(ctx), 1, count);
	expect_intact(ctx, count);
	cog_ctx_free(ctx);
	return path;
}

static cog_ctx *reopen(const char *path, const unsigned char *key)
{
	cog_ctx *ctx = ctx_open(path, false);
	if (key)
		ck_assert_cog(cog_audit_set_key(ctx, key, 32));
	return ctx;
}

static char *record_at(const char *path, uint64_t seq)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "SELECT record FROM logs WHERE log = 'audit' "
		"AND seq = %llu", (unsigned long long)seq);
	char *text = db_text(path, sql);
	ck_assert_msg(text != NULL, "no record %llu", (unsigned long long)seq);
	return text;
}

/* Reopen the tampered file with `key` and expect verify to find `problem`
 * at `seq`; the context is returned for more checks (free it). */
static cog_ctx *reopen_expect(const char *path, const unsigned char *key,
                              const char *problem, uint64_t seq)
{
	cog_ctx *ctx = reopen(path, key);
	expect_problem(ctx, problem, seq);
	return ctx;
}

/* Attacks one SQL statement makes, on a chain written without a key. */
static const struct sql_attack {
	const char *name;
	int entries;          /* the chain written first */
	const char *sql;
	const char *problem;  /* what verify must say, and where */
	uint64_t seq;
	const char *message;  /* in the thread's error too, or NULL */
	bool no_append;       /* appending on top must be refused (COG_EIO) */
} sql_attacks[] = {
	{ "removed entry", 10, "DELETE FROM logs WHERE log = 'audit' AND seq = 5",
	  "removed", 5, "entry 5 was removed", false },
	{ "removed first entries", 6,
	  "DELETE FROM logs WHERE log = 'audit' AND seq <= 2",
	  "removed", 1, NULL, false },
	/* Moving the storage's own numbers instead of the texts is the same
	 * as swapping entries. */
	{ "renumbered rows", 8,
	  "UPDATE logs SET seq = 100 WHERE log = 'audit' AND seq = 2",
	  "reordered", 2, NULL, false },
	{ "truncated tail", 10, "DELETE FROM logs WHERE log = 'audit' AND seq >= 9",
	  "truncated", 9, NULL, false },
	{ "everything deleted but the head", 3,
	  "DELETE FROM logs WHERE log = 'audit'", "truncated", 1, NULL, false },
	{ "deleted head", 10,
	  "DELETE FROM docs WHERE collection = 'audit' AND key = 'head'",
	  "truncated", 11, "head is missing", true },
	{ "malformed head", 3, "UPDATE docs SET value = '{\"seq\":\"three\"}' "
	  "WHERE collection = 'audit' AND key = 'head'",
	  "malformed", 4, NULL, true },
};

/* One row of sql_attacks a test: Check's report names the row by the
 * loop index. */
START_TEST(sql_attack_is_found)
{
	const struct sql_attack *a = &sql_attacks[_i];
	const char *path = write_chain(a->entries, NULL);
	db_exec(path, a->sql);
	cog_ctx *ctx = reopen_expect(path, NULL, a->problem, a->seq);
	ck_assert_msg(!a->message || strstr(cog_error_last(), a->message),
		"%s: %s", a->name, cog_error_last());
	if (a->no_append) {
		ck_assert_int_eq(append_entry(registry_of(ctx), a->entries + 1,
		                              "tester"), COG_EIO);
		ck_assert_msg(!a->message || strstr(cog_error_last(), a->message),
			"%s: %s", a->name, cog_error_last());
	}
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(intact_chain_verifies_and_reads)
{
	const char *path = write_chain(12, NULL);
	cog_ctx *ctx = reopen(path, NULL);
	expect_intact(ctx, 12);

	char *json = NULL;
	ck_assert_cog(cog_audit_read(ctx, 5, 3, &json));
	cJSON *arr = cJSON_Parse(json);
	ck_assert_msg(cJSON_IsArray(arr), "%s", json);
	ck_assert_int_eq(cJSON_GetArraySize(arr), 3);
	for (int i = 0; i < 3; i++) {
		cJSON *e = cJSON_GetArrayItem(arr, i);
		ck_assert_int_eq((int)cJSON_GetObjectItem(e, "seq")->valuedouble, 5 + i);
		cJSON *args = cJSON_GetObjectItem(e, "arguments");
		ck_assert_int_eq((int)cJSON_GetObjectItem(args, "n")->valuedouble, 5 + i);
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(e, "tool")), "echo");
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(e, "outcome")), "ok");
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(
			cJSON_GetObjectItem(e, "principal"), "id")), "alice");
		ck_assert_int_eq((int)strlen(cJSON_GetStringValue(
			cJSON_GetObjectItem(e, "result_digest"))), 64);
		ck_assert(cJSON_IsNull(cJSON_GetObjectItem(e, "detail")));
	}
	/* Entry 1 starts the chain; each links to the one before. */
	cJSON_Delete(arr);
	cog_free(json);
	ck_assert_cog(cog_audit_read(ctx, 0, 0, &json));
	arr = cJSON_Parse(json);
	ck_assert_int_eq(cJSON_GetArraySize(arr), 12);
	const char *prev = "0000000000000000000000000000000000000000000000000000000000000000";
	for (int i = 0; i < 12; i++) {
		cJSON *e = cJSON_GetArrayItem(arr, i);
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(e, "prev")), prev);
		prev = cJSON_GetStringValue(cJSON_GetObjectItem(e, "hash"));
	}
	cJSON_Delete(arr);
	cog_free(json);
	ck_assert_cog(cog_audit_read(ctx, 13, 0, &json));
	ck_assert_str_eq(json, "[]");
	cog_free(json);

	/* And the chain goes on after a reopen. */
	append_range(registry_of(ctx), 13, 15);
	cog_ctx_free(ctx);
	ctx = reopen(path, NULL);
	append_range(registry_of(ctx), 16, 20);
	expect_intact(ctx, 20);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(empty_log_is_intact)
{
	cog_ctx *ctx = ctx_open(tmp_file("empty.db"), false);
	expect_intact(ctx, 0);
	char *json = NULL;
	ck_assert_cog(cog_audit_read(ctx, 1, 0, &json));
	ck_assert_str_eq(json, "[]");
	cog_free(json);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(edited_arguments_are_found)
{
	const char *path = write_chain(10, NULL);
	char *rec = record_at(path, 7);
	char *at = strstr(rec, "\"n\":7,");
	ck_assert_msg(at != NULL, "%s", rec);
	at[4] = '8'; /* "n":7 -> "n":8: same length, still JSON */
	db_set_record(path, 7, rec);
	cog_free(rec);
	cog_ctx *ctx = reopen_expect(path, NULL, "edited", 7);
	ck_assert_msg(strstr(cog_error_last(), "entry 7 was edited (hash mismatch)"),
		"%s", cog_error_last());
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(rehashed_edit_is_found_by_the_next_link)
{
	/* Without a key the attacker can recompute an edited entry's own
	 * hash; the next entry's prev still points at the original. */
	const char *path = write_chain(10, NULL);
	char *rec = record_at(path, 4);
	char *at = strstr(rec, "\"n\":4,");
	ck_assert(at != NULL);
	at[4] = '9';
	size_t len = strlen(rec);
	uint8_t buf[32 + 4096];
	cJSON *j = cJSON_Parse(rec);
	ck_assert(j != NULL);
	uint8_t prev[32];
	const char *prev_hex = cJSON_GetStringValue(cJSON_GetObjectItem(j, "prev"));
	for (int i = 0; i < 32; i++) {
		unsigned int b;
		sscanf(prev_hex + 2 * i, "%2x", &b);
		prev[i] = (uint8_t)b;
	}
	cJSON_Delete(j);
	ck_assert(len - 75 + 1 + 32 < sizeof(buf));
	memcpy(buf, prev, 32);
	memcpy(buf + 32, rec, len - 75);
	buf[32 + len - 75] = '}';
	uint8_t hash[32];
	ck_assert_cog(cog_hash_blake2b(hash, 32, buf, 32 + len - 75 + 1, NULL, 0));
	cog_hex_encode(hash, 32, rec + len - 66);
	rec[len - 2] = '"'; /* cog_hex_encode wrote a NUL there */
	db_set_record(path, 4, rec);
	cog_free(rec);
	cog_ctx_free(reopen_expect(path, NULL, "edited", 4));
}
END_TEST

static void swap_records(const char *path, uint64_t a, uint64_t b)
{
	char *ra = record_at(path, a), *rb = record_at(path, b);
	db_set_record(path, a, rb);
	db_set_record(path, b, ra);
	cog_free(ra);
	cog_free(rb);
}

START_TEST(swapped_entries_are_reordered)
{
	const char *path = write_chain(10, NULL);
	swap_records(path, 3, 5);
	cog_ctx_free(reopen_expect(path, NULL, "reordered", 3));
}
END_TEST

START_TEST(swapped_neighbours_are_reordered)
{
	const char *path = write_chain(10, key_a);
	swap_records(path, 6, 7);
	cog_ctx_free(reopen_expect(path, key_a, "reordered", 6));
}
END_TEST

START_TEST(duplicated_entry_is_reordered)
{
	const char *path = write_chain(6, NULL);
	char *rec = record_at(path, 2);
	char sql[4096];
	snprintf(sql, sizeof(sql), "INSERT INTO logs (log, seq, record) VALUES "
		"('audit', 50, '%s')", rec);
	db_exec(path, sql);
	cog_free(rec);
	cog_ctx_free(reopen_expect(path, NULL, "reordered", 7));
}
END_TEST

/* Cut the log after entry `keep` and write the head an attacker without
 * the key would write: the new last entry's hash, MAC'd unkeyed. */
static void truncate_and_forge_head(const char *path, int keep)
{
	char sql[512];
	snprintf(sql, sizeof(sql), "DELETE FROM logs WHERE log = 'audit' AND seq > %d",
		keep);
	db_exec(path, sql);
	char *rec = record_at(path, (uint64_t)keep);
	cJSON *j = cJSON_Parse(rec);
	const char *hash_hex = cJSON_GetStringValue(cJSON_GetObjectItem(j, "hash"));
	ck_assert(hash_hex != NULL);
	uint8_t msg[18 + 8 + 32];
	memcpy(msg, "cog-audit-head-v1", 18);
	for (int i = 0; i < 8; i++)
		msg[18 + i] = (uint8_t)((uint64_t)keep >> (56 - 8 * i));
	for (int i = 0; i < 32; i++) {
		unsigned int b;
		sscanf(hash_hex + 2 * i, "%2x", &b);
		msg[26 + i] = (uint8_t)b;
	}
	uint8_t mac[32];
	char mac_hex[65];
	ck_assert_cog(cog_hash_blake2b(mac, 32, msg, sizeof(msg), NULL, 0));
	cog_hex_encode(mac, 32, mac_hex);
	snprintf(sql, sizeof(sql), "UPDATE docs SET value = '{\"seq\":%d,\"hash\":"
		"\"%s\",\"mac\":\"%s\"}' WHERE collection = 'audit' AND key = 'head'",
		keep, hash_hex, mac_hex);
	db_exec(path, sql);
	cJSON_Delete(j);
	cog_free(rec);
}

START_TEST(forged_head_passes_without_a_key)
{
	/* The documented limit: without a key, whoever can write the file
	 * can cut the tail and write a matching head. */
	const char *path = write_chain(10, NULL);
	truncate_and_forge_head(path, 8);
	cog_ctx *ctx = reopen(path, NULL);
	expect_intact(ctx, 8);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(forged_head_fails_with_a_key)
{
	const char *path = write_chain(10, key_a);
	truncate_and_forge_head(path, 8);
	cog_ctx *ctx = reopen_expect(path, key_a, "truncated", 9);
	/* Appending on top of the forged head would launder it: refused. */
	int rc = append_entry(registry_of(ctx), 11, "tester");
	ck_assert_int_eq(rc, COG_EIO);
	ck_assert_msg(strstr(cog_error_last(), "MAC"), "%s", cog_error_last());
	expect_problem(ctx, "truncated", 9);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(wrong_key_fails)
{
	const char *path = write_chain(5, key_a);
	cog_ctx *ctx = reopen_expect(path, key_b, "edited", 1);
	ck_assert_int_eq(append_entry(registry_of(ctx), 6, "tester"), COG_EIO);
	cog_ctx_free(ctx);
	ctx = reopen_expect(path, NULL, "edited", 1); /* forgot the key */
	ck_assert_int_eq(append_entry(registry_of(ctx), 6, "tester"), COG_EIO);
	cog_ctx_free(ctx);
	ctx = reopen(path, key_a);
	append_range(registry_of(ctx), 6, 7);
	expect_intact(ctx, 7);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(rolled_back_head_is_found)
{
	/* An old, genuine head put back: the entries after it lie past it. */
	const char *path = write_chain(5, key_a);
	char *old_head = db_text(path, "SELECT value FROM docs WHERE "
		"collection = 'audit' AND key = 'head'");
	ck_assert(old_head != NULL);
	cog_ctx *ctx = reopen(path, key_a);
	append_range(registry_of(ctx), 6, 8);
	cog_ctx_free(ctx);
	char sql[512];
	snprintf(sql, sizeof(sql), "UPDATE docs SET value = '%s' WHERE "
		"collection = 'audit' AND key = 'head'", old_head);
	db_exec(path, sql);
	cog_free(old_head);
	cog_ctx_free(reopen_expect(path, key_a, "edited", 6));
}
END_TEST

START_TEST(malformed_entry_is_found)
{
	const char *path = write_chain(6, NULL);
	db_set_record(path, 4, "{\"seq\":4,\"oops\":");
	cog_ctx *ctx = reopen_expect(path, NULL, "malformed", 4);
	/* Reading still works, and shows the damage rather than hiding it. */
	char *json = NULL;
	ck_assert_cog(cog_audit_read(ctx, 1, 0, &json));
	cJSON *arr = cJSON_Parse(json);
	ck_assert_msg(cJSON_IsArray(arr), "%s", json);
	ck_assert_int_eq(cJSON_GetArraySize(arr), 6);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 3), "malformed")));
	cJSON_Delete(arr);
	cog_free(json);
	cog_ctx_free(ctx);

	/* Valid JSON that is no entry is malformed too. */
	db_set_record(path, 4, "{\"seq\":4}");
	cog_ctx_free(reopen_expect(path, NULL, "malformed", 4));
}
END_TEST

void add_tamper_tests(Suite *s)
{
	TCase *tc = tcase_create("tamper");
	tcase_add_checked_fixture(tc, audit_setup, audit_teardown);
	tcase_add_test(tc, intact_chain_verifies_and_reads);
	tcase_add_test(tc, empty_log_is_intact);
	tcase_add_test(tc, edited_arguments_are_found);
	tcase_add_test(tc, rehashed_edit_is_found_by_the_next_link);
	tcase_add_test(tc, swapped_entries_are_reordered);
	tcase_add_test(tc, swapped_neighbours_are_reordered);
	tcase_add_test(tc, duplicated_entry_is_reordered);
	tcase_add_test(tc, forged_head_passes_without_a_key);
	tcase_add_test(tc, forged_head_fails_with_a_key);
	tcase_add_test(tc, wrong_key_fails);
	tcase_add_test(tc, rolled_back_head_is_found);
	tcase_add_test(tc, malformed_entry_is_found);
	tcase_add_loop_test(tc, sql_attack_is_found, 0,
	                    (int)(sizeof(sql_attacks) / sizeof(sql_attacks[0])));
	suite_add_tcase(s, tc);
}
