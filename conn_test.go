//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"bytes"
	"errors"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A Conn echoes what its peer sends and, at the peer's end of stream,
// flushes and closes: OnOpen, OnData, OnClose(nil), once each in order.
func TestConnEchoThenPeerEOF(t *testing.T) {
	g := newConnRig(t, ConnConfig{})
	g.rec.echo = true
	c, client := g.adopt(0)
	msg := randomBytes(100<<10, 1)
	var back []byte
	var err error
	sent := 0
	g.until(func() bool {
		if sent < len(msg) {
			n, _ := client.Write(msg[sent:])
			sent += max(n, 0)
		}
		back, err = readSome(t, client, back)
		return len(back) == len(msg) || err != nil
	})
	if !bytes.Equal(back, msg) {
		t.Fatalf("echoed %d bytes, want the %d sent", len(back), len(msg))
	}
	if err := client.Shutdown(ShutWrite); err != nil {
		t.Fatal(err)
	}
	g.until(func() bool { return g.rec.closed(c) })
	back, err = readSome(t, client, nil)
	if err != io.EOF || len(back) != 0 {
		t.Fatalf("after the close the client read %d bytes and %v, want io.EOF", len(back), err)
	}
	if g.rec.errs[c] != nil || g.rec.closes[c] != 1 {
		t.Fatalf("OnClose %d times, err %v; want once with nil", g.rec.closes[c], g.rec.errs[c])
	}
	if g.conns.Len() != 0 {
		t.Fatalf("Len %d after the close", g.conns.Len())
	}
}

// sendAll writes p to s as the kernel takes it, running the loop between
// writes, until all of p went or stop holds.
func (g *connRig) sendAll(s Socket, p []byte) {
	g.t.Helper()
	sent := 0
	g.until(func() bool {
		n, err := s.Write(p[sent:])
		sent += max(n, 0)
		if err != nil && err != ErrWouldBlock {
			g.t.Fatalf("client write: %v", err)
		}
		return sent == len(p)
	})
}

// quiet runs n short iterations and returns how many callbacks the Conns
// made meanwhile: a Conn with nothing to do must make none (no spin).
func (g *connRig) quiet(n int) int {
	g.t.Helper()
	before := len(g.rec.events)
	for range n {
		runOnce(g.t, g.loop, g.conns, 10*time.Millisecond)
	}
	return len(g.rec.events) - before
}

// Input is bounded: a handler that consumes nothing stops the reading at
// ReadLimit, the loop then does not spin, and consuming from outside a
// callback resumes it, with every byte in order, up to the peer's end of
// stream, which is still seen.
func TestConnInputBoundStopsAndResumes(t *testing.T) {
	const limit = 4096
	g := newConnRig(t, ConnConfig{ReadLimit: limit})
	g.rec.onData = func(c *Conn) {} // consume nothing
	c, client := g.adopt(limit)
	msg := randomBytes(256<<10, 2)
	sent := 0
	g.until(func() bool {
		n, _ := client.Write(msg[sent:])
		sent += max(n, 0)
		return c.in.Len() == limit
	})
	if extra := g.quiet(20); extra != 0 || c.in.Cap() > limit {
		t.Fatalf("with In full: %d callbacks in 20 idle iterations (want 0), In holds %d bytes of memory (limit %d)", extra, c.in.Cap(), limit)
	}
	var got []byte
	g.rec.onData = func(c *Conn) { got = append(got, c.In().Next(c.In().Len())...) }
	got = append(got, c.In().Next(limit)...) // consumed outside any callback
	g.until(func() bool {
		n, _ := client.Write(msg[sent:])
		sent += max(n, 0)
		if sent == len(msg) {
			client.Shutdown(ShutWrite)
		}
		return g.rec.closed(c)
	})
	if !bytes.Equal(got, msg) || g.rec.errs[c] != nil {
		t.Fatalf("got %d bytes (equal: %v), OnClose %v; want the %d sent and nil", len(got), bytes.Equal(got, msg), g.rec.errs[c], len(msg))
	}
}

