//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Helpers. Every wait below is a poll(2) on the fd concerned, bounded by
// pending (5s); no test sleeps to let the kernel catch up.

var loopback4 = netip.MustParseAddr("127.0.0.1")

// pollFds waits until one of fds is ready, failing the test after pending.
func pollFds(t testing.TB, fds []unix.PollFd) {
	t.Helper()
	deadline := time.Now().Add(pending)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("poll %+v: nothing ready within %v", fds, pending)
		}
		n, err := unix.Poll(fds, int(left/time.Millisecond)+1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		if n > 0 {
			return
		}
	}
}

// waitFd waits until fd is ready for events (or has an error or hang-up).
func waitFd(t testing.TB, fd int, events int16) {
	t.Helper()
	pollFds(t, []unix.PollFd{{Fd: int32(fd), Events: events}})
}

// requireNonblock stops a test at once on a blocking fd, which would
// otherwise hang it in the first Read or Write with nothing to do.
func requireNonblock(t testing.TB, fd int) {
	t.Helper()
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK == 0 {
		t.Fatalf("fd %d is not non-blocking (F_GETFL %#x, %v)", fd, fl, err)
	}
}

// ipv6Loopback returns ::1, or skips the test on a machine where an IPv6
// TCP socket cannot be opened or bound to it.
// forEachLoopback runs f as subtest "v4" on 127.0.0.1 and as "v6" on ::1,
// which is skipped where this machine has no IPv6.
func forEachLoopback(t *testing.T, f func(t *testing.T, name string, ip netip.Addr)) {
	t.Run("v4", func(t *testing.T) { f(t, "v4", loopback4) })
	t.Run("v6", func(t *testing.T) { f(t, "v6", ipv6Loopback(t)) })
}

func ipv6Loopback(t testing.TB) netip.Addr {
	t.Helper()
	s, err := NewTCPSocketV6()
	if err != nil {
		t.Skipf("no IPv6 TCP sockets on this machine: %v", err)
	}
	acc, err := s.Bind(InetAddr(netip.IPv6Loopback(), 0))
	if err != nil {
		s.Close()
		t.Skipf("cannot bind [::1] on this machine: %v", err)
	}
	acc.Close()
	return netip.IPv6Loopback()
}

func newTCPSocket4or6(t testing.TB, ip netip.Addr) *TCPSocket {
	t.Helper()
	newSock := NewTCPSocketV4
	if ip.Is6() {
		newSock = NewTCPSocketV6
	}
	s, err := newSock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	requireNonblock(t, s.Fd())
	return s
}

// tcpListener binds a TCP acceptor to ip with port 0 and listens on it. A
// bufSize > 0 sets its SO_RCVBUF first, which accepted sockets inherit.
func tcpListener(t testing.TB, ip netip.Addr, bufSize int) (*TCPAcceptor, SockAddr) {
	t.Helper()
	acc, err := newTCPSocket4or6(t, ip).Bind(InetAddr(ip, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acc.Close() })
	if bufSize > 0 {
		if err := acc.SetRecvBuffer(bufSize); err != nil {
			t.Fatal(err)
		}
	}
	if err := acc.listen(16); err != nil {
		t.Fatal(err)
	}
	addr, err := acc.LocalAddr()
	if err != nil {
		t.Fatal(err)
	}
	return acc, addr
}

// unixListener binds a Unix acceptor to a fresh path and listens on it.
func unixListener(t testing.TB) (*UnixAcceptor, SockAddr) {
	t.Helper()
	s, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	addr := UnixAddr(filepath.Join(t.TempDir(), "s.sock"))
	acc, err := s.Bind(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acc.Close() })
	if err := acc.listen(16); err != nil {
		t.Fatal(err)
	}
	return acc, addr
}

// connectNow connects s to addr and waits until the connection is made.
func connectNow(t testing.TB, s Socket, addr SockAddr) {
	t.Helper()
	state, err := s.startConnect(addr)
	if err != nil {
		t.Fatalf("connect %s: %v", addr, err)
	}
	switch state {
	case connectDone:
	case connectInProgress:
		waitFd(t, s.Fd(), unix.POLLOUT)
		if err := s.TakeError(); err != nil {
			t.Fatalf("connect %s: %v", addr, err)
		}
	default:
		t.Fatalf("connect %s: the listener's queue is full", addr)
	}
}

// acceptOne waits for a pending connection on acc and accepts it.
func acceptOne[S closable](t testing.TB, fd int, accept func() (S, error)) S {
	t.Helper()
	for range 100 {
		c, err := accept()
		if err == nil {
			t.Cleanup(func() { c.Close() })
			requireNonblock(t, c.Fd())
			return c
		}
		if err != ErrWouldBlock {
			t.Fatalf("accept: %v", err)
		}
		waitFd(t, fd, unix.POLLIN)
	}
	t.Fatal("accept: readable listener but no connection, 100 times")
	panic("unreachable")
}

// tcpPair returns a connected client and the server end accepted for it.
// The listener is closed again before it returns. A bufSize > 0 gives the
// client that SO_SNDBUF and the server that SO_RCVBUF, before connecting.
func tcpPair(t testing.TB, ip netip.Addr, bufSize int) (client, server *TCPSocket) {
	t.Helper()
	acc, addr := tcpListener(t, ip, bufSize)
	client = newTCPSocket4or6(t, ip)
	if bufSize > 0 {
		if err := client.SetSendBuffer(bufSize); err != nil {
			t.Fatal(err)
		}
	}
	connectNow(t, client, addr)
	server = acceptOne(t, acc.Fd(), acc.AcceptTCP)
	if err := acc.Close(); err != nil {
		t.Fatal(err)
	}
	return client, server
}

// unixPair is tcpPair for Unix stream sockets; bufSize > 0 sets the
// client's SO_SNDBUF, which is what bounds a Unix stream writer.
func unixPair(t testing.TB, bufSize int) (client, server *UnixSocket) {
	t.Helper()
	acc, addr := unixListener(t)
	client, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	requireNonblock(t, client.Fd())
	if bufSize > 0 {
		if err := client.SetSendBuffer(bufSize); err != nil {
			t.Fatal(err)
		}
	}
	connectNow(t, client, addr)
	server = acceptOne(t, acc.Fd(), acc.AcceptUnix)
	if err := acc.Close(); err != nil {
		t.Fatal(err)
	}
	return client, server
}

