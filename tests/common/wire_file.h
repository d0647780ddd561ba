/*
 * The recorded provider streams (../shared/data/wire, README.md there says
 * what each is), found through COG_TEST_WIRE_DIR, which tests/meson.build
 * sets for every test (wire_file.c).
 */
#ifndef WIRE_FILE_H
#define WIRE_FILE_H

#include <stddef.h>

/* The path of recorded file `name` (static buffer, valid until the next
 * call); the test fails when COG_TEST_WIRE_DIR is not set. */
const char *wire_file_path(const char *name);

/* The bytes of recorded file `name`, NUL-terminated (malloc'd: free()),
 * their count in *len (len may be NULL); the test fails when the file
 * cannot be read. */
char *wire_file(const char *name, size_t *len);

#endif
