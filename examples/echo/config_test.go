package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miogo/mio"
)

func TestConfigRejects(t *testing.T) {
	unix := "unix:" + filepath.Join(t.TempDir(), "echo.sock")
	for _, tc := range []struct {
		cfg  config
		want string
	}{
		{config{addr: "127.0.0.1:0", loops: 0, bufSize: 1}, "-loops 0"},
		{config{addr: "127.0.0.1:0", loops: 1, bufSize: 0}, "-buf 0"},
		{config{addr: "localhost:7000", loops: 1, bufSize: 1}, "not resolved"},
		{config{addr: "127.0.0.1", loops: 1, bufSize: 1}, "-addr"},
		{config{addr: "127.0.0.1:0", loops: 2, bufSize: 1, share: true, balance: mio.BalanceReusePort}, "contradicts share"},
		// The kernel balances no Unix sockets: reuse-port fails rather
		// than serve them all on one loop.
		{config{addr: unix, loops: 2, bufSize: 1, balance: mio.BalanceReusePort}, "reuse-port Unix listeners"},
	} {
		s, err := newServer(tc.cfg)
		if err == nil {
			s.stop()
			s.run()
			t.Errorf("newServer(%+v) succeeded", tc.cfg)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("newServer(%+v): %v, want it to mention %q", tc.cfg, err, tc.want)
		}
	}
}

// share asks for a hand-off; an explicit -balance of one stays.
func TestBalancing(t *testing.T) {
	for _, tc := range []struct {
		balance mio.Balance
		share   bool
		want    mio.Balance
	}{
		{mio.BalanceAuto, false, mio.BalanceAuto},
		{mio.BalanceReusePort, false, mio.BalanceReusePort},
		{mio.BalanceAuto, true, mio.BalanceRoundRobin},
		{mio.BalanceLeastConns, true, mio.BalanceLeastConns},
		{mio.BalanceSourceHash, false, mio.BalanceSourceHash},
	} {
		cfg := config{balance: tc.balance, share: tc.share}
		if got, err := cfg.balancing(); err != nil || got != tc.want {
			t.Errorf("balancing of %v with share %v = %v, %v; want %v", tc.balance, tc.share, got, err, tc.want)
		}
	}
}

// TestBalanceFlag: -balance takes mio.Balance's names (its
// UnmarshalText) and refuses others with the list of names.
func TestBalanceFlag(t *testing.T) {
	for _, name := range []string{"auto", "reuse-port", "round-robin", "least-conns", "source-hash"} {
		cfg := parseFlags([]string{"-balance", name})
		if cfg.balance.String() != name {
			t.Errorf("-balance %s gave %v", name, cfg.balance)
		}
	}
	var b mio.Balance
	if err := b.UnmarshalText([]byte("random")); err == nil || !strings.Contains(err.Error(), "auto reuse-port round-robin least-conns source-hash") {
		t.Errorf("random: %v, want an error listing the names", err)
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int{
		"1": 1, "65536": 65536, "16KiB": 16 << 10, "16k": 16 << 10, "16 KiB": 16 << 10,
		"2M": 2 << 20, "1MiB": 1 << 20, "100b": 100, "1024MiB": 1 << 30,
	} {
		var b byteSize
		if err := b.Set(in); err != nil || int(b) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, b, err, want)
		}
		var back byteSize
		if err := back.Set(b.String()); err != nil || back != b {
			t.Errorf("Set(%q.String() = %q) = %d, %v", in, b.String(), back, err)
		}
	}
	for _, in := range []string{"", "-1", "1.5K", "KiB", "16GiB", "1025MiB", "12x"} {
		var b byteSize
		if err := b.Set(in); err == nil {
			t.Errorf("Set(%q) = %d, want an error", in, b)
		}
	}
}

func TestParseFlags(t *testing.T) {
	cfg := parseFlags([]string{"-addr", "unix:@echo-test", "-loops", "3", "-balance", "least-conns", "-buf", "16KiB", "-stats"})
	if cfg.addr != "unix:@echo-test" || cfg.loops != 3 || cfg.balance != mio.BalanceLeastConns ||
		cfg.bufSize != 16<<10 || cfg.stats != time.Second || cfg.log == nil || cfg.out == nil {
		t.Errorf("parseFlags gave %+v", cfg)
	}
	cfg = parseFlags(nil)
	if cfg.addr != defaultAddr || cfg.loops != defaultLoops || cfg.balance != mio.BalanceAuto ||
		cfg.bufSize != defaultBufSize || cfg.stats != 0 {
		t.Errorf("defaults are %+v", cfg)
	}
}
