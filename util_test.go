//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Helpers for every test of the package: loops, recording handler, waits,
// loopback listeners and connected pairs, and the fd-leak check. Every wait
// is on the loop or on poll(2), bounded by maxWait or pending; nothing
// sleeps to let the kernel catch up.

// Tokens from watchdogToken up belong to the helpers; tests use smaller
// ones for their own fds and timers.
const (
	watchdogToken Token = 1<<62 + iota // the run went on past maxWait: a stall
	stopToken                          // the quiet window stopAfter set is over
)

// maxWait is the longest any run or wait in these tests may take: far
// beyond what a healthy run needs, short enough that a stall fails instead
// of hanging.
const maxWait = 20 * time.Second

// checkNoFdLeaks snapshots the open fds and fails the test if, once it and
// all its other cleanups are done, any fd opened since is still open.
func checkNoFdLeaks(t testing.TB) {
	t.Helper()
	before := openFds()
	t.Cleanup(func() {
		if leaked := leakedSince(before); len(leaked) > 0 {
			t.Errorf("fds left open: %s", showFds(leaked))
		}
	})
}

// showFds formats a list of leaked fds, at most 20 of them.
func showFds(leaked []string) string {
	if len(leaked) > 20 {
		return fmt.Sprintf("%d, among them %v", len(leaked), leaked[:20])
	}
	return fmt.Sprint(leaked)
}

// call is one recorded Readable or Writable.
type call struct {
	kind  string // "r" or "w"
	token Token
	hint  ReadHint
}

// recorder is the handler the tests share: it records every callback, in
// order, and lets a test act inside each. The helpers' watchdogToken and
// stopToken end the run instead of being recorded.
type recorder struct {
	calls   []call      // Readable and Writable
	fired   []Token     // Timeout tokens
	at      []time.Time // when each of fired fired
	msgs    []int       // Notify messages
	ticks   int
	stalled bool // the watchdog fired

	onReadable func(l *EventLoop[int], tok Token, hint ReadHint)
	onWritable func(l *EventLoop[int], tok Token)
	onTimeout  func(l *EventLoop[int], tok Token)
	onNotify   func(l *EventLoop[int], msg int)
	onTick     func(l *EventLoop[int])
}

func (r *recorder) Readable(l *EventLoop[int], tok Token, hint ReadHint) {
	r.calls = append(r.calls, call{"r", tok, hint})
	if r.onReadable != nil {
		r.onReadable(l, tok, hint)
	}
}

func (r *recorder) Writable(l *EventLoop[int], tok Token) {
	r.calls = append(r.calls, call{"w", tok, 0})
	if r.onWritable != nil {
		r.onWritable(l, tok)
	}
}

func (r *recorder) Timeout(l *EventLoop[int], tok Token) {
	switch tok {
	case watchdogToken:
		r.stalled = true
		l.Shutdown()
	case stopToken:
		l.Shutdown()
	default:
		r.fired = append(r.fired, tok)
		r.at = append(r.at, time.Now())
		if r.onTimeout != nil {
			r.onTimeout(l, tok)
		}
	}
}

func (r *recorder) Notify(l *EventLoop[int], msg int) {
	r.msgs = append(r.msgs, msg)
	if r.onNotify != nil {
		r.onNotify(l, msg)
	}
}

func (r *recorder) Tick(l *EventLoop[int]) {
	r.ticks++
	if r.onTick != nil {
		r.onTick(l)
	}
}

// count is how many callbacks of kind ("r" or "w") tok got.
func (r *recorder) count(kind string, tok Token) int {
	n := 0
	for _, c := range r.calls {
		if c.kind == kind && c.token == tok {
			n++
		}
	}
	return n
}

// hints is every hint tok's Readable calls carried.
func (r *recorder) hints(tok Token) ReadHint {
	var h ReadHint
	for _, c := range r.calls {
		if c.kind == "r" && c.token == tok {
			h |= c.hint
		}
	}
	return h
}

// lastCalls is the end of r's record, for a failure message.
func (r *recorder) lastCalls() []call { return r.calls[max(0, len(r.calls)-20):] }

