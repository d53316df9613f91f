package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miogo/mio/examples/internal/servetest"
)

// testTimeout bounds every wait in these tests.
const testTimeout = servetest.Timeout

// lockedBuffer is a bytes.Buffer that a command's output can be copied
// into while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// running is a server whose run is in progress on its own goroutine.
type running struct {
	*server
	*servetest.Running
}

// startServer builds a server from cfg, logging into a buffer, and runs
// it until the test ends (or r.Wait).
func startServer(t *testing.T, cfg config) *running {
	t.Helper()
	logs := &servetest.LogBuffer{}
	cfg.log = log.New(logs, "", 0)
	s, err := newServer(cfg)
	if err != nil {
		t.Fatalf("newServer(%+v): %v", cfg, err)
	}
	return &running{server: s, Running: servetest.Start(t, logs, s.run, s.stop)}
}

// dialArgs returns the net package's network and address for r.
func dialArgs(r *running) (network, address string) { return servetest.DialArgs(r.addr) }

// payload returns n pseudo-random bytes, different for every seed, so
// that data crossing from one client to another would be noticed.
func payload(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x6563686f))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(rng.Uint32())
	}
	return p
}

// echoClient checks a server with one connection: a few request and reply
// round trips, then all of bulk written while the echo is read back
// concurrently (so the server's buffer fills and backpressure works), then
// a half-close, after which the server must send exactly what is left and
// close.
func echoClient(network, address string, seed uint64, bulk int) error {
	c, err := net.Dial(network, address)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testTimeout))

	for i := range 3 {
		msg := payload(seed*10+uint64(i), 1+i*700)
		if _, err := c.Write(msg); err != nil {
			return fmt.Errorf("round trip %d: write: %w", i, err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			return fmt.Errorf("round trip %d: read: %w", i, err)
		}
		if !bytes.Equal(got, msg) {
			return fmt.Errorf("round trip %d: echo differs", i)
		}
	}

	msg := payload(seed, bulk)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		if err == nil {
			err = c.(interface{ CloseWrite() error }).CloseWrite()
		}
		werr <- err
	}()
	got, rerr := io.ReadAll(c) // until the server closes
	if err := <-werr; err != nil {
		return fmt.Errorf("bulk write: %w", err)
	}
	if rerr != nil {
		return fmt.Errorf("bulk read after %d bytes: %w", len(got), rerr)
	}
	if !bytes.Equal(got, msg) {
		at := 0
		for at < min(len(got), len(msg)) && got[at] == msg[at] {
			at++
		}
		return fmt.Errorf("bulk echo: got %d bytes, sent %d, first difference at %d", len(got), len(msg), at)
	}
	return nil
}

// echoClients runs one echoClient per bulk size, all at once.
func echoClients(t *testing.T, r *running, bulks []int) {
	t.Helper()
	network, address := dialArgs(r)
	errs := make([]error, len(bulks))
	var wg sync.WaitGroup
	for i, n := range bulks {
		wg.Go(func() { errs[i] = echoClient(network, address, uint64(i+1), n) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// resources is what a test expects to find again when the server is
// gone.
type resources struct {
	goroutines int
	fds        int // -1 where /proc/self/fd does not exist
}

var warmUpOnce sync.Once

// snapshot counts goroutines and open fds. The first call runs a server
// once: the net package's poller, and the fd mio keeps in reserve from
// its first accept on (for running out of fds), stay open for good.
func snapshot(t *testing.T) resources {
	t.Helper()
	warmUpOnce.Do(func() {
		s, err := newServer(config{addr: "127.0.0.1:0", loops: 1, bufSize: 1, log: log.New(io.Discard, "", 0)})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- s.run() }()
		err = echoClient("tcp", s.addr.String(), 0, 1)
		s.stop()
		if err = errors.Join(err, <-done); err != nil {
			t.Fatal(err)
		}
	})
	return resources{goroutines: runtime.NumGoroutine(), fds: openFds()}
}

func openFds() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents) - 1 // ReadDir's own fd
}

// checkReleased waits until goroutines and fds are back to before; a
// goroutine that has finished its work may take a moment to exit.
func checkReleased(t *testing.T, before resources) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		now := resources{goroutines: runtime.NumGoroutine(), fds: openFds()}
		if now.goroutines <= before.goroutines && now.fds <= before.fds {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("leak: %+v before, %+v after stop\n%s", before, now, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lineLog collects the lines written to it, such as a server's statistics
// or a command's standard output, and wakes a test waiting for one.
type lineLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	more    chan struct{} // holds a token once a line came
}

func newLineLog() *lineLog { return &lineLog{more: make(chan struct{}, 1)} }

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
		select {
		case l.more <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// all is a copy of the lines so far.
func (l *lineLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// wait returns the first line for which ok holds, waiting for new lines
// up to testTimeout.
func (l *lineLog) wait(t *testing.T, what string, ok func(line string) bool) string {
	t.Helper()
	deadline := time.After(testTimeout)
	for seen := 0; ; {
		lines := l.all()
		for _, line := range lines[seen:] {
			if ok(line) {
				return line
			}
		}
		seen = len(lines)
		select {
		case <-l.more:
		case <-deadline:
			t.Fatalf("no line with %s within %v; lines:\n%s", what, testTimeout, strings.Join(lines, "\n"))
		}
	}
}

// statsFields reads a statistics line (statsLine) into its key=value
// fields; it is nil for any other line.
func statsFields(line string) map[string]string {
	rest, ok := strings.CutPrefix(line, "echo: stats: ")
	if !ok {
		return nil
	}
	m := map[string]string{}
	for _, f := range strings.Fields(rest) {
		if k, v, ok := strings.Cut(f, "="); ok {
			m[k] = v
		}
	}
	return m
}

// echoed is what echoClient sends, and so reads back, with a bulk of n
// bytes: three round trips of 1, 701 and 1401 bytes, then the bulk.
func echoed(bulk int) int { return 1 + 701 + 1401 + bulk }

// served is how many connections each loop of r served (closed), once
// run has returned.
func served(r *running) []uint64 {
	var n []uint64
	for i := range r.srv.Loops() {
		n = append(n, r.srv.LoopStats(i).Closed)
	}
	return n
}
