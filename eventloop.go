package mio

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Evented is anything with a file descriptor the kernel can poll: the
// library's sockets and pipes, and RawFd for any other fd.
type Evented interface {
	Fd() int
}

// Config tunes an EventLoop. The zero value is ready to use: each zero field
// takes the default named in its comment.
type Config struct {
	// EventCapacity is how many ready fds one poll fetches (default 1024).
	// More ready fds than this are served over the next iterations; the
	// kernel rotates its ready list, so none starves.
	EventCapacity int
	// NotifyCapacity bounds the Sender's queue (default 4096); Send returns
	// ErrNotifyFull beyond it.
	NotifyCapacity int
	// MessagesPerTick is the most messages delivered to Notify in one
	// iteration (default 256), so a busy sender cannot starve I/O.
	MessagesPerTick int
}

const (
	defaultEventCapacity   = 1024
	defaultNotifyCapacity  = 4096
	defaultMessagesPerTick = 256
)

// withDefaults validates c and fills its zero fields.
func (c Config) withDefaults() (Config, error) {
	if c.EventCapacity < 0 || c.NotifyCapacity < 0 || c.MessagesPerTick < 0 {
		return c, fmt.Errorf("mio: negative value in Config %+v: %w", c, syscall.EINVAL)
	}
	if c.EventCapacity == 0 {
		c.EventCapacity = defaultEventCapacity
	}
	if c.NotifyCapacity == 0 {
		c.NotifyCapacity = defaultNotifyCapacity
	}
	if c.MessagesPerTick == 0 {
		c.MessagesPerTick = defaultMessagesPerTick
	}
	return c, nil
}

// EventLoop waits for readiness on registered fds, for timeouts and for
// messages from other goroutines, and calls a Handler for each, all on the
// goroutine that runs it. M is the type of the messages.
//
// Register, Reregister, Deregister and the socket methods that use the loop
// must be called from that goroutine (from inside callbacks) or while no Run
// or RunOnce is in progress. Shutdown, Close and the Sender are safe from any
// goroutine.
type EventLoop[M any] struct {
	cfg    Config
	poller *poller
	reg    registry
	events []event
	base   time.Time // zero of the loop's monotonic clock, see now
	timers timerQueue
	// fireMark and fireNow are the timer queue's mark and the clock at
	// the start of the iteration in progress: fireTimers fires the
	// timeouts set before fireMark that were due at fireNow.
	fireMark uint64
	fireNow  int64
	notify   *notifyQueue[M]
	sender   *Sender[M]
	// timeout is the caller's timeout of the poll in progress, and
	// sleepFor (bound once, so polling allocates nothing) how long that
	// poll may sleep: pollTimeout(timeout).
	timeout  time.Duration
	sleepFor func() time.Duration

	// injected holds events the loop makes itself (a retried connect that
	// failed), delivered after the next poll; spare is its double buffer.
	injected, spare []event
	retries         []pendingConnect

	stopping atomic.Bool
	running  atomic.Bool // written only under stateMu; read freely
	// closing is set by Close before anything else it does. The loop
	// checks it before every callback, so a Close made inside a callback or
	// from another goroutine ends delivery at once: the rest of the batch,
	// the due timeouts and the queued messages are dropped (see Close).
	closing atomic.Bool

	// stateMu orders the loop's life cycle across goroutines: Run and
	// RunOnce starting and ending, Close, and wake-ups, so that a Close
	// racing a starting Run never frees what Run is about to use, and no
	// wake-up is written to a closed fd number that may have been reused.
	stateMu sync.RWMutex
	closed  bool
	// closeAtExit is set by a Close that found the loop running; the Run
	// or RunOnce in progress releases the loop as it returns.
	closeAtExit bool
	// atRelease runs as the loop is released, after the poller is closed:
	// a Conns table closes its connections there.
	atRelease []func()

	counters loopCounters // see stats.go
}

// NewEventLoop opens the platform's poller (epoll or kqueue) and a wake-up
// fd, both close-on-exec. On other systems it returns ErrUnsupported.
func NewEventLoop[M any](cfg Config) (*EventLoop[M], error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p, err := newPoller(cfg.EventCapacity)
	if err != nil {
		return nil, err
	}
	l := &EventLoop[M]{
		cfg:    cfg,
		poller: p,
		events: make([]event, cfg.EventCapacity),
		base:   time.Now(),
		notify: newNotifyQueue[M](cfg.NotifyCapacity),
	}
	l.sender = &Sender[M]{q: l.notify, wake: l.wake}
	l.counters.last = -1
	l.sleepFor = func() time.Duration { return l.pollTimeout(l.timeout) }
	return l, nil
}

