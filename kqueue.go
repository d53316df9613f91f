package mio

import (
	"slices"
	"syscall"
	"time"
)

// This file holds every decision of the kqueue poller in a portable form, so
// that it compiles and is tested on Linux too; poller_kqueue.go only moves
// these values in and out of unix.Kevent_t. The enums below are this
// package's own: the unix.EV_* and EVFILT_* constants do not exist on Linux,
// and their values differ between the BSDs (NetBSD numbers its filters from
// zero, the others from -1 downwards).

// kfilter names a kqueue filter.
type kfilter uint8

const (
	kfNone  kfilter = iota // a filter this package never registers
	kfRead                 // EVFILT_READ
	kfWrite                // EVFILT_WRITE
	kfUser                 // EVFILT_USER, the wake-up event where the system has it
)

// kflags is the flags word of a change or of a returned event.
type kflags uint16

const (
	kfAdd     kflags = 1 << iota // EV_ADD
	kfDelete                     // EV_DELETE
	kfEnable                     // EV_ENABLE
	kfClear                      // EV_CLEAR: report transitions only (Edge)
	kfOneshot                    // EV_ONESHOT: the kernel drops the filter once it fires
	kfReceipt                    // EV_RECEIPT: answer every change, success or not
	kfEOF                        // EV_EOF, only in returned events
	kfError                      // EV_ERROR, only in returned events
)

// kchange is one entry of a kevent change list.
type kchange struct {
	ident  int
	filter kfilter
	flags  kflags
}

// kqueueMaxChanges bounds the changes of one registration call: delete and
// add for each of the two filters.
const kqueueMaxChanges = 4

// kchanges is a change list in a fixed array, so that building it never
// allocates.
type kchanges struct {
	list [kqueueMaxChanges]kchange
	n    int
}

func (c *kchanges) push(ident int, f kfilter, fl kflags) {
	c.list[c.n] = kchange{ident: ident, filter: f, flags: fl}
	c.n++
}

// slice returns the changes in the order they must be applied.
func (c *kchanges) slice() []kchange { return c.list[:c.n] }

// kfdState is what the poller remembers of one registered fd between the
// calls that register it and the events it returns.
type kfdState uint8

const (
	kfdFifo  kfdState = 1 << iota // fstat said S_IFIFO when it was registered
	kfdWatch                      // its read filter is the pipe watch (kqueueWatches)
	kfdLevel                      // registered Level: neither Edge nor Oneshot
)

// kqueueENOTCAPABLE is FreeBSD's ENOTCAPABLE (sys/errno.h), named here so
// that the rules using it compile and are tested everywhere
// (poller_kqueue_freebsd.go checks the number). The other kqueue systems
// give 93 to ENOATTR, ENOTRECOVERABLE or ENOMEDIUM, none of which kevent
// answers to a delete.
const kqueueENOTCAPABLE = syscall.Errno(93)

// kqueueChanges turns a registration change into kevent changes. Add passes
// old = 0, remove passes in = 0; modify passes both. fifo says the fd is a
// pipe or FIFO.
//
// Read and write are separate filters in kqueue, each added and deleted on
// its own. Every change carries kfReceipt, so the kernel answers each one
// with its own errno (see kqueueChangeFails) instead of stopping at the first
// failure, and so that no pending event is returned in the receipts' place.
//
// A filter kept across a modify is deleted and then added again in the same
// call rather than only added: EV_ADD on an existing filter updates its
// fflags and data but not its EV_CLEAR and EV_ONESHOT bits (FreeBSD keeps
// them from the first add), so a Reregister from Edge to Level or from
// Oneshot to Level would otherwise not take effect. Like EPOLL_CTL_MOD, the
// fresh filter reports the fd at once if it is ready now.
//
// Edge maps to EV_CLEAR and Oneshot to EV_ONESHOT; with neither the filter
// is level-triggered. EV_ONESHOT drops only the filter that fired, so the
// loop also disarms the whole registration after one delivered event.
func kqueueChanges(fd int, old, in Interest, opt PollOpt, fifo bool) kchanges {
	add := kfAdd | kfEnable | kfReceipt
	if opt&Edge != 0 {
		add |= kfClear
	}
	if opt&Oneshot != 0 {
		add |= kfOneshot
	}
	var c kchanges
	for _, f := range [2]kfilter{kfRead, kfWrite} {
		if kqueueHas(old, fifo, f) {
			c.push(fd, f, kfDelete|kfReceipt)
		}
		if in&f.interest() != 0 {
			c.push(fd, f, add)
		} else if f == kfRead && kqueueWatches(fifo, in) {
			c.push(fd, f, kqueueWatchFlags(add))
		}
	}
	return c
}

