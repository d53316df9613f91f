//go:build linux

// Command mioconn is the benchmark's echo server on this repository's
// buffered connection layer (mio.Conns and mio.Conn), written as a user of
// that layer would write it, beside the raw event-loop server in
// servers/mio. With -loops 1 it is one loop on one goroutine; with
// -loops N it is N loops, each a Conns table with its own SO_REUSEPORT
// acceptor on the same address, written by hand; with -server it is a
// mio.Server of -loops loops (the bench's mio-server), which on Linux
// gives each loop its own reuse-port acceptor too.
//
// The Conns table reads into each connection's input buffer and calls
// OnData; the handler writes the input straight back with Conn.Write,
// which writes at once and copies only what the kernel did not take, and
// then discards it. When Write refuses with ErrBufferFull (the output is
// at ConnConfig.WriteLimit) the input stays, reading pauses, and OnDrain
// writes it and resumes reading. Unlike the other servers, which stop
// reading as soon as the kernel leaves part of an echo unwritten, this one
// goes on reading until the queued output reaches the WriteLimit (1 MiB
// by default), as a user of the layer would; the benchmark's workloads
// keep far less than that in flight. TCP_NODELAY is the layer's default.
//
// With -rpc (in either shape) it answers W5's framed requests (package
// frame) instead, with the rpc handler: In().Peek reads a request's
// header, a request not yet whole stays in In for the next OnData (the
// ReadLimit is set to the largest frame, so one always fits), and each
// whole one is answered with a Write of its own from a response buffer
// the handler keeps per loop (Conn.LoopIndex), then discarded from In.
// On ErrBufferFull the request stays, reading pauses and OnDrain goes on.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"

	"github.com/miogo/mio"
	"github.com/miogo/mio/bench/internal/frame"
)

// echo is the ConnHandler: every byte read is written back.
type echo struct{}

func (echo) OnOpen(*mio.Conn) {}

func (echo) OnData(c *mio.Conn) {
	if !flushInput(c) {
		c.PauseRead()
	}
}

func (echo) OnDrain(c *mio.Conn) {
	if flushInput(c) {
		c.ResumeRead()
	}
}

func (echo) OnClose(*mio.Conn, error) {}

// flushInput writes c's input back and consumes it; it is false when the
// output had no room for it (ErrBufferFull), the input then kept for
// OnDrain. Any other error closes the Conn, which reports it in OnClose.
func flushInput(c *mio.Conn) bool {
	in := c.In()
	if in.Len() == 0 {
		return true
	}
	_, err := c.Write(in.Bytes())
	if errors.Is(err, mio.ErrBufferFull) {
		return false
	}
	in.Discard(in.Len())
	return true
}

// rpc is the ConnHandler of -rpc: every whole request is answered with a
// response of its own.
type rpc struct {
	resp [][]byte // the response being written, by loop (Conn.LoopIndex)
}

func newRPC(loops int) *rpc { return &rpc{resp: make([][]byte, loops)} }

func (*rpc) OnOpen(*mio.Conn) {}

func (h *rpc) OnData(c *mio.Conn) {
	if !h.answer(c) {
		c.PauseRead()
	}
}

func (h *rpc) OnDrain(c *mio.Conn) {
	if h.answer(c) {
		c.ResumeRead()
	}
}

func (*rpc) OnClose(*mio.Conn, error) {}

// answer answers the whole requests in c's input and consumes them; it is
// false when the output had no room for a response (ErrBufferFull), that
// request then kept for OnDrain. A request announcing more than
// frame.MaxPayload closes the Conn.
func (h *rpc) answer(c *mio.Conn) bool {
	in := c.In()
	for in.Len() >= frame.HeaderLen {
		n := frame.PayloadLen(in.Peek(frame.HeaderLen))
		if n > frame.MaxPayload {
			c.Close()
			return true
		}
		size := frame.HeaderLen + n
		if in.Len() < size {
			break // the rest comes in a later OnData
		}
		req := in.Peek(size)
		resp := &h.resp[c.LoopIndex()]
		*resp = append(frame.AppendHeader((*resp)[:0], n), req[frame.HeaderLen:]...)
		if _, err := c.Write(*resp); errors.Is(err, mio.ErrBufferFull) {
			return false
		}
		in.Discard(size)
	}
	return true
}

// connConfig is the Conns' configuration: the defaults, and with -rpc a
// ReadLimit that holds the largest request.
func connConfig(rpcMode bool) mio.ConnConfig {
	if rpcMode {
		return mio.ConnConfig{ReadLimit: frame.MaxFrame}
	}
	return mio.ConnConfig{}
}

// newLoop makes one loop with its Conns table listening on addr.
func newLoop(addr mio.SockAddr, reusePort bool, h mio.ConnHandler, cfg mio.ConnConfig) (*mio.EventLoop[struct{}], *mio.Conns[struct{}], error) {
	sock, err := mio.NewTCPSocketV4()
	if err != nil {
		return nil, nil, err
	}
	if reusePort {
		if err := sock.SetReusePort(true); err != nil {
			return nil, nil, err
		}
	}
	acc, err := sock.Bind(addr)
	if err != nil {
		return nil, nil, err
	}
	ev, err := mio.NewEventLoop[struct{}](mio.Config{})
	if err != nil {
		return nil, nil, err
	}
	conns, err := mio.NewConns(ev, h, nil, cfg)
	if err != nil {
		return nil, nil, err
	}
	if err := conns.Listen(acc); err != nil {
		return nil, nil, err
	}
	return ev, conns, nil
}

// serve runs a mio.Server of n loops on addr.
func serve(addr mio.SockAddr, n int, rpcMode bool) error {
	var h mio.ConnHandler = echo{}
	if rpcMode {
		loops := n
		if loops <= 0 {
			loops = runtime.GOMAXPROCS(0) // the Server's default
		}
		h = newRPC(loops)
	}
	srv, err := mio.NewServer[struct{}](mio.ServerConfig{Loops: n, Conn: connConfig(rpcMode)}, h, nil)
	if err != nil {
		return err
	}
	if _, err := srv.Listen(addr); err != nil {
		return err
	}
	fmt.Printf("READY %s\n", addr)
	os.Stdout.Sync()
	return srv.Run()
}

func main() {
	addrFlag := flag.String("addr", "127.0.0.1:7000", "IPv4 address to listen on")
	loops := flag.Int("loops", 1, "event loops, each with its own SO_REUSEPORT acceptor")
	server := flag.Bool("server", false, "serve with a mio.Server of -loops loops")
	rpcMode := flag.Bool("rpc", false, "answer W5's framed requests instead of echoing")
	flag.Parse()
	addr, err := mio.ParseSockAddr(*addrFlag)
	if err != nil {
		log.Fatal(err)
	}
	if *server {
		log.Fatal(serve(addr, *loops, *rpcMode))
	}
	errs := make(chan error, *loops)
	for range *loops {
		var h mio.ConnHandler = echo{}
		if *rpcMode {
			h = newRPC(1) // a table of its own: its Conns' LoopIndex is 0
		}
		ev, conns, err := newLoop(addr, *loops > 1, h, connConfig(*rpcMode))
		if err != nil {
			log.Fatal(err)
		}
		go func() { errs <- ev.Run(conns) }()
	}
	fmt.Printf("READY %s\n", addr)
	os.Stdout.Sync()
	log.Fatal(<-errs)
}
