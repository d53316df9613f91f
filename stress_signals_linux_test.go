package mio

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// Signals and processes: the loop under a CPU profile (SIGPROF), async
// preemption of busy goroutines (SIGURG) and signals aimed at its own
// thread; and a child started with os/exec, which must inherit none of the
// loop's fds while the loop keeps working.

// hzSigLoop runs timers and ping-pong I/O and checks that no timer is early.
type hzSigLoop struct {
	NopHandler[int]
	t        *testing.T
	rng      *rand.Rand
	due      map[Token]time.Time // earliest time each pending timer may fire
	nextTok  Token
	timers   int // fired
	wantTmrs int
	pairs    [][2]*RawFd
	trips    int
	wantTrip int
	buf      [1024]byte
	lateMax  time.Duration
}

func (h *hzSigLoop) arm(l *EventLoop[int]) {
	h.nextTok++
	after := time.Duration(h.rng.IntN(20000)) * time.Microsecond
	h.due[h.nextTok] = time.Now().Add(after) // taken before the loop's own clock reading
	if _, err := l.Timeout(h.nextTok, after); err != nil {
		h.t.Fatal(err)
	}
}

func (h *hzSigLoop) Timeout(l *EventLoop[int], tok Token) {
	if tok == watchdogToken {
		h.t.Errorf("still running at the deadline: %d of %d timers, %d of %d round trips", h.timers, h.wantTmrs, h.trips, h.wantTrip)
		l.Shutdown()
		return
	}
	now := time.Now()
	due, ok := h.due[tok]
	if !ok {
		h.t.Fatalf("timeout for token %d, which is not pending", tok)
	}
	delete(h.due, tok)
	if now.Before(due) {
		h.t.Errorf("timer %d fired %v early", tok, due.Sub(now))
	}
	h.lateMax = max(h.lateMax, now.Sub(due))
	h.timers++
	if h.timers+len(h.due) < h.wantTmrs {
		h.arm(l)
	}
	h.maybeDone(l)
}

// Readable: token 2i is pair i's first end, 2i+1 its second; each message
// is sent back to the other end until the pair has done its share of round trips.
func (h *hzSigLoop) Readable(l *EventLoop[int], tok Token, _ ReadHint) {
	me := h.pairs[tok/2][tok%2]
	n, err := unix.Read(me.Fd(), h.buf[:])
	if err == unix.EAGAIN {
		return
	}
	if err != nil || n == 0 {
		h.t.Fatalf("pair %d: read %d: %v", tok/2, n, err)
	}
	if tok%2 == 0 {
		h.trips++
		if h.trips > h.wantTrip-len(h.pairs) {
			h.maybeDone(l)
			return
		}
	}
	if _, err := unix.Write(me.Fd(), h.buf[:n]); err != nil { // back to the other end
		h.t.Fatal(err)
	}
}

func (h *hzSigLoop) maybeDone(l *EventLoop[int]) {
	if h.timers == h.wantTmrs && h.trips > h.wantTrip-len(h.pairs) {
		l.Shutdown()
	}
}

