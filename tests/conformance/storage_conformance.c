/* The storage conformance suite: every case runs against every backend. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "storage_conformance.h"

/* Check fixtures take no arguments, so each suite gets a slot and a
 * selector (run before its tests fork) that points `backend` at it. */
#define MAX_BACKENDS 4
static const conformance_backend *slots[MAX_BACKENDS];
static const conformance_backend *backend;
static cog_storage *st;

static void select_0(void) { backend = slots[0]; }
static void select_1(void) { backend = slots[1]; }
static void select_2(void) { backend = slots[2]; }
static void select_3(void) { backend = slots[3]; }
static void (*const selectors[MAX_BACKENDS])(void) = {
	select_0, select_1, select_2, select_3
};
static int slot_count;

static void setup(void)
{
	backend->reset(backend->state);
	ck_assert_msg(backend->open(&st, backend->state) == 0,
		"open %s: %s", backend->name, cog_error_last());
}

static void teardown(void)
{
	cog_storage_free(st);
	st = NULL;
}

static void reopen(void)
{
	cog_storage_free(st);
	st = NULL;
	ck_assert_msg(backend->open(&st, backend->state) == 0, "reopen: %s",
		cog_error_last());
}

cog_storage *conformance_storage(void)
{
	return st;
}

const conformance_backend *conformance_backend_under_test(void)
{
	return backend;
}

void conformance_reopen(void)
{
	reopen();
}

static char *get(const char *coll, const char *key)
{
	char *v = NULL;
	int rc = cog_storage_get(st, coll, key, &v);
	ck_assert_msg(rc == 0 || rc == COG_ENOTFOUND, "get %s/%s: %d %s", coll, key,
		rc, cog_error_last());
	return v;
}

static void assert_doc(const char *coll, const char *key, const char *expect)
{
	char *v = get(coll, key);
	if (!expect)
		ck_assert_msg(v == NULL, "%s/%s should be absent, is %s", coll, key, v);
	else
		ck_assert_msg(v && strcmp(v, expect) == 0, "%s/%s: expected %s, got %s",
			coll, key, expect, v ? v : "(absent)");
	cog_free(v);
}

static void put(const char *coll, const char *key, const char *json)
{
	int rc = cog_storage_put(st, coll, key, json, 0);
	ck_assert_msg(rc == 0, "put %s/%s: %s", coll, key, cog_error_last());
}

/* ---- documents ---- */

START_TEST(doc_round_trip)
{
	put("c", "k", "{\"a\":1}");
	assert_doc("c", "k", "{\"a\":1}");
	put("c", "k", "[1,2,3]");
	assert_doc("c", "k", "[1,2,3]");
	/* Text is kept byte for byte, escapes and all. */
	const char *exotic = " {\"s\":\"\\u00e9 caf\xc3\xa9 \\ud83d\\ude00 \xf0\x9f\x98\x80\"} ";
	put("c", "\xe2\x82\xac/key with spaces", exotic);
	assert_doc("c", "\xe2\x82\xac/key with spaces", exotic);
	put("c", "scalar", "42");
	assert_doc("c", "scalar", "42");
}
END_TEST

START_TEST(doc_missing_and_delete)
{
	char *v = (char *)1;
	ck_assert_int_eq(cog_storage_get(st, "c", "nope", &v), COG_ENOTFOUND);
	ck_assert_ptr_null(v);
	ck_assert_msg(strstr(cog_error_last(), "nope") != NULL, "%s", cog_error_last());
	put("c", "k", "true");
	ck_assert_int_eq(cog_storage_delete(st, "c", "k"), 0);
	assert_doc("c", "k", NULL);
	ck_assert_int_eq(cog_storage_delete(st, "c", "k"), COG_ENOTFOUND);
}
END_TEST

START_TEST(collections_are_separate)
{
	put("a", "k", "1");
	put("b", "k", "2");
	assert_doc("a", "k", "1");
	assert_doc("b", "k", "2");
	ck_assert_int_eq(cog_storage_delete(st, "a", "k"), 0);
	assert_doc("b", "k", "2");
}
END_TEST

struct collected {
	char keys[64][64];
	int n;
	int stop_after;
	int fail_with;
};

