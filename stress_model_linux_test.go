package mio

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A model-based test of the loop: the fuzzer's bytes drive register,
// reregister, deregister, close, dup, write, drain, peer close and poll on a
// small pool of real socket pairs, and every callback and error is checked
// against a model of what the registrations are and what is ready. The
// expectations are epoll's, hence Linux only.

const (
	hzModelSlots  = 6
	hzModelMaxOps = 200
	hzModelZombie = 4 // most dup'd closed files kept around at once
)

// hzMSlot is one socket pair of the pool: a is registered, b is its peer.
type hzMSlot struct {
	idx      int
	a, b     *RawFd
	dup      int // a dup of a's fd, or -1
	reg      bool
	tok      Token
	in       Interest
	opt      PollOpt
	fired    bool // a Oneshot registration delivered its event
	data     int  // bytes waiting on a
	peerGone bool // b was closed
	// Edge registrations: an edge that the next poll must deliver.
	owedR, owedW bool
	touched      bool // changed by a callback during the current poll
}

func (s *hzMSlot) armed() bool { return s.reg && !(s.opt&Oneshot != 0 && s.fired) }

// hzZombie is a file kept open by a dup after its fd number was closed,
// with its peer, so that writes can still make it ready.
type hzZombie struct {
	dup  int
	peer *RawFd
}

type hzModel struct {
	NopHandler[int]
	t       testing.TB
	l       *EventLoop[int]
	slots   [hzModelSlots]*hzMSlot
	zombies []hzZombie
	nextTok Token
	live    map[Token]*hzMSlot
	trace   []string

	// state of the current poll
	polling  bool
	born     map[Token]bool // tokens created by a callback of this poll
	gotR     map[Token]int
	gotW     map[Token]int
	lastTok  Token
	lastKind byte
	// an action a callback of the next poll performs
	act     byte
	actSlot int
	actP    byte

	stats hzModelStats
}

// hzModelStats counts what a run checked, so that a test can make sure the
// model is not passing vacuously.
type hzModelStats struct {
	callbacks, wantR, wantW, inCallback, rawCloses, polls int
}

func (m *hzModel) fail(format string, args ...any) {
	m.t.Helper()
	tail := m.trace
	if len(tail) > 40 {
		tail = tail[len(tail)-40:]
	}
	m.t.Fatalf("%s\nlast operations:\n  %s", fmt.Sprintf(format, args...), strings.Join(tail, "\n  "))
}

func (m *hzModel) logf(format string, args ...any) {
	m.trace = append(m.trace, fmt.Sprintf(format, args...))
}

func (m *hzModel) newTok(s *hzMSlot) Token {
	m.nextTok++
	m.live[m.nextTok] = s
	if m.polling {
		m.born[m.nextTok] = true
		s.touched = true
	}
	return m.nextTok
}

func (m *hzModel) killTok(s *hzMSlot) {
	delete(m.live, s.tok)
	if m.polling {
		s.touched = true
	}
}

// open gives slot s a fresh socket pair, on fd number num if num >= 0.
func (m *hzModel) open(s *hzMSlot, num int) {
	if num >= 0 {
		a, b, ok := pairOn(m.t, num)
		if !ok {
			m.fail("fd %d was taken by someone else", num)
		}
		s.a, s.b = a, b
	} else {
		s.a, s.b = rawPair(m.t)
	}
	s.dup, s.reg, s.fired, s.data, s.peerGone, s.owedR, s.owedW = -1, false, false, 0, false, false, false
}

// edgeOwed sets what an Edge registration must report after Register or
// Reregister, which make the kernel look at the fd's current readiness.
func (s *hzMSlot) edgeOwed() {
	s.owedR = s.opt&Edge != 0 && s.in&Readable != 0 && (s.peerGone || s.data > 0)
	s.owedW = s.opt&Edge != 0 && s.in&Writable != 0
}

func hzDecodeReg(p byte) (Interest, PollOpt) {
	in := Interest(p & 3)
	if in == 0 {
		in = Readable
	}
	return in, PollOpt(p>>2) & (Edge | Oneshot)
}