// Output is bounded: Write past WriteLimit fails with ErrBufferFull and
// loses nothing queued; OnDrain comes once, when the output falls to
// LowWater; the peer reads every byte in order.
func TestConnOutputBoundAndDrain(t *testing.T) {
	cfg := ConnConfig{WriteLimit: 64 << 10, HighWater: 32 << 10, LowWater: 8 << 10}
	g := newConnRig(t, cfg)
	c, client := g.adopt(4096)
	var want []byte
	chunk := randomBytes(10<<10, 3)
	var full error
	for i := 0; full == nil; i++ {
		p := chunk[i%7*1000:]
		if _, full = c.Write(p); full == nil {
			want = append(want, p...)
		}
		if c.OutputLen() > cfg.WriteLimit {
			t.Fatalf("OutputLen %d past WriteLimit %d", c.OutputLen(), cfg.WriteLimit)
		}
	}
	if !errors.Is(full, ErrBufferFull) || !c.Backlogged() {
		t.Fatalf("Write past the limit: %v, Backlogged %v; want ErrBufferFull and true", full, c.Backlogged())
	}
	var back []byte
	g.until(func() bool {
		back, _ = readSome(t, client, back)
		return len(back) == len(want)
	})
	if !bytes.Equal(back, want) {
		t.Fatal("the peer read other bytes than those written")
	}
	if n := strings.Count(strings.Join(g.rec.events, " "), "drain"); n != 1 || c.Backlogged() {
		t.Fatalf("OnDrain %d times, Backlogged %v; want once and false (%v)", n, c.Backlogged(), g.rec.events)
	}
}

// Data the peer sent before its FIN, or before a reset, reaches OnData
// before OnClose.
func TestConnDataBeforeEndReachesOnData(t *testing.T) {
	for _, reset := range []bool{false, true} {
		t.Run(map[bool]string{false: "FIN", true: "RST"}[reset], func(t *testing.T) {
			g := newConnRig(t, ConnConfig{})
			g.rec.onOpen = func(c *Conn) { c.PauseRead() } // let it all arrive first
			c, client := g.adopt(0)
			msg := randomBytes(32<<10, 4)
			g.sendAll(client, msg)
			if reset {
				client.SetLinger(0)
			}
			client.Close()
			c.ResumeRead()
			g.until(func() bool { return g.rec.closed(c) })
			if !bytes.Equal(g.rec.got[c], msg) {
				t.Fatalf("OnData got %d bytes of the %d sent before the end", len(g.rec.got[c]), len(msg))
			}
			err := g.rec.errs[c]
			if reset != (err != nil) || reset && !isReset(err) {
				t.Fatalf("OnClose err %v (reset %v)", err, reset)
			}
			if last := g.rec.events[len(g.rec.events)-1]; last != "close0" {
				t.Fatalf("events %v end with %s, want close0", g.rec.events, last)
			}
		})
	}
}

// Close writes everything queued, then the FIN: the peer reads it all,
// then the end of stream, and OnClose(nil) comes once the peer closed too.
func TestConnCloseFlushesFirst(t *testing.T) {
	g := newConnRig(t, ConnConfig{})
	c, client := g.adopt(4096)
	msg := randomBytes(512<<10, 5)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := c.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close: %v, want ErrClosed", err)
	}
	var back []byte
	var err error
	g.until(func() bool {
		back, err = readSome(t, client, back)
		return err != nil
	})
	if err != io.EOF || !bytes.Equal(back, msg) {
		t.Fatalf("peer read %d bytes then %v; want the %d queued then io.EOF", len(back), err, len(msg))
	}
	client.Close()
	g.until(func() bool { return g.rec.closed(c) })
	if g.rec.errs[c] != nil || g.rec.closes[c] != 1 {
		t.Fatalf("OnClose %d times with %v", g.rec.closes[c], g.rec.errs[c])
	}
}

// A Close whose output is not all written within Linger resets the
// connection: the peer, which never read, learns that the stream was cut
// short instead of reading an end of stream after part of it; OnClose gets
// the linger's timeout error.
func TestConnLingerExpiryResets(t *testing.T) {
	g := newConnRig(t, ConnConfig{Linger: 100 * time.Millisecond, WriteLimit: 64 << 20})
	c, client := g.adopt(4096)
	chunk := randomBytes(1<<20, 6)
	for c.OutputLen() == 0 { // until the kernel, and the peer's buffers behind it, took all they will
		if _, err := c.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	g.until(func() bool { return g.rec.closed(c) })
	if err := g.rec.errs[c]; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("OnClose with %v, want the linger's timeout", err)
	}
	var err error
	for err == nil {
		waitFd(t, client.Fd(), unix.POLLIN)
		_, err = readSome(t, client, nil)
	}
	if !isReset(err) {
		t.Errorf("the peer read %v after the linger expired; want a reset", err)
	}
}

