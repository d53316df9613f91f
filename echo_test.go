//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The bundled echo test of early mio, in Go: one loop runs a server (Listen,
// edge-triggered, bounded buffers) and many clients (Connect, level-
// triggered, toggling write interest as their output drains). Each client
// sends several messages, one far larger than the socket buffers, and checks
// that every byte comes back in order; the last client to finish shuts the
// loop down.

const (
	clientBase  Token = 1 << 20
	echoBufSize       = 16 << 10
)

// echoClient sends its messages and reads the echo back.
type echoClient struct {
	sock      Socket
	out       []byte // everything it sends, in order
	sent      int
	got       []byte
	wantWrite bool // write interest currently registered
	done      bool
	blocked   int // writes that the kernel took only part of
}

// echoHandler runs the clients of the echo tests, and the server when the
// server runs on the same loop.
type echoHandler struct {
	NopHandler[int]
	t        *testing.T
	srv      *echoServer // nil: the server is elsewhere
	clients  map[Token]*echoClient
	finished int
	toggles  int // write interest turned on or off
}

func (h *echoHandler) Readable(l *EventLoop[int], tok Token, hint ReadHint) {
	if h.srv.owns(tok) {
		h.srv.ready(l, tok)
		return
	}
	h.clientReadable(l, tok)
}

func (h *echoHandler) Writable(l *EventLoop[int], tok Token) {
	if h.srv.owns(tok) {
		h.srv.ready(l, tok)
		return
	}
	h.clientWritable(l, tok)
}

func (h *echoHandler) Timeout(l *EventLoop[int], tok Token) {
	if tok == watchdogToken {
		h.t.Errorf("echo test still running after %v: %d of %d clients done", maxWait, h.finished, len(h.clients))
		l.Shutdown()
	}
}

func (h *echoHandler) clientWritable(l *EventLoop[int], tok Token) {
	c := h.clients[tok]
	if c.sent == 0 && !c.wantWrite {
		// The first Writable reports the connect.
		if err := c.sock.TakeError(); err != nil {
			h.t.Errorf("client %d connect: %v", tok, err)
			h.finish(l, c)
			return
		}
	}
	for c.sent < len(c.out) {
		n, err := c.sock.Write(c.out[c.sent:])
		c.sent += n
		if errors.Is(err, ErrWouldBlock) {
			c.blocked++
			break
		}
		if err != nil {
			h.t.Errorf("client write: %v", err)
			h.finish(l, c)
			return
		}
	}
	h.setWriteInterest(l, tok, c, c.sent < len(c.out))
}

// setWriteInterest keeps write interest only while output is pending, so a
// level-triggered registration never spins on an idle writable socket.
func (h *echoHandler) setWriteInterest(l *EventLoop[int], tok Token, c *echoClient, want bool) {
	if c.done || want == c.wantWrite {
		return
	}
	in := Readable
	if want {
		in |= Writable
	}
	if err := l.Reregister(c.sock, tok, in, Level); err != nil {
		h.t.Errorf("reregister: %v", err)
	}
	c.wantWrite = want
	h.toggles++
}

func (h *echoHandler) clientReadable(l *EventLoop[int], tok Token) {
	c := h.clients[tok]
	var buf [32 << 10]byte
	for !c.done {
		n, err := c.sock.Read(buf[:])
		c.got = append(c.got, buf[:n]...)
		if errors.Is(err, ErrWouldBlock) {
			return
		}
		if err != nil {
			h.t.Errorf("client %d read after %d of %d bytes: %v", tok, len(c.got), len(c.out), err)
			h.finish(l, c)
			return
		}
		if len(c.got) == len(c.out) {
			if !bytes.Equal(c.got, c.out) {
				h.t.Errorf("client %d: echo differs from what was sent", tok)
			}
			h.finish(l, c)
		}
	}
}

func (h *echoHandler) finish(l *EventLoop[int], c *echoClient) {
	c.done = true
	c.sock.Close()
	h.finished++
	if h.finished == len(h.clients) {
		l.Shutdown()
	}
}

// echoMessages is what each client sends: small messages around one that
// is far larger than any socket buffer.
// setSmallRecvBuffer gives the connections acc will accept a small fixed
// receive buffer (which also stops the kernel's autotuning), so the large
// message outgrows the buffers. It is set on the listening socket because
// tcp(7) asks for it before listen: shrinking an accepted connection's
// buffer below the window it already advertised makes Linux drop data it
// had invited (RcvPruned, TCPRcvQDrop in nstat), and the sender's
// retransmissions back off exponentially, which stalled the echo tests for
// tens of seconds now and then.
func setSmallRecvBuffer(t testing.TB, acc Acceptor) {
	t.Helper()
	if err := acc.(interface{ SetRecvBuffer(int) error }).SetRecvBuffer(echoBufSize); err != nil {
		t.Fatalf("SetRecvBuffer: %v", err)
	}
}

