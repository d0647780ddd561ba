/*
 * libcognition-curl: creating, describing and closing the transport.
 * The request itself is in curl_perform.c, the handle pool in curl_pool.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "curl_int.h"

int cog_curl_options_init(cog_curl_options *options, unsigned int version)
{
	if (options == NULL)
		return cog_error_set(COG_EINVAL, "cog_curl_options_init: options is NULL");
	if (version == 0 || version > COG_CURL_OPTIONS_VERSION)
		return cog_error_set(COG_EVERSION,
		                     "cog_curl_options_init: unknown version %u "
		                     "(this library knows 1..%u)", version,
		                     COG_CURL_OPTIONS_VERSION);
	memset(options, 0, sizeof(*options));
	options->version = version;
	return 0;
}

/* libcurl asks for one lock per kind of data; each kind gets its mutex. */
static void share_lock(CURL *easy, curl_lock_data data,
                       curl_lock_access access, void *user)
{
	curl_transport *t = user;

	(void)easy;
	(void)access;
	if ((unsigned int)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&t->share_locks[data]);
}

static void share_unlock(CURL *easy, curl_lock_data data, void *user)
{
	curl_transport *t = user;

	(void)easy;
	if ((unsigned int)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&t->share_locks[data]);
}

static int share_setup(curl_transport *t)
{
	CURLSHcode sc;

	t->share = curl_share_init();
	if (t->share == NULL)
		return cog_error_set(COG_ENOMEM, "curl: curl_share_init failed");
	sc = curl_share_setopt(t->share, CURLSHOPT_USERDATA, (void *)t);
	if (sc == CURLSHE_OK)
		sc = curl_share_setopt(t->share, CURLSHOPT_LOCKFUNC, share_lock);
	if (sc == CURLSHE_OK)
		sc = curl_share_setopt(t->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	if (sc == CURLSHE_OK)
		sc = curl_share_setopt(t->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	if (sc == CURLSHE_OK)
		sc = curl_share_setopt(t->share, CURLSHOPT_SHARE,
		                       CURL_LOCK_DATA_SSL_SESSION);
	if (sc != CURLSHE_OK)
		return cog_error_set(COG_EIO, "curl: curl_share_setopt failed: %s",
		                     curl_share_strerror(sc));
	return 0;
}

static int mutexes_init(curl_transport *t)
{
	size_t i;
	int err = pthread_mutex_init(&t->pool_lock, NULL);

	if (err != 0)
		return cog_error_set(COG_EIO, "curl: pthread_mutex_init: %s",
		                     strerror(err));
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++) {
		err = pthread_mutex_init(&t->share_locks[i], NULL);
		if (err != 0) {
			while (i-- > 0)
				pthread_mutex_destroy(&t->share_locks[i]);
			pthread_mutex_destroy(&t->pool_lock);
			return cog_error_set(COG_EIO, "curl: pthread_mutex_init: %s",
			                     strerror(err));
		}
	}
	return 0;
}

static void curl_transport_close(void *self)
{
	curl_transport *t = self;
	size_t i;

	if (t == NULL)
		return;
	curl_pool_drain(t);
	/* Every easy handle that used the share is gone by now, so this cannot
	 * answer CURLSHE_IN_USE. */
	if (t->share != NULL)
		curl_share_cleanup(t->share);
	cog_free(t->user_agent);
	cog_free(t->ca_file);
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&t->share_locks[i]);
	pthread_mutex_destroy(&t->pool_lock);
	cog_free(t);
}

/* Append s as a JSON string body (no quotes); libcurl's version strings
 * are ASCII, but escaping costs nothing and keeps the output valid. */
static int json_put_string(curl_buf *buf, const char *s)
{
	char esc[8];
	int rc = 0;

	for (; *s != '\0' && rc == 0; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			rc = curl_buf_put(buf, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			rc = curl_buf_put(buf, esc, 6);
		} else {
			rc = curl_buf_put(buf, s, 1);
		}
	}
	return rc;
}

