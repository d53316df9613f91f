package serve

import (
	"errors"
	"fmt"
	"log"
	"syscall"
	"time"

	"github.com/miogo/mio"
)

// Backlog is the listen backlog of the examples' acceptors. The kernel
// lowers it to its own maximum (somaxconn) where that is smaller.
const Backlog = 4096

// AcceptPause is how long a Listener stops accepting after accept fails
// (out of fds, typically), instead of retrying at once and spinning: the
// acceptor is edge-triggered, so the pending connections stay queued and
// are taken when the pause ends.
const AcceptPause = 100 * time.Millisecond

// Listener is an acceptor listening on one event loop, with the loop's
// accept side: it takes every pending connection when the acceptor is
// readable, and pauses on an accept error. Its methods are called on the
// loop's goroutine, from the handler's callbacks.
type Listener[M any] struct {
	// Accept takes one connection; Listen sets it to accept with Nagle's
	// algorithm off. Tests replace it to make accept fail.
	Accept func() (mio.Socket, error)

	loop   *mio.EventLoop[M]
	acc    mio.Acceptor
	tok    mio.Token
	add    func(mio.Socket) // the server's, for each connection taken
	log    *log.Logger
	prefix string // put before each line logged, such as "loop 1: "
	paused bool   // a timeout on tok will resume accepting
	burst  burst
}

// Listen makes acc listen on loop under tok, edge-triggered. The handler
// passes tok's Readable to AcceptAll and tok's Timeout to Resume: the
// pause is a timeout on tok. add is given each connection taken. On error
// the caller still owns acc.
func Listen[M any](loop *mio.EventLoop[M], acc mio.Acceptor, tok mio.Token,
	add func(mio.Socket), lg *log.Logger, prefix string) (*Listener[M], error) {
	if err := loop.Listen(acc, Backlog, tok); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	l := &Listener[M]{loop: loop, acc: acc, tok: tok, add: add, log: lg, prefix: prefix}
	l.Accept = func() (mio.Socket, error) { return acceptNoDelay(acc) }
	return l, nil
}

// acceptNoDelay accepts one connection and turns Nagle's algorithm off on
// a TCP one, so that small replies go out at once.
func acceptNoDelay(acc mio.Acceptor) (mio.Socket, error) {
	c, err := acc.Accept()
	if t, ok := c.(*mio.TCPSocket); ok {
		t.SetNoDelay(true)
	}
	return c, err
}

// AcceptAll takes pending connections until none is left, as the
// edge-triggered acceptor requires, or until accept fails.
func (l *Listener[M]) AcceptAll() {
	for !l.paused {
		sock, err := l.Accept()
		if errors.Is(err, mio.ErrWouldBlock) {
			return
		}
		if err != nil {
			l.pause(err)
			return
		}
		l.logf(l.burst.worked())
		l.add(sock)
	}
}

// Resume ends a pause and accepts what queued meanwhile.
func (l *Listener[M]) Resume() {
	l.paused = false
	l.AcceptAll()
}

// Close closes the acceptor.
func (l *Listener[M]) Close() error { return l.acc.Close() }

// pause stops accepting for AcceptPause. Running out of fds (EMFILE,
// ENFILE) is the usual cause, but any error is handled alike, so none can
// stop the server or make it spin.
func (l *Listener[M]) pause(err error) {
	if _, terr := l.loop.Timeout(l.tok, AcceptPause); terr != nil {
		l.logf(fmt.Sprintf("%v, and cannot pause: %v", err, terr))
		return
	}
	l.paused = true
	l.logf(l.burst.failed(err))
}

// logf logs line with the listener's prefix, unless line is empty.
func (l *Listener[M]) logf(line string) {
	if line != "" {
		l.log.Print(l.prefix + line)
	}
}

// burst counts the accept errors since accepting last worked, so that a
// run of them is logged once when it starts and once when it ends.
type burst struct{ pauses int }

// failed counts a pause and returns the line to log: one for the first
// pause of a burst, none for the others.
func (b *burst) failed(err error) string {
	b.pauses++
	if b.pauses > 1 {
		return ""
	}
	hint := ""
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
		hint = " (raise the open files limit, ulimit -n)"
	}
	return fmt.Sprintf("%v%s; pausing accepts for %v at a time until accept works again", err, hint, AcceptPause)
}

// worked ends a burst and returns the line saying so, if one was logged.
// Only a connection taken ends it: an empty queue proves nothing, since
// mio closes the pending connections when it runs out of fds.
func (b *burst) worked() string {
	if b.pauses == 0 {
		return ""
	}
	n := b.pauses
	b.pauses = 0
	return fmt.Sprintf("accepting again after %d pause(s)", n)
}

// Routine reports whether err, which ended a connection, is the routine
// end of one, not worth logging: the peer resetting the connection or
// vanishing.
func Routine(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ETIMEDOUT)
}
