package mio

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Abstract names on Linux, end to end (issue 12, items 9 and 10). A Unix
// datagram is queued at the receiver when the send returns, so each
// receive below follows its send with nothing to wait for.

// ugramAbstract opens a datagram socket bound to the abstract name, closed
// at the end of the test.
func ugramAbstract(t *testing.T, name string) *UnixDatagram {
	t.Helper()
	u := ugramUnbound(t)
	if err := u.Bind(UnixAddr(name)); err != nil {
		t.Fatalf("Bind(%s): %v", UnixAddr(name), err)
	}
	return u
}

// ugramExpect receives one datagram on u and checks its text and sender.
func ugramExpect(t *testing.T, u *UnixDatagram, text string, from SockAddr) {
	t.Helper()
	buf := make([]byte, 64)
	n, got, err := u.RecvFrom(buf)
	if err != nil || string(buf[:n]) != text {
		t.Fatalf("RecvFrom = %q, %v; want %q", buf[:n], err, text)
	}
	if got != from {
		t.Fatalf("sender reported as %s (%q), want %s (%q)", got, got.Path(), from, from.Path())
	}
}

// ugramNothing checks that nothing is queued at u.
func ugramNothing(t *testing.T, u *UnixDatagram, who string) {
	t.Helper()
	buf := make([]byte, 64)
	if n, from, err := u.RecvFrom(buf); err != ErrWouldBlock {
		t.Fatalf("%s received %q from %s (%v); it was not sent anything", who, buf[:n], from, err)
	}
}

// Item 9: "@base" and "@base\x00x" are two sockets. A datagram from the
// second is reported as coming from it, whole, and the reply reaches it and
// not the first; LocalAddr, PeerAddr and the text form keep the whole name.
func TestUnixDatagramAbstractNameWithNUL(t *testing.T) {
	checkNoFdLeaks(t)
	base := "@mio-nul-" + strconv.Itoa(os.Getpid())
	server := ugramAbstract(t, base+"-server")
	short := ugramAbstract(t, base)
	long := UnixAddr(base + "\x00x")
	sender := ugramAbstract(t, long.Path())
	if a := udpLocal(t, sender); a != long {
		t.Fatalf("LocalAddr = %q, want %q", a.Path(), long.Path())
	}
	if n, err := sender.SendTo([]byte("hi"), udpLocal(t, server)); n != 2 || err != nil {
		t.Fatalf("SendTo = %d, %v", n, err)
	}
	ugramExpect(t, server, "hi", long)
	if n, err := server.SendTo([]byte("reply"), long); n != 5 || err != nil {
		t.Fatalf("SendTo %s = %d, %v", long, n, err)
	}
	ugramExpect(t, sender, "reply", udpLocal(t, server))
	ugramNothing(t, short, "the socket at "+base)

	// Connect to the name, and its text form.
	c := ugramUnbound(t)
	if err := c.Connect(long); err != nil {
		t.Fatalf("Connect(%s): %v", long, err)
	}
	if pa, err := c.PeerAddr(); err != nil || pa != long {
		t.Fatalf("PeerAddr = %q, %v; want %q", pa.Path(), err, long.Path())
	}
	if _, err := c.Send([]byte("via connect")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, err := sender.Recv(buf); err != nil || string(buf[:n]) != "via connect" {
		t.Fatalf("Recv = %q, %v", buf[:n], err)
	}
	ugramNothing(t, short, "the socket at "+base)
	if s := long.String(); s != "unix:"+base+`\x00x` {
		t.Errorf("String() = %q, want the NUL escaped", s)
	}
	if back, err := ParseSockAddr(long.String()); err != nil || back != long {
		t.Errorf("ParseSockAddr(%q) = %q, %v", long.String(), back.Path(), err)
	}
}

// Item 9 as the issue reports it: a sender that another program bound to
// "@base\x00x" (here through x/sys, which passes the whole name) was
// reported as "@base", and the reply went to the socket there.
func TestUnixDatagramForeignSenderNameWithNUL(t *testing.T) {
	checkNoFdLeaks(t)
	base := "@mio-foreign-" + strconv.Itoa(os.Getpid())
	server := ugramAbstract(t, base+"-server")
	decoy := ugramAbstract(t, base)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: base + "\x00x"}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Sendto(fd, []byte("hi"), 0, &unix.SockaddrUnix{Name: base + "-server"}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, from, err := server.RecvFrom(buf)
	if err != nil || string(buf[:n]) != "hi" {
		t.Fatalf("RecvFrom = %q, %v", buf[:n], err)
	}
	if want := UnixAddr(base + "\x00x"); from != want {
		t.Fatalf("sender reported as %q, want %q", from.Path(), want.Path())
	}
	if _, err := server.SendTo([]byte("reply"), from); err != nil {
		t.Fatal(err)
	}
	ugramNothing(t, decoy, "the socket at "+base)
	if n, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT); err != nil || string(buf[:n]) != "reply" {
		t.Fatalf("the sender got %q, %v; want the reply", buf[:n], err)
	}
}

