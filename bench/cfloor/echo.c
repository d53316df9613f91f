/*
 * The benchmark's floor: a single-threaded, level-triggered epoll echo
 * server with nothing around the system calls. It behaves as the Go
 * servers do: read into one shared buffer, write it straight back, and
 * only when the kernel takes part of it keep the rest for the connection,
 * which then waits for EPOLLOUT (and stops reading) until it is flushed.
 *
 * With -rpc it answers W5's framed requests instead (bench/internal/frame:
 * a 4-byte big-endian payload length, then the payload; the response is
 * the same frame): the whole requests of each read are answered in turn,
 * each response built in a buffer of its own and written with a write(2)
 * of its own; a request split over reads waits in a buffer of its
 * connection's for the rest. Once the kernel takes only part of a
 * response, that rest and the responses to the read's remaining requests
 * are queued and the connection waits for EPOLLOUT, as the echo does.
 *
 *   gcc -O2 -o cfloor echo.c && ./cfloor -addr 127.0.0.1:7000 [-rpc]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct pending {
	char *buf;
	size_t len, cap;
};

static struct pending *pend; /* indexed by fd */
static size_t npend;
static char buf[64 << 10];
static int ep;

/* -rpc: frame.HeaderLen and frame.MaxPayload */
#define HEADER_LEN 4
#define MAX_PAYLOAD (256 << 10)
static int rpc;
static struct pending *partial; /* -rpc: each fd's partial request */
static size_t npartial;
static char resp[HEADER_LEN + MAX_PAYLOAD];

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void drop(int fd)
{
	if ((size_t)fd < npend) {
		free(pend[fd].buf);
		memset(&pend[fd], 0, sizeof pend[fd]);
	}
	if ((size_t)fd < npartial) {
		free(partial[fd].buf);
		memset(&partial[fd], 0, sizeof partial[fd]);
	}
	close(fd); /* also leaves the epoll set */
}

static void watch(int fd, int op, unsigned events)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};
	if (epoll_ctl(ep, op, fd, &ev) < 0)
		die("epoll_ctl");
}

/* slot returns (*tab)[fd], growing the table to hold it. */
static struct pending *slot(struct pending **tab, size_t *n, int fd)
{
	if ((size_t)fd >= *n) {
		size_t grown = (size_t)fd * 2 + 64;
		*tab = realloc(*tab, grown * sizeof **tab);
		if (!*tab)
			die("realloc");
		memset(*tab + *n, 0, (grown - *n) * sizeof **tab);
		*n = grown;
	}
	return &(*tab)[fd];
}

/* append adds p[0:n], which may lie in q's own buffer, at the end of q. */
static void append(struct pending *q, const char *p, size_t n)
{
	if (n == 0)
		return;
	if (q->cap < q->len + n) {
		size_t cap = q->cap * 2 > q->len + n ? q->cap * 2 : q->len + n;
		q->buf = realloc(q->buf, cap);
		if (!q->buf)
			die("realloc");
		q->cap = cap;
	}
	memmove(q->buf + q->len, p, n);
	q->len += n;
}

/* keep stores what write left of buf[0:n] and waits for EPOLLOUT. */
static void keep(int fd, const char *p, size_t n)
{
	struct pending *q = slot(&pend, &npend, fd);
	if (q->cap < n) {
		q->buf = realloc(q->buf, n);
		if (!q->buf)
			die("realloc");
		q->cap = n;
	}
	memcpy(q->buf, p, n);
	q->len = n;
	watch(fd, EPOLL_CTL_MOD, EPOLLOUT);
}

/* put writes p[0:n]; it returns how much it wrote, or -1 on a failure. */
static ssize_t put(int fd, const char *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, p + done, n - done);
		if (w > 0) {
			done += w;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (w < 0 && errno == EAGAIN) {
			break;
		} else {
			return -1;
		}
	}
	return done;
}

/*
 * answer answers the whole requests in p[0:n], behind fd's partial
 * request, and keeps what is left of the last.
 */
static void answer(int fd, const char *p, size_t n)
{
	struct pending *in = slot(&partial, &npartial, fd);
	if (in->len > 0) {
		append(in, p, n);
		p = in->buf;
		n = in->len;
	}
	int blocked = 0;
	while (n >= HEADER_LEN) {
		const unsigned char *h = (const unsigned char *)p;
		size_t len = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
		if (len > MAX_PAYLOAD) {
			drop(fd);
			return;
		}
		size_t size = HEADER_LEN + len;
		if (n < size)
			break;
		if (blocked) { /* the kernel is full: queue the response behind */
			append(&pend[fd], p, size);
		} else {
			resp[0] = len >> 24, resp[1] = len >> 16, resp[2] = len >> 8, resp[3] = len;
			memcpy(resp + HEADER_LEN, p + HEADER_LEN, len);
			ssize_t w = put(fd, resp, size);
			if (w < 0) {
				drop(fd);
				return;
			}
			if ((size_t)w < size) {
				keep(fd, resp + w, size - w);
				blocked = 1;
			}
		}
		p += size;
		n -= size;
	}
	in->len = 0; /* p may lie in in's buffer: append moves with memmove */
	append(in, p, n);
}

static void readable(int fd)
{
	ssize_t n = read(fd, buf, sizeof buf);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		drop(fd);
		return;
	}
	if (rpc) {
		answer(fd, buf, n);
		return;
	}
	ssize_t w = put(fd, buf, n);
	if (w < 0)
		drop(fd);
	else if (w < n)
		keep(fd, buf + w, n - w);
}

static void writable(int fd)
{
	struct pending *q = &pend[fd];
	ssize_t w = put(fd, q->buf, q->len);
	if (w < 0) {
		drop(fd);
	} else if ((size_t)w == q->len) {
		q->len = 0;
		watch(fd, EPOLL_CTL_MOD, EPOLLIN);
	} else {
		memmove(q->buf, q->buf + w, q->len - w);
		q->len -= w;
	}
}

static void accept_all(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				perror("accept4");
			return;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		watch(fd, EPOLL_CTL_ADD, EPOLLIN);
	}
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1:7000";
	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-addr") == 0 || strcmp(argv[i], "--addr") == 0) && i + 1 < argc)
			addr = argv[++i];
		else if (strcmp(argv[i], "-rpc") == 0 || strcmp(argv[i], "--rpc") == 0)
			rpc = 1;
	}

	char host[64];
	const char *colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= sizeof host) {
		fprintf(stderr, "cfloor: bad -addr %s\n", addr);
		return 2;
	}
	memcpy(host, addr, colon - addr);
	host[colon - addr] = 0;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(atoi(colon + 1))};
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		fprintf(stderr, "cfloor: bad IPv4 address %s\n", host);
		return 2;
	}

	signal(SIGPIPE, SIG_IGN);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) < 0)
		die("bind");
	if (listen(lfd, 4096) < 0)
		die("listen");
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	watch(lfd, EPOLL_CTL_ADD, EPOLLIN);
	printf("READY %s\n", addr);
	fflush(stdout);

	static struct epoll_event evs[1024];
	for (;;) {
		int n = epoll_wait(ep, evs, 1024, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd)
				accept_all(lfd);
			else if (evs[i].events & EPOLLOUT)
				writable(fd);
			else
				readable(fd);
		}
	}
}
