package mio

import (
	"errors"
	"math/bits"
	"sync/atomic"

	"golang.org/x/sys/cpu"
)

// ErrNotifyFull is returned by Send when the loop's message queue holds
// Config.NotifyCapacity messages (rounded up to a power of two) that the loop
// has not yet taken. The message was not queued; the caller may retry once
// the loop has caught up, or drop it. Send never blocks, so a full queue has
// to be reported rather than waited out.
var ErrNotifyFull = errors.New("mio: notify queue is full")

// Sender posts messages to an EventLoop from any goroutine; the loop hands
// each one to its Handler's Notify, on the loop's goroutine. Get one from the
// loop's Channel method; all Senders of a loop share one queue.
type Sender[M any] struct {
	q *notifyQueue[M]
	// wake interrupts the loop's poller. It is a function value, set by the
	// loop, rather than a *poller, so that Sender and its queue can be tested
	// without a loop; the indirect call costs nothing worth counting because
	// it is made at most once per loop iteration (see notifyQueue.claimWake),
	// next to a write(2) on the wake-up fd.
	wake func() error
}

// Send queues msg for the loop's Notify callback. It is safe from any
// goroutine, including the loop's own callbacks, never blocks and does not
// allocate. It returns ErrNotifyFull when the queue is full and ErrClosed
// once the loop is closed; with either error the message will not be
// delivered. Messages sent from one goroutine are delivered in the order
// they were sent; messages from different goroutines interleave in no
// promised order.
//
// A nil error means the message was queued before the loop was closed. A
// loop that is closed before it delivers a queued message drops it: once
// Close has been called, from a callback or from any goroutine, the loop
// delivers no message still queued (see EventLoop.Close).
//
// Send also returns the error of waking the loop, if that fails; the
// message is then queued, but the loop may not learn of it until something
// else wakes it. In practice waking fails only because the loop has just
// been closed, and then the error is ErrClosed.
func (s *Sender[M]) Send(msg M) error {
	if err := s.q.push(msg); err != nil {
		return err
	}
	if !s.q.claimWake() {
		return nil
	}
	if err := s.wake(); err != nil {
		// Let a later Send try again rather than trust a wake-up that never
		// happened.
		s.q.resetWake()
		return err
	}
	return nil
}

// notifyQueue is the bounded multi-producer, single-consumer queue behind
// Sender: any number of goroutines push, and only the loop's goroutine pops.
//
// It is a ring of cells, each with an atomic sequence number that says whose
// turn the cell is (after Dmitry Vyukov's bounded MPMC queue, with the
// consumer side reduced to one goroutine). A cell at index i serves the
// positions p with p&mask == i. Its sequence is p while it is free for the
// producer of position p, p+1 once that producer has stored the message,
// and p+len(cells) once the consumer has taken it, which makes it free for
// the producer one lap later. Producers claim a position with one
// compare-and-swap on tail; the consumer owns head outright. Neither side
// takes a lock or allocates after construction.
//
// Per-producer order holds because one goroutine's pushes claim increasing
// positions (each claim happens before its next push starts), and the
// consumer takes positions strictly in increasing order.
//
// A producer stopped between its claim and its store holds up delivery of
// the positions after it: pop reports the queue empty until the store
// lands. That window is a few instructions long, and the producer wakes the
// loop after its store as usual, so nothing is lost, only delayed.
type notifyQueue[M any] struct {
	// Read-only after construction, shared by all goroutines.
	cells []notifyCell[M]
	mask  uint64

	_ cpu.CacheLinePad
	// tail is the next position to claim. Its top bit, tailClosed, is set
	// by close; keeping it in the same word as the position makes "claim a
	// position" and "the queue is open" one atomic step.
	tail atomic.Uint64

	_ cpu.CacheLinePad
	// wakeArmed is 1 while a wake-up has been asked for since the consumer
	// last called resetWake; see claimWake.
	wakeArmed atomic.Uint32

	_ cpu.CacheLinePad
	// head is the next position to take; only the consumer touches it.
	head uint64
	_    cpu.CacheLinePad
}

// notifyCell is one slot of the ring; seq says whose turn it is (see
// notifyQueue).
type notifyCell[M any] struct {
	seq atomic.Uint64
	msg M
}

// tailClosed marks a closed queue in notifyQueue.tail. Positions never reach
// it: at one push per nanosecond that takes almost three centuries.
const tailClosed = 1 << 63

// newNotifyQueue makes a queue that holds capacity messages, rounded up to a
// power of two (at least 2) so that a position maps to its cell with a mask
// instead of a division, and so that the sequence numbers of the previous and
// the next lap of a cell stay apart. The default Config.NotifyCapacity, 4096,
// is already one.
func newNotifyQueue[M any](capacity int) *notifyQueue[M] {
	n := uint64(2)
	if capacity > 2 {
		n = 1 << bits.Len64(uint64(capacity)-1)
	}
	q := &notifyQueue[M]{cells: make([]notifyCell[M], n), mask: n - 1}
	for i := range q.cells {
		q.cells[i].seq.Store(uint64(i))
	}
	return q
}

// capacity is how many messages the queue holds before push reports
// ErrNotifyFull.
func (q *notifyQueue[M]) capacity() int { return len(q.cells) }

