package mio

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
)

// ServerConfig configures a Server. The zero value is ready to use: each
// zero field takes the default named in its comment.
type ServerConfig struct {
	// Loops is the number of event loops, each on its own goroutine
	// (default runtime.GOMAXPROCS(0)).
	Loops int
	// Balance is how the connections of a listener are spread over the
	// loops (default BalanceAuto: the kernel's where it balances, a
	// hand-off by round-robin elsewhere).
	Balance Balance
	// Conn configures every Conn, as in NewConns.
	Conn ConnConfig
	// Loop configures every loop, as in NewEventLoop.
	Loop Config
	// Listen holds the options of the acceptors Listen binds; its
	// ReusePort is the Server's to set, after the balancing.
	Listen ListenConfig
	// OnShutdown, when set, is called on its loop for every Conn open when
	// a Shutdown begins, and for each one the Shutdown still accepts or
	// adopts while it waits (after its OnOpen), so that the protocol can
	// end the connection at its next boundary (close after the response in
	// progress, as an HTTP server answers with "Connection: close").
	// Without it, Shutdown waits for the peers to close.
	OnShutdown func(c *Conn)
}

// Server serves connections on several event loops, one goroutine each,
// each loop with its own Conns table: the multi-core shape of a loop and
// its Conns. Listen and Serve add listeners, before Run or while it runs;
// Run serves until Shutdown or Close.
//
// How a listener's connections reach the loops is its Balance. With the
// kernel's balancing every loop has its own reuse-port acceptor and
// accepts its own share. With a hand-off one loop accepts, picks a loop
// for each connection (round-robin, least connections or source-address
// hash) and passes the socket through that loop's queue; the socket is
// registered with no poller until the loop that serves it registers it,
// so no event of it reaches the accepting loop, and the registration
// reports whatever arrived meanwhile, so no data is missed.
//
// The Server owns the acceptors given to Serve and those Listen binds:
// Shutdown and Close close them. Each loop can still carry the caller's
// own registrations, timeouts and messages, as with Conns: see
// NewServer's other and Loop.
type Server[M any] struct {
	cfg   ServerConfig
	loops []*serverLoop[M]

	// phase only moves forward: serving, draining, forcing, closing.
	phase atomic.Int32
	// accepting counts the loops whose listeners are not closed yet once
	// a Shutdown or Close began; a loop stops only when it is 0, so that no
	// hand-off can reach a loop that has stopped.
	accepting atomic.Int32

	mu        sync.Mutex
	running   bool // Run was called
	closed    bool // Shutdown or Close was called
	listeners int  // how many hand-off listeners were placed, to spread them
	done      chan struct{}
}

const (
	phaseServing int32 = iota
	phaseDraining
	phaseForcing
	phaseClosing
)

// serverLoop is one loop of a Server and its table. It is the table's
// Handler for foreign tokens: it hands them to the caller's handler, and
// runs the Server's part of each iteration in Tick.
type serverLoop[M any] struct {
	srv       *Server[M]
	index     int
	loop      *EventLoop[M]
	conns     *Conns[M]
	other     Handler[M]
	otherTick Ticker[M]

	load    atomic.Int64 // open Conns and hand-offs on their way here
	seen    int32        // the phase this loop acted on last
	handoff []bool       // by listener of the table: hands its connections off
	ch      chooser
	loads   []int64 // scratch for the chooser

	ctlMu  sync.Mutex
	ctl    []func() // work other goroutines left for the loop
	ctlDue atomic.Bool
}