// pairKind makes one kind of connected stream pair.
type pairKind struct {
	name string
	pair func(t *testing.T, bufSize int) (client, server Socket)
}

var pairKinds = []pairKind{
	{"tcp4", func(t *testing.T, n int) (Socket, Socket) {
		c, s := tcpPair(t, loopback4, n)
		return c, s
	}},
	{"tcp6", func(t *testing.T, n int) (Socket, Socket) {
		c, s := tcpPair(t, ipv6Loopback(t), n)
		return c, s
	}},
	{"unix", func(t *testing.T, n int) (Socket, Socket) {
		c, s := unixPair(t, n)
		return c, s
	}},
}

func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(rng.Uint32())
	}
	return p
}

// transferThenEOF writes data to w, calls finish (a Shutdown or Close of
// w's end) once all of it is written, and reads r meanwhile until io.EOF.
// It returns what r read. wfd and rfd are w's and r's fds, for poll.
func transferThenEOF(t testing.TB, w io.Writer, wfd int, finish func() error, r io.Reader, rfd int, data []byte) []byte {
	t.Helper()
	var got []byte
	buf := make([]byte, 64<<10)
	written, finished := 0, false
	deadline := time.Now().Add(2 * pending)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("no EOF after %v: %d of %d bytes written, %d read", 2*pending, written, len(data), len(got))
		}
		if !finished {
			if written < len(data) {
				n, err := w.Write(data[written:])
				written += n
				switch {
				case err == ErrWouldBlock:
				case err != nil:
					t.Fatalf("write: %v", err)
				case written != len(data):
					t.Fatalf("write: n = %d < len(p) = %d with no error", n, len(data)-written+n)
				}
			}
			if written == len(data) {
				if err := finish(); err != nil {
					t.Fatalf("finishing the writer: %v", err)
				}
				finished = true
			}
		}
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		switch {
		case err == io.EOF:
			if !finished {
				t.Fatalf("io.EOF before the writer finished (%d bytes read)", len(got))
			}
			return got
		case err == ErrWouldBlock:
			fds := []unix.PollFd{{Fd: int32(rfd), Events: unix.POLLIN}}
			if !finished {
				fds = append(fds, unix.PollFd{Fd: int32(wfd), Events: unix.POLLOUT})
			}
			pollFds(t, fds)
		case err != nil:
			t.Fatalf("read after %d bytes: %v", len(got), err)
		case n == 0:
			t.Fatal("read: 0 bytes with no error")
		}
	}
}

// readToEOF reads r until io.EOF and returns what it read.
func readToEOF(t testing.TB, r io.Reader, rfd int) []byte {
	t.Helper()
	return transferThenEOF(t, nil, -1, func() error { return nil }, r, rfd, nil)
}

func checkFlags(t *testing.T, what string, fd int) {
	t.Helper()
	if fd < 0 {
		t.Errorf("%s: fd %d", what, fd)
		return
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		t.Errorf("%s: F_GETFL: %v", what, err)
	} else if fl&unix.O_NONBLOCK == 0 {
		t.Errorf("%s: fd %d is blocking (F_GETFL %#x)", what, fd, fl)
	}
	fd2, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		t.Errorf("%s: F_GETFD: %v", what, err)
	} else if fd2&unix.FD_CLOEXEC == 0 {
		t.Errorf("%s: fd %d is not close-on-exec (F_GETFD %#x)", what, fd, fd2)
	}
}

// Non-blocking and close-on-exec.

func TestSocketsAreNonblockingAndCloseOnExec(t *testing.T) {
	v4 := newTCPSocket4or6(t, loopback4)
	checkFlags(t, "NewTCPSocketV4", v4.Fd())
	u, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	checkFlags(t, "NewUnixSocket", u.Fd())

	acc4, _ := tcpListener(t, loopback4, 0)
	checkFlags(t, "TCPAcceptor (v4)", acc4.Fd())
	c4, s4 := tcpPair(t, loopback4, 0)
	checkFlags(t, "connected TCPSocket (v4)", c4.Fd())
	checkFlags(t, "TCPAcceptor.Accept (v4)", s4.Fd())

	uacc, _ := unixListener(t)
	checkFlags(t, "UnixAcceptor", uacc.Fd())
	cu, su := unixPair(t, 0)
	checkFlags(t, "connected UnixSocket", cu.Fd())
	checkFlags(t, "UnixAcceptor.Accept", su.Fd())

	t.Run("v6", func(t *testing.T) {
		ip := ipv6Loopback(t)
		checkFlags(t, "NewTCPSocketV6", newTCPSocket4or6(t, ip).Fd())
		acc6, _ := tcpListener(t, ip, 0)
		checkFlags(t, "TCPAcceptor (v6)", acc6.Fd())
		_, s6 := tcpPair(t, ip, 0)
		checkFlags(t, "TCPAcceptor.Accept (v6)", s6.Fd())
	})
}

// Reading.

func TestSocketReadWouldBlock(t *testing.T) {
	for _, k := range pairKinds {
		t.Run(k.name, func(t *testing.T) {
			c, s := k.pair(t, 0)
			var buf [16]byte
			for _, end := range []Socket{c, s} {
				n, err := end.Read(buf[:])
				if n != 0 || err != ErrWouldBlock || !errors.Is(err, ErrWouldBlock) || !errors.Is(err, syscall.EAGAIN) {
					t.Fatalf("Read with nothing there = %d, %v; want 0 and ErrWouldBlock itself", n, err)
				}
			}
		})
	}
}

