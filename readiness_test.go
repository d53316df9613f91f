//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// Registration and readiness: what Level, Edge and Oneshot report, no
// stale event after a change in the same batch, hang-ups and errors that
// arrive unasked, and registration errors.

// Readiness edge cases: data followed by FIN, error and hang-up reported
// unasked without spinning, and an unconnected socket.

// A dead socket is reported though the registration asks only for
// Writable, and does not make the loop spin: an error comes as
// Readable(ErrorHint) and Writable, a peer that is gone without an error
// as Writable whose write fails. A handler that deregisters then hears
// nothing more, and an edge-triggered registration left in place is
// reported once.
func TestErrorAndHangUpUnaskedNoSpin(t *testing.T) {
	type setup struct {
		name string
		make func(t *testing.T) Evented
	}
	for _, st := range []setup{
		{"tcp-reset", func(t *testing.T) Evented { return resetPair(t, pairKinds[0]) }},
		{"unix-peer-closed", func(t *testing.T) Evented {
			a, b := socketPair(t)
			b.Close()
			return a
		}},
		{"refused-connect", func(t *testing.T) Evented { return refusedConnect(t) }},
	} {
		for _, opt := range []PollOpt{Level, Edge} {
			name := st.name + "/level"
			if opt == Edge {
				name = st.name + "/edge"
			}
			t.Run(name, func(t *testing.T) {
				checkNoFdLeaks(t)
				l := newLoop(t)
				fd := st.make(t)
				if err := l.Register(fd, 1, Writable, opt); err != nil {
					t.Fatal(err)
				}
				h := &recorder{}
				var hint ReadHint
				var writeErr error
				handled := func(l *EventLoop[int]) {
					if opt == Level {
						if err := l.Deregister(fd); err != nil {
							t.Error(err)
						}
					}
				}
				h.onReadable = func(l *EventLoop[int], _ Token, hh ReadHint) {
					hint |= hh
					if hh&ErrorHint != 0 {
						handled(l)
					}
				}
				h.onWritable = func(l *EventLoop[int], _ Token) {
					_, err := unix.Write(fd.Fd(), []byte("x"))
					if err != nil && err != unix.EAGAIN && writeErr == nil {
						writeErr = err
						handled(l)
					}
				}
				runOnce(t, l, h, pending)
				if hint&HupHint != 0 {
					t.Fatalf("write-only registration got HupHint (hints %03b): it is for readers only", hint)
				}
				if hint&ErrorHint == 0 && writeErr == nil {
					t.Fatalf("write-only registration of a dead socket: Readable hints %03b, Writable %d and no failed write; want ErrorHint or a failing write", hint, h.count("w", 1))
				}
				first := h.count("r", 1) + h.count("w", 1)
				// The quiet check: 100ms of polling brings nothing more.
				start := time.Now()
				for time.Since(start) < 100*time.Millisecond {
					runOnce(t, l, h, 100*time.Millisecond-time.Since(start))
				}
				if more := h.count("r", 1) + h.count("w", 1) - first; more != 0 {
					t.Fatalf("%d more callbacks in 100ms after the hang-up was handled: the loop spins", more)
				}
			})
		}
	}
}

