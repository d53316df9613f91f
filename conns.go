package mio

import (
	"io"
	"sync/atomic"
	"time"
)

// ConnsToken is the token bit a Conns table keeps for itself: every token
// with it set names one of its connections, listeners or timers, and every
// other token (registrations, timeouts) is the caller's and goes to the
// caller's own Handler. A Conn's token also carries its slot and a
// generation, so that an event or a timeout for a closed Conn never
// reaches a newer one that took its slot or its fd.
const ConnsToken Token = 1 << 63

// The layout of the table's tokens: a Conn's is ConnsToken, its
// generation (30 bits) and its slot (32 bits); the table's own ones
// (listeners, their retries, the resume timer) have connsInternal set,
// a kind and an index.
const (
	connsInternal Token = 1 << 62
	connGenShift        = 32
	connGenMask         = 1<<30 - 1
	kindListen          = 0
	kindRetry           = 1
	kindResume          = 2
)

// readsPerService bounds the reads one Conn makes before the others get
// their turn: one busy connection cannot starve the rest, and what it
// still has is read at the end of the iteration.
const readsPerService = 4

// scratchMax bounds the table's read scratch: a read takes at most this
// much, so a large ReadLimit (a protocol's largest message) costs memory
// only when a message that large is being read, never up front.
const scratchMax = 64 << 10

// acceptRetry is how long a listener waits after an accept error (out
// of fds, out of memory) before it tries again: the error is the
// kernel's, and trying again at once would spin.
const acceptRetry = 10 * time.Millisecond

// Conns is the connection table of one loop: it accepts from Acceptors,
// adopts Sockets and dials, and drives each connection as a Conn for a
// ConnHandler. It is the loop's Handler (loop.Run(conns)): tokens with
// ConnsToken set are its own, every other event, timeout and message goes
// to the Handler given to NewConns, so raw registrations, timeouts and
// messages still work on the same loop. If that Handler is a Ticker its
// Tick runs at the end of each iteration, before the table's own.
//
// Every Conn registers once, edge-triggered for reading and writing, and
// keeps that registration for its life: pausing, a full input and queued
// output change no kernel state, so they cost no system call.
//
// When the loop is closed, every open Conn is closed and gets
// OnClose(c, err) with errors.Is(err, ErrClosed), on the goroutine that
// releases the loop (the loop's, as Run returns, or Close's caller when
// no Run was in progress). Acceptors given to Listen stay open: they are
// the caller's.
type Conns[M any] struct {
	connTable
	loop      *EventLoop[M]
	other     Handler[M]
	otherTick Ticker[M]
}

// NewConns makes the table for loop: it calls h for its Conns and other
// (nil: nothing) for every token that is not its own and for messages.
func NewConns[M any](loop *EventLoop[M], h ConnHandler, other Handler[M], cfg ConnConfig) (*Conns[M], error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if other == nil {
		other = NopHandler[M]{}
	}
	s := &Conns[M]{loop: loop, other: other}
	s.otherTick, _ = other.(Ticker[M])
	s.connTable = connTable{
		cfg:     cfg,
		h:       h,
		lp:      s,
		scratch: make([]byte, 0, min(cfg.ReadLimit, scratchMax)),
		mem:     newBufPool(max(cfg.ReadLimit, cfg.WriteLimit)),
		pieces:  make([][]byte, 0, gatherMax),
		refs:    newNotifyQueue[connOp](cfg.RefQueue),
	}
	loop.onRelease(s.closeAll)
	return s, nil
}

// Readable serves the table's own tokens and hands the rest on.
func (s *Conns[M]) Readable(l *EventLoop[M], token Token, hint ReadHint) {
	if token&ConnsToken == 0 {
		s.other.Readable(l, token, hint)
		return
	}
	s.readable(token, hint)
}

// Writable serves the table's own tokens and hands the rest on.
func (s *Conns[M]) Writable(l *EventLoop[M], token Token) {
	if token&ConnsToken == 0 {
		s.other.Writable(l, token)
		return
	}
	s.writable(token)
}

// Timeout serves the table's own timers and hands the rest on.
func (s *Conns[M]) Timeout(l *EventLoop[M], token Token) {
	if token&ConnsToken == 0 {
		s.other.Timeout(l, token)
		return
	}
	s.timeout(token)
}

