//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Sockets themselves: created non-blocking and close-on-exec, closed once
// and for good, bound. Every wait is a poll(2) on the fd concerned, bounded
// by pending (5s); no test sleeps to let the kernel catch up.

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

	uacc, _ := unixListener(t, 16)
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

// Closing.

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
		acc, _ := unixListener(t, 16)
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
	if openFds() == nil {
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
	checkNoFdLeaks(t)
	for range 50 {
		cycle()
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
	acc, addr := unixListener(t, 16)
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

// Binding an address an acceptor is listening on fails with EADDRINUSE
// (errors.Is), for TCP despite SO_REUSEADDR, and for a Unix path; the
// failed socket is left to its owner.
func TestBindAddrInUse(t *testing.T) {
	forEachLoopback(t, func(t *testing.T, _ string, ip netip.Addr) {
		checkNoFdLeaks(t)
		acc, addr := boundTCP(t, ip)
		l := newLoop(t)
		if err := l.Listen(acc, 16, 0); err != nil {
			t.Fatal(err)
		}
		s := newTCPSocket4or6(t, ip)
		if got, err := s.Bind(addr); !errors.Is(err, syscall.EADDRINUSE) {
			if got != nil {
				got.Close()
			}
			t.Fatalf("Bind to %s, which an acceptor listens on: %v; want EADDRINUSE", addr, err)
		}
		if s.Fd() < 0 {
			t.Fatal("the failed Bind consumed the socket")
		}
	})
	t.Run("unix", func(t *testing.T) {
		checkNoFdLeaks(t)
		addr := UnixAddr(filepath.Join(t.TempDir(), "busy.sock"))
		first, err := NewUnixSocket()
		if err != nil {
			t.Fatal(err)
		}
		acc, err := first.Bind(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer acc.Close()
		l := newLoop(t)
		if err := l.Listen(acc, 16, 0); err != nil {
			t.Fatal(err)
		}
		s, err := NewUnixSocket()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if got, err := s.Bind(addr); !errors.Is(err, syscall.EADDRINUSE) {
			if got != nil {
				got.Close()
			}
			t.Fatalf("Bind to %s, which an acceptor listens on: %v; want EADDRINUSE", addr, err)
		}
	})
}
