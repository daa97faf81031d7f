/* mini_libc.c - the few libc services the tracer needs, without malloc, stdio or errno */
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "tracer.h"

/*
 * Raw system calls: they never touch errno, so a hook can make them between
 * the real call and its return without changing what the program sees.
 */
long mgt_sys(long nr, long a, long b, long c, long d, long e, long f)
{
#if defined(__x86_64__)
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
#else
#error "memgate's tracer supports x86_64 and aarch64"
#endif
}

int mgt_getpid(void) { return (int)mgt_sys(SYS_getpid, 0, 0, 0, 0, 0, 0); }

/*
 * Every mapping the tracer makes is registered, so the leak check at exit can
 * leave them out of the roots: the pointer map alone holds a pointer to every
 * live block.
 */
#define MAX_REGIONS 8192          /* the shadow makes one per 8 MiB of heap */
static struct mgt_region regions[MAX_REGIONS];
static unsigned n_regions;
static int regions_overflow;
static mgt_lock_t region_lock;

void mgt_region_note(void *addr, size_t len)
{
	mgt_lock(&region_lock);
	if (n_regions < MAX_REGIONS)
		regions[n_regions++] = (struct mgt_region){ (uint64_t)addr, (uint64_t)len };
	else
		regions_overflow = 1;
	mgt_unlock(&region_lock);
}

void *mgt_mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
	long r = mgt_sys(SYS_mmap, (long)addr, (long)len, prot, flags, fd, off);
	if (r < 0 && r > -4096)
		return (void *)-1;
	mgt_region_note((void *)r, len);
	return (void *)r;
}

void mgt_munmap(void *addr, size_t len)
{
	mgt_sys(SYS_munmap, (long)addr, (long)len, 0, 0, 0, 0);
	mgt_lock(&region_lock);
	for (unsigned i = 0; i < n_regions; i++)
		if (regions[i].addr == (uint64_t)addr) {
			regions[i] = regions[--n_regions];
			break;
		}
	mgt_unlock(&region_lock);
}

int mgt_own_region(uint64_t lo, uint64_t hi, struct mgt_region *first)
{
	int own = 0;
	mgt_lock(&region_lock);
	for (unsigned i = 0; i < n_regions; i++) {
		const struct mgt_region *r = &regions[i];
		if (!(lo < r->addr + r->len && r->addr < hi))
			continue;
		if (!own || r->addr < first->addr)
			*first = *r;
		own = 1;
	}
	mgt_unlock(&region_lock);
	return own;
}

int mgt_regions_complete(void)
{
	return !regions_overflow;
}

void mgt_regions_fork_child(void)
{
	atomic_store(&region_lock.v, 0);
}
void mgt_madvise(void *addr, size_t len, int advice)
{
	mgt_sys(SYS_madvise, (long)addr, (long)len, advice, 0, 0, 0);
}
int mgt_gettid(void) { return (int)mgt_sys(SYS_gettid, 0, 0, 0, 0, 0, 0); }

/* clock_gettime goes through the vDSO and does not set errno on success */
uint64_t mgt_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t mgt_realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

size_t mgt_strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

