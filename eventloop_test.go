//go:build unix

package mio

import (
	"errors"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The loop's life cycle: Run, Shutdown and Close from a callback or from
// another goroutine, configuration and the errors every system shares.

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
	r := &recorder{}
	r.onReadable = func(l *EventLoop[int], _ Token, _ ReadHint) { l.Close() }
	if err := l.Run(r); err != nil {
		t.Fatal(err)
	}
	if len(r.calls) != 1 || len(r.fired) != 0 || len(r.msgs) != 0 || r.ticks != 0 {
		t.Fatalf("callbacks after Close: I/O %v, timeouts %v, messages %v, %d ticks (fds %d, %d)",
			r.calls, r.fired, r.msgs, r.ticks, x.Fd(), y.Fd())
	}
}
