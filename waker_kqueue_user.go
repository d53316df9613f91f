//go:build darwin || dragonfly || freebsd

package mio

import "golang.org/x/sys/unix"

// These systems have EVFILT_USER, a kernel event the process triggers itself:
// waking needs no fd beyond the kqueue.
const evfiltUser = unix.EVFILT_USER

// kqueueUserIdent names the wake-up event among EVFILT_USER events, which
// have an ident space of their own, apart from fd numbers.
const kqueueUserIdent = 0

// kqueueWaker holds nothing: the wake-up event lives in the kqueue itself.
type kqueueWaker struct{}

// openWaker registers the wake-up event with EV_CLEAR, so that delivering
// it also resets the trigger and there is nothing to drain.
func (p *poller) openWaker() error {
	var ch [1]unix.Kevent_t
	unix.SetKevent(&ch[0], kqueueUserIdent, unix.EVFILT_USER, unix.EV_ADD|unix.EV_CLEAR)
	_, err := p.kevent(ch[:], nil)
	return err
}

// wakeIdent is -1: no fd stands for the wake-up.
func (p *poller) wakeIdent() int { return -1 }

func (p *poller) wake() error {
	var ch [1]unix.Kevent_t
	unix.SetKevent(&ch[0], kqueueUserIdent, unix.EVFILT_USER, 0)
	ch[0].Fflags = unix.NOTE_TRIGGER
	_, err := p.kevent(ch[:], nil)
	return err
}

func (p *poller) drainWake() {}

func (p *poller) closeWaker() error { return nil }
