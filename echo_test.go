//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
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
	listenerToken Token = 0
	clientBase    Token = 1 << 20
	serverBase    Token = 1 << 30
	watchdogToken Token = 1<<63 - 1
	echoBufSize         = 16 << 10
)

// echoConn is the server's side of one connection: what was read and not
// yet written back, never more than echoBufSize.
type echoConn struct {
	sock Socket
	buf  []byte
	eof  bool
}

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

type echoHandler struct {
	NopHandler[int]
	t        *testing.T
	acc      interface{ acceptOne() (Socket, error) }
	conns    map[Token]*echoConn
	clients  map[Token]*echoClient
	next     Token
	finished int
	toggles  int // write interest turned on or off
}

func (h *echoHandler) Readable(l *EventLoop[int], tok Token, hint ReadHint) {
	switch {
	case tok == listenerToken:
		h.accept(l)
	case tok >= serverBase:
		h.pump(l, tok)
	default:
		h.clientReadable(l, tok)
	}
}

func (h *echoHandler) Writable(l *EventLoop[int], tok Token) {
	switch {
	case tok >= serverBase:
		h.pump(l, tok)
	default:
		h.clientWritable(l, tok)
	}
}

func (h *echoHandler) Timeout(l *EventLoop[int], tok Token) {
	if tok == watchdogToken {
		h.t.Errorf("echo test still running after its deadline: %d of %d clients done", h.finished, len(h.clients))
		l.Shutdown()
	}
}

func (h *echoHandler) accept(l *EventLoop[int]) {
	for {
		sock, err := h.acc.acceptOne()
		if errors.Is(err, ErrWouldBlock) {
			return
		}
		if err != nil {
			h.t.Errorf("accept: %v", err)
			return
		}
		tok := serverBase + h.next
		h.next++
		h.conns[tok] = &echoConn{sock: sock, buf: make([]byte, 0, echoBufSize)}
		if err := l.Register(sock, tok, Readable|Writable, Edge); err != nil {
			h.t.Errorf("register accepted: %v", err)
		}
	}
}

// pump moves bytes until both directions would block, as edge triggering
// requires; a full buffer stops reading until writing frees room.
func (h *echoHandler) pump(l *EventLoop[int], tok Token) {
	c := h.conns[tok]
	for {
		progressed := false
		if len(c.buf) > 0 {
			n, err := c.sock.Write(c.buf)
			if n > 0 {
				c.buf = c.buf[:copy(c.buf, c.buf[n:])]
				progressed = true
			}
			if err != nil && !errors.Is(err, ErrWouldBlock) {
				h.t.Errorf("server write: %v", err)
				h.closeConn(tok)
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
				h.t.Errorf("server read: %v", err)
				h.closeConn(tok)
				return
			}
		}
		if c.eof && len(c.buf) == 0 {
			h.closeConn(tok)
			return
		}
		if !progressed {
			return
		}
	}
}

func (h *echoHandler) closeConn(tok Token) {
	h.conns[tok].sock.Close()
	delete(h.conns, tok)
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

// acceptors adapt TCPAcceptor and UnixAcceptor to one accept method.
type tcpAcc struct{ *TCPAcceptor }

func (a tcpAcc) acceptOne() (Socket, error) { return a.Accept() }

type unixAcc struct{ *UnixAcceptor }

func (a unixAcc) acceptOne() (Socket, error) { return a.Accept() }

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

func runEcho(t *testing.T, acc Acceptor, accOne interface{ acceptOne() (Socket, error) }, addr SockAddr, newClient func() (Socket, error)) {
	fdsBefore := openFds()
	l := newLoop(t)
	const clients = 6
	h := &echoHandler{t: t, acc: accOne, conns: map[Token]*echoConn{}, clients: map[Token]*echoClient{}}
	setSmallRecvBuffer(t, acc)
	if err := l.Listen(acc, 128, listenerToken); err != nil {
		t.Fatal(err)
	}
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
	if _, err := l.Timeout(watchdogToken, time.Minute); err != nil {
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
	for tok := range h.conns {
		h.closeConn(tok)
	}
	acc.Close()
	l.Close()
	if leaked := leakedSince(fdsBefore); len(leaked) > 0 {
		t.Fatalf("echo test leaked fds: %v", leaked)
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
	runEcho(t, acc, tcpAcc{acc}, addr, func() (Socket, error) { return NewTCPSocketV4() })
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
	runEcho(t, acc, tcpAcc{acc}, addr, func() (Socket, error) { return NewTCPSocketV6() })
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
	runEcho(t, acc, unixAcc{acc}, addr, func() (Socket, error) { return NewUnixSocket() })
}