// NewServer makes a Server whose Conns call h. Every loop calls the one h,
// each from its own goroutine: a Conn's callbacks all come on its loop's
// (Conn.LoopIndex), so per-Conn state needs no lock, but state h shares
// across Conns of different loops does. other, when not nil, is called
// here for each loop i and makes that loop's Handler for the tokens that
// are not the table's own and for messages, as NewConns's other; Loop(i)
// is not yet there to be called from it.
func NewServer[M any](cfg ServerConfig, h ConnHandler, other func(i int) Handler[M]) (*Server[M], error) {
	if cfg.Loops < 0 {
		return nil, fmt.Errorf("mio: ServerConfig.Loops %d: %w", cfg.Loops, syscall.EINVAL)
	}
	if cfg.Loops == 0 {
		cfg.Loops = runtime.GOMAXPROCS(0)
	}
	if cfg.Balance > BalanceSourceHash {
		return nil, fmt.Errorf("mio: ServerConfig.Balance: unknown %v: %w", cfg.Balance, syscall.EINVAL)
	}
	s := &Server[M]{cfg: cfg, done: make(chan struct{})}
	for i := range cfg.Loops {
		sl, err := s.newLoop(i, h, other)
		if err != nil {
			s.closeLoops()
			return nil, err
		}
		s.loops = append(s.loops, sl)
	}
	return s, nil
}

// newLoop makes loop i and its table.
func (s *Server[M]) newLoop(i int, h ConnHandler, other func(int) Handler[M]) (*serverLoop[M], error) {
	l, err := NewEventLoop[M](s.cfg.Loop)
	if err != nil {
		return nil, err
	}
	sl := &serverLoop[M]{srv: s, index: i, loop: l, other: NopHandler[M]{}, loads: make([]int64, s.cfg.Loops)}
	if other != nil {
		if o := other(i); o != nil {
			sl.other = o
		}
	}
	sl.otherTick, _ = sl.other.(Ticker[M])
	sl.ch.mode = s.cfg.Balance
	if sl.ch.mode < BalanceRoundRobin {
		sl.ch.mode = BalanceRoundRobin // what a hand-off listener does when no hand-off was asked for
	}
	if sl.conns, err = NewConns(l, h, sl, s.cfg.Conn); err != nil {
		l.Close()
		return nil, err
	}
	t := &sl.conns.connTable
	t.index, t.load, t.route = i, &sl.load, sl.route
	return sl, nil
}

// Loops is the number of the Server's loops.
func (s *Server[M]) Loops() int { return len(s.loops) }

// Loop is loop i, for the caller's own registrations, timeouts and
// messages (its Channel); the rules of EventLoop apply: register from the
// loop's callbacks (those of other given to NewServer, or a ConnHandler's
// for a Conn whose LoopIndex is i) or before Run.
func (s *Server[M]) Loop(i int) *EventLoop[M] { return s.loops[i].loop }

// Conns is the table of loop i, for Dial and Adopt from its callbacks.
func (s *Server[M]) Conns(i int) *Conns[M] { return s.loops[i].conns }

// Listen binds addr (Bind's forms: TCP, Unix) and serves its connections,
// spread after the Balance: with the kernel's, one reuse-port acceptor per
// loop; otherwise one acceptor whose loop hands them off. It returns the
// address bound, whose port is the one the kernel chose when addr's is 0.
func (s *Server[M]) Listen(addr SockAddr) (SockAddr, error) {
	b, err := s.balanceFor(addr.IsInet())
	if err != nil {
		return SockAddr{}, err
	}
	var accs []Acceptor
	if b == BalanceReusePort {
		accs, err = s.bindEach(addr)
	} else {
		var acc Acceptor
		acc, err = s.cfg.Listen.Bind(addr)
		accs = []Acceptor{acc}
	}
	if err != nil {
		return SockAddr{}, err
	}
	bound, err := accs[0].LocalAddr()
	if err != nil {
		closeAcceptors(accs)
		return SockAddr{}, err
	}
	if b == BalanceReusePort {
		err = s.place(func(i int) (Acceptor, bool) { return accs[i], false }, accs)
	} else {
		err = s.serve(accs[0])
	}
	return bound, err
}

// Serve serves the connections of acc, which the Server then owns: one
// loop accepts them and hands them off after the Balance (the kernel's
// balancing needs one acceptor per loop: use Listen for it).
func (s *Server[M]) Serve(acc Acceptor) error {
	if s.cfg.Balance == BalanceReusePort {
		acc.Close()
		return fmt.Errorf("mio: Serve: %v needs an acceptor per loop (use Listen): %w", BalanceReusePort, ErrUnsupported)
	}
	return s.serve(acc)
}

