package mio

import (
	"errors"
	"syscall"
	"testing"
)

// Auto takes the kernel's balancing exactly where the kernel balances TCP
// listeners, and a hand-off everywhere else; ReusePort asked for where it
// does not balance fails instead of serving on one loop.
func TestResolveBalance(t *testing.T) {
	for _, tc := range []struct {
		goos string
		tcp  bool
		auto Balance
		rp   bool // whether ReusePort is accepted
	}{
		{"linux", true, BalanceReusePort, true},
		{"freebsd", true, BalanceReusePort, true},
		{"dragonfly", true, BalanceReusePort, true},
		{"darwin", true, BalanceRoundRobin, false},
		{"netbsd", true, BalanceRoundRobin, false},
		{"openbsd", true, BalanceRoundRobin, false},
		{"linux", false, BalanceRoundRobin, false},
		{"freebsd", false, BalanceRoundRobin, false},
	} {
		got, err := resolveBalance(BalanceAuto, tc.goos, tc.tcp)
		if err != nil || got != tc.auto {
			t.Errorf("%s tcp=%v: auto resolves to %v, %v; want %v", tc.goos, tc.tcp, got, err, tc.auto)
		}
		got, err = resolveBalance(BalanceReusePort, tc.goos, tc.tcp)
		if tc.rp && (err != nil || got != BalanceReusePort) {
			t.Errorf("%s tcp=%v: reuse-port refused: %v", tc.goos, tc.tcp, err)
		}
		if !tc.rp && !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s tcp=%v: reuse-port gave %v, %v; want ErrUnsupported", tc.goos, tc.tcp, got, err)
		}
		for _, b := range []Balance{BalanceRoundRobin, BalanceLeastConns, BalanceSourceHash} {
			if got, err := resolveBalance(b, tc.goos, tc.tcp); got != b || err != nil {
				t.Errorf("%s tcp=%v: %v resolves to %v, %v", tc.goos, tc.tcp, b, got, err)
			}
		}
	}
	if _, err := resolveBalance(BalanceSourceHash+1, "linux", true); err == nil {
		t.Error("an unknown Balance resolved")
	}
}

// Round-robin gives 2 loops 1,000 connections half each, in turn.
func TestChooserRoundRobin(t *testing.T) {
	ch := chooser{mode: BalanceRoundRobin}
	loads := make([]int64, 2)
	for i := range 1000 {
		j := ch.choose(loads, nil)
		if j != i%2 {
			t.Fatalf("connection %d went to loop %d", i, j)
		}
		loads[j]++
	}
	if loads[0] != 500 || loads[1] != 500 {
		t.Fatalf("loads %v", loads)
	}
}

// Least-connections picks the loop with the fewest, whatever the others
// carry, and spreads ties.
func TestChooserLeastConns(t *testing.T) {
	ch := chooser{mode: BalanceLeastConns}
	loads := []int64{5, 2, 9, 2}
	seen := map[int]bool{}
	for range 4 {
		j := ch.choose(loads, nil)
		if loads[j] != 2 {
			t.Fatalf("chose loop %d with %d open among %v", j, loads[j], loads)
		}
		seen[j] = true
	}
	if len(seen) != 2 {
		t.Fatalf("ties always went to the same loop: %v", seen)
	}
	loads = []int64{0, 0, 0}
	for range 300 {
		loads[ch.choose(loads, nil)]++
	}
	if loads[0] != 100 || loads[1] != 100 || loads[2] != 100 {
		t.Fatalf("from empty, 300 connections spread %v", loads)
	}
}

// Source hash is stable per address, whatever the loads, and spreads
// addresses over the loops.
func TestChooserSourceHash(t *testing.T) {
	ch := chooser{mode: BalanceSourceHash}
	loads := make([]int64, 4)
	used := map[int]bool{}
	for a := range 64 {
		ip := []byte{127, 0, 0, byte(a + 1)}
		first := ch.choose(loads, ip)
		for k := range 10 {
			loads[k%4] += int64(a) // loads do not matter
			if j := ch.choose(loads, ip); j != first {
				t.Fatalf("%v went to loop %d, then %d", ip, first, j)
			}
		}
		used[first] = true
	}
	if len(used) != 4 {
		t.Fatalf("64 addresses used loops %v of 4", used)
	}
}

// TestBalanceText: every Balance reads back from its name, so that it can
// be a flag; an unknown name or value is refused with EINVAL.
func TestBalanceText(t *testing.T) {
	for b := BalanceAuto; b <= BalanceSourceHash; b++ {
		text, err := b.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var got Balance
		if err := got.UnmarshalText(text); err != nil || got != b {
			t.Errorf("%q reads back as %v, %v; want %v", text, got, err, b)
		}
	}
	var b Balance
	if err := b.UnmarshalText([]byte("random")); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("UnmarshalText(random): %v, want EINVAL", err)
	}
	if _, err := Balance(99).MarshalText(); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("MarshalText(99): %v, want EINVAL", err)
	}
}
