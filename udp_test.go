//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// udpDgram is what the echo and truncation helpers need of UDPSocket and
// UnixDatagram alike.
type udpDgram interface {
	Evented
	SendTo(p []byte, addr SockAddr) (int, error)
	RecvFrom(p []byte) (int, SockAddr, error)
	LocalAddr() (SockAddr, error)
	Close() error
}

var udpLoopback4 = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// udpZeroAllocPath is whether RecvFrom and SendTo promise no allocation
// here: the systems whose datagram path makes its own system calls.
var udpZeroAllocPath = (runtime.GOOS == "linux" && runtime.GOARCH != "386" && runtime.GOARCH != "s390x") ||
	runtime.GOOS == "freebsd" || runtime.GOOS == "netbsd" || runtime.GOOS == "dragonfly"

// udpNew opens a UDP socket bound to ip:0, closed at the end of the test.
func udpNew(t testing.TB, ip netip.Addr) *UDPSocket {
	t.Helper()
	newSock := NewUDPSocketV4
	if ip.Is6() {
		newSock = NewUDPSocketV6
	}
	s, err := newSock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Bind(InetAddr(ip, 0)); err != nil {
		t.Fatal(err)
	}
	return s
}

// udpLoopback6 returns ::1, or skips the test where an IPv6 UDP socket
// cannot be opened or bound to it.
func udpLoopback6(t testing.TB) netip.Addr {
	t.Helper()
	s, err := NewUDPSocketV6()
	if err != nil {
		t.Skipf("no IPv6 UDP sockets on this machine: %v", err)
	}
	defer s.Close()
	if err := s.Bind(InetAddr(netip.IPv6Loopback(), 0)); err != nil {
		t.Skipf("cannot bind UDP to [::1] on this machine: %v", err)
	}
	return netip.IPv6Loopback()
}

