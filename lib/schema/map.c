/* Open-addressing hash maps used while compiling: subschema -> facts about
 * it, and URI -> subschema. Keys are not copied. */
#include <string.h>

#include "schema_impl.h"

uint32_t schema_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static size_t hash_ptr(const void *p)
{
	uintptr_t v = (uintptr_t)p;
	v ^= v >> 17;
	v *= (uintptr_t)0x9E3779B97F4A7C15ull;
	return (size_t)(v ^ (v >> 29));
}

static size_t slot_of(const map *m, const void *pkey, const char *skey)
{
	size_t mask = m->cap - 1;
	size_t i = (skey ? schema_hash(skey) : hash_ptr(pkey)) & mask;
	for (;;) {
		map_entry *e = &m->slots[i];
		if (!e->pkey && !e->skey)
			return i;
		if (skey ? (e->skey && strcmp(e->skey, skey) == 0) : e->pkey == pkey)
			return i;
		i = (i + 1) & mask;
	}
}

static int grow(map *m)
{
	if (m->count * 2 < m->cap)
		return 0;
	size_t cap = m->cap ? m->cap * 2 : 64;
	map_entry *slots = cog__calloc(cap, sizeof(*slots));
	if (!slots)
		return cog__oom("schema compile");
	map old = *m;
	m->slots = slots;
	m->cap = cap;
	for (size_t i = 0; i < old.cap; i++) {
		map_entry *e = &old.slots[i];
		if (e->pkey || e->skey)
			m->slots[slot_of(m, e->pkey, e->skey)] = *e;
	}
	cog_free(old.slots);
	return 0;
}

static int put(map *m, const void *pkey, const char *skey, void *value)
{
	int rc = grow(m);
	if (rc)
		return rc;
	map_entry *e = &m->slots[slot_of(m, pkey, skey)];
	if (e->pkey || e->skey)
		return 0;
	e->pkey = pkey;
	e->skey = skey;
	e->value = value;
	m->count++;
	return 0;
}

static void *get(const map *m, const void *pkey, const char *skey)
{
	if (!m->cap)
		return NULL;
	return m->slots[slot_of(m, pkey, skey)].value;
}

int map_put_ptr(map *m, const void *key, void *value) { return put(m, key, NULL, value); }
void *map_get_ptr(const map *m, const void *key) { return get(m, key, NULL); }
int map_put_str(map *m, const char *key, void *value) { return put(m, NULL, key, value); }
void *map_get_str(const map *m, const char *key) { return get(m, NULL, key); }

void map_dispose(map *m)
{
	cog_free(m->slots);
	memset(m, 0, sizeof(*m));
}