// Run calls RunOnce with no timeout until Shutdown is called, then returns
// nil. A Shutdown made while no Run was in progress makes the next Run return
// at once. An error from the poller ends Run and is returned.
func (l *EventLoop[M]) Run(h Handler[M]) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.exit()
	// The Ticker is looked up once: a type assertion to an interface on
	// every iteration costs a search of the runtime's itab table.
	t, _ := h.(Ticker[M])
	for !l.stopping.Load() {
		if err := l.iterate(h, t, -1); err != nil {
			return err
		}
	}
	return nil
}

// RunOnce runs one iteration: it waits up to timeout for events (a negative
// timeout waits until one comes, zero does not wait) and dispatches all that
// arrived. It returns early when Shutdown is called from another goroutine.
func (l *EventLoop[M]) RunOnce(h Handler[M], timeout time.Duration) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.exit()
	t, _ := h.(Ticker[M])
	return l.iterate(h, t, timeout)
}

func (l *EventLoop[M]) enter() error {
	l.stateMu.Lock()
	defer l.stateMu.Unlock()
	switch {
	case l.closed || l.closeAtExit:
		return errClosed("run")
	case l.running.Load():
		return &opError{op: "run", err: ErrRunning}
	}
	l.running.Store(true)
	return nil
}

// exit ends a Run or RunOnce: it consumes a Shutdown, and performs a Close
// that was asked for while the loop was running.
func (l *EventLoop[M]) exit() {
	l.stopping.Store(false)
	l.stateMu.Lock()
	l.running.Store(false)
	release := l.closeAtExit
	l.closeAtExit = false
	l.closed = l.closed || release
	l.stateMu.Unlock()
	if release {
		l.release()
	}
}

// Shutdown makes Run return after the current iteration. It is safe from
// callbacks and from any goroutine, and wakes a loop sleeping in the poller.
func (l *EventLoop[M]) Shutdown() {
	l.stopping.Store(true)
	l.wake()
}

// IsRunning reports whether Run or RunOnce is in progress.
func (l *EventLoop[M]) IsRunning() bool { return l.running.Load() }

// Close releases the poller and every fd the loop created. Registered fds
// stay open; they belong to the caller. Called while the loop runs (from a
// callback or another goroutine), it shuts the loop down and the release
// happens as Run returns. A second Close returns ErrClosed.
//
// Close ends delivery: once it has been called, the loop starts no further
// callback of any kind. The events of the batch in hand, the timeouts due
// and the messages still queued are dropped, never delivered, and Send
// fails with ErrClosed. Close does not wait for a callback that is already
// running on the loop's goroutine, since that callback may be the caller
// itself; Run returns as soon as it does, so a goroutine that must know
// that no callback runs any more waits for Run to return.
func (l *EventLoop[M]) Close() error {
	l.closing.Store(true) // before the checks below: even a second Close stops delivery
	l.notify.close()      // Sends fail from now on, also while Run winds down
	l.stateMu.Lock()
	if l.closed || l.closeAtExit {
		l.stateMu.Unlock()
		return errClosed("close")
	}
	if l.running.Load() {
		l.closeAtExit = true
		l.stopping.Store(true)
		l.poller.wake() // still open: only exit releases it now
		l.stateMu.Unlock()
		return nil
	}
	l.closed = true
	l.stateMu.Unlock()
	return l.release()
}

func (l *EventLoop[M]) isClosed() bool {
	l.stateMu.RLock()
	defer l.stateMu.RUnlock()
	return l.closed
}

// release frees what the loop holds. The caller has marked the loop closed,
// so nothing else uses the poller any more.
func (l *EventLoop[M]) release() error {
	// Handles registered here must not call back into a closed loop.
	l.reg.forEachHandle(func(h *fdHandle) { h.owner = nil })
	l.reg = registry{}
	l.timers = timerQueue{}
	l.notify.close()
	l.notify.discard()
	l.retries, l.injected, l.spare = nil, nil, nil
	err := wrapSyscall("close poller", l.poller.close())
	hooks := l.atRelease
	l.atRelease = nil
	for _, f := range hooks {
		f()
	}
	return err
}

// onRelease adds f to what runs as the loop is released.
func (l *EventLoop[M]) onRelease(f func()) { l.atRelease = append(l.atRelease, f) }

// wake interrupts the poller's sleep, unless the loop is closed.
func (l *EventLoop[M]) wake() error {
	l.stateMu.RLock()
	defer l.stateMu.RUnlock()
	if l.closed {
		return errClosed("wake")
	}
	return wrapSyscall("wake", l.poller.wake())
}

// now is the loop's monotonic clock in nanoseconds; time.Since reads the
// monotonic reading of base, so wall-clock steps never move a deadline.
func (l *EventLoop[M]) now() int64 { return int64(time.Since(l.base)) }

