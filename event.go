package mio

// readiness is what the kernel reported for one fd, in a form shared by the
// epoll and kqueue pollers so that dispatch is written once.
type readiness uint8

const (
	readyRead  readiness = 1 << iota // data or a pending connection
	readyWrite                       // room to write, or connect finished
	readyRdHup                       // peer shut down its writing side
	readyHup                         // both directions are closed
	readyErr                         // a pending socket error
)

// event is one fd's readiness from a poll, before dispatch.
type event struct {
	fd    int32
	gen   uint32 // generation of the registration the kernel reported for
	ready readiness
}

// readHint turns readiness into the hint for a Readable callback; zero means
// Readable is not called.
func (r readiness) readHint() ReadHint {
	var h ReadHint
	if r&readyRead != 0 {
		h |= DataHint
	}
	if r&(readyRdHup|readyHup) != 0 {
		h |= HupHint
	}
	if r&readyErr != 0 {
		h |= ErrorHint
	}
	return h
}

// hintFor is readHint as a registration with interest in sees it. HupHint
// is end-of-stream news, for a registration that reads: a write-only one
// hears only of errors, on every system. epoll reports EPOLLHUP to it when
// a socket is shut down both ways, but kqueue's write filter cannot tell a
// dead peer from the socket's own ShutWrite (both are EV_EOF without an
// errno), and the peer's half-close reaches neither kernel's write side;
// the Writable that both give says enough, as the write then fails.
func (r readiness) hintFor(in Interest) ReadHint {
	h := r.readHint()
	if in&Readable == 0 {
		h &= ErrorHint
	}
	return h
}

// wantsWritable reports whether a registration with the given interest gets a
// Writable callback for this readiness: when it can write, and also when the
// fd hung up or failed, so a writer waiting on a dead peer is told at once.
func (r readiness) wantsWritable(in Interest) bool {
	if in&Writable == 0 {
		return false
	}
	return r&(readyWrite|readyHup|readyErr) != 0
}