func echoMessages(seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	big := make([]byte, 4<<20)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	var out []byte
	out = append(out, "hello\n"...)
	out = append(out, big...)
	out = append(out, "bye\n"...)
	return out
}

// runEcho runs the echo server on acc and six clients made by newClient on
// one loop: every byte must come back, through partial writes, with write
// interest toggled, and nothing left open.
func runEcho(t *testing.T, acc Acceptor, addr SockAddr, newClient func() (Socket, error)) {
	checkNoFdLeaks(t)
	l := newLoop(t)
	const clients = 6
	setSmallRecvBuffer(t, acc)
	srv := newEchoServer(t, l, acc, echoBufSize)
	defer srv.close()
	h := &echoHandler{t: t, srv: srv, clients: map[Token]*echoClient{}}
	for i := range clients {
		sock, err := newClient()
		if err != nil {
			t.Fatal(err)
		}
		if err := sock.(interface{ SetSendBuffer(int) error }).SetSendBuffer(echoBufSize); err != nil {
			t.Fatal(err)
		}
		tok := clientBase + Token(i)
		h.clients[tok] = &echoClient{sock: sock, out: echoMessages(uint64(i))}
		if err := l.Connect(sock, addr, tok); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Timeout(watchdogToken, maxWait); err != nil {
		t.Fatal(err)
	}
	if err := l.Run(h); err != nil {
		t.Fatal(err)
	}
	if h.finished != clients {
		t.Fatalf("%d of %d clients finished", h.finished, clients)
	}
	for tok, c := range h.clients {
		if c.blocked == 0 {
			t.Fatalf("client %d: the large message never filled the socket buffers", tok)
		}
	}
	if h.toggles < 2*clients {
		t.Fatalf("write interest toggled %d times for %d clients, want on and off for each", h.toggles, clients)
	}
	if srv.resets != 0 {
		t.Fatalf("%d server connections ended with a reset", srv.resets)
	}
}

func TestEchoTCPv4(t *testing.T) {
	srv, err := NewTCPSocketV4()
	if err != nil {
		t.Fatal(err)
	}
	acc, err := srv.Bind(InetAddr(netip.MustParseAddr("127.0.0.1"), 0))
	if err != nil {
		t.Fatal(err)
	}
	addr, err := acc.LocalAddr()
	if err != nil {
		t.Fatal(err)
	}
	runEcho(t, acc, addr, func() (Socket, error) { return NewTCPSocketV4() })
}

func TestEchoTCPv6(t *testing.T) {
	srv, err := NewTCPSocketV6()
	if err != nil {
		t.Skipf("no IPv6 sockets here: %v", err)
	}
	acc, err := srv.Bind(InetAddr(netip.IPv6Loopback(), 0))
	if err != nil {
		srv.Close()
		t.Skipf("cannot bind [::1]: %v", err)
	}
	addr, err := acc.LocalAddr()
	if err != nil {
		t.Fatal(err)
	}
	runEcho(t, acc, addr, func() (Socket, error) { return NewTCPSocketV6() })
}

func TestEchoUnix(t *testing.T) {
	srv, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	addr := UnixAddr(filepath.Join(t.TempDir(), "echo.sock"))
	acc, err := srv.Bind(addr)
	if err != nil {
		t.Fatal(err)
	}
	runEcho(t, acc, addr, func() (Socket, error) { return NewUnixSocket() })
}

// The loop against peers nobody here wrote: Go's net package as client and
// as server, and socat where it is installed.

// startLoopEchoServer runs the echo server on its own loop goroutine and
// returns its address and a stop function that waits for the loop to end.
func startLoopEchoServer(t *testing.T) (SockAddr, func()) {
	t.Helper()
	acc, addr := boundTCP(t, loopback4)
	l, err := NewEventLoop[int](Config{})
	if err != nil {
		t.Fatal(err)
	}
	setSmallRecvBuffer(t, acc)
	srv := newEchoServer(t, l, acc, echoBufSize)
	done := make(chan error, 1)
	go func() { done <- l.Run(&echoOnly{srv: srv}) }()
	return addr, func() {
		l.Shutdown()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if srv.resets != 0 {
			t.Errorf("%d server connections ended with a reset", srv.resets)
		}
		srv.close()
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestEchoServerWithNetClients(t *testing.T) {
	addr, stop := startLoopEchoServer(t)
	defer stop()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr.String(), 10*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			msg := echoMessages(uint64(100 + i))
			wrote := make(chan error, 1)
			go func() {
				_, err := c.Write(msg)
				c.(*net.TCPConn).CloseWrite()
				wrote <- err
			}()
			got, err := io.ReadAll(c)
			if werr := <-wrote; werr != nil {
				t.Errorf("net client %d write: %v", i, werr)
			}
			if err != nil || !bytes.Equal(got, msg) {
				t.Errorf("net client %d: got %d of %d bytes back intact=%v, err %v", i, len(got), len(msg), bytes.Equal(got, msg), err)
			}
		}()
	}
	wg.Wait()
}

// The loop's clients against a goroutine-per-connection echo server from
// Go's net package.
func TestLoopClientsWithNetServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer func() { ln.Close(); wg.Wait() }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	addr, err := ParseSockAddr(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	l := newLoop(t)
	h := &echoHandler{t: t, clients: map[Token]*echoClient{}}
	const clients = 4
	for i := range clients {
		sock, err := NewTCPSocketV4()
		if err != nil {
			t.Fatal(err)
		}
		tok := clientBase + Token(i)
		h.clients[tok] = &echoClient{sock: sock, out: echoMessages(uint64(200 + i))}
		if err := l.Connect(sock, addr, tok); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Timeout(watchdogToken, maxWait); err != nil {
		t.Fatal(err)
	}
	if err := l.Run(h); err != nil {
		t.Fatal(err)
	}
	if h.finished != clients {
		t.Fatalf("%d of %d loop clients finished against the net server", h.finished, clients)
	}
}

// socat, a client nobody here wrote, sends a file's worth of data through
// the loop's echo server and must get it back unchanged.
func TestEchoServerWithSocat(t *testing.T) {
	socat, err := exec.LookPath("socat")
	if err != nil {
		t.Skip("socat is not installed (.ci/run installs it)")
	}
	addr, stop := startLoopEchoServer(t)
	defer stop()
	msg := echoMessages(300)[:1<<20]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// -t bounds how long socat waits for the echo after its input ends.
	cmd := exec.CommandContext(ctx, socat, "-t", "10", "-", "TCP:"+addr.String())
	cmd.Stdin = bytes.NewReader(msg)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("socat: %v", err)
	}
	if !bytes.Equal(out.Bytes(), msg) {
		t.Fatalf("socat got %d of %d bytes back, intact=%v", out.Len(), len(msg), bytes.Equal(out.Bytes(), msg))
	}
}

// echoServer is the one echo server of the tests: edge-triggered, it runs
// inside any handler, which passes it the callbacks for the tokens it owns
// (echoConnBase and up). Each
// connection's buffer has a fixed capacity; a full buffer stops reading until
// writing frees room, so a peer that does not read cannot make it grow.
type echoServer struct {
	t      testing.TB
	acc    Acceptor
	bufCap int
	conns  map[Token]*echoConn
	next   Token
	// open is read by other goroutines (the scale test's client loop).
	open     atomic.Int64
	accepted int
	resets   int // connections that ended with a reset or a broken pipe
	maxBuf   int // the most bytes any connection held
	fullHits int // times a connection's buffer was full
	// writeBlocked counts writes the kernel took only part of.
	writeBlocked int
	sndBuf       int // SO_SNDBUF of accepted connections, if not 0
	onAccept     func(fd int)
	onClose      func(open int64)
}

// echoConn is the server's side of one connection: what was read and not
// yet written back, never more than the server's bufCap.
type echoConn struct {
	sock Socket
	buf  []byte
	eof  bool
}

const (
	echoBacklog           = 4096 // the kernel caps it at net.core.somaxconn
	echoListenToken Token = 1 << 41
	echoConnBase    Token = 1 << 40
)

// newTCPEchoServer runs the echo server with loop l on a fresh loopback
// port.
func newTCPEchoServer(t testing.TB, l *EventLoop[int], bufCap int) (*echoServer, SockAddr) {
	t.Helper()
	acc, addr := boundTCP(t, loopback4)
	return newEchoServer(t, l, acc, bufCap), addr
}

// newEchoServer runs the echo server with loop l on acc, bound and not yet
// listening.
func newEchoServer(t testing.TB, l *EventLoop[int], acc Acceptor, bufCap int) *echoServer {
	t.Helper()
	// An explicit backlog: Listen's "<= 0 means the system's maximum" is
	// what TestListenBacklogZeroIsSomaxconn checks.
	if err := l.Listen(acc, echoBacklog, echoListenToken); err != nil {
		t.Fatal(err)
	}
	return &echoServer{t: t, acc: acc, bufCap: bufCap, conns: map[Token]*echoConn{}}
}

// owns reports whether tok is one of the server's.
func (s *echoServer) owns(tok Token) bool {
	return s != nil && tok >= echoConnBase && tok <= echoListenToken
}

func (s *echoServer) ready(l *EventLoop[int], tok Token) {
	if tok == echoListenToken {
		s.accept(l)
		return
	}
	if c := s.conns[tok]; c != nil {
		s.pump(tok, c)
	}
}

func (s *echoServer) accept(l *EventLoop[int]) {
	for {
		sock, err := s.acc.Accept()
		if errors.Is(err, ErrWouldBlock) {
			return
		}
		if err != nil {
			s.t.Errorf("accept: %v", err)
			return
		}
		tok := echoConnBase + s.next
		s.next++
		s.accepted++
		s.open.Add(1)
		if s.sndBuf > 0 {
			if err := sock.(interface{ SetSendBuffer(int) error }).SetSendBuffer(s.sndBuf); err != nil {
				s.t.Errorf("SetSendBuffer: %v", err)
			}
		}
		c := &echoConn{sock: sock, buf: make([]byte, 0, s.bufCap)}
		s.conns[tok] = c
		if s.onAccept != nil {
			s.onAccept(sock.Fd())
		}
		if err := l.Register(sock, tok, Readable|Writable, Edge); err != nil {
			s.t.Errorf("register accepted connection: %v", err)
		}
	}
}

// pump moves bytes until both directions would block, as edge triggering
// requires.
func (s *echoServer) pump(tok Token, c *echoConn) {
	for {
		progressed := false
		if len(c.buf) > 0 {
			n, err := c.sock.Write(c.buf)
			if n > 0 {
				c.buf = c.buf[:copy(c.buf, c.buf[n:])]
				progressed = true
			}
			if errors.Is(err, ErrWouldBlock) {
				s.writeBlocked++
			}
			if err != nil && !errors.Is(err, ErrWouldBlock) {
				s.end(tok, c, err)
				return
			}
		}
		if !c.eof && len(c.buf) < cap(c.buf) {
			n, err := c.sock.Read(c.buf[len(c.buf):cap(c.buf)])
			c.buf = c.buf[:len(c.buf)+n]
			progressed = progressed || n > 0
			switch {
			case err == io.EOF:
				c.eof, progressed = true, true
			case err != nil && !errors.Is(err, ErrWouldBlock):
				s.end(tok, c, err)
				return
			}
		}
		s.maxBuf = max(s.maxBuf, len(c.buf))
		if len(c.buf) == cap(c.buf) {
			s.fullHits++
		}
		if cap(c.buf) != s.bufCap {
			s.t.Errorf("connection buffer grew to %d bytes, cap is %d", cap(c.buf), s.bufCap)
		}
		if c.eof && len(c.buf) == 0 {
			s.end(tok, c, nil)
			return
		}
		if !progressed {
			return
		}
	}
}

func (s *echoServer) end(tok Token, c *echoConn, err error) {
	switch {
	case err == nil:
	case isReset(err):
		s.resets++
	default:
		s.t.Errorf("server connection: %v", err)
	}
	if err := c.sock.Close(); err != nil {
		s.t.Errorf("close: %v", err)
	}
	delete(s.conns, tok)
	open := s.open.Add(-1)
	if s.onClose != nil {
		s.onClose(open)
	}
}

// close closes every connection and the acceptor.
func (s *echoServer) close() {
	for tok, c := range s.conns {
		c.sock.Close()
		delete(s.conns, tok)
		s.open.Add(-1)
	}
	s.acc.Close()
}

// echoOnly is a handler that runs nothing but an echo server.
type echoOnly struct {
	NopHandler[int]
	srv *echoServer
}

func (h *echoOnly) Readable(l *EventLoop[int], tok Token, _ ReadHint) { h.srv.ready(l, tok) }
func (h *echoOnly) Writable(l *EventLoop[int], tok Token)             { h.srv.ready(l, tok) }
