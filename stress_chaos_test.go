//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// A chaos client: many connections against the edge-triggered echo server
// that connect and close at once, reset, half-close, read slowly or not at
// all and send garbage, among well-behaved clients whose bytes must come
// back exactly. The server must serve the good clients, close every
// connection, keep its buffers at their cap and its memory bounded.

type hzKind int

const (
	hzWell           hzKind = iota // send, half-close, read the echo to EOF, check it
	hzCloseEarly                   // Connect and Close at once, before the loop ran
	hzConnClose                    // close as soon as connected
	hzReset                        // send, then reset (SO_LINGER 0)
	hzHalfCloseReset               // send, half-close, never read, reset later
	hzSlowRead                     // send much, read a little per millisecond, then close or reset
	hzGarbage                      // send garbage and close without reading
	hzKinds
)

var hzKindNames = [...]string{"well", "close-early", "conn-close", "reset", "half-close-reset", "slow-read", "garbage"}

type hzCClient struct {
	kind      hzKind
	tok       Token
	sock      *TCPSocket
	out       []byte
	sent      int
	recvd     int
	connected bool
	allSent   bool // everything was written and the kind's next step taken
	done      bool
	ticks     int // slow reads left
	blocked   int // writes the kernel took only part of
	reset     bool
	delay     time.Duration
}

const (
	hzCliBase   Token = 1 << 20
	hzTStart    Token = 1 << 20 // timer tokens: start client i
	hzTTick     Token = 2 << 20 // slow read of client i
	hzTLater    Token = 3 << 20 // delayed reset of client i
	hzTMem      Token = 4 << 20
	hzTWatchdog Token = 5 << 20
)

type hzChaos struct {
	NopHandler[int]
	t         *testing.T
	srv       *echoServer
	addr      SockAddr
	clients   []*hzCClient
	done      int
	connected int
	heapPeak  uint64
	scratch   []byte
	byKind    [hzKinds]int
}

func (h *hzChaos) Readable(l *EventLoop[int], tok Token, hint ReadHint) {
	if h.srv.owns(tok) {
		h.srv.ready(l, tok)
		return
	}
	c := h.clients[tok-hzCliBase]
	if c.done || c.kind != hzWell {
		return // the others read on their own schedule, or never
	}
	for !c.done {
		n, err := c.sock.Read(h.scratch)
		if n > 0 {
			if c.recvd+n > len(c.out) || !bytes.Equal(h.scratch[:n], c.out[c.recvd:c.recvd+n]) {
				h.t.Errorf("client %d: echo differs from what it sent at offset %d", tok-hzCliBase, c.recvd)
				h.finish(c, false)
				return
			}
			c.recvd += n
		}
		switch {
		case err == io.EOF:
			if c.recvd != len(c.out) {
				h.t.Errorf("client %d: EOF after %d of %d bytes", tok-hzCliBase, c.recvd, len(c.out))
			}
			h.finish(c, false)
		case errors.Is(err, ErrWouldBlock):
			return
		case err != nil:
			h.t.Errorf("client %d: read: %v", tok-hzCliBase, err)
			h.finish(c, false)
		}
	}
}

func (h *hzChaos) Writable(l *EventLoop[int], tok Token) {
	if h.srv.owns(tok) {
		h.srv.ready(l, tok)
		return
	}
	c := h.clients[tok-hzCliBase]
	if c.done {
		return
	}
	if !c.connected {
		if err := c.sock.TakeError(); err != nil {
			h.t.Errorf("client %d (%s): connect: %v", tok-hzCliBase, hzKindNames[c.kind], err)
			h.finish(c, false)
			return
		}
		c.connected = true
		h.connected++
		switch c.kind {
		case hzConnClose:
			h.finish(c, false)
			return
		case hzSlowRead:
			h.timeout(l, hzTTick+Token(c.tok-hzCliBase), time.Millisecond)
		}
	}
	h.send(l, c)
}

func (h *hzChaos) timeout(l *EventLoop[int], tok Token, d time.Duration) {
	if _, err := l.Timeout(tok, d); err != nil {
		h.t.Fatal(err)
	}
}

