package mio

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// bufferModel drives a Buffer and a plain byte slice with the same random
// operations and checks after each that they agree, that the buffer never
// holds more than its limit, and that Write is all or nothing.
func bufferModel(t *testing.T, seed uint64, limit, steps int) *Buffer {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	b := NewBuffer(limit)
	var model []byte
	next := byte(0)
	fill := func(p []byte) {
		for i := range p {
			p[i] = next
			next++
		}
	}
	for step := range steps {
		n := rng.IntN(limit/3 + 2)
		switch rng.IntN(7) {
		case 0, 1:
			p := make([]byte, n)
			fill(p)
			got, err := b.Write(p)
			if len(model)+n > limit {
				if got != 0 || !errors.Is(err, ErrBufferFull) {
					t.Fatalf("step %d: Write of %d over the limit: %d, %v", step, n, got, err)
				}
				next -= byte(n)
			} else {
				if got != n || err != nil {
					t.Fatalf("step %d: Write of %d: %d, %v", step, n, got, err)
				}
				model = append(model, p...)
			}
		case 2, 3:
			room := b.Room(n)
			if len(room) > limit-len(model) || (n <= limit-len(model) && len(room) < n) {
				t.Fatalf("step %d: Room(%d) gave %d with %d of %d held", step, n, len(room), len(model), limit)
			}
			k := rng.IntN(len(room) + 1)
			fill(room[:k])
			b.Commit(k)
			model = append(model, room[:k]...)
		case 4:
			got := b.Next(n)
			want := model[:min(n, len(model))]
			if !bytes.Equal(got, want) {
				t.Fatalf("step %d: Next(%d) = %d bytes, want %d", step, n, len(got), len(want))
			}
			model = model[len(want):]
		case 5:
			if got := b.Discard(n); got != min(n, len(model)) {
				t.Fatalf("step %d: Discard(%d) = %d", step, n, got)
			}
			model = model[min(n, len(model)):]
		case 6:
			if !bytes.Equal(b.Peek(n), model[:min(n, len(model))]) {
				t.Fatalf("step %d: Peek(%d) differs", step, n)
			}
			if b.Shrink() != (len(model) == 0) {
				t.Fatalf("step %d: Shrink with %d held", step, len(model))
			}
		}
		if b.Len() != len(model) || !bytes.Equal(b.Bytes(), model) {
			t.Fatalf("step %d: buffer holds %d bytes, the model %d, or they differ", step, b.Len(), len(model))
		}
		if b.Cap() > limit {
			t.Fatalf("step %d: %d bytes of memory for a limit of %d", step, b.Cap(), limit)
		}
	}
	return b
}

func TestBufferAgreesWithModel(t *testing.T) {
	for seed := range uint64(20) {
		bufferModel(t, seed, 64+int(seed)*97, 3000)
	}
}

func FuzzBuffer(f *testing.F) {
	f.Add(uint64(1), 100)
	f.Fuzz(func(t *testing.T, seed uint64, limit int) {
		if limit < 1 || limit > 1<<16 {
			t.Skip()
		}
		bufferModel(t, seed, limit, 500)
	})
}

// A stream through the buffer, read in and consumed in pieces of random
// size while below the limit, is copied about once: compaction waits until
// it frees half the memory, growth doubles.
func TestBufferCopiesEachByteAboutOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	b := NewBuffer(1 << 20)
	total := 0
	for total < 50<<20 {
		room := b.Room(1 + rng.IntN(8<<10))
		n := rng.IntN(len(room) + 1)
		b.Commit(n)
		total += n
		// A lagging consumer: about 192 KiB stay unread, so compacting
		// whenever it would fit the read would move them again and again.
		b.Discard(rng.IntN(max(b.Len()-192<<10, 0) + 4<<10))
	}
	if b.moved > total+b.Limit() {
		t.Fatalf("moved %d bytes for %d streamed: more than once each", b.moved, total)
	}
	t.Logf("streamed %d bytes, moved %d (%.2f per byte), memory %d", total, b.moved, float64(b.moved)/float64(total), b.Cap())
}

// At the limit, a reader that consumed a little gets room for what it
// needs: compaction is forced rather than leaving a parser waiting for
// bytes the buffer will never take.
func TestBufferRoomAtTheLimitCompacts(t *testing.T) {
	b := NewBuffer(64)
	if n, err := b.Write(make([]byte, 64)); n != 64 || err != nil {
		t.Fatal(n, err)
	}
	if room := b.Room(1); len(room) != 0 {
		t.Fatalf("full buffer gave %d bytes of room", len(room))
	}
	if _, err := b.Write([]byte{1}); !errors.Is(err, ErrBufferFull) {
		t.Fatalf("Write to a full buffer: %v", err)
	}
	b.Discard(10)
	if room := b.Room(6); len(room) < 6 {
		t.Fatalf("after consuming 10 of 64: Room(6) gave %d", len(room))
	}
	if b.Len() != 54 || b.Cap() != 64 {
		t.Fatalf("len %d cap %d, want 54 and 64", b.Len(), b.Cap())
	}
	// It compacts in place: at the limit there is nothing to grow into.
	b.Commit(6)
	if a := testing.AllocsPerRun(100, func() {
		b.Discard(10)
		b.Commit(len(b.Room(10)))
	}); a != 0 || b.Cap() != 64 {
		t.Fatalf("room at the limit: %v allocations per round, cap %d", a, b.Cap())
	}
}

// An empty buffer gives its memory back; a zero Buffer works and takes the
// default limit.
func TestBufferShrinkAndZeroValue(t *testing.T) {
	var b Buffer
	if b.Limit() != DefaultBufferLimit || b.Cap() != 0 {
		t.Fatalf("zero Buffer: limit %d, cap %d", b.Limit(), b.Cap())
	}
	b.Write([]byte("hello"))
	if b.Shrink() || b.Cap() == 0 {
		t.Fatal("Shrink dropped unread bytes")
	}
	if got := string(b.Next(5)); got != "hello" {
		t.Fatalf("Next = %q", got)
	}
	if !b.Shrink() || b.Cap() != 0 {
		t.Fatalf("Shrink of an empty buffer: cap %d", b.Cap())
	}
}

// Steady state allocates nothing: writes, room and commits, reads.
func TestBufferSteadyStateAllocatesNothing(t *testing.T) {
	b := NewBuffer(64 << 10)
	msg := make([]byte, 700)
	if a := testing.AllocsPerRun(1000, func() {
		b.Write(msg)
		room := b.Room(1500)
		b.Commit(len(room) / 2)
		b.Next(len(msg))
		b.Discard(b.Len())
	}); a != 0 {
		t.Fatalf("%v allocations per round", a)
	}
}

func BenchmarkBufferWriteNext(b *testing.B) {
	buf := NewBuffer(64 << 10)
	msg := make([]byte, 64)
	b.ReportAllocs()
	for range b.N {
		buf.Write(msg)
		buf.Next(64)
	}
}
