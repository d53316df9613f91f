//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Half-close and resets.

// Shutdown(ShutWrite) gives the peer every byte and then EOF, while the
// other direction goes on: the peer answers after the EOF and the client,
// which can no longer write, reads the whole answer, all through the loop.
func TestShutdownWriteHalfCloseThroughLoop(t *testing.T) {
	for _, k := range pairKinds {
		t.Run(k.name, func(t *testing.T) {
			checkNoFdLeaks(t)
			l := newLoop(t)
			c, s := k.pair(t, 0)
			request := []byte("request, then FIN")
			answer := randomBytes(512<<10, 3) // more than the buffers hold
			if _, err := c.Write(request); err != nil {
				t.Fatal(err)
			}
			if err := c.Shutdown(ShutWrite); err != nil {
				t.Fatal(err)
			}
			if err := l.Register(c, 1, Readable, Edge); err != nil {
				t.Fatal(err)
			}
			if err := l.Register(s, 2, Readable|Writable, Edge); err != nil {
				t.Fatal(err)
			}
			var gotReq, gotAns []byte
			serverEOF, clientEOF := false, false
			sent := 0
			h := &recorder{}
			pushAnswer := func() {
				for serverEOF && sent < len(answer) {
					n, err := s.Write(answer[sent:])
					sent += n
					if err == ErrWouldBlock {
						return
					}
					if err != nil {
						t.Errorf("server write after the client's FIN: %v", err)
						l.Shutdown()
						return
					}
				}
				if serverEOF && sent == len(answer) {
					if err := s.Shutdown(ShutWrite); err != nil {
						t.Errorf("server Shutdown: %v", err)
					}
					sent++ // only once
				}
			}
			buf := make([]byte, 64<<10)
			h.onReadable = func(l *EventLoop[int], tok Token, _ ReadHint) {
				switch tok {
				case 2:
					for !serverEOF {
						n, err := s.Read(buf)
						gotReq = append(gotReq, buf[:n]...)
						if err == ErrWouldBlock {
							return
						}
						if err == io.EOF {
							serverEOF = true
							break
						}
						if err != nil {
							t.Errorf("server read: %v", err)
							l.Shutdown()
							return
						}
					}
					pushAnswer()
				case 1:
					for !clientEOF {
						n, err := c.Read(buf)
						gotAns = append(gotAns, buf[:n]...)
						if err == ErrWouldBlock {
							return
						}
						if err == io.EOF {
							clientEOF = true
							l.Shutdown()
							return
						}
						if err != nil {
							t.Errorf("client read after its own ShutWrite: %v", err)
							l.Shutdown()
							return
						}
					}
				}
			}
			h.onWritable = func(l *EventLoop[int], tok Token) {
				if tok == 2 {
					pushAnswer()
				}
			}
			run(t, l, h)
			if !bytes.Equal(gotReq, request) || !serverEOF {
				t.Fatalf("server read %q (EOF %v); want %q then EOF", gotReq, serverEOF, request)
			}
			if !bytes.Equal(gotAns, answer) || !clientEOF {
				t.Fatalf("half-closed client read %d of %d answer bytes (EOF %v, equal prefix %v)",
					len(gotAns), len(answer), clientEOF, bytes.HasPrefix(answer, gotAns))
			}
		})
	}
}

// Writing after Shutdown(ShutWrite) returns EPIPE and raises no SIGPIPE.
func TestWriteAfterShutdownWriteEPIPE(t *testing.T) {
	for _, k := range pairKinds {
		t.Run(k.name, func(t *testing.T) {
			checkNoFdLeaks(t)
			c, _ := k.pair(t, 0)
			if err := c.Shutdown(ShutWrite); err != nil {
				t.Fatal(err)
			}
			var err error
			var n int
			// An absence check: expectNoSIGPIPE sends itself a marker
			// signal after the writes and fails if a SIGPIPE came first,
			// and a positive control shows it would have seen one.
			expectNoSIGPIPE(t, func() {
				for range 3 {
					if n, err = c.Write([]byte("after shutdown")); !errors.Is(err, syscall.EPIPE) {
						return
					}
				}
			})
			if n != 0 || !errors.Is(err, syscall.EPIPE) {
				t.Fatalf("Write after Shutdown(ShutWrite) = %d, %v; want 0, EPIPE", n, err)
			}
		})
	}
}

