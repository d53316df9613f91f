//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// Scale: ten thousand echo connections open at once between a server loop on
// its own goroutine and a client loop on the test's, and thousands of loops
// created and closed, leak no fd, no goroutine and no memory.

// hzRaiseNofile makes room for need more fds: the soft limit goes up to the
// hard limit, and the hard limit too where the process may raise it (as
// root). It returns how many more fds may be opened; the limits are restored
// at the end of the test.
func hzRaiseNofile(t *testing.T, need int) int {
	t.Helper()
	var orig unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &orig); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	open := len(openFds())
	if open == 0 {
		open = 64
	}
	want := open + need + 256
	lim := orig
	if hzLimInt(lim.Cur) < want {
		raised := orig
		hzLimSet(&raised.Cur, want)
		hzLimSet(&raised.Max, want)
		switch {
		case hzLimInt(lim.Max) >= want:
			lim.Cur = raised.Cur
		case unix.Setrlimit(unix.RLIMIT_NOFILE, &raised) == nil:
			lim = raised
		default:
			lim.Cur = lim.Max
		}
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			t.Skipf("setrlimit %+v: %v", lim, err)
		}
		t.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_NOFILE, &orig) })
	}
	return hzLimInt(lim.Cur) - open - 256
}

// hzLimInt and hzLimSet read and write an Rlimit field, which is uint64 on
// some systems and int64 on others; "infinity" reads as 1<<30.
func hzLimInt[T int64 | uint64](v T) int { return int(min(uint64(v), 1<<30)) }

func hzLimSet[T int64 | uint64](v *T, n int) { *v = T(n) }

type hzScaleConn struct {
	sock      *TCPSocket
	connected bool
	got       int
}

// hzScaleCli connects n clients, at most hzScaleInflight of them waiting for
// their echo at a time, and keeps every connection open until all n have
// been echoed; then it calls allEchoed, which checks the server and later
// calls closeAll.
type hzScaleCli struct {
	NopHandler[int]
	t         testing.TB
	addr      SockAddr
	conns     []*hzScaleConn
	next      int
	waiting   int
	echoed    int
	allEchoed func(l *EventLoop[int])
	onStdin   func(l *EventLoop[int])
	onNotify  func(l *EventLoop[int])
	buf       [64]byte
}

const (
	hzScaleInflight       = 256
	hzScaleStdin    Token = 1 << 40
)

func hzScaleMsg(i int) []byte { return fmt.Appendf(nil, "hz client %08d says hello\n", i) }

func (h *hzScaleCli) start(l *EventLoop[int]) {
	for h.next < len(h.conns) && h.waiting < hzScaleInflight {
		s, err := NewTCPSocketV4()
		if err != nil {
			h.t.Fatalf("client %d: %v", h.next, err)
		}
		h.conns[h.next] = &hzScaleConn{sock: s}
		if err := l.Connect(s, h.addr, Token(h.next)); err != nil {
			h.t.Fatalf("client %d: Connect: %v", h.next, err)
		}
		h.next++
		h.waiting++
	}
}

func (h *hzScaleCli) Writable(l *EventLoop[int], tok Token) {
	c := h.conns[tok]
	if c.connected {
		return
	}
	if err := c.sock.TakeError(); err != nil {
		h.t.Fatalf("client %d: connect: %v", tok, err)
	}
	c.connected = true
	msg := hzScaleMsg(int(tok))
	if n, err := c.sock.Write(msg); n != len(msg) || err != nil {
		h.t.Fatalf("client %d: wrote %d of %d bytes: %v", tok, n, len(msg), err)
	}
}

func (h *hzScaleCli) Readable(l *EventLoop[int], tok Token, _ ReadHint) {
	if tok == hzScaleStdin {
		h.onStdin(l)
		return
	}
	c := h.conns[tok]
	msg := hzScaleMsg(int(tok))
	for c.got < len(msg) {
		n, err := c.sock.Read(h.buf[:len(msg)-c.got])
		if errors.Is(err, ErrWouldBlock) {
			return
		}
		if err != nil {
			h.t.Fatalf("client %d: read after %d bytes: %v", tok, c.got, err)
		}
		if !bytes.Equal(h.buf[:n], msg[c.got:c.got+n]) {
			h.t.Fatalf("client %d: echo %q differs from %q", tok, h.buf[:n], msg[c.got:c.got+n])
		}
		c.got += n
	}
	h.waiting--
	h.echoed++
	if h.echoed < len(h.conns) {
		h.start(l)
		return
	}
	h.allEchoed(l) // every connection is open at both ends now
}

