/*
 * The sandbox's seccomp filter, a classic BPF program built by hand in the
 * parent (the child only installs it). It is the last thing the child does
 * before execve, so it only has to allow execve and what follows.
 *
 * Policy: a syscall from another architecture (i386 through int 0x80,
 * arm32 compat) kills the process; x32 syscalls fail with EPERM; the
 * syscalls below fail with EPERM; clone with a namespace flag fails with
 * EPERM and clone3 with ENOSYS (its flags sit in memory the filter cannot
 * read, and libc falls back to clone on ENOSYS); personality() may only
 * query or set the default; ioctl TIOCSTI/TIOCLINUX (pushing input into a
 * terminal) fail with EPERM; everything else is allowed. Socket families
 * are not filtered in the sandbox: without the network grant it has its
 * own empty network namespace, and glibc needs netlink for getaddrinfo.
 * On the unsandboxed path without the grant, socket(AF_INET/AF_INET6)
 * fails with EPERM (there is no network namespace to rely on).
 */
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "sandbox_int.h"

#if defined(__x86_64__)
#  define SB_AUDIT_ARCH AUDIT_ARCH_X86_64
#  define SB_X32_BIT 0x40000000u
#elif defined(__aarch64__)
#  define SB_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#define SB_CLONE_NS_FLAGS (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | \
	CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME)

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#  define SB_ARG_LO(n) (offsetof(struct seccomp_data, args) + 8u * (n))
#else
#  define SB_ARG_LO(n) (offsetof(struct seccomp_data, args) + 8u * (n) + 4u)
#endif

#ifdef SB_AUDIT_ARCH

/* Syscalls refused with EPERM (those the headers know). */
static const int denied_syscalls[] = {
#ifdef __NR_ptrace
	__NR_ptrace,
#endif
#ifdef __NR_mount
	__NR_mount,
#endif
#ifdef __NR_umount2
	__NR_umount2,
#endif
#ifdef __NR_umount
	__NR_umount,
#endif
#ifdef __NR_pivot_root
	__NR_pivot_root,
#endif
#ifdef __NR_chroot
	__NR_chroot,
#endif
#ifdef __NR_kexec_load
	__NR_kexec_load,
#endif
#ifdef __NR_kexec_file_load
	__NR_kexec_file_load,
#endif
#ifdef __NR_bpf
	__NR_bpf,
#endif
#ifdef __NR_keyctl
	__NR_keyctl,
#endif
#ifdef __NR_add_key
	__NR_add_key,
#endif
#ifdef __NR_request_key
	__NR_request_key,
#endif
#ifdef __NR_init_module
	__NR_init_module,
#endif
#ifdef __NR_finit_module
	__NR_finit_module,
#endif
#ifdef __NR_delete_module
	__NR_delete_module,
#endif
#ifdef __NR_create_module
	__NR_create_module,
#endif
#ifdef __NR_reboot
	__NR_reboot,
#endif
#ifdef __NR_swapon
	__NR_swapon,
#endif
#ifdef __NR_swapoff
	__NR_swapoff,
#endif
#ifdef __NR_unshare
	__NR_unshare,
#endif
#ifdef __NR_setns
	__NR_setns,
#endif
#ifdef __NR_perf_event_open
	__NR_perf_event_open,
#endif
#ifdef __NR_userfaultfd
	__NR_userfaultfd,
#endif
#ifdef __NR_open_by_handle_at
	__NR_open_by_handle_at,
#endif
#ifdef __NR_name_to_handle_at
	__NR_name_to_handle_at,
#endif
#ifdef __NR_acct
	__NR_acct,
#endif
#ifdef __NR_quotactl
	__NR_quotactl,
#endif
#ifdef __NR_quotactl_fd
	__NR_quotactl_fd,
#endif
#ifdef __NR_syslog
	__NR_syslog,
#endif
#ifdef __NR_iopl
	__NR_iopl,
#endif
#ifdef __NR_ioperm
	__NR_ioperm,
#endif
#ifdef __NR_process_vm_readv
	__NR_process_vm_readv,
#endif
#ifdef __NR_process_vm_writev
	__NR_process_vm_writev,
#endif
#ifdef __NR_process_madvise
	__NR_process_madvise,
#endif
#ifdef __NR_pidfd_getfd
	__NR_pidfd_getfd,
#endif
#ifdef __NR_io_uring_setup
	__NR_io_uring_setup,
#endif
#ifdef __NR_io_uring_enter
	__NR_io_uring_enter,
#endif
#ifdef __NR_io_uring_register
	__NR_io_uring_register,
#endif
#ifdef __NR_fsopen
	__NR_fsopen,
#endif
#ifdef __NR_fsconfig
	__NR_fsconfig,
#endif
#ifdef __NR_fsmount
	__NR_fsmount,
#endif
#ifdef __NR_move_mount
	__NR_move_mount,
#endif
#ifdef __NR_open_tree
	__NR_open_tree,
#endif
#ifdef __NR_fspick
	__NR_fspick,
#endif
#ifdef __NR_mount_setattr
	__NR_mount_setattr,
#endif
	/* open_tree_attr (6.15), not in older headers */
#if defined(__x86_64__) || defined(__aarch64__)
	467,
#endif
#ifdef __NR_lookup_dcookie
	__NR_lookup_dcookie,
#endif
#ifdef __NR_uselib
	__NR_uselib,
#endif
#ifdef __NR_nfsservctl
	__NR_nfsservctl,
#endif
#ifdef __NR_migrate_pages
	__NR_migrate_pages,
#endif
#ifdef __NR_move_pages
	__NR_move_pages,
#endif
};

