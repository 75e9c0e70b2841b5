/*
 * reference-server.c: a minimal single-threaded epoll WebSocket broadcast server.
 *
 * A measurement tool, not a product. It speaks just enough of Chorus's HTTP surface (GET /ws/<channel>,
 * POST /publish/<channel>, /metrics, /healthz, /readyz) for chorus-bench to drive it, so the CPU per delivery
 * and the memory per idle connection of Chorus can be compared with a floor measured in the same sitting.
 * Deliberately left out: channels (every subscriber gets every publish), write queues (a subscriber whose
 * socket buffer is full loses the message), TLS, compression, auth, most of HTTP and RFC 6455.
 *
 * Usage: reference-server PORT   (listens on 127.0.0.1:PORT)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* The largest request (head plus body) or client frame held while incomplete; it fits the uint16_t below. */
enum { MAX_REQUEST = 65535, MAX_HEAD = 8192, MAX_CHANNEL = 64 };
enum { FREE = 0, HTTP, WEBSOCKET };

/* One per descriptor, indexed by fd: 16 bytes, plus 4 in subs[] for a subscriber. An idle connection owns no
 * heap memory; `pending` exists only while a request head, a body or a client frame has arrived in part. */
struct conn {
    char *pending;   /* the incomplete bytes, malloc'd; NULL in the usual case */
    uint32_t sub;    /* index in subs[] while state == WEBSOCKET */
    uint16_t len;    /* bytes in pending */
    uint8_t state;   /* FREE, HTTP or WEBSOCKET */
};

static struct conn *conns;     /* maxfd entries */
static int *subs;              /* the subscribers' descriptors, in no order; swap-removed */
static uint32_t nsubs;
static int maxfd;
static char rbuf[MAX_REQUEST];               /* every read lands here (pending bytes are copied in front) */
static unsigned char frame[MAX_REQUEST + 10]; /* the one frame of the publish being fanned out */
static long baseline_rss;                     /* resident bytes when listening began, for the per-connection gauge */
static struct { unsigned long long deliveries, frames, drops, disconnects; } stats;

/* ---- SHA-1 (FIPS 180-4) and base64: only for Sec-WebSocket-Accept, so simple beats fast. ---- */

static uint32_t rol(uint32_t x, int n) { return x << n | x >> (32 - n); }

static void sha1(const unsigned char *msg, size_t len, unsigned char out[20]) {
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    size_t total = (len + 9 + 63) / 64 * 64; /* message, 0x80, zeros, 64-bit bit length: whole blocks */
    for (size_t off = 0; off < total; off += 64) {
        unsigned char block[64];
        for (size_t i = 0; i < 64; i++) {
            size_t at = off + i;
            block[i] = at < len ? msg[at] : at == len ? 0x80 : 0;
        }
        if (off + 64 == total)
            for (int i = 0; i < 8; i++) block[56 + i] = (unsigned char)((uint64_t)len * 8 >> (56 - 8 * i));
        uint32_t w[80];
        for (int i = 0; i < 16; i++)
            w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 | (uint32_t)block[4 * i + 2] << 8 |
                   block[4 * i + 3];
        for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; i++) {
            uint32_t f, k;
            if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999;
            else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1;
            else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
            else f = b ^ c ^ d, k = 0xCA62C1D6;
            uint32_t t = rol(a, 5) + f + e + k + w[i];
            e = d, d = c, c = rol(b, 30), b = a, a = t;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
    }
    for (int i = 0; i < 20; i++) out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}

static void base64(const unsigned char *in, size_t n, char *out) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        *out++ = abc[v >> 18 & 63];
        *out++ = abc[v >> 12 & 63];
        *out++ = i + 1 < n ? abc[v >> 6 & 63] : '=';
        *out++ = i + 2 < n ? abc[v & 63] : '=';
    }
    *out = 0;
}

/* Sec-WebSocket-Accept: base64(SHA-1(key + the RFC 6455 GUID)), 28 characters. */
static void websocket_accept(const char *key, size_t klen, char out[29]) {
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char joined[64 + sizeof guid], digest[20];
    memcpy(joined, key, klen); /* the caller keeps klen <= 64 */
    memcpy(joined + klen, guid, sizeof guid - 1);
    sha1(joined, klen + sizeof guid - 1, digest);
    base64(digest, 20, out);
}

/* ---- Connections ---- */

static void drop_conn(int fd) {
    struct conn *c = &conns[fd];
    if (c->state == WEBSOCKET) { /* swap-remove: the last subscriber takes this one's slot */
        int last = subs[--nsubs];
        subs[c->sub] = last;
        conns[last].sub = c->sub;
    }
    free(c->pending);
    memset(c, 0, sizeof *c);
    close(fd); /* also removes it from the epoll set */
}

