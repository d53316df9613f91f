package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miogo/mio"
	"github.com/miogo/mio/examples/internal/serve"
	"github.com/miogo/mio/examples/internal/servetest"
)

// bulkSizes mixes tiny, medium and 4 MiB transfers; with a 16 KiB buffer
// the big ones keep the server's buffer full and pausing reads.
var bulkSizes = []int{0, 1, 1000, 16 << 10, 100 << 10, 4 << 20, 4<<20 + 3, 300 << 10}

func testEcho(t *testing.T, addr string) {
	before := snapshot(t)
	r := startServer(t, config{addr: addr, loops: 1, bufSize: 16 << 10})
	if strings.HasSuffix(r.addr.String(), ":0") {
		t.Fatalf("server reports %s, not the port it bound", r.addr)
	}
	echoClients(t, r, bulkSizes)
	r.Wait(t)
	if got := r.workers[0].accepted; got != len(bulkSizes) {
		t.Errorf("accepted %d connections, want %d", got, len(bulkSizes))
	}
	checkReleased(t, before)
}

func TestEchoTCP4(t *testing.T) { testEcho(t, "127.0.0.1:0") }

func TestEchoTCP6(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	ln.Close()
	testEcho(t, "[::1]:0")
}

func TestEchoUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "echo.sock")
	testEcho(t, "unix:"+path)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket file left behind after stop: %v", err)
	}
}

// Several loops serve one address: through SO_REUSEPORT (two loops on TCP,
// wherever the kernel balances it), or sharing one listening socket by Dup,
// as for Unix sockets and where SO_REUSEPORT does not balance. Whichever
// loop gets a client, every client is served, each by one loop.
func TestEchoSeveralLoops(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  config
	}{
		{"reuseport", config{addr: "127.0.0.1:0", loops: 2}},
		{"shared-tcp", config{addr: "127.0.0.1:0", loops: 3, share: true}},
		{"shared-unix", config{addr: "unix:" + filepath.Join(t.TempDir(), "echo.sock"), loops: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t)
			tc.cfg.bufSize = 16 << 10
			r := startServer(t, tc.cfg)
			bulks := make([]int, 20)
			for i := range bulks {
				bulks[i] = i * 10007
			}
			bulks[7] = 4 << 20
			echoClients(t, r, bulks)
			r.Wait(t)
			total := 0
			for _, w := range r.workers {
				t.Logf("loop %d accepted %d connection(s)", w.id, w.accepted)
				total += w.accepted
			}
			if len(r.workers) != tc.cfg.loops || total != len(bulks) {
				t.Errorf("%d loops accepted %d connections, want %d loops and %d", len(r.workers), total, tc.cfg.loops, len(bulks))
			}
			checkReleased(t, before)
		})
	}
}

// Connections that are open when the server stops are closed, and the
// clients see the end of the stream.
func TestStopClosesConnections(t *testing.T) {
	before := snapshot(t)
	r := startServer(t, config{addr: "127.0.0.1:0", loops: 1, bufSize: 1 << 10})
	network, address := dialArgs(r)
	var clients []net.Conn
	for range 5 {
		c, err := net.Dial(network, address)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		// Data left unread by the client, so the server holds some too.
		if _, err := c.Write(make([]byte, 64<<10)); err != nil {
			t.Fatal(err)
		}
	}
	// One round trip on a fresh connection proves the loop has accepted
	// the others, which were queued before it.
	if err := echoClient(network, address, 99, 10); err != nil {
		t.Fatal(err)
	}
	r.Wait(t)
	for _, c := range clients {
		c.SetReadDeadline(time.Now().Add(testTimeout))
		buf := make([]byte, 32<<10)
		var err error
		for err == nil {
			_, err = c.Read(buf)
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("connection still open after stop")
		}
		c.Close()
	}
	checkReleased(t, before)
}

func TestStopBeforeRun(t *testing.T) {
	before := snapshot(t)
	s, err := newServer(config{addr: "127.0.0.1:0", loops: 3, bufSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	s.stop()
	done := make(chan error, 1)
	go func() { done <- s.run() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		t.Fatal("run did not return after an early stop")
	}
	s.stop() // harmless once the server is gone
	if err := s.run(); err == nil {
		t.Error("a second run succeeded")
	}
	checkReleased(t, before)
}

// Accept failing (EMFILE here) pauses accepting for a while and is logged
// once per burst; the queued client is served when accepting works again.
func TestAcceptErrorPauses(t *testing.T) {
	before := snapshot(t)
	s, err := newServer(config{addr: "127.0.0.1:0", loops: 1, bufSize: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	logs := &servetest.LogBuffer{}
	w := s.workers[0]
	w.log.SetOutput(logs)
	// Only the loop's goroutine calls accept, so plain ints will do; they
	// are read after run has returned.
	const failures = 3
	calls, failed := 0, 0
	accept := w.ln.Accept
	w.ln.Accept = func() (mio.Socket, error) {
		calls++
		if failed < failures {
			failed++
			return nil, os.NewSyscallError("accept", syscall.EMFILE)
		}
		return accept()
	}
	r := &running{server: s, Running: servetest.Start(t, logs, s.run, s.stop)}

	start := time.Now()
	network, address := dialArgs(r)
	if err := echoClient(network, address, 1, 1000); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < failures*serve.AcceptPause {
		t.Errorf("served after %v, before %d pauses of %v", elapsed, failures, serve.AcceptPause)
	}
	r.Wait(t)
	if failed != failures || calls > failures+4 {
		t.Errorf("accept called %d times for %d failures: it should not spin", calls, failed)
	}
	if n := logs.Count("too many open files"); n != 1 {
		t.Errorf("EMFILE logged %d times, want once per burst; log:\n%s", n, logs)
	}
	if n := logs.Count("accepting again after 3 pause(s)"); n != 1 {
		t.Errorf("recovery logged %d times, want once; log:\n%s", n, logs)
	}
	checkReleased(t, before)
}

// Clients that reset their connection while the server still has data for
// them are dropped quietly, and the server goes on serving.
func TestClientReset(t *testing.T) {
	before := snapshot(t)
	r := startServer(t, config{addr: "127.0.0.1:0", loops: 1, bufSize: 16 << 10})
	for i := range 5 {
		c, err := net.DialTCP("tcp", nil, r.addr.ToTCPAddr())
		if err != nil {
			t.Fatal(err)
		}
		// Unread echo piles up in this client's receive buffer; linger 0
		// makes Close send a reset instead of a FIN.
		if _, err := c.Write(payload(uint64(i), 256<<10)); err != nil {
			t.Fatal(err)
		}
		c.SetLinger(0)
		c.Close()
		if err := echoClient("tcp", r.addr.String(), uint64(i), 100<<10); err != nil {
			t.Fatal(err)
		}
	}
	r.Wait(t)
	if n := r.Logs.Count("connection"); n != 0 {
		t.Errorf("resets were logged:\n%s", r.Logs)
	}
	checkReleased(t, before)
}