// balanceFor is the balancing of a listener, TCP or not, on this system.
func (s *Server[M]) balanceFor(tcp bool) (Balance, error) {
	if len(s.loops) == 1 && s.cfg.Balance != BalanceReusePort {
		return BalanceRoundRobin, nil // one loop: nothing to hand off
	}
	return resolveBalanceHere(s.cfg.Balance, tcp)
}

// serve places one acceptor on a loop, which hands its connections off;
// several listeners go to different loops, so the accepting is shared.
func (s *Server[M]) serve(acc Acceptor) error {
	s.mu.Lock()
	at := s.listeners % len(s.loops)
	s.listeners++
	s.mu.Unlock()
	return s.place(func(i int) (Acceptor, bool) {
		if i != at {
			return nil, false
		}
		return acc, len(s.loops) > 1
	}, []Acceptor{acc})
}

// bindEach binds one reuse-port acceptor per loop to addr; the others bind
// the port the first got, also when addr asks for port 0.
func (s *Server[M]) bindEach(addr SockAddr) ([]Acceptor, error) {
	lc := s.cfg.Listen
	lc.ReusePort = true
	var accs []Acceptor
	for range s.loops {
		acc, err := lc.Bind(addr)
		if err == nil && len(accs) == 0 {
			addr, err = acc.LocalAddr()
			if err != nil {
				acc.Close()
			}
		}
		if err != nil {
			return nil, errors.Join(err, closeAcceptors(accs))
		}
		accs = append(accs, acc)
	}
	return accs, nil
}

// closeAcceptors closes every acceptor of accs.
func closeAcceptors(accs []Acceptor) error {
	var errs []error
	for _, acc := range accs {
		errs = append(errs, acc.Close())
	}
	return errors.Join(errs...)
}

// place gives each loop i the acceptor of(i), if any, with whether it
// hands off: directly before Run, through the loop's goroutine after. The
// Server owns accs from here, also when it fails.
func (s *Server[M]) place(of func(i int) (Acceptor, bool), accs []Acceptor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		closeAcceptors(accs)
		return errClosed("listen")
	}
	for i, sl := range s.loops {
		acc, handoff := of(i)
		if acc == nil {
			continue
		}
		if !s.running {
			if err := sl.listen(acc, handoff); err != nil {
				return errors.Join(err, closeAcceptors(accs))
			}
			continue
		}
		sl.post(func() {
			if err := sl.listen(acc, handoff); err != nil {
				acc.Close() // a listen(2) the kernel refused: nothing to serve
			}
		})
	}
	return nil
}

// Run serves on every loop, each on a goroutine of its own, until
// Shutdown or Close has stopped them all, and returns nil then. A loop
// whose poller fails ends the others as Close does, and Run returns its
// error. Run may be called once; after Shutdown or Close it returns
// ErrClosed.
func (s *Server[M]) Run() error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return errClosed("run")
	case s.running:
		s.mu.Unlock()
		return &opError{op: "run", err: ErrRunning}
	}
	s.running = true
	s.mu.Unlock()
	errs := make([]error, len(s.loops))
	var wg sync.WaitGroup
	for i, sl := range s.loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = sl.run()
		}()
	}
	wg.Wait()
	close(s.done)
	return errors.Join(errs...)
}

// run runs the loop until it stops, then releases it; a poller error
// stops the whole Server.
func (sl *serverLoop[M]) run() error {
	err := sl.loop.Run(sl.conns)
	if err != nil || sl.srv.phase.Load() == phaseServing {
		// A poller error, or a Shutdown of this loop made by hand: the
		// others must not serve on without it.
		sl.srv.begin(phaseClosing)
	}
	sl.closeListeners(false) // none is open but after an error
	sl.loop.Close()          // releases the table: OnClose for any Conn left
	return err
}

