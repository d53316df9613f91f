//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// The loop against peers nobody here wrote: Go's net package as client and
// as server, and socat where it is installed.

// startLoopEchoServer runs an echo server on its own loop goroutine and
// returns its address and a stop function that waits for the loop to end.
func startLoopEchoServer(t *testing.T) (SockAddr, func()) {
	t.Helper()
	srv, err := NewTCPSocketV4()
	if err != nil {
		t.Fatal(err)
	}
	acc, err := srv.Bind(InetAddr(netip.MustParseAddr("127.0.0.1"), 0))
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := acc.LocalAddr()
	l, err := NewEventLoop[int](Config{})
	if err != nil {
		t.Fatal(err)
	}
	setSmallRecvBuffer(t, acc)
	if err := l.Listen(acc, 128, listenerToken); err != nil {
		t.Fatal(err)
	}
	h := &echoHandler{t: t, acc: tcpAcc{acc}, conns: map[Token]*echoConn{}, clients: map[Token]*echoClient{}}
	done := make(chan error, 1)
	go func() { done <- l.Run(h) }()
	return addr, func() {
		l.Shutdown()
		if err := <-done; err != nil {
			t.Error(err)
		}
		for tok := range h.conns {
			h.closeConn(tok)
		}
		acc.Close()
		l.Close()
	}
}

func TestEchoServerWithNetClients(t *testing.T) {
	addr, stop := startLoopEchoServer(t)
	defer stop()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr.String(), 10*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			msg := echoMessages(uint64(100 + i))
			wrote := make(chan error, 1)
			go func() {
				_, err := c.Write(msg)
				c.(*net.TCPConn).CloseWrite()
				wrote <- err
			}()
			got, err := io.ReadAll(c)
			if werr := <-wrote; werr != nil {
				t.Errorf("net client %d write: %v", i, werr)
			}
			if err != nil || !bytes.Equal(got, msg) {
				t.Errorf("net client %d: got %d of %d bytes back intact=%v, err %v", i, len(got), len(msg), bytes.Equal(got, msg), err)
			}
		}()
	}
	wg.Wait()
}

// The loop's clients against a goroutine-per-connection echo server from
// Go's net package.
func TestLoopClientsWithNetServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer func() { ln.Close(); wg.Wait() }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	addr, err := ParseSockAddr(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	l := newLoop(t)
	h := &echoHandler{t: t, conns: map[Token]*echoConn{}, clients: map[Token]*echoClient{}}
	const clients = 4
	for i := range clients {
		sock, err := NewTCPSocketV4()
		if err != nil {
			t.Fatal(err)
		}
		tok := clientBase + Token(i)
		h.clients[tok] = &echoClient{sock: sock, out: echoMessages(uint64(200 + i))}
		if err := l.Connect(sock, addr, tok); err != nil {
			t.Fatal(err)
		}
	}
	l.Timeout(watchdogToken, time.Minute)
	if err := l.Run(h); err != nil {
		t.Fatal(err)
	}
	if h.finished != clients {
		t.Fatalf("%d of %d loop clients finished against the net server", h.finished, clients)
	}
}

// socat, a client nobody here wrote, sends a file's worth of data through
// the loop's echo server and must get it back unchanged.
func TestEchoServerWithSocat(t *testing.T) {
	socat, err := exec.LookPath("socat")
	if err != nil {
		t.Skip("socat is not installed (.ci/run installs it)")
	}
	addr, stop := startLoopEchoServer(t)
	defer stop()
	msg := echoMessages(300)[:1<<20]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// -t bounds how long socat waits for the echo after its input ends.
	cmd := exec.CommandContext(ctx, socat, "-t", "10", "-", "TCP:"+addr.String())
	cmd.Stdin = bytes.NewReader(msg)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("socat: %v", err)
	}
	if !bytes.Equal(out.Bytes(), msg) {
		t.Fatalf("socat got %d of %d bytes back, intact=%v", out.Len(), len(msg), bytes.Equal(out.Bytes(), msg))
	}
}
