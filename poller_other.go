//go:build !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

package mio

import "time"

// On systems with neither epoll nor kqueue the package still compiles, so
// that code importing it builds everywhere, but NewEventLoop fails with
// ErrUnsupported.

const pollerCarriesGen = false

type poller struct{}

func newPoller(int) (*poller, error) { return nil, ErrUnsupported }

func (*poller) add(int, uint32, Interest, PollOpt) error              { return ErrUnsupported }
func (*poller) modify(int, uint32, Interest, Interest, PollOpt) error { return ErrUnsupported }
func (*poller) remove(int, Interest) error                            { return ErrUnsupported }
func (*poller) wake() error                                           { return ErrUnsupported }
func (*poller) close() error                                          { return ErrUnsupported }

func (*poller) wait([]event, time.Duration) (int, bool, error) { return 0, false, ErrUnsupported }

func (p *poller) poll(evs []event, sleepFor func() time.Duration) (int, bool, error) {
	return p.lookThenWait(evs, sleepFor)
}
