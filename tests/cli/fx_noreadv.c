/* fx_noreadv.c - run a command where process_vm_readv fails with EPERM
 *
 * usage: fx_noreadv [--no-pread] PROGRAM [ARG...]
 * Installs the seccomp filter Docker's default profile amounts to for the
 * leak check (process_vm_readv refused), then execs PROGRAM: the tracer must
 * still classify leaks, through /proc/self/mem.  --no-pread refuses pread64
 * too, at offsets of 4 GiB and more (the loader's reads stay allowed): then
 * nothing can be read, and the profile must say so.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_readv, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pread64, 0, 3),      /* [5] */
		/* pread64 at an offset of 4 GiB or more: /proc/self/mem, never the loader */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[3]) + 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	int no_pread = argc > 1 && !strcmp(argv[1], "--no-pread");
	argv += no_pread;
	argc -= no_pread;
	if (argc < 2) {
		fprintf(stderr, "usage: fx_noreadv [--no-pread] PROGRAM [ARG...]\n");
		return 2;
	}
	if (!no_pread)                        /* pread64 stays allowed */
		f[5].k = (uint32_t)-1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
		perror("fx_noreadv: seccomp");
		return 2;
	}
	execv(argv[1], argv + 1);
	perror("fx_noreadv: exec");
	return 127;
}
