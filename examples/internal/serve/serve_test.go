package serve

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miogo/mio"
)

func TestRoutine(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ECONNRESET, syscall.EPIPE, syscall.ETIMEDOUT} {
		if err := fmt.Errorf("mio: read: %w", errno); !Routine(err) {
			t.Errorf("%v is not routine", err)
		}
	}
	for _, err := range []error{syscall.EBADF, syscall.ENOMEM, errors.New("protocol")} {
		if Routine(err) {
			t.Errorf("%v is routine", err)
		}
	}
}

// A signal stops the server through stop and Run returns run's error; a
// server failing on its own makes Run return at once with its error.
func TestSignalsRun(t *testing.T) {
	var out bytes.Buffer
	lg := log.New(&out, "", 0)
	quit := make(chan struct{})
	s := &Signals{c: make(chan os.Signal, 1)}
	s.c <- syscall.SIGTERM
	errStopped := errors.New("stopped")
	run := func() error { <-quit; return errStopped }
	if err := s.Run(lg, run, func() { close(quit) }); err != errStopped {
		t.Errorf("Run after a signal = %v, want run's error", err)
	}
	if !strings.Contains(out.String(), "terminated: shutting down") {
		t.Errorf("log %q does not name the signal", out.String())
	}

	s = &Signals{c: make(chan os.Signal, 1)}
	errFailed := errors.New("failed")
	stop := func() { t.Error("stop called without a signal") }
	if err := s.Run(lg, func() error { return errFailed }, stop); err != errFailed {
		t.Errorf("Run of a failing server = %v, want its error", err)
	}
}

// Bind gives an acceptor on the address, with the port the kernel chose,
// for TCP and Unix sockets; a bad flag value is an error naming -addr.
func TestBind(t *testing.T) {
	unixPath := filepath.Join(t.TempDir(), "serve.sock")
	for _, addr := range []string{"127.0.0.1:0", "unix:" + unixPath} {
		acc, bound, err := Bind(addr)
		if err != nil {
			t.Fatalf("Bind(%q): %v", addr, err)
		}
		if got, err := acc.LocalAddr(); err != nil || got.String() != bound.String() || strings.HasSuffix(bound.String(), ":0") {
			t.Errorf("Bind(%q) = %v, acceptor on %v (%v)", addr, bound, got, err)
		}
		if err := acc.Close(); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(unixPath); !os.IsNotExist(err) {
		t.Errorf("socket file left behind: %v", err)
	}
	if _, _, err := Bind("127.0.0.1"); err == nil || !strings.HasPrefix(err.Error(), "-addr: ") {
		t.Errorf("Bind without a port: %v, want an -addr error", err)
	}
}

// quiet is a ConnHandler that reads and ignores what comes.
type quiet struct{}

func (quiet) OnOpen(*mio.Conn)         {}
func (quiet) OnData(c *mio.Conn)       { c.In().Discard(c.In().Len()) }
func (quiet) OnDrain(*mio.Conn)        {}
func (quiet) OnClose(*mio.Conn, error) {}

// newTestServer is a one-loop Server listening on loopback.
func newTestServer(t *testing.T) (*mio.Server[struct{}], mio.SockAddr) {
	t.Helper()
	srv, err := mio.NewServer[struct{}](mio.ServerConfig{Loops: 1, Conn: mio.ConnConfig{Linger: time.Second}}, quiet{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Listen(mio.InetAddr(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 0))
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	return srv, addr
}

// A Shutdown before Serve makes Serve return nil at once: there was
// nothing to serve.
func TestServeAfterShutdown(t *testing.T) {
	srv, _ := newTestServer(t)
	var out bytes.Buffer
	Shutdown(srv, time.Second, log.New(&out, "", 0))
	if err := Serve(srv); err != nil {
		t.Errorf("Serve after Shutdown: %v, want nil", err)
	}
	if out.Len() > 0 {
		t.Errorf("a Shutdown with nothing open logged %q", out.String())
	}
}

// A connection still open when the grace ends is closed, the client sees
// the end of the stream, Serve returns nil and the log says so.
func TestShutdownGrace(t *testing.T) {
	srv, addr := newTestServer(t)
	served := make(chan error, 1)
	go func() { served <- Serve(srv) }()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	var out bytes.Buffer
	Shutdown(srv, 20*time.Millisecond, log.New(&out, "", 0))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("client read %d bytes, %v; want the end of the stream", n, err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if got := out.String(); got != "connections still open after 20ms: closed them\n" {
		t.Errorf("log %q", got)
	}
}
