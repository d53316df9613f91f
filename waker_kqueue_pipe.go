//go:build netbsd || openbsd

package mio

import "golang.org/x/sys/unix"

// OpenBSD has no EVFILT_USER, and x/sys does not define it for NetBSD (whose
// kernels before 10 lack it too): a pipe registered for reading wakes the
// kqueue instead. No filter has this number, so nothing is taken for a user
// event.
const evfiltUser = -1 << 16

// kqueueWaker is the wake-up pipe: wake writes a byte to w, wait drains r.
type kqueueWaker struct {
	wakeR, wakeW int
	drainBuf     [64]byte
}

func (p *poller) openWaker() error {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return err
	}
	p.wakeR, p.wakeW = fds[0], fds[1]
	if err := p.add(p.wakeR, 0, Readable, Level); err != nil {
		p.closeWaker()
		return err
	}
	return nil
}

func (p *poller) wakeIdent() int { return p.wakeR }

func (p *poller) wake() error {
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

// drainWake empties the pipe, which is registered level-triggered: a byte
// left behind would end every later wait at once.
func (p *poller) drainWake() {
	for {
		n, err := unix.Read(p.wakeR, p.drainBuf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || n < len(p.drainBuf) {
			return
		}
	}
}

func (p *poller) closeWaker() error {
	errW := unix.Close(p.wakeW)
	errR := unix.Close(p.wakeR)
	if errR != nil {
		return errR
	}
	return errW
}
