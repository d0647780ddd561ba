/*
 * Shared by the test_builtins*.c sources: a temporary workspace (ws/) next
 * to a directory outside it (outside/), a context with the built-in tools,
 * and calls through cog_tool_call() with their assertions.
 */
#ifndef TEST_BUILTINS_H
#define TEST_BUILTINS_H

#include <limits.h>
#include <stddef.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "cognition.h"

extern char tb_root[PATH_MAX];     /* the temporary directory */
extern char tb_ws[PATH_MAX];       /* tb_root/ws: the workspace */
extern char tb_out[PATH_MAX];      /* tb_root/outside, with "secret" */
extern cog_ctx *tb_ctx;            /* built-ins defined */

/* Checked fixture: the directories, the context and the built-ins. */
void tb_setup(void);
void tb_teardown(void);

/* "<dir>/<name>" */
void tb_path(char *out, const char *dir, const char *name);
void tb_write(const char *dir, const char *name, const void *data, size_t len);
/* Contents of a file (malloc'd, NUL-terminated), or NULL if missing. */
char *tb_read(const char *dir, const char *name, size_t *len);
void tb_symlink(const char *target, const char *name_in_ws);

/* Call a tool with the workspace (or none when workspace is NULL) and a
 * network grant (NULL: none). Returns the status; *result the JSON text. */
int tb_call_in(cog_ctx *ctx, const char *tool, const char *args,
               const char *workspace, const char *hosts, char **result);
int tb_call(const char *tool, const char *args, const char *hosts, char **result);

/* The call must succeed: its parsed result (cJSON_Delete it). */
cJSON *tb_ok(const char *tool, const char *args, const char *hosts);
cJSON *tb_ok_in(cog_ctx *ctx, const char *tool, const char *args,
                const char *hosts);
/* The call must fail with `status`, and the model's error object must
 * have `type` and a message mentioning `mention` (when not NULL). */
void tb_fails(const char *tool, const char *args, const char *hosts,
              int status, const char *type, const char *mention);
void tb_fails_in(cog_ctx *ctx, const char *tool, const char *args,
                 const char *workspace, const char *hosts, int status,
                 const char *type, const char *mention);

const char *tb_str(const cJSON *obj, const char *name);   /* asserts */
double tb_num(const cJSON *obj, const char *name);        /* asserts */
int tb_bool(const cJSON *obj, const char *name);          /* asserts */

TCase *tb_files_tcase(void);       /* test_builtins_files.c */
TCase *tb_define_tcase(void);      /* test_builtins_files.c */
TCase *tb_http_tcase(void);        /* test_builtins_http.c */
TCase *tb_exec_tcase(void);        /* test_builtins_exec.c */
TCase *tb_sql_tcase(void);         /* test_builtins_sql.c */

#endif /* TEST_BUILTINS_H */
