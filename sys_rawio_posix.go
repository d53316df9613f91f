//go:build (linux && (386 || s390x)) || dragonfly || freebsd || netbsd || openbsd

package mio

import "golang.org/x/sys/unix"

func sysRead(fd int, p []byte) (int, error)  { return unix.Read(fd, p) }
func sysWrite(fd int, p []byte) (int, error) { return unix.Write(fd, p) }

// sysSend writes with MSG_NOSIGNAL, so a closed peer gives EPIPE and no
// SIGPIPE.
func sysSend(fd int, p []byte) (int, error) {
	return unix.SendmsgN(fd, p, nil, nil, unix.MSG_NOSIGNAL)
}
