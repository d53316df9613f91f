//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Accept edge cases: many clients against a small backlog, connections
// reset while queued, and an acceptor closed with connections pending.

// 2,000 clients against a backlog of 128, all on one loop: the acceptor is
// edge-triggered and drains until ErrWouldBlock; the clients are mio
// sockets connected with loop.Connect, never more than the backlog at once
// waiting to be accepted (a burst beyond the queue makes Linux drop SYNs,
// and the clients' retransmissions, 1 s apart and growing, would turn this
// into a test of TCP's back-off instead of the loop). Every client must be
// accepted, each exactly once, matched by its port.
func TestAccept2000ClientsThroughBacklog128(t *testing.T) {
	checkNoFdLeaks(t)
	const (
		clients = 2000
		backlog = 128
		accTok  = Token(0)
		cliBase = Token(1000)
	)
	acc, addr := boundTCP(t, loopback4)
	l := newLoop(t)
	if err := l.Listen(acc, backlog, accTok); err != nil {
		t.Fatal(err)
	}
	waiting := map[uint16]*TCPSocket{} // by the client's port
	defer func() {
		for _, c := range waiting {
			c.Close()
		}
	}()
	issued, accepted := 0, 0
	h := &recorder{}
	h.onTick = func(l *EventLoop[int]) {
		for issued < clients && len(waiting) < backlog {
			c, err := NewTCPSocketV4()
			if err != nil {
				t.Errorf("client %d: %v", issued, err)
				l.Shutdown()
				return
			}
			if err := l.Connect(c, addr, cliBase+Token(issued)); err != nil {
				c.Close()
				t.Errorf("client %d: Connect: %v", issued, err)
				l.Shutdown()
				return
			}
			la, err := c.LocalAddr()
			ap, _ := la.AddrPort()
			if err != nil || ap.Port() == 0 || waiting[ap.Port()] != nil {
				c.Close()
				t.Errorf("client %d: LocalAddr %s, %v", issued, la, err)
				l.Shutdown()
				return
			}
			waiting[ap.Port()] = c
			issued++
		}
	}
	h.onReadable = func(l *EventLoop[int], tok Token, _ ReadHint) {
		if tok != accTok {
			return
		}
		for {
			s, err := acc.Accept()
			if err == ErrWouldBlock {
				return
			}
			if err != nil {
				t.Errorf("Accept after %d: %v", accepted, err)
				l.Shutdown()
				return
			}
			pa, perr := s.PeerAddr()
			s.Close()
			ap, _ := pa.AddrPort()
			c := waiting[ap.Port()]
			if perr != nil || c == nil {
				t.Errorf("accepted a connection from %s (%v) that no waiting client made", pa, perr)
				continue
			}
			c.Close()
			delete(waiting, ap.Port())
			accepted++
			if accepted == clients {
				l.Shutdown()
				return
			}
		}
	}
	h.onTick(l) // the first clients, before the first poll
	start := time.Now()
	run(t, l, h)
	if accepted != clients {
		t.Fatalf("accepted %d of %d clients (%d issued) in %v", accepted, clients, issued, time.Since(start))
	}
	t.Logf("%d clients accepted in %v", clients, time.Since(start))
}

