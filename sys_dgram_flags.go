//go:build linux || dragonfly || freebsd || netbsd || openbsd

package mio

import "golang.org/x/sys/unix"

// dgramSendFlags is MSG_NOSIGNAL: a Unix datagram socket whose sending side
// was shut down answers EPIPE, which must not also raise SIGPIPE.
const dgramSendFlags = unix.MSG_NOSIGNAL

// sysDgramSocketpair creates a connected pair of datagram sockets,
// non-blocking and close-on-exec from the start, as sysSocket does.
func sysDgramSocketpair() (int, int, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, -1, err
	}
	return fds[0], fds[1], nil
}