static int curl_transport_describe(void *self, char **json)
{
	const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);
	curl_transport *t = self;
	curl_buf buf = { NULL, 0, 0 };
	int rc;

	rc = curl_buf_put(&buf, "{\"backend\":\"curl\",\"curl_version\":\"", 34);
	if (rc == 0)
		rc = json_put_string(&buf, info->version);
	if (rc == 0)
		rc = curl_buf_put(&buf, "\",\"ssl_version\":\"", 17);
	if (rc == 0)
		rc = json_put_string(&buf, info->ssl_version != NULL ?
		                     info->ssl_version : "none");
	if (rc == 0)
		rc = curl_buf_put(&buf, "\",\"http2\":", 10);
	if (rc == 0)
		rc = t->http2 ? curl_buf_put(&buf, "true}", 5) :
		                curl_buf_put(&buf, "false}", 6);
	if (rc != 0) {
		curl_buf_dispose(&buf);
		return cog_error_set(COG_ENOMEM, "curl: out of memory in describe");
	}
	*json = curl_buf_detach(&buf, NULL);
	return 0;
}

/* Option strings become HTTP header text or a path: refuse what would
 * break either. */
static int options_check(const cog_curl_options *options)
{
	if (options->version == 0 || options->version > COG_CURL_OPTIONS_VERSION)
		return cog_error_set(COG_EVERSION,
		                     "cog_curl_transport_new: unknown options version %u "
		                     "(this library knows 1..%u)", options->version,
		                     COG_CURL_OPTIONS_VERSION);
	if (options->user_agent != NULL &&
	    strpbrk(options->user_agent, "\r\n") != NULL)
		return cog_error_set(COG_EINVAL, "cog_curl_transport_new: user_agent "
		                     "contains CR or LF");
	if (options->ca_file != NULL && access(options->ca_file, R_OK) != 0)
		return cog_error_set(COG_EINVAL, "cog_curl_transport_new: ca_file "
		                     "'%s' is not readable: %s", options->ca_file,
		                     strerror(errno));
	return 0;
}

static int transport_fill(curl_transport *t, const cog_curl_options *options)
{
	const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);
	const char *agent = options->user_agent != NULL ?
	                    options->user_agent : "libcognition/" COG_VERSION_STRING;

	t->http2 = (info->features & CURL_VERSION_HTTP2) != 0;
	t->max_connections = options->max_connections != 0 ?
	                     options->max_connections :
	                     COG_CURL_DEFAULT_MAX_CONNECTIONS;
	t->user_agent = curl_strdup(agent);
	if (t->user_agent == NULL)
		return cog_error_set(COG_ENOMEM, "curl: out of memory for options");
	if (options->ca_file != NULL) {
		t->ca_file = curl_strdup(options->ca_file);
		if (t->ca_file == NULL)
			return cog_error_set(COG_ENOMEM, "curl: out of memory for options");
	}
	return share_setup(t);
}

int cog_curl_transport_new(cog_transport **out, const cog_curl_options *options)
{
	cog_curl_options defaults = COG_CURL_OPTIONS_INIT;
	cog_transport_vtable vtable = COG_TRANSPORT_VTABLE_INIT;
	curl_transport *t;
	int rc;

	if (out == NULL)
		return cog_error_set(COG_EINVAL, "cog_curl_transport_new: out is NULL");
	*out = NULL;
	if (options == NULL)
		options = &defaults;
	rc = options_check(options);
	if (rc == 0)
		rc = cog_curl_global_init();
	if (rc != 0)
		return rc;
	t = cog_malloc(sizeof(*t));
	if (t == NULL)
		return cog_error_set(COG_ENOMEM, "cog_curl_transport_new: out of memory");
	memset(t, 0, sizeof(*t));
	rc = mutexes_init(t);
	if (rc != 0) {
		cog_free(t);
		return rc;
	}
	rc = transport_fill(t, options);
	if (rc != 0) {
		curl_transport_close(t);
		return rc;
	}
	vtable.self = t;
	vtable.close = curl_transport_close;
	vtable.perform = curl_transport_perform;
	vtable.describe = curl_transport_describe;
	/* On failure cog_transport_new() has already closed self. */
	return cog_transport_new(out, &vtable);
}
