/* Version and feature queries. */
#include "core_int.h"

const char *cog_version(void)
{
	return COG_VERSION_STRING;
}

unsigned int cog_version_number(void)
{
	return COG_VERSION_NUMBER;
}

unsigned int cog_features(void)
{
	unsigned int features = COG_FEATURE_THREADS;
#ifdef COG_HAVE_CURL
	features |= COG_FEATURE_CURL;
#endif
#ifdef COG_HAVE_SQLITE
	features |= COG_FEATURE_SQLITE;
#endif
	return features;
}