static int collect(const char *key, const char *value, size_t len,
                   int64_t expires_at, void *ud)
{
	struct collected *c = ud;
	ck_assert_uint_eq(strlen(value), len);
	snprintf(c->keys[c->n++], 64, "%s", key);
	if (c->fail_with && c->n == c->stop_after)
		return c->fail_with;
	if (c->stop_after && c->n == c->stop_after)
		return COG_STORAGE_STOP;
	return 0;
}

START_TEST(scan_prefix_in_order)
{
	const char *keys[] = { "user/b", "user/a", "user/\xc3\xa9", "users", "uses",
		"user/a/1", "other" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
		put("c", keys[i], "{}");
	put("d", "user/zz", "{}");
	struct collected c = { .n = 0 };
	ck_assert_int_eq(cog_storage_scan(st, "c", "user/", collect, &c), 0);
	ck_assert_int_eq(c.n, 4);
	ck_assert_str_eq(c.keys[0], "user/a");
	ck_assert_str_eq(c.keys[1], "user/a/1");
	ck_assert_str_eq(c.keys[2], "user/b");
	ck_assert_str_eq(c.keys[3], "user/\xc3\xa9");
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(cog_storage_scan(st, "c", NULL, collect, &c), 0);
	ck_assert_int_eq(c.n, 7);
	ck_assert_str_eq(c.keys[0], "other");
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(cog_storage_scan(st, "c", "\xc3", collect, &c), COG_EINVAL);
	ck_assert_int_eq(cog_storage_scan(st, "empty", "", collect, &c), 0);
	ck_assert_int_eq(c.n, 0);
}
END_TEST

START_TEST(scan_stop_and_error)
{
	for (int i = 0; i < 10; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%02d", i);
		put("c", key, "null");
	}
	struct collected c = { .stop_after = 3 };
	ck_assert_int_eq(cog_storage_scan(st, "c", "", collect, &c), 0);
	ck_assert_int_eq(c.n, 3);
	memset(&c, 0, sizeof(c));
	c.stop_after = 2;
	c.fail_with = COG_EUSER;
	ck_assert_int_eq(cog_storage_scan(st, "c", "", collect, &c), COG_EUSER);
	ck_assert_int_eq(c.n, 2);
	/* The store still works after an aborted scan. */
	put("c", "after", "1");
	assert_doc("c", "after", "1");
}
END_TEST

static int reenter(const char *key, const char *value, size_t len,
                   int64_t expires_at, void *ud)
{
	int *rc = ud;
	*rc = cog_storage_put(st, "c", "x", "1", 0);
	return COG_STORAGE_STOP;
}

START_TEST(scan_callback_cannot_reenter)
{
	put("c", "a", "1");
	int inner = 0;
	ck_assert_int_eq(cog_storage_scan(st, "c", "", reenter, &inner), 0);
	ck_assert_int_eq(inner, COG_EBUSY);
	assert_doc("c", "x", NULL);
}
END_TEST

START_TEST(expiry)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	ck_assert_int_eq(cog_storage_put(st, "c", "old", "1", ms - 1000), 0);
	ck_assert_int_eq(cog_storage_put(st, "c", "new", "2", ms + 3600000), 0);
	put("c", "forever", "3");
	assert_doc("c", "old", NULL);
	assert_doc("c", "new", "2");
	struct collected c = { .n = 0 };
	ck_assert_int_eq(cog_storage_scan(st, "c", "", collect, &c), 0);
	ck_assert_int_eq(c.n, 2);
	size_t purged = 99;
	ck_assert_int_eq(cog_storage_purge_expired(st, &purged), 0);
	ck_assert_uint_eq(purged, 1);
	ck_assert_int_eq(cog_storage_purge_expired(st, &purged), 0);
	ck_assert_uint_eq(purged, 0);
	assert_doc("c", "forever", "3");
	ck_assert_int_eq(cog_storage_put(st, "c", "neg", "1", -5), COG_EINVAL);
}
END_TEST

/* ---- logs ---- */

struct records {
	uint64_t seq[256];
	char text[256][32];
	int n;
};

static int collect_record(uint64_t seq, const char *record, size_t len, void *ud)
{
	struct records *r = ud;
	ck_assert_uint_eq(strlen(record), len);
	r->seq[r->n] = seq;
	snprintf(r->text[r->n], 32, "%s", record);
	r->n++;
	return 0;
}

