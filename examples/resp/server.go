package main

import (
	"errors"
	"fmt"
	"log"
	"math"
	"os"
	"sync/atomic"
	"time"

	"github.com/miogo/mio"
	"github.com/miogo/mio/examples/internal/serve"
)

// Defaults of the command-line flags and other settings.
const (
	defaultAddr = "127.0.0.1:6380"
	// defaultOutHigh is the output high-water mark, the -outbuf default;
	// the low-water mark is a quarter of it.
	defaultOutHigh = 256 << 10
	// defaultMaxQuery bounds a connection's input buffer, so the longest
	// request: 1 GiB, as Redis's client-query-buffer-limit.
	defaultMaxQuery = 1 << 30
)

// A connection closed by the server (a protocol error, QUIT) is closed
// with mio.Conn.Close: its last replies are written, its sending side is
// shut down, so the client reads them and then the end of the stream, and
// what the client still sends is read and dropped until the client closes
// too, all within lingerTime (mio.ConnConfig.Linger). Closing a socket
// with unread input at once would send a reset, which may make the
// client's system drop the last reply before the client has read it.
const lingerTime = time.Second

// minQuery is the least query limit a config may set.
const minQuery = 16 << 10

// defaultGrace is how long a stop waits for the connections to end (each
// once the requests it sent are answered) before it closes them.
const defaultGrace = 5 * time.Second

// config is what a server is built from.
type config struct {
	addr     string        // any form mio.ParseSockAddr reads
	loops    int           // event loops; 0 takes one
	maxBulk  int           // the longest bulk string a request may hold
	maxQuery int           // the longest request, all of it
	outHigh  int           // output high-water mark; 0 takes the default
	outLow   int           // output low-water mark; 0 takes a quarter of outHigh
	verbose  bool          // log unknown commands
	grace    time.Duration // how long a stop waits; 0 takes defaultGrace
	log      *log.Logger
}

// withDefaults fills cfg's zero fields and checks it.
func (cfg config) withDefaults() (config, error) {
	if cfg.loops == 0 {
		cfg.loops = 1
	}
	if cfg.maxBulk == 0 {
		cfg.maxBulk = defaultMaxBulk
	}
	if cfg.maxQuery == 0 {
		cfg.maxQuery = defaultMaxQuery
	}
	if cfg.outHigh == 0 {
		cfg.outHigh = defaultOutHigh
	}
	if cfg.outLow == 0 {
		cfg.outLow = cfg.outHigh / 4
	}
	if cfg.grace == 0 {
		cfg.grace = defaultGrace
	}
	if cfg.log == nil {
		cfg.log = log.New(os.Stderr, "resp: ", log.LstdFlags)
	}
	switch {
	case cfg.loops < 1:
		return cfg, fmt.Errorf("-loops %d: need at least one loop", cfg.loops)
	case cfg.maxBulk < 1 || cfg.maxBulk > defaultMaxBulk:
		return cfg, fmt.Errorf("-maxbulk %d: want 1 to %d", cfg.maxBulk, defaultMaxBulk)
	case cfg.maxQuery < minQuery:
		return cfg, fmt.Errorf("query limit %d: want at least %d", cfg.maxQuery, minQuery)
	case cfg.outHigh < 1 || cfg.outLow < 0 || cfg.outLow >= cfg.outHigh:
		return cfg, fmt.Errorf("-outbuf %d (low-water mark %d): want 0 <= low < high", cfg.outHigh, cfg.outLow)
	}
	return cfg, nil
}

// server is a mio.Server serving one keyspace, the store, which all of
// its loops share. The server is the ConnHandler of every loop, each
// calling it on its own goroutine: its fields are settings, read only,
// but for the store (under its lock) and the CLIENT IDs (atomic). Each
// loop's own Handler (loopHandler) serves the keys' expiry timeouts it
// set and runs the functions do sends it.
type server struct {
	srv   *mio.Server[func()]
	addr  mio.SockAddr // the address bound, with the port the kernel chose
	db    *store
	grace time.Duration

	maxBulk, maxQuery int
	outHigh           int
	verbose           bool
	log               *log.Logger

	ids    atomic.Int64 // CLIENT IDs handed out
	opened func(*conn)  // tests: told of each new connection, on its loop
}

// newServer makes the Server and listens: connections queue from then on,
// and run serves them. On error nothing is left open.
func newServer(cfg config) (*server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	addr, err := mio.ParseSockAddr(cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("-addr: %w", err)
	}
	s := &server{
		grace: cfg.grace, maxBulk: cfg.maxBulk, maxQuery: cfg.maxQuery, outHigh: cfg.outHigh,
		verbose: cfg.verbose, log: cfg.log,
	}
	scfg := mio.ServerConfig{Loops: cfg.loops, OnShutdown: s.onShutdown, Conn: mio.ConnConfig{
		// The input holds one request at most, and a reply may pass the
		// high-water mark by its own size: WriteLimit is the layer's most
		// (2 GiB), so the Conn refuses no Write a reply makes.
		ReadLimit: cfg.maxQuery, WriteLimit: math.MaxInt32,
		HighWater: cfg.outHigh, LowWater: cfg.outLow, Linger: lingerTime,
	}}
	other := func(int) mio.Handler[func()] { return loopHandler{s: s} }
	if s.srv, err = mio.NewServer[func()](scfg, s, other); err != nil {
		return nil, err
	}
	s.db = newStore(s.loops()...)
	if s.addr, err = s.srv.Listen(addr); err != nil {
		s.srv.Close()
		return nil, fmt.Errorf("listen on %v: %w", addr, err)
	}
	return s, nil
}