var howName = map[ShutdownHow]string{ShutRead: "read", ShutWrite: "write", ShutBoth: "both"}

// A second Shutdown of a direction already shut does what Linux does:
// nothing, and returns nil (socket_unix.go's Shutdown doc). The peer still
// sees exactly one EOF and the other direction still works. A socket reset
// by its peer is no longer connected: Shutdown returns ENOTCONN.
func TestShutdownTwice(t *testing.T) {
	for _, k := range pairKinds {
		for _, seq := range [][2]ShutdownHow{
			{ShutWrite, ShutWrite}, {ShutRead, ShutRead}, {ShutBoth, ShutBoth},
			{ShutWrite, ShutBoth}, {ShutRead, ShutBoth},
		} {
			t.Run(k.name+"/"+howName[seq[0]]+"-"+howName[seq[1]], func(t *testing.T) {
				checkNoFdLeaks(t)
				c, s := k.pair(t, 0)
				if err := c.Shutdown(seq[0]); err != nil {
					t.Fatalf("Shutdown(%d): %v", seq[0], err)
				}
				err := c.Shutdown(seq[1])
				if runtime.GOOS != "linux" {
					t.Logf("Shutdown(%d) after Shutdown(%d) on %s: %v", seq[1], seq[0], runtime.GOOS, err)
					if seq == [2]ShutdownHow{ShutWrite, ShutWrite} {
						// Whatever the second call returned, the peer
						// still sees only EOF.
						if got := readToEOF(t, s, s.Fd()); len(got) != 0 {
							t.Fatalf("peer read %q, want only EOF", got)
						}
					}
					return
				}
				if err != nil {
					t.Fatalf("Shutdown(%d) after Shutdown(%d): %v; want nil on Linux", seq[1], seq[0], err)
				}
				if seq[0] == ShutRead && seq[1] == ShutRead {
					// Writing goes on after the reading side is shut twice.
					msg := []byte("still writing")
					if got := transferThenEOF(t, c, c.Fd(), func() error { return c.Shutdown(ShutWrite) }, s, s.Fd(), msg); !bytes.Equal(got, msg) {
						t.Fatalf("peer read %q, want %q", got, msg)
					}
					return
				}
				if seq[1] == ShutBoth || seq[0] == ShutWrite {
					if got := readToEOF(t, s, s.Fd()); len(got) != 0 {
						t.Fatalf("peer read %q, want only EOF", got)
					}
					var buf [4]byte
					if n, err := s.Read(buf[:]); n != 0 || err != io.EOF {
						t.Fatalf("peer read after EOF = %d, %v; want EOF again", n, err)
					}
				}
			})
		}
	}
	t.Run("after-reset", func(t *testing.T) {
		checkNoFdLeaks(t)
		c, s := tcpPair(t, loopback4, 0)
		if err := s.SetLinger(0); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		waitFd(t, c.Fd(), 0) // only the reset ends this poll
		if err := c.Shutdown(ShutWrite); !errors.Is(err, syscall.ENOTCONN) {
			t.Fatalf("Shutdown of a reset connection: %v; want ENOTCONN", err)
		}
	})
}

// relResetPair returns a connected pair whose server end the peer then
// reset: for TCP with SO_LINGER 0 and Close, for a Unix socket by closing
// it with unread data (Linux then gives the peer ECONNRESET).
func resetPair(t *testing.T, k pairKind) Socket {
	t.Helper()
	c, s := k.pair(t, 0)
	if k.name == "unix" {
		if _, err := c.Write([]byte("never read")); err != nil {
			t.Fatal(err)
		}
	} else if err := s.(*TCPSocket).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return c
}

