//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// Registration lifecycle under stress: callbacks that close, deregister and
// re-register fds whose events are still waiting later in the same batch,
// with fd numbers reused at once, and more ready fds than one poll fetches.

// hzRawPair opens a non-blocking, close-on-exec Unix stream socket pair that
// the caller closes itself (no t.Cleanup, so thousands can come and go).
func hzRawPair(t testing.TB) (*RawFd, *RawFd) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
		unix.CloseOnExec(fd)
	}
	return NewRawFd(fds[0]), NewRawFd(fds[1])
}

// hzFdOpen reports whether num is an open fd of this process.
func hzFdOpen(num int) bool {
	_, err := unix.FcntlInt(uintptr(num), unix.F_GETFD, 0)
	return err == nil
}

// hzPairOn opens a socket pair whose first end has the fd number num, which
// the caller has just closed. ok is false when num was taken meanwhile by
// someone else; the pair is then returned on whatever numbers it got.
func hzPairOn(t testing.TB, num int) (a, b *RawFd, ok bool) {
	t.Helper()
	a, b = hzRawPair(t)
	switch {
	case a.Fd() == num:
		return a, b, true
	case b.Fd() == num:
		return b, a, true
	case hzFdOpen(num):
		return a, b, false
	}
	if err := unix.Dup2(a.Fd(), num); err != nil {
		t.Fatal(err)
	}
	unix.CloseOnExec(num) // dup2 does not copy the flag
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	return NewRawFd(num), b, true
}

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
	a, b, onNum := hzPairOn(h.t, num)
	if _, err := unix.Write(b.Fd(), []byte("n")); err != nil {
		h.t.Fatal(err)
	}
	h.register(l, a, b, Readable|Writable, true)
	if onNum && e.orig && e.readable == 0 {
		h.reusedPending++
	}
}

func TestHarnessLifecycleStress(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rounds := 3000
	if hzRaceEnabled {
		rounds = 800
	}
	const perRound = 8
	before := openFds()
	l, err := NewEventLoop[int](Config{})
	if err != nil {
		t.Fatal(err)
	}
	h := &hzLifeHandler{t: t, rng: rand.New(rand.NewPCG(6, 1)), byTok: map[Token]*hzLifeEnt{}}
	for round := range rounds {
		h.round, h.calls, h.ents = round, 0, h.ents[:0]
		for range perRound {
			a, b := hzRawPair(t)
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
	if leaked := hzLeakedSince(before); len(leaked) > 0 {
		t.Fatalf("leaked fds: %s", hzShow(leaked))
	}
}

// hzCount records callbacks per token and the poll each came in.
type hzCount struct {
	NopHandler[int]
	poll   int
	reads  map[Token]int
	first  map[Token]int // poll of the first callback
	last   map[Token]int // poll of the latest callback
	maxGap map[Token]int // longest run of polls without a callback, first included
}

func hzNewCount() *hzCount {
	return &hzCount{reads: map[Token]int{}, first: map[Token]int{}, last: map[Token]int{}, maxGap: map[Token]int{}}
}

func (c *hzCount) Readable(_ *EventLoop[int], tok Token, _ ReadHint) {
	prev, seen := c.last[tok]
	if !seen {
		prev = -1
		c.first[tok] = c.poll
	}
	c.maxGap[tok] = max(c.maxGap[tok], c.poll-prev)
	c.last[tok] = c.poll
	c.reads[tok]++
}

// More ready fds than Config.EventCapacity holds are all served, and
// fairly: with level triggering every fd keeps being served within a bounded
// number of polls; with edge triggering each is served exactly once.
func TestHarnessMoreReadyThanCapacityFair(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const capacity, n = 8, 200
	const sweep = (n + capacity - 1) / capacity // polls one full pass takes
	for _, opt := range []PollOpt{Level, Edge} {
		t.Run(fmt.Sprintf("opt=%d", opt), func(t *testing.T) {
			before := openFds()
			l, err := NewEventLoop[int](Config{EventCapacity: capacity})
			if err != nil {
				t.Fatal(err)
			}
			var fds []*RawFd
			for i := range n {
				a, b := hzRawPair(t)
				fds = append(fds, a, b)
				if _, err := unix.Write(b.Fd(), []byte("x")); err != nil {
					t.Fatal(err)
				}
				if err := l.Register(a, Token(i), Readable, opt); err != nil {
					t.Fatal(err)
				}
			}
			c := hzNewCount()
			polls := 10 * sweep
			for c.poll = 0; c.poll < polls; c.poll++ {
				if err := l.RunOnce(c, 0); err != nil {
					t.Fatal(err)
				}
			}
			for i := range n {
				tok := Token(i)
				got, first := c.reads[tok], c.first[tok]
				if got == 0 {
					t.Fatalf("token %d never served in %d polls of %d events", tok, polls, capacity)
				}
				if first >= 2*sweep {
					t.Errorf("token %d first served at poll %d; a full pass takes %d", tok, first, sweep)
				}
				if opt == Edge {
					if got != 1 {
						t.Errorf("edge: token %d served %d times for one arrival", tok, got)
					}
					continue
				}
				if tail := polls - 1 - c.last[tok]; max(c.maxGap[tok], tail) > 2*sweep {
					t.Errorf("level: token %d went %d polls unserved; a full pass takes %d", tok, max(c.maxGap[tok], tail), sweep)
				}
				if got < polls*capacity/n/2 || got > polls*capacity/n*2 {
					t.Errorf("level: token %d served %d times in %d polls; a fair share is %d", tok, got, polls, polls*capacity/n)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			for _, fd := range fds {
				fd.Close()
			}
			if leaked := hzLeakedSince(before); len(leaked) > 0 {
				t.Fatalf("leaked fds: %s", hzShow(leaked))
			}
		})
	}
}

// hzLeakedSince is leakedSince without the one /dev/null descriptor the
// library keeps in reserve, process-wide, from the first accept on (see
// accept_shed.go): it is opened once and held on purpose.
func hzLeakedSince(before fdSet) []string {
	var out []string
	for _, l := range leakedSince(before) {
		if !strings.HasSuffix(l, "->/dev/null") {
			out = append(out, l)
		}
	}
	return out
}

// hzShow formats a list of leaked fds, at most 20 of them.
func hzShow(leaked []string) string {
	if len(leaked) > 20 {
		return fmt.Sprintf("%d, among them %v", len(leaked), leaked[:20])
	}
	return fmt.Sprint(leaked)
}
