/*
 * The recorder: a backend that passes every request to an inner backend
 * and appends each successful exchange to a JSONL file,
 *   {"key":"<hex>","kind":"chat"|"embed","request":{...},"response":{...}}
 * one line per exchange, for replay.c to answer from later.
 *
 * The request stored is the normalised one in canonical form without its
 * "metadata" (what the key hashes). It is not redacted: requests hold no
 * credentials (those live in the providers' options), and redacting would
 * make the stored request disagree with its key. Whatever the conversation
 * itself contains is stored as it is, so a recording is as sensitive as
 * the conversation (the file is created 0600).
 *
 * Each line goes out in one write() on an O_APPEND descriptor under a
 * mutex, so lines from concurrent calls never interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "llm_int.h"

typedef struct recorder {
	cog_llm *inner;
	char *path;
	int fd;
	pthread_mutex_t lock;
} recorder;

static int write_all(recorder *rec, const char *data, size_t len)
{
	pthread_mutex_lock(&rec->lock);
	int rc = COG_OK;
	while (len > 0) {
		ssize_t n = write(rec->fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = cog__error(COG_EIO, "recorder: cannot write to %s: %s",
				rec->path, n < 0 ? strerror(errno) : "nothing written");
			break;
		}
		data += n;
		len -= (size_t)n;
	}
	pthread_mutex_unlock(&rec->lock);
	return rc;
}

/* Append {"key","kind","request","response"} for one exchange. */
static int record(recorder *rec, const char *kind, const char *request_json,
                  const char *response_json)
{
	static const char fn[] = "recorder";
	cJSON *request = NULL, *response = NULL;
	char key[65];
	char *canonical = NULL, *answer = NULL;
	int rc = cog_json_parse(&request, request_json, "recorder: request");
	if (!rc)
		rc = cog_json_parse(&response, response_json, "recorder: response");
	if (!rc)
		rc = llm_request_key(request, kind, key);
	if (!rc && (!(canonical = llm_canonical_json(request, true)) ||
	            !(answer = cog_json_print(response))))
		rc = cog__oom(fn);
	cog_buf line = COG_BUF_INIT;
	if (!rc) {
		cog_buf_printf(&line, "{\"key\":\"%s\",\"kind\":\"%s\",\"request\":", key, kind);
		cog_buf_puts(&line, canonical);
		cog_buf_puts(&line, ",\"response\":");
		cog_buf_puts(&line, answer);
		rc = cog_buf_puts(&line, "}\n");
	}
	if (!rc)
		rc = write_all(rec, line.ptr, line.len);
	cog_buf_dispose(&line);
	cog_free(canonical);
	cog_free(answer);
	cJSON_Delete(request);
	cJSON_Delete(response);
	return rc;
}

static int recorder_chat(void *self, const char *request_json, cog_llm_call *call,
                         char **response_json)
{
	recorder *rec = self;
	int rc = cog_llm_backend_chat(rec->inner, request_json, call, response_json);
	if (rc)
		return rc;
	rc = record(rec, "chat", request_json, *response_json);
	if (rc) {
		cog_free(*response_json);
		*response_json = NULL;
	}
	return rc;
}

static int recorder_embed(void *self, const char *request_json, cog_llm_call *call,
                          char **response_json)
{
	recorder *rec = self;
	int rc = cog_llm_backend_embed(rec->inner, request_json, call, response_json);
	if (rc)
		return rc;
	rc = record(rec, "embed", request_json, *response_json);
	if (rc) {
		cog_free(*response_json);
		*response_json = NULL;
	}
	return rc;
}

static int recorder_count_tokens(void *self, const char *request_json, uint64_t *tokens)
{
	recorder *rec = self;
	return cog_llm_count_tokens(rec->inner, request_json, tokens);
}

static int recorder_describe(void *self, char **json)
{
	recorder *rec = self;
	char *inner_text = NULL;
	cJSON *inner = NULL;
	int rc = cog_llm_describe(rec->inner, &inner_text);
	if (!rc)
		rc = cog_json_parse(&inner, inner_text, "recorder: inner describe()");
	cog_free(inner_text);
	if (rc)
		return rc;
	cJSON *root = cJSON_CreateObject();
	if (!root || cog_json_add_string(root, "backend", "recorder") ||
	    cog_json_add_string(root, "path", rec->path) ||
	    !cJSON_AddItemToObject(root, "inner", inner)) {
		cJSON_Delete(inner);
		cJSON_Delete(root);
		return cog__oom("recorder describe");
	}
	*json = cog_json_print(root);
	cJSON_Delete(root);
	return *json ? COG_OK : COG_ENOMEM;
}

static void recorder_close(void *self)
{
	recorder *rec = self;
	if (!rec)
		return;
	cog_llm_free(rec->inner);
	if (rec->fd >= 0)
		close(rec->fd);
	pthread_mutex_destroy(&rec->lock);
	cog_free(rec->path);
	cog_free(rec);
}

/* A file whose last line was cut short (a crash mid-write elsewhere) gets
 * a newline first, so that the next line stands on its own (the file is
 * opened read-write for this one pread). */
static int end_last_line(int fd, const char *path)
{
	struct stat st;
	char last = '\n';
	if (fstat(fd, &st) == 0 && st.st_size > 0 &&
	    pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n' &&
	    write(fd, "\n", 1) != 1)
		return cog__error(COG_EIO, "cog_llm_recorder_new: cannot write to %s: %s",
			path, strerror(errno));
	return COG_OK;
}

int cog_llm_recorder_new(cog_llm **out, cog_llm *inner, const char *path)
{
	static const char fn[] = "cog_llm_recorder_new";
	int rc = COG_OK;
	recorder *rec = NULL;
	if (out)
		*out = NULL;
	if (!out || !inner || !path || !*path) {
		rc = cog__error(COG_EINVAL, "%s: %s", fn, !out ? "out is NULL" :
			!inner ? "inner is NULL" : "path is NULL or empty");
		goto fail;
	}
	if (!(rec = cog__calloc(1, sizeof(*rec))) || !(rec->path = cog__strdup(path))) {
		rc = cog__oom(fn);
		goto fail;
	}
	rec->inner = inner;
	rec->fd = -1;
	pthread_mutex_init(&rec->lock, NULL);
	rec->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (rec->fd < 0) {
		rc = cog__error(COG_EIO, "%s: cannot open %s: %s", fn, path, strerror(errno));
		recorder_close(rec);
		return rc;
	}
	if ((rc = end_last_line(rec->fd, path))) {
		recorder_close(rec);
		return rc;
	}
	cog_llm_vtable vt = COG_LLM_VTABLE_INIT;
	vt.self = rec;
	vt.close = recorder_close;
	vt.chat = recorder_chat;
	vt.embed = recorder_embed;
	vt.count_tokens = recorder_count_tokens;
	vt.describe = recorder_describe;
	return cog_llm_new(out, &vt);     /* closes rec on failure */
fail:
	if (rec)
		cog_free(rec->path);
	cog_free(rec);
	cog_llm_free(inner);
	return rc;
}
