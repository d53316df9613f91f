package mio

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestLoopFdsAreCloseOnExecAndReleased(t *testing.T) {
	checkNoFdLeaks(t)
	for range 1000 {
		l, err := NewEventLoop[int](Config{})
		if err != nil {
			t.Fatal(err)
		}
		fds := []int{l.poller.epfd, l.poller.wakefd}
		if l.poller.parkConn != nil {
			l.poller.parkConn.Control(func(fd uintptr) { fds = append(fds, int(fd)) })
		}
		for _, fd := range fds {
			flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
			if err != nil || flags&unix.FD_CLOEXEC == 0 {
				t.Fatalf("fd %d is not close-on-exec (flags %#x, %v)", fd, flags, err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Signals aimed at the very thread that runs the loop, while it sleeps in
// epoll_pwait2 or parked in Go's netpoller, must not end the sleep early
// nor surface as an error: after EINTR the loop sleeps on for what is left.
func TestEINTRIsRetriedWithRemainingTimeout(t *testing.T) {
	forEachSleepMode(t, func(t *testing.T, l *EventLoop[int], blocking bool) {
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
	})
}

// blockInKernel makes l's poller sleep in epoll_pwait2, as it does when Go's
// netpoller would not take its epoll fd.
func blockInKernel(l *EventLoop[int]) {
	if l.poller.parkConn != nil {
		l.poller.stopParking()
	}
}

// forEachSleepMode runs f as a subtest with a new loop in each of the ways
// an idle loop can sleep: parked in Go's netpoller, and blocked in the
// kernel (blocking is true).
func forEachSleepMode(t *testing.T, f func(t *testing.T, l *EventLoop[int], blocking bool)) {
	for _, blocking := range []bool{false, true} {
		name := map[bool]string{false: "parked", true: "blocking"}[blocking]
		t.Run(name, func(t *testing.T) {
			l := newLoop(t)
			if blocking {
				blockInKernel(l)
			} else if l.poller.parkConn == nil {
				t.Fatal("Go's netpoller did not take the loop's epoll fd")
			}
			f(t, l, blocking)
		})
	}
}

// An idle loop parks its goroutine in Go's netpoller (in poller.poll), so no thread of the
// process sits in a system call on the loop's epoll fd (which would keep
// sysmon waking and handing the loop's P to other threads); with parking
// off, the loop's thread is seen blocked in epoll_pwait2 on it.
func TestIdleLoopParksInGoNetpoller(t *testing.T) {
	forEachSleepMode(t, func(t *testing.T, l *EventLoop[int], blocking bool) {
		if blocking && !hasPwait2.Load() {
			t.Skip("without epoll_pwait2 the loop blocks in epoll_wait, whose number varies by architecture")
		}
		done := make(chan error, 1)
		go func() { done <- l.Run(&recorder{}) }()
		defer func() {
			l.Shutdown()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}()
		asleep := func() bool { return goroutineParkedIn("mio.(*poller).poll(") }
		if blocking {
			asleep = func() bool { return len(threadsWaitingOn(t, l.poller.epfd)) > 0 }
		}
		for deadline := time.Now().Add(10 * time.Second); !asleep(); runtime.Gosched() {
			if time.Now().After(deadline) {
				t.Fatalf("the idle loop never went to sleep (blocking=%v)", blocking)
			}
		}
		if tids := threadsWaitingOn(t, l.poller.epfd); !blocking && len(tids) > 0 {
			t.Fatalf("threads %v sleep in a system call on the loop's epoll fd", tids)
		}
	})
}

// Should Go's netpoller fail the loop's wait (here: the duplicate fd it
// holds is closed behind the loop's back), the loop neither ends nor spins:
// it goes on blocking in epoll_pwait2, and events still arrive.
func TestParkFailureFallsBackToBlocking(t *testing.T) {
	if !hasPwait2.Load() {
		t.Skip("without epoll_pwait2 the loop blocks in epoll_wait, whose number varies by architecture")
	}
	l := newLoop(t)
	a, b := socketPair(t)
	if err := l.Register(a, 1, Readable, Level); err != nil {
		t.Fatal(err)
	}
	park := l.poller.park
	if park == nil {
		t.Fatal("Go's netpoller did not take the loop's epoll fd")
	}
	r := &recorder{onReadable: func(l *EventLoop[int], _ Token, _ ReadHint) { l.Shutdown() }}
	done := make(chan error, 1)
	go func() { done <- l.Run(r) }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); runtime.Gosched() {
			if time.Now().After(deadline) {
				l.Shutdown()
				<-done
				t.Fatalf("timed out waiting until %s", what)
			}
		}
	}
	waitFor("the loop parks", func() bool { return goroutineParkedIn("mio.(*poller).poll(") })
	park.Close()
	waitFor("the loop blocks in epoll_pwait2", func() bool { return len(threadsWaitingOn(t, l.poller.epfd)) > 0 })
	if _, err := unix.Write(b.Fd(), []byte{1}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after the netpoller failed: %v", err)
		}
	case <-time.After(30 * time.Second):
		l.Shutdown()
		<-done
		t.Fatal("no Readable after the loop fell back to epoll_pwait2")
	}
	if n := r.count("r", 1); n != 1 {
		t.Fatalf("got %d Readable calls, want 1", n)
	}
}

// goroutineParkedIn reports whether some goroutine waits in Go's netpoller
// ("IO wait") with frame in its stack.
func goroutineParkedIn(frame string) bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "[IO wait") && strings.Contains(g, frame) {
			return true
		}
	}
	return false
}

// threadsWaitingOn lists the threads of this process blocked in an epoll
// wait on epfd, from /proc/self/task/*/syscall ("nr arg1 ..." while in a
// system call).
func threadsWaitingOn(t testing.TB, epfd int) []string {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var tids []string
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/syscall")
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue // running
		}
		nr, err1 := strconv.Atoi(f[0])
		arg, err2 := strconv.ParseUint(strings.TrimPrefix(f[1], "0x"), 16, 64)
		if err1 != nil || err2 != nil || arg != uint64(epfd) {
			continue
		}
		if nr == unix.SYS_EPOLL_PWAIT || nr == unix.SYS_EPOLL_PWAIT2 {
			tids = append(tids, task.Name())
		}
	}
	return tids
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
