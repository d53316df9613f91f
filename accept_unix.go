//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

// Accepting on the unix systems, and what to do when the process or the
// system runs out of file descriptors.

package mio

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Running out of file descriptors while accepting.
//
// When accept(2) fails with EMFILE (this process is at RLIMIT_NOFILE) or
// ENFILE (the system's file table is full), the kernel leaves the connection
// in the listener's queue. The listener therefore stays readable: a
// level-triggered registration is reported again on every poll and the loop
// spins, and an edge-triggered one whose queue then fills up is never
// reported again, because new clients can no longer get into the queue to
// make a new edge. Either way the clients in the queue wait for nothing.
//
// To get out of that state the process keeps one descriptor in reserve (a
// close-on-exec /dev/null, opened by the first accept and shared by every
// acceptor). When accept fails for lack of descriptors, the reserve is
// closed, which frees exactly one slot; the pending connections are accepted
// through that slot one by one and closed at once, so their clients see the
// connection end instead of hanging; then the reserve is opened again. The
// caller still gets the EMFILE or ENFILE error, so it knows that it is short
// of descriptors and that connections were turned away.

// Where the kernel itself drops the connection whose accept found no free
// descriptor, none of this is needed, and shedding would close clients that
// were still to be served: XNU (macOS, iOS) has done so since its fix for
// clients spinning on a connection put back on the queue (accept_nocancel
// in bsd/kern/uipc_syscalls.c, rdar 8554930). Linux and the other BSDs
// allocate the descriptor before they take the connection off the queue,
// or put it back, so theirs stays queued.
var kernelDropsOnExhaustion = dropsOnExhaustion(runtime.GOOS)

// dropsOnExhaustion is the per-kernel fact above, for the system goos.
func dropsOnExhaustion(goos string) bool { return goos == "darwin" || goos == "ios" }

// shedLimit bounds how many pending connections one shed closes, so that a
// client flood cannot keep an accept call busy for ever. It is at least the
// largest backlog a Linux listener gets by default (net.core.somaxconn).
const shedLimit = 4096

// acceptSpare is the process's reserved descriptor. fd is meaningful only
// while held is true; held is written under mu and read without it by the
// accept path, which then needs no lock once the reserve is taken.
var acceptSpare struct {
	mu   sync.Mutex
	fd   int
	held atomic.Bool
}

// reserveSpareFd opens the reserve descriptor unless it is already held. It
// is called on every accept, costs one atomic load once the reserve is held,
// and fails silently: without a reserve, accept simply cannot shed.
func reserveSpareFd() {
	if acceptSpare.held.Load() {
		return
	}
	acceptSpare.mu.Lock()
	defer acceptSpare.mu.Unlock()
	openSpareLocked()
}

// openSpareLocked opens the reserve; acceptSpare.mu must be held.
func openSpareLocked() {
	if acceptSpare.held.Load() {
		return
	}
	fd, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	acceptSpare.fd = fd
	acceptSpare.held.Store(true)
}

// spareFdHeld reports whether the reserve descriptor is open.
func spareFdHeld() bool { return acceptSpare.held.Load() }

// acceptOrShed accepts one connection on the listening fd lfd as a
// non-blocking, close-on-exec fd. A connection reset while queued
// (ECONNABORTED) is skipped. On EMFILE or ENFILE it sheds the pending
// connections (see shedPending) and returns the error.
func acceptOrShed(lfd int) (int, error) {
	reserveSpareFd()
	for {
		fd, err := sysAccept(lfd)
		switch err {
		case nil:
			return fd, nil
		case unix.EINTR, unix.ECONNABORTED:
			continue
		case unix.EMFILE, unix.ENFILE:
			return -1, exhausted(lfd, err, kernelDropsOnExhaustion)
		default:
			return -1, wrapSyscall("accept", err)
		}
	}
}

// exhausted answers an accept that failed for lack of descriptors: where
// the kernel dropped the connection (kernelDrops) it only reports cause;
// elsewhere it sheds the pending connections.
func exhausted(lfd int, cause error, kernelDrops bool) error {
	if kernelDrops {
		return refuse("accept", "", "the kernel dropped the connection", cause)
	}
	return shedPending(lfd, cause)
}

// shedPending frees the reserve descriptor, accepts and closes the
// connections pending on lfd until none is left (or shedLimit), takes the
// reserve again and returns cause, wrapped, with the number closed.
func shedPending(lfd int, cause error) error {
	acceptSpare.mu.Lock()
	defer acceptSpare.mu.Unlock()
	if !acceptSpare.held.Load() {
		// No reserve to give up: perhaps a descriptor was freed since the
		// last try, so take one for the next time.
		openSpareLocked()
		return refuse("accept", "", "no reserve to shed pending connections with", cause)
	}
	unix.Close(acceptSpare.fd)
	acceptSpare.held.Store(false)
	shed, drained := 0, false
	for shed < shedLimit {
		fd, err := sysAccept(lfd)
		if err == unix.EINTR || err == unix.ECONNABORTED {
			continue
		}
		if err != nil {
			// EAGAIN: the queue is empty. EMFILE or ENFILE: another thread
			// took the freed slot first; the next accept tries again.
			drained = err == unix.EAGAIN
			break
		}
		unix.Close(fd)
		shed++
	}
	openSpareLocked()
	why := "closed " + strconv.Itoa(shed) + " pending connections"
	return &shedError{opError{op: "accept", why: why, err: cause}, shed, drained}
}
