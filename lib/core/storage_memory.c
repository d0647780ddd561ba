/* The in-memory storage backend: hash tables for documents (sorted only
 * when scanned), arrays for logs, and an undo log for transactions. Memory
 * records (vtable version 2) live in storage_memory_mem.c, with their own
 * undo log driven from begin/commit/rollback here. */
#include <stdlib.h>
#include <string.h>

#include "storage_int.h"

typedef struct mem_doc {
	struct mem_doc *next;   /* hash chain */
	uint64_t hash;
	char *key;
	char *value;
	size_t value_len;
	int64_t expires_at;
} mem_doc;

typedef struct mem_collection {
	struct mem_collection *next;
	char *name;
	mem_doc **buckets;
	size_t bucket_count;    /* power of two */
	size_t count;
} mem_collection;

typedef struct mem_record {
	uint64_t seq;
	char *text;
	size_t len;
} mem_record;

typedef struct mem_log {
	struct mem_log *next;
	char *name;
	mem_record *records;
	size_t first;           /* records before this index are truncated */
	size_t count;
	size_t cap;
	uint64_t next_seq;
} mem_log;

/* What a rollback needs to restore one change. */
typedef struct mem_undo {
	enum { UNDO_DOC, UNDO_APPEND, UNDO_TRUNCATE } kind;
	mem_collection *coll;
	char *key;
	mem_doc *old;           /* previous document (detached), or NULL */
	mem_log *log;
	size_t old_count;
	size_t old_first;
	uint64_t old_next_seq;
} mem_undo;

typedef struct mem_store {
	cog_memrec_store *memrec;
	mem_collection *collections;
	mem_log *logs;
	bool in_txn;
	mem_undo *undo;
	size_t undo_len;
	size_t undo_cap;
} mem_store;

static uint64_t hash_key(const char *key)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h;
}

static void doc_free(mem_doc *d)
{
	if (d) {
		cog_free(d->key);
		cog_free(d->value);
		cog_free(d);
	}
}

