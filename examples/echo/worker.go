package main

import (
	"errors"
	"fmt"
	"log"
	"syscall"
	"time"

	"github.com/miogo/mio"
)

// acceptorToken names the acceptor's registration, and also the timeout
// that resumes accepting; connections count up from it. Registration and
// timeout tokens reach different callbacks, and a connection's token is
// never reused, so a timeout set for a connection that has since closed
// finds nothing.
const acceptorToken mio.Token = 0

// acceptPause is how long a worker stops accepting after accept fails (out
// of fds, typically), instead of retrying at once and spinning: the
// acceptor is edge-triggered, so the pending connections stay queued and
// are taken when the pause ends.
const acceptPause = 100 * time.Millisecond

// worker is one event loop with its acceptor and its connections. All its
// fields except loop are used only on the loop's goroutine, or when the
// loop is not running.
type worker struct {
	mio.NopHandler[struct{}]
	id      int
	loop    *mio.EventLoop[struct{}]
	acc     mio.Acceptor
	accept  func() (mio.Socket, error)
	bufSize int
	log     *log.Logger

	conns     map[mio.Token]*conn
	lastToken mio.Token
	accepted  int // connections taken, over the worker's life

	paused bool // accepting waits for the acceptPause timeout
	pauses int  // pauses since accepting last worked; only the first is logged
	closed bool
}

// newWorker opens a loop and makes acc listen on it. On error the caller
// still owns acc.
func newWorker(id int, acc mio.Acceptor, bufSize int, lg *log.Logger) (*worker, error) {
	loop, err := mio.NewEventLoop[struct{}](mio.Config{})
	if err != nil {
		return nil, fmt.Errorf("event loop: %w", err)
	}
	if err := loop.Listen(acc, listenBacklog, acceptorToken); err != nil {
		loop.Close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	return &worker{
		id: id, loop: loop, acc: acc, accept: func() (mio.Socket, error) { return acceptNoDelay(acc) },
		bufSize: bufSize, log: lg, conns: make(map[mio.Token]*conn),
	}, nil
}

// acceptNoDelay accepts one connection and turns Nagle's algorithm off on
// a TCP one, so that small messages are echoed at once.
func acceptNoDelay(acc mio.Acceptor) (mio.Socket, error) {
	c, err := acc.Accept()
	if t, ok := c.(*mio.TCPSocket); ok {
		t.SetNoDelay(true)
	}
	return c, err
}

// Readable serves the acceptor or a connection.
func (w *worker) Readable(_ *mio.EventLoop[struct{}], tok mio.Token, hint mio.ReadHint) {
	if tok == acceptorToken {
		w.acceptAll()
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
		w.paused = false
		w.acceptAll()
		return
	}
	if c := w.conns[tok]; c != nil {
		c.yielded = false
		w.serve(tok, c)
	}
}

// acceptAll takes pending connections until none is left, as the
// edge-triggered acceptor requires, or until accept fails.
func (w *worker) acceptAll() {
	for !w.paused {
		sock, err := w.accept()
		if errors.Is(err, mio.ErrWouldBlock) {
			return
		}
		if err != nil {
			w.pauseAccepting(err)
			return
		}
		w.acceptWorks()
		w.add(sock)
	}
}

// pauseAccepting stops accepting for acceptPause. Running out of fds
// (EMFILE, ENFILE) is the usual cause, but any error is handled alike, so
// none can stop the server or make it spin.
func (w *worker) pauseAccepting(err error) {
	if _, terr := w.loop.Timeout(acceptorToken, acceptPause); terr != nil {
		w.log.Printf("loop %d: %v, and cannot pause: %v", w.id, err, terr)
		return
	}
	w.paused = true
	w.pauses++
	if w.pauses > 1 {
		return
	}
	hint := ""
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
		hint = " (raise the open files limit, ulimit -n)"
	}
	w.log.Printf("loop %d: %v%s; pausing accepts for %v at a time until accept works again",
		w.id, err, hint, acceptPause)
}

// acceptWorks ends a burst of accept errors, saying so if one was logged.
// Only a connection taken ends it: an empty queue proves nothing, since
// mio closes the pending connections when it runs out of fds.
func (w *worker) acceptWorks() {
	if w.pauses > 0 {
		w.log.Printf("loop %d: accepting again after %d pause(s)", w.id, w.pauses)
		w.pauses = 0
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
	if err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) &&
		!errors.Is(err, syscall.ETIMEDOUT) {
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
	errAcc := w.acc.Close()
	if errAcc != nil {
		errAcc = fmt.Errorf("loop %d: close acceptor: %w", w.id, errAcc)
	}
	errLoop := w.loop.Close()
	if errLoop != nil {
		errLoop = fmt.Errorf("loop %d: close: %w", w.id, errLoop)
	}
	return errors.Join(errAcc, errLoop)
}
