/* The storage wrapper: validates every argument once for all backends,
 * serialises calls, and ties transactions to the thread that opened them. */
#include <stdio.h>
#include <string.h>

#include "storage_int.h"
#include "cognition/storage.h"

/* Size of the vtable struct of each version: a version ends where the next
 * one's first member starts. */
static const size_t vtable_size[COG_STORAGE_VTABLE_VERSION + 1] = {
	0, offsetof(cog_storage_vtable, mem_put), sizeof(cog_storage_vtable)
};

int cog_storage_vtable_init(cog_storage_vtable *vtable, unsigned int version)
{
	if (!vtable)
		return cog__error(COG_EINVAL, "cog_storage_vtable_init: vtable is NULL");
	if (version == 0 || version > COG_STORAGE_VTABLE_VERSION)
		return cog__error(COG_EVERSION,
			"cog_storage_vtable_init: version %u is not supported (1..%u)",
			version, COG_STORAGE_VTABLE_VERSION);
	memset(vtable, 0, vtable_size[version]);
	vtable->version = version;
	return COG_OK;
}

static void close_backend(const cog_storage_vtable *vt)
{
	if (vt->close)
		vt->close(vt->self);
}

int cog_storage_new(cog_storage **out, const cog_storage_vtable *vt)
{
	static const char fn[] = "cog_storage_new";
	COG_CHECK_ARG(out, fn, "out is NULL");
	*out = NULL;
	COG_CHECK_ARG(vt, fn, "vtable is NULL");
	if (vt->version == 0 || vt->version > COG_STORAGE_VTABLE_VERSION) {
		close_backend(vt); /* close sits at the same offset in every version */
		return cog__error(COG_EVERSION,
			"%s: storage vtable version %u is not supported (1..%u)",
			fn, vt->version, COG_STORAGE_VTABLE_VERSION);
	}
	const char *missing =
		!vt->put ? "put" : !vt->get ? "get" : !vt->del ? "del" :
		!vt->scan ? "scan" : !vt->append ? "append" : !vt->read ? "read" :
		!vt->begin ? "begin" : !vt->commit ? "commit" :
		!vt->rollback ? "rollback" : NULL;
	if (missing) {
		close_backend(vt);
		return cog__error(COG_EINVAL, "%s: required member '%s' is NULL",
			fn, missing);
	}
	/* The memory members work together (a record put natively must be
	 * found natively): all three or none. */
	if (vt->version >= 2) {
		int set = !!vt->mem_put + !!vt->mem_query + !!vt->mem_delete;
		if (set != 0 && set != 3) {
			close_backend(vt);
			return cog__error(COG_EINVAL,
				"%s: memory members mem_put, mem_query and mem_delete must be "
				"all set or all NULL ('%s' is NULL)", fn,
				!vt->mem_put ? "mem_put" : !vt->mem_query ? "mem_query" : "mem_delete");
		}
	}
	cog_storage *s = cog__calloc(1, sizeof(*s));
	if (!s) {
		close_backend(vt);
		return cog__oom(fn);
	}
	/* Copy only what the backend's version defines (a backend built
	 * against older headers has a shorter struct); the rest stays NULL. */
	memcpy(&s->vt, vt, vtable_size[vt->version]);
	s->native_memory = s->vt.mem_put != NULL;
	pthread_mutexattr_t attr;
	int err = pthread_mutexattr_init(&attr);
	if (!err)
		err = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	if (!err)
		err = pthread_mutex_init(&s->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (err) {
		close_backend(vt);
		cog_free(s);
		return cog__error(COG_ERROR, "%s: cannot create mutex (%d)", fn, err);
	}
	*out = s;
	return COG_OK;
}

void cog_storage_free(cog_storage *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->in_txn) {
		s->vt.rollback(s->vt.self);
		s->in_txn = false;
		pthread_mutex_unlock(&s->lock); /* the begin() lock */
	}
	close_backend(&s->vt);
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_destroy(&s->lock);
	cog_free(s);
}

