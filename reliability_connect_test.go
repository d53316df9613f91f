//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"errors"
	"net/netip"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// Connect edge cases: refusal, cancellation, the unspecified address, and
// I/O on a socket whose connect has not been reported yet.

// A refused connect reports exactly one error, through Writable and
// TakeError, and the socket stays open and the user's to close.
func TestRelConnectRefusedOnceSocketKept(t *testing.T) {
	forEachLoopback(t, func(t *testing.T, _ string, ip netip.Addr) {
		relNoLeaks(t)
		addr := relDeadTCPAddr(t, ip)
		l := newLoop(t)
		sock := newTCPSocket4or6(t, ip)
		if err := l.Connect(sock, addr, 1); err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) {
				t.Skip("this system refuses loopback connects synchronously")
			}
			t.Fatal(err)
		}
		h := relNewH(t)
		var errs []error
		h.onW = func(l *EventLoop[int], _ Token) {
			if err := sock.TakeError(); err != nil {
				errs = append(errs, err)
			}
			if h.writes[1] == 1 {
				// Quiet window: a second report would come in it.
				relStopAfter(t, l, 100*time.Millisecond)
			}
		}
		relRun(t, l, h)
		if h.writes[1] != 1 || len(errs) != 1 || !errors.Is(errs[0], syscall.ECONNREFUSED) {
			t.Fatalf("refused connect: %d Writable calls, TakeError results %v; want one Writable with ECONNREFUSED", h.writes[1], errs)
		}
		if !relFdOpen(sock.Fd()) {
			t.Fatalf("the socket's fd %d was closed behind the user's back", sock.Fd())
		}
		if err := sock.TakeError(); err != nil {
			t.Fatalf("second TakeError: %v, want nil (the error is reported once)", err)
		}
		if _, err := sock.PeerAddr(); !errors.Is(err, syscall.ENOTCONN) {
			t.Fatalf("PeerAddr of a refused socket: %v, want ENOTCONN", err)
		}
		if err := sock.Close(); err != nil {
			t.Fatalf("the user's Close of the refused socket: %v, want nil", err)
		}
	})
	t.Run("unix", func(t *testing.T) {
		relNoLeaks(t)
		// A bound Unix socket that does not listen refuses at once.
		s, err := NewUnixSocket()
		if err != nil {
			t.Fatal(err)
		}
		addr := UnixAddr(filepath.Join(t.TempDir(), "deaf.sock"))
		deaf, err := s.Bind(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer deaf.Close()
		l := newLoop(t)
		sock, err := NewUnixSocket()
		if err != nil {
			t.Fatal(err)
		}
		defer sock.Close()
		if err := l.Connect(sock, addr, 1); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("Unix connect to a socket that does not listen: %v, want ECONNREFUSED", err)
		}
		if l.reg.lookup(sock.Fd()) != nil || !relFdOpen(sock.Fd()) {
			t.Fatal("a connect refused at once left the socket registered or closed it")
		}
		h := relNewH(t)
		runOnce(t, l, h, 50*time.Millisecond)
		if len(h.reads)+len(h.writes) != 0 {
			t.Fatalf("callbacks for a connect that failed at once: %v %v", h.reads, h.writes)
		}
	})
}

// relTCPListenFull returns a TCP acceptor whose accept queue is full (it
// listens with backlog 1 and holds the connections it takes), so a new
// connect stays in progress: Linux drops the SYNs while the queue is full.
func relTCPListenFull(t *testing.T) (*TCPAcceptor, SockAddr) {
	t.Helper()
	acc, addr := relTCPAcceptor(t, loopback4)
	if err := acc.listen(1); err != nil {
		t.Fatal(err)
	}
	for range 2 { // backlog 1 holds two connections on Linux
		c := newTCPSocket4or6(t, loopback4)
		connectNow(t, c, addr)
	}
	return acc, addr
}

