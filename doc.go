// Package mio is a low-level event loop for Go, after the early (2014) Rust
// mio: one goroutine waits for readiness on file descriptors, for timeouts
// and for messages from other goroutines, and calls a Handler for each. It
// is for servers, proxies and protocol engines that need what Go's net
// package hides: control of the file descriptors, readiness callbacks
// instead of a goroutine per connection, memory per connection that the
// program decides, and no allocation on the hot path. If a goroutine per
// connection suits you, use net.
//
// # The model
//
// An EventLoop owns a poller: epoll on Linux, kqueue on macOS and the BSDs.
// A program registers file descriptors with it (the library's sockets and
// pipes, or any fd through RawFd), each with a Token of its own choosing,
// an Interest (Readable, Writable or both) and a PollOpt. Run then repeats
// one iteration until Shutdown: it polls, calls the Handler's Readable and
// Writable for each ready registration, with its token, then Timeout for
// the timeouts set with EventLoop.Timeout that are due, then Notify for the
// messages other goroutines sent through EventLoop.Channel, and last Tick
// if the handler has it. Every callback runs on the goroutine that called
// Run, one at a time, so the handler's state needs no locks; embed
// NopHandler to write only the callbacks you need.
//
// The sockets never block. A read or write that cannot proceed returns
// ErrWouldBlock (EAGAIN itself, so it costs no allocation); wait for the
// next Readable or Writable and try again. Connect and Listen start a
// connection or a listener on the loop and register it in one step: the
// handler's Writable reports a connect's outcome, always, even when
// connect(2) finished at once, and Readable reports pending connections.
// Bind and ListenConfig pick TCP or Unix from an address, and
// NewSocketFor opens the socket to connect to one.
//
// # Level, Edge or Oneshot
//
// Level (the zero PollOpt) reports a registration on every poll while it is
// ready: a handler may read a little at a time, and what it leaves is
// reported again. It is the forgiving choice, and the right one for a
// handler that bounds its work per callback.
//
// Edge reports a registration once each time it becomes ready. The handler
// must then read (or accept, or write) until ErrWouldBlock, or it will not
// hear of what is left. It saves a poll's work per event under load, and it
// is what Connect and Listen use.
//
// Oneshot, alone or with Edge, silences a registration after one event
// until Reregister arms it again: a handler that hands a connection to
// other work, and must not hear of it meanwhile, re-arms it when it is done.
//
// # What the loop promises
//
//   - No stale events: once a callback deregisters, re-registers or closes
//     (through the library's Close) an fd, no event fetched earlier in the
//     same poll reaches it, even if its fd number is reused at once.
//   - Readable comes before Writable for one event, and Writable not at all
//     if Readable closed or deregistered the fd.
//   - Errors are never silent: an error comes as Readable with ErrorHint
//     even to a registration that did not ask to read, and as Writable to
//     one with write interest. HupHint means end of stream and comes to a
//     registration that reads; a write-only one learns that the connection
//     can take no more from Writable, whose write then fails. The same
//     holds on epoll and kqueue.
//   - A library fd is registered with one loop at a time; a second loop's
//     Register returns ErrRegistered.
//   - Timeouts are never early, fire in the order they were set when due
//     together, and a timeout set from a callback fires in a later
//     iteration, so a timer that re-arms itself cannot starve the rest.
//   - Messages never block the sender: Send returns ErrNotifyFull when the
//     bounded queue is full, and at most Config.MessagesPerTick are
//     delivered per iteration, so a busy sender cannot starve I/O.
//   - Close ends delivery: once it has been called, from a callback or from
//     another goroutine, no further callback starts, and queued messages
//     are dropped. It does not wait for a callback already running, which
//     may be its caller; Run returns as soon as that callback does.
//   - OS errors are wrapped once, naming the operation, and errors.Is finds
//     the errno; ErrClosed is net.ErrClosed. Nothing panics on an OS error.
//   - Steady state allocates nothing: polling, dispatch, reads, writes,
//     timeouts and messages.
//
// Register, Reregister, Deregister, Timeout and the sockets are used from
// the loop's goroutine (inside callbacks) or while the loop is not running.
// Shutdown, Close and Sender.Send are safe from any goroutine.
//
// # Buffered connections
//
// Most programs want connections, not readiness. A Conns table is a
// Handler that does the plumbing every server on a reactor needs: it
// accepts (Listen), adopts sockets (Adopt) and dials (Dial, DialHost), and
// drives each connection as a Conn for a ConnHandler, whose OnOpen,
// OnData, OnDrain and OnClose run on the loop. A Conn reads into a bounded
// input Buffer (In), which the handler consumes as whole messages arrive,
// and Write sends at once when it can and queues the rest, up to a bound
// past which it fails with ErrBufferFull; OnDrain says when a backlog has
// gone. Close flushes before it sends the FIN and ends within a linger
// deadline; idle, read and write timeouts run on the loop's timers; other
// goroutines write and close through a ConnRef. Tokens with ConnsToken set
// are the table's; every other token and every message still reaches the
// Handler given to NewConns, so raw registrations share the loop.
//
// The table keeps these promises: memory per Conn is bounded in both
// directions, and an idle Conn holds no buffer; nothing the peer sent
// before its end of stream or reset is lost, nor anything queued before a
// Close; OnClose comes exactly once per Conn, on every path, and a closed
// Conn never stands for a newer connection; the steady state allocates
// nothing.
//
// # Serving on every core
//
// A Server runs several loops, one goroutine and one Conns table each, for
// one ConnHandler. Listen spreads a listener's connections by its Balance:
// where the kernel balances reuse-port listeners (ReusePortBalances) each
// loop accepts its own share; elsewhere, for Unix sockets, or when asked,
// one loop accepts and hands each socket to a loop (round-robin, fewest
// connections, or a hash of the client's address) through that loop's
// queue, registered only by the loop that serves it. Shutdown stops
// accepting without resetting what was queued, waits for the Conns to
// finish, and closes the rest when its context ends; Close stops at once.
// Stats (and EventLoop.Stats, Conns.Stats) are snapshots of counters the
// loops publish once per iteration: taking one allocates nothing, and the
// values marshal as JSON for expvar.
//
// # Systems
//
// The loop runs on Linux (epoll), macOS, FreeBSD, NetBSD, OpenBSD and
// DragonFly (kqueue). Elsewhere the package builds, and NewEventLoop
// returns ErrUnsupported. The README tells where the systems differ and how
// the library makes them agree.
package mio
