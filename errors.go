package mio

import (
	"errors"
	"net"
	"runtime"
	"syscall"
)

// Every error the library makes has one text shape,
//
//	mio: OP [ADDR]: [WHY: ]CAUSE
//
// "mio: bind 127.0.0.1:80: address already in use", "mio: accept: too many
// open files", "mio: register fd 7: fd is already registered": the
// operation, what it was applied to when that helps, the library's reason
// when the library itself refused, and the cause, which errors.Is and
// errors.As reach (an errno, or one of the sentinels below). An error is
// wrapped once, where it is first known, so no text repeats. Only the
// results a caller meets in its normal flow are bare, because wrapping
// them would cost an allocation: ErrWouldBlock, ErrTruncated, and ErrClosed
// from a Sender or a Timeout on a closed loop.

// ErrWouldBlock is returned by non-blocking operations that cannot proceed
// now; wait for the next readiness callback and try again. It is the errno
// EAGAIN itself (EWOULDBLOCK has the same value on every supported system),
// so errors.Is(err, ErrWouldBlock) and errors.Is(err, syscall.EAGAIN) agree,
// and returning it costs no allocation.
var ErrWouldBlock error = syscall.EAGAIN

// ErrClosed is returned when an event loop, socket or pipe is used after
// Close. It is net.ErrClosed, so code written for Go's net package
// recognises it.
var ErrClosed = net.ErrClosed

// ErrRegistered is returned by Register for an fd that this loop already has
// registered. Reregister changes an existing registration.
var ErrRegistered = errors.New("fd is already registered")

// ErrNotRegistered is returned by Reregister and Deregister for an fd that
// this loop does not have registered.
var ErrNotRegistered = errors.New("fd is not registered")

// ErrRunning is returned by Run and RunOnce when a Run or RunOnce of the
// same loop is already in progress, also when called from one of its own
// callbacks.
var ErrRunning = errors.New("event loop is already running")

// ErrBufferFull is returned by Buffer.Write when the bytes would take the
// buffer past its limit; nothing was written, and what the buffer held
// stays. It is returned bare, so reporting it costs no allocation.
var ErrBufferFull = errors.New("mio: buffer is full")

// ErrTruncated is returned by RecvFrom and Recv of the datagram sockets
// when a datagram was longer than the buffer: the buffer is full (n ==
// len(p)) and the rest of the datagram is gone, as the kernel discards it.
// It is returned bare, so errors.Is(err, ErrTruncated) and err ==
// ErrTruncated both hold and reporting it costs no allocation.
var ErrTruncated = errors.New("mio: datagram truncated: it was longer than the receive buffer")

// ErrUnsupported is what NewEventLoop and every constructor of a socket or
// pipe return, wrapped, on systems with neither epoll nor kqueue: the
// package builds there, so a program using it builds everywhere, but does
// nothing. It matches errors.ErrUnsupported.
var ErrUnsupported = &unsupportedError{goos: runtime.GOOS}

type unsupportedError struct{ goos string }

// Error names the system that lacks a poller.
func (e *unsupportedError) Error() string {
	return "not supported on " + e.goos + " (mio needs epoll or kqueue)"
}

// Unwrap makes errors.Is(err, errors.ErrUnsupported) hold.
func (e *unsupportedError) Unwrap() error { return errors.ErrUnsupported }

// opError is a failed operation in the shape described above.
type opError struct {
	op, addr, why string
	err           error
}

// Error is the text in the shape described above.
func (e *opError) Error() string {
	s := "mio: " + e.op
	if e.addr != "" {
		s += " " + e.addr
	}
	s += ": "
	if e.why != "" {
		s += e.why + ": "
	}
	return s + e.err.Error()
}

// Unwrap makes errors.Is and errors.As see the cause.
func (e *opError) Unwrap() error { return e.err }

// wrapSyscall names the failed operation once, keeping the errno reachable
// for errors.Is. EAGAIN is passed through bare so that the would-block path
// stays free of allocation, and an error already named is left as it is.
func wrapSyscall(op string, err error) error {
	if err == nil || err == syscall.EAGAIN {
		return err
	}
	if _, named := err.(*opError); named {
		return err
	}
	return &opError{op: op, err: err}
}

// wrapAddr is wrapSyscall for an operation on an address.
func wrapAddr(op string, addr SockAddr, err error) error {
	if err == nil || err == syscall.EAGAIN {
		return err
	}
	return &opError{op: op, addr: addr.String(), err: err}
}

// refuse is an operation the library refused itself: why says what is
// wrong, cause is the errno (or sentinel) the kernel would have given.
func refuse(op, target, why string, cause error) error {
	return &opError{op: op, addr: target, why: why, err: cause}
}

// errClosed is op on a handle that was closed.
func errClosed(op string) error { return &opError{op: op, err: ErrClosed} }

// shedError is an accept that failed for lack of descriptors and closed
// the connections pending on its listener, so that their clients see an
// end rather than wait: how many it closed feeds the statistics, and
// whether it emptied the queue tells a Conns table whether to try again
// (an edge-triggered listener is reported again only by a new connection).
type shedError struct {
	opError
	shed    int
	drained bool
}

// shedOf is the number of pending connections err says were shed, and
// whether the queue was left empty.
func shedOf(err error) (shed int, drained bool) {
	var se *shedError
	if errors.As(err, &se) {
		return se.shed, se.drained
	}
	return 0, false
}
