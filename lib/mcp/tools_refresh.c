/*
 * lib/mcp/tools_refresh.c: following notifications/tools/list_changed.
 * The dispatch thread must not wait for the server, so the refresh runs on
 * a thread of its own; notifications that arrive while it runs make it go
 * once more (coalesced). A refresh lists the tools again, removes the cog
 * tools of vanished ones, redefines changed ones and defines new ones.
 * cog_mcp_close() ends it (mcp_tools_undefine): from the moment that
 * marks the tools gone (under tools_lock) no notification starts a thread
 * and a running refresh changes nothing; the thread is joined.
 */
#include <string.h>

#include "cognition/tool.h"
#include "mcp_tools_int.h"

/* Bring the registry in line with `tools` (the new catalogue). Every
 * look-up goes through an index: O(n) for n tools, not a scan per tool. */
static void sync_locked(cog_mcp *m, cJSON *tools)
{
	cJSON *names = mcp_tools_names(m->tool_prefix, tools);
	if (!names) {
		mcp_log(m, COG_LOG_ERROR, NULL, "tools refresh: %s", cog_error_last());
		return;
	}
	mcp_index want_ix, now_ix, before_ix, defined_ix;
	memset(&defined_ix, 0, sizeof defined_ix);
	/* The definitions as they were (redefining appends to m->defined). */
	size_t count = (size_t)cJSON_GetArraySize(m->defined), k = 0;
	cJSON **was = cog__calloc(count ? count : 1, sizeof *was);
	bool ok = was != NULL;
	if (ok && mcp_index_members(&want_ix, names) != COG_OK) {
		ok = false;
	} else if (ok && mcp_index_tools(&now_ix, tools) != COG_OK) {
		mcp_index_dispose(&want_ix);
		ok = false;
	} else if (ok && mcp_index_tools(&before_ix, m->tools) != COG_OK) {
		mcp_index_dispose(&want_ix);
		mcp_index_dispose(&now_ix);
		ok = false;
	}
	if (!ok) {
		cog_free(was);
		cJSON_Delete(names);
		mcp_log(m, COG_LOG_ERROR, NULL, "tools refresh: out of memory");
		return;
	}
	for (cJSON *d = m->defined ? m->defined->child : NULL; d && k < count; d = d->next)
		was[k++] = d;
	unsigned int added = 0, removed = 0, changed = 0, failed = 0;
	/* Vanished or changed. */
	for (size_t i = 0; i < k; i++) {
		cJSON *d = was[i];
		const cJSON *want = mcp_index_get(&want_ix, d->string);
		bool same_tool = cJSON_IsString(want) && cJSON_IsString(d) &&
		                 strcmp(want->valuestring, d->valuestring) == 0;
		const cJSON *now = same_tool ? mcp_index_get(&now_ix, d->valuestring) : NULL;
		const cJSON *before = same_tool ? mcp_index_get(&before_ix, d->valuestring) : NULL;
		if (!same_tool) {
			mcp_undefine_item_locked(m, d);
			removed++;
		} else if (!before || !cJSON_Compare(before, now, true)) {
			char *name = cog__strdup(d->string);
			if (name) {
				mcp_undefine_item_locked(m, d);
				if (mcp_define_one_locked(m, name, now) == COG_OK)
					changed++;
				else {
					mcp_log(m, COG_LOG_WARN, NULL, "tools refresh: %s",
					        cog_error_last());
					failed++;
				}
				cog_free(name);
			}
		}
	}
	cog_free(was);
	mcp_index_dispose(&want_ix);
	mcp_index_dispose(&before_ix);
	/* New ones: the names are unique, so the definitions as they are now
	 * tell which are new (those defined below are not asked again). */
	if (mcp_index_members(&defined_ix, m->defined) != COG_OK) {
		mcp_index_dispose(&now_ix);
		cJSON_Delete(names);
		mcp_log(m, COG_LOG_ERROR, NULL, "tools refresh: out of memory");
		return;
	}
	const cJSON *n;
	cJSON_ArrayForEach(n, names) {
		if (mcp_index_get(&defined_ix, n->string))
			continue;
		if (mcp_define_one_locked(m, n->string,
		                          mcp_index_get(&now_ix, n->valuestring)) == COG_OK) {
			added++;
		} else {
			mcp_log(m, COG_LOG_WARN, NULL, "tools refresh: %s", cog_error_last());
			failed++;
		}
	}
	mcp_index_dispose(&defined_ix);
	mcp_index_dispose(&now_ix);
	cJSON_Delete(names);
	mcp_log(m, COG_LOG_INFO, NULL, "tools refreshed: %u added, %u removed, "
	        "%u changed, %u failed", added, removed, changed, failed);
}

