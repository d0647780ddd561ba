/*
 * Prepared statements of memory queries, kept by SQL text.
 *
 * A query's SQL depends on its shape (how many namespaces, which layers,
 * which filter keys, match or not), not on its values, which are bound as
 * parameters. Callers repeat a handful of shapes (get by id, a keyword
 * search in one namespace, a vector index load), so a small cache with
 * least-recently-used eviction saves SQLite's parse and plan on almost
 * every call.
 */
#include <string.h>

#include "sqlite_memory_int.h"

#define CACHE_SLOTS 24

typedef struct cached_stmt {
	char *sql;            /* cog_malloc'd copy; NULL: empty slot */
	size_t len;
	uint64_t hash;
	uint64_t last_used;
	sqlite3_stmt *st;
} cached_stmt;

struct sqlmem_state {
	cached_stmt slot[CACHE_SLOTS];
	uint64_t clock;
	float *scratch;
	size_t scratch_cap;   /* floats */
};

static uint64_t hash_sql(const char *sql, size_t len)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)sql[i]) * 1099511628211ull;
	return h;
}

static struct sqlmem_state *state(sqlstore *s)
{
	if (!s->mem) {
		s->mem = cog_malloc(sizeof(*s->mem));
		if (s->mem)
			memset(s->mem, 0, sizeof(*s->mem));
	}
	return s->mem;
}

static void clear_slot(cached_stmt *c)
{
	sqlite3_finalize(c->st);
	cog_free(c->sql);
	memset(c, 0, sizeof(*c));
}

int sqlmem_prepare(sqlstore *s, const char *sql, sqlite3_stmt **st)
{
	struct sqlmem_state *m = state(s);
	if (!m)
		return cog_error_set(COG_ENOMEM,
			"sqlite storage: memory query on %s: out of memory", s->path);
	size_t len = strlen(sql);
	uint64_t h = hash_sql(sql, len);
	cached_stmt *victim = &m->slot[0];
	for (size_t i = 0; i < CACHE_SLOTS; i++) {
		cached_stmt *c = &m->slot[i];
		if (c->sql && c->hash == h && c->len == len &&
		    memcmp(c->sql, sql, len) == 0) {
			c->last_used = ++m->clock;
			*st = c->st;
			return COG_OK;
		}
		if (!c->sql || (victim->sql && c->last_used < victim->last_used))
			victim = c;
	}
	clear_slot(victim);
	sqlite3_stmt *fresh = NULL;
	int rc = sqlite3_prepare_v3(s->db, sql, (int)len, SQLITE_PREPARE_PERSISTENT,
		&fresh, NULL);
	if (rc != SQLITE_OK)
		return sqlstore_fail(s->db, rc, s->path, "prepare a memory query on");
	char *copy = cog_malloc(len + 1);
	if (!copy) {
		sqlite3_finalize(fresh);
		return cog_error_set(COG_ENOMEM,
			"sqlite storage: memory query on %s: out of memory", s->path);
	}
	memcpy(copy, sql, len + 1);
	*victim = (cached_stmt){ copy, len, h, ++m->clock, fresh };
	*st = fresh;
	return COG_OK;
}

float *sqlmem_scratch(sqlstore *s, size_t n)
{
	struct sqlmem_state *m = state(s);
	if (!m)
		return NULL;
	if (n > m->scratch_cap) {
		if (n > SIZE_MAX / sizeof(float))
			return NULL;
		float *bigger = cog_realloc(m->scratch, n * sizeof(float));
		if (!bigger)
			return NULL;
		m->scratch = bigger;
		m->scratch_cap = n;
	}
	return m->scratch;
}

void sqlstore_mem_free(sqlstore *s)
{
	if (!s->mem)
		return;
	for (size_t i = 0; i < CACHE_SLOTS; i++)
		clear_slot(&s->mem->slot[i]);
	cog_free(s->mem->scratch);
	cog_free(s->mem);
	s->mem = NULL;
}