// A peer's reset reaches the loop as Readable with HupHint and/or
// ErrorHint, and the read gives ECONNRESET.
func TestPeerResetReadsECONNRESET(t *testing.T) {
	for _, k := range pairKinds {
		t.Run(k.name, func(t *testing.T) {
			if k.name == "unix" && runtime.GOOS != "linux" {
				t.Skip("a Unix peer closing with unread data resets only on Linux")
			}
			checkNoFdLeaks(t)
			l := newLoop(t)
			c := resetPair(t, k)
			if err := l.Register(c, 1, Readable, Level); err != nil {
				t.Fatal(err)
			}
			h := &recorder{}
			var readErr error
			var hint ReadHint
			h.onReadable = func(l *EventLoop[int], _ Token, hh ReadHint) {
				hint = hh
				var buf [16]byte
				_, readErr = c.Read(buf[:])
				l.Deregister(c)
				l.Shutdown()
			}
			run(t, l, h)
			if hint&(HupHint|ErrorHint) == 0 {
				t.Errorf("Readable after the peer's reset came with hint %v; want HupHint and/or ErrorHint", hint)
			}
			if !errors.Is(readErr, syscall.ECONNRESET) {
				t.Fatalf("read after the peer's reset: %v; want ECONNRESET", readErr)
			}
			t.Logf("hint %03b", hint)
		})
	}
}

// Writing into a reset connection returns EPIPE or ECONNRESET, and no
// SIGPIPE arrives.
func TestWriteIntoResetNoSIGPIPE(t *testing.T) {
	for _, k := range pairKinds {
		t.Run(k.name, func(t *testing.T) {
			checkNoFdLeaks(t)
			c := resetPair(t, k)
			waitFd(t, c.Fd(), 0) // only the reset or hang-up ends this poll
			var errs []error
			// An absence check: see expectNoSIGPIPE. Each write's error
			// is kept; every one must be EPIPE or ECONNRESET.
			expectNoSIGPIPE(t, func() {
				for range 4 {
					_, err := c.Write([]byte("into a reset connection"))
					errs = append(errs, err)
				}
			})
			for i, err := range errs {
				if !isReset(err) {
					t.Fatalf("write %d into a reset connection: %v; want EPIPE or ECONNRESET (all: %v)", i, err, errs)
				}
			}
		})
	}
}

// relDrainToEOF reads sock until ErrWouldBlock, feeding a running hash; it
// reports io.EOF, or fails the test on any other error.
func drainToEOF(t *testing.T, sock io.Reader, buf []byte, n *int64, sum *uint32) (eof bool) {
	for {
		m, err := sock.Read(buf)
		*n += int64(m)
		*sum = crc32.Update(*sum, crc32.IEEETable, buf[:m])
		switch {
		case err == ErrWouldBlock:
			return false
		case err == io.EOF:
			return true
		case err != nil:
			t.Errorf("read after %d bytes: %v", *n, err)
			return true
		}
	}
}

