package mio

import (
	"math"
	"time"
)

// Timeout is the handle returned when a timeout is set; pass it to
// ClearTimeout to cancel that timeout. It is a small comparable value, so it
// can be stored in a struct or used as a map key without allocating.
//
// A handle names exactly one timeout: once that timeout has fired or been
// cleared, the handle stays dead even after the queue reuses its storage for
// a newer timeout, so clearing a stale handle is harmless. The zero value is
// never a live timeout, which lets "no timeout set" be spelled Timeout{}.
type Timeout struct {
	slot uint32 // index into timerQueue.slots
	gen  uint32 // the slot's generation when the timeout was set; never 0
}

// timerNoSlot marks a slot that is neither live nor on the free list: it has
// been retired because its generation counter ran out.
const timerNoSlot = math.MaxUint32

// timerMaxSlots bounds the slot table so that every index, and every index
// plus one (the free-list encoding), fits in a uint32 and never collides with
// timerNoSlot.
const timerMaxSlots = math.MaxUint32 - 1

// timerArity is the heap's branching factor. A 4-ary heap is half as deep as
// a binary one, and a node's four children share one or two cache lines, so
// sift-down on pop and cancel touches fewer lines for the same comparisons.
const timerArity = 4

// timerEntry is one heap element. The ordering key is copied into the heap
// rather than read through the slot index so that sifting compares adjacent
// memory instead of chasing an index into the slot table for every
// comparison, which dominates once the queue outgrows the cache.
type timerEntry struct {
	deadline int64  // monotonic nanoseconds
	seq      uint64 // order of insertion, breaks ties between equal deadlines
	slot     uint32 // owner of this entry in timerQueue.slots
}

// before is the heap order: earlier deadline first, and among equal
// deadlines the one added first, so timers due together fire in the order
// they were set.
func (a *timerEntry) before(b *timerEntry) bool {
	if a.deadline != b.deadline {
		return a.deadline < b.deadline
	}
	return a.seq < b.seq
}

// timerSlot is the stable home of one timeout; the heap entry moves, the
// slot does not, which is what lets a Timeout handle find its entry in O(1).
type timerSlot struct {
	token Token
	gen   uint32 // generation issued to the current or next occupant
	// pos is the entry's index in the heap while the slot is live. While the
	// slot is free it is the next free slot plus one (0 ends the list), and
	// timerNoSlot once the slot is retired.
	pos uint32
}

// timerQueue holds the pending timeouts of one event loop. It is not safe for
// concurrent use; the loop calls it only from its own goroutine.
//
// Capacity is growable and bounded only by memory (and by 2^32-2 slots). A
// fixed capacity would turn a burst of timeouts into errors for the
// application to handle, while the cost of growth is paid only when more
// timeouts are live at once than ever before: freed slots go on a free list
// and the heap shrinks by reslicing, so a loop in steady state sets and
// clears timeouts without allocating. The backing arrays are kept at their
// high-water mark rather than shrunk, since a loop that once needed that many
// timeouts is likely to need them again.
//
// Cancellation removes the entry from the heap at once (each slot remembers
// its heap position) instead of marking it dead and leaving it for the pop to
// discard: lazy deletion lets the heap grow without bound when timeouts are
// set and cleared faster than they expire, which is the common pattern for
// idle and request deadlines that are almost always cleared.
//
// The zero value is an empty queue ready for use.
type timerQueue struct {
	heap  []timerEntry
	slots []timerSlot
	free  uint32 // first free slot plus one; 0 when the free list is empty
	seq   uint64 // sequence number for the next add; 2^64 adds never wrap
}

// len returns the number of live timeouts.
func (q *timerQueue) len() int { return len(q.heap) }

// add schedules token to expire at deadline (monotonic nanoseconds on the
// loop's clock) and returns its handle. Deadlines in the past are allowed:
// the timeout is simply due at the next expire. It panics only if more than
// 2^32-2 slots would be needed, some 160 GB of live timeouts.
func (q *timerQueue) add(token Token, deadline int64) Timeout {
	var idx uint32
	if q.free != 0 {
		idx = q.free - 1
		q.free = q.slots[idx].pos
	} else {
		if uint64(len(q.slots)) >= timerMaxSlots {
			panic("mio: too many timeouts")
		}
		idx = uint32(len(q.slots))
		// Generations start at 1 so that the zero Timeout never matches.
		q.slots = append(q.slots, timerSlot{gen: 1})
	}
	s := &q.slots[idx]
	s.token = token
	i := len(q.heap)
	q.heap = append(q.heap, timerEntry{deadline: deadline, seq: q.seq, slot: idx})
	q.seq++
	s.pos = uint32(i)
	q.up(i)
	return Timeout{slot: idx, gen: s.gen}
}