// Shutdown stops the Server gracefully. At once every listener accepts
// what is already queued, then closes, so new connections are refused but
// none queued before is reset (Linux resets what a closing listener still
// queues: hence this order). OnShutdown, if set, is called for each open
// Conn. Shutdown then waits for the Conns to close; when ctx ends first,
// it closes the rest with Conn.Close (flushed within Linger, then reset)
// and returns ctx.Err() once they are closed, so it may take up to Linger
// past ctx's end (Close, from another goroutine, cuts that short). It
// returns only after every loop has stopped and every OnClose has run.
// Called before Run, it releases everything, and Run then returns
// ErrClosed, as net/http's Serve does after a Shutdown: a program that
// may be stopped before its Run starts treats that as a clean end.
func (s *Server[M]) Shutdown(ctx context.Context) error {
	if !s.begin(phaseDraining) {
		return nil
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
	}
	s.advance(phaseForcing)
	<-s.done
	return ctx.Err()
}

// Close stops the Server at once: the listeners close (what they still
// queue is reset by the kernel), every Conn is closed without a flush and
// gets OnClose with errors.Is(err, ErrClosed), as when a loop is closed.
// It returns after every loop has stopped and every OnClose has run.
func (s *Server[M]) Close() error {
	if s.begin(phaseClosing) {
		<-s.done
	}
	return nil
}

// begin moves the Server to phase p, and reports whether it runs: one that
// never ran is released here. A Server already past p stays there.
func (s *Server[M]) begin(p int32) bool {
	s.mu.Lock()
	first := !s.closed
	s.closed = true
	running := s.running
	if first {
		s.accepting.Store(int32(len(s.loops)))
	}
	s.mu.Unlock()
	if !running {
		if first {
			s.closeLoops()
			close(s.done)
		}
		return false
	}
	s.advance(p)
	return true
}

// advance moves the phase forward to p and wakes every loop to act on it.
func (s *Server[M]) advance(p int32) {
	for {
		cur := s.phase.Load()
		if cur >= p || s.phase.CompareAndSwap(cur, p) {
			break
		}
	}
	s.wakeAll()
}

// wakeAll wakes every loop; a loop already closed needs no wake-up.
func (s *Server[M]) wakeAll() {
	for _, sl := range s.loops {
		sl.loop.wake()
	}
}

// closeLoops releases the loops of a Server that is not running.
func (s *Server[M]) closeLoops() {
	for _, sl := range s.loops {
		sl.closeListeners(false)
		sl.loop.Close()
	}
}

// Stats is the sum of every loop's statistics (see LoopStats); LagMax is
// the largest. It allocates nothing.
func (s *Server[M]) Stats() ServerStats {
	var sum ServerStats
	for i := range s.loops {
		st := s.LoopStats(i)
		sum.LoopStats.add(&st.LoopStats)
		sum.ConnStats.add(&st.ConnStats)
	}
	return sum
}

// LoopStats is the statistics of loop i alone.
func (s *Server[M]) LoopStats(i int) ServerStats {
	sl := s.loops[i]
	return ServerStats{LoopStats: sl.loop.Stats(), ConnStats: sl.conns.Stats()}
}

// The loop's side.

// listen adds acc to the loop's table, unless a Shutdown or Close closed
// the table's listeners while acc was on its way.
func (sl *serverLoop[M]) listen(acc Acceptor, handoff bool) error {
	if sl.conns.listenersClosed {
		return errClosed("listen")
	}
	if err := sl.conns.Listen(acc); err != nil {
		return err
	}
	sl.handoff = append(sl.handoff, handoff)
	return nil
}

// post leaves fn for the loop's goroutine and wakes it.
func (sl *serverLoop[M]) post(fn func()) {
	sl.ctlMu.Lock()
	sl.ctl = append(sl.ctl, fn)
	sl.ctlMu.Unlock()
	sl.ctlDue.Store(true)
	sl.loop.wake()
}

