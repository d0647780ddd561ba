/*
 * The replay backend: answers from a recording made by record.c. The whole
 * file is read and checked when the handle is made (each line must be
 * {"key","kind","request","response"} with a request and an answer in
 * their shapes, else COG_EPROTO naming the line), then indexed by key in a
 * sorted array; nothing changes after that, so calls need no lock.
 *
 * The key is computed again from the stored request rather than taken from
 * the line, so a request edited by hand is found by what it now says; when
 * several lines have the same key the last one wins (a later recording of
 * the same request supersedes an earlier one).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_int.h"

typedef struct replay_entry {
	char key[65];
	size_t line;                  /* 1-based, orders duplicates */
	char *response;               /* compact JSON text */
} replay_entry;

typedef struct replay {
	char *path;
	replay_entry *entries;        /* sorted by key, one per key */
	size_t count;
} replay;

static int entry_compare(const void *a, const void *b)
{
	const replay_entry *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

static const replay_entry *find(const replay *rp, const char *key)
{
	size_t lo = 0, hi = rp->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(rp->entries[mid].key, key);
		if (c == 0)
			return &rp->entries[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* "(model m, last message: "...")" for the not-found message. */
static void describe_request(const cJSON *request, bool embed, char *out, size_t size)
{
	const char *model = cog_json_get_string(request, "model");
	const char *text = NULL;
	const char *label = embed ? "first input" : "last message";
	if (embed) {
		const cJSON *input = cJSON_GetObjectItemCaseSensitive(request, "input");
		text = cJSON_IsArray(input) && cJSON_IsString(input->child)
			? input->child->valuestring : NULL;
	} else {
		const cJSON *messages = cJSON_GetObjectItemCaseSensitive(request, "messages");
		int n = cJSON_GetArraySize(messages);
		const cJSON *last = n > 0 ? cJSON_GetArrayItem(messages, n - 1) : NULL;
		text = cog_json_get_string(last, "content");
		if (!text && last)
			text = "(tool calls)";
	}
	/* At most 60 bytes, cut on a character boundary, quotes and control
	 * characters shown as spaces so the message stays one readable line. */
	char quoted[64 + 4];
	size_t n = 0, len = text ? strlen(text) : 0;
	while (n < len) {
		unsigned char c = (unsigned char)text[n];
		size_t step = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		if (n + step > 60 || n + step > len)
			break;
		for (size_t k = 0; k < step; k++)
			quoted[n + k] = (c < 0x20 || c == '"') && step == 1 ? ' ' : text[n + k];
		n += step;
	}
	snprintf(quoted + n, sizeof(quoted) - n, "%s", n < len ? "..." : "");
	snprintf(out, size, "model %s, %s: \"%s\"", model ? model : "none", label, quoted);
}

/* Deliver a recorded chat answer as stream events: its text, then each
 * tool call whole (llm_emit_response_events). */
static int stream_answer(const char *response_json, cog_llm_call *call)
{
	cJSON *response = NULL;
	int rc = cog_json_parse(&response, response_json, "replay: answer");
	if (!rc)
		rc = llm_emit_response_events(call, response);
	cJSON_Delete(response);
	return rc;
}

static int answer(replay *rp, const char *kind, const char *request_json,
                  cog_llm_call *call, char **response_json)
{
	cJSON *request = NULL;
	char key[65];
	int rc = cog_json_parse(&request, request_json, "replay: request");
	if (!rc)
		rc = llm_request_key(request, kind, key);
	if (rc) {
		cJSON_Delete(request);
		return rc;
	}
	const replay_entry *entry = find(rp, key);
	if (!entry) {
		char what[200];
		describe_request(request, strcmp(kind, "embed") == 0, what, sizeof(what));
		cJSON_Delete(request);
		return cog__error(COG_ENOTFOUND,
			"replay: no recorded answer for %s request %s (%s) in %s",
			kind, key, what, rp->path);
	}
	cJSON_Delete(request);
	if (call && call->on_event && strcmp(kind, "chat") == 0 &&
	    (rc = stream_answer(entry->response, call)))
		return rc;
	*response_json = cog__strdup(entry->response);
	return *response_json ? COG_OK : cog__oom("replay");
}

static int replay_chat(void *self, const char *request_json, cog_llm_call *call,
                       char **response_json)
{
	return answer(self, "chat", request_json, call, response_json);
}

static int replay_embed(void *self, const char *request_json, cog_llm_call *call,
                        char **response_json)
{
	return answer(self, "embed", request_json, call, response_json);
}

static int replay_describe(void *self, char **json)
{
	replay *rp = self;
	cJSON *root = cJSON_CreateObject();
	if (!root || cog_json_add_string(root, "backend", "replay") ||
	    cog_json_add_string(root, "path", rp->path) ||
	    cog_json_add_number(root, "entries", (double)rp->count)) {
		cJSON_Delete(root);
		return cog__oom("replay describe");
	}
	*json = cog_json_print(root);
	cJSON_Delete(root);
	return *json ? COG_OK : COG_ENOMEM;
}

static void replay_close(void *self)
{
	replay *rp = self;
	if (!rp)
		return;
	for (size_t i = 0; i < rp->count; i++)
		cog_free(rp->entries[i].response);
	cog_free(rp->entries);
	cog_free(rp->path);
	cog_free(rp);
}

/* The current error again with another code (checks of the request
 * shape say COG_EINVAL; a bad recording is COG_EPROTO). */
static int recode(int code)
{
	char message[1024];
	snprintf(message, sizeof(message), "%s", cog_error_last());
	return cog__error(code, "%s", message);
}

/* One line: {"key","kind","request","response"}, request and response in
 * their shapes; *response gets the checked answer's text. */
static int load_line(const char *path, size_t line_no, const char *text,
                     char key[65], char **response_text)
{
	char where[512];
	snprintf(where, sizeof(where), "cog_llm_replay_new: %s: line %zu", path, line_no);
	cJSON *line = NULL, *request = NULL;
	int rc = cog_json_parse(&line, text, where);
	if (rc)
		return rc == COG_ENOMEM ? rc : recode(COG_EPROTO);
	const char *kind = cog_json_get_string(line, "kind");
	cJSON *stored = cJSON_GetObjectItemCaseSensitive(line, "request");
	cJSON *response = cJSON_GetObjectItemCaseSensitive(line, "response");
	if (!cJSON_IsObject(line))
		rc = cog__error(COG_EPROTO, "%s: not a JSON object", where);
	else if (!cog_json_get_string(line, "key"))
		rc = cog__error(COG_EPROTO, "%s: \"key\" is missing or not a string", where);
	else if (!kind || (strcmp(kind, "chat") && strcmp(kind, "embed")))
		rc = cog__error(COG_EPROTO, "%s: \"kind\" must be \"chat\" or \"embed\"", where);
	else if (!cJSON_IsObject(stored))
		rc = cog__error(COG_EPROTO, "%s: \"request\" must be an object", where);
	else if (!cJSON_IsObject(response))
		rc = cog__error(COG_EPROTO, "%s: \"response\" must be an object", where);
	if (rc)
		goto done;
	if (strcmp(kind, "chat") == 0) {
		request = cJSON_DetachItemViaPointer(line, stored);
		if ((rc = llm_request_check(request, where)))
			rc = rc == COG_ENOMEM ? rc : recode(COG_EPROTO);
		if (!rc)
			rc = llm_response_check(response, where);
	} else {
		/* The embedding request shape is checked on text. */
		char *printed = cog_json_print(stored);
		rc = printed ? llm_embed_request_parse(&request, printed, where) : COG_ENOMEM;
		cog_free(printed);
		if (rc && rc != COG_ENOMEM)
			rc = recode(COG_EPROTO);
		if (!rc)
			rc = llm_embed_response_check(response, (size_t)cJSON_GetArraySize(
				cJSON_GetObjectItemCaseSensitive(request, "input")), where);
	}
	if (!rc)
		rc = llm_request_key(request, kind, key);
	if (!rc && !(*response_text = cog_json_print(response)))
		rc = COG_ENOMEM;
done:
	cJSON_Delete(request);
	cJSON_Delete(line);
	return rc;
}

static int load(replay *rp)
{
	FILE *f = fopen(rp->path, "re");
	if (!f)
		return cog__error(COG_EIO, "cog_llm_replay_new: cannot open %s: %s",
			rp->path, strerror(errno));
	cog_buf text = COG_BUF_INIT;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (cog_buf_put(&text, chunk, n))
			break;
	int rc = ferror(f) ? cog__error(COG_EIO, "cog_llm_replay_new: cannot read %s: %s",
		rp->path, strerror(errno)) : text.failed ? cog__oom("cog_llm_replay_new") : COG_OK;
	fclose(f);
	size_t cap = 0, line_no = 0;
	char *stop = text.ptr ? text.ptr + text.len : NULL;
	for (char *line = text.ptr; !rc && line && line < stop; ) {
		char *end = memchr(line, '\n', (size_t)(stop - line));
		size_t len = end ? (size_t)(end - line) : (size_t)(stop - line);
		line[len] = '\0';
		line_no++;
		if (memchr(line, '\0', len)) {
			rc = cog__error(COG_EPROTO, "cog_llm_replay_new: %s: line %zu: contains "
				"a NUL byte", rp->path, line_no);
			break;
		}
		if (len && line[len - 1] == '\r')
			line[--len] = '\0';
		if (line[strspn(line, " \t")] != '\0') {
			if (rp->count == cap) {
				cap = cap ? cap * 2 : 64;
				replay_entry *grown = cog_realloc(rp->entries, cap * sizeof(*grown));
				if (!grown) {
					rc = cog__oom("cog_llm_replay_new");
					break;
				}
				rp->entries = grown;
			}
			replay_entry *e = &rp->entries[rp->count];
			e->line = line_no;
			rc = load_line(rp->path, line_no, line, e->key, &e->response);
			if (!rc)
				rp->count++;
		}
		line = end ? end + 1 : NULL;
	}
	cog_buf_dispose(&text);
	if (rc)
		return rc;
	/* Sort by key then line; keep the last line of each key. */
	if (rp->count)
		qsort(rp->entries, rp->count, sizeof(*rp->entries), entry_compare);
	size_t kept = 0;
	for (size_t i = 0; i < rp->count; i++) {
		if (i + 1 < rp->count && strcmp(rp->entries[i].key, rp->entries[i + 1].key) == 0) {
			cog_free(rp->entries[i].response);
			continue;
		}
		rp->entries[kept++] = rp->entries[i];
	}
	rp->count = kept;
	return COG_OK;
}

int cog_llm_replay_new(cog_llm **out, const char *path)
{
	static const char fn[] = "cog_llm_replay_new";
	COG_CHECK_ARG(out, fn, "out is NULL");
	*out = NULL;
	COG_CHECK_ARG(path && *path, fn, "path is NULL or empty");
	replay *rp = cog__calloc(1, sizeof(*rp));
	if (!rp || !(rp->path = cog__strdup(path))) {
		cog_free(rp);
		return cog__oom(fn);
	}
	int rc = load(rp);
	if (rc) {
		replay_close(rp);
		return rc;
	}
	cog_llm_vtable vt = COG_LLM_VTABLE_INIT;
	vt.self = rp;
	vt.close = replay_close;
	vt.chat = replay_chat;
	vt.embed = replay_embed;
	vt.describe = replay_describe;
	return cog_llm_new(out, &vt);
}
