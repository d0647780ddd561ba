/* The allocator hook: every allocation of the library goes through here. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"

static void *libc_malloc(size_t size, void *ud) { (void)ud; return malloc(size); }
static void *libc_realloc(void *p, size_t size, void *ud) { (void)ud; return realloc(p, size); }
static void libc_free(void *p, void *ud) { (void)ud; free(p); }

static cog_allocator allocator = {
	COG_ALLOCATOR_VERSION, libc_malloc, libc_realloc, libc_free, NULL
};

/* Set by the first allocation: from then on the allocator is fixed, since
 * memory from one allocator must never reach another's free. */
static atomic_bool allocator_used;
static bool allocator_custom;

bool cog__allocator_is_custom(void)
{
	return allocator_custom;
}

int cog_set_allocator(const cog_allocator *a)
{
	if (atomic_load(&allocator_used) || cog__global_initialized())
		return cog__error(COG_EBUSY,
			"cog_set_allocator: the library has already allocated memory; "
			"set the allocator before any other call");
	if (!a) {
		allocator = (cog_allocator){ COG_ALLOCATOR_VERSION, libc_malloc,
			libc_realloc, libc_free, NULL };
		allocator_custom = false;
		return COG_OK;
	}
	if (a->version == 0 || a->version > COG_ALLOCATOR_VERSION)
		return cog__error(COG_EVERSION,
			"cog_set_allocator: allocator version %u is not supported (1..%u)",
			a->version, COG_ALLOCATOR_VERSION);
	if (!a->malloc || !a->realloc || !a->free)
		return cog__error(COG_EINVAL,
			"cog_set_allocator: malloc, realloc and free are all required");
	allocator = *a;
	allocator_custom = true;
	return COG_OK;
}

void *cog_malloc(size_t size)
{
	atomic_store_explicit(&allocator_used, true, memory_order_relaxed);
	return allocator.malloc(size ? size : 1, allocator.user_data);
}

void *cog_realloc(void *ptr, size_t size)
{
	atomic_store_explicit(&allocator_used, true, memory_order_relaxed);
	return allocator.realloc(ptr, size ? size : 1, allocator.user_data);
}

void cog_free(void *ptr)
{
	if (ptr)
		allocator.free(ptr, allocator.user_data);
}

void *cog__calloc(size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return NULL;
	void *p = cog_malloc(count * size);
	if (p)
		memset(p, 0, count * size);
	return p;
}

char *cog__strndup(const char *s, size_t len)
{
	if (!s)
		return NULL;
	char *copy = cog_malloc(len + 1);
	if (copy) {
		memcpy(copy, s, len);
		copy[len] = '\0';
	}
	return copy;
}

char *cog__strdup(const char *s)
{
	return s ? cog__strndup(s, strlen(s)) : NULL;
}
