//go:build linux

// The epoll poller, for Linux.

package mio

import (
	"errors"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// epoll's data word carries the fd and the registration's generation, so an
// event from a kernel registration the loop has since replaced (an fd closed
// behind its back while a dup kept the old one alive) is recognised as stale.
const pollerCarriesGen = true

// wakeGen marks the wake-up eventfd's events; user registrations never get
// generation zero.
const wakeGen = 0

// hasPwait2 is cleared the first time epoll_pwait2 answers ENOSYS (kernels
// before 5.11); epoll_wait's millisecond timeout is then rounded up so a
// timer is never early.
var hasPwait2 atomic.Bool

func init() { hasPwait2.Store(true) }

type poller struct {
	epfd   int
	wakefd int
	raw    []unix.EpollEvent
	ts     unix.Timespec // kept here so the syscall's pointer does not escape
	drain  [8]byte

	// park is a non-blocking duplicate of epfd registered with Go's own
	// network poller. A loop with nothing to do parks its goroutine there,
	// as goroutines of Go's net do, rather than blocking its thread in
	// epoll_pwait2: a thread blocked in a system call keeps sysmon polling
	// every 20µs and makes it hand the loop's P to another thread, and on
	// one CPU those threads preempt the loop. nil if the runtime would not
	// take the fd; the loop then blocks in epoll_pwait2.
	park     *os.File
	parkConn syscall.RawConn
	parkTry  func(uintptr) bool // p.tryPoll, bound once
	parkRaw  []unix.EpollEvent
	parkGot  int
	parkErr  unix.Errno
	deadline bool                 // a read deadline is set on park
	sleepFor func() time.Duration // poll's, until tryPoll has asked it
}

func newPoller(capacity int) (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, wrapSyscall("epoll_create1", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, wrapSyscall("eventfd", err)
	}
	p := &poller{epfd: epfd, wakefd: wakefd, raw: make([]unix.EpollEvent, capacity)}
	p.openPark()
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd), Pad: wakeGen}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		p.close()
		return nil, wrapSyscall("epoll_ctl", err)
	}
	return p, nil
}

// epollFlags is the kernel's spelling of an interest and options.
func epollFlags(in Interest, opt PollOpt) uint32 {
	var f uint32
	if in&Readable != 0 {
		f |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if in&Writable != 0 {
		f |= unix.EPOLLOUT
	}
	if opt&Edge != 0 {
		f |= unix.EPOLLET
	}
	if opt&Oneshot != 0 {
		f |= unix.EPOLLONESHOT
	}
	return f
}

// epollReadiness translates one event's bits. EPOLLHUP and EPOLLERR come
// whether or not they were asked for.
func epollReadiness(bits uint32) readiness {
	var r readiness
	if bits&(unix.EPOLLIN|unix.EPOLLPRI) != 0 {
		r |= readyRead
	}
	if bits&unix.EPOLLOUT != 0 {
		r |= readyWrite
	}
	if bits&unix.EPOLLRDHUP != 0 {
		r |= readyRdHup
	}
	if bits&unix.EPOLLHUP != 0 {
		r |= readyHup
	}
	if bits&unix.EPOLLERR != 0 {
		r |= readyErr
	}
	return r
}

func (p *poller) ctl(op, fd int, gen uint32, in Interest, opt PollOpt) error {
	ev := unix.EpollEvent{Events: epollFlags(in, opt), Fd: int32(fd), Pad: int32(gen)}
	return unix.EpollCtl(p.epfd, op, fd, &ev)
}

func (p *poller) add(fd int, gen uint32, in Interest, opt PollOpt) error {
	return p.ctl(unix.EPOLL_CTL_ADD, fd, gen, in, opt)
}

func (p *poller) modify(fd int, gen uint32, _, in Interest, opt PollOpt) error {
	return p.ctl(unix.EPOLL_CTL_MOD, fd, gen, in, opt)
}

func (p *poller) remove(fd int, _ Interest) error {
	// A non-nil event keeps kernels before 2.6.9 happy; it costs nothing.
	var ev unix.EpollEvent
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, &ev)
}

func (p *poller) wait(evs []event, timeout time.Duration) (n int, woken bool, err error) {
	room := min(len(evs), len(p.raw))
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		got, err := p.epollWait(p.raw[:room], timeout)
		if err == nil {
			return p.translate(evs, got)
		}
		if err != unix.EINTR {
			return 0, false, err
		}
		// A signal (Go's preemption SIGURG, SIGPROF) interrupted the sleep:
		// sleep again for what is left, so callers never see an early return.
		if timeout > 0 {
			if timeout = time.Until(deadline); timeout < 0 {
				timeout = 0
			}
		}
	}
}

func (p *poller) translate(evs []event, got int) (n int, woken bool, err error) {
	for i := range got {
		raw := &p.raw[i]
		if raw.Fd == int32(p.wakefd) && raw.Pad == wakeGen {
			woken = true
			// The eventfd is non-blocking and level-triggered: one read
			// resets its counter, so it can never keep the loop spinning.
			unix.Read(p.wakefd, p.drain[:])
			continue
		}
		evs[n] = event{fd: raw.Fd, gen: uint32(raw.Pad), ready: epollReadiness(raw.Events)}
		n++
	}
	return n, woken, nil
}