// loops is the Server's loops, by index.
func (s *server) loops() []*mio.EventLoop[func()] {
	var ls []*mio.EventLoop[func()]
	for i := range s.srv.Loops() {
		ls = append(ls, s.srv.Loop(i))
	}
	return ls
}

// run serves until stop; a stop that came first makes it return nil at
// once. It returns once every loop has stopped and every connection is
// closed.
func (s *server) run() error { return serve.Serve(s.srv) }

// stop stops accepting at once and ends each connection once the requests
// it has sent are answered; those still open after the grace are closed.
// run returns then. It is safe from any goroutine, before run too.
func (s *server) stop() { serve.Shutdown(s.srv, s.grace, s.log) }

// do runs f on loop i's goroutine, between callbacks.
func (s *server) do(i int, f func()) error { return s.srv.Loop(i).Channel().Send(f) }

// loopHandler is a loop's Handler for what is not the Conns': the expiry
// timeouts the loop set, and the functions sent by do.
type loopHandler struct {
	mio.NopHandler[func()]
	s *server
}

// Notify runs a function sent by do.
func (h loopHandler) Notify(_ *mio.EventLoop[func()], f func()) { f() }

// Timeout expires a key.
func (h loopHandler) Timeout(_ *mio.EventLoop[func()], tok mio.Token) {
	if tok&expiryTokens != 0 {
		db := h.s.db
		db.mu.Lock()
		db.expired(tok)
		db.mu.Unlock()
	}
}

// OnOpen gives a new connection its parser.
func (s *server) OnOpen(mc *mio.Conn) {
	c := newConn(mc, s.ids.Add(1), mc.LoopIndex(), s.maxBulk, s.outHigh)
	mc.SetContext(c)
	if s.opened != nil {
		s.opened(c)
	}
}

// OnData runs the complete requests that came.
func (s *server) OnData(mc *mio.Conn) { s.process(mc.Context().(*conn)) }

// OnDrain goes on with a connection that paused over the high-water mark.
func (s *server) OnDrain(mc *mio.Conn) {
	if c := mc.Context().(*conn); c.paused {
		c.paused = false
		mc.ResumeRead()
		s.process(c)
	}
}

// OnClose logs a connection that ended in an error worth telling; a peer
// resetting or vanishing, a linger running out and the loop closing are
// routine.
func (s *server) OnClose(mc *mio.Conn, err error) {
	if err != nil && !errors.Is(err, mio.ErrClosed) && !errors.Is(err, os.ErrDeadlineExceeded) && !serve.Routine(err) {
		s.log.Printf("connection %d: %v", mc.Context().(*conn).id, err)
	}
}

// onShutdown ends c once it has the replies to the requests it sent: the
// complete ones in its input now, which it runs unless it is paused over
// the high-water mark, when OnDrain goes on with them.
func (s *server) onShutdown(mc *mio.Conn) {
	c := mc.Context().(*conn)
	c.ending = true
	if !c.paused {
		s.process(c)
	}
}

// process runs the complete requests in c's input, until the output is
// over the high-water mark or the input is malformed, hands the replies
// to the Conn, and consumes what was parsed. A request cut short by the
// client's end of stream is dropped, so that the Conn closes itself.
func (s *server) process(c *conn) {
	in := c.mc.In()
	p := &c.in
	p.buf, p.start, p.end = in.Bytes(), 0, in.Len()
	for !c.closing {
		if c.pending() >= s.outHigh {
			c.send()
			if c.mc.Backlogged() {
				c.paused = true
				c.mc.PauseRead()
				break
			}
		}
		st, msg := p.next()
		if st == parsedNone {
			if p.end-p.start >= s.maxQuery {
				c.err("ERR Protocol error: request longer than the query buffer limit")
				c.closing = true
			}
			break
		}
		if st == parsedError {
			c.err("ERR " + msg)
			c.closing = true
			break
		}
		s.db.mu.Lock()
		s.exec(c, p.argv)
		s.db.mu.Unlock()
	}
	c.send()
	in.Discard(p.start)
	clear(p.argv) // the arguments point into the Conn's input
	p.argv, p.buf = p.argv[:0], nil
	switch {
	case c.closing, c.ending && !c.paused:
		c.mc.Close()
	case c.mc.EOF() && !c.paused:
		in.Discard(in.Len())
		p.consume(0)
	}
}
