//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"errors"
	"io"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Addresses: IPv6, port 0, rebinding after TIME_WAIT, a port in use, and
// SO_REUSEPORT spreading accepts over loops.

// relPingPong listens on acc (bound to addr) and connects client to it
// through one loop; the client sends "ping", the server answers "pong".
// It returns the accepted socket, left open for the caller to inspect.
func relPingPong(t *testing.T, acc Acceptor, accept func() (Socket, error), addr SockAddr, client Socket) Socket {
	t.Helper()
	l := newLoop(t)
	if err := l.Listen(acc, 16, 0); err != nil {
		t.Fatal(err)
	}
	if err := l.Connect(client, addr, 1); err != nil {
		t.Fatal(err)
	}
	var server Socket
	var answer []byte
	h := relNewH(t)
	h.onR = func(l *EventLoop[int], tok Token, _ ReadHint) {
		var buf [16]byte
		switch tok {
		case 0:
			for server == nil {
				s, err := accept()
				if err == ErrWouldBlock {
					return
				}
				if err != nil {
					t.Errorf("Accept: %v", err)
					l.Shutdown()
					return
				}
				server = s
				t.Cleanup(func() { s.Close() })
				if err := l.Register(s, 2, Readable, Level); err != nil {
					t.Error(err)
				}
			}
		case 2:
			n, err := server.Read(buf[:])
			if string(buf[:n]) == "ping" {
				if _, err := server.Write([]byte("pong")); err != nil {
					t.Error(err)
				}
			} else if err != ErrWouldBlock {
				t.Errorf("server read %q, %v", buf[:n], err)
				l.Shutdown()
			}
		case 1:
			n, _ := client.Read(buf[:])
			answer = append(answer, buf[:n]...)
			if string(answer) == "pong" {
				l.Shutdown()
			}
		}
	}
	h.onW = func(l *EventLoop[int], tok Token) {
		if tok == 1 && h.writes[1] == 1 {
			if err := client.TakeError(); err != nil {
				t.Errorf("connect %s: %v", addr, err)
				l.Shutdown()
				return
			}
			if _, err := client.Write([]byte("ping")); err != nil {
				t.Error(err)
			}
		}
	}
	relRun(t, l, h)
	if string(answer) != "pong" || server == nil {
		t.Fatalf("ping-pong over %s: client got %q", addr, answer)
	}
	l.Deregister(server)
	l.Deregister(client)
	return server
}

// IPv6 loopback through the loop: Connect, Listen, Accept, data both ways,
// and every address names ::1.
func TestRelIPv6ThroughLoop(t *testing.T) {
	ip := ipv6Loopback(t) // skips with the reason where ::1 is missing
	relNoLeaks(t)
	acc, addr := relTCPAcceptor(t, ip)
	client := newTCPSocket4or6(t, ip)
	server := relPingPong(t, acc, func() (Socket, error) { return acc.Accept() }, addr, client)
	cl, _ := client.LocalAddr()
	sp, _ := server.PeerAddr()
	cp, _ := client.PeerAddr()
	if ap, _ := cl.AddrPort(); ap.Addr() != ip || sp != cl || cp != addr {
		t.Fatalf("client %s -> %s, server sees %s; want ::1 on both ends", cl, cp, sp)
	}
}