// CloseWrite half-closes: the peer reads the end of stream, and what it
// sends afterwards still reaches OnData.
func TestConnCloseWriteKeepsReading(t *testing.T) {
	g := newConnRig(t, ConnConfig{})
	c, client := g.adopt(0)
	c.Write([]byte("bye"))
	c.CloseWrite()
	var back []byte
	var err error
	g.until(func() bool {
		back, err = readSome(t, client, back)
		return err != nil
	})
	if err != io.EOF || string(back) != "bye" {
		t.Fatalf("peer read %q then %v", back, err)
	}
	g.sendAll(client, []byte("after"))
	g.until(func() bool { return len(g.rec.got[c]) == 5 })
	if string(g.rec.got[c]) != "after" || g.rec.closed(c) {
		t.Fatalf("after CloseWrite OnData got %q, closed %v", g.rec.got[c], g.rec.closed(c))
	}
}

// Abort resets the connection at once, and OnClose(nil) comes once;
// the Conn is then closed for every method.
func TestConnAbortResets(t *testing.T) {
	g := newConnRig(t, ConnConfig{})
	c, client := g.adopt(4096)
	c.Write(randomBytes(256<<10, 6))
	c.Abort()
	g.until(func() bool { return g.rec.closed(c) })
	var err error
	g.until(func() bool {
		_, err = readSome(t, client, nil)
		return err != nil
	})
	if !isReset(err) || g.rec.errs[c] != nil || g.rec.closes[c] != 1 {
		t.Fatalf("peer's read: %v (want a reset); OnClose %d times with %v", err, g.rec.closes[c], g.rec.errs[c])
	}
	c.Close()
	c.Abort()
	if _, err := c.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after the close: %v", err)
	}
	if g.quiet(3); g.rec.closes[c] != 1 {
		t.Fatal("a second OnClose")
	}
}

// Each timeout closes with an error errors.Is finds os.ErrDeadlineExceeded
// in; a Conn at work is not closed by its idle timer.
func TestConnTimeouts(t *testing.T) {
	const d = 150 * time.Millisecond
	cases := map[string]func(c *Conn){
		"idle": func(c *Conn) { c.SetIdleTimeout(d) },
		"read": func(c *Conn) { c.SetReadTimeout(d) },
		"write": func(c *Conn) {
			c.SetWriteTimeout(d)
			for c.OutputLen() == 0 { // the peer reads nothing: fill its window and the send buffer
				c.Write(make([]byte, 64<<10))
			}
		},
	}
	for name, set := range cases {
		t.Run(name, func(t *testing.T) {
			g := newConnRig(t, ConnConfig{})
			c, _ := g.adopt(4096)
			set(c)
			g.until(func() bool { return g.rec.closed(c) })
			err := g.rec.errs[c]
			if !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), name) {
				t.Fatalf("OnClose err %v, want a %s timeout", err, name)
			}
		})
	}
	t.Run("busy", func(t *testing.T) {
		g := newConnRig(t, ConnConfig{IdleTimeout: 2 * d})
		c, client := g.adopt(0)
		end := time.Now().Add(4 * d)
		for time.Now().Before(end) {
			client.Write([]byte("x"))
			runOnce(t, g.loop, g.conns, 5*time.Millisecond)
		}
		if g.rec.closed(c) {
			t.Fatalf("a Conn reading every few ms was closed: %v", g.rec.errs[c])
		}
	})
}

// Closing the loop closes every open Conn: OnClose with ErrClosed, once.
func TestConnLoopCloseClosesConns(t *testing.T) {
	g := newConnRig(t, ConnConfig{})
	a, _ := g.adopt(0)
	b, _ := g.adopt(0)
	if err := g.loop.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Conn{a, b} {
		if g.rec.closes[c] != 1 || !errors.Is(g.rec.errs[c], ErrClosed) {
			t.Fatalf("OnClose %d times with %v, want once with ErrClosed", g.rec.closes[c], g.rec.errs[c])
		}
	}
	if err := a.Ref().Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("ConnRef.Write after the loop closed: %v", err)
	}
}