static uint64_t append(const char *log, const char *json)
{
	uint64_t seq = 0;
	int rc = cog_storage_append(st, log, json, &seq);
	ck_assert_msg(rc == 0, "append: %s", cog_error_last());
	return seq;
}

START_TEST(log_sequences)
{
	for (uint64_t i = 1; i <= 20; i++) {
		char rec[32];
		snprintf(rec, sizeof(rec), "{\"i\":%llu}", (unsigned long long)i);
		ck_assert_uint_eq(append("log-a", rec), i);
	}
	ck_assert_uint_eq(append("log-b", "\"b\""), 1);
	struct records r = { .n = 0 };
	ck_assert_int_eq(cog_storage_read(st, "log-a", 0, 0, collect_record, &r), 0);
	ck_assert_int_eq(r.n, 20);
	for (int i = 0; i < 20; i++)
		ck_assert_uint_eq(r.seq[i], (uint64_t)i + 1);
	ck_assert_str_eq(r.text[4], "{\"i\":5}");
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(cog_storage_read(st, "log-a", 15, 3, collect_record, &r), 0);
	ck_assert_int_eq(r.n, 3);
	ck_assert_uint_eq(r.seq[0], 15);
	ck_assert_uint_eq(r.seq[2], 17);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(cog_storage_read(st, "log-a", 21, 0, collect_record, &r), 0);
	ck_assert_int_eq(cog_storage_read(st, "log-a", UINT64_MAX, 0, collect_record, &r), 0);
	ck_assert_int_eq(cog_storage_read(st, "nobody", 0, 0, collect_record, &r), 0);
	ck_assert_int_eq(r.n, 0);
}
END_TEST

START_TEST(log_truncate_keeps_numbering)
{
	for (int i = 0; i < 10; i++)
		append("log", "1");
	int rc = cog_storage_truncate(st, "log", 8);
	ck_assert_msg(rc == 0, "%s", cog_error_last());
	struct records r = { .n = 0 };
	ck_assert_int_eq(cog_storage_read(st, "log", 0, 0, collect_record, &r), 0);
	ck_assert_int_eq(r.n, 3);
	ck_assert_uint_eq(r.seq[0], 8);
	ck_assert_uint_eq(append("log", "2"), 11);
	ck_assert_int_eq(cog_storage_truncate(st, "log", 100), 0);
	ck_assert_uint_eq(append("log", "3"), 12);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(cog_storage_read(st, "log", 0, 0, collect_record, &r), 0);
	ck_assert_int_eq(r.n, 1);
	ck_assert_uint_eq(r.seq[0], 12);
}
END_TEST

/* ---- transactions ---- */

START_TEST(txn_commit_and_rollback)
{
	put("c", "keep", "\"old\"");
	put("c", "gone", "1");
	append("log", "1");

	ck_assert_int_eq(cog_storage_begin(st), 0);
	put("c", "keep", "\"new\"");
	put("c", "added", "2");
	ck_assert_int_eq(cog_storage_delete(st, "c", "gone"), 0);
	ck_assert_uint_eq(append("log", "2"), 2);
	ck_assert_uint_eq(append("log", "3"), 3);
	assert_doc("c", "keep", "\"new\""); /* a transaction sees its own writes */
	ck_assert_int_eq(cog_storage_rollback(st), 0);

	assert_doc("c", "keep", "\"old\"");
	assert_doc("c", "added", NULL);
	assert_doc("c", "gone", "1");
	struct records r = { .n = 0 };
	ck_assert_int_eq(cog_storage_read(st, "log", 0, 0, collect_record, &r), 0);
	ck_assert_int_eq(r.n, 1);

	ck_assert_int_eq(cog_storage_begin(st), 0);
	put("c", "keep", "\"newer\"");
	put("c", "keep", "\"newest\"");
	ck_assert_uint_eq(append("log", "4"), 2);
	ck_assert_int_eq(cog_storage_commit(st), 0);
	assert_doc("c", "keep", "\"newest\"");
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(cog_storage_read(st, "log", 0, 0, collect_record, &r), 0);
	ck_assert_int_eq(r.n, 2);
}
END_TEST