// A CPU profile, goroutines spinning without preemption points (so the
// runtime preempts them with SIGURG), forced collections and SIGURG sent
// straight at the loop's thread all interrupt the loop's epoll_pwait2: it
// must report no error, fire no timer early and lose no I/O; and RunOnce
// with nothing to do must not return before its timeout.
func TestStressSignalsProfileAndPreemption(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var prof bytes.Buffer
	if err := pprof.StartCPUProfile(&prof); err != nil {
		t.Skipf("a CPU profile is already running: %v", err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var spins atomic.Uint64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := uint64(0)
			for !stop.Load() {
				x = x*6364136223846793005 + 1442695040888963407
			}
			spins.Add(x | 1)
		}()
	}
	wg.Add(1)
	go func() { // collections stop the world: every thread is preempted
		defer wg.Done()
		for !stop.Load() {
			runtime.GC()
			runtime.Gosched()
		}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := unix.Gettid()
	var kills atomic.Int64
	wg.Add(1)
	go func() { // SIGURG straight at the loop's thread, as the runtime does
		defer wg.Done()
		for !stop.Load() {
			unix.Tgkill(unix.Getpid(), tid, unix.SIGURG)
			kills.Add(1)
			runtime.Gosched()
		}
	}()
	stopAll := func() {
		if !stop.Swap(true) {
			wg.Wait()
			pprof.StopCPUProfile()
		}
	}
	defer stopAll()

	l := newLoop(t)
	h := &hzSigLoop{t: t, rng: rand.New(rand.NewPCG(6, 5)), due: map[Token]time.Time{}, wantTmrs: 400, wantTrip: 2000}
	if shrunk() {
		h.wantTmrs, h.wantTrip = 150, 600
	}
	for i := range 4 {
		a, b := socketPair(t)
		h.pairs = append(h.pairs, [2]*RawFd{a, b})
		if err := l.Register(a, Token(2*i), Readable, Level); err != nil {
			t.Fatal(err)
		}
		if err := l.Register(b, Token(2*i+1), Readable, Edge); err != nil {
			t.Fatal(err)
		}
		writeAll(t, a, []byte(fmt.Sprintf("ping %d", i)))
	}
	for range 50 {
		h.arm(l)
	}
	if _, err := l.Timeout(watchdogToken, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.Run(h); err != nil {
		t.Fatalf("Run under signals: %v", err)
	}
	if h.timers != h.wantTmrs || h.trips <= h.wantTrip-len(h.pairs) {
		t.Fatalf("%d of %d timers, %d of %d round trips", h.timers, h.wantTmrs, h.trips, h.wantTrip)
	}
	// Idle polls of a loop with nothing registered: only signals can end
	// the sleep early.
	idleLoop := newLoop(t)
	const idle = 5 * time.Millisecond
	for i := range 20 {
		start := time.Now()
		if err := idleLoop.RunOnce(&recorder{}, idle); err != nil {
			t.Fatalf("idle RunOnce %d under signals: %v", i, err)
		}
		if d := time.Since(start); d < idle {
			t.Fatalf("idle RunOnce %d returned after %v, before its %v timeout", i, d, idle)
		}
	}
	stopAll()
	t.Logf("%d timers (latest %v late), %d round trips, %d SIGURGs sent, %d bytes of profile", h.timers, h.lateMax, h.trips, kills.Load(), prof.Len())
	if kills.Load() == 0 || prof.Len() == 0 {
		t.Fatalf("no signals were sent (%d) or no profile written (%d bytes)", kills.Load(), prof.Len())
	}
}

const hzChildFdsEnv = "HZ_CHILD_LIST_FDS"

// TestExecChildHelper is the child of TestExecInheritsNoLoopFds:
// it prints its open fds. Run directly, it does nothing.
func TestExecChildHelper(t *testing.T) {
	if os.Getenv(hzChildFdsEnv) != "1" {
		t.Skip("the child process of TestExecInheritsNoLoopFds")
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // the directory listing's own fd, closed by now
		}
		fmt.Printf("HZFD %s %s\n", e.Name(), target)
	}
}

// hzNetEcho sends msg through a Go net connection to addr and checks that
// the same bytes come back.
func hzNetEcho(t *testing.T, network, addr string, msg []byte) {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	wrote := make(chan error, 1)
	go func() { // the echo comes back while the rest is still being sent
		_, err := c.Write(msg)
		wrote <- err
	}()
	got := make([]byte, len(msg))
	_, err = io.ReadFull(c, got)
	if werr := <-wrote; werr != nil {
		t.Fatalf("write: %v", werr)
	}
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo through the loop of %d bytes: %v, intact %v", len(msg), err, bytes.Equal(got, msg))
	}
}

