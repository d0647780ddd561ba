/*
 * The working layer: the current run's turns and notes, in RAM in one handle
 * only, bounded by an estimate of their tokens. Items are kept oldest first
 * with increasing ids, so a lookup is a binary search and eviction takes
 * from the front (one move for however many go).
 */
#include <string.h>

#include "memory_int.h"

static void item_dispose(mem_work_item *it)
{
	cog_free(it->text);
	cog_free(it->metadata);
	cog_free(it->vec);
	memset(it, 0, sizeof(*it));
}

/* Drop the oldest items while over max_tokens, keeping the newest one. */
static void evict(mem_working *w)
{
	size_t n = 0, tokens = w->tokens;
	while (tokens > w->max_tokens && w->count - n > 1)
		tokens -= w->items[n++].tokens;
	if (!n)
		return;
	for (size_t i = 0; i < n; i++)
		item_dispose(&w->items[i]);
	memmove(w->items, w->items + n, (w->count - n) * sizeof(*w->items));
	w->count -= n;
	w->tokens = tokens;
	w->evicted += n;
}

static int grow(mem_working *w)
{
	if (w->count < w->cap)
		return COG_OK;
	size_t cap = w->cap ? w->cap * 2 : 16;
	if (cap > SIZE_MAX / sizeof(*w->items))
		return cog__oom("working memory");
	mem_work_item *items = cog_realloc(w->items, cap * sizeof(*items));
	if (!items)
		return cog__oom("working memory");
	w->items = items;
	w->cap = cap;
	return COG_OK;
}

int mem_work_add(mem_working *w, const char *text, size_t len, const char *metadata,
                 double importance, size_t tokens, const float *vec, size_t dim,
                 uint64_t *id)
{
	if (w->next > MEM_ID_MAX - MEM_WORK_ID_BASE)
		return cog__error(COG_ERANGE, "working memory: out of ids");
	int rc = grow(w);
	if (rc)
		return rc;
	mem_work_item it = { 0 };
	it.text = cog__strndup(text, len);
	it.metadata = cog__strdup(metadata ? metadata : "{}");
	if (vec && dim) {
		it.vec = cog_malloc(dim * sizeof(float));
		if (it.vec)
			memcpy(it.vec, vec, dim * sizeof(float));
	}
	if (!it.text || !it.metadata || (vec && dim && !it.vec)) {
		item_dispose(&it);
		return cog__oom("working memory");
	}
	it.id = MEM_WORK_ID_BASE + w->next++;
	it.text_len = len;
	it.importance = importance;
	it.created_at = cog_clock_realtime_ms();
	it.tokens = tokens;
	w->items[w->count++] = it;
	w->tokens += tokens;
	evict(w);
	if (id)
		*id = it.id;
	return COG_OK;
}

static size_t find_index(const mem_working *w, uint64_t id)
{
	size_t lo = 0, hi = w->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->items[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < w->count && w->items[lo].id == id ? lo : SIZE_MAX;
}

mem_work_item *mem_work_find(mem_working *w, uint64_t id)
{
	size_t i = find_index(w, id);
	return i == SIZE_MAX ? NULL : &w->items[i];
}

int mem_work_remove(mem_working *w, uint64_t id)
{
	size_t i = find_index(w, id);
	if (i == SIZE_MAX)
		return cog__error(COG_ENOTFOUND, "working memory: no item %llu",
			(unsigned long long)id);
	w->tokens -= w->items[i].tokens;
	item_dispose(&w->items[i]);
	memmove(w->items + i, w->items + i + 1, (w->count - i - 1) * sizeof(*w->items));
	w->count--;
	return COG_OK;
}

/* Frees every item; max_tokens and the id counter stay (ids are never
 * reused by a handle), and so does the count of evictions. */
void mem_work_clear(mem_working *w)
{
	for (size_t i = 0; i < w->count; i++)
		item_dispose(&w->items[i]);
	cog_free(w->items);
	w->items = NULL;
	w->count = 0;
	w->cap = 0;
	w->tokens = 0;
}
