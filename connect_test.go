//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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
	if _, err := l.Timeout(watchdogToken, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.Run(w); err != nil {
		t.Fatal(err)
	}
}

func listeningUnix(t *testing.T, backlog int) (*UnixAcceptor, SockAddr) {
	t.Helper()
	s, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	addr := UnixAddr(filepath.Join(t.TempDir(), "l.sock"))
	acc, err := s.Bind(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acc.Close() })
	if err := acc.listen(backlog); err != nil {
		t.Fatal(err)
	}
	return acc, addr
}

func listeningTCP(t *testing.T) (*TCPAcceptor, SockAddr) {
	t.Helper()
	s, err := NewTCPSocketV4()
	if err != nil {
		t.Fatal(err)
	}
	acc, err := s.Bind(InetAddr(netip.MustParseAddr("127.0.0.1"), 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acc.Close() })
	if err := acc.listen(16); err != nil {
		t.Fatal(err)
	}
	addr, err := acc.LocalAddr()
	if err != nil {
		t.Fatal(err)
	}
	return acc, addr
}

// Unix connects complete inside connect(2); Writable must still come.
func TestConnectSynchronousUnix(t *testing.T) {
	_, addr := listeningUnix(t, 16)
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
	sock2, _ := NewUnixSocket()
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
	_, addr := listeningTCP(t)
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

func TestConnectRefusedReportsThroughTakeError(t *testing.T) {
	acc, addr := listeningTCP(t)
	acc.Close() // nothing listens on addr now
	l := newLoop(t)
	w := newWatcher(t, 1)
	sock, err := NewTCPSocketV4()
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	w.socks[1] = sock
	if err := l.Connect(sock, addr, 1); err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			t.Skip("this system refuses loopback connects synchronously")
		}
		t.Fatal(err)
	}
	runWatched(t, l, w)
	if err := w.outcome[1]; !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("refused connect: TakeError at Writable = %v, want ECONNREFUSED", err)
	}
	if sock.Fd() < 0 {
		t.Fatal("the library closed the socket behind the user's back")
	}
	if err := sock.TakeError(); err != nil {
		t.Fatalf("TakeError did not clear the error: second call %v", err)
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
	_, addr := listeningTCP(t)
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
	acc, addr := listeningUnix(t, 1)
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
	acc, addr := listeningUnix(t, 1)
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

// A socket registered but never connected must not look connected.
func TestUnconnectedSocketNeverLooksConnected(t *testing.T) {
	l := newLoop(t)
	sock, err := NewTCPSocketV4()
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	if err := l.Register(sock, 1, Readable|Writable, Level); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	runOnce(t, l, r, 100*time.Millisecond)
	if _, err := sock.PeerAddr(); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("unconnected socket: PeerAddr %v, want ENOTCONN", err)
	}
	for _, c := range r.calls {
		if c.kind == "r" && c.hint&DataHint != 0 {
			t.Fatalf("unconnected socket reported data: %v", r.calls)
		}
	}
}

type acceptCounter struct {
	NopHandler[int]
	acc      *TCPAcceptor
	accepted []*TCPSocket
	hints    ReadHint
	want     int
}

func (a *acceptCounter) Readable(l *EventLoop[int], _ Token, hint ReadHint) {
	a.hints |= hint
	for {
		c, err := a.acc.AcceptTCP()
		if err != nil {
			break
		}
		a.accepted = append(a.accepted, c)
	}
	if len(a.accepted) >= a.want {
		l.Shutdown()
	}
}

// Connections queued before Listen registers the acceptor are reported.
func TestListenReportsConnectionsQueuedBefore(t *testing.T) {
	acc, addr := listeningTCP(t) // listening, not yet registered
	const clients = 5
	for range clients {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	l := newLoop(t)
	if err := l.Listen(acc, 16, 1); err != nil {
		t.Fatal(err)
	}
	h := &acceptCounter{acc: acc, want: clients}
	defer func() {
		for _, c := range h.accepted {
			c.Close()
		}
	}()
	done := make(chan error, 1)
	go func() { done <- l.Run(h) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		l.Shutdown()
		<-done
		t.Fatalf("accepted %d of %d queued connections", len(h.accepted), clients)
	}
	if h.hints&DataHint == 0 {
		t.Fatalf("Readable for pending connections came without DataHint: %v", h.hints)
	}
}

func TestListenAndConnectRejectBadUse(t *testing.T) {
	l := newLoop(t)
	acc, _ := listeningTCP(t)
	if err := l.Listen(acc, 16, 1); err != nil {
		t.Fatal(err)
	}
	if err := l.Listen(acc, 16, 1); !errors.Is(err, ErrRegistered) {
		t.Fatalf("second Listen: %v, want ErrRegistered", err)
	}
	sock, _ := NewTCPSocketV4()
	sock.Close()
	if err := l.Connect(sock, InetAddr(netip.MustParseAddr("127.0.0.1"), 1), 2); !errors.Is(err, ErrClosed) {
		t.Fatalf("Connect of a closed socket: %v, want ErrClosed", err)
	}
	_ = unix.EAGAIN
}

// Listen with a backlog of 0 asks for the system's maximum, not a queue of
// one: 16 Unix connects all find room without anyone accepting.
func TestListenZeroBacklogMeansMaximum(t *testing.T) {
	s, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	addr := UnixAddr(filepath.Join(t.TempDir(), "zero.sock"))
	acc, err := s.Bind(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	l := newLoop(t)
	if err := l.Listen(acc, 0, 1); err != nil {
		t.Fatal(err)
	}
	for i := range 16 {
		c, err := NewUnixSocket()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if state, err := c.startConnect(addr); err != nil || state != connectDone {
			t.Fatalf("connect %d to a listener with backlog 0: state %d, %v; want an immediate connection", i, state, err)
		}
	}
}