func (h *hzScaleCli) closeAll() {
	for _, c := range h.conns {
		if err := c.sock.Close(); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *hzScaleCli) Notify(l *EventLoop[int], _ int) { h.onNotify(l) }

func (h *hzScaleCli) Timeout(l *EventLoop[int], _ Token) {
	h.t.Errorf("scale clients still running at their deadline: %d of %d started, %d echoed", h.next, len(h.conns), h.echoed)
	l.Shutdown()
}

// hzScaleChildEnv names the server's address and the client count when the
// test binary runs as the scale test's client process.
const hzScaleChildEnv = "HZ_SCALE_CHILD"

// hzHeapInuse is HeapInuse after a collection.
func hzHeapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// Ten thousand connections need twenty thousand fds when both ends live in
// this process. Where RLIMIT_NOFILE cannot give that many, the clients run
// in a child process (this test binary again, TestStressScaleChildHelper),
// which keeps the server's side of the test unchanged.
func TestStressScale10kConnections(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	n := 10000
	if shrunk() {
		n = 3000
	}
	room := hzRaiseNofile(t, 2*n)
	inProcess := room >= 2*n
	if !inProcess && room < n {
		t.Skipf("RLIMIT_NOFILE leaves room for %d fds, too few for the server side of %d connections", room, n)
	}
	checkNoFdLeaks(t)
	heapBefore := hzHeapInuse()

	ls, err := NewEventLoop[int](Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv, addr := newTCPEchoServer(t, ls, 256)
	var closing atomic.Bool
	serverClosed := make(chan struct{})
	srv.onClose = func(open int64) {
		if open == 0 && closing.Load() {
			close(serverClosed)
		}
	}
	done := make(chan error, 1)
	go func() { done <- ls.Run(&echoOnly{srv: srv}) }()

	var peakOpen int64
	var heapPeak uint64
	start := time.Now()
	if inProcess {
		lc, err := NewEventLoop[int](Config{})
		if err != nil {
			t.Fatal(err)
		}
		tell := lc.Channel()
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			select {
			case <-serverClosed:
				if err := tell.Send(0); err != nil {
					t.Errorf("send: %v", err)
				}
			case <-stop:
			}
		}()
		cli := &hzScaleCli{t: t, addr: addr, conns: make([]*hzScaleConn, n)}
		cli.allEchoed = func(*EventLoop[int]) {
			peakOpen = srv.open.Load()
			heapPeak = hzHeapInuse()
			closing.Store(true)
			cli.closeAll()
		}
		cli.onNotify = func(l *EventLoop[int]) { l.Shutdown() }
		if _, err := lc.Timeout(0, time.Minute); err != nil {
			t.Fatal(err)
		}
		cli.start(lc)
		if err := lc.Run(cli); err != nil {
			t.Fatal(err)
		}
		if err := lc.Close(); err != nil {
			t.Fatal(err)
		}
		if cli.echoed != n {
			t.Fatalf("%d of %d clients echoed", cli.echoed, n)
		}
	} else {
		peakOpen, heapPeak = hzScaleInChild(t, srv, addr, n, &closing, serverClosed)
	}
	elapsed := time.Since(start)
	ls.Shutdown()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d connections (clients in a child process: %v) echoed and closed in %v; heap in use %d KiB before, %d KiB with all open (%d B a connection)",
		n, !inProcess, elapsed, heapBefore>>10, heapPeak>>10, int64(heapPeak-min(heapPeak, heapBefore))/int64(n))
	if peakOpen != int64(n) {
		t.Fatalf("the server held %d connections when all %d clients had their echo", peakOpen, n)
	}
	// Both ends of a connection together: a 256-byte server buffer and a
	// few small structures each side.
	const perConn = 8 << 10
	if grown := int64(heapPeak) - int64(heapBefore); grown > int64(n)*perConn {
		t.Errorf("heap grew by %d KiB for %d connections, bound %d KiB", grown>>10, n, int64(n)*perConn>>10)
	}
	srv.close()
	if err := ls.Close(); err != nil {
		t.Fatal(err)
	}
	if after := hzHeapInuse(); after > heapBefore+8<<20 {
		t.Errorf("heap in use %d KiB after everything closed, %d KiB before", after>>10, heapBefore>>10)
	}
}