// Notify hands the loop's messages to the caller's Handler.
func (s *Conns[M]) Notify(l *EventLoop[M], msg M) { s.other.Notify(l, msg) }

// Tick runs the caller's Tick, then the table's work of the iteration:
// ConnRef operations, and the Conns whose state changed outside their own
// events.
func (s *Conns[M]) Tick(l *EventLoop[M]) {
	if s.otherTick != nil {
		s.otherTick.Tick(l)
	}
	s.tick()
}

// Listen accepts connections from acc on the loop, each a Conn that
// starts with OnOpen. acc stays the caller's to close.
func (s *Conns[M]) Listen(acc Acceptor) error {
	if err := s.loop.Listen(acc, 0, s.token(kindListen, len(s.listeners))); err != nil {
		return err
	}
	s.listeners = append(s.listeners, acc)
	return nil
}

// Adopt makes a Conn of a connected socket, which must not be registered
// with a loop; OnOpen follows from the loop. On error sock stays the
// caller's.
func (s *Conns[M]) Adopt(sock Socket) (*Conn, error) {
	c, err := s.attach(sock)
	if err != nil {
		return nil, err
	}
	s.markDirty(c)
	return c, nil
}

// Dial connects to addr on the loop and returns the Conn at once: OnOpen
// follows once connected, or OnClose with the error when the connect
// fails or does not finish within timeout (0: the kernel's own limit),
// with errors.Is(err, os.ErrDeadlineExceeded). Writes before the connect
// are queued. An error here (no socket for the address, connect(2)
// refusing at once) means no Conn and no callback.
func (s *Conns[M]) Dial(addr SockAddr, timeout time.Duration) (*Conn, error) {
	c := s.newConn(nil)
	c.flags |= cConnecting
	c.dial = &dialing{}
	if timeout > 0 {
		c.until = s.clock() + int64(timeout)
	}
	if err := s.connect(c, addr); err != nil {
		s.freeSlot(c)
		return nil, err
	}
	s.armTimer(c)
	return c, nil
}

// Len is the number of open Conns.
func (s *Conns[M]) Len() int { return s.open }

// The loop's side of the table, through connLoop.

func (s *Conns[M]) register(sock Socket, token Token) error {
	return s.loop.Register(sock, token, Readable|Writable, Edge)
}

func (s *Conns[M]) startConnect(sock Socket, addr SockAddr, token Token) error {
	return s.loop.Connect(sock, addr, token)
}

func (s *Conns[M]) setTimer(token Token, after time.Duration) Timeout {
	t, _ := s.loop.Timeout(token, after) // fails only on a closed loop, when no timer matters
	return t
}

func (s *Conns[M]) clearTimer(t Timeout) { s.loop.ClearTimeout(t) }
func (s *Conns[M]) loopNow() int64       { return s.loop.now() }
func (s *Conns[M]) loopRunning() bool    { return s.loop.IsRunning() }
func (s *Conns[M]) wakeLoop()            { s.loop.wake() }

// token is the token of one of the table's own things.
func (s *Conns[M]) token(kind, index int) Token {
	return ConnsToken | connsInternal | Token(kind)<<connGenShift | Token(uint32(index))
}

// connLoop is what the table needs of its loop, whose type has the
// message type as a parameter the table itself does without.
type connLoop interface {
	register(sock Socket, token Token) error
	startConnect(sock Socket, addr SockAddr, token Token) error
	setTimer(token Token, after time.Duration) Timeout
	clearTimer(t Timeout)
	loopNow() int64
	loopRunning() bool
	wakeLoop()
	token(kind, index int) Token
}

