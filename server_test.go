//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The Server's tests: the spread of each balancing, the hand-off, the
// graceful shutdown and Close, and the statistics. Its clients are Go's
// net, on loopback, with deadlines.

// serverRig is a running Server with an echo-or-custom ConnHandler whose
// callbacks may run on any of its loops, so it counts with atomics and a
// lock.
type serverRig struct {
	t    *testing.T
	srv  *Server[int]
	addr string
	runs chan error

	mu     sync.Mutex
	byLoop map[int]int     // OnOpen by loop
	loopOf map[string]int  // the loop of each client, by its address
	closes map[*Conn]int   // OnClose per Conn
	errs   map[*Conn]error // the last OnClose error
	opens  atomic.Int64    // OnOpen
	closed atomic.Int64    // OnClose
	onData func(c *Conn)   // nil: echo
	onOpen func(c *Conn)   // run after the counting
	other  func(i int) Handler[int]
}

func newServerRig(t *testing.T, cfg ServerConfig, setup func(g *serverRig)) *serverRig {
	t.Helper()
	checkNoFdLeaks(t)
	g := &serverRig{t: t, runs: make(chan error, 1), byLoop: map[int]int{}, loopOf: map[string]int{},
		closes: map[*Conn]int{}, errs: map[*Conn]error{}}
	if setup != nil {
		setup(g)
	}
	srv, err := NewServer[int](cfg, g, g.other)
	if err != nil {
		t.Fatal(err)
	}
	g.srv = srv
	t.Cleanup(g.stop)
	return g
}

// startServerRig is newServerRig, listening on loopback and running.
func startServerRig(t *testing.T, cfg ServerConfig, setup func(g *serverRig)) *serverRig {
	t.Helper()
	g := newServerRig(t, cfg, setup)
	g.listen()
	g.start()
	return g
}

// listen listens on 127.0.0.1 with a port the kernel picks.
func (g *serverRig) listen() {
	g.t.Helper()
	bound, err := g.srv.Listen(InetAddr(loopback4, 0))
	if err != nil {
		g.t.Fatal(err)
	}
	g.addr = bound.String()
}

// start runs the Server in the background.
func (g *serverRig) start() {
	go func() { g.runs <- g.srv.Run() }()
}

// stop closes the Server and checks that Run returned, cleanly.
func (g *serverRig) stop() {
	g.srv.Close()
	select {
	case err := <-g.runs:
		if err != nil {
			g.t.Errorf("Run: %v", err)
		}
		g.runs <- nil // a second stop finds it too
	case <-time.After(maxWait):
		g.t.Error("Run did not return after Close")
	}
}

func (g *serverRig) OnOpen(c *Conn) {
	g.opens.Add(1)
	g.mu.Lock()
	g.byLoop[c.LoopIndex()]++
	if ra, err := c.RemoteAddr(); err == nil {
		g.loopOf[ra.String()] = c.LoopIndex()
	}
	g.mu.Unlock()
	if g.onOpen != nil {
		g.onOpen(c)
	}
}

func (g *serverRig) OnData(c *Conn) {
	if g.onData != nil {
		g.onData(c)
		return
	}
	in := c.In()
	if _, err := c.Write(in.Bytes()); err == nil {
		in.Discard(in.Len())
	}
}

func (g *serverRig) OnDrain(*Conn) {}

func (g *serverRig) OnClose(c *Conn, err error) {
	g.mu.Lock()
	g.closes[c]++
	g.errs[c] = err
	g.mu.Unlock()
	g.closed.Add(1)
}

// loops is a copy of the OnOpen counts by loop.
func (g *serverRig) loops() map[int]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := map[int]int{}
	for k, v := range g.byLoop {
		m[k] = v
	}
	return m
}

// waitFor waits, bounded, until cond holds.
func (g *serverRig) waitFor(what string, cond func() bool) {
	g.t.Helper()
	deadline := time.Now().Add(maxWait)
	for !cond() {
		if time.Now().After(deadline) {
			g.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling a condition, not timing one
	}
}

// checkClosesOnce checks that every Conn got exactly one OnClose.
func (g *serverRig) checkClosesOnce(want int) {
	g.t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.closes) != want {
		g.t.Errorf("%d Conns closed, want %d", len(g.closes), want)
	}
	for c, n := range g.closes {
		if n != 1 {
			g.t.Errorf("a Conn got %d OnClose calls", n)
			_ = c
		}
	}
}

// dial connects a client to the rig, from local when it is valid.
func (g *serverRig) dial(local netip.Addr) net.Conn {
	g.t.Helper()
	d := net.Dialer{Timeout: maxWait}
	if local.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: local.AsSlice()}
	}
	c, err := d.Dial("tcp", g.addr)
	if err != nil {
		g.t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(maxWait))
	g.t.Cleanup(func() { c.Close() })
	return c
}

