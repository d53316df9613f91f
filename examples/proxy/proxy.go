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

// config is what the command line sets.
type config struct {
	listen, backend string
	connectTimeout  time.Duration
	log             *log.Logger
	conn            mio.ConnConfig // tests shrink the buffers; AllowHalfOpen is forced on
	hooks           hooks
}

// hooks let tests watch the proxy from the loop's goroutine; nil ones are
// skipped.
type hooks struct {
	forwarded func(src, dst *mio.Conn) // after each pass of src's input to dst
	paused    func(src, dst *mio.Conn) // src paused because dst is backlogged
	closed    func(c *mio.Conn, err error)
}

// proxy is one event loop with its acceptor and its connections.
type proxy struct {
	addr    mio.SockAddr // the address bound, with the port the kernel chose
	backend mio.SockAddr
	timeout time.Duration
	log     *log.Logger
	hooks   hooks
	limit   int // the ConnConfig's WriteLimit, with its default filled in

	loop  *mio.EventLoop[struct{}]
	conns *mio.Conns[struct{}]
	acc   mio.Acceptor
	ran   bool
}

// side is one end of a proxied pair: the Conn, and the state of the
// direction that starts at it.
type side struct {
	conn   *mio.Conn
	peer   *side
	eof    bool // the end of stream was read and forwarded as a CloseWrite
	opened bool // OnOpen came (a backend that never connects has none)
	closed bool // OnClose came
}

// newProxy binds the listening address and opens the loop. On error
// nothing is left open.
func newProxy(cfg config) (*proxy, error) {
	backend, err := mio.ParseSockAddr(cfg.backend)
	if err != nil {
		return nil, fmt.Errorf("-backend: %w", err)
	}
	if cfg.connectTimeout < 0 {
		return nil, fmt.Errorf("-connect-timeout %v is negative", cfg.connectTimeout)
	}
	cc := cfg.conn
	cc.AllowHalfOpen = true
	limit := cc.WriteLimit
	if limit == 0 {
		limit = 1 << 20 // mio's default
	}
	if cc.HighWater >= limit {
		return nil, fmt.Errorf("HighWater %d must be below WriteLimit %d", cc.HighWater, limit)
	}
	acc, addr, err := serve.Bind(cfg.listen)
	if err != nil {
		return nil, err
	}
	p := &proxy{addr: addr, backend: backend, timeout: cfg.connectTimeout, log: cfg.log, hooks: cfg.hooks, limit: limit, acc: acc}
	if p.log == nil {
		p.log = log.New(os.Stderr, "proxy: ", log.LstdFlags)
	}
	p.loop, err = mio.NewEventLoop[struct{}](mio.Config{})
	if err != nil {
		p.acc.Close()
		return nil, fmt.Errorf("event loop: %w", err)
	}
	if p.conns, err = mio.NewConns(p.loop, p, nil, cc); err == nil {
		err = p.conns.Listen(p.acc)
	}
	if err != nil {
		return nil, errors.Join(err, p.release())
	}
	return p, nil
}

// run serves until stop, then closes every connection, the acceptor and
// the loop. run may be called once.
func (p *proxy) run() error {
	if p.ran {
		return errors.New("proxy already ran")
	}
	p.ran = true
	err := p.loop.Run(p.conns)
	return errors.Join(err, p.release())
}

// stop makes run return; it is safe from any goroutine, and more than once.
func (p *proxy) stop() { p.loop.Shutdown() }

// release closes the loop (and with it every Conn) and the acceptor.
func (p *proxy) release() error {
	return errors.Join(p.loop.Close(), p.acc.Close())
}

// OnOpen starts a pair for an accepted client, or completes one when the
// backend's connect succeeded.
func (p *proxy) OnOpen(c *mio.Conn) {
	if s, ok := c.Context().(*side); ok { // the backend, connected
		s.opened = true
		return
	}
	client := &side{conn: c, opened: true}
	c.SetContext(client)
	b, err := p.conns.Dial(p.backend, p.timeout)
	if err != nil {
		p.log.Printf("dial %s: %v", p.backend, err)
		c.Close()
		return
	}
	backend := &side{conn: b, peer: client}
	client.peer = backend
	b.SetContext(backend)
}

// OnData forwards what arrived.
func (p *proxy) OnData(c *mio.Conn) {
	if s, ok := c.Context().(*side); ok {
		p.forward(s)
	}
}

// OnDrain resumes the side that feeds c: what it still holds is passed on
// first, since no OnData comes for input that is already there.
func (p *proxy) OnDrain(c *mio.Conn) {
	s, ok := c.Context().(*side)
	if !ok || s.peer == nil || s.peer.closed {
		return
	}
	src := s.peer
	if p.forward(src) {
		src.conn.ResumeRead()
	}
}

// OnClose ends the other side: gracefully after a clean close, at once
// after an error.
func (p *proxy) OnClose(c *mio.Conn, err error) {
	if p.hooks.closed != nil {
		p.hooks.closed(c, err)
	}
	s, ok := c.Context().(*side)
	if !ok {
		return
	}
	s.closed = true
	peer := s.peer
	if peer == nil || peer.closed {
		return
	}
	switch {
	case err == nil:
		peer.conn.Close()
	case !s.opened: // the backend's connect failed or timed out
		p.log.Printf("connect %s: %v", p.backend, err)
		peer.conn.Close()
	default:
		peer.conn.Abort()
	}
}

// forward passes src's input to its peer, as much as the peer's output
// takes, and forwards src's end of stream once its input is all passed on.
// It pauses src while the peer is backlogged, or when input is left over,
// and reports whether src may read on.
func (p *proxy) forward(src *side) bool {
	dst := src.peer
	if dst == nil || dst.closed {
		src.conn.In().Discard(src.conn.In().Len())
		return false
	}
	in := src.conn.In()
	if data := in.Bytes(); len(data) > 0 {
		// Write takes all or nothing: give it what fits, and keep the
		// rest in In for OnDrain to retry.
		n := min(len(data), p.limit-dst.conn.OutputLen())
		if n > 0 {
			if _, err := dst.conn.Write(data[:n]); err != nil {
				// A Conn closed or failing: OnClose follows, and ends
				// the pair.
				p.log.Printf("write: %v", err)
				src.conn.Abort()
				dst.conn.Abort()
				return false
			}
			in.Discard(n)
		}
	}
	if p.hooks.forwarded != nil {
		p.hooks.forwarded(src.conn, dst.conn)
	}
	if in.Len() > 0 || dst.conn.Backlogged() {
		// Input left over means the output is full, which is past
		// HighWater, so an OnDrain is due either way.
		src.conn.PauseRead()
		if p.hooks.paused != nil {
			p.hooks.paused(src.conn, dst.conn)
		}
		return false
	}
	if src.conn.EOF() && !src.eof {
		src.eof = true
		dst.conn.CloseWrite()
		if dst.eof { // both directions finished
			src.conn.Close()
			dst.conn.Close()
		}
	}
	return true
}