// Clients that connect and then reset (SO_LINGER 0, Close) before the
// connection is accepted. Linux keeps such a connection queued; BSDs may
// drop it and answer ECONNABORTED, which Accept skips. Either way Accept
// never returns ECONNABORTED: it returns a socket whose first read gives
// ECONNRESET (or EOF), or skips it, and the client after them is served.
func TestAcceptSkipsConnectionResetWhileQueued(t *testing.T) {
	checkNoFdLeaks(t)
	acc, addr := boundTCP(t, loopback4)
	l := newLoop(t)
	if err := l.Listen(acc, 64, 0); err != nil {
		t.Fatal(err)
	}
	const resets = 8
	for range resets {
		c := newTCPSocket4or6(t, loopback4)
		connectNow(t, c, addr)
		if err := c.SetLinger(0); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	good := newTCPSocket4or6(t, loopback4)
	connectNow(t, good, addr)
	if _, err := good.Write([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	goodAddr, err := good.LocalAddr()
	if err != nil {
		t.Fatal(err)
	}
	h := &recorder{}
	var resetResults []error
	served := false
	h.onReadable = func(l *EventLoop[int], tok Token, _ ReadHint) {
		for {
			s, err := acc.Accept()
			if err == ErrWouldBlock {
				if served {
					l.Shutdown()
				}
				return
			}
			if err != nil {
				// ECONNABORTED above all must never come out.
				t.Errorf("Accept: %v; want a socket or ErrWouldBlock", err)
				l.Shutdown()
				return
			}
			pa, _ := s.PeerAddr()
			var buf [8]byte
			n, rerr := s.Read(buf[:])
			if pa == goodAddr {
				if string(buf[:n]) != "ok" {
					t.Errorf("the client after the resets: read %q, %v; want \"ok\"", buf[:n], rerr)
				}
				served = true
			} else {
				resetResults = append(resetResults, rerr)
			}
			s.Close()
		}
	}
	run(t, l, h)
	if !served {
		t.Fatal("the client queued after the reset ones was never accepted")
	}
	if len(resetResults) > resets {
		t.Fatalf("%d reset connections accepted, only %d made", len(resetResults), resets)
	}
	for _, err := range resetResults {
		if !errors.Is(err, syscall.ECONNRESET) && err != io.EOF {
			t.Errorf("first read of a connection reset before accept: %v; want ECONNRESET or io.EOF", err)
		}
	}
	t.Logf("%d of %d reset connections were returned by Accept (the rest skipped)", len(resetResults), resets)
}

// Closing the acceptor while connections are pending: no callback for it
// comes afterwards, also not from an event fetched in the same batch, and
// the pending clients see their connection end.
func TestAcceptorClosedWithPendingConnections(t *testing.T) {
	for _, where := range []string{"before-poll", "in-batch", "own-callback"} {
		t.Run(where, func(t *testing.T) {
			checkNoFdLeaks(t)
			acc, addr := boundTCP(t, loopback4)
			l := newLoop(t)
			// A ready fd registered before the acceptor, so that in one
			// batch its event comes first.
			other, otherPeer := socketPair(t)
			writeAll(t, otherPeer, []byte("x"))
			if err := l.Register(other, 1, Readable, Level); err != nil {
				t.Fatal(err)
			}
			if err := l.Listen(acc, 16, 2); err != nil {
				t.Fatal(err)
			}
			// Level, so a registration the loop failed to drop would be
			// reported on every poll.
			if err := l.Reregister(acc, 2, Readable, Level); err != nil {
				t.Fatal(err)
			}
			var clients []*TCPSocket
			for range 3 {
				c := newTCPSocket4or6(t, loopback4)
				connectNow(t, c, addr)
				clients = append(clients, c)
			}
			waitFd(t, acc.Fd(), unix.POLLIN)
			closed := false
			afterClose := 0
			h := &recorder{}
			h.onReadable = func(l *EventLoop[int], tok Token, _ ReadHint) {
				if tok == 2 && closed {
					afterClose++
				}
				if closed {
					return
				}
				if (where == "in-batch" && tok == 1) || (where == "own-callback" && tok == 2) {
					if err := acc.Close(); err != nil {
						t.Errorf("acceptor Close: %v", err)
					}
					closed = true
				}
			}
			if where == "before-poll" {
				if err := acc.Close(); err != nil {
					t.Fatal(err)
				}
				closed = true
			}
			if where != "in-batch" {
				if err := l.Deregister(other); err != nil {
					t.Fatal(err)
				}
			}
			for range 3 {
				runOnce(t, l, h, 50*time.Millisecond)
			}
			if !closed {
				t.Fatalf("precondition: the acceptor was not closed (callbacks %v)", h.calls)
			}
			if afterClose != 0 {
				t.Fatalf("%d Readable callbacks for the acceptor after its Close", afterClose)
			}
			// The connections that were pending are gone: each client reads
			// a reset or an end of stream.
			for i, c := range clients {
				waitFd(t, c.Fd(), unix.POLLIN)
				var buf [4]byte
				if _, err := c.Read(buf[:]); !errors.Is(err, syscall.ECONNRESET) && err != io.EOF {
					t.Errorf("client %d after its pending connection's acceptor closed: read %v; want ECONNRESET or io.EOF", i, err)
				}
			}
		})
	}
}

// Connections queued before Listen registers the acceptor are reported.
func TestListenReportsConnectionsQueuedBefore(t *testing.T) {
	acc, addr := tcpListener(t, loopback4, 0) // listening, not yet registered
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
	var accepted []*TCPSocket
	defer func() {
		for _, c := range accepted {
			c.Close()
		}
	}()
	h := &recorder{}
	h.onReadable = func(l *EventLoop[int], _ Token, _ ReadHint) {
		for {
			c, err := acc.AcceptTCP()
			if err != nil {
				break
			}
			accepted = append(accepted, c)
		}
		if len(accepted) >= clients {
			l.Shutdown()
		}
	}
	run(t, l, h)
	if hints := h.hints(1); hints&DataHint == 0 {
		t.Fatalf("Readable for pending connections came without DataHint: %v", hints)
	}
}

func TestListenAndConnectRejectBadUse(t *testing.T) {
	l := newLoop(t)
	acc, _ := tcpListener(t, loopback4, 0)
	if err := l.Listen(acc, 16, 1); err != nil {
		t.Fatal(err)
	}
	if err := l.Listen(acc, 16, 1); !errors.Is(err, ErrRegistered) {
		t.Fatalf("second Listen: %v, want ErrRegistered", err)
	}
	sock, err := NewTCPSocketV4()
	if err != nil {
		t.Fatal(err)
	}
	if err := sock.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Connect(sock, InetAddr(netip.MustParseAddr("127.0.0.1"), 1), 2); !errors.Is(err, ErrClosed) {
		t.Fatalf("Connect of a closed socket: %v, want ErrClosed", err)
	}
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

// A Dup of an acceptor accepts from the same queue, and outlives the
// original's Close.
func TestAcceptorDupSharesQueue(t *testing.T) {
	acc, addr := tcpListener(t, loopback4, 0)
	dup, err := acc.Dup()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dup.Close() })
	if dup.Fd() == acc.Fd() {
		t.Fatal("Dup returned the same fd")
	}
	requireNonblock(t, dup.Fd())
	for i, a := range []*TCPAcceptor{dup, acc} {
		c := newTCPSocket4or6(t, loopback4)
		connectNow(t, c, addr)
		s, err := a.Accept()
		if err != nil {
			t.Fatalf("connection %d: Accept: %v", i, err)
		}
		s.Close()
	}
	if err := acc.Close(); err != nil {
		t.Fatal(err)
	}
	c := newTCPSocket4or6(t, loopback4)
	connectNow(t, c, addr)
	s, err := dup.Accept()
	if err != nil {
		t.Fatalf("Accept on the Dup after the original was closed: %v", err)
	}
	s.Close()
}

// Only the acceptor that Bind returned removes the socket file.
func TestUnixAcceptorDupKeepsTheFile(t *testing.T) {
	acc, addr := unixListener(t, 16)
	dup, err := acc.Dup()
	if err != nil {
		t.Fatal(err)
	}
	if err := dup.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(addr.Path()); err != nil {
		t.Fatalf("closing the Dup removed the socket file: %v", err)
	}
	if _, err := dup.Dup(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Dup of a closed acceptor: %v, want ErrClosed", err)
	}
	if err := acc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(addr.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after closing the original: stat %v, want the file gone", err)
	}
}

func TestAcceptWouldBlock(t *testing.T) {
	t.Run("tcp4", func(t *testing.T) {
		acc, addr := tcpListener(t, loopback4, 0)
		c := newTCPSocket4or6(t, loopback4)
		checkAcceptWouldBlock(t, acc.Accept, acc.Fd(), c, addr)
	})
	t.Run("tcp6", func(t *testing.T) {
		ip := ipv6Loopback(t)
		acc, addr := tcpListener(t, ip, 0)
		c := newTCPSocket4or6(t, ip)
		checkAcceptWouldBlock(t, acc.Accept, acc.Fd(), c, addr)
	})
	t.Run("unix", func(t *testing.T) {
		acc, addr := unixListener(t, 16)
		c, err := NewUnixSocket()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		checkAcceptWouldBlock(t, acc.Accept, acc.Fd(), c, addr)
	})
}

// checkAcceptWouldBlock: ErrWouldBlock with nothing pending, one connection
// after one connect, then ErrWouldBlock again.
func checkAcceptWouldBlock[S closable](t *testing.T, accept func() (S, error), accFd int, client Socket, addr SockAddr) {
	t.Helper()
	if c, err := accept(); err != ErrWouldBlock || !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("Accept with nothing pending = %v, %v; want ErrWouldBlock itself", c, err)
	}
	connectNow(t, client, addr)
	acceptOne(t, accFd, accept)
	if c, err := accept(); err != ErrWouldBlock {
		t.Fatalf("Accept after the only connection was taken = %v, %v; want ErrWouldBlock", c, err)
	}
}
