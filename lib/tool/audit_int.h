/*
 * What the audit log's files share: where the log lives, the keyed hash
 * and its key, the parsing of hashes, sequence numbers and records, and
 * the head (see audit.c for the format). audit.c writes the log and
 * defines all of this; audit_verify.c checks it; audit_read.c lists it.
 * Private to lib/tool.
 */
#ifndef COG_AUDIT_INT_H
#define COG_AUDIT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tool_int.h"

#define AUDIT_LOG "audit"
#define AUDIT_HEAD_COLLECTION "audit"
#define AUDIT_HEAD_KEY "head"
#define AUDIT_HEX_LEN (2 * COG_HASH_BYTES)
/* A record's fixed last member: `,"hash":"` + hex + `"}` */
#define AUDIT_HASH_SUFFIX_LEN (9 + AUDIT_HEX_LEN + 2)
/* Records asked of the storage per read. */
#define AUDIT_READ_BATCH 512
/* Largest integer a JSON number holds exactly in a double. */
#define AUDIT_SEQ_MAX 9007199254740992.0

/* ---- the key ---- */

/* A copy of the registry's key (len 0: no key, plain BLAKE2b). */
typedef struct audit_key {
	unsigned char bytes[64];
	size_t len;
} audit_key;

/* Copy the registry's key; the caller holds reg->audit_lock. */
void audit_key_copy(const tool_registry *reg, audit_key *key);
void audit_key_wipe(audit_key *key);

/* BLAKE2b-256 of data, keyed with key (unkeyed when it has none). */
int audit_keyed_hash(uint8_t out[COG_HASH_BYTES], const void *data, size_t len,
                     const audit_key *key);

/* ---- parsing ---- */

/* Exactly 64 lowercase hex digits (s need not be NUL-terminated after). */
bool audit_hex32_decode(const char *s, size_t len, uint8_t out[COG_HASH_BYTES]);
/* A JSON member holding a sequence number: an integer 1..2^53. */
bool audit_json_seq(const cJSON *object, const char *name, uint64_t *seq);
/* A JSON member holding a hash as 64 lowercase hex digits. */
bool audit_json_hash(const cJSON *object, const char *name,
                     uint8_t out[COG_HASH_BYTES]);
/* Parse one stored record. COG_OK with *json set, COG_EINVAL when it is
 * not a JSON object (no message kept), COG_ENOMEM. */
int audit_parse_record(const char *record, size_t len, cJSON **json);
/* A JSON string of s (made valid UTF-8), or null. */
int audit_put_string(cog_buf *buf, const char *s);

/* ---- storage ---- */

/* Storage failures become COG_EIO (COG_ENOMEM stays) with context. */
int audit_storage_failure(int rc, const char *what);
/* The storage the log is in; COG_EIO or COG_ENOMEM when there is none. */
int audit_storage(tool_registry *reg, cog_storage **out);
/* tool_registry_get() then audit_storage(): the context's registry and
 * the storage its log is in. */
int audit_ctx_storage(cog_ctx *ctx, tool_registry **reg, cog_storage **out);

/* ---- the head ---- */

typedef struct audit_head {
	bool present;
	uint64_t seq;
	uint8_t hash[COG_HASH_BYTES];
	uint8_t mac[COG_HASH_BYTES];
} audit_head;

/* Read the head. COG_OK with head->present false when there is none;
 * COG_EINTEGRITY (no message) when it is not a well-formed head. */
int audit_head_read(cog_storage *storage, audit_head *head);
/* Does the head's "mac" verify under key? */
int audit_head_mac_ok(const audit_head *head, const audit_key *key, bool *ok);

#endif /* COG_AUDIT_INT_H */
