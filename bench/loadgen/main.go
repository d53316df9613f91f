//go:build linux

// Command loadgen drives one echo server for one workload and prints one
// JSON line of results. It is one thread on raw epoll, level-triggered,
// with all its buffers made up front, so its own cost per message is
// small and constant; its CPU time over the measured window comes from its
// own rusage and is reported, so a saturated client shows.
//
// Every connection is opened with a blocking connect and one echoed
// message, so the server has accepted and served it before anything is
// measured. Then each active connection keeps -depth messages of -size
// bytes in flight: whenever a whole message has come back, another is
// sent. The server's CPU time over the measured window is read from the
// kernel's accounting of -pid (/proc/PID/task/*/schedstat, with
// /proc/PID/stat as a cross-check).
//
// -mode check instead verifies that the server echoes exactly what it is
// sent, from single bytes to a megabyte written while the echo is read
// back, over a few connections at once.
//
// With -rpc every message is a request of W5's framing (package frame): a
// 4-byte big-endian length, then -size bytes of payload, and the server
// must answer each with the same frame; every response is verified, its
// header and its bytes, as it arrives. -mode check -rpc verifies the
// framing instead of the echo: requests of every size up to
// frame.MaxPayload, requests split over several writes (and no answer
// before a request is whole), several in one write, and a long pipelined
// burst.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"time"

	"github.com/miogo/mio/bench/internal/frame"
	"github.com/miogo/mio/bench/internal/runresult"
	"golang.org/x/sys/unix"
)

type config struct {
	addr      netip.AddrPort
	mode      string
	conns     int
	active    int
	size      int
	depth     int
	warmup    time.Duration
	duration  time.Duration
	settle    time.Duration
	pid       int
	memory    bool
	server    string
	workload  string
	round     int
	pair      string
	setupWait time.Duration
	rpc       bool
}

// result is one run's line of JSON, read by the report.
type result = runresult.Result

func parseFlags() config {
	var c config
	addr := flag.String("addr", "127.0.0.1:7000", "server `address` (IPv4 or IPv6 literal with port)")
	flag.StringVar(&c.mode, "mode", "echo", "echo: drive the workload; check: verify the echo and exit")
	flag.IntVar(&c.conns, "conns", 50, "connections to open")
	flag.IntVar(&c.active, "active", 0, "connections that carry traffic (0: all)")
	flag.IntVar(&c.size, "size", 64, "message size in bytes")
	flag.IntVar(&c.depth, "depth", 1, "messages in flight per active connection (1: ping-pong)")
	flag.DurationVar(&c.warmup, "warmup", 500*time.Millisecond, "traffic before the measured window")
	flag.DurationVar(&c.duration, "duration", 2*time.Second, "measured window")
	flag.DurationVar(&c.settle, "settle", 300*time.Millisecond, "pause before the idle memory is read (-memory)")
	flag.IntVar(&c.pid, "pid", 0, "server process to account (0: none)")
	flag.BoolVar(&c.memory, "memory", false, "report the server's RSS per idle connection")
	flag.StringVar(&c.server, "server", "", "server name, copied to the result")
	flag.StringVar(&c.workload, "workload", "", "workload name, copied to the result")
	flag.IntVar(&c.round, "round", 0, "round number, copied to the result")
	flag.StringVar(&c.pair, "pair", "", "the server this run was paired with at the same time, copied to the result")
	flag.DurationVar(&c.setupWait, "timeout", 10*time.Second, "bound on any one blocking step")
	flag.BoolVar(&c.rpc, "rpc", false, "send framed requests (a 4-byte big-endian length, then -size bytes) and verify the framed responses")
	flag.Parse()
	ap, err := netip.ParseAddrPort(*addr)
	if err != nil {
		fail(err)
	}
	c.addr = ap
	if c.active <= 0 || c.active > c.conns {
		c.active = c.conns
	}
	if c.size < 1 || c.depth < 1 || c.msgLen()*c.depth > bufSize {
		fail(fmt.Errorf("-size %d × -depth %d must be between 1 and %d bytes", c.size, c.depth, bufSize))
	}
	if c.rpc && c.size > frame.MaxPayload {
		fail(fmt.Errorf("-rpc -size %d is more than the largest payload, %d", c.size, frame.MaxPayload))
	}
	return c
}

