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

// connectWatcher checks, at every Writable, that the socket is connected
// or has an error: a Writable before the outcome is known is a bug.
type connectWatcher struct {
	NopHandler[int]
	t        *testing.T
	socks    map[Token]Socket
	outcome  map[Token]error // TakeError at the first Writable
	readable map[Token]ReadHint
	want     int
	onTimer  func(l *EventLoop[int], tok Token)
}

func newWatcher(t *testing.T, want int) *connectWatcher {
	return &connectWatcher{t: t, socks: map[Token]Socket{}, outcome: map[Token]error{},
		readable: map[Token]ReadHint{}, want: want}
}

func (w *connectWatcher) Readable(_ *EventLoop[int], tok Token, hint ReadHint) {
	w.readable[tok] |= hint
}

func (w *connectWatcher) Writable(l *EventLoop[int], tok Token) {
	if _, seen := w.outcome[tok]; seen {
		return
	}
	sock := w.socks[tok]
	err := sock.TakeError()
	if err == nil {
		if _, perr := sock.PeerAddr(); perr != nil {
			w.t.Errorf("token %d: Writable before the connection exists: TakeError nil, PeerAddr %v", tok, perr)
		}
	}
	w.outcome[tok] = err
	if len(w.outcome) == w.want {
		l.Shutdown()
	}
}

func (w *connectWatcher) Timeout(l *EventLoop[int], tok Token) {
	if tok == watchdogToken {
		w.t.Errorf("only %d of %d connects reported", len(w.outcome), w.want)
		l.Shutdown()
		return
	}
	if w.onTimer != nil {
		w.onTimer(l, tok)
	}
}

func runWatched(t *testing.T, l *EventLoop[int], w *connectWatcher) {
	t.Helper()
	if _, err := l.Timeout(watchdogToken, maxWait); err != nil {
		t.Fatal(err)
	}
	if err := l.Run(w); err != nil {
		t.Fatal(err)
	}
}

// Unix connects complete inside connect(2); Writable must still come.
func TestConnectSynchronousUnix(t *testing.T) {
	_, addr := unixListener(t, 16)
	l := newLoop(t)
	w := newWatcher(t, 1)
	sock, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	w.socks[1] = sock
	state, err := sock.startConnect(addr)
	if err != nil || state != connectDone {
		t.Fatalf("precondition: a Unix connect should finish at once, got state %d, %v", state, err)
	}
	// Connect again through the loop on a fresh socket: the synchronous path.
	sock2, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer sock2.Close()
	w.socks[2] = sock2
	w.want = 1
	if err := l.Connect(sock2, addr, 2); err != nil {
		t.Fatal(err)
	}
	runWatched(t, l, w)
	if err, ok := w.outcome[2]; !ok || err != nil {
		t.Fatalf("synchronous Unix connect: Writable seen %v, error %v", ok, err)
	}
}

func TestConnectAsynchronousTCP(t *testing.T) {
	_, addr := tcpListener(t, loopback4, 0)
	l := newLoop(t)
	w := newWatcher(t, 1)
	sock, err := NewTCPSocketV4()
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	w.socks[1] = sock
	if err := l.Connect(sock, addr, 1); err != nil {
		t.Fatal(err)
	}
	runWatched(t, l, w)
	if err, ok := w.outcome[1]; !ok || err != nil {
		t.Fatalf("TCP connect: Writable seen %v, error %v", ok, err)
	}
}

func TestConnectErrorReturnedAtOnce(t *testing.T) {
	l := newLoop(t)
	sock, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	missing := UnixAddr(filepath.Join(t.TempDir(), "nobody-here.sock"))
	if err := l.Connect(sock, missing, 1); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("connect to a missing path: %v, want ENOENT", err)
	}
	if l.reg.lookup(sock.Fd()) != nil {
		t.Fatal("a socket whose connect failed at once was left registered")
	}
}

