//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"math/rand/v2"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// Registration lifecycle under stress: callbacks that close, deregister and
// re-register fds whose events are still waiting later in the same batch,
// with fd numbers reused at once, and more ready fds than one poll fetches.

// hzLifeEnt is one registration of the stress test.
type hzLifeEnt struct {
	a, b     *RawFd
	tok      Token
	in       Interest
	orig     bool // registered before the round's poll, so its event is in the batch
	born     bool // registered by a callback during the round's dispatch
	live     bool
	readable int // Readable calls this round
	writable int // Writable calls this round
	killedAt int // callbacks seen when another callback ended it; -1 if never
}

// hzLifeHandler checks every callback against the set of live tokens and
// then lets a seeded random choice close, deregister or re-register fds.
type hzLifeHandler struct {
	NopHandler[int]
	t       *testing.T
	rng     *rand.Rand
	round   int
	calls   int
	byTok   map[Token]*hzLifeEnt
	ents    []*hzLifeEnt // everything opened this round, closed at its end
	nextTok Token
	// how often the interesting cases happened, so the test cannot pass
	// vacuously
	reusedPending int // closed while its event was pending, number reused and re-registered
	deregPending  int // deregistered while its event was pending
	reregPending  int // re-registered while its event was pending
	selfEnded     int // closed or deregistered itself inside its callback
}

func (h *hzLifeHandler) check(kind string, tok Token) *hzLifeEnt {
	e := h.byTok[tok]
	switch {
	case e == nil:
		h.t.Fatalf("round %d: %s callback for token %d, which no registration ever had", h.round, kind, tok)
	case !e.live:
		h.t.Fatalf("round %d: %s callback for token %d after its registration ended (stale event)", h.round, kind, tok)
	case e.born:
		h.t.Fatalf("round %d: %s callback for token %d, registered during this dispatch on a reused number: an event fetched for the old fd reached it", h.round, kind, tok)
	}
	return e
}

func (h *hzLifeHandler) Readable(l *EventLoop[int], tok Token, hint ReadHint) {
	e := h.check("Readable", tok)
	e.readable++
	h.calls++
	if e.readable > 1 || hint&DataHint == 0 {
		h.t.Fatalf("round %d: token %d: Readable #%d with hint %b in one poll", h.round, tok, e.readable, hint)
	}
	h.act(l, e)
}

func (h *hzLifeHandler) Writable(l *EventLoop[int], tok Token) {
	e := h.check("Writable", tok)
	e.writable++
	h.calls++
	if e.in&Writable == 0 || e.writable > 1 {
		h.t.Fatalf("round %d: token %d (interest %b): Writable #%d", h.round, tok, e.in, e.writable)
	}
	h.act(l, e)
}

// pending lists the round's original registrations whose event has not yet
// been delivered: their events are later in the batch.
func (h *hzLifeHandler) pending(self *hzLifeEnt) []*hzLifeEnt {
	var out []*hzLifeEnt
	for _, e := range h.ents {
		if e.orig && e.live && e != self && e.readable == 0 {
			out = append(out, e)
		}
	}
	return out
}

func (h *hzLifeHandler) register(l *EventLoop[int], a, b *RawFd, in Interest, born bool) *hzLifeEnt {
	h.nextTok++
	e := &hzLifeEnt{a: a, b: b, tok: h.nextTok, in: in, born: born, orig: !born, live: true, killedAt: -1}
	if err := l.Register(a, e.tok, in, Level); err != nil {
		h.t.Fatalf("round %d: register fd %d: %v", h.round, a.Fd(), err)
	}
	h.byTok[e.tok] = e
	h.ents = append(h.ents, e)
	return e
}