func (p *poller) epollWait(raw []unix.EpollEvent, timeout time.Duration) (int, error) {
	if timeout == 0 {
		// lookThenWait's look: a raw call, as it cannot block.
		n, errno := p.pollNow(raw)
		if errno != 0 {
			return 0, errno
		}
		return n, nil
	}
	if hasPwait2.Load() {
		n, err := p.pwait2(raw, timeout)
		if err != unix.ENOSYS {
			return n, err
		}
		hasPwait2.Store(false)
	}
	return unix.EpollWait(p.epfd, raw, timeoutMillis(timeout))
}

// pwait2 is epoll_pwait2(2), which takes a nanosecond timeout; x/sys has no
// wrapper for it.
func (p *poller) pwait2(raw []unix.EpollEvent, timeout time.Duration) (int, error) {
	var tsp uintptr
	if timeout >= 0 {
		p.ts = unix.NsecToTimespec(int64(timeout))
		tsp = uintptr(unsafe.Pointer(&p.ts))
	}
	n, _, errno := unix.Syscall6(unix.SYS_EPOLL_PWAIT2, uintptr(p.epfd),
		uintptr(unsafe.Pointer(&raw[0])), uintptr(len(raw)), tsp, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// timeoutMillis rounds up, so that a wait is never shorter than asked.
func timeoutMillis(d time.Duration) int {
	if d < 0 {
		return -1
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > 1<<31-1 {
		ms = 1<<31 - 1
	}
	return int(ms)
}

func (p *poller) wake() error {
	one := [8]byte{1}
	_, err := unix.Write(p.wakefd, one[:])
	if err == unix.EAGAIN {
		// The counter is saturated: a wake-up is already pending.
		return nil
	}
	return err
}

// openPark duplicates epfd for Go's network poller; on any failure the
// loop keeps blocking in epoll_pwait2.
func (p *poller) openPark() {
	dup, err := unix.FcntlInt(uintptr(p.epfd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return
	}
	// O_NONBLOCK is what makes os.NewFile hand the fd to the netpoller;
	// epoll_wait itself ignores it.
	if unix.SetNonblock(dup, true) != nil {
		unix.Close(dup)
		return
	}
	f := os.NewFile(uintptr(dup), "mio-epoll")
	rc, err := f.SyscallConn()
	// Deadlines work only on an fd the netpoller took.
	if err != nil || f.SetReadDeadline(time.Time{}) != nil {
		f.Close()
		return
	}
	p.park, p.parkConn, p.parkTry = f, rc, p.tryPoll
}

// pollNow is epoll_pwait with a zero timeout, made as a raw system call:
// it cannot block, so the scheduler's bookkeeping for one that might is
// skipped.
func (p *poller) pollNow(raw []unix.EpollEvent) (int, unix.Errno) {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.epfd),
		uintptr(unsafe.Pointer(&raw[0])), uintptr(len(raw)), 0, 0, 0)
	return int(n), errno
}

// poll looks at epfd and, when nothing is ready and sleepFor allows,
// parks the goroutine in Go's network poller until something is or the
// time is up. The look is the first call of RawConn.Read's callback, made
// after Read has cleared the netpoller's old news of epfd, so anything
// that becomes ready after the look wakes the goroutine. Should the
// netpoller fail, the loop stops parking and blocks in epoll_pwait2 from
// then on.
func (p *poller) poll(evs []event, sleepFor func() time.Duration) (int, error) {
	if p.parkConn == nil {
		return p.lookThenWait(evs, sleepFor)
	}
	if p.deadline {
		// An expired deadline would fail Read before the look.
		p.park.SetReadDeadline(time.Time{})
		p.deadline = false
	}
	p.parkRaw = p.raw[:min(len(evs), len(p.raw))]
	p.parkGot, p.parkErr, p.sleepFor = 0, 0, sleepFor
	err := p.parkConn.Read(p.parkTry)
	p.parkRaw, p.sleepFor = nil, nil
	switch {
	case err == nil && p.parkErr != 0:
		return 0, p.parkErr
	case err == nil:
		n, _, err := p.translate(evs, p.parkGot)
		return n, err
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 0, nil
	}
	p.stopParking()
	return 0, nil
}

// tryPoll is the callback of poll's RawConn.Read, called once before Read
// parks and again each time the netpoller reports epfd readable: true
// once it has taken events, failed, or been told not to sleep.
func (p *poller) tryPoll(uintptr) bool {
	n, errno := p.pollNow(p.parkRaw)
	for errno == unix.EINTR {
		n, errno = p.pollNow(p.parkRaw)
	}
	if n > 0 || errno != 0 {
		p.parkGot, p.parkErr = n, errno
		return true
	}
	if p.sleepFor == nil {
		return false // woken for nothing: sleep on
	}
	d := p.sleepFor()
	p.sleepFor = nil
	if d == 0 {
		return true
	}
	if d > 0 {
		p.park.SetReadDeadline(time.Now().Add(d))
		p.deadline = true
	}
	return false
}

// stopParking gives up the netpoller for epoll_pwait2.
func (p *poller) stopParking() {
	p.park.Close()
	p.park, p.parkConn = nil, nil
}

func (p *poller) close() error {
	if p.park != nil {
		p.park.Close()
	}
	errWake := unix.Close(p.wakefd)
	errEp := unix.Close(p.epfd)
	if errEp != nil {
		return errEp
	}
	return errWake
}
