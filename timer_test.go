package mio

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// checkTimerQueue verifies every structural invariant of q: the heap order,
// the slot <-> heap position links, the generations, and that each slot is
// exactly one of live, free or retired.
func checkTimerQueue(tb testing.TB, q *timerQueue) {
	tb.Helper()
	live := make(map[uint32]bool, len(q.heap))
	for i := range q.heap {
		e := &q.heap[i]
		if i > 0 {
			if p := (i - 1) / timerArity; e.before(&q.heap[p]) {
				tb.Fatalf("heap order: entry %d (%d,%d) before parent %d (%d,%d)",
					i, e.deadline, e.seq, p, q.heap[p].deadline, q.heap[p].seq)
			}
		}
		if uint64(e.slot) >= uint64(len(q.slots)) {
			tb.Fatalf("heap entry %d names slot %d of %d", i, e.slot, len(q.slots))
		}
		if live[e.slot] {
			tb.Fatalf("slot %d appears twice in the heap", e.slot)
		}
		live[e.slot] = true
		s := &q.slots[e.slot]
		if s.pos != uint32(i) {
			tb.Fatalf("slot %d says heap position %d, is at %d", e.slot, s.pos, i)
		}
		if s.gen == 0 {
			tb.Fatalf("live slot %d has generation 0", e.slot)
		}
		if e.seq >= q.seq {
			tb.Fatalf("entry %d has seq %d, queue is only at %d", i, e.seq, q.seq)
		}
	}
	free := 0
	seen := make(map[uint32]bool)
	for f := q.free; f != 0; f = q.slots[f-1].pos {
		idx := f - 1
		if uint64(idx) >= uint64(len(q.slots)) {
			tb.Fatalf("free list names slot %d of %d", idx, len(q.slots))
		}
		if live[idx] || seen[idx] {
			tb.Fatalf("free slot %d is live or listed twice", idx)
		}
		if q.slots[idx].gen == 0 {
			tb.Fatalf("free slot %d has generation 0", idx)
		}
		if q.slots[idx].token != 0 {
			tb.Fatalf("free slot %d keeps token %d", idx, q.slots[idx].token)
		}
		seen[idx] = true
		free++
	}
	retired := 0
	for i := range q.slots {
		if s := &q.slots[i]; s.pos == timerNoSlot && s.gen == 0 {
			retired++
		}
	}
	if got := len(q.heap) + free + retired; got != len(q.slots) {
		tb.Fatalf("%d live + %d free + %d retired slots, want %d",
			len(q.heap), free, retired, len(q.slots))
	}
}

// timerRef is the reference model: the live timeouts kept sorted by
// (deadline, insertion order), plus every handle ever issued so that stale
// handles keep being exercised.
type timerRef struct {
	q       timerQueue
	live    []timerRefEntry
	handles []Timeout
	seq     uint64
	token   Token
	now     int64
}

type timerRefEntry struct {
	deadline int64
	seq      uint64
	token    Token
	h        Timeout
}

func (m *timerRef) add(tb testing.TB, deadline int64) {
	m.token++
	h := m.q.add(m.token, deadline)
	if h == (Timeout{}) {
		tb.Fatalf("add returned the zero Timeout")
	}
	e := timerRefEntry{deadline: deadline, seq: m.seq, token: m.token, h: h}
	m.seq++
	i, _ := slices.BinarySearchFunc(m.live, e, func(a, b timerRefEntry) int {
		if a.deadline != b.deadline {
			if a.deadline < b.deadline {
				return -1
			}
			return 1
		}
		if a.seq < b.seq {
			return -1
		}
		return 1
	})
	m.live = slices.Insert(m.live, i, e)
	m.handles = append(m.handles, h)
}

func (m *timerRef) cancel(tb testing.TB, h Timeout) {
	want := false
	for i := range m.live {
		if m.live[i].h == h {
			m.live = slices.Delete(m.live, i, i+1)
			want = true
			break
		}
	}
	if got := m.q.cancel(h); got != want {
		tb.Fatalf("cancel(%+v) = %v, want %v", h, got, want)
	}
}

