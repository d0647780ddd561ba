/*
 * The agent journal (format: agent_int.h): every LLM answer and tool result
 * of a run is appended to the storage log "agent/<run key>" before the loop
 * acts on it, so a run interrupted by a crash (or a pending approval) and
 * run again gets the same answers back in the same order instead of asking
 * the LLM or calling the tool a second time.
 *
 * Records go through the context's group commit (journal_commit.c): put
 * waits until its record is durable, queue does not (the tool results of
 * one answer, then one sync for all of them).
 *
 * Opening reads the log once. The records are cut into segments: a new
 * segment starts at a record of another attempt number or after an "end"
 * record. When the last segment has no "end", the run adopts it (its
 * attempt number, its records to replay); otherwise the run records under
 * the attempt it was given.
 *
 * Replay is strict about order: a lookup that finds nothing (or a record
 * for another request) stops the replay of everything after it, since the
 * run has left the recorded path. An "llm" miss stops it for every later
 * record; a "tool" or "handoff" miss only for the turns after that one
 * (the other calls of the same answer were recorded independently).
 *
 * A run key too long for a log name (128 bytes) is stored under
 * "agent/#<BLAKE2b-128 of the key>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_int.h"
#include "journal_int.h"
#include "redact_secret.h"

struct agent_journal {
	cog_ctx *ctx;
	cog_storage *storage;
	agent_commit *commit;      /* the context's group commit */
	agent_commit_waiter waiter;/* under the commit's lock */
	char log[COG_STORAGE_NAME_MAX + 1];
	unsigned int attempt;
	pthread_mutex_t lock;      /* replay state, last_ticket */
	uint64_t last_ticket;      /* of the last record queued */
	cJSON *replay;             /* records of the adopted attempt, in order */
	bool replaying;
	unsigned int stop_turn;    /* lookups of later turns find nothing */
	bool stop_all;
	bool ended;                /* the "end" record is written */
};

/* ---- the canonical text and its hash ---- */

static int cmp_members(const void *x, const void *y)
{
	const cJSON *a = *(const cJSON *const *)x, *b = *(const cJSON *const *)y;
	return strcmp(a->string, b->string);
}

/* value with object members sorted by name, at every depth */
static void put_canonical(cog_buf *b, const cJSON *v)
{
	if (cJSON_IsObject(v)) {
		size_t n = 0;
		for (const cJSON *c = v->child; c; c = c->next)
			n++;
		const cJSON **m = n ? cog__calloc(n, sizeof(*m)) : NULL;
		if (n && !m) {
			b->failed = true;
			return;
		}
		size_t i = 0;
		for (const cJSON *c = v->child; c; c = c->next)
			m[i++] = c;
		if (n > 1)
			qsort(m, n, sizeof(*m), cmp_members);
		cog_buf_putc(b, '{');
		for (i = 0; i < n; i++) {
			if (i)
				cog_buf_putc(b, ',');
			cog__json_put_string(b, m[i]->string);
			cog_buf_putc(b, ':');
			put_canonical(b, m[i]);
		}
		cog_buf_putc(b, '}');
		cog_free(m);
	} else if (cJSON_IsArray(v)) {
		cog_buf_putc(b, '[');
		for (const cJSON *c = v->child; c; c = c->next) {
			if (c != v->child)
				cog_buf_putc(b, ',');
			put_canonical(b, c);
		}
		cog_buf_putc(b, ']');
	} else if (cog__json_print_into(b, v) != COG_OK) {
		b->failed = true;
	}
}

void agent_journal_hash(const cJSON *value, char out[33])
{
	cog_buf b = COG_BUF_INIT;
	put_canonical(&b, value);
	/* Hashed as stored: records are masked (configured secrets), so a
	 * replayed answer holding a masked secret must hash as the original
	 * did, or its tool would run again. */
	char *masked = NULL;
	size_t len = b.len;
	if (!b.failed && b.ptr && cog__redact_secrets_any() &&
	    cog__redact_secrets(b.ptr, b.len, &masked, &len, NULL))
		b.failed = true;
	const char *text = masked ? masked : b.ptr;
	uint8_t h[16];
	if (b.failed || !text || cog_hash_blake2b(h, sizeof(h), text, len, NULL, 0))
		memcpy(out, "unhashed", 9);  /* never matches a record */
	else
		cog_hex_encode(h, sizeof(h), out);
	cog_free(masked);
	cog_buf_dispose(&b);
}

/* ---- opening: find the attempt to adopt ---- */

typedef struct reader {
	cJSON *segment;            /* records since the last cut */
	double segment_attempt;
	bool ended;                /* the segment's last record was "end" */
	int error;
} reader;