// connTable is the part of Conns that does not depend on the message
// type: the slots, the Conns' state machine, and the table's memory.
type connTable struct {
	cfg ConnConfig
	h   ConnHandler
	lp  connLoop

	slots []*Conn  // by slot; nil when free
	gens  []uint32 // the generation of each slot's current or next Conn
	free  []uint32 // free slots
	open  int

	// dirty holds the Conns to look at in Tick: state changed outside
	// their own events, or input left to read; spare is its double.
	dirty, spare []*Conn
	resumeArmed  bool // a zero timeout keeps the loop from sleeping

	// scratch is lent to a Conn's empty input for one read, so a Conn
	// whose handler consumes everything holds no input memory of its own.
	scratch []byte
	mem     bufPool
	gather  gather
	pieces  [][]byte

	listeners []Acceptor

	refs     *notifyQueue[connOp]
	refBytes atomic.Int64

	now    int64 // the clock of this iteration, once read; see clock
	nowSet bool
	closed bool

	counters connCounters // see stats.go
	// load, when a Server runs the table, counts its open Conns and those
	// handed to it on their way (see Server), for least-conns balancing.
	load *atomic.Int64
	// route, when set, may hand a socket accepted from listener i to
	// another loop; it reports whether it did.
	route func(i int, sock Socket) bool
	// adopted, when set, is called for every Conn the table accepts or
	// adopts from here on (a Server's shutdown uses it).
	adopted func(c *Conn)
	// index is the table's loop among a Server's; 0 otherwise.
	index           int
	listenersClosed bool
}

// clock is the loop's clock, read once per iteration while the loop runs
// (deadlines need no finer grain, and the reading costs), fresh otherwise.
func (t *connTable) clock() int64 {
	if !t.lp.loopRunning() {
		return t.lp.loopNow()
	}
	if !t.nowSet {
		t.now, t.nowSet = t.lp.loopNow(), true
	}
	return t.now
}

// newConn makes a Conn in a free slot.
func (t *connTable) newConn(sock Socket) *Conn {
	slot := t.allocSlot()
	c := &Conn{t: t, sock: sock}
	c.token = ConnsToken | Token(t.gens[slot])<<connGenShift | Token(slot)
	c.in.SetLimit(t.cfg.ReadLimit)
	c.out.buf.SetLimit(t.cfg.WriteLimit)
	cfg := &t.cfg
	c.idle, c.readTO, c.writeTO = int64(cfg.IdleTimeout), int64(cfg.ReadTimeout), int64(cfg.WriteTimeout)
	if c.idle|c.readTO|c.writeTO != 0 {
		now := t.clock()
		c.lastRead, c.lastWrite = now, now
	}
	t.slots[slot] = c
	t.open++
	t.counters.st.Opened++
	if t.load != nil {
		t.load.Add(1)
	}
	return c
}

// allocSlot takes a free slot, or a new one.
func (t *connTable) allocSlot() uint32 {
	if n := len(t.free); n > 0 {
		slot := t.free[n-1]
		t.free = t.free[:n-1]
		return slot
	}
	t.slots = append(t.slots, nil)
	t.gens = append(t.gens, 1)
	return uint32(len(t.slots) - 1)
}

// freeSlot gives c's slot back with a new generation.
func (t *connTable) freeSlot(c *Conn) {
	slot := uint32(c.token)
	t.slots[slot] = nil
	t.gens[slot] = (t.gens[slot] + 1) & connGenMask
	t.free = append(t.free, slot)
	t.open--
	if t.load != nil {
		t.load.Add(-1)
	}
}

// lookup is the Conn token names, if it is still open.
func (t *connTable) lookup(token Token) *Conn {
	slot := uint64(uint32(token))
	if slot >= uint64(len(t.slots)) {
		return nil
	}
	if c := t.slots[slot]; c != nil && c.token == token {
		return c
	}
	return nil
}

// setupSocket sets what a Conn's socket needs: TCP_NODELAY, unless Nagle.
func (t *connTable) setupSocket(sock Socket) {
	if ts, ok := sock.(*TCPSocket); ok && !t.cfg.Nagle {
		ts.SetNoDelay(true) // an optimisation: a failure changes no behaviour
	}
}

// markDirty puts c on the list for Tick. Outside Run no Tick is coming
// soon, so the loop is kept from sleeping through its first one.
func (t *connTable) markDirty(c *Conn) {
	if c.flags&(cDirty|cDone) != 0 {
		return
	}
	c.flags |= cDirty
	t.dirty = append(t.dirty, c)
	if !t.lp.loopRunning() {
		t.armResume()
	}
}

// armResume keeps the loop's next poll from sleeping.
func (t *connTable) armResume() {
	if !t.resumeArmed && !t.closed {
		t.lp.setTimer(t.lp.token(kindResume, 0), 0)
		t.resumeArmed = true
	}
}

