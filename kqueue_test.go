package mio

import (
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"time"
)

func TestKqueueChanges(t *testing.T) {
	const (
		rc  = kfReceipt
		add = kfAdd | kfEnable | kfReceipt
		del = kfDelete | kfReceipt
	)
	for _, tc := range []struct {
		name    string
		old, in Interest
		opt     PollOpt
		want    []kchange
	}{
		{"add read level", 0, Readable, Level, []kchange{{7, kfRead, add}}},
		{"add write edge is EV_CLEAR", 0, Writable, Edge, []kchange{{7, kfWrite, add | kfClear}}},
		{"add both are separate filters", 0, Readable | Writable, Level,
			[]kchange{{7, kfRead, add}, {7, kfWrite, add}}},
		{"oneshot is EV_ONESHOT", 0, Readable, Oneshot, []kchange{{7, kfRead, add | kfOneshot}}},
		{"edge and oneshot", 0, Readable | Writable, Edge | Oneshot,
			[]kchange{{7, kfRead, add | kfClear | kfOneshot}, {7, kfWrite, add | kfClear | kfOneshot}}},
		{"modify R|W to R deletes write and adds no write", Readable | Writable, Readable, Level,
			[]kchange{{7, kfRead, del}, {7, kfRead, add}, {7, kfWrite, del}}},
		{"modify R to W", Readable, Writable, Edge,
			[]kchange{{7, kfRead, del}, {7, kfWrite, add | kfClear}}},
		{"modify R to R|W", Readable, Readable | Writable, Level,
			[]kchange{{7, kfRead, del}, {7, kfRead, add}, {7, kfWrite, add}}},
		{"remove both deletes each", Readable | Writable, 0, 0,
			[]kchange{{7, kfRead, del}, {7, kfWrite, del}}},
		{"remove write", Writable, 0, 0, []kchange{{7, kfWrite, del}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := kqueueChanges(7, tc.old, tc.in, tc.opt, false)
			if got := cs.slice(); !slices.Equal(got, tc.want) {
				t.Fatalf("changes\n got %+v\nwant %+v", got, tc.want)
			}
			for _, c := range cs.slice() {
				if c.flags&rc == 0 {
					t.Fatalf("change %+v lacks EV_RECEIPT", c)
				}
			}
		})
	}
}

// Level is the zero PollOpt: neither EV_CLEAR nor EV_ONESHOT may appear.
func TestKqueueLevelHasNoClearNorOneshot(t *testing.T) {
	for _, in := range []Interest{Readable, Writable, Readable | Writable} {
		for _, old := range []Interest{0, Readable, Writable, Readable | Writable} {
			cs := kqueueChanges(3, old, in, Level, false)
			for _, c := range cs.slice() {
				if c.flags&(kfClear|kfOneshot) != 0 {
					t.Fatalf("old %v in %v: level change %+v has %#x", old, in, c, c.flags)
				}
			}
		}
	}
}

