package mio

import "math/bits"

// bufPool keeps the memory that Conns' buffers give back, so that a
// connection that needs a buffer now and then (a partial message left
// after OnData, output the kernel did not take at once) reuses memory
// instead of allocating it: in steady state nothing allocates. It belongs
// to one loop and needs no lock.
//
// Memory is bounded by construction: the pool keeps slices of power-of-two
// sizes from bufferMinGrow up to its largest class, at most poolPerClass
// of each, and drops anything else; so it holds at most twice its largest
// class times poolPerClass.
type bufPool struct {
	classes [][][]byte // classes[i] holds slices of cap bufferMinGrow<<i
	segs    [][]outSeg // arrays for output lists, at most poolPerClass
}

// poolPerClass bounds each class of the pool.
const poolPerClass = 16

// newBufPool makes a pool whose largest class holds at least largest bytes.
func newBufPool(largest int) bufPool {
	n := classOf(max(largest, bufferMinGrow)) + 1
	return bufPool{classes: make([][][]byte, n)}
}

// classOf is the class whose slices hold at least n bytes.
func classOf(n int) int {
	if n <= bufferMinGrow {
		return 0
	}
	return bits.Len(uint((n - 1) / bufferMinGrow))
}

// get returns an empty slice with room for at least n bytes.
func (p *bufPool) get(n int) []byte {
	c := classOf(n)
	if c >= len(p.classes) {
		return make([]byte, 0, n)
	}
	if free := p.classes[c]; len(free) > 0 {
		b := free[len(free)-1]
		free[len(free)-1] = nil
		p.classes[c] = free[:len(free)-1]
		return b[:0]
	}
	return make([]byte, 0, bufferMinGrow<<c)
}

// getAtMost is get for a buffer that never holds more than most bytes:
// where n's class is larger, the memory is allocated to measure.
func (p *bufPool) getAtMost(n, most int) []byte {
	if n = min(n, most); bufferMinGrow<<classOf(n) > most {
		return make([]byte, 0, n)
	}
	return p.get(n)
}

// put takes b back if it is of a class's size and that class has room.
func (p *bufPool) put(b []byte) {
	size := cap(b)
	if size < bufferMinGrow || size&(size-1) != 0 {
		return
	}
	c := classOf(size)
	if c < len(p.classes) && len(p.classes[c]) < poolPerClass {
		p.classes[c] = append(p.classes[c], b[:0])
	}
}

// getSegs returns an empty output list with room for gatherMax segments.
func (p *bufPool) getSegs() []outSeg {
	if n := len(p.segs); n > 0 {
		s := p.segs[n-1]
		p.segs[n-1] = nil
		p.segs = p.segs[:n-1]
		return s
	}
	return make([]outSeg, 0, gatherMax)
}

// putSegs takes an output list back, cleared so it keeps no memory alive.
func (p *bufPool) putSegs(s []outSeg) {
	if cap(s) == gatherMax && len(p.segs) < poolPerClass {
		clear(s[:cap(s)])
		p.segs = append(p.segs, s[:0])
	}
}
