// The few Linux declarations Swift's Glibc module lacks (sys/epoll.h, sys/eventfd.h, accept4), wrapped so that
// Swift never touches `struct epoll_event` (packed on x86_64, which Swift cannot import faithfully).
#ifndef CHORUS_CEPOLL_H
#define CHORUS_CEPOLL_H

#include <stdint.h>

#ifdef __linux__

/// epoll_create1(EPOLL_CLOEXEC); -1 and errno on failure.
int chorus_epoll_create(void);
/// epoll_ctl(EPOLL_CTL_ADD): watches `fd` for `events`, reported with `data`. 0, or -1 and errno.
int chorus_epoll_add(int epfd, int fd, uint32_t events, uint64_t data);
/// epoll_ctl(EPOLL_CTL_MOD): changes the `events` and `data` of a watched `fd`. 0, or -1 and errno.
int chorus_epoll_modify(int epfd, int fd, uint32_t events, uint64_t data);
/// epoll_ctl(EPOLL_CTL_DEL): stops watching `fd`. 0, or -1 and errno.
int chorus_epoll_delete(int epfd, int fd);
/// Waits up to `timeout_ms` (-1: forever) for at most `max` events; writes each event's data and flags to
/// the two arrays. Returns the count, or -1 and errno (EINTR included).
int chorus_epoll_wait(int epfd, uint64_t *data, uint32_t *events, int max, int timeout_ms);
/// eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC).
int chorus_eventfd(void);
/// accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC).
int chorus_accept(int fd);
/// send(fd, buf, len, MSG_NOSIGNAL): a peer that went away gives EPIPE, never SIGPIPE.
long chorus_send(int fd, const void *buf, unsigned long len);
/// sendmsg(fd, {bases[i], lengths[i]} for the first min(count, CHORUS_SENDV_MAX) buffers, MSG_NOSIGNAL): one
/// system call for several frames. The byte count, or -1 and errno.
long chorus_sendv(int fd, const void *const *bases, const unsigned long *lengths, int count);

#define CHORUS_SENDV_MAX 64

/// mallopt(M_MMAP_THRESHOLD, bytes): glibc serves allocations of at least `bytes` with mmap (given back to the
/// system when freed). 1 on success, 0 on failure.
int chorus_set_mmap_threshold(int bytes);

static const uint32_t CHORUS_EPOLLIN = 0x001;
static const uint32_t CHORUS_EPOLLOUT = 0x004;
static const uint32_t CHORUS_EPOLLERR = 0x008;
static const uint32_t CHORUS_EPOLLHUP = 0x010;
static const uint32_t CHORUS_EPOLLRDHUP = 0x2000;

#endif
#endif