func (m *timerRef) expire(tb testing.TB) {
	var want Token
	wantOK := len(m.live) > 0 && m.live[0].deadline <= m.now
	if wantOK {
		want = m.live[0].token
		m.live = m.live[1:]
	}
	got, ok := m.q.expire(m.now)
	if got != want || ok != wantOK {
		tb.Fatalf("expire(%d) = %d, %v; want %d, %v", m.now, got, ok, want, wantOK)
	}
}

// expireMarked checks the loop's bounded firing: only entries added before
// mark come out, in the model's order.
func (m *timerRef) expireMarked(tb testing.TB, mark uint64) {
	var want Token
	wantOK := len(m.live) > 0 && m.live[0].deadline <= m.now && m.live[0].seq < mark
	if wantOK {
		want = m.live[0].token
		m.live = m.live[1:]
	}
	got, ok := m.q.expireMarked(m.now, mark)
	if got != want || ok != wantOK {
		tb.Fatalf("expireMarked(%d, %d) = %d, %v; want %d, %v", m.now, mark, got, ok, want, wantOK)
	}
}

// compare checks the cheap observable state after every operation.
func (m *timerRef) compare(tb testing.TB) {
	if m.q.len() != len(m.live) {
		tb.Fatalf("len = %d, want %d", m.q.len(), len(m.live))
	}
	d, ok := m.q.next()
	if ok != (len(m.live) > 0) || (ok && d != m.live[0].deadline) {
		tb.Fatalf("next = %d, %v; model has %d live", d, ok, len(m.live))
	}
}

// step applies one operation chosen by op, with arg as its parameter. Small
// deadline ranges make equal deadlines common, so FIFO order is exercised.
func (m *timerRef) step(tb testing.TB, op byte, arg uint32) {
	switch op % 8 {
	case 0, 1, 2:
		// Mostly near deadlines, for ties; some far ones, so that the queue
		// can grow large between expiries.
		span := uint32(48)
		if arg&1 != 0 {
			span = 1 << 14
		}
		m.add(tb, m.now+int64((arg>>1)%span)-4)
	case 3:
		if len(m.handles) == 0 || arg%16 == 0 {
			m.cancel(tb, Timeout{})
			break
		}
		// Favour recent handles, which are the ones most likely live.
		n := len(m.handles)
		i := n - 1 - int(arg%uint32(min(n, 512)))
		m.cancel(tb, m.handles[i])
	case 4:
		if len(m.live) == 0 {
			break
		}
		m.cancel(tb, m.live[int(arg)%len(m.live)].h)
	case 5, 6:
		// Time moves on at only some expiries, so timeouts pile up.
		if arg&8 != 0 {
			m.now += int64((arg >> 4) % 6)
		}
		m.expire(tb)
	case 7:
		// The model's seq and the queue's agree: both count adds.
		m.expireMarked(tb, m.seq-min(m.seq, uint64(arg%4)))
	}
	m.compare(tb)
}

func TestTimerQueueOrder(t *testing.T) {
	type set struct {
		token    Token
		deadline int64
	}
	tests := []struct {
		name string
		sets []set
		want []Token // expire order with now = MaxInt64
	}{
		{"empty", nil, nil},
		{"single", []set{{1, 5}}, []Token{1}},
		{"ascending", []set{{1, 1}, {2, 2}, {3, 3}}, []Token{1, 2, 3}},
		{"descending", []set{{1, 3}, {2, 2}, {3, 1}}, []Token{3, 2, 1}},
		{"equal deadlines fire in order added", []set{{5, 7}, {3, 7}, {9, 7}, {1, 7}}, []Token{5, 3, 9, 1}},
		{"mixed ties", []set{{1, 2}, {2, 1}, {3, 2}, {4, 1}, {5, 0}}, []Token{5, 2, 4, 1, 3}},
		{"negative and extreme", []set{{1, math.MaxInt64}, {2, math.MinInt64}, {3, -1}, {4, 0}}, []Token{2, 3, 4, 1}},
		{"same token twice", []set{{7, 2}, {7, 1}}, []Token{7, 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q timerQueue
			for _, s := range tt.sets {
				q.add(s.token, s.deadline)
			}
			checkTimerQueue(t, &q)
			var got []Token
			for {
				tok, ok := q.expire(math.MaxInt64)
				if !ok {
					break
				}
				got = append(got, tok)
				checkTimerQueue(t, &q)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("expired %v, want %v", got, tt.want)
			}
			if q.len() != 0 {
				t.Errorf("len = %d after draining", q.len())
			}
		})
	}
}

