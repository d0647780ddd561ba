/*
 * cog_storage_memory_put/find/delete: every argument is checked here, once
 * for all backends (a backend may assume well-formed records and queries),
 * calls are serialised with the storage lock like the document calls, and
 * each goes to the backend's memory members or to the core's fallback over
 * documents (storage_memfall.c).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "storage_int.h"
#include "cognition/memory.h"

#define NS_SEGMENTS_MAX 4
#define NS_SEGMENT_MAX 64
#define QUERY_NS_MAX 8
#define EMBED_DIM_MAX 65536u
#define EMBED_MODEL_MAX 128u
#define RECORD_ID_LIMIT (UINT64_C(1) << 53)

/* ---- namespaces: the rules of cog_memory_open (lib/memory's
 * mem_ns_check), kept here because the core sits below lib/memory ---- */

static bool segment_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
	       c == ':' || c == '@';
}

static int check_ns(const char *fn, const char *what, const char *ns)
{
	if (!ns)
		return cog__error(COG_EINVAL, "%s: %s (namespace) is NULL", fn, what);
	if (!*ns)
		return cog__error(COG_EINVAL, "%s: %s (namespace) is empty", fn, what);
	size_t seg = 1, seg_len = 0;
	for (const char *p = ns;; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '/' || c == '\0') {
			if (seg_len == 0 || (seg_len == 1 && p[-1] == '.') ||
			    (seg_len == 2 && p[-1] == '.' && p[-2] == '.'))
				return cog__error(COG_EINVAL,
					"%s: %s \"%.64s\": segment %zu is %s", fn, what, ns, seg,
					seg_len == 0 ? "empty" : seg_len == 1 ? "\".\"" : "\"..\"");
			if (c == '\0')
				return COG_OK;
			if (++seg > NS_SEGMENTS_MAX)
				return cog__error(COG_EINVAL,
					"%s: %s \"%.64s\" has more than %d segments", fn, what, ns,
					NS_SEGMENTS_MAX);
			seg_len = 0;
			continue;
		}
		if (!segment_char(c))
			return cog__error(COG_EINVAL,
				"%s: %s \"%.64s\": segment %zu has the character 0x%02x at byte %zu "
				"(allowed: letters, digits and . _ - : @)",
				fn, what, ns, seg, c, (size_t)(p - ns));
		if (++seg_len > NS_SEGMENT_MAX)
			return cog__error(COG_ERANGE,
				"%s: %s \"%.64s\": segment %zu is longer than %d bytes",
				fn, what, ns, seg, NS_SEGMENT_MAX);
	}
}

/* ---- records ---- */

static bool one_layer(unsigned int layer)
{
	return layer == COG_MEMORY_WORKING || layer == COG_MEMORY_SHORT_TERM ||
	       layer == COG_MEMORY_LONG_TERM || layer == COG_MEMORY_EPISODIC;
}

/* A NUL-free, valid UTF-8 string of 1..COG_STORAGE_VALUE_MAX bytes. */
static int check_text(const char *fn, const char *what, const char *text, size_t len)
{
	if (!text)
		return cog__error(COG_EINVAL, "%s: %s is NULL", fn, what);
	if (len == 0)
		return cog__error(COG_EINVAL, "%s: %s is empty", fn, what);
	if (len > COG_STORAGE_VALUE_MAX)
		return cog__error(COG_ERANGE, "%s: %s is larger than %u bytes", fn, what,
			COG_STORAGE_VALUE_MAX);
	const char *nul = memchr(text, '\0', len);
	if (nul)
		return cog__error(COG_EINVAL, "%s: %s has a NUL byte at offset %zu", fn,
			what, (size_t)(nul - text));
	size_t bad;
	if (!cog_utf8_valid(text, len, &bad))
		return cog__error(COG_EINVAL, "%s: %s is not valid UTF-8 (byte %zu)", fn,
			what, bad);
	return COG_OK;
}

