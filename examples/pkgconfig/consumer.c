/* The smallest program built against an installed libcognition:
 *   cc consumer.c $(pkg-config --cflags --libs libcognition libcognition-sqlite)
 * Stores a document in a SQLite file and reads it back. */
#include <stdio.h>
#include <string.h>

#include <cognition.h>
#include <cognition/sqlite.h>

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "consumer.db";
	cog_storage *storage = NULL;
	char *json = NULL;

	if (!COG_VERSION_CHECK(0, 1, 0) || cog_version_number() != COG_VERSION_NUMBER) {
		fprintf(stderr, "header/library version mismatch: %s\n", cog_version());
		return 1;
	}
	if (cog_sqlite_storage_open(&storage, path, NULL) != 0 ||
	    cog_storage_put(storage, "greetings", "hello", "{\"text\":\"hi\"}", 0) != 0 ||
	    cog_storage_get(storage, "greetings", "hello", &json) != 0) {
		fprintf(stderr, "consumer: %s\n", cog_error_last());
		cog_storage_free(storage);
		return 1;
	}
	int ok = strcmp(json, "{\"text\":\"hi\"}") == 0;
	printf("libcognition %s: %s\n", cog_version(), json);
	cog_free(json);
	cog_storage_free(storage);
	return ok ? 0 : 1;
}
