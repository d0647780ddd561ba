/*
 * The owner lease: one process at a time runs a durable plan. Two runs of
 * one plan would each start its tasks, and exactly-once would be gone.
 *
 * The lease is a document (PLAN_LEASE_COLLECTION/<plan id>) naming the
 * process that runs the plan:
 *   {"host":"build-7","pid":4242,"start_time":123456,"boot_id":"..",
 *    "pid_ns":"pid:[4026531836]","acquired_ms":1764000000000,"token":".."}
 * start_time is field 22 of /proc/<pid>/stat (clock ticks after boot): a
 * pid reused by a later process has another. A process on the same host
 * (same host name, boot and pid namespace) can tell whether the holder is
 * still there; a lease from elsewhere it cannot judge, so it refuses and
 * says how to clear the lease by hand.
 *
 * The token, fresh for each run, tells the run's own lease from any other
 * when it drops it.
 *
 * Leases are read and written inside the caller's storage transaction: on
 * SQLite that is BEGIN IMMEDIATE, so two processes cannot both see the
 * lease free and both take it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "run_int.h"

typedef struct lease_owner {
	char host[256];
	long long pid;
	unsigned long long start_time; /* 0: unknown */
	char boot_id[64];              /* "": unknown */
	char pid_ns[64];               /* "": unknown */
	char token[PLAN_LEASE_TOKEN_SIZE]; /* "": none */
} lease_owner;

/* ---- who is this process ---- */

/* Up to cap - 1 bytes of a small file, without the trailing newline. */
static bool read_small_file(const char *path, char *out, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n;
	do
		n = read(fd, out, cap - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return false;
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	return true;
}

/*
 * The state (field 3) and start time (field 22) of a process, from
 * /proc/<pid>/stat. Field 2 is the command in parentheses and may itself
 * hold spaces and parentheses: the fields after it start after the last
 * ')'. Returns 0, or the errno of the failure (ENOENT: no such process).
 */
static int proc_stat(long long pid, char *state, unsigned long long *start_time)
{
	char path[64], line[1024];
	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%lld/stat", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/stat");
	errno = 0;
	if (!read_small_file(path, line, sizeof(line)))
		return errno ? errno : EIO;
	char *p = strrchr(line, ')');
	if (!p || p[1] != ' ' || !p[2])
		return EIO;
	*state = p[2];
	p += 3;
	/* Fields 4 to 21, then 22. */
	for (int field = 4; field <= 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return EIO;
		p++;
	}
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (errno || end == p)
		return EIO;
	*start_time = v;
	return 0;
}

static void owner_self(lease_owner *o)
{
	memset(o, 0, sizeof(*o));
	if (gethostname(o->host, sizeof(o->host)) != 0 || !o->host[0])
		snprintf(o->host, sizeof(o->host), "localhost");
	o->host[sizeof(o->host) - 1] = '\0';
	o->pid = (long long)getpid();
	char state;
	if (proc_stat(0, &state, &o->start_time) != 0)
		o->start_time = 0;
	if (!read_small_file("/proc/sys/kernel/random/boot_id", o->boot_id,
	                     sizeof(o->boot_id)))
		o->boot_id[0] = '\0';
	ssize_t n = readlink("/proc/self/ns/pid", o->pid_ns, sizeof(o->pid_ns) - 1);
	o->pid_ns[n > 0 ? n : 0] = '\0';
}

static void copy_field(char *dst, size_t cap, const cJSON *doc, const char *name)
{
	const char *v = cog_json_get_string(doc, name);
	snprintf(dst, cap, "%s", v ? v : "");
}

/* COG_EIO for a document that is not a lease. */
static int owner_parse(const char *text, lease_owner *o)
{
	memset(o, 0, sizeof(*o));
	cJSON *doc = NULL;
	if (cog_json_parse(&doc, text, "plan lease") || !cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return COG_EIO;
	}
	copy_field(o->host, sizeof(o->host), doc, "host");
	copy_field(o->boot_id, sizeof(o->boot_id), doc, "boot_id");
	copy_field(o->pid_ns, sizeof(o->pid_ns), doc, "pid_ns");
	copy_field(o->token, sizeof(o->token), doc, "token");
	double pid = cog_json_get_number(doc, "pid", -1);
	double start = cog_json_get_number(doc, "start_time", 0);
	cJSON_Delete(doc);
	if (!o->host[0] || pid < 1 || pid > 4194304.0 * 1024)
		return COG_EIO;
	o->pid = (long long)pid;
	o->start_time = start > 0 && start < 1.8e19 ? (unsigned long long)start : 0;
	return COG_OK;
}

