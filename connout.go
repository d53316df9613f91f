package mio

// outQueue is a Conn's output: the bytes Write copied, in a Buffer, and
// the slices WriteNoCopy lent, in the order they were written.
//
// While nothing is lent (the common case) the Buffer alone is the queue
// and segs is nil. The first lent slice turns the queue into a list of
// segments: a run of copied bytes (the next n bytes of the Buffer, whose
// copied bytes are in queue order) or a lent slice. The list holds at most
// gatherMax segments, so one gathered write can take the whole head of
// the queue; when it is full a lent slice is copied instead, appended to
// the last copied run or, when the last segment is lent too, that segment
// is copied first, which keeps the order since it is the queue's tail.
type outQueue struct {
	buf  Buffer
	segs []outSeg
	head int32 // segs[head:] are queued
	size int32 // bytes queued in all: WriteLimit fits, as Conns checks
}

// outSeg is one segment: lent bytes, or (lent == nil) a run of n copied
// bytes at the front of what the Buffer still holds for earlier runs.
type outSeg struct {
	lent []byte
	n    int
}

// len is the number of bytes queued.
func (q *outQueue) len() int { return int(q.size) }

// copyIn queues a copy of p; the caller checked that it fits the limit.
func (q *outQueue) copyIn(p []byte, mem *bufPool) {
	if len(p) == 0 {
		return
	}
	if q.buf.Cap() == 0 {
		q.buf.buf = mem.get(len(p))
	}
	q.buf.Write(p) // fits: the Buffer's limit is the queue's
	q.size += int32(len(p))
	if q.segs != nil {
		q.appendCopied(len(p))
	}
}

// appendCopied records n more copied bytes at the tail of the list.
func (q *outQueue) appendCopied(n int) {
	if last := len(q.segs) - 1; last >= int(q.head) && q.segs[last].lent == nil {
		q.segs[last].n += n
		return
	}
	q.push(outSeg{n: n})
}

// push appends a segment, moving the queued ones to the front of the
// array first when it is full, so the list never outgrows its array.
func (q *outQueue) push(s outSeg) {
	if q.head > 0 && len(q.segs) == cap(q.segs) {
		live := copy(q.segs, q.segs[q.head:])
		clear(q.segs[live:])
		q.segs, q.head = q.segs[:live], 0
	}
	q.segs = append(q.segs, s)
}

// lend queues p itself. It copies instead when the list is full.
func (q *outQueue) lend(p []byte, mem *bufPool) {
	if len(p) == 0 {
		return
	}
	if q.segs == nil {
		q.segs = mem.getSegs()
		if q.buf.Len() > 0 {
			q.push(outSeg{n: q.buf.Len()})
		}
	}
	if len(q.segs)-int(q.head) >= gatherMax-1 {
		q.copyTail(mem)
		q.copyIn(p, mem)
		return
	}
	q.push(outSeg{lent: p})
	q.size += int32(len(p))
}

// copyTail turns a lent last segment into copied bytes.
func (q *outQueue) copyTail(mem *bufPool) {
	last := len(q.segs) - 1
	p := q.segs[last].lent
	if p == nil {
		return
	}
	q.segs[last] = outSeg{}
	q.segs = q.segs[:last]
	q.size -= int32(len(p))
	q.copyIn(p, mem)
}

// pieces fills dst with the queue's head, at most gatherMax slices.
func (q *outQueue) pieces(dst [][]byte) [][]byte {
	dst = dst[:0]
	if q.segs == nil {
		return append(dst, q.buf.Bytes())
	}
	off := 0
	copied := q.buf.Bytes()
	for _, s := range q.segs[q.head:] {
		if len(dst) == gatherMax {
			break
		}
		if s.lent != nil {
			dst = append(dst, s.lent)
			continue
		}
		dst = append(dst, copied[off:off+s.n])
		off += s.n
	}
	return dst
}

// consume drops the first n bytes, which were written.
func (q *outQueue) consume(n int) {
	q.size -= int32(n)
	if q.segs == nil {
		q.buf.Discard(n)
		return
	}
	for n > 0 {
		s := &q.segs[q.head]
		k := min(n, s.n+len(s.lent))
		if s.lent != nil {
			s.lent = s.lent[k:]
		} else {
			q.buf.Discard(k)
			s.n -= k
		}
		n -= k
		if s.n == 0 && len(s.lent) == 0 {
			*s = outSeg{}
			q.head++
		}
	}
	if int(q.head) == len(q.segs) {
		q.segs, q.head = q.segs[:0], 0
	}
}

// release gives the queue's memory back once it is empty (an idle Conn
// holds none), or at once when drop is set (the Conn is gone).
func (q *outQueue) release(mem *bufPool, drop bool) {
	if q.size != 0 && !drop {
		return
	}
	mem.put(q.buf.buf)
	q.buf.buf, q.buf.r, q.buf.w = nil, 0, 0
	if q.segs != nil {
		mem.putSegs(q.segs)
	}
	q.segs, q.head, q.size = nil, 0, 0
}