// kqueueWatches decides whether a registration of a pipe or FIFO gets the
// pipe watch: a read filter that stands for nothing but the reader's close.
// FreeBSD, OpenBSD and NetBSD detach a writer's write knote without firing
// it when the reader closes a full pipe: the write knote hangs on the
// reader's knote list, which pipeclose (FreeBSD, NetBSD sys/kern/sys_pipe.c)
// or pipe_destroy (OpenBSD) wakes, on NetBSD and OpenBSD before the reader
// is marked PIPE_EOF, so that filt_pipewrite still sees a full, live pipe,
// and then clears. The writer's own list is woken after the reader is
// marked, and a read knote on the write end hangs there: filt_piperead sees
// the peer gone and fires with EV_EOF. Go's runtime relies on the same
// (src/runtime/netpoll_kqueue.go).
//
// Only a registration without read interest gets it: with read interest the
// read filter is there already, and the interest says which end this is, as
// kqueue cannot tell on FreeBSD, whose pipe(2) opens both ends for reading
// and writing (kern_pipe). A read end registered Readable so never gets the
// watch.
func kqueueWatches(fifo bool, in Interest) bool {
	return fifo && in&Writable != 0 && in&Readable == 0
}

// kqueueWatchFlags are the watch's flags, given a registration's add flags:
// always EV_CLEAR, so that a watch that reports data rather than the close
// (a pipe written in both directions, or a read end registered Writable)
// fires once per write and is dropped by kqueueReadiness, rather than
// level-triggered on every poll, which would spin the loop. Under Level the
// poller repeats the close itself on every wait, as epoll repeats EPOLLERR
// (kqueuePending.noteGone).
func kqueueWatchFlags(add kflags) kflags {
	return add | kfClear
}

// kqueueHas reports whether a registration of interest in holds a filter.
func kqueueHas(in Interest, fifo bool, f kfilter) bool {
	return in&f.interest() != 0 || f == kfRead && kqueueWatches(fifo, in)
}

// kqueueFdState is what the poller remembers of a registration.
func kqueueFdState(fifo bool, in Interest, opt PollOpt) kfdState {
	var st kfdState
	if opt&(Edge|Oneshot) == 0 {
		st |= kfdLevel
	}
	if fifo {
		st |= kfdFifo
	}
	if kqueueWatches(fifo, in) {
		st |= kfdWatch
	}
	return st
}

// kqueueChangeFails decides whether the errno from one change's receipt
// counts as a failure. ENOENT from a delete does not: the filter was already
// gone, because a Oneshot filter fired and the kernel dropped it, or because
// close(2) dropped every filter of the fd and the number was reused.
// Neither does FreeBSD's ENOTCAPABLE: kqueue_register looks the fd up with
// fget and the CAP_EVENT right before it looks for the knote, so the number
// now names a Capsicum-limited file, not ours, whose filters close(2) took. Every
// other errno counts, including EBADF from a delete on a closed fd, which
// the loop's Deregister recognises on its own.
func kqueueChangeFails(c kchange, errno syscall.Errno) bool {
	if errno == 0 {
		return false
	}
	if c.flags&kfDelete != 0 && (errno == syscall.ENOENT || errno == kqueueENOTCAPABLE) {
		return false
	}
	return true
}

// kqueueOutcome reads the receipts of a change list, errs[i] answering
// cs.list[i]. It returns the first errno that counts, and when there is one,
// the deletes that undo the filters this call added and old did not have: a
// failed Register must leave nothing behind, or a level-triggered filter
// nobody owns would wake every poll. A filter that old had is left as the
// call left it; Deregister deletes it, tolerating ENOENT.
//
// gone reports that the write filter of a pipe could not be added because
// its reader has closed (kqueueReaderGoneOnAdd). That counts as success:
// the poller delivers the event the kernel would not.
func kqueueOutcome(old Interest, cs *kchanges, errs *[kqueueMaxChanges]syscall.Errno, fifo bool) (errno syscall.Errno, undo kchanges, gone bool) {
	var first syscall.Errno
	for i, c := range cs.slice() {
		if kqueueReaderGoneOnAdd(c, errs[i], fifo) {
			gone = true
			continue
		}
		if kqueueChangeFails(c, errs[i]) {
			first = errs[i]
			break
		}
	}
	if first == 0 {
		return 0, undo, gone
	}
	for i, c := range cs.slice() {
		applied := errs[i] == 0 || errs[i] == kqueueNoReceipt
		if c.flags&kfAdd == 0 || !applied || kqueueHas(old, fifo, c.filter) {
			continue
		}
		undo.push(c.ident, c.filter, kfDelete|kfReceipt)
	}
	return first, undo, false
}