START_TEST(txn_misuse)
{
	ck_assert_int_eq(cog_storage_commit(st), COG_EINVAL);
	ck_assert_int_eq(cog_storage_rollback(st), COG_EINVAL);
	ck_assert_int_eq(cog_storage_begin(st), 0);
	ck_assert_int_eq(cog_storage_begin(st), COG_EBUSY);
	ck_assert_int_eq(cog_storage_commit(st), 0);
	ck_assert_int_eq(cog_storage_commit(st), COG_EINVAL);
	/* Freeing with an open transaction rolls it back. */
	ck_assert_int_eq(cog_storage_begin(st), 0);
	put("c", "uncommitted", "1");
	if (backend->persistent) {
		reopen();
		assert_doc("c", "uncommitted", NULL);
	}
}
END_TEST

struct blocked_get {
	pthread_t thread;
	volatile int done;
	char *value;
};

static void *get_thread(void *arg)
{
	struct blocked_get *b = arg;
	cog_storage_get(st, "c", "k", &b->value);
	b->done = 1;
	return NULL;
}

START_TEST(txn_isolates_other_threads)
{
	put("c", "k", "1");
	ck_assert_int_eq(cog_storage_begin(st), 0);
	put("c", "k", "2");
	struct blocked_get b = { .done = 0 };
	ck_assert_int_eq(pthread_create(&b.thread, NULL, get_thread, &b), 0);
	usleep(100 * 1000);
	ck_assert_msg(!b.done, "another thread ran inside an open transaction");
	ck_assert_int_eq(cog_storage_commit(st), 0);
	pthread_join(b.thread, NULL);
	ck_assert_str_eq(b.value, "2");
	cog_free(b.value);
}
END_TEST

#define WRITERS 4
#define PER_WRITER 300

static void *writer(void *arg)
{
	long id = (long)arg;
	for (int i = 0; i < PER_WRITER; i++) {
		char key[32], val[64];
		snprintf(key, sizeof(key), "w%ld-%04d", id, i);
		snprintf(val, sizeof(val), "{\"w\":%ld,\"i\":%d}", id, i);
		if (cog_storage_put(st, "c", key, val, 0) != 0 ||
		    cog_storage_append(st, "shared", val, NULL) != 0) {
			/* cog_error_last() is per thread: report it from here. */
			fprintf(stderr, "writer %ld: %s\n", id, cog_error_last());
			return (void *)1;
		}
	}
	return NULL;
}

static int count_doc(const char *key, const char *value, size_t len,
                     int64_t expires_at, void *ud)
{
	(*(int *)ud)++;
	return 0;
}

static int check_dense(uint64_t seq, const char *record, size_t len, void *ud)
{
	uint64_t *expect = ud;
	ck_assert_uint_eq(seq, *expect);
	(*expect)++;
	return 0;
}

START_TEST(concurrent_writers)
{
	pthread_t t[WRITERS];
	for (long i = 0; i < WRITERS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, writer, (void *)i), 0);
	for (int i = 0; i < WRITERS; i++) {
		void *ret;
		pthread_join(t[i], &ret);
		ck_assert_msg(ret == NULL, "writer %d failed: %s", i, cog_error_last());
	}
	int docs = 0;
	ck_assert_int_eq(cog_storage_scan(st, "c", "w", count_doc, &docs), 0);
	ck_assert_int_eq(docs, WRITERS * PER_WRITER);
	uint64_t next = 1;
	ck_assert_int_eq(cog_storage_read(st, "shared", 1, 0, check_dense, &next), 0);
	ck_assert_uint_eq(next, WRITERS * PER_WRITER + 1);
}
END_TEST

/* ---- bad input ---- */

