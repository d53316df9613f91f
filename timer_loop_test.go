//go:build unix

package mio

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"
)

func TestTimeoutNeverEarly(t *testing.T) {
	l := newLoop(t)
	r := &recorder{}
	delays := []time.Duration{0, time.Microsecond, 300 * time.Microsecond, time.Millisecond, 3 * time.Millisecond, 10 * time.Millisecond}
	set := make([]time.Time, len(delays))
	for i, d := range delays {
		set[i] = time.Now()
		if _, err := l.Timeout(Token(i), d); err != nil {
			t.Fatal(err)
		}
	}
	runUntil(t, l, r, func() bool { return len(r.fired) == len(delays) })
	for i, tok := range r.fired {
		if early := delays[tok] - r.at[i].Sub(set[tok]); early > 0 {
			t.Fatalf("timeout %d with delay %v fired %v early", tok, delays[tok], early)
		}
	}
}

func TestEqualDeadlinesFireInOrderSet(t *testing.T) {
	l := newLoop(t)
	r := &recorder{}
	// Zero delays are equal deadlines once clamped to "now"; the loop's
	// clock is read at each call, so give them one shared future deadline
	// through the queue itself.
	deadline := l.now() + int64(2*time.Millisecond)
	for i := range 50 {
		l.timers.add(Token(i), deadline)
	}
	runUntil(t, l, r, func() bool { return len(r.fired) == 50 })
	if !slices.IsSorted(r.fired) {
		t.Fatalf("equal deadlines fired out of the order set: %v", r.fired)
	}
}

func TestZeroDelayFiresOnNextIteration(t *testing.T) {
	l := newLoop(t)
	r := &recorder{}
	if _, err := l.Timeout(1, 0); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	runOnce(t, l, r, time.Minute) // must not sleep: the timeout is due
	if len(r.fired) != 1 || time.Since(start) > 10*time.Second {
		t.Fatalf("zero-delay timeout: fired %v after %v", r.fired, time.Since(start))
	}
}

// A zero-delay timeout that re-arms itself from its own callback fires once
// per iteration, and I/O keeps being served between.
func TestSelfRearmingZeroTimerDoesNotStarveIO(t *testing.T) {
	l := newLoop(t)
	a, _ := socketPair(t)
	if err := l.Register(a, 5, Writable, Level); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	r.onTimeout = func(l *EventLoop[int], tok Token) {
		if _, err := l.Timeout(tok, 0); err != nil {
			t.Error(err)
		}
	}
	if _, err := l.Timeout(1, 0); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		runOnce(t, l, r, time.Second)
	}
	if len(r.fired) != 10 || len(r.calls) != 10 {
		t.Fatalf("10 iterations: %d timeouts and %d I/O events, want 10 of each", len(r.fired), len(r.calls))
	}
}

func TestClearTimeout(t *testing.T) {
	l := newLoop(t)
	r := &recorder{}
	keep, _ := l.Timeout(1, time.Millisecond)
	drop, _ := l.Timeout(2, time.Millisecond)
	if !l.ClearTimeout(drop) {
		t.Fatal("ClearTimeout of a pending timeout returned false")
	}
	if l.ClearTimeout(drop) {
		t.Fatal("ClearTimeout of a cleared timeout returned true")
	}
	// The cleared slot is reused by a newer timeout: the old handle must
	// not cancel it.
	newer, _ := l.Timeout(3, time.Millisecond)
	if l.ClearTimeout(drop) {
		t.Fatal("a stale handle cancelled the timeout that reused its slot")
	}
	runUntil(t, l, r, func() bool { return len(r.fired) == 2 })
	if l.ClearTimeout(keep) || l.ClearTimeout(newer) {
		t.Fatal("ClearTimeout of a fired timeout returned true")
	}
	if !slices.Equal(r.fired, []Token{1, 3}) {
		t.Fatalf("fired %v, want [1 3]", r.fired)
	}
	if l.ClearTimeout(Timeout{}) {
		t.Fatal("ClearTimeout of the zero Timeout returned true")
	}
}