static char *owner_json(const lease_owner *o)
{
	cJSON *doc = cJSON_CreateObject();
	char *text = NULL;
	if (doc && !cog_json_add_string(doc, "host", o->host) &&
	    !cog_json_add_number(doc, "pid", (double)o->pid) &&
	    !cog_json_add_number(doc, "start_time", (double)o->start_time) &&
	    !cog_json_add_string(doc, "boot_id", o->boot_id) &&
	    !cog_json_add_string(doc, "pid_ns", o->pid_ns) &&
	    !cog_json_add_number(doc, "acquired_ms", (double)cog_clock_realtime_ms()) &&
	    !cog_json_add_string(doc, "token", o->token))
		text = cog_json_print(doc);
	cJSON_Delete(doc);
	return text;
}

/* ---- is the holder still there ---- */

typedef enum holder_state {
	HOLDER_GONE,
	HOLDER_ALIVE,
	HOLDER_THIS,     /* this very process */
	HOLDER_UNKNOWN   /* another host or pid namespace: cannot tell */
} holder_state;

static bool differ(const char *a, const char *b)
{
	return a[0] && b[0] && strcmp(a, b) != 0;
}

static holder_state holder_check(const lease_owner *holder, const lease_owner *self)
{
	if (strcmp(holder->host, self->host) != 0 || differ(holder->pid_ns, self->pid_ns))
		return HOLDER_UNKNOWN;
	if (differ(holder->boot_id, self->boot_id))
		return HOLDER_GONE; /* the host restarted since */
	if (holder->pid == self->pid &&
	    (!holder->start_time || !self->start_time || holder->start_time == self->start_time))
		return HOLDER_THIS;
	if (holder->pid > 0x7fffffff || (kill((pid_t)holder->pid, 0) != 0 && errno != EPERM))
		return HOLDER_GONE;
	char state = 0;
	unsigned long long start = 0;
	int err = proc_stat(holder->pid, &state, &start);
	if (err == ENOENT || err == ESRCH)
		return HOLDER_GONE; /* exited between the two looks */
	if (err)
		return HOLDER_ALIVE; /* /proc hidden: kill() has the last word */
	if (state == 'Z' || state == 'X')
		return HOLDER_GONE; /* exited, not yet reaped */
	if (holder->start_time && start != holder->start_time)
		return HOLDER_GONE; /* another process under a reused pid */
	return HOLDER_ALIVE;
}

/* ---- the lease ---- */

int plan_lease_acquire(cog_ctx *ctx, cog_storage *st, const char *plan_id,
                       char token[PLAN_LEASE_TOKEN_SIZE], const char *fn)
{
	bool take = token != NULL;
	char *text = NULL;
	int rc = cog_storage_get(st, PLAN_LEASE_COLLECTION, plan_id, &text);
	if (rc && rc != COG_ENOTFOUND)
		return cog__error_wrap(rc, "%s: plan %s: reading its lease", fn, plan_id);
	if (rc == COG_ENOTFOUND && !take)
		return COG_OK;
	lease_owner self, holder;
	owner_self(&self); /* a few reads of /proc: only when needed */
	if (rc == COG_OK) {
		int parsed = owner_parse(text, &holder);
		cog_free(text);
		text = NULL;
		holder_state hs = parsed ? HOLDER_GONE : holder_check(&holder, &self);
		if (hs == HOLDER_ALIVE)
			return cog__error(COG_EBUSY, "%s: plan %s is being run by pid %lld on host "
				"%s", fn, plan_id, holder.pid, holder.host);
		if (hs == HOLDER_THIS)
			return cog__error(COG_EBUSY, "%s: plan %s is being run by pid %lld on host "
				"%s (this process)", fn, plan_id, holder.pid, holder.host);
		if (hs == HOLDER_UNKNOWN)
			return cog__error(COG_EBUSY, "%s: plan %s is being run by pid %lld on host "
				"%s%s, which this process cannot check; if that process is gone, "
				"delete its lease (key \"%s\" in collection \"%s\" of the storage, "
				"e.g. cog_storage_delete(storage, \"%s\", \"%s\")) and try again", fn,
				plan_id, holder.pid, holder.host,
				strcmp(holder.host, self.host) == 0 ? " (another pid namespace)" : "",
				plan_id, PLAN_LEASE_COLLECTION, PLAN_LEASE_COLLECTION, plan_id);
		if (take && !parsed)
			cog__log(ctx, COG_LOG_WARN, NULL, "plan %s: taking over the lease of pid "
				"%lld on host %s, which is gone", plan_id, holder.pid, holder.host);
		else if (take)
			cog__log(ctx, COG_LOG_WARN, NULL, "plan %s: replacing a damaged lease",
				plan_id);
	}
	if (!take)
		return COG_OK;
	cog_id id;
	cog_id_new(&id);
	cog_id_to_uuid(&id, self.token);
	if (!(text = owner_json(&self)))
		return cog__oom(fn);
	rc = cog_storage_put(st, PLAN_LEASE_COLLECTION, plan_id, text, 0);
	cog_free(text);
	if (rc)
		return cog__error_wrap(rc, "%s: plan %s: writing its lease", fn, plan_id);
	memcpy(token, self.token, PLAN_LEASE_TOKEN_SIZE);
	return COG_OK;
}

