//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Helpers shared by the reliability_*_test.go files (issue 6). Every wait is
// on the loop or on poll(2), bounded by a watchdog; nothing sleeps to let
// the kernel catch up.

// relWatchdog and relStop are timeout tokens the helpers use; tests use
// small tokens for their own fds and timers.
const (
	relWatchdog Token = 1<<62 + iota
	relStop
)

// relBound is the longest any loop in these tests may run: far beyond what
// a healthy run needs, short enough that a stall fails instead of hanging.
const relBound = 20 * time.Second

// relNoLeaks snapshots the open fds and checks, once the test and all its
// other cleanups are done, that it left none open.
func relNoLeaks(t *testing.T) {
	t.Helper()
	before := openFds()
	t.Cleanup(func() {
		if leaked := leakedSince(before); len(leaked) > 0 {
			t.Errorf("fds left open: %v", leaked)
		}
	})
}

// relH is a handler made of optional functions, with counters.
type relH struct {
	NopHandler[int]
	onR    func(l *EventLoop[int], tok Token, hint ReadHint)
	onW    func(l *EventLoop[int], tok Token)
	onT    func(l *EventLoop[int], tok Token)
	onTick func(l *EventLoop[int])
	reads  map[Token]int
	writes map[Token]int
	hints  map[Token]ReadHint
	t      *testing.T
}

func relNewH(t *testing.T) *relH {
	return &relH{t: t, reads: map[Token]int{}, writes: map[Token]int{}, hints: map[Token]ReadHint{}}
}

func (h *relH) Readable(l *EventLoop[int], tok Token, hint ReadHint) {
	h.reads[tok]++
	h.hints[tok] |= hint
	if h.onR != nil {
		h.onR(l, tok, hint)
	}
}

func (h *relH) Writable(l *EventLoop[int], tok Token) {
	h.writes[tok]++
	if h.onW != nil {
		h.onW(l, tok)
	}
}

func (h *relH) Timeout(l *EventLoop[int], tok Token) {
	switch tok {
	case relWatchdog:
		h.t.Errorf("loop still running after %v: stalled", relBound)
		l.Shutdown()
	case relStop:
		l.Shutdown()
	default:
		if h.onT != nil {
			h.onT(l, tok)
		}
	}
}

func (h *relH) Tick(l *EventLoop[int]) {
	if h.onTick != nil {
		h.onTick(l)
	}
}

// relRun runs l with h until a callback calls Shutdown (or sets a relStop
// timeout), failing the test if that takes longer than relBound.
func relRun(t *testing.T, l *EventLoop[int], h Handler[int]) {
	t.Helper()
	wd, err := l.Timeout(relWatchdog, relBound)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Run(h); err != nil {
		t.Fatal(err)
	}
	l.ClearTimeout(wd)
}

// relStopAfter makes the running loop stop after d: the quiet window in
// which a test checks that no further callback comes.
func relStopAfter(t *testing.T, l *EventLoop[int], d time.Duration) {
	t.Helper()
	if _, err := l.Timeout(relStop, d); err != nil {
		t.Error(err)
	}
}

// relTCPAcceptor binds a TCP acceptor to ip and a free port, not yet
// listening; it is closed at the end of the test.
func relTCPAcceptor(t *testing.T, ip netip.Addr) (*TCPAcceptor, SockAddr) {
	t.Helper()
	s := newTCPSocket4or6(t, ip)
	acc, err := s.Bind(InetAddr(ip, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acc.Close() })
	addr, err := acc.LocalAddr()
	if err != nil {
		t.Fatal(err)
	}
	return acc, addr
}

// relDeadTCPAddr returns a loopback address on which nothing listens: a
// port that was bound a moment ago and released.
func relDeadTCPAddr(t *testing.T, ip netip.Addr) SockAddr {
	t.Helper()
	acc, addr := relTCPAcceptor(t, ip)
	if err := acc.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// relFdOpen reports whether fd is an open descriptor.
func relFdOpen(fd int) bool {
	if fd < 0 {
		return false
	}
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

// relIsReset reports whether err is what reading or writing a reset
// connection gives.
func relIsReset(err error) bool {
	return errors.Is(err, unix.ECONNRESET) || errors.Is(err, unix.EPIPE)
}

// relSource is a deterministic byte stream: a fixed random block sent over
// and over, each lap rotated by a different amount, so that a lost,
// repeated or reordered chunk changes the running hash.
type relSource struct {
	block []byte
	total int64
	sent  int64
}

func relNewSource(total int64) *relSource {
	return &relSource{block: randomBytes(1<<20+7, 42), total: total}
}

// next returns the bytes that follow what was sent, without copying.
func (s *relSource) next() []byte {
	if s.sent >= s.total {
		return nil
	}
	n := int64(len(s.block))
	lap, off := s.sent/n, s.sent%n
	rot := (lap * 7919) % n
	start := (rot + off) % n
	end := n
	if start < rot {
		end = rot // the lap wraps: first the tail, then up to rot
	}
	p := s.block[start:end]
	if left := s.total - s.sent; int64(len(p)) > left {
		p = p[:left]
	}
	if int64(len(p)) > n-off {
		p = p[:n-off]
	}
	return p
}