// run runs l with r until a callback calls Shutdown (or a stopAfter window
// ends), failing the test if that takes longer than maxWait.
func run(t testing.TB, l *EventLoop[int], r *recorder) {
	t.Helper()
	wd, err := l.Timeout(watchdogToken, maxWait)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Run(r); err != nil {
		t.Fatal(err)
	}
	l.ClearTimeout(wd)
	if r.stalled {
		t.Fatalf("loop still running after %v: stalled; %d callbacks, the last %v", maxWait, len(r.calls), r.lastCalls())
	}
}

// stopAfter makes the running loop stop after d: the quiet window in
// which a test checks that no further callback comes.
func stopAfter(t testing.TB, l *EventLoop[int], d time.Duration) {
	t.Helper()
	if _, err := l.Timeout(stopToken, d); err != nil {
		t.Error(err)
	}
}

// boundTCP binds a TCP acceptor to ip and a free port, not yet
// listening; it is closed at the end of the test.
func boundTCP(t testing.TB, ip netip.Addr) (*TCPAcceptor, SockAddr) {
	t.Helper()
	s := newTCPSocket4or6(t, ip)
	acc, err := s.Bind(InetAddr(ip, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acc.Close() })
	addr, err := acc.LocalAddr()
	if err != nil {
		t.Fatal(err)
	}
	return acc, addr
}