func TestSocketReadEOFAfterShutdownWrite(t *testing.T) {
	for _, k := range pairKinds {
		t.Run(k.name, func(t *testing.T) {
			c, s := k.pair(t, 0)
			data := randomBytes(1<<20, 1)
			got := transferThenEOF(t, c, c.Fd(), func() error { return c.Shutdown(ShutWrite) }, s, s.Fd(), data)
			if !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes before io.EOF, not the %d sent before the FIN", len(got), len(data))
			}
			var buf [8]byte
			if n, err := s.Read(buf[:]); n != 0 || err != io.EOF {
				t.Fatalf("Read after io.EOF = %d, %v; want io.EOF again", n, err)
			}
			// ShutWrite closes one direction only: the other still works.
			reply := randomBytes(4<<10, 2)
			got = transferThenEOF(t, s, s.Fd(), s.Close, c, c.Fd(), reply)
			if !bytes.Equal(got, reply) {
				t.Fatalf("after ShutWrite the writer read %d bytes, want the %d its peer sent", len(got), len(reply))
			}
		})
	}
}

func TestSocketReadEOFAfterPeerClose(t *testing.T) {
	for _, k := range pairKinds {
		t.Run(k.name, func(t *testing.T) {
			c, s := k.pair(t, 0)
			data := randomBytes(1<<20, 3)
			got := transferThenEOF(t, c, c.Fd(), c.Close, s, s.Fd(), data)
			if !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes before io.EOF, not the %d sent before Close", len(got), len(data))
			}
		})
	}
}

// Writing.

// A writer with a small send buffer facing a peer with a small receive
// buffer that does not read: one big Write is taken only in part.
func TestSocketWritePartialWouldBlock(t *testing.T) {
	for _, k := range pairKinds {
		t.Run(k.name, func(t *testing.T) {
			c, s := k.pair(t, 4096)
			data := randomBytes(4<<20, 4)
			n, err := c.Write(data)
			if err != ErrWouldBlock || !errors.Is(err, ErrWouldBlock) {
				t.Fatalf("Write of %d bytes into a full socket: n = %d, err = %v; want ErrWouldBlock itself", len(data), n, err)
			}
			if n <= 0 || n >= len(data) {
				t.Fatalf("Write with ErrWouldBlock returned n = %d, want 0 < n < %d", n, len(data))
			}
			if k.name == "unix" {
				// A Unix stream writer's buffer is freed only as the peer
				// reads, so nothing more fits.
				if m, err := c.Write(data[n : n+1]); m != 0 || err != ErrWouldBlock {
					t.Fatalf("Write into a full Unix socket = %d, %v; want 0, ErrWouldBlock", m, err)
				}
			}
			if err := c.Shutdown(ShutWrite); err != nil {
				t.Fatal(err)
			}
			got := readToEOF(t, s, s.Fd())
			if !bytes.Equal(got, data[:n]) {
				t.Fatalf("Write reported %d bytes written; the peer read %d (equal prefix: %v)",
					n, len(got), bytes.HasPrefix(data, got))
			}
		})
	}
}

// expectNoSIGPIPE runs f with SIGPIPE caught through os/signal and fails if
// one arrived.
func expectNoSIGPIPE(t *testing.T, f func()) {
	t.Helper()
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, syscall.SIGPIPE, syscall.SIGWINCH)
	defer signal.Stop(ch)
	f()
	// An absence check cannot wait for the signal, so it needs a marker. A
	// SIGPIPE from f's writes is raised in the writing thread before the
	// write returns, but reaches ch through the runtime's signal goroutine,
	// so an empty ch right now would prove nothing. SIGWINCH, sent now,
	// reaches ch after any such SIGPIPE: the runtime hands signals out in
	// the order it queued them, and lowest number first among those queued
	// together (SIGPIPE is 13, SIGWINCH 28). SIGWINCH is ignored by default,
	// so a stray one does no harm.
	if err := unix.Kill(unix.Getpid(), unix.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(pending)
	for marker := false; !marker; {
		select {
		case sig := <-ch:
			if sig == syscall.SIGPIPE {
				t.Fatal("SIGPIPE delivered by a write to a closed peer")
			}
			marker = sig == syscall.SIGWINCH
		case <-timeout:
			t.Fatal("the SIGWINCH marker never arrived")
		}
	}
	// Positive control: the same setup does see the SIGPIPE that a write
	// into a raw pipe without a reader raises, so the check above is not
	// vacuous.
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	unix.Close(p[0])
	_, err := unix.Write(p[1], []byte("x"))
	unix.Close(p[1])
	if err != unix.EPIPE {
		t.Fatalf("control write into a pipe without reader: %v, want EPIPE", err)
	}
	for {
		select {
		case sig := <-ch:
			if sig == syscall.SIGPIPE {
				return
			}
		case <-timeout:
			t.Fatal("control: a raw pipe's SIGPIPE never reached os/signal, so its absence above proves nothing")
		}
	}
}

func TestSocketWriteToClosedPeerNoSIGPIPE(t *testing.T) {
	for _, k := range pairKinds {
		t.Run(k.name, func(t *testing.T) {
			c, s := k.pair(t, 0)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			var err error
			expectNoSIGPIPE(t, func() {
				// TCP accepts the first write after the peer's FIN; the
				// peer answers it with a reset, after which writes fail.
				for range 10 {
					if _, err = c.Write([]byte("after close")); err != nil {
						return
					}
					// Wait for the reset: no events asked, so only an
					// error or hang-up ends the poll.
					waitFd(t, c.Fd(), 0)
				}
			})
			if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("Write to a closed peer: %v, want EPIPE or ECONNRESET", err)
			}
		})
	}
}

// Accepting and addresses.

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
		acc, addr := unixListener(t)
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