func TestTimerQueueExpireRespectsNow(t *testing.T) {
	var q timerQueue
	if _, ok := q.next(); ok {
		t.Fatal("next on empty queue reported a deadline")
	}
	if _, ok := q.expire(math.MaxInt64); ok {
		t.Fatal("expire on empty queue returned a timeout")
	}
	q.add(1, 10)
	q.add(2, 20)
	if d, ok := q.next(); !ok || d != 10 {
		t.Fatalf("next = %d, %v; want 10, true", d, ok)
	}
	if _, ok := q.expire(9); ok {
		t.Fatal("timeout due at 10 expired at 9")
	}
	if tok, ok := q.expire(10); !ok || tok != 1 {
		t.Fatalf("expire(10) = %d, %v; want 1, true", tok, ok)
	}
	if _, ok := q.expire(19); ok {
		t.Fatal("timeout due at 20 expired at 19")
	}
	if d, ok := q.next(); !ok || d != 20 {
		t.Fatalf("next = %d, %v; want 20, true", d, ok)
	}
	if tok, ok := q.expire(100); !ok || tok != 2 {
		t.Fatalf("expire(100) = %d, %v; want 2, true", tok, ok)
	}
}

func TestTimerQueueCancel(t *testing.T) {
	t.Run("live", func(t *testing.T) {
		var q timerQueue
		a := q.add(1, 10)
		b := q.add(2, 20)
		if !q.cancel(a) {
			t.Fatal("cancel of a live timeout returned false")
		}
		checkTimerQueue(t, &q)
		if tok, ok := q.expire(math.MaxInt64); !ok || tok != 2 {
			t.Fatalf("expire = %d, %v; want the other timeout 2", tok, ok)
		}
		if q.cancel(b) {
			t.Fatal("cancel of a fired timeout returned true")
		}
	})
	t.Run("fired", func(t *testing.T) {
		var q timerQueue
		a := q.add(1, 10)
		q.expire(10)
		if q.cancel(a) {
			t.Fatal("cancel of a fired timeout returned true")
		}
	})
	t.Run("cancelled twice", func(t *testing.T) {
		var q timerQueue
		a := q.add(1, 10)
		q.add(2, 10)
		if !q.cancel(a) {
			t.Fatal("first cancel returned false")
		}
		if q.cancel(a) {
			t.Fatal("second cancel returned true")
		}
		if q.len() != 1 {
			t.Fatalf("len = %d, want 1", q.len())
		}
	})
	t.Run("zero", func(t *testing.T) {
		var q timerQueue
		if q.cancel(Timeout{}) {
			t.Fatal("cancel(Timeout{}) on an empty queue returned true")
		}
		// Slot 0 is now live; the zero handle must still not reach it.
		a := q.add(1, 10)
		if a.slot != 0 {
			t.Fatalf("first timeout in slot %d, test expects 0", a.slot)
		}
		if a == (Timeout{}) {
			t.Fatal("a live timeout equals the zero Timeout")
		}
		if q.cancel(Timeout{}) {
			t.Fatal("cancel(Timeout{}) cancelled slot 0")
		}
		if tok, ok := q.expire(10); !ok || tok != 1 {
			t.Fatalf("expire = %d, %v; want 1, true", tok, ok)
		}
	})
	t.Run("out of range", func(t *testing.T) {
		var q timerQueue
		q.add(1, 10)
		if q.cancel(Timeout{slot: 5, gen: 1}) || q.cancel(Timeout{slot: math.MaxUint32, gen: 1}) {
			t.Fatal("cancel of a never-issued slot returned true")
		}
	})
}

