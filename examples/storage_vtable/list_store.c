/*
 * list_store: a storage backend of the host's own, plugged into
 * libcognition through cog_storage_vtable. Documents and log records are
 * kept in memory, in arrays sorted the way the library reads them back:
 * documents by collection then key, log records by sequence number.
 *
 * What the library relies on (tests/examples runs its storage conformance
 * suite against this file):
 *   - get/scan hide documents whose expires_at has passed at `now`;
 *   - scan visits keys in ascending byte order and stops when asked;
 *   - log sequence numbers start at 1 and are never reused, even after
 *     truncate (a rolled-back append gives its number back);
 *   - begin/commit/rollback make the writes in between atomic: here begin
 *     copies the whole store and rollback puts the copy back (simple, and
 *     fine for small stores; a database backend uses its own transactions).
 * The library serialises the calls and checks every argument (names, keys,
 * UTF-8, JSON, begin/commit pairing) before they reach a backend, so there
 * is no lock and no validation here. Version 1 of the vtable: the library
 * keeps memory records (cognition/memory.h) as documents for us.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "list_store.h"

typedef struct doc {
	char *collection, *key, *value;
	size_t len;
	int64_t expires_at;        /* Unix ms, 0: never */
} doc;

typedef struct record {
	uint64_t seq;
	char *text;
	size_t len;
} record;

typedef struct log_list {
	char *name;
	record *records;
	size_t count, cap;
	uint64_t next_seq;
} log_list;

typedef struct store_data {
	doc *docs;
	size_t doc_count, doc_cap;
	log_list *logs;
	size_t log_count, log_cap;
} store_data;

typedef struct list_store {
	store_data live;
	store_data saved;          /* the state at begin(), while in a transaction */
	int in_transaction;
} list_store;

static int out_of_memory(void)
{
	return cog_error_set(COG_ENOMEM, "list_store: out of memory");
}

static char *copy_text(const char *text, size_t len)
{
	char *p = malloc(len + 1);
	if (p) {
		memcpy(p, text, len);
		p[len] = '\0';
	}
	return p;
}

/* Room for one more item: the array itself (maybe moved), or NULL. */
static void *make_room(void *items, size_t *cap, size_t count, size_t item_size)
{
	if (count < *cap)
		return items;
	size_t n = *cap ? *cap * 2 : 16;
	void *p = realloc(items, n * item_size);
	if (p)
		*cap = n;
	return p;
}

static int expired(int64_t expires_at, int64_t now)
{
	return expires_at != 0 && expires_at <= now;
}

/* ---- documents ---- */

static int doc_compare(const doc *d, const char *collection, const char *key)
{
	int c = strcmp(d->collection, collection);
	return c ? c : strcmp(d->key, key);
}