func TestTCPPortZeroAndAddrs(t *testing.T) {
	forEachLoopback(t, func(t *testing.T, name string, ip netip.Addr) {
		relNoLeaks(t)
		acc, addr := tcpListener(t, ip, 0)
		ap, ok := addr.AddrPort()
		if !ok || ap.Addr() != ip || ap.Port() == 0 {
			t.Fatalf("acceptor bound to %s:0 reports LocalAddr %s; want the same IP and the real port", ip, addr)
		}
		// The kernel's own view agrees.
		if sa, err := unix.Getsockname(acc.Fd()); err != nil || sockAddrFromUnix(sa) != addr {
			t.Fatalf("getsockname %v, %v; LocalAddr %s", sa, err, addr)
		}
		client := newTCPSocket4or6(t, ip)
		if _, err := client.PeerAddr(); !errors.Is(err, syscall.ENOTCONN) {
			t.Fatalf("PeerAddr of an unconnected socket: %v, want ENOTCONN", err)
		}
		connectNow(t, client, addr)
		server := acceptOne(t, acc.Fd(), acc.Accept)
		cl, cp, sl, sp := endAddrs(t, client, server)
		if sp != cl {
			t.Errorf("accepted PeerAddr %s != client LocalAddr %s", sp, cl)
		}
		if cp != addr || sl != addr {
			t.Errorf("client PeerAddr %s, accepted LocalAddr %s; want both %s", cp, sl, addr)
		}
		if ap, _ := cl.AddrPort(); ap.Addr() != ip || ap.Port() == 0 {
			t.Errorf("client LocalAddr %s: want %s with an ephemeral port", cl, ip)
		}
		// And data flows, in both directions.
		msg := []byte("over " + name)
		if got := transferThenEOF(t, client, client.Fd(), func() error { return client.Shutdown(ShutWrite) }, server, server.Fd(), msg); !bytes.Equal(got, msg) {
			t.Fatalf("server read %q, want %q", got, msg)
		}
		if got := transferThenEOF(t, server, server.Fd(), server.Close, client, client.Fd(), msg); !bytes.Equal(got, msg) {
			t.Fatalf("client read %q, want %q", got, msg)
		}
	})
}

// endAddrs returns both ends' addresses of a connection: the client's
// local and peer address, then the accepted socket's.
func endAddrs(t *testing.T, client, server Socket) (cl, cp, sl, sp SockAddr) {
	t.Helper()
	cl, err1 := client.LocalAddr()
	cp, err2 := client.PeerAddr()
	sl, err3 := server.LocalAddr()
	sp, err4 := server.PeerAddr()
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		t.Fatal(err)
	}
	return cl, cp, sl, sp
}

func TestUnixAddrs(t *testing.T) {
	acc, addr := unixListener(t)
	if la, err := acc.LocalAddr(); err != nil || la != addr {
		t.Fatalf("UnixAcceptor.LocalAddr = %s, %v; want %s", la, err, addr)
	}
	client, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	connectNow(t, client, addr)
	server := acceptOne(t, acc.Fd(), acc.Accept)
	cl, cp, sl, sp := endAddrs(t, client, server)
	if cp != addr || sl != addr {
		t.Errorf("client PeerAddr %s, accepted LocalAddr %s; want both %s", cp, sl, addr)
	}
	// The client never bound, so both see the unnamed address.
	if cl != UnixAddr("") || sp != cl {
		t.Errorf("unbound client LocalAddr %q, accepted PeerAddr %q; want both unnamed", cl, sp)
	}
}

// Closing.

// closable is what every fd type of the library has.
type closable interface {
	Fd() int
	Close() error
}

// closables opens one of each kind of fd the library makes.
func closables(t *testing.T) map[string]func() closable {
	return map[string]func() closable{
		"TCPSocket": func() closable { return newTCPSocket4or6(t, loopback4) },
		"UnixSocket": func() closable {
			u, err := NewUnixSocket()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { u.Close() })
			return u
		},
		"TCPSocket accepted": func() closable {
			_, s := tcpPair(t, loopback4, 0)
			return s
		},
		"TCPAcceptor": func() closable {
			acc, _ := tcpListener(t, loopback4, 0)
			return acc
		},
		"UnixSocket accepted": func() closable {
			_, s := unixPair(t, 0)
			return s
		},
		"UnixAcceptor": func() closable {
			acc, _ := unixListener(t)
			return acc
		},
		"PipeReader": func() closable {
			r, _ := newPipe(t)
			return r
		},
		"PipeWriter": func() closable {
			_, w := newPipe(t)
			return w
		},
	}
}

// occupyFd makes num, which the caller has just closed, the fd of one end
// of a fresh socket pair, and returns that end and its peer.
func occupyFd(t *testing.T, num int) (b, peer *RawFd) {
	t.Helper()
	x, y := socketPair(t)
	switch num {
	case x.Fd():
		return x, y
	case y.Fd():
		return y, x
	}
	if err := unix.Dup2(x.Fd(), num); err != nil {
		t.Fatal(err)
	}
	x.Close()
	b = NewRawFd(num)
	t.Cleanup(func() { b.Close() })
	return b, y
}

func TestCloseTwiceSparesReusedFd(t *testing.T) {
	for name, open := range closables(t) {
		t.Run(name, func(t *testing.T) {
			a := open()
			num := a.Fd()
			if err := a.Close(); err != nil {
				t.Fatalf("first Close: %v", err)
			}
			if a.Fd() != -1 {
				t.Fatalf("Fd after Close = %d, want -1", a.Fd())
			}
			b, peer := occupyFd(t, num)
			if err := a.Close(); !errors.Is(err, ErrClosed) {
				t.Fatalf("second Close: %v, want ErrClosed", err)
			}
			// b, which now holds the old number, still works.
			if _, err := unix.Write(b.Fd(), []byte("still open")); err != nil {
				t.Fatalf("fd %d, reused after the first Close, broken by the second: %v", num, err)
			}
			var buf [16]byte
			waitFd(t, peer.Fd(), unix.POLLIN)
			if n, err := unix.Read(peer.Fd(), buf[:]); err != nil || string(buf[:n]) != "still open" {
				t.Fatalf("peer of the reused fd read %q, %v", buf[:n], err)
			}
		})
	}
}

