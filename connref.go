package mio

import (
	"sync"
)

// ConnRef is a handle on a Conn for other goroutines: a small value, safe
// to copy and keep, whose methods are safe from any goroutine. Each sends
// an operation to the Conn's loop through a bounded queue
// (ConnConfig.RefQueue) and returns at once: it never blocks, fails with
// ErrNotifyFull when the queue is full, and with ErrClosed once the Conn
// is closed. The operations of one goroutine reach the Conn in the order
// they were made. The zero ConnRef stands for no Conn: its methods return
// ErrClosed.
type ConnRef struct {
	c *Conn
}

// Write copies p and has the loop write it to the Conn, as Conn.Write.
// The bytes of Writes on their way to the loop are bounded
// (ConnConfig.RefBytes): beyond it Write fails with ErrBufferFull. A Write
// that reaches a Conn whose output is full closes the Conn with
// ErrBufferFull, since nothing else bounds a producer that does not wait
// for OnDrain; a Write that reaches a closed Conn is dropped.
func (r ConnRef) Write(p []byte) error {
	if err := r.check("write"); err != nil {
		return err
	}
	t := r.c.t
	n := int64(len(p))
	if t.refBytes.Add(n) > int64(t.cfg.RefBytes) {
		t.refBytes.Add(-n)
		return ErrBufferFull
	}
	buf := getRefBuf(len(p))
	*buf = append((*buf)[:0], p...)
	if err := t.post(connOp{kind: opWrite, c: r.c, data: buf}); err != nil {
		t.refBytes.Add(-n)
		putRefBuf(buf)
		return err
	}
	return nil
}

// Close has the loop Close the Conn gracefully, as Conn.Close.
func (r ConnRef) Close() error {
	if err := r.check("close"); err != nil {
		return err
	}
	return r.c.t.post(connOp{kind: opClose, c: r.c})
}

// Do has the loop call fn with the Conn, on the loop's goroutine, where
// fn may use every method of the Conn. fn is not called if the Conn
// closes first.
func (r ConnRef) Do(fn func(c *Conn)) error {
	if err := r.check("do"); err != nil {
		return err
	}
	return r.c.t.post(connOp{kind: opDo, c: r.c, fn: fn})
}

// check fails once the Conn is gone.
func (r ConnRef) check(op string) error {
	if r.c == nil || r.c.gone.Load() {
		return errClosed(op)
	}
	return nil
}

// connOp is one operation sent to the loop: through a ConnRef, or a host
// name's resolution.
type connOp struct {
	kind  uint8
	c     *Conn
	data  *[]byte
	fn    func(*Conn)
	addrs []SockAddr
	err   error
	sock  Socket // opAdopt: an accepted socket handed over by another loop
}

const (
	opWrite = iota
	opClose
	opDo
	opResolved
	opAdopt
)

// post queues op for the loop and wakes it when it may be asleep (the
// wake-up coalescing of notify.go: Tick resets and then looks).
func (t *connTable) post(op connOp) error {
	if err := t.refs.push(op); err != nil {
		return err
	}
	if t.refs.claimWake() {
		t.lp.wakeLoop()
	}
	return nil
}

// drainRefs applies the queued operations, as many as the queue holds at
// most, so that a busy producer cannot keep the loop here.
func (t *connTable) drainRefs() {
	for range t.refs.capacity() {
		op, ok := t.refs.pop()
		if !ok {
			return
		}
		t.apply(&op)
	}
}

// apply carries out one operation on the loop.
func (t *connTable) apply(op *connOp) {
	c := op.c
	switch op.kind {
	case opWrite:
		t.refBytes.Add(-int64(len(*op.data)))
		if c.flags&cDone == 0 {
			if _, err := c.Write(*op.data); err == ErrBufferFull {
				c.fail(&opError{op: "write", why: "a ConnRef write found the output full", err: ErrBufferFull})
			}
		}
		putRefBuf(op.data)
	case opClose:
		c.Close()
	case opDo:
		if c.flags&cDone == 0 {
			op.fn(c)
		}
	case opResolved:
		t.resolved(c, op)
	case opAdopt:
		t.load.Add(-1) // on its way no more: adopt counts it as open
		t.adopt(op.sock)
		return
	}
	t.markDirty(c)
}

// dropRefs empties the queue of a closed table; the sockets handed over
// and not yet adopted are closed, so that their clients see the end.
func (t *connTable) dropRefs() {
	for {
		op, ok := t.refs.pop()
		if !ok {
			return
		}
		if op.kind == opAdopt {
			op.sock.Close()
		}
	}
}

// The copies of ConnRef writes come from pools of power-of-two sizes, so
// that a steady stream of them reuses memory.
const (
	refBufMin     = 512
	refBufClasses = 8 // up to 64 KiB; larger copies are allocated
)

var refBufs [refBufClasses]sync.Pool

// getRefBuf returns an empty buffer with room for n bytes.
func getRefBuf(n int) *[]byte {
	c := classOf(n)
	if c < refBufClasses {
		if b, ok := refBufs[c].Get().(*[]byte); ok {
			return b
		}
		b := make([]byte, 0, refBufMin<<c)
		return &b
	}
	b := make([]byte, 0, n)
	return &b
}

// putRefBuf gives a buffer back to its pool.
func putRefBuf(b *[]byte) {
	if c := classOf(cap(*b)); c < refBufClasses && cap(*b) == refBufMin<<c {
		*b = (*b)[:0]
		refBufs[c].Put(b)
	}
}
