// The proxy's connect timeout, tested where the kernel makes a connect
// hang on loopback: Linux drops the SYNs to a listener whose accept queue
// is full.

package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/miogo/mio/examples/internal/servetest"
	"golang.org/x/sys/unix"
)

// fullBackend returns the address of a loopback listener whose accept queue
// is full: it listens with a backlog of 1 and never accepts, and two clients
// fill it. Linux then drops the SYNs of a new connect, which stays in
// progress until its timeout.
func fullBackend(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
	for range 2 { // a backlog of 1 holds two connections on Linux
		c, err := net.DialTimeout("tcp", addr, servetest.Timeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	return addr
}

// A backend that does not answer within -connect-timeout: the proxy closes
// the client, and the backend Conn's error is a timeout.
func TestProxyConnectTimeout(t *testing.T) {
	addr := fullBackend(t)
	cc := newCloseCounter()
	p := startProxy(t, addr, config{connectTimeout: 200 * time.Millisecond, hooks: hooks{closed: cc.closed}})
	start := time.Now()
	c := dial(t, p)
	c.Write([]byte("anyone there?"))
	var buf [64]byte
	n, err := c.Read(buf[:])
	if n != 0 || (err != io.EOF && !isReset(err)) {
		t.Fatalf("client read %d bytes, %v; want the end of stream", n, err)
	}
	// start precedes the proxy's accept, and the loop's timers never fire
	// early: a close sooner means the connect was not waited for.
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("the client was closed after %v, before the connect timeout", waited)
	}
	c.Close()
	cc.wait(t, 2)
	cc.mu.Lock()
	defer cc.mu.Unlock()
	timedOut := false
	for _, err := range cc.errs {
		timedOut = timedOut || errors.Is(err, os.ErrDeadlineExceeded)
	}
	if !timedOut {
		t.Fatalf("no Conn closed with a timeout error: %v", cc.errs)
	}
}