// kqueueReaderGoneOnAdd recognises the write filter's EV_ADD on a pipe
// whose reader has closed: pipe_kqfilter (sys/kern/sys_pipe.c) answers EPIPE
// on FreeBSD, OpenBSD and DragonFly, EBADF on NetBSD, where Linux registers
// the fd and reports EPOLLERR. The fd itself is valid: fstat found it a
// FIFO, and the read filter, added before the write filter whenever a pipe
// is registered for writing (the watch or read interest), would have failed
// with EBADF first on a closed fd.
func kqueueReaderGoneOnAdd(c kchange, errno syscall.Errno, fifo bool) bool {
	return fifo && c.filter == kfWrite && c.flags&kfAdd != 0 &&
		(errno == syscall.EPIPE || errno == syscall.EBADF)
}

// kqueuePending holds the fds whose pipe reader is gone and whose event the
// kernel will not give (again), until a wait delivers it (kqueueReaderGone),
// so that such a registration reports as it does on Linux: once, for an
// edge-triggered or Oneshot registration, and on every wait, for a Level
// one, as epoll repeats EPOLLERR every poll. A registration that found the
// reader gone when it was added, and a Level one whose watch saw the
// reader's close, are queued. The fds are few, and the slice keeps its
// memory, so a wait allocates nothing.
type kqueuePending struct {
	fds []kqueueGone
}

// kqueueGone is one queued fd; repeat keeps it queued after delivery.
type kqueueGone struct {
	fd     int32
	repeat bool
}

func (q *kqueuePending) len() int { return len(q.fds) }

// add queues fd once, however often it was re-registered before a wait;
// repeat is the latest registration's.
func (q *kqueuePending) add(fd int, repeat bool) {
	for i := range q.fds {
		if q.fds[i].fd == int32(fd) {
			q.fds[i].repeat = repeat
			return
		}
	}
	q.fds = append(q.fds, kqueueGone{fd: int32(fd), repeat: repeat})
}

// drop forgets fd: it was registered again without finding the reader gone,
// or removed; an fd number reused after a removal must not inherit it.
func (q *kqueuePending) drop(fd int) {
	if len(q.fds) == 0 {
		return // the common case, on every Reregister: nothing to search
	}
	q.fds = slices.DeleteFunc(q.fds, func(g kqueueGone) bool { return g.fd == int32(fd) })
}

// take writes as many queued events as fit into evs and returns how many
// it wrote. The ones written go to the back of the queue, so that more fds
// than fit take turns, and those that do not repeat leave it. The loop
// stamps the events with the registration's generation, as it does every
// kqueue event.
func (q *kqueuePending) take(evs []event) int {
	n := min(len(evs), len(q.fds))
	for i, g := range q.fds[:n] {
		evs[i] = event{fd: g.fd, ready: kqueueReaderGone}
	}
	// Rotate the written ones to the back, then drop those that do not
	// repeat: in place, since a wait must not allocate.
	slices.Reverse(q.fds[:n])
	slices.Reverse(q.fds[n:])
	slices.Reverse(q.fds)
	tail := len(q.fds) - n
	kept := tail
	for _, g := range q.fds[tail:] {
		if g.repeat {
			q.fds[kept] = g
			kept++
		}
	}
	q.fds = q.fds[:kept]
	return n
}

// kqueueGoneRepeats says whether a registration in state st hears of its
// pipe reader's close on every wait (Level) rather than once.
func kqueueGoneRepeats(st kfdState) bool { return st&kfdLevel != 0 }

// noteGone queues fd to hear again of its reader's close on later waits
// when the event just translated, r, said so and the registration is Level:
// the watch that told it is edge-triggered, and on NetBSD and OpenBSD the
// write knote is gone, so nothing in the kernel would say it again.
func (q *kqueuePending) noteGone(fd int, r readiness, st kfdState) {
	if r == kqueueReaderGone && st&kfdFifo != 0 && kqueueGoneRepeats(st) {
		q.add(fd, true)
	}
}