static int read_record(uint64_t seq, const char *record, size_t len, void *ud)
{
	reader *r = ud;
	cJSON *rec = cJSON_ParseWithLength(record, len);
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(rec, "a");
	const char *k = cog_json_get_string(rec, "k");
	if (!cJSON_IsNumber(a) || !k) {
		cJSON_Delete(rec);
		r->error = cog__error(COG_EIO, "agent journal: record %llu is malformed",
		                      (unsigned long long)seq);
		return r->error;
	}
	if (r->ended || !r->segment || a->valuedouble != r->segment_attempt) {
		cJSON_Delete(r->segment);
		r->segment = cJSON_CreateArray();
		r->segment_attempt = a->valuedouble;
		r->ended = false;
		if (!r->segment) {
			cJSON_Delete(rec);
			return r->error = cog__oom("agent journal");
		}
	}
	r->ended = strcmp(k, "end") == 0;
	cJSON_AddItemToArray(r->segment, rec);
	return 0;
}

int agent_journal_open(agent_journal **out, cog_ctx *ctx, const char *run_key,
                       unsigned int attempt)
{
	*out = NULL;
	cog_storage *storage = ctx ? cog_ctx_storage(ctx) : NULL;
	if (!storage || !run_key)
		return COG_OK;  /* not journaled */
	agents_state *st = NULL;
	int rc = agents_get(ctx, &st);
	if (rc)
		return rc;
	agent_journal *j = cog__calloc(1, sizeof(*j));
	if (!j)
		return cog__oom("agent journal");
	j->ctx = ctx;
	j->storage = storage;
	j->commit = st->commit;
	j->attempt = attempt;
	if (6 + strlen(run_key) <= COG_STORAGE_NAME_MAX) {
		snprintf(j->log, sizeof(j->log), "agent/%s", run_key);
	} else {
		uint8_t h[16];
		char hex[33];
		cog_hash_blake2b(h, sizeof(h), run_key, strlen(run_key), NULL, 0);
		cog_hex_encode(h, sizeof(h), hex);
		hex[32] = '\0';
		snprintf(j->log, sizeof(j->log), "agent/#%s", hex);
	}
	if (pthread_mutex_init(&j->lock, NULL) != 0) {
		cog_free(j);
		return cog__error(COG_ERROR, "agent journal: cannot create a mutex");
	}
	reader r = { 0 };
	rc = cog_storage_read(storage, j->log, 1, 0, read_record, &r);
	if (r.error)
		rc = r.error;
	if (rc) {
		cJSON_Delete(r.segment);
		agent_journal_close(j);
		return cog__error_wrap(rc, "agent journal '%s': reading it", j->log);
	}
	if (r.segment && !r.ended && r.segment_attempt >= 0 &&
	    r.segment_attempt <= (double)UINT32_MAX) {
		j->attempt = (unsigned int)r.segment_attempt;
		j->replay = r.segment;
		j->replaying = true;
	} else {
		cJSON_Delete(r.segment);
	}
	*out = j;
	return COG_OK;
}

unsigned int agent_journal_attempt(const agent_journal *j)
{
	return j ? j->attempt : 0;
}

void agent_journal_close_lazy(agent_journal *j)
{
	if (!j)
		return;
	if (j->commit)
		agent_commit_detach(j->commit, &j->waiter);
	cJSON_Delete(j->replay);
	pthread_mutex_destroy(&j->lock);
	cog_free(j);
}

void agent_journal_close(agent_journal *j)
{
	if (!j)
		return;
	if (j->commit && agent_journal_sync(j) != COG_OK)
		cog__log(j->ctx, COG_LOG_WARN, NULL, "%s", cog_error_last());
	cJSON_Delete(j->replay);
	pthread_mutex_destroy(&j->lock);
	cog_free(j);
}

/* ---- replay ---- */

static bool is(const cJSON *rec, const char *kind, unsigned int turn, unsigned int index)
{
	const char *k = cog_json_get_string(rec, "k");
	return k && strcmp(k, kind) == 0 &&
	       cog_json_get_number(rec, "n", -1) == (double)turn &&
	       cog_json_get_number(rec, "i", -1) == (double)index;
}

int agent_journal_find(agent_journal *j, const char *kind, unsigned int turn,
                       unsigned int index, const char *hash, int *status,
                       cJSON **response)
{
	*response = NULL;
	*status = 0;
	if (!j)
		return COG_ENOTFOUND;
	pthread_mutex_lock(&j->lock);
	int rc = COG_ENOTFOUND;
	if (j->replaying && !j->stop_all && !(j->stop_turn && turn > j->stop_turn)) {
		const cJSON *found = NULL, *rec;
		cJSON_ArrayForEach(rec, j->replay) {
			if (is(rec, kind, turn, index))
				found = rec;  /* the last one counts */
		}
		const char *h = cog_json_get_string(found, "h");
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(found, "r");
		if (found && h && hash && strcmp(h, hash) == 0 && r) {
			*response = cJSON_Duplicate(r, 1);
			*status = (int)cog_json_get_number(found, "c", 0);
			rc = *response ? COG_OK : cog__oom("agent journal: replay");
		} else if (strcmp(kind, "llm") == 0) {
			j->stop_all = true;
		} else if (!j->stop_turn || turn < j->stop_turn) {
			j->stop_turn = turn;
		}
	}
	pthread_mutex_unlock(&j->lock);
	return rc;
}

