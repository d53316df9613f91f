// DragonFly's facts for the unix layer (sys_unix.go) and the kqueue poller.

package mio

import "golang.org/x/sys/unix"

const (
	sockFlags = unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC
	noSigpipe = 0
	sendFlags = unix.MSG_NOSIGNAL
	// DragonFly's SO_REUSEPORT balances connections, as Linux's does.
	reusePortOption = unix.SO_REUSEPORT
	evReceipt       = unix.EV_RECEIPT
	evfiltUser      = unix.EVFILT_USER
	noteTrigger     = unix.NOTE_TRIGGER
)

func sysAccept(fd int) (int, error) { return accept4(unix.Accept4, fd) }

func sysPipe() (r, w int, err error) { return pipe2(unix.Pipe2) }
