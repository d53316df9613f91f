package mio

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// epollTargets counts the epoll registrations of fd number num in the
// loop's epoll instance, from /proc/self/fdinfo. A registration whose fd was
// closed while a dup kept its file open is still listed there.
func epollTargets(t testing.TB, l *EventLoop[int], num int) int {
	t.Helper()
	info, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", l.poller.epfd))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(info), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "tfd:" && f[1] == fmt.Sprint(num) {
			n++
		}
	}
	return n
}

// onlyWritable is a handler that fails on anything but Writable for want.
type onlyWritable struct {
	NopHandler[int]
	t        *testing.T
	what     string
	want     Token
	writable int
}

func (h *onlyWritable) Readable(_ *EventLoop[int], tok Token, hint ReadHint) {
	h.t.Fatalf("%s: Readable(token %d, hint %b): an event of the closed file reached the loop's handler", h.what, tok, hint)
}

func (h *onlyWritable) Writable(_ *EventLoop[int], tok Token) {
	if tok != h.want {
		h.t.Fatalf("%s: Writable for token %d, want only %d", h.what, tok, h.want)
	}
	h.writable++
}

// Closing a registered fd while a dup of it is open: with the library's
// Close the registration is dropped before the close; with a close behind
// the loop's back the kernel keeps the old registration alive through the
// dup (epoll keys it by file and number), and after Deregister its events,
// which carry the old generation, must reach no one, also not a new
// registration on the same fd number.
func TestDupCloseNoEventsAfterDeregister(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, raw := range []bool{false, true} {
		for _, opt := range []PollOpt{Level, Edge, Oneshot, Edge | Oneshot} {
			t.Run(fmt.Sprintf("raw=%v/opt=%d", raw, opt), func(t *testing.T) {
				checkNoFdLeaks(t)
				l, err := NewEventLoop[int](Config{})
				if err != nil {
					t.Fatal(err)
				}
				for round := range 50 {
					dupCloseRound(t, l, raw, opt, Token(10*round))
				}
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func dupCloseRound(t *testing.T, l *EventLoop[int], raw bool, opt PollOpt, tok Token) {
	a, b := rawPair(t)
	defer b.Close()
	num := a.Fd()
	if err := l.Register(a, tok+1, Readable, opt); err != nil {
		t.Fatal(err)
	}
	dup, err := unix.FcntlInt(uintptr(num), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dup)
	if raw {
		unix.Close(num) // behind the loop's back: the registration lives on
		if err := l.Deregister(a); err != nil {
			t.Fatalf("Deregister after the fd was closed: %v", err)
		}
		a.fd = -1
	} else if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// A new socket on the same number, registered readable and writable:
	// it is writable, never readable.
	c, cPeer, onNum := pairOn(t, num)
	defer c.Close()
	defer cPeer.Close()
	if !onNum {
		t.Fatalf("fd %d was taken by someone else", num)
	}
	if err := l.Register(c, tok+2, Readable|Writable, Level); err != nil {
		t.Fatal(err)
	}
	want := 1
	if raw {
		want = 2 // the old registration and the new one
	}
	if got := epollTargets(t, l, num); got != want {
		t.Fatalf("raw=%v: %d epoll registrations of fd %d, want %d", raw, got, num, want)
	}
	if _, err := unix.Write(b.Fd(), []byte("old")); err != nil { // makes the old file readable
		t.Fatal(err)
	}
	if raw && opt&Oneshot == 0 {
		// The kernel does report the old file: prove it, so that what
		// follows tests the generation check and not an empty poll. (A
		// Oneshot registration would be spent by this look.)
		evs := make([]event, 8)
		n, _, err := l.poller.wait(evs, 0)
		if err != nil {
			t.Fatal(err)
		}
		stale := false
		for _, ev := range evs[:n] {
			if int(ev.fd) == num && ev.ready&readyRead != 0 {
				stale = true
				if l.reg.current(ev.fd, ev.gen) != nil {
					t.Fatalf("the old file's event (gen %d) matches the current registration", ev.gen)
				}
			}
		}
		if !stale {
			t.Fatalf("the kernel reported no event for the old file (events %v)", evs[:n])
		}
		if _, err := unix.Write(b.Fd(), []byte("again")); err != nil { // a new edge
			t.Fatal(err)
		}
	}
	h := &onlyWritable{t: t, what: fmt.Sprintf("raw=%v opt=%d", raw, opt), want: tok + 2}
	for range 3 {
		if err := l.RunOnce(h, 0); err != nil {
			t.Fatal(err)
		}
	}
	if h.writable != 3 {
		t.Fatalf("the new registration got %d Writable calls in 3 polls, want 3", h.writable)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}