int plan_lease_release(cog_storage *st, const char *plan_id,
                       const char token[PLAN_LEASE_TOKEN_SIZE])
{
	char *text = NULL;
	int rc = cog_storage_get(st, PLAN_LEASE_COLLECTION, plan_id, &text);
	if (rc == COG_ENOTFOUND)
		return COG_OK;
	if (rc)
		return rc;
	lease_owner holder;
	bool ours = owner_parse(text, &holder) == COG_OK && token[0] &&
		strcmp(holder.token, token) == 0;
	cog_free(text);
	if (!ours)
		return COG_OK;
	rc = cog_storage_delete(st, PLAN_LEASE_COLLECTION, plan_id);
	return rc == COG_ENOTFOUND ? COG_OK : rc;
}

/* ---- is this copy current ---- */

static int note_record(uint64_t seq, const char *record, size_t len, void *user_data)
{
	(void)record;
	(void)len;
	*(uint64_t *)user_data = seq;
	return COG_STORAGE_STOP;
}

int plan_check_current(cog_plan *plan, cog_storage *st, const char *fn)
{
	char log[COG_PLAN_ID_MAX + 8];
	plan_journal_name(plan, log);
	uint64_t newer = 0;
	int rc = cog_storage_read(st, log, plan->journal_seq + 1, 1, note_record, &newer);
	if (rc)
		return cog__error_wrap(rc, "%s: plan %s: reading its journal", fn, plan->id);
	if (newer)
		return cog__error(COG_EBUSY, "%s: plan %s was changed in the storage since this "
			"copy was read (its journal goes on past record %llu); another process ran "
			"or changed it: read it again with cog_plan_resume()", fn, plan->id,
			(unsigned long long)plan->journal_seq);
	return COG_OK;
}

int plan_guard_write(cog_plan *plan, cog_storage *st, const char *fn)
{
	int rc = plan_lease_acquire(plan->ctx, st, plan->id, NULL, fn);
	return rc ? rc : plan_check_current(plan, st, fn);
}

/* ---- may a fresh plan take this id ---- */

/* The stored document as a definition: without states and journal. */
static void strip_states(cJSON *doc)
{
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "state");
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "journal");
	cJSON *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(doc, "tasks")) {
		cJSON_DeleteItemFromObjectCaseSensitive(t, "state");
		cJSON_DeleteItemFromObjectCaseSensitive(t, "attempts");
		cJSON_DeleteItemFromObjectCaseSensitive(t, "result");
		cJSON_DeleteItemFromObjectCaseSensitive(t, "error");
	}
}

/* Every stored task pending, never attempted. */
static bool never_ran(const cJSON *doc)
{
	const cJSON *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(doc, "tasks")) {
		const char *state = cog_json_get_string(t, "state");
		if ((state && strcmp(state, "pending") != 0) ||
		    cog_json_get_number(t, "attempts", 0) != 0)
			return false;
	}
	return true;
}

int plan_check_fresh(cog_plan *plan, cog_storage *st, const char *fn)
{
	char *text = NULL;
	int rc = cog_storage_get(st, PLAN_COLLECTION, plan->id, &text);
	if (rc == COG_ENOTFOUND)
		return COG_OK;
	if (rc)
		return cog__error_wrap(rc, "%s: plan %s: reading the storage", fn, plan->id);
	cJSON *doc = NULL, *mine = NULL;
	bool same = false;
	uint64_t seq = 0;
	if (cog_json_parse(&doc, text, "stored plan") == COG_OK && cJSON_IsObject(doc)) {
		double s = cog_json_get_number(cJSON_GetObjectItemCaseSensitive(doc, "journal"),
			"seq", -1);
		seq = s >= 0 ? (uint64_t)s : 0;
		same = s >= 0 && never_ran(doc);
		strip_states(doc);
		if (same && !(mine = plan_to_json(plan, false)))
			rc = COG_ENOMEM;
		same = same && mine && cJSON_Compare(doc, mine, true);
	}
	cJSON_Delete(mine);
	cJSON_Delete(doc);
	cog_free(text);
	if (rc)
		return rc;
	if (same) {
		/* Saved, never run: nothing after its snapshot either. */
		uint64_t was = plan->journal_seq;
		plan->journal_seq = seq;
		rc = plan_check_current(plan, st, fn);
		plan->journal_seq = was;
		if (rc == COG_OK)
			return COG_OK;
		if (rc != COG_EBUSY)
			return rc;
	}
	return cog__error(COG_EEXISTS, "%s: plan %s already has a journal in the storage; "
		"continue it with cog_plan_resume(), or give this plan another id", fn, plan->id);
}
