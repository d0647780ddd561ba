/*
 * SQLite's memory through the libcognition allocator hook.
 *
 * SQLite asks for the size of a live allocation (xSize), which cog_malloc
 * cannot answer, so every block carries a small header holding its size.
 * The header is 16 bytes, not 8, so that the pointer SQLite sees keeps the
 * 16-byte alignment malloc gives on the platforms we build for.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "sqlite_int.h"

#define HEADER_SIZE 16

static void *block_from_user(void *p)
{
	return (char *)p - HEADER_SIZE;
}

static void *user_from_block(void *block, int size)
{
	memcpy(block, &size, sizeof(size));
	return (char *)block + HEADER_SIZE;
}

static void *mem_malloc(int size)
{
	if (size <= 0 || (uint64_t)size > (uint64_t)INT32_MAX - HEADER_SIZE)
		return NULL;
	void *block = cog_malloc((size_t)size + HEADER_SIZE);
	return block ? user_from_block(block, size) : NULL;
}

static void mem_free(void *p)
{
	if (p)
		cog_free(block_from_user(p));
}

static void *mem_realloc(void *p, int size)
{
	if (!p)
		return mem_malloc(size);
	if (size <= 0 || (uint64_t)size > (uint64_t)INT32_MAX - HEADER_SIZE)
		return NULL;
	void *block = cog_realloc(block_from_user(p), (size_t)size + HEADER_SIZE);
	return block ? user_from_block(block, size) : NULL;
}

static int mem_size(void *p)
{
	int size = 0;
	if (p)
		memcpy(&size, block_from_user(p), sizeof(size));
	return size;
}

/* SQLite uses this to size lookaside and page buffers; 8-byte steps keep
 * its internal accounting close to what the allocator really hands out. */
static int mem_roundup(int size)
{
	return (size + 7) & ~7;
}

static int mem_init(void *app_data)
{
	(void)app_data;
	return SQLITE_OK;
}

static void mem_shutdown(void *app_data)
{
	(void)app_data;
}

static const sqlite3_mem_methods cog_mem_methods = {
	mem_malloc, mem_free, mem_realloc, mem_size, mem_roundup,
	mem_init, mem_shutdown, NULL
};

static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static void install(void)
{
	/*
	 * SQLite takes memory methods only before it is initialised, and the
	 * setting is process-wide. If the host (or another library in the
	 * process) has already used SQLite, sqlite3_config() returns
	 * SQLITE_MISUSE: we then simply keep SQLite's own allocator. That is
	 * safe because no memory ever crosses between the two: everything we
	 * hand to the caller is copied into cog_malloc() memory first.
	 */
	(void)sqlite3_config(SQLITE_CONFIG_MALLOC, &cog_mem_methods);
}

void sqlstore_alloc_install(void)
{
	/* pthread_once only fails on invalid arguments; there is nothing to
	 * fall back to then anyway but SQLite's default allocator. */
	(void)pthread_once(&install_once, install);
}