// cancel removes the timeout t names and reports whether it was live. It
// returns false for the zero Timeout and for a timeout that has already
// fired or been cancelled, even when its slot now holds a newer timeout.
func (q *timerQueue) cancel(t Timeout) bool {
	if uint64(t.slot) >= uint64(len(q.slots)) {
		return false
	}
	s := &q.slots[t.slot]
	// The generation check alone identifies the occupant; the heap check
	// also rejects a handle that was never issued (such as the zero value
	// against a retired slot) without relying on that reasoning.
	if t.gen == 0 || s.gen != t.gen || uint64(s.pos) >= uint64(len(q.heap)) ||
		q.heap[s.pos].slot != t.slot {
		return false
	}
	q.removeAt(int(s.pos))
	return true
}

// next returns the earliest deadline, which is what the loop needs to bound
// its poll timeout; ok is false when no timeout is pending.
func (q *timerQueue) next() (deadline int64, ok bool) {
	if len(q.heap) == 0 {
		return 0, false
	}
	return q.heap[0].deadline, true
}

// expire removes and returns one timeout whose deadline is at or before now:
// the earliest one, and among equal deadlines the first added. ok is false
// when nothing is due.
//
// It pops a single timeout per call, rather than collecting every due one,
// so that the callback for the returned token may freely add and cancel
// timeouts (including re-adding its own token) before the next call: the
// queue is always consistent between calls and a timeout cancelled by an
// earlier callback can never be returned afterwards.
func (q *timerQueue) expire(now int64) (token Token, ok bool) {
	if len(q.heap) == 0 || q.heap[0].deadline > now {
		return 0, false
	}
	return q.removeAt(0), true
}

// mark is the sequence number the next add will get: timeouts added before
// a call of mark are exactly those whose seq is below it.
func (q *timerQueue) mark() uint64 { return q.seq }

// expireMarked is expire limited to the timeouts added before mark. The
// loop takes mark and now once, at the start of an iteration, and calls
// expireMarked until it reports nothing: that fires every timeout that was
// set before the iteration and due at its start, in (deadline, seq) order,
// and no other, so a callback that keeps re-arming cannot make the loop
// fire for ever.
//
// Stopping at the first entry with seq >= mark loses no marked entry that
// is due, provided a timeout added during the iteration never has a
// deadline before now, which timerDeadline guarantees (it never returns
// less than the clock's reading, and the clock is monotonic): such an
// entry sorts after every marked entry due at now, since its deadline is
// at least now and, on a tie, its seq is larger.
func (q *timerQueue) expireMarked(now int64, mark uint64) (token Token, ok bool) {
	if len(q.heap) == 0 || q.heap[0].seq >= mark {
		return 0, false
	}
	return q.expire(now)
}

// removeAt takes the entry at heap index i out of the heap, frees its slot
// and returns its token.
func (q *timerQueue) removeAt(i int) Token {
	idx := q.heap[i].slot
	last := len(q.heap) - 1
	if i != last {
		// Fill the hole with the last entry, which may belong above or below
		// i: it came from another branch of the heap.
		q.heap[i] = q.heap[last]
		q.slots[q.heap[i].slot].pos = uint32(i)
		q.heap = q.heap[:last]
		if !q.up(i) {
			q.down(i)
		}
	} else {
		q.heap = q.heap[:last]
	}
	return q.release(idx)
}

// release returns slot idx to the free list and bumps its generation, which
// is what turns every outstanding handle to it stale. A slot whose
// generation would wrap is retired instead of reused: otherwise, after 2^32
// reuses of one slot (hours, for a busy loop that keeps reusing the same
// slot), a long-held stale handle would match again and cancel an unrelated
// timeout. Retiring costs one slot per 2^32 reuses.
func (q *timerQueue) release(idx uint32) Token {
	s := &q.slots[idx]
	token := s.token
	s.token = 0
	s.gen++
	if s.gen == 0 {
		s.pos = timerNoSlot
		return token
	}
	s.pos = q.free
	q.free = idx + 1
	return token
}