// act is what a callback does to the registrations: one random action.
func (h *hzLifeHandler) act(l *EventLoop[int], self *hzLifeEnt) {
	others := h.pending(self)
	var victim *hzLifeEnt
	if len(others) > 0 {
		victim = others[h.rng.IntN(len(others))]
	}
	switch op := h.rng.IntN(8); {
	case op <= 2 && victim != nil: // close another; its number is reused at once
		h.closeAndReuse(l, victim)
	case op == 3 && victim != nil:
		if err := l.Deregister(victim.a); err != nil {
			h.t.Fatalf("round %d: deregister: %v", h.round, err)
		}
		h.kill(victim)
		h.deregPending++
	case op == 4 && victim != nil: // same fd, new token: the fetched event is stale
		h.kill(victim)
		h.nextTok++
		victim.tok = h.nextTok
		victim.live, victim.born, victim.orig = true, true, false
		if err := l.Reregister(victim.a, victim.tok, Readable|Writable, Level); err != nil {
			h.t.Fatalf("round %d: reregister: %v", h.round, err)
		}
		victim.in = Readable | Writable
		h.byTok[victim.tok] = victim
		h.reregPending++
	case op == 5 && self.live:
		if err := l.Deregister(self.a); err != nil {
			h.t.Fatalf("round %d: deregister self: %v", h.round, err)
		}
		h.kill(self)
		h.selfEnded++
	case op == 6 && self.live:
		h.closeAndReuse(l, self)
		h.selfEnded++
	}
}

func (h *hzLifeHandler) kill(e *hzLifeEnt) {
	e.live = false
	e.killedAt = h.calls
}

// closeAndReuse closes e with the library's Close (which drops the
// registration first), opens a new socket on the same number and registers
// it, readable and writable, with a new token.
func (h *hzLifeHandler) closeAndReuse(l *EventLoop[int], e *hzLifeEnt) {
	num := e.a.Fd()
	if err := e.a.Close(); err != nil {
		h.t.Fatalf("round %d: close: %v", h.round, err)
	}
	h.kill(e)
	a, b, onNum := pairOn(h.t, num)
	if _, err := unix.Write(b.Fd(), []byte("n")); err != nil {
		h.t.Fatal(err)
	}
	h.register(l, a, b, Readable|Writable, true)
	if onNum && e.orig && e.readable == 0 {
		h.reusedPending++
	}
}

func TestStressRegistrationLifecycle(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rounds := 3000
	if shrunk() {
		rounds = 800
	}
	const perRound = 8
	checkNoFdLeaks(t)
	l, err := NewEventLoop[int](Config{})
	if err != nil {
		t.Fatal(err)
	}
	h := &hzLifeHandler{t: t, rng: rand.New(rand.NewPCG(6, 1)), byTok: map[Token]*hzLifeEnt{}}
	for round := range rounds {
		h.round, h.calls, h.ents = round, 0, h.ents[:0]
		for range perRound {
			a, b := rawPair(t)
			in := Readable
			if h.rng.IntN(2) == 0 {
				in |= Writable
			}
			if _, err := unix.Write(b.Fd(), []byte("x")); err != nil {
				t.Fatal(err)
			}
			h.register(l, a, b, in, false)
		}
		if err := l.RunOnce(h, pending); err != nil {
			t.Fatal(err)
		}
		for _, e := range h.ents {
			// Every original registration had its event in the batch: it
			// was served, unless a callback ended it before its turn.
			if e.orig && e.readable == 0 && e.killedAt < 0 {
				t.Fatalf("round %d: token %d was ready and live but got no callback (lost event)", round, e.tok)
			}
			if e.orig && e.in&Writable != 0 && e.readable == 1 && e.writable == 0 && e.live {
				t.Fatalf("round %d: token %d is writable but got Readable only", round, e.tok)
			}
			if e.a.Fd() >= 0 {
				if err := e.a.Close(); err != nil {
					t.Fatal(err)
				}
			}
			e.b.Close()
			e.live = false
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rounds: %d closed with event pending and number reused, %d deregistered and %d re-registered with event pending, %d ended themselves",
		rounds, h.reusedPending, h.deregPending, h.reregPending, h.selfEnded)
	if h.reusedPending < rounds/4 || h.deregPending < rounds/20 || h.reregPending < rounds/20 || h.selfEnded < rounds/20 {
		t.Fatalf("the random schedule exercised too few of the cases it is meant to test")
	}
}
