#ifndef CPROXYSHIMS_H
#define CPROXYSHIMS_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC: Glibc only declares accept4 under _GNU_SOURCE,
/// which Swift's Glibc module does not define.
int CProxyShims_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length);

/// socket() with SOCK_NONBLOCK | SOCK_CLOEXEC, so no fd leaks into children and no extra fcntl.
int CProxyShims_socket_nonblocking(int domain, int type, int protocol);

/// mallopt(M_ARENA_MAX, n): <malloc.h> is not in Swift's Glibc module. Returns mallopt's result (1 = ok).
int CProxyShims_set_malloc_arena_max(int n);

/// SOCK_STREAM as a plain int (Glibc declares it as an enum constant Swift imports inconsistently).
static const int CProxyShims_SOCK_STREAM = SOCK_STREAM;

/// read, write and writev of the relay's sockets, without the C library's cancellation-point
/// wrappers: glibc brackets every such call with two calls that switch asynchronous thread
/// cancellation on and off (about 60 instructions per syscall), and no thread of the proxy is
/// ever cancelled. Return the syscall's result, -1 with errno set on failure.
long CProxyShims_read(int fd, void *buffer, size_t count);
long CProxyShims_write(int fd, const void *buffer, size_t count);
long CProxyShims_writev(int fd, const struct iovec *iov, int count);

/// epoll for the per-loop socket poller (Glibc's module does not export <sys/epoll.h>).
/// Level-triggered EPOLLIN; `token` comes back from CProxyShims_epoll_wait.
int CProxyShims_epoll_create(void);
int CProxyShims_epoll_add_readable(int epfd, int fd, unsigned long long token);
int CProxyShims_epoll_remove(int epfd, int fd);
/// epoll_wait without blocking (not a cancellation point either, like the calls above); fills `tokens` with up to `max` ready tokens, returns the count.
int CProxyShims_epoll_poll(int epfd, unsigned long long *tokens, int max);

/// The git commit the binary was built from (scripts/build-release), or "unknown".
const char *CProxyShims_build_commit(void);

/// OpenSSL macro shims (struct tags only; no OpenSSL headers).
#include "CProxyShimsTLS.h"

#endif
