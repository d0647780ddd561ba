/*
 * cog_plan_export: Plan JSON (canonical, so that export -> import -> export
 * is exact), Graphviz DOT and Mermaid flowcharts. The drawings need no
 * validation: a dependency on a task that is not in the plan is drawn as a
 * dashed "(missing)" node, and cycles are drawn as they are.
 */
#include <string.h>

#include "plan_int.h"

/* Bytes a format needs escaped (control characters everywhere; NUL ends
 * the text). Runs of other bytes are copied as they are. */
enum { ESCAPE_DOT, ESCAPE_MERMAID };

static bool special(int format, unsigned char c)
{
	if (c < 0x20 || c == 0x7f)
		return true;
	return format == ESCAPE_DOT ? c == '"' || c == '\\'
		: c == '"' || c == '#' || c == '&' || c == '<' || c == '>' || c == '`';
}

static size_t plain_run(const char *s, int format)
{
	size_t n = 0;
	while (!special(format, (unsigned char)s[n]))
		n++;
	return n;
}

/* The index of the dependency, without a lookup once the plan is prepared. */
static uint32_t dep_index(const cog_plan *plan, const plan_task *t, size_t j)
{
	return plan->prepared ? t->deps[j] : plan_find(plan, t->dep_ids[j]);
}

/* Label of a task: "id: title", or the id alone. */
typedef void (*put_text_fn)(cog_buf *b, const char *text);

static void put_label(cog_buf *b, const plan_task *t, put_text_fn put_text)
{
	put_text(b, t->id);
	if (t->title) {
		cog_buf_puts(b, ": ");
		put_text(b, t->title);
	}
}

/* ---- Graphviz ---- */

/* Inside a DOT double-quoted string: quotes and backslashes escaped (so
 * that "\N" or "\G" in a title stay text), newlines as \n, other control
 * characters as spaces. */
static void dot_text(cog_buf *b, const char *s)
{
	for (;;) {
		size_t run = plain_run(s, ESCAPE_DOT);
		cog_buf_put(b, s, run);
		s += run;
		if (!*s)
			return;
		if (*s == '"' || *s == '\\') {
			cog_buf_putc(b, '\\');
			cog_buf_putc(b, *s);
		} else {
			cog_buf_puts(b, *s == '\n' ? "\\n" : " ");
		}
		s++;
	}
}

static void dot_quoted(cog_buf *b, const char *s)
{
	cog_buf_putc(b, '"');
	dot_text(b, s);
	cog_buf_putc(b, '"');
}

static void export_dot(const cog_plan *plan, cog_buf *b)
{
	cog_buf_puts(b, "digraph ");
	dot_quoted(b, plan->id);
	cog_buf_puts(b, " {\n  rankdir=LR;\n  node [shape=box];\n");
	for (size_t i = 0; i < plan->count; i++) {
		const plan_task *t = &plan->tasks[i];
		cog_buf_puts(b, "  ");
		dot_quoted(b, t->id);
		cog_buf_puts(b, " [label=\"");
		put_label(b, t, dot_text);
		cog_buf_puts(b, "\"];\n");
	}
	for (size_t i = 0; i < plan->count; i++) {
		const plan_task *t = &plan->tasks[i];
		for (size_t j = 0; j < t->dep_count; j++) {
			const char *dep = t->dep_ids[j];
			if (dep_index(plan, t, j) == PLAN_NO_TASK) {
				cog_buf_puts(b, "  ");
				dot_quoted(b, dep);
				cog_buf_puts(b, " [label=\"");
				dot_text(b, dep);
				cog_buf_puts(b, " (missing)\", style=dashed];\n");
			}
			cog_buf_puts(b, "  ");
			dot_quoted(b, dep);
			cog_buf_puts(b, " -> ");
			dot_quoted(b, t->id);
			cog_buf_puts(b, ";\n");
		}
	}
	cog_buf_puts(b, "}\n");
}

/* ---- Mermaid ---- */