/* A JSON object; *len gets its length when it was 0. */
static int check_object(const char *fn, const char *what, const char *json, size_t *len)
{
	char where[96];
	if (*len == 0)
		*len = strnlen(json, (size_t)COG_STORAGE_VALUE_MAX + 1);
	if (*len > COG_STORAGE_VALUE_MAX)
		return cog__error(COG_ERANGE, "%s: %s is larger than %u bytes", fn, what,
			COG_STORAGE_VALUE_MAX);
	snprintf(where, sizeof(where), "%s: %s", fn, what);
	int rc = cog_json_validate(json, *len, where);
	if (rc)
		return rc;
	size_t i = 0;
	while (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r')
		i++;
	if (json[i] != '{')
		return cog__error(COG_EINVAL, "%s: %s must be a JSON object", fn, what);
	return COG_OK;
}

static int check_record(const char *fn, cog_storage_memory_record *r)
{
	if (r->id >= RECORD_ID_LIMIT)
		return cog__error(COG_EINVAL, "%s: rec->id %llu is not below 2^53", fn,
			(unsigned long long)r->id);
	int rc = check_ns(fn, "rec->ns", r->ns);
	if (rc)
		return rc;
	if (!one_layer(r->layer))
		return cog__error(COG_EINVAL,
			"%s: rec->layer 0x%x is not one COG_MEMORY_* layer bit", fn, r->layer);
	if ((rc = check_text(fn, "rec->text", r->text, r->text_len)))
		return rc;
	if (!r->metadata) {
		r->metadata = "{}";
		r->metadata_len = 2;
	} else if ((rc = check_object(fn, "rec->metadata", r->metadata, &r->metadata_len))) {
		return rc;
	}
	if (!isfinite(r->importance) || r->importance < 0 || r->importance > 1)
		return cog__error(COG_EINVAL, "%s: rec->importance %g is not within 0..1",
			fn, r->importance);
	if (r->created_at < 0 || r->updated_at < 0 || r->expires_at < 0)
		return cog__error(COG_EINVAL, "%s: rec->%s is negative", fn,
			r->created_at < 0 ? "created_at" : r->updated_at < 0 ? "updated_at" :
			"expires_at");
	if (!r->embed_model)
		r->embed_model = "";
	size_t model_len = strnlen(r->embed_model, EMBED_MODEL_MAX + 1);
	if (model_len > EMBED_MODEL_MAX)
		return cog__error(COG_ERANGE, "%s: rec->embed_model is longer than %u bytes",
			fn, EMBED_MODEL_MAX);
	size_t bad;
	if (!cog_utf8_valid(r->embed_model, model_len, &bad))
		return cog__error(COG_EINVAL, "%s: rec->embed_model is not valid UTF-8 (byte %zu)",
			fn, bad);
	if (!r->embedding) {
		if (r->dim != 0)
			return cog__error(COG_EINVAL, "%s: rec->dim is %u but rec->embedding is NULL",
				fn, r->dim);
		return COG_OK;
	}
	if (r->dim == 0 || r->dim > EMBED_DIM_MAX)
		return cog__error(COG_EINVAL, "%s: rec->dim must be 1..%u, not %u", fn,
			EMBED_DIM_MAX, r->dim);
	for (uint32_t i = 0; i < r->dim; i++)
		if (!isfinite(r->embedding[i]))
			return cog__error(COG_EINVAL, "%s: rec->embedding[%u] is not finite", fn, i);
	return COG_OK;
}

/* ---- queries ---- */

/* A JSON object whose members are strings, numbers, booleans or null;
 * *members gets their count. */
static int check_filter(const char *fn, const char *filter, size_t *members)
{
	size_t len = 0;
	int rc = check_object(fn, "q->filter", filter, &len);
	if (rc)
		return rc;
	cJSON *root = cJSON_ParseWithLength(filter, len);
	if (!root)
		return cog__oom(fn);
	*members = 0;
	for (const cJSON *m = root->child; m && !rc; m = m->next, (*members)++)
		if (cJSON_IsObject(m) || cJSON_IsArray(m))
			rc = cog__error(COG_EINVAL,
				"%s: q->filter member \"%.64s\" is %s (only strings, numbers, "
				"booleans and null can be matched)", fn, m->string,
				cJSON_IsObject(m) ? "an object" : "an array");
	cJSON_Delete(root);
	return rc;
}

/* Check q and copy it to *out with `now` filled in; *selective tells
 * whether it narrows the namespaces by more than after_id and limit. */
static int check_query(const char *fn, const cog_storage_memory_query *q,
                       cog_storage_memory_query *out, bool *selective)
{
	if (!q)
		return cog__error(COG_EINVAL, "%s: q (the query) is NULL", fn);
	if (!q->ns)
		return cog__error(COG_EINVAL, "%s: q->ns (the namespaces) is NULL", fn);
	if (q->ns_count == 0 || q->ns_count > QUERY_NS_MAX)
		return cog__error(COG_EINVAL, "%s: q->ns_count must be 1..%d, not %zu", fn,
			QUERY_NS_MAX, q->ns_count);
	for (size_t i = 0; i < q->ns_count; i++) {
		char what[32];
		snprintf(what, sizeof(what), "q->ns[%zu]", i);
		int rc = check_ns(fn, what, q->ns[i]);
		if (rc)
			return rc;
	}
	if (q->layers & ~COG_MEMORY_LAYERS_ALL)
		return cog__error(COG_EINVAL,
			"%s: q->layers 0x%x has bits outside COG_MEMORY_LAYERS_ALL (0xf)", fn,
			q->layers);
	if (q->now < 0 || q->since < 0 || q->until < 0)
		return cog__error(COG_EINVAL, "%s: q->%s is negative", fn,
			q->now < 0 ? "now" : q->since < 0 ? "since" : "until");
	size_t filter_members = 0;
	if (q->filter) {
		int rc = check_filter(fn, q->filter, &filter_members);
		if (rc)
			return rc;
	}
	if (!q->ids && q->id_count)
		return cog__error(COG_EINVAL, "%s: q->ids is NULL but q->id_count is %zu", fn,
			q->id_count);
	if (q->ids && !q->id_count)
		return cog__error(COG_EINVAL, "%s: q->ids is set but q->id_count is 0", fn);
	for (size_t i = 0; i < q->id_count; i++)
		if (q->ids[i] == 0 || q->ids[i] >= RECORD_ID_LIMIT)
			return cog__error(COG_EINVAL, "%s: q->ids[%zu] is %llu (ids are 1..2^53-1)",
				fn, i, (unsigned long long)q->ids[i]);
	if (q->match) {
		size_t len = strnlen(q->match, (size_t)COG_STORAGE_VALUE_MAX + 1), bad;
		if (len > COG_STORAGE_VALUE_MAX)
			return cog__error(COG_ERANGE, "%s: q->match is larger than %u bytes", fn,
				COG_STORAGE_VALUE_MAX);
		if (!cog_utf8_valid(q->match, len, &bad))
			return cog__error(COG_EINVAL, "%s: q->match is not valid UTF-8 (byte %zu)",
				fn, bad);
	}
	*out = *q;
	if (out->now == 0)
		out->now = cog_clock_realtime_ms();
	*selective = q->ids || filter_members > 0 ||
		(q->layers != 0 && q->layers != COG_MEMORY_LAYERS_ALL) ||
		q->since != 0 || q->until != 0;
	return COG_OK;
}

/* ---- the calls ---- */

int cog_storage_memory_put(cog_storage *s, cog_storage_memory_record *rec)
{
	static const char fn[] = "cog_storage_memory_put";
	COG_CHECK_ARG(s, fn, "storage is NULL");
	COG_CHECK_ARG(rec, fn, "rec (the record) is NULL");
	cog_storage_memory_record r = *rec;
	int rc = check_record(fn, &r);
	if (rc || (rc = cog__storage_enter(s, fn)))
		return rc;
	if (s->native_memory)
		rc = s->vt.mem_put(s->vt.self, &r);
	else
		rc = cog__memfall_put(&s->vt, s->in_txn, &r);
	if (rc == COG_ENOTFOUND)
		cog__error(rc, "%s: no memory record %llu in namespace \"%s\"", fn,
			(unsigned long long)rec->id, rec->ns);
	else if (rc == 0)
		rec->id = r.id;
	return cog__storage_leave(s, rc);
}

struct find_guard {
	cog_storage *s;
	cog_storage_memory_fn fn;
	void *user_data;
};

/* The callback runs with in_callback set so that re-entry fails cleanly;
 * any positive return means stop; an error without a message gets one. */
static int guarded_memory(const cog_storage_memory_record *rec, double score, void *ud)
{
	struct find_guard *g = ud;
	g->s->in_callback = true;
	int rc = g->fn(rec, score, g->user_data);
	g->s->in_callback = false;
	if (rc > 0)
		return COG_STORAGE_STOP;
	if (rc < 0 && cog_error_last_code() != rc)
		cog__error(rc, "cog_storage_memory_find: the callback stopped it with status %d (%s)",
			rc, cog_strerror(rc));
	return rc;
}

/* ---- the first COG_STORAGE_MATCH_WORDS distinct words of a match ---- */

typedef struct first_words {
	cog_buf out;                        /* the words, one space apart */
	size_t start[COG_STORAGE_MATCH_WORDS];
	uint8_t len[COG_STORAGE_MATCH_WORDS];
	int16_t slot[2 * COG_STORAGE_MATCH_WORDS]; /* open addressing: index + 1 */
	size_t n;
	bool capped;
} first_words;

static int keep_word(const char *word, size_t len, void *user_data)
{
	first_words *w = user_data;
	uint64_t h = 1469598103934665603u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)word[i]) * 1099511628211u;
	size_t mask = 2 * COG_STORAGE_MATCH_WORDS - 1, at = (size_t)h & mask;
	for (; w->slot[at]; at = (at + 1) & mask) {
		size_t k = (size_t)w->slot[at] - 1;
		if (w->len[k] == len && memcmp(w->out.ptr + w->start[k], word, len) == 0)
			return 0;   /* seen */
	}
	if (w->n == COG_STORAGE_MATCH_WORDS) {
		w->capped = true;
		return 0;
	}
	if (w->n)
		cog_buf_putc(&w->out, ' ');
	w->start[w->n] = w->out.len;
	w->len[w->n] = (uint8_t)len;   /* cog_text_words: at most 64 bytes */
	cog_buf_put(&w->out, word, len);
	if (w->out.failed)
		return COG_ENOMEM;
	w->slot[at] = (int16_t)(++w->n);
	return 0;
}