// kqueueReceipts reads the receipts of a change list into errs. The kernel
// answers the changes in order, each receipt being the change itself with
// flags set to EV_ERROR and data to its errno, 0 for success (kqueue_kevent
// in FreeBSD's sys/kern/kern_event.c, sys_kevent in OpenBSD's). So out[i]
// answers cs.list[i] only if it has EV_ERROR and names the same ident and
// filter. An entry without EV_ERROR is an event, returned because the
// kernel ignored EV_RECEIPT, and a change left without its answer may or
// may not have been applied: it gets kqueueNoReceipt, which counts as a
// failure and, for an add, is undone.
func kqueueReceipts(cs *kchanges, out []kqEvent, errs *[kqueueMaxChanges]syscall.Errno) {
	for i, c := range cs.slice() {
		errs[i] = kqueueNoReceipt
		if i < len(out) && kqueueAnswers(out[i], c) {
			errs[i] = syscall.Errno(out[i].data)
		}
	}
}

// kqueueAnswers reports whether a returned entry is the receipt of c.
func kqueueAnswers(r kqEvent, c kchange) bool {
	return r.flags&kfError != 0 && r.ident == uint64(c.ident) && r.filter == c.filter
}

// kqueueNoReceipt is the errno of a change the kernel did not answer.
const kqueueNoReceipt = syscall.EPROTO

// kqueueReceiptRoom is the length of the event list that goes with a change
// list: one entry for each change that asks for a receipt. It must not be
// zero when one does: given no room, FreeBSD's kqueue_kevent returns after
// the first such change, and OpenBSD's sys_kevent and DragonFly's
// kern_kevent stop there too, leaving the rest unapplied and unanswered.
func kqueueReceiptRoom(cs *kchanges) int {
	n := 0
	for _, c := range cs.slice() {
		if c.flags&kfReceipt != 0 {
			n++
		}
	}
	return n
}

// interest is the Interest a filter serves.
func (f kfilter) interest() Interest {
	switch f {
	case kfRead:
		return Readable
	case kfWrite:
		return Writable
	}
	return 0
}

// kqEvent is one event returned by kevent, in portable form.
type kqEvent struct {
	ident  uint64
	filter kfilter
	flags  kflags
	fflags uint32 // for EV_EOF on a socket, its pending errno
	data   int64
}

// kqueueReadiness translates one returned event. wakeIdent is the read end of
// the wake-up pipe, or -1 where the wake-up is an EVFILT_USER event; wake
// reports the wake-up event, which is never a user event. st is what the
// poller knows of the event's fd.
//
// kqueue signals a hang-up and a socket error with EV_EOF on the filter
// itself, the errno in fflags, rather than with separate bits as epoll does.
// EV_EOF on the read filter means the peer will send nothing more, and
// readyRead stays so that what is buffered is still drained.
func kqueueReadiness(ev kqEvent, wakeIdent int, st kfdState) (r readiness, wake bool) {
	switch ev.filter {
	case kfUser:
		return 0, true
	case kfRead:
		if wakeIdent >= 0 && ev.ident == uint64(wakeIdent) {
			return 0, true
		}
		if st&kfdWatch != 0 {
			return kqueueWatchReadiness(ev), false
		}
		r = readyRead
		if ev.flags&kfEOF != 0 {
			r |= readyRdHup
		} else if ev.data == 0 {
			r |= kqueueSoftError
		}
	case kfWrite:
		r = kqueueWriteReadiness(ev, st)
	default:
		return 0, false
	}
	if ev.flags&kfEOF != 0 && ev.fflags != 0 {
		r |= readyErr
	}
	if ev.flags&kfError != 0 {
		r |= readyErr
	}
	return r, false
}

// kqueueSoftError is the read filter firing with nothing to read and no
// EV_EOF. filt_soread fires so for a pending so_error on a socket that can
// still receive, an ICMP error on a UDP socket ("temporary udp error" in
// FreeBSD's, NetBSD's and OpenBSD's sys/kern/uipc_socket.c, and in
// filt_soread_common of xnu's bsd/kern/uipc_socket.c), with data the bytes
// queued, 0, and fflags 0. epoll reports EPOLLERR there: ErrorHint, and
// Writable to a writer. readyRead stays, for a queue of control data alone
// (FreeBSD and xnu leave it out of data) and because a read returns the
// error too.
const kqueueSoftError = readyErr