/* One response in one syscall (head and body gathered). A short write is treated as an error: responses are
 * small and the clients read them, so it does not happen in a benchmark. */
static int respond(int fd, const char *status, const char *type, const char *body, size_t blen, int closing) {
    char head[192];
    int h = snprintf(head, sizeof head, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n", status,
                     type, blen, closing ? "Connection: close\r\n" : "");
    struct iovec iov[2] = {{head, (size_t)h}, {(void *)body, blen}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    return sendmsg(fd, &msg, MSG_NOSIGNAL) == (ssize_t)(h + blen) ? 0 : -1;
}

/* Answers and closes; returns -1, the "connection is gone" result of the handlers below. */
static long finish(int fd, const char *status, const char *type, const char *body) {
    respond(fd, status, type, body, strlen(body), 1);
    drop_conn(fd);
    return -1;
}

/* The trimmed value of header `name` (case-insensitive) in the request head p[0..n), or NULL. */
static const char *header(const char *p, size_t n, const char *name, size_t *vlen) {
    size_t nl = strlen(name);
    const char *end = p + n, *line = memchr(p, '\n', n); /* skips the request line */
    while (line && ++line < end) {
        const char *eol = memchr(line, '\r', (size_t)(end - line));
        if (!eol) break;
        if ((size_t)(eol - line) > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
            const char *v = line + nl + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t')) v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        line = memchr(eol, '\n', (size_t)(end - eol));
    }
    return NULL;
}

/* Channel names are echoed into JSON unescaped, so only a safe alphabet is accepted. */
static int valid_channel(const char *s, size_t n) {
    if (n == 0 || n > MAX_CHANNEL) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              strchr("-_.:", s[i])))
            return 0;
    return 1;
}

static long resident_bytes(void) {
    char text[128];
    long pages = 0;
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n > 0) text[n] = 0, sscanf(text, "%*s %ld", &pages);
    return pages * sysconf(_SC_PAGESIZE);
}

/* ---- Publishing ---- */

/* Encodes the message once, then one send per subscriber from that buffer: no allocation, no queue. Returns the
 * subscribers whose socket took the whole frame. */
static uint32_t broadcast(const char *payload, size_t len, int text) {
    size_t h = 0;
    frame[h++] = 0x80 | (text ? 0x1 : 0x2); /* FIN, and Chorus's opcode rule (see publish) */
    if (len < 126) {
        frame[h++] = (unsigned char)len;
    } else { /* len <= MAX_REQUEST < 65536, so the 16-bit form always suffices */
        frame[h++] = 126;
        frame[h++] = (unsigned char)(len >> 8);
        frame[h++] = (unsigned char)len;
    }
    memcpy(frame + h, payload, len);
    stats.frames++;
    uint32_t delivered = 0;
    for (uint32_t i = 0; i < nsubs; i++) {
        ssize_t sent = send(subs[i], frame, h + len, MSG_NOSIGNAL);
        if (sent == (ssize_t)(h + len)) {
            delivered++;
        } else if (sent > 0) {
            /* Part of a frame went out: the stream is corrupt, so end it. EOF then removes it through epoll;
             * removing it here would reorder subs[] under this loop. */
            stats.disconnects++;
            shutdown(subs[i], SHUT_RDWR);
        } else {
            stats.drops++; /* EAGAIN (full socket buffer) or a peer already gone: the message is lost */
        }
    }
    stats.deliveries += delivered;
    return delivered;
}

/* ---- Request and frame handlers: each returns bytes consumed, 0 for "incomplete", -1 if it closed fd. ---- */

