// Package servetest holds the helpers the example servers' tests share:
// a buffer to log into, and a server run on its own goroutine with a
// bounded, checked stop.
package servetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miogo/mio"
)

// Timeout bounds every wait in the examples' tests.
const Timeout = 30 * time.Second

// LogBuffer collects a server's log lines for the test to look at. A
// log.Logger writes each line in one call, which is what it relies on.
type LogBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Count returns how many lines contain s.
func (b *LogBuffer) Count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, l := range b.lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}

// Running is a server whose run is in progress on its own goroutine.
type Running struct {
	Logs *LogBuffer // what the server logs, shown if the test fails
	done chan error
	halt func()
}

// Start runs run on its own goroutine. stop must make run return; the
// test's cleanup calls it and checks that run returns nil within
// Timeout, unless the test did so already with Wait.
func Start(t testing.TB, logs *LogBuffer, run func() error, stop func()) *Running {
	t.Helper()
	r := &Running{Logs: logs, done: make(chan error, 1), halt: stop}
	go func() { r.done <- run() }()
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	return r
}

// Wait stops the server and fails the test unless run returns nil in
// time.
func (r *Running) Wait(t testing.TB) {
	t.Helper()
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
}

// stop stops the server and returns what went wrong: run's error, or its
// not returning within Timeout. Once run has returned, stop returns nil.
func (r *Running) stop() error {
	r.halt()
	select {
	case err := <-r.done:
		r.done <- nil // for the next stop
		if err != nil {
			return fmt.Errorf("run: %w", err)
		}
		return nil
	case <-time.After(Timeout):
		return fmt.Errorf("run did not return within %v of stop", Timeout)
	}
}

// DialArgs returns the net package's network and address for a server
// address.
func DialArgs(addr mio.SockAddr) (network, address string) {
	if addr.IsUnix() {
		return "unix", addr.Path()
	}
	return "tcp", addr.String()
}
