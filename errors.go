package mio

import (
	"errors"
	"net"
	"os"
	"runtime"
	"syscall"
)

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
var ErrRegistered = errors.New("mio: fd is already registered")

// ErrNotRegistered is returned by Reregister and Deregister for an fd that
// this loop does not have registered.
var ErrNotRegistered = errors.New("mio: fd is not registered")

// ErrRunning is returned by Run and RunOnce when a Run or RunOnce of the
// same loop is already in progress, also when called from one of its own
// callbacks.
var ErrRunning = errors.New("mio: event loop is already running")

// ErrTruncated is returned by RecvFrom and Recv of the datagram sockets
// when a datagram was longer than the buffer: the buffer is full (n ==
// len(p)) and the rest of the datagram is gone, as the kernel discards it.
// It is returned bare, so errors.Is(err, ErrTruncated) and err ==
// ErrTruncated both hold and reporting it costs no allocation.
var ErrTruncated = errors.New("mio: datagram truncated: it was longer than the receive buffer")

// ErrUnsupported is returned by NewEventLoop on systems with neither epoll
// nor kqueue. It matches errors.ErrUnsupported.
var ErrUnsupported = &unsupportedError{goos: runtime.GOOS}

type unsupportedError struct{ goos string }

// Error names the system that lacks a poller.
func (e *unsupportedError) Error() string {
	return "mio: no event loop for " + e.goos + " (needs epoll or kqueue)"
}

// Unwrap makes errors.Is(err, errors.ErrUnsupported) hold.
func (e *unsupportedError) Unwrap() error { return errors.ErrUnsupported }

// wrapSyscall names the failed operation once, keeping the errno reachable
// for errors.Is. EAGAIN is passed through bare so that the would-block path
// stays free of allocation.
func wrapSyscall(op string, err error) error {
	if err == nil || err == syscall.EAGAIN {
		return err
	}
	return os.NewSyscallError(op, err)
}
