package mio

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Statistics. Each loop counts in plain fields on its own goroutine and
// publishes them to atomics once per iteration, at its end, which is also
// before every poll that may sleep: a snapshot taken from any goroutine is
// at most one iteration old, counting costs no atomic operation per event,
// and taking one allocates nothing (the snapshots are plain values). The
// snapshot types marshal as JSON, so expvar publishes them as they are:
//
//	expvar.Publish("mio", expvar.Func(func() any { return srv.Stats() }))
//
// The package itself does not import expvar, which would register an HTTP
// handler in every program that links the library.

// LagBuckets is the number of buckets of a LagHistogram.
const LagBuckets = 24

// LagHistogram counts loop-lag samples by powers of two of microseconds:
// bucket 0 holds lags under 1 µs, bucket k (from 1) those in
// [2^(k-1), 2^k) µs, and the last bucket everything from 2^22 µs (about
// 4.2 s) up.
type LagHistogram [LagBuckets]uint64

// lagBucket is the bucket of a lag of d nanoseconds.
func lagBucket(d int64) int {
	us := d / 1000
	if us <= 0 {
		return 0
	}
	return min(bits.Len64(uint64(us)), LagBuckets-1)
}

// LagBucketBound is the upper bound of bucket k: 2^k µs, and for the last
// bucket, which has none, its lower bound.
func LagBucketBound(k int) time.Duration {
	k = max(0, min(k, LagBuckets-1))
	if k == LagBuckets-1 {
		k--
	}
	return time.Duration(1<<k) * time.Microsecond
}

// Count is the number of samples.
func (h *LagHistogram) Count() uint64 {
	var n uint64
	for _, c := range h {
		n += c
	}
	return n
}

// Percentile is an upper bound of the p-th percentile (0 < p <= 100) of
// the samples: the bound of the bucket that holds it (see LagBucketBound).
// It is 0 when there are no samples.
func (h *LagHistogram) Percentile(p float64) time.Duration {
	total := h.Count()
	if total == 0 {
		return 0
	}
	rank := uint64(p / 100 * float64(total))
	rank = max(1, min(rank, total))
	var seen uint64
	for k, c := range h {
		if seen += c; seen >= rank {
			return LagBucketBound(k)
		}
	}
	return LagBucketBound(LagBuckets - 1)
}

// LoopStats is what an event loop has done since it was made.
type LoopStats struct {
	Iterations uint64 // polls made: one per RunOnce, one per turn of Run
	Events     uint64 // readiness events delivered to the handler (one per fd per poll)
	Timeouts   uint64 // timeouts fired
	Messages   uint64 // messages delivered to Notify
	// LagMax and Lag measure loop lag: how long the ready events of a
	// poll waited for their dispatch, from the poll's return to the start
	// of the dispatch of its last event, which waited longest. A poll that
	// returned events adds one sample; one that returned a single event
	// adds a lag of 0, since nothing dispatched before it.
	LagMax time.Duration
	Lag    LagHistogram
}

// add sums o into s; the lag maximum is the larger one.
func (s *LoopStats) add(o *LoopStats) {
	s.Iterations += o.Iterations
	s.Events += o.Events
	s.Timeouts += o.Timeouts
	s.Messages += o.Messages
	s.LagMax = max(s.LagMax, o.LagMax)
	for k := range s.Lag {
		s.Lag[k] += o.Lag[k]
	}
}

// loopCounters holds a loop's statistics: counted plainly by the loop,
// published for other goroutines by publish.
type loopCounters struct {
	st   LoopStats
	last int // the lag bucket this iteration counted in, or -1
	pub  struct {
		iterations, events, timeouts, messages atomic.Uint64
		lagMax                                 atomic.Int64
		lag                                    [LagBuckets]atomic.Uint64
	}
}

// lag records one loop-lag sample of d nanoseconds.
func (c *loopCounters) lag(d int64) {
	k := lagBucket(d)
	c.st.Lag[k]++
	c.last = k
	if time.Duration(d) > c.st.LagMax {
		c.st.LagMax = time.Duration(d)
	}
}

