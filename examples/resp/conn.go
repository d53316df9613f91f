package main

import (
	"strconv"

	"github.com/miogo/mio"
)

// Buffer sizes.
const (
	// refMin is the smallest value a reply lends to the Conn instead of
	// copying it; over the high-water mark every value is lent, so that
	// the reply to one request (an MGET of many keys) copies only its
	// headers. A value a reply refers to is never changed in place (the
	// store replaces it instead), so the Conn can hold it until the socket
	// has taken it.
	refMin = 16 << 10
	// keepOut bounds the reply buffer an idle connection keeps.
	keepOut = 64 << 10
)

// conn is the server's state for one client connection, the mio.Conn's
// context: the parser's place in the input (which the Conn buffers) and
// the replies built since the last send. The Conn does the buffering,
// the write readiness and the close after the last byte is flushed.
//
// The output is bounded: once more than the high-water mark waits to be
// written, the connection stops parsing and reading, so a client that
// does not read its replies is held back by TCP flow control instead of
// growing the server's memory. OnDrain, at the low-water mark, goes on.
// Between the two marks the output may grow by at most the reply to one
// request.
type conn struct {
	mc      *mio.Conn
	id      int64 // CLIENT ID
	loop    int   // the index of the loop that serves it
	in      parser
	out     []byte   // replies not yet handed to mc
	outHigh int      // the high-water mark, over which bulk lends every value
	paused  bool     // over the high-water mark: neither reading nor parsing
	closing bool     // the connection ends once the output is written
	ending  bool     // the server is stopping: it ends once its requests are answered
	scratch [24]byte // INCR's digits
}

func newConn(mc *mio.Conn, id int64, loop, maxBulk, outHigh int) *conn {
	c := &conn{mc: mc, id: id, loop: loop, outHigh: outHigh}
	c.in.maxBulk = maxBulk
	c.in.bulk = -1
	return c
}

// pending is how many reply bytes wait to be written.
func (c *conn) pending() int {
	n := len(c.out)
	if c.mc != nil {
		n += c.mc.OutputLen()
	}
	return n
}

// send hands the replies built so far to the Conn, which writes them at
// once and queues what the kernel does not take. A failed write means the
// Conn is closing.
func (c *conn) send() {
	if len(c.out) == 0 {
		return
	}
	if c.mc != nil {
		if _, err := c.mc.Write(c.out); err != nil {
			c.closing = true
		}
	}
	c.out = c.out[:0]
	if cap(c.out) > keepOut {
		c.out = nil
	}
}

// Reply writers. RESP2 has five kinds of reply: simple strings, errors,
// integers, bulk strings (or the null bulk string) and arrays.

// simple appends a simple string reply, which must not hold CR or LF.
func (c *conn) simple(s string) {
	c.out = append(c.out, '+')
	c.out = append(c.out, s...)
	c.out = append(c.out, '\r', '\n')
}

// err appends an error reply; msg starts with the error's code ("ERR",
// "WRONGTYPE"...), and CR and LF in it are replaced by blanks.
func (c *conn) err(msg string) {
	c.out = append(c.out, '-')
	for i := 0; i < len(msg); i++ {
		b := msg[i]
		if b == '\r' || b == '\n' {
			b = ' '
		}
		c.out = append(c.out, b)
	}
	c.out = append(c.out, '\r', '\n')
}

// integer appends an integer reply.
func (c *conn) integer(n int64) {
	c.out = append(c.out, ':')
	c.out = strconv.AppendInt(c.out, n, 10)
	c.out = append(c.out, '\r', '\n')
}

// array appends the header of an array of n elements.
func (c *conn) array(n int) {
	c.out = append(c.out, '*')
	c.out = strconv.AppendInt(c.out, int64(n), 10)
	c.out = append(c.out, '\r', '\n')
}

// null appends the null bulk string, the reply for a missing key.
func (c *conn) null() { c.out = append(c.out, "$-1\r\n"...) }

// bulk appends a bulk string, copying it.
func (c *conn) bulk(v []byte) {
	c.out = append(c.out, '$')
	c.out = strconv.AppendInt(c.out, int64(len(v)), 10)
	c.out = append(c.out, '\r', '\n')
	c.out = append(c.out, v...)
	c.out = append(c.out, '\r', '\n')
}

// bulkStored appends a stored value as a bulk string. A large value, or
// any value once the output is over the high-water mark, is lent to the
// Conn (WriteNoCopy) rather than copied; bulkStored then reports true, and
// the value must not be changed in place from then on.
func (c *conn) bulkStored(v []byte) (referred bool) {
	if len(v) < refMin && c.pending() < c.outHigh {
		c.bulk(v)
		return false
	}
	c.out = append(c.out, '$')
	c.out = strconv.AppendInt(c.out, int64(len(v)), 10)
	c.out = append(c.out, '\r', '\n')
	c.send()
	if err := c.mc.WriteNoCopy(v); err != nil {
		c.closing = true
	}
	c.out = append(c.out, '\r', '\n')
	return true
}

// bulkString is bulk for a string.
func (c *conn) bulkString(s string) {
	c.out = append(c.out, '$')
	c.out = strconv.AppendInt(c.out, int64(len(s)), 10)
	c.out = append(c.out, '\r', '\n')
	c.out = append(c.out, s...)
	c.out = append(c.out, '\r', '\n')
}