// A registered socket that was never connected never looks connected:
// whatever the loop reports for it (Linux reports it writable and hung up),
// no Readable carries DataHint, TakeError is nil, PeerAddr gives ENOTCONN,
// and neither Read nor Write moves data or pretends to wait.
func TestUnconnectedSocketNeverLooksConnected(t *testing.T) {
	for _, kind := range []string{"tcp4", "unix"} {
		t.Run(kind, func(t *testing.T) {
			checkNoFdLeaks(t)
			l := newLoop(t)
			var sock Socket
			if kind == "unix" {
				u, err := NewUnixSocket()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { u.Close() })
				sock = u
			} else {
				sock = newTCPSocket4or6(t, loopback4)
			}
			if err := l.Register(sock, 1, Readable|Writable, Level); err != nil {
				t.Fatal(err)
			}
			check := func(when string) {
				if err := sock.TakeError(); err != nil {
					t.Errorf("%s: TakeError %v, want nil", when, err)
				}
				if _, err := sock.PeerAddr(); !errors.Is(err, syscall.ENOTCONN) {
					t.Errorf("%s: PeerAddr %v, want ENOTCONN", when, err)
				}
			}
			h := &recorder{}
			h.onReadable = func(_ *EventLoop[int], _ Token, hint ReadHint) {
				check("Readable")
				if hint&DataHint != 0 {
					t.Errorf("unconnected socket reported data: hints %03b", hint)
				}
			}
			h.onWritable = func(*EventLoop[int], Token) { check("Writable") }
			runOnce(t, l, h, 50*time.Millisecond)
			runOnce(t, l, h, 50*time.Millisecond)
			check("after polling")
			var buf [8]byte
			n, rerr := sock.Read(buf[:])
			if n != 0 || rerr == nil || rerr == ErrWouldBlock {
				t.Errorf("Read of an unconnected socket = %d, %v; want 0 and an error", n, rerr)
			}
			n, werr := sock.Write([]byte("x"))
			if n != 0 || werr == nil || werr == ErrWouldBlock {
				t.Errorf("Write to an unconnected socket = %d, %v; want 0 and an error", n, werr)
			}
			t.Logf("callbacks: %d Readable (hints %03b), %d Writable; Read %v; Write %v",
				h.count("r", 1), h.hints(1), h.count("w", 1), rerr, werr)
		})
	}
}

func TestLevelReportsUntilDrained(t *testing.T) {
	l := newLoop(t)
	a, b := socketPair(t)
	writeAll(t, b, []byte("x"))
	if err := l.Register(a, 1, Readable, Level); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	runOnce(t, l, r, pending)
	runOnce(t, l, r, 0)
	if got := r.count("r", 1); got != 2 {
		t.Fatalf("level: %d Readable calls over two polls with data unread, want 2", got)
	}
	var buf [8]byte
	unix.Read(a.Fd(), buf[:])
	runOnce(t, l, r, 0)
	if got := r.count("r", 1); got != 2 {
		t.Fatalf("level: Readable after the data was drained (%d calls)", got)
	}
}

func TestEdgeReportsOncePerArrival(t *testing.T) {
	l := newLoop(t)
	a, b := socketPair(t)
	writeAll(t, b, []byte("x"))
	if err := l.Register(a, 1, Readable, Edge); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	runOnce(t, l, r, pending)
	runOnce(t, l, r, 0)
	if got := r.count("r", 1); got != 1 {
		t.Fatalf("edge: %d Readable calls for one arrival, want 1", got)
	}
	writeAll(t, b, []byte("y"))
	runOnce(t, l, r, pending)
	if got := r.count("r", 1); got != 2 {
		t.Fatalf("edge: new data gave %d calls in all, want 2", got)
	}
}

func TestOneshotStaysDisarmedUntilReregister(t *testing.T) {
	l := newLoop(t)
	a, b := socketPair(t)
	writeAll(t, b, []byte("x"))
	if err := l.Register(a, 1, Readable|Writable, Oneshot); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	runOnce(t, l, r, pending)
	if r.count("r", 1) != 1 {
		t.Fatalf("oneshot: first poll gave %v", r.calls)
	}
	writeAll(t, b, []byte("y"))
	runOnce(t, l, r, 0)
	runOnce(t, l, r, 0)
	if got := r.count("r", 1); got != 1 {
		t.Fatalf("oneshot: disarmed registration called again (%d Readable calls)", got)
	}
	if err := l.Reregister(a, 2, Readable, Oneshot); err != nil {
		t.Fatal(err)
	}
	runOnce(t, l, r, pending)
	if got := r.count("r", 2); got != 1 {
		t.Fatalf("oneshot: Reregister did not re-arm (%d calls with the new token)", got)
	}
}

