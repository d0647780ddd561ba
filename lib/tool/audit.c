/*
 * The audit log: one hash-chained entry per tool call, in the storage log
 * "audit", with the chain's head in document "audit"/"head".
 *
 * What is hashed. An entry is written as compact JSON whose members come in
 * a fixed order and whose last member is "hash":
 *   {"seq":N,"time":..,"principal":..,"agent":..,"tool":..,"call_id":..,
 *    "arguments":..,"result_digest":..,"duration_ms":..,"outcome":..,
 *    "detail":..,"prev":"<64 hex>","hash":"<64 hex>"}
 * The canonical text of the entry without "hash" is the stored text with
 * its last 75 bytes (`,"hash":"` + 64 lowercase hex digits + `"}`) replaced
 * by `}`, and
 *   hash = BLAKE2b-256[key](prev as 32 raw bytes || canonical text).
 * Verification recomputes it from the stored bytes, so the storage must
 * return records byte for byte as appended (both shipped backends do).
 *
 * The head, {"seq":N,"hash":"<hex>","mac":"<hex>"}, is written in the
 * same storage transaction as the entry. Its "mac" is
 *   BLAKE2b-256[key]("cog-audit-head-v1\0" || seq as 8 bytes big-endian ||
 *                    hash as 32 raw bytes),
 * so that with a key nobody else can cut entries off the end and write a
 * head that matches the new last entry (copying that entry's hash is not
 * enough). Appends refuse to build on a head that does not verify, which
 * would otherwise launder such a forgery into a valid chain.
 *
 * Locking: the storage transaction serialises appenders (threads through
 * the wrapper's lock, processes through SQLite's BEGIN IMMEDIATE). The
 * audit lock is taken after begin(), never before: a thread that already
 * holds a transaction on the storage gets COG_EBUSY from begin() at once
 * instead of waiting for a lock held by a thread that waits for it.
 *
 * This file writes the log and holds what its readers share (audit_int.h):
 * audit_verify.c checks the chain, audit_read.c lists the entries.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "audit_int.h"

static const char head_domain[] = "cog-audit-head-v1"; /* hashed with its NUL */

/* ---- helpers shared with audit_verify.c and audit_read.c ---- */

/* The caller holds reg->audit_lock. */
void audit_key_copy(const tool_registry *reg, audit_key *key)
{
	memcpy(key->bytes, reg->audit_key, sizeof(key->bytes));
	key->len = reg->audit_key_len;
}

void audit_key_wipe(audit_key *key)
{
	sodium_memzero(key, sizeof(*key));
}

int audit_keyed_hash(uint8_t out[COG_HASH_BYTES], const void *data, size_t len,
                     const audit_key *key)
{
	return cog_hash_blake2b(out, COG_HASH_BYTES, data, len,
		key->len ? key->bytes : NULL, key->len);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* upper case is not canonical */
}

