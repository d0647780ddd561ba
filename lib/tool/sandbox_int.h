/*
 * Private interface of the Linux sandbox. Not installed.
 *
 *   sandbox.c          the API and the run loop (I/O, timeout, wait)
 *   sandbox_plan.c     options -> sandbox_plan (argv lookup, env, limits)
 *   sandbox_layout.c   the host layout (probed once) and the fixed part of
 *                      the new root: /usr, /etc, /dev, /proc, /tmp
 *   sandbox_skeleton.c the root's unchanging part, prepared once
 *   sandbox_spawn.c    clone() and what the child reports
 *   sandbox_probe.c    cog_sandbox_probe()
 *   sandbox_child.c    the child, between clone() and execve()
 *   sandbox_seccomp.c, sandbox_landlock.c
 *
 * The parent prepares everything the child needs in a sandbox_plan: every
 * string, array, the BPF program and the Landlock rules. The child runs
 * between clone() and execve() in an address space it may share with the
 * parent (CLONE_VM|CLONE_VFORK), so it only makes system calls: no
 * allocation, no stdio, no locks.
 */
#ifndef COG_SANDBOX_INT_H
#define COG_SANDBOX_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <linux/filter.h>

#include "cognition/tool.h"

/* Code that runs in the child between clone() and execve(): without
 * sanitizer instrumentation. In sanitizer builds the child is a fork-like
 * copy whose address-space limit (RLIMIT_AS) is already lowered, and the
 * runtime's own bookkeeping (e.g. at a noreturn call) would try to map
 * memory and die. */
#if defined(__GNUC__) || defined(__clang__)
#  define SB_CHILD_CODE __attribute__((no_sanitize("address", "undefined", "thread")))
#else
#  define SB_CHILD_CODE
#endif

/* One step of building the new root. Paths are relative to the new root
 * (the child works with the root tmpfs as its current directory). */
typedef enum sandbox_op_kind {
	SB_OP_MKDIR = 0,   /* path, mode; an existing directory is fine */
	SB_OP_SYMLINK,     /* symlink at path pointing to src */
	SB_OP_COPY,        /* copy host file src (following links) to path */
	SB_OP_BIND,        /* bind host src at path (recursive); flags != 0:
	                      remount the bind with these flags (read-only) */
	SB_OP_BIND_FILE,   /* create an empty file at path, then as SB_OP_BIND */
	SB_OP_TMPFS,       /* tmpfs at path, flags, mount data in data */
	SB_OP_PROC,        /* a new procfs at path */
	SB_OP_WRITE        /* a new file at path holding the text data */
} sandbox_op_kind;

typedef struct sandbox_op {
	sandbox_op_kind kind;
	const char *src;
	const char *path;
	const char *data;
	unsigned long flags;
	unsigned int mode;
	int optional;      /* a missing source is skipped, not an error */
} sandbox_op;

/* Landlock: one path-beneath rule (the path is opened by the child). */
typedef struct sandbox_ll_rule {
	const char *path;
	uint64_t access;
} sandbox_ll_rule;

#define SB_MAX_OPS 256
#define SB_MAX_LL_RULES 32
#define SB_MAX_BPF 160

/* Steps the child reports failures of (index into sandbox_step_names). */
typedef enum sandbox_step {
	SB_STEP_SIGNALS = 0,
	SB_STEP_SETGROUPS,
	SB_STEP_UID_MAP,
	SB_STEP_GID_MAP,
	SB_STEP_ROOT_TMPFS,
	SB_STEP_ROOT_BIND,
	SB_STEP_CHDIR_ROOT,
	SB_STEP_OP,           /* a sandbox_op: the parent names it */
	SB_STEP_PID_MAX,
	SB_STEP_HOSTNAME,
	SB_STEP_PIVOT_ROOT,
	SB_STEP_DETACH_OLD_ROOT,
	SB_STEP_REMOUNT_ROOT,
	SB_STEP_RLIMIT,
	SB_STEP_SETSID,
	SB_STEP_STDIO,
	SB_STEP_CHDIR,
	SB_STEP_SECUREBITS,
	SB_STEP_AMBIENT,
	SB_STEP_NO_NEW_PRIVS,
	SB_STEP_LANDLOCK,
	SB_STEP_CAPSET,
	SB_STEP_CLOSE_FDS,
	SB_STEP_SECCOMP,
	SB_STEP_EXEC,
	SB_STEP_COUNT
} sandbox_step;