// Data followed by FIN: every byte comes before EOF, to an edge-triggered
// reader, whether the FIN is queued behind the data before the first poll
// or follows a stream written through the loop.
func TestDataThenFINEveryByteBeforeEOF(t *testing.T) {
	for _, k := range pairKinds {
		for _, how := range []string{"prequeued", "streamed"} {
			t.Run(k.name+"/"+how, func(t *testing.T) {
				checkNoFdLeaks(t)
				l := newLoop(t)
				c, s := k.pair(t, 0)
				var sent, got int64
				var sentSum, gotSum uint32
				src := newStreamSource(8 << 20)
				write := func() (done bool) {
					for p := src.next(); p != nil; p = src.next() {
						n, err := c.Write(p)
						src.sent += int64(n)
						sent += int64(n)
						sentSum = crc32.Update(sentSum, crc32.IEEETable, p[:n])
						if err == ErrWouldBlock {
							return false
						}
						if err != nil {
							t.Errorf("write: %v", err)
							return true
						}
					}
					return true
				}
				if how == "prequeued" {
					// As much as the buffers take, then Close: the FIN goes
					// out behind data still queued, before the reader's
					// first poll.
					write()
					if err := c.Close(); err != nil {
						t.Fatal(err)
					}
				} else if err := l.Register(c, 1, Writable, Edge); err != nil {
					t.Fatal(err)
				}
				if err := l.Register(s, 2, Readable, Edge); err != nil {
					t.Fatal(err)
				}
				h := &recorder{}
				buf := make([]byte, 64<<10)
				var firstHint ReadHint
				h.onReadable = func(l *EventLoop[int], tok Token, hint ReadHint) {
					if tok != 2 {
						return
					}
					if firstHint == 0 {
						firstHint = hint
					}
					if drainToEOF(t, s, buf, &got, &gotSum) {
						l.Shutdown()
					}
				}
				h.onWritable = func(l *EventLoop[int], tok Token) {
					if tok == 1 && write() {
						if err := c.Close(); err != nil {
							t.Error(err)
						}
					}
				}
				run(t, l, h)
				if got != sent || gotSum != sentSum {
					t.Fatalf("read %d bytes (crc %08x) before EOF; %d were written (crc %08x)", got, gotSum, sent, sentSum)
				}
				if sent < 64<<10 {
					t.Fatalf("precondition: only %d bytes written", sent)
				}
				t.Logf("%d bytes, first hint %03b", sent, firstHint)
			})
		}
	}
}

// streamWriter sends a streamSource through a socket driven by level-triggered
// Writable, holding write interest only while data is pending.
type streamWriter struct {
	sock     Socket
	tok      Token
	src      *streamSource
	sum      uint32
	partial  int  // writes the kernel took only part of
	interest bool // Writable currently registered
	finished bool
	onDone   func()
}

