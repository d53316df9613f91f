package main

import (
	"errors"
	"fmt"
	"log"

	"github.com/miogo/mio"
	"github.com/miogo/mio/examples/internal/serve"
)

// acceptorToken names the acceptor's registration, and also the timeout
// that resumes accepting (serve.Listener). The connections' tokens are
// the Conns table's own (mio.ConnsToken), so they never meet it.
const acceptorToken mio.Token = 0

// worker is one event loop with its listener and its connections, which a
// mio.Conns table drives; the worker is the table's Handler for the
// acceptor's token. Its fields are used on the loop's goroutine, or while
// the loop is not running.
type worker struct {
	mio.NopHandler[struct{}]
	id       int
	loop     *mio.EventLoop[struct{}]
	ln       *serve.Listener[struct{}]
	conns    *mio.Conns[struct{}]
	log      *log.Logger
	accepted int // connections taken, over the worker's life
	closed   bool
}

// newWorker opens a loop and makes acc listen on it; each connection may
// hold bufSize bytes of input and as many of output. On error the caller
// still owns acc.
func newWorker(id int, acc mio.Acceptor, bufSize int, lg *log.Logger) (*worker, error) {
	loop, err := mio.NewEventLoop[struct{}](mio.Config{})
	if err != nil {
		return nil, fmt.Errorf("event loop: %w", err)
	}
	w := &worker{id: id, loop: loop, log: lg}
	cfg := mio.ConnConfig{ReadLimit: bufSize, WriteLimit: bufSize, HighWater: bufSize, LowWater: bufSize / 2}
	h := echo{limit: bufSize, loop: id, log: lg}
	if w.conns, err = mio.NewConns(loop, h, mio.Handler[struct{}](w), cfg); err == nil {
		w.ln, err = serve.Listen(loop, acc, acceptorToken, w.add, lg, fmt.Sprintf("loop %d: ", id))
	}
	if err != nil {
		loop.Close()
		return nil, err
	}
	return w, nil
}

// run serves until the loop is shut down.
func (w *worker) run() error { return w.loop.Run(w.conns) }

// Readable serves the acceptor.
func (w *worker) Readable(_ *mio.EventLoop[struct{}], tok mio.Token, _ mio.ReadHint) {
	if tok == acceptorToken {
		w.ln.AcceptAll()
	}
}

// Timeout resumes accepting after a pause.
func (w *worker) Timeout(_ *mio.EventLoop[struct{}], tok mio.Token) {
	if tok == acceptorToken {
		w.ln.Resume()
	}
}

// add hands a new connection to the table.
func (w *worker) add(sock mio.Socket) {
	if _, err := w.conns.Adopt(sock); err != nil {
		w.log.Printf("loop %d: %v", w.id, err)
		sock.Close()
		return
	}
	w.accepted++
}

// close closes the acceptor and the loop, which must not be running;
// closing the loop closes every connection. A second close does nothing.
func (w *worker) close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	errAcc := w.ln.Close()
	if errAcc != nil {
		errAcc = fmt.Errorf("loop %d: close acceptor: %w", w.id, errAcc)
	}
	errLoop := w.loop.Close()
	if errLoop != nil {
		errLoop = fmt.Errorf("loop %d: close: %w", w.id, errLoop)
	}
	return errors.Join(errAcc, errLoop)
}