// twoReady registers two socket pairs' ends, both readable, with tokens 1 and
// 2, so that one poll fetches both events in one batch.
func twoReady(t *testing.T, l *EventLoop[int]) (x, y *RawFd) {
	x, xPeer := socketPair(t)
	y, yPeer := socketPair(t)
	writeAll(t, xPeer, []byte("x"))
	writeAll(t, yPeer, []byte("y"))
	if err := l.Register(x, 1, Readable, Level); err != nil {
		t.Fatal(err)
	}
	if err := l.Register(y, 2, Readable, Level); err != nil {
		t.Fatal(err)
	}
	return x, y
}

// other returns the fd of the pair that the callback's token does not name.
func other(t Token, x, y *RawFd) *RawFd {
	if t == 1 {
		return y
	}
	return x
}

func TestNoStaleEventAfterDeregisterInBatch(t *testing.T) {
	l := newLoop(t)
	x, y := twoReady(t, l)
	r := &recorder{}
	r.onReadable = func(l *EventLoop[int], tok Token, _ ReadHint) {
		if len(r.calls) == 1 {
			if err := l.Deregister(other(tok, x, y)); err != nil {
				t.Error(err)
			}
		}
	}
	runOnce(t, l, r, pending)
	if len(r.calls) != 1 {
		t.Fatalf("a registration deregistered in the batch still got its event: %v", r.calls)
	}
}

func TestNoStaleEventAfterReregisterInBatch(t *testing.T) {
	l := newLoop(t)
	x, y := twoReady(t, l)
	r := &recorder{}
	r.onReadable = func(l *EventLoop[int], tok Token, _ ReadHint) {
		if len(r.calls) == 1 {
			if err := l.Reregister(other(tok, x, y), 3, Readable, Level); err != nil {
				t.Error(err)
			}
		}
	}
	runOnce(t, l, r, pending)
	if len(r.calls) != 1 {
		t.Fatalf("an event fetched before Reregister was delivered: %v", r.calls)
	}
	runOnce(t, l, r, pending)
	if r.count("r", 3) != 1 {
		t.Fatalf("the re-registered fd was not reported with its new token: %v", r.calls)
	}
}

// The fd closed in the batch gets its number reused at once by a new
// registration; the old fd's fetched event must reach neither.
func TestNoStaleEventAfterCloseAndFdReuse(t *testing.T) {
	l := newLoop(t)
	x, y := twoReady(t, l)
	var reused *RawFd
	r := &recorder{}
	r.onReadable = func(l *EventLoop[int], tok Token, _ ReadHint) {
		if len(r.calls) != 1 {
			return
		}
		victim := other(tok, x, y)
		num := victim.Fd()
		if err := victim.Close(); err != nil {
			t.Error(err)
		}
		reused = reuseFdNumber(t, num)
		if err := l.Register(reused, 9, Readable|Writable, Level); err != nil {
			t.Error(err)
		}
	}
	runOnce(t, l, r, pending)
	if len(r.calls) != 1 {
		t.Fatalf("stale event delivered after close and fd reuse: %v", r.calls)
	}
	runOnce(t, l, r, pending)
	if r.count("w", 9) != 1 {
		t.Fatalf("the new registration on the reused number was not served: %v", r.calls)
	}
}

// reuseFdNumber opens a new socket and moves it to exactly fd number num,
// which the caller has just closed.
func reuseFdNumber(t *testing.T, num int) *RawFd {
	fresh, _ := socketPair(t)
	if fresh.Fd() == num {
		return fresh // the kernel handed out the lowest free number
	}
	if err := unix.Dup2(fresh.Fd(), num); err != nil {
		t.Fatal(err)
	}
	fresh.Close()
	got := NewRawFd(num)
	t.Cleanup(func() { got.Close() })
	return got
}

func TestReadableBeforeWritable(t *testing.T) {
	l := newLoop(t)
	a, b := socketPair(t)
	writeAll(t, b, []byte("x"))
	if err := l.Register(a, 1, Readable|Writable, Level); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	runOnce(t, l, r, pending)
	if len(r.calls) != 2 || r.calls[0].kind != "r" || r.calls[1].kind != "w" {
		t.Fatalf("want Readable then Writable, got %v", r.calls)
	}
}

