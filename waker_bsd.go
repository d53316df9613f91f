//go:build darwin || dragonfly || freebsd || netbsd || openbsd

// The kqueue poller's wake-up, for the BSDs and macOS: an EVFILT_USER
// event where the system has one (macOS, DragonFly, FreeBSD), a pipe
// elsewhere (NetBSD, OpenBSD).

package mio

import "golang.org/x/sys/unix"

// noFilter is the evfiltUser of the systems without EVFILT_USER. No filter
// has this number, so nothing is taken for a user event.
const noFilter = -1 << 16

// userWake: the kqueue wakes itself, with no fd beyond it. The other branch
// is compiled out.
const userWake = evfiltUser != noFilter

// kqueueUserIdent names the wake-up event among EVFILT_USER events, which
// have an ident space of their own, apart from fd numbers.
const kqueueUserIdent = 0

// kqueueWaker is the wake-up pipe where there is no user event: wake
// writes a byte to wakeW, wait drains wakeR.
type kqueueWaker struct {
	wakeR, wakeW int
}

// openWaker registers the wake-up. The user event has EV_CLEAR, so that
// delivering it also resets the trigger and there is nothing to drain; the
// pipe is registered level-triggered and drained by drainWake.
func (p *poller) openWaker() error {
	if userWake {
		var ch [1]unix.Kevent_t
		unix.SetKevent(&ch[0], kqueueUserIdent, evfiltUser, unix.EV_ADD|unix.EV_CLEAR)
		_, err := p.kevent(ch[:], nil)
		return err
	}
	r, w, err := sysPipe()
	if err != nil {
		return err
	}
	p.wakeR, p.wakeW = r, w
	if err := p.add(p.wakeR, 0, Readable, Level); err != nil {
		p.closeWaker()
		return err
	}
	return nil
}

// wakeIdent is the fd that stands for the wake-up, -1 for none.
func (p *poller) wakeIdent() int {
	if userWake {
		return -1
	}
	return p.wakeR
}

func (p *poller) wake() error {
	if userWake {
		var ch [1]unix.Kevent_t
		unix.SetKevent(&ch[0], kqueueUserIdent, evfiltUser, 0)
		ch[0].Fflags = noteTrigger
		_, err := p.kevent(ch[:], nil)
		return err
	}
	one := [1]byte{1}
	for {
		_, err := unix.Write(p.wakeW, one[:])
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			// The pipe is full, so a wake-up is pending already.
			return nil
		}
		return err
	}
}

// drainWake empties the pipe: a byte left behind would end every later
// wait at once.
func (p *poller) drainWake() {
	var buf [64]byte
	for !userWake {
		n, err := unix.Read(p.wakeR, buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || n < len(buf) {
			return
		}
	}
}

func (p *poller) closeWaker() error {
	if userWake {
		return nil
	}
	errW := unix.Close(p.wakeW)
	errR := unix.Close(p.wakeR)
	if errR != nil {
		return errR
	}
	return errW
}
