package main

import (
	"errors"
	"io"

	"github.com/miogo/mio"
)

// turnBytes is how much one connection may echo in one go before it lets
// the other connections of its loop have a turn.
const turnBytes = 1 << 20

// pumpState says why pump stopped.
type pumpState uint8

const (
	// pumpBlocked: neither direction can move until a readiness event.
	pumpBlocked pumpState = iota
	// pumpYield: the turn is used up and both directions may still move,
	// so no event is coming: the caller must pump again soon.
	pumpYield
	// pumpDone: the connection is finished, flushed or failed.
	pumpDone
)

// conn is one client connection and the data read from it that is not
// yet written back. Its buffer has a fixed size: when it is full, reading
// stops until writing makes room, which is the backpressure that keeps a
// client that does not read from growing the server's memory.
//
// The socket is registered edge-triggered, so each direction is used until
// it would block, and then not again until its next readiness callback.
type conn struct {
	sock       mio.Socket
	buf        []byte
	start, end int  // buf[start:end] is waiting to be written
	eof        bool // the peer has sent all it will send

	readBlocked  bool // a read would block; cleared by Readable
	writeBlocked bool // a write would block; cleared by Writable
	yielded      bool // a timeout is set to resume a yielded pump
}

func newConn(sock mio.Socket, size int) *conn {
	return &conn{sock: sock, buf: make([]byte, size)}
}

// pending is how many bytes wait to be written back.
func (c *conn) pending() int { return c.end - c.start }

// room returns the free space after the pending bytes, moving them to the
// front first when that frees at least half the buffer, so each byte is
// copied at most about once.
func (c *conn) room() []byte {
	switch {
	case c.start == c.end:
		c.start, c.end = 0, 0
	case c.end == len(c.buf) && c.start > 0 && c.start >= len(c.buf)/2:
		c.end = copy(c.buf, c.buf[c.start:c.end])
		c.start = 0
	}
	return c.buf[c.end:]
}

// pump reads while there is room and writes while there is data, until
// neither can go on, the turn is used up, or the connection is finished.
// It returns the error that finished the connection, if any.
func (c *conn) pump() (pumpState, error) {
	for moved := 0; ; {
		progress := false
		if !c.eof && !c.readBlocked {
			if room := c.room(); len(room) > 0 {
				n, err := c.sock.Read(room)
				c.end += n
				switch {
				case err == nil:
					progress = n > 0
				case errors.Is(err, mio.ErrWouldBlock):
					c.readBlocked = true
				case err == io.EOF:
					c.eof = true
				default:
					return pumpDone, err
				}
			}
		}
		if c.start < c.end && !c.writeBlocked {
			n, err := c.sock.Write(c.buf[c.start:c.end])
			c.start += n
			moved += n
			progress = progress || n > 0
			if errors.Is(err, mio.ErrWouldBlock) {
				c.writeBlocked = true
			} else if err != nil {
				return pumpDone, err
			}
		}
		switch {
		case c.eof && c.start == c.end:
			return pumpDone, nil // all echoed; closing sends the FIN
		case !progress:
			return pumpBlocked, nil
		case moved >= turnBytes:
			return pumpYield, nil
		}
	}
}