// send writes what the kernel takes, then does what the kind does once all
// is sent.
func (h *hzChaos) send(l *EventLoop[int], c *hzCClient) {
	if c.allSent {
		return
	}
	for c.sent < len(c.out) {
		n, err := c.sock.Write(c.out[c.sent:])
		c.sent += n
		if errors.Is(err, ErrWouldBlock) {
			c.blocked++
			return
		}
		if err != nil {
			if c.kind == hzWell || !isReset(err) {
				h.t.Errorf("client %d (%s): write: %v", c.tok-hzCliBase, hzKindNames[c.kind], err)
			}
			h.finish(c, false)
			return
		}
	}
	c.allSent = true
	switch c.kind {
	case hzWell:
		if err := c.sock.Shutdown(ShutWrite); err != nil {
			h.t.Errorf("client %d: shutdown: %v", c.tok-hzCliBase, err)
		}
	case hzReset:
		h.finish(c, true)
	case hzGarbage:
		h.finish(c, false)
	case hzHalfCloseReset:
		c.sock.Shutdown(ShutWrite)
		h.timeout(l, hzTLater+Token(c.tok-hzCliBase), c.delay)
	}
}

func (h *hzChaos) Timeout(l *EventLoop[int], tok Token) {
	switch {
	case tok == hzTWatchdog:
		h.t.Errorf("chaos test still running at its deadline: %d of %d clients done, %d server connections open, %d accepted of %d connected",
			h.done, len(h.clients), h.srv.open.Load(), h.srv.accepted, h.connected)
		l.Shutdown()
	case tok == hzTMem:
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		h.heapPeak = max(h.heapPeak, ms.HeapInuse)
		h.timeout(l, hzTMem, 10*time.Millisecond)
	case tok >= hzTLater:
		if c := h.clients[tok-hzTLater]; !c.done {
			h.finish(c, true)
		}
	case tok >= hzTTick:
		c := h.clients[tok-hzTTick]
		if c.done {
			return
		}
		var small [512]byte
		if _, err := c.sock.Read(small[:]); err != nil && !errors.Is(err, ErrWouldBlock) && err != io.EOF && !isReset(err) {
			h.t.Errorf("slow reader %d: %v", tok-hzTTick, err)
		}
		if c.ticks--; c.ticks <= 0 {
			h.finish(c, c.reset)
			return
		}
		h.timeout(l, tok, time.Millisecond)
	case tok >= hzTStart:
		h.start(l, h.clients[tok-hzTStart])
	}
}

func (h *hzChaos) start(l *EventLoop[int], c *hzCClient) {
	sock, err := NewTCPSocketV4()
	if err != nil {
		h.t.Fatal(err)
	}
	c.sock = sock
	if c.kind == hzWell {
		// Small buffers make the good clients' writes, and the server's
		// writes back to them, stop part way.
		if err := sock.SetSendBuffer(8 << 10); err != nil {
			h.t.Fatal(err)
		}
		if err := sock.SetRecvBuffer(8 << 10); err != nil {
			h.t.Fatal(err)
		}
	}
	if err := l.Connect(sock, h.addr, c.tok); err != nil {
		h.t.Errorf("client %d: Connect: %v", c.tok-hzCliBase, err)
		h.finish(c, false)
		return
	}
	if c.kind == hzCloseEarly {
		h.finish(c, c.reset)
	}
}

func (h *hzChaos) finish(c *hzCClient, reset bool) {
	if c.done {
		return
	}
	c.done = true
	h.done++
	h.byKind[c.kind]++
	if reset {
		if err := c.sock.SetLinger(0); err != nil {
			h.t.Errorf("SetLinger: %v", err)
		}
	}
	if err := c.sock.Close(); err != nil {
		h.t.Errorf("client close: %v", err)
	}
}

// Tick ends the run once every client is done and the server has accepted
// every connection that was made and closed it again.
func (h *hzChaos) Tick(l *EventLoop[int]) {
	if h.done == len(h.clients) && h.srv.open.Load() == 0 && h.srv.accepted >= h.connected {
		l.Shutdown()
	}
}

