//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// shedChildEnv, when set (to "level" or "edge"), makes TestShedEMFILE run
// the child's part in a re-executed test binary.
const shedChildEnv = "MIO_REL_SHED_CHILD"

// The reserve fd is opened by the first accept and kept for the life of the
// process. Tests that compare open fds before and after would see it appear
// in whichever test accepts first, so the test binary takes it up front
// (except in the child of TestShedEMFILE, which checks that it is lazy).
func init() {
	if os.Getenv(shedChildEnv) == "" {
		reserveSpareFd()
	}
}

// shedPending, called as accept calls it on EMFILE, closes every pending
// connection (the clients read EOF), leaves the queue empty, reports the
// cause through errors.Is, and takes the reserve fd again.
func TestShedClosesPendingConnections(t *testing.T) {
	checkNoFdLeaks(t)
	if !spareFdHeld() {
		t.Fatal("precondition: the reserve fd is not held")
	}
	acc, addr := boundTCP(t, loopback4)
	if err := acc.listen(16); err != nil {
		t.Fatal(err)
	}
	const pendingConns = 5
	var clients []*TCPSocket
	for range pendingConns {
		c := newTCPSocket4or6(t, loopback4)
		connectNow(t, c, addr)
		clients = append(clients, c)
	}
	waitFd(t, acc.Fd(), unix.POLLIN)
	for _, cause := range []error{unix.EMFILE, unix.ENFILE} {
		err := shedPending(acc.Fd(), cause)
		if !errors.Is(err, cause) {
			t.Fatalf("shedPending(%v) = %v; want an error matching %v", cause, err, cause)
		}
		if !spareFdHeld() {
			t.Fatalf("the reserve fd was not taken again after shedding (%v)", cause)
		}
		t.Logf("%v", err)
	}
	if s, err := acc.Accept(); err != ErrWouldBlock {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Accept after the shed = %v; want ErrWouldBlock, every pending connection shed", err)
	}
	for i, c := range clients {
		waitFd(t, c.Fd(), unix.POLLIN)
		var buf [4]byte
		if _, err := c.Read(buf[:]); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("shed client %d read %v; want io.EOF or ECONNRESET", i, err)
		}
	}
}

// TestShedEMFILE runs a loop with a listener in a child process whose
// RLIMIT_NOFILE is used up. The child checks, and reports on stdout, that
//   - the reserve fd is taken lazily, by the first accept;
//   - clients that connect while no fd is free are shed: they read EOF or
//     a reset instead of hanging, and Accept reports EMFILE (errors.Is);
//   - the loop does not spin meanwhile: no Readable for the listener in an
//     idle window, and CPU time below 20% of the window;
//   - once fds are freed, a new client is accepted and echoed.
//
// Level-triggered, a listener left readable would spin; edge-triggered, it
// would be reported no more once its queue was full. Both are run.
func TestShedEMFILE(t *testing.T) {
	if mode := os.Getenv(shedChildEnv); mode != "" {
		shedChild(t, mode)
		return
	}
	if runtime.GOOS != "linux" {
		t.Skip("the child's checks are verified on Linux only")
	}
	for _, mode := range []string{"level", "edge"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestShedEMFILE$", "-test.count=1", "-test.v", "-test.timeout=50s")
			cmd.Env = append(os.Environ(), shedChildEnv+"="+mode)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child (%s) failed: %v\n%s", mode, err, out)
			}
			want := "SHED-OK mode=" + mode
			i := strings.Index(string(out), want)
			if i < 0 {
				t.Fatalf("child (%s) exited 0 without reporting %q:\n%s", mode, want, out)
			}
			line, _, _ := strings.Cut(string(out[i:]), "\n")
			t.Log(line)
		})
	}
}

// shedTokens name the child's registrations and timers.
const (
	shedAcc Token = iota
	shedDeadline
	shedWindowEnd
	shedResume  // the client that comes once fds are free
	shedServed  // its accepted connection
	shedClient0 // the clients to be shed: shedClient0 + i
)