extern const char *const sandbox_step_names[SB_STEP_COUNT];

/* What the child writes to the report pipe when a step fails. */
typedef struct sandbox_report {
	int err;        /* errno */
	int step;       /* sandbox_step */
	int op_index;   /* for SB_STEP_OP */
} sandbox_report;

typedef struct sandbox_plan {
	int namespaces;           /* 0: the unsandboxed path (fork + exec) */
	int stdin_fd, stdout_fd, stderr_fd;   /* child's ends */
	int report_fd;            /* CLOEXEC write end of the report pipe */

	/* namespaces */
	const char *uid_map;      /* "0 <uid> 1" */
	const char *gid_map;
	const char *root_mount;   /* host directory the new root goes on */
	const char *root_source;  /* NULL: the root is a new tmpfs; else this
	                             host directory (the skeleton) bound */
	const char *root_tmpfs_data;
	unsigned long root_remount_flags;   /* making the root read-only */
	const sandbox_op *ops;
	size_t op_count;
	int set_pid_max;          /* cap the pid namespace (host root: NPROC
	                             does not apply to uid 0) */

	/* both paths */
	struct { int resource; uint64_t soft, hard; } rlimits[6];
	size_t rlimit_count;
	const char *cwd;          /* absolute inside the sandbox (or host) */
	const char *exec_path;
	char *const *argv;
	char *const *envp;

	int landlock_abi;         /* 0: skip */
	uint64_t ll_handled_fs;
	uint64_t ll_handled_net;
	uint64_t ll_scoped;
	const sandbox_ll_rule *ll_rules;
	size_t ll_rule_count;

	const struct sock_filter *bpf;
	unsigned short bpf_len;
} sandbox_plan;

/* sandbox_child.c: the child's entry point for clone(). Never returns on
 * success (execve); on failure writes a sandbox_report and _exit(127). */
SB_CHILD_CODE int sandbox_child_main(void *plan);

/* sandbox_seccomp.c: build the filter into out (SB_MAX_BPF entries);
 * returns the number of instructions (0: no filter for this
 * architecture). deny_inet: refuse IPv4/IPv6 sockets too. */
unsigned short sandbox_seccomp_build(struct sock_filter *out, int deny_inet);

/* sandbox_landlock.c */
/* The running kernel's Landlock ABI (0 when absent), probed once. */
int sandbox_landlock_abi(void);
/* The filesystem rights the ABI handles, split by what they allow. */
uint64_t sandbox_landlock_fs_all(int abi);
uint64_t sandbox_landlock_fs_read_exec(int abi);
uint64_t sandbox_landlock_fs_file_rw(int abi);   /* for device files */
uint64_t sandbox_landlock_net_tcp(int abi);      /* 0 below ABI 4 */
uint64_t sandbox_landlock_scopes(int abi);       /* 0 below ABI 6 */
/* Child side: build the ruleset from the plan and restrict the calling
 * process (no_new_privs must be set). Returns 0 or an errno value. */
SB_CHILD_CODE int sandbox_landlock_apply(const sandbox_plan *plan);

/* ------------------------------------------------------------------ */
/* parent side                                                         */
/* ------------------------------------------------------------------ */

#define SB_STACK_SIZE (256u * 1024u)

/* Test hook: COG_SANDBOX_FORCE_UNAVAILABLE=1 in the environment makes
 * the namespace step behave as if the kernel refused it, so the
 * unsandboxed opt-in path can be tested on machines that have namespaces.
 * Read at every run. */
#define SB_FORCE_ENV "COG_SANDBOX_FORCE_UNAVAILABLE"
bool sandbox_force_unavailable(void);

typedef struct sb_chunk sb_chunk;

