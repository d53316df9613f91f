package mio

import (
	"fmt"
	"math"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// ConnHandler receives the events of the Conns of one Conns table. Every
// method runs on the loop's goroutine, one at a time.
//
// For each Conn, OnOpen comes first (for a Dial, once connected), then
// OnData and OnDrain any number of times, then OnClose exactly once, on
// every path; after OnClose the Conn is never handed to a callback again.
// A Dial that never connects gets OnClose alone. The methods of a Conn
// never call the handler themselves: what they cause (a close, a drain)
// is reported from the loop afterwards, so a handler may call them on any
// Conn from any of its callbacks without meeting itself re-entered.
type ConnHandler interface {
	// OnOpen is called when the Conn is ready: accepted, adopted, or
	// connected by Dial.
	OnOpen(c *Conn)
	// OnData is called when bytes arrived in c.In(); the handler consumes
	// what it can (Next, Discard) and leaves the rest for the next call,
	// which comes when more arrive. At the peer's end of stream it is
	// called once more with c.EOF() true, also when In is empty.
	OnData(c *Conn)
	// OnDrain is called once when the output, having reached the
	// HighWater mark (or refused a Write with ErrBufferFull), has fallen
	// to the LowWater mark: a producer that stopped may go on.
	OnDrain(c *Conn)
	// OnClose is called once the Conn is closed and its fd released: err
	// is nil after a clean end (Close, or the peer's end of stream with
	// everything flushed), the cause otherwise: the socket's error, a
	// timeout (errors.Is(err, os.ErrDeadlineExceeded)), ErrBufferFull for
	// a ConnRef write that found the output full, or ErrClosed when the
	// loop itself was closed.
	OnClose(c *Conn, err error)
}

// ConnConfig tunes the Conns of one table. The zero value is ready to use:
// each zero field takes the default named in its comment.
type ConnConfig struct {
	// ReadLimit bounds the unread input of one Conn (default 64 KiB).
	// When c.In() is full the Conn stops reading, and the kernel's window
	// stops the peer, until the handler consumes.
	ReadLimit int
	// WriteLimit bounds the queued output of one Conn (default 1 MiB):
	// a Write that would pass it fails with ErrBufferFull and queues
	// nothing. ReadLimit and WriteLimit are at most math.MaxInt32.
	WriteLimit int
	// HighWater and LowWater drive OnDrain: once the output has reached
	// HighWater (default 64 KiB, at most WriteLimit), or a Write was
	// refused, OnDrain is called when it falls to LowWater (default
	// HighWater/4).
	HighWater, LowWater int
	// Linger bounds how long Close waits for the output to be flushed and
	// for the peer to finish (default 30 s); after it the Conn is closed,
	// with a timeout error if output was still queued.
	Linger time.Duration
	// IdleTimeout, ReadTimeout and WriteTimeout are each Conn's initial
	// timeouts (0: none); see Conn.SetIdleTimeout and the others.
	IdleTimeout, ReadTimeout, WriteTimeout time.Duration
	// AllowHalfOpen keeps a Conn open after the peer's end of stream, so
	// that the handler can go on writing and close when it is done. By
	// default the Conn closes itself (as Close) once OnData has seen the
	// end of stream and the handler has consumed all of In: input left
	// then is never dropped, and the Conn waits for the handler (or its
	// timeouts) to take it.
	AllowHalfOpen bool
	// Nagle leaves Nagle's algorithm on for TCP. By default TCP_NODELAY is
	// set, as Go's net does, since the Conn already batches what one
	// callback writes.
	Nagle bool
	// RefQueue bounds the queue of operations sent through ConnRefs
	// (default 4096); beyond it they fail with ErrNotifyFull.
	RefQueue int
	// RefBytes bounds the bytes of ConnRef writes on their way to the
	// loop (default 4 MiB); beyond it they fail with ErrBufferFull.
	RefBytes int
}

const (
	defaultReadLimit  = 64 << 10
	defaultWriteLimit = 1 << 20
	defaultHighWater  = 64 << 10
	defaultLinger     = 30 * time.Second
	defaultRefQueue   = 4096
	defaultRefBytes   = 4 << 20
)

// withDefaults validates c and fills its zero fields.
func (c ConnConfig) withDefaults() (ConnConfig, error) {
	if c.ReadLimit < 0 || c.WriteLimit < 0 || c.HighWater < 0 || c.LowWater < 0 || c.Linger < 0 ||
		c.IdleTimeout < 0 || c.ReadTimeout < 0 || c.WriteTimeout < 0 || c.RefQueue < 0 || c.RefBytes < 0 {
		return c, fmt.Errorf("mio: negative value in ConnConfig %+v: %w", c, syscall.EINVAL)
	}
	c.ReadLimit = orDefault(c.ReadLimit, defaultReadLimit)
	c.WriteLimit = orDefault(c.WriteLimit, defaultWriteLimit)
	c.HighWater = orDefault(c.HighWater, min(defaultHighWater, c.WriteLimit))
	c.LowWater = orDefault(c.LowWater, c.HighWater/4)
	c.Linger = orDefault(c.Linger, defaultLinger)
	c.RefQueue = orDefault(c.RefQueue, defaultRefQueue)
	c.RefBytes = orDefault(c.RefBytes, defaultRefBytes)
	if c.WriteLimit > math.MaxInt32 || c.ReadLimit > math.MaxInt32 {
		return c, fmt.Errorf("mio: ConnConfig limits past 2 GiB: %w", syscall.EINVAL)
	}
	if c.HighWater > c.WriteLimit || c.LowWater >= c.HighWater {
		return c, fmt.Errorf("mio: ConnConfig needs LowWater < HighWater <= WriteLimit, have %d, %d, %d: %w",
			c.LowWater, c.HighWater, c.WriteLimit, syscall.EINVAL)
	}
	return c, nil
}

// orDefault is v, or def when v is zero.
func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Conn is one stream connection driven by a Conns table: the table reads
// into In, calls the ConnHandler, and writes what the handler queued when
// the kernel takes it. Its methods are called on the loop's goroutine (in
// callbacks, or while the loop is not running); other goroutines use a
// ConnRef. A Conn is never reused: once closed, its methods return
// ErrClosed or do nothing, and it never stands for a newer connection.
type Conn struct {
	t     *connTable
	sock  Socket // nil while a DialHost resolves
	token Token
	in    Buffer
	out   outQueue
	ctx   any
	err   error // why the Conn must close, once known

	// Timeouts, and the activity they measure, on the loop's clock.
	idle, readTO, writeTO int64
	lastRead, lastWrite   int64
	until                 int64 // the connect or linger deadline; 0: none
	timer                 Timeout
	timerAt               int64 // when timer fires, if it is live

	// held is what the table's statistics count as held for this Conn:
	// its input and output bytes as of the end of its last service.
	held [2]int

	dial  *dialing    // the addresses still to try, while dialing a host name
	flags connFlags   // next to gone: the two share a word
	gone  atomic.Bool // set once closed; read by ConnRefs
}

// connFlags is a Conn's state.
type connFlags uint32

const (
	cOpen       connFlags = 1 << iota // OnOpen was called
	cOpenDue                          // OnOpen is due (Adopt)
	cConnecting                       // a Dial is in progress
	cReadReady                        // the kernel may hold bytes for us
	cHup                              // end of stream or error pending: read to the end
	cPaused                           // PauseRead
	cEOF                              // the peer's end of stream was read
	cBlocked                          // the kernel took no more output; wait for Writable
	cShutWant                         // CloseWrite: send FIN once flushed
	cShutDone                         // FIN sent
	cClosing                          // Close: flush, FIN, discard input to the end
	cDone                             // closed; OnClose called or being called
	cDirty                            // on the table's dirty list
	cBusy                             // being serviced
	cDrainDue                         // output passed HighWater: OnDrain at LowWater
)

// In is the input: the bytes read and not yet consumed. Consume them with
// Next or Discard; leave what is not yet a whole message. It holds at most
// ConnConfig.ReadLimit bytes, and no memory while it is empty.
func (c *Conn) In() *Buffer {
	c.touch() // input consumed outside OnData may let reading resume
	return &c.in
}

// EOF reports whether the peer has finished sending: In holds all there
// will be.
func (c *Conn) EOF() bool { return c.flags&cEOF != 0 }

// Closed reports whether the Conn is closed or closing: it takes no more
// writes.
func (c *Conn) Closed() bool { return c.flags&(cDone|cClosing) != 0 || c.err != nil }

// OutputLen is the number of bytes queued and not yet written to the
// kernel.
func (c *Conn) OutputLen() int { return c.out.len() }

// Backlogged reports whether the output has reached HighWater (or a Write
// was refused) and not yet fallen to LowWater: OnDrain is then due. A
// producer stops feeding the Conn while it is backlogged and resumes at
// OnDrain.
func (c *Conn) Backlogged() bool { return c.flags&cDrainDue != 0 }

// Write queues p for the peer, all of it or nothing. When nothing is
// queued it writes at once and copies only what the kernel did not take;
// otherwise it copies all of p behind what is queued. It fails with
// ErrBufferFull, taking nothing, when p would take the output past
// WriteLimit, with ErrClosed once Close, CloseWrite or Abort was called,
// and with the socket's error when the write fails (the Conn then closes
// with that error).
func (c *Conn) Write(p []byte) (int, error) {
	if err := c.writable(len(p)); err != nil {
		return 0, err
	}
	n := 0
	if c.out.len() == 0 && c.flags&(cBlocked|cConnecting) == 0 && c.sock != nil {
		var err error
		n, err = c.sock.Write(p)
		switch {
		case err == ErrWouldBlock:
			c.flags |= cBlocked
		case err != nil:
			c.fail(err)
			return n, err
		}
		c.progress(n)
	}
	c.queued(len(p) - n)
	c.out.copyIn(p[n:], &c.t.mem)
	if n < len(p) {
		c.t.armTimer(c) // the write timeout runs while output waits
		c.t.account(c, c.in.Len(), c.out.len())
	}
	return len(p), nil
}

// WriteNoCopy queues p itself, behind what is queued, without copying it:
// for bytes that never change (a static response, one message broadcast
// to many Conns). The Conn keeps p until it is written or the Conn is
// closed. Its errors are Write's.
func (c *Conn) WriteNoCopy(p []byte) error {
	if err := c.writable(len(p)); err != nil {
		return err
	}
	c.queued(len(p))
	c.out.lend(p, &c.t.mem)
	c.t.armTimer(c)
	c.t.markDirty(c) // the service writes it, gathered with the rest
	return nil
}

// writable checks that n more bytes may be queued.
func (c *Conn) writable(n int) error {
	switch {
	case c.flags&cDone != 0:
		return errClosed("write")
	case c.err != nil:
		return c.err
	case c.flags&(cClosing|cShutWant) != 0:
		return errClosed("write")
	case n > c.t.cfg.WriteLimit-c.out.len():
		c.flags |= cDrainDue // a refused writer waits for OnDrain
		return ErrBufferFull
	}
	return nil
}

// queued notes n bytes about to join the output: the write timeout runs
// from when output starts waiting, and OnDrain is due past HighWater.
func (c *Conn) queued(n int) {
	if n <= 0 {
		return
	}
	if c.out.len() == 0 && c.writeTO > 0 {
		c.lastWrite = c.t.clock()
	}
	if c.out.len()+n >= c.t.cfg.HighWater {
		c.flags |= cDrainDue
	}
}

// progress notes that n bytes went to the kernel.
func (c *Conn) progress(n int) {
	c.t.counters.st.BytesWritten += uint64(n)
	if n > 0 && c.idle|c.writeTO != 0 {
		c.lastWrite = c.t.clock()
	}
}

// PauseRead stops reading: nothing more is read into In, and OnData is
// not called, until ResumeRead. The kernel's window then stops the peer.
func (c *Conn) PauseRead() { c.flags |= cPaused }

// ResumeRead undoes PauseRead; what arrived meanwhile is read at once.
func (c *Conn) ResumeRead() {
	if c.flags&cPaused == 0 {
		return
	}
	c.flags &^= cPaused
	if c.readTO > 0 {
		c.lastRead = c.t.clock() // the read timeout does not run while paused
	}
	c.t.markDirty(c)
}

// LoopIndex is the index of the Server loop that runs the Conn (0 when
// its table is not a Server's), for state a program keeps per loop.
func (c *Conn) LoopIndex() int { return c.t.index }

// CloseWrite sends the peer an end of stream (FIN) once the output queued
// so far is written; reading goes on, and later Writes fail with
// ErrClosed.
func (c *Conn) CloseWrite() {
	if c.flags&(cDone|cShutWant) != 0 {
		return
	}
	c.flags |= cShutWant
	c.t.markDirty(c)
}

// Close closes the Conn gracefully: OnData is not called again, the
// output queued so far is written, then the peer gets an end of stream
// and what it still sends is read and dropped until it finishes too, so
// that it reads everything before the connection ends (a close with
// unread input would reset it). If that takes longer than Linger the
// Conn is closed anyway: with output still queued it is aborted, so that
// the peer sees a reset rather than an end of stream after a cut-short
// stream, and OnClose gets a timeout error. OnClose follows from the
// loop. Close of a closed Conn does nothing.
func (c *Conn) Close() {
	if c.flags&(cDone|cClosing) != 0 {
		return
	}
	c.flags |= cClosing | cShutWant
	c.until = c.t.clock() + int64(c.t.cfg.Linger)
	c.t.armTimer(c)
	c.t.markDirty(c)
}

// Abort closes the Conn at once, dropping queued output and sending the
// peer a reset (RST) rather than an end of stream. OnClose(c, nil)
// follows from the loop.
func (c *Conn) Abort() {
	if c.flags&cDone != 0 {
		return
	}
	c.fail(errAborted)
}

// errAborted marks an Abort among the reasons to close; OnClose gets nil.
var errAborted = &opError{op: "abort", err: syscall.ECONNABORTED}

// errLinger is a Close whose output was not all written within Linger:
// the socket is reset, and OnClose gets it.
var errLinger = timeoutError("linger")

// fail records why the Conn must close; the service closes it.
func (c *Conn) fail(err error) {
	if c.err == nil {
		c.err = err
	}
	c.t.markDirty(c)
}

// SetIdleTimeout closes the Conn with a timeout error once nothing has
// been read or written for d (0: never). Reading and writing put it off;
// a Conn doing work is never closed by it.
func (c *Conn) SetIdleTimeout(d time.Duration) {
	c.idle = int64(max(d, 0))
	c.stampNow()
}

// SetReadTimeout closes the Conn with a timeout error once no byte has
// arrived for d while reading (0: never). It does not run while reading is
// paused or after the peer's end of stream.
func (c *Conn) SetReadTimeout(d time.Duration) {
	c.readTO = int64(max(d, 0))
	c.stampNow()
}

// SetWriteTimeout closes the Conn with a timeout error once queued output
// has waited d without the kernel taking any of it (0: never): a peer that
// stops reading cannot hold the Conn for ever.
func (c *Conn) SetWriteTimeout(d time.Duration) {
	c.writeTO = int64(max(d, 0))
	c.stampNow()
}

// stampNow restarts the timeouts' clocks after one was changed.
func (c *Conn) stampNow() {
	if c.flags&cDone != 0 {
		return
	}
	now := c.t.clock()
	c.lastRead, c.lastWrite = now, now
	c.t.armTimer(c)
}

// Context returns the value set with SetContext.
func (c *Conn) Context() any { return c.ctx }

// SetContext attaches a value of the handler's choosing to the Conn.
func (c *Conn) SetContext(v any) { c.ctx = v }

// LocalAddr is the address of the Conn's own end.
func (c *Conn) LocalAddr() (SockAddr, error) {
	if c.sock == nil {
		return SockAddr{}, errClosed("getsockname")
	}
	return c.sock.LocalAddr()
}

// RemoteAddr is the address of the peer.
func (c *Conn) RemoteAddr() (SockAddr, error) {
	if c.sock == nil {
		return SockAddr{}, errClosed("getpeername")
	}
	return c.sock.PeerAddr()
}

// Socket is the Conn's socket, for options the Conn does not set (nil
// while DialHost resolves). Reading, writing or closing it directly
// breaks the Conn.
func (c *Conn) Socket() Socket { return c.sock }

// Ref is a handle on c that other goroutines may keep and use.
func (c *Conn) Ref() ConnRef { return ConnRef{c: c} }

// touch marks a Conn that is not being serviced for a look at the end of
// the iteration: its input may have been consumed from elsewhere.
func (c *Conn) touch() {
	if c.flags&(cBusy|cDirty|cDone) == 0 && c.flags&(cReadReady|cEOF) != 0 {
		c.t.markDirty(c)
	}
}

// timeoutError is a Conn closed by one of its deadlines.
func timeoutError(what string) error {
	return &opError{op: what, err: os.ErrDeadlineExceeded}
}

// reading reports whether the read timeout runs: reading is on and the
// peer may still send.
func (c *Conn) reading() bool {
	return c.flags&(cPaused|cEOF|cDone|cConnecting|cClosing) == 0
}

// deadline is when the Conn's next timeout falls due, on the loop's
// clock; math.MaxInt64 when none runs.
func (c *Conn) deadline() int64 {
	at := int64(math.MaxInt64)
	if c.until != 0 {
		at = c.until
	}
	if c.flags&cConnecting != 0 {
		return at
	}
	if c.idle > 0 {
		at = min(at, max(c.lastRead, c.lastWrite)+c.idle)
	}
	if c.readTO > 0 && c.reading() {
		at = min(at, c.lastRead+c.readTO)
	}
	if c.writeTO > 0 && c.out.len() > 0 {
		at = min(at, c.lastWrite+c.writeTO)
	}
	return at
}

// expired says what a timer firing at now finds: the timeout error to
// close with, or clean when a Close's linger ran out with everything
// flushed.
func (c *Conn) expired(now int64) (err error, clean bool) {
	switch {
	case c.until != 0 && now >= c.until && c.flags&cConnecting != 0:
		return timeoutError("connect"), false
	case c.until != 0 && now >= c.until && c.out.len() > 0:
		return errLinger, false
	case c.until != 0 && now >= c.until:
		return nil, true
	case c.flags&cConnecting != 0:
		return nil, false
	case c.idle > 0 && now >= max(c.lastRead, c.lastWrite)+c.idle:
		return timeoutError("idle timeout"), false
	case c.readTO > 0 && c.reading() && now >= c.lastRead+c.readTO:
		return timeoutError("read timeout"), false
	case c.writeTO > 0 && c.out.len() > 0 && now >= c.lastWrite+c.writeTO:
		return timeoutError("write timeout"), false
	}
	return nil, false
}