// A child started with os/exec while the loop runs inherits none of the
// loop's fds (epoll, eventfd, listener, accepted and connected sockets,
// pipe): all are close-on-exec. After the child has exited the loop still
// echoes.
func TestExecInheritsNoLoopFds(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	checkNoFdLeaks(t)
	// Push the loop's fds above the numbers a fresh child opens for itself
	// (its runtime's epoll and pipes), so an equal number and target in
	// the child can only be an inherited fd.
	var fillers []int
	for range 64 {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fillers = append(fillers, fd)
	}
	defer func() {
		for _, fd := range fillers {
			unix.Close(fd)
		}
	}()

	l, err := NewEventLoop[int](Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv, addr := newTCPEchoServer(t, l, 4<<10)
	accepted := make(chan int, 16)
	srv.onAccept = func(fd int) { accepted <- fd }
	// A Unix listener, a client connected to the TCP listener through the
	// loop, and a pipe: every kind of fd the library makes.
	us, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	uacc, err := us.Bind(UnixAddr(filepath.Join(t.TempDir(), "hz.sock")))
	if err != nil {
		t.Fatal(err)
	}
	defer uacc.Close()
	if err := l.Listen(uacc, 16, 7); err != nil {
		t.Fatal(err)
	}
	cli, err := NewTCPSocketV4()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if err := l.Connect(cli, addr, 8); err != nil {
		t.Fatal(err)
	}
	pr, pw, err := Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if err := l.Register(pr, 9, Readable, Level); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(&echoOnly{srv: srv}) }()
	running := true
	stopLoop := func() {
		if running {
			running = false
			l.Shutdown()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			srv.close()
			if err := l.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
	}
	defer stopLoop()
	// A connection held open across the exec, so that its accepted socket
	// is there to be inherited or not.
	hold, err := net.DialTimeout("tcp", addr.String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	hold.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := hold.Write([]byte("before")); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(io.LimitReader(hold, 6)); err != nil || string(got) != "before" {
		t.Fatalf("echo before the child: %q, %v", got, err)
	}
	loopFds := map[int]string{l.poller.epfd: "epoll", l.poller.wakefd: "eventfd", srv.acc.Fd(): "TCP listener",
		uacc.Fd(): "Unix listener", cli.Fd(): "connected socket", pr.Fd(): "pipe read end", pw.Fd(): "pipe write end"}
	for range 2 { // the loop's client and the held net client
		select {
		case fd := <-accepted:
			loopFds[fd] = "accepted socket"
		case <-time.After(20 * time.Second):
			t.Fatal("the server did not accept the connections")
		}
	}
	targets := map[int]string{}
	for fd := range loopFds {
		target, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		if err != nil {
			t.Fatal(err)
		}
		targets[fd] = target
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestExecChildHelper$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), hzChildFdsEnv+"=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	listed := 0
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "HZFD" {
			continue
		}
		listed++
		fd, _ := strconv.Atoi(f[1])
		for mine, target := range targets {
			// A socket's or pipe's inode is unique, at any number; the
			// anonymous epoll and eventfd inodes are told apart by number.
			unique := strings.HasPrefix(target, "socket:") || strings.HasPrefix(target, "pipe:")
			if f[2] == target && (unique || fd == mine) {
				t.Errorf("the child inherited the loop's %s (fd %d here, %d there: %s)", loopFds[mine], mine, fd, target)
			}
		}
	}
	if listed < 3 {
		t.Fatalf("the child listed %d fds, not even stdin, stdout and stderr:\n%s", listed, out)
	}
	hold.Close()
	hzNetEcho(t, "tcp", addr.String(), []byte("after the child has exited"))
	hzNetEcho(t, "tcp", addr.String(), bytes.Repeat([]byte("0123456789abcdef"), 64<<10))
	stopLoop()
	uacc.Close()
	cli.Close()
	pr.Close()
	pw.Close()
	for _, fd := range fillers {
		unix.Close(fd)
	}
	fillers = nil
}