// deadTCPAddr returns a loopback address on which nothing listens: a
// port that was bound a moment ago and released.
func deadTCPAddr(t *testing.T, ip netip.Addr) SockAddr {
	t.Helper()
	acc, addr := boundTCP(t, ip)
	if err := acc.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// fdOpen reports whether fd is an open descriptor of this process.
func fdOpen(fd int) bool {
	if fd < 0 {
		return false
	}
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

// isReset reports whether err is what reading or writing a reset
// connection gives.
func isReset(err error) bool {
	return errors.Is(err, unix.ECONNRESET) || errors.Is(err, unix.EPIPE)
}

// streamSource is a deterministic byte stream: a fixed random block sent over
// and over, each lap rotated by a different amount, so that a lost,
// repeated or reordered chunk changes the running hash.
type streamSource struct {
	block []byte
	total int64
	sent  int64
}

func newStreamSource(total int64) *streamSource {
	return &streamSource{block: randomBytes(1<<20+7, 42), total: total}
}

// next returns the bytes that follow what was sent, without copying.
func (s *streamSource) next() []byte {
	if s.sent >= s.total {
		return nil
	}
	n := int64(len(s.block))
	lap, off := s.sent/n, s.sent%n
	rot := (lap * 7919) % n
	start := (rot + off) % n
	end := n
	if start < rot {
		end = rot // the lap wraps: first the tail, then up to rot
	}
	p := s.block[start:end]
	if left := s.total - s.sent; int64(len(p)) > left {
		p = p[:left]
	}
	if int64(len(p)) > n-off {
		p = p[:n-off]
	}
	return p
}

func newLoop(t testing.TB) *EventLoop[int] {
	t.Helper()
	l, err := NewEventLoop[int](Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// socketPair returns both ends of a connected non-blocking Unix stream
// socket pair, closed at the end of the test.
func socketPair(t testing.TB) (*RawFd, *RawFd) {
	t.Helper()
	a, b := rawPair(t)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func writeAll(t testing.TB, r *RawFd, p []byte) {
	t.Helper()
	if _, err := unix.Write(r.Fd(), p); err != nil {
		t.Fatal(err)
	}
}

func runOnce(t testing.TB, l *EventLoop[int], h Handler[int], d time.Duration) {
	t.Helper()
	if err := l.RunOnce(h, d); err != nil {
		t.Fatal(err)
	}
}

// A short wait that is still long enough for an event that is already
// pending: RunOnce returns as soon as it arrives.
const pending = 5 * time.Second

// runInBackground starts l.Run on another goroutine and returns once the
// loop has dispatched an event, so that it is certainly running (and, with
// nothing more registered, about to sleep). The channel carries Run's result.
func runInBackground(t *testing.T, l *EventLoop[int]) <-chan error {
	t.Helper()
	a, _ := socketPair(t)
	if err := l.Register(a, 1, Writable, Oneshot); err != nil {
		t.Fatal(err)
	}
	running := make(chan struct{})
	r := &recorder{onWritable: func(*EventLoop[int], Token) { close(running) }}
	done := make(chan error, 1)
	go func() { done <- l.Run(r) }()
	select {
	case <-running:
	case err := <-done:
		t.Fatalf("Run returned before dispatching: %v", err)
	case <-time.After(maxWait):
		t.Fatal("Run dispatched nothing")
	}
	return done
}

// awaitRun waits for a Run or RunOnce started in the background to return
// done's error, which must be nil. After maxWait it shuts the loop down,
// waits, and fails with what was expected.
func awaitRun(t *testing.T, l *EventLoop[int], done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(maxWait):
		l.Shutdown()
		<-done
		t.Fatal(what)
	}
}

var loopback4 = netip.MustParseAddr("127.0.0.1")

// pollFds waits until one of fds is ready, failing the test after pending.
func pollFds(t testing.TB, fds []unix.PollFd) {
	t.Helper()
	deadline := time.Now().Add(pending)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("poll %+v: nothing ready within %v", fds, pending)
		}
		n, err := unix.Poll(fds, int(left/time.Millisecond)+1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		if n > 0 {
			return
		}
	}
}

// waitFd waits until fd is ready for events (or has an error or hang-up).
func waitFd(t testing.TB, fd int, events int16) {
	t.Helper()
	pollFds(t, []unix.PollFd{{Fd: int32(fd), Events: events}})
}

// requireNonblock stops a test at once on a blocking fd, which would
// otherwise hang it in the first Read or Write with nothing to do.
func requireNonblock(t testing.TB, fd int) {
	t.Helper()
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK == 0 {
		t.Fatalf("fd %d is not non-blocking (F_GETFL %#x, %v)", fd, fl, err)
	}
}

// ipv6Loopback returns ::1, or skips the test on a machine where an IPv6
// TCP socket cannot be opened or bound to it.
// forEachLoopback runs f as subtest "v4" on 127.0.0.1 and as "v6" on ::1,
// which is skipped where this machine has no IPv6.
func forEachLoopback(t *testing.T, f func(t *testing.T, name string, ip netip.Addr)) {
	t.Run("v4", func(t *testing.T) { f(t, "v4", loopback4) })
	t.Run("v6", func(t *testing.T) { f(t, "v6", ipv6Loopback(t)) })
}

func ipv6Loopback(t testing.TB) netip.Addr {
	t.Helper()
	s, err := NewTCPSocketV6()
	if err != nil {
		t.Skipf("no IPv6 TCP sockets on this machine: %v", err)
	}
	acc, err := s.Bind(InetAddr(netip.IPv6Loopback(), 0))
	if err != nil {
		s.Close()
		t.Skipf("cannot bind [::1] on this machine: %v", err)
	}
	acc.Close()
	return netip.IPv6Loopback()
}

func newTCPSocket4or6(t testing.TB, ip netip.Addr) *TCPSocket {
	t.Helper()
	newSock := NewTCPSocketV4
	if ip.Is6() {
		newSock = NewTCPSocketV6
	}
	s, err := newSock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	requireNonblock(t, s.Fd())
	return s
}

// tcpListener binds a TCP acceptor to ip with port 0 and listens on it. A
// bufSize > 0 sets its SO_RCVBUF first, which accepted sockets inherit.
func tcpListener(t testing.TB, ip netip.Addr, bufSize int) (*TCPAcceptor, SockAddr) {
	t.Helper()
	acc, addr := boundTCP(t, ip)
	if bufSize > 0 {
		if err := acc.SetRecvBuffer(bufSize); err != nil {
			t.Fatal(err)
		}
	}
	if err := acc.listen(16); err != nil {
		t.Fatal(err)
	}
	return acc, addr
}

// unixListener binds a Unix acceptor to a fresh path and listens on it
// with backlog.
func unixListener(t testing.TB, backlog int) (*UnixAcceptor, SockAddr) {
	t.Helper()
	s, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	addr := UnixAddr(filepath.Join(t.TempDir(), "s.sock"))
	acc, err := s.Bind(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acc.Close() })
	if err := acc.listen(backlog); err != nil {
		t.Fatal(err)
	}
	return acc, addr
}

// connectNow connects s to addr and waits until the connection is made.
func connectNow(t testing.TB, s Socket, addr SockAddr) {
	t.Helper()
	state, err := s.startConnect(addr)
	if err != nil {
		t.Fatalf("connect %s: %v", addr, err)
	}
	switch state {
	case connectDone:
	case connectInProgress:
		waitFd(t, s.Fd(), unix.POLLOUT)
		if err := s.TakeError(); err != nil {
			t.Fatalf("connect %s: %v", addr, err)
		}
	default:
		t.Fatalf("connect %s: the listener's queue is full", addr)
	}
}

// acceptOne waits for a pending connection on acc and accepts it.
func acceptOne[S closable](t testing.TB, fd int, accept func() (S, error)) S {
	t.Helper()
	for range 100 {
		c, err := accept()
		if err == nil {
			t.Cleanup(func() { c.Close() })
			requireNonblock(t, c.Fd())
			return c
		}
		if err != ErrWouldBlock {
			t.Fatalf("accept: %v", err)
		}
		waitFd(t, fd, unix.POLLIN)
	}
	t.Fatal("accept: readable listener but no connection, 100 times")
	panic("unreachable")
}

// tcpPair returns a connected client and the server end accepted for it.
// The listener is closed again before it returns. A bufSize > 0 gives the
// client that SO_SNDBUF and the server that SO_RCVBUF, before connecting.
func tcpPair(t testing.TB, ip netip.Addr, bufSize int) (client, server *TCPSocket) {
	t.Helper()
	acc, addr := tcpListener(t, ip, bufSize)
	client = newTCPSocket4or6(t, ip)
	if bufSize > 0 {
		if err := client.SetSendBuffer(bufSize); err != nil {
			t.Fatal(err)
		}
	}
	connectNow(t, client, addr)
	server = acceptOne(t, acc.Fd(), acc.AcceptTCP)
	if err := acc.Close(); err != nil {
		t.Fatal(err)
	}
	return client, server
}

// unixPair is tcpPair for Unix stream sockets; bufSize > 0 sets the
// client's SO_SNDBUF, which is what bounds a Unix stream writer.
func unixPair(t testing.TB, bufSize int) (client, server *UnixSocket) {
	t.Helper()
	acc, addr := unixListener(t, 16)
	client, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	requireNonblock(t, client.Fd())
	if bufSize > 0 {
		if err := client.SetSendBuffer(bufSize); err != nil {
			t.Fatal(err)
		}
	}
	connectNow(t, client, addr)
	server = acceptOne(t, acc.Fd(), acc.AcceptUnix)
	if err := acc.Close(); err != nil {
		t.Fatal(err)
	}
	return client, server
}

// pairKind makes one kind of connected stream pair.
type pairKind struct {
	name string
	pair func(t *testing.T, bufSize int) (client, server Socket)
}

var pairKinds = []pairKind{
	{"tcp4", func(t *testing.T, n int) (Socket, Socket) {
		c, s := tcpPair(t, loopback4, n)
		return c, s
	}},
	{"tcp6", func(t *testing.T, n int) (Socket, Socket) {
		c, s := tcpPair(t, ipv6Loopback(t), n)
		return c, s
	}},
	{"unix", func(t *testing.T, n int) (Socket, Socket) {
		c, s := unixPair(t, n)
		return c, s
	}},
}

func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(rng.Uint32())
	}
	return p
}