// iterate is one turn of the loop: poll, dispatch I/O, fire the timeouts
// that were due, and tick (t is h as a Ticker, or nil).
func (l *EventLoop[M]) iterate(h Handler[M], t Ticker[M], timeout time.Duration) error {
	n, err := l.poll(timeout)
	if err != nil {
		return wrapSyscall("poll", err)
	}
	evs := l.events[:n]
	if !pollerCarriesGen {
		l.reg.stampGens(evs)
	}
	defer l.counters.publish()
	l.counters.st.Iterations++
	start := l.markTimers(n > 1)
	for i := range evs {
		if l.closing.Load() {
			return nil
		}
		if i == n-1 {
			l.counters.lag(l.lagOf(start, n))
		}
		l.dispatch(h, evs[i])
	}
	l.dispatchInjected(h)
	l.retryConnects()
	l.fireTimers(h)
	l.deliverMessages(h)
	if t != nil && !l.closing.Load() {
		t.Tick(l)
	}
	return nil
}

// lagOf is the loop lag of a batch of n events whose last is about to be
// dispatched, the clock having read start as the poll returned; a single
// event waited for nothing, and costs no reading of the clock.
func (l *EventLoop[M]) lagOf(start int64, n int) int64 {
	if n < 2 {
		return 0
	}
	return l.now() - start
}

// poll fetches the next batch of events. The poller first looks without
// blocking (under load there usually are events, and a poll that cannot
// block is the cheaper system call); only when that finds nothing does it
// ask sleepFor how long it may sleep, so the loop's own reasons not to
// sleep (a due timeout, a queued message) are weighed after the look.
func (l *EventLoop[M]) poll(timeout time.Duration) (int, error) {
	l.timeout = timeout
	return l.poller.poll(l.events, l.sleepFor)
}

// pollTimeout shortens the caller's timeout to the next thing the loop
// itself must do: fire a timeout, retry a connect, deliver an injected
// event or a message, or stop.
func (l *EventLoop[M]) pollTimeout(timeout time.Duration) time.Duration {
	if l.stopping.Load() || len(l.injected) > 0 {
		return 0
	}
	if next, ok := l.nextDeadline(); ok {
		wait := untilDeadline(next, l.now())
		if timeout < 0 || wait < timeout {
			timeout = wait
		}
	}
	if timeout != 0 && l.mustNotSleep() {
		return 0
	}
	return timeout
}

// untilDeadline is how long from now until deadline, zero when it has
// passed. It saturates: the subtraction of two clock readings far apart
// must not wrap into a sleep of centuries, or into a negative wait.
func untilDeadline(deadline, now int64) time.Duration {
	if deadline <= now {
		return 0
	}
	if d := deadline - now; d > 0 {
		return time.Duration(d)
	}
	return math.MaxInt64
}

// nextDeadline is the earliest of the next timeout and the next connect
// retry, on the loop's clock.
func (l *EventLoop[M]) nextDeadline() (int64, bool) {
	next, ok := l.timers.next()
	if r, rok := l.nextRetry(); rok && (!ok || r < next) {
		return r, true
	}
	return next, ok
}

// dispatchInjected delivers the loop's own events. Callbacks may inject
// more; those wait for the next iteration.
func (l *EventLoop[M]) dispatchInjected(h Handler[M]) {
	if len(l.injected) == 0 {
		return
	}
	batch := l.injected
	l.injected = l.spare[:0]
	for i := range batch {
		if l.closing.Load() {
			break
		}
		l.dispatch(h, batch[i])
	}
	l.spare = batch[:0]
}

// dispatch delivers one event: Readable first, then Writable, each only
// while the registration the event was fetched for is still the current one.
func (l *EventLoop[M]) dispatch(h Handler[M], ev event) {
	s := l.reg.current(ev.fd, ev.gen)
	if s == nil {
		return
	}
	token, interest := s.token, s.interest
	if s.opt&Oneshot != 0 {
		s.armed = false
	}
	l.counters.st.Events++
	if hint := ev.ready.hintFor(interest); hint != 0 {
		h.Readable(l, token, hint)
		// The callback may have closed, deregistered or re-registered the
		// fd; its Writable half then belongs to no one.
		if l.closing.Load() || l.reg.lookup(int(ev.fd)) == nil || l.reg.slots[ev.fd].gen != ev.gen {
			return
		}
	}
	if ev.ready.wantsWritable(interest) {
		h.Writable(l, token)
	}
}

// validate rejects interests and options the pollers cannot express.
func validate(op string, fd int, in Interest, opt PollOpt) error {
	switch {
	case fd < 0:
		return errClosed(op)
	case in == 0 || in&^(Readable|Writable) != 0:
		return refuse(op, fdName(fd), fmt.Sprintf("interest %#x must be Readable, Writable or both", in), syscall.EINVAL)
	case opt&^(Edge|Oneshot) != 0:
		return refuse(op, fdName(fd), fmt.Sprintf("unknown poll options %#x", opt), syscall.EINVAL)
	}
	return nil
}

