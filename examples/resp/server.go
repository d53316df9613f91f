package main

import (
	"errors"
	"fmt"
	"log"
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
// resumes accepting after an error (serve.Listener); connections count up
// from it, below expiryTokens, and are never reused.
const acceptorToken mio.Token = 0

// A connection closed by the server (a protocol error, QUIT) first shuts
// down its sending side, so the client reads the last reply and then the
// end of the stream, and reads and drops what the client still sends
// until the client closes too, for at most lingerTime and lingerBytes.
// Closing a socket with unread input at once would send a reset, which may
// make the client's system drop the last reply before the client has read
// it.
const (
	lingerTime  = time.Second
	lingerBytes = 1 << 20
)

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
	case cfg.maxQuery < readSize:
		return cfg, fmt.Errorf("query limit %d: want at least %d", cfg.maxQuery, readSize)
	case cfg.outHigh < 1 || cfg.outLow < 0 || cfg.outLow >= cfg.outHigh:
		return cfg, fmt.Errorf("-outbuf %d (low-water mark %d): want 0 <= low < high", cfg.outHigh, cfg.outLow)
	}
	return cfg, nil
}

// server is one event loop serving one keyspace: Redis's model, in which
// commands run one at a time and need no locks. All its fields but loop are
// used on the loop's goroutine only (or before Run and after it returns);
// do runs a function there.
type server struct {
	mio.NopHandler[func()]
	loop *mio.EventLoop[func()]
	addr mio.SockAddr // the address bound, with the port the kernel chose
	ln   *serve.Listener[func()]
	db   *store

	maxBulk, maxQuery int
	outHigh, outLow   int
	verbose           bool
	log               *log.Logger

	conns    connTable
	accepted int      // connections taken, over the server's life
	scratch  [24]byte // INCR's digits
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
		maxBulk: cfg.maxBulk, maxQuery: cfg.maxQuery,
		outHigh: cfg.outHigh, outLow: cfg.outLow,
		verbose: cfg.verbose, log: cfg.log,
	}
	if s.ln, err = serve.Listen(loop, accs[0], acceptorToken, s.add, cfg.log, ""); err != nil {
		accs[0].Close()
		loop.Close()
		return nil, err
	}
	return s, nil
}

// run serves until stop, then closes every connection, the acceptor and
// the loop.
func (s *server) run() error {
	err := s.loop.Run(s)
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
	s.conns.each(func(c *conn) {
		c.sock.Close()
		s.conns.release(c.tok)
	})
	return errors.Join(s.ln.Close(), s.loop.Close())
}

// Notify runs a function sent by do.
func (s *server) Notify(_ *mio.EventLoop[func()], f func()) { f() }

// Readable serves the acceptor or a connection.
func (s *server) Readable(_ *mio.EventLoop[func()], tok mio.Token, hint mio.ReadHint) {
	if tok == acceptorToken {
		s.ln.AcceptAll()
		return
	}
	c := s.conns.get(tok)
	if c == nil {
		return
	}
	if c.lingering {
		s.linger(c)
		return
	}
	if c.interest&mio.Readable != 0 {
		n, err := c.read(s.maxQuery)
		eof, fatal := readResult(err)
		switch {
		case errors.Is(err, errQueryLimit):
			c.err("ERR Protocol error: request longer than the query buffer limit")
			c.closing = true
		case fatal != nil:
			s.drop(c, fatal)
			return
		case eof:
			c.eof = true
		case n > 0:
			s.process(c)
		}
	} else if hint&mio.ErrorHint != 0 {
		// Not reading (output is backed up, or the client is done): a
		// socket error ends the connection here.
		if err := c.sock.TakeError(); err != nil {
			s.drop(c, err)
			return
		}
	}
	s.flush(c)
}

// Writable writes what a connection's socket would not take before, and
// resumes parsing once the output has drained.
func (s *server) Writable(_ *mio.EventLoop[func()], tok mio.Token) {
	if c := s.conns.get(tok); c != nil {
		s.flush(c)
	}
}

