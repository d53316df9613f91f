//go:build linux

// Command mio is the benchmark's echo server on this repository's event
// loop. With -loops 1 it is one loop on one goroutine; with -loops N it is
// N loops, each with its own SO_REUSEPORT acceptor on the same address.
//
// Every connection is registered level-triggered for reading. A read goes
// into a buffer shared by the loop and is written straight back; only when
// the kernel takes part of it is the rest copied to the connection, which
// then waits for Writable (and stops reading) until it is flushed. This is
// the behaviour of all the benchmark's servers.
//
// With -rpc it answers W5's framed requests (package frame) instead: the
// complete requests of each read are answered in turn, each response
// built in a buffer of the loop's and written with a Write of its own; a
// request split over reads waits in a buffer of its connection's for the
// rest. Once the kernel takes only part of a response, that rest and the
// responses to the read's remaining requests are queued and the
// connection waits for Writable (and stops reading), as the echo does.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/miogo/mio"
	"github.com/miogo/mio/bench/internal/frame"
)

// acceptToken names the acceptor; connections use their fd as token.
const acceptToken = mio.Token(1<<64 - 1)

type conn struct {
	sock    *mio.TCPSocket
	pending []byte // echo the kernel has not taken yet
}

type loop struct {
	mio.NopHandler[struct{}]
	ev    *mio.EventLoop[struct{}]
	acc   *mio.TCPAcceptor
	conns []conn // indexed by fd
	buf   []byte

	rpc  bool     // -rpc: answer framed requests
	ins  [][]byte // -rpc: each connection's partial request, by fd
	resp []byte   // -rpc: the response being written
}

func (l *loop) Readable(ev *mio.EventLoop[struct{}], tok mio.Token, _ mio.ReadHint) {
	if tok == acceptToken {
		l.acceptAll()
		return
	}
	c := &l.conns[tok]
	if c.sock == nil {
		return
	}
	n, err := c.sock.Read(l.buf)
	if err != nil {
		if !errors.Is(err, mio.ErrWouldBlock) {
			l.drop(tok)
		}
		return
	}
	if l.rpc {
		l.answer(ev, tok, l.buf[:n])
		return
	}
	w, err := c.sock.Write(l.buf[:n])
	switch {
	case err == nil:
	case errors.Is(err, mio.ErrWouldBlock):
		c.pending = append(c.pending[:0], l.buf[w:n]...)
		if ev.Reregister(c.sock, tok, mio.Writable, mio.Level) != nil {
			l.drop(tok)
		}
	default:
		l.drop(tok)
	}
}

func (l *loop) Writable(ev *mio.EventLoop[struct{}], tok mio.Token) {
	c := &l.conns[tok]
	if c.sock == nil {
		return
	}
	w, err := c.sock.Write(c.pending)
	switch {
	case err == nil:
		c.pending = c.pending[:0]
		if ev.Reregister(c.sock, tok, mio.Readable, mio.Level) != nil {
			l.drop(tok)
		}
	case errors.Is(err, mio.ErrWouldBlock):
		c.pending = c.pending[:copy(c.pending, c.pending[w:])]
	default:
		l.drop(tok)
	}
}

// answer answers the complete requests in what the connection has read,
// data, behind its partial request, and keeps what is left of the last.
func (l *loop) answer(ev *mio.EventLoop[struct{}], tok mio.Token, data []byte) {
	c := &l.conns[tok]
	in := l.ins[tok]
	if len(in) > 0 {
		in = append(in, data...)
		data = in
	}
	for len(data) >= frame.HeaderLen {
		n := frame.PayloadLen(data)
		if n > frame.MaxPayload {
			l.drop(tok)
			return
		}
		size := frame.HeaderLen + n
		if len(data) < size {
			break
		}
		payload := data[frame.HeaderLen:size]
		data = data[size:]
		if len(c.pending) > 0 { // the kernel is full: queue behind it
			c.pending = append(frame.AppendHeader(c.pending, n), payload...)
			continue
		}
		l.resp = append(frame.AppendHeader(l.resp[:0], n), payload...)
		w, err := c.sock.Write(l.resp)
		switch {
		case err == nil:
		case errors.Is(err, mio.ErrWouldBlock):
			c.pending = append(c.pending[:0], l.resp[w:]...)
			if ev.Reregister(c.sock, tok, mio.Writable, mio.Level) != nil {
				l.drop(tok)
				return
			}
		default:
			l.drop(tok)
			return
		}
	}
	l.ins[tok] = append(in[:0], data...)
}

// acceptAll drains the edge-triggered acceptor.
func (l *loop) acceptAll() {
	for {
		sock, err := l.acc.AcceptTCP()
		if err != nil {
			if !errors.Is(err, mio.ErrWouldBlock) {
				log.Printf("accept: %v", err)
			}
			return
		}
		sock.SetNoDelay(true)
		fd := sock.Fd()
		for fd >= len(l.conns) {
			l.conns = append(l.conns, make([]conn, len(l.conns)+64)...)
		}
		for l.rpc && fd >= len(l.ins) {
			l.ins = append(l.ins, make([][]byte, len(l.ins)+64)...)
		}
		if err := l.ev.Register(sock, mio.Token(fd), mio.Readable, mio.Level); err != nil {
			sock.Close()
			continue
		}
		l.conns[fd] = conn{sock: sock}
	}
}

func (l *loop) drop(tok mio.Token) {
	l.conns[tok].sock.Close()
	l.conns[tok] = conn{}
	if l.rpc {
		l.ins[tok] = nil
	}
}

func newLoop(addr mio.SockAddr, reusePort, rpc bool) (*loop, error) {
	sock, err := mio.NewTCPSocketV4()
	if err != nil {
		return nil, err
	}
	if reusePort {
		if err := sock.SetReusePort(true); err != nil {
			return nil, err
		}
	}
	acc, err := sock.Bind(addr)
	if err != nil {
		return nil, err
	}
	ev, err := mio.NewEventLoop[struct{}](mio.Config{})
	if err != nil {
		return nil, err
	}
	// The backlog Go's net and the C floor get: Linux's default
	// net.core.somaxconn. (Listen's 0, "the system's maximum", reached
	// listen(2) unchanged before commit 9bd333b, leaving an accept queue of
	// one connection; an explicit value keeps older copies of the library
	// measurable with --variant.)
	if err := ev.Listen(acc, 4096, acceptToken); err != nil {
		return nil, err
	}
	return &loop{ev: ev, acc: acc, buf: make([]byte, 64<<10), rpc: rpc}, nil
}

func main() {
	addrFlag := flag.String("addr", "127.0.0.1:7000", "IPv4 address to listen on")
	loops := flag.Int("loops", 1, "event loops, each with its own SO_REUSEPORT acceptor")
	rpc := flag.Bool("rpc", false, "answer W5's framed requests instead of echoing")
	flag.Parse()
	addr, err := mio.ParseSockAddr(*addrFlag)
	if err != nil {
		log.Fatal(err)
	}
	errs := make(chan error, *loops)
	for range *loops {
		l, err := newLoop(addr, *loops > 1, *rpc)
		if err != nil {
			log.Fatal(err)
		}
		go func() { errs <- l.ev.Run(l) }()
	}
	fmt.Printf("READY %s\n", addr)
	os.Stdout.Sync()
	log.Fatal(<-errs)
}
