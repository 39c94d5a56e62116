#ifndef CBENCHSHIMS_H
#define CBENCHSHIMS_H
#include <stdint.h>

/* epoll through plain ints: Swift's Glibc module does not export <sys/epoll.h>, and the packed
   struct epoll_event is awkward to use from Swift. */
int bench_epoll_create(void);
/* read/write: what to wait for. op: 0 add, 1 modify, 2 delete. */
int bench_epoll_ctl(int epfd, int op, int fd, int read, int write);
/* Fills fds[i] and flags[i] (bit 0 readable or hung up, bit 1 writable or error); returns the count. */
int bench_epoll_wait(int epfd, int32_t *fds, uint32_t *flags, int max, int timeout_ms);
/* accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC (needs _GNU_SOURCE). */
int bench_accept_nonblock(int listen_fd);
#endif
