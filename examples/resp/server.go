package main

import (
	"errors"
	"fmt"
	"log"
	"math"
	"os"
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

// acceptorToken names the acceptor's registration and the timeout that
// resumes accepting after an error (serve.Listener). The connections'
// tokens are the Conns table's own (mio.ConnsToken), so they never meet
// it or the expiry timeouts (expiryTokens).
const acceptorToken mio.Token = 0

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

// config is what a server is built from.
type config struct {
	addr     string // any form mio.ParseSockAddr reads
	maxBulk  int    // the longest bulk string a request may hold
	maxQuery int    // the longest request, all of it
	outHigh  int    // output high-water mark; 0 takes the default
	outLow   int    // output low-water mark; 0 takes a quarter of outHigh
	verbose  bool   // log unknown commands
	log      *log.Logger
}

// withDefaults fills cfg's zero fields and checks it.
func (cfg config) withDefaults() (config, error) {
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
	if cfg.log == nil {
		cfg.log = log.New(os.Stderr, "resp: ", log.LstdFlags)
	}
	switch {
	case cfg.maxBulk < 1 || cfg.maxBulk > defaultMaxBulk:
		return cfg, fmt.Errorf("-maxbulk %d: want 1 to %d", cfg.maxBulk, defaultMaxBulk)
	case cfg.maxQuery < minQuery:
		return cfg, fmt.Errorf("query limit %d: want at least %d", cfg.maxQuery, minQuery)
	case cfg.outHigh < 1 || cfg.outLow < 0 || cfg.outLow >= cfg.outHigh:
		return cfg, fmt.Errorf("-outbuf %d (low-water mark %d): want 0 <= low < high", cfg.outHigh, cfg.outLow)
	}
	return cfg, nil
}

// server is one event loop serving one keyspace: Redis's model, in which
// commands run one at a time and need no locks. A mio.Conns table drives
// the connections, with the server as its ConnHandler, and the server is
// also the table's Handler for the tokens that are not the table's: the
// acceptor's and the keys' expiry timeouts. All its fields but loop are
// used on the loop's goroutine only (or before Run and after it returns);
// do runs a function there.
type server struct {
	mio.NopHandler[func()]
	loop  *mio.EventLoop[func()]
	addr  mio.SockAddr // the address bound, with the port the kernel chose
	ln    *serve.Listener[func()]
	conns *mio.Conns[func()]
	db    *store

	maxBulk, maxQuery int
	outHigh           int
	verbose           bool
	log               *log.Logger

	accepted int         // connections taken, over the server's life
	opened   func(*conn) // tests: told of each new connection
	scratch  [24]byte    // INCR's digits
	closed   bool
}

// newServer binds, opens the loop and listens: connections queue from
// then on, and run serves them. On error nothing is left open.
func newServer(cfg config) (*server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	accs, addr, err := serve.Bind(cfg.addr, 1, false)
	if err != nil {
		return nil, err
	}
	loop, err := mio.NewEventLoop[func()](mio.Config{})
	if err != nil {
		accs[0].Close()
		return nil, fmt.Errorf("event loop: %w", err)
	}
	s := &server{
		loop: loop, addr: addr, db: newStore(loop),
		maxBulk: cfg.maxBulk, maxQuery: cfg.maxQuery, outHigh: cfg.outHigh,
		verbose: cfg.verbose, log: cfg.log,
	}
	ccfg := mio.ConnConfig{
		// The input holds one request at most, and a reply may pass the
		// high-water mark by its own size: WriteLimit is the layer's most
		// (2 GiB), so the Conn refuses no Write a reply makes.
		ReadLimit: cfg.maxQuery, WriteLimit: math.MaxInt32,
		HighWater: cfg.outHigh, LowWater: cfg.outLow, Linger: lingerTime,
	}
	if s.conns, err = mio.NewConns(loop, mio.ConnHandler(s), mio.Handler[func()](s), ccfg); err == nil {
		s.ln, err = serve.Listen(loop, accs[0], acceptorToken, s.add, cfg.log, "")
	}
	if err != nil {
		accs[0].Close()
		loop.Close()
		return nil, err
	}
	return s, nil
}

// run serves until stop, then closes the acceptor and the loop, which
// closes every connection.
func (s *server) run() error {
	err := s.loop.Run(s.conns)
	return errors.Join(err, s.close())
}

// stop makes run return. It is safe from any goroutine, also before run.
func (s *server) stop() { s.loop.Shutdown() }

// do runs f on the loop's goroutine, between callbacks.
func (s *server) do(f func()) error { return s.loop.Channel().Send(f) }

// close closes what the server holds; the loop must not be running.
func (s *server) close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return errors.Join(s.ln.Close(), s.loop.Close())
}

// Notify runs a function sent by do.
func (s *server) Notify(_ *mio.EventLoop[func()], f func()) { f() }

// Readable serves the acceptor.
func (s *server) Readable(_ *mio.EventLoop[func()], tok mio.Token, _ mio.ReadHint) {
	if tok == acceptorToken {
		s.ln.AcceptAll()
	}
}

// Timeout resumes accepting after a pause, or expires a key.
func (s *server) Timeout(_ *mio.EventLoop[func()], tok mio.Token) {
	switch {
	case tok&expiryTokens != 0:
		s.db.expired(tok)
	case tok == acceptorToken:
		s.ln.Resume()
	}
}

// add hands a new connection to the table.
func (s *server) add(sock mio.Socket) {
	if _, err := s.conns.Adopt(sock); err != nil {
		s.log.Print(err)
		sock.Close()
	}
}

// OnOpen gives a new connection its parser.
func (s *server) OnOpen(mc *mio.Conn) {
	s.accepted++
	c := newConn(mc, int64(s.accepted), s.maxBulk, s.outHigh)
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
		s.exec(c, p.argv)
	}
	c.send()
	in.Discard(p.start)
	clear(p.argv) // the arguments point into the Conn's input
	p.argv, p.buf = p.argv[:0], nil
	switch {
	case c.closing:
		c.mc.Close()
	case c.mc.EOF() && !c.paused:
		in.Discard(in.Len())
		p.consume(0)
	}
}
