// OpenBSD's facts for the unix layer (sys_unix.go) and the kqueue poller.

package mio

import "golang.org/x/sys/unix"

const (
	sockFlags       = unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC
	noSigpipe       = 0
	sendFlags       = unix.MSG_NOSIGNAL
	reusePortOption = unix.SO_REUSEPORT
	evReceipt       = unix.EV_RECEIPT
	// OpenBSD has no EVFILT_USER: a pipe wakes the kqueue (waker_bsd.go).
	evfiltUser  = noFilter
	noteTrigger = 0
)

// sysAccept: x/sys has no accept4 here.
func sysAccept(fd int) (int, error) { return acceptCloexec(fd) }

func sysPipe() (r, w int, err error) { return pipe2(unix.Pipe2) }