/* A tiny assembler: forward jumps to labels, patched at the end. */
enum { L_ALLOW, L_EPERM, L_ENOSYS, L_KILL, L_CLONE, L_PERSONALITY,
       L_IOCTL, L_SOCKET, L_COUNT };

typedef struct bpf_fixup {
	unsigned short pc;
	int label;
	int is_true_branch;
} bpf_fixup;

typedef struct bpf_asm {
	struct sock_filter *prog;
	unsigned short len;
	int label_pc[L_COUNT];
	bpf_fixup fix[2 * SB_MAX_BPF];
	unsigned short fix_count;
} bpf_asm;

static void emit(bpf_asm *a, unsigned short code, unsigned int k)
{
	if (a->len < SB_MAX_BPF)
		a->prog[a->len] = (struct sock_filter)BPF_STMT(code, k);
	a->len++;
}

static void fixup(bpf_asm *a, int label, int is_true_branch)
{
	if (a->len < SB_MAX_BPF && a->fix_count < 2 * SB_MAX_BPF)
		a->fix[a->fix_count++] = (bpf_fixup){ a->len, label, is_true_branch };
}

/* Conditional jump: to label jt when true, to jf when false (-1: next). */
static void emit_jump(bpf_asm *a, unsigned short code, unsigned int k,
                      int jt, int jf)
{
	if (a->len < SB_MAX_BPF)
		a->prog[a->len] = (struct sock_filter)BPF_JUMP(code, k, 0, 0);
	if (jt >= 0)
		fixup(a, jt, 1);
	if (jf >= 0)
		fixup(a, jf, 0);
	a->len++;
}

static void label(bpf_asm *a, int l)
{
	a->label_pc[l] = a->len;
}

/* The syscall numbers by action, as intervals: [first, the next
 * interval's first) goes to label. */
typedef struct nr_interval {
	unsigned int first;
	int label;
} nr_interval;

#define SB_DENIED_COUNT (sizeof denied_syscalls / sizeof denied_syscalls[0])
#define SB_SPECIAL_COUNT 5   /* clone3, clone, personality, ioctl, socket */
#define SB_MAX_INTERVALS (2 * (SB_DENIED_COUNT + SB_SPECIAL_COUNT) + 1)

static void add_interval(nr_interval *iv, size_t *count, unsigned int first,
                         int label)
{
	if (*count == 0 || iv[*count - 1].label != label)   /* else: merged */
		iv[(*count)++] = (nr_interval){ first, label };
}

static size_t make_intervals(nr_interval *iv, int deny_inet)
{
	/* Every number that is not simply allowed, with its label. */
	struct { unsigned int nr; int label; } pts[SB_DENIED_COUNT + SB_SPECIAL_COUNT];
	size_t n = 0;
	for (size_t i = 0; i < SB_DENIED_COUNT; i++) {
		pts[n].nr = (unsigned int)denied_syscalls[i];
		pts[n++].label = L_EPERM;
	}
#ifdef __NR_clone3
	pts[n].nr = __NR_clone3;
	pts[n++].label = L_ENOSYS;
#endif
	pts[n].nr = __NR_clone;
	pts[n++].label = L_CLONE;
	pts[n].nr = __NR_personality;
	pts[n++].label = L_PERSONALITY;
	pts[n].nr = __NR_ioctl;
	pts[n++].label = L_IOCTL;
	if (deny_inet) {
		pts[n].nr = __NR_socket;
		pts[n++].label = L_SOCKET;
	}
	for (size_t i = 1; i < n; i++) {   /* insertion sort by number */
		for (size_t j = i; j > 0 && pts[j - 1].nr > pts[j].nr; j--) {
			unsigned int nr = pts[j].nr;
			int l = pts[j].label;
			pts[j] = pts[j - 1];
			pts[j - 1].nr = nr;
			pts[j - 1].label = l;
		}
	}
	/* Cover every number; neighbours with the same label merge, so a run
	 * of denied numbers is one interval. */
	size_t count = 0;
	unsigned int next = 0;   /* the first number not covered yet */
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && pts[i].nr == pts[i - 1].nr)
			continue;   /* listed twice */
		if (pts[i].nr > next)
			add_interval(iv, &count, next, L_ALLOW);
		add_interval(iv, &count, pts[i].nr, pts[i].label);
		next = pts[i].nr + 1;
	}
	add_interval(iv, &count, next, L_ALLOW);
	return count;
}

/* A balanced binary search over the intervals [lo, hi]: one JGE per
 * inner node, leaves are jumps straight to the action's label. */
