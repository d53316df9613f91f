/*
 * The benchmark's floor: a single-threaded, level-triggered epoll echo
 * server with nothing around the system calls. It behaves as the Go
 * servers do: read into one shared buffer, write it straight back, and
 * only when the kernel takes part of it keep the rest for the connection,
 * which then waits for EPOLLOUT (and stops reading) until it is flushed.
 *
 *   gcc -O2 -o cfloor echo.c && ./cfloor -addr 127.0.0.1:7000
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
	close(fd); /* also leaves the epoll set */
}

static void watch(int fd, int op, unsigned events)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};
	if (epoll_ctl(ep, op, fd, &ev) < 0)
		die("epoll_ctl");
}

/* keep stores what write left of buf[0:n] and waits for EPOLLOUT. */
static void keep(int fd, const char *p, size_t n)
{
	if ((size_t)fd >= npend) {
		size_t grown = (size_t)fd * 2 + 64;
		pend = realloc(pend, grown * sizeof *pend);
		if (!pend)
			die("realloc");
		memset(pend + npend, 0, (grown - npend) * sizeof *pend);
		npend = grown;
	}
	struct pending *q = &pend[fd];
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

static void readable(int fd)
{
	ssize_t n = read(fd, buf, sizeof buf);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		drop(fd);
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
	for (int i = 1; i + 1 < argc; i += 2)
		if (strcmp(argv[i], "-addr") == 0 || strcmp(argv[i], "--addr") == 0)
			addr = argv[i + 1];

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