// echoOnce writes msg on c and reads it back.
func echoOnce(t testing.TB, c net.Conn, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	if string(buf) != msg {
		t.Fatalf("echo %q, want %q", buf, msg)
	}
}

// spreadConns is how many connections the spread tests open.
const spreadConns = 1000

// dialMany connects n clients one after another, each closed once the
// Server has opened it, and returns when all were opened.
func (g *serverRig) dialMany(n int) {
	g.t.Helper()
	for i := range n {
		c := g.dial(netip.Addr{})
		g.waitFor("OnOpen", func() bool { return g.opens.Load() == int64(i+1) })
		c.Close()
	}
}

func TestServerRoundRobinSpread(t *testing.T) {
	g := startServerRig(t, ServerConfig{Loops: 2, Balance: BalanceRoundRobin}, nil)
	g.dialMany(spreadConns)
	byLoop := g.loops()
	for i := range 2 {
		if share := float64(byLoop[i]) / spreadConns; share < 0.48 || share > 0.52 {
			t.Errorf("loop %d served %d of %d connections: outside 50%% +-2%%", i, byLoop[i], spreadConns)
		}
	}
	if st := g.srv.LoopStats(1); st.Accepted != 0 {
		t.Errorf("loop 1 accepted %d connections itself: a hand-off listener is on loop 0 only", st.Accepted)
	}
}

// TestServerReusePortSpread: on Linux the default balancing is the
// kernel's, one acceptor per loop, and each loop accepts a share.
func TestServerReusePortSpread(t *testing.T) {
	if !ReusePortBalances() {
		t.Skip("the kernel does not balance reuse-port listeners here")
	}
	g := startServerRig(t, ServerConfig{Loops: 2}, nil)
	g.dialMany(spreadConns)
	byLoop := g.loops()
	for i := range 2 {
		accepted := g.srv.LoopStats(i).Accepted
		if share := float64(byLoop[i]) / spreadConns; share < 0.4 || accepted != uint64(byLoop[i]) {
			t.Errorf("loop %d served %d and accepted %d of %d: the kernel should give each loop its own share",
				i, byLoop[i], accepted, spreadConns)
		}
	}
}

// TestServerLeastConnsSpread: a new connection goes to the loop with the
// fewest open.
func TestServerLeastConnsSpread(t *testing.T) {
	g := startServerRig(t, ServerConfig{Loops: 2, Balance: BalanceLeastConns}, nil)
	var clients []net.Conn
	for i := range 10 {
		clients = append(clients, g.dial(netip.Addr{}))
		g.waitFor("OnOpen", func() bool { return g.opens.Load() == int64(i+1) })
	}
	if byLoop := g.loops(); byLoop[0] != 5 || byLoop[1] != 5 {
		t.Fatalf("10 connections spread %v, want 5 and 5", byLoop)
	}
	// Close 4 of loop 1's: the next 4 must all go to loop 1.
	closed := 0
	for _, c := range clients {
		g.mu.Lock()
		loop := g.loopOf[c.LocalAddr().String()]
		g.mu.Unlock()
		if loop == 1 && closed < 4 {
			c.Close()
			closed++
		}
	}
	g.waitFor("the closes", func() bool { return g.closed.Load() == 4 })
	g.waitFor("loop 1's count", func() bool { return g.srv.LoopStats(1).Open == 1 })
	for i := range 4 {
		g.dial(netip.Addr{})
		g.waitFor("OnOpen", func() bool { return g.opens.Load() == int64(11+i) })
	}
	if byLoop := g.loops(); byLoop[0] != 5 || byLoop[1] != 9 {
		t.Errorf("after 4 closes on loop 1 and 4 new connections: %v, want 5 on loop 0 and 9 on loop 1", byLoop)
	}
}

// TestServerSourceHashStable: a client address is always served by the
// loop it hashes to, and different addresses reach both loops.
func TestServerSourceHashStable(t *testing.T) {
	g := startServerRig(t, ServerConfig{Loops: 2, Balance: BalanceSourceHash}, nil)
	used := map[int]bool{}
	n := 0
	for host := 1; host <= 16; host++ {
		ip := netip.AddrFrom4([4]byte{127, 0, 0, byte(host)})
		a16 := ip.As16()
		want := int(fnv32(a16[:]) % 2)
		for range 3 {
			c := g.dial(ip)
			n++
			g.waitFor("OnOpen", func() bool { return g.opens.Load() == int64(n) })
			g.mu.Lock()
			got := g.loopOf[c.LocalAddr().String()]
			g.mu.Unlock()
			if got != want {
				t.Errorf("client %v served by loop %d, want %d", c.LocalAddr(), got, want)
			}
			used[got] = true
			c.Close()
		}
	}
	if len(used) != 2 {
		t.Errorf("16 client addresses all reached one loop: %v", used)
	}
}