// Timeouts can be set and cleared from any callback, including their own.
func TestTimeoutsFromCallbacks(t *testing.T) {
	l := newLoop(t)
	r := &recorder{}
	var other Timeout
	r.onTimeout = func(l *EventLoop[int], tok Token) {
		switch tok {
		case 1:
			other, _ = l.Timeout(2, time.Hour)
			l.Timeout(3, time.Millisecond)
		case 3:
			if !l.ClearTimeout(other) {
				t.Error("clearing a pending timeout from a callback failed")
			}
			l.Timeout(4, 0)
		}
	}
	if _, err := l.Timeout(1, 0); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, r, func() bool { return len(r.fired) == 3 })
	if !slices.Equal(r.fired, []Token{1, 3, 4}) || l.timers.len() != 0 {
		t.Fatalf("fired %v with %d left, want [1 3 4] and none", r.fired, l.timers.len())
	}
}

// The loop sleeps for the timeout's full delay at nanosecond precision;
// on an idle machine the median lateness is well under a millisecond.
func TestTimeoutLatenessMedian(t *testing.T) {
	l := newLoop(t)
	r := &recorder{}
	const samples = 40
	const delay = 2 * time.Millisecond
	late := make([]time.Duration, 0, samples)
	for i := range samples {
		set := time.Now()
		l.Timeout(Token(i), delay)
		runUntil(t, l, r, func() bool { return len(r.fired) == i+1 })
		late = append(late, r.at[i].Sub(set)-delay)
	}
	slices.Sort(late)
	if late[0] < 0 {
		t.Fatalf("a timeout fired %v early", -late[0])
	}
	t.Logf("lateness over %d timeouts of %v: min %v, median %v, max %v", samples, delay, late[0], late[samples/2], late[samples-1])
	if median := late[samples/2]; median > time.Millisecond {
		t.Fatalf("median lateness %v over %d timeouts of %v, want under 1ms (sorted: %v)", median, samples, delay, late)
	}
}

// With nothing registered and no timeouts, the loop sleeps until woken:
// the only iteration in a long window is the one Shutdown causes.
func TestIdleLoopDoesNotWake(t *testing.T) {
	l := newLoop(t)
	r := &recorder{}
	done := make(chan error, 1)
	go func() { done <- l.Run(r) }()
	// An observation window, not synchronisation: it shows the absence of
	// periodic wake-ups, and nothing waits on it.
	time.Sleep(300 * time.Millisecond)
	l.Shutdown()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r.ticks > 1 {
		t.Fatalf("an idle loop ran %d iterations in 300ms, want at most the one Shutdown causes", r.ticks)
	}
}

func TestTickEndsEveryIteration(t *testing.T) {
	l := newLoop(t)
	r := &recorder{}
	var firedAtTick []int
	r.onTick = func(*EventLoop[int]) { firedAtTick = append(firedAtTick, len(r.fired)) }
	if _, err := l.Timeout(1, 0); err != nil {
		t.Fatal(err)
	}
	runOnce(t, l, r, time.Second)
	runOnce(t, l, r, 0)
	if r.ticks != 2 || !slices.Equal(firedAtTick, []int{1, 1}) {
		t.Fatalf("ticks %d, timeouts seen at each tick %v; want 2 ticks, each after the iteration's timeouts", r.ticks, firedAtTick)
	}
}

func TestTimeoutAfterCloseFails(t *testing.T) {
	l, err := NewEventLoop[int](Config{})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := l.Timeout(1, time.Second); err != ErrClosed {
		t.Fatalf("Timeout after Close: %v, want ErrClosed", err)
	}
}

func TestTimeoutSteadyStateAllocatesNothing(t *testing.T) {
	l := newLoop(t)
	r := &recorder{}
	r.fired = make([]Token, 0, 1024)
	r.at = make([]time.Time, 0, 1024)
	var loopErr error
	allocs := testing.AllocsPerRun(200, func() {
		tm, err1 := l.Timeout(1, time.Hour)
		l.ClearTimeout(tm)
		_, err2 := l.Timeout(2, 0)
		err3 := l.RunOnce(r, 0)
		if err := errors.Join(err1, err2, err3); err != nil {
			loopErr = err
		}
		r.fired, r.at = r.fired[:0], r.at[:0]
	})
	if loopErr != nil {
		t.Fatal(loopErr)
	}
	if allocs != 0 {
		t.Fatalf("Timeout/ClearTimeout/fire allocate %v times per round", allocs)
	}
}

