/*
 * Landlock for the sandbox: the ABI probe (parent) and the ruleset the
 * child applies to itself just before seccomp.
 *
 * The constants and structures are spelled out here rather than taken
 * from <linux/landlock.h> because distribution headers lag the kernels
 * they run on (Debian 12's headers know ABI 2; kernels here speak 7). The
 * values are the kernel's UAPI and never change.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox_int.h"

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#endif
#ifndef __NR_landlock_add_rule
#define __NR_landlock_add_rule 445
#endif
#ifndef __NR_landlock_restrict_self
#define __NR_landlock_restrict_self 446
#endif

#define LL_CREATE_RULESET_VERSION (1u << 0)
#define LL_RULE_PATH_BENEATH 1

/* Filesystem rights, by the ABI that introduced them. */
#define LL_FS_EXECUTE      (1ull << 0)
#define LL_FS_WRITE_FILE   (1ull << 1)
#define LL_FS_READ_FILE    (1ull << 2)
#define LL_FS_READ_DIR     (1ull << 3)
#define LL_FS_ABI1_ALL     ((1ull << 13) - 1)     /* bits 0..12 */
#define LL_FS_REFER        (1ull << 13)           /* ABI 2 */
#define LL_FS_TRUNCATE     (1ull << 14)           /* ABI 3 */
#define LL_FS_IOCTL_DEV    (1ull << 15)           /* ABI 5 */
/* Network rights (ABI 4) and scopes (ABI 6). */
#define LL_NET_BIND_TCP    (1ull << 0)
#define LL_NET_CONNECT_TCP (1ull << 1)
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ull << 0)
#define LL_SCOPE_SIGNAL    (1ull << 1)

struct sb_ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;   /* ABI 4 */
	uint64_t scoped;               /* ABI 6 */
};

struct sb_ll_path_beneath_attr {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

static int landlock_abi_cached;
static pthread_once_t landlock_once = PTHREAD_ONCE_INIT;

static void landlock_probe(void)
{
	long v = syscall(__NR_landlock_create_ruleset, NULL, 0,
	                 LL_CREATE_RULESET_VERSION);
	landlock_abi_cached = v > 0 ? (int)v : 0;
}

int sandbox_landlock_abi(void)
{
	pthread_once(&landlock_once, landlock_probe);
	return landlock_abi_cached;
}

uint64_t sandbox_landlock_fs_all(int abi)
{
	if (abi < 1)
		return 0;
	uint64_t all = LL_FS_ABI1_ALL;
	if (abi >= 2)
		all |= LL_FS_REFER;
	if (abi >= 3)
		all |= LL_FS_TRUNCATE;
	if (abi >= 5)
		all |= LL_FS_IOCTL_DEV;
	return all;
}

uint64_t sandbox_landlock_fs_read_exec(int abi)
{
	return abi < 1 ? 0 : LL_FS_EXECUTE | LL_FS_READ_FILE | LL_FS_READ_DIR;
}

uint64_t sandbox_landlock_fs_file_rw(int abi)
{
	if (abi < 1)
		return 0;
	uint64_t rw = LL_FS_READ_FILE | LL_FS_WRITE_FILE;
	if (abi >= 3)
		rw |= LL_FS_TRUNCATE;
	if (abi >= 5)
		rw |= LL_FS_IOCTL_DEV;
	return rw;
}

uint64_t sandbox_landlock_net_tcp(int abi)
{
	return abi >= 4 ? LL_NET_BIND_TCP | LL_NET_CONNECT_TCP : 0;
}

uint64_t sandbox_landlock_scopes(int abi)
{
	return abi >= 6 ? LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL : 0;
}

/* Child side: system calls only (see sandbox_int.h). */
SB_CHILD_CODE int sandbox_landlock_apply(const sandbox_plan *plan)
{
	struct sb_ll_ruleset_attr attr = {
		plan->ll_handled_fs, plan->ll_handled_net, plan->ll_scoped
	};
	/* Pass only the part of the structure the ABI knows. */
	size_t size = plan->landlock_abi >= 6 ? sizeof attr
	            : plan->landlock_abi >= 4 ? 2 * sizeof(uint64_t)
	            : sizeof(uint64_t);
	long ruleset = syscall(__NR_landlock_create_ruleset, &attr, size, 0);
	if (ruleset < 0)
		return errno;
	for (size_t i = 0; i < plan->ll_rule_count; i++) {
		int fd = open(plan->ll_rules[i].path, O_PATH | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;   /* nothing there to grant */
			int e = errno;
			close((int)ruleset);
			return e;
		}
		struct sb_ll_path_beneath_attr rule = {
			plan->ll_rules[i].access, fd
		};
		long rc = syscall(__NR_landlock_add_rule, (int)ruleset,
		                  LL_RULE_PATH_BENEATH, &rule, 0);
		int e = errno;
		close(fd);
		if (rc < 0) {
			close((int)ruleset);
			return e;
		}
	}
	long rc = syscall(__NR_landlock_restrict_self, (int)ruleset, 0);
	int e = errno;
	close((int)ruleset);
	return rc < 0 ? e : 0;
}