// msgLen is the length of one message on the wire: -size, and with -rpc
// the frame's header besides.
func (c config) msgLen() int {
	if c.rpc {
		return frame.HeaderLen + c.size
	}
	return c.size
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
	os.Exit(1)
}

func main() {
	runtime.LockOSThread()
	cfg := parseFlags()
	if cfg.mode == "check" {
		checkFn := check
		if cfg.rpc {
			checkFn = checkRPC
		}
		if err := checkFn(cfg); err != nil {
			fail(err)
		}
		fmt.Println("check ok")
		return
	}
	res, err := run(cfg)
	if err != nil {
		fail(err)
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}

// bufSize bounds what one connection has in flight, and is the size of
// the read and write buffers.
const bufSize = 256 << 10

type conn struct {
	fd     int
	idx    int32 // index in gen.conns, the epoll data word
	woff   int32 // -rpc: where in its frame the next byte to send is
	recv   int   // bytes of the message being received
	owe    int   // bytes due to be sent
	out    bool  // waiting for EPOLLOUT
	sentAt int64 // when the message in flight was sent (ping-pong)
}

type gen struct {
	cfg   config
	msg   int // bytes of one message on the wire (cfg.msgLen)
	ep    int
	conns []conn
	wbuf  []byte
	rbuf  []byte
	hist  histogram
	base  time.Time
	done  int64 // messages echoed in full
	timed bool  // record latencies
}

func (g *gen) now() int64 { return int64(time.Since(g.base)) }

func run(cfg config) (*result, error) {
	res := &result{Server: cfg.server, Workload: cfg.workload, Round: cfg.round, Pair: cfg.pair,
		Conns: cfg.conns, Active: cfg.active, Size: cfg.size, Depth: cfg.depth, RPC: cfg.rpc}
	g := &gen{cfg: cfg, msg: cfg.msgLen(), wbuf: make([]byte, bufSize), rbuf: make([]byte, bufSize), base: time.Now()}
	if cfg.rpc {
		g.wbuf = frames(cfg.size, bufSize+g.msg)
	} else {
		for i := range g.wbuf {
			g.wbuf[i] = byte('a' + i%26)
		}
	}
	defer g.closeAll()

	var slabBefore int64
	if cfg.memory {
		st, err := readStatus(cfg.pid, "VmRSS")
		if err != nil {
			return nil, err
		}
		res.RSSBeforeKB = st["VmRSS"]
		mi, _ := readKB("/proc/meminfo", "Slab")
		slabBefore = mi["Slab"]
	}
	start := time.Now()
	if err := g.open(); err != nil {
		return nil, err
	}
	res.ConnectSeconds = time.Since(start).Seconds()
	if cfg.memory {
		time.Sleep(cfg.settle)
		st, err := readStatus(cfg.pid, "VmRSS")
		if err != nil {
			return nil, err
		}
		res.RSSIdleKB = st["VmRSS"]
		res.RSSPerConnB = float64(res.RSSIdleKB-res.RSSBeforeKB) * 1024 / float64(cfg.conns)
		mi, _ := readKB("/proc/meminfo", "Slab")
		res.KernelPerConnB = float64(mi["Slab"]-slabBefore) * 1024 / float64(cfg.conns)
	}
	if err := g.drive(res); err != nil {
		return nil, err
	}
	if cfg.pid > 0 {
		st, err := readStatus(cfg.pid, "VmRSS", "VmHWM")
		if err != nil {
			return nil, err
		}
		res.PeakRSSKB, res.RSSKB = st["VmHWM"], st["VmRSS"]
	}
	return res, nil
}

// open connects every connection in batches: a blocking connect each,
// then one message out on each and its echo back, so that at most one
// batch waits in the server's accept queue.
func (g *gen) open() error {
	sa := sockaddr(g.cfg.addr)
	family := unix.AF_INET
	if g.cfg.addr.Addr().Is6() {
		family = unix.AF_INET6
	}
	// A server that stops answering must not hang the run: the blocking
	// calls below are bounded by one watchdog rather than by a timeout on
	// every socket, which would cost two more system calls per connection.
	watchdog := time.AfterFunc(g.cfg.setupWait+time.Duration(g.cfg.conns)*time.Millisecond, func() {
		fail(fmt.Errorf("opening %d connections took too long", g.cfg.conns))
	})
	defer watchdog.Stop()
	const batch = 64
	g.conns = make([]conn, 0, g.cfg.conns)
	for first := 0; first < g.cfg.conns; first += batch {
		last := min(first+batch, g.cfg.conns)
		for range last - first {
			fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("socket %d: %w", len(g.conns), err)
			}
			g.conns = append(g.conns, conn{fd: fd, idx: int32(len(g.conns))})
			unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
			// Closing resets rather than lingering in TIME_WAIT, so that
			// round after round of 10,000 connections never runs out of
			// ports.
			unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
			if err := unix.Connect(fd, sa); err != nil {
				return fmt.Errorf("connect %d: %w", len(g.conns), err)
			}
		}
		for i := first; i < last; i++ {
			if err := writeAll(g.conns[i].fd, g.wbuf[:g.msg]); err != nil {
				return fmt.Errorf("connection %d: first message: %w", i, err)
			}
		}
		for i := first; i < last; i++ {
			if err := readFull(g.conns[i].fd, g.rbuf[:g.msg]); err != nil {
				return fmt.Errorf("connection %d: first echo: %w", i, err)
			}
			if g.cfg.rpc {
				if err := g.verify(0, g.rbuf[:g.msg]); err != nil {
					return fmt.Errorf("connection %d: first response: %w", i, err)
				}
			}
		}
	}
	for i := range g.conns {
		// One fcntl: a fresh socket has no other status flag to keep.
		if _, err := unix.FcntlInt(uintptr(g.conns[i].fd), unix.F_SETFL, unix.O_NONBLOCK); err != nil {
			return err
		}
	}
	return nil
}