// SO_REUSEADDR, which TCPSocket.Bind turns on, lets a new acceptor bind a
// port that a connection holds in TIME_WAIT. The server closes first, so
// the TIME_WAIT is on the server's port; a control bind without
// SO_REUSEADDR shows it is really there.
func TestRelReuseAddrAfterTimeWait(t *testing.T) {
	relNoLeaks(t)
	acc, addr := relTCPAcceptor(t, loopback4)
	client := newTCPSocket4or6(t, loopback4)
	server := relPingPong(t, acc, func() (Socket, error) { return acc.Accept() }, addr, client)
	// Server closes first: its side goes FIN_WAIT and, once the client's
	// FIN comes, TIME_WAIT.
	if err := server.Close(); err != nil {
		t.Fatal(err)
	}
	waitFd(t, client.Fd(), unix.POLLIN)
	var buf [4]byte
	if _, err := client.Read(buf[:]); err != io.EOF {
		t.Fatalf("client read after the server closed: %v, want EOF", err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if err := acc.Close(); err != nil {
		t.Fatal(err)
	}
	// Control: without SO_REUSEADDR the port is still taken.
	sa, _ := addr.sockaddr()
	raw, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	cerr := unix.Bind(raw, sa)
	unix.Close(raw)
	if cerr != unix.EADDRINUSE {
		t.Fatalf("precondition: a bind without SO_REUSEADDR to %s gave %v, want EADDRINUSE from the TIME_WAIT", addr, cerr)
	}
	again := newTCPSocket4or6(t, loopback4)
	acc2, err := again.Bind(addr)
	if err != nil {
		t.Fatalf("rebinding %s while it is in TIME_WAIT: %v", addr, err)
	}
	defer acc2.Close()
	client2 := newTCPSocket4or6(t, loopback4)
	relPingPong(t, acc2, func() (Socket, error) { return acc2.Accept() }, addr, client2)
}

// Binding an address an acceptor is listening on fails with EADDRINUSE
// (errors.Is), for TCP despite SO_REUSEADDR, and for a Unix path; the
// failed socket is left to its owner.
func TestRelBindAddrInUse(t *testing.T) {
	forEachLoopback(t, func(t *testing.T, _ string, ip netip.Addr) {
		relNoLeaks(t)
		acc, addr := relTCPAcceptor(t, ip)
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
		relNoLeaks(t)
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

// Two loops on two goroutines, each with its own acceptor bound with
// SO_REUSEPORT to the same port: 200 connections are all accepted, and the
// kernel (hashing each connection's addresses and ports) gives each loop
// some.
func TestRelReusePortSpreadsOverLoops(t *testing.T) {
	relNoLeaks(t)
	const loops, conns = 2, 200
	var addr SockAddr
	var accs [loops]*TCPAcceptor
	var ls [loops]*EventLoop[int]
	for i := range loops {
		s := newTCPSocket4or6(t, loopback4)
		if err := s.SetReusePort(true); err != nil {
			t.Fatal(err)
		}
		bindTo := InetAddr(loopback4, 0)
		if i > 0 {
			bindTo = addr
		}
		acc, err := s.Bind(bindTo)
		if err != nil {
			t.Fatalf("SO_REUSEPORT Bind %d to %s: %v", i, bindTo, err)
		}
		t.Cleanup(func() { acc.Close() })
		if i == 0 {
			if addr, err = acc.LocalAddr(); err != nil {
				t.Fatal(err)
			}
		}
		accs[i] = acc
		ls[i] = newLoop(t)
		if err := ls[i].Listen(acc, 256, 0); err != nil {
			t.Fatal(err)
		}
	}
	var total atomic.Int64
	allIn := make(chan struct{})
	var counts [loops]int
	var wg sync.WaitGroup
	for i := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := relNewH(t)
			h.onR = func(l *EventLoop[int], _ Token, _ ReadHint) {
				for {
					s, err := accs[i].Accept()
					if err != nil {
						if err != ErrWouldBlock {
							t.Errorf("loop %d: Accept: %v", i, err)
						}
						return
					}
					s.Close()
					counts[i]++
					if total.Add(1) == conns {
						close(allIn)
					}
				}
			}
			if err := ls[i].Run(h); err != nil {
				t.Errorf("loop %d: %v", i, err)
			}
		}()
	}
	stop := func() {
		for _, l := range ls {
			l.Shutdown()
		}
		wg.Wait()
	}
	defer stop() // also when a connect below fails the test
	for range conns {
		c, err := NewTCPSocketV4()
		if err != nil {
			t.Fatal(err)
		}
		connectNow(t, c, addr)
		c.Close()
	}
	select {
	case <-allIn:
	case <-time.After(relBound):
	}
	stop()
	if total.Load() != conns {
		t.Fatalf("accepted %d of %d connections (per loop %v)", total.Load(), conns, counts)
	}
	for i, n := range counts {
		if n == 0 {
			t.Fatalf("loop %d accepted none of %d connections (per loop %v): SO_REUSEPORT did not spread them", i, conns, counts)
		}
	}
	t.Logf("accepts per loop: %v", counts)
}
