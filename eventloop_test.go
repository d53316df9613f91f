//go:build unix

package mio

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// call is one recorded callback.
type call struct {
	kind  string // "r" or "w"
	token Token
	hint  ReadHint
}

// recorder records callbacks and lets a test act inside them.
type recorder struct {
	NopHandler[int]
	calls      []call
	onReadable func(l *EventLoop[int], t Token, h ReadHint)
	onWritable func(l *EventLoop[int], t Token)
}

func (r *recorder) Readable(l *EventLoop[int], t Token, h ReadHint) {
	r.calls = append(r.calls, call{"r", t, h})
	if r.onReadable != nil {
		r.onReadable(l, t, h)
	}
}

func (r *recorder) Writable(l *EventLoop[int], t Token) {
	r.calls = append(r.calls, call{"w", t, 0})
	if r.onWritable != nil {
		r.onWritable(l, t)
	}
}

func (r *recorder) count(kind string, t Token) int {
	n := 0
	for _, c := range r.calls {
		if c.kind == kind && c.token == t {
			n++
		}
	}
	return n
}

func newLoop(t testing.TB) *EventLoop[int] {
	t.Helper()
	l, err := NewEventLoop[int](Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// socketPair returns both ends of a connected non-blocking Unix stream
// socket pair, closed at the end of the test.
func socketPair(t testing.TB) (*RawFd, *RawFd) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := NewRawFd(fds[0]), NewRawFd(fds[1])
	for _, fd := range fds {
		unix.SetNonblock(fd, true)
		unix.CloseOnExec(fd)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func writeAll(t testing.TB, r *RawFd, p []byte) {
	t.Helper()
	if _, err := unix.Write(r.Fd(), p); err != nil {
		t.Fatal(err)
	}
}

func runOnce(t testing.TB, l *EventLoop[int], h Handler[int], d time.Duration) {
	t.Helper()
	if err := l.RunOnce(h, d); err != nil {
		t.Fatal(err)
	}
}

// A short wait that is still long enough for an event that is already
// pending: RunOnce returns as soon as it arrives.
const pending = 5 * time.Second

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
	bound, _ := unix.Getsockname(ln)
	unix.Close(ln)
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.SetNonblock(s, true)
	fd := NewRawFd(s)
	t.Cleanup(func() { fd.Close() })
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

// runInBackground starts l.Run on another goroutine and returns once the
// loop has dispatched an event, so that it is certainly running (and, with
// nothing more registered, about to sleep). The channel carries Run's result.
func runInBackground(t *testing.T, l *EventLoop[int]) <-chan error {
	t.Helper()
	a, _ := socketPair(t)
	if err := l.Register(a, 1, Writable, Oneshot); err != nil {
		t.Fatal(err)
	}
	running := make(chan struct{})
	r := &recorder{onWritable: func(*EventLoop[int], Token) { close(running) }}
	done := make(chan error, 1)
	go func() { done <- l.Run(r) }()
	select {
	case <-running:
	case err := <-done:
		t.Fatalf("Run returned before dispatching: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run dispatched nothing")
	}
	return done
}

// awaitRun waits for a Run or RunOnce started in the background to return
// done's error, which must be nil. After 30 seconds it shuts the loop down,
// waits, and fails with what was expected.
func awaitRun(t *testing.T, l *EventLoop[int], done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		l.Shutdown()
		<-done
		t.Fatal(what)
	}
}

func TestShutdownFromAnotherGoroutine(t *testing.T) {
	l := newLoop(t)
	done := runInBackground(t, l)
	l.Shutdown()
	awaitRun(t, l, done, "Run did not return after Shutdown")
	if l.IsRunning() {
		t.Fatal("IsRunning after Run returned")
	}
}

func TestShutdownFromCallback(t *testing.T) {
	l := newLoop(t)
	a, _ := socketPair(t)
	if err := l.Register(a, 1, Writable, Level); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	var running bool
	r.onWritable = func(l *EventLoop[int], _ Token) {
		running = l.IsRunning()
		l.Shutdown()
	}
	if err := l.Run(r); err != nil {
		t.Fatal(err)
	}
	if !running || l.IsRunning() {
		t.Fatalf("IsRunning: %v inside the callback, %v after Run", running, l.IsRunning())
	}
	if len(r.calls) != 1 {
		t.Fatalf("Run went on after Shutdown: %v", r.calls)
	}
}

func TestCloseWhileRunning(t *testing.T) {
	l := newLoop(t)
	done := runInBackground(t, l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	awaitRun(t, l, done, "Run did not return after Close")
	a, _ := socketPair(t)
	if err := l.Register(a, 1, Readable, Level); !errors.Is(err, ErrClosed) {
		t.Fatalf("Register after Close: %v, want ErrClosed", err)
	}
	if err := l.RunOnce(&recorder{}, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("RunOnce after Close: %v, want ErrClosed", err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}
}

func TestRunTwiceAtOnceFails(t *testing.T) {
	l := newLoop(t)
	a, _ := socketPair(t)
	if err := l.Register(a, 1, Writable, Oneshot); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	var inner error
	r.onWritable = func(l *EventLoop[int], _ Token) { inner = l.RunOnce(r, 0) }
	runOnce(t, l, r, pending)
	if !errors.Is(inner, ErrRunning) {
		t.Fatalf("RunOnce inside a callback: %v, want ErrRunning", inner)
	}
}

func TestConfigValidation(t *testing.T) {
	if _, err := NewEventLoop[int](Config{EventCapacity: -1}); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("negative capacity: %v, want EINVAL", err)
	}
	c, err := Config{}.withDefaults()
	if err != nil || c.EventCapacity != defaultEventCapacity || c.NotifyCapacity != defaultNotifyCapacity || c.MessagesPerTick != defaultMessagesPerTick {
		t.Fatalf("zero Config gave %+v, %v", c, err)
	}
}

func TestUnsupportedIsErrUnsupported(t *testing.T) {
	if !errors.Is(ErrUnsupported, errors.ErrUnsupported) {
		t.Fatal("ErrUnsupported does not match errors.ErrUnsupported")
	}
}

func TestWouldBlockIsEAGAIN(t *testing.T) {
	a, _ := socketPair(t)
	var buf [1]byte
	_, err := unix.Read(a.Fd(), buf[:])
	if !errors.Is(err, ErrWouldBlock) || !errors.Is(wrapSyscall("read", unix.EWOULDBLOCK), ErrWouldBlock) {
		t.Fatalf("EAGAIN %v is not ErrWouldBlock", err)
	}
	wrapped := wrapSyscall("connect", unix.ECONNREFUSED)
	if !errors.Is(wrapped, syscall.ECONNREFUSED) || wrapped.Error() != "mio: connect: connection refused" {
		t.Fatalf("wrapped errno: %v", wrapped)
	}
}

// More ready fds than one poll fetches are all served within a few polls.
func TestMoreReadyThanCapacityAllServed(t *testing.T) {
	l, err := NewEventLoop[int](Config{EventCapacity: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const n = 16
	for i := range n {
		a, _ := socketPair(t)
		if err := l.Register(a, Token(i), Writable, Edge); err != nil {
			t.Fatal(err)
		}
	}
	r := &recorder{}
	for range n / 4 {
		runOnce(t, l, r, pending)
	}
	for i := range n {
		if r.count("w", Token(i)) != 1 {
			t.Fatalf("token %d served %d times in %d polls of 4", i, r.count("w", Token(i)), n/4)
		}
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

// Close inside a callback ends delivery: the other ready fd of the batch,
// the due timeout and the queued message never reach the handler.
func TestCloseInCallbackEndsDelivery(t *testing.T) {
	l := newLoop(t)
	x, y := twoReady(t, l)
	if _, err := l.Timeout(9, 0); err != nil {
		t.Fatal(err)
	}
	if err := l.Channel().Send(1); err != nil {
		t.Fatal(err)
	}
	var calls []string
	r := &recorder{}
	r.onReadable = func(l *EventLoop[int], tok Token, _ ReadHint) {
		calls = append(calls, fmt.Sprint("readable ", tok))
		l.Close()
	}
	h := &closeProbe{recorder: r, calls: &calls}
	if err := l.Run(h); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 {
		t.Fatalf("callbacks after Close: %v (fds %d, %d)", calls, x.Fd(), y.Fd())
	}
}

// closeProbe records every kind of callback.
type closeProbe struct {
	*recorder
	calls *[]string
}

func (p *closeProbe) Writable(*EventLoop[int], Token) { *p.calls = append(*p.calls, "writable") }
func (p *closeProbe) Timeout(*EventLoop[int], Token)  { *p.calls = append(*p.calls, "timeout") }
func (p *closeProbe) Notify(*EventLoop[int], int)     { *p.calls = append(*p.calls, "notify") }
func (p *closeProbe) Tick(*EventLoop[int])            { *p.calls = append(*p.calls, "tick") }

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