static mem_collection *find_collection(mem_store *m, const char *name, bool create)
{
	for (mem_collection *c = m->collections; c; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c;
	if (!create)
		return NULL;
	mem_collection *c = cog__calloc(1, sizeof(*c));
	if (c && (c->name = cog__strdup(name)) &&
	    (c->buckets = cog__calloc(16, sizeof(mem_doc *)))) {
		c->bucket_count = 16;
		c->next = m->collections;
		m->collections = c;
		return c;
	}
	if (c)
		cog_free(c->name);
	cog_free(c);
	return NULL;
}

static mem_doc **find_slot(mem_collection *c, const char *key, uint64_t h)
{
	mem_doc **slot = &c->buckets[h & (c->bucket_count - 1)];
	while (*slot && ((*slot)->hash != h || strcmp((*slot)->key, key) != 0))
		slot = &(*slot)->next;
	return slot;
}

/* Double the table when it gets crowded; failing to grow is harmless. */
static void maybe_grow(mem_collection *c)
{
	if (c->count < c->bucket_count * 2)
		return;
	size_t n = c->bucket_count * 2;
	mem_doc **b = cog__calloc(n, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < c->bucket_count; i++) {
		mem_doc *d = c->buckets[i];
		while (d) {
			mem_doc *next = d->next;
			d->next = b[d->hash & (n - 1)];
			b[d->hash & (n - 1)] = d;
			d = next;
		}
	}
	cog_free(c->buckets);
	c->buckets = b;
	c->bucket_count = n;
}

static int push_undo(mem_store *m, const mem_undo *u)
{
	if (m->undo_len == m->undo_cap) {
		size_t cap = m->undo_cap ? m->undo_cap * 2 : 64;
		mem_undo *p = cog_realloc(m->undo, cap * sizeof(*p));
		if (!p)
			return cog__oom("memory storage: transaction");
		m->undo = p;
		m->undo_cap = cap;
	}
	m->undo[m->undo_len++] = *u;
	return COG_OK;
}

/* Swap the document under key for `doc` (NULL removes it). Inside a
 * transaction the old document is kept for rollback, else freed. */
static int replace_doc(mem_store *m, mem_collection *c, const char *key,
                       uint64_t h, mem_doc *doc)
{
	mem_doc **slot = find_slot(c, key, h);
	mem_doc *old = *slot;
	if (m->in_txn) {
		mem_undo u = { .kind = UNDO_DOC, .coll = c, .old = old };
		if (!(u.key = cog__strdup(key)))
			return cog__oom("memory storage: transaction");
		int rc = push_undo(m, &u);
		if (rc) {
			cog_free(u.key);
			return rc;
		}
	}
	if (old) {
		*slot = old->next;
		c->count--;
		if (!m->in_txn)
			doc_free(old);
	}
	if (doc) {
		doc->next = c->buckets[h & (c->bucket_count - 1)];
		c->buckets[h & (c->bucket_count - 1)] = doc;
		c->count++;
		maybe_grow(c);
	}
	return COG_OK;
}

static int mem_put(void *self, const char *collection, const char *key,
                   const char *value, size_t len, int64_t expires_at)
{
	mem_store *m = self;
	mem_collection *c = find_collection(m, collection, true);
	mem_doc *d = c ? cog__calloc(1, sizeof(*d)) : NULL;
	if (!d || !(d->key = cog__strdup(key)) ||
	    !(d->value = cog__strndup(value, len))) {
		doc_free(d);
		return cog__oom("memory storage: put");
	}
	d->hash = hash_key(key);
	d->value_len = len;
	d->expires_at = expires_at;
	int rc = replace_doc(m, c, key, d->hash, d);
	if (rc)
		doc_free(d);
	return rc;
}

static bool expired(const mem_doc *d, int64_t now)
{
	return d->expires_at != 0 && d->expires_at <= now;
}

static int mem_get(void *self, const char *collection, const char *key,
                   int64_t now, char **value, size_t *len)
{
	mem_collection *c = find_collection(self, collection, false);
	mem_doc *d = c ? *find_slot(c, key, hash_key(key)) : NULL;
	if (!d || expired(d, now))
		return COG_ENOTFOUND;
	if (!(*value = cog__strndup(d->value, d->value_len)))
		return cog__oom("memory storage: get");
	*len = d->value_len;
	return COG_OK;
}

static int mem_del(void *self, const char *collection, const char *key)
{
	mem_collection *c = find_collection(self, collection, false);
	uint64_t h = hash_key(key);
	if (!c || !*find_slot(c, key, h))
		return COG_ENOTFOUND;
	return replace_doc(self, c, key, h, NULL);
}

static int compare_docs(const void *a, const void *b)
{
	return strcmp((*(mem_doc *const *)a)->key, (*(mem_doc *const *)b)->key);
}

static int mem_scan(void *self, const char *collection, const char *prefix,
                    int64_t now, cog_storage_doc_fn fn, void *user_data)
{
	mem_collection *c = find_collection(self, collection, false);
	if (!c || c->count == 0)
		return COG_OK;
	size_t plen = strlen(prefix), n = 0;
	mem_doc **list = cog_malloc(c->count * sizeof(*list));
	if (!list)
		return cog__oom("memory storage: scan");
	for (size_t i = 0; i < c->bucket_count; i++)
		for (mem_doc *d = c->buckets[i]; d; d = d->next)
			if (!expired(d, now) && strncmp(d->key, prefix, plen) == 0)
				list[n++] = d;
	qsort(list, n, sizeof(*list), compare_docs);
	int rc = COG_OK;
	for (size_t i = 0; i < n && rc == COG_OK; i++)
		rc = fn(list[i]->key, list[i]->value, list[i]->value_len,
			list[i]->expires_at, user_data);
	cog_free(list);
	return rc;
}

static mem_log *find_log(mem_store *m, const char *name, bool create)
{
	for (mem_log *l = m->logs; l; l = l->next)
		if (strcmp(l->name, name) == 0)
			return l;
	if (!create)
		return NULL;
	mem_log *l = cog__calloc(1, sizeof(*l));
	if (!l || !(l->name = cog__strdup(name))) {
		cog_free(l);
		return NULL;
	}
	l->next_seq = 1;
	l->next = m->logs;
	m->logs = l;
	return l;
}

static int mem_append(void *self, const char *log, const char *record,
                      size_t len, uint64_t *seq)
{
	mem_store *m = self;
	mem_log *l = find_log(m, log, true);
	if (!l)
		return cog__oom("memory storage: append");
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		mem_record *r = cog_realloc(l->records, cap * sizeof(*r));
		if (!r)
			return cog__oom("memory storage: append");
		l->records = r;
		l->cap = cap;
	}
	char *text = cog__strndup(record, len);
	if (!text)
		return cog__oom("memory storage: append");
	if (m->in_txn) {
		mem_undo u = { .kind = UNDO_APPEND, .log = l, .old_count = l->count,
			.old_next_seq = l->next_seq };
		int rc = push_undo(m, &u);
		if (rc) {
			cog_free(text);
			return rc;
		}
	}
	l->records[l->count++] = (mem_record){ l->next_seq, text, len };
	*seq = l->next_seq++;
	return COG_OK;
}