// BenchmarkLoopTimeouts sets and clears timeouts through the loop, the
// way a connection's idle timer is pushed back on every message.
func BenchmarkLoopTimeouts(b *testing.B) {
	l := newLoop(b)
	b.ReportAllocs()
	for b.Loop() {
		tm, _ := l.Timeout(1, time.Minute)
		l.ClearTimeout(tm)
	}
}

// A delay so negative that deadline minus now overflowed made the loop
// sleep for centuries: it fires on the next iteration, as every past
// delay does.
func TestHugeNegativeDelayFiresOnNextIteration(t *testing.T) {
	for _, after := range []time.Duration{time.Until(time.Time{}), math.MinInt64, -math.MaxInt64} {
		l := newLoop(t)
		r := &recorder{}
		if _, err := l.Timeout(7, after); err != nil {
			t.Fatal(err)
		}
		runOnceBounded(t, l, r)
		if !slices.Equal(r.fired, []Token{7}) {
			t.Fatalf("after=%d: fired %v, want [7]", after, r.fired)
		}
	}
}

// A huge positive delay saturates: the loop's own wait stays positive and
// the timeout does not fire.
func TestHugePositiveDelayNeverWraps(t *testing.T) {
	l := newLoop(t)
	r := &recorder{}
	if _, err := l.Timeout(7, math.MaxInt64); err != nil {
		t.Fatal(err)
	}
	if d := l.pollTimeout(-1); d <= 0 {
		t.Fatalf("pollTimeout with a timeout set after MaxInt64 = %v, want a long positive wait", d)
	}
	if err := l.RunOnce(r, 0); err != nil {
		t.Fatal(err)
	}
	if len(r.fired) != 0 {
		t.Fatalf("fired %v", r.fired)
	}
}

func TestUntilDeadlineSaturates(t *testing.T) {
	tests := []struct {
		deadline, now int64
		want          time.Duration
	}{
		{10, 5, 5},
		{5, 10, 0},
		{math.MinInt64, 1 << 40, 0},
		{math.MaxInt64, 0, math.MaxInt64},
		{math.MaxInt64, -10, math.MaxInt64},
	}
	for _, tt := range tests {
		if got := untilDeadline(tt.deadline, tt.now); got != tt.want {
			t.Errorf("untilDeadline(%d, %d) = %v, want %v", tt.deadline, tt.now, got, tt.want)
		}
	}
}

// Timeouts 1 and 2 are due; 1's callback sets 3 with a past deadline. 3
// must not jump ahead of 2, and must wait for a later iteration.
func TestPastDeadlineFromCallbackDoesNotJumpTheQueue(t *testing.T) {
	l := newLoop(t)
	r := &recorder{}
	r.onTimeout = func(l *EventLoop[int], tok Token) {
		if tok == 1 {
			l.Timeout(3, -time.Second)
		}
	}
	for _, tok := range []Token{1, 2} {
		if _, err := l.Timeout(tok, 0); err != nil {
			t.Fatal(err)
		}
	}
	runOnceBounded(t, l, r)
	if !slices.Equal(r.fired, []Token{1, 2}) {
		t.Fatalf("first iteration fired %v, want [1 2]", r.fired)
	}
	runOnceBounded(t, l, r)
	if !slices.Equal(r.fired, []Token{1, 2, 3}) {
		t.Fatalf("after the second iteration: fired %v, want [1 2 3]", r.fired)
	}
}

// A timer re-arming itself with a past deadline fired every iteration and
// starved a zero-delay timer that was due before it re-armed.
func TestPastDeadlineRearmDoesNotStarveOthers(t *testing.T) {
	l := newLoop(t)
	r := &recorder{}
	r.onTimeout = func(l *EventLoop[int], tok Token) {
		if tok == 1 {
			l.Timeout(1, -time.Second)
		}
	}
	if _, err := l.Timeout(1, -time.Second); err != nil {
		t.Fatal(err)
	}
	runOnceBounded(t, l, r) // 1 fires and re-arms into the past
	if _, err := l.Timeout(2, 0); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		runOnceBounded(t, l, r)
	}
	if !slices.Contains(r.fired, 2) {
		t.Fatalf("fired %v: the zero-delay timeout 2 never fired", r.fired)
	}
	if i := slices.Index(r.fired, 2); i != 2 {
		t.Fatalf("fired %v: 2 was due before 1 re-armed, so it fires next (index 2)", r.fired)
	}
}
