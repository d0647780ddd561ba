/*
 * What the RBAC files of lib/auth share beyond auth_int.h: the collections,
 * the tool-name glob and the role-list check (rbac.c,
 * rbac_check.c, principal.c, principal_list.c).
 */
#ifndef COG_AUTH_RBAC_INT_H
#define COG_AUTH_RBAC_INT_H

#include "auth_int.h"

#define AUTH_ROLES_COLL "auth.roles"
#define AUTH_PRINCIPALS_COLL "auth.principals"
#define AUTH_ROLES_MAX 64          /* roles of one principal */
#define AUTH_NS_GLOB_SEGMENTS 8    /* segments of a namespace glob */

/* Tool-name glob: '*' any run, '?' one byte, whole string; the same
 * semantics as the tool module's (lib/tool tool_glob_match), kept here
 * because auth sits below tool. Linear time (one backtrack point). */
bool auth_glob_match(const char *glob, const char *name);

/* Check a "roles" member (an array of 0..AUTH_ROLES_MAX role names, no
 * repeats): COG_EINVAL "<fn>: ..." naming the element. */
int auth_roles_check(const char *fn, const cJSON *roles);

/* rbac.c: the documents of coll under prefix (NULL: all) added to `all`
 * (an empty array or object, taken; NULL: out of memory) by `each`, then
 * printed to *json. Errors wrapped "<fn>: ...". */
int auth_scan_json(cog_ctx *ctx, const char *fn, const char *coll, const char *prefix,
                   cog_storage_doc_fn each, cJSON *all, char **json);

/* principal.c: tenant and id checked as names (COG_EINVAL "<fn>: ..."). */
int auth_check_ids(const char *fn, const char *tenant, const char *id);

/* A step of a principal's transaction: doc is the stored principal, NULL
 * when there is none (key: "<tenant>/<id>"). It reads and writes through s
 * only (auth_doc_* could take the state's lock, held then). *revoke: the
 * change calls for revoking the principal's sessions. */
typedef int (*auth_principal_step)(cog_storage *s, const char *key, cJSON *doc,
                                   const void *arg, bool *revoke);
/* Read principal tenant/id and run `step` on it in one storage transaction
 * under the state's lock (BEGIN IMMEDIATE on SQLite: atomic across
 * processes too); committed when step gives 0, else rolled back. */
int auth_principal_txn(cog_ctx *ctx, const char *tenant, const char *id,
                       auth_principal_step step, const void *arg, bool *revoke);
/* auth_principal_txn, then the sessions revoked when the step asks; errors
 * wrapped "<fn>: principal '<tenant>/<id>'". */
int auth_principal_change(cog_ctx *ctx, const char *fn, const char *tenant,
                          const char *id, auth_principal_step step, const void *arg);

#endif
