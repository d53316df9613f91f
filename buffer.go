package mio

// Buffer is a bounded byte FIFO: bytes go in at the back (Write, or Room
// and Commit for reading from an fd straight into it) and come out at the
// front (Bytes, Peek, Next, Discard). The unread bytes are always one
// contiguous slice, so a parser sees a message whole however it arrived.
//
// Memory is bounded by construction: the buffer never holds more than its
// limit, neither in unread bytes nor in memory, and Write beyond it fails
// with ErrBufferFull, taking nothing. When the room at the back runs out
// it compacts (moves the unread bytes to the front) if that frees at least
// half of its memory, and otherwise grows by doubling, up to the limit,
// where compacting is the only way left; so each byte is copied about once
// however it is read and consumed. Shrink gives the memory back when the
// buffer is empty, so an idle connection holds none; in steady state
// nothing allocates.
//
// The zero Buffer is empty with DefaultBufferLimit as its limit. A Buffer
// is used from one goroutine at a time; the slices it returns are valid
// until the next call that changes it.
type Buffer struct {
	buf   []byte
	r, w  int // buf[r:w] is unread
	limit int // 0 means DefaultBufferLimit
	moved int // bytes copied by compaction and growth, for the tests' bound
}

// DefaultBufferLimit is the limit of a Buffer made without one: 4 MiB.
const DefaultBufferLimit = 4 << 20

// bufferMinGrow is the smallest memory a Buffer takes, so that a stream of
// small writes does not double its way up from a few bytes.
const bufferMinGrow = 512

// NewBuffer returns an empty Buffer that holds at most limit bytes; a
// limit <= 0 means DefaultBufferLimit. It allocates nothing until bytes
// arrive.
func NewBuffer(limit int) *Buffer {
	b := &Buffer{}
	b.SetLimit(limit)
	return b
}

// SetLimit changes the most the buffer holds (<= 0: DefaultBufferLimit).
// Bytes already held beyond a lower limit stay; only new ones are refused.
func (b *Buffer) SetLimit(limit int) {
	if limit <= 0 {
		limit = 0
	}
	b.limit = limit
}

// Limit is the most the buffer holds.
func (b *Buffer) Limit() int {
	if b.limit == 0 {
		return DefaultBufferLimit
	}
	return b.limit
}

// Len is the number of unread bytes.
func (b *Buffer) Len() int { return b.w - b.r }

// Available is how many more bytes the buffer takes before it is full.
func (b *Buffer) Available() int { return max(b.Limit()-b.Len(), 0) }

// Bytes returns the unread bytes, contiguous, without consuming them.
func (b *Buffer) Bytes() []byte { return b.buf[b.r:b.w] }

// Peek returns the first n unread bytes, or all of them if fewer, without
// consuming them.
func (b *Buffer) Peek(n int) []byte { return b.buf[b.r : b.r+clampLen(n, b.Len())] }

// Next returns the first n unread bytes, or all of them if fewer, and
// consumes them. The slice stays valid until the next Write or Room.
func (b *Buffer) Next(n int) []byte {
	p := b.Peek(n)
	b.r += len(p)
	return p
}

// Discard consumes the first n unread bytes, or all of them if fewer, and
// returns how many it consumed.
func (b *Buffer) Discard(n int) int {
	n = clampLen(n, b.Len())
	b.r += n
	if b.r == b.w {
		b.r, b.w = 0, 0 // empty: the next bytes go at the front, for free
	}
	return n
}

// clampLen is n limited to 0..have.
func clampLen(n, have int) int { return min(max(n, 0), have) }

// Write appends all of p, or nothing: a p that would take the buffer past
// its limit returns (0, ErrBufferFull), and what the buffer held stays.
func (b *Buffer) Write(p []byte) (int, error) {
	if len(p) > b.Available() {
		return 0, ErrBufferFull
	}
	n := copy(b.Room(len(p)), p)
	b.Commit(n)
	return n, nil
}

// Room returns free space at the back for at least n bytes (n <= 0: any
// room, at least a little), for a read to fill before Commit says how much
// it wrote. It compacts or grows the buffer as the rules above allow, and
// returns less than n, possibly nothing, only when the limit leaves no
// more: len(Room(n)) is at most Available().
func (b *Buffer) Room(n int) []byte {
	want := clampLen(max(n, 1), b.Available())
	if want == 0 {
		return nil
	}
	if cap(b.buf)-b.w < want {
		b.makeRoom(want)
	}
	end := min(cap(b.buf), b.r+b.Limit())
	return b.buf[b.w:end:end]
}

// Commit appends n bytes that were written into the slice Room returned.
func (b *Buffer) Commit(n int) {
	b.w += clampLen(n, cap(b.buf)-b.w)
}

// makeRoom makes want bytes free at the back (the caller checked that the
// limit allows them). It compacts when that frees at least half the memory,
// grows by doubling while below the limit, and compacts anyway at the
// limit, where it is the only way to make room: a caller asking for room
// at the limit has consumed at least want bytes since the last compaction,
// so the copy is bounded by the limit per call, and a reader that stops
// at the limit until the buffer is half empty (as a connection does) only
// ever meets the first case there.
func (b *Buffer) makeRoom(want int) {
	unread := b.Len()
	fits := cap(b.buf)-unread >= want
	switch {
	case fits && (b.r >= cap(b.buf)/2 || cap(b.buf) >= b.Limit()):
		b.compact()
	default:
		b.grow(unread + want)
	}
}

// grow moves the unread bytes to new memory of at least need bytes: the
// current size doubled (at least once, or growing would be a compaction
// that allocates) until it fits, but no more than the limit.
func (b *Buffer) grow(need int) {
	size := max(2*cap(b.buf), bufferMinGrow)
	for size < need {
		size *= 2
	}
	grown := make([]byte, min(size, max(b.Limit(), need)))
	unread := copy(grown, b.buf[b.r:b.w])
	b.buf, b.r, b.w = grown, 0, unread
	b.moved += unread
}

// compact moves the unread bytes to the front of the memory.
func (b *Buffer) compact() {
	b.w = copy(b.buf, b.buf[b.r:b.w])
	b.r = 0
	b.moved += b.w
	b.buf = b.buf[:cap(b.buf)]
}

// Shrink gives the buffer's memory back if it is empty, and reports
// whether it did; an idle connection so holds no buffer. The next bytes
// allocate afresh.
func (b *Buffer) Shrink() bool {
	if b.Len() != 0 {
		return false
	}
	b.buf, b.r, b.w = nil, 0, 0
	return true
}

// Cap is the memory the buffer holds now, in bytes.
func (b *Buffer) Cap() int { return cap(b.buf) }