// TestServerShutdownGraceful: a request in flight when Shutdown begins
// gets its response; connections queued before it are served, not reset;
// new ones are refused; Shutdown returns once every Conn closed, after
// the loops stopped, with OnClose once each.
func TestServerShutdownGraceful(t *testing.T) {
	for _, b := range []Balance{BalanceRoundRobin, BalanceAuto} {
		t.Run(b.String(), func(t *testing.T) { testShutdownGraceful(t, b) })
	}
}

// A request is a line; the answer comes after a timer of the loop's own
// handler, so that it is in flight when Shutdown begins. Once OnShutdown
// was called for a Conn, it closes after its answer.
func testShutdownGraceful(t *testing.T, b Balance) {
	const queued = 8
	var (
		hold     = make(chan struct{}) // the loops wait on it in Notify
		held     sync.WaitGroup
		shutting sync.Map // *Conn: OnShutdown was called
		answers  [2]*delayedAnswers
	)
	cfg := ServerConfig{Loops: 2, Balance: b, OnShutdown: func(c *Conn) { shutting.Store(c, true) }}
	g := startServerRig(t, cfg, func(g *serverRig) {
		g.other = func(i int) Handler[int] {
			answers[i] = &delayedAnswers{hold: hold, held: &held, shutting: &shutting, pending: map[Token]*Conn{}}
			return answers[i]
		}
		g.onData = func(c *Conn) {
			if in := c.In().Bytes(); len(in) > 0 && in[len(in)-1] == '\n' {
				answers[c.LoopIndex()].later(g.srv.Loop(c.LoopIndex()), c)
			}
		}
	})

	inflight := g.dial(netip.Addr{})
	if _, err := io.WriteString(inflight, "req\n"); err != nil {
		t.Fatal(err)
	}
	// Hold every loop in a callback, so that connections queue.
	held.Add(2)
	for i := range 2 {
		if err := g.srv.Loop(i).Channel().Send(holdMsg); err != nil {
			t.Fatal(err)
		}
	}
	held.Wait()
	clients := []net.Conn{inflight}
	for range queued {
		c := g.dial(netip.Addr{})
		if _, err := io.WriteString(c, "req\n"); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	shut := make(chan error, 1)
	go func() { shut <- g.srv.Shutdown(context.Background()) }()
	g.waitFor("Shutdown to begin", func() bool { return g.srv.phase.Load() == phaseDraining })
	close(hold)
	g.waitFor("the listeners to close", func() bool { return g.srv.accepting.Load() == 0 })
	if c, err := net.DialTimeout("tcp", g.addr, maxWait); err == nil {
		c.Close()
		t.Error("a connection made after the listeners closed was accepted")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("connect after the listeners closed: %v, want ECONNREFUSED", err)
	}
	for i, c := range clients {
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "ans\n" {
			t.Errorf("client %d: read %q, %v; want the answer then EOF", i, got, err)
		}
		c.Close()
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(maxWait):
		t.Fatal("Shutdown did not return")
	}
	for i := range 2 {
		if l := g.srv.Loop(i); l.IsRunning() || !l.isClosed() {
			t.Errorf("loop %d still running or not released after Shutdown returned", i)
		}
	}
	g.checkClosesOnce(queued + 1)
	n := 0
	shutting.Range(func(any, any) bool { n++; return true })
	if n != queued+1 {
		t.Errorf("OnShutdown called for %d Conns, want %d", n, queued+1)
	}
}

// holdMsg asks a loop to wait for the test's hold channel.
const holdMsg = 1

// delayedAnswers is a loop's own handler in the shutdown test: it answers
// a request when its timer fires, closing the Conn after the answer once
// OnShutdown was called for it, and holds the loop when told. It runs on
// its loop only.
type delayedAnswers struct {
	NopHandler[int]
	hold     chan struct{}
	held     *sync.WaitGroup
	shutting *sync.Map
	pending  map[Token]*Conn
	next     Token
}

// later arms the timer that answers c's request.
func (d *delayedAnswers) later(l *EventLoop[int], c *Conn) {
	d.next++
	d.pending[d.next] = c
	if _, err := l.Timeout(d.next, 20*time.Millisecond); err != nil {
		panic(err)
	}
}

func (d *delayedAnswers) Notify(l *EventLoop[int], msg int) {
	if msg == holdMsg {
		d.held.Done()
		<-d.hold
	}
}

func (d *delayedAnswers) Timeout(l *EventLoop[int], tok Token) {
	c := d.pending[tok]
	delete(d.pending, tok)
	c.In().Discard(c.In().Len())
	c.Write([]byte("ans\n"))
	if _, ok := d.shutting.Load(c); ok {
		c.Close()
	}
}

// TestServerShutdownDeadline: Conns still open when ctx ends are closed,
// Shutdown returns ctx's error after the loops stopped, OnClose once each.
func TestServerShutdownDeadline(t *testing.T) {
	g := startServerRig(t, ServerConfig{Loops: 2, Balance: BalanceRoundRobin}, nil)
	var clients []net.Conn
	for i := range 4 {
		c := g.dial(netip.Addr{})
		echoOnce(t, c, "hi"+strconv.Itoa(i))
		clients = append(clients, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- g.srv.Shutdown(ctx) }()
	// The forced Close sends each client its end of stream, and waits
	// (within Linger) for the client's.
	for i, c := range clients {
		if got, err := io.ReadAll(c); err != nil || len(got) != 0 {
			t.Errorf("client %d: %q, %v; want an end of stream", i, got, err)
		}
		c.Close()
	}
	select {
	case err := <-shut:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown: %v, want the deadline's error", err)
		}
	case <-time.After(maxWait):
		t.Fatal("Shutdown did not return")
	}
	for i := range 2 {
		if g.srv.Loop(i).IsRunning() {
			t.Errorf("loop %d still runs after Shutdown returned", i)
		}
	}
	g.checkClosesOnce(4)
}

// TestServerClose: Close closes every Conn with ErrClosed and returns
// after the loops stopped; Run then returns nil, and a second Run fails.
func TestServerClose(t *testing.T) {
	g := startServerRig(t, ServerConfig{Loops: 2, Balance: BalanceRoundRobin}, nil)
	for i := range 4 {
		echoOnce(t, g.dial(netip.Addr{}), "x"+strconv.Itoa(i))
	}
	if err := g.srv.Close(); err != nil {
		t.Fatal(err)
	}
	g.checkClosesOnce(4)
	g.mu.Lock()
	for _, err := range g.errs {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("OnClose: %v, want ErrClosed", err)
		}
	}
	g.mu.Unlock()
	if err := g.srv.Run(); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close: %v, want ErrClosed", err)
	}
}

