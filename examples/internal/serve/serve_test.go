package serve

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miogo/mio"
)

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		n              int
		mustShare      bool
		dup, reusePort bool
	}{
		{1, false, false, false},
		{1, true, false, false},
		{2, false, false, true},
		{3, true, true, false},
	} {
		dup, reusePort := plan(tc.n, tc.mustShare)
		if dup != tc.dup || reusePort != tc.reusePort {
			t.Errorf("plan(%d, %v) = dup %v, reuse-port %v; want %v, %v",
				tc.n, tc.mustShare, dup, reusePort, tc.dup, tc.reusePort)
		}
	}
}

// A burst of accept errors is logged when it starts, with the hint for
// running out of fds, and when a connection is taken again; the pauses in
// between are counted and not logged.
func TestBurst(t *testing.T) {
	var b burst
	if line := b.worked(); line != "" {
		t.Errorf("accepting with no burst logs %q", line)
	}
	emfile := os.NewSyscallError("accept", syscall.EMFILE)
	first := b.failed(emfile)
	if !strings.Contains(first, "too many open files (raise the open files limit, ulimit -n); pausing accepts for 100ms") {
		t.Errorf("first failure logs %q", first)
	}
	for range 2 {
		if line := b.failed(emfile); line != "" {
			t.Errorf("a later failure of the burst logs %q", line)
		}
	}
	if line := b.worked(); line != "accepting again after 3 pause(s)" {
		t.Errorf("the end of the burst logs %q", line)
	}
	if line := b.worked(); line != "" {
		t.Errorf("accepting after the burst ended logs %q", line)
	}
	if line := b.failed(errors.New("other")); strings.Contains(line, "ulimit") || !strings.HasPrefix(line, "other; pausing") {
		t.Errorf("a new burst of another error logs %q", line)
	}
}

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

// Bind gives n acceptors on one address, with the port the kernel chose,
// for TCP and Unix sockets, by SO_REUSEPORT or by Dup; a bad flag value
// is an error naming -addr.
func TestBind(t *testing.T) {
	unixPath := filepath.Join(t.TempDir(), "serve.sock")
	for _, tc := range []struct {
		addr  string
		n     int
		share bool
	}{
		{"127.0.0.1:0", 1, false},
		{"127.0.0.1:0", 2, false},
		{"127.0.0.1:0", 3, true},
		{"unix:" + unixPath, 3, false},
	} {
		accs, bound, err := Bind(tc.addr, tc.n, tc.share)
		if err != nil {
			t.Fatalf("Bind(%q, %d, %v): %v", tc.addr, tc.n, tc.share, err)
		}
		if len(accs) != tc.n || strings.HasSuffix(bound.String(), ":0") {
			t.Errorf("Bind(%q, %d, %v) = %d acceptors on %v", tc.addr, tc.n, tc.share, len(accs), bound)
		}
		for i, acc := range accs {
			if got, err := acc.LocalAddr(); err != nil || got.String() != bound.String() {
				t.Errorf("%q: acceptor %d on %v (%v), want %v", tc.addr, i, got, err, bound)
			}
		}
		if err := CloseAll(accs); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(unixPath); !os.IsNotExist(err) {
		t.Errorf("socket file left behind: %v", err)
	}
	if _, _, err := Bind("127.0.0.1", 1, false); err == nil || !strings.HasPrefix(err.Error(), "-addr: ") {
		t.Errorf("Bind without a port: %v, want an -addr error", err)
	}
}

// Accept failing pauses the listener, with one timeout and one log line;
// the connection queued meanwhile is taken when the timeout resumes it.
func TestListenerPauses(t *testing.T) {
	loop, err := mio.NewEventLoop[struct{}](mio.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer loop.Close()
	accs, bound, err := Bind("127.0.0.1:0", 1, false)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	var got []mio.Socket
	l, err := Listen(loop, accs[0], 0, func(s mio.Socket) { got = append(got, s) }, log.New(&out, "", 0), "loop 7: ")
	if err != nil {
		accs[0].Close()
		t.Fatal(err)
	}
	defer l.Close()
	accept, failures := l.Accept, 0
	l.Accept = func() (mio.Socket, error) {
		if failures < 2 {
			failures++
			return nil, os.NewSyscallError("accept", syscall.EMFILE)
		}
		return accept()
	}
	client, err := net.Dial("tcp", bound.String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	h := &resumer{l: l}
	deadline := time.Now().Add(10 * time.Second)
	for len(got) == 0 && time.Now().Before(deadline) {
		if err := loop.RunOnce(h, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range got {
		s.Close()
	}
	if len(got) != 1 || failures != 2 || h.timeouts != 2 {
		t.Errorf("took %d connection(s) after %d failures and %d timeouts, want 1, 2 and 2", len(got), failures, h.timeouts)
	}
	logged := out.String()
	if strings.Count(logged, "loop 7: accept: too many open files") != 1 || !strings.Contains(logged, "loop 7: accepting again after 2 pause(s)") {
		t.Errorf("log:\n%s", logged)
	}
}

// resumer is a handler driving a Listener on token 0.
type resumer struct {
	mio.NopHandler[struct{}]
	l        *Listener[struct{}]
	timeouts int
}

func (h *resumer) Readable(_ *mio.EventLoop[struct{}], _ mio.Token, _ mio.ReadHint) { h.l.AcceptAll() }

func (h *resumer) Timeout(_ *mio.EventLoop[struct{}], _ mio.Token) {
	h.timeouts++
	h.l.Resume()
}
