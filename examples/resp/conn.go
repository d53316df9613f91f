package main

import (
	"errors"
	"io"
	"strconv"

	"github.com/miogo/mio"
)

// Buffer sizes.
const (
	// readSize is the input buffer a connection starts with, and the least
	// room a read is given when the buffer can be compacted to make it.
	readSize = 16 << 10
	// refMin is the smallest value a reply refers to instead of copying
	// it; over the high-water mark every value is referred to, so that the
	// reply to one request (an MGET of many keys) copies only its headers.
	// A value a reply refers to is never changed in place (the store
	// replaces it instead), so the reply can hold it until the socket has
	// taken it.
	refMin = 16 << 10
	// keepIn and keepOut bound the buffers an idle connection keeps: one
	// that grew beyond them for a large request or reply is let go once
	// it is empty.
	keepIn  = 64 << 10
	keepOut = 64 << 10
)

// outRef is a large value written after out[:at].
type outRef struct {
	at  int
	val []byte
}

// conn is one client connection: its socket, the input not yet parsed, and
// the replies not yet written.
//
// The output is bounded: once more than the server's high-water mark waits
// to be written, the connection stops parsing and reading, so a client that
// does not read its replies is held back by TCP flow control instead of
// growing the server's memory. Reading resumes when the output has drained
// to the low-water mark. Between the two marks it may grow by at most the
// reply to one request.
type conn struct {
	sock mio.Socket
	tok  mio.Token
	in   parser

	out     []byte   // replies; out[sent:] is still to be written
	sent    int      // bytes of out already written
	refs    []outRef // large values to write in between, in order
	refHead int      // refs[refHead] is the next one; refs[:refHead] are written
	refOff  int      // bytes of refs[refHead].val already written
	refLeft int      // bytes of the refs not written yet

	outHigh int // the high-water mark, over which bulk refers to every value

	interest  mio.Interest // what the registration asks for now
	paused    bool         // over the high-water mark: neither reading nor parsing
	eof       bool         // the client has sent all it will send
	closing   bool         // the connection ends once the output is written
	lingering bool         // output shut down; input read and dropped until EOF
	dropped   int          // input bytes dropped while lingering
}

func newConn(sock mio.Socket, tok mio.Token, maxBulk, outHigh int) *conn {
	c := &conn{sock: sock, tok: tok, interest: mio.Readable, outHigh: outHigh}
	c.in.buf = make([]byte, readSize)
	c.in.maxBulk = maxBulk
	c.in.bulk = -1
	return c
}

// pending is how many reply bytes wait to be written.
func (c *conn) pending() int { return len(c.out) - c.sent + c.refLeft - c.refOff }

// read reads once into the input buffer, making room first: it moves the
// unparsed input to the front, or grows the buffer when a request does
// not fit. A request that would need more than maxQuery bytes is an
// error. It returns how many bytes came in.
func (c *conn) read(maxQuery int) (int, error) {
	p := &c.in
	if len(p.buf)-p.end < readSize && p.start > 0 {
		p.end = copy(p.buf, p.buf[p.start:p.end])
		p.start = 0
	}
	if p.end == len(p.buf) {
		// A request fills the whole buffer: grow it, to what the request
		// is known to need when that is less than twice the size. Growth
		// follows the data actually received, so a length header alone
		// never makes the server allocate much.
		size := 2 * len(p.buf)
		if p.need > len(p.buf) && p.need < size {
			size = p.need
		}
		if size > maxQuery {
			size = maxQuery
		}
		if size <= len(p.buf) {
			return 0, errQueryLimit
		}
		buf := make([]byte, size)
		copy(buf, p.buf[:p.end])
		p.buf = buf
	}
	n, err := c.sock.Read(p.buf[p.end:])
	p.end += n
	return n, err
}

// errQueryLimit is the error for a request longer than the query limit.
var errQueryLimit = errors.New("request longer than the query buffer limit")

// shrinkIn lets a large input buffer go once it is empty.
func (c *conn) shrinkIn() {
	if p := &c.in; p.start == p.end && len(p.buf) > keepIn {
		p.buf = make([]byte, readSize)
		p.start, p.end = 0, 0
		clear(p.argv) // the last request's arguments point into the old buffer
		p.argv = p.argv[:0]
	}
}

// flush writes replies until all are written or the socket takes no more.
func (c *conn) flush() error {
	for c.pending() > 0 {
		end := len(c.out)
		if c.refHead < len(c.refs) {
			end = c.refs[c.refHead].at
		}
		if c.sent < end {
			n, err := c.sock.Write(c.out[c.sent:end])
			c.sent += n
			if err != nil {
				return c.wrote(err)
			}
			continue
		}
		r := &c.refs[c.refHead]
		n, err := c.sock.Write(r.val[c.refOff:])
		c.refOff += n
		if c.refOff == len(r.val) {
			c.refLeft -= len(r.val)
			c.refOff = 0
			r.val = nil // the value is the store's again
			c.refHead++
		}
		if err != nil {
			return c.wrote(err)
		}
	}
	// All written.
	c.sent = 0
	if cap(c.out) > keepOut {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	c.refs, c.refHead = c.refs[:0], 0
	return nil
}

// wrote handles a write error: ErrWouldBlock leaves the rest for the next
// Writable, after compacting the output so that it cannot creep forward
// for ever; any other error is returned.
func (c *conn) wrote(err error) error {
	if !errors.Is(err, mio.ErrWouldBlock) {
		return err
	}
	if c.sent > 0 && c.sent >= len(c.out)/2 {
		n := copy(c.out, c.out[c.sent:])
		c.out = c.out[:n]
		for i := c.refHead; i < len(c.refs); i++ {
			c.refs[i].at -= c.sent
		}
		c.sent = 0
	}
	if c.refHead > 0 && c.refHead >= len(c.refs)/2 {
		n := copy(c.refs, c.refs[c.refHead:])
		clear(c.refs[n:])
		c.refs = c.refs[:n]
		c.refHead = 0
	}
	return nil
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
// any value once the output is over the high-water mark, is referred to
// rather than copied; bulkStored then reports true, and the value must not
// be changed in place from then on.
func (c *conn) bulkStored(v []byte) (referred bool) {
	if len(v) < refMin && c.pending() < c.outHigh {
		c.bulk(v)
		return false
	}
	c.out = append(c.out, '$')
	c.out = strconv.AppendInt(c.out, int64(len(v)), 10)
	c.out = append(c.out, '\r', '\n')
	c.refs = append(c.refs, outRef{at: len(c.out), val: v})
	c.refLeft += len(v)
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

// readResult classifies the outcome of conn.read for the server.
func readResult(err error) (eof bool, fatal error) {
	switch {
	case err == nil, errors.Is(err, mio.ErrWouldBlock):
		return false, nil
	case err == io.EOF:
		return true, nil
	default:
		return false, err
	}
}
