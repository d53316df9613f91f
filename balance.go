package mio

import (
	"fmt"
	"runtime"
	"syscall"
)

// Balance is how a Server spreads the connections of a listener over its
// loops.
type Balance uint8

const (
	// BalanceAuto lets the kernel balance a TCP listener where it can
	// (ReusePortBalances: one reuse-port acceptor per loop), and hands
	// connections off by BalanceRoundRobin everywhere else: on macOS,
	// NetBSD and OpenBSD, and for Unix sockets. It never leaves one loop
	// serving every connection.
	BalanceAuto Balance = iota
	// BalanceReusePort asks for the kernel's balancing, and fails where
	// the kernel does not balance rather than fall back.
	BalanceReusePort
	// BalanceRoundRobin accepts on one loop and hands the connections to
	// the loops in turn.
	BalanceRoundRobin
	// BalanceLeastConns accepts on one loop and hands each connection to
	// the loop with the fewest open (those on their way count).
	BalanceLeastConns
	// BalanceSourceHash accepts on one loop and hands each connection to
	// the loop its client's IP address hashes to: one client address is
	// always served by the same loop (the port is left out, so a client's
	// connections share it).
	BalanceSourceHash
)

var balanceNames = [...]string{"auto", "reuse-port", "round-robin", "least-conns", "source-hash"}

// String is the balance's name, as the examples' flags spell it.
func (b Balance) String() string {
	if int(b) < len(balanceNames) {
		return balanceNames[b]
	}
	return fmt.Sprintf("Balance(%d)", b)
}

// MarshalText is the balance's name, so that a Balance is a flag
// (flag.TextVar) or a configuration field as it is.
func (b Balance) MarshalText() ([]byte, error) {
	if int(b) >= len(balanceNames) {
		return nil, fmt.Errorf("mio: unknown %v: %w", b, syscall.EINVAL)
	}
	return []byte(balanceNames[b]), nil
}

// UnmarshalText sets b from its name (String's).
func (b *Balance) UnmarshalText(text []byte) error {
	for i, name := range balanceNames {
		if string(text) == name {
			*b = Balance(i)
			return nil
		}
	}
	return fmt.Errorf("mio: balance %q: want one of %v: %w", text, balanceNames, syscall.EINVAL)
}

// resolveBalance is the balancing a listener gets on the system goos:
// Auto becomes the kernel's where it balances TCP, else a hand-off by
// round-robin; ReusePort where the kernel cannot balance is an error, not a
// silent single loop.
func resolveBalance(b Balance, goos string, tcp bool) (Balance, error) {
	kernel := tcp && reusePortBalances(goos)
	switch {
	case b > BalanceSourceHash:
		return 0, fmt.Errorf("mio: unknown %v", b)
	case b == BalanceAuto && kernel:
		return BalanceReusePort, nil
	case b == BalanceAuto:
		return BalanceRoundRobin, nil
	case b == BalanceReusePort && !kernel:
		return 0, fmt.Errorf("mio: %v: the kernel does not balance reuse-port %s listeners on %s: %w",
			b, map[bool]string{true: "TCP", false: "Unix"}[tcp], goos, ErrUnsupported)
	}
	return b, nil
}

// resolveBalanceHere is resolveBalance for this system.
func resolveBalanceHere(b Balance, tcp bool) (Balance, error) {
	return resolveBalance(b, runtime.GOOS, tcp)
}

// chooser picks a loop for each connection a hand-off listener accepts.
// It runs on the accepting loop only, so its cursor needs no lock; the
// loads it reads are the other loops' and come in as arguments.
type chooser struct {
	mode Balance
	next int // round-robin's cursor, and least-conns' first candidate
}

// choose is the loop for a connection from the client address ip, among
// loops whose open (and on their way) connections are loads.
func (ch *chooser) choose(loads []int64, ip []byte) int {
	n := len(loads)
	switch ch.mode {
	case BalanceSourceHash:
		return int(fnv32(ip) % uint32(n))
	case BalanceLeastConns:
		return ch.least(loads)
	}
	i := ch.next % n
	ch.next = i + 1
	return i
}

// least is the loop with the fewest connections; ties go round the loops
// in turn, so an idle server does not fill loop 0 first.
func (ch *chooser) least(loads []int64) int {
	n := len(loads)
	best := ch.next % n
	for k := 1; k < n; k++ {
		if i := (ch.next + k) % n; loads[i] < loads[best] {
			best = i
		}
	}
	ch.next = best + 1
	return best
}

// fnv32 is the 32-bit FNV-1a hash of b: cheap, with no state, and the same
// in every process, so a client keeps its loop across restarts too.
func fnv32(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}
