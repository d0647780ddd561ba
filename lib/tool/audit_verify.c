/*
 * Verifying the audit log (cog_audit_verify): every entry's hash is
 * recomputed from the stored bytes and the chain followed to the head, so
 * that an entry edited, removed, reordered or cut off the end is found
 * and named. The format is described in audit.c.
 *
 * One pass over the log in storage order, in batches. Each record must be
 * well formed (malformed), hash to its own "hash" (edited), and continue
 * the chain: "seq" one more than the last good entry's and "prev" its hash.
 * A self-consistent entry with a higher seq than expected is a gap: the
 * rest of the log is searched for the missing numbers (reordered if one
 * turns up later, removed if none does). A lower seq is reordered. The
 * first problem is the one reported; the pass goes on only to count
 * records and resolve a gap. The storage's own sequence numbers give the
 * reading order and nothing else: whoever can edit the file can change
 * them too.
 *
 * The head is compared with the chain's end last (see verify_run), in a
 * way that entries appended while the pass runs raise no false alarm.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "audit_int.h"

/* Rounds of catching up with appends that happen while verifying. */
#define VERIFY_MAX_ROUNDS 16

/* Where the pass is, and its first finding. */
typedef struct verify_state {
	audit_key key;
	uint64_t expected;                 /* seq the next entry must have */
	uint8_t prev[COG_HASH_BYTES];      /* hash of the last good entry */
	uint64_t records;                  /* records read */
	uint64_t next_storage_seq;
	size_t batch_records;
	cog_buf scratch;                   /* prev || canonical text */

	const char *problem;               /* NULL while intact */
	uint64_t bad_seq;
	char detail[320];
	bool gap_open;                     /* searching for seqs [gap_from, gap_to) */
	uint64_t gap_from, gap_to;
} verify_state;

static void set_problem(verify_state *vs, const char *problem, uint64_t seq,
                        const char *fmt, ...) COG_PRINTF(4, 5);

static void set_problem(verify_state *vs, const char *problem, uint64_t seq,
                        const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(vs->detail, sizeof(vs->detail), fmt, ap);
	va_end(ap);
	vs->problem = problem;
	vs->bad_seq = seq;
}

/* The stored hash, from the record's fixed-format last member. */
static bool split_hash(const char *record, size_t len, uint8_t hash[COG_HASH_BYTES])
{
	if (len < AUDIT_HASH_SUFFIX_LEN + 2)
		return false;
	const char *suffix = record + len - AUDIT_HASH_SUFFIX_LEN;
	return memcmp(suffix, ",\"hash\":\"", 9) == 0 &&
		memcmp(suffix + 9 + AUDIT_HEX_LEN, "\"}", 2) == 0 &&
		audit_hex32_decode(suffix + 9, AUDIT_HEX_LEN, hash);
}

/* Check one record against the chain; sets vs->problem on a finding. */
static int check_entry(verify_state *vs, const char *record, size_t len,
                       const cJSON *json)
{
	uint64_t seq = 0;
	uint8_t prev[COG_HASH_BYTES], stored[COG_HASH_BYTES], computed[COG_HASH_BYTES];
	uint64_t at = vs->expected;
	if (!audit_json_seq(json, "seq", &seq)) {
		set_problem(vs, "malformed", at, "entry %" PRIu64 " is malformed "
			"(no valid \"seq\")", at);
		return COG_OK;
	}
	if (!audit_json_hash(json, "prev", prev) || !split_hash(record, len, stored)) {
		set_problem(vs, "malformed", at, "entry %" PRIu64 " is malformed "
			"(\"prev\" or \"hash\" is missing or not where it belongs)", at);
		return COG_OK;
	}

	cog_buf *buf = &vs->scratch;
	cog_buf_clear(buf);
	cog_buf_put(buf, prev, COG_HASH_BYTES);
	cog_buf_put(buf, record, len - AUDIT_HASH_SUFFIX_LEN);
	cog_buf_putc(buf, '}');
	if (buf->failed)
		return cog__oom("audit verify");
	int rc = audit_keyed_hash(computed, buf->ptr, buf->len, &vs->key);
	if (rc)
		return rc;
	if (sodium_memcmp(computed, stored, COG_HASH_BYTES) != 0) {
		if (seq == at)
			set_problem(vs, "edited", at, "entry %" PRIu64 " was edited "
				"(hash mismatch)", at);
		else
			set_problem(vs, "edited", at, "entry %" PRIu64 " was edited "
				"(hash mismatch; it now claims seq %" PRIu64 ")", at, seq);
		return COG_OK;
	}

	if (seq > at) {
		/* Missing numbers: removed, unless they turn up further on. */
		if (at == 1)
			set_problem(vs, "removed", at, "entries 1..%" PRIu64 " were "
				"removed (the log starts at entry %" PRIu64 ")", seq - 1, seq);
		else if (seq == at + 1)
			set_problem(vs, "removed", at, "entry %" PRIu64 " was removed "
				"(entry %" PRIu64 " follows entry %" PRIu64 ")", at, seq, at - 1);
		else
			set_problem(vs, "removed", at, "entries %" PRIu64 "..%" PRIu64
				" were removed (entry %" PRIu64 " follows entry %" PRIu64 ")",
				at, seq - 1, seq, at - 1);
		vs->gap_open = true;
		vs->gap_from = at;
		vs->gap_to = seq;
		return COG_OK;
	}
	if (seq < at) {
		set_problem(vs, "reordered", at, "entry %" PRIu64 " is out of order "
			"(entry %" PRIu64 " appears again in its place)", at, seq);
		return COG_OK;
	}
	if (memcmp(prev, vs->prev, COG_HASH_BYTES) != 0) {
		/* Self-consistent but linked elsewhere: the predecessor (or this
		 * entry) was rewritten with its hash recomputed. */
		if (at == 1)
			set_problem(vs, "edited", 1, "entry 1 was edited (its prev is "
				"not the chain's start)");
		else
			set_problem(vs, "edited", at - 1, "entry %" PRIu64 " was edited "
				"(entry %" PRIu64 " does not link to it)", at - 1, at);
		return COG_OK;
	}
	memcpy(vs->prev, stored, COG_HASH_BYTES);
	vs->expected++;
	return COG_OK;
}

