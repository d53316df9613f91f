package mio

import "runtime"

// ReusePortBalances reports whether, on this system, the kernel spreads
// the connections for one address over all the acceptors bound to it with
// SetReusePort, which is how several loops each get their own share: true
// on Linux, DragonFly and FreeBSD (where SetReusePort sets
// SO_REUSEPORT_LB). On macOS, NetBSD and OpenBSD the sockets may share the
// address but one of them gets every connection; there, and for Unix
// sockets everywhere, bind one acceptor and give every other loop a Dup of
// it: the loops then accept from one queue, whichever is free first.
func ReusePortBalances() bool { return reusePortBalances(runtime.GOOS) }

// reusePortBalances is ReusePortBalances for the system goos: the
// kernels that pick a listener per connection (Linux's reuseport groups,
// DragonFly's SO_REUSEPORT, FreeBSD's SO_REUSEPORT_LB), against those whose
// SO_REUSEPORT only lifts the address-in-use check.
func reusePortBalances(goos string) bool {
	switch goos {
	case "linux", "android", "dragonfly", "freebsd":
		return true
	}
	return false
}
