//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// newPipe opens a pipe whose ends are closed at the end of the test.
func newPipe(t testing.TB) (*PipeReader, *PipeWriter) {
	t.Helper()
	r, w, err := Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	requireNonblock(t, r.Fd())
	requireNonblock(t, w.Fd())
	return r, w
}

func TestPipeEndsAreNonblockingAndCloseOnExec(t *testing.T) {
	r, w := newPipe(t)
	checkFlags(t, "PipeReader", r.Fd())
	checkFlags(t, "PipeWriter", w.Fd())
}

func TestPipeReadWouldBlockThenEOFAfterWriterClose(t *testing.T) {
	r, w := newPipe(t)
	var buf [16]byte
	if n, err := r.Read(buf[:]); n != 0 || err != ErrWouldBlock || !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("Read of an empty pipe = %d, %v; want 0 and ErrWouldBlock itself", n, err)
	}
	// More than the pipe holds, so the writer and reader take turns.
	data := randomBytes(1<<20, 5)
	got := transferThenEOF(t, w, w.Fd(), w.Close, r, r.Fd(), data)
	if !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes before io.EOF, want the %d written before Close", len(got), len(data))
	}
	if n, err := r.Read(buf[:]); n != 0 || err != io.EOF {
		t.Fatalf("Read after io.EOF = %d, %v; want io.EOF again", n, err)
	}
}

// A pipe, unlike a socket, has no MSG_NOSIGNAL: Write returns EPIPE and the
// kernel also raises SIGPIPE, which os/signal sees when asked for it.
func TestPipeWriteAfterReaderCloseEPIPE(t *testing.T) {
	r, w := newPipe(t)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGPIPE)
	defer signal.Stop(ch)
	n, err := w.Write([]byte("nobody reads this"))
	if n != 0 || !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("Write with the reader closed = %d, %v; want 0, EPIPE", n, err)
	}
	select {
	case <-ch:
	case <-time.After(pending):
		t.Fatal("no SIGPIPE reached os/signal, as Write's comment says it does")
	}
}

func TestPipeFullWritePartialWouldBlock(t *testing.T) {
	r, w := newPipe(t)
	data := randomBytes(4<<20, 6)
	n, err := w.Write(data)
	if err != ErrWouldBlock || !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("Write of %d bytes into a pipe = %d, %v; want ErrWouldBlock itself", len(data), n, err)
	}
	if n <= 0 || n >= len(data) {
		t.Fatalf("Write with ErrWouldBlock returned n = %d, want 0 < n < %d", n, len(data))
	}
	if m, err := w.Write(data[n : n+1]); m != 0 || err != ErrWouldBlock {
		t.Fatalf("Write into a full pipe = %d, %v; want 0, ErrWouldBlock", m, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := readToEOF(t, r, r.Fd())
	if !bytes.Equal(got, data[:n]) {
		t.Fatalf("Write reported %d bytes written; the reader got %d (equal prefix: %v)",
			n, len(got), bytes.HasPrefix(data, got))
	}
}

func TestPipeReadableAndCloseInCallback(t *testing.T) {
	l := newLoop(t)
	r, w := newPipe(t)
	fd := r.Fd()
	if err := l.Register(r, 7, Readable, Edge); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	runOnce(t, l, rec, 0)
	if len(rec.calls) != 0 {
		t.Fatalf("empty pipe reported: %v", rec.calls)
	}
	if _, err := w.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	var got []byte
	rec.onReadable = func(l *EventLoop[int], _ Token, _ ReadHint) {
		var buf [16]byte
		for {
			n, err := r.Read(buf[:])
			got = append(got, buf[:n]...)
			if err == ErrWouldBlock {
				break
			}
			if err != nil {
				t.Errorf("Read in the callback: %v", err)
				return
			}
		}
		if err := r.Close(); err != nil {
			t.Errorf("Close in the callback: %v", err)
		}
		if l.reg.lookup(fd) != nil {
			t.Error("PipeReader.Close in the callback left its registration in the loop")
		}
	}
	runOnce(t, l, rec, pending)
	if len(rec.calls) != 1 || rec.calls[0] != (call{"r", 7, DataHint}) {
		t.Fatalf("want one Readable(7, DataHint), got %v", rec.calls)
	}
	if string(got) != "ping" {
		t.Fatalf("callback read %q, want %q", got, "ping")
	}
	if r.Fd() != -1 || r.owner != nil || l.reg.lookup(fd) != nil {
		t.Fatalf("after Close: Fd %d, owner %v, registration %v", r.Fd(), r.owner, l.reg.lookup(fd))
	}
	// The closed reader hears nothing more: the writer's data and Close
	// reach no callback.
	if _, err := w.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("Write after the reader closed: %v, want EPIPE", err)
	}
	w.Close()
	runOnce(t, l, rec, 0)
	if len(rec.calls) != 1 {
		t.Fatalf("closed reader still reported: %v", rec.calls)
	}
}

