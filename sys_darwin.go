//go:build darwin

package mio

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// Darwin has no SOCK_CLOEXEC, accept4 or pipe2: the flags are set after
// creation, under syscall.ForkLock so that a concurrent fork-exec cannot
// inherit the fd in between, as Go's own net package does.

func sysSocket(family, typ int) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(family, typ, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := setupFd(fd); err != nil {
		unix.Close(fd)
		return -1, err
	}
	// Darwin has no MSG_NOSIGNAL for stream sockets that it honours
	// everywhere; SO_NOSIGPIPE does the same per socket.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NOSIGPIPE, 1); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func setupFd(fd int) error { return unix.SetNonblock(fd, true) }

// prepareAccepted makes an accepted socket non-blocking and keeps it from
// raising SIGPIPE.
func prepareAccepted(fd int) error {
	if err := setupFd(fd); err != nil {
		return err
	}
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NOSIGPIPE, 1)
}

func sysPipe() (r, w int, err error) {
	var p [2]int
	syscall.ForkLock.RLock()
	err = unix.Pipe(p[:])
	if err == nil {
		unix.CloseOnExec(p[0])
		unix.CloseOnExec(p[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, -1, err
	}
	for _, fd := range p {
		if err := setupFd(fd); err != nil {
			unix.Close(p[0])
			unix.Close(p[1])
			return -1, -1, err
		}
	}
	return p[0], p[1], nil
}

// sysSend is a plain write: SO_NOSIGPIPE, set when the socket was made,
// keeps a closed peer from raising SIGPIPE.
func sysSend(fd int, p []byte) (int, error) { return unix.Write(fd, p) }

// sysRead and sysWrite go through x/sys, which on darwin calls libc.
func sysRead(fd int, p []byte) (int, error)  { return unix.Read(fd, p) }
func sysWrite(fd int, p []byte) (int, error) { return unix.Write(fd, p) }