func TestConnectFromInsideCallback(t *testing.T) {
	_, addr := tcpListener(t, loopback4, 0)
	l := newLoop(t)
	w := newWatcher(t, 1)
	sock, err := NewTCPSocketV4()
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	w.socks[7] = sock
	w.onTimer = func(l *EventLoop[int], _ Token) {
		if err := l.Connect(sock, addr, 7); err != nil {
			t.Error(err)
		}
	}
	if _, err := l.Timeout(1, 0); err != nil {
		t.Fatal(err)
	}
	runWatched(t, l, w)
	if err, ok := w.outcome[7]; !ok || err != nil {
		t.Fatalf("connect from a callback: Writable seen %v, error %v", ok, err)
	}
}

// A listener that does not accept fills its queue; Linux then answers a
// non-blocking Unix connect with EAGAIN. Those connects must report
// Writable only once they really are connected, after the listener has
// made room.
func TestConnectUnixFullQueueRetries(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("EAGAIN from a Unix connect is Linux behaviour")
	}
	acc, addr := unixListener(t, 1)
	l := newLoop(t)
	const clients = 8
	w := newWatcher(t, clients)
	for i := range clients {
		sock, err := NewUnixSocket()
		if err != nil {
			t.Fatal(err)
		}
		defer sock.Close()
		w.socks[Token(i)] = sock
		if err := l.Connect(sock, addr, Token(i)); err != nil {
			t.Fatal(err)
		}
	}
	if len(l.retries) == 0 {
		t.Fatal("precondition: no connect met a full queue")
	}
	deferred := len(l.retries)
	// Drain the queue a little at a time from a timer, so the retried
	// connects find room over several iterations.
	var accepted []*UnixSocket
	defer func() {
		for _, c := range accepted {
			c.Close()
		}
	}()
	w.onTimer = func(l *EventLoop[int], _ Token) {
		for {
			c, err := acc.AcceptUnix()
			if err != nil {
				break
			}
			accepted = append(accepted, c)
		}
		if len(w.outcome) < clients {
			l.Timeout(2, time.Millisecond)
		}
	}
	l.Timeout(2, time.Millisecond)
	runWatched(t, l, w)
	for i := range clients {
		if err, ok := w.outcome[Token(i)]; !ok || err != nil {
			t.Fatalf("client %d (of %d deferred): Writable seen %v, error %v", i, deferred, ok, err)
		}
	}
}

// A retried Unix connect whose listener goes away fails, and the failure
// comes as Writable with the error in TakeError.
func TestConnectUnixRetryFailureReported(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("EAGAIN from a Unix connect is Linux behaviour")
	}
	acc, addr := unixListener(t, 1)
	l := newLoop(t)
	w := newWatcher(t, 0)
	var last Token
	for i := range 8 {
		sock, err := NewUnixSocket()
		if err != nil {
			t.Fatal(err)
		}
		defer sock.Close()
		w.socks[Token(i)] = sock
		if err := l.Connect(sock, addr, Token(i)); err != nil {
			t.Fatal(err)
		}
		if len(l.retries) > 0 {
			last = Token(i)
			break
		}
	}
	if len(l.retries) == 0 {
		t.Fatal("precondition: no connect met a full queue")
	}
	w.want = int(last) + 1
	acc.Close() // the waiting connect can now only fail
	runWatched(t, l, w)
	err := w.outcome[last]
	if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("retried connect to a closed listener: TakeError %v, want ECONNREFUSED or ENOENT", err)
	}
	if w.readable[last]&ErrorHint == 0 {
		t.Fatalf("failed retried connect: Readable hint %v, want ErrorHint", w.readable[last])
	}
}