func TestPipeWriterCloseGivesHupHint(t *testing.T) {
	l := newLoop(t)
	r, w := newPipe(t)
	if err := l.Register(r, 1, Readable, Level); err != nil {
		t.Fatal(err)
	}
	if err := l.Register(w, 2, Writable, Level); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	runOnce(t, l, rec, pending)
	if len(rec.calls) != 1 || rec.calls[0] != (call{"w", 2, 0}) {
		t.Fatalf("empty pipe: want only Writable(2), got %v", rec.calls)
	}
	// Closing the registered writer drops its registration too.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rec.calls = nil
	runOnce(t, l, rec, pending)
	if len(rec.calls) != 1 || rec.calls[0].kind != "r" || rec.calls[0].token != 1 || rec.calls[0].hint&HupHint == 0 {
		t.Fatalf("writer closed: want one Readable(1) with HupHint, got %v", rec.calls)
	}
	var buf [4]byte
	if n, err := r.Read(buf[:]); n != 0 || err != io.EOF {
		t.Fatalf("Read after the writer closed = %d, %v; want io.EOF", n, err)
	}
}

func TestPipeReadWriteAllocs(t *testing.T) {
	r, w := newPipe(t)
	var in, out [64]byte
	if a := testing.AllocsPerRun(100, func() {
		if _, err := r.Read(in[:]); err != ErrWouldBlock {
			t.Fatalf("Read: %v, want ErrWouldBlock", err)
		}
	}); a != 0 {
		t.Errorf("PipeReader.Read returning ErrWouldBlock allocates %v times", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		if n, err := w.Write(out[:]); n != len(out) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		if n, err := r.Read(in[:]); n != len(in) || err != nil {
			t.Fatalf("Read = %d, %v", n, err)
		}
	}); a != 0 {
		t.Errorf("a 64-byte pipe Write and Read allocate %v times", a)
	}
}

// The writer writes more than the pipe holds, driven by Writable, and
// closes: the edge-triggered reader gets the rest of the data, then EOF.
func TestPipeWriterCloseThroughLoopRestThenEOF(t *testing.T) {
	checkNoFdLeaks(t)
	l := newLoop(t)
	r, pw := newPipe(t)
	src := newStreamSource(4 << 20)
	var got int64
	var gotSum, sentSum uint32
	partial := 0
	buf := make([]byte, 16<<10)
	h := &recorder{}
	writeSome := func() {
		for p := src.next(); p != nil; p = src.next() {
			n, err := pw.Write(p)
			src.sent += int64(n)
			sentSum = crc32.Update(sentSum, crc32.IEEETable, p[:n])
			if err == ErrWouldBlock {
				partial++
				return
			}
			if err != nil {
				t.Errorf("pipe write: %v", err)
				return
			}
		}
		if err := pw.Close(); err != nil { // also drops its registration
			t.Error(err)
		}
	}
	h.onWritable = func(*EventLoop[int], Token) { writeSome() }
	h.onReadable = func(l *EventLoop[int], tok Token, _ ReadHint) {
		if drainToEOF(t, r, buf, &got, &gotSum) {
			l.Shutdown()
		}
	}
	if err := l.Register(pw, 1, Writable, Level); err != nil {
		t.Fatal(err)
	}
	if err := l.Register(r, 2, Readable, Edge); err != nil {
		t.Fatal(err)
	}
	run(t, l, h)
	if got != src.total || gotSum != sentSum {
		t.Fatalf("read %d bytes before EOF (crc equal %v); %d written", got, gotSum == sentSum, src.total)
	}
	if partial == 0 {
		t.Fatal("precondition: the pipe never filled")
	}
}

// The reader closes while the writer waits for room: the writer's
// registration is told (Writable, with the error), and Write returns EPIPE.
// A pipe has no MSG_NOSIGNAL, so SIGPIPE is raised too; the Go runtime
// ignores it for such fds, which this test relies on by surviving.
func TestPipeReaderCloseThroughLoopWriterEPIPE(t *testing.T) {
	checkNoFdLeaks(t)
	l := newLoop(t)
	r, pw := newPipe(t)
	block := make([]byte, 64<<10)
	for {
		if _, err := pw.Write(block); err == ErrWouldBlock {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Register(pw, 1, Writable, Edge); err != nil {
		t.Fatal(err)
	}
	h := &recorder{}
	var werr error
	h.onWritable = func(l *EventLoop[int], _ Token) {
		_, werr = pw.Write([]byte("x"))
		l.Shutdown()
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	run(t, l, h)
	if h.count("w", 1) != 1 || !errors.Is(werr, syscall.EPIPE) {
		t.Fatalf("reader closed: %d Writable, then Write %v; want Writable and EPIPE", h.count("w", 1), werr)
	}
}
