/* A bump allocator: a compiled schema is many small pieces that live and
 * die together, so they come from big blocks freed in one go. */
#include <stdio.h>
#include <string.h>

#include "schema_impl.h"

#define ARENA_BLOCK 8192

struct arena_block {
	arena_block *next;
	size_t used, cap;
	max_align_t data[];
};

void *arena_alloc(arena *a, size_t size)
{
	size_t align = sizeof(max_align_t);
	size = (size + align - 1) / align * align;
	if (size == 0)
		size = align;
	arena_block *b = a->head;
	if (!b || b->cap - b->used < size) {
		size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
		b = cog_malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->cap = cap;
		b->used = 0;
		/* A big piece gets a block of its own behind the current one, so
		 * the rest of the current block stays usable. */
		if (a->head && cap > ARENA_BLOCK) {
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	void *p = (char *)b->data + b->used;
	b->used += size;
	memset(p, 0, size);
	return p;
}

char *arena_strdup(arena *a, const char *s)
{
	size_t len = strlen(s);
	char *copy = arena_alloc(a, len + 1);
	if (copy)
		memcpy(copy, s, len + 1);
	return copy;
}

char *arena_printf(arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0)
		return NULL;
	char *out = arena_alloc(a, (size_t)len + 1);
	if (!out)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(out, (size_t)len + 1, fmt, ap);
	va_end(ap);
	return out;
}

void arena_free(arena *a)
{
	arena_block *b = a->head;
	while (b) {
		arena_block *next = b->next;
		cog_free(b);
		b = next;
	}
	a->head = NULL;
}