func (m *hzModel) register(s *hzMSlot, p byte) {
	in, opt := hzDecodeReg(p)
	if s.reg {
		if err := m.l.Register(s.a, 999, in, opt); !errors.Is(err, ErrRegistered) {
			m.fail("Register of a registered fd: %v, want ErrRegistered", err)
		}
		return
	}
	tok := m.newTok(s)
	m.logf("register slot %d fd %d token %d in %b opt %b", s.idx, s.a.Fd(), tok, in, opt)
	if err := m.l.Register(s.a, tok, in, opt); err != nil {
		m.fail("Register: %v", err)
	}
	s.reg, s.tok, s.in, s.opt, s.fired = true, tok, in, opt, false
	s.edgeOwed()
}

func (m *hzModel) reregister(s *hzMSlot, p byte) {
	in, opt := hzDecodeReg(p)
	if !s.reg {
		if err := m.l.Reregister(s.a, 999, in, opt); !errors.Is(err, ErrNotRegistered) {
			m.fail("Reregister of an unregistered fd: %v, want ErrNotRegistered", err)
		}
		return
	}
	m.killTok(s)
	tok := m.newTok(s)
	m.logf("reregister slot %d token %d -> %d in %b opt %b", s.idx, s.tok, tok, in, opt)
	if err := m.l.Reregister(s.a, tok, in, opt); err != nil {
		m.fail("Reregister: %v", err)
	}
	s.tok, s.in, s.opt, s.fired = tok, in, opt, false
	s.edgeOwed()
}

func (m *hzModel) deregister(s *hzMSlot) {
	if !s.reg {
		if err := m.l.Deregister(s.a); !errors.Is(err, ErrNotRegistered) {
			m.fail("Deregister of an unregistered fd: %v, want ErrNotRegistered", err)
		}
		return
	}
	m.logf("deregister slot %d token %d", s.idx, s.tok)
	if err := m.l.Deregister(s.a); err != nil {
		m.fail("Deregister: %v", err)
	}
	m.killTok(s)
	s.reg = false
}

// retire puts away slot s's old pair: its peer and dup live on as a zombie
// when there is a dup, so that the old file can still become ready.
func (m *hzModel) retire(s *hzMSlot) {
	if s.dup < 0 {
		s.b.Close()
		return
	}
	if len(m.zombies) == hzModelZombie {
		z := m.zombies[0]
		unix.Close(z.dup)
		if z.peer != nil {
			z.peer.Close()
		}
		m.zombies = m.zombies[1:]
	}
	peer := s.b
	if s.peerGone {
		peer = nil
	}
	m.zombies = append(m.zombies, hzZombie{dup: s.dup, peer: peer})
}

// close closes slot s's fd with the library's Close, then reopens the slot;
// during a poll the new fd is registered at once, readable and writable,
// under a new token, so that a stale event for the old fd would reach it.
func (m *hzModel) close(s *hzMSlot) {
	m.logf("close slot %d fd %d (registered %v, dup %d)", s.idx, s.a.Fd(), s.reg, s.dup)
	num := s.a.Fd()
	if err := s.a.Close(); err != nil {
		m.fail("Close: %v", err)
	}
	if s.reg {
		m.killTok(s)
	}
	m.retire(s)
	m.open(s, num)
	if m.polling {
		m.register(s, byte(Readable|Writable))
	}
}

// rawClose closes slot s's fd behind the loop's back while a dup keeps the
// file (and so its epoll registration) alive, deregisters it, and puts a
// new fd on the same number.
func (m *hzModel) rawClose(s *hzMSlot) {
	if !s.reg || s.dup < 0 {
		m.close(s)
		return
	}
	num := s.a.Fd()
	m.logf("raw close slot %d fd %d token %d (dup %d)", s.idx, num, s.tok, s.dup)
	unix.Close(num)
	m.stats.rawCloses++
	if err := m.l.Deregister(s.a); err != nil {
		m.fail("Deregister after a raw close: %v", err)
	}
	s.a.fd = -1
	m.killTok(s)
	m.retire(s)
	m.open(s, num)
}