// hzScaleInChild runs the n clients in a child process and returns the
// number of server connections and the heap in use once all were echoed.
func hzScaleInChild(t *testing.T, srv *echoServer, addr SockAddr, n int, closing *atomic.Bool, serverClosed <-chan struct{}) (int64, uint64) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestStressScaleChildHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d", hzScaleChildEnv, addr, n))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	fail := func(format string, args ...any) {
		cmd.Process.Kill()
		for range lines {
		}
		cmd.Wait()
		t.Fatalf("%s\nchild's stderr:\n%s", fmt.Sprintf(format, args...), stderr.String())
	}
	deadline := time.After(time.Minute)
	for echoed := false; !echoed; {
		select {
		case line, ok := <-lines:
			if !ok {
				fail("the client process ended before all its clients had their echo")
			}
			echoed = line == "HZ ECHOED"
		case <-deadline:
			fail("the client process did not have all echoes in a minute")
		}
	}
	peak := srv.open.Load()
	heap := hzHeapInuse()
	closing.Store(true)
	if _, err := io.WriteString(stdin, "close\n"); err != nil {
		fail("telling the client process to close: %v", err)
	}
	select {
	case <-serverClosed:
	case <-deadline:
		fail("the server still holds %d connections a minute after the clients began to close", srv.open.Load())
	}
	stdin.Close()
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("client process: %v\n%s", err, stderr.String())
	}
	return peak, heap
}

// TestStressScaleChildHelper is the client process of the scale test; run
// directly, it does nothing.
func TestStressScaleChildHelper(t *testing.T) {
	spec := os.Getenv(hzScaleChildEnv)
	if spec == "" {
		t.Skip("the client process of TestStressScale10kConnections")
	}
	var addrText string
	var n int
	if _, err := fmt.Sscanf(spec, "%s %d", &addrText, &n); err != nil {
		t.Fatal(err)
	}
	addr, err := ParseSockAddr(addrText)
	if err != nil {
		t.Fatal(err)
	}
	if room := hzRaiseNofile(t, n); room < n {
		t.Fatalf("room for %d fds only", room)
	}
	l, err := NewEventLoop[int](Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	stdin := NewRawFd(0) // not ours to close: deregistered, never closed
	cli := &hzScaleCli{t: t, addr: addr, conns: make([]*hzScaleConn, n)}
	cli.allEchoed = func(l *EventLoop[int]) {
		fmt.Println("HZ ECHOED")
		if err := l.Register(stdin, hzScaleStdin, Readable, Level); err != nil {
			t.Fatal(err)
		}
	}
	cli.onStdin = func(l *EventLoop[int]) {
		if err := l.Deregister(stdin); err != nil {
			t.Fatal(err)
		}
		cli.closeAll()
		l.Shutdown()
	}
	if _, err := l.Timeout(0, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	cli.start(l)
	if err := l.Run(cli); err != nil {
		t.Fatal(err)
	}
	if cli.echoed != n {
		t.Fatalf("%d of %d clients echoed", cli.echoed, n)
	}
}

// hzChurnHandler shuts its loop down on the first message, or, with
// running set, only reports that the loop runs.
type hzChurnHandler struct {
	NopHandler[int]
	msgs, timeouts int
	running        chan struct{}
}

func (h *hzChurnHandler) Notify(l *EventLoop[int], _ int) {
	h.msgs++
	if h.running != nil {
		close(h.running)
		return
	}
	l.Shutdown()
}

func (h *hzChurnHandler) Timeout(*EventLoop[int], Token) { h.timeouts++ }

// Loops created and closed by the thousand, some with registrations, timers
// and messages, some closed while running on another goroutine, leave no fd
// and no goroutine behind.
func TestStressLoopChurnLeaksNothing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	checkNoFdLeaks(t)
	r, w, err := Pipe()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		l, err := NewEventLoop[int](Config{EventCapacity: 1 + i%64})
		if err != nil {
			t.Fatal(err)
		}
		h := &hzChurnHandler{}
		switch i % 4 {
		case 0: // never used
		case 1: // registered, timed and messaged, run once
			if err := l.Register(w, 1, Writable, Level); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Timeout(2, 0); err != nil {
				t.Fatal(err)
			}
			if err := l.Channel().Send(i); err != nil {
				t.Fatal(err)
			}
			if err := l.RunOnce(h, pending); err != nil {
				t.Fatal(err)
			}
			if h.msgs != 1 || h.timeouts != 1 {
				t.Fatalf("loop %d: %d messages and %d timeouts delivered, want 1 and 1", i, h.msgs, h.timeouts)
			}
		case 2: // closed from another goroutine while running
			// Close only once Run is surely running: a Close racing with
			// Run's start is TestStressCloseRacingRunStart's subject.
			h.running = make(chan struct{})
			done := make(chan error, 1)
			go func() { done <- l.Run(h) }()
			if err := l.Channel().Send(i); err != nil {
				t.Fatal(err)
			}
			<-h.running
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("loop %d: Run ended by Close: %v", i, err)
			}
			if err := l.Close(); !errors.Is(err, ErrClosed) {
				t.Fatalf("loop %d: second Close: %v, want ErrClosed", i, err)
			}
			continue
		case 3: // shut down by a message while running on another goroutine
			done := make(chan error, 1)
			go func() { done <- l.Run(h) }()
			if err := l.Channel().Send(i); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	w.Close()
}