// A refused connect reports exactly one error, through Writable and
// TakeError, and the socket stays open and the user's to close.
func TestConnectRefusedReportedOnceSocketKept(t *testing.T) {
	forEachLoopback(t, func(t *testing.T, _ string, ip netip.Addr) {
		checkNoFdLeaks(t)
		addr := deadTCPAddr(t, ip)
		l := newLoop(t)
		sock := newTCPSocket4or6(t, ip)
		if err := l.Connect(sock, addr, 1); err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) {
				t.Skip("this system refuses loopback connects synchronously")
			}
			t.Fatal(err)
		}
		h := &recorder{}
		var errs []error
		h.onWritable = func(l *EventLoop[int], _ Token) {
			if err := sock.TakeError(); err != nil {
				errs = append(errs, err)
			}
			if h.count("w", 1) == 1 {
				// Quiet window: a second report would come in it.
				stopAfter(t, l, 100*time.Millisecond)
			}
		}
		run(t, l, h)
		if h.count("w", 1) != 1 || len(errs) != 1 || !errors.Is(errs[0], syscall.ECONNREFUSED) {
			t.Fatalf("refused connect: %d Writable calls, TakeError results %v; want one Writable with ECONNREFUSED", h.count("w", 1), errs)
		}
		if !fdOpen(sock.Fd()) {
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
		checkNoFdLeaks(t)
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
		if l.reg.lookup(sock.Fd()) != nil || !fdOpen(sock.Fd()) {
			t.Fatal("a connect refused at once left the socket registered or closed it")
		}
		h := &recorder{}
		runOnce(t, l, h, 50*time.Millisecond)
		if len(h.calls) != 0 {
			t.Fatalf("callbacks for a connect that failed at once: %v", h.calls)
		}
	})
}