// Dial connects on the loop: OnOpen once connected, with writes made
// before it delivered; a refused connect gets OnClose with the errno.
func TestConnDial(t *testing.T) {
	g := newConnRig(t, ConnConfig{})
	acc, addr := tcpListener(t, loopback4, 0)
	c, err := g.conns.Dial(addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("early"))
	g.until(func() bool { return c.flags&cOpen != 0 })
	srv := acceptOne(t, acc.Fd(), acc.AcceptTCP)
	var got []byte
	g.until(func() bool {
		got, _ = readSome(t, srv, got)
		return len(got) == 5
	})
	if string(got) != "early" {
		t.Fatalf("the server read %q", got)
	}
	dead, err := g.conns.Dial(deadTCPAddr(t, loopback4), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	g.until(func() bool { return g.rec.closed(dead) })
	if err := g.rec.errs[dead]; !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("OnClose of a refused Dial: %v", err)
	}
	if strings.Contains(strings.Join(g.rec.events, " "), "open"+strconv.Itoa(g.rec.ids[dead])) {
		t.Fatal("a refused Dial got OnOpen")
	}
}

// A Dial whose connect does not finish within its timeout (the listener's
// accept queue is full, so Linux drops the SYNs) closes the Conn with a
// timeout error, and it never got OnOpen.
func TestConnDialTimeout(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("relies on Linux dropping SYNs to a full accept queue")
	}
	_, addr := tcpListenerFull(t)
	g := newConnRig(t, ConnConfig{})
	c, err := g.conns.Dial(addr, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	g.until(func() bool { return g.rec.closed(c) })
	if err := g.rec.errs[c]; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("OnClose of a Dial past its timeout: %v", err)
	}
	if strings.Contains(strings.Join(g.rec.events, " "), "open"+strconv.Itoa(g.rec.ids[c])) {
		t.Fatal("a Dial past its timeout got OnOpen")
	}
}

// ConnRef works from another goroutine: one goroutine's writes arrive in
// order, Close closes, and once the Conn is gone every call is ErrClosed.
func TestConnRefFromAnotherGoroutine(t *testing.T) {
	g := newConnRig(t, ConnConfig{})
	c, client := g.adopt(0)
	ref := c.Ref()
	done := make(chan error, 1)
	go func() {
		for i := range 100 {
			if err := ref.Write([]byte(strconv.Itoa(i) + ",")); err != nil {
				done <- err
				return
			}
		}
		done <- ref.Close()
	}()
	var back []byte
	var err error
	g.until(func() bool {
		back, err = readSome(t, client, back)
		return err != nil
	})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var want []byte
	for i := range 100 {
		want = append(want, strconv.Itoa(i)+","...)
	}
	if err != io.EOF || !bytes.Equal(back, want) {
		t.Fatalf("peer read %q then %v", back, err)
	}
	client.Close()
	g.until(func() bool { return g.rec.closed(c) })
	for name, err := range map[string]error{"Write": ref.Write([]byte("x")), "Close": ref.Close(), "Do": ref.Do(func(*Conn) {})} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after the close: %v", name, err)
		}
	}
}

// Tokens that are not the table's go to the caller's Handler.
func TestConnsForwardsForeignTokens(t *testing.T) {
	g := newConnRig(t, ConnConfig{})
	if _, err := g.loop.Timeout(7, 0); err != nil {
		t.Fatal(err)
	}
	g.until(func() bool { return len(g.raw.fired) == 1 })
	if g.raw.fired[0] != 7 {
		t.Fatalf("fired %v", g.raw.fired)
	}
}

// An echo through a Conn allocates nothing in steady state: the client
// writes 64 bytes, the loop runs until they are back.
func BenchmarkConnEcho(b *testing.B) {
	loop, err := NewEventLoop[int](Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer loop.Close()
	conns, err := NewConns[int](loop, connEcho{}, nil, ConnConfig{})
	if err != nil {
		b.Fatal(err)
	}
	client, server := tcpPair(b, loopback4, 0)
	if _, err := conns.Adopt(server); err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 64)
	var buf [64]byte
	echo := func() {
		if _, err := client.Write(msg); err != nil {
			b.Fatal(err)
		}
		for got := 0; got < len(msg); {
			if err := loop.RunOnce(conns, time.Second); err != nil {
				b.Fatal(err)
			}
			n, _ := client.Read(buf[:])
			got += max(n, 0)
		}
	}
	for range 100 {
		echo()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		echo()
	}
}