// transferThenEOF writes data to w, calls finish (a Shutdown or Close of
// w's end) once all of it is written, and reads r meanwhile until io.EOF.
// It returns what r read. wfd and rfd are w's and r's fds, for poll.
func transferThenEOF(t testing.TB, w io.Writer, wfd int, finish func() error, r io.Reader, rfd int, data []byte) []byte {
	t.Helper()
	var got []byte
	buf := make([]byte, 64<<10)
	written, finished := 0, false
	deadline := time.Now().Add(2 * pending)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("no EOF after %v: %d of %d bytes written, %d read", 2*pending, written, len(data), len(got))
		}
		if !finished {
			if written < len(data) {
				n, err := w.Write(data[written:])
				written += n
				switch {
				case err == ErrWouldBlock:
				case err != nil:
					t.Fatalf("write: %v", err)
				case written != len(data):
					t.Fatalf("write: n = %d < len(p) = %d with no error", n, len(data)-written+n)
				}
			}
			if written == len(data) {
				if err := finish(); err != nil {
					t.Fatalf("finishing the writer: %v", err)
				}
				finished = true
			}
		}
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		switch {
		case err == io.EOF:
			if !finished {
				t.Fatalf("io.EOF before the writer finished (%d bytes read)", len(got))
			}
			return got
		case err == ErrWouldBlock:
			fds := []unix.PollFd{{Fd: int32(rfd), Events: unix.POLLIN}}
			if !finished {
				fds = append(fds, unix.PollFd{Fd: int32(wfd), Events: unix.POLLOUT})
			}
			pollFds(t, fds)
		case err != nil:
			t.Fatalf("read after %d bytes: %v", len(got), err)
		case n == 0:
			t.Fatal("read: 0 bytes with no error")
		}
	}
}

