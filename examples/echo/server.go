package main

import (
	"errors"
	"fmt"
	"log"
	"os"
	"sync"

	"github.com/miogo/mio"
	"github.com/miogo/mio/examples/internal/serve"
)

// server is a set of workers, one event loop each, serving one address.
// newServer binds and listens, so connections queue from then on; run
// serves them until stop.
type server struct {
	addr    mio.SockAddr // the address bound, with the port the kernel chose
	workers []*worker
	log     *log.Logger
	ran     bool
}

// newServer checks cfg, binds an acceptor for each of cfg.loops loops
// (see serve.Bind for how they share the address) and opens the loops. On
// error nothing is left open.
func newServer(cfg config) (*server, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	accs, addr, err := serve.Bind(cfg.addr, cfg.loops, cfg.share)
	if err != nil {
		return nil, err
	}
	s := &server{addr: addr, log: cfg.log}
	if s.log == nil {
		s.log = log.New(os.Stderr, "echo: ", log.LstdFlags)
	}
	for i, acc := range accs {
		w, err := newWorker(i, acc, cfg.bufSize, s.log)
		if err != nil {
			serve.CloseAll(accs[i:])
			s.release()
			return nil, err
		}
		s.workers = append(s.workers, w)
	}
	return s, nil
}

// run serves until stop is called or a loop fails, then closes every
// connection, acceptor and loop. A failing loop stops the others, and its
// error is returned. run may be called once.
func (s *server) run() error {
	if s.ran {
		return errors.New("server already ran")
	}
	s.ran = true
	var wg sync.WaitGroup
	errs := make([]error, len(s.workers))
	for i, w := range s.workers {
		wg.Go(func() {
			if err := w.run(); err != nil {
				errs[i] = fmt.Errorf("loop %d: %w", w.id, err)
			}
			s.stop() // one loop ending ends them all
		})
	}
	wg.Wait()
	return errors.Join(append(errs, s.release())...)
}

// stop makes run return. It is safe from any goroutine, also before run
// starts (run then returns at once) and more than once.
func (s *server) stop() {
	for _, w := range s.workers {
		w.loop.Shutdown()
	}
}

// release closes what the workers hold; no loop may be running. The
// workers stay in place, closed, so that a late stop finds them.
func (s *server) release() error {
	var errs []error
	for _, w := range s.workers {
		errs = append(errs, w.close())
	}
	return errors.Join(errs...)
}