// readable serves a readiness event of the table's own.
func (t *connTable) readable(token Token, hint ReadHint) {
	if token&connsInternal != 0 {
		t.accept(int(uint32(token)))
		return
	}
	c := t.lookup(token)
	if c == nil {
		return
	}
	c.flags |= cReadReady
	if hint&(HupHint|ErrorHint) != 0 {
		c.flags |= cHup
	}
	t.service(c)
}

// writable serves write readiness: a connect's outcome, or room for
// output that waits.
func (t *connTable) writable(token Token) {
	c := t.lookup(token)
	if c == nil || c.flags&(cBlocked|cConnecting) == 0 {
		return // nothing waits for it: the edge came with a read's
	}
	if c.flags&cConnecting != 0 {
		t.connected(c)
		return
	}
	c.flags &^= cBlocked
	t.service(c)
}

// timeout serves the table's timers.
func (t *connTable) timeout(token Token) {
	if token&connsInternal != 0 {
		switch kind := int(token>>connGenShift) & 0xff; kind {
		case kindResume:
			t.resumeArmed = false // Tick does the work
		case kindRetry:
			t.accept(int(uint32(token)))
		}
		return
	}
	c := t.lookup(token)
	if c == nil || c.timer == (Timeout{}) {
		return
	}
	c.timer = Timeout{}
	err, clean := c.expired(t.lp.loopNow())
	switch {
	case clean:
		t.finish(c, nil)
	case err != nil:
		c.fail(err)
		t.service(c)
	default:
		t.armTimer(c)
	}
}

// accept takes every pending connection of listener i.
func (t *connTable) accept(i int) {
	if i >= len(t.listeners) || t.listeners[i] == nil {
		return
	}
	for !t.closed {
		sock, err := t.listeners[i].Accept()
		if err == ErrWouldBlock {
			return
		}
		if err != nil {
			t.acceptFailed(i, err)
			return
		}
		t.counters.st.Accepted++
		if t.route == nil || !t.route(i, sock) {
			t.adopt(sock)
		}
	}
}

// acceptFailed answers an accept error of listener i. Out of fds with the
// queue shed empty, the next connection is reported as a new edge, so
// nothing is to be done; otherwise (the shed could not empty the queue,
// or another error of the kernel's) the listener tries again shortly,
// neither spinning nor leaving a queue no edge will report.
func (t *connTable) acceptFailed(i int, err error) {
	shed, drained := shedOf(err)
	t.counters.st.AcceptErrors++
	t.counters.st.Sheds += uint64(shed)
	if !drained {
		t.lp.setTimer(t.lp.token(kindRetry, i), acceptRetry)
	}
}

// adopt makes a Conn of an accepted socket and opens it.
func (t *connTable) adopt(sock Socket) {
	c, err := t.attach(sock)
	if err != nil {
		sock.Close() // a registration the kernel refused: the client sees the end
		return
	}
	t.service(c)
	if t.adopted != nil && c.flags&cDone == 0 {
		t.adopted(c)
	}
}

// closeListeners closes every listener of the table, once; with drain it
// first accepts what each has queued, which closing would reset.
func (t *connTable) closeListeners(drain bool) {
	t.listenersClosed = true
	for i, acc := range t.listeners {
		if acc == nil {
			continue
		}
		if drain {
			t.accept(i)
		}
		acc.Close()
		t.listeners[i] = nil
	}
}

// each calls f for every open Conn.
func (t *connTable) each(f func(c *Conn)) {
	for _, c := range t.slots {
		if c != nil && c.flags&cDone == 0 {
			f(c)
		}
	}
}

// attach makes a Conn of a connected socket, with OnOpen due.
func (t *connTable) attach(sock Socket) (*Conn, error) {
	c := t.newConn(sock)
	if err := t.lp.register(sock, c.token); err != nil {
		t.freeSlot(c)
		return nil, err
	}
	t.setupSocket(sock)
	c.flags |= cOpenDue
	return c, nil
}

// tick does the work of the end of an iteration.
func (t *connTable) tick() {
	t.drainRefs()
	batch := t.dirty
	t.dirty = t.spare[:0]
	for i, c := range batch {
		c.flags &^= cDirty
		t.service(c)
		batch[i] = nil
	}
	t.spare = batch[:0]
	t.refs.resetWake() // then look: see the wake-up argument in notify.go
	if len(t.dirty) > 0 || t.refs.ready() {
		t.armResume()
	}
	t.nowSet = false
	t.publish()
}

