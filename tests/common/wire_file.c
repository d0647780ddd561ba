/* Reading the recorded provider streams (wire_file.h). */
#include <stdio.h>
#include <stdlib.h>

#include <check.h>

#include "wire_file.h"

const char *wire_file_path(const char *name)
{
	static char path[4096];
	const char *dir = getenv("COG_TEST_WIRE_DIR");
	ck_assert_msg(dir != NULL, "COG_TEST_WIRE_DIR is not set");
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

char *wire_file(const char *name, size_t *len)
{
	const char *path = wire_file_path(name);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s: cannot open", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	long size = ftell(f);
	ck_assert_int_ge(size, 0);
	rewind(f);
	char *s = malloc((size_t)size + 1);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(fread(s, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	s[size] = '\0';
	if (len)
		*len = (size_t)size;
	return s;
}