// A connect cancelled by a timer (the handler closes the connecting
// socket) ends cleanly: Close succeeds and nothing more is reported for its
// token, even once the listener has room again.
func TestRelConnectCancelledByTimer(t *testing.T) {
	t.Run("tcp", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("relies on Linux dropping SYNs to a full accept queue")
		}
		relNoLeaks(t)
		acc, addr := relTCPListenFull(t)
		l := newLoop(t)
		const candidates = 4
		var socks [candidates]*TCPSocket
		for i := range socks {
			socks[i] = newTCPSocket4or6(t, loopback4)
			if err := l.Connect(socks[i], addr, Token(10+i)); err != nil {
				t.Fatal(err)
			}
		}
		h := relNewH(t)
		cancelled := map[Token]bool{}
		late := 0
		record := func(tok Token) {
			if cancelled[tok] {
				late++
			}
		}
		h.onR = func(_ *EventLoop[int], tok Token, _ ReadHint) { record(tok) }
		h.onW = func(_ *EventLoop[int], tok Token) { record(tok) }
		h.onT = func(l *EventLoop[int], _ Token) {
			for i, s := range socks {
				tok := Token(10 + i)
				if h.writes[tok] > 0 {
					continue // its connect was reported: not pending
				}
				cancelled[tok] = true
				if err := s.Close(); err != nil {
					t.Errorf("Close of the connecting socket %d: %v", tok, err)
				}
			}
			// Make room: a connect the loop still tracked could now
			// complete and be reported.
			for {
				c, err := acc.Accept()
				if err != nil {
					break
				}
				c.Close()
			}
			relStopAfter(t, l, 300*time.Millisecond)
		}
		if _, err := l.Timeout(1, 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		relRun(t, l, h)
		if len(cancelled) == 0 {
			t.Skip("precondition: every connect completed before the timer, none was pending")
		}
		if late != 0 {
			t.Fatalf("%d callbacks for the tokens of connects cancelled by the timer", late)
		}
	})
	t.Run("unix-retry", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("EAGAIN from a Unix connect is Linux behaviour")
		}
		relNoLeaks(t)
		acc, addr := listeningUnix(t, 1)
		l := newLoop(t)
		var socks []*UnixSocket
		defer func() {
			for _, s := range socks {
				s.Close()
			}
		}()
		victim := Token(0)
		for i := range 16 {
			s, err := NewUnixSocket()
			if err != nil {
				t.Fatal(err)
			}
			socks = append(socks, s)
			if err := l.Connect(s, addr, Token(10+i)); err != nil {
				t.Fatal(err)
			}
			if len(l.retries) > 0 {
				victim = Token(10 + i)
				break
			}
		}
		if victim == 0 {
			t.Fatal("precondition: no connect met a full queue")
		}
		h := relNewH(t)
		cancelled := false
		late := 0
		h.onR = func(_ *EventLoop[int], tok Token, _ ReadHint) {
			if tok == victim && cancelled {
				late++
			}
		}
		h.onW = func(_ *EventLoop[int], tok Token) {
			if tok == victim && cancelled {
				late++
			}
		}
		h.onT = func(l *EventLoop[int], _ Token) {
			cancelled = true
			if err := socks[victim-10].Close(); err != nil {
				t.Errorf("Close of the connect waiting for a retry: %v", err)
			}
			for {
				c, err := acc.Accept()
				if err != nil {
					break
				}
				c.Close()
			}
			relStopAfter(t, l, 150*time.Millisecond)
		}
		if _, err := l.Timeout(1, 5*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		relRun(t, l, h)
		if late != 0 {
			t.Fatalf("%d callbacks for a deferred connect closed by the timer", late)
		}
		if len(l.retries) != 0 {
			t.Fatalf("the loop still tracks %d connect retries after the only one was closed", len(l.retries))
		}
	})
}