static long on_request(int fd, char *p, size_t n) {
    char *end = memmem(p, n, "\r\n\r\n", 4);
    if (!end) return n > MAX_HEAD ? finish(fd, "431 Request Header Fields Too Large", "text/plain", "") : 0;
    size_t head = (size_t)(end + 4 - p);
    char *eol = memchr(p, '\r', head), *sp1 = memchr(p, ' ', (size_t)(eol - p));
    char *path = sp1 ? sp1 + 1 : NULL, *sp2 = path ? memchr(path, ' ', (size_t)(eol - path)) : NULL;
    if (!sp2) return finish(fd, "400 Bad Request", "text/plain", "bad request line\n");
    size_t mlen = (size_t)(sp1 - p), plen = (size_t)(sp2 - path);
    int get = mlen == 3 && memcmp(p, "GET", 3) == 0, post = mlen == 4 && memcmp(p, "POST", 4) == 0;
#define PATH_IS(s) (plen == sizeof(s) - 1 && memcmp(path, s, plen) == 0)
#define PATH_HAS(s) (plen > sizeof(s) - 1 && memcmp(path, s, sizeof(s) - 1) == 0)

    if (get && PATH_HAS("/ws/") && valid_channel(path + 4, plen - 4)) {
        size_t klen = 0, ulen = 0;
        const char *key = header(p, head, "sec-websocket-key", &klen), *up = header(p, head, "upgrade", &ulen);
        if (!key || klen == 0 || klen > 64 || !up || ulen != 9 || strncasecmp(up, "websocket", 9) != 0)
            return finish(fd, "400 Bad Request", "text/plain", "not a websocket upgrade\n");
        char accept[29], answer[160];
        websocket_accept(key, klen, accept);
        int a = snprintf(answer, sizeof answer,
                         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
        if (send(fd, answer, (size_t)a, MSG_NOSIGNAL) != a) return drop_conn(fd), -1;
        conns[fd].state = WEBSOCKET; /* every subscriber is on the one channel, whatever its name */
        conns[fd].sub = nsubs;
        subs[nsubs++] = fd;
        return (long)head;
    }
    if (post && PATH_HAS("/publish/") && valid_channel(path + 9, plen - 9)) {
        size_t llen = 0, tlen = 0, body = 0;
        const char *cl = header(p, head, "content-length", &llen), *type = header(p, head, "content-type", &tlen);
        if (!cl || llen == 0 || llen > 9) return finish(fd, "411 Length Required", "text/plain", "");
        for (size_t i = 0; i < llen; i++) {
            if (cl[i] < '0' || cl[i] > '9') return finish(fd, "400 Bad Request", "text/plain", "bad length\n");
            body = body * 10 + (size_t)(cl[i] - '0');
        }
        if (body > MAX_REQUEST - head) return finish(fd, "413 Content Too Large", "text/plain", "");
        if (n < head + body) return 0; /* the body is still arriving */
        /* Chorus: text/... and application/json go out as text frames, anything else (the bench's
         * application/octet-stream) as binary. Unlike Chorus this does not validate UTF-8. */
        int text = type && ((tlen >= 5 && strncasecmp(type, "text/", 5) == 0) ||
                            (tlen >= 16 && strncasecmp(type, "application/json", 16) == 0 &&
                             (tlen == 16 || type[16] == ';' || type[16] == ' ')));
        uint32_t delivered = broadcast(p + head, body, text);
        char json[MAX_CHANNEL + 48];
        int j = snprintf(json, sizeof json, "{\"channel\":\"%.*s\",\"delivered\":%u}", (int)(plen - 9), path + 9,
                         delivered);
        if (respond(fd, "200 OK", "application/json", json, (size_t)j, 0) < 0) return drop_conn(fd), -1;
        return (long)(head + body); /* keep-alive: a pipelined request may follow */
    }
    if (get && (PATH_IS("/healthz") || PATH_IS("/readyz"))) return finish(fd, "200 OK", "text/plain", "ok\n");
    if (get && PATH_IS("/metrics")) {
        /* Names as in Chorus (Sources/ChorusServer/Metrics/) so chorus-bench's ServerMetrics reads them. */
        static char text[1024];
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                     (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
        long rss = resident_bytes();
        double per = nsubs ? (double)(rss - baseline_rss) / nsubs : 0;
        snprintf(text, sizeof text,
                 "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.6f\n"
                 "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n"
                 "# TYPE chorus_connections gauge\nchorus_connections %u\n"
                 "# TYPE chorus_memory_per_connection_bytes gauge\nchorus_memory_per_connection_bytes %.1f\n"
                 "# TYPE chorus_frames_encoded_total counter\nchorus_frames_encoded_total %llu\n"
                 "# TYPE chorus_deliveries_total counter\nchorus_deliveries_total %llu\n"
                 "# TYPE chorus_slow_consumer_drops_total counter\nchorus_slow_consumer_drops_total %llu\n"
                 "# TYPE chorus_slow_consumer_disconnects_total counter\n"
                 "chorus_slow_consumer_disconnects_total %llu\n",
                 cpu, rss, nsubs, per, stats.frames, stats.deliveries, stats.drops, stats.disconnects);
        return finish(fd, "200 OK", "text/plain; version=0.0.4", text);
    }
    return finish(fd, "404 Not Found", "text/plain", "not found\n");
}

/* One client frame (RFC 6455: clients mask). Close is echoed and ends the connection, ping gets its pong,
 * everything else is read and ignored. Fragmented control frames and extensions are not handled. */
static long on_frame(int fd, char *data, size_t n) {
    unsigned char *p = (unsigned char *)data;
    if (n < 2) return 0;
    unsigned opcode = p[0] & 0x0F;
    size_t len = p[1] & 0x7F, hdr = 2;
    if (len == 126) {
        if (n < 4) return 0;
        len = (size_t)p[2] << 8 | p[3], hdr = 4;
    } else if (len == 127) {
        if (n < 10) return 0;
        len = 0, hdr = 10;
        for (int i = 2; i < 10; i++) len = len << 8 | p[i];
    }
    const unsigned char *mask = p[1] & 0x80 ? p + hdr : NULL;
    if (mask) hdr += 4;
    if (len > MAX_REQUEST - 14) return drop_conn(fd), -1; /* larger than we buffer: not something clients send */
    if (n < hdr + len) return 0;
    unsigned char *payload = p + hdr;
    if (mask)
        for (size_t i = 0; i < len; i++) payload[i] ^= mask[i & 3];
    if ((opcode == 0x8 || opcode == 0x9) && len <= 125) {
        unsigned char reply[2 + 125] = {opcode == 0x8 ? 0x88 : 0x8A, (unsigned char)len};
        memcpy(reply + 2, payload, len); /* close: echo the status code; ping: the pong carries its data */
        send(fd, reply, 2 + len, MSG_NOSIGNAL);
        if (opcode == 0x8) return drop_conn(fd), -1;
    }
    return (long)(hdr + len);
}

/* Reads once (level-triggered: epoll reports again if more is waiting) and handles every complete unit; an
 * incomplete tail is kept in a malloc'd buffer of exactly its size until the next read. */
static void on_readable(int fd) {
    struct conn *c = &conns[fd];
    if (c->state == FREE) return; /* closed earlier in this epoll batch */
    size_t have = c->len;
    if (have) memcpy(rbuf, c->pending, have);
    ssize_t r = recv(fd, rbuf + have, sizeof rbuf - have, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (r <= 0) {
        drop_conn(fd); /* EOF or a reset */
        return;
    }
    size_t total = have + (size_t)r, used = 0;
    while (used < total) {
        long step = c->state == WEBSOCKET ? on_frame(fd, rbuf + used, total - used)
                                          : on_request(fd, rbuf + used, total - used);
        if (step < 0) return; /* closed: conns[fd] is already reset */
        if (step == 0) break;
        used += (size_t)step;
    }
    free(c->pending);
    c->pending = NULL;
    c->len = (uint16_t)(total - used); /* below MAX_REQUEST: larger units are refused above */
    if (c->len) {
        if (!(c->pending = malloc(c->len))) {
            drop_conn(fd);
            return;
        }
        memcpy(c->pending, rbuf + used, c->len);
    }
}

static void accept_all(int lfd, int epfd) {
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return; /* EAGAIN: all taken. EMFILE: level-triggered, so it is retried on the next wait. */
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (fd >= maxfd || epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            continue;
        }
        conns[fd].state = HTTP;
    }
}

/* Anonymous mappings are zero pages until touched, so a table sized for the descriptor limit costs resident
 * memory only for the entries in use (calloc might clear, and so touch, all of it). */
static void *table(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) perror("mmap"), exit(1);
    return p;
}

int main(int argc, char **argv) {
    int port = argc == 2 ? atoi(argv[1]) : 0;
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: %s PORT   (listens on 127.0.0.1:PORT)\n", argv[0]);
        return 2;
    }
    char check[29]; /* RFC 6455 section 1.3's example, which is also the key chorus-bench sends */
    websocket_accept("dGhlIHNhbXBsZSBub25jZQ==", 24, check);
    if (strcmp(check, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != 0) return fprintf(stderr, "SHA-1 self-test failed\n"), 1;
    signal(SIGPIPE, SIG_IGN); /* belt and braces: every send also passes MSG_NOSIGNAL */

    struct rlimit lim; /* one table entry per possible descriptor: raise the soft limit to the hard one */
    getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
    maxfd = lim.rlim_cur > (1u << 22) ? 1 << 22 : (int)lim.rlim_cur;
    conns = table((size_t)maxfd * sizeof *conns);
    subs = table((size_t)maxfd * sizeof *subs);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, SOMAXCONN) < 0)
        return perror("bind/listen"), 1;
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0) return perror("epoll"), 1;
    baseline_rss = resident_bytes();
    printf("reference-server: listening on 127.0.0.1:%d (pid %d, up to %d descriptors)\n", port, getpid(), maxfd);
    fflush(stdout);

    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(epfd, events, 256, -1);
        if (n < 0 && errno != EINTR) return perror("epoll_wait"), 1;
        for (int i = 0; i < n; i++) {
            if (events[i].data.fd == lfd) accept_all(lfd, epfd);
            else on_readable(events[i].data.fd);
        }
    }
}
