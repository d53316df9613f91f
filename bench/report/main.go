// Command report turns the results of bench/run into REPORT.md and
// chart.png in bench/run's output directory: per workload, the median and the range over
// the rounds of every server's CPU time per message, throughput, latency
// and memory, the ratios against this repository's library taken round by
// round, and whether the targets hold.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	in := flag.String("in", "results.jsonl", "loadgen results, one JSON object a line")
	metaPath := flag.String("meta", "", "key=value lines about the machine and the run")
	microPath := flag.String("micro", "", "go test -bench output of the micro-benchmarks")
	out := flag.String("out", "results", "directory for REPORT.md and chart.png")
	flag.Parse()

	results, err := readResults(*in)
	if err != nil {
		log.Fatal(err)
	}
	meta := map[string]string{}
	if *metaPath != "" {
		if meta, err = readMeta(*metaPath); err != nil {
			log.Fatal(err)
		}
	}
	var micro []microResult
	if *microPath != "" {
		if micro, err = readMicro(*microPath); err != nil {
			log.Fatal(err)
		}
	}
	d := newDataset(results, meta)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	if err := writeChart(d, filepath.Join(*out, "chart.png")); err != nil {
		log.Fatal(err)
	}
	f, err := os.Create(filepath.Join(*out, "REPORT.md"))
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriter(f)
	_, err = os.Stat(filepath.Join(*out, "NOTES.md"))
	writeReport(w, d, meta, micro, err == nil)
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

func readResults(path string) ([]result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rs []result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var r result
		if err := json.Unmarshal([]byte(text), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		rs = append(rs, r)
	}
	return rs, sc.Err()
}

func readMeta(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[strings.TrimSpace(k)] = withoutPaths(strings.TrimSpace(v))
		}
	}
	return m, nil
}

// absPath is an absolute path standing as a word or after "=", up to a
// blank, a quote, a parenthesis or the backslash of a written "\n".
var absPath = regexp.MustCompile(`(^|[\s=(])/[^\s'"()\\]+`)

// withoutPaths writes every absolute path in s as DIR. A report is
// committed and read elsewhere: it says what was run, not where on the
// machine that ran it (bench/run records none; this catches older meta
// files and hand-written commands).
func withoutPaths(s string) string { return absPath.ReplaceAllString(s, "${1}DIR") }