func TestSocketUseAfterCloseIsErrClosed(t *testing.T) {
	check := func(t *testing.T, what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", what, err)
		}
	}
	var buf [8]byte
	streams := func(t *testing.T, s Socket) {
		t.Helper()
		_, err := s.Read(buf[:])
		check(t, "Read", err)
		_, err = s.Write(buf[:])
		check(t, "Write", err)
		_, err = s.LocalAddr()
		check(t, "LocalAddr", err)
		_, err = s.PeerAddr()
		check(t, "PeerAddr", err)
		check(t, "TakeError", s.TakeError())
		check(t, "Shutdown", s.Shutdown(ShutBoth))
		check(t, "Close", s.Close())
	}
	t.Run("TCPSocket", func(t *testing.T) {
		c, _ := tcpPair(t, loopback4, 0)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		streams(t, c)
		check(t, "SetNoDelay", c.SetNoDelay(true))
		check(t, "SetKeepAlive", c.SetKeepAlive(true))
		check(t, "SetReuseAddr", c.SetReuseAddr(true))
		check(t, "SetReusePort", c.SetReusePort(true))
		check(t, "SetLinger", c.SetLinger(1))
		check(t, "SetRecvBuffer", c.SetRecvBuffer(8192))
		check(t, "SetSendBuffer", c.SetSendBuffer(8192))
		_, err := c.Bind(InetAddr(loopback4, 0))
		check(t, "Bind", err)
	})
	t.Run("UnixSocket", func(t *testing.T) {
		c, _ := unixPair(t, 0)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		streams(t, c)
		_, err := c.Bind(UnixAddr(filepath.Join(t.TempDir(), "x.sock")))
		check(t, "Bind", err)
	})
	t.Run("TCPAcceptor", func(t *testing.T) {
		acc, _ := tcpListener(t, loopback4, 0)
		if err := acc.Close(); err != nil {
			t.Fatal(err)
		}
		_, err := acc.Accept()
		check(t, "Accept", err)
		_, err = acc.LocalAddr()
		check(t, "LocalAddr", err)
		check(t, "TakeError", acc.TakeError())
		check(t, "Close", acc.Close())
	})
	t.Run("UnixAcceptor", func(t *testing.T) {
		acc, _ := unixListener(t)
		if err := acc.Close(); err != nil {
			t.Fatal(err)
		}
		_, err := acc.Accept()
		check(t, "Accept", err)
		_, err = acc.LocalAddr()
		check(t, "LocalAddr", err)
		check(t, "TakeError", acc.TakeError())
		check(t, "Close", acc.Close())
	})
}

