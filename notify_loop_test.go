//go:build unix

package mio

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestNotifyWakesSleepingLoop(t *testing.T) {
	l := newLoop(t)
	r := &recorder{}
	r.onNotify = func(l *EventLoop[int], m int) {
		if m == 3 {
			l.Shutdown()
		}
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(r) }()
	for i := 1; i <= 3; i++ {
		if err := l.Channel().Send(i); err != nil {
			t.Fatal(err)
		}
	}
	awaitRun(t, l, done, "messages not delivered to a sleeping loop")
	if fmt.Sprint(r.msgs) != "[1 2 3]" {
		t.Fatalf("got %v, want [1 2 3]", r.msgs)
	}
}

// Messages from each sender arrive in the order it sent them, with several
// senders at once.
func TestNotifyPerSenderOrder(t *testing.T) {
	const senders, each = 4, 2000
	l, err := NewEventLoop[int](Config{NotifyCapacity: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r := &recorder{}
	last := make([]int, senders)
	for i := range last {
		last[i] = -1
	}
	r.onNotify = func(l *EventLoop[int], m int) {
		s, seq := m/each, m%each
		if seq != last[s]+1 {
			t.Errorf("sender %d: message %d after %d", s, seq, last[s])
		}
		last[s] = seq
		if len(r.msgs) == senders*each {
			l.Shutdown()
		}
	}
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; {
				err := l.Channel().Send(s*each + i)
				switch {
				case err == nil:
					i++
				case errors.Is(err, ErrNotifyFull):
					time.Sleep(10 * time.Microsecond) // back off; the loop drains
				default:
					t.Error(err)
					return
				}
			}
		}()
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(r) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		l.Shutdown()
		<-done
		t.Fatalf("delivered %d of %d", len(r.msgs), senders*each)
	}
	wg.Wait()
}

func TestNotifyFullAndClosed(t *testing.T) {
	l, err := NewEventLoop[int](Config{NotifyCapacity: 4})
	if err != nil {
		t.Fatal(err)
	}
	s := l.Channel()
	for i := range 4 {
		if err := s.Send(i); err != nil {
			t.Fatalf("send %d of 4: %v", i, err)
		}
	}
	if err := s.Send(4); !errors.Is(err, ErrNotifyFull) {
		t.Fatalf("send beyond capacity: %v, want ErrNotifyFull", err)
	}
	l.Close()
	if err := s.Send(5); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after Close: %v, want ErrClosed", err)
	}
}

// At most MessagesPerTick messages are delivered per iteration, and what
// is left is delivered without the loop sleeping.
func TestNotifyBudgetPerIteration(t *testing.T) {
	l, err := NewEventLoop[int](Config{MessagesPerTick: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 25 {
		l.Channel().Send(i)
	}
	r := &recorder{}
	var perIteration []int
	for range 3 {
		before := len(r.msgs)
		start := time.Now()
		if err := l.RunOnce(r, time.Minute); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("the loop slept with messages still queued")
		}
		perIteration = append(perIteration, len(r.msgs)-before)
	}
	if fmt.Sprint(perIteration) != "[10 10 5]" {
		t.Fatalf("messages per iteration %v, want [10 10 5]", perIteration)
	}
}

// Once the messages are delivered the wake-up fd is drained: the next poll
// sleeps instead of returning at once.
func TestNotifyWakeupIsDrained(t *testing.T) {
	l := newLoop(t)
	r := &recorder{}
	for i := range 100 {
		l.Channel().Send(i)
	}
	runOnce(t, l, r, time.Second)
	if len(r.msgs) != 100 {
		t.Fatalf("delivered %d of 100", len(r.msgs))
	}
	n, woken, err := l.poller.wait(l.events, 0)
	if err != nil || n != 0 || woken {
		t.Fatalf("after delivery a poll found %d events, woken=%v, %v: the wake-up fd was left readable", n, woken, err)
	}
}

func TestNotifySendAllocatesNothing(t *testing.T) {
	l := newLoop(t)
	r := &recorder{msgs: make([]int, 0, 1024)}
	var sendErr, runErr error
	allocs := testing.AllocsPerRun(200, func() {
		if err := l.Channel().Send(1); err != nil {
			sendErr = err
		}
		if err := l.RunOnce(r, 0); err != nil {
			runErr = err
		}
		r.msgs = r.msgs[:0]
	})
	if sendErr != nil || runErr != nil {
		t.Fatalf("Send: %v, RunOnce: %v", sendErr, runErr)
	}
	if allocs != 0 {
		t.Fatalf("Send and delivery allocate %v times per message", allocs)
	}
}

// BenchmarkSendNotify measures messages from 1, 4 and 16 goroutines to the
// loop's Notify, and beside it a buffered channel drained by one goroutine.
func BenchmarkSendNotify(b *testing.B) {
	for _, senders := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("mio/senders=%d", senders), func(b *testing.B) {
			benchLoopNotify(b, senders)
		})
		b.Run(fmt.Sprintf("chan/senders=%d", senders), func(b *testing.B) {
			benchChanNotify(b, senders)
		})
	}
}

