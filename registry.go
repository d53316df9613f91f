package mio

// registration is the loop's record of one registered fd, indexed by the fd
// number. It lives in a slice rather than a map so that dispatch is one
// bounds check and one comparison per event.
type registration struct {
	token    Token
	gen      uint32 // bumped on every Register and Reregister; 0 = never
	interest Interest
	opt      PollOpt
	active   bool
	armed    bool // false after a Oneshot event until Reregister
	// deferred means the kernel does not have the fd yet: a Unix connect
	// met a full queue and the loop retries it (see connect.go).
	deferred bool
	handle   *fdHandle
}

// registry maps fd numbers to registrations and hands out generations.
type registry struct {
	slots   []registration
	lastGen uint32
}

// nextGen returns a generation never handed out before (until the counter
// wraps after 2^32 registrations), skipping 0, which marks the loop's own
// wake-up fd and events whose generation is not yet known.
func (r *registry) nextGen() uint32 {
	r.lastGen++
	if r.lastGen == 0 {
		r.lastGen = 1
	}
	return r.lastGen
}

// lookup returns the active registration of fd, or nil.
func (r *registry) lookup(fd int) *registration {
	if fd < 0 || fd >= len(r.slots) || !r.slots[fd].active {
		return nil
	}
	return &r.slots[fd]
}

// current returns the registration an event was fetched for, or nil when it
// was deregistered, re-registered or disarmed since: the check that keeps a
// stale event from reaching a new owner of the same fd number.
func (r *registry) current(fd int32, gen uint32) *registration {
	s := r.lookup(int(fd))
	if s == nil || s.gen != gen || !s.armed {
		return nil
	}
	return s
}

// slot returns the slot for fd, growing the table to hold it.
func (r *registry) slot(fd int) *registration {
	if fd >= len(r.slots) {
		n := max(2*len(r.slots), fd+1, 64)
		grown := make([]registration, n)
		copy(grown, r.slots)
		r.slots = grown
	}
	return &r.slots[fd]
}

// stampGens fills in the generation of events from a poller that cannot
// carry it (kqueue), as it stands when the batch was fetched, before any
// callback of the batch has run.
func (r *registry) stampGens(evs []event) {
	for i := range evs {
		if s := r.lookup(int(evs[i].fd)); s != nil {
			evs[i].gen = s.gen
		}
	}
}

// forEachHandle calls fn for every registration that came from one of the
// library's own fd types.
func (r *registry) forEachHandle(fn func(h *fdHandle)) {
	for i := range r.slots {
		if r.slots[i].active && r.slots[i].handle != nil {
			fn(r.slots[i].handle)
		}
	}
}