func TestTimerQueueStaleHandleAfterReuse(t *testing.T) {
	for _, how := range []string{"cancelled", "fired"} {
		t.Run(how, func(t *testing.T) {
			var q timerQueue
			old := q.add(1, 10)
			if how == "cancelled" {
				q.cancel(old)
			} else {
				q.expire(10)
			}
			nu := q.add(2, 20)
			if nu.slot != old.slot {
				t.Fatalf("new timeout in slot %d, want reuse of slot %d", nu.slot, old.slot)
			}
			if nu == old {
				t.Fatal("reused slot issued the same handle twice")
			}
			if q.cancel(old) {
				t.Fatal("stale handle cancelled the timeout that reused its slot")
			}
			checkTimerQueue(t, &q)
			if tok, ok := q.expire(20); !ok || tok != 2 {
				t.Fatalf("expire = %d, %v; want the new timeout 2", tok, ok)
			}
		})
	}
}

func TestTimerQueueRetiresWrappedSlot(t *testing.T) {
	var q timerQueue
	q.cancel(q.add(1, 10))
	// Pretend the slot has been reused 2^32-2 times.
	q.slots[0].gen = math.MaxUint32
	h := q.add(2, 10)
	if h.slot != 0 || h.gen != math.MaxUint32 {
		t.Fatalf("handle %+v, want slot 0 at the last generation", h)
	}
	if !q.cancel(h) {
		t.Fatal("cancel of a live timeout returned false")
	}
	checkTimerQueue(t, &q)
	nu := q.add(3, 10)
	if nu.slot == 0 {
		t.Fatal("a slot whose generation wrapped was reused")
	}
	if q.cancel(h) || q.cancel(Timeout{}) || q.cancel(Timeout{slot: 0, gen: 0}) {
		t.Fatal("a handle to the retired slot cancelled something")
	}
	if q.len() != 1 {
		t.Fatalf("len = %d, want 1", q.len())
	}
	checkTimerQueue(t, &q)
}

