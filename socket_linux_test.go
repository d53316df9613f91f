package mio

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"
)

// Abstract Unix names exist only on Linux: no file is made, and the name is
// gone once the acceptor is closed.
func TestUnixAbstractBindConnect(t *testing.T) {
	name := fmt.Sprintf("@mio-test-%d-%d", os.Getpid(), time.Now().UnixNano())
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
	if la, err := acc.LocalAddr(); err != nil || la != addr {
		t.Fatalf("LocalAddr = %s, %v; want %s", la, err, addr)
	}
	if err := acc.listen(16); err != nil {
		t.Fatal(err)
	}
	client, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	connectNow(t, client, addr)
	server := acceptOne(t, acc.Fd(), acc.Accept)
	if pa, err := client.PeerAddr(); err != nil || pa != addr {
		t.Fatalf("client PeerAddr = %s, %v; want %s", pa, err, addr)
	}
	msg := []byte("abstract")
	if got := transferThenEOF(t, client, client.Fd(), client.Close, server, server.Fd(), msg); !bytes.Equal(got, msg) {
		t.Fatalf("read %q, want %q", got, msg)
	}
	if _, err := os.Lstat(name); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an abstract Bind made a file %q (%v)", name, err)
	}
	if err := acc.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if _, err := again.startConnect(addr); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("connect to %s after its acceptor closed: %v, want ECONNREFUSED", addr, err)
	}
}