// shedClients is how many clients connect while no fd is free.
const shedClients = 4

// shedChild is the child's part of TestShedEMFILE.
func shedChild(t *testing.T, mode string) {
	opt := Level
	if mode == "edge" {
		opt = Edge
	}
	if spareFdHeld() {
		t.Fatal("the reserve fd is held before any accept: it should be opened lazily")
	}
	l := newLoop(t)
	acc, addr := boundTCP(t, loopback4)
	if err := l.ListenWith(acc, 16, shedAcc, opt); err != nil {
		t.Fatal(err)
	}
	if _, err := acc.Accept(); err != ErrWouldBlock {
		t.Fatalf("first Accept: %v, want ErrWouldBlock", err)
	}
	if !spareFdHeld() {
		t.Fatal("the first Accept did not take the reserve fd")
	}
	// Every socket the clients need exists before the fds run out.
	var clients [shedClients]*TCPSocket
	for i := range clients {
		clients[i] = newTCPSocket4or6(t, loopback4)
	}
	resume := newTCPSocket4or6(t, loopback4)

	closeFillers := useUpFds(t) // a low limit, then /dev/null until EMFILE

	for i, c := range clients {
		if err := l.Connect(c, addr, shedClient0+Token(i)); err != nil {
			t.Fatal(err)
		}
	}
	var (
		phase        = "exhausted"
		emfile       int
		lastErr      error
		shedSeen     = map[Token]error{}
		windowReads  int
		windowStart  time.Time
		cpuStart     time.Duration
		cpuShare     float64
		served       *TCPSocket
		echoed       []byte
		acceptedLate int
	)
	cpuNow := func() time.Duration {
		var ru unix.Rusage
		if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	h := &recorder{}
	h.onReadable = func(l *EventLoop[int], tok Token, _ ReadHint) {
		switch {
		case tok == shedAcc:
			if phase == "window" {
				windowReads++
			}
			for {
				s, err := acc.AcceptTCP()
				if err == ErrWouldBlock {
					return
				}
				if errors.Is(err, syscall.EMFILE) {
					emfile++
					lastErr = err
					return // like ErrWouldBlock: wait for the next report
				}
				if err != nil {
					t.Errorf("Accept: %v", err)
					l.Shutdown()
					return
				}
				if phase != "resume" || served != nil {
					acceptedLate++
					s.Close()
					continue
				}
				served = s
				t.Cleanup(func() { s.Close() })
				if err := l.Register(s, shedServed, Readable, Level); err != nil {
					t.Error(err)
				}
			}
		case tok == shedServed:
			var buf [16]byte
			n, err := served.Read(buf[:])
			if n > 0 {
				if _, err := served.Write(buf[:n]); err != nil {
					t.Errorf("echo: %v", err)
				}
			}
			if err != nil && err != ErrWouldBlock {
				l.Deregister(served)
			}
		case tok == shedResume:
			var buf [16]byte
			n, _ := resume.Read(buf[:])
			echoed = append(echoed, buf[:n]...)
			if string(echoed) == "ping" {
				l.Shutdown()
			}
		case tok >= shedClient0:
			if _, seen := shedSeen[tok]; seen {
				return
			}
			var buf [16]byte
			_, err := clients[tok-shedClient0].Read(buf[:])
			if err == ErrWouldBlock {
				return
			}
			shedSeen[tok] = err
			// Keep the socket (closing it would free an fd) but stop
			// hearing about it.
			l.Deregister(clients[tok-shedClient0])
			if len(shedSeen) == shedClients && phase == "exhausted" {
				phase = "window"
				windowStart, cpuStart = time.Now(), cpuNow()
				if _, err := l.Timeout(shedWindowEnd, 300*time.Millisecond); err != nil {
					t.Error(err)
				}
			}
		}
	}
	h.onWritable = func(l *EventLoop[int], tok Token) {
		if tok == shedResume && h.count("w", tok) == 1 {
			if err := resume.TakeError(); err != nil {
				t.Errorf("resume client connect: %v", err)
				l.Shutdown()
				return
			}
			if _, err := resume.Write([]byte("ping")); err != nil {
				t.Errorf("resume client write: %v", err)
			}
		}
	}
	h.onTimeout = func(l *EventLoop[int], tok Token) {
		switch tok {
		case shedDeadline:
			t.Errorf("phase %s: deadline passed; clients shed %d of %d, EMFILE errors %d, echoed %q",
				phase, len(shedSeen), shedClients, emfile, echoed)
			l.Shutdown()
		case shedWindowEnd:
			wall := time.Since(windowStart)
			cpuShare = float64(cpuNow()-cpuStart) / float64(wall)
			phase = "resume"
			closeFillers(8)
			if err := l.Connect(resume, addr, shedResume); err != nil {
				t.Errorf("resume client Connect: %v", err)
				l.Shutdown()
			}
		}
	}
	if _, err := l.Timeout(shedDeadline, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	run(t, l, h)
	if t.Failed() {
		return
	}
	if emfile == 0 {
		t.Fatal("Accept never reported EMFILE")
	}
	if emfile > shedClients {
		t.Fatalf("Accept reported EMFILE %d times for %d clients: the listener stayed readable", emfile, shedClients)
	}
	if !errors.Is(lastErr, syscall.EMFILE) {
		t.Fatalf("Accept's error %v does not match EMFILE", lastErr)
	}
	for tok, err := range shedSeen {
		if err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("shed client %d read %v; want io.EOF or ECONNRESET", tok, err)
		}
	}
	if windowReads != 0 {
		t.Errorf("%d Readable calls for the listener in the idle window: the loop spins", windowReads)
	}
	if cpuShare > 0.20 {
		t.Errorf("CPU time in the idle window was %.0f%% of the wall time; want < 20%%", 100*cpuShare)
	}
	if acceptedLate != 0 {
		t.Errorf("%d connections accepted that should have been shed", acceptedLate)
	}
	if string(echoed) != "ping" {
		t.Fatalf("after fds were freed the new client got %q back, want \"ping\"", echoed)
	}
	fmt.Printf("SHED-OK mode=%s shed=%d emfile=%d windowReadable=%d cpu=%.1f%% err=%q\n",
		mode, len(shedSeen), emfile, windowReads, 100*cpuShare, lastErr)
}

// Where the kernel drops the connection whose accept failed (XNU), the
// error is reported and the other pending connections stay queued; the
// decision is taken per kernel.
func TestExhaustedShedsOnlyWhereTheKernelKeeps(t *testing.T) {
	checkNoFdLeaks(t)
	// XNU's accept_nocancel closes the connection when falloc fails; the
	// others allocate the fd before they take the connection off the
	// queue, or put it back, so it stays queued.
	for goos, drops := range map[string]bool{"darwin": true, "ios": true, "linux": false,
		"freebsd": false, "dragonfly": false, "netbsd": false, "openbsd": false} {
		if got := dropsOnExhaustion(goos); got != drops {
			t.Errorf("%s: the kernel drops = %v, want %v", goos, got, drops)
		}
	}
	acc, addr := boundTCP(t, loopback4)
	if err := acc.listen(16); err != nil {
		t.Fatal(err)
	}
	c := newTCPSocket4or6(t, loopback4)
	connectNow(t, c, addr)
	waitFd(t, acc.Fd(), unix.POLLIN)
	if err := exhausted(acc.Fd(), unix.EMFILE, true); !errors.Is(err, unix.EMFILE) {
		t.Fatalf("exhausted where the kernel drops = %v; want EMFILE", err)
	}
	s, err := acc.Accept()
	if err != nil {
		t.Fatalf("Accept after an exhaustion the kernel handled: %v; the pending connection was shed", err)
	}
	s.Close()
}