// readToEOF reads r until io.EOF and returns what it read.
func readToEOF(t testing.TB, r io.Reader, rfd int) []byte {
	t.Helper()
	return transferThenEOF(t, nil, -1, func() error { return nil }, r, rfd, nil)
}

func checkFlags(t *testing.T, what string, fd int) {
	t.Helper()
	if fd < 0 {
		t.Errorf("%s: fd %d", what, fd)
		return
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		t.Errorf("%s: F_GETFL: %v", what, err)
	} else if fl&unix.O_NONBLOCK == 0 {
		t.Errorf("%s: fd %d is blocking (F_GETFL %#x)", what, fd, fl)
	}
	fd2, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		t.Errorf("%s: F_GETFD: %v", what, err)
	} else if fd2&unix.FD_CLOEXEC == 0 {
		t.Errorf("%s: fd %d is not close-on-exec (F_GETFD %#x)", what, fd, fd2)
	}
}

// expectNoSIGPIPE runs f with SIGPIPE caught through os/signal and fails if
// one arrived.
func expectNoSIGPIPE(t *testing.T, f func()) {
	t.Helper()
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, syscall.SIGPIPE, syscall.SIGWINCH)
	defer signal.Stop(ch)
	f()
	// An absence check cannot wait for the signal, so it needs a marker. A
	// SIGPIPE from f's writes is raised in the writing thread before the
	// write returns, but reaches ch through the runtime's signal goroutine,
	// so an empty ch right now would prove nothing. SIGWINCH, sent now,
	// reaches ch after any such SIGPIPE: the runtime hands signals out in
	// the order it queued them, and lowest number first among those queued
	// together (SIGPIPE is 13, SIGWINCH 28). SIGWINCH is ignored by default,
	// so a stray one does no harm.
	if err := unix.Kill(unix.Getpid(), unix.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(pending)
	for marker := false; !marker; {
		select {
		case sig := <-ch:
			if sig == syscall.SIGPIPE {
				t.Fatal("SIGPIPE delivered by a write to a closed peer")
			}
			marker = sig == syscall.SIGWINCH
		case <-timeout:
			t.Fatal("the SIGWINCH marker never arrived")
		}
	}
	// Positive control: the same setup does see the SIGPIPE that a write
	// into a raw pipe without a reader raises, so the check above is not
	// vacuous.
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	unix.Close(p[0])
	_, err := unix.Write(p[1], []byte("x"))
	unix.Close(p[1])
	if err != unix.EPIPE {
		t.Fatalf("control write into a pipe without reader: %v, want EPIPE", err)
	}
	for {
		select {
		case sig := <-ch:
			if sig == syscall.SIGPIPE {
				return
			}
		case <-timeout:
			t.Fatal("control: a raw pipe's SIGPIPE never reached os/signal, so its absence above proves nothing")
		}
	}
}

// closable is what every fd type of the library has.
type closable interface {
	Fd() int
	Close() error
}

// closables opens one of each kind of fd the library makes.
func closables(t *testing.T) map[string]func() closable {
	return map[string]func() closable{
		"TCPSocket": func() closable { return newTCPSocket4or6(t, loopback4) },
		"UnixSocket": func() closable {
			u, err := NewUnixSocket()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { u.Close() })
			return u
		},
		"TCPSocket accepted": func() closable {
			_, s := tcpPair(t, loopback4, 0)
			return s
		},
		"TCPAcceptor": func() closable {
			acc, _ := tcpListener(t, loopback4, 0)
			return acc
		},
		"UnixSocket accepted": func() closable {
			_, s := unixPair(t, 0)
			return s
		},
		"UnixAcceptor": func() closable {
			acc, _ := unixListener(t, 16)
			return acc
		},
		"PipeReader": func() closable {
			r, _ := newPipe(t)
			return r
		},
		"PipeWriter": func() closable {
			_, w := newPipe(t)
			return w
		},
	}
}

