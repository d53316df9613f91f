// macOS's facts for the unix layer (sys_unix.go) and the kqueue poller.

package mio

import "golang.org/x/sys/unix"

const (
	// macOS has no SOCK_CLOEXEC, accept4 or pipe2: the flags are set after
	// creation, under ForkLock (openCloexec).
	sockFlags = 0
	// macOS honours no MSG_NOSIGNAL on stream sockets; SO_NOSIGPIPE does
	// the same per socket.
	noSigpipe       = unix.SO_NOSIGPIPE
	sendFlags       = 0
	reusePortOption = unix.SO_REUSEPORT

	// evReceipt makes the kernel answer every change of a list with its
	// own errno, so one kevent call applies a whole registration change.
	evReceipt = unix.EV_RECEIPT
	// evfiltUser is a kernel event the process triggers itself, which
	// wakes the kqueue with no fd of its own.
	evfiltUser  = unix.EVFILT_USER
	noteTrigger = unix.NOTE_TRIGGER
)

func sysAccept(fd int) (int, error) { return acceptCloexec(fd) }

func sysPipe() (r, w int, err error) {
	return openCloexec(setNonblock, func() (int, int, error) {
		var p [2]int
		err := unix.Pipe(p[:])
		return p[0], p[1], err
	})
}