static int mem_read(void *self, const char *log, uint64_t from_seq, size_t limit,
                    cog_storage_record_fn fn, void *user_data)
{
	mem_log *l = find_log(self, log, false);
	if (!l)
		return COG_OK;
	/* Sequence numbers are dense from records[first] on (truncation only
	 * cuts the front, rollback only the tail), so from_seq is an index. */
	size_t i = l->first;
	if (l->count > l->first && from_seq > l->records[l->first].seq) {
		uint64_t skip = from_seq - l->records[l->first].seq;
		if (skip >= l->count - l->first)
			return COG_OK;
		i += (size_t)skip;
	}
	int rc = COG_OK;
	for (size_t n = 0; i < l->count && rc == COG_OK && (!limit || n < limit); i++, n++)
		rc = fn(l->records[i].seq, l->records[i].text, l->records[i].len, user_data);
	return rc;
}

static void drop_records(mem_log *l, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		cog_free(l->records[i].text);
}

/* Free the records before `first` for good. */
static void compact_log(mem_log *l)
{
	drop_records(l, 0, l->first);
	memmove(l->records, l->records + l->first,
		(l->count - l->first) * sizeof(*l->records));
	l->count -= l->first;
	l->first = 0;
}

static int mem_truncate(void *self, const char *log, uint64_t before_seq)
{
	mem_store *m = self;
	mem_log *l = find_log(m, log, false);
	if (!l)
		return COG_OK;
	size_t cut = l->first;
	while (cut < l->count && l->records[cut].seq < before_seq)
		cut++;
	if (m->in_txn) {
		mem_undo u = { .kind = UNDO_TRUNCATE, .log = l, .old_first = l->first };
		int rc = push_undo(m, &u);
		if (rc)
			return rc;
		l->first = cut; /* freed at commit, restored by rollback */
		return COG_OK;
	}
	l->first = cut;
	compact_log(l);
	return COG_OK;
}

static int mem_purge(void *self, int64_t now, size_t *purged)
{
	mem_store *m = self;
	*purged = 0;
	int rc = cog__memrec_purge(m->memrec, now, purged);
	if (rc)
		return rc;
	for (mem_collection *c = m->collections; c; c = c->next) {
		for (size_t i = 0; i < c->bucket_count; i++) {
			mem_doc **slot = &c->buckets[i];
			while (*slot) {
				if (!expired(*slot, now)) {
					slot = &(*slot)->next;
					continue;
				}
				mem_doc *d = *slot;
				rc = replace_doc(m, c, d->key, d->hash, NULL);
				if (rc)
					return rc;
				(*purged)++;
			}
		}
	}
	return COG_OK;
}

static int mem_begin(void *self)
{
	mem_store *m = self;
	m->in_txn = true;
	m->undo_len = 0;
	cog__memrec_begin(m->memrec);
	return COG_OK;
}

static int mem_commit(void *self)
{
	mem_store *m = self;
	for (size_t i = 0; i < m->undo_len; i++) {
		cog_free(m->undo[i].key);
		doc_free(m->undo[i].old);
		if (m->undo[i].kind == UNDO_TRUNCATE)
			compact_log(m->undo[i].log);
	}
	m->undo_len = 0;
	m->in_txn = false;
	cog__memrec_commit(m->memrec);
	return COG_OK;
}

