/* Reference-counted library initialisation. */
#include <sodium.h>

#include "core_int.h"

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int global_refs;

bool cog__global_initialized(void)
{
	pthread_mutex_lock(&global_lock);
	bool initialized = global_refs > 0;
	pthread_mutex_unlock(&global_lock);
	return initialized;
}

int cog_global_init(void)
{
	int rc = COG_OK;
	pthread_mutex_lock(&global_lock);
	if (global_refs == 0) {
		if (sodium_init() < 0) {
			rc = cog__error(COG_ERROR,
				"cog_global_init: libsodium could not be initialised");
			goto out;
		}
		cog__json_init();
	}
	global_refs++;
out:
	pthread_mutex_unlock(&global_lock);
	return rc;
}

void cog_global_shutdown(void)
{
	pthread_mutex_lock(&global_lock);
	if (global_refs > 0)
		global_refs--;
	pthread_mutex_unlock(&global_lock);
}
