package main

import (
	"errors"
	"log"
	"os"

	"github.com/miogo/mio"
	"github.com/miogo/mio/examples/internal/serve"
)

// echo is the ConnHandler: what a connection sends goes back to it. The
// library's Conn does the buffering, the write readiness and the close
// after the last byte is flushed; all the handler decides is how much to
// write back now. Every loop of the Server calls the one echo, each on its
// own goroutine: it holds no state but its settings.
//
// The output holds at most limit bytes. What does not fit stays in the
// Conn's input and reading pauses, so a client that sends without reading
// is slowed down by TCP flow control rather than growing the server's
// memory; OnDrain, when the client has read enough, writes the rest and
// reads on.
type echo struct {
	limit int
	log   *log.Logger
}

// OnOpen needs nothing: the Conn is already reading.
func (echo) OnOpen(*mio.Conn) {}

// OnData writes back what came.
func (e echo) OnData(c *mio.Conn) { e.pump(c) }

// OnDrain writes back what waited for room.
func (e echo) OnDrain(c *mio.Conn) { e.pump(c) }

// OnClose logs a connection that ended in an error worth telling; a peer
// resetting or vanishing, a client not reading its echo within the
// linger of a close, and the loop closing, are routine.
func (e echo) OnClose(c *mio.Conn, err error) {
	if err != nil && !routine(err) {
		e.log.Printf("loop %d: connection: %v", c.LoopIndex(), err)
	}
}

// pump moves as much of the input to the output as fits, and reads on
// only when it all did. At the client's end of stream, once everything is
// written back, the Conn closes itself.
func (e echo) pump(c *mio.Conn) {
	in := c.In()
	p := in.Next(min(in.Len(), e.limit-c.OutputLen()))
	if _, err := c.Write(p); err != nil {
		return // the Conn is closing; OnClose follows
	}
	if in.Len() > 0 {
		c.PauseRead() // full: OnDrain comes when the client has read
	} else {
		c.ResumeRead()
	}
}

// routine reports whether err is how connections usually end.
func routine(err error) bool {
	return errors.Is(err, mio.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) || serve.Routine(err)
}