// TestTimerQueueCallbackChanges simulates a loop iteration whose timeout
// callbacks cancel and add timeouts between calls to expire.
func TestTimerQueueCallbackChanges(t *testing.T) {
	var q timerQueue
	q.add(1, 10)
	b := q.add(2, 20)
	q.add(3, 20)
	q.add(4, 30)
	const now = 25
	var got []Token
	for {
		tok, ok := q.expire(now)
		if !ok {
			break
		}
		got = append(got, tok)
		switch tok {
		case 1:
			// Cancel a timeout that is due but not yet delivered, and add
			// one that is already overdue and earlier than the rest.
			if !q.cancel(b) {
				t.Fatal("cancel of a due, undelivered timeout returned false")
			}
			q.add(5, 5)
		case 5:
			// Re-arm for later than now: must not fire this iteration.
			q.add(5, now+1)
		}
		checkTimerQueue(t, &q)
	}
	if want := []Token{1, 5, 3}; !slices.Equal(got, want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
	if q.len() != 2 {
		t.Fatalf("len = %d, want 2 (tokens 4 and re-armed 5)", q.len())
	}
}

// TestTimerQueueMarkBoundsRearm shows the loop pattern that keeps a timeout
// re-arming itself with zero delay from starving I/O: fire only what was
// set before the iteration's mark.
func TestTimerQueueMarkBoundsRearm(t *testing.T) {
	var q timerQueue
	now := int64(100)
	q.add(1, 90)
	q.add(2, 100)
	q.add(3, 100)
	q.add(4, 101)
	fire := func() []Token {
		var got []Token
		mark := q.mark()
		for {
			tok, ok := q.expireMarked(now, mark)
			if !ok {
				return got
			}
			got = append(got, tok)
			// Every callback re-arms with zero delay: the deadline equals now.
			q.add(tok, timerDeadline(now, 0))
		}
	}
	if got, want := fire(), []Token{1, 2, 3}; !slices.Equal(got, want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
	// The re-armed timeouts are due, but belong to the next iteration, and
	// come out in the order they were re-armed.
	if got, want := fire(), []Token{1, 2, 3}; !slices.Equal(got, want) {
		t.Fatalf("next iteration fired %v, want %v", got, want)
	}
}

// TestTimerQueueMarkKeepsPastDeadlinesInOrder: timeouts 1 and 2 are due and
// 1's callback sets 3 with a negative delay. 3 must neither fire before 2
// nor in the same round.
func TestTimerQueueMarkKeepsPastDeadlinesInOrder(t *testing.T) {
	var q timerQueue
	now := int64(1000)
	q.add(1, timerDeadline(now-20, 10))
	q.add(2, timerDeadline(now-20, 15))
	mark := q.mark()
	var got []Token
	for {
		tok, ok := q.expireMarked(now, mark)
		if !ok {
			break
		}
		got = append(got, tok)
		if tok == 1 {
			q.add(3, timerDeadline(now, -time.Second))
		}
	}
	if want := []Token{1, 2}; !slices.Equal(got, want) {
		t.Fatalf("fired %v, want %v (3 waits for the next round)", got, want)
	}
	if tok, ok := q.expireMarked(now, q.mark()); !ok || tok != 3 {
		t.Fatalf("next round: got %d, %v; want 3", tok, ok)
	}
}

func TestTimerDeadline(t *testing.T) {
	tests := []struct {
		now   int64
		after time.Duration
		want  int64
	}{
		{0, 0, 0},
		{100, time.Second, 100 + int64(time.Second)},
		{100, -50, 100},
		{1, math.MaxInt64, math.MaxInt64},
		{math.MaxInt64 - 5, 10, math.MaxInt64},
		{-1, math.MinInt64, -1},
		{math.MaxInt64, math.MinInt64, math.MaxInt64},
		{5, -math.MaxInt64, 5},
	}
	for _, tt := range tests {
		if got := timerDeadline(tt.now, tt.after); got != tt.want {
			t.Errorf("timerDeadline(%d, %v) = %d, want %d", tt.now, tt.after, got, tt.want)
		}
	}
}

// TestTimerQueueModel runs a long fixed-seed random sequence of operations
// against the sorted-slice model, in phases that grow the queue and then
// drain it, so slots are reused at many sizes.
func TestTimerQueueModel(t *testing.T) {
	ops := 100_000
	if testing.Short() {
		ops = 10_000
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var m timerRef
	maxLive := 0
	for i := range ops {
		// Alternate 10000-operation phases: mostly adds, then mostly
		// expiries and cancels.
		op := byte(rng.IntN(8))
		if growing := (i/10_000)%2 == 0; growing && rng.IntN(10) < 7 {
			op = 0
		} else if !growing && op <= 2 && rng.IntN(10) < 9 {
			op = byte(3 + rng.IntN(5))
		}
		m.step(t, op, rng.Uint32())
		if i%128 == 0 {
			checkTimerQueue(t, &m.q)
		}
		maxLive = max(maxLive, len(m.live))
		if len(m.handles) > 1<<16 {
			m.handles = append(m.handles[:0], m.handles[len(m.handles)-1024:]...)
		}
	}
	checkTimerQueue(t, &m.q)
	t.Logf("%d operations, at most %d live timeouts, %d slots", ops, maxLive, len(m.q.slots))
	// Drain: everything left must come out in model order.
	m.now = math.MaxInt64
	for len(m.live) > 0 {
		m.expire(t)
	}
	m.compare(t)
	checkTimerQueue(t, &m.q)
}

func FuzzTimerQueue(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 0, 2, 5, 9, 5, 0, 5, 0})
	f.Add([]byte{0, 7, 0, 7, 3, 0, 3, 1, 4, 0, 0, 7, 5, 40, 6, 40})
	f.Add([]byte{0, 3, 1, 3, 2, 3, 7, 200, 4, 1, 4, 0, 0, 0, 3, 2, 5, 255, 7, 11})
	f.Add(binary.LittleEndian.AppendUint64(nil, 0x0706050403020100))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m timerRef
		for len(data) >= 2 {
			m.step(t, data[0], uint32(data[1]))
			data = data[2:]
		}
		checkTimerQueue(t, &m.q)
		m.now = math.MaxInt64
		for len(m.live) > 0 {
			m.expire(t)
		}
		m.compare(t)
		checkTimerQueue(t, &m.q)
	})
}