// connEcho echoes and records nothing, for the benchmarks.
type connEcho struct{}

func (connEcho) OnOpen(*Conn)         {}
func (connEcho) OnDrain(*Conn)        {}
func (connEcho) OnClose(*Conn, error) {}

func (connEcho) OnData(c *Conn) {
	in := c.In()
	if _, err := c.Write(in.Bytes()); err == nil {
		in.Discard(in.Len())
	}
}

// A storm of peers that send but never read cannot grow the server's
// memory past its bounds: each Conn's output stays within WriteLimit and
// its input within ReadLimit, so the heap grows by at most their sum per
// Conn (plus the table's scratch), however long the storm goes on.
func TestConnSlowReaderStormIsBounded(t *testing.T) {
	const conns, rounds = 32, 40
	cfg := ConnConfig{ReadLimit: 16 << 10, WriteLimit: 64 << 10, HighWater: 32 << 10}
	g := newConnRig(t, cfg)
	chunk := randomBytes(8<<10, 7)
	g.rec.onData = func(c *Conn) {
		in := c.In()
		for in.Len() > 0 { // answer each byte with 8 KiB: the output fills first
			if _, err := c.Write(chunk); err != nil {
				return // full: the input waits, bounded by ReadLimit
			}
			in.Discard(1)
		}
	}
	clients := make([]*TCPSocket, conns)
	for i := range clients {
		_, clients[i] = g.adopt(4096)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	msg := randomBytes(4<<10, 8)
	peak := 0
	for range rounds {
		for _, cl := range clients {
			cl.Write(msg) // the peers keep sending; their windows fill too
		}
		runOnce(t, g.loop, g.conns, 5*time.Millisecond)
		for _, c := range g.conns.slots {
			if c != nil {
				peak = max(peak, c.OutputLen())
				if c.in.Cap() > cfg.ReadLimit || c.out.buf.Cap() > cfg.WriteLimit {
					t.Fatalf("a Conn holds %d bytes of input memory and %d of output", c.in.Cap(), c.out.buf.Cap())
				}
			}
		}
	}
	runtime.GC() // what is live, not the garbage of the storm's reads
	runtime.ReadMemStats(&after)
	bound := uint64(conns*(cfg.ReadLimit+cfg.WriteLimit) + 1<<20)
	grew := after.HeapAlloc - min(before.HeapAlloc, after.HeapAlloc)
	t.Logf("live heap grew by %d bytes under the storm (bound %d); peak output %d", grew, bound, peak)
	if grew > bound {
		t.Fatalf("the heap grew by %d bytes under the storm, bound %d", grew, bound)
	}
	if peak == 0 || peak > cfg.WriteLimit {
		t.Fatalf("peak output %d: want queued output, within WriteLimit %d", peak, cfg.WriteLimit)
	}
}

// FuzzConnModel drives a Conn and its peer through random operations
// (the peer writing, reading or not, half-closing; the handler consuming
// part, pausing, resuming, writing copied and lent bytes, closing in its
// ways) and checks them against the model of a byte stream each way:
// every byte written reaches the other side once, in order, unless the
// Conn was aborted; callbacks come as OnOpen, then OnData and OnDrain,
// then OnClose once.
func FuzzConnModel(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{0, 0, 0, 6, 6, 6, 1, 1, 7, 3, 3, 9})
	f.Add([]byte{5, 5, 5, 5, 2, 4, 0, 4, 0, 8, 1, 1})
	f.Add([]byte{2, 0, 2, 0, 6, 6, 3, 0, 0, 10})
	f.Add([]byte{6, 7, 6, 7, 6, 1, 11, 1, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 64 {
			ops = ops[:64]
		}
		connModelRun(t, ops)
	})
}