// microResult is one line of go test -bench output.
type microResult struct {
	Name          string
	NsPerOp       float64
	BytesPerOp    float64
	AllocsPerOp   float64
	HasAllocs     bool
	NsPerEvent    float64
	HasNsPerEvent bool
	Iterations    int64
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+(\d+)\s+(.*)$`)

func readMicro(path string) ([]microResult, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []microResult
	for _, line := range strings.Split(string(b), "\n") {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		r := microResult{Name: strings.TrimPrefix(m[1], "Benchmark")}
		r.Iterations, _ = strconv.ParseInt(m[3], 10, 64)
		f := strings.Fields(m[4])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				r.NsPerOp = v
			case "B/op":
				r.BytesPerOp = v
			case "allocs/op":
				r.AllocsPerOp, r.HasAllocs = v, true
			case "ns/event":
				r.NsPerEvent, r.HasNsPerEvent = v, true
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// dataset is the results arranged by workload and server, in run order.
type dataset struct {
	servers, workloads []string
	cells              map[[2]string]*cell
	failures           []result
	refRuns            []result // a paired run's reference runs
	ref                string   // a paired run's reference server
}

func newDataset(rs []result, meta map[string]string) *dataset {
	d := &dataset{cells: map[[2]string]*cell{}}
	d.servers = strings.Fields(meta["servers"])
	d.workloads = strings.Fields(meta["workloads"])
	for _, r := range rs {
		if !slices.Contains(d.servers, r.Server) {
			d.servers = append(d.servers, r.Server)
		}
		if !slices.Contains(d.workloads, r.Workload) {
			d.workloads = append(d.workloads, r.Workload)
		}
		key := [2]string{r.Workload, r.Server}
		c := d.cells[key]
		if c == nil {
			c = &cell{server: r.Server, workload: r.Workload, runs: map[int]result{}}
			d.cells[key] = c
		}
		if r.Error != "" || r.Msgs == 0 {
			c.failed++
			d.failures = append(d.failures, r)
			continue
		}
		if ref := meta["paired"]; ref != "" && r.Server == ref {
			c.isRef = true
			d.refRuns = append(d.refRuns, r)
			if _, dup := c.runs[r.Round]; dup {
				c.more = append(c.more, r)
				continue
			}
		}
		c.runs[r.Round] = r
	}
	d.ref = meta["paired"]
	d.pairUp()
	return d
}

// pairUp gives every cell of a paired run the reference's runs made at
// the same time as its own.
func (d *dataset) pairUp() {
	for _, r := range d.refRuns {
		if c := d.cells[[2]string{r.Workload, r.Pair}]; c != nil && !c.isRef {
			if c.ref == nil {
				c.ref = map[int]result{}
			}
			c.ref[r.Round] = r
		}
	}
}

func (d *dataset) cell(workload, server string) *cell {
	c := d.cells[[2]string{workload, server}]
	if c == nil || len(c.runs) == 0 {
		return nil
	}
	return c
}

// describe names a workload from the parameters its runs carried.
func (d *dataset) describe(workload string) string {
	for _, s := range d.servers {
		if c := d.cell(workload, s); c != nil {
			for _, r := range c.runs {
				kind := "ping-pong"
				if r.Depth > 1 {
					kind = fmt.Sprintf("pipelined, %d in flight per connection,", r.Depth)
				}
				conns := fmt.Sprintf("%s connections", thousands(r.Conns))
				if r.Active < r.Conns {
					conns = fmt.Sprintf("%s connections of which %s active", thousands(r.Conns), thousands(r.Active))
				}
				if r.RPC {
					return fmt.Sprintf("RPC %s of framed requests, a 4-byte length and %s of payload, each answered with a response of its own, over %s",
						kind, sizeName(r.Size), conns)
				}
				return fmt.Sprintf("%s %s over %s", kind, sizeName(r.Size), conns)
			}
		}
	}
	return workload
}

func sizeName(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d B", n)
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Metrics, as functions of one run.
var (
	cpuPerMsg   = func(r result) float64 { return r.ServerNsPerMsg / 1e3 } // µs
	msgsPerSec  = func(r result) float64 { return r.MsgsPerS }
	p50         = func(r result) float64 { return nanIfZero(r.P50us) }
	p99         = func(r result) float64 { return nanIfZero(r.P99us) }
	serverUtil  = func(r result) float64 { return r.ServerUtil * 100 }
	clientUtil  = func(r result) float64 { return r.ClientUtil * 100 }
	clientPerMs = func(r result) float64 { return r.ClientNsPerMsg / 1e3 }
	peakRSS     = func(r result) float64 { return float64(r.PeakRSSKB) / 1024 } // MiB
	rssPerConn  = func(r result) float64 { return ifMeasured(r, r.RSSPerConnB) }
	kernPerConn = func(r result) float64 { return ifMeasured(r, r.KernelPerConnB) }
)

// ifMeasured is v for a run that measured memory per connection, NaN for
// the others.
func ifMeasured(r result, v float64) float64 {
	if r.RSSIdleKB == 0 {
		return math.NaN()
	}
	return v
}

func nanIfZero(v float64) float64 {
	if v == 0 {
		return math.NaN()
	}
	return v
}

// format writes a summary as "median (min–max)" with the given precision,
// or the median alone when every round agreed or there was one.
func format(s summary, prec int) string {
	if s.N == 0 || math.IsNaN(s.Med) {
		return "–"
	}
	med := strconv.FormatFloat(s.Med, 'f', prec, 64)
	if s.N == 1 {
		return med
	}
	return fmt.Sprintf("%s (%s–%s)", med,
		strconv.FormatFloat(s.Min, 'f', prec, 64), strconv.FormatFloat(s.Max, 'f', prec, 64))
}

// formatK writes a rate in thousands.
func formatK(s summary) string {
	if s.N == 0 || math.IsNaN(s.Med) {
		return "–"
	}
	k := func(v float64) string { return strconv.FormatFloat(v/1e3, 'f', 0, 64) + "k" }
	if s.N == 1 {
		return k(s.Med)
	}
	return fmt.Sprintf("%s (%s–%s)", k(s.Med), k(s.Min), k(s.Max))
}

func formatRatio(s summary) string {
	if s.N == 0 || math.IsNaN(s.Med) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", s.Med)
}

// baseline is the server every ratio is taken against.
const baseline = "mio"

func writeReport(w io.Writer, d *dataset, meta map[string]string, micro []microResult, notes bool) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	mode := meta["mode"]
	p("# Echo servers side by side: mio, Go net, gnet, evio, nbio, netpoll and a C epoll floor\n\n")
	p("Generated by `%s` (%s mode) on %s; raw results in [results.jsonl](results.jsonl).\n",
		orDash(meta["command"]), orDash(mode), orDash(meta["date"]))
	if mode == "quick" {
		p("Quick mode measures short windows: use `bench/run --full` for figures to quote.\n")
	}
	if notes {
		p("The profiles, the library changes they led to and the runs before this one are in [NOTES.md](NOTES.md).\n")
	}
	p("\nThe headline figure is the **server's CPU time per message**, from the kernel's ")
	p("accounting of the server process over the measured window: it does not depend on the ")
	p("client keeping up. Every cell is the median over the rounds, with the smallest and ")
	p("largest round in brackets; **× mio** is the median over the rounds of the ratio to mio's ")
	p("figure in the same round.\n\n")
	if ref := meta["paired"]; ref != "" {
		p("**Paired run.** Every server ran at the same time as %s, the reference, both pinned to the ", ref)
		p("server CPU, each with its own load generator on the client CPU; each ratio is taken to the ")
		p("reference's run of the same pair, made over the same seconds, so the load the shared machine ")
		p("carries in those seconds falls on both and cancels (the A/A pair shows what is left). A ratio ")
		p("of two servers that are not the reference is the ratio of their ratios to it, each from its ")
		p("own pair in the same round. The absolute figures are those of two servers sharing a CPU: ")
		p("compare them only within this report.\n\n")
	}

	p("## Machine and method\n\n")
	p("| | |\n| --- | --- |\n")
	for _, kv := range [][2]string{
		{"CPU", meta["cpu"]}, {"CPUs", meta["cpus"]}, {"memory", meta["mem"]},
		{"kernel", meta["kernel"]}, {"Go", meta["go"]}, {"C compiler", meta["gcc"]},
		{"library commit", meta["commit"]},
		{"variants (mio@NAME: built against the library at COMMIT)", meta["variants"]},
		{"load average at start / end", meta["loadavg_start"] + " / " + meta["loadavg_end"]},
		{"rounds", meta["rounds"]},
		{"per run", fmt.Sprintf("%s warm-up, then %s measured", orDash(meta["warmup"]), orDash(meta["duration"]))},
		{"CPUs used", fmt.Sprintf("server on CPU %s, load generator on CPU %s (taskset)", orDash(meta["server_cpus"]), orDash(meta["client_cpus"]))},
		{"wall time of the run", meta["elapsed"]},
	} {
		if kv[1] != "" && kv[1] != " / " {
			p("| %s | %s |\n", kv[0], kv[1])
		}
	}
	p("\nCommands, from the repository's root (the servers and the load generator are built into a temporary directory):\n\n```sh\n%s\n```\n\n",
		orDash(strings.ReplaceAll(meta["commands"], `\n`, "\n")))
	p("- Servers, each a separate process started afresh for every run: ")
	p("**mio** (this library, one loop, GOMAXPROCS=1), **mio-multi** (%s loops, one SO_REUSEPORT acceptor each, GOMAXPROCS=%s), ",
		orDash(meta["loops"]), orDash(meta["loops"]))
	p("**mio-conn** (this library's buffered connection layer, mio.Conns and mio.Conn, one loop, GOMAXPROCS=1), ")
	p("**gonet** (Go's net, a goroutine per connection, GOMAXPROCS=1), **gnet** (gnet v2, one loop, GOMAXPROCS=1), ")
	p("**gnet-multi** (gnet v2 multicore, %s loops with SO_REUSEPORT, GOMAXPROCS=%s), ", orDash(meta["loops"]), orDash(meta["loops"]))
	p("**evio** and **nbio** (one loop, GOMAXPROCS=1), ")
	p("**netpoll** (cloudwego/netpoll, one poller, GOMAXPROCS=1; OnRequest runs on a goroutine pool, not on the poller), ")
	p("**netpoll-multi** (%s pollers, GOMAXPROCS=%s), ", orDash(meta["loops"]), orDash(meta["loops"]))
	p("and **cfloor** (single-threaded level-triggered epoll in C, `gcc -O2`).\n")
	p("- All of them echo alike: read into a buffer, write it straight back, keep only what the kernel ")
	p("does not take and stop reading until it is written (netpoll's poller goes on reading while a Flush waits); ")
	p("TCP_NODELAY on every connection.\n")
	p("- In W5 and W5k (the RPC shape of netpoll's own benchmark) every server is started with `-rpc`: it waits for ")
	p("whole requests (a 4-byte big-endian length, then the payload), however they are split or batched, and answers ")
	p("each with a response of the same framing built in a buffer of its own, written as that library's users write; ")
	p("the load generator verifies every response's header and bytes.\n")
	p("- Every server is pinned to the same CPU, so the multi-loop variants measure what their ")
	p("extra loops cost per message, not how they scale: on a machine with two CPUs there is none to scale to.\n")
	if ref := meta["paired"]; ref != "" {
		p("- Order: in each round, each workload runs every other server in turn, each at the same time as %s ", ref)
		p("(which of the two starts first alternates with the round), and the rounds repeat that. Ratios compare ")
		p("each server with %s's run of the same pair.\n", ref)
	} else {
		p("- Order: in each round, each workload runs every server in turn (A B C … A B C), and the ")
		p("rounds repeat that. Ratios to mio compare runs of the same round.\n")
	}
	p("- The load generator (`bench/loadgen`) is one thread on raw epoll, the same for every server; ")
	p("its own CPU use over the window is in the table (*client CPU*): near 100%% means the client, ")
	p("not the server, set the pace, which shows in msgs/s but not in the server's CPU per message.\n")
	p("- Server CPU is summed from `/proc/PID/task/*/schedstat` (nanoseconds) at both ends of the window; ")
	p("`/proc/PID/stat` utime+stime is recorded beside it in results.jsonl as a cross-check.\n")
	p("- Latency is the client's round trip per message (ping-pong only). Peak RSS is the server's VmHWM after the run. ")
	p("W4's RSS per idle connection is the server's VmRSS growth from before the connections were opened ")
	p("to when all of them (each having echoed one message) sat idle, divided by their number; ")
	p("*kernel/conn* is the system's slab growth over the same span, both ends of each connection, ")
	p("system-wide and so noisy on a shared machine.\n\n")

	p("## Results\n\n")
	for _, wl := range d.workloads {
		p("### %s: %s\n\n", wl, d.describe(wl))
		memory := false
		for _, s := range d.servers {
			if c := d.cell(wl, s); c != nil && !math.IsNaN(c.metric(rssPerConn).Med) {
				memory = true
			}
		}
		hasLatency := false
		for _, s := range d.servers {
			if c := d.cell(wl, s); c != nil && !math.IsNaN(c.metric(p50).Med) {
				hasLatency = true
			}
		}
		p("| server | CPU µs/msg | × mio | msgs/s |")
		sep := "| --- | ---: | ---: | ---: |"
		if hasLatency {
			p(" p50 µs | p99 µs |")
			sep += " ---: | ---: |"
		}
		p(" server CPU %% | client CPU %% | client µs/msg | peak RSS MiB |")
		sep += " ---: | ---: | ---: | ---: |"
		if memory {
			p(" RSS/idle conn B | kernel/conn B |")
			sep += " ---: | ---: |"
		}
		p("\n%s\n", sep)
		base := d.cell(wl, baseline)
		for _, s := range d.servers {
			c := d.cell(wl, s)
			if c == nil {
				continue
			}
			name := s
			if s == baseline {
				name = "**" + s + "**"
			}
			p("| %s | %s | %s | %s |", name, format(c.metric(cpuPerMsg), 2),
				formatRatio(ratio(c, base, cpuPerMsg)), formatK(c.metric(msgsPerSec)))
			if hasLatency {
				p(" %s | %s |", format(c.metric(p50), 0), format(c.metric(p99), 0))
			}
			p(" %s | %s | %s | %s |", format(c.metric(serverUtil), 0), format(c.metric(clientUtil), 0),
				format(c.metric(clientPerMs), 2), format(c.metric(peakRSS), 1))
			if memory {
				p(" %s | %s |", format(c.metric(rssPerConn), 0), format(c.metric(kernPerConn), 0))
			}
			p("\n")
		}
		p("\n")
	}
	if len(d.failures) > 0 {
		p("Runs that failed and are left out:\n\n")
		for _, r := range d.failures {
			msg := r.Error
			if msg == "" {
				msg = "no message was echoed in the window"
			}
			p("- %s %s round %d: %s\n", r.Workload, r.Server, r.Round, msg)
		}
		p("\n")
	}
	p("![CPU per message, throughput and memory](chart.png)\n\n")

	writeMicro(w, micro)
	writeTargets(w, d, micro)
}

func writeMicro(w io.Writer, micro []microResult) {
	if len(micro) == 0 {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## Micro-benchmarks\n\n")
	p("`bench/micro`: the library's hot paths through its public API, each beside the bare system ")
	p("call it makes, on a loopback TCP connection (one CPU, GOMAXPROCS=1).\n\n")
	p("| benchmark | ns/op | B/op | allocs/op |\n| --- | ---: | ---: | ---: |\n")
	for _, m := range micro {
		allocs := "–"
		if m.HasAllocs {
			allocs = strconv.FormatFloat(m.AllocsPerOp, 'f', -1, 64)
		}
		ns := strconv.FormatFloat(m.NsPerOp, 'f', 1, 64)
		if m.HasNsPerEvent {
			ns += fmt.Sprintf(" (%.1f ns/event)", m.NsPerEvent)
		}
		p("| %s | %s | %s | %s |\n", m.Name, ns, strconv.FormatFloat(m.BytesPerOp, 'f', -1, 64), allocs)
	}
	p("\n")
}

// goPeers are the Go servers mio's single loop must match or beat, and
// multiPeers those for mio-multi. connServer is the echo server on the
// library's buffered connection layer: it is held to the same targets as
// mio, and its cost over the raw loop is shown beside them.
var (
	goPeers    = []string{"gonet", "gnet", "evio", "nbio", "netpoll"}
	multiPeers = []string{"gnet-multi", "netpoll-multi"}
)

const connServer = "mio-conn"

// serverServer is mio.Server's echo server (bench/servers/mioconn -server).
const serverServer = "mio-server"

func writeTargets(w io.Writer, d *dataset, micro []microResult) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## Targets\n\n")
	p("From this report's own numbers. A CPU ratio is the median over the rounds of the per-round ratio.\n\n")
	p("| target | workload | measured | verdict |\n| --- | --- | --- | --- |\n")
	// The targets are checked for mio and for every single-loop variant of
	// it built against another copy of the library (mio@NAME).
	var subjects []string
	for _, srv := range d.servers {
		if srv == baseline || strings.HasPrefix(srv, baseline+"@") || srv == connServer {
			subjects = append(subjects, srv)
		}
	}
	for _, wl := range d.workloads {
		for _, subject := range subjects {
			writeCPUTargets(w, d, wl, subject)
		}
		d.writeNoise(w, wl)
		d.writeBound(w, wl, connServer, baseline, 1.05)
		d.writeBound(w, wl, connServer, "gnet", 1)
		d.writeBound(w, wl, serverServer, "gnet-multi", 1)
		d.writeBound(w, wl, serverServer, "mio-multi", 1.05)
		for _, peer := range multiPeers {
			d.writeBound(w, wl, "mio-multi", peer, 1)
		}
		for _, subject := range subjects {
			base := d.cell(wl, subject)
			if base == nil {
				continue
			}
			if m := base.metric(rssPerConn); !math.IsNaN(m.Med) {
				extra := ""
				if g := d.cell(wl, "gonet"); g != nil {
					extra = fmt.Sprintf("; gonet %s B", format(g.metric(rssPerConn), 0))
				}
				if cf := d.cell(wl, "cfloor"); cf != nil {
					extra += fmt.Sprintf("; cfloor %s B", format(cf.metric(rssPerConn), 0))
				}
				p("| %s memory per idle connection ≤ 1 KiB above the kernel's own (RSS/conn ≤ 1024 B) | %s | %s B%s | %s |\n",
					subject, wl, format(m, 0), extra, verdict(m.Med <= 1024))
			}
		}
	}
	var allocs []string
	ok := true
	for _, m := range micro {
		if strings.HasPrefix(m.Name, "Mio") && m.HasAllocs {
			allocs = append(allocs, fmt.Sprintf("%s %g", m.Name, m.AllocsPerOp))
			ok = ok && m.AllocsPerOp == 0
		}
	}
	if len(allocs) > 0 {
		p("| 0 allocs/op in read, write, dispatch and the Conn layer | micro | %s | %s |\n", strings.Join(allocs, ", "), verdict(ok))
	}
	p("\n")
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// noise is how far, in workload wl, a server's CPU per message strays
// from itself: the largest distance from 1 of the A/A pair's per-round
// ratios (the first variant NAME@X against NAME, the same server built
// twice, where NAME is a paired run's reference, and mio otherwise), or
// NaN when the run has no such pair. A ratio of two servers of which
// neither is a paired run's reference carries two pairs' noise: that of a
// variant of either server against it where the run has one (mio-multi@AA
// beside mio-multi, each paired with mio, is itself such a ratio; the
// larger where both have one), and twice the reference's otherwise.
func (d *dataset) noise(wl, a, b string) float64 {
	name := baseline
	if d.ref != "" {
		name = d.ref // a paired run's A/A pair is its reference and a variant of it
	}
	n := d.aaNoise(wl, name)
	if c, bc := d.cell(wl, a), d.cell(wl, b); c != nil && bc != nil && c.ref != nil && bc.ref != nil {
		m := math.NaN()
		for _, s := range []string{a, b} {
			if v := d.aaNoise(wl, s); !math.IsNaN(v) && !(v <= m) {
				m = v // the larger, NaN (no variant) left out
			}
		}
		if !math.IsNaN(m) {
			return m
		}
		n *= 2
	}
	return n
}

// aaNoise is the largest per-round distance from 1 of the first variant
// of name against name in workload wl, or NaN when the run has none.
func (d *dataset) aaNoise(wl, name string) float64 {
	v := d.firstVariant(name)
	if v == "" {
		return math.NaN()
	}
	aa := ratio(d.cell(wl, v), d.cell(wl, name), cpuPerMsg)
	if aa.N == 0 {
		return math.NaN()
	}
	return max(math.Abs(aa.Min-1), math.Abs(aa.Max-1))
}

// writeNoise states the workload's A/A noise, which every verdict below
// weighs.
func (d *dataset) writeNoise(w io.Writer, wl string) {
	if n := d.noise(wl, baseline, baseline); !math.IsNaN(n) {
		fmt.Fprintf(w, "| noise: the A/A pair's largest per-round distance from 1 | %s | ±%.3f | – |\n", wl, n)
	}
	for _, s := range d.servers {
		name, _, ok := strings.Cut(s, "@")
		if c := d.cell(wl, name); ok && c != nil && c.ref != nil && s == d.firstVariant(name) {
			fmt.Fprintf(w, "| noise of ratios to %s: %s / %s's largest per-round distance from 1 | %s | ±%.3f | – |\n", name, s, name, wl, d.aaNoise(wl, name))
		}
	}
}

// firstVariant is the first server of the run named name@X, the one
// aaNoise takes, or "".
func (d *dataset) firstVariant(name string) string {
	for _, s := range d.servers {
		if strings.HasPrefix(s, name+"@") {
			return s
		}
	}
	return ""
}

// writeBound checks that a's CPU per message is at most bound times b's,
// by more than the noise: met when the median ratio plus the noise stays
// within the bound, missed when the ratio less the noise is past it, and
// undecided in between (or when the run has no A/A pair to tell).
func (d *dataset) writeBound(w io.Writer, wl, a, b string, bound float64) {
	ca, cb := d.cell(wl, a), d.cell(wl, b)
	if ca == nil || cb == nil {
		return
	}
	r := ratio(ca, cb, cpuPerMsg)
	if r.N == 0 {
		return
	}
	v := d.judge(r.Med, bound, d.noise(wl, a, b))
	fmt.Fprintf(w, "| %s CPU/msg ≤ %.2f × %s's | %s | %.3f (rounds %.3f–%.3f) | %s |\n", a, bound, b, wl, r.Med, r.Min, r.Max, v)
}

// writeCPUTargets checks one single-loop mio server's CPU per message
// against the Go peers and the C floor.
func writeCPUTargets(w io.Writer, d *dataset, wl, subject string) {
	base := d.cell(wl, subject)
	if base == nil {
		return
	}
	var worst string
	worstRatio := math.Inf(-1)
	for _, peer := range goPeers {
		c := d.cell(wl, peer)
		if c == nil {
			continue
		}
		r := ratio(base, c, cpuPerMsg)
		if r.N > 0 && r.Med > worstRatio {
			worst, worstRatio = peer, r.Med
		}
	}
	if worst != "" {
		fmt.Fprintf(w, "| %s CPU/msg ≤ every Go peer's | %s | %s / %s = %.2f (highest ratio) | %s |\n",
			subject, wl, subject, worst, worstRatio, d.judge(worstRatio, 1, d.noise(wl, subject, worst)))
	}
	d.writeBound(w, wl, subject, "cfloor", 1.10)
}

// judge is the verdict on a median ratio against its bound, by more than
// the noise n (see writeBound).
func (d *dataset) judge(med, bound, n float64) string {
	switch {
	case math.IsNaN(n):
		return "no A/A pair: " + verdict(med <= bound)
	case med+n <= bound:
		return "met"
	case med-n > bound:
		return "**missed**"
	}
	return "within the noise"
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
