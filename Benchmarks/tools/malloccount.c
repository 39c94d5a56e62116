/* malloccount: an LD_PRELOAD shim that counts heap allocations of a process, so the benchmark can
 * report allocations per request of the proxy without slowing it down the way valgrind or ltrace
 * would (one relaxed atomic add per call).
 *
 * The counters live in a small file mapped shared (MALLOCCOUNT_FILE), so the runner reads them
 * from outside at any time: uint64 [0] allocations (malloc, calloc, realloc, memalign family),
 * [1] frees, [2] bytes requested.
 *
 * Build: cc -O2 -shared -fPIC -o malloccount.so malloccount.c
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static uint64_t early[3];
static uint64_t *counters = early;

__attribute__((constructor)) static void mc_init(void) {
    const char *path = getenv("MALLOCCOUNT_FILE");
    if (!path) return;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    if (ftruncate(fd, 4096) != 0) { close(fd); return; }
    void *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return;
    uint64_t *c = p;
    c[0] = early[0]; c[1] = early[1]; c[2] = early[2];
    __atomic_store_n(&counters, c, __ATOMIC_RELEASE);
}

static inline void count_alloc(size_t n) {
    uint64_t *c = __atomic_load_n(&counters, __ATOMIC_RELAXED);
    __atomic_fetch_add(&c[0], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&c[2], n, __ATOMIC_RELAXED);
}

void *malloc(size_t n) { count_alloc(n); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { count_alloc(a * b); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { count_alloc(n); return __libc_realloc(p, n); }
void free(void *p) {
    if (p) __atomic_fetch_add(&__atomic_load_n(&counters, __ATOMIC_RELAXED)[1], 1, __ATOMIC_RELAXED);
    __libc_free(p);
}
void *memalign(size_t al, size_t n) { count_alloc(n); return __libc_memalign(al, n); }
void *aligned_alloc(size_t al, size_t n) { count_alloc(n); return __libc_memalign(al, n); }
int posix_memalign(void **out, size_t al, size_t n) {
    count_alloc(n);
    void *p = __libc_memalign(al, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
