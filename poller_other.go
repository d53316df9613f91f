//go:build !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

// The poller's names on the systems with neither epoll nor kqueue: the
// package still compiles there, so that code importing it builds
// everywhere, but NewEventLoop fails with ErrUnsupported.

package mio

import "time"

const pollerCarriesGen = false

type poller struct{}

func newPoller(int) (*poller, error) { return nil, unsupported("new event loop") }

func (*poller) add(int, uint32, Interest, PollOpt) error              { return ErrUnsupported }
func (*poller) modify(int, uint32, Interest, Interest, PollOpt) error { return ErrUnsupported }
func (*poller) remove(int, Interest) error                            { return ErrUnsupported }
func (*poller) wake() error                                           { return ErrUnsupported }
func (*poller) close() error                                          { return ErrUnsupported }

func (*poller) wait([]event, time.Duration) (int, bool, error) { return 0, false, ErrUnsupported }

func (p *poller) poll(evs []event, sleepFor func() time.Duration) (int, error) {
	return p.lookThenWait(evs, sleepFor)
}
