package main

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miogo/mio"
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
	if st := r.srv.Stats(); st.Accepted != uint64(len(bulkSizes)) || st.Closed != st.Accepted {
		t.Errorf("accepted %d connections and closed %d, want %d", st.Accepted, st.Closed, len(bulkSizes))
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

// Several loops serve one address, by each balancing: the kernel's
// (reuse-port acceptors, wherever it balances them), or a hand-off from
// one accepting loop, as share asks, as Unix sockets get, and as
// -balance picks. Every client is served, each by one loop; round-robin
// spreads them evenly, and source hashing gives every client of
// 127.0.0.1 the same loop.
func TestEchoSeveralLoops(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  config
	}{
		{"reuse-port", config{addr: "127.0.0.1:0", loops: 2}},
		{"shared-tcp", config{addr: "127.0.0.1:0", loops: 3, share: true}},
		{"shared-unix", config{addr: "unix:" + filepath.Join(t.TempDir(), "echo.sock"), loops: 3}},
		{"least-conns", config{addr: "127.0.0.1:0", loops: 3, balance: mio.BalanceLeastConns}},
		{"source-hash", config{addr: "127.0.0.1:0", loops: 3, balance: mio.BalanceSourceHash}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "reuse-port" && !mio.ReusePortBalances() {
				t.Skip("the kernel does not balance reuse-port acceptors here")
			}
			before := snapshot(t)
			tc.cfg.bufSize = 16 << 10
			r := startServer(t, tc.cfg)
			bulks := make([]int, 21)
			for i := range bulks {
				bulks[i] = i * 10007
			}
			bulks[7] = 4 << 20
			echoClients(t, r, bulks)
			r.Wait(t)
			checkSpread(t, tc.name, served(r), len(bulks))
			checkReleased(t, before)
		})
	}
}

// checkSpread checks how the loops of a TestEchoSeveralLoops case served
// n clients.
func checkSpread(t *testing.T, name string, byLoop []uint64, n int) {
	t.Helper()
	t.Logf("connections served by each loop: %v", byLoop)
	var total, busy uint64
	for _, k := range byLoop {
		total += k
		if k > 0 {
			busy++
		}
	}
	if total != uint64(n) {
		t.Fatalf("the loops served %d connections, want %d", total, n)
	}
	switch name {
	case "shared-tcp", "shared-unix":
		for i, k := range byLoop {
			if k != uint64(n/len(byLoop)) {
				t.Errorf("loop %d served %d connections; round-robin gives each %d", i, k, n/len(byLoop))
			}
		}
	case "source-hash":
		if busy != 1 {
			t.Errorf("clients of one address were served by %d loops, want 1", busy)
		}
	}
}

// A stop is graceful: the listener closes at once, so new clients are
// refused, but a client in the middle of its conversation goes on being
// served, with all of its echo, until it closes; then the server stops.
func TestGracefulStop(t *testing.T) {
	before := snapshot(t)
	r := startServer(t, config{addr: "127.0.0.1:0", loops: 2, bufSize: 16 << 10, grace: testTimeout})
	c, err := net.DialTCP("tcp", nil, r.addr.ToTCPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testTimeout))
	roundTrip(t, c, payload(1, 1000))

	stopped := make(chan struct{})
	go func() {
		r.stop()
		close(stopped)
	}()
	waitRefused(t, r.addr.String())
	// Bigger than the buffer: the echo pauses and resumes reading while
	// the server is stopping.
	roundTrip(t, c, payload(2, 1<<20))
	select {
	case <-stopped:
		t.Fatal("the stop ended while a client was still talking")
	default:
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(c); err != nil || len(rest) > 0 {
		t.Fatalf("after the half-close: %d bytes, %v; want the end of the stream", len(rest), err)
	}
	c.Close()
	select {
	case <-stopped:
	case <-time.After(testTimeout):
		t.Fatal("the stop did not end once the client closed")
	}
	if _, err := net.Dial("tcp", r.addr.String()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial after the stop: %v, want connection refused", err)
	}
	r.Wait(t)
	if n := r.Logs.Count("still open"); n != 0 {
		t.Errorf("the stop closed connections itself:\n%s", r.Logs)
	}
	checkReleased(t, before)
}