static void emit_tree(bpf_asm *a, const nr_interval *iv, size_t lo, size_t hi,
                      int *leaf_label)
{
	if (lo == hi) {
		*leaf_label = iv[lo].label;
		return;
	}
	size_t mid = lo + (hi - lo + 1) / 2;   /* right half starts here */
	unsigned short node = a->len;
	emit(a, BPF_JMP | BPF_JGE | BPF_K, iv[mid].first);
	int left = -1, right = -1;
	emit_tree(a, iv, lo, mid - 1, &left);
	if (left >= 0 && node < SB_MAX_BPF && a->fix_count < 2 * SB_MAX_BPF)
		a->fix[a->fix_count++] = (bpf_fixup){ node, left, 0 };
	unsigned short right_pc = a->len;
	emit_tree(a, iv, mid, hi, &right);
	if (node < SB_MAX_BPF) {
		if (right >= 0) {
			if (a->fix_count < 2 * SB_MAX_BPF)
				a->fix[a->fix_count++] = (bpf_fixup){ node, right, 1 };
		} else {
			a->prog[node].jt = (unsigned char)(right_pc - node - 1);
			if (right_pc - node - 1 > 255)
				a->len = SB_MAX_BPF + 1;   /* cannot happen: refuse */
		}
	}
	*leaf_label = -1;
}

unsigned short sandbox_seccomp_build(struct sock_filter *out, int deny_inet)
{
	bpf_asm a = { .prog = out };

	emit(&a, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	emit_jump(&a, BPF_JMP | BPF_JEQ | BPF_K, SB_AUDIT_ARCH, -1, L_KILL);
	emit(&a, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#ifdef SB_X32_BIT
	emit_jump(&a, BPF_JMP | BPF_JGE | BPF_K, SB_X32_BIT, L_EPERM, -1);
#endif
	/* Installing a filter costs in proportion to its length (the kernel
	 * converts and JITs it) and, more, to the length of its paths: it
	 * runs the filter over every syscall number to find those it always
	 * allows (which then skip it). So the number is looked up with a
	 * binary search over the intervals of equal action (runs of denied
	 * numbers are one interval): about 7 comparisons on any path instead
	 * of one or two per denied run. */
	nr_interval iv[SB_MAX_INTERVALS];
	size_t count = make_intervals(iv, deny_inet);
	int root = -1;
	emit_tree(&a, iv, 0, count - 1, &root);
	if (root >= 0)   /* a single interval (not with this list) */
		emit_jump(&a, BPF_JMP | BPF_JEQ | BPF_K, 0, root, root);

	/* socket(domain, ...) without the network grant and without a network
	 * namespace (the unsandboxed path): no IPv4/IPv6 sockets. */
	label(&a, L_SOCKET);
	if (deny_inet) {
		emit(&a, BPF_LD | BPF_W | BPF_ABS, SB_ARG_LO(0));
		emit_jump(&a, BPF_JMP | BPF_JEQ | BPF_K, AF_INET, L_EPERM, -1);
		emit_jump(&a, BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, L_EPERM, L_ALLOW);
	}

	/* clone(flags, ...): refuse new namespaces. */
	label(&a, L_CLONE);
	emit(&a, BPF_LD | BPF_W | BPF_ABS, SB_ARG_LO(0));
	emit_jump(&a, BPF_JMP | BPF_JSET | BPF_K, SB_CLONE_NS_FLAGS, L_EPERM, L_ALLOW);

	/* personality(persona): 0 (PER_LINUX) and 0xffffffff (query) only. */
	label(&a, L_PERSONALITY);
	emit(&a, BPF_LD | BPF_W | BPF_ABS, SB_ARG_LO(0));
	emit_jump(&a, BPF_JMP | BPF_JEQ | BPF_K, 0, L_ALLOW, -1);
	emit_jump(&a, BPF_JMP | BPF_JEQ | BPF_K, 0xffffffffu, L_ALLOW, L_EPERM);

	/* ioctl(fd, request): no pushing bytes into a terminal's input. */
	label(&a, L_IOCTL);
	emit(&a, BPF_LD | BPF_W | BPF_ABS, SB_ARG_LO(1));
	emit_jump(&a, BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, L_EPERM, -1);
	emit_jump(&a, BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX, L_EPERM, L_ALLOW);

	label(&a, L_ALLOW);
	emit(&a, BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	label(&a, L_EPERM);
	emit(&a, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
	label(&a, L_ENOSYS);
	emit(&a, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
	label(&a, L_KILL);
	emit(&a, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);

	if (a.len > SB_MAX_BPF)
		return 0;
	for (unsigned short i = 0; i < a.fix_count; i++) {
		int off = a.label_pc[a.fix[i].label] - (a.fix[i].pc + 1);
		if (off < 0 || off > 255)
			return 0;   /* cannot happen with this layout */
		if (a.fix[i].is_true_branch)
			out[a.fix[i].pc].jt = (unsigned char)off;
		else
			out[a.fix[i].pc].jf = (unsigned char)off;
	}
	return a.len;
}

#else /* no filter for this architecture */

unsigned short sandbox_seccomp_build(struct sock_filter *out, int deny_inet)
{
	(void)out;
	(void)deny_inet;
	return 0;
}

#endif
