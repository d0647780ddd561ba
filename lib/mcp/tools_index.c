/*
 * lib/mcp/tools_index.c: a map from names to the cJSON items that bear
 * them, so that a catalogue of n tools is named, defined and refreshed in
 * O(n), not with a scan of the catalogue per tool (a hostile server's
 * 10,000 tools would cost ~10^8 string compares per list_changed, all
 * under tools_lock). Open addressing; the hash is SipHash (libsodium's
 * crypto_shorthash) under a key drawn per map, so names chosen by the
 * server cannot be made to collide.
 */
#include <string.h>

#include <sodium.h>

#include "mcp_tools_int.h"

typedef struct index_slot {
	const char *key;      /* borrowed; NULL: free */
	const cJSON *item;
	uint64_t hash;
} index_slot;

static uint64_t hash_of(const mcp_index *ix, const char *key)
{
	unsigned char out[crypto_shorthash_BYTES];
	crypto_shorthash(out, (const unsigned char *)key, strlen(key), ix->key);
	uint64_t h;
	memcpy(&h, out, sizeof h);
	return h;
}

static index_slot *slot_of(index_slot *slots, size_t cap, uint64_t hash, const char *key)
{
	size_t mask = cap - 1;
	for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
		index_slot *s = &slots[i];
		if (!s->key || (s->hash == hash && strcmp(s->key, key) == 0))
			return s;
	}
}

int mcp_index_init(mcp_index *ix, size_t expect)
{
	memset(ix, 0, sizeof *ix);
	size_t cap = 16;
	while (cap < 2 * expect + 2)
		cap *= 2;
	ix->slots = cog__calloc(cap, sizeof(index_slot));
	if (!ix->slots)
		return cog__oom("tool index");
	ix->cap = cap;
	randombytes_buf(ix->key, sizeof ix->key);
	return COG_OK;
}

void mcp_index_dispose(mcp_index *ix)
{
	cog_free(ix->slots);
	memset(ix, 0, sizeof *ix);
}

static int grow(mcp_index *ix)
{
	size_t cap = ix->cap * 2;
	index_slot *slots = cog__calloc(cap, sizeof(index_slot));
	if (!slots)
		return cog__oom("tool index");
	index_slot *old = ix->slots;
	for (size_t i = 0; i < ix->cap; i++)
		if (old[i].key)
			*slot_of(slots, cap, old[i].hash, old[i].key) = old[i];
	cog_free(old);
	ix->slots = slots;
	ix->cap = cap;
	return COG_OK;
}

int mcp_index_put(mcp_index *ix, const char *key, const cJSON *item)
{
	if (2 * (ix->count + 1) > ix->cap && grow(ix) != COG_OK)
		return COG_ENOMEM;
	uint64_t h = hash_of(ix, key);
	index_slot *s = slot_of(ix->slots, ix->cap, h, key);
	if (s->key)
		return COG_EEXISTS;   /* the first one stays */
	s->key = key;
	s->item = item;
	s->hash = h;
	ix->count++;
	return COG_OK;
}

const cJSON *mcp_index_get(const mcp_index *ix, const char *key)
{
	if (!ix->slots || !key)
		return NULL;
	const index_slot *s = slot_of(ix->slots, ix->cap, hash_of(ix, key), key);
	return s->key ? s->item : NULL;
}

int mcp_index_tools(mcp_index *ix, const cJSON *tools)
{
	int rc = mcp_index_init(ix, (size_t)cJSON_GetArraySize(tools));
	const cJSON *t;
	cJSON_ArrayForEach(t, tools) {
		if (rc != COG_OK)
			break;
		const char *name = cog_json_get_string(t, "name");
		if (name && mcp_index_put(ix, name, t) == COG_ENOMEM)
			rc = COG_ENOMEM;
	}
	if (rc != COG_OK)
		mcp_index_dispose(ix);
	return rc;
}

int mcp_index_members(mcp_index *ix, const cJSON *object)
{
	int rc = mcp_index_init(ix, (size_t)cJSON_GetArraySize(object));
	for (const cJSON *c = object ? object->child : NULL; c && rc == COG_OK; c = c->next)
		if (c->string && mcp_index_put(ix, c->string, c) == COG_ENOMEM)
			rc = COG_ENOMEM;
	if (rc != COG_OK)
		mcp_index_dispose(ix);
	return rc;
}