// TestServerStatsExact: the Conn statistics count exactly what happened.
func TestServerStatsExact(t *testing.T) {
	const clients, size = 10, 1000
	g := startServerRig(t, ServerConfig{Loops: 2, Balance: BalanceRoundRobin}, nil)
	msg := string(randomBytes(size, 7))
	for range clients {
		c := g.dial(netip.Addr{})
		echoOnce(t, c, msg)
		c.Close()
	}
	g.waitFor("every close", func() bool { return g.closed.Load() == clients })
	g.waitFor("the statistics", func() bool { return g.srv.Stats().Closed == clients })
	st := g.srv.Stats()
	want := ConnStats{Open: 0, Opened: clients, Accepted: clients, Closed: clients, BytesRead: clients * size, BytesWritten: clients * size}
	if st.ConnStats != want {
		t.Errorf("ConnStats %+v, want %+v", st.ConnStats, want)
	}
	if st.Iterations == 0 || st.Events < 2*clients || st.Lag.Count() == 0 {
		t.Errorf("LoopStats %+v: the loops counted no work", st.LoopStats)
	}
	if n := testing.AllocsPerRun(100, func() { _ = g.srv.Stats() }); n != 0 {
		t.Errorf("Stats allocates %.0f times", n)
	}
}

// foreignReads signals each Readable of the caller's own registration.
type foreignReads struct {
	NopHandler[int]
	fd   *RawFd
	seen chan Token
}

func (f *foreignReads) Readable(l *EventLoop[int], tok Token, _ ReadHint) {
	var buf [8]byte
	unix.Read(f.fd.Fd(), buf[:])
	f.seen <- tok
}

// TestServerForeignTokens: a loop of the Server still serves the caller's
// own registrations, through the Handler NewServer's other made for it.
func TestServerForeignTokens(t *testing.T) {
	a, b := socketPair(t)
	f := &foreignReads{fd: a, seen: make(chan Token, 1)}
	g := newServerRig(t, ServerConfig{Loops: 2}, func(g *serverRig) {
		g.other = func(i int) Handler[int] {
			if i == 1 {
				return f
			}
			return nil
		}
	})
	if err := g.srv.Loop(1).Register(a, 5, Readable, Level); err != nil {
		t.Fatal(err)
	}
	g.start()
	writeAll(t, b, []byte{1})
	select {
	case tok := <-f.seen:
		if tok != 5 {
			t.Errorf("Readable for token %d, want 5", tok)
		}
	case <-time.After(maxWait):
		t.Fatal("the caller's registration on loop 1 was never reported")
	}
}
