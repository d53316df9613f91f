//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Close is documented as safe from any goroutine, also while the loop runs.
// Here it races with a Run or RunOnce that is just starting or just ending
// on another goroutine. Whatever the interleaving, Close must succeed, Run
// must return nil or ErrClosed (never a poll error from a released poller),
// the loop must end up released exactly once (a second Close says
// ErrClosed), and no fd may be left open. Under -race the detector also
// sees the release racing with the running loop's reads of its state.
func TestStressCloseRacingRunStart(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two Ps for Close and Run to overlap")
	}
	rounds := 3000
	if shrunk() {
		rounds = 1000
	}
	checkNoFdLeaks(t)
	outcomes := map[string]int{}
	rng := rand.New(rand.NewPCG(6, 4))

	// One runner goroutine for all rounds, spinning on its own thread, so
	// that each round's Run starts at a moment of the round's choosing and
	// not whenever the scheduler gets round to a new goroutine.
	type job struct {
		l     *EventLoop[int]
		once  bool
		delay int
	}
	var jobs [2]job
	var round atomic.Int64 // the round the runner may start; -1 to stop
	results := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for i := int64(1); ; i++ {
			var r int64
			for r = round.Load(); r != i && r >= 0; r = round.Load() {
			}
			if r < 0 {
				return
			}
			j := jobs[i%2]
			hzSpin(j.delay)
			if j.once {
				results <- j.l.RunOnce(&recorder{}, 0)
			} else {
				results <- j.l.Run(&recorder{})
			}
		}
	}()
	defer round.Store(-1)
	// closeSpan adapts to the machine: every 100 rounds it grows when Run
	// hardly ever started first and shrinks when it hardly ever lost, so
	// that Close keeps landing on both sides of Run's start, also on a
	// machine busy with other work.
	closeSpan, blockRan := 6000, 0
	for i := int64(1); i <= int64(rounds); i++ {
		l, err := NewEventLoop[int](Config{})
		if err != nil {
			t.Fatal(err)
		}
		once := i%2 == 1
		// Spin delays of either side sweep Close across Run's start and
		// RunOnce's end.
		jobs[i%2] = job{l: l, once: once, delay: rng.IntN(3000)}
		closeDelay := rng.IntN(closeSpan)
		round.Store(i)
		hzSpin(closeDelay)
		closeErr := l.Close()
		var runErr error
		select {
		case runErr = <-results:
		case <-time.After(2 * time.Second):
			// Run sleeps in epoll_wait on a poller that Close released
			// under it: closing the fds does not wake it, nothing will.
			t.Fatalf("round %d (RunOnce %v): Run has not returned 2s after a racing Close returned %v", i, once, closeErr)
		}
		if closeErr != nil {
			t.Fatalf("round %d: Close racing with Run: %v", i, closeErr)
		}
		if i%100 == 0 {
			switch {
			case blockRan < 10:
				closeSpan = min(2*closeSpan, 1<<24)
			case blockRan > 90:
				closeSpan = max(closeSpan/2, 256)
			}
			blockRan = 0
		}
		switch {
		case runErr == nil:
			outcomes["ran"]++
			blockRan++
		case errors.Is(runErr, ErrClosed):
			outcomes["closed first"]++
		default:
			t.Fatalf("round %d (RunOnce %v): Run racing with Close returned %v", i, once, runErr)
		}
		if err := l.Close(); !errors.Is(err, ErrClosed) {
			t.Fatalf("round %d (RunOnce %v): the loop was not released by the racing Close: a second Close returned %v", i, once, err)
		}
	}
	t.Logf("%d rounds: %v (close delay span at the end %d)", rounds, outcomes, closeSpan)
	if outcomes["ran"] == 0 || outcomes["closed first"] == 0 {
		t.Errorf("Close always came before or always after Run's start: %v", outcomes)
	}
}

// hzSink keeps hzSpin's loop from being optimised away.
var hzSink atomic.Uint64

// hzSpin burns about n loop iterations of CPU without yielding.
func hzSpin(n int) {
	x := uint64(0)
	for i := range n {
		x += uint64(i) * 2654435761
	}
	hzSink.Add(x)
}
