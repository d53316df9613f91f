// Linux's facts for the unix layer (sys_unix.go): what its kernel and x/sys offer.

package mio

import "golang.org/x/sys/unix"

const (
	// sockFlags are set by the call that creates a socket, so no fork in
	// another goroutine can inherit it without close-on-exec.
	sockFlags = unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC
	// noSigpipe is the socket option that keeps writes from raising
	// SIGPIPE; none is needed where sends carry MSG_NOSIGNAL.
	noSigpipe = 0
	// sendFlags go with every send: a closed peer gives EPIPE, no SIGPIPE.
	sendFlags = unix.MSG_NOSIGNAL
	// reusePortOption balances connections over the sockets sharing an
	// address (see ReusePortBalances).
	reusePortOption = unix.SO_REUSEPORT
)

// sysAccept takes a connection that is non-blocking and close-on-exec from
// the start.
func sysAccept(fd int) (int, error) { return accept4(unix.Accept4, fd) }

// sysPipe opens a pipe, non-blocking and close-on-exec from the start.
func sysPipe() (r, w int, err error) { return pipe2(unix.Pipe2) }
