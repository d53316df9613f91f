//go:build unix

package mio

import (
	"testing"
)

// countingHandler counts callbacks without allocating.
type countingHandler struct {
	NopHandler[int]
	readable, writable int
}

func (c *countingHandler) Readable(*EventLoop[int], Token, ReadHint) { c.readable++ }
func (c *countingHandler) Writable(*EventLoop[int], Token)           { c.writable++ }

// readyLoop returns a loop with n socket ends that are always writable, so
// every RunOnce fetches and dispatches n events.
func readyLoop(tb testing.TB, n int) *EventLoop[int] {
	l := newLoop(tb)
	for i := range n {
		a, _ := socketPair(tb)
		if err := l.Register(a, Token(i), Writable, Level); err != nil {
			tb.Fatal(err)
		}
	}
	return l
}

func TestDispatchAllocatesNothing(t *testing.T) {
	l := readyLoop(t, 32)
	h := &countingHandler{}
	allocs := testing.AllocsPerRun(100, func() {
		if err := l.RunOnce(h, 0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("a poll-and-dispatch cycle of 32 events allocates %v times", allocs)
	}
	if h.writable != 101*32 {
		t.Fatalf("dispatched %d events, want %d", h.writable, 101*32)
	}
}

// BenchmarkDispatch measures one poll fetching 64 ready events and
// dispatching each to the handler; ns/event is the cost per event.
func BenchmarkDispatch(b *testing.B) {
	const n = 64
	l := readyLoop(b, n)
	h := &countingHandler{}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := l.RunOnce(h, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(h.writable), "ns/event")
}
