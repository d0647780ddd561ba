/*
 * Template tasks with "when":"llm" (see template.c): such a task is part of
 * the plan only when the context has an LLM endpoint. Shared by template.c
 * (instantiating) and template_check.c (checking at load). Not installed.
 */
#ifndef COG_TEMPLATE_WHEN_H
#define COG_TEMPLATE_WHEN_H

#include "template_int.h"

#define TPL_WHEN "when"

/* "when" is "llm" or absent, and a task kept without an LLM neither depends
 * on nor takes an input ($from) from a task left out then; else COG_EINVAL
 * naming the file, the template and the task. */
int tpl_check_when(const tpl *t);

/* A copy of the template's tasks as they are with an LLM (every task,
 * "when" dropped) or without one (the "when" tasks left out); NULL when
 * out of memory. */
cJSON *tpl_tasks_variant(const tpl *t, bool with_llm);

#endif /* COG_TEMPLATE_WHEN_H */