func udpLocal(t testing.TB, s interface{ LocalAddr() (SockAddr, error) }) SockAddr {
	t.Helper()
	a, err := s.LocalAddr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// udpWaitReadable waits, bounded, until fd has something to read: loopback
// UDP delivery may finish after sendto has returned.
func udpWaitReadable(t testing.TB, fd int) {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	deadline := time.Now().Add(pending)
	for {
		n, err := unix.Poll(fds, int(time.Until(deadline).Milliseconds())+1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fd %d not readable after %v", fd, pending)
		}
	}
}

// udpCheckFlags fails unless fd is non-blocking and close-on-exec.
func udpCheckFlags(t *testing.T, what string, fd int) {
	t.Helper()
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK == 0 {
		t.Errorf("%s: fd %d not non-blocking (F_GETFL %#x, %v)", what, fd, fl, err)
	}
	fd2, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil || fd2&unix.FD_CLOEXEC == 0 {
		t.Errorf("%s: fd %d not close-on-exec (F_GETFD %#x, %v)", what, fd, fd2, err)
	}
}

func TestUDPSocketsAreNonblockingAndCloseOnExec(t *testing.T) {
	udpCheckFlags(t, "NewUDPSocketV4", udpNew(t, udpLoopback4).Fd())
	if s, err := NewUDPSocketV6(); err == nil {
		udpCheckFlags(t, "NewUDPSocketV6", s.Fd())
		s.Close()
	}
	u, err := NewUnixDatagram()
	if err != nil {
		t.Fatal(err)
	}
	udpCheckFlags(t, "NewUnixDatagram", u.Fd())
	u.Close()
	a, b, err := UnixDatagramPair()
	if err != nil {
		t.Fatal(err)
	}
	udpCheckFlags(t, "UnixDatagramPair a", a.Fd())
	udpCheckFlags(t, "UnixDatagramPair b", b.Fd())
	a.Close()
	b.Close()
}

// Echo through the loop.

// udpEchoWindow bounds the datagrams each client has in flight: a Unix
// datagram receiver queues only a few (10 by default on Linux) before
// senders get ErrWouldBlock, and UDP may drop what overflows a buffer.
const (
	udpEchoWindow = 3
	udpEchoCount  = 40
)

type udpEchoClient struct {
	sock     udpDgram
	sent     int
	replies  int
	inFlight map[string]bool
}

// udpEchoHandler runs a connectionless echo: the server (token 0) answers
// each datagram to its source; each client (token i+1) checks the replies.
type udpEchoHandler struct {
	NopHandler[int]
	t          *testing.T
	server     udpDgram
	serverAddr SockAddr
	clients    []*udpEchoClient
	// drain makes every callback read until ErrWouldBlock, as Edge needs;
	// without it a callback reads one datagram, so the rest are answered
	// only if Level reports the socket again.
	drain        bool
	serverCalls  int
	echoed, done int
	buf          [2048]byte
}

func (h *udpEchoHandler) Readable(l *EventLoop[int], tok Token, hint ReadHint) {
	if hint&DataHint == 0 {
		h.t.Errorf("token %d: Readable with hint %v and no DataHint", tok, hint)
	}
	for {
		var more bool
		if tok == 0 {
			h.serverCalls++
			more = h.serve()
		} else {
			more = h.receive(l, h.clients[tok-1])
		}
		if !more || !h.drain {
			return
		}
	}
}

func (h *udpEchoHandler) serve() bool {
	n, from, err := h.server.RecvFrom(h.buf[:])
	if err == ErrWouldBlock {
		return false
	}
	if err != nil {
		h.t.Fatalf("server RecvFrom: %v", err)
	}
	if m, err := h.server.SendTo(h.buf[:n], from); m != n || err != nil {
		h.t.Fatalf("server SendTo %s = %d, %v; want %d, nil", from, m, err, n)
	}
	h.echoed++
	return true
}

func (h *udpEchoHandler) receive(l *EventLoop[int], c *udpEchoClient) bool {
	n, from, err := c.sock.RecvFrom(h.buf[:])
	if err == ErrWouldBlock {
		return false
	}
	if err != nil {
		h.t.Fatalf("client RecvFrom: %v", err)
	}
	if from != h.serverAddr {
		h.t.Errorf("reply came from %s, want the server's LocalAddr %s", from, h.serverAddr)
	}
	msg := string(h.buf[:n])
	if !c.inFlight[msg] {
		h.t.Fatalf("reply %q was not sent or came twice", msg)
	}
	delete(c.inFlight, msg)
	c.replies++
	if c.replies == udpEchoCount {
		h.done++
		if h.done == len(h.clients) {
			l.Shutdown()
		}
	}
	h.send(c)
	return true
}

// send tops c's window up.
func (h *udpEchoHandler) send(c *udpEchoClient) {
	for c.sent < udpEchoCount && len(c.inFlight) < udpEchoWindow {
		local := udpLocal(h.t, c.sock)
		msg := fmt.Sprintf("%s says %d: %s", local, c.sent, bytes.Repeat([]byte{'x'}, c.sent*7))
		if n, err := c.sock.SendTo([]byte(msg), h.serverAddr); n != len(msg) || err != nil {
			h.t.Fatalf("client SendTo = %d, %v; want %d, nil", n, err, len(msg))
		}
		c.inFlight[msg] = true
		c.sent++
	}
}

// udpRunEcho echoes udpEchoCount datagrams per client through server, all
// registered with one loop with opt, and checks every reply and its source.
func udpRunEcho(t *testing.T, server udpDgram, clients []udpDgram, opt PollOpt) {
	l := newLoop(t)
	h := &udpEchoHandler{t: t, server: server, serverAddr: udpLocal(t, server), drain: opt&Edge != 0}
	if err := l.Register(server, 0, Readable, opt); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		ec := &udpEchoClient{sock: c, inFlight: map[string]bool{}}
		h.clients = append(h.clients, ec)
		if err := l.Register(c, Token(i+1), Readable, opt); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range h.clients {
		h.send(c)
	}
	// Shutdown is safe from any goroutine; this bounds a run that stalls.
	timer := time.AfterFunc(4*pending, l.Shutdown)
	defer timer.Stop()
	if err := l.Run(h); err != nil {
		t.Fatal(err)
	}
	if h.done != len(clients) {
		t.Fatalf("echo stalled for %v: %d of %d clients done, %d datagrams echoed", 4*pending, h.done, len(clients), h.echoed)
	}
	if want := udpEchoCount * len(clients); h.echoed != want {
		t.Errorf("server echoed %d datagrams, want %d", h.echoed, want)
	}
	if h.serverCalls == 0 {
		t.Error("server never called")
	}
}

func udpEcho(t *testing.T, ip netip.Addr, opt PollOpt) {
	server := udpNew(t, ip)
	var clients []udpDgram
	for range 3 {
		clients = append(clients, udpNew(t, ip))
	}
	udpRunEcho(t, server, clients, opt)
}

func TestUDPEchoThroughLoopLevel(t *testing.T) { udpEcho(t, udpLoopback4, Level) }

func TestUDPEchoThroughLoopEdge(t *testing.T) { udpEcho(t, udpLoopback4, Edge) }

func TestUDPEchoThroughLoopIPv6(t *testing.T) {
	ip := udpLoopback6(t)
	t.Run("Level", func(t *testing.T) { udpEcho(t, ip, Level) })
	t.Run("Edge", func(t *testing.T) { udpEcho(t, ip, Edge) })
}

// Addresses.

// RecvFrom names the true source of each datagram, and a reply goes back to
// exactly that socket.
func TestUDPSourceAddressChecked(t *testing.T) {
	server := udpNew(t, udpLoopback4)
	a, b := udpNew(t, udpLoopback4), udpNew(t, udpLoopback4)
	srv := udpLocal(t, server)
	for _, c := range []*UDPSocket{a, b} {
		msg := []byte(udpLocal(t, c).String())
		if n, err := c.SendTo(msg, srv); n != len(msg) || err != nil {
			t.Fatalf("SendTo = %d, %v", n, err)
		}
		udpWaitReadable(t, server.Fd())
		var buf [64]byte
		n, from, err := server.RecvFrom(buf[:])
		if err != nil {
			t.Fatal(err)
		}
		if want := udpLocal(t, c); from != want || string(buf[:n]) != want.String() {
			t.Fatalf("RecvFrom = %q from %s; want %q from %s", buf[:n], from, want, want)
		}
		if _, err := server.SendTo([]byte("back"), from); err != nil {
			t.Fatal(err)
		}
		udpWaitReadable(t, c.Fd())
		if n, got, err := c.RecvFrom(buf[:]); err != nil || string(buf[:n]) != "back" || got != srv {
			t.Fatalf("reply = %q from %s, %v; want \"back\" from %s", buf[:n], got, err, srv)
		}
	}
	if _, _, err := a.RecvFrom(make([]byte, 8)); err != ErrWouldBlock {
		t.Fatalf("RecvFrom with nothing queued: %v, want ErrWouldBlock", err)
	}
}

func TestUDPConnectedSendRecv(t *testing.T) {
	a, b, stranger := udpNew(t, udpLoopback4), udpNew(t, udpLoopback4), udpNew(t, udpLoopback4)
	aAddr, bAddr := udpLocal(t, a), udpLocal(t, b)
	if _, err := a.PeerAddr(); !errors.Is(err, unix.ENOTCONN) {
		t.Fatalf("PeerAddr before Connect: %v, want ENOTCONN", err)
	}
	if _, err := a.Send([]byte("x")); err == nil {
		t.Fatal("Send without a peer succeeded")
	}
	if err := a.Connect(bAddr); err != nil {
		t.Fatal(err)
	}
	if err := b.Connect(aAddr); err != nil {
		t.Fatal(err)
	}
	if p, err := a.PeerAddr(); err != nil || p != bAddr {
		t.Fatalf("PeerAddr = %s, %v; want %s", p, err, bAddr)
	}
	// A connected socket hears only its peer: the stranger's datagram,
	// sent first, is dropped by the kernel.
	if _, err := stranger.SendTo([]byte("stranger"), bAddr); err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"one", "two", ""} {
		if n, err := a.Send([]byte(msg)); n != len(msg) || err != nil {
			t.Fatalf("Send(%q) = %d, %v", msg, n, err)
		}
	}
	var buf [64]byte
	for _, want := range []string{"one", "two", ""} {
		udpWaitReadable(t, b.Fd())
		n, err := b.Recv(buf[:])
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("Recv = %q, %v; want %q (the empty datagram is data, not an end)", buf[:n], err, want)
		}
	}
	if n, err := b.Recv(buf[:]); err != ErrWouldBlock {
		t.Fatalf("Recv after the peer's datagrams = %q, %v; want ErrWouldBlock (stranger filtered)", buf[:n], err)
	}
	// And back the other way, checking the source.
	if _, err := b.Send([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	udpWaitReadable(t, a.Fd())
	if n, from, err := a.RecvFrom(buf[:]); err != nil || string(buf[:n]) != "reply" || from != bAddr {
		t.Fatalf("RecvFrom = %q from %s, %v; want \"reply\" from %s", buf[:n], from, err, bAddr)
	}
}

// A connected UDP socket learns from ICMP port unreachable that nobody
// listens: the loop reports an error event, and Recv returns ECONNREFUSED,
// wrapped with the operation.
func TestUDPConnectedRefusedReported(t *testing.T) {
	gone := udpNew(t, udpLoopback4)
	dead := udpLocal(t, gone)
	gone.Close()
	s := udpNew(t, udpLoopback4)
	if err := s.Connect(dead); err != nil {
		t.Fatal(err)
	}
	l := newLoop(t)
	var hints ReadHint
	r := &recorder{onReadable: func(_ *EventLoop[int], _ Token, h ReadHint) { hints |= h }}
	if err := l.Register(s, 7, Readable, Level); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send([]byte("anyone?")); err != nil {
		t.Fatal(err)
	}
	runOnce(t, l, r, pending)
	if r.count("r", 7) == 0 {
		t.Fatalf("no Readable within %v after sending to a closed port", pending)
	}
	if hints&ErrorHint == 0 {
		t.Errorf("Readable hint %v, want ErrorHint for the ICMP error", hints)
	}
	_, err := s.Recv(make([]byte, 16))
	if !errors.Is(err, unix.ECONNREFUSED) {
		t.Fatalf("Recv = %v, want ECONNREFUSED", err)
	}
	if err.Error() != "mio: recv: connection refused" {
		t.Fatalf("Recv error %#v is not wrapped with the operation", err)
	}
	if _, err := s.Recv(make([]byte, 16)); err != ErrWouldBlock {
		t.Fatalf("second Recv = %v, want ErrWouldBlock (the error is reported once)", err)
	}
}

// Truncation.

// udpCheckTruncation sends a 100-byte datagram and then a small one, and
// receives the first into 10 bytes.
func udpCheckTruncation(t *testing.T, rx udpDgram, send func([]byte) error, wantFrom SockAddr) {
	t.Helper()
	big := randomBytes(100, 9)
	if err := send(big); err != nil {
		t.Fatal(err)
	}
	if err := send([]byte("next")); err != nil {
		t.Fatal(err)
	}
	udpWaitReadable(t, rx.Fd())
	small := make([]byte, 10)
	n, from, err := rx.RecvFrom(small)
	if err != ErrTruncated || !errors.Is(err, ErrTruncated) {
		t.Fatalf("RecvFrom of 100 bytes into 10 = %d, %v; want ErrTruncated", n, err)
	}
	if n != 10 || !bytes.Equal(small, big[:10]) {
		t.Fatalf("truncated RecvFrom = %d, % x; want 10 and the first 10 bytes", n, small[:n])
	}
	if from != wantFrom {
		t.Errorf("truncated RecvFrom source %s, want %s", from, wantFrom)
	}
	udpWaitReadable(t, rx.Fd())
	buf := make([]byte, 200)
	if n, _, err := rx.RecvFrom(buf); err != nil || string(buf[:n]) != "next" {
		t.Fatalf("next RecvFrom = %q, %v; want \"next\" intact", buf[:n], err)
	}
	// An empty buffer still consumes a datagram, and reports it cut.
	if err := send([]byte("x")); err != nil {
		t.Fatal(err)
	}
	udpWaitReadable(t, rx.Fd())
	if n, _, err := rx.RecvFrom(nil); n != 0 || err != ErrTruncated {
		t.Fatalf("RecvFrom(nil) of a 1-byte datagram = %d, %v; want 0, ErrTruncated", n, err)
	}
	if _, _, err := rx.RecvFrom(buf); err != ErrWouldBlock {
		t.Fatalf("RecvFrom after everything was read: %v, want ErrWouldBlock", err)
	}
}

func TestUDPTruncatedDatagramReported(t *testing.T) {
	rx, tx := udpNew(t, udpLoopback4), udpNew(t, udpLoopback4)
	to := udpLocal(t, rx)
	udpCheckTruncation(t, rx, func(p []byte) error { _, err := tx.SendTo(p, to); return err }, udpLocal(t, tx))

	// Recv on a connected socket reports it the same way.
	if err := rx.Connect(udpLocal(t, tx)); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.SendTo(make([]byte, 50), to); err != nil {
		t.Fatal(err)
	}
	udpWaitReadable(t, rx.Fd())
	if n, err := rx.Recv(make([]byte, 49)); n != 49 || err != ErrTruncated {
		t.Fatalf("Recv of 50 bytes into 49 = %d, %v; want 49, ErrTruncated", n, err)
	}
}

// Options.

func TestUDPOptionsReadBack(t *testing.T) {
	check := func(t *testing.T, s *UDPSocket) {
		for _, on := range []bool{true, false} {
			if err := s.SetBroadcast(on); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Broadcast(); err != nil || got != on {
				t.Errorf("Broadcast after SetBroadcast(%v) = %v, %v", on, got, err)
			}
			if err := s.SetMulticastLoop(on); err != nil {
				t.Fatal(err)
			}
			if got, err := s.MulticastLoop(); err != nil || got != on {
				t.Errorf("MulticastLoop after SetMulticastLoop(%v) = %v, %v", on, got, err)
			}
		}
		for _, ttl := range []int{0, 7, 255} {
			if err := s.SetMulticastTTL(ttl); err != nil {
				t.Fatal(err)
			}
			if got, err := s.MulticastTTL(); err != nil || got != ttl {
				t.Errorf("MulticastTTL after SetMulticastTTL(%d) = %d, %v", ttl, got, err)
			}
		}
		for _, ttl := range []int{1, 42, 255} {
			if err := s.SetTTL(ttl); err != nil {
				t.Fatal(err)
			}
			if got, err := s.TTL(); err != nil || got != ttl {
				t.Errorf("TTL after SetTTL(%d) = %d, %v", ttl, got, err)
			}
		}
		for _, bad := range []int{-1, 256} {
			if err := s.SetMulticastTTL(bad); !errors.Is(err, unix.EINVAL) {
				t.Errorf("SetMulticastTTL(%d) = %v, want EINVAL", bad, err)
			}
		}
		if err := s.SetTTL(0); !errors.Is(err, unix.EINVAL) {
			t.Errorf("SetTTL(0) = %v, want EINVAL", err)
		}
		if err := s.SetMulticastInterface(0); err != nil {
			t.Errorf("SetMulticastInterface(0) = %v", err)
		}
	}
	t.Run("IPv4", func(t *testing.T) { check(t, udpNew(t, udpLoopback4)) })
	t.Run("IPv6", func(t *testing.T) { check(t, udpNew(t, udpLoopback6(t))) })
}

// Bad input is refused with a clear error that errors.Is recognises,
// before the kernel sees it, and a closed socket says so.
func TestUDPRejectsBadInput(t *testing.T) {
	s4 := udpNew(t, udpLoopback4)
	g6 := netip.MustParseAddr("ff15::1")
	g4 := netip.MustParseAddr("239.1.2.3")
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"v6 group on a v4 socket", s4.JoinMulticast(g6, 0), unix.EINVAL},
		{"unicast group", s4.JoinMulticast(udpLoopback4, 0), unix.EINVAL},
		{"invalid group", s4.LeaveMulticast(netip.Addr{}, 0), unix.EINVAL},
		{"negative ifindex", s4.JoinMulticast(g4, -1), unix.EINVAL},
		{"leave a group never joined", s4.LeaveMulticast(g4, 0), unix.EADDRNOTAVAIL},
		{"bind to a v6 address", s4.Bind(InetAddr(netip.IPv6Loopback(), 0)), unix.EAFNOSUPPORT},
		{"connect to a Unix address", s4.Connect(UnixAddr("/tmp/x")), unix.EAFNOSUPPORT},
		{"send to a v6 address", udpErr(s4.SendTo([]byte("x"), InetAddr(netip.IPv6Loopback(), 9))), unix.EAFNOSUPPORT},
		{"send to a v4-mapped address", udpErr(s4.SendTo([]byte("x"), InetAddr(netip.AddrFrom16(udpLoopback4.As16()), 9))), unix.EAFNOSUPPORT},
		{"send to the zero SockAddr", udpErr(s4.SendTo([]byte("x"), SockAddr{})), unix.EAFNOSUPPORT},
		{"negative multicast interface", s4.SetMulticastInterface(-1), unix.EINVAL},
	} {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.err, c.want)
		} else if c.err == c.want {
			t.Errorf("%s: bare %v, want it wrapped with what failed", c.name, c.err)
		}
	}
	if s6, err := NewUDPSocketV6(); err == nil {
		defer s6.Close()
		if err := s6.JoinMulticast(g4, 0); !errors.Is(err, unix.EINVAL) {
			t.Errorf("v4 group on a v6 socket: %v, want EINVAL", err)
		}
		if _, err := s6.SendTo([]byte("x"), InetAddr(udpLoopback4, 9)); !errors.Is(err, unix.EAFNOSUPPORT) {
			t.Errorf("v4 address on a v6 socket: %v, want EAFNOSUPPORT", err)
		}
	}
	s, err := NewUDPSocketV4()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	buf := make([]byte, 8)
	for name, err := range map[string]error{
		"Bind":          s.Bind(InetAddr(udpLoopback4, 0)),
		"Connect":       s.Connect(InetAddr(udpLoopback4, 9)),
		"SendTo":        udpErr(s.SendTo(buf, InetAddr(udpLoopback4, 9))),
		"Send":          udpErr(s.Send(buf)),
		"Recv":          udpErr(s.Recv(buf)),
		"SetBroadcast":  s.SetBroadcast(true),
		"JoinMulticast": s.JoinMulticast(g4, 0),
		"TTL":           udpErr(s.TTL()),
		"Close":         s.Close(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if _, _, err := s.RecvFrom(buf); !errors.Is(err, ErrClosed) {
		t.Errorf("RecvFrom after Close: %v, want ErrClosed", err)
	}
}

func udpErr[T any](_ T, err error) error { return err }

// Multicast.

// udpLoopbackIndex returns the loopback interface's index.
func udpLoopbackIndex(t *testing.T) int {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback != 0 && ifi.Flags&net.FlagUp != 0 {
			return ifi.Index
		}
	}
	t.Skip("no loopback interface is up")
	return 0
}