// Timeout resumes accepting after a pause, expires a key, or ends a
// connection's lingering.
func (s *server) Timeout(_ *mio.EventLoop[func()], tok mio.Token) {
	switch {
	case tok&expiryTokens != 0:
		s.db.expired(tok)
	case tok == acceptorToken:
		s.ln.Resume()
	default:
		// Connection tokens are never reused (see connTable), so a
		// connection found here is the one the timeout was set for.
		if c := s.conns.get(tok); c != nil && c.lingering {
			s.drop(c, nil)
		}
	}
}

// process runs the complete requests in c's input, until the output is
// over the high-water mark or the input is malformed.
func (s *server) process(c *conn) {
	for !c.closing {
		if c.pending() >= s.outHigh {
			c.paused = true
			break
		}
		st, msg := c.in.next()
		if st == parsedNone {
			break
		}
		if st == parsedError {
			c.err("ERR " + msg)
			c.closing = true
			break
		}
		s.exec(c, c.in.argv)
	}
	c.shrinkIn()
}

// flush writes c's output and brings its registration in line with its
// state: reading while it is not paused or finished, writing while output
// waits. A connection with nothing left to do is closed.
func (s *server) flush(c *conn) {
	for {
		if err := c.flush(); err != nil {
			s.drop(c, err)
			return
		}
		if !c.paused || c.pending() > s.outLow {
			break
		}
		// Drained to the low-water mark: parse what input is buffered,
		// which may fill the output again.
		c.paused = false
		s.process(c)
	}
	var want mio.Interest
	if !c.paused && !c.eof && !c.closing {
		want |= mio.Readable
	}
	if c.pending() > 0 {
		want |= mio.Writable
	}
	if want == 0 {
		// The client has sent all it will, or the connection is closing,
		// and every reply is written.
		if c.closing && !c.eof {
			s.startLinger(c)
			return
		}
		s.drop(c, nil)
		return
	}
	if want != c.interest {
		if err := s.loop.Reregister(c.sock, c.tok, want, mio.Level); err != nil {
			s.drop(c, err)
			return
		}
		c.interest = want
	}
}

// startLinger shuts down c's sending side and keeps reading from it, to
// drop the input, until the client closes or lingerTime has passed.
func (s *server) startLinger(c *conn) {
	c.lingering = true
	if err := c.sock.Shutdown(mio.ShutWrite); err != nil {
		s.drop(c, nil) // the client is gone already
		return
	}
	if _, err := s.loop.Timeout(c.tok, lingerTime); err != nil {
		s.drop(c, err)
		return
	}
	if c.interest != mio.Readable {
		if err := s.loop.Reregister(c.sock, c.tok, mio.Readable, mio.Level); err != nil {
			s.drop(c, err)
			return
		}
		c.interest = mio.Readable
	}
	s.linger(c)
}

// linger reads and drops a lingering connection's input, and closes it at
// the end of the stream, on an error, or after lingerBytes.
func (s *server) linger(c *conn) {
	p := &c.in
	p.start, p.end = 0, 0
	n, err := c.sock.Read(p.buf)
	c.dropped += n
	if (err == nil || errors.Is(err, mio.ErrWouldBlock)) && c.dropped < lingerBytes {
		return // level-triggered: the next poll reports what is left
	}
	s.drop(c, nil)
}

// add registers a new connection, level-triggered for reading: each
// Readable reads once, and a connection with more input is reported again
// on the next poll, after the other connections had their turn.
func (s *server) add(sock mio.Socket) {
	tok := s.conns.reserve()
	if err := s.loop.Register(sock, tok, mio.Readable, mio.Level); err != nil {
		s.log.Print(err)
		s.conns.release(tok)
		sock.Close()
		return
	}
	s.conns.put(tok, newConn(sock, tok, s.maxBulk, s.outHigh))
	s.accepted++
}

// drop closes a connection. A peer resetting or vanishing is routine and
// is not logged.
func (s *server) drop(c *conn, err error) {
	if err != nil && !serve.Routine(err) {
		s.log.Printf("connection %d: %v", c.tok, err)
	}
	c.sock.Close()
	s.conns.release(c.tok)
}