// up moves the entry at i toward the root until its parent is not after it,
// and reports whether it moved. It shifts parents down into the hole and
// writes the entry once, instead of swapping at every level.
func (q *timerQueue) up(i int) bool {
	e := q.heap[i]
	start := i
	for i > 0 {
		p := (i - 1) / timerArity
		if !e.before(&q.heap[p]) {
			break
		}
		q.heap[i] = q.heap[p]
		q.slots[q.heap[i].slot].pos = uint32(i)
		i = p
	}
	if i == start {
		return false
	}
	q.heap[i] = e
	q.slots[e.slot].pos = uint32(i)
	return true
}

// down moves the entry at i away from the root until none of its children
// is before it, shifting the smallest child up into the hole at each level.
func (q *timerQueue) down(i int) {
	h := q.heap
	e := h[i]
	start := i
	for {
		first := i*timerArity + 1
		if first >= len(h) {
			break
		}
		m := first
		end := min(first+timerArity, len(h))
		for c := first + 1; c < end; c++ {
			if h[c].before(&h[m]) {
				m = c
			}
		}
		if !h[m].before(&e) {
			break
		}
		h[i] = h[m]
		q.slots[h[i].slot].pos = uint32(i)
		i = m
	}
	if i != start {
		h[i] = e
		q.slots[e.slot].pos = uint32(i)
	}
}

// timerDeadline returns the deadline for a timeout set at now to expire
// after the given duration. A zero or negative duration means now: a
// deadline in the past would sort the timeout ahead of others that were due
// before it was set, and ahead of the timeouts being fired in the iteration
// that set it (see expireMarked). A huge duration saturates instead of
// overflowing: it must mean "practically never", not wrap negative and
// fire at once.
func timerDeadline(now int64, after time.Duration) int64 {
	if after <= 0 {
		return now
	}
	if d := now + int64(after); d >= now {
		return d
	}
	return math.MaxInt64
}

// Timeout arranges for the handler's Timeout to be called with token once
// after has passed on the monotonic clock: never early, and in the order
// they were set among timeouts due at the same time. A zero or negative
// after means now: it fires on the next iteration, after the timeouts that
// were due before it was set. A timeout set from a callback never fires in
// the iteration that set it. A duration too long for the clock saturates:
// the timeout then practically never fires, and no wait overflows. Like Register, it is called from the
// loop's goroutine or while the loop is not running. The timer queue grows
// as needed, bounded only by memory, and allocates nothing once it has held
// as many timeouts as it holds now.
func (l *EventLoop[M]) Timeout(token Token, after time.Duration) (Timeout, error) {
	if l.isClosed() {
		return Timeout{}, ErrClosed
	}
	return l.timers.add(token, timerDeadline(l.now(), after)), nil
}

// ClearTimeout cancels t and reports whether it was still pending. It
// returns false for a timeout that already fired or was cleared, and never
// cancels a newer timeout, even one that reuses t's slot.
func (l *EventLoop[M]) ClearTimeout(t Timeout) bool { return l.timers.cancel(t) }

// markTimers notes, at the start of an iteration, which timeouts it fires:
// those set before now and due by now (see expireMarked). It returns the
// clock it read, which it reads only when a timer is pending or the caller
// asks (clock): one reading serves both.
func (l *EventLoop[M]) markTimers(clock bool) int64 {
	l.fireMark = l.timers.mark()
	l.fireNow = math.MinInt64 // no timeout: nothing of this iteration's is due
	if l.timers.len() > 0 || clock {
		l.fireNow = l.now()
	}
	return l.fireNow
}

// fireTimers calls the handler for the timeouts that markTimers found due:
// a timeout set in this iteration, even with zero or negative delay, waits
// for the next one, so a timer re-arming itself cannot starve I/O or the
// other timers, and timeouts due together fire in the order they were set.
func (l *EventLoop[M]) fireTimers(h Handler[M]) {
	for l.timers.len() > 0 && !l.closing.Load() {
		token, ok := l.timers.expireMarked(l.fireNow, l.fireMark)
		if !ok {
			return
		}
		l.counters.st.Timeouts++
		h.Timeout(l, token)
	}
}