static int mem_rollback(void *self)
{
	mem_store *m = self;
	m->in_txn = false;
	cog__memrec_rollback(m->memrec);
	while (m->undo_len > 0) {
		mem_undo *u = &m->undo[--m->undo_len];
		if (u->kind == UNDO_DOC) {
			uint64_t h = hash_key(u->key);
			mem_doc **slot = find_slot(u->coll, u->key, h);
			if (*slot) {
				mem_doc *cur = *slot;
				*slot = cur->next;
				u->coll->count--;
				doc_free(cur);
			}
			if (u->old) {
				/* Re-inserting never allocates: the old node is reused. */
				u->old->next = u->coll->buckets[h & (u->coll->bucket_count - 1)];
				u->coll->buckets[h & (u->coll->bucket_count - 1)] = u->old;
				u->coll->count++;
			}
			cog_free(u->key);
		} else if (u->kind == UNDO_APPEND) {
			drop_records(u->log, u->old_count, u->log->count);
			u->log->count = u->old_count;
			u->log->next_seq = u->old_next_seq;
		} else {
			u->log->first = u->old_first;
		}
	}
	return COG_OK;
}

static int mem_describe(void *self, char **json)
{
	mem_store *m = self;
	size_t docs = 0, records = 0;
	for (mem_collection *c = m->collections; c; c = c->next)
		docs += c->count;
	for (mem_log *l = m->logs; l; l = l->next)
		records += l->count - l->first;
	cog_buf b = COG_BUF_INIT;
	cog_buf_printf(&b, "{\"backend\":\"memory\",\"documents\":%zu,\"records\":%zu,"
		"\"memories\":%zu}", docs, records, cog__memrec_count(m->memrec));
	*json = cog_buf_detach(&b);
	return *json ? COG_OK : cog__oom("memory storage: describe");
}

static void mem_close(void *self)
{
	mem_store *m = self;
	if (m->in_txn)
		mem_rollback(m);
	while (m->collections) {
		mem_collection *c = m->collections;
		m->collections = c->next;
		for (size_t i = 0; i < c->bucket_count; i++) {
			while (c->buckets[i]) {
				mem_doc *d = c->buckets[i];
				c->buckets[i] = d->next;
				doc_free(d);
			}
		}
		cog_free(c->buckets);
		cog_free(c->name);
		cog_free(c);
	}
	while (m->logs) {
		mem_log *l = m->logs;
		m->logs = l->next;
		drop_records(l, 0, l->count);
		cog_free(l->records);
		cog_free(l->name);
		cog_free(l);
	}
	cog_free(m->undo);
	cog__memrec_free(m->memrec);
	cog_free(m);
}

static int memrec_put(void *self, cog_storage_memory_record *rec)
{
	return cog__memrec_put(((mem_store *)self)->memrec, rec);
}

static int memrec_query(void *self, const cog_storage_memory_query *q,
                        cog_storage_memory_fn fn, void *user_data)
{
	return cog__memrec_query(((mem_store *)self)->memrec, q, fn, user_data);
}

static int memrec_delete(void *self, const cog_storage_memory_query *q, size_t *deleted)
{
	return cog__memrec_delete(((mem_store *)self)->memrec, q, deleted);
}

int cog_storage_memory_new_vtable(cog_storage_vtable *vt)
{
	mem_store *m = cog__calloc(1, sizeof(*m));
	if (!m)
		return cog__oom("cog_storage_memory_new");
	if (!(m->memrec = cog__memrec_new())) {
		cog_free(m);
		return COG_ENOMEM;
	}
	cog_storage_vtable_init(vt, COG_STORAGE_VTABLE_VERSION);
	vt->self = m;
	vt->close = mem_close;
	vt->put = mem_put;
	vt->get = mem_get;
	vt->del = mem_del;
	vt->scan = mem_scan;
	vt->append = mem_append;
	vt->read = mem_read;
	vt->begin = mem_begin;
	vt->commit = mem_commit;
	vt->rollback = mem_rollback;
	vt->purge_expired = mem_purge;
	vt->truncate = mem_truncate;
	vt->describe = mem_describe;
	vt->mem_put = memrec_put;
	vt->mem_query = memrec_query;
	vt->mem_delete = memrec_delete;
	return COG_OK;
}
