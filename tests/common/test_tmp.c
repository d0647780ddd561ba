/* A temporary directory for a test (test_tmp.h). */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "test_tmp.h"

static char dir[256];

const char *tmp_dir_make(const char *prefix)
{
	const char *base = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/%sXXXXXX", base && *base ? base : "/tmp",
	         prefix);
	ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
	return dir;
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

void tmp_dir_remove(void)
{
	if (dir[0])
		nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	dir[0] = '\0';
}

const char *tmp_file(const char *name)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}
