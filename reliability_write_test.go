//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"hash/crc32"
	"testing"
	"time"
)

// Writes: a long stream through partial writes, and write interest held
// only while data is pending.

// relWriter sends a relSource through a socket driven by level-triggered
// Writable, holding write interest only while data is pending.
type relWriter struct {
	sock     Socket
	tok      Token
	src      *relSource
	sum      uint32
	partial  int  // writes the kernel took only part of
	interest bool // Writable currently registered
	finished bool
	onDone   func()
}

// pump writes until the kernel refuses more or the source is done, then
// sets write interest to match what is left.
func (w *relWriter) pump(t *testing.T, l *EventLoop[int]) {
	for p := w.src.next(); p != nil; p = w.src.next() {
		n, err := w.sock.Write(p)
		w.src.sent += int64(n)
		w.sum = crc32.Update(w.sum, crc32.IEEETable, p[:n])
		if err == ErrWouldBlock {
			w.partial++
			w.want(t, l, true)
			return
		}
		if err != nil {
			t.Errorf("write after %d bytes: %v", w.src.sent, err)
			l.Shutdown()
			return
		}
	}
	w.want(t, l, false)
	if !w.finished {
		w.finished = true
		if w.onDone != nil {
			w.onDone()
		}
	}
}

func (w *relWriter) want(t *testing.T, l *EventLoop[int], on bool) {
	if on == w.interest {
		return
	}
	in := Readable
	if on {
		in |= Writable
	}
	if err := l.Reregister(w.sock, w.tok, in, Level); err != nil {
		t.Error(err)
	}
	w.interest = on
}

// 100 MB through partial writes over small socket buffers, one way through
// the loop, arrives byte-exact and in order (a running CRC-32 on each side,
// so no 100 MB buffer is needed).
func TestRel100MBThroughPartialWrites(t *testing.T) {
	const total = 100 << 20
	for _, k := range []pairKind{pairKinds[0], pairKinds[2]} { // tcp4, unix
		t.Run(k.name, func(t *testing.T) {
			relNoLeaks(t)
			l := newLoop(t)
			c, s := k.pair(t, 64<<10)
			w := &relWriter{sock: c, tok: 1, src: relNewSource(total)}
			w.onDone = func() {
				if err := c.Shutdown(ShutWrite); err != nil {
					t.Error(err)
				}
			}
			if err := l.Register(c, 1, Readable, Level); err != nil {
				t.Fatal(err)
			}
			if err := l.Register(s, 2, Readable, Edge); err != nil {
				t.Fatal(err)
			}
			var got int64
			var gotSum uint32
			buf := make([]byte, 256<<10)
			h := relNewH(t)
			h.onR = func(l *EventLoop[int], tok Token, _ ReadHint) {
				if tok == 2 && relDrainToEOF(t, s, buf, &got, &gotSum) {
					l.Shutdown()
				}
			}
			h.onW = func(l *EventLoop[int], tok Token) { w.pump(t, l) }
			start := time.Now()
			w.pump(t, l)
			relRun(t, l, h)
			if got != total || w.src.sent != total || gotSum != w.sum {
				t.Fatalf("wrote %d bytes (crc %08x), read %d (crc %08x); want %d, equal", w.src.sent, w.sum, got, gotSum, total)
			}
			if w.partial < 100 {
				t.Fatalf("only %d partial writes: the buffers never filled", w.partial)
			}
			t.Logf("%d MB in %v, %d partial writes", total>>20, time.Since(start), w.partial)
		})
	}
}

// Against a reader that pauses, a level-triggered writer that holds write
// interest only while data is pending gets few Writable callbacks while the
// buffers are full, and none once it is done and has dropped the interest:
// no EPOLLOUT spin. A positive control shows the counting would see one.
func TestRelWriteInterestOnlyWhilePending(t *testing.T) {
	relNoLeaks(t)
	l := newLoop(t)
	c, s := tcpPair(t, loopback4, 64<<10)
	w := &relWriter{sock: c, tok: 1, src: relNewSource(4 << 20)}
	if err := l.Register(c, 1, Readable, Level); err != nil {
		t.Fatal(err)
	}
	var got int64
	var gotSum uint32
	buf := make([]byte, 64<<10)
	h := relNewH(t)
	h.onW = func(l *EventLoop[int], tok Token) { w.pump(t, l) }
	h.onR = func(l *EventLoop[int], tok Token, _ ReadHint) {
		if tok == 2 {
			relDrainToEOF(t, s, buf, &got, &gotSum)
			if w.finished && got == w.src.total {
				l.Shutdown()
			}
		}
	}
	// Paused reader: the writer fills the buffers and must then wait.
	w.pump(t, l)
	if !w.interest {
		t.Fatal("precondition: 4 MB fit in the buffers at once")
	}
	relStopAfter(t, l, 200*time.Millisecond)
	relRun(t, l, h)
	paused := h.writes[1]
	if w.finished {
		t.Fatal("precondition: the writer finished although nobody read")
	}
	// The buffers fill within a few callbacks; after that EPOLLOUT stays
	// down until the reader makes room.
	if paused > 50 {
		t.Fatalf("%d Writable callbacks in 200ms against a paused reader: the loop spins", paused)
	}
	// The reader resumes; the writer finishes and drops write interest.
	if err := l.Register(s, 2, Readable, Edge); err != nil {
		t.Fatal(err)
	}
	relRun(t, l, h)
	if got != w.src.total || gotSum != w.sum || w.interest {
		t.Fatalf("read %d of %d bytes (crc equal %v); write interest still held %v", got, w.src.total, gotSum == w.sum, w.interest)
	}
	// Idle, with nothing pending: no Writable at all.
	before := h.writes[1]
	relStopAfter(t, l, 200*time.Millisecond)
	relRun(t, l, h)
	if idle := h.writes[1] - before; idle != 0 {
		t.Fatalf("%d Writable callbacks in 200ms with nothing pending and write interest dropped", idle)
	}
	// Positive control: held with nothing pending, level write interest
	// is reported on every poll.
	if err := l.Reregister(c, 1, Readable|Writable, Level); err != nil {
		t.Fatal(err)
	}
	before = h.writes[1]
	h.onW = nil
	relStopAfter(t, l, 50*time.Millisecond)
	relRun(t, l, h)
	if spin := h.writes[1] - before; spin < 100 {
		t.Fatalf("control: only %d Writable callbacks in 50ms with idle write interest held; the counting is blind", spin)
	}
	t.Logf("Writable callbacks: %d while the reader paused, %d in the 50ms control", paused, h.writes[1]-before)
}
