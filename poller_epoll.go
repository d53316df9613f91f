//go:build linux

package mio

import (
	"sync/atomic"
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
	max := min(len(evs), len(p.raw))
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		got, err := p.epollWait(p.raw[:max], timeout)
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
		// A poll that cannot block is made as a raw system call, skipping
		// the scheduler's bookkeeping for one that might; a busy loop
		// makes most of its polls this way (see EventLoop.poll).
		n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.epfd),
			uintptr(unsafe.Pointer(&raw[0])), uintptr(len(raw)), 0, 0, 0)
		if errno != 0 {
			return 0, errno
		}
		return int(n), nil
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

func (p *poller) close() error {
	errWake := unix.Close(p.wakefd)
	errEp := unix.Close(p.epfd)
	if errEp != nil {
		return errEp
	}
	return errWake
}