// publish makes the table's statistics visible to other goroutines.
func (t *connTable) publish() {
	t.counters.st.Open = int64(t.open)
	t.counters.publish()
}

// service runs c's state machine: open, write what waits, read what
// came, then settle what that led to.
func (t *connTable) service(c *Conn) {
	if c.flags&(cDone|cBusy) != 0 {
		return
	}
	c.flags |= cBusy
	if c.flags&cOpenDue != 0 {
		c.flags = c.flags&^cOpenDue | cOpen
		t.h.OnOpen(c)
	}
	t.flush(c)
	for i := 0; i < readsPerService && t.canRead(c); i++ {
		t.readOnce(c)
		t.flush(c)
	}
	c.flags &^= cBusy
	t.settle(c)
}

// canRead reports whether c should read now.
func (t *connTable) canRead(c *Conn) bool {
	switch {
	case c.flags&(cReadReady|cEOF|cDone|cConnecting|cOpenDue) != cReadReady || c.err != nil:
		return false
	case c.flags&cClosing != 0:
		return true // reading to drop what comes, paused or not
	}
	return c.flags&cPaused == 0 && c.in.Available() > 0
}

// readOnce makes one read into c's input and hands it to OnData (or drops
// it, when closing).
func (t *connTable) readOnce(c *Conn) {
	if c.in.Cap() == 0 {
		c.in.buf = t.scratch[:0] // lent for this read; see unlend
	}
	room := c.in.Room(max(c.in.Len(), bufferMinGrow))
	n, err := c.sock.Read(room)
	if n > 0 {
		t.counters.st.BytesRead += uint64(n)
		c.in.Commit(n)
		if c.idle|c.readTO != 0 {
			c.lastRead = t.clock()
		}
	}
	switch {
	case err == nil && (n == len(room) || c.flags&cHup != 0):
		// There may be more; with a hang-up pending, read to its end.
	case err == nil, err == ErrWouldBlock:
		c.flags &^= cReadReady // a short read took all there was
	case err == io.EOF:
		c.flags = c.flags&^cReadReady | cEOF
	default:
		c.flags &^= cReadReady
		c.fail(err) // after OnData has had what came before it
	}
	t.deliver(c, n > 0 || err == io.EOF)
	t.unlend(c)
}

// deliver hands new input to OnData, or drops it while closing.
func (t *connTable) deliver(c *Conn, news bool) {
	if c.flags&cClosing != 0 {
		c.in.Discard(c.in.Len())
		return
	}
	if news {
		t.h.OnData(c)
	}
}

// unlend gives the scratch back after a read: what OnData left moves to
// memory of the Conn's own, from the pool, sized for it.
func (t *connTable) unlend(c *Conn) {
	if !t.lent(c) {
		if c.in.Len() == 0 && c.in.Cap() > 0 {
			t.mem.put(c.in.buf)
			c.in.buf, c.in.r, c.in.w = nil, 0, 0
		}
		return
	}
	left := c.in.Bytes()
	if len(left) == 0 {
		c.in.buf, c.in.r, c.in.w = nil, 0, 0
		return
	}
	own := t.mem.getAtMost(2*len(left), t.cfg.ReadLimit)
	c.in.buf, c.in.r, c.in.w = own[:cap(own)], 0, copy(own[:cap(own)], left)
}

// lent reports whether c's input is the table's scratch.
func (t *connTable) lent(c *Conn) bool {
	return cap(c.in.buf) > 0 && &c.in.buf[:1][0] == &t.scratch[:1][0]
}

// flush writes what c has queued, as far as the kernel takes it, and
// calls OnDrain when the output fell to LowWater.
func (t *connTable) flush(c *Conn) {
	for c.out.len() > 0 && c.flags&(cBlocked|cConnecting|cDone) == 0 && c.err == nil && c.sock != nil {
		n, err := t.writeOut(c)
		if n > 0 {
			c.out.consume(n)
			c.progress(n)
		}
		if err == ErrWouldBlock {
			c.flags |= cBlocked
			break
		}
		if err != nil {
			c.fail(err)
			return
		}
	}
	c.out.release(&t.mem, false)
	if c.flags&cDrainDue != 0 && c.out.len() <= t.cfg.LowWater && c.err == nil {
		c.flags &^= cDrainDue
		if c.flags&(cClosing|cDone) == 0 {
			t.h.OnDrain(c)
		}
	}
}

