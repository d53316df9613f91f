package mio

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"weak"
)

// notifyMsg is a test message: which producer sent it and its place in that
// producer's sequence.
type notifyMsg struct {
	producer, seq int
}

// notifyWaker is a fake poller wake-up: it counts calls and, like the
// eventfd it stands for, leaves one sticky signal in ch.
type notifyWaker struct {
	calls atomic.Int64
	ch    chan struct{}
}

func newNotifyWaker() *notifyWaker {
	return &notifyWaker{ch: make(chan struct{}, 1)}
}

func (w *notifyWaker) wake() error {
	w.calls.Add(1)
	select {
	case w.ch <- struct{}{}:
	default:
	}
	return nil
}

func newNotifyTestSender[M any](capacity int) (*Sender[M], *notifyQueue[M], *notifyWaker) {
	q := newNotifyQueue[M](capacity)
	w := newNotifyWaker()
	return &Sender[M]{q: q, wake: w.wake}, q, w
}

// notifyCheckOrder records one received message and fails on a gap, repeat or
// reordering within its producer's sequence.
func notifyCheckOrder(t *testing.T, next []int, m notifyMsg) {
	t.Helper()
	if m.seq != next[m.producer] {
		t.Fatalf("producer %d: got message %d, want %d", m.producer, m.seq, next[m.producer])
	}
	next[m.producer]++
}

func TestNotifyQueueFIFOPerProducer(t *testing.T) {
	for _, producers := range []int{1, 4, 16} {
		t.Run(fmt.Sprintf("producers=%d", producers), func(t *testing.T) {
			perProducer := 48000 / producers
			// A small ring makes the producers lap it and hit full often.
			q := newNotifyQueue[notifyMsg](64)
			var wg sync.WaitGroup
			for p := range producers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < perProducer; {
						switch err := q.push(notifyMsg{p, i}); err {
						case nil:
							i++
						case ErrNotifyFull:
							runtime.Gosched()
						default:
							t.Errorf("push: %v", err)
							return
						}
					}
				}()
			}
			next := make([]int, producers)
			deadline := time.Now().Add(30 * time.Second)
			for got := 0; got < producers*perProducer; {
				m, ok := q.pop()
				if !ok {
					if time.Now().After(deadline) {
						t.Fatalf("timed out after %d of %d messages", got, producers*perProducer)
					}
					runtime.Gosched()
					continue
				}
				notifyCheckOrder(t, next, m)
				got++
			}
			wg.Wait()
			if m, ok := q.pop(); ok {
				t.Fatalf("extra message %+v", m)
			}
		})
	}
}

func TestNotifyQueueCapacityRounding(t *testing.T) {
	for _, c := range []struct{ in, want int }{
		{0, 2}, {1, 2}, {2, 2}, {3, 4}, {5, 8}, {8, 8}, {4096, 4096}, {4097, 8192},
	} {
		if got := newNotifyQueue[int](c.in).capacity(); got != c.want {
			t.Errorf("capacity(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestNotifyQueueFull(t *testing.T) {
	q := newNotifyQueue[int](8)
	// Go round the ring a few times so that fullness is checked on later
	// laps too, not only on fresh cells.
	for lap := range 3 {
		for i := range 8 {
			if err := q.push(i); err != nil {
				t.Fatalf("lap %d: push %d: %v", lap, i, err)
			}
		}
		if err := q.push(8); err != ErrNotifyFull {
			t.Fatalf("lap %d: push beyond capacity: got %v, want ErrNotifyFull", lap, err)
		}
		if m, ok := q.pop(); !ok || m != 0 {
			t.Fatalf("lap %d: pop = %d, %v; want 0, true", lap, m, ok)
		}
		if err := q.push(100); err != nil {
			t.Fatalf("lap %d: push after pop: %v", lap, err)
		}
		if err := q.push(101); err != ErrNotifyFull {
			t.Fatalf("lap %d: second push after one pop: got %v, want ErrNotifyFull", lap, err)
		}
		for i, want := range []int{1, 2, 3, 4, 5, 6, 7, 100} {
			if m, ok := q.pop(); !ok || m != want {
				t.Fatalf("lap %d: pop %d = %d, %v; want %d, true", lap, i, m, ok, want)
			}
		}
		if _, ok := q.pop(); ok {
			t.Fatalf("lap %d: pop on empty queue succeeded", lap)
		}
	}
}

func TestNotifyQueueClosed(t *testing.T) {
	s, q, w := newNotifyTestSender[int](4)
	if err := s.Send(1); err != nil {
		t.Fatal(err)
	}
	q.close()
	q.close() // idempotent
	if err := q.push(2); err != ErrClosed {
		t.Fatalf("push after close: got %v, want ErrClosed", err)
	}
	q.resetWake()
	err := s.Send(3)
	if err != ErrClosed || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Send after close: got %v, want ErrClosed", err)
	}
	if n := w.calls.Load(); n != 1 {
		t.Fatalf("Send after close woke the loop: %d wake-ups, want 1", n)
	}
	// A full queue that is then closed reports closed, not full.
	q2 := newNotifyQueue[int](2)
	q2.push(1)
	q2.push(2)
	q2.close()
	if err := q2.push(3); err != ErrClosed {
		t.Fatalf("push on full closed queue: got %v, want ErrClosed", err)
	}
}

// TestNotifyQueueCloseRace checks that pushes racing with close either
// succeed before it or fail with ErrClosed, and that none succeeds once
// close has returned.
func TestNotifyQueueCloseRace(t *testing.T) {
	for range 50 {
		q := newNotifyQueue[int](1024)
		var closed atomic.Bool
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := 0; i < 200; i++ {
					after := closed.Load()
					switch err := q.push(i); {
					case err == ErrClosed:
						return
					case err != nil:
						t.Errorf("push: %v", err)
						return
					case after:
						t.Errorf("push succeeded after close returned")
						return
					}
				}
			}()
		}
		close(start)
		runtime.Gosched()
		q.close()
		closed.Store(true)
		wg.Wait()
	}
}

