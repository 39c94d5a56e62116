#define _GNU_SOURCE
#include "CProxyShims.h"
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

int CProxyShims_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length) {
    return accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int CProxyShims_socket_nonblocking(int domain, int type, int protocol) {
    return socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
}

int CProxyShims_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

int CProxyShims_epoll_add_readable(int epfd, int fd, unsigned long long token) {
    struct epoll_event ev = { .events = EPOLLIN, .data = { .u64 = token } };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

int CProxyShims_epoll_remove(int epfd, int fd) {
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
}

int CProxyShims_epoll_poll(int epfd, unsigned long long *tokens, int max) {
    struct epoll_event events[64];
    if (max > 64) max = 64;
    int n;
    do {
        n = (int)syscall(SYS_epoll_pwait, epfd, events, max, 0, NULL, (size_t)(_NSIG / 8));
    } while (n < 0 && errno == EINTR);
    for (int i = 0; i < n; i++) tokens[i] = events[i].data.u64;
    return n;
}

long CProxyShims_read(int fd, void *buffer, size_t count) {
    return syscall(SYS_read, fd, buffer, count);
}

long CProxyShims_write(int fd, const void *buffer, size_t count) {
    return syscall(SYS_write, fd, buffer, count);
}

long CProxyShims_writev(int fd, const struct iovec *iov, int count) {
    return syscall(SYS_writev, fd, iov, count);
}

int CProxyShims_set_malloc_arena_max(int n) {
#ifdef M_ARENA_MAX
    return mallopt(M_ARENA_MAX, n);
#else
    (void)n;
    return 0;
#endif
}