START_TEST(bad_input)
{
	char *v = NULL;
	ck_assert_int_eq(cog_storage_put(NULL, "c", "k", "1", 0), COG_EINVAL);
	ck_assert_int_eq(cog_storage_put(st, NULL, "k", "1", 0), COG_EINVAL);
	ck_assert_int_eq(cog_storage_put(st, "", "k", "1", 0), COG_EINVAL);
	ck_assert_int_eq(cog_storage_put(st, "c", "", "1", 0), COG_EINVAL);
	ck_assert_int_eq(cog_storage_put(st, "c", "k", NULL, 0), COG_EINVAL);
	ck_assert_int_eq(cog_storage_get(st, "c", "k", NULL), COG_EINVAL);
	ck_assert_int_eq(cog_storage_get(st, "c", NULL, &v), COG_EINVAL);
	ck_assert_int_eq(cog_storage_scan(st, "c", "", NULL, NULL), COG_EINVAL);
	ck_assert_int_eq(cog_storage_append(st, "log", "{", NULL), COG_EINVAL);

	char big_key[COG_STORAGE_KEY_MAX + 2];
	memset(big_key, 'k', sizeof(big_key) - 1);
	big_key[sizeof(big_key) - 1] = '\0';
	ck_assert_int_eq(cog_storage_put(st, "c", big_key, "1", 0), COG_ERANGE);
	big_key[COG_STORAGE_KEY_MAX] = '\0';
	put("c", big_key, "1"); /* exactly at the limit is fine */
	char big_name[COG_STORAGE_NAME_MAX + 2];
	memset(big_name, 'n', sizeof(big_name) - 1);
	big_name[sizeof(big_name) - 1] = '\0';
	ck_assert_int_eq(cog_storage_put(st, big_name, "k", "1", 0), COG_ERANGE);

	ck_assert_int_eq(cog_storage_put(st, "c", "bad\xff", "1", 0), COG_EINVAL);
	ck_assert_msg(strstr(cog_error_last(), "UTF-8"), "%s", cog_error_last());
	ck_assert_int_eq(cog_storage_put(st, "c", "k", "\"\xc0\xaf\"", 0), COG_EINVAL);

	/* A bad value never clobbers what is stored. */
	put("c", "k", "{\"safe\":true}");
	ck_assert_int_eq(cog_storage_put(st, "c", "k", "{\"a\":1,}", 0), COG_EINVAL);
	ck_assert_msg(strstr(cog_error_last(), "byte 7"), "%s", cog_error_last());
	ck_assert_int_eq(cog_storage_put(st, "c", "k", "{} {}", 0), COG_EINVAL);
	ck_assert_int_eq(cog_storage_put(st, "c", "k", "", 0), COG_EINVAL);
	ck_assert_int_eq(cog_storage_put(st, "c", "k", "[01]", 0), COG_EINVAL);
	assert_doc("c", "k", "{\"safe\":true}");
}
END_TEST

START_TEST(large_value)
{
	size_t n = 1024 * 1024;
	char *big = malloc(n + 3);
	big[0] = '"';
	for (size_t i = 1; i <= n; i++)
		big[i] = (char)('a' + i % 26);
	big[n + 1] = '"';
	big[n + 2] = '\0';
	put("c", "big", big);
	char *v = get("c", "big");
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(strcmp(v, big), 0);
	cog_free(v);
	free(big);
}
END_TEST

START_TEST(describe)
{
	char *json = NULL;
	ck_assert_int_eq(cog_storage_describe(st, &json), 0);
	ck_assert_msg(strstr(json, "\"backend\""), "%s", json);
	cog_free(json);
}
END_TEST

/* ---- persistence (persistent backends) ---- */

START_TEST(reopen_keeps_everything)
{
	put("c", "k", "{\"v\":1}");
	append("log", "1");
	append("log", "2");
	ck_assert_int_eq(cog_storage_truncate(st, "log", 2), 0);
	reopen();
	assert_doc("c", "k", "{\"v\":1}");
	ck_assert_uint_eq(append("log", "3"), 3);
	struct records r = { .n = 0 };
	ck_assert_int_eq(cog_storage_read(st, "log", 0, 0, collect_record, &r), 0);
	ck_assert_int_eq(r.n, 2);
	ck_assert_uint_eq(r.seq[0], 2);
}
END_TEST

/* A child killed in the middle of a transaction must leave the old state. */
START_TEST(torn_write_leaves_old_state)
{
	put("c", "base", "\"committed\"");
	cog_storage_free(st);
	st = NULL;
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (backend->open(&st, backend->state) != 0)
			_exit(2);
		cog_storage_begin(st);
		cog_storage_put(st, "c", "base", "\"torn\"", 0);
		for (int i = 0; i < 2000; i++) {
			char key[32];
			snprintf(key, sizeof(key), "torn-%d", i);
			cog_storage_put(st, "c", key, "{\"x\":1}", 0);
			cog_storage_append(st, "log", "1", NULL);
		}
		raise(SIGKILL);
		_exit(3);
	}
	int status;
	waitpid(pid, &status, 0);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		"child did not die by SIGKILL (status %d)", status);
	reopen();
	assert_doc("c", "base", "\"committed\"");
	assert_doc("c", "torn-0", NULL);
	assert_doc("c", "torn-1999", NULL);
	ck_assert_uint_eq(append("log", "1"), 1);
}
END_TEST

