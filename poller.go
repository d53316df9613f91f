package mio

import "time"

// Where each file builds is in its name, as in Go's net and internal/poll:
// <concern>.go builds everywhere, <concern>_<platform>.go where the platform
// word says, and the //go:build line, where one is needed, says the same.
// A platform word is a GOOS name (linux, darwin, freebsd, netbsd, openbsd,
// dragonfly; the toolchain itself holds such files to their system, and
// android and ios to linux's and darwin's) or one of these group words:
//
//	unix        the six systems with a poller: linux, darwin, dragonfly,
//	            freebsd, netbsd, openbsd (not Go's wider "unix" tag: AIX,
//	            Solaris and illumos have neither epoll nor kqueue here)
//	bsd         the five kqueue systems: darwin, dragonfly, freebsd,
//	            netbsd, openbsd
//	other       every GOOS outside unix, where the API exists and fails
//	            with ErrUnsupported
//	socketcall  linux/386 and linux/s390x, whose socket system calls go
//	            through socketcall(2)
//	direct      unix but socketcall: each socket call has its own number
//
// poller_epoll.go (linux) and poller_kqueue.go (bsd) keep the poller's
// name. What differs between the systems of a group is a constant of
// sys_GOOS.go that one implementation reads, the other branch compiled
// out, rather than a file of its own.

// The platform poller is a concrete type named poller, one per platform file
// (poller_epoll.go, poller_kqueue.go, poller_other.go), never an interface,
// so that the hot path makes no dynamic calls. Each provides:
//
//	newPoller(capacity int) (*poller, error)
//	    opens the kernel object and the wake-up source, all close-on-exec;
//	    capacity is the most events one wait returns.
//	(*poller).add(fd int, gen uint32, in Interest, opt PollOpt) error
//	(*poller).modify(fd int, gen uint32, old, in Interest, opt PollOpt) error
//	(*poller).remove(fd int, old Interest) error
//	    the kernel side of Register, Reregister and Deregister; errors are
//	    returned bare (the loop wraps them once, with the operation).
//	(*poller).wait(evs []event, timeout time.Duration) (n int, woken bool, err error)
//	    fills evs[:n] with user events; a negative timeout waits for ever,
//	    zero does not block. EINTR is retried with what remains of the
//	    timeout. The wake-up source is drained inside wait and reported as
//	    woken, never as an event.
//	(*poller).poll(evs []event, sleepFor func() time.Duration) (n int, err error)
//	    the loop's poll: takes the events ready now and, only when there
//	    are none, asks sleepFor how long it may sleep (negative: until an
//	    event; zero: not at all) and waits that long. lookThenWait below
//	    is the plain way; epoll may park the goroutine instead.
//	(*poller).wake() error
//	    makes a sleeping or the next wait return promptly; safe from any
//	    goroutine.
//	(*poller).close() error
//
// and a constant pollerCarriesGen: true when the kernel hands back the
// registration's generation with each event (epoll's data word), false when
// the loop must stamp events with the generation current at fetch time
// (kqueue, whose udata is a pointer on most systems and so no place for an
// integer the garbage collector would see).

// lookThenWait is poll made of two waits: a look that cannot block, then,
// if it found nothing and sleepFor allows, a sleeping wait.
func (p *poller) lookThenWait(evs []event, sleepFor func() time.Duration) (int, error) {
	n, _, err := p.wait(evs, 0)
	if n > 0 || err != nil {
		return n, err
	}
	if d := sleepFor(); d != 0 {
		n, _, err = p.wait(evs, d)
	}
	return n, err
}