// writeOut makes one write of c's output: plain when it is all copied,
// gathered when lent slices are queued.
func (t *connTable) writeOut(c *Conn) (int, error) {
	if c.out.segs == nil {
		return c.sock.Write(c.out.buf.Bytes())
	}
	t.pieces = c.out.pieces(t.pieces)
	n, err := t.gather.write(c.sock.Fd(), t.pieces)
	clear(t.pieces)
	return n, err
}

// settle closes c when it must, sends its FIN when due, and keeps its
// reading and its timer going.
func (t *connTable) settle(c *Conn) {
	if c.flags&cDone != 0 {
		return
	}
	if c.err != nil {
		t.finish(c, c.err)
		return
	}
	if c.flags&(cEOF|cClosing) == cEOF && !t.cfg.AllowHalfOpen && c.in.Len() == 0 {
		c.Close()
	}
	if c.flags&cClosing != 0 {
		c.in.Discard(c.in.Len())
		t.unlend(c)
	}
	if c.flags&(cShutWant|cShutDone|cConnecting) == cShutWant && c.out.len() == 0 && c.sock != nil {
		c.flags |= cShutDone
		if err := c.sock.Shutdown(ShutWrite); err != nil {
			t.finish(c, err)
			return
		}
	}
	if c.flags&(cClosing|cShutDone|cEOF) == cClosing|cShutDone|cEOF {
		t.finish(c, nil)
		return
	}
	if t.canRead(c) {
		t.markDirty(c)
	}
	t.armTimer(c)
	t.account(c, c.in.Len(), c.out.len())
}

// account moves the table's count of bytes held to c's current input and
// output.
func (t *connTable) account(c *Conn, in, out int) {
	st := &t.counters.st
	st.InputHeld += int64(in - c.held[0])
	st.OutputHeld += int64(out - c.held[1])
	c.held = [2]int{in, out}
}

// armTimer makes sure c's timer fires by its next deadline. It moves the
// timer only when the deadline came nearer: activity puts deadlines off,
// and a timer that fires early is simply set again, so busy Conns touch
// the timer queue once per timeout period, not once per read.
func (t *connTable) armTimer(c *Conn) {
	if c.flags&cDone != 0 {
		return
	}
	at := c.deadline()
	if at == maxDeadline {
		return
	}
	if c.timer != (Timeout{}) {
		if c.timerAt <= at {
			return
		}
		t.lp.clearTimer(c.timer)
	}
	c.timer = t.lp.setTimer(c.token, time.Duration(at-t.clock()))
	c.timerAt = at
}

// maxDeadline is "no deadline".
const maxDeadline = 1<<63 - 1

// finish closes c for good and tells the handler, once.
func (t *connTable) finish(c *Conn, err error) {
	if c.flags&cDone != 0 {
		return
	}
	c.flags |= cDone
	c.gone.Store(true)
	if c.timer != (Timeout{}) {
		t.lp.clearTimer(c.timer)
		c.timer = Timeout{}
	}
	if c.sock != nil {
		if err == errAborted || err == errLinger {
			abortSocket(c.sock)
		}
		c.sock.Close()
	}
	if err == errAborted {
		err = nil
	}
	if !t.lent(c) {
		t.mem.put(c.in.buf)
	}
	c.in.buf, c.in.r, c.in.w = nil, 0, 0
	c.out.release(&t.mem, true)
	c.dial = nil
	t.account(c, 0, 0)
	t.counters.st.Closed++
	t.freeSlot(c)
	t.h.OnClose(c, err)
}

// abortSocket makes the close that follows send a reset: SO_LINGER 0.
func abortSocket(sock Socket) {
	if l, ok := sock.(interface{ SetLinger(int) error }); ok {
		l.SetLinger(0) // if it fails the close is an orderly one, no worse
	}
}

// closeAll closes every open Conn as the loop is released.
func (t *connTable) closeAll() {
	t.closed = true
	t.refs.close()
	t.dropRefs()
	err := errClosed("event loop")
	for _, c := range t.slots {
		if c != nil {
			t.finish(c, err)
		}
	}
	t.dirty, t.spare = nil, nil
	t.publish()
}
