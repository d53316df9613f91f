//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"io"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Readiness a turn of Run leaves behind that the kernel does not signal
// again: data a level-triggered handler left unread, and interest added to
// a level-triggered fd that epoll still holds on its ready list. A loop
// that slept after a turn without looking at the kernel first (an idea
// measured and dropped, bench/results/NOTES.md section 5) would miss both;
// these tests then run into their guard timeout.

// runGuarded runs l with r until r's callbacks call Shutdown, or fails the
// test if that has not happened after 10 s.
func runGuarded(t *testing.T, l *EventLoop[int], r *recorder) {
	t.Helper()
	const guard Token = 1 << 30
	if _, err := l.Timeout(guard, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	timedOut := false
	h := &guardedRecorder{recorder: r, onTimeout: func(l *EventLoop[int], tok Token) {
		if tok == guard {
			timedOut = true
			l.Shutdown()
		}
	}}
	if err := l.Run(h); err != nil {
		t.Fatal(err)
	}
	if timedOut {
		t.Fatalf("Run slept with readiness left; callbacks so far: %v", r.calls)
	}
}

type guardedRecorder struct {
	*recorder
	onTimeout func(*EventLoop[int], Token)
}

func (g *guardedRecorder) Timeout(l *EventLoop[int], t Token) { g.onTimeout(l, t) }

// readableFd is an fd a handler can read.
type readableFd interface {
	Evented
	io.Reader
}

// readers lists the fd kinds the level-triggered test reads: the library's
// stream sockets and pipes, and a RawFd read with read(2).
var readers = []struct {
	name string
	open func(t *testing.T) (r readableFd, peerFd int)
}{
	{"unix-socket", func(t *testing.T) (readableFd, int) {
		c, s := unixPair(t, 0)
		return s, c.Fd()
	}},
	{"pipe", func(t *testing.T) (readableFd, int) {
		r, w, err := Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); w.Close() })
		return r, w.Fd()
	}},
	{"raw-fd", func(t *testing.T) (readableFd, int) {
		a, b := socketPair(t)
		return rawReader{a}, b.Fd()
	}},
}

type rawReader struct{ *RawFd }

func (r rawReader) Read(p []byte) (int, error) {
	n, err := unix.Read(r.Fd(), p)
	if err == unix.EAGAIN {
		return 0, ErrWouldBlock
	}
	return n, err
}

// A level-triggered fd whose handler reads less than is there is reported
// again by Run, although nothing new arrives.
func TestRunReportsLevelDataLeftUnread(t *testing.T) {
	for _, k := range readers {
		t.Run(k.name, func(t *testing.T) {
			l := newLoop(t)
			rd, peer := k.open(t)
			if err := l.Register(rd, 1, Readable, Level); err != nil {
				t.Fatal(err)
			}
			if _, err := unix.Write(peer, []byte("abc")); err != nil {
				t.Fatal(err)
			}
			var got []byte
			r := &recorder{onReadable: func(l *EventLoop[int], _ Token, _ ReadHint) {
				var one [1]byte
				if n, err := rd.Read(one[:]); n == 1 {
					got = append(got, one[0])
				} else {
					t.Errorf("Read: %d, %v", n, err)
				}
				if len(got) == 3 {
					l.Shutdown()
				}
			}}
			runGuarded(t, l, r)
			if string(got) != "abc" {
				t.Fatalf("read %q, want \"abc\"", got)
			}
		})
	}
}

// A registration changed during a turn is reported even when the kernel
// does not signal the change: here a fd, read dry, gains Writable
// interest; level-triggered, epoll still holds it on its ready list.
func TestRunReportsWritableAddedInTurn(t *testing.T) {
	for _, opt := range []PollOpt{Level, Edge} {
		t.Run(optName(opt), func(t *testing.T) {
			l := newLoop(t)
			c, s := unixPair(t, 0)
			if err := l.Register(s, 1, Readable, opt); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			r := &recorder{}
			r.onReadable = func(l *EventLoop[int], tok Token, _ ReadHint) {
				var buf [16]byte
				if n, err := s.Read(buf[:]); n != 1 {
					t.Errorf("Read: %d, %v", n, err)
				}
				if err := l.Reregister(s, tok, Readable|Writable, opt); err != nil {
					t.Error(err)
				}
			}
			r.onWritable = func(l *EventLoop[int], _ Token) { l.Shutdown() }
			runGuarded(t, l, r)
		})
	}
}

func optName(opt PollOpt) string {
	if opt&Edge != 0 {
		return "edge"
	}
	return "level"
}
