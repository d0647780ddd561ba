/*
 * libcurl's process-wide initialisation, with libcognition's allocator.
 *
 * curl_global_init_mem() is how the host's allocator hook (cog_set_allocator)
 * reaches libcurl. It must run once, before any other libcurl call of ours;
 * if the host initialised libcurl first, libcurl keeps the host's choice and
 * only counts our call, which is harmless because we never free memory
 * libcurl allocated, nor the other way round.
 */
#include <stdint.h>
#include <string.h>

#include "curl_int.h"

/* A mutex rather than pthread_once: a failed initialisation (out of memory)
 * may be retried by the next transport. */
static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static bool global_done;

/* libcurl may ask for zero bytes; a NULL answer would read as OOM. */
static void *curl_mem_malloc(size_t size)
{
	return cog_malloc(size != 0 ? size : 1);
}

static void curl_mem_free(void *ptr)
{
	cog_free(ptr);
}

static void *curl_mem_realloc(void *ptr, size_t size)
{
	return cog_realloc(ptr, size != 0 ? size : 1);
}

static char *curl_mem_strdup(const char *s)
{
	size_t len = strlen(s) + 1;
	char *copy = cog_malloc(len);

	if (copy != NULL)
		memcpy(copy, s, len);
	return copy;
}

static void *curl_mem_calloc(size_t count, size_t size)
{
	void *ptr;

	if (size != 0 && count > SIZE_MAX / size)
		return NULL;
	ptr = curl_mem_malloc(count * size);
	if (ptr != NULL)
		memset(ptr, 0, count * size);
	return ptr;
}

int cog_curl_global_init(void)
{
	CURLcode cc = CURLE_OK;
	int err = pthread_mutex_lock(&global_lock);

	if (err != 0)
		return cog_error_set(COG_EIO, "curl: pthread_mutex_lock: %s",
		                     strerror(err));
	if (!global_done) {
		cc = curl_global_init_mem(CURL_GLOBAL_ALL, curl_mem_malloc,
		                          curl_mem_free, curl_mem_realloc,
		                          curl_mem_strdup, curl_mem_calloc);
		global_done = cc == CURLE_OK;
	}
	pthread_mutex_unlock(&global_lock);
	if (cc != CURLE_OK)
		return cog_error_set(COG_EIO, "curl: curl_global_init failed: %s",
		                     curl_easy_strerror(cc));
	return 0;
}