func TestSenderWakeCoalescing(t *testing.T) {
	s, q, w := newNotifyTestSender[int](64)
	for i := range 10 {
		if err := s.Send(i); err != nil {
			t.Fatal(err)
		}
	}
	if n := w.calls.Load(); n != 1 {
		t.Fatalf("10 sends without reset: %d wake-ups, want 1", n)
	}
	// Draining alone does not re-arm: only resetWake does.
	for {
		if _, ok := q.pop(); !ok {
			break
		}
	}
	s.Send(10)
	if n := w.calls.Load(); n != 1 {
		t.Fatalf("send after drain without reset: %d wake-ups, want 1", n)
	}
	q.resetWake()
	s.Send(11)
	s.Send(12)
	if n := w.calls.Load(); n != 2 {
		t.Fatalf("sends after reset: %d wake-ups, want 2", n)
	}
	// A failed push does not claim the wake-up.
	q.resetWake()
	for s.Send(0) == nil {
	}
	if n := w.calls.Load(); n != 3 {
		t.Fatalf("after filling the queue: %d wake-ups, want 3", n)
	}
}

func TestSenderWakeError(t *testing.T) {
	q := newNotifyQueue[int](8)
	fail := true
	calls := 0
	s := &Sender[int]{q: q, wake: func() error {
		calls++
		if fail {
			return ErrClosed
		}
		return nil
	}}
	if err := s.Send(1); err != ErrClosed {
		t.Fatalf("Send with failing wake: got %v, want ErrClosed", err)
	}
	// The failed wake-up must not leave the flag set, or no later Send
	// would try again.
	fail = false
	if err := s.Send(2); err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Fatalf("wake calls = %d, want 2", calls)
	}
}

// TestSenderNoLostWakeup runs producers against a consumer that behaves like
// the loop: reset the wake flag, drain, and sleep until woken when the queue
// is empty. A lost wake-up leaves the consumer asleep with messages queued,
// which the deadline turns into a failure instead of a hang.
func TestSenderNoLostWakeup(t *testing.T) {
	const (
		producers   = 8
		perProducer = 20000
		total       = producers * perProducer
	)
	// Small, so that producers often find it full and back off, and the
	// consumer often empties it and sleeps.
	s, q, w := newNotifyTestSender[notifyMsg](16)
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perProducer; {
				switch err := s.Send(notifyMsg{p, i}); err {
				case nil:
					i++
					if i%64 == 0 {
						runtime.Gosched()
					}
				case ErrNotifyFull:
					runtime.Gosched()
				default:
					t.Errorf("Send: %v", err)
					return
				}
			}
		}()
	}
	next := make([]int, producers)
	got, sleeps := 0, 0
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for got < total {
		q.resetWake()
		for {
			m, ok := q.pop()
			if !ok {
				break
			}
			notifyCheckOrder(t, next, m)
			got++
		}
		if got == total {
			break
		}
		sleeps++
		timer.Reset(10 * time.Second)
		select {
		case <-w.ch:
		case <-timer.C:
			t.Fatalf("lost wake-up: consumer asleep with %d of %d messages received", got, total)
		}
	}
	wg.Wait()
	t.Logf("%d messages, %d wake-ups, %d sleeps", total, w.calls.Load(), sleeps)
}