func TestStressChaosClients(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	chaos, well := 200, 40
	if shrunk() {
		chaos, well = 100, 20
	}
	const bufCap = 4 << 10
	checkNoFdLeaks(t)
	l, err := NewEventLoop[int](Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv, addr := newTCPEchoServer(t, l, bufCap)
	srv.sndBuf = 8 << 10
	h := &hzChaos{t: t, srv: srv, addr: addr, scratch: make([]byte, 16<<10)}
	rng := rand.New(rand.NewPCG(6, 3))
	garbage := make([]byte, 1<<20)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	for i := range chaos + well {
		c := &hzCClient{tok: hzCliBase + Token(i), kind: hzWell}
		if i < chaos {
			c.kind = hzKind(1 + rng.IntN(int(hzKinds)-1))
		}
		switch c.kind {
		case hzWell:
			c.out = make([]byte, 64<<10+rng.IntN(192<<10))
			for j := range c.out {
				c.out[j] = byte(rng.Uint32())
			}
		case hzSlowRead:
			c.out = garbage
			c.ticks = 10 + rng.IntN(40)
		default:
			c.out = garbage[:rng.IntN(256<<10)]
		}
		c.reset = rng.IntN(2) == 0
		c.delay = time.Duration(rng.IntN(10)) * time.Millisecond
		h.clients = append(h.clients, c)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapInuse
	for i := range h.clients {
		h.timeout(l, hzTStart+Token(i), time.Duration(rng.IntN(150))*time.Millisecond)
	}
	h.timeout(l, hzTMem, 0)
	h.timeout(l, hzTWatchdog, 30*time.Second)
	start := time.Now()
	if err := l.Run(h); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&ms)
	h.heapPeak = max(h.heapPeak, ms.HeapInuse)
	t.Logf("%d clients in %v: done by kind %v (%v); server accepted %d, %d ended by reset, max buffer %d of %d, full %d times; heap in use %d KiB before, peak %d KiB",
		len(h.clients), elapsed, h.byKind, hzKindNames, srv.accepted, srv.resets, srv.maxBuf, bufCap, srv.fullHits, heapBefore>>10, h.heapPeak>>10)
	if h.done != len(h.clients) || srv.open.Load() != 0 {
		t.Fatalf("%d of %d clients done, %d server connections still open", h.done, len(h.clients), srv.open.Load())
	}
	blocked := 0
	for _, c := range h.clients {
		if c.kind == hzWell && c.recvd != len(c.out) {
			t.Errorf("well-behaved client %d got %d of %d bytes back", c.tok-hzCliBase, c.recvd, len(c.out))
		}
		if c.kind == hzWell && c.blocked > 0 {
			blocked++
		}
	}
	t.Logf("%d of %d good clients had a write stop part way; the server %d times", blocked, well, srv.writeBlocked)
	if blocked < well/2 || srv.writeBlocked == 0 {
		t.Errorf("only %d of %d good clients, and the server %d times, had a write stop part way: partial writes untested", blocked, well, srv.writeBlocked)
	}
	if srv.maxBuf > bufCap {
		t.Errorf("a server connection held %d bytes, cap %d", srv.maxBuf, bufCap)
	}
	if srv.fullHits == 0 || srv.resets == 0 {
		t.Errorf("the chaos never filled a server buffer (%d) or reset a connection (%d): backpressure and resets untested", srv.fullHits, srv.resets)
	}
	// Bounded: the clients' data was allocated before the first reading;
	// the server's buffers are 4 KiB a connection.
	const heapBound = 32 << 20
	if h.heapPeak > heapBefore+heapBound {
		t.Errorf("heap in use grew from %d KiB to %d KiB during the run, bound %d KiB", heapBefore>>10, h.heapPeak>>10, heapBound>>10)
	}
	srv.close()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if ms.HeapInuse > heapBefore+4<<20 {
		t.Errorf("heap in use %d KiB after the run, %d KiB before", ms.HeapInuse>>10, heapBefore>>10)
	}
	runtime.KeepAlive(h)
}
