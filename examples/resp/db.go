package main

import (
	"math"
	"sync"
	"time"

	"github.com/miogo/mio"
)

// expiryTokens is the bit that marks a timeout token as a key's expiry;
// connection tokens are the Conns table's (mio.ConnsToken, bit 63).
const expiryTokens mio.Token = 1 << 62

// entry is one key's value and expiry.
type entry struct {
	key string
	val []byte
	// shared is set once a reply has referred to val (see
	// conn.bulkStored); the value is then replaced, never overwritten in
	// place.
	shared bool

	expires int64       // on the store's clock (see now); 0: never
	timer   mio.Timeout // the loop timeout that removes the key
	tok     mio.Token   // that timeout's token; 0 when there is none
	loop    int         // the loop whose timeout it is
}

// store is the keyspace: strings with an optional expiry, shared by the
// loops of the server. Its callers hold mu for each request, so requests
// run one at a time whichever loop serves them; the methods that take at
// are told the loop that runs them.
//
// A key with an expiry has a timeout on the loop that set it, whose token
// is new for every expiry set (across the loops), found in timed.
// Overwriting or deleting the key clears the timeout and forgets the
// token, so a late timeout for an old token finds nothing. Reads also
// compare the deadline with the clock, so a key is never returned after
// it expired, however late its timeout runs.
type store struct {
	mu      sync.Mutex
	loops   []*mio.EventLoop[func()] // by index: the loops that set timeouts
	m       map[string]*entry
	timed   map[mio.Token]*entry
	lastTok mio.Token
	base    time.Time // zero of the store's monotonic clock
}

func newStore(loops ...*mio.EventLoop[func()]) *store {
	return &store{
		loops: loops,
		m:     make(map[string]*entry),
		timed: make(map[mio.Token]*entry),
		base:  time.Now(),
	}
}

// now is the store's clock in nanoseconds.
func (s *store) now() int64 { return int64(time.Since(s.base)) }

// get returns key's entry, or nil if it is missing or expired; an expired
// entry is removed at once.
func (s *store) get(key []byte, at int) *entry {
	e := s.m[string(key)]
	if e != nil && e.expires != 0 && s.now() >= e.expires {
		s.remove(e, at)
		return nil
	}
	return e
}

// set stores val (copied) under key and returns the entry. It keeps the
// key's expiry only if keepTTL is set.
func (s *store) set(key, val []byte, keepTTL bool, at int) *entry {
	e := s.get(key, at)
	if e == nil {
		e = &entry{key: string(key)}
		s.m[e.key] = e
	} else if !keepTTL {
		s.persist(e, at)
	}
	s.setVal(e, val)
	return e
}

// setVal copies val into e, reusing e's buffer when no reply can refer to
// it and it is not much bigger than needed.
func (s *store) setVal(e *entry, val []byte) {
	if !e.shared && cap(e.val) >= len(val) && cap(e.val) <= 2*len(val)+32 {
		e.val = append(e.val[:0], val...)
		return
	}
	e.val = append(make([]byte, 0, len(val)), val...)
	e.shared = false
}

// expireIn makes e expire after d (at least 1ns, at most far in the
// future), replacing any expiry it had; the timeout is loop at's.
func (s *store) expireIn(e *entry, d time.Duration, at int) error {
	s.persist(e, at)
	now := s.now()
	e.expires = now + int64(d)
	if e.expires < now { // overflow: practically never
		e.expires = math.MaxInt64
	}
	s.lastTok++
	tok := expiryTokens | s.lastTok
	t, err := s.loops[at].Timeout(tok, d)
	if err != nil {
		e.expires = 0
		return err
	}
	e.timer, e.tok, e.loop = t, tok, at
	s.timed[tok] = e
	return nil
}

// persist removes e's expiry.
func (s *store) persist(e *entry, at int) {
	if e.tok != 0 {
		if e.loop == at {
			s.loops[at].ClearTimeout(e.timer)
		} else {
			s.clearOn(e.loop, []mio.Timeout{e.timer})
		}
		delete(s.timed, e.tok)
		e.timer, e.tok = mio.Timeout{}, 0
	}
	e.expires = 0
}

// clearOn has loop i clear its timeouts ts: a loop's timers are its own
// goroutine's. Should its queue be full, they fire in time and find their
// tokens forgotten, which costs their memory until then and nothing else.
func (s *store) clearOn(i int, ts []mio.Timeout) {
	l := s.loops[i]
	l.Channel().Send(func() {
		for _, t := range ts {
			l.ClearTimeout(t)
		}
	})
}

// remove deletes e's key.
func (s *store) remove(e *entry, at int) {
	s.persist(e, at)
	if s.m[e.key] == e {
		delete(s.m, e.key)
	}
}

// del deletes key and reports whether it existed (and had not expired).
func (s *store) del(key []byte, at int) bool {
	e := s.get(key, at)
	if e == nil {
		return false
	}
	s.remove(e, at)
	return true
}

// expired is called with the token of an expiry timeout. A token no key
// holds any more (the key was overwritten, deleted or flushed) does
// nothing.
func (s *store) expired(tok mio.Token) {
	e := s.timed[tok]
	if e == nil {
		return
	}
	delete(s.timed, tok)
	e.tok, e.timer = 0, mio.Timeout{}
	if s.m[e.key] == e {
		delete(s.m, e.key)
	}
}

// flush deletes every key. The other loops get one request each to
// clear their timeouts.
func (s *store) flush(at int) {
	others := make([][]mio.Timeout, len(s.loops))
	for _, e := range s.timed {
		if e.loop == at {
			s.loops[at].ClearTimeout(e.timer)
		} else {
			others[e.loop] = append(others[e.loop], e.timer)
		}
	}
	for i, ts := range others {
		if len(ts) > 0 {
			s.clearOn(i, ts)
		}
	}
	clear(s.timed)
	clear(s.m)
}

// size is the number of keys, expired ones whose timeout has not run yet
// included.
func (s *store) size() int { return len(s.m) }
