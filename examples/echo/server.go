package main

import (
	"errors"
	"fmt"
	"log"
	"os"
	"sync"

	"github.com/miogo/mio"
)

// listenBacklog is the backlog of every acceptor. The kernel lowers it to
// its own maximum (somaxconn) where that is smaller.
const listenBacklog = 4096

// server is a set of workers, one event loop each, serving one address.
// newServer binds and listens, so connections queue from then on; run
// serves them until stop.
type server struct {
	addr    mio.SockAddr // the address bound, with the port the kernel chose
	workers []*worker
	log     *log.Logger
	ran     bool
}

// newServer checks cfg, opens cfg.loops event loops and binds an acceptor
// for each. On error nothing is left open.
func newServer(cfg config) (*server, error) {
	addr, err := cfg.sockAddr()
	if err != nil {
		return nil, err
	}
	s := &server{log: cfg.log}
	if s.log == nil {
		s.log = log.New(os.Stderr, "echo: ", log.LstdFlags)
	}
	// Several loops split the connections through SO_REUSEPORT where the
	// kernel balances it over the acceptors; elsewhere, and for Unix
	// sockets, they share one listening socket, each with its own Dup.
	share := cfg.loops > 1 && (cfg.share || addr.IsUnix() || !mio.ReusePortBalances())
	reusePort := cfg.loops > 1 && !share
	var first mio.Acceptor
	for i := range cfg.loops {
		var acc mio.Acceptor
		if share && i > 0 {
			acc, err = dupAcceptor(first)
		} else {
			acc, err = bindAcceptor(addr, reusePort)
			first = acc
		}
		if err != nil {
			s.release()
			return nil, err
		}
		if i == 0 {
			// The others bind the same port, also when port 0 let the
			// kernel choose it.
			if addr, err = acc.LocalAddr(); err != nil {
				acc.Close()
				s.release()
				return nil, fmt.Errorf("address of the acceptor: %w", err)
			}
			s.addr = addr
		}
		w, err := newWorker(i, acc, cfg.bufSize, s.log)
		if err != nil {
			acc.Close()
			s.release()
			return nil, err
		}
		s.workers = append(s.workers, w)
	}
	return s, nil
}

// dupAcceptor gives another loop its own fd for acc's listening socket.
func dupAcceptor(acc mio.Acceptor) (mio.Acceptor, error) {
	switch a := acc.(type) {
	case *mio.TCPAcceptor:
		return a.Dup()
	case *mio.UnixAcceptor:
		return a.Dup()
	}
	return nil, fmt.Errorf("no Dup for acceptor %T", acc)
}

// bindAcceptor opens a socket of addr's family and binds it.
func bindAcceptor(addr mio.SockAddr, reusePort bool) (mio.Acceptor, error) {
	if addr.IsUnix() {
		sock, err := mio.NewUnixSocket()
		if err != nil {
			return nil, err
		}
		acc, err := sock.Bind(addr)
		if err != nil {
			sock.Close()
			return nil, err
		}
		return acc, nil
	}
	newSocket := mio.NewTCPSocketV4
	if ap, _ := addr.AddrPort(); !ap.Addr().Is4() {
		newSocket = mio.NewTCPSocketV6
	}
	sock, err := newSocket()
	if err != nil {
		return nil, err
	}
	if reusePort {
		if err := sock.SetReusePort(true); err != nil {
			sock.Close()
			return nil, fmt.Errorf("SO_REUSEPORT: %w", err)
		}
	}
	acc, err := sock.Bind(addr)
	if err != nil {
		sock.Close()
		return nil, err
	}
	return acc, nil
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
			if err := w.loop.Run(w); err != nil {
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
