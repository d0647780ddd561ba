/*
 * The pool of reusable easy + multi handle pairs.
 *
 * Why each slot has its own multi handle, and why connections are not put
 * into the CURLSH: libcurl (7.x and early 8.x) documents that a connection
 * cache shared through CURL_LOCK_DATA_CONNECT is not safe between
 * concurrent threads (KNOWN_BUGS "A shared connection cache is not
 * thread-safe", curl issues #4915 and #9404), lock callbacks or not. So the
 * connections live in the slot's multi handle, which only one thread uses at
 * a time, and the slots are handed out last-in first-out: a thread doing
 * sequential requests keeps getting the slot whose connection is warm, and N
 * threads at once use at most N slots, hence at most N connections per host.
 * The DNS cache and TLS sessions, which libcurl does share safely, are in
 * the CURLSH.
 */
#include "curl_int.h"

static void slot_free(curl_slot *slot)
{
	if (slot == NULL)
		return;
	/* The easy handle goes first: it may still point into the multi's
	 * connection cache. */
	if (slot->easy != NULL)
		curl_easy_cleanup(slot->easy);
	if (slot->multi != NULL)
		curl_multi_cleanup(slot->multi);
	cog_free(slot);
}

static int slot_new(curl_transport *t, curl_slot **out)
{
	curl_slot *slot = cog_malloc(sizeof(*slot));
	CURLMcode mc;

	if (slot == NULL)
		return cog_error_set(COG_ENOMEM, "curl: out of memory for a handle");
	slot->next = NULL;
	slot->errbuf[0] = '\0';
	slot->easy = curl_easy_init();
	slot->multi = curl_multi_init();
	if (slot->easy == NULL || slot->multi == NULL) {
		slot_free(slot);
		return cog_error_set(COG_ENOMEM,
		                     "curl: curl_easy_init/curl_multi_init failed");
	}
	mc = curl_multi_setopt(slot->multi, CURLMOPT_MAXCONNECTS,
	                       (long)t->max_connections);
	if (mc != CURLM_OK) {
		slot_free(slot);
		return cog_error_set(COG_EIO, "curl: CURLMOPT_MAXCONNECTS: %s",
		                     curl_multi_strerror(mc));
	}
	*out = slot;
	return 0;
}

int curl_pool_acquire(curl_transport *t, curl_slot **out)
{
	curl_slot *slot;

	pthread_mutex_lock(&t->pool_lock);
	slot = t->idle;
	if (slot != NULL) {
		t->idle = slot->next;
		t->idle_count--;
	}
	pthread_mutex_unlock(&t->pool_lock);
	if (slot != NULL) {
		slot->next = NULL;
		*out = slot;
		return 0;
	}
	return slot_new(t, out);
}

void curl_pool_release(curl_transport *t, curl_slot *slot)
{
	bool keep;

	/* Forget the request's options (pointers into the caller's request
	 * among them); the connection and DNS caches survive a reset. */
	curl_easy_reset(slot->easy);
	pthread_mutex_lock(&t->pool_lock);
	keep = t->idle_count < t->max_connections;
	if (keep) {
		slot->next = t->idle;
		t->idle = slot;
		t->idle_count++;
	}
	pthread_mutex_unlock(&t->pool_lock);
	if (!keep)
		slot_free(slot);
}

void curl_pool_drain(curl_transport *t)
{
	curl_slot *slot, *next;

	pthread_mutex_lock(&t->pool_lock);
	slot = t->idle;
	t->idle = NULL;
	t->idle_count = 0;
	pthread_mutex_unlock(&t->pool_lock);
	for (; slot != NULL; slot = next) {
		next = slot->next;
		slot_free(slot);
	}
}
