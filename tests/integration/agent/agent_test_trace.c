/* The event and span collectors of the agent tests (agent_test.h). */
#include <pthread.h>
#include <string.h>

#include "agent_test.h"

/* ---- events ---- */

static pthread_mutex_t ev_mu = PTHREAD_MUTEX_INITIALIZER;
static cJSON *ev_list;   /* array of the events */

void at_on_event(const char *event, void *ud)
{
	(void)ud;
	cJSON *ev = cJSON_Parse(event);
	ck_assert_msg(ev != NULL, "event is not JSON: %s", event);
	pthread_mutex_lock(&ev_mu);
	if (!ev_list)
		ev_list = cJSON_CreateArray();
	cJSON_AddItemToArray(ev_list, ev);
	pthread_mutex_unlock(&ev_mu);
}

unsigned int at_events_count(const char *type)
{
	unsigned int n = 0;
	pthread_mutex_lock(&ev_mu);
	const cJSON *ev;
	cJSON_ArrayForEach(ev, ev_list) {
		const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "type"));
		if (t && strcmp(t, type) == 0)
			n++;
	}
	pthread_mutex_unlock(&ev_mu);
	return n;
}

cJSON *at_event(const char *type, unsigned int n)
{
	cJSON *found = NULL;
	pthread_mutex_lock(&ev_mu);
	const cJSON *ev;
	cJSON_ArrayForEach(ev, ev_list) {
		const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "type"));
		if (t && strcmp(t, type) == 0 && n-- == 0) {
			found = cJSON_Duplicate(cJSON_GetObjectItem(ev, "data"), 1);
			break;
		}
	}
	pthread_mutex_unlock(&ev_mu);
	return found;
}

void at_events_clear(void)
{
	pthread_mutex_lock(&ev_mu);
	cJSON_Delete(ev_list);
	ev_list = NULL;
	pthread_mutex_unlock(&ev_mu);
}

/* ---- spans ---- */

static pthread_mutex_t span_mu = PTHREAD_MUTEX_INITIALIZER;
static cJSON *span_list;

static void on_span(const char *span, void *ud)
{
	(void)ud;
	cJSON *sp = cJSON_Parse(span);
	ck_assert_msg(sp != NULL, "span is not JSON: %s", span);
	pthread_mutex_lock(&span_mu);
	if (!span_list)
		span_list = cJSON_CreateArray();
	cJSON_AddItemToArray(span_list, sp);
	pthread_mutex_unlock(&span_mu);
}

void at_spans_start(cog_ctx *ctx)
{
	ck_assert_cog(cog_ctx_set_span_hook(ctx, on_span, NULL));
}

unsigned int at_spans_count(const char *kind)
{
	unsigned int n = 0;
	pthread_mutex_lock(&span_mu);
	const cJSON *sp;
	cJSON_ArrayForEach(sp, span_list) {
		const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(sp, "kind"));
		if (k && strcmp(k, kind) == 0)
			n++;
	}
	pthread_mutex_unlock(&span_mu);
	return n;
}

cJSON *at_span(const char *kind, unsigned int n)
{
	cJSON *found = NULL;
	pthread_mutex_lock(&span_mu);
	const cJSON *sp;
	cJSON_ArrayForEach(sp, span_list) {
		const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(sp, "kind"));
		if (k && strcmp(k, kind) == 0 && n-- == 0) {
			found = cJSON_Duplicate(sp, 1);
			break;
		}
	}
	pthread_mutex_unlock(&span_mu);
	return found;
}

void at_spans_clear(void)
{
	pthread_mutex_lock(&span_mu);
	cJSON_Delete(span_list);
	span_list = NULL;
	pthread_mutex_unlock(&span_mu);
}
