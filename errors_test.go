//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// Every failure reads "mio: OP [ADDR]: [WHY: ]CAUSE", and errors.Is still
// finds the cause. The cases are a representative set, one per kind of
// operation; each builds its failure itself, so the test needs no helpers.
func TestErrorShape(t *testing.T) {
	l, err := NewEventLoop[int](Config{})
	mustSetUp(t, err)
	defer l.Close()

	// bind to an address in use: a listening acceptor holds it.
	first, err := NewTCPSocketV4()
	mustSetUp(t, err)
	acc, err := first.Bind(InetAddr(netip.MustParseAddr("127.0.0.1"), 0))
	mustSetUp(t, err)
	defer acc.Close()
	mustSetUp(t, acc.listen(1))
	inUse, err := acc.LocalAddr()
	mustSetUp(t, err)
	second, err := NewTCPSocketV4()
	mustSetUp(t, err)
	defer second.Close()
	_, bindErr := second.Bind(inUse)

	// connect refused at once: a Unix socket bound but not listening.
	dir, err := os.MkdirTemp("", "mio")
	mustSetUp(t, err)
	defer os.RemoveAll(dir)
	path := UnixAddr(filepath.Join(dir, "s"))
	bound, err := NewUnixSocket()
	mustSetUp(t, err)
	unixAcc, err := bound.Bind(path)
	mustSetUp(t, err)
	defer unixAcc.Close()
	client, err := NewUnixSocket()
	mustSetUp(t, err)
	defer client.Close()
	connectErr := l.Connect(client, path, 1)

	// register twice, deregister what is not registered.
	r, w, err := Pipe()
	mustSetUp(t, err)
	defer r.Close()
	defer w.Close()
	mustSetUp(t, l.Register(r, 2, Readable, Level))
	registerErr := l.Register(r, 2, Readable, Level)
	deregisterErr := l.Deregister(w)

	// shutdown with a how that is none of the three.
	shutdownErr := client.Shutdown(ShutdownHow(7))

	// parse error.
	_, parseErr := ParseSockAddr("nowhere")

	// accept on a closed acceptor.
	closedSock, err := NewTCPSocketV4()
	mustSetUp(t, err)
	closedAcc, err := closedSock.Bind(InetAddr(netip.MustParseAddr("127.0.0.1"), 0))
	mustSetUp(t, err)
	mustSetUp(t, closedAcc.Close())
	_, acceptErr := closedAcc.Accept()

	rfd, wfd := strconv.Itoa(r.Fd()), strconv.Itoa(w.Fd())
	tests := []struct {
		name string
		err  error
		text string
		is   error
	}{
		{"bind in use", bindErr, "mio: bind " + inUse.String() + ": address already in use", syscall.EADDRINUSE},
		{"connect refused", connectErr, "mio: connect " + path.String() + ": connection refused", syscall.ECONNREFUSED},
		{"register twice", registerErr, "mio: register fd " + rfd + ": fd is already registered", ErrRegistered},
		{"deregister unknown", deregisterErr, "mio: deregister fd " + wfd + ": fd is not registered", ErrNotRegistered},
		{"shutdown invalid", shutdownErr, "mio: shutdown 7: not ShutRead, ShutWrite or ShutBoth: invalid argument", syscall.EINVAL},
		{"parse", parseErr, `mio: parse socket address "nowhere": want IP:port, [IPv6]:port, unix:/path or unix:@name`, nil},
		{"accept closed", acceptErr, "mio: accept: use of closed network connection", ErrClosed},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		if tt.err.Error() != tt.text {
			t.Errorf("%s: %q, want %q", tt.name, tt.err, tt.text)
		}
		if tt.is != nil && !errors.Is(tt.err, tt.is) {
			t.Errorf("%s: errors.Is(%v, %v) is false", tt.name, tt.err, tt.is)
		}
	}
}

// ErrWouldBlock stays the bare errno, so returning it allocates nothing.
func TestErrWouldBlockBare(t *testing.T) {
	r, w, err := Pipe()
	mustSetUp(t, err)
	defer r.Close()
	defer w.Close()
	buf := make([]byte, 1)
	var rerr error
	allocs := testing.AllocsPerRun(100, func() { _, rerr = r.Read(buf) })
	if rerr != ErrWouldBlock || ErrWouldBlock != error(syscall.EAGAIN) {
		t.Fatalf("Read of an empty pipe: %v, want the bare EAGAIN", rerr)
	}
	if allocs != 0 {
		t.Errorf("Read of an empty pipe allocates %v times", allocs)
	}
}

// mustSetUp ends the test on a failure of its own setting up.
func mustSetUp(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