/* Exactly 64 lowercase hex digits (s need not be NUL-terminated after). */
bool audit_hex32_decode(const char *s, size_t len, uint8_t out[COG_HASH_BYTES])
{
	if (!s || len != AUDIT_HEX_LEN)
		return false;
	for (size_t i = 0; i < COG_HASH_BYTES; i++) {
		int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* A JSON member holding a sequence number: an integer 1..2^53. */
bool audit_json_seq(const cJSON *object, const char *name, uint64_t *seq)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
	if (!cJSON_IsNumber(item))
		return false;
	double v = item->valuedouble;
	if (!(v >= 1 && v <= AUDIT_SEQ_MAX) || floor(v) != v)
		return false;
	*seq = (uint64_t)v;
	return true;
}

/* A JSON member holding a hash as 64 lowercase hex digits. */
bool audit_json_hash(const cJSON *object, const char *name,
                     uint8_t out[COG_HASH_BYTES])
{
	const char *s = cog_json_get_string(object, name);
	return s && audit_hex32_decode(s, strlen(s), out);
}

/* Parse one record. COG_OK with *json set, COG_EINVAL when it is not JSON
 * (no message kept), COG_ENOMEM. */
int audit_parse_record(const char *record, size_t len, cJSON **json)
{
	*json = NULL;
	if (strlen(record) != len)
		return COG_EINVAL;
	int rc = cog_json_parse(json, record, "audit entry");
	if (rc == COG_EINVAL)
		cog_error_clear();
	if (!rc && !cJSON_IsObject(*json)) {
		cJSON_Delete(*json);
		*json = NULL;
		rc = COG_EINVAL;
	}
	return rc;
}


/* Storage failures become COG_EIO (COG_ENOMEM stays) with context. */
int audit_storage_failure(int rc, const char *what)
{
	return cog__error_wrap(rc == COG_ENOMEM ? COG_ENOMEM : COG_EIO,
		"audit log: %s", what);
}

/* The storage the log is in. */
int audit_storage(tool_registry *reg, cog_storage **out)
{
	*out = tool_storage(reg);
	if (*out)
		return COG_OK;
	int code = cog_error_last_code();
	return cog__error_wrap(code == COG_ENOMEM ? COG_ENOMEM : COG_EIO,
		"audit log: no storage");
}

int audit_ctx_storage(cog_ctx *ctx, tool_registry **reg, cog_storage **out)
{
	int rc = tool_registry_get(ctx, reg);
	return rc ? rc : audit_storage(*reg, out);
}

/* ---- the head ---- */

static int head_mac(uint8_t out[COG_HASH_BYTES], uint64_t seq,
                    const uint8_t hash[COG_HASH_BYTES], const audit_key *key)
{
	uint8_t msg[sizeof(head_domain) + 8 + COG_HASH_BYTES];
	memcpy(msg, head_domain, sizeof(head_domain));
	for (int i = 0; i < 8; i++)
		msg[sizeof(head_domain) + (size_t)i] = (uint8_t)(seq >> (56 - 8 * i));
	memcpy(msg + sizeof(head_domain) + 8, hash, COG_HASH_BYTES);
	return audit_keyed_hash(out, msg, sizeof(msg), key);
}

/* Read the head. COG_OK with head->present false when there is none;
 * COG_EINTEGRITY (no message) when it is not a well-formed head. */
int audit_head_read(cog_storage *storage, audit_head *head)
{
	memset(head, 0, sizeof(*head));
	char *text = NULL;
	int rc = cog_storage_get(storage, AUDIT_HEAD_COLLECTION, AUDIT_HEAD_KEY, &text);
	if (rc == COG_ENOTFOUND)
		return COG_OK;
	if (rc)
		return audit_storage_failure(rc, "read the head");
	cJSON *json = NULL;
	rc = cog_json_parse(&json, text, "audit head");
	cog_free(text);
	if (rc == COG_ENOMEM)
		return rc;
	bool ok = rc == COG_OK && cJSON_IsObject(json) &&
		audit_json_seq(json, "seq", &head->seq) &&
		audit_json_hash(json, "hash", head->hash) &&
		audit_json_hash(json, "mac", head->mac);
	cJSON_Delete(json);
	if (!ok)
		return COG_EINTEGRITY;
	head->present = true;
	return COG_OK;
}

/* Does the head's "mac" verify under key? */
int audit_head_mac_ok(const audit_head *head, const audit_key *key, bool *ok)
{
	uint8_t mac[COG_HASH_BYTES];
	int rc = head_mac(mac, head->seq, head->hash, key);
	if (rc)
		return rc;
	*ok = sodium_memcmp(mac, head->mac, COG_HASH_BYTES) == 0;
	return COG_OK;
}

static int head_write(cog_storage *storage, uint64_t seq,
                      const uint8_t hash[COG_HASH_BYTES], const audit_key *key)
{
	uint8_t mac[COG_HASH_BYTES];
	char hash_hex[AUDIT_HEX_LEN + 1], mac_hex[AUDIT_HEX_LEN + 1];
	int rc = head_mac(mac, seq, hash, key);
	if (rc)
		return rc;
	cog_hex_encode(hash, COG_HASH_BYTES, hash_hex);
	cog_hex_encode(mac, COG_HASH_BYTES, mac_hex);
	char text[64 + 2 * AUDIT_HEX_LEN];
	snprintf(text, sizeof(text), "{\"seq\":%" PRIu64 ",\"hash\":\"%s\",\"mac\":\"%s\"}",
		seq, hash_hex, mac_hex);
	rc = cog_storage_put(storage, AUDIT_HEAD_COLLECTION, AUDIT_HEAD_KEY, text, 0);
	return rc ? audit_storage_failure(rc, "write the head") : COG_OK;
}


/* ---- building an entry ---- */

/* A copy of s in which bytes that are not UTF-8 became U+FFFD, so that a
 * stray byte in a name cannot make the entry unstorable. NULL on OOM. */
static char *utf8_clean(const char *s)
{
	size_t len = strlen(s), bad;
	cog_buf clean = COG_BUF_INIT;
	while (!cog_utf8_valid(s, len, &bad)) {
		cog_buf_put(&clean, s, bad);
		cog_buf_puts(&clean, "\xEF\xBF\xBD");
		s += bad + 1;
		len -= bad + 1;
	}
	cog_buf_put(&clean, s, len);
	return cog_buf_detach(&clean);
}

/* A JSON string of s (made valid UTF-8), or null. */
int audit_put_string(cog_buf *buf, const char *s)
{
	if (!s)
		return cog_buf_puts(buf, "null");
	size_t len = strlen(s), bad;
	if (cog_utf8_valid(s, len, &bad))
		return cog_buf_put_json_string(buf, s, len);
	char *clean = utf8_clean(s);
	if (!clean)
		return cog__oom("audit entry");
	int rc = cog_buf_put_json_string(buf, clean, strlen(clean));
	cog_free(clean);
	return rc;
}

static int put_redacted_string(cog_buf *buf, const char *s)
{
	if (!s)
		return cog_buf_puts(buf, "null");
	char *valid = utf8_clean(s);
	char *clean = valid ? cog__redact_text(valid) : NULL;
	cog_free(valid);
	if (!clean)
		return cog__oom("audit entry: redaction");
	int rc = cog_buf_put_json_string(buf, clean, strlen(clean));
	cog_free(clean);
	return rc;
}

static int put_redacted_json(cog_buf *buf, const cJSON *value)
{
	if (!value)
		return cog_buf_puts(buf, "null");
	cJSON *copy = cJSON_Duplicate(value, true);
	if (!copy)
		return cog__oom("audit entry: arguments");
	int rc = COG_OK;
	if (cJSON_IsString(copy)) {
		char *clean = cog__redact_text(copy->valuestring);
		rc = clean ? audit_put_string(buf, clean) : cog__oom("audit entry: redaction");
		cog_free(clean);
		cJSON_Delete(copy);
		return rc;
	}
	if (cJSON_IsObject(copy) || cJSON_IsArray(copy))
		rc = cog__redact_json(copy, "audit entry: redaction");
	char *text = rc ? NULL : cog_json_print(copy);
	cJSON_Delete(copy);
	if (rc)
		return rc;
	if (!text)
		return COG_ENOMEM;
	rc = cog_buf_puts(buf, text);
	cog_free(text);
	return rc;
}

/* The principal as JSON (redacted); text that is not JSON is kept as a
 * (redacted) string rather than lost. */
static int put_principal(cog_buf *buf, const char *principal)
{
	if (!principal)
		return cog_buf_puts(buf, "null");
	cJSON *json = NULL;
	int rc = cog_json_parse(&json, principal, "audit entry: principal");
	if (rc == COG_ENOMEM)
		return rc;
	if (rc) {
		cog_error_clear();
		return put_redacted_string(buf, principal);
	}
	rc = put_redacted_json(buf, json);
	cJSON_Delete(json);
	return rc;
}

/* Everything between "time" and "prev": independent of the chain, so it
 * is built before the transaction. Starts with a comma. */
static int build_fields(cog_buf *buf, const tool_audit_entry *e)
{
	int rc = cog_buf_puts(buf, ",\"principal\":");
	if (!rc)
		rc = put_principal(buf, e->principal);
	if (!rc)
		rc = cog_buf_puts(buf, ",\"agent\":");
	if (!rc)
		rc = audit_put_string(buf, e->agent);
	if (!rc)
		rc = cog_buf_puts(buf, ",\"tool\":");
	if (!rc)
		rc = audit_put_string(buf, e->tool);
	if (!rc)
		rc = cog_buf_puts(buf, ",\"call_id\":");
	if (!rc)
		rc = audit_put_string(buf, e->call_id);
	if (!rc)
		rc = cog_buf_puts(buf, ",\"arguments\":");
	if (!rc)
		rc = put_redacted_json(buf, e->arguments);
	if (!rc)
		rc = cog_buf_puts(buf, ",\"result_digest\":");
	if (!rc && e->result) {
		uint8_t digest[COG_HASH_BYTES];
		char hex[AUDIT_HEX_LEN + 1];
		rc = cog_hash_blake2b(digest, sizeof(digest), e->result, e->result_len,
			NULL, 0);
		if (!rc) {
			cog_hex_encode(digest, sizeof(digest), hex);
			rc = cog_buf_printf(buf, "\"%s\"", hex);
		}
	} else if (!rc) {
		rc = cog_buf_puts(buf, "null");
	}
	double ms = isfinite(e->duration_ms) && e->duration_ms > 0 ? e->duration_ms : 0;
	if (!rc)
		rc = cog_buf_printf(buf, ",\"duration_ms\":%.3f,\"outcome\":", ms);
	if (!rc)
		rc = audit_put_string(buf, e->outcome);
	if (!rc)
		rc = cog_buf_puts(buf, ",\"detail\":");
	if (!rc)
		rc = put_redacted_string(buf, e->detail);
	if (!rc && buf->failed)
		rc = cog__oom("audit entry");
	return rc;
}

/* Is the log empty? Used only when there is no head. */
static int log_is_empty_cb(uint64_t seq, const char *record, size_t len, void *ud)
{
	(void)seq, (void)record, (void)len;
	*(bool *)ud = false;
	return COG_STORAGE_STOP;
}

/* The chain position the next entry goes to: seq and prev. */
static int chain_tail(cog_storage *storage, const audit_key *key,
                      uint64_t *seq, uint8_t prev[COG_HASH_BYTES])
{
	audit_head head;
	int rc = audit_head_read(storage, &head);
	if (rc == COG_EINTEGRITY)
		return cog__error(COG_EIO, "audit log: the head document (%s/%s) is "
			"malformed; refusing to extend the chain (see cog_audit_verify)",
			AUDIT_HEAD_COLLECTION, AUDIT_HEAD_KEY);
	if (rc)
		return rc;
	if (!head.present) {
		bool empty = true;
		rc = cog_storage_read(storage, AUDIT_LOG, 1, 1, log_is_empty_cb, &empty);
		if (rc)
			return audit_storage_failure(rc, "read");
		if (!empty)
			return cog__error(COG_EIO, "audit log: the log has entries but its "
				"head is missing; refusing to extend the chain (see "
				"cog_audit_verify)");
		*seq = 1;
		memset(prev, 0, COG_HASH_BYTES);
		return COG_OK;
	}
	bool mac_ok = false;
	if ((rc = audit_head_mac_ok(&head, key, &mac_ok)))
		return rc;
	if (!mac_ok)
		return cog__error(COG_EIO, "audit log: the head's MAC does not verify "
			"under the %s; refusing to extend the chain (was the key changed, "
			"or the head rewritten? see cog_audit_verify)",
			key->len ? "current key" : "unkeyed hash (no key is set)");
	if (head.seq >= (uint64_t)AUDIT_SEQ_MAX)
		return cog__error(COG_EIO, "audit log: the chain is full");
	*seq = head.seq + 1;
	memcpy(prev, head.hash, COG_HASH_BYTES);
	return COG_OK;
}

/* Build, hash and store one entry plus the head, inside the transaction. */
static int append_locked(cog_storage *storage, const audit_key *key,
                         const cog_buf *fields)
{
	uint64_t seq;
	uint8_t prev[COG_HASH_BYTES], hash[COG_HASH_BYTES];
	int rc = chain_tail(storage, key, &seq, prev);
	if (rc)
		return rc;

	char time_text[32], prev_hex[AUDIT_HEX_LEN + 1], hash_hex[AUDIT_HEX_LEN + 1];
	cog_clock_format_iso8601(cog_clock_realtime_ms(), time_text);
	cog_hex_encode(prev, COG_HASH_BYTES, prev_hex);

	/* The hash input is prev's bytes followed by the canonical text; the
	 * record is the canonical text with "hash" put before its last '}'. */
	cog_buf buf = COG_BUF_INIT;
	cog_buf_put(&buf, prev, COG_HASH_BYTES);
	cog_buf_printf(&buf, "{\"seq\":%" PRIu64 ",\"time\":\"%s\"", seq, time_text);
	cog_buf_put(&buf, fields->ptr, fields->len);
	cog_buf_printf(&buf, ",\"prev\":\"%s\"}", prev_hex);
	if (!buf.failed)
		cog_buf_reserve(&buf, AUDIT_HASH_SUFFIX_LEN);
	if (buf.failed) {
		cog_buf_dispose(&buf);
		return cog__oom("audit entry");
	}
	rc = audit_keyed_hash(hash, buf.ptr, buf.len, key);
	if (!rc) {
		cog_hex_encode(hash, COG_HASH_BYTES, hash_hex);
		buf.len--; /* drop the '}' */
		cog_buf_printf(&buf, ",\"hash\":\"%s\"}", hash_hex);
		rc = buf.failed ? cog__oom("audit entry")
			: cog_storage_append(storage, AUDIT_LOG, buf.ptr + COG_HASH_BYTES, NULL);
		if (rc)
			rc = audit_storage_failure(rc, "append");
	}
	cog_buf_dispose(&buf);
	if (!rc)
		rc = head_write(storage, seq, hash, key);
	return rc;
}

int tool_audit_append(tool_registry *reg, const tool_audit_entry *entry)
{
	static const char fn[] = "tool_audit_append";
	COG_CHECK_ARG(reg, fn, "reg is NULL");
	COG_CHECK_ARG(entry, fn, "entry is NULL");
	COG_CHECK_ARG(entry->tool, fn, "entry->tool is NULL");
	COG_CHECK_ARG(entry->call_id, fn, "entry->call_id is NULL");
	COG_CHECK_ARG(entry->outcome, fn, "entry->outcome is NULL");
	COG_CHECK_ARG(entry->result || entry->result_len == 0, fn,
		"entry->result is NULL but result_len is not 0");

	cog_storage *storage;
	int rc = audit_storage(reg, &storage);
	if (rc)
		return rc;
	/* Redaction and printing happen outside the transaction. */
	cog_buf fields = COG_BUF_INIT;
	rc = build_fields(&fields, entry);
	if (rc) {
		cog_buf_dispose(&fields);
		return rc;
	}

	rc = cog_storage_begin(storage);
	if (rc == COG_EBUSY) {
		/* Either another process held the database past its busy
		 * timeout, or this thread has a transaction open already (a
		 * tool called inside a host's storage transaction). */
		cog_buf_dispose(&fields);
		return cog__error_wrap(COG_EIO, "audit log: cannot append: the "
			"storage is busy (a tool call made inside a storage "
			"transaction of the same thread cannot be audited)");
	}
	if (rc) {
		cog_buf_dispose(&fields);
		return audit_storage_failure(rc, "begin a transaction");
	}
	audit_key key;
	pthread_mutex_lock(&reg->audit_lock);
	audit_key_copy(reg, &key);
	rc = append_locked(storage, &key, &fields);
	if (rc) {
		/* Report why the append failed, not how the rollback went. */
		char why[512];
		snprintf(why, sizeof(why), "%s", cog_error_last());
		cog_storage_rollback(storage);
		cog__error(rc, "%s", why);
	} else if ((rc = cog_storage_commit(storage))) {
		rc = audit_storage_failure(rc, "commit");
	}
	pthread_mutex_unlock(&reg->audit_lock);
	audit_key_wipe(&key);
	cog_buf_dispose(&fields);
	return rc;
}

/* ---- the key ---- */

int cog_audit_set_key(cog_ctx *ctx, const unsigned char *key, size_t len)
{
	static const char fn[] = "cog_audit_set_key";
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	COG_CHECK_ARG(key, fn, "key is NULL");
	if (len < 16 || len > 64)
		return cog__error(COG_EINVAL, "%s: the key must be 16..64 bytes, got %zu",
			fn, len);
	tool_registry *reg;
	int rc = tool_registry_get(ctx, &reg);
	if (rc)
		return rc;
	pthread_mutex_lock(&reg->audit_lock);
	sodium_memzero(reg->audit_key, sizeof(reg->audit_key));
	memcpy(reg->audit_key, key, len);
	reg->audit_key_len = len;
	pthread_mutex_unlock(&reg->audit_lock);
	return COG_OK;
}