int cog_storage_memory_new(cog_storage **out)
{
	cog_storage_vtable vt;
	COG_CHECK_ARG(out, "cog_storage_memory_new", "out is NULL");
	*out = NULL;
	int rc = cog_storage_memory_new_vtable(&vt);
	return rc ? rc : cog_storage_new(out, &vt);
}

/* ---- argument checks ---- */

static int check_name(const char *fn, const char *kind, const char *name,
                      size_t max)
{
	if (!name)
		return cog__error(COG_EINVAL, "%s: %s is NULL", fn, kind);
	size_t len = strnlen(name, max + 1);
	if (len == 0)
		return cog__error(COG_EINVAL, "%s: %s is empty", fn, kind);
	if (len > max)
		return cog__error(COG_ERANGE, "%s: %s is longer than %zu bytes",
			fn, kind, max);
	size_t bad;
	if (!cog_utf8_valid(name, len, &bad))
		return cog__error(COG_EINVAL, "%s: %s is not valid UTF-8 (byte %zu)",
			fn, kind, bad);
	return COG_OK;
}

static int check_value(const char *fn, const char *json, size_t *len)
{
	if (!json)
		return cog__error(COG_EINVAL, "%s: JSON value is NULL", fn);
	*len = strnlen(json, (size_t)COG_STORAGE_VALUE_MAX + 1);
	if (*len > COG_STORAGE_VALUE_MAX)
		return cog__error(COG_ERANGE, "%s: value is larger than %u bytes",
			fn, COG_STORAGE_VALUE_MAX);
	return cog_json_validate(json, *len, fn);
}

/* Take the lock for one call; refuse re-entry from a callback. */
int cog__storage_enter(cog_storage *s, const char *fn)
{
	if (!s)
		return cog__error(COG_EINVAL, "%s: storage is NULL", fn);
	pthread_mutex_lock(&s->lock);
	if (s->in_callback) {
		pthread_mutex_unlock(&s->lock);
		return cog__error(COG_EBUSY,
			"%s: called from inside a scan, read or memory query callback of the same storage", fn);
	}
	return COG_OK;
}

