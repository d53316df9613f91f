//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"errors"
	"io"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
)

// hzEchoSrv is an edge-triggered echo server that runs inside any handler:
// the handler passes it the callbacks for tokens from hzSrvListen up. Each
// connection's buffer has a fixed capacity; a full buffer stops reading until
// writing frees room, so a peer that does not read cannot make it grow.
type hzEchoSrv struct {
	t      testing.TB
	acc    *TCPAcceptor
	bufCap int
	conns  map[Token]*hzSrvConn
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

type hzSrvConn struct {
	sock *TCPSocket
	buf  []byte
	eof  bool
}

const (
	hzBacklog         = 4096 // the kernel caps it at net.core.somaxconn
	hzSrvListen Token = 1 << 41
	hzSrvBase   Token = 1 << 40
)

// hzListenTCP binds a TCP acceptor to 127.0.0.1 on a free port.
func hzListenTCP(t testing.TB) (*TCPAcceptor, SockAddr) {
	t.Helper()
	s, err := NewTCPSocketV4()
	if err != nil {
		t.Fatal(err)
	}
	acc, err := s.Bind(InetAddr(netip.MustParseAddr("127.0.0.1"), 0))
	if err != nil {
		t.Fatal(err)
	}
	addr, err := acc.LocalAddr()
	if err != nil {
		t.Fatal(err)
	}
	return acc, addr
}

// hzNewEchoSrv listens on a fresh loopback port with loop l.
func hzNewEchoSrv(t testing.TB, l *EventLoop[int], bufCap int) (*hzEchoSrv, SockAddr) {
	t.Helper()
	acc, addr := hzListenTCP(t)
	// An explicit backlog: Listen's "<= 0 means the system's maximum" is
	// what TestHarnessListenBacklogZeroIsSystemMax checks.
	if err := l.Listen(acc, hzBacklog, hzSrvListen); err != nil {
		t.Fatal(err)
	}
	return &hzEchoSrv{t: t, acc: acc, bufCap: bufCap, conns: map[Token]*hzSrvConn{}}, addr
}

// owns reports whether tok is one of the server's.
func (s *hzEchoSrv) owns(tok Token) bool { return tok >= hzSrvBase && tok <= hzSrvListen }

func (s *hzEchoSrv) ready(l *EventLoop[int], tok Token) {
	if tok == hzSrvListen {
		s.accept(l)
		return
	}
	if c := s.conns[tok]; c != nil {
		s.pump(tok, c)
	}
}

func (s *hzEchoSrv) accept(l *EventLoop[int]) {
	for {
		sock, err := s.acc.AcceptTCP()
		if errors.Is(err, ErrWouldBlock) {
			return
		}
		if err != nil {
			s.t.Errorf("accept: %v", err)
			return
		}
		tok := hzSrvBase + s.next
		s.next++
		s.accepted++
		s.open.Add(1)
		if s.sndBuf > 0 {
			if err := sock.SetSendBuffer(s.sndBuf); err != nil {
				s.t.Errorf("SetSendBuffer: %v", err)
			}
		}
		c := &hzSrvConn{sock: sock, buf: make([]byte, 0, s.bufCap)}
		s.conns[tok] = c
		if s.onAccept != nil {
			s.onAccept(sock.Fd())
		}
		if err := l.Register(sock, tok, Readable|Writable, Edge); err != nil {
			s.t.Errorf("register accepted connection: %v", err)
		}
	}
}

// hzPeerGone reports whether err says the peer reset the connection or
// went away, which chaos clients do on purpose.
func hzPeerGone(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// pump moves bytes until both directions would block, as edge triggering
// requires.
func (s *hzEchoSrv) pump(tok Token, c *hzSrvConn) {
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

func (s *hzEchoSrv) end(tok Token, c *hzSrvConn, err error) {
	switch {
	case err == nil:
	case hzPeerGone(err):
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
func (s *hzEchoSrv) close() {
	for tok, c := range s.conns {
		c.sock.Close()
		delete(s.conns, tok)
		s.open.Add(-1)
	}
	s.acc.Close()
}