// pump writes until the kernel refuses more or the source is done, then
// sets write interest to match what is left.
func (w *streamWriter) pump(t *testing.T, l *EventLoop[int]) {
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

func (w *streamWriter) want(t *testing.T, l *EventLoop[int], on bool) {
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
func Test100MBThroughPartialWrites(t *testing.T) {
	const total = 100 << 20
	for _, k := range []pairKind{pairKinds[0], pairKinds[2]} { // tcp4, unix
		t.Run(k.name, func(t *testing.T) {
			checkNoFdLeaks(t)
			l := newLoop(t)
			c, s := k.pair(t, 64<<10)
			w := &streamWriter{sock: c, tok: 1, src: newStreamSource(total)}
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
			h := &recorder{}
			h.onReadable = func(l *EventLoop[int], tok Token, _ ReadHint) {
				if tok == 2 && drainToEOF(t, s, buf, &got, &gotSum) {
					l.Shutdown()
				}
			}
			h.onWritable = func(l *EventLoop[int], tok Token) { w.pump(t, l) }
			start := time.Now()
			w.pump(t, l)
			run(t, l, h)
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
func TestWriteInterestOnlyWhilePendingNoSpin(t *testing.T) {
	checkNoFdLeaks(t)
	l := newLoop(t)
	c, s := tcpPair(t, loopback4, 64<<10)
	w := &streamWriter{sock: c, tok: 1, src: newStreamSource(4 << 20)}
	if err := l.Register(c, 1, Readable, Level); err != nil {
		t.Fatal(err)
	}
	var got int64
	var gotSum uint32
	buf := make([]byte, 64<<10)
	h := &recorder{}
	h.onWritable = func(l *EventLoop[int], tok Token) { w.pump(t, l) }
	h.onReadable = func(l *EventLoop[int], tok Token, _ ReadHint) {
		if tok == 2 {
			drainToEOF(t, s, buf, &got, &gotSum)
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
	stopAfter(t, l, 200*time.Millisecond)
	run(t, l, h)
	paused := h.count("w", 1)
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
	run(t, l, h)
	if got != w.src.total || gotSum != w.sum || w.interest {
		t.Fatalf("read %d of %d bytes (crc equal %v); write interest still held %v", got, w.src.total, gotSum == w.sum, w.interest)
	}
	// Idle, with nothing pending: no Writable at all.
	before := h.count("w", 1)
	stopAfter(t, l, 200*time.Millisecond)
	run(t, l, h)
	if idle := h.count("w", 1) - before; idle != 0 {
		t.Fatalf("%d Writable callbacks in 200ms with nothing pending and write interest dropped", idle)
	}
	// Positive control: held with nothing pending, level write interest
	// is reported on every poll.
	if err := l.Reregister(c, 1, Readable|Writable, Level); err != nil {
		t.Fatal(err)
	}
	before = h.count("w", 1)
	h.onWritable = nil
	stopAfter(t, l, 50*time.Millisecond)
	run(t, l, h)
	if spin := h.count("w", 1) - before; spin < 100 {
		t.Fatalf("control: only %d Writable callbacks in 50ms with idle write interest held; the counting is blind", spin)
	}
	t.Logf("Writable callbacks: %d while the reader paused, %d in the 50ms control", paused, h.count("w", 1)-before)
}

func TestSocketReadWouldBlock(t *testing.T) {
	for _, k := range pairKinds {
		t.Run(k.name, func(t *testing.T) {
			c, s := k.pair(t, 0)
			var buf [16]byte
			for _, end := range []Socket{c, s} {
				n, err := end.Read(buf[:])
				if n != 0 || err != ErrWouldBlock || !errors.Is(err, ErrWouldBlock) || !errors.Is(err, syscall.EAGAIN) {
					t.Fatalf("Read with nothing there = %d, %v; want 0 and ErrWouldBlock itself", n, err)
				}
			}
		})
	}
}

func TestSocketReadEOFAfterShutdownWrite(t *testing.T) {
	for _, k := range pairKinds {
		t.Run(k.name, func(t *testing.T) {
			c, s := k.pair(t, 0)
			data := randomBytes(1<<20, 1)
			got := transferThenEOF(t, c, c.Fd(), func() error { return c.Shutdown(ShutWrite) }, s, s.Fd(), data)
			if !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes before io.EOF, not the %d sent before the FIN", len(got), len(data))
			}
			var buf [8]byte
			if n, err := s.Read(buf[:]); n != 0 || err != io.EOF {
				t.Fatalf("Read after io.EOF = %d, %v; want io.EOF again", n, err)
			}
			// ShutWrite closes one direction only: the other still works.
			reply := randomBytes(4<<10, 2)
			got = transferThenEOF(t, s, s.Fd(), s.Close, c, c.Fd(), reply)
			if !bytes.Equal(got, reply) {
				t.Fatalf("after ShutWrite the writer read %d bytes, want the %d its peer sent", len(got), len(reply))
			}
		})
	}
}

func TestSocketReadEOFAfterPeerClose(t *testing.T) {
	for _, k := range pairKinds {
		t.Run(k.name, func(t *testing.T) {
			c, s := k.pair(t, 0)
			data := randomBytes(1<<20, 3)
			got := transferThenEOF(t, c, c.Fd(), c.Close, s, s.Fd(), data)
			if !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes before io.EOF, not the %d sent before Close", len(got), len(data))
			}
		})
	}
}

// A writer with a small send buffer facing a peer with a small receive
// buffer that does not read: one big Write is taken only in part.
func TestSocketWritePartialWouldBlock(t *testing.T) {
	for _, k := range pairKinds {
		t.Run(k.name, func(t *testing.T) {
			c, s := k.pair(t, 4096)
			data := randomBytes(4<<20, 4)
			n, err := c.Write(data)
			if err != ErrWouldBlock || !errors.Is(err, ErrWouldBlock) {
				t.Fatalf("Write of %d bytes into a full socket: n = %d, err = %v; want ErrWouldBlock itself", len(data), n, err)
			}
			if n <= 0 || n >= len(data) {
				t.Fatalf("Write with ErrWouldBlock returned n = %d, want 0 < n < %d", n, len(data))
			}
			if k.name == "unix" {
				// A Unix stream writer's buffer is freed only as the peer
				// reads, so nothing more fits.
				if m, err := c.Write(data[n : n+1]); m != 0 || err != ErrWouldBlock {
					t.Fatalf("Write into a full Unix socket = %d, %v; want 0, ErrWouldBlock", m, err)
				}
			}
			if err := c.Shutdown(ShutWrite); err != nil {
				t.Fatal(err)
			}
			got := readToEOF(t, s, s.Fd())
			if !bytes.Equal(got, data[:n]) {
				t.Fatalf("Write reported %d bytes written; the peer read %d (equal prefix: %v)",
					n, len(got), bytes.HasPrefix(data, got))
			}
		})
	}
}

func TestSocketWriteToClosedPeerNoSIGPIPE(t *testing.T) {
	for _, k := range pairKinds {
		t.Run(k.name, func(t *testing.T) {
			c, s := k.pair(t, 0)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			var err error
			expectNoSIGPIPE(t, func() {
				// TCP accepts the first write after the peer's FIN; the
				// peer answers it with a reset, after which writes fail.
				for range 10 {
					if _, err = c.Write([]byte("after close")); err != nil {
						return
					}
					// Wait for the reset: no events asked, so only an
					// error or hang-up ends the poll.
					waitFd(t, c.Fd(), 0)
				}
			})
			if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("Write to a closed peer: %v, want EPIPE or ECONNRESET", err)
			}
		})
	}
}

func TestSocketTakeErrorHealthy(t *testing.T) {
	u, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	acc, _ := tcpListener(t, loopback4, 0)
	uacc, _ := unixListener(t, 16)
	c4, s4 := tcpPair(t, loopback4, 0)
	cu, su := unixPair(t, 0)
	for name, te := range map[string]interface{ TakeError() error }{
		"new TCPSocket": newTCPSocket4or6(t, loopback4), "new UnixSocket": u,
		"TCPAcceptor": acc, "UnixAcceptor": uacc,
		"TCP client": c4, "TCP accepted": s4, "Unix client": cu, "Unix accepted": su,
	} {
		if err := te.TakeError(); err != nil {
			t.Errorf("%s: TakeError = %v, want nil", name, err)
		}
	}
}

// An accepted socket reset by its peer: TakeError reports ECONNRESET
// without calling it a connect failure.
func TestTCPTakeErrorNamesNoOperation(t *testing.T) {
	c, s := tcpPair(t, loopback4, 0)
	if err := c.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	waitFd(t, s.Fd(), 0) // only the reset ends this poll
	err := s.TakeError()
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("TakeError after the peer's reset: %v, want ECONNRESET", err)
	}
	if strings.Contains(err.Error(), "connect:") {
		t.Fatalf("TakeError on an accepted socket: %q names a connect", err)
	}
}

func TestTCPShutdownUnconnected(t *testing.T) {
	s := newTCPSocket4or6(t, loopback4)
	for _, how := range []ShutdownHow{ShutRead, ShutWrite, ShutBoth} {
		if err := s.Shutdown(how); !errors.Is(err, syscall.ENOTCONN) {
			t.Errorf("Shutdown(%d) of an unconnected TCP socket: %v, want ENOTCONN", how, err)
		}
	}
	// An invalid how is reported as such, connected or not.
	if err := s.Shutdown(ShutdownHow(7)); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Shutdown(7) of an unconnected TCP socket: %v, want EINVAL", err)
	}
}

// Shutdown's comment promises ENOTCONN for any socket that is not
// connected, Unix ones included.
func TestUnixShutdownUnconnected(t *testing.T) {
	s, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Shutdown(ShutWrite); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("Shutdown(ShutWrite) of an unconnected Unix socket: %v, want ENOTCONN as documented", err)
	}
}

// After ShutRead every read is io.EOF, on every system: also with data
// that was queued before (the BSDs flush it, Linux kept it) and with data
// the peer sends after (Linux TCP still queued it).
func TestShutdownReadGivesEOF(t *testing.T) {
	for _, k := range pairKinds {
		for _, how := range []ShutdownHow{ShutRead, ShutBoth} {
			t.Run(k.name+"/"+howName[how], func(t *testing.T) {
				c, s := k.pair(t, 0)
				if _, err := s.Write([]byte("early")); err != nil {
					t.Fatal(err)
				}
				waitFd(t, c.Fd(), unix.POLLIN)
				if err := c.Shutdown(how); err != nil {
					t.Fatal(err)
				}
				var buf [8]byte
				if n, err := c.Read(buf[:]); n != 0 || err != io.EOF {
					t.Fatalf("Read after Shutdown with data queued before = %d (%q), %v; want io.EOF", n, buf[:n], err)
				}
				// A Unix peer gets EPIPE here; a TCP peer's data arrives.
				s.Write([]byte("late"))
				if n, err := c.Read(buf[:]); n != 0 || err != io.EOF {
					t.Fatalf("Read after Shutdown with data sent after = %d (%q), %v; want io.EOF", n, buf[:n], err)
				}
			})
		}
	}
}

func TestShutdownInvalidHow(t *testing.T) {
	for _, k := range pairKinds {
		t.Run(k.name, func(t *testing.T) {
			c, s := k.pair(t, 0)
			for _, how := range []ShutdownHow{-1, 3, 100} {
				if err := c.Shutdown(how); !errors.Is(err, syscall.EINVAL) {
					t.Errorf("Shutdown(%d): %v, want EINVAL", how, err)
				}
			}
			// The invalid calls shut nothing down.
			msg := []byte("still open")
			if got := transferThenEOF(t, c, c.Fd(), func() error { return c.Shutdown(ShutWrite) }, s, s.Fd(), msg); !bytes.Equal(got, msg) {
				t.Fatalf("after invalid Shutdowns the peer read %q, want %q", got, msg)
			}
		})
	}
}

func TestSocketReadWriteAllocs(t *testing.T) {
	for _, k := range []pairKind{pairKinds[0], pairKinds[2]} {
		t.Run(k.name, func(t *testing.T) {
			c, s := k.pair(t, 0)
			var in, out [64]byte
			copy(out[:], "sixty-four bytes")
			if a := testing.AllocsPerRun(100, func() {
				if _, err := s.Read(in[:]); err != ErrWouldBlock {
					t.Fatalf("Read: %v, want ErrWouldBlock", err)
				}
			}); a != 0 {
				t.Errorf("Read returning ErrWouldBlock allocates %v times", a)
			}
			if a := testing.AllocsPerRun(100, func() {
				if n, err := c.Write(out[:]); n != len(out) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
				waitFdNoAlloc(s.Fd())
				if n, err := s.Read(in[:]); n != len(in) || err != nil {
					t.Fatalf("Read = %d, %v", n, err)
				}
			}); a != 0 {
				t.Errorf("a 64-byte Write and Read allocate %v times", a)
			}
		})
	}
}

// pollBuf keeps waitFdNoAlloc's argument off the heap between calls.
var pollBuf [1]unix.PollFd

// waitFdNoAlloc waits up to pending for fd to be readable, without the
// test helper's allocations, so that AllocsPerRun counts only the library.
// A timeout shows up as the Read that follows failing.
func waitFdNoAlloc(fd int) {
	pollBuf[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	for {
		if _, err := unix.Poll(pollBuf[:], int(pending/time.Millisecond)); err != unix.EINTR {
			return
		}
	}
}

// BenchmarkSocketReadWrite measures a 64-byte Write and the Read that takes
// it on a connected Unix stream pair.
func BenchmarkSocketReadWrite(b *testing.B) {
	c, s := unixPair(b, 0)
	var in, out [64]byte
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		if n, err := c.Write(out[:]); n != len(out) || err != nil {
			b.Fatalf("Write = %d, %v", n, err)
		}
		if n, err := s.Read(in[:]); n != len(in) || err != nil {
			b.Fatalf("Read = %d, %v", n, err)
		}
	}
}
