//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"errors"
	"hash/crc32"
	"io"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Readiness edge cases: data followed by FIN, error and hang-up reported
// unasked without spinning, and an unconnected socket.

// relDrainToEOF reads sock until ErrWouldBlock, feeding a running hash; it
// reports io.EOF, or fails the test on any other error.
func relDrainToEOF(t *testing.T, sock io.Reader, buf []byte, n *int64, sum *uint32) (eof bool) {
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
func TestRelDataThenFINEveryByteBeforeEOF(t *testing.T) {
	for _, k := range pairKinds {
		for _, how := range []string{"prequeued", "streamed"} {
			t.Run(k.name+"/"+how, func(t *testing.T) {
				relNoLeaks(t)
				l := newLoop(t)
				c, s := k.pair(t, 0)
				var sent, got int64
				var sentSum, gotSum uint32
				src := relNewSource(8 << 20)
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
				h := relNewH(t)
				buf := make([]byte, 64<<10)
				var firstHint ReadHint
				h.onR = func(l *EventLoop[int], tok Token, hint ReadHint) {
					if tok != 2 {
						return
					}
					if firstHint == 0 {
						firstHint = hint
					}
					if relDrainToEOF(t, s, buf, &got, &gotSum) {
						l.Shutdown()
					}
				}
				h.onW = func(l *EventLoop[int], tok Token) {
					if tok == 1 && write() {
						if err := c.Close(); err != nil {
							t.Error(err)
						}
					}
				}
				relRun(t, l, h)
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

// A dead socket is reported though the registration asks only for
// Writable, and does not make the loop spin: an error comes as
// Readable(ErrorHint) and Writable, a peer that is gone without an error
// as Writable whose write fails. A handler that deregisters then hears
// nothing more, and an edge-triggered registration left in place is
// reported once.
func TestRelErrHupUnaskedNoSpin(t *testing.T) {
	type setup struct {
		name string
		make func(t *testing.T) Evented
	}
	for _, st := range []setup{
		{"tcp-reset", func(t *testing.T) Evented { return relResetPair(t, pairKinds[0]) }},
		{"unix-peer-closed", func(t *testing.T) Evented {
			a, b := socketPair(t)
			b.Close()
			return a
		}},
		{"refused-connect", func(t *testing.T) Evented { return refusedConnect(t) }},
	} {
		for _, opt := range []PollOpt{Level, Edge} {
			name := st.name + "/level"
			if opt == Edge {
				name = st.name + "/edge"
			}
			t.Run(name, func(t *testing.T) {
				relNoLeaks(t)
				l := newLoop(t)
				fd := st.make(t)
				if err := l.Register(fd, 1, Writable, opt); err != nil {
					t.Fatal(err)
				}
				h := relNewH(t)
				var hint ReadHint
				var writeErr error
				handled := func(l *EventLoop[int]) {
					if opt == Level {
						if err := l.Deregister(fd); err != nil {
							t.Error(err)
						}
					}
				}
				h.onR = func(l *EventLoop[int], _ Token, hh ReadHint) {
					hint |= hh
					if hh&ErrorHint != 0 {
						handled(l)
					}
				}
				h.onW = func(l *EventLoop[int], _ Token) {
					_, err := unix.Write(fd.Fd(), []byte("x"))
					if err != nil && err != unix.EAGAIN && writeErr == nil {
						writeErr = err
						handled(l)
					}
				}
				runOnce(t, l, h, pending)
				if hint&HupHint != 0 {
					t.Fatalf("write-only registration got HupHint (hints %03b): it is for readers only", hint)
				}
				if hint&ErrorHint == 0 && writeErr == nil {
					t.Fatalf("write-only registration of a dead socket: Readable hints %03b, Writable %d and no failed write; want ErrorHint or a failing write", hint, h.writes[1])
				}
				first := h.reads[1] + h.writes[1]
				// The quiet check: 100ms of polling brings nothing more.
				start := time.Now()
				for time.Since(start) < 100*time.Millisecond {
					runOnce(t, l, h, 100*time.Millisecond-time.Since(start))
				}
				if more := h.reads[1] + h.writes[1] - first; more != 0 {
					t.Fatalf("%d more callbacks in 100ms after the hang-up was handled: the loop spins", more)
				}
			})
		}
	}
}

// A registered socket that was never connected never looks connected:
// whatever the loop reports for it (Linux reports it writable and hung up),
// TakeError is nil, PeerAddr gives ENOTCONN, and neither Read nor Write
// moves data or pretends to wait.
func TestRelUnconnectedNeverLooksConnected(t *testing.T) {
	for _, kind := range []string{"tcp4", "unix"} {
		t.Run(kind, func(t *testing.T) {
			relNoLeaks(t)
			l := newLoop(t)
			var sock Socket
			if kind == "unix" {
				u, err := NewUnixSocket()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { u.Close() })
				sock = u
			} else {
				sock = newTCPSocket4or6(t, loopback4)
			}
			if err := l.Register(sock, 1, Readable|Writable, Level); err != nil {
				t.Fatal(err)
			}
			check := func(when string) {
				if err := sock.TakeError(); err != nil {
					t.Errorf("%s: TakeError %v, want nil", when, err)
				}
				if _, err := sock.PeerAddr(); !errors.Is(err, syscall.ENOTCONN) {
					t.Errorf("%s: PeerAddr %v, want ENOTCONN", when, err)
				}
			}
			h := relNewH(t)
			h.onR = func(_ *EventLoop[int], _ Token, hint ReadHint) { check("Readable") }
			h.onW = func(*EventLoop[int], Token) { check("Writable") }
			runOnce(t, l, h, 50*time.Millisecond)
			runOnce(t, l, h, 50*time.Millisecond)
			check("after polling")
			var buf [8]byte
			n, rerr := sock.Read(buf[:])
			if n != 0 || rerr == nil || rerr == ErrWouldBlock {
				t.Errorf("Read of an unconnected socket = %d, %v; want 0 and an error", n, rerr)
			}
			n, werr := sock.Write([]byte("x"))
			if n != 0 || werr == nil || werr == ErrWouldBlock {
				t.Errorf("Write to an unconnected socket = %d, %v; want 0 and an error", n, werr)
			}
			t.Logf("callbacks: %d Readable (hints %03b), %d Writable; Read %v; Write %v",
				h.reads[1], h.hints[1], h.writes[1], rerr, werr)
		})
	}
}
