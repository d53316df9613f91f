//go:build darwin || dragonfly || freebsd || netbsd || openbsd

// The kqueue poller, for the BSDs and macOS: it marshals what kqueue.go
// decides.

package mio

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// kqueue's udata is a pointer on most systems, no place for an integer the
// garbage collector would take for one: the loop stamps generations itself.
const pollerCarriesGen = false

// The poller only marshals: what to register, which errors count and what a
// returned event means are decided in kqueue.go.
type poller struct {
	kq    int
	raw   []unix.Kevent_t
	ts    unix.Timespec // kept here so the syscall's pointer does not escape
	merge mergeScratch
	fds   []kfdState // by fd number, for registered fds
	gone  kqueuePending
	kqueueWaker
}

// kqueueNoWait is the zero timeout of calls that only apply changes. It is
// only ever read, by the kernel.
var kqueueNoWait unix.Timespec

func newPoller(capacity int) (*poller, error) {
	// x/sys has no kqueue1 on any of these systems.
	kq, _, err := openCloexec(0, func() (int, int, error) {
		kq, err := unix.Kqueue()
		return kq, -1, err
	})
	if err != nil {
		return nil, wrapSyscall("kqueue", err)
	}
	p := &poller{kq: kq, raw: make([]unix.Kevent_t, capacity)}
	if err := p.openWaker(); err != nil {
		unix.Close(kq)
		return nil, wrapSyscall("kqueue wake-up", err)
	}
	return p, nil
}

func (p *poller) add(fd int, _ uint32, in Interest, opt PollOpt) error {
	fifo, err := kqueueFifo(fd)
	if err != nil {
		return err
	}
	return p.change(fd, 0, in, opt, fifo)
}

// modify and remove take the fd's kind from its Register: a registered fd
// is the same file until it is closed, and a closed one fails with EBADF.
func (p *poller) modify(fd int, _ uint32, old, in Interest, opt PollOpt) error {
	return p.change(fd, old, in, opt, p.state(fd)&kfdFifo != 0)
}

func (p *poller) remove(fd int, old Interest) error {
	err := p.change(fd, old, 0, 0, p.state(fd)&kfdFifo != 0)
	// The loop forgets fd whatever the kernel answered.
	p.setState(fd, 0)
	p.gone.drop(fd)
	return err
}

// kqueueFifo reports whether fd is a pipe or FIFO, which kqueueWatches
// gives a watch on the reader's close.
func kqueueFifo(fd int) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false, err
	}
	return uint32(st.Mode)&unix.S_IFMT == unix.S_IFIFO, nil
}

func (p *poller) change(fd int, old, in Interest, opt PollOpt, fifo bool) error {
	cs := kqueueChanges(fd, old, in, opt, fifo)
	var errs [kqueueMaxChanges]syscall.Errno
	if err := p.apply(&cs, &errs); err != nil {
		return err
	}
	errno, undo, gone := kqueueOutcome(old, &cs, &errs, fifo)
	if errno == 0 {
		st := kqueueFdState(fifo, in, opt)
		p.setState(fd, st)
		if gone {
			p.gone.add(fd, kqueueGoneRepeats(st))
		} else {
			p.gone.drop(fd)
		}
		return nil
	}
	if undo.n > 0 {
		var ignored [kqueueMaxChanges]syscall.Errno
		p.apply(&undo, &ignored)
	}
	return errno
}

// state is what the poller knows of fd, zero for an fd it does not hold.
func (p *poller) state(fd int) kfdState {
	if fd < 0 || fd >= len(p.fds) {
		return 0
	}
	return p.fds[fd]
}

// setState records fd's state; the table grows only for an fd number
// larger than any registered before.
func (p *poller) setState(fd int, st kfdState) {
	if fd >= len(p.fds) {
		if st == 0 {
			return
		}
		grown := make([]kfdState, max(2*len(p.fds), fd+1, 64))
		copy(grown, p.fds)
		p.fds = grown
	}
	p.fds[fd] = st
}

// apply submits a change list and stores each change's errno in errs. Where
// the system has EV_RECEIPT, one call does it all, every change answered by
// a receipt in order; elsewhere each change is a call of its own with no
// event list, so that its errno comes back as the call's error and no
// pending event is consumed. The returned error is for a failure of the
// call as a whole.
func (p *poller) apply(cs *kchanges, errs *[kqueueMaxChanges]syscall.Errno) error {
	var in, out [kqueueMaxChanges]unix.Kevent_t
	n := cs.n
	if n == 0 {
		return nil
	}
	for i, c := range cs.slice() {
		unix.SetKevent(&in[i], c.ident, kqueueFilterOut(c.filter), kqueueFlagsOut(c.flags))
	}
	if evReceipt == 0 {
		for i := range n {
			_, err := p.kevent(in[i:i+1], nil)
			errs[i] = kqueueErrno(err)
		}
		return nil
	}
	got, err := p.kevent(in[:n], out[:kqueueReceiptRoom(cs)])
	if err != nil {
		return err
	}
	var receipts [kqueueMaxChanges]kqEvent
	for i := range got {
		receipts[i] = kqueueEventIn(&out[i])
	}
	kqueueReceipts(cs, receipts[:got], errs)
	return nil
}