// Opening and closing every kind of fd, a failed Bind included, leaves the
// number of open fds unchanged (counted where /proc/self/fd exists).
func TestSocketCloseReleasesFds(t *testing.T) {
	if openFdCount(t) < 0 {
		t.Skip("no /proc/self/fd to count open fds on " + runtime.GOOS)
	}
	dir := t.TempDir()
	cycle := func() {
		c4, s4 := tcpPair(t, loopback4, 0)
		cu, su := unixPair(t, 0)
		r, w := newPipe(t)
		// A failed Bind leaves the socket with the caller, to close.
		bad, err := NewUnixSocket()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bad.Bind(UnixAddr(filepath.Join(dir, strings.Repeat("x", unixPathMax)))); err == nil {
			t.Fatal("Bind of a too long path succeeded")
		}
		for _, x := range []closable{c4, s4, cu, su, r, w, bad} {
			if err := x.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	cycle() // warm up whatever the runtime opens once
	before := openFdCount(t)
	for range 50 {
		cycle()
	}
	if after := openFdCount(t); after != before {
		t.Fatalf("50 rounds of open and Close: %d fds open before, %d after", before, after)
	}
}

// Binding.

func TestBindConsumesSocket(t *testing.T) {
	t.Run("tcp", func(t *testing.T) {
		s := newTCPSocket4or6(t, loopback4)
		fd := s.Fd()
		acc, err := s.Bind(InetAddr(loopback4, 0))
		if err != nil {
			t.Fatal(err)
		}
		defer acc.Close()
		if s.Fd() != -1 || acc.Fd() != fd {
			t.Fatalf("after Bind: socket fd %d (want -1), acceptor fd %d (want %d)", s.Fd(), acc.Fd(), fd)
		}
		if err := s.Close(); !errors.Is(err, ErrClosed) {
			t.Fatalf("Close of a bound-away socket: %v, want ErrClosed", err)
		}
		checkFlags(t, "acceptor after Bind", acc.Fd())
		// Bind turns SO_REUSEADDR on.
		if v, err := unix.GetsockoptInt(acc.Fd(), unix.SOL_SOCKET, unix.SO_REUSEADDR); err != nil || v == 0 {
			t.Fatalf("SO_REUSEADDR after Bind = %d, %v; want on", v, err)
		}
	})
	t.Run("unix", func(t *testing.T) {
		s, err := NewUnixSocket()
		if err != nil {
			t.Fatal(err)
		}
		fd := s.Fd()
		acc, err := s.Bind(UnixAddr(filepath.Join(t.TempDir(), "b.sock")))
		if err != nil {
			s.Close()
			t.Fatal(err)
		}
		defer acc.Close()
		if s.Fd() != -1 || acc.Fd() != fd {
			t.Fatalf("after Bind: socket fd %d (want -1), acceptor fd %d (want %d)", s.Fd(), acc.Fd(), fd)
		}
		if err := s.Close(); !errors.Is(err, ErrClosed) {
			t.Fatalf("Close of a bound-away socket: %v, want ErrClosed", err)
		}
	})
}

// Bind refuses a registered socket (its registration would name the wrong
// object) and says to deregister it first. Doing so must then work, so the
// refusal must come before anything happened to the socket.
func TestBindRegisteredSocketRefusedWithoutSideEffects(t *testing.T) {
	t.Run("tcp", func(t *testing.T) {
		l := newLoop(t)
		s := newTCPSocket4or6(t, loopback4)
		if err := l.Register(s, 1, Readable, Level); err != nil {
			t.Fatal(err)
		}
		if acc, err := s.Bind(InetAddr(loopback4, 0)); !errors.Is(err, syscall.EBUSY) {
			t.Fatalf("Bind of a registered socket = %v, %v; want EBUSY", acc, err)
		}
		if la, err := s.LocalAddr(); err != nil || la != InetAddr(netip.IPv4Unspecified(), 0) {
			t.Errorf("refused Bind left the socket bound to %s (%v)", la, err)
		}
		if err := l.Deregister(s); err != nil {
			t.Fatal(err)
		}
		acc, err := s.Bind(InetAddr(loopback4, 0))
		if err != nil {
			t.Fatalf("Bind after Deregister, as the refusal advised: %v", err)
		}
		acc.Close()
	})
	t.Run("unix", func(t *testing.T) {
		l := newLoop(t)
		s, err := NewUnixSocket()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := l.Register(s, 1, Readable, Level); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "r.sock")
		if acc, err := s.Bind(UnixAddr(path)); !errors.Is(err, syscall.EBUSY) {
			t.Fatalf("Bind of a registered socket = %v, %v; want EBUSY", acc, err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("refused Bind left a socket file at %s (%v)", path, err)
		}
		if err := l.Deregister(s); err != nil {
			t.Fatal(err)
		}
		acc, err := s.Bind(UnixAddr(path))
		if err != nil {
			t.Fatalf("Bind after Deregister, as the refusal advised: %v", err)
		}
		acc.Close()
	})
}

func TestBindWrongFamily(t *testing.T) {
	unixPath := UnixAddr(filepath.Join(t.TempDir(), "w.sock"))
	tcp := newTCPSocket4or6(t, loopback4)
	if acc, err := tcp.Bind(unixPath); !errors.Is(err, syscall.EAFNOSUPPORT) {
		t.Errorf("TCPSocket.Bind(%s) = %v, %v; want EAFNOSUPPORT", unixPath, acc, err)
	}
	if acc, err := tcp.Bind(SockAddr{}); err == nil {
		t.Errorf("TCPSocket.Bind(zero SockAddr) = %v, nil; want an error", acc)
	}
	if acc, err := tcp.Bind(InetAddr(netip.IPv6Loopback(), 0)); err == nil {
		t.Errorf("IPv4 TCPSocket.Bind([::1]:0) = %v, nil; want an error", acc)
	}
	u, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if acc, err := u.Bind(InetAddr(loopback4, 0)); !errors.Is(err, syscall.EAFNOSUPPORT) {
		t.Errorf("UnixSocket.Bind(127.0.0.1:0) = %v, %v; want EAFNOSUPPORT", acc, err)
	}
	if acc, err := u.Bind(SockAddr{}); err == nil {
		t.Errorf("UnixSocket.Bind(zero SockAddr) = %v, nil; want an error", acc)
	}
	// A failed Bind leaves the socket with the caller, still usable.
	if tcp.Fd() < 0 || u.Fd() < 0 {
		t.Fatalf("failed Binds consumed the sockets (fds %d, %d)", tcp.Fd(), u.Fd())
	}
	acc, err := tcp.Bind(InetAddr(loopback4, 0))
	if err != nil {
		t.Fatalf("Bind after failed Binds: %v", err)
	}
	acc.Close()
}

func TestTCPBindAddrInUse(t *testing.T) {
	_, addr := tcpListener(t, loopback4, 0)
	s := newTCPSocket4or6(t, loopback4)
	if acc, err := s.Bind(addr); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Bind to %s, which a listener holds = %v, %v; want EADDRINUSE", addr, acc, err)
	}
	if s.Fd() < 0 {
		t.Fatal("failed Bind consumed the socket")
	}
}

func TestTCPBindReusePortShares(t *testing.T) {
	first := newTCPSocket4or6(t, loopback4)
	if err := first.SetReusePort(true); err != nil {
		t.Fatal(err)
	}
	acc1, err := first.Bind(InetAddr(loopback4, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer acc1.Close()
	if err := acc1.listen(16); err != nil {
		t.Fatal(err)
	}
	addr, err := acc1.LocalAddr()
	if err != nil {
		t.Fatal(err)
	}
	second := newTCPSocket4or6(t, loopback4)
	if err := second.SetReusePort(true); err != nil {
		t.Fatal(err)
	}
	acc2, err := second.Bind(addr)
	if err != nil {
		t.Fatalf("second SO_REUSEPORT Bind to %s: %v", addr, err)
	}
	defer acc2.Close()
	if err := acc2.listen(16); err != nil {
		t.Fatal(err)
	}
}

func TestUnixBindPathTooLong(t *testing.T) {
	dir := t.TempDir()
	if len(dir)+2 > unixPathMax {
		t.Skipf("temporary directory %q leaves no room for a file name", dir)
	}
	long := filepath.Join(dir, strings.Repeat("L", unixPathMax-len(dir)))
	s, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	acc, err := s.Bind(UnixAddr(long))
	if !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Fatalf("Bind to a %d-byte path = %v, %v; want ENAMETOOLONG", len(long), acc, err)
	}
	if !strings.Contains(err.Error(), "longer than") {
		t.Errorf("error does not say what is wrong: %v", err)
	}
	// Not truncated: no file exists under any prefix of the name.
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 0 {
		t.Fatalf("a failed Bind left %v in the directory (%v)", ents, err)
	}
	// Connect refuses the same path the same way and registers nothing.
	l := newLoop(t)
	if err := l.Connect(s, UnixAddr(long), 1); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Fatalf("Connect to a %d-byte path: %v, want ENAMETOOLONG", len(long), err)
	}
	if l.reg.lookup(s.Fd()) != nil {
		t.Fatal("failed Connect left the socket registered")
	}
	// One byte less is the longest path that works, kept exactly.
	longest := long[:unixPathMax]
	acc, err = s.Bind(UnixAddr(longest))
	if err != nil {
		t.Fatalf("Bind to a %d-byte path (the limit): %v", len(longest), err)
	}
	defer acc.Close()
	if la, err := acc.LocalAddr(); err != nil || la != UnixAddr(longest) {
		t.Fatalf("LocalAddr = %q, %v; want %q", la, err, longest)
	}
}

func TestUnixBindExistingPathAndCloseRemovesFile(t *testing.T) {
	acc, addr := unixListener(t)
	path := addr.Path()
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("after Bind, %s: %v, %v; want a socket file", path, fi, err)
	}
	s, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if acc2, err := s.Bind(addr); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Bind to an existing socket file = %v, %v; want EADDRINUSE", acc2, err)
	}
	if err := acc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("UnixAcceptor.Close left %s behind (%v)", path, err)
	}
	// The path is free again; a second Close of the old acceptor must not
	// remove the new owner's file.
	acc2, err := s.Bind(addr)
	if err != nil {
		t.Fatalf("Bind after the old acceptor's Close: %v", err)
	}
	defer acc2.Close()
	if err := acc.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("second Close of the old acceptor removed the new socket file: %v", err)
	}
}

