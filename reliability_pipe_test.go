//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"errors"
	"hash/crc32"
	"syscall"
	"testing"
)

// Pipes through the loop: the writer's close, and the reader's.

// The writer writes more than the pipe holds, driven by Writable, and
// closes: the edge-triggered reader gets the rest of the data, then EOF.
func TestRelPipeWriterCloseRestThenEOF(t *testing.T) {
	relNoLeaks(t)
	l := newLoop(t)
	r, pw := newPipe(t)
	src := relNewSource(4 << 20)
	var got int64
	var gotSum, sentSum uint32
	partial := 0
	buf := make([]byte, 16<<10)
	h := relNewH(t)
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
	h.onW = func(*EventLoop[int], Token) { writeSome() }
	h.onR = func(l *EventLoop[int], tok Token, _ ReadHint) {
		if relDrainToEOF(t, r, buf, &got, &gotSum) {
			l.Shutdown()
		}
	}
	if err := l.Register(pw, 1, Writable, Level); err != nil {
		t.Fatal(err)
	}
	if err := l.Register(r, 2, Readable, Edge); err != nil {
		t.Fatal(err)
	}
	relRun(t, l, h)
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
func TestRelPipeReaderCloseWriterEPIPE(t *testing.T) {
	relNoLeaks(t)
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
	h := relNewH(t)
	var werr error
	h.onW = func(l *EventLoop[int], _ Token) {
		_, werr = pw.Write([]byte("x"))
		l.Shutdown()
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	relRun(t, l, h)
	if h.writes[1] != 1 || !errors.Is(werr, syscall.EPIPE) {
		t.Fatalf("reader closed: %d Writable, then Write %v; want Writable and EPIPE", h.writes[1], werr)
	}
}