// roundTrip writes msg on c while it reads the echo back, and checks it.
func roundTrip(t *testing.T, c net.Conn, msg []byte) {
	t.Helper()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		werr <- err
	}()
	got := make([]byte, len(msg))
	_, rerr := io.ReadFull(c, got)
	if err := errors.Join(<-werr, rerr); err != nil {
		t.Fatal(err)
	}
	if string(got) != string(msg) {
		t.Fatal("the echo differs from what was sent")
	}
}

// waitRefused waits until address refuses connections: its listener has
// closed. A connection made before that is closed at once.
func waitRefused(t *testing.T, address string) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		c, err := net.Dial("tcp", address)
		if errors.Is(err, syscall.ECONNREFUSED) {
			return
		}
		if err == nil {
			c.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still takes connections: %v", address, err)
		}
		time.Sleep(time.Millisecond) // polling a condition, not timing one
	}
}

// Connections still open when the grace of a stop ends are closed, the
// clients see the end of the stream, and the log says so.
func TestStopClosesConnections(t *testing.T) {
	before := snapshot(t)
	r := startServer(t, config{addr: "127.0.0.1:0", loops: 1, bufSize: 1 << 10, grace: 50 * time.Millisecond})
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
	if n := r.Logs.Count("connections still open after 50ms: closed them"); n != 1 {
		t.Errorf("the forced close logged %d times, want once:\n%s", n, r.Logs)
	}
	if n := r.Logs.Count("connection:"); n != 0 {
		t.Errorf("connections closed by the stop were logged:\n%s", r.Logs)
	}
	checkReleased(t, before)
}

// A stop before run makes run return at once, with nothing left open.
func TestStopBeforeRun(t *testing.T) {
	before := snapshot(t)
	s, err := newServer(config{addr: "127.0.0.1:0", loops: 3, bufSize: 1, stats: time.Millisecond})
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
	checkReleased(t, before)
}

// -stats prints a line of the Server's statistics at each interval, whose
// counts are those of the echo that happened, and stops printing when
// the server stops.
func TestStats(t *testing.T) {
	const bulk = 100 << 10
	before := snapshot(t)
	out := newLineLog()
	r := startServer(t, config{addr: "127.0.0.1:0", loops: 2, bufSize: 16 << 10, stats: 5 * time.Millisecond, out: out})
	if err := echoClient("tcp", r.addr.String(), 3, bulk); err != nil {
		t.Fatal(err)
	}
	n := strconv.Itoa(echoed(bulk))
	want := map[string]string{"open": "0", "accepted": "1", "closed": "1", "read": n, "written": n, "accept-errors": "0"}
	line := out.wait(t, "the echo counted", func(line string) bool {
		f := statsFields(line)
		for k, v := range want {
			if f[k] != v {
				return false
			}
		}
		return true
	})
	f := statsFields(line)
	for _, k := range []string{"iterations", "events"} {
		if v, err := strconv.Atoi(f[k]); err != nil || v < 2 {
			t.Errorf("%s=%s: the loops counted no work in %q", k, f[k], line)
		}
	}
	for _, k := range []string{"lag-p99", "lag-max"} {
		if _, err := time.ParseDuration(f[k]); err != nil {
			t.Errorf("%s=%s is no duration in %q", k, f[k], line)
		}
	}
	r.Wait(t)
	checkReleased(t, before) // the printing ended with the server
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
	if n := r.Logs.Count("connection:"); n != 0 {
		t.Errorf("resets were logged:\n%s", r.Logs)
	}
	checkReleased(t, before)
}
