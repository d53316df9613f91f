//go:build linux || dragonfly || freebsd

package mio

import "golang.org/x/sys/unix"

// sysAccept takes a connection that is non-blocking and close-on-exec from
// the start.
func sysAccept(fd int) (int, error) {
	nfd, _, err := unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	return nfd, err
}
