#ifdef __linux__
#define _GNU_SOURCE
#include <malloc.h>
#include "CEpoll.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <stddef.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <unistd.h>

int chorus_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int chorus_epoll_add(int epfd, int fd, uint32_t events, uint64_t data) {
    struct epoll_event event = {.events = events, .data = {.u64 = data}};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event);
}

int chorus_epoll_modify(int epfd, int fd, uint32_t events, uint64_t data) {
    struct epoll_event event = {.events = events, .data = {.u64 = data}};
    return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &event);
}

// Linux before 2.6.9 wanted a non-null event even for EPOLL_CTL_DEL; one costs nothing.
int chorus_epoll_delete(int epfd, int fd) {
    struct epoll_event event = {0};
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &event);
}

int chorus_epoll_wait(int epfd, uint64_t *data, uint32_t *events, int max, int timeout_ms) {
    struct epoll_event ready[256];
    if (max > 256) max = 256;
    int count = epoll_wait(epfd, ready, max, timeout_ms);
    for (int i = 0; i < count; i++) {
        data[i] = ready[i].data.u64;
        events[i] = ready[i].events;
    }
    return count;
}

int chorus_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int chorus_accept(int fd) { return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); }

// The writes go through syscall(2), not send(2)/sendmsg(2): those are thread cancellation points, which glibc
// brackets with two calls that toggle asynchronous cancellation, ~10% of the loop's user time per delivery
// (perf, 1,000 x 100/s). The server never cancels a thread; the result and errno are the same.
long chorus_send(int fd, const void *buf, unsigned long len) {
    return syscall(SYS_sendto, fd, buf, len, MSG_NOSIGNAL, NULL, 0);
}

long chorus_sendv(int fd, const void *const *bases, const unsigned long *lengths, int count) {
    struct iovec vectors[CHORUS_SENDV_MAX];
    if (count > CHORUS_SENDV_MAX) count = CHORUS_SENDV_MAX;
    for (int i = 0; i < count; i++) {
        vectors[i].iov_base = (void *)bases[i];
        vectors[i].iov_len = lengths[i];
    }
    struct msghdr message = {.msg_iov = vectors, .msg_iovlen = (size_t)count};
    return syscall(SYS_sendmsg, fd, &message, MSG_NOSIGNAL);
}

int chorus_set_mmap_threshold(int bytes) { return mallopt(M_MMAP_THRESHOLD, bytes); }
#endif
