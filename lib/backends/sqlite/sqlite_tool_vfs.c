/*
 * The VFS of the sql_query tool: the default "unix" one except for
 * xFullPathname, which keeps the name as given. sqlite_tool_open.c hands
 * SQLite "/proc/self/fd/N/name", N the directory it opened beneath the
 * workspace; since 3.39-ish the default xFullPathname resolves every
 * symlink of a path, /proc/self/fd/N included, back into a textual path,
 * which SQLite would then look up again (and a program in the workspace
 * could have swapped a directory of it for a symlink by then).
 */
#include <pthread.h>
#include <string.h>

#include "sqlite_tool_int.h"

#define SQL_VFS_NAME "cognition-workspace"

static sqlite3_vfs workspace_vfs;
static pthread_once_t workspace_vfs_once = PTHREAD_ONCE_INIT;
static int workspace_vfs_rc = SQLITE_ERROR;

/* Names are "/proc/self/fd/N/name" and must stay so (see the top). */
static int keep_pathname(sqlite3_vfs *vfs, const char *name, int out_size,
                         char *out)
{
	size_t len = strlen(name);

	(void)vfs;
	if (name[0] != '/' || len + 1 > (size_t)out_size)
		return SQLITE_CANTOPEN;
	memcpy(out, name, len + 1);
	return SQLITE_OK;
}

static void workspace_vfs_register(void)
{
	sqlite3_vfs *base = sqlite3_vfs_find("unix");

	if (base == NULL)
		return;
	/* Every member but the two below stays the unix VFS's own, pAppData
	 * included (its locking style), so files behave exactly as usual. */
	workspace_vfs = *base;
	workspace_vfs.pNext = NULL;
	workspace_vfs.zName = SQL_VFS_NAME;
	workspace_vfs.xFullPathname = keep_pathname;
	workspace_vfs_rc = sqlite3_vfs_register(&workspace_vfs, 0);
}

const char *sqltool_vfs(void)
{
	pthread_once(&workspace_vfs_once, workspace_vfs_register);
	return workspace_vfs_rc == SQLITE_OK ? SQL_VFS_NAME : NULL;
}