size_t mgt_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = mgt_strlen(src);
	if (size) {
		size_t c = n < size - 1 ? n : size - 1;
		mgt_memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

int mgt_strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

char *mgt_utoa(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	*p = '\0';
	return p;
}

uint64_t mgt_atou(const char *s)
{
	uint64_t v = 0;
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	return v;
}

long mgt_read_file(const char *path, char *buf, size_t size)
{
	long fd = mgt_sys(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0, 0, 0);
	size_t got = 0;
	if (fd < 0 || size == 0)
		return -1;
	while (got < size - 1) {
		long n = mgt_sys(SYS_read, fd, (long)(buf + got), (long)(size - 1 - got), 0, 0, 0);
		if (n == -4 /* EINTR */)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	mgt_sys(SYS_close, fd, 0, 0, 0, 0, 0);
	buf[got] = '\0';
	return (long)got;
}

int mgt_elf_untraceable(const char *path)
{
	/* the ELF header, then the program headers, read with raw syscalls */
	unsigned char eh[64], ph[56];
	const char *s = path;
	while (*s && *s != '/')
		s++;
	if (!*s)
		return 0;                     /* a name PATH resolves: not judged here */
	long fd = mgt_sys(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0, 0, 0);
	int res = 0;
	if (fd < 0)
		return 0;
	if (mgt_sys(SYS_pread64, fd, (long)eh, sizeof(eh), 0, 0, 0) != (long)sizeof(eh) ||
	    eh[0] != 0x7f || eh[1] != 'E' || eh[2] != 'L' || eh[3] != 'F')
		goto out;                     /* not ELF (a script: its interpreter is judged) */
	if (eh[4] != 2 /* ELFCLASS64 */) {
		res = 1;
		goto out;
	}
	uint64_t phoff;
	uint16_t phentsize, phnum;
	mgt_memcpy(&phoff, eh + 32, sizeof(phoff));
	mgt_memcpy(&phentsize, eh + 54, sizeof(phentsize));
	mgt_memcpy(&phnum, eh + 56, sizeof(phnum));
	res = 1;                              /* static until a PT_INTERP shows */
	for (unsigned i = 0; i < phnum && i < 256; i++) {
		uint32_t type;
		if (mgt_sys(SYS_pread64, fd, (long)ph, sizeof(ph),
			    (long)(phoff + (uint64_t)i * phentsize), 0, 0) != (long)sizeof(ph)) {
			res = 0;                      /* unreadable: the kernel will judge */
			break;
		}
		mgt_memcpy(&type, ph, sizeof(type));
		if (type == 3 /* PT_INTERP */) {
			res = 0;
			break;
		}
	}
out:
	mgt_sys(SYS_close, fd, 0, 0, 0, 0, 0);
	return res;
}

/*
 * The mapping that holds addr, from /proc/self/maps read with raw syscalls
 * through a small buffer on the caller's stack: no malloc, no stdio, no lock
 * of libc's or the program's, so it is safe in a hook (LIBC.md).
 * The lines are parsed as they stream in (a line may span two reads) and
 * come sorted by address, so the scan stops at the first line past addr.
 * Returns 0 with [*lo, *hi) when a readable mapping holds addr, else -1.
 */
static unsigned hex_digit(char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 32) - 'a' + 10);
}

int mgt_mapping_of(uintptr_t addr, uintptr_t *lo, uintptr_t *hi)
{
	char buf[512];
	uintptr_t a = 0, b = 0;
	int field = 0;                        /* 0 start, 1 end, 2 permissions, 3 the rest */
	int ret = -1;
	long fd = mgt_sys(SYS_openat, AT_FDCWD, (long)"/proc/self/maps", O_RDONLY | O_CLOEXEC,
			  0, 0, 0);
	if (fd < 0)
		return -1;
	for (;;) {
		long n = mgt_sys(SYS_read, fd, (long)buf, sizeof(buf), 0, 0, 0);
		if (n == -4 /* EINTR */)
			continue;
		if (n <= 0)
			break;
		for (long i = 0; i < n; i++) {
			char c = buf[i];
			if (c == '\n') {
				field = 0;
				a = b = 0;
			} else if (field == 0) {
				if (c == '-')
					field = 1;
				else
					a = a << 4 | hex_digit(c);
			} else if (field == 1) {
				if (c == ' ')
					field = 2;
				else
					b = b << 4 | hex_digit(c);
			} else if (field == 2) {
				field = 3;
				if (addr >= a && addr < b) {
					if (c == 'r') {
						*lo = a;
						*hi = b;
						ret = 0;
					}
					goto out;
				}
				if (a > addr)
					goto out;     /* sorted: no mapping holds addr */
			}
		}
	}
out:
	mgt_sys(SYS_close, fd, 0, 0, 0, 0, 0);
	return ret;
}

/*
 * Byte loops the compiler must not turn back into memcpy/memset calls: those
 * would be fine today, but keep the tracer's dependencies explicit.
 */
__attribute__((optimize("no-tree-loop-distribute-patterns")))
void mgt_memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	while (n--)
		*d++ = *s++;
}

__attribute__((optimize("no-tree-loop-distribute-patterns")))
void mgt_memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	while (n--)
		*d++ = (unsigned char)c;
}

void mgt_lock_slow(mgt_lock_t *l)
{
	unsigned spins = 0;
	for (;;) {
		while (atomic_load_explicit(&l->v, memory_order_relaxed)) {
			if (++spins < 1000) {
#if defined(__x86_64__)
				__builtin_ia32_pause();
#elif defined(__aarch64__)
				__asm__ volatile("yield");
#endif
			} else {
				/* the holder may be descheduled: give it the CPU */
				mgt_sys(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
			}
		}
		if (!atomic_exchange_explicit(&l->v, 1, memory_order_acquire))
			return;
	}
}