// A deferred Unix connect is closed and its fd number is at once reused by
// a new socket whose connect is deferred too. The first connect's retry
// must not act for the second: no Writable may reach the new token before
// its socket is connected or has failed.
func TestRelConnectCancelledRetryFdReuse(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("EAGAIN from a Unix connect is Linux behaviour")
	}
	relNoLeaks(t)
	acc, addr := listeningUnix(t, 1)
	l := newLoop(t)
	var socks []*UnixSocket
	defer func() {
		for _, s := range socks {
			s.Close()
		}
	}()
	var old *UnixSocket
	for i := range 16 {
		s, err := NewUnixSocket()
		if err != nil {
			t.Fatal(err)
		}
		socks = append(socks, s)
		if err := l.Connect(s, addr, Token(10+i)); err != nil {
			t.Fatal(err)
		}
		if len(l.retries) > 0 {
			old = s
			break
		}
	}
	if old == nil {
		t.Fatal("precondition: no connect met a full queue")
	}
	const newTok Token = 99
	var fresh *UnixSocket
	h := relNewH(t)
	h.onW = func(l *EventLoop[int], tok Token) {
		if tok != newTok || h.writes[newTok] > 1 {
			return
		}
		err := fresh.TakeError()
		if _, perr := fresh.PeerAddr(); err == nil && perr != nil {
			t.Errorf("Writable for the new connect before it was connected: TakeError nil, PeerAddr %v", perr)
		} else if err != nil {
			t.Errorf("the new connect failed: %v", err)
		}
		relStopAfter(t, l, 100*time.Millisecond)
	}
	h.onT = func(l *EventLoop[int], tok Token) {
		if tok == 2 {
			// Make room, so the new connect can complete.
			for {
				c, err := acc.Accept()
				if err != nil {
					break
				}
				c.Close()
			}
			return
		}
		num := old.Fd()
		if err := old.Close(); err != nil {
			t.Error(err)
		}
		var held []*UnixSocket
		for range 64 {
			s, err := NewUnixSocket()
			if err != nil {
				t.Error(err)
				break
			}
			if s.Fd() == num {
				fresh = s
				break
			}
			held = append(held, s)
		}
		for _, s := range held {
			s.Close()
		}
		if fresh == nil {
			t.Errorf("could not reuse fd %d", num)
			l.Shutdown()
			return
		}
		socks = append(socks, fresh)
		if err := l.Connect(fresh, addr, newTok); err != nil {
			t.Error(err)
		}
		if len(l.retries) < 1 {
			t.Error("precondition: the new connect was not deferred")
		}
		// The stale retry, if any, acts within a few iterations; room
		// comes later.
		if _, err := l.Timeout(2, 20*time.Millisecond); err != nil {
			t.Error(err)
		}
	}
	if _, err := l.Timeout(1, 0); err != nil {
		t.Fatal(err)
	}
	relRun(t, l, h)
	if h.writes[newTok] == 0 {
		t.Fatal("the new connect was never reported")
	}
}

