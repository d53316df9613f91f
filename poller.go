package mio

import "time"

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