// publish makes the counts of the iteration that ends visible: a few
// atomic stores, and one lag bucket, the one that changed.
func (c *loopCounters) publish() {
	p := &c.pub
	p.iterations.Store(c.st.Iterations)
	p.events.Store(c.st.Events)
	p.timeouts.Store(c.st.Timeouts)
	p.messages.Store(c.st.Messages)
	if c.last >= 0 {
		p.lagMax.Store(int64(c.st.LagMax))
		p.lag[c.last].Store(c.st.Lag[c.last])
		c.last = -1
	}
}

// snapshot reads what publish made visible.
func (c *loopCounters) snapshot() LoopStats {
	p := &c.pub
	s := LoopStats{
		Iterations: p.iterations.Load(),
		Events:     p.events.Load(),
		Timeouts:   p.timeouts.Load(),
		Messages:   p.messages.Load(),
		LagMax:     time.Duration(p.lagMax.Load()),
	}
	for k := range s.Lag {
		s.Lag[k] = p.lag[k].Load()
	}
	return s
}

// Stats is a snapshot of the loop's statistics, safe to take from any
// goroutine, at most one iteration old. It allocates nothing.
func (l *EventLoop[M]) Stats() LoopStats { return l.counters.snapshot() }

// ConnStats is what a Conns table has done since it was made, and what it
// holds now.
type ConnStats struct {
	Open         int64  // Conns open now
	Opened       uint64 // Conns made: accepted here, handed over, adopted or dialled
	Accepted     uint64 // connections accepted from its listeners (some handed over)
	Closed       uint64 // Conns closed (OnClose called)
	AcceptErrors uint64 // accepts that failed (out of fds, out of memory, ...)
	Sheds        uint64 // pending connections closed unserved for lack of fds
	BytesRead    uint64
	BytesWritten uint64
	// InputHeld and OutputHeld are the bytes the Conns hold unconsumed
	// and unwritten, as of the end of their last service (or Write that
	// queued output).
	InputHeld, OutputHeld int64
}

// add sums o into s.
func (s *ConnStats) add(o *ConnStats) {
	s.Open += o.Open
	s.Opened += o.Opened
	s.Accepted += o.Accepted
	s.Closed += o.Closed
	s.AcceptErrors += o.AcceptErrors
	s.Sheds += o.Sheds
	s.BytesRead += o.BytesRead
	s.BytesWritten += o.BytesWritten
	s.InputHeld += o.InputHeld
	s.OutputHeld += o.OutputHeld
}

// connCounters is a table's statistics, counted plainly and published at
// the end of each iteration when they changed.
type connCounters struct {
	st, seen ConnStats
	pub      struct {
		open, inHeld, outHeld                               atomic.Int64
		opened, accepted, closed, acceptErrs, sheds, rd, wr atomic.Uint64
	}
}

// publish makes the counts visible, if they changed since the last time.
func (c *connCounters) publish() {
	if c.st == c.seen {
		return
	}
	c.seen = c.st
	p, s := &c.pub, &c.st
	p.open.Store(s.Open)
	p.opened.Store(s.Opened)
	p.accepted.Store(s.Accepted)
	p.closed.Store(s.Closed)
	p.acceptErrs.Store(s.AcceptErrors)
	p.sheds.Store(s.Sheds)
	p.rd.Store(s.BytesRead)
	p.wr.Store(s.BytesWritten)
	p.inHeld.Store(s.InputHeld)
	p.outHeld.Store(s.OutputHeld)
}

// snapshot reads what publish made visible.
func (c *connCounters) snapshot() ConnStats {
	p := &c.pub
	return ConnStats{
		Open: p.open.Load(), Opened: p.opened.Load(), Accepted: p.accepted.Load(), Closed: p.closed.Load(),
		AcceptErrors: p.acceptErrs.Load(), Sheds: p.sheds.Load(),
		BytesRead: p.rd.Load(), BytesWritten: p.wr.Load(),
		InputHeld: p.inHeld.Load(), OutputHeld: p.outHeld.Load(),
	}
}

// Stats is a snapshot of the table's statistics, safe to take from any
// goroutine, at most one iteration old. It allocates nothing.
func (s *Conns[M]) Stats() ConnStats { return s.counters.snapshot() }

// ServerStats is a Server's statistics: its loops' and its Conns'.
type ServerStats struct {
	LoopStats
	ConnStats
}