// TakeError.

func TestSocketTakeErrorHealthy(t *testing.T) {
	u, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	acc, _ := tcpListener(t, loopback4, 0)
	uacc, _ := unixListener(t)
	c4, s4 := tcpPair(t, loopback4, 0)
	cu, su := unixPair(t, 0)
	for name, te := range map[string]interface{ TakeError() error }{
		"new TCPSocket": newTCPSocket4or6(t, loopback4), "new UnixSocket": u,
		"TCPAcceptor": acc, "UnixAcceptor": uacc,
		"TCP client": c4, "TCP accepted": s4, "Unix client": cu, "Unix accepted": su,
	} {
		if err := te.TakeError(); err != nil {
			t.Errorf("%s: TakeError = %v, want nil", name, err)
		}
	}
}

func TestTCPTakeErrorRefusedConnectOnce(t *testing.T) {
	acc, addr := tcpListener(t, loopback4, 0)
	if err := acc.Close(); err != nil {
		t.Fatal(err)
	}
	s := newTCPSocket4or6(t, loopback4)
	state, err := s.startConnect(addr)
	if err != nil {
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("connect to a closed port: %v", err)
		}
		t.Skip("connect(2) failed at once; SO_ERROR is not involved")
	}
	if state == connectInProgress {
		waitFd(t, s.Fd(), unix.POLLOUT)
	}
	if err := s.TakeError(); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("TakeError after a refused connect: %v, want ECONNREFUSED", err)
	}
	if err := s.TakeError(); err != nil {
		t.Fatalf("second TakeError: %v, want nil (the error is taken)", err)
	}
}

// An accepted socket reset by its peer: TakeError reports ECONNRESET
// without calling it a connect failure.
func TestTCPTakeErrorNamesNoOperation(t *testing.T) {
	c, s := tcpPair(t, loopback4, 0)
	if err := c.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	waitFd(t, s.Fd(), 0) // only the reset ends this poll
	err := s.TakeError()
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("TakeError after the peer's reset: %v, want ECONNRESET", err)
	}
	if strings.Contains(err.Error(), "connect:") {
		t.Fatalf("TakeError on an accepted socket: %q names a connect", err)
	}
}

// Shutdown.

func TestTCPShutdownUnconnected(t *testing.T) {
	s := newTCPSocket4or6(t, loopback4)
	for _, how := range []ShutdownHow{ShutRead, ShutWrite, ShutBoth} {
		if err := s.Shutdown(how); !errors.Is(err, syscall.ENOTCONN) {
			t.Errorf("Shutdown(%d) of an unconnected TCP socket: %v, want ENOTCONN", how, err)
		}
	}
	// An invalid how is reported as such, connected or not.
	if err := s.Shutdown(ShutdownHow(7)); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Shutdown(7) of an unconnected TCP socket: %v, want EINVAL", err)
	}
}

// Shutdown's comment promises ENOTCONN for any socket that is not
// connected, Unix ones included.
func TestUnixShutdownUnconnected(t *testing.T) {
	s, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Shutdown(ShutWrite); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("Shutdown(ShutWrite) of an unconnected Unix socket: %v, want ENOTCONN as documented", err)
	}
}

func TestShutdownWriteTwice(t *testing.T) {
	for _, k := range pairKinds {
		t.Run(k.name, func(t *testing.T) {
			c, s := k.pair(t, 0)
			if err := c.Shutdown(ShutWrite); err != nil {
				t.Fatalf("first Shutdown(ShutWrite): %v", err)
			}
			err := c.Shutdown(ShutWrite)
			// Linux (tcp_shutdown, unix_shutdown) accepts a repeated
			// shutdown of a connected socket and changes nothing.
			if runtime.GOOS == "linux" && err != nil {
				t.Fatalf("second Shutdown(ShutWrite) on Linux: %v, want nil", err)
			}
			t.Logf("second Shutdown(ShutWrite) on %s: %v", runtime.GOOS, err)
			if got := readToEOF(t, s, s.Fd()); len(got) != 0 {
				t.Fatalf("peer read %q, want only io.EOF", got)
			}
		})
	}
}

// After ShutRead every read is io.EOF, on every system: also with data
// that was queued before (the BSDs flush it, Linux kept it) and with data
// the peer sends after (Linux TCP still queued it).
func TestShutdownReadGivesEOF(t *testing.T) {
	for _, k := range pairKinds {
		for _, how := range []ShutdownHow{ShutRead, ShutBoth} {
			t.Run(k.name+"/"+relHowName[how], func(t *testing.T) {
				c, s := k.pair(t, 0)
				if _, err := s.Write([]byte("early")); err != nil {
					t.Fatal(err)
				}
				waitFd(t, c.Fd(), unix.POLLIN)
				if err := c.Shutdown(how); err != nil {
					t.Fatal(err)
				}
				var buf [8]byte
				if n, err := c.Read(buf[:]); n != 0 || err != io.EOF {
					t.Fatalf("Read after Shutdown with data queued before = %d (%q), %v; want io.EOF", n, buf[:n], err)
				}
				// A Unix peer gets EPIPE here; a TCP peer's data arrives.
				s.Write([]byte("late"))
				if n, err := c.Read(buf[:]); n != 0 || err != io.EOF {
					t.Fatalf("Read after Shutdown with data sent after = %d (%q), %v; want io.EOF", n, buf[:n], err)
				}
			})
		}
	}
}

