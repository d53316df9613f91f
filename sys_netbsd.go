// NetBSD's facts for the unix layer (sys_unix.go) and the kqueue poller.

package mio

import "golang.org/x/sys/unix"

const (
	sockFlags       = unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC
	noSigpipe       = 0
	sendFlags       = unix.MSG_NOSIGNAL
	reusePortOption = unix.SO_REUSEPORT
	// x/sys defines no EV_RECEIPT and no EVFILT_USER for NetBSD, and
	// kernels before 10 lack both: each change is a kevent call of its
	// own, and a pipe wakes the kqueue (waker_bsd.go).
	evReceipt   = 0
	evfiltUser  = noFilter
	noteTrigger = 0
)

// sysAccept: x/sys has no accept4 here.
func sysAccept(fd int) (int, error) { return acceptCloexec(fd) }

func sysPipe() (r, w int, err error) { return pipe2(unix.Pipe2) }