// kevent applies changes, retrying EINTR: an add repeated is harmless and a
// delete repeated answers ENOENT, which does not count.
func (p *poller) kevent(changes, events []unix.Kevent_t) (int, error) {
	for {
		n, err := unix.Kevent(p.kq, changes, events, &kqueueNoWait)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// kqueueErrno turns a call's error into the errno of its only change.
func kqueueErrno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	if errno, ok := err.(syscall.Errno); ok {
		return errno
	}
	return syscall.EINVAL
}

// kqueueEventIn is a returned event in portable form.
func kqueueEventIn(raw *unix.Kevent_t) kqEvent {
	return kqEvent{
		ident:  uint64(raw.Ident),
		filter: kqueueFilterIn(int(raw.Filter)),
		flags:  kqueueFlagsIn(int(raw.Flags)),
		fflags: raw.Fflags,
		data:   int64(raw.Data),
	}
}

func kqueueFilterOut(f kfilter) int {
	switch f {
	case kfRead:
		return unix.EVFILT_READ
	case kfWrite:
		return unix.EVFILT_WRITE
	}
	return evfiltUser
}

func kqueueFilterIn(f int) kfilter {
	switch f {
	case unix.EVFILT_READ:
		return kfRead
	case unix.EVFILT_WRITE:
		return kfWrite
	case evfiltUser:
		return kfUser
	}
	return kfNone
}

func kqueueFlagsOut(f kflags) int {
	var k int
	for _, m := range kqueueFlagMap {
		if f&m.portable != 0 {
			k |= m.kernel
		}
	}
	return k
}

func kqueueFlagsIn(k int) kflags {
	var f kflags
	for _, m := range kqueueFlagMap {
		if m.kernel != 0 && k&m.kernel != 0 {
			f |= m.portable
		}
	}
	return f
}

var kqueueFlagMap = [...]struct {
	portable kflags
	kernel   int
}{
	{kfAdd, unix.EV_ADD},
	{kfDelete, unix.EV_DELETE},
	{kfEnable, unix.EV_ENABLE},
	{kfClear, unix.EV_CLEAR},
	{kfOneshot, unix.EV_ONESHOT},
	{kfReceipt, evReceipt},
	{kfEOF, unix.EV_EOF},
	{kfError, unix.EV_ERROR},
}

func (p *poller) poll(evs []event, sleepFor func() time.Duration) (int, error) {
	return p.lookThenWait(evs, sleepFor)
}

func (p *poller) wait(evs []event, timeout time.Duration) (n int, woken bool, err error) {
	room := min(len(evs), len(p.raw))
	if p.gone.len() > 0 {
		// Events the kernel would not give are due: no sleep, and room
		// for them (translate appends them).
		timeout = 0
		room -= min(p.gone.len(), room)
	}
	var start time.Time
	if timeout > 0 {
		start = time.Now()
	}
	remaining := timeout
	for {
		d, capped := kqueueSleep(remaining)
		var tsp *unix.Timespec
		if d >= 0 {
			p.ts = unix.NsecToTimespec(int64(d))
			tsp = &p.ts
		}
		got, err := unix.Kevent(p.kq, nil, p.raw[:room], tsp)
		if err == nil && (got > 0 || !capped) {
			return p.translate(evs, got)
		}
		if err != nil && err != unix.EINTR {
			return 0, false, err
		}
		// A signal interrupted the sleep, or a capped sleep ran out: sleep
		// again for what is left, so callers never see an early return.
		if timeout > 0 {
			remaining = kqueueRemaining(timeout, time.Since(start))
		}
	}
}

func (p *poller) translate(evs []event, got int) (n int, woken bool, err error) {
	wakeIdent := p.wakeIdent()
	for i := range got {
		raw := &p.raw[i]
		st := p.state(int(raw.Ident))
		r, wake := kqueueReadiness(kqueueEventIn(raw), wakeIdent, st)
		p.gone.noteGone(int(raw.Ident), r, st)
		if wake {
			woken = true
			continue
		}
		if r == 0 {
			continue
		}
		evs[n] = event{fd: int32(raw.Ident), ready: r}
		n++
	}
	if woken {
		p.drainWake()
	}
	n += p.gone.take(evs[n:min(len(evs), len(p.raw))])
	return len(mergeByFd(evs[:n], &p.merge)), woken, nil
}

func (p *poller) close() error {
	errWake := p.closeWaker()
	errKq := unix.Close(p.kq)
	if errKq != nil {
		return errKq
	}
	return errWake
}