static int verify_record(uint64_t storage_seq, const char *record, size_t len,
                         void *ud)
{
	verify_state *vs = ud;
	vs->records++;
	vs->batch_records++;
	vs->next_storage_seq = storage_seq + 1;
	if (vs->problem && !vs->gap_open)
		return COG_OK; /* only counting now */

	cJSON *json = NULL;
	int rc = audit_parse_record(record, len, &json);
	if (rc == COG_ENOMEM)
		return rc;
	if (vs->gap_open) {
		uint64_t seq;
		if (json && audit_json_seq(json, "seq", &seq) &&
		    seq >= vs->gap_from && seq < vs->gap_to) {
			set_problem(vs, "reordered", vs->gap_from, "entry %" PRIu64
				" is out of order (entry %" PRIu64 " is stored in its place; "
				"entry %" PRIu64 " turns up later)", vs->gap_from, vs->gap_to,
				seq);
			vs->gap_open = false;
		}
		cJSON_Delete(json);
		return COG_OK;
	}
	if (rc) {
		set_problem(vs, "malformed", vs->expected, "entry %" PRIu64
			" is malformed (not a JSON object)", vs->expected);
		return COG_OK;
	}
	rc = check_entry(vs, record, len, json);
	cJSON_Delete(json);
	return rc;
}

/* Read every record from vs->next_storage_seq on, in batches. */
static int verify_scan(cog_storage *storage, verify_state *vs)
{
	int rc;
	do {
		vs->batch_records = 0;
		rc = cog_storage_read(storage, AUDIT_LOG, vs->next_storage_seq,
			AUDIT_READ_BATCH, verify_record, vs);
	} while (!rc && vs->batch_records == AUDIT_READ_BATCH);
	if (rc)
		return audit_storage_failure(rc, "read");
	return COG_OK;
}

/* Compare the end of the verified chain with a head read before or after
 * the scan. Returns true when the verdict is final. */
static int verify_head_settled(verify_state *vs, const audit_head *head,
                               bool read_before_scan, bool *settled)
{
	uint64_t last = vs->expected - 1;
	*settled = true;
	if (!head->present) {
		if (last == 0)
			return COG_OK;
		if (read_before_scan) {
			*settled = false; /* maybe the first append raced us */
			return COG_OK;
		}
		set_problem(vs, "truncated", last + 1, "the head is missing (the log "
			"has %" PRIu64 " entries; entries after them may have been "
			"removed)", last);
		return COG_OK;
	}
	bool mac_ok = false;
	int rc = audit_head_mac_ok(head, &vs->key, &mac_ok);
	if (rc)
		return rc;
	if (!mac_ok) {
		set_problem(vs, "truncated", (head->seq < last ? head->seq : last) + 1,
			"the head's MAC does not verify%s: it was rewritten (entries "
			"after %" PRIu64 " may have been removed)",
			vs->key.len ? "" : " (no key is set)", last);
		return COG_OK;
	}
	if (head->seq == last) {
		if (memcmp(head->hash, vs->prev, COG_HASH_BYTES) != 0)
			set_problem(vs, "edited", last, "entry %" PRIu64 " was edited "
				"(its hash is not the one recorded in the head)", last);
		return COG_OK;
	}
	if (head->seq > last) {
		if (read_before_scan)
			set_problem(vs, "truncated", last + 1, "the log was truncated: "
				"it ends at entry %" PRIu64 " but the head records %" PRIu64,
				last, head->seq);
		else
			*settled = false; /* appended since the scan: read on */
		return COG_OK;
	}
	if (read_before_scan) {
		*settled = false; /* appended since the head was read */
		return COG_OK;
	}
	set_problem(vs, "edited", head->seq + 1, "entries %" PRIu64 "..%" PRIu64
		" lie past the head (seq %" PRIu64 "): they were added outside the "
		"audit writer, or the head was rolled back", head->seq + 1, last,
		head->seq);
	return COG_OK;
}