func connModelRun(t *testing.T, ops []byte) {
	g := newConnRig(t, ConnConfig{ReadLimit: 8 << 10, WriteLimit: 128 << 10, HighWater: 16 << 10, LowWater: 4 << 10, AllowHalfOpen: true})
	var got []byte  // what the handler consumed
	take := 1 << 30 // how much OnData consumes per call
	g.rec.onData = func(c *Conn) { got = append(got, c.In().Next(take)...) }
	c, peer := g.adopt(8192)
	var toPeer, fromPeer, peerGot []byte // the model: what was written each way, what the peer read
	src := randomBytes(64<<10, 9)
	peerShut, aborted, closing := false, false, false
	for i, op := range ops {
		off := i * 997 % len(src)
		chunk := src[off:][:min(1+int(op)*331%(16<<10), len(src)-off)]
		switch op % 12 {
		case 0, 1: // the peer writes
			if !peerShut {
				n, _ := peer.Write(chunk)
				fromPeer = append(fromPeer, chunk[:max(n, 0)]...)
			}
		case 2: // the peer reads what is there
			peerGot, _ = readSome(t, peer, peerGot)
		case 3: // the handler consumes little per call
			take = 100
		case 4:
			take = 1 << 30
			got = append(got, c.In().Next(c.In().Len())...)
		case 5:
			c.PauseRead()
		case 6, 7: // the Conn writes, copied or lent
			if op%12 == 6 {
				if _, err := c.Write(chunk); err == nil {
					toPeer = append(toPeer, chunk...)
				}
			} else if c.WriteNoCopy(chunk) == nil {
				toPeer = append(toPeer, chunk...)
			}
		case 8:
			c.ResumeRead()
		case 9:
			if !peerShut {
				peer.Shutdown(ShutWrite)
				peerShut = true
			}
		case 10:
			c.Close()
			closing = true
		case 11:
			c.Abort()
			aborted = true
		}
		runOnce(t, g.loop, g.conns, 0)
	}
	// The end: the handler takes everything, the peer reads to the end
	// of stream and closes.
	take = 1 << 30
	c.ResumeRead()
	got = append(got, c.In().Next(c.In().Len())...)
	if !aborted && !closing {
		g.until(func() bool { return len(got) == len(fromPeer) || g.rec.closed(c) })
		c.Close()
	}
	var err error
	g.until(func() bool {
		peerGot, err = readSome(t, peer, peerGot)
		if err != nil && !peerShut {
			peer.Shutdown(ShutWrite)
			peerShut = true
		}
		return g.rec.closed(c)
	})
	g.until(func() bool {
		peerGot, err = readSome(t, peer, peerGot)
		return err != nil
	})
	if aborted {
		if !bytes.HasPrefix(toPeer, peerGot) || !bytes.HasPrefix(fromPeer, got) {
			t.Fatalf("after Abort: a side read bytes that were not written in that order")
		}
	} else {
		if !bytes.Equal(peerGot, toPeer) || err != io.EOF {
			t.Fatalf("the peer read %d bytes then %v; %d were written (equal prefix: %v)", len(peerGot), err, len(toPeer), bytes.HasPrefix(toPeer, peerGot))
		}
		if !closing && !bytes.Equal(got, fromPeer) {
			t.Fatalf("the handler consumed %d bytes of the %d the peer wrote", len(got), len(fromPeer))
		}
		if closing && !bytes.HasPrefix(fromPeer, got) {
			t.Fatal("the handler consumed bytes out of order")
		}
	}
	ev := g.rec.events
	if ev[0] != "open0" || ev[len(ev)-1] != "close0" || g.rec.closes[c] != 1 {
		t.Fatalf("callbacks %v: want open0 first, close0 last and once", ev)
	}
}