// occupyFd makes num, which the caller has just closed, the fd of one end
// of a fresh socket pair, and returns that end and its peer.
func occupyFd(t *testing.T, num int) (b, peer *RawFd) {
	t.Helper()
	x, y := socketPair(t)
	switch num {
	case x.Fd():
		return x, y
	case y.Fd():
		return y, x
	}
	if err := unix.Dup2(x.Fd(), num); err != nil {
		t.Fatal(err)
	}
	x.Close()
	b = NewRawFd(num)
	t.Cleanup(func() { b.Close() })
	return b, y
}

// spareFdName is the number of the accept reserve fd, or "" if none is held.
func spareFdName() string {
	acceptSpare.mu.Lock()
	defer acceptSpare.mu.Unlock()
	if !acceptSpare.held.Load() {
		return ""
	}
	return strconv.Itoa(acceptSpare.fd)
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
// asynchronously) do not count, unlike a plain comparison of counts; nor
// does the accept reserve (accept_shed.go), which a shed closes and opens
// again, maybe under another number, and which is held on purpose.
func leakedSince(before fdSet) []string {
	if before == nil {
		return nil
	}
	spare := spareFdName()
	var leaked []string
	for fd, target := range openFds() {
		// The directory listing itself holds one fd while it is read.
		if was, ok := before[fd]; (!ok || was != target) && target != "" && fd != spare {
			leaked = append(leaked, fd+"->"+target)
		}
	}
	slices.Sort(leaked)
	return leaked
}

// rawPair opens a non-blocking, close-on-exec Unix stream socket pair that
// the caller closes itself (no t.Cleanup, so thousands can come and go).
func rawPair(t testing.TB) (*RawFd, *RawFd) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
		unix.CloseOnExec(fd)
	}
	return NewRawFd(fds[0]), NewRawFd(fds[1])
}

// pairOn opens a socket pair whose first end has the fd number num, which
// the caller has just closed. ok is false when num was taken meanwhile by
// someone else; the pair is then returned on whatever numbers it got.
func pairOn(t testing.TB, num int) (a, b *RawFd, ok bool) {
	t.Helper()
	a, b = rawPair(t)
	switch {
	case a.Fd() == num:
		return a, b, true
	case b.Fd() == num:
		return b, a, true
	case fdOpen(num):
		return a, b, false
	}
	if err := unix.Dup2(a.Fd(), num); err != nil {
		t.Fatal(err)
	}
	unix.CloseOnExec(num) // dup2 does not copy the flag
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	return NewRawFd(num), b, true
}

// runUntil runs the loop until stop says so, at most a bounded number of
// iterations of at most a bounded wait.
func runUntil(t *testing.T, l *EventLoop[int], h Handler[int], stop func() bool) {
	t.Helper()
	deadline := time.Now().Add(maxWait)
	for !stop() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached within %v", maxWait)
		}
		if err := l.RunOnce(h, time.Second); err != nil {
			t.Fatal(err)
		}
	}
}

// runOnceBounded runs one iteration that may sleep for ever, in the
// background, and fails the test if it has not returned within maxWait
// (then it shuts the loop down, so nothing is left running).
func runOnceBounded(t *testing.T, l *EventLoop[int], h Handler[int]) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- l.RunOnce(h, -1) }()
	awaitRun(t, l, done, "RunOnce still sleeping after maxWait")
}

// shrunk reports whether the stress tests run at their smaller size: with
// -short, and under the race detector, which slows them down several times.
func shrunk() bool { return raceEnabled || testing.Short() }

