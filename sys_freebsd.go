// FreeBSD's facts for the unix layer (sys_unix.go) and the kqueue poller.

package mio

import "golang.org/x/sys/unix"

const (
	sockFlags = unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC
	noSigpipe = 0
	sendFlags = unix.MSG_NOSIGNAL
	// Since FreeBSD 12 plain SO_REUSEPORT lets sockets share an address
	// but hands every connection to one of them; only the _LB variant
	// balances connections over them.
	reusePortOption = unix.SO_REUSEPORT_LB
	evReceipt       = unix.EV_RECEIPT
	evfiltUser      = unix.EVFILT_USER
	noteTrigger     = unix.NOTE_TRIGGER
)

// kqueue.go names FreeBSD's ENOTCAPABLE by number so that Linux tests its
// rule; this fails to compile should the two ever differ.
var _ [0]struct{} = [unix.ENOTCAPABLE - kqueueENOTCAPABLE]struct{}{}

func sysAccept(fd int) (int, error) { return accept4(unix.Accept4, fd) }

func sysPipe() (r, w int, err error) { return pipe2(unix.Pipe2) }
