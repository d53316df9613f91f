package main

import (
	"errors"
	"fmt"
	"log"

	"github.com/miogo/mio"
	"github.com/miogo/mio/examples/internal/serve"
)

// acceptorToken names the acceptor's registration, and also the timeout
// that resumes accepting (serve.Listener); connections count up from it.
// Registration and timeout tokens reach different callbacks, and a
// connection's token is never reused, so a timeout set for a connection
// that has since closed finds nothing.
const acceptorToken mio.Token = 0

// worker is one event loop with its listener and its connections. All its
// fields except loop are used only on the loop's goroutine, or when the
// loop is not running.
type worker struct {
	mio.NopHandler[struct{}]
	id      int
	loop    *mio.EventLoop[struct{}]
	ln      *serve.Listener[struct{}]
	bufSize int
	log     *log.Logger

	conns     map[mio.Token]*conn
	lastToken mio.Token
	accepted  int // connections taken, over the worker's life
	closed    bool
}

// newWorker opens a loop and makes acc listen on it. On error the caller
// still owns acc.
func newWorker(id int, acc mio.Acceptor, bufSize int, lg *log.Logger) (*worker, error) {
	loop, err := mio.NewEventLoop[struct{}](mio.Config{})
	if err != nil {
		return nil, fmt.Errorf("event loop: %w", err)
	}
	w := &worker{id: id, loop: loop, bufSize: bufSize, log: lg, conns: make(map[mio.Token]*conn)}
	w.ln, err = serve.Listen(loop, acc, acceptorToken, w.add, lg, fmt.Sprintf("loop %d: ", id))
	if err != nil {
		loop.Close()
		return nil, err
	}
	return w, nil
}

// Readable serves the acceptor or a connection.
func (w *worker) Readable(_ *mio.EventLoop[struct{}], tok mio.Token, hint mio.ReadHint) {
	if tok == acceptorToken {
		w.ln.AcceptAll()
		return
	}
	c := w.conns[tok]
	if c == nil {
		return
	}
	c.readBlocked = false
	if !w.serve(tok, c) {
		return
	}
	if hint&mio.ErrorHint != 0 {
		if err := c.sock.TakeError(); err != nil {
			w.drop(tok, c, err)
			return
		}
	}
	// A hang-up while reads would block and nothing is left to write back:
	// no more data will come and none is owed. (Reading normally ends in
	// io.EOF first; a pump that used up its turn, or a full buffer, leaves
	// reads not blocked, and then data may still be on its way.)
	if hint&(mio.HupHint|mio.ErrorHint) != 0 && c.readBlocked && c.pending() == 0 {
		w.drop(tok, c, nil)
	}
}

// Writable serves a connection whose socket can take data again.
func (w *worker) Writable(_ *mio.EventLoop[struct{}], tok mio.Token) {
	if c := w.conns[tok]; c != nil {
		c.writeBlocked = false
		w.serve(tok, c)
	}
}

// Timeout resumes accepting after a pause, or resumes a connection that
// used up its turn.
func (w *worker) Timeout(_ *mio.EventLoop[struct{}], tok mio.Token) {
	if tok == acceptorToken {
		w.ln.Resume()
		return
	}
	if c := w.conns[tok]; c != nil {
		c.yielded = false
		w.serve(tok, c)
	}
}

// add registers a new connection and serves what it may already have sent.
func (w *worker) add(sock mio.Socket) {
	w.lastToken++
	tok := w.lastToken
	if err := w.loop.Register(sock, tok, mio.Readable|mio.Writable, mio.Edge); err != nil {
		w.log.Printf("loop %d: %v", w.id, err)
		sock.Close()
		return
	}
	c := newConn(sock, w.bufSize)
	w.conns[tok] = c
	w.accepted++
	w.serve(tok, c)
}

// serve pumps c and reports whether it is still open.
func (w *worker) serve(tok mio.Token, c *conn) bool {
	switch st, err := c.pump(); st {
	case pumpDone:
		w.drop(tok, c, err)
		return false
	case pumpYield:
		// Let the loop's other connections have a turn; a zero timeout
		// fires on the next iteration, after the next poll.
		if !c.yielded {
			if _, err := w.loop.Timeout(tok, 0); err != nil {
				w.drop(tok, c, err)
				return false
			}
			c.yielded = true
		}
	}
	return true
}

// drop closes a connection. A peer resetting or vanishing is routine and
// is not logged.
func (w *worker) drop(tok mio.Token, c *conn, err error) {
	if err != nil && !serve.Routine(err) {
		w.log.Printf("loop %d: connection %d: %v", w.id, tok, err)
	}
	c.sock.Close()
	delete(w.conns, tok)
}

// close closes the connections, the acceptor and the loop, which must not
// be running. A second close does nothing.
func (w *worker) close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	for tok, c := range w.conns {
		c.sock.Close()
		delete(w.conns, tok)
	}
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