func TestNoWritableAfterReadableEndsRegistration(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(*EventLoop[int], *RawFd) error
	}{
		{"close", func(_ *EventLoop[int], a *RawFd) error { return a.Close() }},
		{"deregister", func(l *EventLoop[int], a *RawFd) error { return l.Deregister(a) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t)
			a, b := socketPair(t)
			writeAll(t, b, []byte("x"))
			if err := l.Register(a, 1, Readable|Writable, Level); err != nil {
				t.Fatal(err)
			}
			r := &recorder{}
			r.onReadable = func(l *EventLoop[int], _ Token, _ ReadHint) {
				if err := tc.end(l, a); err != nil {
					t.Error(err)
				}
			}
			runOnce(t, l, r, pending)
			if len(r.calls) != 1 {
				t.Fatalf("Writable delivered after Readable ended the registration: %v", r.calls)
			}
		})
	}
}

// A write-only registration whose Unix peer closed: Writable tells it, and
// no Readable(HupHint) comes, since kqueue's write filter could not say the
// same (its EV_EOF also follows the socket's own ShutWrite).
func TestHangUpReachesWriterAsWritable(t *testing.T) {
	l := newLoop(t)
	a, b := socketPair(t)
	if err := l.Register(a, 1, Writable, Edge); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	runOnce(t, l, r, pending) // the initial writable edge
	b.Close()
	r.calls = nil
	runOnce(t, l, r, pending)
	if len(r.calls) != 1 || r.calls[0].kind != "w" {
		t.Fatalf("write-only registration, peer closed: want Writable alone, got %v", r.calls)
	}
	if _, err := unix.Write(a.Fd(), []byte("x")); err != unix.EPIPE {
		t.Fatalf("write after Writable to a closed peer: %v, want EPIPE", err)
	}
}

// A write-only TCP registration whose peer reset: Readable with ErrorHint
// alone, then Writable.
func TestResetReachesWriterAsError(t *testing.T) {
	c, s := tcpPair(t, loopback4, 0)
	l := newLoop(t)
	if err := l.Register(s, 1, Writable, Edge); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	runOnce(t, l, r, pending) // the initial writable edge
	if err := c.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	r.calls = nil
	runOnce(t, l, r, pending)
	if len(r.calls) != 2 || r.calls[0].kind != "r" || r.calls[0].hint != ErrorHint || r.calls[1].kind != "w" {
		t.Fatalf("write-only registration, peer reset: want Readable(ErrorHint) then Writable, got %v", r.calls)
	}
}