// push appends msg. It never blocks: it returns ErrNotifyFull when every
// cell holds a message the consumer has not taken, and ErrClosed once close
// has been called. It is safe from any number of goroutines at once.
//
// A push that overlaps close either claimed its position before close set
// the closed bit, and returns nil, or fails with ErrClosed; there is no
// third outcome. A nil return therefore means "accepted", not "will be
// delivered": the loop drops whatever is queued when it closes.
func (q *notifyQueue[M]) push(msg M) error {
	pos := q.tail.Load()
	for {
		if pos&tailClosed != 0 {
			return ErrClosed
		}
		c := &q.cells[pos&q.mask]
		seq := c.seq.Load()
		switch diff := int64(seq - pos); {
		case diff == 0:
			// The cell is free for this position; claim it. The CAS fails
			// if another producer claimed it first or close set the closed
			// bit, and the loop looks again.
			if q.tail.CompareAndSwap(pos, pos+1) {
				c.msg = msg
				c.seq.Store(pos + 1) // publish: the consumer may take it now
				return nil
			}
		case diff < 0:
			// The cell still holds the message from one lap ago.
			return ErrNotifyFull
		}
		// diff > 0: pos is stale, other producers have moved on.
		pos = q.tail.Load()
	}
}

// pop takes the oldest message, or reports false when there is none ready.
// Only the consumer (the loop's goroutine) may call it. The cell is cleared
// so that the queue does not keep the message's pointers alive.
func (q *notifyQueue[M]) pop() (M, bool) {
	var zero M
	c := &q.cells[q.head&q.mask]
	if c.seq.Load() != q.head+1 {
		return zero, false
	}
	msg := c.msg
	c.msg = zero
	// Free the cell for the producer one lap ahead.
	c.seq.Store(q.head + q.mask + 1)
	q.head++
	return msg, true
}

// close makes every later push fail with ErrClosed. It is safe from any
// goroutine and may be called more than once. Messages still queued are not
// delivered; discard releases them.
func (q *notifyQueue[M]) close() { q.tail.Or(tailClosed) }

// discard drops every message that pop could still return, clearing the
// cells, so that Senders that outlive a closed loop do not keep the
// messages' memory alive. Only the consumer, or a goroutine that runs after
// the consumer has stopped for good, may call it. Call it after close:
// messages pushed after discard returns would stay.
func (q *notifyQueue[M]) discard() {
	for {
		if _, ok := q.pop(); !ok {
			return
		}
	}
}

// Wake-up coalescing. A wake-up is a write(2) on the poller's wake-up fd,
// which costs far more than a push, so a push makes one only when the
// consumer may be about to sleep:
//
//   - The producer pushes (its seq store publishes the message) and then
//     calls claimWake; only the call that turns wakeArmed from 0 to 1 wakes
//     the loop.
//   - The consumer, each time it is about to poll with a timeout that is not
//     zero, first calls resetWake and then ready; if a message is ready it
//     polls without sleeping. While it is busy dispatching, wakeArmed stays
//     1 and pushes make no system call at all.
//
// No message is left behind while the consumer sleeps. Go's atomics are
// sequentially consistent, so all of them fall in one total order. Take a
// push P whose claimWake reads wakeArmed at L, and the consumer's next
// reset R before a sleeping poll, followed by its check C. If L comes
// before R, the publish (before L) comes before C, which finds the message.
// If L comes after R and reads 0, P wakes the loop itself. If L comes after
// R and reads 1, some claimWake W between R and L turned 0 into 1 and its
// goroutine writes the wake-up fd, which stays readable until a poll
// consumes it: the poll that follows returns, and before the consumer
// sleeps again it resets and checks after L, so by the same three cases the
// message is found or another wake-up is on its way.
//
// A producer still between claim and publish makes ready report false; its
// own claimWake, after its publish, is covered by the argument above.

// claimWake reports whether the caller must wake the consumer: true for
// exactly one caller between two resetWake calls. The plain load first keeps
// producers from writing the shared cache line while a wake-up is already
// pending, which is the common case under load.
func (q *notifyQueue[M]) claimWake() bool {
	return q.wakeArmed.Load() == 0 && q.wakeArmed.Swap(1) == 0
}

// resetWake re-arms the wake-up. The consumer calls it before a poll that
// may sleep, then checks ready.
func (q *notifyQueue[M]) resetWake() { q.wakeArmed.Store(0) }

// ready reports whether pop would return a message. Consumer only.
func (q *notifyQueue[M]) ready() bool {
	return q.cells[q.head&q.mask].seq.Load() == q.head+1
}

// Channel returns the loop's Sender, through which any goroutine can send
// messages to the handler's Notify. The queue holds Config.NotifyCapacity
// messages, rounded up to a power of two. Messages still queued when the
// loop is closed are dropped, never delivered.
func (l *EventLoop[M]) Channel() *Sender[M] { return l.sender }

// deliverMessages hands at most Config.MessagesPerTick queued messages to
// the handler, so that a busy sender cannot starve I/O; what is left makes
// the next poll return at once (see pollTimeout).
func (l *EventLoop[M]) deliverMessages(h Handler[M]) {
	for range l.cfg.MessagesPerTick {
		if l.closing.Load() {
			return // Close drops what is queued; release discards it
		}
		msg, ok := l.notify.pop()
		if !ok {
			return
		}
		l.counters.st.Messages++
		h.Notify(l, msg)
	}
}

// mustNotSleep prepares a poll that may sleep: it re-arms the senders'
// wake-up and reports whether a message is already waiting (see the
// wake-up argument above).
func (l *EventLoop[M]) mustNotSleep() bool {
	l.notify.resetWake()
	return l.notify.ready()
}