// kqueueWriteReadiness translates the write filter. Its EV_EOF says only
// that this side can send no more (the socket's SBS_CANTSENDMORE): every
// kqueue kernel sets it, with fflags 0, as soon as our own
// shutdown(SHUT_WR) returns, while the peer may be alive and sending
// (filt_sowrite in FreeBSD's and NetBSD's sys/kern/uipc_socket.c and
// OpenBSD's sys/kern/uipc_socket.c, filt_sowrite_common in xnu's
// bsd/kern/uipc_socket.c). epoll reports no hang-up there, only EPOLLOUT,
// so neither does this. An errno in fflags (a reset, a refused connect) is
// a real failure: hang-up and error.
//
// On a pipe or FIFO the write filter's EV_EOF means the reader is gone
// (filt_pipewrite), where Linux's pipe_poll reports EPOLLERR to the writer:
// Writable, and Readable with ErrorHint; the next write fails with EPIPE.
func kqueueWriteReadiness(ev kqEvent, st kfdState) readiness {
	switch {
	case ev.flags&kfEOF == 0:
		return readyWrite
	case ev.fflags != 0:
		return readyWrite | readyHup
	case st&kfdFifo != 0:
		return kqueueReaderGone
	}
	return readyWrite
}

// kqueueReaderGone is the readiness of a pipe's write end whose reader has
// closed, as epoll reports it (EPOLLERR, and EPOLLOUT when there is room):
// Writable, and Readable with ErrorHint only. Linux sets no EPOLLHUP on a
// write end, so there is no HupHint either.
const kqueueReaderGone = readyWrite | readyErr

// kqueueWatchReadiness translates the pipe watch: its EV_EOF is the reader's
// close; anything else it reports is data nobody asked for, dropped.
func kqueueWatchReadiness(ev kqEvent) readiness {
	if ev.flags&kfEOF != 0 {
		return kqueueReaderGone
	}
	return 0
}

// kqueueMaxSleep bounds one kevent sleep: Darwin answers EINVAL to a timeout
// much longer than this. A longer wait is made of several sleeps.
const kqueueMaxSleep = 1e6 * time.Second

// kqueueSleep returns how long the next kevent call sleeps for what remains
// of a wait: negative for no timespec at all (for ever), and capped when the
// remainder is longer than one sleep may be, in which case an empty result
// does not end the wait.
func kqueueSleep(remaining time.Duration) (d time.Duration, capped bool) {
	if remaining > kqueueMaxSleep {
		return kqueueMaxSleep, true
	}
	return remaining, false
}

// kqueueRemaining is what is left of a wait of timeout after elapsed, so
// that an EINTR or a capped sleep does not restart the whole timeout. A
// negative timeout (for ever) stays negative, and a spent one is zero, which
// polls once without blocking.
func kqueueRemaining(timeout, elapsed time.Duration) time.Duration {
	if timeout < 0 {
		return timeout
	}
	return max(timeout-elapsed, 0)
}

// mergeScratch is the reusable memory of mergeByFd: for each fd number, the
// call that last saw it (epoch) and where that call put its event.
type mergeScratch struct {
	epoch uint32
	seen  []mergeSeen
}

type mergeSeen struct {
	epoch uint32
	at    int32
}

// mergeByFd folds the events of one batch that share an fd into one event,
// the readiness bits OR-ed, at the place of the fd's first event; it keeps
// the first-seen order, compacts evs in place and returns the shortened
// slice.
//
// kqueue returns the read and the write filter of an fd as separate events,
// in either order and not necessarily next to each other. Delivered as they
// come, a Writable could precede Readable, or reach a handler whose Readable
// had just closed the fd; merged, dispatch calls Readable then Writable and
// checks the registration between them.
//
// It runs in O(len(evs)) and allocates only when an fd larger than any seen
// before appears.
func mergeByFd(evs []event, s *mergeScratch) []event {
	s.epoch++
	if s.epoch == 0 {
		// After 2^32 batches, old stamps could match again: forget them.
		clear(s.seen)
		s.epoch = 1
	}
	n := 0
	for i := range evs {
		ev := evs[i]
		fd := int(ev.fd)
		if fd < 0 {
			evs[n] = ev
			n++
			continue
		}
		if fd >= len(s.seen) {
			s.grow(fd)
		}
		m := &s.seen[fd]
		if m.epoch == s.epoch {
			evs[m.at].ready |= ev.ready
			continue
		}
		*m = mergeSeen{epoch: s.epoch, at: int32(n)}
		evs[n] = ev
		n++
	}
	return evs[:n]
}

func (s *mergeScratch) grow(fd int) {
	grown := make([]mergeSeen, max(2*len(s.seen), fd+1, 64))
	copy(grown, s.seen)
	s.seen = grown
}
