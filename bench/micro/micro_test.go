//go:build linux

// Package micro holds micro-benchmarks of the library's hot paths through
// its public API, each beside the bare system call it makes on the same
// fd, so that the library's own cost per call is the difference:
//
//	MioRead64 / SysRead64 / RawRead64      one 64-byte read
//	MioWrite64 / SysWrite64 / SysSendmsg64 / RawWrite64   one 64-byte write
//	MioDispatch64 / EpollWait64            one poll of 64 ready fds
//	MioEcho64 / RawEcho64                  one message through an echo loop
//	MioConnEcho64                          the same through the buffered Conn layer
//
// Sys* go through x/sys (runtime.entersyscall and exitsyscall around the
// call, as the library does); Raw* use unix.RawSyscall, which skips them.
package micro

import (
	"errors"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"github.com/miogo/mio"
	"golang.org/x/sys/unix"
)

// pair is a loopback TCP connection: sock, the library's end, and peer, a
// raw fd.
type pair struct {
	loop *mio.EventLoop[struct{}]
	sock *mio.TCPSocket
	peer int
}

type connected struct {
	mio.NopHandler[struct{}]
	done bool
}

func (c *connected) Writable(*mio.EventLoop[struct{}], mio.Token) { c.done = true }

func newPair(tb testing.TB) *pair {
	tb.Helper()
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer unix.Close(lfd)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		tb.Fatal(err)
	}
	if err := unix.Listen(lfd, 16); err != nil {
		tb.Fatal(err)
	}
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		tb.Fatal(err)
	}
	port := uint16(sa.(*unix.SockaddrInet4).Port)

	loop, err := mio.NewEventLoop[struct{}](mio.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	sock, err := mio.NewTCPSocketV4()
	if err != nil {
		tb.Fatal(err)
	}
	sock.SetNoDelay(true)
	if err := loop.Connect(sock, mio.InetAddr(netip.MustParseAddr("127.0.0.1"), port), 1); err != nil {
		tb.Fatal(err)
	}
	peer, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		tb.Fatal(err)
	}
	unix.SetsockoptInt(peer, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	h := &connected{}
	for deadline := time.Now().Add(5 * time.Second); !h.done; {
		if time.Now().After(deadline) {
			tb.Fatal("connect did not complete")
		}
		if err := loop.RunOnce(h, 100*time.Millisecond); err != nil {
			tb.Fatal(err)
		}
	}
	if err := loop.Deregister(sock); err != nil {
		tb.Fatal(err)
	}
	p := &pair{loop: loop, sock: sock, peer: peer}
	tb.Cleanup(func() {
		sock.Close()
		unix.Close(peer)
		loop.Close()
	})
	return p
}

var chunk = make([]byte, 64<<10)

// fill writes from the peer until its buffers and sock's are full.
func (p *pair) fill() {
	for {
		if _, err := unix.Write(p.peer, chunk); err != nil {
			return
		}
	}
}

// drain reads everything the peer has been sent.
func (p *pair) drain() {
	for {
		if n, err := unix.Read(p.peer, chunk); err != nil || n == 0 {
			return
		}
	}
}

// readBench times read of 64 bytes on the library's end, refilling it
// with the timer stopped whenever it runs dry.
func readBench(b *testing.B, read func(p *pair, buf []byte) (int, error)) {
	p := newPair(b)
	buf := make([]byte, 64)
	p.fill()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := read(p, buf); err != nil {
			if !errors.Is(err, unix.EAGAIN) {
				b.Fatal(err)
			}
			b.StopTimer()
			p.fill()
			b.StartTimer()
		}
	}
}

// writeBench times a 64-byte write on the library's end, draining the
// peer with the timer stopped whenever the buffers are full.
func writeBench(b *testing.B, write func(p *pair, buf []byte) (int, error)) {
	p := newPair(b)
	buf := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if n, err := write(p, buf); err != nil || n < len(buf) {
			if err != nil && !errors.Is(err, unix.EAGAIN) {
				b.Fatal(err)
			}
			b.StopTimer()
			p.drain()
			b.StartTimer()
		}
	}
}

func BenchmarkMioRead64(b *testing.B) {
	readBench(b, func(p *pair, buf []byte) (int, error) { return p.sock.Read(buf) })
}

func BenchmarkSysRead64(b *testing.B) {
	readBench(b, func(p *pair, buf []byte) (int, error) { return unix.Read(p.sock.Fd(), buf) })
}

