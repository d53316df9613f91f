//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// ugramBound opens a Unix datagram socket bound to name in dir, closed at
// the end of the test.
func ugramBound(t testing.TB, dir, name string) *UnixDatagram {
	t.Helper()
	u := ugramUnbound(t)
	if err := u.Bind(UnixAddr(filepath.Join(dir, name))); err != nil {
		t.Fatal(err)
	}
	return u
}

func ugramUnbound(t testing.TB) *UnixDatagram {
	t.Helper()
	u, err := NewUnixDatagram()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

func ugramPair(t testing.TB) (*UnixDatagram, *UnixDatagram) {
	t.Helper()
	a, b, err := UnixDatagramPair()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// Bound server, bound clients: each reply comes from the server's own
// address, and the server learns each client's.
func ugramEcho(t *testing.T, opt PollOpt) {
	dir := t.TempDir()
	server := ugramBound(t, dir, "server")
	var clients []udpDgram
	for i := range 3 {
		clients = append(clients, ugramBound(t, dir, "client"+strconv.Itoa(i)))
	}
	udpRunEcho(t, server, clients, opt)
}

func TestUnixDatagramEchoThroughLoopLevel(t *testing.T) { ugramEcho(t, Level) }

func TestUnixDatagramEchoThroughLoopEdge(t *testing.T) { ugramEcho(t, Edge) }

func TestUnixDatagramEchoAbstract(t *testing.T) {
	if !abstractUnixNames {
		t.Skip("abstract Unix socket names exist only on Linux")
	}
	base := "@mio-ugram-" + strconv.Itoa(os.Getpid()) + "-"
	server := ugramUnbound(t)
	if err := server.Bind(UnixAddr(base + "server")); err != nil {
		t.Fatal(err)
	}
	// An automatic name, as the kernel picks it, must round-trip too.
	auto := ugramUnbound(t)
	if err := auto.Bind(UnixAddr("")); err != nil {
		t.Fatal(err)
	}
	if a := udpLocal(t, auto); !a.IsAbstract() {
		t.Fatalf("autobound LocalAddr = %s, want an abstract name", a)
	}
	named := ugramUnbound(t)
	if err := named.Bind(UnixAddr(base + "client")); err != nil {
		t.Fatal(err)
	}
	udpRunEcho(t, server, []udpDgram{auto, named}, Edge)
}

// An unbound sender reaches the server, which sees the unnamed address and
// so has nowhere to reply.
func TestUnixDatagramUnboundSenderHasNoAddress(t *testing.T) {
	server := ugramBound(t, t.TempDir(), "server")
	client := ugramUnbound(t)
	if n, err := client.SendTo([]byte("hello"), udpLocal(t, server)); n != 5 || err != nil {
		t.Fatalf("SendTo = %d, %v", n, err)
	}
	buf := make([]byte, 16)
	n, from, err := server.RecvFrom(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("RecvFrom = %q, %v", buf[:n], err)
	}
	if from != UnixAddr("") || !from.IsUnix() || from.Path() != "" {
		t.Fatalf("source of an unbound sender = %#v (%s), want the unnamed UnixAddr(\"\")", from, from)
	}
	if _, err := server.SendTo([]byte("reply"), from); !errors.Is(err, unix.EDESTADDRREQ) {
		t.Fatalf("SendTo the unnamed address = %v, want EDESTADDRREQ", err)
	}
}

func TestUnixDatagramPair(t *testing.T) {
	a, b := ugramPair(t)
	buf := make([]byte, 32)
	for _, c := range []struct {
		from, to *UnixDatagram
		msg      string
	}{{a, b, "ping"}, {b, a, "pong"}, {a, b, ""}} {
		if n, err := c.from.Send([]byte(c.msg)); n != len(c.msg) || err != nil {
			t.Fatalf("Send(%q) = %d, %v", c.msg, n, err)
		}
		n, from, err := c.to.RecvFrom(buf)
		if err != nil || string(buf[:n]) != c.msg {
			t.Fatalf("RecvFrom = %q, %v; want %q", buf[:n], err, c.msg)
		}
		if from != UnixAddr("") {
			t.Errorf("source in a socketpair = %s, want the unnamed address", from)
		}
	}
	if _, err := a.Recv(buf); err != ErrWouldBlock {
		t.Fatalf("Recv with nothing queued: %v, want ErrWouldBlock", err)
	}
	// Datagram boundaries hold: two sends are two receives.
	for _, msg := range []string{"one", "two"} {
		if _, err := a.Send([]byte(msg)); err != nil {
			t.Fatalf("Send(%q): %v", msg, err)
		}
	}
	for _, want := range []string{"one", "two"} {
		if n, err := b.Recv(buf); err != nil || string(buf[:n]) != want {
			t.Fatalf("Recv = %q, %v; want %q", buf[:n], err, want)
		}
	}
	// Closing one end makes the other's sends fail, without SIGPIPE.
	a.Close()
	if _, err := b.Send([]byte("x")); err == nil || err == ErrWouldBlock {
		t.Fatalf("Send to a closed peer: %v, want an error", err)
	}
}

func TestUnixDatagramTruncatedDatagramReported(t *testing.T) {
	dir := t.TempDir()
	rx, tx := ugramBound(t, dir, "rx"), ugramBound(t, dir, "tx")
	to := udpLocal(t, rx)
	udpCheckTruncation(t, rx, func(p []byte) error { _, err := tx.SendTo(p, to); return err }, udpLocal(t, tx))
}

func TestUnixDatagramConnect(t *testing.T) {
	dir := t.TempDir()
	server := ugramBound(t, dir, "server")
	client := ugramBound(t, dir, "client")
	srv := udpLocal(t, server)
	if err := client.Connect(srv); err != nil {
		t.Fatal(err)
	}
	if p, err := client.PeerAddr(); err != nil || p != srv {
		t.Fatalf("PeerAddr = %s, %v; want %s", p, err, srv)
	}
	if _, err := client.Send([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if n, from, err := server.RecvFrom(buf); err != nil || string(buf[:n]) != "hi" || from != udpLocal(t, client) {
		t.Fatalf("RecvFrom = %q from %s, %v; want \"hi\" from %s", buf[:n], from, err, udpLocal(t, client))
	}
	lonely := ugramUnbound(t)
	err := lonely.Connect(UnixAddr(filepath.Join(dir, "nobody")))
	if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ECONNREFUSED) {
		t.Fatalf("Connect to a missing socket: %v, want ENOENT or ECONNREFUSED", err)
	}
	if err := lonely.Connect(InetAddr(udpLoopback4, 9)); !errors.Is(err, unix.EAFNOSUPPORT) {
		t.Fatalf("Connect to an IP address: %v, want EAFNOSUPPORT", err)
	}
}

func TestUnixDatagramCloseRemovesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sock")
	u, err := NewUnixDatagram()
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Bind(UnixAddr(path)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("Bind created no file: %v", err)
	}
	other := ugramUnbound(t)
	if err := other.Bind(UnixAddr(path)); !errors.Is(err, unix.EADDRINUSE) {
		t.Fatalf("second Bind to the same path: %v, want EADDRINUSE", err)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("socket file still there after Close: %v", err)
	}
	if err := u.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}
	// The path is free again.
	if err := other.Bind(UnixAddr(path)); err != nil {
		t.Fatalf("Bind after Close: %v", err)
	}
}

// A sender whose peer does not read fills up and gets ErrWouldBlock; it is
// not reported writable until the peer drains, and then it is.
func TestUnixDatagramFullBufferWouldBlockThenWritable(t *testing.T) {
	for _, opt := range []PollOpt{Level, Edge} {
		t.Run(map[PollOpt]string{Level: "Level", Edge: "Edge"}[opt], func(t *testing.T) {
			a, b := ugramPair(t)
			if err := a.SetSendBuffer(4096); err != nil {
				t.Fatal(err)
			}
			msg := make([]byte, 512)
			sent := 0
			for ; ; sent++ {
				if sent > 100000 {
					t.Fatal("no ErrWouldBlock after 100000 datagrams to a peer that does not read")
				}
				n, err := a.Send(msg)
				if err == ErrWouldBlock {
					if n != 0 {
						t.Fatalf("Send with ErrWouldBlock reported %d bytes: a datagram is sent whole or not at all", n)
					}
					break
				}
				if errors.Is(err, unix.ENOBUFS) {
					t.Skipf("this kernel answers a full Unix datagram socket with %v, not EAGAIN", err)
				}
				if err != nil || n != len(msg) {
					t.Fatalf("Send %d = %d, %v", sent, n, err)
				}
			}
			if sent == 0 {
				t.Fatal("the first datagram already would block")
			}
			l := newLoop(t)
			r := &recorder{}
			if err := l.Register(a, 3, Writable, opt); err != nil {
				t.Fatal(err)
			}
			runOnce(t, l, r, 0)
			if r.count("w", 3) != 0 {
				t.Fatal("Writable reported while the socket is full")
			}
			buf := make([]byte, 1024)
			for i := range sent {
				if n, err := b.Recv(buf); err != nil || n != len(msg) {
					t.Fatalf("Recv %d of %d = %d, %v", i, sent, n, err)
				}
			}
			if _, err := b.Recv(buf); err != ErrWouldBlock {
				t.Fatalf("Recv after %d datagrams: %v, want ErrWouldBlock (the one that would block was not sent)", sent, err)
			}
			runOnce(t, l, r, pending)
			if r.count("w", 3) == 0 {
				t.Fatalf("no Writable within %v after the peer drained", pending)
			}
			if n, err := a.Send(msg); n != len(msg) || err != nil {
				t.Fatalf("Send after Writable = %d, %v", n, err)
			}
		})
	}
}

// Receiving from the same bound sender again and again reuses the cached
// path: no allocation per datagram, also for Unix addresses.
func TestUnixDatagramSendToRecvFromAllocateNothing(t *testing.T) {
	if !udpZeroAllocPath {
		t.Skipf("on %s/%s x/sys returns source addresses as heap objects", runtime.GOOS, runtime.GOARCH)
	}
	dir := t.TempDir()
	rx, tx := ugramBound(t, dir, "rx"), ugramBound(t, dir, "tx")
	to, txAddr := udpLocal(t, rx), udpLocal(t, tx)
	var out, in [64]byte
	if a := testing.AllocsPerRun(200, func() {
		if n, err := tx.SendTo(out[:], to); n != len(out) || err != nil {
			t.Fatalf("SendTo = %d, %v", n, err)
		}
		if n, from, err := rx.RecvFrom(in[:]); n != len(in) || err != nil || from != txAddr {
			t.Fatalf("RecvFrom = %d from %s, %v", n, from, err)
		}
	}); a != 0 {
		t.Errorf("a Unix SendTo and RecvFrom from the same sender allocate %v times, want 0", a)
	}
}
