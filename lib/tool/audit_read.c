/*
 * Reading the audit log (cog_audit_read): the entries from a sequence
 * number on, as one JSON array of the stored records, byte for byte. It
 * checks nothing (that is cog_audit_verify, in audit_verify.c), but a
 * record that is no longer an entry is listed as
 * {"malformed":true,"storage_seq":N,"record":"<text>"} rather than
 * skipped, so that damage shows and the array stays JSON.
 */
#include <inttypes.h>
#include <string.h>

#include "audit_int.h"

/* Where the listing is. */
typedef struct read_state {
	uint64_t from_seq;
	size_t limit;
	size_t taken;
	size_t batch_records;
	uint64_t next_storage_seq;
	cog_buf out;
} read_state;

static int read_record(uint64_t storage_seq, const char *record, size_t len,
                       void *ud)
{
	read_state *rs = ud;
	rs->batch_records++;
	rs->next_storage_seq = storage_seq + 1;
	if (rs->limit && rs->taken == rs->limit)
		return COG_STORAGE_STOP;
	cJSON *json = NULL;
	int rc = audit_parse_record(record, len, &json);
	if (rc == COG_ENOMEM)
		return rc;
	uint64_t seq = 0;
	bool usable = json && audit_json_seq(json, "seq", &seq);
	cJSON_Delete(json);
	if (usable && seq < rs->from_seq)
		return COG_OK;
	if (rs->taken++)
		cog_buf_putc(&rs->out, ',');
	if (usable) {
		cog_buf_put(&rs->out, record, len);
	} else {
		/* Not an entry any more: shown, not hidden, and still JSON. */
		cog_buf_printf(&rs->out, "{\"malformed\":true,\"storage_seq\":%" PRIu64
			",\"record\":", storage_seq);
		audit_put_string(&rs->out, strlen(record) == len ? record : "");
		cog_buf_putc(&rs->out, '}');
	}
	return rs->out.failed ? cog__oom("cog_audit_read") : COG_OK;
}

int cog_audit_read(cog_ctx *ctx, uint64_t from_seq, size_t limit, char **json)
{
	static const char fn[] = "cog_audit_read";
	COG_CHECK_ARG(json, fn, "json (the out parameter) is NULL");
	*json = NULL;
	COG_CHECK_ARG(ctx, fn, "ctx is NULL");
	tool_registry *reg;
	cog_storage *storage;
	int rc = audit_ctx_storage(ctx, &reg, &storage);
	if (rc)
		return rc;

	/* Entry numbers never run ahead of the storage's (each entry takes
	 * one record number, and numbers are never reused), so no entry at
	 * or past from_seq is stored before record number from_seq. */
	read_state rs = { .from_seq = from_seq ? from_seq : 1, .limit = limit,
		.next_storage_seq = from_seq ? from_seq : 1 };
	cog_buf_putc(&rs.out, '[');
	do {
		rs.batch_records = 0;
		rc = cog_storage_read(storage, AUDIT_LOG, rs.next_storage_seq,
			AUDIT_READ_BATCH, read_record, &rs);
	} while (!rc && rs.batch_records == AUDIT_READ_BATCH &&
	         (!limit || rs.taken < limit));
	if (rc) {
		cog_buf_dispose(&rs.out);
		return audit_storage_failure(rc, "read");
	}
	cog_buf_putc(&rs.out, ']');
	if (!(*json = cog_buf_detach(&rs.out)))
		return cog__oom(fn);
	return COG_OK;
}
