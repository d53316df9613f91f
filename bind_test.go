//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
)

// Bind and NewSocketFor pick the kind of socket from the address's family.
func TestBindPicksTheKindFromTheAddress(t *testing.T) {
	v6 := InetAddr(ipv6Loopback(t), 0)
	for _, tc := range []struct {
		addr SockAddr
		want string
	}{
		{InetAddr(loopback4, 0), "*mio.TCPAcceptor"},
		{v6, "*mio.TCPAcceptor"},
		{UnixAddr(filepath.Join(t.TempDir(), "b.sock")), "*mio.UnixAcceptor"},
	} {
		acc, err := Bind(tc.addr)
		if err != nil {
			t.Fatalf("Bind(%s): %v", tc.addr, err)
		}
		t.Cleanup(func() { acc.Close() })
		if err := acc.listen(0); err != nil {
			t.Fatal(err)
		}
		if got := typeName(acc); got != tc.want {
			t.Errorf("Bind(%s) = %s, want %s", tc.addr, got, tc.want)
		}
		local, err := acc.LocalAddr()
		if err != nil {
			t.Fatal(err)
		}
		if local.IsUnix() != tc.addr.IsUnix() || local.IsInet() && !sameFamily(local, tc.addr) {
			t.Errorf("Bind(%s) bound %s", tc.addr, local)
		}
		sock, err := NewSocketFor(local)
		if err != nil {
			t.Fatalf("NewSocketFor(%s): %v", local, err)
		}
		connectNow(t, sock, local)
		sock.Close()
	}
	for _, f := range []func() error{
		func() error { _, err := Bind(SockAddr{}); return err },
		func() error { _, err := NewSocketFor(SockAddr{}); return err },
	} {
		if err := f(); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("the zero SockAddr: %v, want EINVAL", err)
		}
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *TCPAcceptor:
		return "*mio.TCPAcceptor"
	case *UnixAcceptor:
		return "*mio.UnixAcceptor"
	}
	return "other"
}

func sameFamily(a, b SockAddr) bool {
	x, _ := a.AddrPort()
	y, _ := b.AddrPort()
	return x.Addr().Is4() == y.Addr().Is4()
}

// ReusePort lets a second acceptor bind the port the first holds; without
// it the second fails with EADDRINUSE.
func TestListenConfigReusePort(t *testing.T) {
	for _, reuse := range []bool{false, true} {
		lc := ListenConfig{ReusePort: reuse}
		first, err := lc.Bind(InetAddr(loopback4, 0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { first.Close() })
		if err := first.listen(0); err != nil {
			t.Fatal(err)
		}
		addr, err := first.LocalAddr()
		if err != nil {
			t.Fatal(err)
		}
		second, err := lc.Bind(addr)
		if reuse && err != nil {
			t.Fatalf("ReusePort: second Bind: %v", err)
		}
		if !reuse && !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatalf("no ReusePort: second Bind: %v, want EADDRINUSE", err)
		}
		if second != nil {
			second.Close()
		}
	}
}

// The buffer sizes are set before bind, so accepted connections inherit
// them.
func TestListenConfigBuffers(t *testing.T) {
	lc := ListenConfig{RecvBuffer: 64 << 10, SendBuffer: 96 << 10}
	acc, err := lc.Bind(InetAddr(loopback4, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acc.Close() })
	tcp := acc.(*TCPAcceptor)
	if err := tcp.listen(0); err != nil {
		t.Fatal(err)
	}
	addr, _ := tcp.LocalAddr()
	c := newTCPSocket4or6(t, loopback4)
	connectNow(t, c, addr)
	s := acceptOne(t, tcp.Fd(), tcp.AcceptTCP)
	for _, o := range []struct {
		name      string
		opt, want int
	}{{"SO_RCVBUF", syscall.SO_RCVBUF, lc.RecvBuffer}, {"SO_SNDBUF", syscall.SO_SNDBUF, lc.SendBuffer}} {
		got, err := syscall.GetsockoptInt(s.Fd(), syscall.SOL_SOCKET, o.opt)
		if err != nil {
			t.Fatal(err)
		}
		// Linux doubles the value for its bookkeeping; the BSDs keep it.
		if got < o.want {
			t.Errorf("accepted connection's %s = %d, want at least %d", o.name, got, o.want)
		}
	}
}