int cog__storage_leave(cog_storage *s, int rc)
{
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* ---- documents ---- */

int cog_storage_put(cog_storage *s, const char *collection, const char *key,
                    const char *json, int64_t expires_at)
{
	static const char fn[] = "cog_storage_put";
	size_t len = 0;
	int rc = check_name(fn, "collection", collection, COG_STORAGE_NAME_MAX);
	if (!rc)
		rc = check_name(fn, "key", key, COG_STORAGE_KEY_MAX);
	if (!rc)
		rc = check_value(fn, json, &len);
	if (!rc && expires_at < 0)
		rc = cog__error(COG_EINVAL, "%s: expires_at is negative", fn);
	if (rc || (rc = cog__storage_enter(s, fn)))
		return rc;
	return cog__storage_leave(s, s->vt.put(s->vt.self, collection, key, json, len, expires_at));
}

int cog_storage_get(cog_storage *s, const char *collection, const char *key,
                    char **json)
{
	static const char fn[] = "cog_storage_get";
	COG_CHECK_ARG(json, fn, "json (the out parameter) is NULL");
	*json = NULL;
	int rc = check_name(fn, "collection", collection, COG_STORAGE_NAME_MAX);
	if (!rc)
		rc = check_name(fn, "key", key, COG_STORAGE_KEY_MAX);
	if (rc || (rc = cog__storage_enter(s, fn)))
		return rc;
	size_t len = 0;
	rc = s->vt.get(s->vt.self, collection, key, cog_clock_realtime_ms(), json, &len);
	if (rc == COG_ENOTFOUND)
		cog__error(rc, "%s: no document '%s' in collection '%s'", fn, key, collection);
	return cog__storage_leave(s, rc);
}

int cog_storage_delete(cog_storage *s, const char *collection, const char *key)
{
	static const char fn[] = "cog_storage_delete";
	int rc = check_name(fn, "collection", collection, COG_STORAGE_NAME_MAX);
	if (!rc)
		rc = check_name(fn, "key", key, COG_STORAGE_KEY_MAX);
	if (rc || (rc = cog__storage_enter(s, fn)))
		return rc;
	rc = s->vt.del(s->vt.self, collection, key);
	if (rc == COG_ENOTFOUND)
		cog__error(rc, "%s: no document '%s' in collection '%s'", fn, key, collection);
	return cog__storage_leave(s, rc);
}

/* Callbacks run with in_callback set so that re-entry fails cleanly. */
struct scan_guard {
	cog_storage *s;
	const char *fn;
	cog_storage_doc_fn doc_fn;
	cog_storage_record_fn record_fn;
	void *user_data;
};

/* What a callback returned, as the backend should see it: any positive
 * value means stop; an error without a message of its own gets one. */
static int callback_result(struct scan_guard *g, int rc)
{
	g->s->in_callback = false;
	if (rc > 0)
		return COG_STORAGE_STOP;
	if (rc < 0 && cog_error_last_code() != rc)
		cog__error(rc, "%s: the callback stopped it with status %d (%s)",
			g->fn, rc, cog_strerror(rc));
	return rc;
}

static int guarded_doc(const char *key, const char *value, size_t len,
                       int64_t expires_at, void *ud)
{
	struct scan_guard *g = ud;
	g->s->in_callback = true;
	return callback_result(g, g->doc_fn(key, value, len, expires_at, g->user_data));
}

static int guarded_record(uint64_t seq, const char *record, size_t len, void *ud)
{
	struct scan_guard *g = ud;
	g->s->in_callback = true;
	return callback_result(g, g->record_fn(seq, record, len, g->user_data));
}

static int scan_result(int rc)
{
	return rc > 0 ? COG_OK : rc;
}

int cog_storage_scan(cog_storage *s, const char *collection, const char *prefix,
                     cog_storage_doc_fn fn_cb, void *user_data)
{
	static const char fn[] = "cog_storage_scan";
	COG_CHECK_ARG(fn_cb, fn, "callback is NULL");
	int rc = check_name(fn, "collection", collection, COG_STORAGE_NAME_MAX);
	if (!prefix)
		prefix = "";
	size_t plen = strnlen(prefix, COG_STORAGE_KEY_MAX + 1);
	if (!rc && plen > COG_STORAGE_KEY_MAX)
		rc = cog__error(COG_ERANGE, "%s: prefix is longer than %u bytes",
			fn, COG_STORAGE_KEY_MAX);
	size_t bad;
	if (!rc && !cog_utf8_valid(prefix, plen, &bad))
		rc = cog__error(COG_EINVAL, "%s: prefix is not valid UTF-8 (byte %zu)", fn, bad);
	if (rc || (rc = cog__storage_enter(s, fn)))
		return rc;
	struct scan_guard g = { s, fn, fn_cb, NULL, user_data };
	cog_error_clear(); /* so that a callback's own message is recognised */
	rc = s->vt.scan(s->vt.self, collection, prefix, cog_clock_realtime_ms(),
		guarded_doc, &g);
	return cog__storage_leave(s, scan_result(rc));
}

/* ---- logs ---- */

int cog_storage_append(cog_storage *s, const char *log, const char *json,
                       uint64_t *seq)
{
	static const char fn[] = "cog_storage_append";
	size_t len = 0;
	uint64_t ignored;
	int rc = check_name(fn, "log name", log, COG_STORAGE_NAME_MAX);
	if (!rc)
		rc = check_value(fn, json, &len);
	if (rc || (rc = cog__storage_enter(s, fn)))
		return rc;
	return cog__storage_leave(s, s->vt.append(s->vt.self, log, json, len, seq ? seq : &ignored));
}

int cog_storage_read(cog_storage *s, const char *log, uint64_t from_seq,
                     size_t limit, cog_storage_record_fn fn_cb, void *user_data)
{
	static const char fn[] = "cog_storage_read";
	COG_CHECK_ARG(fn_cb, fn, "callback is NULL");
	int rc = check_name(fn, "log name", log, COG_STORAGE_NAME_MAX);
	if (rc || (rc = cog__storage_enter(s, fn)))
		return rc;
	struct scan_guard g = { s, fn, NULL, fn_cb, user_data };
	cog_error_clear();
	rc = s->vt.read(s->vt.self, log, from_seq, limit, guarded_record, &g);
	return cog__storage_leave(s, scan_result(rc));
}

/* ---- transactions ---- */

int cog_storage_begin(cog_storage *s)
{
	static const char fn[] = "cog_storage_begin";
	int rc = cog__storage_enter(s, fn);
	if (rc)
		return rc;
	if (s->in_txn)
		return cog__storage_leave(s, cog__error(COG_EBUSY,
			"%s: a transaction is already open on this thread", fn));
	rc = s->vt.begin(s->vt.self);
	if (rc)
		return cog__storage_leave(s, rc);
	s->in_txn = true;
	return COG_OK; /* keep the lock until commit or rollback */
}

static int end_txn(cog_storage *s, bool commit)
{
	const char *fn = commit ? "cog_storage_commit" : "cog_storage_rollback";
	int rc = cog__storage_enter(s, fn);
	if (rc)
		return rc;
	if (!s->in_txn)
		return cog__storage_leave(s, cog__error(COG_EINVAL, "%s: no transaction is open", fn));
	rc = commit ? s->vt.commit(s->vt.self) : s->vt.rollback(s->vt.self);
	if (rc && commit) {
		/* A failed commit leaves nothing half-applied: roll back, but
		 * report why the commit failed, not how the rollback went. */
		char why[512];
		snprintf(why, sizeof(why), "%s", cog_error_last());
		s->vt.rollback(s->vt.self);
		cog__error(rc, "%s", why);
	}
	s->in_txn = false;
	pthread_mutex_unlock(&s->lock); /* the lock taken by begin() */
	return cog__storage_leave(s, rc);
}

int cog_storage_commit(cog_storage *s)
{
	return end_txn(s, true);
}

int cog_storage_rollback(cog_storage *s)
{
	return end_txn(s, false);
}

/* ---- maintenance ---- */

int cog_storage_purge_expired(cog_storage *s, size_t *purged)
{
	static const char fn[] = "cog_storage_purge_expired";
	size_t count = 0;
	int rc = cog__storage_enter(s, fn);
	if (rc)
		return rc;
	if (s->vt.purge_expired)
		rc = s->vt.purge_expired(s->vt.self, cog_clock_realtime_ms(), &count);
	if (purged)
		*purged = rc ? 0 : count;
	return cog__storage_leave(s, rc);
}

int cog_storage_truncate(cog_storage *s, const char *log, uint64_t before_seq)
{
	static const char fn[] = "cog_storage_truncate";
	int rc = check_name(fn, "log name", log, COG_STORAGE_NAME_MAX);
	if (rc || (rc = cog__storage_enter(s, fn)))
		return rc;
	if (!s->vt.truncate)
		return cog__storage_leave(s, cog__error(COG_EINVAL,
			"%s: this storage backend cannot truncate logs", fn));
	return cog__storage_leave(s, s->vt.truncate(s->vt.self, log, before_seq));
}

int cog_storage_describe(cog_storage *s, char **json)
{
	static const char fn[] = "cog_storage_describe";
	COG_CHECK_ARG(json, fn, "json (the out parameter) is NULL");
	*json = NULL;
	int rc = cog__storage_enter(s, fn);
	if (rc)
		return rc;
	if (s->vt.describe)
		rc = s->vt.describe(s->vt.self, json);
	else if (!(*json = cog__strdup("{\"backend\":\"custom\"}")))
		rc = cog__oom(fn);
	return cog__storage_leave(s, rc);
}
