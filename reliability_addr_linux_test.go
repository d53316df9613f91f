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
// flows, both ends name the abstract address, no file appears, and a
// second Bind of the name while it is listened on gives EADDRINUSE.
func TestRelAbstractUnixThroughLoop(t *testing.T) {
	relNoLeaks(t)
	name := fmt.Sprintf("@mio-rel-%d-%d", os.Getpid(), time.Now().UnixNano())
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
	defer acc.Close()
	client, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server := relPingPong(t, acc, func() (Socket, error) { return acc.Accept() }, addr, client)
	if pa, err := client.PeerAddr(); err != nil || pa != addr {
		t.Fatalf("client PeerAddr = %s, %v; want %s", pa, err, addr)
	}
	if la, err := server.LocalAddr(); err != nil || la != addr {
		t.Fatalf("accepted LocalAddr = %s, %v; want %s", la, err, addr)
	}
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
}
