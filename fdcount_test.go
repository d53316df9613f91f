package mio

import (
	"os"
	"slices"
	"testing"
)

// openFdCount counts this process's open fds through /proc/self/fd, or
// returns -1 where there is no such directory.
func openFdCount(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// fdSet is a snapshot of the open fds: number and what it points to.
type fdSet map[string]string

// openFds takes a snapshot, or returns nil where /proc/self/fd is missing.
func openFds() fdSet {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	s := fdSet{}
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		s[e.Name()] = target
	}
	return s
}

// leakedSince lists the fds open now that were not open at the snapshot.
// Fds other tests close meanwhile (os/exec and net close some of theirs
// asynchronously) do not count, unlike a plain comparison of counts.
func leakedSince(before fdSet) []string {
	if before == nil {
		return nil
	}
	var leaked []string
	for fd, target := range openFds() {
		// The directory listing itself holds one fd while it is read.
		if was, ok := before[fd]; (!ok || was != target) && target != "" {
			leaked = append(leaked, fd+"->"+target)
		}
	}
	slices.Sort(leaked)
	return leaked
}