// TestTimerQueueSteadyStateAllocs checks that once the queue has held as many
// timeouts as it will hold again, setting, clearing and firing them allocates
// nothing, including after the live count shrinks and grows back.
func TestTimerQueueSteadyStateAllocs(t *testing.T) {
	var q timerQueue
	const peak = 10_000
	hs := make([]Timeout, peak)
	for i := range hs {
		hs[i] = q.add(Token(i), int64(i*7919%peak))
	}
	slotCap, heapCap := cap(q.slots), cap(q.heap)
	// Shrink to a handful of live timeouts, half by cancel, half by expiry.
	for i := 0; i < peak/2; i++ {
		q.cancel(hs[i])
	}
	for q.len() > 10 {
		q.expire(math.MaxInt64)
	}
	checkTimerQueue(t, &q)

	var d int64
	if a := testing.AllocsPerRun(1000, func() {
		d++
		q.cancel(q.add(1, d))
	}); a != 0 {
		t.Errorf("add+cancel: %v allocs, want 0", a)
	}
	if a := testing.AllocsPerRun(1000, func() {
		q.add(2, math.MinInt64)
		q.expire(math.MinInt64)
	}); a != 0 {
		t.Errorf("add+expire: %v allocs, want 0", a)
	}
	if a := testing.AllocsPerRun(1000, func() {
		q.add(2, math.MinInt64)
		q.expireMarked(math.MinInt64, q.mark())
	}); a != 0 {
		t.Errorf("add+expireMarked: %v allocs, want 0", a)
	}
	// Grow back to the old peak: every slot comes from the free list.
	if a := testing.AllocsPerRun(5, func() {
		for q.len() < peak {
			q.add(3, int64(q.len()))
		}
		for q.len() > 10 {
			q.expire(math.MaxInt64)
		}
	}); a != 0 {
		t.Errorf("regrowing to the previous peak: %v allocs, want 0", a)
	}
	if len(q.slots) != peak || cap(q.slots) != slotCap || cap(q.heap) != heapCap {
		t.Errorf("slots %d (cap %d, was %d), heap cap %d (was %d): storage was not reused",
			len(q.slots), cap(q.slots), slotCap, cap(q.heap), heapCap)
	}
	checkTimerQueue(t, &q)
}

// BenchmarkTimerQueueSetClear measures one add and cancel against a queue
// already holding a million live timeouts, the cost an idle-deadline that is
// reset on every request pays in a busy server.
func BenchmarkTimerQueueSetClear(b *testing.B) {
	const live = 1 << 20
	rng := rand.New(rand.NewPCG(3, 4))
	var q timerQueue
	for i := range live {
		q.add(Token(i), int64(time.Second)+rng.Int64N(int64(59*time.Second)))
	}
	deadlines := make([]int64, 1024)
	for i := range deadlines {
		deadlines[i] = int64(time.Second) + rng.Int64N(int64(59*time.Second))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		q.cancel(q.add(1, deadlines[i%len(deadlines)]))
		i++
	}
}

// BenchmarkTimers sets a million timeouts 1 to 60 seconds out and then clears
// them all, once with the event loop's queue and once with time.AfterFunc and
// Stop. Both read the clock for every timeout, as the loop's Timeout does.
func BenchmarkTimers(b *testing.B) {
	const n = 1_000_000
	rng := rand.New(rand.NewPCG(5, 6))
	afters := make([]time.Duration, n)
	for i := range afters {
		afters[i] = time.Minute + time.Duration(rng.Int64N(int64(59*time.Minute)))
	}
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/timer")
	}

	b.Run("mio", func(b *testing.B) {
		var q timerQueue
		hs := make([]Timeout, n)
		base := time.Now()
		round := func() {
			for i, after := range afters {
				hs[i] = q.add(Token(i), timerDeadline(int64(time.Since(base)), after))
			}
			for _, h := range hs {
				if !q.cancel(h) {
					b.Fatal("cancel of a live timeout returned false")
				}
			}
		}
		// Warm up so the queue is at its full size: the benchmark measures
		// the steady state, in which nothing is allocated.
		round()
		b.ReportAllocs()
		for b.Loop() {
			round()
		}
		report(b)
	})

	b.Run("time.AfterFunc", func(b *testing.B) {
		ts := make([]*time.Timer, n)
		f := func() {}
		fired := 0
		round := func() {
			for i, after := range afters {
				ts[i] = time.AfterFunc(after, f)
			}
			for _, t := range ts {
				if !t.Stop() {
					fired++
				}
			}
		}
		round()
		b.ReportAllocs()
		for b.Loop() {
			round()
		}
		report(b)
		b.ReportMetric(float64(fired), "fired")
	})
}
