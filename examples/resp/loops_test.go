package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miogo/mio"
)

// loopOf is the index of the loop serving c, found by its CLIENT ID.
func (r *running) loopOf(t *testing.T, c *client) int {
	t.Helper()
	id, ok := c.do(t, "CLIENT", "ID").(int64)
	if !ok {
		t.Fatal("CLIENT ID: no integer")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, sc := range r.seen {
		if sc.id == id {
			return sc.loop
		}
	}
	t.Fatalf("no connection with CLIENT ID %d", id)
	return -1
}

// clientsOnTwoLoops dials until it has a client on each of two loops;
// the kernel (or the hand-off) spreads them.
func clientsOnTwoLoops(t *testing.T, r *running) (a, b *client, la, lb int) {
	t.Helper()
	a = dial(t, r)
	la = r.loopOf(t, a)
	for range 64 {
		b = dial(t, r)
		if lb = r.loopOf(t, b); lb != la {
			return a, b, la, lb
		}
		b.Close()
	}
	t.Fatalf("64 clients all on loop %d", la)
	return
}

// With several loops the keyspace is one: increments from clients on
// every loop all count, a key set on one loop is read and overwritten on
// another, and the expiry timeout of the loop that set it is cleared by
// an overwrite or a FLUSHALL on another loop, or removes the key in
// time.
func TestSeveralLoops(t *testing.T) {
	const clients, incrs = 8, 500
	r := startServer(t, config{loops: 3})
	var wg sync.WaitGroup
	errs := make([]error, clients)
	for i := range clients {
		c := dial(t, r)
		wg.Go(func() { errs[i] = incrAll(c, incrs) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	a, b, la, _ := clientsOnTwoLoops(t, r)
	if got := show(b.do(t, "GET", "n")); got != strconv.Quote(strconv.Itoa(clients*incrs)) {
		t.Errorf("GET n after %d INCRs: %s", clients*incrs, got)
	}

	// An overwrite on loop lb clears loop la's timeout.
	a.do(t, "SET", "k", "old", "EX", "100")
	old := r.timerOf(t, la, "k")
	if got := show(b.do(t, "SET", "k", "new")); got != "OK" {
		t.Fatalf("SET on the other loop: %s", got)
	}
	r.checkCleared(t, la, old)

	// So does a FLUSHALL.
	a.do(t, "SET", "f", "v", "PX", "100000")
	old = r.timerOf(t, la, "f")
	b.do(t, "FLUSHALL")
	r.checkCleared(t, la, old)

	// A timeout of loop la removes a key, for clients of every loop.
	a.do(t, "SET", "e", "v", "PX", "20")
	r.waitFor(t, "the key to expire", func() bool {
		r.db.mu.Lock()
		defer r.db.mu.Unlock()
		return len(r.db.m) == 0 && len(r.db.timed) == 0
	})
	if got := show(b.do(t, "EXISTS", "e")); got != ":0" {
		t.Errorf("EXISTS after the expiry: %s", got)
	}
	if got := show(b.do(t, "GET", "k")); got != "(nil)" {
		t.Errorf("GET k after FLUSHALL: %s", got)
	}
}

// incrAll sends n pipelined INCRs of n and checks each reply is a number.
func incrAll(c *client, n int) error {
	if _, err := c.Write(bytes.Repeat(encode("INCR", "n"), n)); err != nil {
		return err
	}
	for range n {
		v, err := c.reply()
		if err != nil {
			return err
		}
		if _, ok := v.(int64); !ok {
			return errors.New("INCR: " + show(v))
		}
	}
	return nil
}

// timerOf is the expiry timeout of key, which loop i set.
func (r *running) timerOf(t *testing.T, i int, key string) mio.Timeout {
	t.Helper()
	r.db.mu.Lock()
	defer r.db.mu.Unlock()
	e := r.db.m[key]
	if e == nil || e.tok == 0 || e.loop != i {
		t.Fatalf("key %q: %+v, want an expiry on loop %d", key, e, i)
	}
	return e.timer
}

// checkCleared checks on loop i that its timeout tm is no longer pending.
// The loop runs what it was sent in order, so the clearing another loop
// sent it ran first.
func (r *running) checkCleared(t *testing.T, i int, tm mio.Timeout) {
	t.Helper()
	r.onLoopN(t, i, func() {
		if r.srv.Loop(i).ClearTimeout(tm) {
			t.Errorf("loop %d still had the timeout of a key overwritten on another loop", i)
		}
	})
}

// A stop is graceful: new clients are refused at once, an idle
// connection is closed, and one whose requests wait behind replies it
// has not read yet gets its replies, each whole, then the end of the
// stream; the stop then ends without closing anything by force.
func TestGracefulStop(t *testing.T) {
	const outHigh = 16 << 10
	r := startServer(t, config{outHigh: outHigh, grace: testTimeout})
	idle, slow := dial(t, r), dial(t, r)
	value := string(bytes.Repeat([]byte("v"), 4<<10))
	if got := show(idle.do(t, "SET", "big", value)); got != "OK" {
		t.Fatalf("SET: %s", got)
	}
	// More than the kernel's buffers hold: the connection pauses with
	// requests in its input, and the writer blocks until the stop.
	go slow.Write(bytes.Repeat(encode("GET", "big"), 4096))
	r.waitFor(t, "the slow client's connection to pause", func() bool {
		for _, sc := range r.list() {
			if sc.paused {
				return true
			}
		}
		return false
	})
	stopped := make(chan struct{})
	go func() {
		r.stop()
		close(stopped)
	}()
	if rest := idle.expectClosed(t); rest != "" {
		t.Errorf("the idle client read %q", rest)
	}
	idle.Close() // the server's close waits for the client's, within its linger
	if _, err := net.Dial("tcp", r.addr.String()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial during the stop: %v, want connection refused", err)
	}
	n := 0
	for ; ; n++ {
		v, err := slow.reply()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after %d replies: %v", n, err)
		}
		if b, ok := v.([]byte); !ok || string(b) != value {
			t.Fatalf("reply %d: %.40s", n, show(v))
		}
	}
	t.Logf("the slow client got %d replies", n)
	slow.Close()
	select {
	case <-stopped:
	case <-time.After(testTimeout):
		t.Fatal("the stop did not end")
	}
	if n == 0 || r.Logs.Count("still open") != 0 {
		t.Errorf("%d replies; log:\n%s", n, r.Logs)
	}
}
