package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	s := summarize([]float64{3, 1, 2})
	if s.Med != 2 || s.Min != 1 || s.Max != 3 || s.N != 3 {
		t.Errorf("odd: %+v", s)
	}
	s = summarize([]float64{4, 1, 3, 2})
	if s.Med != 2.5 || s.Min != 1 || s.Max != 4 {
		t.Errorf("even: %+v", s)
	}
	if s := summarize(nil); s.N != 0 || !math.IsNaN(s.Med) {
		t.Errorf("empty: %+v", s)
	}
}

// The ratio to the baseline is taken round by round: a round that is slow
// for everyone does not move it.
func TestRatioPairsRounds(t *testing.T) {
	run := func(round int, ns float64) result { return result{Round: round, ServerNsPerMsg: ns, Msgs: 1} }
	base := &cell{runs: map[int]result{1: run(1, 100), 2: run(2, 200), 3: run(3, 100)}}
	c := &cell{runs: map[int]result{1: run(1, 150), 2: run(2, 300), 3: run(3, 150), 4: run(4, 999)}}
	r := ratio(c, base, cpuPerMsg)
	near := func(v float64) bool { return math.Abs(v-1.5) < 1e-9 }
	if r.N != 3 || !near(r.Med) || !near(r.Min) || !near(r.Max) {
		t.Errorf("ratio = %+v, want 1.5 over 3 rounds", r)
	}
}