static int head_read_checked(cog_storage *storage, audit_head *head,
                             bool *malformed)
{
	*malformed = false;
	int rc = audit_head_read(storage, head);
	if (rc != COG_EINTEGRITY)
		return rc;
	*malformed = true;
	return COG_OK;
}

/*
 * Scan, then compare the chain's end with a head read before that scan:
 * everything the head covers was committed before the scan began, so a
 * head past the last entry means truncation. A head behind it (or none)
 * may just mean appends since; it is read again, and a head read after
 * the scan must cover what the scan saw. When it is ahead, the next round
 * scans on with it as the head read before.
 */
static int verify_run(cog_storage *storage, verify_state *vs)
{
	audit_head head;
	bool malformed = false, settled = false;
	int rc = head_read_checked(storage, &head, &malformed);
	for (int round = 0; !rc && !settled; round++) {
		if ((rc = verify_scan(storage, vs)))
			break;
		if (vs->problem || malformed)
			break;
		rc = verify_head_settled(vs, &head, true, &settled);
		if (rc || settled || vs->problem)
			break;
		rc = head_read_checked(storage, &head, &malformed);
		if (rc || malformed)
			break;
		rc = verify_head_settled(vs, &head, false, &settled);
		if (rc || vs->problem)
			break;
		if (round == VERIFY_MAX_ROUNDS)
			break; /* the log keeps growing: report what was checked */
	}
	if (malformed && !vs->problem)
		set_problem(vs, "malformed", vs->expected, "the head document (%s/%s) "
			"is malformed", AUDIT_HEAD_COLLECTION, AUDIT_HEAD_KEY);
	vs->gap_open = false; /* a gap nothing filled is a plain removal */
	return rc;
}

static int verify_report(const verify_state *vs, char **report_json)
{
	cog_buf buf = COG_BUF_INIT;
	if (!vs->problem) {
		cog_buf_printf(&buf, "{\"ok\":true,\"entries\":%" PRIu64 ",\"head\":",
			vs->expected - 1);
		if (vs->expected == 1) {
			cog_buf_puts(&buf, "null}");
		} else {
			char hex[AUDIT_HEX_LEN + 1];
			cog_hex_encode(vs->prev, COG_HASH_BYTES, hex);
			cog_buf_printf(&buf, "\"%s\"}", hex);
		}
	} else {
		cog_buf_printf(&buf, "{\"ok\":false,\"entries\":%" PRIu64
			",\"first_bad_seq\":%" PRIu64 ",\"problem\":\"%s\",\"detail\":",
			vs->records, vs->bad_seq, vs->problem);
		cog_buf_put_json_string(&buf, vs->detail, strlen(vs->detail));
		cog_buf_putc(&buf, '}');
	}
	char *text = cog_buf_detach(&buf);
	if (!text)
		return cog__oom("cog_audit_verify");
	if (report_json)
		*report_json = text;
	else
		cog_free(text);
	return COG_OK;
}

int cog_audit_verify(cog_ctx *ctx, char **report_json)
{
	static const char fn[] = "cog_audit_verify";
	if (report_json)
		*report_json = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	tool_registry *reg;
	cog_storage *storage;
	int rc = audit_ctx_storage(ctx, &reg, &storage);
	if (rc)
		return rc;

	verify_state *vs = cog__calloc(1, sizeof(*vs));
	if (!vs)
		return cog__oom(fn);
	pthread_mutex_lock(&reg->audit_lock);
	audit_key_copy(reg, &vs->key);
	pthread_mutex_unlock(&reg->audit_lock);
	vs->expected = 1;
	vs->next_storage_seq = 1;
	rc = verify_run(storage, vs);
	if (!rc)
		rc = verify_report(vs, report_json);
	if (!rc && vs->problem)
		rc = cog__error(COG_EINTEGRITY, "audit log: %s", vs->detail);
	cog_buf_dispose(&vs->scratch);
	audit_key_wipe(&vs->key);
	cog_free(vs);
	return rc;
}