// Register asks the loop to watch io's fd for the given interest and to
// report it with token. Registering an fd this loop already watches returns
// ErrRegistered; use Reregister to change it.
//
// One of the library's own fd types (a socket, a pipe end, a RawFd) is
// registered with one loop at a time: registering it with a second loop
// also returns ErrRegistered, since its Close drops the registration from
// the one loop it knows. Deregister it from the first loop to move it. An
// Evented of another type is the caller's to keep to one loop.
func (l *EventLoop[M]) Register(io Evented, token Token, in Interest, opt PollOpt) error {
	if err := l.checkNew("register", io, in, opt); err != nil {
		return err
	}
	return l.register(io, token, in, opt, false)
}

// checkNew validates the arguments of a new registration.
func (l *EventLoop[M]) checkNew(op string, io Evented, in Interest, opt PollOpt) error {
	fd := io.Fd()
	if err := validate(op, fd, in, opt); err != nil {
		return err
	}
	if l.isClosed() {
		return errClosed(op)
	}
	if l.reg.lookup(fd) != nil {
		return fdErr(op, fd, ErrRegistered)
	}
	if x, ok := io.(handled); ok && x.handle().owner != nil {
		// A library fd remembers one loop, the one its Close tells; a
		// second loop would keep a dead entry for the fd number after
		// Close and refuse the next fd that gets it.
		return refuse(op, fdName(fd), "registered with another event loop", ErrRegistered)
	}
	return nil
}

// register records a registration and, unless it is deferred (a connect
// waiting to be retried), hands it to the kernel.
func (l *EventLoop[M]) register(io Evented, token Token, in Interest, opt PollOpt, deferred bool) error {
	fd := io.Fd()
	gen := l.reg.nextGen()
	if !deferred {
		if err := l.poller.add(fd, gen, in, opt); err != nil {
			return fdErr("register", fd, err)
		}
	}
	var hd *fdHandle
	if x, ok := io.(handled); ok {
		hd = x.handle()
		hd.owner = l
	}
	*l.reg.slot(fd) = registration{token: token, gen: gen, interest: in, opt: opt,
		active: true, armed: true, deferred: deferred, handle: hd}
	return nil
}

// Reregister replaces the token, interest and options of a registered fd
// and re-arms a Oneshot registration. Events fetched before it, and not yet
// delivered, are dropped.
func (l *EventLoop[M]) Reregister(io Evented, token Token, in Interest, opt PollOpt) error {
	fd := io.Fd()
	if err := validate("reregister", fd, in, opt); err != nil {
		return err
	}
	if l.isClosed() {
		return errClosed("reregister")
	}
	s := l.reg.lookup(fd)
	if s == nil {
		return fdErr("reregister", fd, ErrNotRegistered)
	}
	gen := l.reg.nextGen()
	if !s.deferred {
		if err := l.poller.modify(fd, gen, s.interest, in, opt); err != nil {
			return fdErr("reregister", fd, err)
		}
	}
	s.token, s.gen, s.interest, s.opt, s.armed = token, gen, in, opt, true
	return nil
}

// Deregister stops watching io's fd. Events fetched before it, and not yet
// delivered, are dropped. It succeeds also when the fd was already closed,
// since closing removes it from the kernel's interest list.
func (l *EventLoop[M]) Deregister(io Evented) error {
	fd := io.Fd()
	if fd < 0 {
		return errClosed("deregister")
	}
	if l.isClosed() {
		return errClosed("deregister")
	}
	s := l.reg.lookup(fd)
	if s == nil {
		return fdErr("deregister", fd, ErrNotRegistered)
	}
	err := l.unregister(fd, s)
	if err == nil || isGone(err) {
		return nil
	}
	return fdErr("deregister", fd, err)
}

// unregister drops fd's registration from the kernel and the table.
func (l *EventLoop[M]) unregister(fd int, s *registration) error {
	var err error
	if !s.deferred {
		err = l.poller.remove(fd, s.interest)
	}
	if s.handle != nil {
		s.handle.owner = nil
	}
	*s = registration{}
	return err
}

// forget is called by a library fd type's Close, before the fd is closed.
func (l *EventLoop[M]) forget(fd int) {
	if s := l.reg.lookup(fd); s != nil && !l.isClosed() {
		l.unregister(fd, s)
	}
}

// fdName is how an error names the fd it is about.
func fdName(fd int) string { return "fd " + strconv.Itoa(fd) }

// fdErr is op on fd failing with err.
func fdErr(op string, fd int, err error) error {
	return &opError{op: op, addr: fdName(fd), err: err}
}

// isGone reports whether a deregistration failed only because the kernel
// had already dropped the fd (it was closed).
func isGone(err error) bool {
	return errors.Is(err, syscall.EBADF) || errors.Is(err, syscall.ENOENT)
}