/* ---- recording ---- */

/* Queue a record (consumed) in the group commit. */
static int queue(agent_journal *j, cJSON *rec)
{
	char *text = rec ? cog_json_print(rec) : NULL;
	cJSON_Delete(rec);
	if (!text)
		return cog__oom("agent journal: a record");
	/* The configured secrets (API keys, tokens) never reach storage, even
	 * when a server or a tool echoes one: they are masked as the log masks
	 * them. Only they: the patterns of the log's redaction would change
	 * what a replay gives back (a tool argument named "token"). */
	if (cog__redact_secrets_any()) {
		char *masked = NULL;
		int mrc = cog__redact_secrets(text, strlen(text), &masked, NULL, NULL);
		cog_free(text);
		if (mrc)
			return mrc;
		text = masked;
	}
	/* The ticket is taken under the journal's lock, so last_ticket only
	 * grows and a sync covers every record queued before it. */
	pthread_mutex_lock(&j->lock);
	uint64_t ticket = 0;
	int rc = agent_commit_queue(j->commit, j->storage, j->log, text, &j->waiter, &ticket);
	if (!rc && ticket > j->last_ticket)
		j->last_ticket = ticket;
	pthread_mutex_unlock(&j->lock);
	return rc;
}

int agent_journal_sync(agent_journal *j)
{
	if (!j)
		return COG_OK;
	pthread_mutex_lock(&j->lock);
	uint64_t ticket = j->last_ticket;
	pthread_mutex_unlock(&j->lock);
	if (agent_commit_sync(j->commit, ticket, &j->waiter))
		return cog__error_wrap(COG_EIO, "agent journal '%s': appending a record", j->log);
	return COG_OK;
}

static cJSON *make_record(agent_journal *j, const char *kind, unsigned int turn,
                          unsigned int index, const char *hash, int status,
                          const cJSON *response)
{
	cJSON *rec = cJSON_CreateObject();
	cJSON *r = response ? cJSON_Duplicate(response, 1) : cJSON_CreateNull();
	bool ok = rec && r &&
		cJSON_AddNumberToObject(rec, "a", j->attempt) &&
		cJSON_AddStringToObject(rec, "k", kind) &&
		cJSON_AddNumberToObject(rec, "n", turn) &&
		cJSON_AddNumberToObject(rec, "i", index) &&
		cJSON_AddStringToObject(rec, "h", hash ? hash : "") &&
		(strcmp(kind, "llm") == 0 || cJSON_AddNumberToObject(rec, "c", status));
	if (!ok || !cJSON_AddItemToObject(rec, "r", r)) {
		cJSON_Delete(r);
		cJSON_Delete(rec);
		cog__oom("agent journal: a record");
		return NULL;
	}
	return rec;
}

int agent_journal_queue(agent_journal *j, const char *kind, unsigned int turn,
                        unsigned int index, const char *hash, int status,
                        const cJSON *response)
{
	if (!j)
		return COG_OK;
	cJSON *rec = make_record(j, kind, turn, index, hash, status, response);
	return rec ? queue(j, rec) : COG_ENOMEM;
}

int agent_journal_put(agent_journal *j, const char *kind, unsigned int turn,
                      unsigned int index, const char *hash, int status,
                      const cJSON *response)
{
	if (!j)
		return COG_OK;
	int rc = agent_journal_queue(j, kind, turn, index, hash, status, response);
	return rc ? rc : agent_journal_sync(j);
}

int agent_journal_end(agent_journal *j, int status)
{
	if (!j)
		return COG_OK;
	pthread_mutex_lock(&j->lock);
	bool again = j->ended;
	pthread_mutex_unlock(&j->lock);
	if (again)
		return COG_OK;  /* once per run: the loop and its caller may both end it */
	cJSON *rec = cJSON_CreateObject();
	if (!rec || !cJSON_AddNumberToObject(rec, "a", j->attempt) ||
	    !cJSON_AddStringToObject(rec, "k", "end") ||
	    !cJSON_AddNumberToObject(rec, "c", status)) {
		cJSON_Delete(rec);
		return cog__oom("agent journal: the end record");
	}
	int rc = queue(j, rec);
	if (!rc)
		rc = agent_journal_sync(j);
	if (!rc) {
		/* a later run of the same key starts afresh */
		pthread_mutex_lock(&j->lock);
		j->replaying = false;
		j->ended = true;
		pthread_mutex_unlock(&j->lock);
	}
	return rc;
}