func TestErrorArrivesUnasked(t *testing.T) {
	l := newLoop(t)
	fd := refusedConnect(t)
	if err := l.Register(fd, 1, Readable, Level); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	runOnce(t, l, r, pending)
	if len(r.calls) != 1 || r.calls[0].hint&(ErrorHint|HupHint) == 0 {
		t.Fatalf("refused connect: want Readable with ErrorHint or HupHint, got %v", r.calls)
	}
	if r.calls[0].hint&ErrorHint != 0 {
		errno, err := unix.GetsockoptInt(fd.Fd(), unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil || syscall.Errno(errno) != syscall.ECONNREFUSED {
			t.Fatalf("SO_ERROR = %v, %v; want ECONNREFUSED", syscall.Errno(errno), err)
		}
	}
}

// refusedConnect starts a non-blocking TCP connect to a loopback port that
// was just listened on and closed, so nothing is there.
func refusedConnect(t *testing.T) *RawFd {
	t.Helper()
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	sa := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if err := unix.Bind(ln, sa); err != nil {
		t.Fatal(err)
	}
	bound, err := unix.Getsockname(ln)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(ln)
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	fd := NewRawFd(s)
	t.Cleanup(func() { fd.Close() })
	if err := unix.SetNonblock(s, true); err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(s, bound); err != nil && err != unix.EINPROGRESS && err != unix.ECONNREFUSED {
		t.Fatal(err)
	}
	return fd
}

func TestRegistrationErrors(t *testing.T) {
	l := newLoop(t)
	a, _ := socketPair(t)
	if err := l.Register(a, 1, Readable, Level); err != nil {
		t.Fatal(err)
	}
	if err := l.Register(a, 1, Readable, Level); !errors.Is(err, ErrRegistered) {
		t.Fatalf("second Register: %v, want ErrRegistered", err)
	}
	c, _ := socketPair(t)
	if err := l.Reregister(c, 1, Readable, Level); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("Reregister of an unregistered fd: %v, want ErrNotRegistered", err)
	}
	if err := l.Deregister(c); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("Deregister of an unregistered fd: %v, want ErrNotRegistered", err)
	}
	if err := l.Register(c, 1, 0, Level); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("Register with no interest: %v, want EINVAL", err)
	}
	if err := l.Register(c, 1, Readable, 0x80); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("Register with unknown options: %v, want EINVAL", err)
	}
	if err := l.Register(NewRawFd(1<<20), 1, Readable, Level); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("Register of a number that is no fd: %v, want EBADF", err)
	}
	closed := NewRawFd(-1)
	if err := l.Register(closed, 1, Readable, Level); !errors.Is(err, ErrClosed) {
		t.Fatalf("Register of a closed fd: %v, want ErrClosed", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}
}

// Closing an fd behind the loop's back (not through RawFd) drops it from the
// kernel; Deregister must still clear the loop's record without error.
func TestDeregisterAfterRawClose(t *testing.T) {
	l := newLoop(t)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	victim := NewRawFd(fds[0])
	if err := l.Register(victim, 1, Readable, Level); err != nil {
		t.Fatal(err)
	}
	unix.Close(fds[0])
	if err := l.Deregister(victim); err != nil {
		t.Fatalf("Deregister after the fd was closed: %v", err)
	}
}

// The loop itself disarms a Oneshot registration after one delivered event,
// because kqueue disarms only the filter that fired while epoll disarms the
// whole fd. This drives dispatch directly with the events a kqueue batch
// holding both filters (not merged) would give.
func TestOneshotDisarmsWholeRegistrationInLoop(t *testing.T) {
	l := newLoop(t)
	a, _ := socketPair(t)
	if err := l.Register(a, 1, Readable|Writable, Oneshot); err != nil {
		t.Fatal(err)
	}
	gen := l.reg.lookup(a.Fd()).gen
	r := &recorder{}
	l.dispatch(r, event{fd: int32(a.Fd()), gen: gen, ready: readyRead})
	l.dispatch(r, event{fd: int32(a.Fd()), gen: gen, ready: readyWrite})
	if len(r.calls) != 1 || r.calls[0].kind != "r" {
		t.Fatalf("second filter's event reached a disarmed Oneshot registration: %v", r.calls)
	}
}

// One library fd in two loops left the second loop with a dead entry after
// Close, refusing the next fd that got the number: the second registration
// is refused instead, and Deregister from the first loop frees it to move.
func TestRegisterWithSecondLoopRefused(t *testing.T) {
	l1, l2 := newLoop(t), newLoop(t)
	a, _ := socketPair(t)
	if err := l1.Register(a, 1, Readable, Level); err != nil {
		t.Fatal(err)
	}
	if err := l2.Register(a, 1, Readable, Level); !errors.Is(err, ErrRegistered) {
		t.Fatalf("Register with a second loop: %v, want ErrRegistered", err)
	}
	if err := l1.Deregister(a); err != nil {
		t.Fatal(err)
	}
	if err := l2.Register(a, 1, Readable, Level); err != nil {
		t.Fatalf("Register with the second loop after Deregister from the first: %v", err)
	}
	num := a.Fd()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := reuseFdNumber(t, num)
	for i, l := range []*EventLoop[int]{l1, l2} {
		if err := l.Register(b, 2, Readable, Level); err != nil {
			t.Fatalf("loop %d: Register of a new fd with the closed one's number %d: %v", i+1, num, err)
		}
		if err := l.Deregister(b); err != nil {
			t.Fatal(err)
		}
	}
}