// udpMulticastLoopback joins group on the loopback interface, sends to it
// from a socket bound to src with loopback on, and receives the datagram.
// Where the kernel refuses a step the test is skipped with its error.
func udpMulticastLoopback(t *testing.T, group, src netip.Addr) {
	lo := udpLoopbackIndex(t)
	rx := udpNewUnbound(t, group.Is6())
	if err := rx.SetReuseAddr(true); err != nil {
		t.Fatal(err)
	}
	// Bound to the group itself, so that nothing but the group's
	// datagrams reaches it.
	if err := rx.Bind(InetAddr(group, 0)); err != nil {
		udpSkipIfRefused(t, "bind to the group "+group.String(), err)
	}
	if err := rx.JoinMulticast(group, lo); err != nil {
		udpSkipIfRefused(t, "join "+group.String()+" on the loopback interface", err)
	}
	tx := udpNew(t, src)
	if err := tx.SetMulticastInterface(lo); err != nil {
		udpSkipIfRefused(t, "send multicast by the loopback interface", err)
	}
	if err := tx.SetMulticastLoop(true); err != nil {
		t.Fatal(err)
	}
	if err := tx.SetMulticastTTL(0); err != nil { // never leave this host
		t.Fatal(err)
	}
	rxAddr := udpLocal(t, rx)
	ap, _ := rxAddr.AddrPort()
	to := InetAddr(group, ap.Port())
	msg := []byte("to the group")
	if n, err := tx.SendTo(msg, to); err != nil {
		udpSkipIfRefused(t, "send to "+to.String()+" by the loopback interface", err)
	} else if n != len(msg) {
		t.Fatalf("SendTo = %d, want %d", n, len(msg))
	}

	l := newLoop(t)
	r := &recorder{}
	if err := l.Register(rx, 1, Readable, Edge); err != nil {
		t.Fatal(err)
	}
	runOnce(t, l, r, pending)
	if r.count("r", 1) == 0 {
		t.Fatalf("the group member saw nothing within %v", pending)
	}
	buf := make([]byte, 64)
	n, from, err := rx.RecvFrom(buf)
	if err != nil || string(buf[:n]) != string(msg) {
		t.Fatalf("RecvFrom = %q, %v; want %q", buf[:n], err, msg)
	}
	if want := udpLocal(t, tx); from != want {
		t.Errorf("multicast datagram came from %s, want the sender %s", from, want)
	}
	if err := rx.LeaveMulticast(group, lo); err != nil {
		t.Fatalf("LeaveMulticast: %v", err)
	}
	if err := rx.LeaveMulticast(group, lo); err == nil {
		t.Fatal("leaving a group twice succeeded: the first leave did nothing")
	}
}