type countNotify struct {
	NopHandler[int]
	got, want int
}

func (c *countNotify) Notify(l *EventLoop[int], _ int) {
	c.got++
	if c.got == c.want {
		l.Shutdown()
	}
}

// split divides n messages among senders.
func split(n, senders, i int) int {
	share := n / senders
	if i < n%senders {
		share++
	}
	return share
}

func benchLoopNotify(b *testing.B, senders int) {
	l := newLoop(b)
	h := &countNotify{want: b.N}
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := l.Channel()
			for n := split(b.N, senders, i); n > 0; {
				if s.Send(1) == nil {
					n--
				} else {
					time.Sleep(time.Microsecond) // full: let the loop drain
				}
			}
		}()
	}
	if err := l.Run(h); err != nil {
		b.Fatal(err)
	}
	wg.Wait()
}

func benchChanNotify(b *testing.B, senders int) {
	ch := make(chan int, defaultNotifyCapacity)
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range split(b.N, senders, i) {
				ch <- 1
			}
		}()
	}
	for range b.N {
		<-ch
	}
	wg.Wait()
}

// Close from inside Notify: the messages still queued are dropped, and Run
// returns once the callback does.
func TestCloseInNotifyDropsQueued(t *testing.T) {
	l := newLoop(t)
	r := &recorder{}
	r.onNotify = func(l *EventLoop[int], m int) {
		if m == 1 {
			if err := l.Close(); err != nil {
				t.Errorf("Close in Notify: %v", err)
			}
		}
	}
	for i := 1; i <= 5; i++ {
		if err := l.Channel().Send(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Run(r); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(r.msgs) != "[1]" {
		t.Fatalf("delivered %v after Close, want [1]", r.msgs)
	}
	if r.ticks != 0 {
		t.Fatalf("Tick ran %d times after Close", r.ticks)
	}
}

// Close from another goroutine while Notify runs: once Close has returned
// nothing queued is delivered, neither in this iteration nor later.
func TestCloseFromAnotherGoroutineDropsQueued(t *testing.T) {
	l := newLoop(t)
	entered, release := make(chan struct{}), make(chan struct{})
	r := &recorder{}
	r.onNotify = func(l *EventLoop[int], m int) {
		if m == 1 {
			close(entered)
			<-release
		}
	}
	if err := l.Channel().Send(1); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(r) }()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("Notify(1) not called")
	}
	for i := 2; i <= 4; i++ {
		if err := l.Channel().Send(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Channel().Send(5); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v, want ErrClosed", err)
	}
	close(release)
	awaitRun(t, l, done, "Run did not return after Close")
	if fmt.Sprint(r.msgs) != "[1]" {
		t.Fatalf("delivered %v, want [1]: 2-4 were queued when Close returned", r.msgs)
	}
}
