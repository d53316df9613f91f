package mio

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestLoopFdsAreCloseOnExecAndReleased(t *testing.T) {
	before := openFdCount(t)
	for range 1000 {
		l, err := NewEventLoop[int](Config{})
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range []int{l.poller.epfd, l.poller.wakefd} {
			flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
			if err != nil || flags&unix.FD_CLOEXEC == 0 {
				t.Fatalf("fd %d is not close-on-exec (flags %#x, %v)", fd, flags, err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if after := openFdCount(t); after != before {
		t.Fatalf("1000 NewEventLoop/Close cycles: %d fds open before, %d after", before, after)
	}
}

// Signals aimed at the very thread sleeping in epoll_pwait2 make it return
// EINTR; the loop must sleep on for what is left and report no error.
func TestEINTRIsRetriedWithRemainingTimeout(t *testing.T) {
	l := newLoop(t)
	const timeout = 150 * time.Millisecond
	tid := make(chan int)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		target := <-tid
		for {
			select {
			case <-stop:
				return
			default:
			}
			unix.Tgkill(unix.Getpid(), target, unix.SIGURG)
			runtime.Gosched()
		}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid <- unix.Gettid()
	start := time.Now()
	err := l.RunOnce(&recorder{}, timeout)
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("RunOnce under signals: %v", err)
	}
	if elapsed < timeout {
		t.Fatalf("RunOnce under signals returned after %v, before its %v timeout", elapsed, timeout)
	}
}

func TestTimeoutMillisRoundsUp(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{{-1, -1}, {0, 0}, {1, 1}, {time.Millisecond, 1}, {time.Millisecond + 1, 2}, {1 << 62, 1<<31 - 1}} {
		if got := timeoutMillis(tc.d); got != tc.want {
			t.Errorf("timeoutMillis(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

// A kernel registration that outlives the loop's record (the fd was closed
// behind the loop's back while a dup kept the file open) carries an old
// generation: its events must not reach a new registration of the same fd
// number.
func TestDupKeepsKernelRegistrationButEventsAreStale(t *testing.T) {
	l := newLoop(t)
	a, b := socketPair(t)
	num := a.Fd()
	if err := l.Register(a, 1, Readable, Level); err != nil {
		t.Fatal(err)
	}
	dup, err := unix.Dup(num)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dup)
	unix.Close(num) // the epoll registration lives on through dup
	if err := l.Deregister(a); err != nil {
		t.Fatal(err)
	}
	reused := reuseFdNumber(t, num)
	if err := l.Register(reused, 2, Readable, Level); err != nil {
		t.Fatal(err)
	}
	writeAll(t, b, []byte("x")) // makes the old file, not the new one, readable
	r := &recorder{}
	runOnce(t, l, r, 50*time.Millisecond)
	if len(r.calls) != 0 {
		t.Fatalf("event of the dup'd old file reached the new registration: %v", r.calls)
	}
	a.fd = -1 // already closed above
}
