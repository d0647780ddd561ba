/*
 * Scanning a JSON value the way a model reads it (cog__inject_scan_json):
 * each string and object key alone (so rules anchored at a line start see
 * them), all of them joined one per line (so text split across strings is
 * seen whole), and the printed text the model is shown.
 */
#include <string.h>

#include "auth_int.h"

/* Scan text[0..len), moving its matches to `all`. */
static int scan_into(cog_ctx *ctx, const char *text, size_t len, cJSON *all)
{
	cJSON *matches = NULL;
	int rc = cog__inject_scan(ctx, text, len, &matches);
	cJSON *m;
	while (matches && (m = cJSON_DetachItemViaPointer(matches, matches->child)) != NULL)
		cJSON_AddItemToArray(all, m);
	cJSON_Delete(matches);
	return rc < 0 ? rc : COG_OK;
}

static int scan_strings(cog_ctx *ctx, const cJSON *v, cJSON *all, cog_buf *joined)
{
	if (cJSON_IsString(v)) {
		cog_buf_puts(joined, v->valuestring);
		cog_buf_putc(joined, '\n');
		return scan_into(ctx, v->valuestring, strlen(v->valuestring), all);
	}
	int rc = COG_OK;
	const cJSON *c;
	if (cJSON_IsObject(v) || cJSON_IsArray(v))
		cJSON_ArrayForEach(c, v) {
			if (cJSON_IsObject(v) && c->string) {
				cog_buf_puts(joined, c->string);
				cog_buf_putc(joined, '\n');
				rc = scan_into(ctx, c->string, strlen(c->string), all);
			}
			if (rc || (rc = scan_strings(ctx, c, all, joined)))
				break;
		}
	return rc;
}

int cog__inject_scan_json(cog_ctx *ctx, const cJSON *value, const char *shown, cJSON *all)
{
	if (cJSON_IsString(value) && !shown)
		shown = value->valuestring;
	char *printed = NULL;
	if (!shown && !(shown = printed = cog_json_print(value)))
		return cog__oom("injection scan: printing the value");
	cog_buf joined = COG_BUF_INIT;
	int rc = COG_OK;
	/* a string is what the model is shown: scanned once, below */
	if (!cJSON_IsString(value)) {
		rc = scan_strings(ctx, value, all, &joined);
		if (!rc && joined.failed)
			rc = cog__oom("injection scan");
		if (!rc && joined.len)
			rc = scan_into(ctx, joined.ptr, joined.len, all);
	}
	if (!rc)
		rc = scan_into(ctx, shown, strlen(shown), all);
	cog_buf_dispose(&joined);
	cog_free(printed);
	return rc;
}