/* Where (collection, key) is, or would be inserted (binary search). */
static size_t doc_position(const store_data *s, const char *collection,
                           const char *key, int *found)
{
	size_t lo = 0, hi = s->doc_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (doc_compare(&s->docs[mid], collection, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < s->doc_count && doc_compare(&s->docs[lo], collection, key) == 0;
	return lo;
}

static void doc_free(doc *d)
{
	free(d->collection);
	free(d->key);
	free(d->value);
}

static int ls_put(void *self, const char *collection, const char *key,
                  const char *value, size_t len, int64_t expires_at)
{
	store_data *s = &((list_store *)self)->live;
	int found;
	size_t i = doc_position(s, collection, key, &found);
	char *text = copy_text(value, len);
	if (!text)
		return out_of_memory();
	if (found) {
		free(s->docs[i].value);
		s->docs[i].value = text;
		s->docs[i].len = len;
		s->docs[i].expires_at = expires_at;
		return 0;
	}
	doc d = { copy_text(collection, strlen(collection)), copy_text(key, strlen(key)),
		text, len, expires_at };
	doc *docs = make_room(s->docs, &s->doc_cap, s->doc_count, sizeof(doc));
	if (!d.collection || !d.key || !docs) {
		doc_free(&d);
		return out_of_memory();
	}
	s->docs = docs;
	memmove(&docs[i + 1], &docs[i], (s->doc_count - i) * sizeof(doc));
	docs[i] = d;
	s->doc_count++;
	return 0;
}

static int ls_get(void *self, const char *collection, const char *key,
                  int64_t now, char **value, size_t *len)
{
	store_data *s = &((list_store *)self)->live;
	int found;
	size_t i = doc_position(s, collection, key, &found);
	if (!found || expired(s->docs[i].expires_at, now))
		return cog_error_set(COG_ENOTFOUND, "list_store: no document %s/%s",
			collection, key);
	/* What the library frees must come from cog_malloc. */
	*value = cog_malloc(s->docs[i].len + 1);
	if (!*value)
		return out_of_memory();
	memcpy(*value, s->docs[i].value, s->docs[i].len + 1);
	*len = s->docs[i].len;
	return 0;
}

static int ls_del(void *self, const char *collection, const char *key)
{
	store_data *s = &((list_store *)self)->live;
	int found;
	size_t i = doc_position(s, collection, key, &found);
	if (!found)
		return cog_error_set(COG_ENOTFOUND, "list_store: no document %s/%s",
			collection, key);
	doc_free(&s->docs[i]);
	memmove(&s->docs[i], &s->docs[i + 1], (s->doc_count - i - 1) * sizeof(doc));
	s->doc_count--;
	return 0;
}

static int ls_scan(void *self, const char *collection, const char *prefix,
                   int64_t now, cog_storage_doc_fn fn, void *user_data)
{
	store_data *s = &((list_store *)self)->live;
	int found;
	size_t plen = strlen(prefix);
	for (size_t i = doc_position(s, collection, prefix, &found); i < s->doc_count; i++) {
		doc *d = &s->docs[i];
		if (strcmp(d->collection, collection) != 0 || strncmp(d->key, prefix, plen) != 0)
			break; /* sorted: past the collection or the prefix */
		if (expired(d->expires_at, now))
			continue;
		int rc = fn(d->key, d->value, d->len, d->expires_at, user_data);
		if (rc != 0)
			return rc > 0 ? 0 : rc; /* positive: stop early, with success */
	}
	return 0;
}

static int ls_purge_expired(void *self, int64_t now, size_t *purged)
{
	store_data *s = &((list_store *)self)->live;
	size_t kept = 0;
	for (size_t i = 0; i < s->doc_count; i++) {
		if (expired(s->docs[i].expires_at, now))
			doc_free(&s->docs[i]);
		else
			s->docs[kept++] = s->docs[i];
	}
	*purged = s->doc_count - kept;
	s->doc_count = kept;
	return 0;
}

/* ---- logs ---- */

static log_list *find_log(store_data *s, const char *name)
{
	for (size_t i = 0; i < s->log_count; i++)
		if (strcmp(s->logs[i].name, name) == 0)
			return &s->logs[i];
	return NULL;
}

static int ls_append(void *self, const char *name, const char *text, size_t len,
                     uint64_t *seq)
{
	store_data *s = &((list_store *)self)->live;
	log_list *log = find_log(s, name);
	if (!log) {
		log_list *logs = make_room(s->logs, &s->log_cap, s->log_count, sizeof(log_list));
		if (!logs)
			return out_of_memory();
		s->logs = logs;
		log = &logs[s->log_count];
		*log = (log_list){ .name = copy_text(name, strlen(name)), .next_seq = 1 };
		if (!log->name)
			return out_of_memory();
		s->log_count++;
	}
	record r = { log->next_seq, copy_text(text, len), len };
	record *records = make_room(log->records, &log->cap, log->count, sizeof(record));
	if (!r.text || !records) {
		free(r.text);
		return out_of_memory();
	}
	log->records = records;
	records[log->count++] = r;
	*seq = log->next_seq++;
	return 0;
}

static int ls_read(void *self, const char *name, uint64_t from_seq, size_t limit,
                   cog_storage_record_fn fn, void *user_data)
{
	log_list *log = find_log(&((list_store *)self)->live, name);
	size_t visited = 0;
	for (size_t i = 0; log && i < log->count && (limit == 0 || visited < limit); i++) {
		record *r = &log->records[i];
		if (r->seq < from_seq)
			continue;
		visited++;
		int rc = fn(r->seq, r->text, r->len, user_data);
		if (rc != 0)
			return rc > 0 ? 0 : rc;
	}
	return 0; /* an unknown log has no records: not an error */
}

static int ls_truncate(void *self, const char *name, uint64_t before_seq)
{
	log_list *log = find_log(&((list_store *)self)->live, name);
	if (!log)
		return 0;
	size_t kept = 0;
	for (size_t i = 0; i < log->count; i++) {
		if (log->records[i].seq < before_seq)
			free(log->records[i].text);
		else
			log->records[kept++] = log->records[i];
	}
	log->count = kept; /* next_seq stays: numbers are never reused */
	return 0;
}

/* ---- transactions: a copy of the store taken at begin ---- */

static void data_free(store_data *s)
{
	for (size_t i = 0; i < s->doc_count; i++)
		doc_free(&s->docs[i]);
	free(s->docs);
	for (size_t i = 0; i < s->log_count; i++) {
		for (size_t j = 0; j < s->logs[i].count; j++)
			free(s->logs[i].records[j].text);
		free(s->logs[i].records);
		free(s->logs[i].name);
	}
	free(s->logs);
	memset(s, 0, sizeof(*s));
}

/* A deep copy of src into the empty dst. The arrays start zeroed and each
 * item is counted before it is filled, so data_free() can clean up a copy
 * that ran out of memory halfway. */
static int data_copy(store_data *dst, const store_data *src)
{
	dst->docs = calloc(src->doc_count + 1, sizeof(doc));
	dst->logs = calloc(src->log_count + 1, sizeof(log_list));
	if (!dst->docs || !dst->logs)
		goto oom;
	dst->doc_cap = src->doc_count + 1;
	dst->log_cap = src->log_count + 1;
	for (size_t i = 0; i < src->doc_count; i++) {
		const doc *from = &src->docs[i];
		doc *to = &dst->docs[i];
		dst->doc_count = i + 1;
		to->collection = copy_text(from->collection, strlen(from->collection));
		to->key = copy_text(from->key, strlen(from->key));
		to->value = copy_text(from->value, from->len);
		to->len = from->len;
		to->expires_at = from->expires_at;
		if (!to->collection || !to->key || !to->value)
			goto oom;
	}
	for (size_t i = 0; i < src->log_count; i++) {
		const log_list *from = &src->logs[i];
		log_list *to = &dst->logs[i];
		dst->log_count = i + 1;
		to->name = copy_text(from->name, strlen(from->name));
		to->records = calloc(from->count + 1, sizeof(record));
		to->cap = from->count + 1;
		to->next_seq = from->next_seq;
		if (!to->name || !to->records)
			goto oom;
		for (size_t j = 0; j < from->count; j++) {
			record r = { from->records[j].seq,
				copy_text(from->records[j].text, from->records[j].len),
				from->records[j].len };
			if (!r.text)
				goto oom;
			to->records[to->count++] = r;
		}
	}
	return 0;
oom:
	data_free(dst);
	return out_of_memory();
}

static int ls_begin(void *self)
{
	list_store *ls = self;
	int rc = data_copy(&ls->saved, &ls->live);
	if (rc == 0)
		ls->in_transaction = 1;
	return rc;
}

static int ls_commit(void *self)
{
	list_store *ls = self;
	data_free(&ls->saved);
	ls->in_transaction = 0;
	return 0;
}

static int ls_rollback(void *self)
{
	list_store *ls = self;
	data_free(&ls->live);
	ls->live = ls->saved; /* the copy becomes the store again */
	memset(&ls->saved, 0, sizeof(ls->saved));
	ls->in_transaction = 0;
	return 0;
}

/* ---- the rest of the vtable ---- */

static int ls_describe(void *self, char **json)
{
	store_data *s = &((list_store *)self)->live;
	char text[128];
	snprintf(text, sizeof(text), "{\"backend\":\"list_store\",\"documents\":%zu,\"logs\":%zu}",
		s->doc_count, s->log_count);
	*json = cog_malloc(strlen(text) + 1);
	if (!*json)
		return out_of_memory();
	strcpy(*json, text);
	return 0;
}

static void ls_close(void *self)
{
	list_store *ls = self;
	/* Closed inside a transaction: what it wrote is dropped. */
	if (ls->in_transaction)
		ls_rollback(ls);
	data_free(&ls->live);
	free(ls);
}

int list_store_new(cog_storage **out)
{
	list_store *ls = calloc(1, sizeof(*ls));
	if (!ls)
		return out_of_memory();
	cog_storage_vtable vtable;
	cog_storage_vtable_init(&vtable, 1); /* version 1: documents and logs */
	vtable.self = ls;
	vtable.close = ls_close;
	vtable.put = ls_put;
	vtable.get = ls_get;
	vtable.del = ls_del;
	vtable.scan = ls_scan;
	vtable.append = ls_append;
	vtable.read = ls_read;
	vtable.begin = ls_begin;
	vtable.commit = ls_commit;
	vtable.rollback = ls_rollback;
	vtable.purge_expired = ls_purge_expired;
	vtable.truncate = ls_truncate;
	vtable.describe = ls_describe;
	/* From here ls belongs to the library: ls_close runs in
	 * cog_storage_free(), or now if this fails. */
	return cog_storage_new(out, &vtable);
}
