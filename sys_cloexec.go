//go:build linux || dragonfly || freebsd || netbsd || openbsd

package mio

import "golang.org/x/sys/unix"

// These systems set non-blocking and close-on-exec in the same system call
// that creates the fd, so no fork in another goroutine can inherit it.

func sysSocket(family, typ int) (int, error) {
	return unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

func sysPipe() (r, w int, err error) {
	var p [2]int
	err = unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC)
	return p[0], p[1], err
}