func (m *hzModel) dup(s *hzMSlot) {
	if s.dup >= 0 {
		return
	}
	d, err := unix.FcntlInt(uintptr(s.a.Fd()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		m.fail("dup: %v", err)
	}
	m.logf("dup slot %d fd %d -> %d", s.idx, s.a.Fd(), d)
	s.dup = d
}

func (m *hzModel) write(s *hzMSlot) {
	if s.peerGone {
		return
	}
	if _, err := unix.Write(s.b.Fd(), []byte{'w'}); err != nil {
		m.fail("write: %v", err)
	}
	m.logf("write slot %d", s.idx)
	s.data++
	if s.armed() && s.opt&Edge != 0 && s.in&Readable != 0 {
		s.owedR = true
	}
}

func (m *hzModel) drain(s *hzMSlot) {
	var buf [256]byte
	for {
		n, err := unix.Read(s.a.Fd(), buf[:])
		if err == unix.EAGAIN || (err == nil && n == 0) {
			break
		}
		if err != nil {
			m.fail("read: %v", err)
		}
	}
	m.logf("drain slot %d", s.idx)
	s.data = 0
	if !s.peerGone {
		// An edge whose data is gone is not reported: epoll looks at the
		// readiness again when it hands the event out.
		s.owedR = false
	}
}

func (m *hzModel) closePeer(s *hzMSlot) {
	if s.peerGone {
		return
	}
	m.logf("close peer of slot %d", s.idx)
	s.b.Close()
	s.peerGone = true
	if s.armed() && s.opt&Edge != 0 {
		// The hang-up is Readable(HupHint) for a reader; a write-only
		// registration hears it as Writable alone.
		s.owedR = s.in&Readable != 0
		s.owedW = s.in&Writable != 0
	}
}

func (m *hzModel) pokeZombies() {
	for _, z := range m.zombies {
		if z.peer != nil {
			unix.Write(z.peer.Fd(), []byte{'z'})
		}
	}
	m.logf("poke %d zombies", len(m.zombies))
}

// callback checks one callback against the model.
func (m *hzModel) callback(kind byte, tok Token, hint ReadHint) *hzMSlot {
	if !m.polling {
		m.fail("callback %c for token %d outside RunOnce", kind, tok)
	}
	s := m.live[tok]
	switch {
	case m.born[tok]:
		m.fail("%c callback for token %d, registered by a callback of this poll: a stale event reached it", kind, tok)
	case s == nil:
		m.fail("%c callback for token %d, whose registration has ended", kind, tok)
	case kind == 'r' && s.in&Readable == 0 && (hint&ErrorHint == 0 || hint&^ErrorHint != 0):
		m.fail("Readable(hint %b) for token %d registered for %b only: want ErrorHint alone", hint, tok, s.in)
	case kind == 'w' && s.in&Writable == 0:
		m.fail("Writable for token %d registered for %b only", tok, s.in)
	case s.opt&Oneshot != 0 && s.fired && !(kind == 'w' && m.lastTok == tok && m.lastKind == 'r'):
		m.fail("Oneshot token %d called again (%c) before Reregister", tok, kind)
	}
	got := m.gotR
	if kind == 'w' {
		got = m.gotW
	}
	if got[tok]++; got[tok] > 1 {
		m.fail("token %d got %d %c callbacks in one poll", tok, got[tok], kind)
	}
	if s.opt&Oneshot != 0 {
		s.fired = true
	}
	m.lastTok, m.lastKind = tok, kind
	m.stats.callbacks++
	if m.act != 0 {
		m.stats.inCallback++
		act, target, p := m.act, m.slots[m.actSlot], m.actP
		m.act = 0
		m.logf("in callback of token %d:", tok)
		switch act {
		case 1:
			m.deregister(target)
		case 2:
			m.reregister(target, p)
		case 3:
			m.close(target)
		}
	}
	return s
}

func (m *hzModel) Readable(_ *EventLoop[int], tok Token, hint ReadHint) { m.callback('r', tok, hint) }

func (m *hzModel) Writable(_ *EventLoop[int], tok Token) { m.callback('w', tok, 0) }

// poll runs RunOnce(0) and checks that nothing ready was lost.
func (m *hzModel) poll() {
	type want struct{ r, w bool }
	wants := map[*hzMSlot]want{}
	for _, s := range m.slots {
		s.touched = false
		if !s.armed() {
			continue
		}
		if s.opt&Edge != 0 {
			wants[s] = want{s.owedR, s.owedW}
		} else {
			wants[s] = want{s.in&Readable != 0 && (s.peerGone || s.data > 0), s.in&Writable != 0}
		}
	}
	m.logf("poll")
	m.stats.polls++
	m.polling, m.born, m.gotR, m.gotW, m.lastTok = true, map[Token]bool{}, map[Token]int{}, map[Token]int{}, 0
	err := m.l.RunOnce(m, 0)
	m.polling = false
	if err != nil {
		m.fail("RunOnce: %v", err)
	}
	for s, w := range wants {
		if s.touched {
			continue // a callback changed it; its expectations moved on
		}
		if w.r {
			m.stats.wantR++
		}
		if w.w {
			m.stats.wantW++
		}
		if w.r && m.gotR[s.tok] == 0 {
			m.fail("lost readiness: slot %d token %d (in %b opt %b, %d bytes, peer gone %v) got no Readable", s.idx, s.tok, s.in, s.opt, s.data, s.peerGone)
		}
		if w.w && m.gotW[s.tok] == 0 {
			m.fail("lost readiness: slot %d token %d (in %b opt %b) got no Writable", s.idx, s.tok, s.in, s.opt)
		}
		s.owedR, s.owedW = false, false
	}
}

func (m *hzModel) closeAll() {
	for _, s := range m.slots {
		if s.dup >= 0 {
			unix.Close(s.dup)
		}
		if err := s.a.Close(); err != nil {
			m.fail("Close: %v", err)
		}
		s.b.Close()
	}
	for _, z := range m.zombies {
		unix.Close(z.dup)
		if z.peer != nil {
			z.peer.Close()
		}
	}
	if err := m.l.Close(); err != nil {
		m.fail("loop Close: %v", err)
	}
}

// hzRunModel runs the operations the bytes encode, three bytes each:
// operation, slot, parameter.
func hzRunModel(t testing.TB, ops []byte) hzModelStats {
	checkNoFdLeaks(t)
	l, err := NewEventLoop[int](Config{})
	if err != nil {
		t.Fatal(err)
	}
	m := &hzModel{t: t, l: l, live: map[Token]*hzMSlot{}}
	for i := range m.slots {
		m.slots[i] = &hzMSlot{idx: i}
		m.open(m.slots[i], -1)
	}
	for n := 0; n < hzModelMaxOps && len(ops) >= 3; n++ {
		op, s, p := ops[0], m.slots[int(ops[1])%hzModelSlots], ops[2]
		ops = ops[3:]
		switch op % 13 {
		case 0, 1:
			m.register(s, p)
		case 2:
			m.reregister(s, p)
		case 3:
			m.deregister(s)
		case 4:
			m.close(s)
		case 5:
			m.dup(s)
		case 6:
			m.rawClose(s)
		case 7:
			m.write(s)
		case 8:
			m.drain(s)
		case 9:
			if p%4 == 0 {
				m.closePeer(s)
			} else {
				m.pokeZombies()
			}
		case 10:
			m.act, m.actSlot, m.actP = 1+p%3, s.idx, p>>2
			m.logf("arm in-callback action %d on slot %d", m.act, s.idx)
		default:
			m.poll()
		}
	}
	m.poll()
	m.closeAll()
	return m.stats
}

// hzModelOp encodes one operation for the seed corpus.
func hzModelOp(op, slot, p byte) []byte { return []byte{op, slot, p} }

func hzModelSeeds() [][]byte {
	cat := func(ops ...[]byte) []byte {
		var b []byte
		for _, o := range ops {
			b = append(b, o...)
		}
		return b
	}
	const (
		reg, rereg, dereg, clo, dup, raw, wr, drain, peer, act, poll = 0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
	)
	lvlR, lvlRW, edgeR, edgeRW, oneR, edgeOneRW := byte(1), byte(3), byte(1|4), byte(3|4), byte(1|8), byte(3|12)
	seeds := [][]byte{
		cat(hzModelOp(reg, 0, lvlR), hzModelOp(wr, 0, 0), hzModelOp(poll, 0, 0), hzModelOp(poll, 0, 0), hzModelOp(drain, 0, 0), hzModelOp(poll, 0, 0)),
		cat(hzModelOp(reg, 1, edgeR), hzModelOp(wr, 1, 0), hzModelOp(poll, 0, 0), hzModelOp(poll, 0, 0), hzModelOp(wr, 1, 0), hzModelOp(poll, 0, 0)),
		cat(hzModelOp(reg, 2, oneR), hzModelOp(wr, 2, 0), hzModelOp(poll, 0, 0), hzModelOp(wr, 2, 0), hzModelOp(poll, 0, 0), hzModelOp(rereg, 2, oneR), hzModelOp(poll, 0, 0)),
		cat(hzModelOp(reg, 3, lvlR), hzModelOp(dup, 3, 0), hzModelOp(raw, 3, 0), hzModelOp(reg, 3, lvlRW), hzModelOp(peer, 3, 1), hzModelOp(poll, 0, 0), hzModelOp(poll, 0, 0)),
		cat(hzModelOp(reg, 0, lvlR), hzModelOp(reg, 1, lvlR), hzModelOp(wr, 0, 0), hzModelOp(wr, 1, 0), hzModelOp(act, 1, 3), hzModelOp(poll, 0, 0), hzModelOp(poll, 0, 0)),
		cat(hzModelOp(reg, 0, lvlRW), hzModelOp(reg, 1, lvlRW), hzModelOp(act, 0, 2|lvlR<<2), hzModelOp(poll, 0, 0), hzModelOp(act, 1, 1), hzModelOp(poll, 0, 0)),
		cat(hzModelOp(reg, 4, edgeRW), hzModelOp(peer, 4, 0), hzModelOp(poll, 0, 0), hzModelOp(reg, 5, lvlR), hzModelOp(peer, 5, 0), hzModelOp(poll, 0, 0), hzModelOp(drain, 5, 0), hzModelOp(poll, 0, 0)),
		cat(hzModelOp(reg, 2, edgeOneRW), hzModelOp(wr, 2, 0), hzModelOp(poll, 0, 0), hzModelOp(wr, 2, 0), hzModelOp(poll, 0, 0), hzModelOp(rereg, 2, edgeOneRW), hzModelOp(poll, 0, 0)),
		cat(hzModelOp(reg, 1, lvlR), hzModelOp(dup, 1, 0), hzModelOp(clo, 1, 0), hzModelOp(reg, 1, lvlR), hzModelOp(peer, 0, 1), hzModelOp(poll, 0, 0)),
		cat(hzModelOp(reg, 0, lvlR), hzModelOp(rereg, 0, edgeR), hzModelOp(dereg, 0, 0), hzModelOp(dereg, 0, 0), hzModelOp(rereg, 0, 1), hzModelOp(reg, 0, 1), hzModelOp(reg, 0, 1), hzModelOp(poll, 0, 0)),
	}
	rng := rand.New(rand.NewPCG(6, 2))
	for range 12 {
		b := make([]byte, 3*hzModelMaxOps)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// The seed corpus exercises every part of the model: the checks below fail
// if a change to the decoding leaves FuzzLoopModel testing little.
func TestStressLoopModelSeedsCover(t *testing.T) {
	var sum hzModelStats
	for _, s := range hzModelSeeds() {
		st := hzRunModel(t, s)
		sum.callbacks += st.callbacks
		sum.wantR += st.wantR
		sum.wantW += st.wantW
		sum.inCallback += st.inCallback
		sum.rawCloses += st.rawCloses
		sum.polls += st.polls
	}
	t.Logf("seed corpus: %+v", sum)
	if sum.callbacks < 200 || sum.wantR < 50 || sum.wantW < 50 || sum.inCallback < 20 || sum.rawCloses < 5 || sum.polls < 100 {
		t.Fatalf("the seed corpus checks too little: %+v", sum)
	}
}

func FuzzLoopModel(f *testing.F) {
	for _, s := range hzModelSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ops []byte) {
		hzRunModel(t, ops)
	})
}
