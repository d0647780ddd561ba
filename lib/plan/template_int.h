/*
 * Private interface of the template planner, shared by template.c (what a
 * template does: placeholders, matching, the planner, the public
 * functions), template_load.c (reading template files and their
 * directories) and template_check.c (checking and compiling a template
 * once read). Not installed.
 */
#ifndef COG_TEMPLATE_INT_H
#define COG_TEMPLATE_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "planner.h"

#define PARAM_NAME_MAX 32           /* PCRE2's limit on group names */
#define GOAL_PARAM "goal"           /* the built-in parameter: the whole goal */

typedef struct tpl_param {
	const char *name;       /* borrowed from the template's JSON */
	const char *fallback;   /* "default", or NULL */
	bool required;
} tpl_param;

typedef struct tpl {
	char *file;
	cJSON *root;
	const char *name;       /* borrowed from root */
	const char *description;
	const cJSON *pattern_texts;
	pcre2_code **patterns;
	size_t pattern_count;
	tpl_param *params;
	size_t param_count;
	const cJSON *budget;    /* or NULL */
	const cJSON *tasks;
} tpl;

typedef struct tpl_set {
	cog_ctx *ctx;
	pcre2_general_context *gctx;
	pcre2_compile_context *cctx;
	tpl *items;
	size_t count;
	size_t cap;
	size_t dirs;            /* directories read */
	size_t shadowed;        /* files skipped for a name seen earlier */
} tpl_set;

/* "template file <file>: <message>" as the thread's error; returns code. */
int tpl_error(int code, const char *file, const char *fmt, ...) COG_PRINTF(3, 4);

/* ---- template_load.c ---- */

int tpl_set_init(tpl_set *set, cog_ctx *ctx);
void tpl_set_dispose(tpl_set *set);
/* Load (and check) every *.json file of dir in name order; a missing dir is
 * skipped unless must_exist. */
int tpl_load_dir(tpl_set *set, const char *dir, bool must_exist);
/* Init the set and load every template the context can see, in search
 * order. On failure the set is disposed. */
int tpl_load_all(tpl_set *set, cog_ctx *ctx);
/* $COG_TEMPLATE_DIR when set (even empty: none), else the compiled-in one. */
const char *tpl_installed_dir(void);

/* ---- template_check.c ---- */

/* Check and compile the template whose JSON t->root holds (t->file names
 * it in errors): its fields, name, parameters, patterns (compiled with
 * set->cctx) and tasks (tried as plans with placeholder values, with an
 * LLM and without). 0, or an error naming the file; t stays the
 * caller's either way. */
int tpl_parse(tpl *t, tpl_set *set);

/* ---- template.c ---- */

const tpl_param *tpl_find_param(const tpl *t, const char *name, size_t len);
/* Expand ${name} placeholders in every string value of the tree, in place;
 * with check_only, only check them (values and goal unused). values[i]
 * belongs to t->params[i] (NULL: the empty string). */
int tpl_expand_tree(const tpl *t, cJSON *item, const char *const *values,
                    const char *goal, bool check_only);
/* A new plan for goal from the template with these values. */
int tpl_instantiate(const tpl *t, cog_ctx *ctx, const char *goal,
                    const char *const *values, cog_plan **out);

#endif /* COG_TEMPLATE_INT_H */
