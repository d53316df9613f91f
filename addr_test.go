//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"bytes"
	"errors"
	"net/netip"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Addresses as live sockets report them: port 0, LocalAddr and PeerAddr
// of both ends, and IPv6 loopback through the loop.

func TestTCPPortZeroAndAddrs(t *testing.T) {
	forEachLoopback(t, func(t *testing.T, name string, ip netip.Addr) {
		checkNoFdLeaks(t)
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
	acc, addr := unixListener(t, 16)
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

// relPingPong listens on acc (bound to addr) and connects client to it
// through one loop; the client sends "ping", the server answers "pong".
// It returns the accepted socket, left open for the caller to inspect.
func pingPong(t *testing.T, acc Acceptor, addr SockAddr, client Socket) Socket {
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
	h := &recorder{}
	h.onReadable = func(l *EventLoop[int], tok Token, _ ReadHint) {
		var buf [16]byte
		switch tok {
		case 0:
			for server == nil {
				s, err := acc.Accept()
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
	h.onWritable = func(l *EventLoop[int], tok Token) {
		if tok == 1 && h.count("w", 1) == 1 {
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
	run(t, l, h)
	if string(answer) != "pong" || server == nil {
		t.Fatalf("ping-pong over %s: client got %q", addr, answer)
	}
	for _, s := range []Socket{server, client} {
		if err := l.Deregister(s); err != nil {
			t.Fatal(err)
		}
	}
	return server
}

// IPv6 loopback through the loop: Connect, Listen, Accept, data both ways,
// and every address names ::1.
func TestIPv6LoopbackThroughLoop(t *testing.T) {
	ip := ipv6Loopback(t) // skips with the reason where ::1 is missing
	checkNoFdLeaks(t)
	acc, addr := boundTCP(t, ip)
	client := newTCPSocket4or6(t, ip)
	server := pingPong(t, acc, addr, client)
	cl, _ := client.LocalAddr()
	sp, _ := server.PeerAddr()
	cp, _ := client.PeerAddr()
	if ap, _ := cl.AddrPort(); ap.Addr() != ip || sp != cl || cp != addr {
		t.Fatalf("client %s -> %s, server sees %s; want ::1 on both ends", cl, cp, sp)
	}
}