/* Everything one run needs, freed with sandbox_build_free(). */
typedef struct sb_build {
	sandbox_plan plan;
	sandbox_op ops[SB_MAX_OPS];
	sandbox_ll_rule rules[SB_MAX_LL_RULES];
	struct sock_filter bpf[SB_MAX_BPF];
	char *envp_default[5];
	sb_chunk *arena;
	bool oom;
	bool too_many;

	/* resolved options */
	const char *exec_path;
	char *workspace;          /* realpath, or NULL */
	char **ro_paths;          /* realpaths */
	size_t ro_count;
	const char *cwd;          /* validated, relative, never NULL */
	uint64_t fs_bytes;        /* size of the tmpfs mounts */
	const char *sys_bound[16];/* relative dirs bound read-only */
	size_t sys_bound_count;
	char *temp_workspace;     /* unsandboxed, workspace NULL: removed after */
	bool skeleton_held;       /* the plan's root is the skeleton */
	bool skeleton_broken;     /* the child found it broken: retry without */
} sb_build;

typedef struct sb_limits {
	unsigned int timeout_ms;
	size_t max_output;
	unsigned int cpu_seconds;
	uint64_t memory;
	unsigned int processes;
	uint64_t file_bytes;
	unsigned int open_files;
} sb_limits;

/* sandbox_plan.c */
sb_limits sandbox_resolve_limits(const cog_sandbox_options *o);
int sandbox_resolve_options(sb_build *b, const cog_sandbox_options *o);
int sandbox_plan_sandboxed(sb_build *b, const cog_sandbox_options *o,
                           const sb_limits *l);
int sandbox_plan_unsandboxed(sb_build *b, const cog_sandbox_options *o,
                             const sb_limits *l);
/* Frees b, removing its temporary workspace first. NULL is fine. */
void sandbox_build_free(sb_build *b);
/* Plan-building helpers (a failed allocation sets b->oom; too many ops
 * b->too_many; a NULL path or source argument counts as failed). */
void *sandbox_arena_alloc(sb_build *b, size_t size);
char *sandbox_arena_printf(sb_build *b, const char *fmt, ...) COG_PRINTF(2, 3);
char *sandbox_arena_abs(sb_build *b, const char *rel);   /* "/" + rel */
void sandbox_add_op(sb_build *b, sandbox_op_kind kind, const char *src,
                    const char *path, const char *data, unsigned long flags,
                    unsigned int mode, int optional);
/* The flags a bind of host_path is remounted with (nosuid, nodev, those
 * the source has locked; read-only for sandbox_ro_flags). */
unsigned long sandbox_bind_flags(const char *host_path, bool read_only);
unsigned long sandbox_ro_flags(const char *host_path);
bool sandbox_path_is_beneath(const char *path, const char *dir);

/* sandbox_layout.c: the ops for /usr, /bin, /lib*, /etc, /dev, /proc and
 * /tmp (the host's layout probed once per process). */
void sandbox_plan_layout(sb_build *b, const char *tmpfs_data);

/* sandbox_skeleton.c: when the run's prepared steps are the skeleton's,
 * drop them from b's ops (file mount points become plain binds) and
 * return the directory to bind as the root, with the flags of its
 * read-only remount; else NULL (the run builds a tmpfs root). Released by
 * sandbox_build_free(). */
const char *sandbox_skeleton_acquire(sb_build *b, unsigned long *remount_flags);
/* broken: a child could not use it; no later run will. */
void sandbox_skeleton_release(sb_build *b, bool broken);

/* sandbox_spawn.c */
typedef struct sb_proc {
	pid_t pid;
	int pidfd;
	int stdin_w, out_r, err_r;
	uint64_t start_ns;
} sb_proc;

void sandbox_close_fd(int *fd);
/* Clone and start the program. 0, or an error; *unavailable (with the
 * reason in the thread's error) when the kernel refused the namespaces. */
int sandbox_spawn(sb_build *b, const cog_sandbox_options *o, sb_proc *proc,
                  bool *unavailable);
/* Wait for pid 1 (info and ru may be NULL). */
void sandbox_reap(sb_proc *proc, siginfo_t *info, struct rusage *ru);

/* Copy all of `in` to `out` with sendfile (child-safe). 0 or the errno.
 * (sandbox_child.c; the skeleton uses it too.) */
int sb_copy_all(int out, int in);

#endif /* COG_SANDBOX_INT_H */