// notifyBig is large enough to get its own heap object, so that whether it is
// still reachable can be told.
type notifyBig struct {
	_ [8]uint64
}

func TestNotifyQueuePopClearsCell(t *testing.T) {
	q := newNotifyQueue[*notifyBig](4)
	m := &notifyBig{}
	wp := weak.Make(m)
	if err := q.push(m); err != nil {
		t.Fatal(err)
	}
	m = nil
	got, ok := q.pop()
	if !ok || got == nil {
		t.Fatal("pop found nothing")
	}
	got = nil
	if q.cells[0].msg != nil {
		t.Fatal("popped cell still holds the message")
	}
	runtime.GC()
	if wp.Value() != nil {
		t.Fatal("popped message is still reachable")
	}
	runtime.KeepAlive(q)
}

func TestNotifyQueueDiscard(t *testing.T) {
	q := newNotifyQueue[*notifyBig](4)
	wps := make([]weak.Pointer[notifyBig], 3)
	for i := range wps {
		m := &notifyBig{}
		wps[i] = weak.Make(m)
		if err := q.push(m); err != nil {
			t.Fatal(err)
		}
	}
	q.close()
	q.discard()
	for i := range q.cells {
		if q.cells[i].msg != nil {
			t.Fatalf("cell %d still holds a message after discard", i)
		}
	}
	runtime.GC()
	for i, wp := range wps {
		if wp.Value() != nil {
			t.Fatalf("discarded message %d is still reachable", i)
		}
	}
	if _, ok := q.pop(); ok {
		t.Fatal("pop after discard found a message")
	}
	runtime.KeepAlive(q)
}

func TestNotifyAllocs(t *testing.T) {
	s, q, _ := newNotifyTestSender[*notifyBig](16)
	m := &notifyBig{}
	// Every run resets the flag, so each Send takes the wake-up path too.
	allocs := testing.AllocsPerRun(1000, func() {
		q.resetWake()
		if err := s.Send(m); err != nil {
			t.Fatal(err)
		}
		if _, ok := q.pop(); !ok {
			t.Fatal("pop found nothing")
		}
	})
	if allocs != 0 {
		t.Fatalf("Send+pop of a pointer: %v allocations, want 0", allocs)
	}
	s2, q2, _ := newNotifyTestSender[notifyMsg](16)
	allocs = testing.AllocsPerRun(1000, func() {
		s2.Send(notifyMsg{1, 2})
		q2.pop()
		q2.push(notifyMsg{3, 4})
		q2.pop()
	})
	if allocs != 0 {
		t.Fatalf("Send+pop of a struct: %v allocations, want 0", allocs)
	}
}

// BenchmarkNotifyQueue and BenchmarkChan measure the cost of one message
// from a producer goroutine to the single consumer, for the queue and for a
// buffered channel of the same capacity, so that the two can be compared in
// one run. Neither side ever blocks, since Send must not (the channel uses
// select with default): a producer yields when it finds the queue full, the
// consumer yields when it finds it empty.

func notifyBenchProducers(b *testing.B, run func(b *testing.B, producers int)) {
	for _, p := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("producers=%d", p), func(b *testing.B) { run(b, p) })
	}
}

// notifySplit divides n messages among p producers.
func notifySplit(n, p, i int) int {
	k := n / p
	if i < n%p {
		k++
	}
	return k
}

func BenchmarkNotifyQueue(b *testing.B) {
	notifyBenchProducers(b, func(b *testing.B, producers int) {
		q := newNotifyQueue[int](defaultNotifyCapacity)
		b.ReportAllocs()
		b.ResetTimer()
		var wg sync.WaitGroup
		for p := range producers {
			n := notifySplit(b.N, producers, p)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < n; {
					if q.push(i) == nil {
						i++
					} else {
						runtime.Gosched()
					}
				}
			}()
		}
		for got := 0; got < b.N; {
			if _, ok := q.pop(); ok {
				got++
			} else {
				runtime.Gosched()
			}
		}
		wg.Wait()
	})
}

func BenchmarkChan(b *testing.B) {
	notifyBenchProducers(b, func(b *testing.B, producers int) {
		ch := make(chan int, defaultNotifyCapacity)
		b.ReportAllocs()
		b.ResetTimer()
		var wg sync.WaitGroup
		for p := range producers {
			n := notifySplit(b.N, producers, p)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < n; {
					select {
					case ch <- i:
						i++
					default:
						runtime.Gosched()
					}
				}
			}()
		}
		for got := 0; got < b.N; {
			select {
			case <-ch:
				got++
			default:
				runtime.Gosched()
			}
		}
		wg.Wait()
	})
}