// relTCPListenFull returns a TCP acceptor whose accept queue is full (it
// listens with backlog 1 and holds the connections it takes), so a new
// connect stays in progress: Linux drops the SYNs while the queue is full.
func tcpListenerFull(t *testing.T) (*TCPAcceptor, SockAddr) {
	t.Helper()
	acc, addr := boundTCP(t, loopback4)
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
func TestConnectCancelledByTimer(t *testing.T) {
	t.Run("tcp", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("relies on Linux dropping SYNs to a full accept queue")
		}
		checkNoFdLeaks(t)
		acc, addr := tcpListenerFull(t)
		l := newLoop(t)
		const candidates = 4
		var socks [candidates]*TCPSocket
		for i := range socks {
			socks[i] = newTCPSocket4or6(t, loopback4)
			if err := l.Connect(socks[i], addr, Token(10+i)); err != nil {
				t.Fatal(err)
			}
		}
		h := &recorder{}
		cancelled := map[Token]bool{}
		late := 0
		record := func(tok Token) {
			if cancelled[tok] {
				late++
			}
		}
		h.onReadable = func(_ *EventLoop[int], tok Token, _ ReadHint) { record(tok) }
		h.onWritable = func(_ *EventLoop[int], tok Token) { record(tok) }
		h.onTimeout = func(l *EventLoop[int], _ Token) {
			for i, s := range socks {
				tok := Token(10 + i)
				if h.count("w", tok) > 0 {
					continue // its connect was reported: not pending
				}
				cancelled[tok] = true
				if err := s.Close(); err != nil {
					t.Errorf("Close of the connecting socket %d: %v", tok, err)
				}
			}
			// Make room: a connect the loop still tracked could now
			// complete and be reported.
			closeAccepted(acc)
			stopAfter(t, l, 300*time.Millisecond)
		}
		if _, err := l.Timeout(1, 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		run(t, l, h)
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
		checkNoFdLeaks(t)
		acc, addr := unixListener(t, 1)
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
		h := &recorder{}
		cancelled := false
		late := 0
		h.onReadable = func(_ *EventLoop[int], tok Token, _ ReadHint) {
			if tok == victim && cancelled {
				late++
			}
		}
		h.onWritable = func(_ *EventLoop[int], tok Token) {
			if tok == victim && cancelled {
				late++
			}
		}
		h.onTimeout = func(l *EventLoop[int], _ Token) {
			cancelled = true
			if err := socks[victim-10].Close(); err != nil {
				t.Errorf("Close of the connect waiting for a retry: %v", err)
			}
			closeAccepted(acc)
			stopAfter(t, l, 150*time.Millisecond)
		}
		if _, err := l.Timeout(1, 5*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		run(t, l, h)
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
func TestConnectRetryCancelledFdReused(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("EAGAIN from a Unix connect is Linux behaviour")
	}
	checkNoFdLeaks(t)
	acc, addr := unixListener(t, 1)
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
	h := &recorder{}
	h.onWritable = func(l *EventLoop[int], tok Token) {
		if tok != newTok || h.count("w", newTok) > 1 {
			return
		}
		err := fresh.TakeError()
		if _, perr := fresh.PeerAddr(); err == nil && perr != nil {
			t.Errorf("Writable for the new connect before it was connected: TakeError nil, PeerAddr %v", perr)
		} else if err != nil {
			t.Errorf("the new connect failed: %v", err)
		}
		stopAfter(t, l, 100*time.Millisecond)
	}
	h.onTimeout = func(l *EventLoop[int], tok Token) {
		if tok == 2 {
			// Make room, so the new connect can complete.
			closeAccepted(acc)
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
	run(t, l, h)
	if h.count("w", newTok) == 0 {
		t.Fatal("the new connect was never reported")
	}
}

// Connecting to the unspecified address: Linux connects to loopback
// (0.0.0.0 means 127.0.0.1, :: means ::1), so a loopback listener accepts
// it and PeerAddr names the loopback address.
func TestConnectUnspecifiedAddress(t *testing.T) {
	for _, tc := range []struct {
		name        string
		loop, unspc func(t *testing.T) netip.Addr
	}{
		{"v4", func(*testing.T) netip.Addr { return loopback4 }, func(*testing.T) netip.Addr { return netip.IPv4Unspecified() }},
		{"v6", func(t *testing.T) netip.Addr { return ipv6Loopback(t) }, func(*testing.T) netip.Addr { return netip.IPv6Unspecified() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkNoFdLeaks(t)
			ip := tc.loop(t)
			acc, addr := boundTCP(t, ip)
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
			h := &recorder{}
			var connErr error
			var accepted *TCPSocket
			h.onWritable = func(l *EventLoop[int], tok Token) {
				if tok == 1 && h.count("w", 1) == 1 {
					connErr = sock.TakeError()
					if connErr != nil || accepted != nil {
						l.Shutdown()
					}
				}
			}
			h.onReadable = func(l *EventLoop[int], tok Token, _ ReadHint) {
				if tok != 0 || accepted != nil {
					return
				}
				c, err := acc.AcceptTCP()
				if err == nil {
					accepted = c
					t.Cleanup(func() { c.Close() })
					if h.count("w", 1) > 0 {
						l.Shutdown()
					}
				}
			}
			if err == nil {
				run(t, l, h)
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
func TestWriteBeforeRefusedConnectKeepsRefusal(t *testing.T) {
	checkNoFdLeaks(t)
	addr := deadTCPAddr(t, loopback4)
	l := newLoop(t)
	sock := newTCPSocket4or6(t, loopback4)
	if err := l.Connect(sock, addr, 1); err != nil {
		t.Fatal(err)
	}
	n, werr := sock.Write([]byte("queued before the connect is known"))
	if n != 0 || (werr != ErrWouldBlock && !errors.Is(werr, syscall.ECONNREFUSED)) {
		t.Fatalf("Write on a connecting socket = %d, %v; want 0 and ErrWouldBlock or ECONNREFUSED", n, werr)
	}
	h := &recorder{}
	var got error
	h.onWritable = func(l *EventLoop[int], _ Token) {
		got = sock.TakeError()
		l.Shutdown()
	}
	run(t, l, h)
	if !errors.Is(got, syscall.ECONNREFUSED) {
		t.Fatalf("Write returned %v; then TakeError at Writable = %v, want ECONNREFUSED", werr, got)
	}
}

// The same through the natural handler: Readable (which dispatch calls
// first) reads, Writable checks the connect. The read must not hide the
// refusal from TakeError.
func TestReadBeforeRefusedConnectKeepsRefusal(t *testing.T) {
	checkNoFdLeaks(t)
	addr := deadTCPAddr(t, loopback4)
	l := newLoop(t)
	sock := newTCPSocket4or6(t, loopback4)
	if err := l.Connect(sock, addr, 1); err != nil {
		t.Fatal(err)
	}
	h := &recorder{}
	var readErr, got error
	h.onReadable = func(*EventLoop[int], Token, ReadHint) {
		var buf [16]byte
		_, readErr = sock.Read(buf[:])
	}
	h.onWritable = func(l *EventLoop[int], _ Token) {
		got = sock.TakeError()
		l.Shutdown()
	}
	run(t, l, h)
	if !errors.Is(got, syscall.ECONNREFUSED) {
		t.Fatalf("Read in Readable returned %v; then TakeError at Writable = %v, want ECONNREFUSED", readErr, got)
	}
}