// Connecting to the unspecified address: Linux connects to loopback
// (0.0.0.0 means 127.0.0.1, :: means ::1), so a loopback listener accepts
// it and PeerAddr names the loopback address.
func TestRelConnectUnspecifiedAddress(t *testing.T) {
	for _, tc := range []struct {
		name        string
		loop, unspc func(t *testing.T) netip.Addr
	}{
		{"v4", func(*testing.T) netip.Addr { return loopback4 }, func(*testing.T) netip.Addr { return netip.IPv4Unspecified() }},
		{"v6", func(t *testing.T) netip.Addr { return ipv6Loopback(t) }, func(*testing.T) netip.Addr { return netip.IPv6Unspecified() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			relNoLeaks(t)
			ip := tc.loop(t)
			acc, addr := relTCPAcceptor(t, ip)
			l := newLoop(t)
			if err := l.Listen(acc, 16, 0); err != nil {
				t.Fatal(err)
			}
			ap, _ := addr.AddrPort()
			target := InetAddr(tc.unspc(t), ap.Port())
			sock := newTCPSocket4or6(t, ip)
			err := l.Connect(sock, target, 1)
			if runtime.GOOS != "linux" {
				// Defined only on Linux; elsewhere it must not hang.
				t.Logf("Connect(%s) on %s: %v", target, runtime.GOOS, err)
			} else if err != nil {
				t.Fatalf("Connect(%s): %v; Linux connects to loopback", target, err)
			}
			h := relNewH(t)
			var connErr error
			var accepted *TCPSocket
			h.onW = func(l *EventLoop[int], tok Token) {
				if tok == 1 && h.writes[1] == 1 {
					connErr = sock.TakeError()
					if connErr != nil || accepted != nil {
						l.Shutdown()
					}
				}
			}
			h.onR = func(l *EventLoop[int], tok Token, _ ReadHint) {
				if tok != 0 || accepted != nil {
					return
				}
				c, err := acc.AcceptTCP()
				if err == nil {
					accepted = c
					t.Cleanup(func() { c.Close() })
					if h.writes[1] > 0 {
						l.Shutdown()
					}
				}
			}
			if err == nil {
				relRun(t, l, h)
			}
			if runtime.GOOS != "linux" {
				t.Logf("outcome on %s: connect error %v, accepted %v", runtime.GOOS, connErr, accepted != nil)
				return
			}
			if connErr != nil || accepted == nil {
				t.Fatalf("connect to %s: TakeError %v, accepted %v; want a loopback connection", target, connErr, accepted != nil)
			}
			peer, err := sock.PeerAddr()
			if err != nil || peer != addr {
				t.Fatalf("PeerAddr after connecting to %s = %s, %v; want %s", target, peer, err, addr)
			}
		})
	}
}

// A Write on a socket whose connect is still in progress returns
// ErrWouldBlock, or the connect's error if it already failed; either way the
// refusal must still reach the handler through Writable and TakeError, as
// Connect promises.
func TestRelConnectWriteBeforeRefused(t *testing.T) {
	relNoLeaks(t)
	addr := relDeadTCPAddr(t, loopback4)
	l := newLoop(t)
	sock := newTCPSocket4or6(t, loopback4)
	if err := l.Connect(sock, addr, 1); err != nil {
		t.Fatal(err)
	}
	n, werr := sock.Write([]byte("queued before the connect is known"))
	if n != 0 || (werr != ErrWouldBlock && !errors.Is(werr, syscall.ECONNREFUSED)) {
		t.Fatalf("Write on a connecting socket = %d, %v; want 0 and ErrWouldBlock or ECONNREFUSED", n, werr)
	}
	h := relNewH(t)
	var got error
	h.onW = func(l *EventLoop[int], _ Token) {
		got = sock.TakeError()
		l.Shutdown()
	}
	relRun(t, l, h)
	if !errors.Is(got, syscall.ECONNREFUSED) {
		t.Fatalf("Write returned %v; then TakeError at Writable = %v, want ECONNREFUSED", werr, got)
	}
}

// The same through the natural handler: Readable (which dispatch calls
// first) reads, Writable checks the connect. The read must not hide the
// refusal from TakeError.
func TestRelConnectReadInReadableKeepsRefusal(t *testing.T) {
	relNoLeaks(t)
	addr := relDeadTCPAddr(t, loopback4)
	l := newLoop(t)
	sock := newTCPSocket4or6(t, loopback4)
	if err := l.Connect(sock, addr, 1); err != nil {
		t.Fatal(err)
	}
	h := relNewH(t)
	var readErr, got error
	h.onR = func(*EventLoop[int], Token, ReadHint) {
		var buf [16]byte
		_, readErr = sock.Read(buf[:])
	}
	h.onW = func(l *EventLoop[int], _ Token) {
		got = sock.TakeError()
		l.Shutdown()
	}
	relRun(t, l, h)
	if !errors.Is(got, syscall.ECONNREFUSED) {
		t.Fatalf("Read in Readable returned %v; then TakeError at Writable = %v, want ECONNREFUSED", readErr, got)
	}
}