// udpSkipIfRefused skips the test with err as the reason if err is how a
// kernel says that this machine's loopback interface does no multicast (no
// route, no multicast support, not allowed); any other error, such as the
// EINVAL of a malformed request, fails the test.
func udpSkipIfRefused(t *testing.T, what string, err error) {
	t.Helper()
	for _, e := range []error{unix.ENETUNREACH, unix.EHOSTUNREACH, unix.EADDRNOTAVAIL, unix.ENODEV,
		unix.ENXIO, unix.EPERM, unix.EACCES, unix.ENOPROTOOPT, unix.EOPNOTSUPP} {
		if errors.Is(err, e) {
			t.Skipf("the kernel refuses to %s: %v", what, err)
		}
	}
	t.Fatalf("%s: %v", what, err)
}

func udpNewUnbound(t *testing.T, v6 bool) *UDPSocket {
	t.Helper()
	newSock := NewUDPSocketV4
	if v6 {
		newSock = NewUDPSocketV6
	}
	s, err := newSock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// udpGroupByte spreads concurrent runs of the test (several packages, -count)
// over different groups.
func udpGroupByte() byte { return byte(os.Getpid()) }

func TestUDPMulticastLoopbackIPv4(t *testing.T) {
	udpMulticastLoopback(t, netip.AddrFrom4([4]byte{239, 255, 42, udpGroupByte()}), udpLoopback4)
}

func TestUDPMulticastLoopbackIPv6(t *testing.T) {
	src := udpLoopback6(t)
	// Site-local scope (ff15::): a link-local group would need the zone.
	g := netip.AddrFrom16([16]byte{0: 0xff, 1: 0x15, 14: 0x42, 15: udpGroupByte()})
	udpMulticastLoopback(t, g, src)
}

// Allocation.

// udpRecvWait receives one datagram, waiting (bounded) if loopback delivery
// has not finished yet; pfd is preallocated so the wait allocates nothing.
func udpRecvWait(tb testing.TB, s *UDPSocket, p []byte, pfd []unix.PollFd) (int, SockAddr) {
	for {
		n, from, err := s.RecvFrom(p)
		if err == nil {
			return n, from
		}
		if err != ErrWouldBlock {
			tb.Fatalf("RecvFrom: %v", err)
		}
		if k, err := unix.Poll(pfd, int(pending.Milliseconds())); k == 0 && err == nil {
			tb.Fatalf("no datagram within %v", pending)
		}
	}
}

func TestUDPSendToRecvFromAllocateNothing(t *testing.T) {
	rx, tx := udpNew(t, udpLoopback4), udpNew(t, udpLoopback4)
	to, txAddr := udpLocal(t, rx), udpLocal(t, tx)
	if !udpZeroAllocPath {
		t.Skipf("on %s/%s x/sys returns source addresses as heap objects", runtime.GOOS, runtime.GOARCH)
	}
	var out, in [64]byte
	if a := testing.AllocsPerRun(100, func() {
		if _, _, err := rx.RecvFrom(in[:]); err != ErrWouldBlock {
			t.Fatalf("RecvFrom: %v, want ErrWouldBlock", err)
		}
	}); a != 0 {
		t.Errorf("RecvFrom returning ErrWouldBlock allocates %v times", a)
	}
	pfd := []unix.PollFd{{Fd: int32(rx.Fd()), Events: unix.POLLIN}}
	if a := testing.AllocsPerRun(200, func() {
		if n, err := tx.SendTo(out[:], to); n != len(out) || err != nil {
			t.Fatalf("SendTo = %d, %v", n, err)
		}
		if n, from := udpRecvWait(t, rx, in[:], pfd); n != len(in) || from != txAddr {
			t.Fatalf("RecvFrom = %d from %s", n, from)
		}
	}); a != 0 {
		t.Errorf("a 64-byte SendTo and RecvFrom allocate %v times, want 0", a)
	}
	// Connected, and IPv6, the same.
	if err := tx.Connect(to); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(100, func() {
		if _, err := tx.Send(out[:]); err != nil {
			t.Fatal(err)
		}
		udpRecvWait(t, rx, in[:], pfd)
	}); a != 0 {
		t.Errorf("Send and RecvFrom allocate %v times, want 0", a)
	}
	t.Run("IPv6", func(t *testing.T) {
		ip := udpLoopback6(t)
		rx6, tx6 := udpNew(t, ip), udpNew(t, ip)
		to6 := udpLocal(t, rx6)
		pfd6 := []unix.PollFd{{Fd: int32(rx6.Fd()), Events: unix.POLLIN}}
		if a := testing.AllocsPerRun(100, func() {
			if _, err := tx6.SendTo(out[:], to6); err != nil {
				t.Fatal(err)
			}
			udpRecvWait(t, rx6, in[:], pfd6)
		}); a != 0 {
			t.Errorf("IPv6 SendTo and RecvFrom allocate %v times, want 0", a)
		}
	})
}

// BenchmarkUDPSendRecv sends a 64-byte datagram over 127.0.0.1 and
// receives it, per operation.
func BenchmarkUDPSendRecv(b *testing.B) {
	rx, tx := udpNew(b, udpLoopback4), udpNew(b, udpLoopback4)
	to := udpLocal(b, rx)
	pfd := []unix.PollFd{{Fd: int32(rx.Fd()), Events: unix.POLLIN}}
	var out, in [64]byte
	b.ReportAllocs()
	b.SetBytes(int64(len(out)))
	for b.Loop() {
		if _, err := tx.SendTo(out[:], to); err != nil {
			b.Fatal(err)
		}
		udpRecvWait(b, rx, in[:], pfd)
	}
}