func sockaddr(ap netip.AddrPort) unix.Sockaddr {
	if ap.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
}

func writeAll(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := unix.Write(fd, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func readFull(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := unix.Read(fd, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("server closed the connection")
		}
		p = p[n:]
	}
	return nil
}

// drive runs the traffic: warm-up, then the measured window, with the
// server's and the client's CPU time sampled at its two ends.
func (g *gen) drive(res *result) error {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	g.ep = ep
	defer unix.Close(ep)
	act := g.conns[:g.cfg.active]
	for i := range act {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: act[i].idx}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, act[i].fd, &ev); err != nil {
			return err
		}
	}
	for i := range act {
		act[i].sentAt = g.now()
		if err := g.send(&act[i], g.cfg.depth*g.msg); err != nil {
			return err
		}
	}

	var (
		events      = make([]unix.EpollEvent, 256)
		warmEnd     = g.now() + int64(g.cfg.warmup)
		end         = warmEnd + int64(g.cfg.duration)
		measuring   = false
		t0, done0   int64
		srv0        cpuSample
		self0       int64
		lastMsgTime = g.now()
		lastDone    int64
	)
	for {
		n, err := unix.EpollWait(ep, events, 10)
		if err != nil && err != unix.EINTR {
			return err
		}
		now := g.now()
		if !measuring && now >= warmEnd {
			measuring, g.timed = true, g.cfg.depth == 1
			t0, done0, self0 = now, g.done, selfCPU()
			if g.cfg.pid > 0 {
				if srv0, err = readCPU(g.cfg.pid); err != nil {
					return err
				}
			}
		}
		if measuring && now >= end {
			self1 := selfCPU()
			t1 := g.now()
			var srv1 cpuSample
			if g.cfg.pid > 0 {
				if srv1, err = readCPU(g.cfg.pid); err != nil {
					return err
				}
			}
			g.finish(res, t1-t0, g.done-done0, srv1, srv0, self1-self0)
			return nil
		}
		for i := range n {
			c := &act[events[i].Fd]
			if err := g.event(c, events[i].Events); err != nil {
				return fmt.Errorf("connection %d: %w", events[i].Fd, err)
			}
		}
		if g.done != lastDone {
			lastDone, lastMsgTime = g.done, now
		} else if now-lastMsgTime > int64(g.cfg.setupWait) {
			return fmt.Errorf("no echo for %v", g.cfg.setupWait)
		}
	}
}

