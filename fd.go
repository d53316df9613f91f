package mio

// fdHandle is the fd-owning core shared by RawFd and the socket and pipe
// types. It remembers the loop it is registered with so that Close can drop
// the registration first: an event already fetched for the fd can then never
// reach a new owner of the same fd number.
type fdHandle struct {
	fd    int
	owner fdOwner
}

// fdOwner is implemented by *EventLoop[M]; it is an interface only because a
// handle does not know the loop's message type.
type fdOwner interface {
	forget(fd int)
}

// handled is implemented by the library's own fd types, through the
// embedded fdHandle.
type handled interface {
	handle() *fdHandle
}

func (h *fdHandle) handle() *fdHandle { return h }

// Fd returns the file descriptor, or -1 after Close.
func (h *fdHandle) Fd() int { return h.fd }

// sysfd is the guard of every operation on the fd: the fd, or an error
// naming op once the handle is closed.
func (h *fdHandle) sysfd(op string) (int, error) {
	if h.fd < 0 {
		return -1, errClosed(op)
	}
	return h.fd, nil
}

// close deregisters the fd from its loop, if any, then closes it once. A
// second close returns ErrClosed rather than closing a number that may by
// then belong to someone else.
func (h *fdHandle) close() error {
	if h.fd < 0 {
		return errClosed("close")
	}
	if h.owner != nil {
		h.owner.forget(h.fd)
		h.owner = nil
	}
	fd := h.fd
	h.fd = -1
	return wrapSyscall("close", closeFd(fd))
}

// RawFd adapts a file descriptor the library did not create (an eventfd, a
// timerfd, an inotify fd, a terminal) so that it can be registered. RawFd
// takes ownership: close it with Close, which also drops its registration,
// rather than with unix.Close.
type RawFd struct {
	fdHandle
}

// NewRawFd wraps fd. The fd should be non-blocking if it is registered
// edge-triggered, since the handler must then read until ErrWouldBlock.
func NewRawFd(fd int) *RawFd {
	return &RawFd{fdHandle{fd: fd}}
}

// Close deregisters the fd from the loop it is registered with and closes
// it. A second Close returns ErrClosed.
func (r *RawFd) Close() error { return r.close() }