func rawRead(fd int, buf []byte) (int, error) {
	n, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func BenchmarkRawRead64(b *testing.B) {
	readBench(b, func(p *pair, buf []byte) (int, error) { return rawRead(p.sock.Fd(), buf) })
}

func BenchmarkMioWrite64(b *testing.B) {
	writeBench(b, func(p *pair, buf []byte) (int, error) { return p.sock.Write(buf) })
}

func BenchmarkSysWrite64(b *testing.B) {
	writeBench(b, func(p *pair, buf []byte) (int, error) { return unix.Write(p.sock.Fd(), buf) })
}

func BenchmarkSysSendmsg64(b *testing.B) {
	writeBench(b, func(p *pair, buf []byte) (int, error) {
		return unix.SendmsgN(p.sock.Fd(), buf, nil, nil, unix.MSG_NOSIGNAL)
	})
}

func rawWrite(fd int, buf []byte) (int, error) {
	n, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func BenchmarkRawWrite64(b *testing.B) {
	writeBench(b, func(p *pair, buf []byte) (int, error) { return rawWrite(p.sock.Fd(), buf) })
}

// readyFds returns n socket ends that always poll writable.
func readyFds(tb testing.TB, n int) []int {
	var fds []int
	for range n {
		sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			tb.Fatal(err)
		}
		fds = append(fds, sp[0])
		tb.Cleanup(func() { unix.Close(sp[0]); unix.Close(sp[1]) })
	}
	return fds
}

type counter struct {
	mio.NopHandler[struct{}]
	events int
}

func (c *counter) Writable(*mio.EventLoop[struct{}], mio.Token) { c.events++ }

func BenchmarkMioDispatch64(b *testing.B) {
	loop, err := mio.NewEventLoop[struct{}](mio.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer loop.Close()
	for i, fd := range readyFds(b, 64) {
		if err := loop.Register(mio.NewRawFd(fd), mio.Token(i), mio.Writable, mio.Level); err != nil {
			b.Fatal(err)
		}
	}
	h := &counter{}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := loop.RunOnce(h, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(h.events), "ns/event")
}

func BenchmarkEpollWait64(b *testing.B) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(ep)
	for i, fd := range readyFds(b, 64) {
		ev := unix.EpollEvent{Events: unix.EPOLLOUT, Fd: int32(i)}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			b.Fatal(err)
		}
	}
	evs := make([]unix.EpollEvent, 1024)
	events := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n, err := unix.EpollWait(ep, evs, 0)
		if err != nil {
			b.Fatal(err)
		}
		events += n
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
}

// echoer is the benchmark servers' handler cut to one connection.
type echoer struct {
	mio.NopHandler[struct{}]
	sock *mio.TCPSocket
	buf  []byte
	err  error
}

func (e *echoer) Readable(*mio.EventLoop[struct{}], mio.Token, mio.ReadHint) {
	n, err := e.sock.Read(e.buf)
	if err != nil {
		e.err = err
		return
	}
	if _, err := e.sock.Write(e.buf[:n]); err != nil {
		e.err = err
	}
}

// echoRound sends 64 bytes from the peer, lets serve echo them, and reads
// them back: one ping-pong message, the peer's two calls included. The
// first warm rounds run before the timer starts.
func echoRound(b *testing.B, p *pair, warm int, serve func() error) {
	msg := make([]byte, 64)
	back := make([]byte, 64)
	for range warm {
		if err := echoOnce(p, msg, back, serve); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := echoOnce(p, msg, back, serve); err != nil {
			b.Fatal(err)
		}
	}
}

// echoOnce is one message of echoRound.
func echoOnce(p *pair, msg, back []byte, serve func() error) error {
	if _, err := unix.Write(p.peer, msg); err != nil {
		return err
	}
	for got := 0; got < len(back); {
		if err := serve(); err != nil {
			return err
		}
		n, err := unix.Read(p.peer, back[got:])
		if err != nil && err != unix.EAGAIN {
			return err
		}
		got += max(n, 0)
	}
	return nil
}

func BenchmarkMioEcho64(b *testing.B) {
	p := newPair(b)
	h := &echoer{sock: p.sock, buf: make([]byte, 64<<10)}
	if err := p.loop.Register(p.sock, 1, mio.Readable, mio.Level); err != nil {
		b.Fatal(err)
	}
	echoRound(b, p, 0, func() error {
		if err := p.loop.RunOnce(h, time.Second); err != nil {
			return err
		}
		return h.err
	})
}

func BenchmarkRawEcho64(b *testing.B) {
	p := newPair(b)
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(ep)
	fd := p.sock.Fd()
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		b.Fatal(err)
	}
	evs := make([]unix.EpollEvent, 1024)
	buf := make([]byte, 64<<10)
	echoRound(b, p, 0, func() error {
		n, err := unix.EpollWait(ep, evs, 1000)
		if err != nil {
			return err
		}
		for range n {
			r, err := rawRead(fd, buf)
			if err != nil {
				return err
			}
			if _, err := rawWrite(fd, buf[:r]); err != nil {
				return err
			}
		}
		return nil
	})
}

// connEcho echoes through the Conn layer: what OnData finds goes back in
// one Write and leaves the input.
type connEcho struct{}

func (connEcho) OnOpen(*mio.Conn)         {}
func (connEcho) OnDrain(*mio.Conn)        {}
func (connEcho) OnClose(*mio.Conn, error) {}

func (connEcho) OnData(c *mio.Conn) {
	in := c.In()
	if _, err := c.Write(in.Bytes()); err == nil {
		in.Discard(in.Len())
	}
}

func BenchmarkMioConnEcho64(b *testing.B) {
	p := newPair(b)
	conns, err := mio.NewConns[struct{}](p.loop, connEcho{}, nil, mio.ConnConfig{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := conns.Adopt(p.sock); err != nil {
		b.Fatal(err)
	}
	// The Conn's buffers are taken on first use: warm them up before the
	// timer starts, so that the figure is the steady state's.
	echoRound(b, p, 100, func() error { return p.loop.RunOnce(conns, time.Second) })
}