func TestReadMicro(t *testing.T) {
	const out = `goos: linux
BenchmarkMioRead64     	   91087	      2987 ns/op	       0 B/op	       0 allocs/op
BenchmarkMioDispatch64-2 	   23943	     10065 ns/op	       157.3 ns/event	       0 B/op	       0 allocs/op
PASS
`
	path := t.TempDir() + "/micro.txt"
	if err := writeFile(path, out); err != nil {
		t.Fatal(err)
	}
	ms, err := readMicro(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Name != "MioRead64" || ms[0].NsPerOp != 2987 || !ms[0].HasAllocs ||
		ms[1].Name != "MioDispatch64" || ms[1].NsPerEvent != 157.3 {
		t.Errorf("readMicro = %+v", ms)
	}
}

func TestReportMentionsEveryServer(t *testing.T) {
	var rs []result
	for round := 1; round <= 3; round++ {
		for i, s := range []string{"mio", "gnet", "cfloor"} {
			rs = append(rs, result{Server: s, Workload: "W1", Round: round, Conns: 50, Active: 50,
				Size: 64, Depth: 1, Msgs: 1000, MsgsPerS: 1e5, ServerNsPerMsg: float64(1000 * (i + 1)), P50us: 10})
		}
	}
	d := newDataset(rs, map[string]string{"servers": "mio gnet cfloor", "workloads": "W1", "mode": "quick"})
	var b strings.Builder
	writeReport(&b, d, map[string]string{"mode": "quick"}, nil, false)
	for _, want := range []string{"| **mio** | 1.00 (1.00–1.00) | 1.00×", "| gnet | 2.00 (2.00–2.00) | 2.00×",
		"ping-pong 64 B over 50 connections", "| mio CPU/msg ≤ 1.10 × cfloor's | W1 | 0.333 (rounds 0.333–0.333) | no A/A pair: met |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

// mio-conn is listed with the servers and held to mio's targets, with its
// ratio to mio in the same round beside them.
func TestReportConnServer(t *testing.T) {
	var rs []result
	for round := 1; round <= 3; round++ {
		for i, s := range []string{"mio", "mio-conn", "gnet"} {
			rs = append(rs, result{Server: s, Workload: "W1", Round: round, Conns: 50, Active: 50,
				Size: 64, Depth: 1, Msgs: 1000, MsgsPerS: 1e5, ServerNsPerMsg: float64(1000 + 250*i), P50us: 10})
		}
	}
	d := newDataset(rs, map[string]string{"servers": "mio mio-conn gnet", "workloads": "W1", "mode": "quick"})
	var b strings.Builder
	writeReport(&b, d, map[string]string{"mode": "quick"}, nil, false)
	for _, want := range []string{"**mio-conn**", "| mio-conn | 1.25 (1.25–1.25) | 1.25×",
		"| mio-conn CPU/msg ≤ every Go peer's | W1 | mio-conn / gnet = 0.83 (highest ratio) | no A/A pair: met |",
		"| mio-conn CPU/msg ≤ 1.05 × mio's | W1 | 1.250 (rounds 1.250–1.250) | no A/A pair: **missed** |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }

// What a meta file records of a run keeps its relative paths and loses
// the absolute ones: a committed report names no directory of the
// machine that ran it.
func TestReadMetaWithoutPaths(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.env")
	err := writeFile(path, "command=bench/run --full --out /tmp/full7 --variant C=/home/u/mio-c --servers mio\n"+
		`commands=bench/run --out /root/x\nenv taskset -c 0 mio -addr 127.0.0.1:PORT   # mio`+"\n"+
		"variants=C=/work/mio-c (a test)\nloadavg_start=0.9 / 1.2\n")
	if err != nil {
		t.Fatal(err)
	}
	m, err := readMeta(path)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"command":       "bench/run --full --out DIR --variant C=DIR --servers mio",
		"commands":      `bench/run --out DIR\nenv taskset -c 0 mio -addr 127.0.0.1:PORT   # mio`,
		"variants":      "C=DIR (a test)",
		"loadavg_start": "0.9 / 1.2",
	} {
		if m[k] != want {
			t.Errorf("%s = %q, want %q", k, m[k], want)
		}
	}
}

// W5's runs are described as the framed RPC workload they are, and
// netpoll is one of the Go peers mio is held against.
func TestReportRPCWorkload(t *testing.T) {
	var rs []result
	for round := 1; round <= 3; round++ {
		for i, s := range []string{"mio", "netpoll"} {
			rs = append(rs, result{Server: s, Workload: "W5", Round: round, Conns: 100, Active: 100,
				Size: 1024, Depth: 1, RPC: true, Msgs: 1000, MsgsPerS: 1e5, ServerNsPerMsg: float64(1000 * (i + 1)), P50us: 10})
		}
	}
	d := newDataset(rs, map[string]string{"servers": "mio netpoll", "workloads": "W5", "mode": "quick"})
	var b strings.Builder
	writeReport(&b, d, map[string]string{"mode": "quick"}, nil, false)
	for _, want := range []string{
		"### W5: RPC ping-pong of framed requests, a 4-byte length and 1 KiB of payload, each answered with a response of its own, over 100 connections",
		"| netpoll | 2.00 (2.00–2.00) | 2.00×",
		"| mio CPU/msg ≤ every Go peer's | W5 | mio / netpoll = 0.50 (highest ratio) | no A/A pair: met |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

// In a paired run every server ran at the same time as the reference
// (mio), and its ratios are taken to the reference's run of the same
// pair: however much the machine's load moves both from pair to pair, the
// ratio stays. The A/A pair gives the noise, and the verdicts weigh it:
// within the bound by more than the noise is met, past it by more is
// missed, and a ratio of two servers paired with mio separately carries
// both pairs' noise.
func TestReportPairedRun(t *testing.T) {
	rs := pairedRun("mio", "W1", []multiple{
		{"mio@AA", func(round int) float64 { return 1 + 0.002*float64(round%2) }},
		{"mio-conn", fixed(1.03)},
		{"gnet", fixed(1.10)},
		{"mio-server", fixed(1.049)},
	})
	meta := map[string]string{"servers": "mio mio@AA mio-conn gnet mio-server", "workloads": "W1", "mode": "full", "paired": "mio"}
	d := newDataset(rs, meta)
	var b strings.Builder
	writeReport(&b, d, meta, nil, false)
	for _, want := range []string{
		"| noise: the A/A pair's largest per-round distance from 1 | W1 | ±0.002 | – |",
		"| mio-conn CPU/msg ≤ 1.05 × mio's | W1 | 1.030 (rounds 1.030–1.030) | met |",
		"| mio-conn CPU/msg ≤ 1.00 × gnet's | W1 | 0.936 (rounds 0.936–0.936) | met |",
		"| mio CPU/msg ≤ every Go peer's | W1 | mio / gnet = 0.91 (highest ratio) | met |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	if m := d.cell("W1", "mio").metric(cpuPerMsg); m.N != 20 {
		t.Errorf("the reference's %d runs summarized, want all 20 of its pairs", m.N)
	}
}

// A paired run whose reference is not mio takes its noise from a variant
// of that reference (mio-multi@AA beside mio-multi).
func TestReportPairedOtherReference(t *testing.T) {
	rs := pairedRun("mio-multi", "W4", []multiple{
		{"mio-multi@AA", fixed(1.001)},
		{"mio-server", fixed(1.03)},
	})
	meta := map[string]string{"servers": "mio-multi mio-multi@AA mio-server", "workloads": "W4", "mode": "full", "paired": "mio-multi"}
	var b strings.Builder
	writeTargets(&b, newDataset(rs, meta), nil)
	want := "| mio-server CPU/msg ≤ 1.05 × mio-multi's | W4 | 1.030 (rounds 1.030–1.030) | met |"
	if !strings.Contains(b.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, b.String())
	}
}

// A ratio of two servers each paired with mio takes its noise from a
// variant of either beside it where the run has one: mio-multi@AA against
// mio-multi is a ratio of the same kind, so it measures that noise, which
// twice mio's own A/A distance only estimates.
func TestReportChainedNoiseFromVariant(t *testing.T) {
	rs := pairedRun("mio", "W4", []multiple{
		{"mio@AA", func(round int) float64 { return 1 + 0.03*float64(round%2) }},
		{"mio-multi", fixed(1.2)},
		{"mio-multi@AA", func(round int) float64 { return 1.2 * (1 + 0.004*float64(round%2)) }},
		{"mio-server", fixed(1.2 * 1.03)},
		{"gnet-multi", fixed(1.3)},
	})
	meta := map[string]string{"servers": "mio mio@AA mio-multi mio-multi@AA mio-server gnet-multi", "workloads": "W4", "mode": "full", "paired": "mio"}
	var b strings.Builder
	d := newDataset(rs, meta)
	writeReport(&b, d, meta, nil, false)
	for _, want := range []string{
		"| noise: the A/A pair's largest per-round distance from 1 | W4 | ±0.030 | – |",
		"| noise of ratios to mio-multi: mio-multi@AA / mio-multi's largest per-round distance from 1 | W4 | ±0.004 | – |",
		"| mio-server CPU/msg ≤ 1.05 × mio-multi's | W4 | 1.030 (rounds 1.030–1.030) | met |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	if n := d.noise("W4", "mio-multi", "gnet-multi"); math.Abs(n-0.004) > 1e-9 {
		t.Errorf("noise of a chained ratio with a variant of its numerator = %v, want that variant's 0.004", n)
	}
	if n := d.noise("W4", "mio-server", "gnet-multi"); math.Abs(n-0.06) > 1e-9 {
		t.Errorf("noise of a chained ratio with no variant of either = %v, want twice mio's 0.03", n)
	}
}

// pairedRun makes five rounds of a paired run in workload wl: each server
// of times beside ref, at the given multiple of ref's CPU per message in
// that round, while the machine's load moves both from pair to pair.
func pairedRun(ref, wl string, times []multiple) []result {
	var rs []result
	add := func(server, pair string, round int, ns float64) {
		rs = append(rs, result{Server: server, Workload: wl, Round: round, Pair: pair, Conns: 50, Active: 50,
			Size: 64, Depth: 1, Msgs: 1000, MsgsPerS: 1e5, ServerNsPerMsg: ns, P50us: 10})
	}
	for round := 1; round <= 5; round++ {
		for i, m := range times {
			load := float64(1000 * (1 + (round+i)%3)) // what the machine did in those seconds
			add(ref, m.server, round, load)
			add(m.server, m.server, round, load*m.times(round))
		}
	}
	return rs
}

// multiple is a server's CPU per message as a multiple of the reference's,
// round by round.
type multiple struct {
	server string
	times  func(round int) float64
}

// fixed is a multiple that stays the same in every round.
func fixed(x float64) func(int) float64 { return func(int) float64 { return x } }
