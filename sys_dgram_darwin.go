//go:build darwin

package mio

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// dgramSendFlags is empty on macOS: SO_NOSIGPIPE, set on every socket the
// library makes, already keeps sends from raising SIGPIPE.
const dgramSendFlags = 0

// sysDgramSocketpair creates a connected pair of datagram sockets. macOS has
// no SOCK_CLOEXEC, so close-on-exec is set under syscall.ForkLock, as
// sysSocket does, then non-blocking mode and SO_NOSIGPIPE.
func sysDgramSocketpair() (int, int, error) {
	syscall.ForkLock.RLock()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err == nil {
		unix.CloseOnExec(fds[0])
		unix.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, -1, err
	}
	for _, fd := range fds {
		err := unix.SetNonblock(fd, true)
		if err == nil {
			err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NOSIGPIPE, 1)
		}
		if err != nil {
			unix.Close(fds[0])
			unix.Close(fds[1])
			return -1, -1, err
		}
	}
	return fds[0], fds[1], nil
}
