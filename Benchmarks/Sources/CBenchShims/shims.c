#define _GNU_SOURCE
#include <sys/socket.h>
#include "CBenchShims.h"
#include <sys/epoll.h>
#include <errno.h>

int bench_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int bench_epoll_ctl(int epfd, int op, int fd, int read, int write) {
    struct epoll_event ev = {0};
    if (read) ev.events |= EPOLLIN | EPOLLRDHUP;
    if (write) ev.events |= EPOLLOUT;
    ev.data.fd = fd;
    int o = op == 0 ? EPOLL_CTL_ADD : op == 1 ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
    return epoll_ctl(epfd, o, fd, &ev);
}

int bench_epoll_wait(int epfd, int32_t *fds, uint32_t *flags, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    if (n < 0) return 0;
    for (int i = 0; i < n; i++) {
        uint32_t e = evs[i].events, f = 0;
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) f |= 1;
        if (e & (EPOLLOUT | EPOLLERR)) f |= 2;
        fds[i] = evs[i].data.fd;
        flags[i] = f;
    }
    return n;
}

int bench_accept_nonblock(int listen_fd) { return accept4(listen_fd, 0, 0, SOCK_NONBLOCK | SOCK_CLOEXEC); }
