package mio

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"
)

// A Linux abstract Unix name through the loop's Listen and Connect: data
// flows, the acceptor and both ends name the abstract address, no file
// appears, a second Bind of the name while it is listened on gives
// EADDRINUSE, and once the acceptor is closed the name is gone.
func TestAbstractUnixStreamThroughLoop(t *testing.T) {
	checkNoFdLeaks(t)
	name := fmt.Sprintf("@mio-rel-%d-%d", os.Getpid(), time.Now().UnixNano())
	addr := UnixAddr(name)
	acc := abstractStream(t, name)
	if _, err := os.Lstat(name); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an abstract name made a file %q (%v)", name, err)
	}
	other, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if got, err := other.Bind(addr); !errors.Is(err, syscall.EADDRINUSE) {
		if got != nil {
			got.Close()
		}
		t.Fatalf("second Bind of the abstract name %s: %v; want EADDRINUSE", addr, err)
	}
	// The name is gone once the acceptor is closed.
	if err := acc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := other.startConnect(addr); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("connect to %s after its acceptor closed: %v, want ECONNREFUSED", addr, err)
	}
}

// relAbstractStream listens on the abstract name through the loop, connects
// a client and checks that both ends report the whole name.
func abstractStream(t *testing.T, name string) *UnixAcceptor {
	t.Helper()
	addr := UnixAddr(name)
	s, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	acc, err := s.Bind(addr)
	if err != nil {
		t.Fatalf("Bind(%s): %v", addr, err)
	}
	t.Cleanup(func() { acc.Close() })
	if la, err := acc.LocalAddr(); err != nil || la != addr {
		t.Fatalf("acceptor LocalAddr = %q, %v; want %q", la.Path(), err, name)
	}
	client, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server := pingPong(t, acc, addr, client)
	if pa, err := client.PeerAddr(); err != nil || pa != addr {
		t.Fatalf("client PeerAddr = %q, %v; want %q", pa.Path(), err, name)
	}
	if la, err := server.LocalAddr(); err != nil || la != addr {
		t.Fatalf("accepted LocalAddr = %q, %v; want %q", la.Path(), err, name)
	}
	return acc
}

// Issue 12, item 9, for streams: a listener at "@name\x00x" is reached by
// its whole name, not by "@name" (which another listener holds here), and
// getsockname and getpeername report it whole.
func TestAbstractUnixStreamNameWithNUL(t *testing.T) {
	checkNoFdLeaks(t)
	base := fmt.Sprintf("@mio-rel-nul-%d", os.Getpid())
	s, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	decoy, err := s.Bind(UnixAddr(base))
	if err != nil {
		t.Fatal(err)
	}
	defer decoy.Close()
	if err := decoy.listen(4); err != nil {
		t.Fatal(err)
	}
	abstractStream(t, base+"\x00x")
	if c, err := decoy.Accept(); err != ErrWouldBlock {
		if c != nil {
			c.Close()
		}
		t.Fatalf("the listener at %s got a connection (%v)", base, err)
	}
}

// Issue 12, item 10, for streams: a 107-byte abstract name.
func TestAbstractUnixStreamName107(t *testing.T) {
	checkNoFdLeaks(t)
	abstractStream(t, abstractName107("rel"))
}
