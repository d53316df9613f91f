package main

import "github.com/miogo/mio"

// connTable holds the connections by token, a slice index away rather than
// a map lookup on every event. A token is a slot number plus one in its low
// 32 bits (token 0 is the acceptor's) and the slot's use count in the 31
// bits above (bit 63 marks expiry timeouts), so a slot is reused but a
// token is not: a timeout set for one connection never finds the next
// connection in its slot.
type connTable struct {
	slots []*conn
	uses  []uint32
	free  []uint32 // empty slots, reused last-freed first
	n     int      // connections held
}

const (
	tokenSlotBits = 32
	tokenUseMask  = 1<<31 - 1
)

// reserve picks a slot for a new connection and returns its token; put
// then fills it, or release gives it back.
func (t *connTable) reserve() mio.Token {
	var slot uint32
	if k := len(t.free); k > 0 {
		slot = t.free[k-1]
		t.free = t.free[:k-1]
	} else {
		slot = uint32(len(t.slots))
		t.slots = append(t.slots, nil)
		t.uses = append(t.uses, 0)
	}
	return mio.Token(uint64(t.uses[slot])<<tokenSlotBits | uint64(slot+1))
}

// slotOf is the slot a token names, or -1 for one no reserve returned.
func (t *connTable) slotOf(tok mio.Token) int {
	low := uint64(tok) & (1<<tokenSlotBits - 1)
	if low == 0 || low > uint64(len(t.slots)) {
		return -1
	}
	slot := int(low - 1)
	if uint64(tok)>>tokenSlotBits != uint64(t.uses[slot]) {
		return -1
	}
	return slot
}

// put stores c under the token reserve returned for it.
func (t *connTable) put(tok mio.Token, c *conn) {
	if slot := t.slotOf(tok); slot >= 0 && t.slots[slot] == nil {
		t.slots[slot] = c
		t.n++
	}
}

// get returns the connection of tok, or nil when it has gone.
func (t *connTable) get(tok mio.Token) *conn {
	if slot := t.slotOf(tok); slot >= 0 {
		return t.slots[slot]
	}
	return nil
}

// release empties tok's slot, whether or not put filled it. The slot's
// count moves on, so tok names nothing from now on and a second release
// of it does nothing.
func (t *connTable) release(tok mio.Token) {
	slot := t.slotOf(tok)
	if slot < 0 {
		return
	}
	if t.slots[slot] != nil {
		t.slots[slot] = nil
		t.n--
	}
	t.uses[slot] = (t.uses[slot] + 1) & tokenUseMask
	t.free = append(t.free, uint32(slot))
}

// each calls f for every connection held; f may release it.
func (t *connTable) each(f func(*conn)) {
	for _, c := range t.slots {
		if c != nil {
			f(c)
		}
	}
}