func (g *gen) finish(res *result, window, msgs int64, srv1, srv0 cpuSample, self int64) {
	sec := float64(window) / 1e9
	res.WindowS = sec
	res.Msgs = msgs
	res.MsgsPerS = float64(msgs) / sec
	res.ClientCPU = float64(self) / 1e9
	res.ClientUtil = res.ClientCPU / sec
	res.ClientSaturated = res.ClientUtil > 0.9
	if msgs > 0 {
		res.ClientNsPerMsg = float64(self) / float64(msgs)
	}
	if g.cfg.pid > 0 {
		res.ServerCPU = float64(srv1.sched-srv0.sched) / 1e9
		res.ServerCPUTicks = float64(srv1.ticks-srv0.ticks) / clockTick
		res.ServerThreads = srv1.threads
		res.ServerUtil = res.ServerCPU / sec
		if msgs > 0 {
			res.ServerNsPerMsg = float64(srv1.sched-srv0.sched) / float64(msgs)
		}
	}
	if g.hist.n > 0 {
		res.P50us = float64(g.hist.quantile(0.50)) / 1e3
		res.P99us = float64(g.hist.quantile(0.99)) / 1e3
	}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Sscan(string(la), &res.LoadAvg1)
	}
}

// event handles one connection's readiness.
func (g *gen) event(c *conn, bits uint32) error {
	if bits&unix.EPOLLOUT != 0 {
		if err := g.flush(c); err != nil {
			return err
		}
	}
	if bits&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLERR) == 0 {
		return nil
	}
	n, err := unix.Read(c.fd, g.rbuf)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return nil
	case err != nil:
		return err
	case n == 0:
		return errors.New("server closed the connection")
	}
	if g.cfg.rpc {
		if err := g.verify(c.recv, g.rbuf[:n]); err != nil {
			return err
		}
	}
	c.recv += n
	k := c.recv / g.msg
	if k == 0 {
		return nil
	}
	c.recv -= k * g.msg
	g.done += int64(k)
	if g.timed {
		now := g.now()
		g.hist.add(now - c.sentAt)
		c.sentAt = now
	}
	return g.send(c, k*g.msg)
}

// frames returns n bytes of requests of W5's framing, one after another,
// each with size bytes of payload: the bytes of a request stream from
// its start, and, since every response is the request it answers, those
// of the response stream too.
func frames(size, n int) []byte {
	msg := frame.HeaderLen + size
	b := make([]byte, n)
	for i := range b {
		if off := i % msg; off < frame.HeaderLen {
			b[i] = byte(size >> (8 * (frame.HeaderLen - 1 - off)))
		} else {
			b[i] = byte('a' + (off-frame.HeaderLen)%26)
		}
	}
	return b
}

// verify checks that p, read at offset off into a response, is what the
// response stream holds there: the header announcing -size bytes, then
// the request's payload.
func (g *gen) verify(off int, p []byte) error {
	want := g.wbuf[off : off+len(p)]
	if bytes.Equal(p, want) {
		return nil
	}
	for i := range p {
		if p[i] != want[i] {
			where := "payload"
			if (off+i)%g.msg < frame.HeaderLen {
				where = "length header"
			}
			return fmt.Errorf("response differs in its %s, byte %d of the frame: got %#x, want %#x",
				where, (off+i)%g.msg, p[i], want[i])
		}
	}
	return nil
}

// send queues n more bytes on c and writes what the kernel takes.
func (g *gen) send(c *conn, n int) error {
	c.owe += n
	return g.flush(c)
}

// flush writes what c owes. With -rpc the write goes on from where in its
// frame the last one stopped (wbuf holds whole frames, one more than a
// write takes); an echo's bytes need no alignment, so it starts at 0.
func (g *gen) flush(c *conn) error {
	for c.owe > 0 {
		start := int(c.woff)
		w, err := unix.Write(c.fd, g.wbuf[start:start+min(c.owe, bufSize)])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			if !c.out {
				c.out = true
				return g.watch(c, unix.EPOLLIN|unix.EPOLLOUT)
			}
			return nil
		}
		if err != nil {
			return err
		}
		c.owe -= w
		if g.cfg.rpc {
			c.woff = int32((start + w) % g.msg)
		}
	}
	if c.out {
		c.out = false
		return g.watch(c, unix.EPOLLIN)
	}
	return nil
}

func (g *gen) watch(c *conn, bits uint32) error {
	ev := unix.EpollEvent{Events: bits, Fd: c.idx}
	return unix.EpollCtl(g.ep, unix.EPOLL_CTL_MOD, c.fd, &ev)
}

func (g *gen) closeAll() {
	for i := range g.conns {
		unix.Close(g.conns[i].fd)
	}
}
