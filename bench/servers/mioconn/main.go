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
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/miogo/mio"
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

// newLoop makes one loop with its Conns table listening on addr.
func newLoop(addr mio.SockAddr, reusePort bool) (*mio.EventLoop[struct{}], *mio.Conns[struct{}], error) {
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
	conns, err := mio.NewConns(ev, echo{}, nil, mio.ConnConfig{})
	if err != nil {
		return nil, nil, err
	}
	if err := conns.Listen(acc); err != nil {
		return nil, nil, err
	}
	return ev, conns, nil
}

// serve runs a mio.Server of n loops on addr.
func serve(addr mio.SockAddr, n int) error {
	srv, err := mio.NewServer[struct{}](mio.ServerConfig{Loops: n}, echo{}, nil)
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
	flag.Parse()
	addr, err := mio.ParseSockAddr(*addrFlag)
	if err != nil {
		log.Fatal(err)
	}
	if *server {
		log.Fatal(serve(addr, *loops))
	}
	errs := make(chan error, *loops)
	for range *loops {
		ev, conns, err := newLoop(addr, *loops > 1)
		if err != nil {
			log.Fatal(err)
		}
		go func() { errs <- ev.Run(conns) }()
	}
	fmt.Printf("READY %s\n", addr)
	os.Stdout.Sync()
	log.Fatal(<-errs)
}