func TestKqueueChangeFails(t *testing.T) {
	del := kchange{4, kfRead, kfDelete | kfReceipt}
	add := kchange{4, kfRead, kfAdd | kfEnable | kfReceipt}
	for _, tc := range []struct {
		name  string
		c     kchange
		errno syscall.Errno
		want  bool
	}{
		{"delete ok", del, 0, false},
		{"add ok", add, 0, false},
		{"delete ENOENT: oneshot fired or fd closed", del, syscall.ENOENT, false},
		{"delete EBADF counts", del, syscall.EBADF, true},
		{"add ENOENT counts", add, syscall.ENOENT, true},
		{"add EBADF", add, syscall.EBADF, true},
		{"add EINVAL", add, syscall.EINVAL, true},
	} {
		if got := kqueueChangeFails(tc.c, tc.errno); got != tc.want {
			t.Errorf("%s: kqueueChangeFails = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestKqueueOutcome(t *testing.T) {
	type errs = [kqueueMaxChanges]syscall.Errno
	for _, tc := range []struct {
		name     string
		old, in  Interest
		errs     errs
		want     syscall.Errno
		wantUndo []kchange
	}{
		{"all ok", 0, Readable | Writable, errs{}, 0, nil},
		{"remove after oneshot fired", Readable | Writable, 0, errs{syscall.ENOENT, syscall.ENOENT}, 0, nil},
		{"failed write add undoes read add", 0, Readable | Writable, errs{0, syscall.EINVAL}, syscall.EINVAL,
			[]kchange{{9, kfRead, kfDelete | kfReceipt}}},
		{"both adds failed: nothing to undo", 0, Readable | Writable, errs{syscall.EBADF, syscall.EBADF}, syscall.EBADF, nil},
		// [del R, add R, add W]: R was there before, so only W is undone.
		{"modify undoes only new filters", Readable, Readable | Writable, errs{0, syscall.ENOMEM, 0}, syscall.ENOMEM,
			[]kchange{{9, kfWrite, kfDelete | kfReceipt}}},
		{"modify keeps a filter old had", Readable, Readable | Writable, errs{0, 0, syscall.EINVAL}, syscall.EINVAL, nil},
		{"remove on closed fd", Readable, 0, errs{syscall.EBADF}, syscall.EBADF, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := kqueueChanges(9, tc.old, tc.in, Level, false)
			e := tc.errs
			got, undo, _ := kqueueOutcome(tc.old, &cs, &e, false)
			if got != tc.want {
				t.Fatalf("errno %v, want %v", got, tc.want)
			}
			if !slices.Equal(undo.slice(), tc.wantUndo) {
				t.Fatalf("undo\n got %+v\nwant %+v", undo.slice(), tc.wantUndo)
			}
		})
	}
}

// fakeKqueue models the kernel's filter table closely enough to check that
// the changes reach the intended state: like FreeBSD and DragonFly, EV_ADD on
// an existing filter keeps its EV_CLEAR and EV_ONESHOT bits.
type fakeKqueue struct {
	filters map[fakeKey]kflags
	closed  map[int]bool
	failAdd map[fakeKey]syscall.Errno
}

type fakeKey struct {
	ident  int
	filter kfilter
}

func newFakeKqueue() *fakeKqueue {
	return &fakeKqueue{filters: map[fakeKey]kflags{}, closed: map[int]bool{}, failAdd: map[fakeKey]syscall.Errno{}}
}

func (k *fakeKqueue) apply(cs *kchanges) (errs [kqueueMaxChanges]syscall.Errno) {
	for i, c := range cs.slice() {
		key := fakeKey{c.ident, c.filter}
		_, present := k.filters[key]
		switch {
		case k.closed[c.ident]:
			errs[i] = syscall.EBADF
		case c.flags&kfDelete != 0:
			if !present {
				errs[i] = syscall.ENOENT
			}
			delete(k.filters, key)
		case k.failAdd[key] != 0:
			errs[i] = k.failAdd[key]
		case c.flags&kfAdd != 0 && !present:
			k.filters[key] = c.flags & (kfClear | kfOneshot)
		}
	}
	return errs
}

// change does what poller.change does, against the model; fifo is optional.
func (k *fakeKqueue) change(fd int, old, in Interest, opt PollOpt, fifo ...bool) syscall.Errno {
	isFifo := len(fifo) > 0 && fifo[0]
	cs := kqueueChanges(fd, old, in, opt, isFifo)
	errs := k.apply(&cs)
	errno, undo, _ := kqueueOutcome(old, &cs, &errs, isFifo)
	if errno != 0 {
		k.apply(&undo)
	}
	return errno
}

// fire is a delivered event: a oneshot filter is dropped by the kernel.
func (k *fakeKqueue) fire(fd int, f kfilter) {
	key := fakeKey{fd, f}
	if k.filters[key]&kfOneshot != 0 {
		delete(k.filters, key)
	}
}

func (k *fakeKqueue) state(fd int) map[kfilter]kflags {
	m := map[kfilter]kflags{}
	for key, fl := range k.filters {
		if key.ident == fd {
			m[key.filter] = fl
		}
	}
	return m
}

func wantState(t *testing.T, k *fakeKqueue, fd int, want map[kfilter]kflags) {
	t.Helper()
	got := k.state(fd)
	if len(got) != len(want) {
		t.Fatalf("fd %d filters %v, want %v", fd, got, want)
	}
	for f, fl := range want {
		if g, ok := got[f]; !ok || g != fl {
			t.Fatalf("fd %d filters %v, want %v", fd, got, want)
		}
	}
}

func TestKqueueModifyReadWriteToReadDeletesWriteOnly(t *testing.T) {
	k := newFakeKqueue()
	if e := k.change(5, 0, Readable|Writable, Level); e != 0 {
		t.Fatal(e)
	}
	wantState(t, k, 5, map[kfilter]kflags{kfRead: 0, kfWrite: 0})
	if e := k.change(5, Readable|Writable, Readable, Level); e != 0 {
		t.Fatal(e)
	}
	wantState(t, k, 5, map[kfilter]kflags{kfRead: 0})
}

// A kept filter must take the new options even though EV_ADD alone would not
// change them.
func TestKqueueModifyChangesTriggerMode(t *testing.T) {
	k := newFakeKqueue()
	if e := k.change(5, 0, Readable, Edge|Oneshot); e != 0 {
		t.Fatal(e)
	}
	wantState(t, k, 5, map[kfilter]kflags{kfRead: kfClear | kfOneshot})
	if e := k.change(5, Readable, Readable, Level); e != 0 {
		t.Fatal(e)
	}
	wantState(t, k, 5, map[kfilter]kflags{kfRead: 0})
	if e := k.change(5, Readable, Readable|Writable, Edge); e != 0 {
		t.Fatal(e)
	}
	wantState(t, k, 5, map[kfilter]kflags{kfRead: kfClear, kfWrite: kfClear})
}

func TestKqueueOneshotFiredThenReregisterAndRemove(t *testing.T) {
	k := newFakeKqueue()
	if e := k.change(6, 0, Readable|Writable, Oneshot); e != 0 {
		t.Fatal(e)
	}
	k.fire(6, kfRead)
	wantState(t, k, 6, map[kfilter]kflags{kfWrite: kfOneshot})
	// Re-arming deletes the fired read filter (ENOENT, ignored) and adds it.
	if e := k.change(6, Readable|Writable, Readable|Writable, Oneshot); e != 0 {
		t.Fatalf("reregister after a oneshot fired: %v", e)
	}
	wantState(t, k, 6, map[kfilter]kflags{kfRead: kfOneshot, kfWrite: kfOneshot})
	k.fire(6, kfRead)
	k.fire(6, kfWrite)
	if e := k.change(6, Readable|Writable, 0, 0); e != 0 {
		t.Fatalf("deregister after both oneshot filters fired: %v", e)
	}
}

func TestKqueueRemoveAfterCloseAndReuse(t *testing.T) {
	k := newFakeKqueue()
	if e := k.change(8, 0, Readable, Level); e != 0 {
		t.Fatal(e)
	}
	// close(2) drops the fd's filters; the number is then reused.
	delete(k.filters, fakeKey{8, kfRead})
	if e := k.change(8, Readable, 0, 0); e != 0 {
		t.Fatalf("remove of a reused fd number: %v", e)
	}
	// Still closed: EBADF is the loop's to judge.
	k.closed[8] = true
	if e := k.change(8, Readable, 0, 0); e != syscall.EBADF {
		t.Fatalf("remove on a closed fd: %v, want EBADF", e)
	}
}

func TestKqueueFailedRegisterLeavesNothing(t *testing.T) {
	k := newFakeKqueue()
	k.failAdd[fakeKey{10, kfWrite}] = syscall.EINVAL
	if e := k.change(10, 0, Readable|Writable, Level); e != syscall.EINVAL {
		t.Fatalf("register: %v, want EINVAL", e)
	}
	wantState(t, k, 10, map[kfilter]kflags{})
}

func TestKqueueReadiness(t *testing.T) {
	const wakeFd = 3
	for _, tc := range []struct {
		name      string
		ev        kqEvent
		wakeIdent int
		want      readiness
		wake      bool
	}{
		{"read", kqEvent{ident: 9, filter: kfRead, data: 5}, -1, readyRead, false},
		{"write", kqEvent{ident: 9, filter: kfWrite, data: 4096}, -1, readyWrite, false},
		{"read EOF keeps read to drain", kqEvent{ident: 9, filter: kfRead, flags: kfEOF}, -1,
			readyRead | readyRdHup, false},
		{"read EOF with errno in fflags", kqEvent{ident: 9, filter: kfRead, flags: kfEOF, fflags: uint32(syscall.ECONNRESET)}, -1,
			readyRead | readyRdHup | readyErr, false},
		{"write EOF with errno in fflags", kqEvent{ident: 9, filter: kfWrite, flags: kfEOF, fflags: uint32(syscall.ECONNREFUSED)}, -1,
			readyWrite | readyHup | readyErr, false},
		{"fflags without EOF is not an error", kqEvent{ident: 9, filter: kfRead, fflags: 1, data: 5}, -1, readyRead, false},
		{"EV_ERROR", kqEvent{ident: 9, filter: kfWrite, flags: kfError, data: int64(syscall.EBADF)}, -1,
			readyWrite | readyErr, false},
		{"user filter is the wake-up", kqEvent{ident: 0, filter: kfUser}, -1, 0, true},
		{"wake pipe is the wake-up", kqEvent{ident: wakeFd, filter: kfRead}, wakeFd, 0, true},
		{"other fd beside wake pipe", kqEvent{ident: 4, filter: kfRead, data: 1}, wakeFd, readyRead, false},
		{"write on the wake pipe's number is not a wake-up", kqEvent{ident: wakeFd, filter: kfWrite}, wakeFd, readyWrite, false},
		{"no pipe: a read on fd 0 is no wake-up", kqEvent{ident: 0, filter: kfRead, data: 1}, -1, readyRead, false},
		{"unknown filter", kqEvent{ident: 9, filter: kfNone}, -1, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, wake := kqueueReadiness(tc.ev, tc.wakeIdent, 0)
			if r != tc.want || wake != tc.wake {
				t.Fatalf("got %05b wake=%v, want %05b wake=%v", r, wake, tc.want, tc.wake)
			}
		})
	}
}

// Our own shutdown(SHUT_WR) sets the socket's SBS_CANTSENDMORE, and the
// write filter then fires with EV_EOF and fflags 0 (so_error is 0): FreeBSD
// and NetBSD sys/kern/uipc_socket.c filt_sowrite, OpenBSD
// sys/kern/uipc_socket.c filt_sowrite, xnu bsd/kern/uipc_socket.c
// filt_sowrite_common. The peer may be alive; epoll reports only EPOLLOUT
// there, so this is Writable and no HupHint, under Level on every poll.
func TestKqueueWriteEOFOfOwnShutdownIsNoHangup(t *testing.T) {
	ev := kqEvent{ident: 9, filter: kfWrite, flags: kfEOF, data: 65536}
	r, _ := kqueueReadiness(ev, -1, 0)
	if r != readyWrite {
		t.Fatalf("write EOF, fflags 0: readiness %05b, want only readyWrite", r)
	}
	if h := r.readHint(); h != 0 {
		t.Fatalf("write EOF, fflags 0: Readable called with hint %03b", h)
	}
	if !r.wantsWritable(Writable) {
		t.Fatal("write EOF, fflags 0: no Writable")
	}
	// The same EOF with an errno is a failure: a reset peer (ECONNRESET)
	// sets both SBS_CANTSENDMORE and so_error.
	ev.fflags = uint32(syscall.ECONNRESET)
	if r, _ := kqueueReadiness(ev, -1, 0); r != readyWrite|readyHup|readyErr {
		t.Fatalf("write EOF with ECONNRESET: readiness %05b, want write, hup and error", r)
	}
	// Merged with the read filter's EV_EOF of a peer that closed, the
	// hang-up comes from the read side, as epoll's EPOLLRDHUP does.
	var s mergeScratch
	evs, _ := translateBatch([]kqEvent{
		{ident: 9, filter: kfWrite, flags: kfEOF}, {ident: 9, filter: kfRead, flags: kfEOF},
	}, -1, &s)
	if len(evs) != 1 || evs[0].ready.readHint() != DataHint|HupHint {
		t.Fatalf("both EOFs merged to %+v, want Readable(DataHint|HupHint)", evs)
	}
}

// An error reported through EV_EOF reaches both callbacks, as epoll's
// EPOLLERR does: Readable with ErrorHint, and Writable for a writer.
func TestKqueueEOFErrorReachesHandlers(t *testing.T) {
	r, _ := kqueueReadiness(kqEvent{ident: 9, filter: kfWrite, flags: kfEOF, fflags: uint32(syscall.ECONNREFUSED)}, -1, 0)
	if h := r.readHint(); h&ErrorHint == 0 || h&HupHint == 0 {
		t.Fatalf("hint %03b lacks ErrorHint or HupHint", h)
	}
	if !r.wantsWritable(Writable) {
		t.Fatal("a failed connect is not reported as Writable")
	}
	r, _ = kqueueReadiness(kqEvent{ident: 9, filter: kfRead, flags: kfEOF}, -1, 0)
	if h := r.readHint(); h != DataHint|HupHint {
		t.Fatalf("read EOF hint %03b, want data and hup", h)
	}
}

// translateBatch does what poller.translate does with a batch of portable
// events.
func translateBatch(raw []kqEvent, wakeIdent int, s *mergeScratch) (evs []event, woken bool) {
	return translateStates(raw, wakeIdent, nil, s)
}

// translateStates is translateBatch with the poller's state of each fd.
func translateStates(raw []kqEvent, wakeIdent int, st map[uint64]kfdState, s *mergeScratch) (evs []event, woken bool) {
	evs = make([]event, len(raw))
	n := 0
	for _, k := range raw {
		r, wake := kqueueReadiness(k, wakeIdent, st[k.ident])
		if wake {
			woken = true
			continue
		}
		if r == 0 {
			continue
		}
		evs[n] = event{fd: int32(k.ident), ready: r}
		n++
	}
	return mergeByFd(evs[:n], s), woken
}

// kqueue returns write before read as readily as read before write; the
// merged event still gives Readable first, then Writable.
func TestKqueueReadAndWriteFiltersMergeReadFirst(t *testing.T) {
	for _, order := range [][]kqEvent{
		{{ident: 5, filter: kfWrite}, {ident: 5, filter: kfRead, data: 1}},
		{{ident: 5, filter: kfRead, data: 1}, {ident: 5, filter: kfWrite}},
		{{ident: 5, filter: kfWrite}, {ident: 0, filter: kfUser}, {ident: 5, filter: kfRead, data: 1}},
	} {
		var s mergeScratch
		evs, _ := translateBatch(order, -1, &s)
		if len(evs) != 1 || evs[0].fd != 5 || evs[0].ready != readyRead|readyWrite {
			t.Fatalf("%+v merged to %+v, want one event for fd 5 with read and write", order, evs)
		}
		if evs[0].ready.readHint() == 0 || !evs[0].ready.wantsWritable(Readable|Writable) {
			t.Fatalf("merged event %+v does not give both callbacks", evs[0])
		}
	}
}

func TestKqueueWakeNotDeliveredAsEvent(t *testing.T) {
	var s mergeScratch
	evs, woken := translateBatch([]kqEvent{
		{ident: 3, filter: kfRead}, {ident: 4, filter: kfRead}, {ident: 3, filter: kfRead},
	}, 3, &s)
	if !woken || len(evs) != 1 || evs[0].fd != 4 {
		t.Fatalf("woken=%v events %+v, want woken and only fd 4", woken, evs)
	}
}

func TestMergeByFd(t *testing.T) {
	ev := func(fd int32, r readiness) event { return event{fd: fd, ready: r} }
	for _, tc := range []struct {
		name    string
		in, out []event
	}{
		{"empty", nil, []event{}},
		{"distinct fds untouched", []event{ev(3, readyRead), ev(1, readyWrite)},
			[]event{ev(3, readyRead), ev(1, readyWrite)}},
		{"adjacent pair", []event{ev(4, readyWrite), ev(4, readyRead)},
			[]event{ev(4, readyRead|readyWrite)}},
		{"non-adjacent duplicates keep first-seen order", []event{
			ev(5, readyWrite), ev(7, readyRead), ev(5, readyRead|readyRdHup), ev(9, readyWrite), ev(7, readyWrite|readyHup)},
			[]event{ev(5, readyWrite|readyRead|readyRdHup), ev(7, readyRead|readyWrite|readyHup), ev(9, readyWrite)}},
		{"large fd grows the scratch", []event{ev(100000, readyRead), ev(2, readyRead), ev(100000, readyWrite)},
			[]event{ev(100000, readyRead|readyWrite), ev(2, readyRead)}},
		{"negative fd passed through", []event{ev(-1, readyRead), ev(-1, readyWrite)},
			[]event{ev(-1, readyRead), ev(-1, readyWrite)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s mergeScratch
			got := mergeByFd(slices.Clone(tc.in), &s)
			if !slices.Equal(got, tc.out) {
				t.Fatalf("got %+v, want %+v", got, tc.out)
			}
		})
	}
}

// One batch's fds must not merge into the next batch's events, also when the
// epoch counter wraps and stamps of long ago would match again.
func TestMergeByFdBatchesIndependent(t *testing.T) {
	var s mergeScratch
	first := mergeByFd([]event{{fd: 8, ready: readyWrite}, {fd: 6, ready: readyRead}}, &s)
	if len(first) != 2 {
		t.Fatalf("first batch %+v", first)
	}
	second := mergeByFd([]event{{fd: 6, ready: readyWrite}, {fd: 8, ready: readyRead}}, &s)
	want := []event{{fd: 6, ready: readyWrite}, {fd: 8, ready: readyRead}}
	if !slices.Equal(second, want) {
		t.Fatalf("second batch %+v, want %+v", second, want)
	}

	// The first batch stamped epoch 1; the batch after the wrap is epoch 1
	// again.
	s = mergeScratch{}
	mergeByFd([]event{{fd: 6, ready: readyRead}}, &s)
	s.epoch = ^uint32(0)
	got := mergeByFd([]event{{fd: 9, ready: readyWrite}, {fd: 6, ready: readyRead}}, &s)
	want = []event{{fd: 9, ready: readyWrite}, {fd: 6, ready: readyRead}}
	if !slices.Equal(got, want) {
		t.Fatalf("batch after the epoch wrapped: %+v, want %+v", got, want)
	}
}

func mergeInput1000() []event {
	rng := rand.New(rand.NewPCG(1, 2))
	evs := make([]event, 0, 2000)
	for fd := range 1000 {
		evs = append(evs, event{fd: int32(fd), ready: readyRead}, event{fd: int32(fd), ready: readyWrite})
	}
	rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	return evs
}

func TestMergeByFd1000Fds(t *testing.T) {
	in := mergeInput1000()
	var order []int32
	seen := map[int32]bool{}
	for _, e := range in {
		if !seen[e.fd] {
			seen[e.fd] = true
			order = append(order, e.fd)
		}
	}
	var s mergeScratch
	got := mergeByFd(slices.Clone(in), &s)
	if len(got) != 1000 {
		t.Fatalf("%d events, want 1000", len(got))
	}
	for i, e := range got {
		if e.fd != order[i] || e.ready != readyRead|readyWrite {
			t.Fatalf("event %d is %+v, want fd %d with read and write", i, e, order[i])
		}
	}
}

func TestMergeByFdAllocatesNothing(t *testing.T) {
	in := mergeInput1000()
	buf := make([]event, len(in))
	var s mergeScratch
	copy(buf, in)
	mergeByFd(buf, &s) // the scratch grows once, to the largest fd
	n := 0
	allocs := testing.AllocsPerRun(100, func() {
		copy(buf, in)
		n = len(mergeByFd(buf, &s))
	})
	if allocs != 0 {
		t.Fatalf("mergeByFd allocates %v times per batch", allocs)
	}
	if n != 1000 {
		t.Fatalf("merged to %d events, want 1000", n)
	}
}

func TestKqueueSleep(t *testing.T) {
	for _, tc := range []struct {
		remaining, want time.Duration
		capped          bool
	}{
		{-1, -1, false},
		{0, 0, false},
		{time.Millisecond, time.Millisecond, false},
		{kqueueMaxSleep, kqueueMaxSleep, false},
		{kqueueMaxSleep + 1, kqueueMaxSleep, true},
		{1<<63 - 1, kqueueMaxSleep, true},
	} {
		d, capped := kqueueSleep(tc.remaining)
		if d != tc.want || capped != tc.capped {
			t.Errorf("kqueueSleep(%v) = %v, %v; want %v, %v", tc.remaining, d, capped, tc.want, tc.capped)
		}
	}
}

func TestKqueueRemaining(t *testing.T) {
	for _, tc := range []struct {
		timeout, elapsed, want time.Duration
	}{
		{-1, time.Hour, -1},
		{0, 0, 0},
		{time.Second, 300 * time.Millisecond, 700 * time.Millisecond},
		{time.Second, 2 * time.Second, 0},
	} {
		if got := kqueueRemaining(tc.timeout, tc.elapsed); got != tc.want {
			t.Errorf("kqueueRemaining(%v, %v) = %v, want %v", tc.timeout, tc.elapsed, got, tc.want)
		}
	}
}

// A write-only registration of a pipe's write end gets a read filter too,
// EV_CLEAR whatever the options (kqueueWatchFlags); a read end, registered
// Readable, does not; modify and remove delete the watch.
func TestKqueuePipeWriteEndGetsWatch(t *testing.T) {
	const (
		add   = kfAdd | kfEnable | kfReceipt
		del   = kfDelete | kfReceipt
		watch = add | kfClear
	)
	for _, tc := range []struct {
		name    string
		old, in Interest
		opt     PollOpt
		want    []kchange
	}{
		{"write end: write and watch", 0, Writable, Level, []kchange{{7, kfRead, watch}, {7, kfWrite, add}}},
		{"edge write end", 0, Writable, Edge, []kchange{{7, kfRead, watch}, {7, kfWrite, add | kfClear}}},
		{"oneshot write end", 0, Writable, Oneshot,
			[]kchange{{7, kfRead, watch | kfOneshot}, {7, kfWrite, add | kfOneshot}}},
		{"read end: no watch", 0, Readable, Level, []kchange{{7, kfRead, add}}},
		{"read and write: the read filter is the real one", 0, Readable | Writable, Level,
			[]kchange{{7, kfRead, add}, {7, kfWrite, add}}},
		{"remove deletes the watch", Writable, 0, 0, []kchange{{7, kfRead, del}, {7, kfWrite, del}}},
		{"re-arm replaces the watch", Writable, Writable, Oneshot,
			[]kchange{{7, kfRead, del}, {7, kfRead, watch | kfOneshot}, {7, kfWrite, del}, {7, kfWrite, add | kfOneshot}}},
		{"to read and write: watch becomes the read filter", Writable, Readable | Writable, Level,
			[]kchange{{7, kfRead, del}, {7, kfRead, add}, {7, kfWrite, del}, {7, kfWrite, add}}},
		{"to read only: watch deleted, read added", Writable, Readable, Level,
			[]kchange{{7, kfRead, del}, {7, kfRead, add}, {7, kfWrite, del}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := kqueueChanges(7, tc.old, tc.in, tc.opt, true)
			if got := cs.slice(); !slices.Equal(got, tc.want) {
				t.Fatalf("changes\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	// Not a pipe: a write-only registration is the write filter alone.
	sock := kqueueChanges(7, 0, Writable, Level, false)
	if got := sock.slice(); len(got) != 1 || got[0].filter != kfWrite {
		t.Fatalf("socket write-only registration: %+v", got)
	}
}

// The reader closes a full pipe. NetBSD's pipeclose and OpenBSD's
// pipe_destroy (sys/kern/sys_pipe.c) wake the closing end's knote list,
// where the writer's EVFILT_WRITE knote hangs, before marking it PIPE_EOF,
// so filt_pipewrite sees no room and no EOF and does not fire; the list is
// then cleared (NetBSD) or freed with the pair (OpenBSD). They wake the
// writer's own list after marking the reader, and filt_piperead of a read
// knote on the write end fires with EV_EOF (NetBSD: peer PIPE_EOF; OpenBSD:
// pipe_peer() is NULL; FreeBSD: the peer's pipeclose sets PIPE_EOF on the
// write end). Go's runtime, src/runtime/netpoll_kqueue.go, relies on the
// same. That lone event must reach the writer as epoll's EPOLLERR does:
// Writable, and Readable(ErrorHint), never DataHint.
func TestKqueuePipeReaderCloseReachesWriterThroughWatch(t *testing.T) {
	k := newFakeKqueue()
	if e := k.change(7, 0, Writable, Level, true); e != 0 {
		t.Fatal(e)
	}
	wantState(t, k, 7, map[kfilter]kflags{kfRead: kfClear, kfWrite: 0})
	st := map[uint64]kfdState{7: kqueueFdState(true, Writable, Level)}
	var s mergeScratch
	evs, _ := translateStates([]kqEvent{{ident: 7, filter: kfRead, flags: kfEOF}}, -1, st, &s)
	if len(evs) != 1 || evs[0].ready != readyWrite|readyErr {
		t.Fatalf("watch EOF translated to %+v, want fd 7 write and error", evs)
	}
	if h := evs[0].ready.readHint(); h != ErrorHint {
		t.Fatalf("watch EOF: Readable hint %03b, want ErrorHint only", h)
	}
	if !evs[0].ready.wantsWritable(Writable) {
		t.Fatal("watch EOF: no Writable")
	}
	// Data the watch reports (a pipe written both ways) is nobody's.
	evs, _ = translateStates([]kqEvent{{ident: 7, filter: kfRead, data: 10}}, -1, st, &s)
	if len(evs) != 0 {
		t.Fatalf("watch without EOF delivered %+v", evs)
	}
	// Where the write knote does fire (FreeBSD marks the reader PIPE_EOF
	// before waking it), its EV_EOF, fflags 0, means the same, and merges.
	evs, _ = translateStates([]kqEvent{
		{ident: 7, filter: kfWrite, flags: kfEOF}, {ident: 7, filter: kfRead, flags: kfEOF},
	}, -1, st, &s)
	if len(evs) != 1 || evs[0].ready != readyWrite|readyErr {
		t.Fatalf("write and watch EOF merged to %+v, want one write and error", evs)
	}
	// A pipe's read end registered Readable keeps its read filter: the
	// writer's close is data and hang-up.
	rd := map[uint64]kfdState{8: kqueueFdState(true, Readable, Level)}
	evs, _ = translateStates([]kqEvent{{ident: 8, filter: kfRead, flags: kfEOF, data: 3}}, -1, rd, &s)
	if len(evs) != 1 || evs[0].ready.readHint() != DataHint|HupHint {
		t.Fatalf("read end EOF translated to %+v", evs)
	}
	if e := k.change(7, Writable, 0, 0, true); e != 0 {
		t.Fatal(e)
	}
	wantState(t, k, 7, map[kfilter]kflags{})
}

// A Oneshot watch fired and was dropped by the kernel; re-arming deletes it
// (ENOENT, ignored) and adds it again.
func TestKqueuePipeWatchOneshotRearm(t *testing.T) {
	k := newFakeKqueue()
	if e := k.change(7, 0, Writable, Oneshot, true); e != 0 {
		t.Fatal(e)
	}
	k.fire(7, kfRead)
	if e := k.change(7, Writable, Writable, Oneshot, true); e != 0 {
		t.Fatalf("re-arm after the watch fired: %v", e)
	}
	wantState(t, k, 7, map[kfilter]kflags{kfRead: kfClear | kfOneshot, kfWrite: kfOneshot})
}

// The reader closed before the writer registers. pipe_kqfilter
// (sys/kern/sys_pipe.c) refuses EVFILT_WRITE on a pipe whose peer is gone:
// EPIPE on FreeBSD (peer not PIPE_ACTIVE), OpenBSD (pipe_peer() NULL) and
// DragonFly (peer buffer PIPE_CLOSED), EBADF on NetBSD (pipe_peer NULL).
// Linux registers it and reports EPOLLERR, so this is a success, and the
// event is the poller's to deliver.
func TestKqueueRegisterPipeWhoseReaderClosed(t *testing.T) {
	type errs = [kqueueMaxChanges]syscall.Errno
	for _, tc := range []struct {
		name     string
		old, in  Interest
		fifo     bool
		errs     errs
		want     syscall.Errno
		wantGone bool
	}{
		// [add watch, add W]
		{"FreeBSD, OpenBSD, DragonFly", 0, Writable, true, errs{0, syscall.EPIPE}, 0, true},
		{"NetBSD", 0, Writable, true, errs{0, syscall.EBADF}, 0, true},
		// [add R, add W]
		{"read and write", 0, Readable | Writable, true, errs{0, syscall.EPIPE}, 0, true},
		// Reregister: [del watch, add watch, del W (never added: ENOENT), add W]
		{"reregister", Writable, Writable, true, errs{0, 0, syscall.ENOENT, syscall.EPIPE}, 0, true},
		// A closed fd fails the read filter's add first.
		{"closed fd", 0, Writable, true, errs{syscall.EBADF, syscall.EBADF}, syscall.EBADF, false},
		{"not a pipe: EPIPE counts", 0, Writable, false, errs{syscall.EPIPE}, syscall.EPIPE, false},
		{"not a pipe: EBADF counts", 0, Writable, false, errs{syscall.EBADF}, syscall.EBADF, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := kqueueChanges(9, tc.old, tc.in, Oneshot, tc.fifo)
			e := tc.errs
			got, undo, gone := kqueueOutcome(tc.old, &cs, &e, tc.fifo)
			if got != tc.want || gone != tc.wantGone {
				t.Fatalf("errno %v gone %v, want %v gone %v", got, gone, tc.want, tc.wantGone)
			}
			if got == 0 && undo.n != 0 {
				t.Fatalf("success with undo %+v", undo.slice())
			}
		})
	}
}

// Reregister deletes before it adds: with the reader gone, the add fails
// again, and the registration must still report, each time it is armed.
func TestKqueueReregisterPipeWhoseReaderClosedReports(t *testing.T) {
	k := newFakeKqueue()
	k.failAdd[fakeKey{7, kfWrite}] = syscall.EPIPE
	var q kqueuePending
	change := func(old, in Interest) {
		t.Helper()
		cs := kqueueChanges(7, old, in, Oneshot, true)
		errs := k.apply(&cs)
		errno, _, gone := kqueueOutcome(old, &cs, &errs, true)
		if errno != 0 || !gone {
			t.Fatalf("change %v -> %v: %v gone %v, want success with the reader gone", old, in, errno, gone)
		}
		q.add(7, kqueueGoneRepeats(kqueueFdState(true, in, Oneshot)))
	}
	change(0, Writable)
	change(Writable, Writable) // before any wait: still one event
	evs := make([]event, 4)
	if n := q.take(evs); n != 1 || evs[0] != (event{fd: 7, ready: kqueueReaderGone}) {
		t.Fatalf("first wait: %d events %+v", n, evs[:n])
	}
	if n := q.take(evs); n != 0 {
		t.Fatalf("delivered twice: %+v", evs[:n])
	}
	k.fire(7, kfRead) // the Oneshot watch fired too
	change(Writable, Writable)
	if n := q.take(evs); n != 1 {
		t.Fatal("re-armed registration reported nothing")
	}
	h := kqueueReaderGone.readHint()
	if h != ErrorHint || !kqueueReaderGone.wantsWritable(Writable) {
		t.Fatalf("reader gone: hint %03b, want Writable and Readable(ErrorHint) like EPOLLERR", h)
	}
}

func TestKqueuePending(t *testing.T) {
	var q kqueuePending
	q.add(5, false)
	q.add(6, false)
	q.add(5, false)
	q.add(8, false)
	q.drop(6)
	evs := make([]event, 1)
	if n := q.take(evs); n != 1 || evs[0].fd != 5 {
		t.Fatalf("take into room for one: %d %+v", n, evs)
	}
	if n := q.take(evs[:0]); n != 0 || q.len() != 1 {
		t.Fatalf("take into no room: %d, %d left", n, q.len())
	}
	evs = make([]event, 4)
	if n := q.take(evs); n != 1 || evs[0].fd != 8 || q.len() != 0 {
		t.Fatalf("rest: %d %+v", n, evs[:n])
	}
	q.add(3, false)
	q.take(evs)
	if allocs := testing.AllocsPerRun(100, func() { q.add(3, false); q.drop(4); q.take(evs) }); allocs != 0 {
		t.Fatalf("pending allocates %v per round", allocs)
	}
}

// epoll repeats EPOLLERR on every poll for a Level registration of a pipe
// whose reader closed; kqueue's watch is edge-triggered and, on NetBSD and
// OpenBSD, the write knote is detached without firing, so the poller
// repeats the event itself for Level, and only then: Edge and Oneshot hear
// it once. Queued fds take turns when they do not all fit.
func TestKqueuePipeReaderGoneRepeatsUnderLevel(t *testing.T) {
	var q kqueuePending
	for _, opt := range []PollOpt{Edge, Oneshot, Edge | Oneshot} {
		q.noteGone(7, kqueueReaderGone, kqueueFdState(true, Writable, opt))
		if q.len() != 0 {
			t.Fatalf("opt %d: queued to repeat", opt)
		}
	}
	q.noteGone(7, readyWrite, kqueueFdState(true, Writable, Level))
	q.noteGone(9, kqueueReaderGone, kqueueFdState(false, Writable, Level))
	if q.len() != 0 {
		t.Fatal("queued for plain writability, or for a socket")
	}
	q.noteGone(7, kqueueReaderGone, kqueueFdState(true, Writable, Level))
	q.add(8, true)
	q.add(5, false)
	evs := make([]event, 1)
	var got []int32
	for range 5 {
		if n := q.take(evs); n != 1 || evs[0].ready != kqueueReaderGone {
			t.Fatalf("take: %d %+v", n, evs[0])
		}
		got = append(got, evs[0].fd)
	}
	if want := []int32{7, 8, 5, 7, 8}; !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v (5 once, 7 and 8 in turn)", got, want)
	}
	q.drop(7)
	q.drop(8)
	if q.len() != 0 {
		t.Fatalf("%d left after dropping both", q.len())
	}
	q.add(7, true)
	evs = make([]event, 4)
	if allocs := testing.AllocsPerRun(100, func() { q.take(evs) }); allocs != 0 {
		t.Fatalf("a repeating take allocates %v", allocs)
	}
}

// A receipt is the change itself, flags EV_ERROR, data its errno, written in
// the order of the changes (FreeBSD sys/kern/kern_event.c kqueue_kevent,
// OpenBSD sys/kern/kern_event.c sys_kevent). Anything else in its place
// leaves the change unanswered, which is no success.
func TestKqueueReceiptsMatchTheirChanges(t *testing.T) {
	cs := kqueueChanges(9, 0, Readable|Writable, Level, false) // [add R, add W]
	receipt := func(c kchange, errno syscall.Errno) kqEvent {
		return kqEvent{ident: uint64(c.ident), filter: c.filter, flags: kfError, data: int64(errno)}
	}
	r, w := cs.list[0], cs.list[1]
	type errs = [kqueueMaxChanges]syscall.Errno
	for _, tc := range []struct {
		name string
		out  []kqEvent
		want errs
	}{
		{"both answered", []kqEvent{receipt(r, 0), receipt(w, syscall.EINVAL)}, errs{0, syscall.EINVAL}},
		{"an event in a receipt's place (EV_RECEIPT ignored)",
			[]kqEvent{{ident: 9, filter: kfRead, data: 10}, receipt(w, 0)}, errs{kqueueNoReceipt, 0}},
		{"receipts out of order", []kqEvent{receipt(w, 0), receipt(r, 0)}, errs{kqueueNoReceipt, kqueueNoReceipt}},
		{"another fd's receipt", []kqEvent{receipt(kchange{ident: 10, filter: kfRead}, 0), receipt(w, 0)},
			errs{kqueueNoReceipt, 0}},
		{"one answer for two changes", []kqEvent{receipt(r, 0)}, errs{0, kqueueNoReceipt}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got errs
			kqueueReceipts(&cs, tc.out, &got)
			if got != tc.want {
				t.Fatalf("errs %v, want %v", got, tc.want)
			}
		})
	}
	// An add left unanswered may be in the kernel: a failed Register
	// undoes it as well as the adds that were answered.
	e := errs{kqueueNoReceipt, syscall.EINVAL}
	errno, undo, _ := kqueueOutcome(0, &cs, &e, false)
	if errno != kqueueNoReceipt || !slices.Equal(undo.slice(), []kchange{{9, kfRead, kfDelete | kfReceipt}}) {
		t.Fatalf("unanswered add: errno %v undo %+v", errno, undo.slice())
	}
}

// Given no room for receipts, FreeBSD's kqueue_kevent returns after the
// first change that asks for one; OpenBSD's sys_kevent and DragonFly's
// kern_kevent stop there too. Every change list, undo lists included, gets
// an event list as long as itself.
func TestKqueueReceiptRoom(t *testing.T) {
	all := []Interest{0, Readable, Writable, Readable | Writable}
	for _, fifo := range []bool{false, true} {
		for _, old := range all {
			for _, in := range all {
				for _, opt := range []PollOpt{Level, Edge, Oneshot} {
					cs := kqueueChanges(4, old, in, opt, fifo)
					if room := kqueueReceiptRoom(&cs); room != cs.n {
						t.Fatalf("%v -> %v: room %d for %d changes", old, in, room, cs.n)
					}
					var e [kqueueMaxChanges]syscall.Errno
					for i := range e {
						e[i] = syscall.EINVAL
					}
					e[0] = 0
					if _, undo, _ := kqueueOutcome(old, &cs, &e, fifo); kqueueReceiptRoom(&undo) != undo.n {
						t.Fatalf("undo %+v lacks receipts", undo.slice())
					}
				}
			}
		}
	}
}

// FreeBSD's kqueue_register looks up the fd with fget and the CAP_EVENT
// right (sys/kern/kern_event.c) before it looks for the knote: a delete on
// a number now naming a Capsicum-limited file answers ENOTCAPABLE. Our
// filters went with the close, as with ENOENT.
func TestKqueueDeleteENOTCAPABLEIsGone(t *testing.T) {
	del := kchange{4, kfRead, kfDelete | kfReceipt}
	add := kchange{4, kfRead, kfAdd | kfEnable | kfReceipt}
	if kqueueChangeFails(del, kqueueENOTCAPABLE) {
		t.Fatal("delete answered ENOTCAPABLE counts as a failure")
	}
	if !kqueueChangeFails(add, kqueueENOTCAPABLE) {
		t.Fatal("add answered ENOTCAPABLE does not count")
	}
}

// The read filter fires for a pending so_error on a socket that can still
// receive, an ICMP error on a UDP socket, without EV_EOF, with data 0 (the
// "temporary udp error" branch of filt_soread in FreeBSD's, NetBSD's and
// OpenBSD's sys/kern/uipc_socket.c, filt_soread_common in xnu's
// bsd/kern/uipc_socket.c). epoll's EPOLLERR gives ErrorHint and Writable.
func TestKqueueSocketErrorWithoutEOFIsError(t *testing.T) {
	r, _ := kqueueReadiness(kqEvent{ident: 9, filter: kfRead}, -1, 0)
	if r.readHint()&ErrorHint == 0 {
		t.Fatalf("read filter with nothing queued: hint %03b lacks ErrorHint", r.readHint())
	}
	if !r.wantsWritable(Readable | Writable) {
		t.Fatal("socket error not reported as Writable to a writer")
	}
	if r, _ := kqueueReadiness(kqEvent{ident: 9, filter: kfRead, data: 1}, -1, 0); r != readyRead {
		t.Fatalf("read filter with data: %05b, want readyRead", r)
	}
}