// closeAccepted accepts and closes every pending connection on acc.
func closeAccepted(acc Acceptor) {
	for {
		c, err := acc.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// connRecorder is the ConnHandler the tests share, as recorder is the
// Handler: it records every callback in order and lets a test act in
// each. By default OnData echoes what came (echo) or keeps it (got).
type connRecorder struct {
	events []string // "open", "data", "drain", "close", each with the Conn's index
	ids    map[*Conn]int
	got    map[*Conn][]byte
	errs   map[*Conn]error
	closes map[*Conn]int
	echo   bool

	onOpen  func(c *Conn)
	onData  func(c *Conn)
	onDrain func(c *Conn)
	onClose func(c *Conn, err error)
}

func newConnRecorder() *connRecorder {
	return &connRecorder{ids: map[*Conn]int{}, got: map[*Conn][]byte{}, errs: map[*Conn]error{}, closes: map[*Conn]int{}}
}

func (r *connRecorder) note(what string, c *Conn) {
	id, ok := r.ids[c]
	if !ok {
		id = len(r.ids)
		r.ids[c] = id
	}
	r.events = append(r.events, what+strconv.Itoa(id))
}

func (r *connRecorder) OnOpen(c *Conn) {
	r.note("open", c)
	if r.onOpen != nil {
		r.onOpen(c)
	}
}

func (r *connRecorder) OnData(c *Conn) {
	r.note("data", c)
	switch {
	case r.onData != nil:
		r.onData(c)
	case r.echo:
		in := c.In()
		if _, err := c.Write(in.Bytes()); err == nil {
			in.Discard(in.Len())
		}
	default:
		r.got[c] = append(r.got[c], c.In().Next(c.In().Len())...)
	}
}

func (r *connRecorder) OnDrain(c *Conn) {
	r.note("drain", c)
	if r.onDrain != nil {
		r.onDrain(c)
	}
}

func (r *connRecorder) OnClose(c *Conn, err error) {
	r.note("close", c)
	r.closes[c]++
	r.errs[c] = err
	if r.onClose != nil {
		r.onClose(c, err)
	}
}

// closed reports whether c got its OnClose.
func (r *connRecorder) closed(c *Conn) bool { return r.closes[c] > 0 }

// connRig is a loop with a Conns table and a connRecorder, driven by the
// test one bounded iteration at a time.
type connRig struct {
	t     *testing.T
	loop  *EventLoop[int]
	conns *Conns[int]
	rec   *connRecorder
	raw   *recorder // the Handler for the tokens that are not the table's
}

func newConnRig(t *testing.T, cfg ConnConfig) *connRig {
	t.Helper()
	g := &connRig{t: t, loop: newLoop(t), rec: newConnRecorder(), raw: &recorder{}}
	conns, err := NewConns[int](g.loop, g.rec, g.raw, cfg)
	if err != nil {
		t.Fatal(err)
	}
	g.conns = conns
	return g
}

// until runs the loop until stop holds.
func (g *connRig) until(stop func() bool) {
	g.t.Helper()
	runUntil(g.t, g.loop, g.conns, stop)
}

// adopt makes a Conn of a fresh TCP pair's server end and returns it with
// the client end, and runs until OnOpen.
func (g *connRig) adopt(bufSize int) (*Conn, *TCPSocket) {
	g.t.Helper()
	client, server := tcpPair(g.t, loopback4, bufSize)
	c, err := g.conns.Adopt(server)
	if err != nil {
		g.t.Fatal(err)
	}
	g.until(func() bool { return c.flags&cOpen != 0 })
	return c, client
}

// readSome reads what the non-blocking s has now, without waiting.
func readSome(t testing.TB, s Socket, into []byte) ([]byte, error) {
	t.Helper()
	var buf [64 << 10]byte
	for {
		n, err := s.Read(buf[:])
		into = append(into, buf[:n]...)
		if err != nil {
			if err == ErrWouldBlock {
				err = nil
			}
			return into, err
		}
	}
}

// useUpFds lowers RLIMIT_NOFILE to 256 and opens /dev/null until the
// process is out of descriptors, so that the next fd anything needs fails
// with EMFILE; it skips the test where the hard limit is lower. free(n)
// closes n of the fillers; the cleanup closes the rest and puts the limit
// back. For a child process: the whole process is out of fds.
func useUpFds(t *testing.T) (free func(n int)) {
	t.Helper()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = 256
	if lim.Max < low.Cur {
		t.Skipf("RLIMIT_NOFILE hard limit %d is below %d", lim.Max, low.Cur)
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	var fillers []int
	free = func(n int) {
		for ; n > 0 && len(fillers) > 0; n-- {
			unix.Close(fillers[len(fillers)-1])
			fillers = fillers[:len(fillers)-1]
		}
	}
	t.Cleanup(func() {
		free(len(fillers))
		unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
	})
	for {
		fd, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == unix.EMFILE {
			return free
		}
		if err != nil {
			t.Fatalf("filling the fd table: %v", err)
		}
		fillers = append(fillers, fd)
		if len(fillers) > int(low.Cur) {
			t.Fatal("the fd limit does not hold")
		}
	}
}