// DialHost resolves off the loop and connects on it; a name that does
// not resolve, or a connect that does not finish in time, ends in
// OnClose with the error.
func TestConnDialHost(t *testing.T) {
	g := newConnRig(t, ConnConfig{})
	acc, addr := tcpListener(t, loopback4, 0)
	ap, _ := addr.AddrPort()
	c, err := g.conns.DialHost("localhost:"+strconv.Itoa(int(ap.Port())), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	g.until(func() bool { return c.flags&cOpen != 0 || g.rec.closed(c) })
	if g.rec.closed(c) {
		t.Fatalf("DialHost localhost: %v", g.rec.errs[c])
	}
	acceptOne(t, acc.Fd(), acc.AcceptTCP)
	if _, err := g.conns.DialHost("no-port", time.Second); err == nil {
		t.Fatal("DialHost of a hostport without a port succeeded")
	}
	bad, err := g.conns.DialHost("name.invalid:80", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	g.until(func() bool { return g.rec.closed(bad) })
	if g.rec.errs[bad] == nil {
		t.Fatal("a name that does not resolve closed without an error")
	}
}

// Input the handler has not consumed at the peer's end of stream is kept:
// the Conn closes itself only once it has all been taken.
func TestConnEOFKeepsUnconsumedInput(t *testing.T) {
	g := newConnRig(t, ConnConfig{})
	g.rec.onData = func(c *Conn) {} // takes nothing, yet
	c, client := g.adopt(0)
	g.sendAll(client, []byte("last words"))
	client.Shutdown(ShutWrite)
	g.until(func() bool { return c.EOF() })
	if g.quiet(5); g.rec.closed(c) {
		t.Fatalf("closed with %q unconsumed", c.in.Bytes())
	}
	if got := string(c.In().Next(100)); got != "last words" {
		t.Fatalf("In held %q", got)
	}
	g.until(func() bool { return g.rec.closed(c) })
	if g.rec.errs[c] != nil {
		t.Fatal(g.rec.errs[c])
	}
}

// An idle Conn holds no buffer: after traffic both its buffers have given
// their memory back, and what it costs on the heap is its own struct and
// its socket's (measured over many Conns; the kernel's socket memory is
// not the heap's).
func TestConnIdleHoldsNoBuffer(t *testing.T) {
	const n = 300
	g := newConnRig(t, ConnConfig{})
	g.rec.echo = true
	type pair struct {
		c      *Conn
		client *TCPSocket
	}
	pairs := make([]pair, n)
	for i := range pairs {
		pairs[i].c, pairs[i].client = g.adopt(0)
	}
	msg := randomBytes(20<<10, 10)
	for _, p := range pairs[:20] {
		g.sendAll(p.client, msg)
		var back []byte
		g.until(func() bool {
			back, _ = readSome(t, p.client, back)
			return len(back) == len(msg)
		})
	}
	for _, p := range pairs {
		if p.c.in.Cap() != 0 || p.c.out.buf.Cap() != 0 || p.c.out.segs != nil {
			t.Fatalf("an idle Conn holds %d bytes of input memory, %d of output", p.c.in.Cap(), p.c.out.buf.Cap())
		}
	}
	// The heap cost of one more idle Conn: make n more pairs, then
	// measure what adopting them costs.
	servers := make([]*TCPSocket, n)
	for i := range servers {
		_, servers[i] = tcpPair(t, loopback4, 0)
	}
	g.loop.reg.slot(servers[n-1].Fd()) // the loop's table of fds grows as fds do, raw or not
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	more := make([]*Conn, n)
	for i, server := range servers {
		c, err := g.conns.Adopt(server)
		if err != nil {
			t.Fatal(err)
		}
		more[i] = c
	}
	g.until(func() bool { return more[n-1].flags&cOpen != 0 })
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("heap per idle Conn: %d B (the Conn struct: %d B)", per, unsafe.Sizeof(Conn{}))
	// The table's share (its slot, generation and dirty-list entries, in
	// slices that grow by doubling) is well under 128 B per Conn.
	if limit := int64(unsafe.Sizeof(Conn{})) + 128; per > limit {
		t.Fatalf("heap per idle Conn %d B, want at most %d", per, limit)
	}
}

// A large ReadLimit costs nothing up front: the table's read scratch is
// bounded, and a Conn's input grows to the limit only as a message does.
func TestConnLargeReadLimitCostsNothingUpFront(t *testing.T) {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	conns, err := NewConns[int](newLoop(t), newConnRecorder(), nil, ConnConfig{ReadLimit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&b)
	if grew := b.TotalAlloc - a.TotalAlloc; grew > 1<<20 || cap(conns.scratch) > scratchMax {
		t.Fatalf("NewConns with a 1 GiB ReadLimit allocated %d bytes (scratch %d)", grew, cap(conns.scratch))
	}
}