// Readiness a turn of Run leaves behind that the kernel does not signal
// again: data a level-triggered handler left unread, and interest added to
// a level-triggered fd that epoll still holds on its ready list. A loop
// that slept after a turn without looking at the kernel first (an idea
// measured and dropped, bench/results/NOTES.md section 5) would miss both;
// these tests then run into their guard timeout.

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
			run(t, l, r)
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
			run(t, l, r)
		})
	}
}

func optName(opt PollOpt) string {
	if opt&Edge != 0 {
		return "edge"
	}
	return "level"
}

// pollCounter records callbacks per token and the poll each came in.
type pollCounter struct {
	NopHandler[int]
	poll   int
	reads  map[Token]int
	first  map[Token]int // poll of the first callback
	last   map[Token]int // poll of the latest callback
	maxGap map[Token]int // longest run of polls without a callback, first included
}

func newPollCounter() *pollCounter {
	return &pollCounter{reads: map[Token]int{}, first: map[Token]int{}, last: map[Token]int{}, maxGap: map[Token]int{}}
}

func (c *pollCounter) Readable(_ *EventLoop[int], tok Token, _ ReadHint) {
	prev, seen := c.last[tok]
	if !seen {
		prev = -1
		c.first[tok] = c.poll
	}
	c.maxGap[tok] = max(c.maxGap[tok], c.poll-prev)
	c.last[tok] = c.poll
	c.reads[tok]++
}

// More ready fds than Config.EventCapacity holds are all served, and
// fairly: with level triggering every fd keeps being served within a bounded
// number of polls; with edge triggering each is served exactly once.
func TestMoreReadyThanCapacityServedFairly(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const capacity, n = 8, 200
	const sweep = (n + capacity - 1) / capacity // polls one full pass takes
	for _, opt := range []PollOpt{Level, Edge} {
		t.Run(fmt.Sprintf("opt=%d", opt), func(t *testing.T) {
			checkNoFdLeaks(t)
			l, err := NewEventLoop[int](Config{EventCapacity: capacity})
			if err != nil {
				t.Fatal(err)
			}
			var fds []*RawFd
			for i := range n {
				a, b := rawPair(t)
				fds = append(fds, a, b)
				if _, err := unix.Write(b.Fd(), []byte("x")); err != nil {
					t.Fatal(err)
				}
				if err := l.Register(a, Token(i), Readable, opt); err != nil {
					t.Fatal(err)
				}
			}
			c := newPollCounter()
			polls := 10 * sweep
			for c.poll = 0; c.poll < polls; c.poll++ {
				if err := l.RunOnce(c, 0); err != nil {
					t.Fatal(err)
				}
			}
			for i := range n {
				tok := Token(i)
				got, first := c.reads[tok], c.first[tok]
				if got == 0 {
					t.Fatalf("token %d never served in %d polls of %d events", tok, polls, capacity)
				}
				if first >= 2*sweep {
					t.Errorf("token %d first served at poll %d; a full pass takes %d", tok, first, sweep)
				}
				if opt == Edge {
					if got != 1 {
						t.Errorf("edge: token %d served %d times for one arrival", tok, got)
					}
					continue
				}
				if tail := polls - 1 - c.last[tok]; max(c.maxGap[tok], tail) > 2*sweep {
					t.Errorf("level: token %d went %d polls unserved; a full pass takes %d", tok, max(c.maxGap[tok], tail), sweep)
				}
				if got < polls*capacity/n/2 || got > polls*capacity/n*2 {
					t.Errorf("level: token %d served %d times in %d polls; a fair share is %d", tok, got, polls, polls*capacity/n)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			for _, fd := range fds {
				fd.Close()
			}
		})
	}
}