static int check_batch(const char *key, const char *value, size_t len,
                       int64_t expires_at, void *ud)
{
	int *counts = ud;
	int batch = atoi(key + 1);
	ck_assert_int_lt(batch, 10000);
	counts[batch]++;
	return 0;
}

/* Kill a child at random moments while it commits batches: every batch is
 * whole or absent, and the log agrees with the documents. */
START_TEST(kill_during_commits)
{
	static int counts[10000];
	int killed = 0;
	srand((unsigned int)getpid());
	for (int round = 0; round < 5; round++) {
		cog_storage_free(st);
		st = NULL;
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			if (backend->open(&st, backend->state) != 0)
				_exit(2);
			for (int b = round * 1000; b < round * 1000 + 1000; b++) {
				cog_storage_begin(st);
				for (int i = 0; i < 20; i++) {
					char key[32];
					snprintf(key, sizeof(key), "b%05d-%02d", b, i);
					cog_storage_put(st, "batches", key, "{\"pad\":\"xxxxxxxxxxxxxxxx\"}", 0);
				}
				cog_storage_append(st, "batches", "1", NULL);
				cog_storage_commit(st);
			}
			_exit(0);
		}
		usleep((useconds_t)(20000 + rand() % 80000));
		kill(pid, SIGKILL);
		int status = 0;
		waitpid(pid, &status, 0);
		ck_assert_msg(!WIFEXITED(status) || WEXITSTATUS(status) == 0,
			"child failed before the kill (exit %d)", WEXITSTATUS(status));
		killed += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
		reopen();
	}
	memset(counts, 0, sizeof(counts));
	ck_assert_int_eq(cog_storage_scan(st, "batches", "", check_batch, counts), 0);
	int whole = 0;
	for (int b = 0; b < 10000; b++) {
		ck_assert_msg(counts[b] == 0 || counts[b] == 20,
			"batch %d is torn: %d of 20 documents", b, counts[b]);
		whole += counts[b] == 20;
	}
	struct records r = { .n = 0 };
	uint64_t next = 1;
	ck_assert_int_eq(cog_storage_read(st, "batches", 0, 0, check_dense, &next), 0);
	ck_assert_int_eq((int)(next - 1), whole);
	/* The test means something only if kills landed mid-run and work got
	 * committed between them. */
	ck_assert_msg(killed >= 1, "no child was killed mid-run");
	ck_assert_msg(whole > 0, "no batch was ever committed");
	(void)r;
}
END_TEST

Suite *storage_conformance_suite(const conformance_backend *b)
{
	static char names[MAX_BACKENDS][128];
	if (slot_count == MAX_BACKENDS) {
		fprintf(stderr, "storage_conformance_suite: more than %d backends\n",
			MAX_BACKENDS);
		abort();
	}
	int slot = slot_count++;
	slots[slot] = b;
	snprintf(names[slot], sizeof(names[slot]), "conformance/%s", b->name);
	Suite *s = suite_create(names[slot]);
	TCase *tc = tcase_create("storage");
	tcase_add_unchecked_fixture(tc, selectors[slot], NULL);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, doc_round_trip);
	tcase_add_test(tc, doc_missing_and_delete);
	tcase_add_test(tc, collections_are_separate);
	tcase_add_test(tc, scan_prefix_in_order);
	tcase_add_test(tc, scan_stop_and_error);
	tcase_add_test(tc, scan_callback_cannot_reenter);
	tcase_add_test(tc, expiry);
	tcase_add_test(tc, log_sequences);
	tcase_add_test(tc, log_truncate_keeps_numbering);
	tcase_add_test(tc, txn_commit_and_rollback);
	tcase_add_test(tc, txn_misuse);
	tcase_add_test(tc, txn_isolates_other_threads);
	tcase_add_test(tc, concurrent_writers);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, large_value);
	tcase_add_test(tc, describe);
	if (b->persistent) {
		tcase_add_test(tc, reopen_keeps_everything);
		tcase_add_test(tc, torn_write_leaves_old_state);
		tcase_add_test(tc, kill_during_commits);
	}
	storage_conformance_add_memory_cases(tc, b);
	suite_add_tcase(s, tc);
	return s;
}