// A path may not hold a NUL byte: the kernel would end it there, at another
// file. Bind, Connect and SendTo refuse it before the kernel sees it.
func TestUnixDatagramPathWithNULRefused(t *testing.T) {
	checkNoFdLeaks(t)
	u := ugramUnbound(t)
	bad := UnixAddr(t.TempDir() + "/a\x00b")
	check := func(op string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "NUL") {
			t.Errorf("%s to a path with a NUL byte: %v, want an error about the NUL", op, err)
		}
	}
	check("Bind", u.Bind(bad))
	check("Connect", u.Connect(bad))
	_, err := u.SendTo([]byte("x"), bad)
	check("SendTo", err)
}

// abstractName107 is an abstract name of the full 107 bytes, unique to this
// process and tag.
func abstractName107(tag string) string {
	p := "@mio-" + tag + "-" + strconv.Itoa(os.Getpid()) + "-"
	return p + strings.Repeat("z", len(unix.RawSockaddrUnix{}.Path)-1-(len(p)-1))
}

// Item 10: 107-byte abstract names bind, connect, send and receive, and the
// sender's is reported whole; 108 bytes are refused with ENAMETOOLONG.
func TestUnixDatagramAbstractName107(t *testing.T) {
	checkNoFdLeaks(t)
	srvName, cliName := abstractName107("s"), abstractName107("c")
	if len(srvName) != 108 || len(cliName) != 108 {
		t.Fatalf("test names are %d and %d bytes, want 1+107", len(srvName), len(cliName))
	}
	server := ugramAbstract(t, srvName)
	client := ugramAbstract(t, cliName)
	if a := udpLocal(t, server); a != UnixAddr(srvName) {
		t.Fatalf("LocalAddr = %s, want %s", a, UnixAddr(srvName))
	}
	if _, err := client.SendTo([]byte("to"), UnixAddr(srvName)); err != nil {
		t.Fatalf("SendTo a 107-byte name: %v", err)
	}
	ugramExpect(t, server, "to", UnixAddr(cliName))
	if err := client.Connect(UnixAddr(srvName)); err != nil {
		t.Fatalf("Connect to a 107-byte name: %v", err)
	}
	if pa, err := client.PeerAddr(); err != nil || pa != UnixAddr(srvName) {
		t.Fatalf("PeerAddr = %s, %v", pa, err)
	}
	if _, err := client.Send([]byte("connected")); err != nil {
		t.Fatal(err)
	}
	ugramExpect(t, server, "connected", UnixAddr(cliName))
	if _, err := server.SendTo([]byte("back"), UnixAddr(cliName)); err != nil {
		t.Fatalf("reply to the reported sender: %v", err)
	}
	ugramExpect(t, client, "back", UnixAddr(srvName))

	tooLong := UnixAddr(srvName + "z")
	other := ugramUnbound(t)
	for op, err := range map[string]error{
		"Bind":    other.Bind(tooLong),
		"Connect": other.Connect(tooLong),
		"SendTo":  func() error { _, err := other.SendTo([]byte("x"), tooLong); return err }(),
	} {
		if !errors.Is(err, syscall.ENAMETOOLONG) || !strings.Contains(err.Error(), "107 bytes an abstract name may have") {
			t.Errorf("%s to a 108-byte abstract name: %v; want ENAMETOOLONG naming the limit", op, err)
		}
	}
}

// RecvFrom from one sender with an abstract name holding NUL bytes
// allocates nothing per datagram, as for a path.
func TestUnixDatagramRecvFromAbstractNULAllocatesNothing(t *testing.T) {
	checkNoFdLeaks(t)
	base := "@mio-nulalloc-" + strconv.Itoa(os.Getpid())
	rx, tx := ugramAbstract(t, base+"\x00rx"), ugramAbstract(t, base+"\x00tx")
	to, txAddr := UnixAddr(base+"\x00rx"), UnixAddr(base+"\x00tx")
	var out, in [64]byte
	if a := testing.AllocsPerRun(200, func() {
		if n, err := tx.SendTo(out[:], to); n != len(out) || err != nil {
			t.Fatalf("SendTo = %d, %v", n, err)
		}
		if n, from, err := rx.RecvFrom(in[:]); n != len(in) || err != nil || from != txAddr {
			t.Fatalf("RecvFrom = %d from %q, %v", n, from.Path(), err)
		}
	}); a != 0 {
		t.Errorf("SendTo and RecvFrom from the same abstract sender allocate %v times, want 0", a)
	}
}