/* Inside a Mermaid "quoted" label: characters Mermaid or its HTML labels
 * would interpret become entity codes (#quot; and friends; '#' itself so
 * that a title cannot spell an entity), control characters spaces. */
static void mermaid_text(cog_buf *b, const char *s)
{
	for (;;) {
		size_t run = plain_run(s, ESCAPE_MERMAID);
		cog_buf_put(b, s, run);
		s += run;
		switch (*s) {
		case '\0': return;
		case '"': cog_buf_puts(b, "#quot;"); break;
		case '#': cog_buf_puts(b, "#35;"); break;
		case '&': cog_buf_puts(b, "#amp;"); break;
		case '<': cog_buf_puts(b, "#lt;"); break;
		case '>': cog_buf_puts(b, "#gt;"); break;
		case '`': cog_buf_puts(b, "#96;"); break;
		default: cog_buf_putc(b, ' '); break; /* control characters */
		}
		s++;
	}
}

/* Mermaid node ids cannot hold '.', ':' or '-' (and "end" is a keyword):
 * tasks are n<index>; a missing dependency is "m_" plus its id with '_'
 * written "__" and '.', ':', '-' written "_d", "_c", "_h", which keeps
 * distinct ids distinct. */
static void mermaid_missing_id(cog_buf *b, const char *id)
{
	cog_buf_puts(b, "m_");
	for (; *id; id++) {
		switch (*id) {
		case '_': cog_buf_puts(b, "__"); break;
		case '.': cog_buf_puts(b, "_d"); break;
		case ':': cog_buf_puts(b, "_c"); break;
		case '-': cog_buf_puts(b, "_h"); break;
		default: cog_buf_putc(b, *id);
		}
	}
}

static void export_mermaid(const cog_plan *plan, cog_buf *b)
{
	cog_buf_puts(b, "flowchart LR\n");
	for (size_t i = 0; i < plan->count; i++) {
		cog_buf_printf(b, "    n%zu[\"", i);
		put_label(b, &plan->tasks[i], mermaid_text);
		cog_buf_puts(b, "\"]\n");
	}
	for (size_t i = 0; i < plan->count; i++) {
		const plan_task *t = &plan->tasks[i];
		for (size_t j = 0; j < t->dep_count; j++) {
			uint32_t d = dep_index(plan, t, j);
			if (d != PLAN_NO_TASK) {
				cog_buf_printf(b, "    n%u --> n%zu\n", d, i);
				continue;
			}
			cog_buf_puts(b, "    ");
			mermaid_missing_id(b, t->dep_ids[j]);
			cog_buf_puts(b, "[\"");
			mermaid_text(b, t->dep_ids[j]);
			cog_buf_puts(b, " (missing)\"]\n    ");
			mermaid_missing_id(b, t->dep_ids[j]);
			cog_buf_printf(b, " -.-> n%zu\n", i);
		}
	}
}

int cog_plan_export(cog_plan *plan, int format, char **text)
{
	static const char fn[] = "cog_plan_export";
	COG_CHECK_ARG(text, fn, "text is NULL");
	*text = NULL;
	COG_CHECK_ARG(plan, fn, "plan is NULL");
	if (format == COG_PLAN_FORMAT_JSON) {
		cJSON *json = plan_to_json(plan, false);
		if (!json)
			return COG_ENOMEM;
		*text = cog_json_print(json);
		cJSON_Delete(json);
		return *text ? COG_OK : COG_ENOMEM;
	}
	cog_buf b = COG_BUF_INIT;
	if (format == COG_PLAN_FORMAT_DOT)
		export_dot(plan, &b);
	else if (format == COG_PLAN_FORMAT_MERMAID)
		export_mermaid(plan, &b);
	else
		return cog__error(COG_EINVAL, "%s: unknown format %d (0 json, 1 dot, 2 mermaid)",
			fn, format);
	if (!(*text = cog_buf_detach(&b)))
		return cog__oom(fn);
	return COG_OK;
}
