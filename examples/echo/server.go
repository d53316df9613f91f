package main

import (
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"time"

	"github.com/miogo/mio"
	"github.com/miogo/mio/examples/internal/serve"
)

// server is a mio.Server of cfg.loops loops serving the echo on one
// address. newServer binds and listens, so connections queue from then
// on; run serves them until stop.
type server struct {
	srv   *mio.Server[struct{}]
	addr  mio.SockAddr // the address bound, with the port the kernel chose
	stats time.Duration
	grace time.Duration
	out   io.Writer
	log   *log.Logger
}

// newServer checks cfg, makes the Server and listens on cfg.addr, with
// one reuse-port acceptor per loop or one that hands connections off (see
// mio.Balance). On error nothing is left open.
func newServer(cfg config) (*server, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	addr, err := mio.ParseSockAddr(cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("-addr: %w", err)
	}
	s := &server{stats: cfg.stats, grace: cfg.grace, out: cfg.out, log: cfg.log}
	s.setDefaults()
	b, _ := cfg.balancing() // check has checked it
	n := cfg.bufSize
	scfg := mio.ServerConfig{Loops: cfg.loops, Balance: b, Conn: mio.ConnConfig{
		ReadLimit: n, WriteLimit: n, HighWater: n, LowWater: n / 2, Linger: lingerTime,
	}}
	if s.srv, err = mio.NewServer[struct{}](scfg, echo{limit: n, log: s.log}, nil); err != nil {
		return nil, err
	}
	if s.addr, err = s.srv.Listen(addr); err != nil {
		s.srv.Close()
		return nil, fmt.Errorf("listen on %v: %w", addr, err)
	}
	return s, nil
}

// setDefaults fills in what cfg left out.
func (s *server) setDefaults() {
	if s.grace == 0 {
		s.grace = defaultGrace
	}
	if s.out == nil {
		s.out = io.Discard
	}
	if s.log == nil {
		s.log = log.New(os.Stderr, "echo: ", log.LstdFlags)
	}
}

// run serves until stop, printing the statistics meanwhile if asked; a
// stop that came first makes it return nil at once. It returns once every
// loop has stopped and every connection is closed, and the printing with
// them.
func (s *server) run() error {
	done := make(chan struct{})
	var wg sync.WaitGroup
	if s.stats > 0 {
		wg.Go(func() { s.printStats(done) })
	}
	err := serve.Serve(s.srv)
	close(done)
	wg.Wait()
	return err
}

// stop stops accepting at once, waits for the clients to close within
// the grace, then closes what is left; run returns then. It is safe from
// any goroutine, also before run starts, and more than once.
func (s *server) stop() { serve.Shutdown(s.srv, s.grace, s.log) }

// printStats prints a line of statistics every s.stats until done closes.
func (s *server) printStats(done <-chan struct{}) {
	tick := time.NewTicker(s.stats)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			fmt.Fprintln(s.out, statsLine(s.srv.Stats()))
		}
	}
}

// statsLine is the summary -stats prints: the connections, the bytes, the
// loops' work and their lag (how long ready events waited for dispatch).
func statsLine(st mio.ServerStats) string {
	return fmt.Sprintf("echo: stats: open=%d accepted=%d closed=%d read=%d written=%d "+
		"iterations=%d events=%d accept-errors=%d lag-p99=%v lag-max=%v",
		st.Open, st.Accepted, st.Closed, st.BytesRead, st.BytesWritten,
		st.Iterations, st.Events, st.AcceptErrors, st.Lag.Percentile(99), st.LagMax)
}