/* When q->match has more than COG_STORAGE_MATCH_WORDS distinct words,
 * *text gets the first ones (cog_free), in text order; else NULL. */
static int cap_match(const char *match, char **text)
{
	*text = NULL;
	first_words *w = cog__calloc(1, sizeof(*w));
	if (!w)
		return cog__oom("cog_storage_memory_find: match words");
	int rc = cog_text_words(match, strlen(match), keep_word, w);
	if (!rc && w->capped && !(*text = cog_buf_detach(&w->out)))
		rc = COG_ENOMEM;
	cog_buf_dispose(&w->out);
	cog_free(w);
	return rc ? cog__oom("cog_storage_memory_find: match words") : COG_OK;
}

int cog_storage_memory_find(cog_storage *s, const cog_storage_memory_query *q,
                            cog_storage_memory_fn fn_cb, void *user_data)
{
	static const char fn[] = "cog_storage_memory_find";
	COG_CHECK_ARG(s, fn, "storage is NULL");
	COG_CHECK_ARG(fn_cb, fn, "callback is NULL");
	cog_storage_memory_query local;
	bool selective;
	int rc = check_query(fn, q, &local, &selective);
	char *capped = NULL;
	if (!rc && local.match && (rc = cap_match(local.match, &capped)) == COG_OK && capped)
		local.match = capped;
	if (rc || (rc = cog__storage_enter(s, fn))) {
		cog_free(capped);
		return rc;
	}
	struct find_guard g = { s, fn_cb, user_data };
	cog_error_clear(); /* so that a callback's own message is recognised */
	if (s->native_memory)
		rc = s->vt.mem_query(s->vt.self, &local, guarded_memory, &g);
	else
		rc = cog__memfall_query(&s->vt, &local, guarded_memory, &g);
	cog_free(capped);
	return cog__storage_leave(s, rc > 0 ? COG_OK : rc);
}

int cog_storage_memory_delete(cog_storage *s, const cog_storage_memory_query *q,
                              size_t *deleted)
{
	static const char fn[] = "cog_storage_memory_delete";
	size_t count = 0;
	if (deleted)
		*deleted = 0;
	COG_CHECK_ARG(s, fn, "storage is NULL");
	cog_storage_memory_query local;
	bool selective;
	int rc = check_query(fn, q, &local, &selective);
	if (rc)
		return rc;
	if (q->match)
		return cog__error(COG_EINVAL,
			"%s: q->match must be NULL (find the records, then delete their ids)", fn);
	if (!selective)
		return cog__error(COG_EINVAL,
			"%s: the query selects every record of its namespaces; pass ids or a "
			"filter (or layers, since, until) to say what to delete", fn);
	if ((rc = cog__storage_enter(s, fn)))
		return rc;
	if (s->native_memory)
		rc = s->vt.mem_delete(s->vt.self, &local, &count);
	else
		rc = cog__memfall_delete(&s->vt, s->in_txn, &local, &count);
	if (deleted)
		*deleted = rc ? 0 : count;
	return cog__storage_leave(s, rc);
}
