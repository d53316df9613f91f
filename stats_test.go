//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"encoding/json"
	"testing"
	"time"
)

// TestLoopStatsExact drives a loop one iteration at a time and checks
// that its statistics count exactly what it delivered.
func TestLoopStatsExact(t *testing.T) {
	l := newLoop(t)
	a, b := socketPair(t)
	c, d := socketPair(t)
	r := &recorder{}
	for tok, fd := range map[Token]*RawFd{1: a, 2: c} {
		if err := l.Register(fd, tok, Readable, Edge); err != nil {
			t.Fatal(err)
		}
	}
	// 3 polls with one event each, 2 with two.
	for range 3 {
		writeAll(t, b, []byte{1})
		runOnce(t, l, r, pending)
	}
	for k := range 2 {
		writeAll(t, b, []byte{1})
		writeAll(t, d, []byte{1})
		for len(r.calls) < 3+2*(k+1) { // both edges in one poll, or the second in the next
			runOnce(t, l, r, pending)
		}
	}
	events := uint64(len(r.calls))
	for i := range 3 {
		if _, err := l.Timeout(Token(10+i), 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		if err := l.Channel().Send(i); err != nil {
			t.Fatal(err)
		}
	}
	for len(r.fired) < 3 || len(r.msgs) < 4 {
		runOnce(t, l, r, pending)
	}
	st := l.Stats()
	if st.Events != events || events != 7 || st.Timeouts != 3 || st.Messages != 4 {
		t.Errorf("Stats %+v: want 7 events (%d recorded), 3 timeouts, 4 messages", st, events)
	}
	if st.Iterations != uint64(r.ticks) {
		t.Errorf("%d iterations counted, %d ticked", st.Iterations, r.ticks)
	}
	if st.Lag.Count() < 5 || st.Lag.Count() > st.Iterations {
		t.Errorf("%d lag samples: want one per poll that returned events (at least 5, at most %d)", st.Lag.Count(), st.Iterations)
	}
	if n := testing.AllocsPerRun(100, func() { _ = l.Stats() }); n != 0 {
		t.Errorf("Stats allocates %.0f times", n)
	}
	if _, err := json.Marshal(st); err != nil {
		t.Errorf("LoopStats does not marshal for expvar: %v", err)
	}
}

// TestLagHistogram: the buckets are powers of two of microseconds, and
// Percentile names the bound of the bucket that holds the rank.
func TestLagHistogram(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int
	}{{0, 0}, {999 * time.Nanosecond, 0}, {time.Microsecond, 1}, {3 * time.Microsecond, 2},
		{4 * time.Microsecond, 3}, {time.Millisecond, 10}, {time.Hour, LagBuckets - 1}} {
		if got := lagBucket(int64(c.d)); got != c.want {
			t.Errorf("lagBucket(%v) = %d, want %d", c.d, got, c.want)
		}
	}
	var h LagHistogram
	h[0], h[3], h[10] = 90, 9, 1
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, time.Microsecond}, {90, time.Microsecond}, {95, 8 * time.Microsecond}, {100, 1024 * time.Microsecond}} {
		if got := h.Percentile(c.p); got != c.want {
			t.Errorf("Percentile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if (&LagHistogram{}).Percentile(99) != 0 {
		t.Error("the percentile of no samples is not 0")
	}
}

// TestConnStatsHeld: the bytes a table counts as held are the Conns'
// unconsumed input and unwritten output, and go back to 0 as they close.
func TestConnStatsHeld(t *testing.T) {
	g := newConnRig(t, ConnConfig{})
	g.rec.onData = func(*Conn) {} // keep the input
	c, client := g.adopt(4096)
	if _, err := client.Write(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	g.until(func() bool { return c.In().Len() == 100 })
	out := make([]byte, 512<<10) // far more than the kernel's buffers take
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	runOnce(t, g.loop, g.conns, 0) // an iteration publishes what the Write changed
	st := g.conns.Stats()
	if st.InputHeld != 100 || st.OutputHeld != int64(c.OutputLen()) || st.Open != 1 {
		t.Errorf("held %d in, %d out, %d open; want 100, %d, 1", st.InputHeld, st.OutputHeld, st.Open, c.OutputLen())
	}
	c.Abort()
	g.until(func() bool { return g.rec.closed(c) })
	if st := g.conns.Stats(); st.InputHeld != 0 || st.OutputHeld != 0 || st.Open != 0 || st.Closed != 1 {
		t.Errorf("after the close: %+v, want nothing held or open, one closed", st)
	}
}