func TestShutdownInvalidHow(t *testing.T) {
	for _, k := range pairKinds {
		t.Run(k.name, func(t *testing.T) {
			c, s := k.pair(t, 0)
			for _, how := range []ShutdownHow{-1, 3, 100} {
				if err := c.Shutdown(how); !errors.Is(err, syscall.EINVAL) {
					t.Errorf("Shutdown(%d): %v, want EINVAL", how, err)
				}
			}
			// The invalid calls shut nothing down.
			msg := []byte("still open")
			if got := transferThenEOF(t, c, c.Fd(), func() error { return c.Shutdown(ShutWrite) }, s, s.Fd(), msg); !bytes.Equal(got, msg) {
				t.Fatalf("after invalid Shutdowns the peer read %q, want %q", got, msg)
			}
		})
	}
}

// Socket options.

func TestSocketOptionsReadBack(t *testing.T) {
	s := newTCPSocket4or6(t, loopback4)
	fd := s.Fd()
	bools := []struct {
		name       string
		set        func(bool) error
		level, opt int
	}{
		{"SO_REUSEADDR", s.SetReuseAddr, unix.SOL_SOCKET, unix.SO_REUSEADDR},
		{"SO_REUSEPORT", s.SetReusePort, unix.SOL_SOCKET, unix.SO_REUSEPORT},
		{"SO_KEEPALIVE", s.SetKeepAlive, unix.SOL_SOCKET, unix.SO_KEEPALIVE},
		{"TCP_NODELAY", s.SetNoDelay, unix.IPPROTO_TCP, unix.TCP_NODELAY},
	}
	for _, b := range bools {
		for _, on := range []bool{true, false, true} {
			if err := b.set(on); err != nil {
				t.Fatalf("set %s %v: %v", b.name, on, err)
			}
			v, err := unix.GetsockoptInt(fd, b.level, b.opt)
			if err != nil {
				t.Fatal(err)
			}
			if (v != 0) != on {
				t.Errorf("%s set to %v reads back %d", b.name, on, v)
			}
		}
	}

	for _, tc := range []struct {
		sec  int
		want unix.Linger
	}{{5, unix.Linger{Onoff: 1, Linger: 5}}, {0, unix.Linger{Onoff: 1, Linger: 0}}, {-1, unix.Linger{}}} {
		if err := s.SetLinger(tc.sec); err != nil {
			t.Fatalf("SetLinger(%d): %v", tc.sec, err)
		}
		l, err := unix.GetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER)
		if err != nil {
			t.Fatal(err)
		}
		if (l.Onoff != 0) != (tc.want.Onoff != 0) || (tc.want.Onoff != 0 && l.Linger != tc.want.Linger) {
			t.Errorf("SetLinger(%d) reads back %+v, want %+v", tc.sec, *l, tc.want)
		}
	}

	u, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for _, b := range []struct {
		name string
		fd   int
		set  func(int) error
		opt  int
	}{
		{"TCP SO_RCVBUF", fd, s.SetRecvBuffer, unix.SO_RCVBUF},
		{"TCP SO_SNDBUF", fd, s.SetSendBuffer, unix.SO_SNDBUF},
		{"Unix SO_RCVBUF", u.Fd(), u.SetRecvBuffer, unix.SO_RCVBUF},
		{"Unix SO_SNDBUF", u.Fd(), u.SetSendBuffer, unix.SO_SNDBUF},
	} {
		// Two sizes that read back differently prove the call took effect,
		// whatever the default was.
		var got [2]int
		for i, req := range []int{6000, 60000} {
			if err := b.set(req); err != nil {
				t.Fatalf("set %s %d: %v", b.name, req, err)
			}
			v, err := unix.GetsockoptInt(b.fd, unix.SOL_SOCKET, b.opt)
			if err != nil {
				t.Fatal(err)
			}
			// Linux doubles the value for its bookkeeping (socket(7)).
			if v < req || runtime.GOOS == "linux" && v != 2*req {
				t.Errorf("%s set to %d reads back %d", b.name, req, v)
			}
			got[i] = v
		}
		if got[0] == got[1] {
			t.Errorf("%s: setting 6000 and 60000 both read back %d", b.name, got[0])
		}
	}
}

// Allocation.

func TestSocketReadWriteAllocs(t *testing.T) {
	for _, k := range []pairKind{pairKinds[0], pairKinds[2]} {
		t.Run(k.name, func(t *testing.T) {
			c, s := k.pair(t, 0)
			var in, out [64]byte
			copy(out[:], "sixty-four bytes")
			if a := testing.AllocsPerRun(100, func() {
				if _, err := s.Read(in[:]); err != ErrWouldBlock {
					t.Fatalf("Read: %v, want ErrWouldBlock", err)
				}
			}); a != 0 {
				t.Errorf("Read returning ErrWouldBlock allocates %v times", a)
			}
			if a := testing.AllocsPerRun(100, func() {
				if n, err := c.Write(out[:]); n != len(out) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
				waitFdNoAlloc(s.Fd())
				if n, err := s.Read(in[:]); n != len(in) || err != nil {
					t.Fatalf("Read = %d, %v", n, err)
				}
			}); a != 0 {
				t.Errorf("a 64-byte Write and Read allocate %v times", a)
			}
		})
	}
}

// pollBuf keeps waitFdNoAlloc's argument off the heap between calls.
var pollBuf [1]unix.PollFd

// waitFdNoAlloc waits up to pending for fd to be readable, without the
// test helper's allocations, so that AllocsPerRun counts only the library.
// A timeout shows up as the Read that follows failing.
func waitFdNoAlloc(fd int) {
	pollBuf[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	for {
		if _, err := unix.Poll(pollBuf[:], int(pending/time.Millisecond)); err != unix.EINTR {
			return
		}
	}
}

// BenchmarkSocketReadWrite measures a 64-byte Write and the Read that takes
// it on a connected Unix stream pair.
func BenchmarkSocketReadWrite(b *testing.B) {
	c, s := unixPair(b, 0)
	var in, out [64]byte
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		if n, err := c.Write(out[:]); n != len(out) || err != nil {
			b.Fatalf("Write = %d, %v", n, err)
		}
		if n, err := s.Read(in[:]); n != len(in) || err != nil {
			b.Fatalf("Read = %d, %v", n, err)
		}
	}
}
