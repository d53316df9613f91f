//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"errors"
	"os"
	"testing"
)

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
	acc, addr := unixListener(t)
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