// route hands a socket accepted from the table's listener i to the loop
// the chooser picks, unless that is this one. A full queue (or a loop
// already closed) keeps it here: nothing accepted is dropped.
func (sl *serverLoop[M]) route(i int, sock Socket) bool {
	if i >= len(sl.handoff) || !sl.handoff[i] {
		return false
	}
	for j, o := range sl.srv.loops {
		sl.loads[j] = o.load.Load()
	}
	j := sl.ch.choose(sl.loads, sourceIP(sl.ch.mode, sock))
	if j == sl.index {
		return false
	}
	to := sl.srv.loops[j]
	to.load.Add(1)
	if err := to.conns.post(connOp{kind: opAdopt, sock: sock}); err != nil {
		to.load.Add(-1)
		return false
	}
	return true
}

// sourceIP is the client address source hashing needs, as 16 bytes
// (IPv4 mapped), or nil: for the other modes, and for peers with no IP.
func sourceIP(mode Balance, sock Socket) []byte {
	if mode != BalanceSourceHash {
		return nil
	}
	peer, err := sock.PeerAddr()
	if err != nil {
		return nil
	}
	ap, ok := peer.AddrPort()
	if !ok {
		return nil
	}
	ip := ap.Addr().As16()
	return ip[:]
}

// Readable hands a foreign token's event to the caller's handler.
func (sl *serverLoop[M]) Readable(l *EventLoop[M], token Token, hint ReadHint) {
	sl.other.Readable(l, token, hint)
}

// Writable hands a foreign token's event to the caller's handler.
func (sl *serverLoop[M]) Writable(l *EventLoop[M], token Token) { sl.other.Writable(l, token) }

// Timeout hands a foreign token's timeout to the caller's handler.
func (sl *serverLoop[M]) Timeout(l *EventLoop[M], token Token) { sl.other.Timeout(l, token) }

// Notify hands a message to the caller's handler.
func (sl *serverLoop[M]) Notify(l *EventLoop[M], msg M) { sl.other.Notify(l, msg) }

// Tick runs the caller's Tick, the work other goroutines left, and the
// Server's phase: one atomic load per iteration while serving.
func (sl *serverLoop[M]) Tick(l *EventLoop[M]) {
	if sl.otherTick != nil {
		sl.otherTick.Tick(l)
	}
	if sl.ctlDue.Load() {
		sl.runCtl()
	}
	if p := sl.srv.phase.Load(); p != phaseServing {
		sl.follow(p)
	}
}

// runCtl runs the work left for the loop.
func (sl *serverLoop[M]) runCtl() {
	sl.ctlMu.Lock()
	fns := sl.ctl
	sl.ctl = nil
	sl.ctlDue.Store(false)
	sl.ctlMu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// follow acts on the phase p: once on entering it, and then each
// iteration it checks whether the loop may stop.
func (sl *serverLoop[M]) follow(p int32) {
	t := &sl.conns.connTable
	if p != sl.seen {
		sl.seen = p
		sl.enter(p, t)
	}
	if sl.srv.accepting.Load() != 0 {
		return // a hand-off may still come
	}
	switch {
	case p == phaseClosing:
		sl.loop.Close() // the release closes every Conn with ErrClosed
	case sl.load.Load() == 0:
		sl.loop.Shutdown()
	}
}

// enter starts the loop's part of phase p.
func (sl *serverLoop[M]) enter(p int32, t *connTable) {
	switch p {
	case phaseDraining:
		sl.closeListeners(true)
		if f := sl.srv.cfg.OnShutdown; f != nil {
			t.adopted = f
			t.each(f)
		}
	case phaseForcing:
		sl.closeListeners(true)
		t.adopted = (*Conn).Close
		t.each((*Conn).Close)
	case phaseClosing:
		sl.closeListeners(false)
	}
}

// closeListeners closes the table's listeners, once: with drain, after
// accepting what they queue. The last loop to close its own wakes the
// others, which may be waiting for it to stop.
func (sl *serverLoop[M]) closeListeners(drain bool) {
	t := &sl.conns.connTable
	if t.listenersClosed {
		return
	}
	t.closeListeners(drain)
	if sl.srv.accepting.Add(-1) == 0 {
		sl.srv.wakeAll()
	}
}
