//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"syscall"
	"testing"
)

// Half-close and resets.

// Shutdown(ShutWrite) gives the peer every byte and then EOF, while the
// other direction goes on: the peer answers after the EOF and the client,
// which can no longer write, reads the whole answer, all through the loop.
func TestRelShutdownWriteHalfClose(t *testing.T) {
	for _, k := range pairKinds {
		t.Run(k.name, func(t *testing.T) {
			relNoLeaks(t)
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
			h := relNewH(t)
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
			h.onR = func(l *EventLoop[int], tok Token, _ ReadHint) {
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
			h.onW = func(l *EventLoop[int], tok Token) {
				if tok == 2 {
					pushAnswer()
				}
			}
			relRun(t, l, h)
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
func TestRelWriteAfterShutdownWriteEPIPE(t *testing.T) {
	for _, k := range pairKinds {
		t.Run(k.name, func(t *testing.T) {
			relNoLeaks(t)
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

var relHowName = map[ShutdownHow]string{ShutRead: "read", ShutWrite: "write", ShutBoth: "both"}

// A second Shutdown of a direction already shut does what Linux does:
// nothing, and returns nil (socket_unix.go's Shutdown doc). The peer still
// sees exactly one EOF and the other direction still works. A socket reset
// by its peer is no longer connected: Shutdown returns ENOTCONN.
func TestRelShutdownTwice(t *testing.T) {
	for _, k := range pairKinds {
		for _, seq := range [][2]ShutdownHow{
			{ShutWrite, ShutWrite}, {ShutRead, ShutRead}, {ShutBoth, ShutBoth},
			{ShutWrite, ShutBoth}, {ShutRead, ShutBoth},
		} {
			t.Run(k.name+"/"+relHowName[seq[0]]+"-"+relHowName[seq[1]], func(t *testing.T) {
				relNoLeaks(t)
				c, s := k.pair(t, 0)
				if err := c.Shutdown(seq[0]); err != nil {
					t.Fatalf("Shutdown(%d): %v", seq[0], err)
				}
				err := c.Shutdown(seq[1])
				if runtime.GOOS != "linux" {
					t.Logf("Shutdown(%d) after Shutdown(%d) on %s: %v", seq[1], seq[0], runtime.GOOS, err)
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
		relNoLeaks(t)
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
func relResetPair(t *testing.T, k pairKind) Socket {
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
func TestRelPeerResetReadECONNRESET(t *testing.T) {
	for _, k := range pairKinds {
		t.Run(k.name, func(t *testing.T) {
			if k.name == "unix" && runtime.GOOS != "linux" {
				t.Skip("a Unix peer closing with unread data resets only on Linux")
			}
			relNoLeaks(t)
			l := newLoop(t)
			c := relResetPair(t, k)
			if err := l.Register(c, 1, Readable, Level); err != nil {
				t.Fatal(err)
			}
			h := relNewH(t)
			var readErr error
			var hint ReadHint
			h.onR = func(l *EventLoop[int], _ Token, hh ReadHint) {
				hint = hh
				var buf [16]byte
				_, readErr = c.Read(buf[:])
				l.Deregister(c)
				l.Shutdown()
			}
			relRun(t, l, h)
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
func TestRelWriteIntoResetNoSIGPIPE(t *testing.T) {
	for _, k := range pairKinds {
		t.Run(k.name, func(t *testing.T) {
			relNoLeaks(t)
			c := relResetPair(t, k)
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
				if !relIsReset(err) {
					t.Fatalf("write %d into a reset connection: %v; want EPIPE or ECONNRESET (all: %v)", i, err, errs)
				}
			}
		})
	}
}
