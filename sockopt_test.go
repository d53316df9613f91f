//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Socket options: what the setters leave in the kernel, rebinding after
// TIME_WAIT, and SO_REUSEPORT sharing a port and spreading accepts.

// SO_REUSEADDR, which TCPSocket.Bind turns on, lets a new acceptor bind a
// port that a connection holds in TIME_WAIT. The server closes first, so
// the TIME_WAIT is on the server's port; a control bind without
// SO_REUSEADDR shows it is really there.
func TestReuseAddrRebindsAfterTimeWait(t *testing.T) {
	checkNoFdLeaks(t)
	acc, addr := boundTCP(t, loopback4)
	client := newTCPSocket4or6(t, loopback4)
	server := pingPong(t, acc, addr, client)
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
	pingPong(t, acc2, addr, client2)
}

// Two loops on two goroutines, each with its own acceptor bound with
// SO_REUSEPORT to the same port: 200 connections are all accepted, and the
// kernel (hashing each connection's addresses and ports) gives each loop
// some.
func TestReusePortSpreadsAcceptsOverLoops(t *testing.T) {
	checkNoFdLeaks(t)
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
			h := &recorder{}
			h.onReadable = func(l *EventLoop[int], _ Token, _ ReadHint) {
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
	case <-time.After(maxWait):
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

// Which kernels spread one address's connections over SO_REUSEPORT
// listeners: Linux (reuseport groups), DragonFly (SO_REUSEPORT) and FreeBSD
// 12+ (only with SO_REUSEPORT_LB); on XNU, NetBSD and OpenBSD the option
// only lets the sockets share the address.
func TestReusePortBalancesPerKernel(t *testing.T) {
	for goos, want := range map[string]bool{"linux": true, "dragonfly": true, "freebsd": true,
		"darwin": false, "netbsd": false, "openbsd": false, "windows": false} {
		if got := reusePortBalances(goos); got != want {
			t.Errorf("reusePortBalances(%q) = %v, want %v", goos, got, want)
		}
	}
}

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