static void refresh_once(cog_mcp *m)
{
	cJSON *tools = NULL;
	if (mcp_tools_fetch(m, &tools) != COG_OK) {
		mcp_log(m, COG_LOG_WARN, NULL, "tools refresh: %s", cog_error_last());
		return;
	}
	pthread_mutex_lock(&m->tools_lock);
	if (mcp_tools_gone_locked(m)) {
		pthread_mutex_unlock(&m->tools_lock);
		cJSON_Delete(tools);
		return;
	}
	if (m->tool_prefix)
		sync_locked(m, tools);
	else
		mcp_log(m, COG_LOG_DEBUG, NULL, "tools list refreshed");
	mcp_tools_store_locked(m, tools);
	pthread_mutex_unlock(&m->tools_lock);
}

static void *refresh_main(void *arg)
{
	cog_mcp *m = arg;
	for (;;) {
		refresh_once(m);
		pthread_mutex_lock(&m->tools_lock);
		if (m->refresh_again && !mcp_tools_gone_locked(m) &&
		    !mcp_tools_closing(m)) {
			m->refresh_again = false;
			pthread_mutex_unlock(&m->tools_lock);
			continue;
		}
		m->refresh_again = false;
		m->refresh_running = false;
		pthread_mutex_unlock(&m->tools_lock);
		return NULL;
	}
}

/* Start the refresh thread, or have the running one go again. */
void mcp_tools_refresh_kick_locked(cog_mcp *m)
{
	if (mcp_tools_gone_locked(m) || mcp_tools_closing(m))
		return;
	if (m->refresh_running) {
		m->refresh_again = true;
		return;
	}
	if (m->refresh_thread_started) {
		/* The last refresh is past its last lock: joining is quick. */
		pthread_join(m->refresh_thread, NULL);
		m->refresh_thread_started = false;
	}
	m->refresh_running = true;
	m->refresh_again = false;
	int err = pthread_create(&m->refresh_thread, NULL, refresh_main, m);
	if (err != 0) {
		m->refresh_running = false;
		mcp_log(m, COG_LOG_ERROR, NULL, "tools refresh: cannot start a thread "
		        "(error %d)", err);
		return;
	}
	m->refresh_thread_started = true;
}

void mcp_tools_changed(cog_mcp *m)
{
	pthread_mutex_lock(&m->tools_lock);
	if (mcp_tools_gone_locked(m)) {
		/* cog_mcp_close() is removing the tools: nothing to follow. */
	} else if (!m->tools && !m->tool_prefix) {
		/* Nothing listed or defined yet: remember it (a definition whose
		 * list crossed this notification refreshes after it). */
		if (!m->refresh_running)
			m->refresh_again = true;
	} else {
		mcp_tools_refresh_kick_locked(m);
	}
	pthread_mutex_unlock(&m->tools_lock);
}

void mcp_tools_undefine(cog_mcp *m)
{
	pthread_mutex_lock(&m->tools_lock);
	void *schemas = mcp_schema_cache_take_locked(m);   /* gone from now on */
	m->refresh_again = false;
	bool started = m->refresh_thread_started;
	m->refresh_thread_started = false;
	pthread_mutex_unlock(&m->tools_lock);
	mcp_schema_cache_release(schemas);
	/* A refresh already started ends soon: its requests fail once the
	 * connection is closing, and it defines nothing once tools are gone. */
	if (started)
		pthread_join(m->refresh_thread, NULL);

	pthread_mutex_lock(&m->tools_lock);
	while (m->defined && m->defined->child) {
		char *name = cog__strdup(m->defined->child->string);
		if (!name) {
			cog_tool_remove(m->ctx, m->defined->child->string);
			cJSON_Delete(cJSON_DetachItemViaPointer(m->defined, m->defined->child));
			continue;
		}
		mcp_undefine_one_locked(m, name);
		cog_free(name);
	}
	cJSON_Delete(m->defined);
	m->defined = NULL;
	cog_free(m->tool_prefix);
	m->tool_prefix = NULL;
	cJSON_Delete(m->tools);
	m->tools = NULL;
	pthread_mutex_unlock(&m->tools_lock);
}
